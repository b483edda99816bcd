"""Hostile tokens in the book's widgets run no script in Chromium, and the widgets still work.

A page (built here, in a temporary folder: the book is not needed) holds the
three widgets of :mod:`llmbook.widgets`, each made from tokens that try to
close the script (``</script><script>alert(1)</script>``), hide the rest of
the page's scripts in an HTML comment (``<!--<script>``), break a JavaScript
line (U+2028) or leave an attribute (``"><img src=x onerror=...>``). A script
at the top of the page records every ``alert``; one at the bottom proves
that the scripts after the widgets still run. The page must show the tokens
as text, run none of them, and pass the book's interactive-figure checks.
"""

from __future__ import annotations

from pathlib import Path

from collections.abc import Callable

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from playwright.sync_api import Browser

import book_checks as bc
import llmbook.widgets as widgets

ATTACKS = [
    "</script><script>alert(1)</script>",
    "</script><script>window.injected = true</script>",
    "<!--<script>",
    "line\u2028sep\u2029arator",
    '"><img src=x onerror="alert(2)">',
]
NAME = '"><script>alert(3)</script>'


def hostile_page(folder: Path) -> Path:
    n = len(ATTACKS)
    temperature = widgets.temperature_explorer_html(torch.arange(n, 0, -1).float(), ATTACKS, shown=n, max_k=3,
                                                    title=ATTACKS[0], name=NAME)
    heatmaps = widgets.heatmap_explorer_html({ATTACKS[0]: np.eye(n), ATTACKS[2]: np.full((n, n), 1 / n)},
                                             ATTACKS, ATTACKS, ATTACKS[2], name=NAME,
                                             row_title=ATTACKS[1], col_title=ATTACKS[3])
    figures = {key: go.Figure(go.Scatter(x=[0, 1], y=[i, 1 - i], text=[key, ATTACKS[1]], mode="markers+text"))
               for i, key in enumerate(ATTACKS[:2])}
    views = widgets.plotly_views_html(figures, name=NAME, label=ATTACKS[2])
    page = folder / "hostile.html"
    page.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>hostile tokens</title>"
        "<script>window.alerts = []; window.alert = m => window.alerts.push(String(m));</script>"
        "</head><body>" + temperature + heatmaps + views
        + "<script>window.lastScriptRan = true;</script></body></html>",
        encoding="utf-8",
    )
    return page


@pytest.fixture
def hostile_url(tmp_path: Path, serve: Callable[[Path], str], monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(widgets, "_plotlyjs_inlined", False)  # this page needs its own plotly.js
    return serve(tmp_path) + hostile_page(tmp_path).name


def test_hostile_tokens_run_no_script_and_the_widgets_work(browser: Browser, hostile_url: str) -> None:
    with bc.open_page(browser, hostile_url) as (page, log):
        ran = page.evaluate("() => ({alerts: window.alerts, injected: window.injected === true,"
                            " last: window.lastScriptRan === true,"
                            " images: document.querySelectorAll('img').length})")
        assert ran == {"alerts": [], "injected": False, "last": True, "images": 0}
        assert page.locator("[data-llmbook-interactive]").count() == 3
        assert page.eval_on_selector_all("[data-llmbook-interactive]",
                                         "els => els.map(e => e.dataset.llmbookInteractive)") == [NAME] * 3
        problems = bc.check_interactive(page)  # every widget draws and responds to its control
        # The tokens are shown as text: bar labels, heatmap labels, menu entries.
        temperature = page.locator("[data-llmbook-interactive]").nth(0)
        tokens = temperature.locator("[data-token]").evaluate_all("els => els.map(e => e.dataset.token)")
        assert tokens[: len(ATTACKS)] == ATTACKS
        heatmap = page.locator("[data-llmbook-interactive]").nth(1)
        labels = heatmap.locator("[data-llmbook-output] text").all_text_contents()
        assert all(attack in labels for attack in ATTACKS)
        menu = page.locator("[data-llmbook-interactive]").nth(2).locator("select option").all_text_contents()
        assert menu == ATTACKS[:2]
    assert problems == []
    assert bc.check_console(log) == [] and bc.check_network(log) == []
