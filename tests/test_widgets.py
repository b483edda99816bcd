"""Tests of llmbook.widgets: the shared escaping, each widget's HTML contract, and the widgets in Chromium.

Every widget is also built from hostile tokens (a label that closes the
script, one that opens an HTML comment, a JavaScript line separator, a name
that closes the id attribute): the page must keep exactly the structure it
has with harmless tokens, and the data must come back intact. The browser
test with the same tokens is ``tests/browser/test_widget_injection.py``.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
import torch.nn.functional as F

import llmbook.widgets as widgets
from llmbook import sampling as S
from llmbook.widgets import (QUANT_STEP, decode_logits, encode_logits, heatmap_explorer,
                             heatmap_explorer_html, plotly_html, plotly_views, plotly_views_html,
                             script_json, temperature_explorer, temperature_explorer_html,
                             token_label, widget_id)

#: Tokens that broke out of the widgets' scripts and attributes before they were escaped.
HOSTILE = ["</script><script>alert(1)</script>", "<!--<script>", "line\u2028sep\u2029arator",
           '"><img src=x onerror=alert(1)>', "a & b"]
HOSTILE_NAME = '"><script>alert(1)</script>'


def structure(page: str) -> dict[str, int]:
    """What the HTML parser sees as markup inside and around scripts."""
    lower = page.lower()
    return {mark: lower.count(mark) for mark in ("<script", "</script", "<!--", "-->", "\u2028", "\u2029")}


def data_of(page: str) -> object:
    """The JSON data block of a widget."""
    return json.loads(re.search(r"<script type=\"application/json\" data-llmbook-data>(.*?)</script>",
                                page, re.S).group(1))


def assert_safe(hostile: str, harmless: str) -> None:
    """``hostile`` has exactly the structure of ``harmless`` and only safe ids."""
    assert structure(hostile) == structure(harmless)
    assert structure(hostile)["<!--"] == 0 and structure(hostile)["\u2028"] == 0
    assert all(re.fullmatch(r"llmbook-[a-z0-9-]+", i) for i in re.findall(r'\bid="([^"]*)"', hostile))
    assert "<img" not in hostile


# ---------------------------------------------------------------------------
# The shared pieces
# ---------------------------------------------------------------------------


def test_script_json_escapes_what_can_end_a_script() -> None:
    text = script_json({"t": HOSTILE})
    assert not set("<>&\u2028\u2029") & set(text)
    assert json.loads(text) == {"t": HOSTILE}
    assert script_json("é 野") == '"é 野"'  # other characters stay readable
    with pytest.raises(ValueError):
        script_json(math.nan)


def test_widget_id_is_safe_and_unique() -> None:
    ids = [widget_id(HOSTILE_NAME) for _ in range(3)]
    assert len(set(ids)) == 3
    assert all(re.fullmatch(r"llmbook-script-alert-1-script-\d+", i) for i in ids)
    assert re.fullmatch(r"llmbook-widget-\d+", widget_id("<>"))
    with pytest.raises(ValueError, match="give the widget a name"):
        widget_id(" ")


def test_token_label() -> None:
    assert token_label(" fox") == "␣fox"
    assert token_label("a b ") == "a b␣"
    assert token_label("\n\n") == "↵↵"
    assert token_label("  ") == "␣␣"
    assert token_label("") == "∅"


# ---------------------------------------------------------------------------
# The temperature explorer
# ---------------------------------------------------------------------------

V = 300


def logits_and_labels(seed: int = 0) -> tuple[torch.Tensor, list[str]]:
    logits = torch.randn(V, generator=torch.Generator().manual_seed(seed)) * 2.5
    labels = [f" w{i}" if i % 3 else f"<{i}>" for i in range(V)]
    return logits, labels


def test_encode_decode_round_trip() -> None:
    logits, _ = logits_and_labels()
    data, top, order = encode_logits(logits)
    back = decode_logits(data, top)
    assert top == pytest.approx(float(logits.max()))
    assert order == torch.sort(logits, descending=True).indices.tolist()
    assert torch.allclose(back, logits[order].double(), atol=QUANT_STEP / 2 + 1e-9)
    probs = F.softmax(logits.double(), -1)[order]
    assert torch.allclose(F.softmax(back, -1), probs, atol=1e-3 * probs.max())


def test_encode_rejects_bad_logits() -> None:
    with pytest.raises(ValueError, match="1-D"):
        encode_logits(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="NaN"):
        encode_logits(torch.tensor([0.0, math.nan]))


def test_temperature_html_contract() -> None:
    logits, labels = logits_and_labels()
    page = temperature_explorer_html(logits, labels, shown=8, title="A <test> title", name="demo")
    assert page.count('data-llmbook-interactive="demo"') == 1
    assert page.count("<div data-llmbook-output") == 1
    assert len(re.findall(r'<input type="range"', page)) == 3
    assert "A &lt;test&gt; title" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # no external resources
    data = data_of(page)
    assert data["labels"] == [token_label(labels[i]) for i in encode_logits(logits)[2][:8]]
    assert data["restLabel"] == "other 292 tokens"
    again = temperature_explorer_html(logits, labels, shown=8, title="A <test> title", name="demo")
    first_id, second_id = (re.search(r'id="([^"]+)"', p).group(1) for p in (page, again))
    assert first_id != second_id  # two widgets on one page do not clash ...
    assert page.replace(first_id, "ID") == again.replace(second_id, "ID")  # ... and are otherwise equal
    assert "data-llmbook-interactive" in temperature_explorer(logits, labels).data


def test_temperature_bad_arguments() -> None:
    logits, labels = logits_and_labels()
    with pytest.raises(ValueError, match="shown must be between 1"):
        temperature_explorer_html(logits, labels, shown=0)
    with pytest.raises(ValueError, match="t_range"):
        temperature_explorer_html(logits, labels, t_range=(1.0, 5.0))
    with pytest.raises(ValueError, match="max_k"):
        temperature_explorer_html(logits, labels, max_k=V + 1)
    with pytest.raises(ValueError, match="give the widget a name"):
        temperature_explorer_html(logits, labels, name="")


def test_temperature_hostile_tokens_stay_data() -> None:
    logits = torch.arange(len(HOSTILE), 0, -1).float()  # the labels in their own order
    page = temperature_explorer_html(logits, HOSTILE, shown=len(HOSTILE), max_k=2,
                                     title=HOSTILE[0], name=HOSTILE_NAME)
    harmless = temperature_explorer_html(logits, list("abcde"), shown=len(HOSTILE), max_k=2,
                                         title="title", name="name")
    assert_safe(page, harmless)
    assert data_of(page)["labels"] == HOSTILE
    assert 'data-llmbook-interactive="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in page


# ---------------------------------------------------------------------------
# The heatmap explorer
# ---------------------------------------------------------------------------

MATRICES = {"head 1": np.eye(3), "head 2": np.full((3, 3), 1 / 3)}


def test_heatmap_html_contract() -> None:
    page = heatmap_explorer_html(MATRICES, "abc", "abc", "Two heads", name="attention maps")
    assert page.count('data-llmbook-interactive="attention maps"') == 1
    assert page.count("<div data-llmbook-output>") == 1  # exactly one output element
    assert page.count("<select data-llmbook-control") == 1
    assert '<option value="1">head 2</option>' in page
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")  # nothing fetched
    data = data_of(page)
    assert data["values"][0] == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    assert data["rows"] == ["a", "b", "c"] and data["vmax"] == 1.0
    assert data_of(heatmap_explorer_html(MATRICES, [" ", "\n", "x"], "abc"))["rows"] == ["␣", "↵", "x"]


def test_heatmap_each_widget_gets_its_own_id() -> None:
    ids = {re.search(r'id="([^"]+)"', heatmap_explorer_html(MATRICES, "abc", "abc")).group(1) for _ in range(3)}
    assert len(ids) == 3


def test_heatmap_hostile_tokens_stay_data() -> None:
    n = len(HOSTILE)
    matrices = {HOSTILE[0]: np.eye(n), HOSTILE[1]: np.ones((n, n))}
    texts = {"title": HOSTILE[1], "control_label": HOSTILE[3], "row_title": HOSTILE[0],
             "col_title": HOSTILE[2]}
    page = heatmap_explorer_html(matrices, HOSTILE, HOSTILE, name=HOSTILE_NAME, **texts)
    harmless = heatmap_explorer_html({"a": np.eye(n), "b": np.ones((n, n))}, "abcde", "abcde",
                                     name="name", **{k: "text" for k in texts})
    assert_safe(page, harmless)
    data = data_of(page)
    assert data["rows"] == data["cols"] == HOSTILE
    assert (data["rowTitle"], data["colTitle"]) == (HOSTILE[0], HOSTILE[2])


def test_heatmap_returns_ipython_html() -> None:
    shown = heatmap_explorer(MATRICES, "abc", "xyz")
    assert "data-llmbook-interactive" in shown.data


@pytest.mark.parametrize(("matrices", "message"), [
    ({}, "at least one matrix"),
    ({"m": np.ones((2, 3))}, r"matrix 'm' has shape \(2, 3\), but the labels ask for \(3, 3\)"),
    ({"m": np.full((3, 3), np.nan)}, "NaN or infinite"),
])
def test_heatmap_bad_matrices(matrices: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        heatmap_explorer_html(matrices, "abc", "abc")


def test_heatmap_empty_name() -> None:
    with pytest.raises(ValueError, match="give the widget a name"):
        heatmap_explorer_html(MATRICES, "abc", "abc", name=" ")


# ---------------------------------------------------------------------------
# Plotly figures and the view switcher
# ---------------------------------------------------------------------------


@pytest.fixture
def fresh_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(widgets, "_plotlyjs_inlined", False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)


def figure(y: list[float], text: tuple[str, str] = ("a</script>b", "c")) -> go.Figure:
    return go.Figure(go.Scatter(x=[0, 1], y=y, text=list(text)))


def test_plotlyjs_is_inlined_by_the_first_figure_only(fresh_session: None) -> None:
    first = plotly_html(figure([1, 2]))
    second = plotly_html(figure([2, 1]))
    assert "plotly.js v" in first and len(first) > 1_000_000
    assert "plotly.js v" not in second and len(second) < 100_000
    assert "cdn" not in second.lower() and "https://" not in second
    assert second.count("Plotly.newPlot") == 1


def test_plotlyjs_is_inlined_every_time_in_colab(fresh_session: None,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "google.colab", object())
    assert "plotly.js v" in plotly_html(figure([1, 2]))
    assert "plotly.js v" in plotly_html(figure([1, 2]))


def test_views_widget_follows_the_interactive_contract(fresh_session: None) -> None:
    plotly_html(figure([0, 0]))  # plotly.js already on the page
    page = plotly_views_html({"PCA": figure([1, 2]), "t-SNE": figure([5, 6])},
                             name="word map", label="Projection")
    assert page.count("data-llmbook-interactive=") == 1
    assert 'data-llmbook-interactive="word map"' in page
    assert page.count("data-llmbook-output") == 1
    assert re.search(r"<select data-llmbook-control[^>]*>"
                     r'<option value="0">PCA</option><option value="1">t-SNE</option></select>', page)
    data = data_of(page)
    assert [v["data"][0]["y"] for v in data] == [[1, 2], [5, 6]]
    assert data[0]["data"][0]["text"][0] == "a</script>b"  # escaped in the page, intact as JSON
    assert "Plotly.react" in page
    other = plotly_views_html({"a": figure([1, 2]), "b": figure([2, 3])}, name="word map")
    ids = lambda html: set(re.findall(r'id="([^"]+)"', html))  # noqa: E731
    assert not ids(page) & ids(other)  # two widgets on one page do not clash
    assert "data-llmbook-interactive" in plotly_views({"a": figure([1, 2]), "b": figure([2, 3])},
                                                      name="x").data


def test_views_widget_hostile_tokens_stay_data(fresh_session: None) -> None:
    plotly_html(figure([0, 0]))  # plotly.js already on the page
    hostile = {key: figure([1, 2], (key, HOSTILE[1])) for key in HOSTILE[:2]}
    page = plotly_views_html(hostile, name=HOSTILE_NAME, label=HOSTILE[1])
    harmless = plotly_views_html({k: figure([1, 2], ("a", "b")) for k in "ab"}, name="name",
                                 label="label")
    assert_safe(page, harmless)
    assert [view["data"][0]["text"] for view in data_of(page)] == [[HOSTILE[0], HOSTILE[1]],
                                                                    [HOSTILE[1], HOSTILE[1]]]


def test_views_widget_bad_input() -> None:
    with pytest.raises(ValueError, match="at least two views"):
        plotly_views_html({"PCA": figure([1, 2])}, name="x")
    with pytest.raises(ValueError, match="give the widget a name"):
        plotly_views_html({"a": figure([1, 2]), "b": figure([1, 2])}, name=" ")


# ---------------------------------------------------------------------------
# In a real browser, with the network cut off
# ---------------------------------------------------------------------------


def chromium() -> str:
    path = os.environ.get("LLMBOOK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def browser_page():
    """A function that opens an HTML body in headless Chromium; yields (page, errors)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])

        def open_body(body: str, folder: Path):
            page_file = folder / "widget.html"
            page_file.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>"
                                 + body + "</body></html>", encoding="utf-8")
            page = browser.new_page()
            requests: list[str] = []
            errors: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.route("http*://**", lambda route: route.abort())
            page.goto(page_file.as_uri())
            return page, requests, errors

        yield open_body
        browser.close()


