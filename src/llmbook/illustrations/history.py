"""Chapter 1's history of language models: the milestones, as data, and their two figures.

Every entry names the publication it comes from by its key in the book's
``references.bib``. Parameter counts are included only where the cited
paper itself publishes the number; ideas without a published headline size
(n-grams, LSTM, word2vec, ...) simply have none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, LogLocator

from llmbook.plots import format_count

__all__ = ["FAMILIES", "Milestone", "ModelSize", "MILESTONES", "MODEL_SIZES", "FAMILY_COLOURS",
           "plot_timeline", "plot_parameter_counts"]

#: The families of ideas, in the order the book meets them.
FAMILIES: tuple[str, ...] = (
    "counting",
    "feed-forward neural",
    "recurrent",
    "attention",
    "pre-trained Transformer",
    "instruction-tuned",
)


@dataclass(frozen=True)
class ModelSize:
    """A published parameter count of one model.

    Attributes:
        name: the model's name as the paper calls it.
        year: year of first public release (preprint or paper).
        parameters: number of trainable parameters.
        source: ``references.bib`` key of the publication stating the number.
    """

    name: str
    year: int
    parameters: int
    source: str


@dataclass(frozen=True)
class Milestone:
    """One idea on the road from counting words to chat models.

    Attributes:
        year: year of first public release (preprint or paper).
        name: a short label for figures.
        description: one sentence on what changed.
        family: one of :data:`FAMILIES`.
        source: ``references.bib`` key of the publication.
        sizes: published parameter counts of the models it introduced.
    """

    year: int
    name: str
    description: str
    family: str
    source: str
    sizes: tuple[ModelSize, ...] = field(default=())

    @property
    def parameters(self) -> int | None:
        """The largest published parameter count, or ``None`` if there is none."""
        return max((s.parameters for s in self.sizes), default=None)


MILESTONES: tuple[Milestone, ...] = (
    Milestone(
        1948, "Shannon's n-grams",
        "Approximates English by drawing each letter or word according to the "
        "statistics of what follows the previous ones.",
        "counting", "shannon1948mathematical",
    ),
    Milestone(
        1983, "Statistical speech recognition",
        "n-gram language models become the standard way to score word "
        "sequences in speech recognisers (1970s-80s).",
        "counting", "bahl1983maximum",
    ),
    Milestone(
        1997, "LSTM",
        "A recurrent cell with gates and a memory cell that keeps information "
        "over long sequences.",
        "recurrent", "hochreiter1997long",
    ),
    Milestone(
        2003, "Neural language model",
        "Words become learned vectors; a neural network predicts the next word "
        "from the vectors of the previous ones.",
        "feed-forward neural", "bengio2003neural",
    ),
    Milestone(
        2010, "RNN language model",
        "A recurrent network with a hidden state carries the whole history "
        "instead of a fixed n-1 words.",
        "recurrent", "mikolov2010recurrent",
    ),
    Milestone(
        2013, "word2vec",
        "Cheap training of word vectors on billions of words; vector "
        "arithmetic such as king - man + woman = queen.",
        "feed-forward neural", "mikolov2013efficient",
    ),
    Milestone(
        2014, "Sequence to sequence",
        "An LSTM encoder reads a sentence into a vector, an LSTM decoder writes "
        "the translation.",
        "recurrent", "sutskever2014sequence",
        (ModelSize("seq2seq LSTM", 2014, 384_000_000, "sutskever2014sequence"),),
    ),
    Milestone(
        2014, "Attention",
        "The decoder looks back at every encoder state and takes a weighted "
        "average, instead of one fixed vector.",
        "attention", "bahdanau2015neural",
    ),
    Milestone(
        2017, "Transformer",
        "Attention only, no recurrence: every position is processed in "
        "parallel.",
        "attention", "vaswani2017attention",
        (
            ModelSize("Transformer base", 2017, 65_000_000, "vaswani2017attention"),
            ModelSize("Transformer big", 2017, 213_000_000, "vaswani2017attention"),
        ),
    ),
    Milestone(
        2018, "GPT",
        "A Transformer decoder pre-trained on next-token prediction, then "
        "fine-tuned for each task.",
        "pre-trained Transformer", "radford2018improving",
        # The GPT paper gives the architecture; the GPT-2 paper states its size.
        (ModelSize("GPT", 2018, 117_000_000, "radford2019language"),),
    ),
    Milestone(
        2018, "BERT",
        "A Transformer encoder pre-trained by filling in masked words, reading "
        "left and right context at once.",
        "pre-trained Transformer", "devlin2019bert",
        (
            ModelSize("BERT-base", 2018, 110_000_000, "devlin2019bert"),
            ModelSize("BERT-large", 2018, 340_000_000, "devlin2019bert"),
        ),
    ),
    Milestone(
        2019, "GPT-2",
        "The same recipe, more than ten times larger, on web text: fluent "
        "paragraphs and tasks solved without fine-tuning.",
        "pre-trained Transformer", "radford2019language",
        (ModelSize("GPT-2", 2019, 1_542_000_000, "radford2019language"),),
    ),
    Milestone(
        2020, "GPT-3",
        "Scaled to 175 billion parameters: new tasks learned from a few "
        "examples in the prompt.",
        "pre-trained Transformer", "brown2020language",
        (ModelSize("GPT-3", 2020, 175_000_000_000, "brown2020language"),),
    ),
    Milestone(
        2022, "InstructGPT / ChatGPT",
        "Language models fine-tuned on human demonstrations and preferences "
        "to follow instructions; ChatGPT released in November 2022.",
        "instruction-tuned", "ouyang2022training",
        (
            ModelSize("InstructGPT", 2022, 1_300_000_000, "ouyang2022training"),
            ModelSize("InstructGPT", 2022, 175_000_000_000, "ouyang2022training"),
        ),
    ),
)

#: Every published parameter count in :data:`MILESTONES`, oldest first.
MODEL_SIZES: tuple[ModelSize, ...] = tuple(
    size for milestone in MILESTONES for size in milestone.sizes
)


#: One colour per family of ideas in :data:`FAMILIES`.
FAMILY_COLOURS: dict[str, Any] = {
    family: plt.get_cmap("tab10")(i) for i, family in enumerate(FAMILIES)
}


def plot_timeline(events: Sequence[Milestone], ax: Axes | None = None) -> Axes:
    """Draw milestones as a timeline: one row per event, oldest at the top.

    The x axis is the year (linear, so long quiet periods look long); each
    dot is coloured by the event's family and labelled with its name, on
    the side with more room.

    Raises:
        ValueError: if ``events`` is empty.
    """
    events = sorted(events, key=lambda e: e.year)
    if not events:
        raise ValueError("plot_timeline needs at least one event")
    if ax is None:
        _, ax = plt.subplots(figsize=(9.0, 0.42 * len(events) + 1.5))
    first, last = events[0].year, events[-1].year
    span = max(last - first, 1)
    mid = first + span / 2
    for row, event in enumerate(events):
        colour = FAMILY_COLOURS.get(event.family, "grey")
        ax.scatter(event.year, row, s=70, color=colour, zorder=3)
        right = event.year < mid
        ax.annotate(
            f"{event.year}  {event.name}",
            (event.year, row),
            xytext=(8 if right else -8, 0),
            textcoords="offset points",
            ha="left" if right else "right",
            va="center",
            fontsize=10,
        )
    ax.set_xlim(first - 0.05 * span, last + 0.05 * span)
    ax.set_ylim(len(events) - 0.4, -0.6)  # oldest at the top
    ax.set_yticks([])
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("Year")
    ax.set_ylabel("Milestone (oldest first)")
    present = [f for f in FAMILIES if any(e.family == f for e in events)]
    present += sorted({e.family for e in events} - set(FAMILIES))
    handles = [
        mpl.lines.Line2D([], [], ls="", marker="o", ms=8, color=FAMILY_COLOURS.get(f, "grey"))
        for f in present
    ]
    ax.legend(handles, present, title="Family of ideas", loc="lower left", frameon=False)
    return ax


def plot_parameter_counts(models: Sequence[ModelSize], ax: Axes | None = None) -> Axes:
    """Scatter published parameter counts against year, on a log-scale y axis.

    Each point is labelled with the model's name and size. Models of the same
    year get their labels on alternating sides so that close points stay
    readable.

    Raises:
        ValueError: if ``models`` is empty or a count is not positive.
    """
    models = sorted(models, key=lambda m: (m.year, m.parameters))
    if not models:
        raise ValueError("plot_parameter_counts needs at least one model")
    bad = [m.name for m in models if m.parameters <= 0]
    if bad:
        raise ValueError(f"parameter counts must be positive (log scale): {bad}")
    if ax is None:
        _, ax = plt.subplots(figsize=(8.0, 5.0))
    xs = [m.year for m in models]
    ys = [m.parameters for m in models]
    ax.scatter(xs, ys, s=60, zorder=3)
    ax.set_xlim(min(xs) - 1.5, max(xs) + 1.5)
    ax.set_yscale("log")
    ax.set_ylim(min(ys) / 3, max(ys) * 3)
    ax.yaxis.set_major_locator(LogLocator(base=10))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: format_count(y)))
    labels = [f"{m.name} ({format_count(m.parameters)})" for m in models]
    _place_labels(ax, list(zip(xs, ys)), labels)
    ax.set_xlabel("Year of publication")
    ax.set_ylabel("Parameters (log scale)")
    return ax


# Where a label may go relative to its point: (dx, dy) in points, ha, va.
_LABEL_SPOTS = (
    ((7, 0), "left", "center"),
    ((-7, 0), "right", "center"),
    ((0, 8), "center", "bottom"),
    ((0, -8), "center", "top"),
    ((7, 9), "left", "bottom"),
    ((-7, 9), "right", "bottom"),
    ((7, -9), "left", "top"),
    ((-7, -9), "right", "top"),
)


def _place_labels(ax: Axes, points: list[tuple[float, float]], labels: list[str]) -> None:
    """Annotate each point, choosing for each label the first spot that stays
    inside the axes and overlaps neither an earlier label nor a point."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    point_boxes = []
    for x, y in points:
        px, py = ax.transData.transform((x, y))
        point_boxes.append(mpl.transforms.Bbox.from_extents(px - 5, py - 5, px + 5, py + 5))
    placed: list[mpl.transforms.Bbox] = []
    axes_box = ax.get_window_extent(renderer)
    for (x, y), label in zip(points, labels):
        best = None
        for offset, ha, va in _LABEL_SPOTS:
            text = ax.annotate(label, (x, y), xytext=offset, textcoords="offset points",
                               ha=ha, va=va, fontsize=9.5)
            box = text.get_window_extent(renderer)
            clash = any(box.overlaps(b) for b in placed + point_boxes)
            inside = axes_box.contains(box.x0, box.y0) and axes_box.contains(box.x1, box.y1)
            if not clash and inside:
                best = (text, box)
                break
            text.remove()
        if best is None:  # nowhere free: fall back to the right-hand side
            text = ax.annotate(label, (x, y), xytext=(7, 0), textcoords="offset points",
                               ha="left", va="center", fontsize=9.5)
            best = (text, text.get_window_extent(renderer))
        placed.append(best[1])
