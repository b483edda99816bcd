"""The built book as a reader meets it, page by page, in headless Chromium.

Every page named in ``_toc.yml`` (and every ``chapters/*.md``, so that a new
chapter is covered the moment it exists) is opened once, with the network cut
off, and checked by the functions of ``book_checks.py``: no console errors,
no requests leaving 127.0.0.1, every image loaded, math typeset, interactive
figures that draw and respond, working in-book links; chapters also need the
right Colab button and are found by the search page. A full-page screenshot
of every page goes to ``_build/screenshots/<page>.png`` (a CI artefact).

Run after ``make book``:  ``.venv/bin/python -m pytest tests/browser``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml
from bs4 import BeautifulSoup
from playwright.sync_api import Browser

import book_checks as bc
from conftest import edition

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from chapters import toc_files  # noqa: E402  (tools/chapters.py)

ROOT = Path(__file__).resolve().parents[2]


# --- What the book consists of ---------------------------------------------------

def book_pages() -> list[str]:
    """The toc's pages plus any chapter source the toc forgot (which then fails)."""
    pages = toc_files()
    pages += [f"chapters/{md.stem}" for md in sorted((ROOT / "chapters").glob("*.md"))
              if f"chapters/{md.stem}" not in pages]
    return pages


def repository() -> tuple[str, str]:
    """``repository.url`` and ``repository.branch`` of ``_config.yml``."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    return config["repository"]["url"], config["repository"].get("branch", "main")


PAGES = book_pages()
CHAPTERS = [p for p in PAGES if p.startswith("chapters/")]


def stem(page: str) -> str:
    return page.rsplit("/", 1)[-1]


# --- One visit per page, every check at once ------------------------------------

CHECKS = ("console", "network", "images", "math", "colab", "links", "interactive", "screenshot",
          "edition")

#: Where the Colab notebooks of each edition lie in the repository.
NOTEBOOK_FOLDER = {"en": "", "ja": "locales/ja/notebooks/"}
#: The other edition's link (``_ext/llmbook_html_fixes.py``) and where it leads.
OTHER_EDITION = {"en": ("日本語", "ja/"), "ja": ("English", "")}


def check_other_edition(page: bc.Page, page_name: str) -> list[str]:
    """The page links to the same page in the other edition."""
    text, folder = OTHER_EDITION[edition()]
    links = page.eval_on_selector_all("a", "els => els.map(e => [e.textContent.trim(), e.href])")
    here = "ja/" if edition() == "ja" else ""
    root = page.url.split("#")[0].removesuffix(f"{here}{page_name}.html")
    wanted = f"{root}{folder}{page_name}.html"
    if not any(t.endswith(text) and href == wanted for t, href in links):
        return [f"no link '{text}' to {wanted}"]
    return []


@dataclass
class Visit:
    """The problems each check found on one page (empty lists: all is well)."""

    page: str
    problems: dict[str, list[str]] = field(default_factory=dict)
    screenshot: Path | None = None


def _run(check: Callable[..., list[str]], *args: object) -> list[str]:
    try:
        return check(*args)
    except Exception as e:  # noqa: BLE001 - report, and let the other checks run
        return [f"{check.__name__} could not run: {type(e).__name__}: {e}"]


def _screenshot(page: bc.Page, path: Path) -> list[str]:
    bc.save_screenshot(page, path)
    return []


@pytest.fixture(scope="session")
def visit(book_dir: Path, book_url: str, browser: Browser,
          screenshot_dir: Path) -> Callable[[str], Visit]:
    """``visit(page)`` opens a page once per session and runs every check on it."""
    visits: dict[str, Visit] = {}
    link_cache: dict[str, tuple[int, set[str]]] = {}
    repo_url, branch = repository()

    def run_all(page_name: str) -> Visit:
        result = Visit(page_name)
        if not (book_dir / f"{page_name}.html").is_file():
            missing = [f"{page_name}.html is not in the built book {book_dir}: is it in _toc.yml, "
                       "and was the book rebuilt (`make book`)?"]
            result.problems = {check: missing for check in CHECKS}
            return result
        with bc.open_page(browser, f"{book_url}{page_name}.html") as (page, log):
            p = result.problems
            p["images"] = _run(bc.check_images, page)
            p["math"] = _run(bc.check_math, page)
            if page_name.startswith("chapters/"):
                p["colab"] = _run(bc.check_colab, page, bc.colab_url(
                    repo_url, stem(page_name), branch, NOTEBOOK_FOLDER[edition()]))
            p["edition"] = _run(check_other_edition, page, page_name)
            p["links"] = _run(bc.check_internal_links, page, link_cache)
            result.screenshot = screenshot_dir / f"{stem(page_name)}.png"
            p["screenshot"] = _run(_screenshot, page, result.screenshot)
            p["interactive"] = _run(bc.check_interactive, page)
            p["console"] = bc.check_console(log)
            p["network"] = bc.check_network(log)
        return result

    def get(page_name: str) -> Visit:
        if page_name not in visits:
            try:
                visits[page_name] = run_all(page_name)
            except Exception as e:  # noqa: BLE001 - e.g. the page never finished loading
                failed = [f"{page_name}.html could not be opened: {type(e).__name__}: {e}"]
                visits[page_name] = Visit(page_name, {check: failed for check in CHECKS})
        return visits[page_name]

    return get


def assert_clean(result: Visit, check: str) -> None:
    problems = result.problems.get(check, [])
    assert not problems, f"{result.page}: " + "\n  ".join([f"{len(problems)} problem(s):", *problems])


# --- The tests -------------------------------------------------------------------

def test_the_book_has_chapters() -> None:
    assert CHAPTERS, "no chapters found in _toc.yml or chapters/"


@pytest.mark.parametrize("page", PAGES)
def test_loads_without_console_errors(visit: Callable[[str], Visit], page: str) -> None:
    assert_clean(visit(page), "console")


@pytest.mark.parametrize("page", PAGES)
def test_makes_no_network_requests(visit: Callable[[str], Visit], page: str) -> None:
    assert_clean(visit(page), "network")


@pytest.mark.parametrize("page", PAGES)
def test_every_image_loads(visit: Callable[[str], Visit], page: str) -> None:
    assert_clean(visit(page), "images")


@pytest.mark.parametrize("page", PAGES)
def test_math_is_typeset(visit: Callable[[str], Visit], page: str) -> None:
    assert_clean(visit(page), "math")


@pytest.mark.parametrize("page", PAGES)
def test_interactive_figures_render_and_respond(visit: Callable[[str], Visit], page: str) -> None:
    assert_clean(visit(page), "interactive")


@pytest.mark.parametrize("page", PAGES)
def test_internal_links_resolve(visit: Callable[[str], Visit], page: str) -> None:
    assert_clean(visit(page), "links")


@pytest.mark.parametrize("page", CHAPTERS)
def test_colab_button_opens_this_chapter(visit: Callable[[str], Visit], page: str) -> None:
    assert_clean(visit(page), "colab")
    notebook = ROOT / f"{NOTEBOOK_FOLDER[edition()]}{page}.ipynb"
    assert notebook.is_file(), f"the Colab button opens {notebook.name}, which is not in the repository"


@pytest.mark.parametrize("page", PAGES)
def test_links_to_the_other_edition(visit: Callable[[str], Visit], page: str) -> None:
    assert_clean(visit(page), "edition")


@pytest.mark.parametrize("page", PAGES)
def test_screenshot_saved(visit: Callable[[str], Visit], page: str) -> None:
    result = visit(page)
    assert_clean(result, "screenshot")
    assert result.screenshot is not None and result.screenshot.stat().st_size > 10_000, (
        f"no screenshot of {page} at {result.screenshot}"
    )


def search_word(html: Path) -> str:
    """A distinctive word of a chapter: the longest word of its first paragraphs
    (in the Japanese edition, the longest run of katakana)."""
    soup = BeautifulSoup(html.read_text(encoding="utf-8"), "html.parser")
    article = soup.select_one("article.bd-article") or soup
    for code in article.select("code, pre, .math, .cell"):
        code.decompose()
    text = " ".join(p.get_text(" ") for p in article.find_all("p")[:6])
    pattern = r"\b[A-Za-z]{6,}\b" if edition() == "en" else r"[ァ-ヺー]{4,}"
    words = sorted(set(re.findall(pattern, text)), key=lambda w: (-len(w), w))
    if not words:
        pytest.fail(f"{html.name} has no paragraph with a word to search for ({pattern})")
    return words[0].lower()


@pytest.mark.parametrize("page", CHAPTERS)
def test_search_finds_the_chapter(book_dir: Path, book_url: str, browser: Browser, page: str) -> None:
    html = book_dir / f"{page}.html"
    assert html.is_file(), f"{page}.html is not in the built book: run `make book`"
    word = search_word(html)
    with bc.open_page(browser, f"{book_url}search.html?q={quote(word)}") as (tab, log):
        problems = bc.check_search(tab, f"{page}.html")
        problems += bc.check_console(log) + bc.check_network(log)
    assert not problems, "\n".join(problems)


def test_search_check_reports_a_word_that_is_nowhere(book_url: str, browser: Browser) -> None:
    with bc.open_page(browser, f"{book_url}search.html?q=zqxjvwkpt") as (tab, _):
        problems = bc.check_search(tab, "intro.html")
    assert problems and "did not find intro.html" in problems[0]
