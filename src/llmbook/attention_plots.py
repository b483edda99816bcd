"""Static figures of attention: weight matrices as heatmaps, and heads as coloured lines.

Both functions draw on a Matplotlib ``Axes`` (a new one if ``ax`` is not
given) and return it. Labels may be Japanese: call
:func:`use_cjk_font` first so that they are not drawn as empty boxes.
For an interactive version see :func:`llmbook.widgets.heatmap_explorer`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

__all__ = ["use_cjk_font", "plot_attention", "plot_attention_lines"]


def use_cjk_font() -> None:
    """Make Matplotlib able to draw Japanese text (kanji, kana).

    Uses ``japanize_matplotlib`` (a pip package that ships the IPAexGothic
    font) when it is installed, otherwise Noto Sans CJK JP if the system has
    it (Debian's ``fonts-noto-cjk``). The font is selected on every call:
    ``japanize_matplotlib`` selects it only when first imported, and a
    chapter restores Matplotlib's settings at its end (:mod:`llmbook.kernel`).
    """
    try:
        import japanize_matplotlib  # noqa: F401  (registers its font, IPAexGothic, on import)
    except ImportError:
        pass
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for candidate in ("IPAexGothic", "Noto Sans CJK JP", "IPAGothic"):
        if candidate in names:
            plt.rcParams["font.family"] = [candidate, "sans-serif"]
            return
    raise RuntimeError("no font for Japanese text: pip install japanize-matplotlib "
                       "(or apt-get install fonts-noto-cjk)")


def _labels(name: str, labels: Sequence[str], n: int) -> list[str]:
    labels = [str(x) for x in labels]
    if len(labels) != n:
        raise ValueError(f"{name} has {len(labels)} entries for {n} rows/columns of weights")
    return labels


def plot_attention(
    weights: np.ndarray,
    query_labels: Sequence[str],
    key_labels: Sequence[str],
    ax: Axes | None = None,
    *,
    title: str | None = None,
    annotate: bool | None = None,
    cmap: str = "Blues",
    vmax: float | None = 1.0,
    fmt: str = "{:.2f}",
    colorbar: bool = False,
) -> Axes:
    """Draw an attention matrix: one row per query, one column per key.

    Args:
        weights: ``(n_queries, n_keys)``; a tensor is converted. Boolean masks
            work too (``True`` = 1).
        query_labels, key_labels: the tokens, shown along the y and x axes.
        annotate: write each value in its cell (default: when there are at
            most 12 x 12 cells).
        vmax: value drawn darkest (``None``: the largest weight).
        colorbar: add a colour bar.

    Raises:
        ValueError: if ``weights`` is not 2-D or the labels do not fit it.
    """
    w = np.asarray(weights.detach().cpu() if hasattr(weights, "detach") else weights, dtype=float)
    if w.ndim != 2:
        raise ValueError(f"weights must be a 2-D (queries, keys) matrix, got shape {w.shape}")
    rows = _labels("query_labels", query_labels, w.shape[0])
    cols = _labels("key_labels", key_labels, w.shape[1])
    if ax is None:
        _, ax = plt.subplots(figsize=(0.6 * len(cols) + 2.0, 0.5 * len(rows) + 1.5))
    image = ax.imshow(w, cmap=cmap, vmin=0.0, vmax=vmax if vmax is not None else max(w.max(), 1e-9),
                      aspect="auto")
    ax.set_xticks(range(len(cols)), cols)
    ax.set_yticks(range(len(rows)), rows)
    ax.tick_params(axis="x", top=True, labeltop=True, bottom=False, labelbottom=False)
    ax.grid(False)
    ax.set_xlabel("key (what is looked at)")
    ax.xaxis.set_label_position("top")
    ax.set_ylabel("query (who is looking)")
    if annotate is None:
        annotate = w.shape[0] <= 12 and w.shape[1] <= 12
    if annotate:
        top = image.norm.vmax
        for i in range(w.shape[0]):
            for j in range(w.shape[1]):
                ax.text(j, i, fmt.format(w[i, j]), ha="center", va="center", fontsize=9,
                        color="white" if w[i, j] > 0.6 * top else "black")
    if title:
        ax.set_title(title, pad=10)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="attention weight")
    return ax


def plot_attention_lines(
    heads: Mapping[str, np.ndarray],
    query_labels: Sequence[str],
    key_labels: Sequence[str],
    ax: Axes | None = None,
    *,
    min_weight: float = 0.05,
    title: str | None = None,
) -> Axes:
    """Draw attention as lines from each query (left) to the keys (right), one colour per head.

    A line's opacity and width grow with its weight; weights below
    ``min_weight`` are not drawn. Heads are offset slightly so their lines
    do not hide one another.

    Args:
        heads: head name -> ``(n_queries, n_keys)`` weights.

    Raises:
        ValueError: for no heads, or weights whose shapes differ or do not fit the labels.
    """
    if not heads:
        raise ValueError("plot_attention_lines needs at least one head")
    mats = {name: np.asarray(w.detach().cpu() if hasattr(w, "detach") else w, dtype=float)
            for name, w in heads.items()}
    shapes = {m.shape for m in mats.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(f"every head needs a 2-D matrix of the same shape, got {sorted(shapes)}")
    n_q, n_k = next(iter(shapes))
    rows = _labels("query_labels", query_labels, n_q)
    cols = _labels("key_labels", key_labels, n_k)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.0, 0.45 * max(n_q, n_k) + 1.5))
    colours = plt.get_cmap("tab10").colors
    for h, (name, w) in enumerate(mats.items()):
        offset = (h - (len(mats) - 1) / 2) * 0.06
        for i in range(n_q):
            for j in range(n_k):
                if w[i, j] >= min_weight:
                    ax.plot([0, 1], [i + offset, j + offset], color=colours[h % 10],
                            alpha=min(1.0, 0.15 + 0.85 * w[i, j]), lw=0.5 + 4 * w[i, j],
                            solid_capstyle="round")
        ax.plot([], [], color=colours[h % 10], lw=3, label=name)
    for i, label in enumerate(rows):
        ax.text(-0.04, i, label, ha="right", va="center", fontsize=12)
    for j, label in enumerate(cols):
        ax.text(1.04, j, label, ha="left", va="center", fontsize=12)
    ax.set_xlim(-0.45, 1.45)
    ax.set_ylim(max(n_q, n_k) - 0.5, -0.5)
    ax.set_xticks([0, 1], ["queries", "keys"])
    ax.set_yticks([])
    ax.grid(False)
    for side in ("left", "right", "top", "bottom"):
        ax.spines[side].set_visible(False)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), loc="upper center", bbox_to_anchor=(0.5, -0.06),
              ncol=min(4, len(unique)), frameon=False)
    if title:
        ax.set_title(title)
    return ax
