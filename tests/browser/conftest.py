"""Fixtures of the browser tests: the built book on a local server, and Chromium.

The book is served from ``$LLMBOOK_HTML_DIR`` (default ``_build/html``; the
Japanese edition is its ``ja/`` folder, tested with ``LLMBOOK_EDITION=ja``) by a
``http.server`` on 127.0.0.1 (a random free port, in a thread) and visited by
Debian's Chromium (``/usr/bin/chromium``, or ``$LLMBOOK_CHROMIUM``), driven
headless by Playwright -- never a browser downloaded by ``playwright install``.

Without a built book these tests fail and say to run ``make book`` first;
``LLMBOOK_SKIP_BROWSER=1`` skips them on purpose.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from book_checks import CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"


def html_dir() -> Path:
    """The built book: ``$LLMBOOK_HTML_DIR`` or ``_build/html``."""
    return Path(os.environ.get("LLMBOOK_HTML_DIR") or ROOT / "_build" / "html").resolve()


def edition() -> str:
    """The edition under test: ``en`` (default) or ``ja`` (``$LLMBOOK_EDITION``)."""
    value = os.environ.get("LLMBOOK_EDITION") or "en"
    if value not in ("en", "ja"):
        raise ValueError(f"LLMBOOK_EDITION must be en or ja, not {value!r}")
    return value


def edition_prefix() -> str:
    """Where the edition's pages lie inside the served folder: ``""`` or ``"ja/"``."""
    return "" if edition() == "en" else f"{edition()}/"


def executed_dir() -> Path:
    """The executed notebooks the edition's build kept (``jupyter_execute``)."""
    build = html_dir().parent
    return build / "jupyter_execute" if edition() == "en" else build / edition() / "_build" / "jupyter_execute"


def screenshots() -> Path:
    """Where page screenshots go: ``$LLMBOOK_SCREENSHOT_DIR`` or ``<html>/../screenshots``
    (``.../screenshots/ja`` for the Japanese edition).

    With the default ``_build/html`` that is ``_build/screenshots``.
    """
    default = html_dir().parent / "screenshots" / edition_prefix()
    return Path(os.environ.get("LLMBOOK_SCREENSHOT_DIR") or default)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: needs Chromium and the built book (_build/html); run after `make book`"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.browser)
            if os.environ.get("LLMBOOK_SKIP_BROWSER", "0") not in {"", "0"}:
                item.add_marker(pytest.mark.skip(reason="LLMBOOK_SKIP_BROWSER is set"))


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves files quietly, maps a few URL prefixes to other folders, and
    answers 404 for folders without index.html instead of listing them."""

    aliases: dict[str, Path] = {}

    def translate_path(self, path: str) -> str:
        clean = path.split("?", 1)[0].split("#", 1)[0]
        for prefix, folder in self.aliases.items():
            if clean.startswith(prefix):
                return str(folder / clean[len(prefix):])
        return super().translate_path(path)

    def list_directory(self, path: str | os.PathLike[str]):  # type: ignore[override]
        self.send_error(404, "No index.html in this folder")
        return None

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class Server:
    """A static file server on 127.0.0.1 in a daemon thread; ``url`` ends with ``/``."""

    def __init__(self, directory: Path, aliases: dict[str, Path] | None = None) -> None:
        handler = type("Handler", (_Handler,), {"aliases": dict(aliases or {})})
        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(handler, directory=str(directory))
        )
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def book_dir() -> Path:
    """The built edition's folder; fails with what to do when it is not there."""
    path = html_dir() / edition_prefix()
    if not (path / "index.html").is_file():
        pytest.fail(
            f"The built book is missing: {path / 'index.html'} does not exist. "
            "Run `make book` first (or point LLMBOOK_HTML_DIR at a built book's html folder; "
            "LLMBOOK_SKIP_BROWSER=1 skips the browser tests).",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def book_url(book_dir: Path) -> Iterator[str]:
    """URL of the built edition, served on 127.0.0.1 (both editions are served,
    so that the links between them can be followed)."""
    server = Server(html_dir())
    yield server.url + edition_prefix()
    server.close()


def vendor_aliases() -> dict[str, Path]:
    """MathJax and plotly.js from the installed packages, for the fixture pages."""
    mathjax = Path(str(metadata.distribution("sphinx-mathjax-offline").locate_file(
        "sphinx-mathjax-offline/static/mathjax")))
    plotly = Path(str(metadata.distribution("plotly").locate_file("plotly/package_data")))
    return {"/_vendor/mathjax/": mathjax, "/_vendor/plotly/": plotly}


@pytest.fixture(scope="session")
def fixture_url() -> Iterator[str]:
    """URL of ``tests/browser/fixtures`` (with MathJax and plotly.js under ``/_vendor/``)."""
    server = Server(FIXTURES, vendor_aliases())
    yield server.url
    server.close()


@pytest.fixture(scope="session")
def serve() -> Iterator[Callable[[Path], str]]:
    """``serve(folder)`` serves a folder a test wrote on 127.0.0.1 and returns its URL."""
    servers: list[Server] = []

    def start(folder: Path) -> str:
        servers.append(Server(folder))
        return servers[-1].url

    yield start
    for server in servers:
        server.close()


def chromium_path() -> str:
    """Debian's Chromium, installed by the set-up (``apt-get install chromium``)."""
    path = os.environ.get("LLMBOOK_CHROMIUM") or "/usr/bin/chromium"
    if not Path(path).is_file():
        path = shutil.which("chromium") or path
    if not Path(path).is_file():
        pytest.fail(
            f"Chromium is not installed ({path} not found). Install Debian's package: "
            "`sudo apt-get install chromium` (or set LLMBOOK_CHROMIUM to a Chromium binary).",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium (Debian's), shared by every browser test of the session."""
    executable = chromium_path()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS,
                                              headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    """Where the page screenshots are saved (created on first use)."""
    return screenshots()
