"""List every external URL of the built book, with the pages that use it.

The machines that build and test the book have no internet, so external links
are never fetched by the tests. This script writes them to
``_build/external_links.txt`` for a check by hand now and then (or run
``jupyter-book build . --builder linkcheck`` on a machine with internet).

Usage::

    python tools/external_links.py [HTML_DIR] [--output FILE]

``HTML_DIR`` defaults to ``_build/html``; the output to ``external_links.txt``
next to it (``_build/external_links.txt``).
"""

from __future__ import annotations

import argparse
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
#: Attributes that hold a URL a reader's browser follows or loads.
URL_ATTRIBUTES = {("a", "href"), ("img", "src"), ("script", "src"), ("link", "href"),
                  ("iframe", "src"), ("source", "src"), ("video", "src"), ("audio", "src")}
LOCAL_HOSTS = {"localhost", "127.0.0.1"}
#: Folders of the build that hold assets and copies of the sources, not pages.
SKIPPED_FOLDERS = {"_static", "_sources", "_images"}


class _Urls(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if (tag, name) in URL_ATTRIBUTES and value:
                parts = urlsplit(value.strip())
                if parts.scheme in {"http", "https"} and parts.hostname not in LOCAL_HOSTS:
                    self.urls.append(value.strip())


def external_urls(html: str) -> list[str]:
    """The external (http/https, not local) URLs in one HTML document, in order."""
    parser = _Urls()
    parser.feed(html)
    return parser.urls


def external_links(html_dir: Path) -> dict[str, list[str]]:
    """Map every external URL of the built book to the pages (relative paths) using it."""
    if not html_dir.is_dir():
        raise FileNotFoundError(f"{html_dir} does not exist: build the book first (`make book`)")
    links: dict[str, set[str]] = {}
    for page in sorted(html_dir.rglob("*.html")):
        relative = page.relative_to(html_dir)
        if SKIPPED_FOLDERS & set(relative.parts[:-1]):
            continue
        for url in external_urls(page.read_text(encoding="utf-8", errors="replace")):
            links.setdefault(url, set()).add(relative.as_posix())
    return {url: sorted(pages) for url, pages in sorted(links.items())}


def render(links: dict[str, list[str]], html_dir: Path) -> str:
    """The report: a header, then each URL followed by its pages, indented."""
    pages = {p for used_by in links.values() for p in used_by}
    lines = [
        f"# External links of the built book in {html_dir}: {len(links)} URLs on {len(pages)} pages.",
        "# Written by tools/external_links.py and never fetched: check them by hand now and then",
        "# (or run `jupyter-book build . --builder linkcheck` on a machine with internet).",
    ]
    for url, used_by in links.items():
        lines.append(url)
        lines += [f"    {page}" for page in used_by]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html_dir", nargs="?", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--output", type=Path, default=None,
                        help="where to write the list (default: external_links.txt next to HTML_DIR)")
    args = parser.parse_args(argv)
    try:
        links = external_links(args.html_dir)
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    output = args.output or args.html_dir.parent / "external_links.txt"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render(links, args.html_dir), encoding="utf-8")
    print(f"{len(links)} external URLs listed in {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
