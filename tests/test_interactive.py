"""The self-contained heatmap explorer: its HTML contract, bad input, and a real browser."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from llmbook.interactive import heatmap_explorer, heatmap_explorer_html

MATRICES = {"head 1": np.eye(3), "head 2": np.full((3, 3), 1 / 3)}


def test_html_contract() -> None:
    page = heatmap_explorer_html(MATRICES, "abc", "abc", "Two heads", name="attention maps")
    assert page.count('data-llmbook-interactive="attention maps"') == 1
    assert page.count("<div data-llmbook-output>") == 1  # exactly one output element
    assert page.count("<select data-llmbook-control") == 1
    assert '<option value="1">head 2</option>' in page
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")  # nothing fetched
    data = json.loads(re.search(r"data-llmbook-data>(.*?)</script>", page, re.S).group(1))
    assert data["values"][0] == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    assert data["rows"] == ["a", "b", "c"] and data["vmax"] == 1.0


def test_each_widget_gets_its_own_id() -> None:
    ids = {re.search(r'id="([^"]+)"', heatmap_explorer_html(MATRICES, "abc", "abc")).group(1) for _ in range(3)}
    assert len(ids) == 3


def test_script_cannot_be_closed_by_the_labels() -> None:
    page = heatmap_explorer_html({"a": np.ones((1, 1)), "b": np.zeros((1, 1))}, ["</script>"], ["x"])
    assert page.count("</script>") == 2  # the data and the code, nothing else


def test_returns_ipython_html() -> None:
    shown = heatmap_explorer(MATRICES, "abc", "xyz")
    assert "data-llmbook-interactive" in shown.data


@pytest.mark.parametrize(("matrices", "message"), [
    ({}, "at least one matrix"),
    ({"m": np.ones((2, 3))}, r"matrix 'm' has shape \(2, 3\), but the labels ask for \(3, 3\)"),
    ({"m": np.full((3, 3), np.nan)}, "NaN or infinite"),
])
def test_bad_matrices(matrices: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        heatmap_explorer_html(matrices, "abc", "abc")


def test_empty_name() -> None:
    with pytest.raises(ValueError, match="give the widget a name"):
        heatmap_explorer_html(MATRICES, "abc", "abc", name=" ")


# --- in a real browser, with the network cut off ------------------------------------


def chromium() -> str:
    path = os.environ.get("LLMBOOK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return path


def test_browser_menu_redraws_the_heatmap(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    page_file = tmp_path / "widget.html"
    page_file.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>"
                         + heatmap_explorer_html(MATRICES, "abc", "abc", name="maps")
                         + "</body></html>", encoding="utf-8")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.route("http*://**", lambda route: route.abort())
        page.goto(page_file.as_uri())
        values = "els => els.map(e => Number(e.dataset.value))"
        assert page.eval_on_selector_all("[data-llmbook-output] rect", values) == [1, 0, 0, 0, 1, 0, 0, 0, 1]
        before = page.inner_html("[data-llmbook-output]")
        page.select_option("select", "1")
        assert page.inner_html("[data-llmbook-output]") != before
        shown = page.eval_on_selector_all("[data-llmbook-output] rect", values)
        assert shown == pytest.approx([1 / 3] * 9, abs=1e-4)
        page.hover("[data-llmbook-output] rect >> nth=1")
        assert page.inner_text("[data-llmbook-readout]") == "row 0 'a' → column 1 'b': 0.333"
        browser.close()
    assert not errors
