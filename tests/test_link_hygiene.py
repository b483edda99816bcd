"""Link and reference hygiene: broken internal references fail the build, and
external links are listed (never fetched) by ``tools/external_links.py``."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import external_links  # noqa: E402  (tools/external_links.py)

JUPYTER_BOOK = Path(sys.executable).with_name("jupyter-book")
FLAGS = ["-W", "-n", "--keep-going"]  # what the Makefile's book targets pass


def tiny_book(folder: Path, intro: str) -> Path:
    """A two-page book without code execution, whose intro page is ``intro``."""
    folder.mkdir()
    (folder / "_config.yml").write_text(
        'title: "Tiny"\nonly_build_toc_files: true\nexecute:\n  execute_notebooks: "off"\n',
        encoding="utf-8",
    )
    (folder / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n  - file: page\n", encoding="utf-8"
    )
    (folder / "intro.md").write_text(f"# Intro\n\n{intro}\n", encoding="utf-8")
    (folder / "page.md").write_text("# Page\n\n(sec-page)=\n## A section\n\nText.\n", encoding="utf-8")
    return folder


def build(book: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(JUPYTER_BOOK), "build", str(book), "--path-output", str(out), *FLAGS],
                          capture_output=True, text=True, timeout=300)


def test_broken_internal_references_fail_the_build(tmp_path: Path) -> None:
    book = tiny_book(tmp_path / "broken", "See {doc}`no_such_page` and {ref}`sec-no-such-label`.")
    result = build(book, tmp_path / "out-broken")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "unknown document: 'no_such_page'" in output
    assert "undefined label: 'sec-no-such-label'" in output


def test_the_same_book_with_good_references_builds(tmp_path: Path) -> None:
    book = tiny_book(tmp_path / "good", "See {doc}`page` and {ref}`sec-page`.")
    result = build(book, tmp_path / "out-good")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "out-good" / "_build" / "html" / "page.html").is_file()


@pytest.mark.parametrize("target", ["book", "book-force"])
def test_the_book_is_built_with_warnings_as_errors(target: str) -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(rf"^{re.escape(target)}:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe, f"no `{target}` target in the Makefile"
    build_line = next((line for line in recipe.group(1).splitlines() if "$(JB) build" in line), "")
    assert all(flag in build_line.split() for flag in FLAGS), (
        f"`make {target}` must build with {' '.join(FLAGS)}: {build_line.strip()!r}"
    )


# --- tools/external_links.py -------------------------------------------------------

def test_external_urls_of_a_page() -> None:
    html = ('<a href="https://arxiv.org/abs/1706.03762">paper</a> <a href="other.html#x">local</a>'
            '<a href="mailto:a@b.c">mail</a> <img src="http://example.com/a.png">'
            '<a href="http://127.0.0.1:8000/x">server</a> <script src="https://cdn.example.org/x.js"></script>'
            '<a href="#top">top</a> <a>no href</a>')
    assert external_links.external_urls(html) == [
        "https://arxiv.org/abs/1706.03762", "http://example.com/a.png", "https://cdn.example.org/x.js",
    ]


def test_external_links_report(tmp_path: Path) -> None:
    html = tmp_path / "html"
    (html / "chapters").mkdir(parents=True)
    (html / "_static").mkdir()
    (html / "intro.html").write_text('<a href="https://b.org/">B</a><a href="https://a.org/x">A</a>')
    (html / "chapters" / "01_history.html").write_text(
        '<a href="https://a.org/x">A again</a><a href="https://a.org/x">twice</a><a href="../intro.html">in</a>')
    (html / "_static" / "theme.html").write_text('<a href="https://theme.example/">not a page</a>')
    assert external_links.main([str(html)]) == 0
    assert (tmp_path / "external_links.txt").read_text() == (
        f"# External links of the built book in {html}: 2 URLs on 2 pages.\n"
        "# Written by tools/external_links.py and never fetched: check them by hand now and then\n"
        "# (or run `jupyter-book build . --builder linkcheck` on a machine with internet).\n"
        "https://a.org/x\n"
        "    chapters/01_history.html\n"
        "    intro.html\n"
        "https://b.org/\n"
        "    intro.html\n"
    )


def test_external_links_needs_a_built_book(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert external_links.main([str(tmp_path / "missing")]) == 1
    assert "build the book first (`make book`)" in capsys.readouterr().err
