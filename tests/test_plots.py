"""Tests of llmbook.plots and the data in llmbook.history."""

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from llmbook.history import FAMILIES, MILESTONES, MODEL_SIZES, Milestone, ModelSize  # noqa: E402
from llmbook.plots import (  # noqa: E402
    format_count,
    plot_parameter_counts,
    plot_timeline,
    use_book_style,
)

BIB = Path(__file__).resolve().parents[1] / "references.bib"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_use_book_style_sets_rcparams():
    with matplotlib.rc_context():
        matplotlib.rcParams["axes.spines.top"] = True
        matplotlib.rcParams["font.size"] = 6
        use_book_style()
        assert matplotlib.rcParams["axes.spines.top"] is False
        assert matplotlib.rcParams["axes.spines.right"] is False
        assert matplotlib.rcParams["axes.grid"] is True
        assert matplotlib.rcParams["font.size"] == 12


@pytest.mark.parametrize(
    "n, text",
    [(65_000_000, "65M"), (1_542_000_000, "1.54B"), (175_000_000_000, "175B"),
     (2_000, "2K"), (12, "12"), (1.5e12, "1.5T")],
)
def test_format_count(n, text):
    assert format_count(n) == text


def test_timeline_returns_labelled_axes():
    ax = plot_timeline(MILESTONES)
    assert isinstance(ax, matplotlib.axes.Axes)
    assert ax.get_xlabel() == "Year"
    assert ax.get_ylabel() != ""
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == len(MILESTONES)
    assert "2017  Transformer" in texts
    assert texts[0] == "1948  Shannon's n-grams"  # oldest first
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == list(FAMILIES)
    low, high = ax.get_xlim()
    assert low < 1948 and high > 2022


def test_timeline_draws_on_given_axes_and_rejects_empty():
    fig, ax = plt.subplots()
    assert plot_timeline(MILESTONES[:3], ax=ax) is ax
    with pytest.raises(ValueError, match="at least one"):
        plot_timeline([])


def test_parameter_counts_log_scale_and_labels():
    ax = plot_parameter_counts(MODEL_SIZES)
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "Year of publication"
    assert "Parameters" in ax.get_ylabel()
    texts = {t.get_text() for t in ax.texts}
    assert "GPT-3 (175B)" in texts
    assert "GPT-2 (1.54B)" in texts
    assert "BERT-base (110M)" in texts
    offsets = ax.collections[0].get_offsets()
    assert len(offsets) == len(MODEL_SIZES)
    assert max(offsets[:, 1]) == 175e9


def test_parameter_count_labels_do_not_overlap():
    ax = plot_parameter_counts(MODEL_SIZES)
    renderer = ax.figure.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b)


def test_parameter_counts_bad_input():
    with pytest.raises(ValueError, match="at least one"):
        plot_parameter_counts([])
    with pytest.raises(ValueError, match="positive"):
        plot_parameter_counts([ModelSize("broken", 2020, 0, "x")])


def test_history_data_is_consistent():
    years = [m.year for m in MILESTONES]
    assert years == sorted(years)
    assert all(m.family in FAMILIES for m in MILESTONES)
    assert all(s.year == m.year for m in MILESTONES for s in m.sizes)
    assert MODEL_SIZES == tuple(s for m in MILESTONES for s in m.sizes)
    by_name = {m.name: m for m in MILESTONES}
    # the published numbers the chapter quotes
    assert by_name["Transformer"].sizes[0].parameters == 65_000_000
    assert [s.parameters for s in by_name["BERT"].sizes] == [110_000_000, 340_000_000]
    assert by_name["GPT-2"].parameters == 1_542_000_000
    assert by_name["GPT-3"].parameters == 175_000_000_000
    assert by_name["LSTM"].parameters is None
    assert isinstance(by_name["LSTM"], Milestone)


def test_every_source_is_in_the_bibliography():
    keys = set(re.findall(r"@\w+\{([^,]+),", BIB.read_text(encoding="utf-8")))
    sources = {m.source for m in MILESTONES} | {s.source for s in MODEL_SIZES}
    assert sources <= keys, sources - keys


# --- plot_zipf and tokens_html (chapters 2 and 3) -----------------------------

from llmbook.plots import plot_zipf, tokens_html  # noqa: E402


