"""The checks of ``book_checks.py`` catch what they claim to catch.

Each broken page in ``fixtures/`` is broken in one way on purpose; its test
asserts that the matching check reports exactly that. ``good.html`` (with
MathJax, plotly.js, a slider and a widget) must pass every check, so that a
check that always complains is caught too.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

import book_checks as bc

GOOD_COLAB = "https://colab.research.google.com/github/example/book/blob/main/chapters/good.ipynb"


def test_colab_url_from_the_repository_url() -> None:
    expected = "https://colab.research.google.com/github/llmbook/llmbook/blob/main/chapters/09_attention.ipynb"
    assert bc.colab_url("https://github.com/llmbook/llmbook", "09_attention") == expected
    assert bc.colab_url("https://github.com/llmbook/llmbook.git/", "09_attention") == expected
    assert bc.colab_url("https://github.com/a/b", "01_x", "dev").endswith("/a/b/blob/dev/chapters/01_x.ipynb")


@pytest.mark.parametrize("url", ["https://gitlab.com/a/b", "https://github.com/just-an-owner"])
def test_colab_url_rejects_what_colab_cannot_open(url: str) -> None:
    with pytest.raises(ValueError, match="GitHub|github.com/<owner>/<repo>"):
        bc.colab_url(url, "01_history")


def test_html_ids() -> None:
    html = '<h1 id="top">x</h1><a name="old-anchor"></a><div name="not-an-anchor" id="d"></div>'
    assert bc.html_ids(html) == {"top", "old-anchor", "d"}


def test_good_page_passes_every_check(browser: Browser, fixture_url: str) -> None:
    with bc.open_page(browser, fixture_url + "good.html") as (page, log):
        assert bc.wait_for_mathjax(page) == "typeset"
        problems = {
            "images": bc.check_images(page),
            "math": bc.check_math(page),
            "colab": bc.check_colab(page, GOOD_COLAB),
            "links": bc.check_internal_links(page),
            "interactive": bc.check_interactive(page),
        }
        assert page.locator("mjx-container").count() == 2
        problems["console"] = bc.check_console(log)
        problems["network"] = bc.check_network(log)
    assert problems == {name: [] for name in problems}


def test_broken_image_is_reported(browser: Browser, fixture_url: str) -> None:
    with bc.open_page(browser, fixture_url + "broken_image.html") as (page, log):
        assert bc.check_images(page) == ["image did not load: img/missing.png"]
    assert any("404" in e and "missing.png" in e for e in bc.check_console(log))


def test_untypeset_math_is_reported(browser: Browser, fixture_url: str) -> None:
    with bc.open_page(browser, fixture_url + "untypeset_math.html") as (page, _):
        problems = bc.check_math(page)
    assert problems == [
        r"math not typeset (MathJax is not loaded on this page): \(x^2 + y^2\)",
        r"math not typeset (MathJax is not loaded on this page): \[\sum_{i=1}^n i = \frac{n(n+1)}{2}\]",
        "raw TeX left in the text (not parsed as math): $E = mc^2$",
        "raw TeX left in the text (not parsed as math): $$a + b$$",
    ]


def test_wrong_colab_link_is_reported(browser: Browser, fixture_url: str) -> None:
    with bc.open_page(browser, fixture_url + "wrong_colab.html") as (page, _):
        problems = bc.check_colab(page, GOOD_COLAB)
    assert problems == [
        "Colab button points to https://colab.research.google.com/github/example/book/blob/main/"
        f"chapters/other_chapter.md, expected {GOOD_COLAB}"
    ]


def test_missing_colab_button_is_reported(browser: Browser, fixture_url: str) -> None:
    with bc.open_page(browser, fixture_url + "other.html") as (page, _):
        assert bc.check_colab(page, GOOD_COLAB) == [f"no Colab button on the page (expected a link to {GOOD_COLAB})"]


def test_dead_internal_links_are_reported(browser: Browser, fixture_url: str) -> None:
    with bc.open_page(browser, fixture_url + "dead_link.html") as (page, _):
        problems = bc.check_internal_links(page)
    assert problems == [
        f"dead link: missing.html -> {fixture_url}missing.html (HTTP 404)",
        f"dead link: other.html#no-such-section -> no element with id 'no-such-section' in {fixture_url}other.html",
        f"dead link: #nowhere -> no element with id 'nowhere' in {fixture_url}dead_link.html",
        f"dead link: img/ -> {fixture_url}img/ (HTTP 404)",
    ]


def test_dead_interactive_figures_are_reported(browser: Browser, fixture_url: str,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bc, "WAIT_MS", 1000)  # a dead figure stays dead: no need to wait long
    with bc.open_page(browser, fixture_url + "dead_interactive.html") as (page, log):
        problems = bc.check_interactive(page)
    assert problems == [
        "plotly figure 1 (id fig-frozen) does not respond: moving its slider did not change the plot",
        'interactive figure "unwired-slider" does not respond: moving control temperature did not change its output',
        'interactive figure "empty-output" shows nothing: its output is empty after loading',
        'interactive figure "no-control" has no control (input, select, textarea or [data-llmbook-control])',
    ]
    assert any("drawBars" in e for e in bc.check_console(log))


def test_plotly_figure_without_plotlyjs_is_reported(browser: Browser, fixture_url: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bc, "WAIT_MS", 1000)
    with bc.open_page(browser, fixture_url + "no_plotlyjs.html") as (page, _):
        problems = bc.check_interactive(page)
    assert problems == [
        "plotly figure 1 (id fig-orphan) was not drawn (plotly.js is not on the page: "
        "inline it with include_plotlyjs=True once per page)"
    ]


def test_network_requests_are_blocked_and_reported(browser: Browser, fixture_url: str) -> None:
    with bc.open_page(browser, fixture_url + "network.html") as (page, log):
        page.wait_for_timeout(200)  # let the fetch() start
        images = bc.check_images(page)
    assert sorted(bc.check_network(log)) == [
        "tried to reach the network: http://images.example.com/picture.png",
        "tried to reach the network: https://cdn.example.org/lib/plotly-2.0.0.min.js",
        "tried to reach the network: https://huggingface.co/api/models/gpt2",
    ]
    assert images == ["image did not load: http://images.example.com/picture.png"]


def test_console_errors_and_exceptions_are_reported(browser: Browser, fixture_url: str) -> None:
    with bc.open_page(browser, fixture_url + "console_error.html") as (_, log):
        pass
    problems = bc.check_console(log)
    assert len(problems) == 2
    assert problems[0].startswith("console error: something went wrong in a figure (at ")
    assert problems[1] == "uncaught JavaScript exception: undefinedFunctionOfTheTheme is not defined"
