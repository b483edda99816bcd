"""Diagrams of attention's data flow, heads and head split: what they draw, and their errors."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import math  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from llmbook.attention_diagrams import (  # noqa: E402
    plot_attention_flow,
    plot_head_split,
    plot_multihead_diagram,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _one_head(T: int = 4, C: int = 12, d: int = 3) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(T, C, generator=gen)
    q, k, v = (x @ torch.randn(C, d, generator=gen) for _ in range(3))
    scores = q @ k.T
    scaled = scores / math.sqrt(d)
    weights = scaled.softmax(-1)
    return {"x": x, "q": q, "k": k, "v": v, "scores": scores, "scaled": scaled,
            "weights": weights, "out": weights @ v}


def test_flow_draws_every_matrix_with_its_values() -> None:
    m = _one_head()
    ax = plot_attention_flow(list("abcd"), **m)
    assert len(ax.images) == 8  # X, Q, K, V, scores, scaled, weights, output
    drawn = [np.asarray(im.get_array()) for im in ax.images]
    for name, arr in zip(("x", "q", "k", "v", "scores", "scaled", "weights", "out"), drawn):
        np.testing.assert_allclose(arr, m[name].numpy(), rtol=1e-6, err_msg=name)
    weights_image = ax.images[6]
    assert weights_image.norm.vmin == 0.0 and weights_image.norm.vmax == 1.0
    labels = [t.get_text() for t in ax.texts]
    assert "softmax" in labels and "÷ √3" in labels
    assert labels.count("a") == 3  # token labels beside X, beside the scores, under the weights


def test_flow_colour_scale_ignores_a_single_outlier() -> None:
    m = _one_head(T=6, C=60)
    m["x"][0, 0] = 1000.0  # BERT's [CLS] vector has such outliers
    ax = plot_attention_flow(list("abcdef"), **m)
    assert ax.images[0].norm.vmax < 100


@pytest.mark.parametrize(("change", "message"), [
    ({"x": torch.ones(3, 12)}, "x has 3 rows for 4 tokens"),
    ({"scores": torch.ones(4, 3)}, r"scores must have shape \(4, 4\)"),
    ({"k": torch.ones(4, 2)}, "q and k must have the same shape"),
    ({"out": torch.ones(4, 5)}, "out must have as many columns as v"),
    ({"weights": torch.ones(4)}, "weights must be a 2-D matrix"),
])
def test_flow_bad_input(change: dict, message: str) -> None:
    m = _one_head()
    m.update(change)
    with pytest.raises(ValueError, match=message):
        plot_attention_flow(list("abcd"), **m)


@pytest.mark.parametrize("n_heads", [1, 4, 8])
def test_multihead_diagram_has_one_block_per_head(n_heads: int) -> None:
    ax = plot_multihead_diagram(n_heads)
    labels = [t.get_text() for t in ax.texts]
    assert [f"head {i + 1}" for i in range(n_heads)] == [t for t in labels if t.startswith("head ")]
    # each head: its output block and its slot in the concatenation
    assert sum(isinstance(p, Rectangle) for p in ax.patches) == 2 * n_heads
    assert any("W$^O$" in t for t in labels)


@pytest.mark.parametrize("bad", [0, 9, 2.0, True])
def test_multihead_diagram_bad_head_count(bad: object) -> None:
    with pytest.raises(ValueError, match="n_heads must be an integer from 1 to 8"):
        plot_multihead_diagram(bad)


def test_head_split_cells_and_shapes() -> None:
    tokens, h, d = ["the", "cat", "sat"], 4, 2
    ax = plot_head_split(tokens, n_heads=h, d_head=d)
    cells = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_alpha() is not None]
    assert len(cells) == 3 * len(tokens) * h * d  # the same numbers, drawn three times
    text = " ".join(t.get_text() for t in ax.texts)
    assert "(B, 3, 8)" in text and "(B, 3, 4, 2)" in text and "(B, 4, 3, 2)" in text
    assert [f"head {i + 1}" for i in range(h)] == sorted(t.get_text() for t in ax.texts
                                                         if t.get_text().startswith("head "))


@pytest.mark.parametrize(("args", "message"), [
    (([], 2, 2), "at least one token"),
    ((["a"], 0, 2), "n_heads must be a positive integer"),
    ((["a"], 2, -1), "d_head must be a positive integer"),
])
def test_head_split_bad_input(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plot_head_split(*args)
