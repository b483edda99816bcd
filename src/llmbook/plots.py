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
    "plot_history",
    "plot_optimizer_paths",
    "plotly_html",
    "show_plotly",
    "plotly_views_html",
    "show_plotly_views",
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


def _label_2_and_5(y: float, _: Any = None) -> str:
    """Tick label for minor ticks of a log axis: only 2s and 5s (20, 50, 0.2 ...)."""
    import math

    if y <= 0:
        return ""
    mantissa = y / 10 ** math.floor(math.log10(y) + 1e-9)
    return f"{y:g}" if min(abs(mantissa - 2), abs(mantissa - 5)) < 1e-6 else ""


def plot_history(
    history: Any,
    ax: Axes | None = None,
    *,
    perplexity: bool = True,
    label: str = "",
) -> Axes:
    """Plot training (solid) and validation (dashed) curves of a training run, per epoch.

    ``history`` is a :class:`llmbook.train.History` (anything with lists
    ``train_loss`` and ``val_loss``). With ``perplexity=True`` the curves show
    ``exp(loss)`` on a log-scale y axis, the "effective number of choices".
    ``label`` prefixes the legend entries, so several runs can share an axes.

    Raises:
        ValueError: if the history holds no epochs.
    """
    import math

    if not history.train_loss:
        raise ValueError("plot_history needs a history with at least one epoch")
    ax = _new_axes(ax, (8.0, 4.5))
    transform = math.exp if perplexity else (lambda v: v)
    prefix = f"{label} " if label else ""
    epochs = range(1, len(history.train_loss) + 1)
    (line,) = ax.plot(epochs, [transform(v) for v in history.train_loss], label=f"{prefix}train")
    if history.val_loss:
        ax.plot(range(1, len(history.val_loss) + 1), [transform(v) for v in history.val_loss],
                ls="--", color=line.get_color(), label=f"{prefix}validation")
    ax.set_xlabel("Epoch")
    if perplexity:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
        ax.yaxis.set_minor_formatter(FuncFormatter(_label_2_and_5))
        ax.set_ylabel("Perplexity = exp(loss), log scale")
    else:
        ax.set_ylabel("Loss")
    ax.legend(frameon=False)
    return ax


def plot_optimizer_paths(
    loss_fn: Any,
    paths: Mapping[str, Any],
    ax: Axes | None = None,
    *,
    xlim: tuple[float, float] = (-2.0, 2.0),
    ylim: tuple[float, float] = (-1.0, 3.0),
    minimum: tuple[float, float] | None = None,
    mark_every: int | None = None,
    resolution: int = 200,
) -> Axes:
    """Draw the contour lines of a 2-D loss surface and each optimiser's path across it.

    Args:
        loss_fn: maps an array of points of shape ``(..., 2)`` (a ``torch``
            tensor) to the loss at each point, e.g. :func:`llmbook.nn_basics.valley`.
        paths: name -> visited points of shape ``(steps + 1, 2)``, as returned
            by :func:`llmbook.nn_basics.optimizer_paths`.
        xlim, ylim: the region shown.
        minimum: if given, marked with a star.
        mark_every: if given, put a small dot on every ``mark_every``-th point
            of each path, so that the spacing of the dots shows the speed.
        resolution: grid points per axis for the contours.

    Raises:
        ValueError: if ``paths`` is empty.
    """
    import numpy as np
    import torch

    if not paths:
        raise ValueError("plot_optimizer_paths needs at least one path")
    ax = _new_axes(ax, (7.0, 6.0))
    xs = np.linspace(*xlim, resolution)
    ys = np.linspace(*ylim, resolution)
    grid = torch.tensor(np.stack(np.meshgrid(xs, ys), axis=-1))
    z = loss_fn(grid).numpy()
    levels = np.logspace(np.log10(max(z.min(), 1e-3)), np.log10(z.max()), 14)
    ax.contour(xs, ys, z, levels=levels, colors="grey", linewidths=0.7, alpha=0.7)
    ax.contourf(xs, ys, z, levels=levels, cmap="Blues_r", alpha=0.35)
    for name, path in paths.items():
        path = np.asarray(path)
        (line,) = ax.plot(path[:, 0], path[:, 1], lw=1.8, label=name)
        if mark_every:
            ax.plot(path[::mark_every, 0], path[::mark_every, 1], "o", ms=3.5,
                    color=line.get_color())
        ax.plot(path[:1, 0], path[:1, 1], "o", color="black", ms=6)
        ax.plot(path[-1:, 0], path[-1:, 1], "o", color=line.get_color(), ms=7, mec="white")
    if minimum is not None:
        ax.plot(*minimum, "*", color="gold", mec="black", ms=16, label="minimum", zorder=5)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel("parameter $w_1$")
    ax.set_ylabel("parameter $w_2$")
    ax.grid(False)
    ax.legend(loc="upper right", frameon=True)
    return ax


# --- Interactive Plotly figures in the static book ----------------------------------
#
# plotly.js (about 4.7 MB) must travel inside the page, since the book works
# with no network; it is inlined by the first figure of a kernel session only,
# and later figures on the same page reuse it. In Google Colab every output
# lives in its own frame, so there each figure carries its own copy.

_plotlyjs_inlined = False
_views_made = 0  # numbers the widgets of a session, so their element ids are unique