@pytest.fixture(scope="module")
def temperature_page(browser_page, tmp_path_factory: pytest.TempPathFactory):
    logits, labels = logits_and_labels()
    page, requests, errors = browser_page(temperature_explorer_html(logits, labels, shown=8, max_k=40),
                                          tmp_path_factory.mktemp("widget"))
    yield page, logits, requests, errors
    page.close()


def shown_probs(page) -> list[float]:
    return [float(v) for v in page.eval_on_selector_all("[data-prob]", "els => els.map(e => e.dataset.prob)")]


def set_controls(page, t: float, k: int, p: float) -> None:
    page.evaluate("""([t, k, p]) => {
        const set = (name, v) => { const e = document.querySelector(`[name=${name}]`); e.value = v;
                                   e.dispatchEvent(new Event('input', {bubbles: true})); };
        set('temperature', Math.log10(t)); set('top_k', k); set('top_p', p); }""", [t, k, p])


@pytest.mark.parametrize(("t", "k", "p"), [(1.0, 0, 1.0), (0.5, 0, 1.0), (3.0, 0, 1.0),
                                            (1.0, 5, 1.0), (2.0, 0, 0.6), (0.7, 20, 0.9)])
def test_browser_probabilities_match_llmbook_sampling(temperature_page, t: float, k: int, p: float) -> None:
    page, logits, requests, errors = temperature_page
    set_controls(page, t, k, p)
    t = 10 ** float(page.input_value("[name=temperature]"))  # snapped to the slider's steps
    data, top, order = encode_logits(logits)
    sorted_logits = decode_logits(data, top)  # what the page holds
    expected = F.softmax(S.process_logits(sorted_logits, temperature=t, top_k=k or None,
                                          top_p=p if p < 1 else None), -1)
    got = shown_probs(page)
    assert len(got) == 9  # 8 tokens and "the others"
    assert got[:8] == pytest.approx(expected[:8].tolist(), rel=1e-4, abs=1e-9)
    assert got[8] == pytest.approx(float(expected[8:].sum()), rel=1e-4, abs=1e-9)
    assert not errors and not [u for u in requests if not u.startswith("file:")]


