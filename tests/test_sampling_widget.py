"""Tests of llmbook.sampling_widget: the packed logits, the HTML contract, and the widget in Chromium."""

from __future__ import annotations

import math
import os
import re
import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from llmbook import sampling as S
from llmbook.sampling_widget import (QUANT_STEP, decode_logits, encode_logits, temperature_widget,
                                     token_label)

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


def test_token_label() -> None:
    assert token_label(" fox") == "␣fox"
    assert token_label("a b ") == "a b␣"
    assert token_label("\n\n") == "↵↵"
    assert token_label("  ") == "␣␣"
    assert token_label("") == "∅"


def test_html_contract() -> None:
    logits, labels = logits_and_labels()
    page = temperature_widget(logits, labels, shown=8, title="A <test> title", name="demo")
    assert page.count('data-llmbook-interactive="demo"') == 1
    markup = page.split("<script>")[0]
    assert markup.count("data-llmbook-output") == 1
    assert len(re.findall(r'<input type="range"', page)) == 3
    assert "A &lt;test&gt; title" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # no external resources
    assert page == temperature_widget(logits, labels, shown=8, title="A <test> title", name="demo")
    assert "other 292 tokens" in page


def test_widget_bad_arguments() -> None:
    logits, labels = logits_and_labels()
    with pytest.raises(ValueError, match="shown must be between 1"):
        temperature_widget(logits, labels, shown=0)
    with pytest.raises(ValueError, match="t_range"):
        temperature_widget(logits, labels, t_range=(1.0, 5.0))
    with pytest.raises(ValueError, match="max_k"):
        temperature_widget(logits, labels, max_k=V + 1)


# ---------------------------------------------------------------------------
# In a real browser, with the network cut off
# ---------------------------------------------------------------------------


def chromium() -> str:
    path = os.environ.get("LLMBOOK_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def page_with_widget(tmp_path_factory: pytest.TempPathFactory):
    sync_api = pytest.importorskip("playwright.sync_api")
    logits, labels = logits_and_labels()
    html_file = tmp_path_factory.mktemp("widget") / "widget.html"
    html_file.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>"
                         + temperature_widget(logits, labels, shown=8, max_k=40) + "</body></html>",
                         encoding="utf-8")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        requests: list[str] = []
        errors: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.route("http*://**", lambda route: route.abort())
        page.goto(html_file.as_uri())
        yield page, logits, requests, errors
        browser.close()


def shown_probs(page) -> list[float]:
    return [float(v) for v in page.eval_on_selector_all("[data-prob]", "els => els.map(e => e.dataset.prob)")]


def set_controls(page, t: float, k: int, p: float) -> None:
    page.evaluate("""([t, k, p]) => {
        const set = (name, v) => { const e = document.querySelector(`[name=${name}]`); e.value = v;
                                   e.dispatchEvent(new Event('input', {bubbles: true})); };
        set('temperature', Math.log10(t)); set('top_k', k); set('top_p', p); }""", [t, k, p])


@pytest.mark.parametrize(("t", "k", "p"), [(1.0, 0, 1.0), (0.5, 0, 1.0), (3.0, 0, 1.0),
                                            (1.0, 5, 1.0), (2.0, 0, 0.6), (0.7, 20, 0.9)])
def test_browser_probabilities_match_llmbook_sampling(page_with_widget, t: float, k: int, p: float) -> None:
    page, logits, requests, errors = page_with_widget
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


def test_browser_moving_the_slider_changes_the_bars(page_with_widget) -> None:
    page, *_ = page_with_widget
    set_controls(page, 1.0, 0, 1.0)
    before = page.inner_html("[data-llmbook-output]")
    set_controls(page, 4.0, 0, 1.0)
    assert page.inner_html("[data-llmbook-output]") != before
    assert page.inner_text(".llmbook-t") == "4.0"
