"""Accessibility basics of the built book: image alt text or captions, heading order.

Static checks of the HTML files (no browser needed, but the built book is):
the functions live in ``book_checks.py``; the first tests show that they
report what they should.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import book_checks as bc
from test_pages import PAGES


def page(body: str) -> str:
    return f'<html><body><main><article class="bd-article">{body}</article></main></body></html>'


def test_image_checks_report_missing_alt_and_caption() -> None:
    html = page(
        '<h1>T</h1>'
        '<img src="../_images/a.png" alt="A rising loss curve.">'              # alt text: fine
        '<figure><img src="b.png"><figcaption><p>Loss.</p></figcaption></figure>'  # caption: fine
        '<img src="../_images/c.png" alt="../_images/c.png">'                 # docutils' default alt
        '<img src="d.png" alt="  ">'                                           # blank alt
        '<figure><img src="e.png"><figcaption> </figcaption></figure>'        # empty caption
    )
    problems = bc.check_image_alt(html)
    assert [p.split(" (add")[0] for p in problems] == [
        "image without alt text or caption: ../_images/c.png",
        "image without alt text or caption: d.png",
        "image without alt text or caption: e.png",
    ]


def test_image_checks_ignore_the_theme_around_the_article() -> None:
    html = '<html><body><nav><img src="logo.png"></nav><article class="bd-article"><h1>T</h1></article></body></html>'
    assert bc.check_image_alt(html) == []


def test_heading_checks_report_skipped_levels() -> None:
    assert bc.check_heading_order(page("<h1>T</h1><h2>A</h2><h3>a</h3><h2>B</h2><h3>b</h3>")) == []
    assert bc.check_heading_order(page("<h1>T</h1><h3>Deep#</h3><h2>B</h2><h4>x</h4>")) == [
        "h1 -> h3 skips a level at 'Deep'",
        "h2 -> h4 skips a level at 'x'",
    ]
    assert bc.check_heading_order(page("<h2>Not a title</h2>")) == [
        "the first heading is h2 ('Not a title'), not h1"
    ]


@pytest.mark.parametrize("name", PAGES)
def test_images_have_alt_text_or_captions(book_dir: Path, name: str) -> None:
    html = book_dir / f"{name}.html"
    assert html.is_file(), f"{name}.html is not in the built book: run `make book`"
    problems = bc.check_image_alt(html.read_text(encoding="utf-8"))
    assert not problems, "\n".join([f"{name}:", *problems])


@pytest.mark.parametrize("name", PAGES)
def test_headings_do_not_skip_levels(book_dir: Path, name: str) -> None:
    html = book_dir / f"{name}.html"
    assert html.is_file(), f"{name}.html is not in the built book: run `make book`"
    problems = bc.check_heading_order(html.read_text(encoding="utf-8"))
    assert not problems, "\n".join([f"{name}:", *problems])
