"""Tests of the Plotly helpers of llmbook.plots: plotly.js inlined once, the view switcher."""

import json
import re
import sys

import plotly.graph_objects as go
import pytest

import llmbook.plots as plots


@pytest.fixture(autouse=True)
def fresh_session(monkeypatch):
    monkeypatch.setattr(plots, "_plotlyjs_inlined", False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)


def figure(y):
    return go.Figure(go.Scatter(x=[0, 1], y=y, text=["a</script>b", "c"]))


def test_plotlyjs_is_inlined_by_the_first_figure_only():
    first = plots.plotly_html(figure([1, 2]))
    second = plots.plotly_html(figure([2, 1]))
    assert "plotly.js v" in first and len(first) > 1_000_000
    assert "plotly.js v" not in second and len(second) < 100_000
    assert "cdn" not in second.lower() and "https://" not in second
    assert plots.show_plotly(figure([3, 4])).data.count("Plotly.newPlot") == 1


def test_plotlyjs_is_inlined_every_time_in_colab(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", object())
    assert "plotly.js v" in plots.plotly_html(figure([1, 2]))
    assert "plotly.js v" in plots.plotly_html(figure([1, 2]))


def test_views_widget_follows_the_interactive_contract():
    plots.plotly_html(figure([0, 0]))  # plotly.js already on the page
    page = plots.plotly_views_html({"PCA": figure([1, 2]), "t-SNE": figure([5, 6])},
                                   name="word map", label="Projection")
    assert page.count("data-llmbook-interactive=") == 1
    assert 'data-llmbook-interactive="word map"' in page
    assert page.count("data-llmbook-output") == 1
    assert re.search(r"<select data-llmbook-control[^>]*>"
                     r'<option value="0">PCA</option><option value="1">t-SNE</option></select>', page)
    views = re.search(r'<script type="application/json" id="[^"]+">(.*?)</script>', page, re.S)
    data = json.loads(views.group(1))
    assert [v["data"][0]["y"] for v in data] == [[1, 2], [5, 6]]
    assert data[0]["data"][0]["text"][0] == "a</script>b"  # escaped in the page, intact as JSON
    assert "Plotly.react" in page
    other = plots.plotly_views_html({"a": figure([1, 2]), "b": figure([2, 3])}, name="word map")
    ids = lambda html: set(re.findall(r'id="([^"]+)"', html))  # noqa: E731
    assert not ids(page) & ids(other)  # two widgets on one page do not clash


def test_views_widget_bad_input():
    with pytest.raises(ValueError, match="at least two views"):
        plots.plotly_views_html({"PCA": figure([1, 2])}, name="x")
    with pytest.raises(ValueError, match="give the widget a name"):
        plots.plotly_views_html({"a": figure([1, 2]), "b": figure([1, 2])}, name=" ")