def _needs_plotlyjs() -> bool:
    """True if the next figure must inline plotly.js (and remember that it did)."""
    import sys

    global _plotlyjs_inlined
    if "google.colab" in sys.modules:
        return True
    first = not _plotlyjs_inlined
    _plotlyjs_inlined = True
    return first


def plotly_html(fig: Any, *, div_id: str | None = None) -> str:
    """HTML for a Plotly figure; plotly.js is inlined only by the first call of a session.

    Never uses a CDN: the figure works in the static HTML book with the
    network off.
    """
    return fig.to_html(full_html=False, include_plotlyjs=_needs_plotlyjs(), div_id=div_id,
                       config={"displaylogo": False, "responsive": True})


def show_plotly(fig: Any) -> Any:
    """Display a Plotly figure in a notebook (and the book) via :func:`plotly_html`."""
    from IPython.display import HTML

    return HTML(plotly_html(fig))


def plotly_views_html(views: Mapping[str, Any], name: str, label: str = "View") -> str:
    """One Plotly figure with a menu that switches between several versions of it.

    ``views`` maps a menu entry (e.g. ``"PCA"``, ``"t-SNE"``) to a figure;
    the first is drawn, and choosing another entry redraws the figure with
    ``Plotly.react``. The whole widget is a ``div`` with the attribute
    ``data-llmbook-interactive=name``; the menu is its control and the figure
    sits in its ``data-llmbook-output`` element, as the book's browser tests
    expect. Hover and zoom work as in any Plotly figure.

    Raises:
        ValueError: if ``views`` has fewer than two entries or ``name`` is empty.
    """
    import json
    import re

    import plotly.io as pio

    if len(views) < 2:
        raise ValueError("plotly_views_html needs at least two views to switch between")
    if not name or not name.strip():
        raise ValueError("give the widget a name (used in data-llmbook-interactive)")
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "views"
    global _views_made
    _views_made += 1
    root = f"llmbook-{slug}-{_views_made}"
    figures = list(views.values())
    options = "".join(f'<option value="{i}">{html.escape(str(key))}</option>'
                      for i, key in enumerate(views))
    data = json.dumps([json.loads(pio.to_json(f, validate=False)) for f in figures])
    data = data.replace("</", "<\\/")  # a "</script>" inside the data must not end the tag
    return f"""<div id="{root}" data-llmbook-interactive="{html.escape(name)}">
<label style="font-size:0.9em">{html.escape(label)}:
<select data-llmbook-control aria-label="{html.escape(label)}">{options}</select></label>
<div data-llmbook-output>{plotly_html(figures[0], div_id=root + "-plot")}</div>
<script type="application/json" id="{root}-views">{data}</script>
<script>
(function () {{
  var root = document.getElementById("{root}");
  var views = JSON.parse(document.getElementById("{root}-views").textContent);
  var menu = root.querySelector("select");
  function redraw() {{
    var plot = document.getElementById("{root}-plot");
    if (window.Plotly && plot) {{
      var view = views[Number(menu.value)];
      window.Plotly.react(plot, view.data, view.layout);
    }}
  }}
  menu.addEventListener("input", redraw);
  menu.addEventListener("change", redraw);
}})();
</script>
</div>"""


def show_plotly_views(views: Mapping[str, Any], name: str, label: str = "View") -> Any:
    """Display :func:`plotly_views_html` in a notebook (and the book)."""
    from IPython.display import HTML

    return HTML(plotly_views_html(views, name, label))


def plot_network(sizes: Sequence[int], ax: Axes | None = None, *,
                 names: Sequence[str] | None = None) -> Axes:
    """Draw a fully connected network: one column of circles per layer, every
    neuron linked to every neuron of the next layer.

    Args:
        sizes: neurons per layer, input layer first, e.g. ``[3, 4, 4, 2]``.
        names: a caption under each layer (default: "input", "hidden 1", ...,
            "output").

    Raises:
        ValueError: for fewer than two layers, a layer without neurons, or a
            wrong number of names.
    """
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"need at least two layers of at least one neuron, got {list(sizes)}")
    if names is None:
        names = ["input"] + [f"hidden {i}" for i in range(1, len(sizes) - 1)] + ["output"]
    if len(names) != len(sizes):
        raise ValueError(f"got {len(names)} names for {len(sizes)} layers")
    ax = _new_axes(ax, (1.8 * len(sizes) + 1, 0.7 * max(sizes) + 1.5))
    top = max(sizes)
    ys = [[(top - n) / 2 + i for i in range(n)] for n in sizes]
    for layer, (left, right) in enumerate(zip(ys, ys[1:])):
        for y0 in left:
            for y1 in right:
                ax.plot([layer, layer + 1], [y0, y1], color="grey", lw=0.8, alpha=0.6, zorder=1)
    colours = plt.get_cmap("tab10").colors
    for layer, column in enumerate(ys):
        colour = colours[0] if layer == 0 else colours[2] if layer == len(sizes) - 1 else colours[1]
        ax.scatter([layer] * len(column), column, s=420, color=colour, edgecolor="black", zorder=2)
        ax.annotate(f"{names[layer]}\n({sizes[layer]})", (layer, top - 0.3), ha="center", va="top")
    ax.set_xlim(-0.5, len(sizes) - 0.5)
    ax.set_ylim(top + 0.9, -0.7)  # first neuron at the top, captions underneath
    ax.set_axis_off()
    return ax