def test_browser_moving_the_slider_changes_the_bars(temperature_page) -> None:
    page, *_ = temperature_page
    set_controls(page, 1.0, 0, 1.0)
    before = page.inner_html("[data-llmbook-output]")
    set_controls(page, 4.0, 0, 1.0)
    assert page.inner_html("[data-llmbook-output]") != before
    assert page.inner_text(".llmbook-t") == "4.0"


def test_browser_menu_redraws_the_heatmap(browser_page, tmp_path: Path) -> None:
    page, _, errors = browser_page(heatmap_explorer_html(MATRICES, "abc", "abc", name="maps"), tmp_path)
    values = "els => els.map(e => Number(e.dataset.value))"
    assert page.eval_on_selector_all("[data-llmbook-output] rect", values) == [1, 0, 0, 0, 1, 0, 0, 0, 1]
    before = page.inner_html("[data-llmbook-output]")
    page.select_option("select", "1")
    assert page.inner_html("[data-llmbook-output]") != before
    shown = page.eval_on_selector_all("[data-llmbook-output] rect", values)
    assert shown == pytest.approx([1 / 3] * 9, abs=1e-4)
    page.hover("[data-llmbook-output] rect >> nth=1")
    assert page.inner_text("[data-llmbook-readout]") == "row 0 'a' → column 1 'b': 0.333"
    page.close()
    assert not errors
