"""The book's shared plotting helpers: one style, and the figures of chapter 1.

Every function draws on a Matplotlib ``Axes`` (a new one if ``ax`` is not
given), labels its axes, and returns the ``Axes`` so a chapter can add to it.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, LogLocator

from llmbook.history import FAMILIES, Milestone, ModelSize

__all__ = [
    "BOOK_STYLE",
    "FAMILY_COLOURS",
    "use_book_style",
    "format_count",
    "plot_timeline",
    "plot_parameter_counts",
    "plot_zipf",
    "tokens_html",
]

#: Matplotlib settings shared by every figure of the book.
BOOK_STYLE: dict[str, Any] = {
    "figure.figsize": (8.0, 4.5),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 12,
    "axes.titlesize": 13,
    "axes.labelsize": 12,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linestyle": "-",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": mpl.cycler(color=plt.get_cmap("tab10").colors),
}

#: One colour per family of ideas in :data:`llmbook.history.FAMILIES`.
FAMILY_COLOURS: dict[str, Any] = {
    family: plt.get_cmap("tab10")(i) for i, family in enumerate(FAMILIES)
}


def use_book_style() -> None:
    """Apply :data:`BOOK_STYLE` to Matplotlib (readable fonts, light grid, no top/right spines)."""
    mpl.rcParams.update(BOOK_STYLE)


def format_count(n: float) -> str:
    """Write a parameter count the way papers do: ``65M``, ``1.54B``, ``175B``.

    >>> format_count(1_542_000_000), format_count(65_000_000), format_count(340_000)
    ('1.54B', '65M', '340K')
    """
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= size:
            return f"{n / size:.3g}{suffix}"
    return f"{n:g}"


def _new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


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
    ax = _new_axes(ax, (9.0, 0.42 * len(events) + 1.5))
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
    ax = _new_axes(ax, (8.0, 5.0))
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


def plot_zipf(
    counts: Sequence[int], ax: Axes | None = None, label: str | None = None,
    reference: bool = True,
) -> Axes:
    """Plot frequency against frequency rank on log-log axes (a Zipf plot).

    ``counts`` are token frequencies in any order; they are sorted, largest
    first, so the most frequent token has rank 1. With ``reference`` a
    dashed line ``f(1) / r`` shows Zipf's law, frequency proportional to
    1/rank, through the first point.

    Raises:
        ValueError: if ``counts`` is empty or holds a count below 1.
    """
    ranked = sorted((int(c) for c in counts), reverse=True)
    if not ranked:
        raise ValueError("plot_zipf needs at least one count")
    if ranked[-1] < 1:
        raise ValueError("counts must be >= 1 on a log scale; drop unseen tokens first")
    ax = _new_axes(ax, (7.0, 4.5))
    ranks = range(1, len(ranked) + 1)
    ax.loglog(ranks, ranked, ".", ms=4, label=label or "observed")
    if reference:
        ax.loglog([1, len(ranked)], [ranked[0], ranked[0] / len(ranked)], "--", color="grey",
                  label="Zipf's law: frequency $\\propto$ 1 / rank")
    ax.set_xlabel("Rank of the token (1 = most frequent, log scale)")
    ax.set_ylabel("Number of occurrences (log scale)")
    ax.legend(frameon=False)
    return ax


_TOKEN_COLOURS = ("#fde2a7", "#b9e3f5", "#cdeec4", "#f8c9d4", "#ddd3f3")


def tokens_html(rows: Mapping[str, Sequence[str]], show_count: bool = True) -> str:
    """HTML that shows tokenisations side by side, each token in a coloured box.

    ``rows`` maps a label (e.g. a tokeniser's name) to its list of tokens.
    Neighbouring tokens get different colours, spaces inside a token are
    shown as ``␣`` so that they stay visible, and all text is escaped. The
    result is self-contained (inline styles, no scripts); display it with
    ``IPython.display.HTML``.

    >>> tokens_html({"BPE": ["▁the", "▁fox"]}).count("<span")
    2
    """
    if not rows:
        raise ValueError("tokens_html needs at least one row")
    box = ("display:inline-block;margin:1px 1px;padding:0 3px;border-radius:3px;"
           "color:#111;font-family:monospace;font-size:0.92em;white-space:pre;background:")
    lines = ['<table style="border-collapse:collapse;margin:0.5em 0">']
    for name, tokens in rows.items():
        if isinstance(tokens, str):
            raise TypeError(f"row {name!r}: expected a list of tokens, got a str")
        spans = "".join(
            f'<span style="{box}{_TOKEN_COLOURS[i % len(_TOKEN_COLOURS)]}">'
            f"{html.escape(str(t).replace(' ', '␣'))}</span>"
            for i, t in enumerate(tokens)
        )
        count = f'<td style="padding:2px 8px;text-align:right">{len(tokens)}</td>' if show_count else ""
        lines.append(
            f'<tr><th style="padding:2px 8px;text-align:left;vertical-align:top;'
            f'white-space:nowrap">{html.escape(name)}</th>{count}'
            f'<td style="padding:2px 4px;line-height:1.9">{spans}</td></tr>'
        )
    lines.append("</table>")
    return "\n".join(lines)
