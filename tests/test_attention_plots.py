"""Static attention figures: what they draw, and the errors they raise."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from llmbook.attention_plots import (  # noqa: E402
    plot_attention,
    plot_attention_lines,
    plot_seq2seq,
    plot_transformer_diagram,
    use_cjk_font,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_heatmap_labels_and_values() -> None:
    w = torch.tensor([[1.0, 0.0], [0.25, 0.75]])
    ax = plot_attention(w, ["a", "b"], ["x", "y"], title="t")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "y"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    assert sorted(t.get_text() for t in ax.texts) == ["0.00", "0.25", "0.75", "1.00"]
    np.testing.assert_array_equal(ax.images[0].get_array(), w.numpy())


def test_heatmap_without_annotations_for_large_maps() -> None:
    ax = plot_attention(np.eye(20), list("abcdefghijklmnopqrst"), list("abcdefghijklmnopqrst"))
    assert len(ax.texts) == 0


@pytest.mark.parametrize(("weights", "rows", "cols", "message"), [
    (np.ones(3), ["a"], ["b"], "2-D"),
    (np.ones((2, 2)), ["a"], ["b", "c"], "query_labels has 1 entries for 2"),
    (np.ones((2, 2)), ["a", "b"], ["c"], "key_labels has 1 entries for 2"),
])
def test_heatmap_bad_input(weights: np.ndarray, rows: list, cols: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plot_attention(weights, rows, cols)


def test_lines_one_line_per_weight_above_threshold() -> None:
    heads = {"h1": np.array([[0.9, 0.1], [0.5, 0.5]]), "h2": np.array([[0.02, 0.98], [1.0, 0.0]])}
    ax = plot_attention_lines(heads, ["q1", "q2"], ["k1", "k2"], min_weight=0.05)
    drawn = [line for line in ax.lines if len(line.get_xdata()) == 2]
    assert len(drawn) == 4 + 2  # h1 draws all four weights, h2 only 0.98 and 1.0
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["h1", "h2"]


def test_lines_bad_input() -> None:
    with pytest.raises(ValueError, match="at least one head"):
        plot_attention_lines({}, ["a"], ["b"])
    with pytest.raises(ValueError, match="same shape"):
        plot_attention_lines({"a": np.ones((1, 2)), "b": np.ones((2, 2))}, ["a"], ["b", "c"])


def test_seq2seq_glosses_are_drawn_above_the_target_tokens() -> None:
    ax = plot_seq2seq(["I", "like"], ["好き", "<eos>"], attention=np.full((2, 2), 0.5),
                      target_glosses=["like", ""])
    texts = {t.get_text(): t.get_position() for t in ax.texts}
    assert texts["like"][1] > texts["好き"][1]  # the gloss sits above its token
    assert texts["decoder"][1] > texts["like"][1]  # and below the "decoder" label
    with pytest.raises(ValueError, match="target_glosses has 1 entries for 2"):
        plot_seq2seq(["a"], ["x", "y"], target_glosses=["only one"])


def test_seq2seq_diagram() -> None:
    ax = plot_seq2seq(["a", "b"], ["x", "y", "z"])
    assert {"a", "b", "x", "y", "z"} <= {t.get_text() for t in ax.texts}
    with pytest.raises(ValueError, match=r"shape \(len\(target\), len\(source\)\) = \(3, 2\)"):
        plot_seq2seq(["a", "b"], ["x", "y", "z"], attention=np.ones((2, 3)))
    with pytest.raises(ValueError, match="at least one token"):
        plot_seq2seq([], ["x"])


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_diagram_boxes(norm_first: bool) -> None:
    ax = plot_transformer_diagram(norm_first=norm_first)
    texts = [t.get_text() for t in ax.texts]
    if norm_first:
        assert texts.count("Norm") == 5 and "Add & Norm" not in texts
    else:
        assert texts.count("Add & Norm") == 5 and "Norm" not in texts


def test_cjk_font_draws_japanese() -> None:
    use_cjk_font()
    fig, ax = plt.subplots()
    ax.set_title("野球が得意")
    fig.canvas.draw()  # would warn "Glyph ... missing from font" without a CJK font
    family = plt.rcParams["font.family"]
    assert any(name in str(family) for name in ("IPAexGothic", "Noto Sans CJK JP", "IPAGothic"))
