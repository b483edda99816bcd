"""The book's shared plotting helpers: one style, and figures of what the reader computes.

Every function draws on a Matplotlib ``Axes`` (a new one if ``ax`` is not
given), labels its axes, and returns the ``Axes`` so a chapter can add to it.
Interactive figures live in :mod:`llmbook.widgets`, attention maps in
:mod:`llmbook.attention_plots`, and the drawings of one chapter (the
timeline, architecture diagrams) in :mod:`llmbook.illustrations`.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

__all__ = [
    "BOOK_STYLE",
    "use_book_style",
    "format_count",
    "plot_zipf",
    "tokens_html",
    "plot_history",
    "plot_optimizer_paths",
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
