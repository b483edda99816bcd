"""Tests of llmbook.illustrations: chapter 1's history data and figures, the diagrams, the dates task."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from llmbook.illustrations.dates import (  # noqa: E402
    SOURCE_VOCAB,
    STYLES,
    TARGET_VOCAB,
    DateVocabulary,
    encode_pairs,
    format_date,
    make_pairs,
    random_dates,
)
from llmbook.illustrations.diagrams import plot_network, plot_seq2seq, plot_transformer_diagram  # noqa: E402
from llmbook.illustrations.history import (  # noqa: E402
    FAMILIES,
    MILESTONES,
    MODEL_SIZES,
    Milestone,
    ModelSize,
    plot_parameter_counts,
    plot_timeline,
)

BIB = Path(__file__).resolve().parents[1] / "references.bib"


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# --- chapter 1: the history of language models ---------------------------------------------


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


# --- diagrams (chapters 4, 9 and 10) --------------------------------------------------------


def test_plot_network_draws_every_neuron_and_connection():
    ax = plot_network([3, 4, 2])
    assert len(ax.get_lines()) == 3 * 4 + 4 * 2  # one line per connection
    assert sum(len(c.get_offsets()) for c in ax.collections) == 9  # one circle per neuron
    assert [t.get_text() for t in ax.texts] == ["input\n(3)", "hidden 1\n(4)", "output\n(2)"]
    with pytest.raises(ValueError, match="at least two layers"):
        plot_network([3])
    with pytest.raises(ValueError, match="got 1 names for 2 layers"):
        plot_network([3, 2], names=["x"])


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


# --- the dates task (chapter 10) -------------------------------------------------------------


def test_date_styles() -> None:
    d = dt.date(2021, 3, 7)
    assert [format_date(d, s) for s in STYLES] == list(STYLES.values())
    with pytest.raises(ValueError, match="unknown style 'roman'"):
        format_date(d, "roman")


def test_dates_are_reproducible_and_in_range() -> None:
    dates = random_dates(500, seed=3)
    assert dates == random_dates(500, seed=3)
    assert min(dates).year >= 1950 and max(dates).year <= 2049
    with pytest.raises(ValueError, match="n must be >= 1"):
        random_dates(0)
    with pytest.raises(ValueError, match="split must be 'train', 'test' or None"):
        random_dates(3, split="valid")


def test_train_and_test_dates_never_overlap() -> None:
    train = set(random_dates(3000, seed=1, split="train"))
    test = set(random_dates(300, seed=2, split="test"))
    assert not train & test
    assert all(d.toordinal() % 10 == 0 for d in test)


def test_pairs_round_trip_through_the_vocabularies() -> None:
    pairs = make_pairs(200, seed=1)
    for src, tgt in pairs:
        assert SOURCE_VOCAB.decode(SOURCE_VOCAB.encode(src)) == src
        assert dt.date.fromisoformat(tgt)
    s, t_in, t_out = encode_pairs(pairs[:4])
    assert s.shape[0] == 4 and t_in.shape == t_out.shape == (4, 11)
    assert torch.all(t_in[:, 0] == TARGET_VOCAB.bos_id) and torch.all(t_out[:, -1] == TARGET_VOCAB.eos_id)
    assert TARGET_VOCAB.decode(t_out[0]) == pairs[0][1]


def test_date_vocabulary_reserves_the_first_ids(tmp_path: Path) -> None:
    assert TARGET_VOCAB.itos[:3] == ["<pad>", "<s>", "</s>"] and TARGET_VOCAB.pad_id == 0
    assert (TARGET_VOCAB.bos_id, TARGET_VOCAB.eos_id) == (1, 2)
    assert SOURCE_VOCAB.itos[0] == "<pad>" and SOURCE_VOCAB.bos_id is None is SOURCE_VOCAB.eos_id
    ids = [1] + TARGET_VOCAB.encode("2021-03-07") + [2, 5, 0]
    assert TARGET_VOCAB.decode(ids) == "2021-03-07"
    assert TARGET_VOCAB.decode(ids, stop_at_eos=False) == "2021-03-072"
    assert TARGET_VOCAB.decode(torch.tensor(ids)) == "2021-03-07"
    assert DateVocabulary.load(TARGET_VOCAB.save(tmp_path / "target.json")) == TARGET_VOCAB


def test_vocab_errors() -> None:
    with pytest.raises(KeyError, match="'x' at position 0"):
        TARGET_VOCAB.encode("x")
    with pytest.raises(ValueError, match="distinct"):
        DateVocabulary.of("aa")
    with pytest.raises(ValueError, match="reserved tokens must come first"):
        DateVocabulary(["a", "<pad>"])
    with pytest.raises(ValueError, match="one character"):
        DateVocabulary(["<pad>", "ab"])
    with pytest.raises(IndexError, match="outside the vocabulary"):
        TARGET_VOCAB.decode([len(TARGET_VOCAB)])
    with pytest.raises(ValueError, match="at least one pair"):
        encode_pairs([])