def test_plot_zipf_sorts_counts_on_log_axes():
    ax = plot_zipf([3, 10, 1, 5], label="toy")
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert "Rank" in ax.get_xlabel() and "occurrences" in ax.get_ylabel()
    points, reference = ax.get_lines()
    assert list(points.get_xdata()) == [1, 2, 3, 4]
    assert list(points.get_ydata()) == [10, 5, 3, 1]
    assert list(reference.get_ydata()) == [10, 2.5]  # f(1)/r at r = 1 and r = 4
    assert [t.get_text() for t in ax.get_legend().get_texts()][0] == "toy"
    assert len(plot_zipf([2, 1], reference=False).get_lines()) == 1


def test_plot_zipf_bad_input():
    with pytest.raises(ValueError, match="at least one"):
        plot_zipf([])
    with pytest.raises(ValueError, match=">= 1"):
        plot_zipf([3, 0])


def test_tokens_html_escapes_and_shows_spaces():
    out = tokens_html({"word": ["the", "fox"], "<odd>": ["a b", "<&>"]})
    assert out.count("<span") == 4
    assert "&lt;odd&gt;" in out and "&lt;&amp;&gt;" in out
    assert "a\u2423b" in out
    assert "<script" not in out and "http" not in out
    assert ">2</td>" in out  # the token count column
    assert ">2</td>" not in tokens_html({"x": ["a", "b"]}, show_count=False)


def test_tokens_html_bad_input():
    with pytest.raises(ValueError, match="at least one row"):
        tokens_html({})
    with pytest.raises(TypeError, match="list of tokens"):
        tokens_html({"x": "abc"})


# --- plot_history and plot_optimizer_paths (chapter 4) ------------------------


def test_plot_history_draws_train_and_validation_perplexity():
    import math

    from llmbook.plots import plot_history
    from llmbook.train import History

    h = History(train_loss=[math.log(80), math.log(20)], val_loss=[math.log(85), math.log(25)])
    ax = plot_history(h, label="MLP")
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["MLP train", "MLP validation"]
    assert list(lines[0].get_ydata()) == pytest.approx([80, 20])
    assert list(lines[1].get_xdata()) == [1, 2]
    assert ax.get_yscale() == "log"
    ax2 = plot_history(h, perplexity=False)
    assert list(ax2.get_lines()[0].get_ydata()) == pytest.approx(h.train_loss)
    assert ax2.get_ylabel() == "Loss"
    with pytest.raises(ValueError, match="at least one epoch"):
        plot_history(History())


def test_plot_optimizer_paths_draws_every_path():
    import torch

    from llmbook.nn_basics import VALLEY_MINIMUM, valley
    from llmbook.plots import plot_optimizer_paths

    paths = {"A": torch.tensor([[0.0, 0.0], [0.5, 0.5]]), "B": torch.tensor([[0.0, 0.0]])}
    ax = plot_optimizer_paths(valley, paths, minimum=VALLEY_MINIMUM, resolution=20)
    labels = [line.get_label() for line in ax.get_lines()]
    assert "A" in labels and "B" in labels and "minimum" in labels
    marked = plot_optimizer_paths(valley, {"A": torch.zeros(21, 2)}, mark_every=10,
                                  resolution=20)
    dots = [line for line in marked.get_lines() if len(line.get_xdata()) == 3]
    assert len(dots) == 1  # points 0, 10 and 20
    assert ax.get_xlabel() and ax.get_ylabel()
    with pytest.raises(ValueError, match="at least one path"):
        plot_optimizer_paths(valley, {})


def test_plot_network_draws_every_neuron_and_connection():
    from llmbook.plots import plot_network

    ax = plot_network([3, 4, 2])
    assert len(ax.get_lines()) == 3 * 4 + 4 * 2  # one line per connection
    assert sum(len(c.get_offsets()) for c in ax.collections) == 9  # one circle per neuron
    assert [t.get_text() for t in ax.texts] == ["input\n(3)", "hidden 1\n(4)", "output\n(2)"]
    with pytest.raises(ValueError, match="at least two layers"):
        plot_network([3])
    with pytest.raises(ValueError, match="got 1 names for 2 layers"):
        plot_network([3, 2], names=["x"])
