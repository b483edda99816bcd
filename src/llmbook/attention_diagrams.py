"""Diagrams of how attention computes: one head's data flow, a layer's heads, the head split.

The chapter on attention builds the mechanism itself in its own code cells;
these functions only draw it. Each draws on a Matplotlib ``Axes`` (a new one
if ``ax`` is not given) and returns it.

- :func:`plot_attention_flow`: the matrices of one self-attention head, as
  computed, from the input vectors to the output
  (X -> Q, K, V -> scores -> ÷√d_k -> softmax -> weighted sum).
- :func:`plot_multihead_diagram`: ``h`` heads side by side, concatenated and
  mixed by ``W^O``.
- :func:`plot_head_split`: how one ``(T, C)`` matrix of projections becomes
  ``h`` matrices of ``(T, d_k)``: ``view`` then ``transpose``.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

__all__ = ["plot_attention_flow", "plot_multihead_diagram", "plot_head_split"]


def _array(name: str, a: object, ndim: int = 2) -> np.ndarray:
    arr = np.asarray(a.detach().cpu() if hasattr(a, "detach") else a, dtype=float)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D matrix, got shape {arr.shape}")
    return arr


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], label: str = "",
           *, colour: str = "black", offset: tuple[float, float] = (0.0, 0.25), rad: float = 0.0,
           fontsize: float = 10) -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, lw=1.2,
                                 color=colour, shrinkA=2, shrinkB=2,
                                 connectionstyle=f"arc3,rad={rad}"))
    if label:
        mx, my = (start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1]
        ax.text(mx, my, label, ha="center", va="bottom", fontsize=fontsize, color=colour)


def plot_attention_flow(
    tokens: Sequence[str],
    x: object,
    q: object,
    k: object,
    v: object,
    scores: object,
    scaled: object,
    weights: object,
    out: object,
    ax: Axes | None = None,
) -> Axes:
    """Draw the data flow of one self-attention head with the matrices it computed.

    Every matrix is drawn as a heat map (one row per token), placed where it
    sits in the computation: the input vectors ``x`` are projected into
    queries ``q``, keys ``k`` and values ``v``; ``scores = q @ k.T`` is divided
    by ``√d_k`` (``scaled``), turned into ``weights`` by a softmax along each
    row, and the ``weights`` mix the values into ``out``. Vectors are drawn in
    red (positive) and blue (negative), each matrix on its own scale; the
    weights in shades of blue from 0 to 1.

    Args:
        tokens: the ``T`` tokens, one per row.
        x: ``(T, C)`` input vectors.
        q, k, v: ``(T, d_k)`` queries, keys and values (``v`` may be ``(T, d_v)``).
        scores, scaled, weights: ``(T, T)`` raw scores, scores / √d_k, and the
            softmax weights.
        out: ``(T, d_v)`` output of the head.

    Raises:
        ValueError: if a matrix is not 2-D or the shapes do not fit together.
    """
    tokens = [str(t) for t in tokens]
    X, Q, K, V = (_array(n, a) for n, a in (("x", x), ("q", q), ("k", k), ("v", v)))
    S, S2, W = (_array(n, a) for n, a in (("scores", scores), ("scaled", scaled),
                                           ("weights", weights)))
    Z = _array("out", out)
    T = len(tokens)
    for name, m in (("x", X), ("q", Q), ("k", K), ("v", V), ("out", Z)):
        if m.shape[0] != T:
            raise ValueError(f"{name} has {m.shape[0]} rows for {T} tokens")
    for name, m in (("scores", S), ("scaled", S2), ("weights", W)):
        if m.shape != (T, T):
            raise ValueError(f"{name} must have shape ({T}, {T}), got {m.shape}")
    if Q.shape != K.shape:
        raise ValueError(f"q and k must have the same shape, got {Q.shape} and {K.shape}")
    if Z.shape[1] != V.shape[1]:
        raise ValueError(f"out must have as many columns as v, got {Z.shape} and {V.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(12, 6.4))

    cell = 0.42  # height of one token row, in data units
    H = T * cell
    gap = 1.5

    def draw(m: np.ndarray, x0: float, y_top: float, width: float, title: str,
             cmap: str = "RdBu_r", zero_one: bool = False) -> tuple[float, float, float, float]:
        if zero_one:
            vmin, vmax = 0.0, 1.0
        else:
            # a robust scale: one outlier (BERT's [CLS] has some) must not wash out the rest
            top = float(np.quantile(np.abs(m), 0.98)) or 1.0
            vmin, vmax = -top, top
        ax.imshow(m, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto", interpolation="nearest",
                  extent=(x0, x0 + width, y_top - H, y_top))
        ax.add_patch(Rectangle((x0, y_top - H), width, H, fill=False, ec="black", lw=0.8))
        ax.text(x0 + width / 2, y_top + 0.15, title, ha="center", va="bottom", fontsize=10)
        return x0, x0 + width, y_top - H, y_top

    def token_labels(x_right: float, y_top: float) -> None:
        for i, t in enumerate(tokens):
            ax.text(x_right - 0.1, y_top - (i + 0.5) * cell, t, ha="right", va="center", fontsize=9)

    d_k, d_v, C = Q.shape[1], V.shape[1], X.shape[1]
    square = H  # T x T matrices drawn with square cells
    y_q = H + gap + H / 2 + 0.9  # top of Q (the three rows are centred on X)
    y_k = H / 2
    y_v = -H / 2 - gap - 0.9 + 0  # top of V
    y_x = H / 2
    bx = draw(X, 0.0, y_x, 3.0, f"X  ({T} × {C})\ninput vectors")
    token_labels(0.0, y_x)
    xq = 5.2
    bq = draw(Q, xq, y_q, 1.6, f"Q = X W_Q\n({T} × {d_k})")
    bk = draw(K, xq, y_k, 1.6, f"K = X W_K\n({T} × {d_k})")
    bv = draw(V, xq, y_v, 1.6, f"V = X W_V\n({T} × {d_v})")
    for box, lab in ((bq, "× W_Q"), (bk, "× W_K"), (bv, "× W_V")):
        _arrow(ax, (bx[1], (bx[2] + bx[3]) / 2), (box[0], (box[2] + box[3]) / 2), lab,
               offset=(-0.1, 0.05))
    y_s = (y_q + y_k) / 2 + H / 2 - 0.6  # scores sit between Q and K
    xs = 9.3
    bs = draw(S, xs, y_s, square, f"scores = Q K$^T$\n({T} × {T})")
    token_labels(xs, y_s)
    _arrow(ax, (bq[1], (bq[2] + bq[3]) / 2), (bs[0] - 1.1, (bs[2] + bs[3]) / 2 + 0.3), "Q",
           offset=(0.0, 0.05))
    _arrow(ax, (bk[1], (bk[2] + bk[3]) / 2), (bs[0] - 1.1, (bs[2] + bs[3]) / 2 - 0.3), "K$^T$",
           offset=(0.25, -0.45))
    x2 = bs[1] + 1.8
    b2 = draw(S2, x2, y_s, square, "scores ÷ √d_k")
    _arrow(ax, (bs[1], (bs[2] + bs[3]) / 2), (b2[0], (b2[2] + b2[3]) / 2), f"÷ √{d_k}")
    xw = b2[1] + 1.8
    bw = draw(W, xw, y_s, square, "weights = softmax\n(each row sums to 1)", cmap="Blues",
              zero_one=True)
    _arrow(ax, (b2[1], (b2[2] + b2[3]) / 2), (bw[0], (bw[2] + bw[3]) / 2), "softmax")
    for j, t in enumerate(tokens):  # key labels under the weights
        ax.text(xw + (j + 0.5) * cell, bw[2] - 0.1, t, ha="right", va="top", fontsize=8,
                rotation=60, rotation_mode="anchor")
    xz = bw[0] + (square - 1.6) / 2  # the output sits under the weights
    bz = draw(Z, xz, y_v, 1.6, f"output = weights V\n({T} × {d_v})")
    _arrow(ax, ((bw[0] + bw[1]) / 2, bw[2] - 1.1), ((bz[0] + bz[1]) / 2, bz[3] + 1.05),
           "weights", offset=(1.05, -0.1))
    _arrow(ax, (bv[1], (bv[2] + bv[3]) / 2), (bz[0], (bz[2] + bz[3]) / 2),
           "V: each output row is a weighted sum of the rows of V", offset=(0.0, 0.05))
    ax.set_xlim(-2.2, max(bz[1], bw[1]) + 0.8)
    ax.set_ylim(bv[2] - 0.4, bq[3] + 1.0)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def _box(ax: Axes, x: float, y: float, w: float, h: float, text: str, colour: str,
         fontsize: float = 10) -> None:
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.03",
                                fc=colour, ec="black", lw=1))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _head_colours(n: int) -> list[tuple[float, ...]]:
    cmap = plt.get_cmap("tab10")
    return [cmap(i % 10) for i in range(n)]


def plot_multihead_diagram(n_heads: int = 4, ax: Axes | None = None, *,
                           d_model: str = "d_model", d_k: str = "d_k") -> Axes:
    """Multi-head attention as a diagram: ``n_heads`` heads, their concatenation, ``W^O``.

    From the bottom up: the input ``X``; for each head ``i`` its own
    projections ``W_i^Q, W_i^K, W_i^V`` and an attention; the heads' outputs
    (``T × d_k`` each, one colour per head) placed side by side into one
    ``T × d_model`` matrix; and the output projection ``W^O`` that mixes them.

    Args:
        n_heads: how many heads to draw (1 to 8).
        d_model, d_k: how the widths are written in the labels.

    Raises:
        ValueError: if ``n_heads`` is not between 1 and 8.
    """
    if isinstance(n_heads, bool) or not isinstance(n_heads, int) or not 1 <= n_heads <= 8:
        raise ValueError(f"n_heads must be an integer from 1 to 8, got {n_heads!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 * n_heads + 2.6, 5.6))
    colours = _head_colours(n_heads)
    spacing = 2.6
    xs = [(i - (n_heads - 1) / 2) * spacing for i in range(n_heads)]
    width = spacing * n_heads
    _box(ax, 0, 0, min(width - 0.6, 6.0), 0.6, f"X   (T × {d_model})", "#ead1dc", 11)
    y_proj, y_att, y_head, y_cat, y_wo, y_out = 1.6, 3.0, 4.3, 5.5, 6.6, 7.6
    for i, (x, c) in enumerate(zip(xs, colours)):
        ax.add_patch(FancyArrowPatch((x * 0.5, 0.3), (x, y_proj - 0.35), arrowstyle="-|>",
                                     mutation_scale=10, color="grey"))
        for j, name in enumerate(("Q", "K", "V")):
            bx = x + (j - 1) * 0.75
            _box(ax, bx, y_proj, 0.66, 0.6, f"W$_{{{i + 1}}}^{name}$", "white", 9)
            ax.add_patch(FancyArrowPatch((bx, y_proj + 0.3), (x, y_att - 0.33), arrowstyle="-|>",
                                         mutation_scale=8, color="grey"))
        _box(ax, x, y_att, 2.3, 0.66, "Attention\nsoftmax(QK$^T$/√d_k)V", "#f9cb9c", 7.5)
        ax.add_patch(Rectangle((x - 0.5, y_head - 0.25), 1.0, 0.5, fc=c, ec="black", alpha=0.85))
        ax.text(x, y_head, f"head {i + 1}", ha="center", va="center", fontsize=9, color="white")
        ax.text(x + 0.58, y_head, f"T × {d_k}", ha="left", va="center", fontsize=8)
        ax.add_patch(FancyArrowPatch((x, y_att + 0.31), (x, y_head - 0.27), arrowstyle="-|>",
                                     mutation_scale=8, color="black"))
        # each head's block takes its own slot in the concatenation
        seg = 5.6 / n_heads
        sx = -2.8 + (i + 0.5) * seg
        ax.add_patch(FancyArrowPatch((x, y_head + 0.27), (sx, y_cat - 0.27), arrowstyle="-|>",
                                     mutation_scale=8, color=c))
        ax.add_patch(Rectangle((sx - seg / 2, y_cat - 0.25), seg, 0.5, fc=c, ec="black",
                               alpha=0.85))
    ax.text(3.0, y_cat, f"Concat   (T × {d_model})", ha="left", va="center", fontsize=10)
    ax.add_patch(FancyArrowPatch((0, y_cat + 0.27), (0, y_wo - 0.3), arrowstyle="-|>",
                                 mutation_scale=10, color="black"))
    _box(ax, 0, y_wo, 4.2, 0.56, f"× W$^O$   ({d_model} × {d_model})", "#d9ead3", 10)
    ax.add_patch(FancyArrowPatch((0, y_wo + 0.3), (0, y_out - 0.25), arrowstyle="-|>",
                                 mutation_scale=10, color="black"))
    ax.text(0, y_out, f"output   (T × {d_model})", ha="center", va="center", fontsize=11)
    ax.set_xlim(min(xs) - 1.6, max(max(xs) + 1.6, 6.2))
    ax.set_ylim(-0.6, y_out + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def plot_head_split(tokens: Sequence[str], n_heads: int, d_head: int, ax: Axes | None = None,
                    ) -> Axes:
    """How the heads are cut out of one projection: ``(B, T, C) -> (B, h, T, d_k)``.

    Left: the ``T × C`` projections of one sequence (``C = h · d_k``), its
    columns coloured by the head they will belong to. Middle: ``view(B, T, h,
    d_k)`` reads the same numbers as ``h`` groups of ``d_k`` per token (nothing
    moves). Right: ``transpose(1, 2)`` puts the head axis first, giving one
    ``T × d_k`` matrix per head, which attention then treats as a batch.

    Raises:
        ValueError: for no tokens, or ``n_heads`` or ``d_head`` below 1.
    """
    tokens = [str(t) for t in tokens]
    if not tokens:
        raise ValueError("plot_head_split needs at least one token")
    for name, value in (("n_heads", n_heads), ("d_head", d_head)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    T, h, d = len(tokens), n_heads, d_head
    C = h * d
    colours = _head_colours(h)
    if ax is None:
        _, ax = plt.subplots(figsize=(11, 0.3 * T + 2.2))
    s = 0.4  # cell size

    def cell(x: float, y: float, c: tuple[float, ...], shade: float) -> None:
        ax.add_patch(Rectangle((x, y), s, s, fc=c, alpha=shade, ec="white", lw=0.8))

    def shade(t: int) -> float:  # each token row a slightly different shade
        return 0.45 + 0.5 * t / max(T - 1, 1)

    top = 0.0
    # (T, C)
    for t in range(T):
        ax.text(-0.1, top - (t + 0.5) * s, tokens[t], ha="right", va="center", fontsize=9)
        for j in range(C):
            cell(j * s, top - (t + 1) * s, colours[j // d], shade(t))
    ax.text(C * s / 2, top + 0.2, f"(B, T, C) = (B, {T}, {C})\none row per token",
            ha="center", va="bottom", fontsize=10)
    x1 = C * s + 1.8
    # (T, h, d): same layout, with gaps between the heads' groups
    g = 0.25
    for t in range(T):
        for j in range(C):
            cell(x1 + j * s + (j // d) * g, top - (t + 1) * s, colours[j // d], shade(t))
    w1 = C * s + (h - 1) * g
    ax.text(x1 + w1 / 2, top + 0.2, f"view → (B, T, h, d_k) = (B, {T}, {h}, {d})\n"
            "the same numbers, grouped", ha="center", va="bottom", fontsize=10)
    _arrow(ax, (C * s + 0.2, top - T * s / 2), (x1 - 0.2, top - T * s / 2))
    x2 = x1 + w1 + 2.0
    # (h, T, d): one T x d block per head, drawn as a deck of cards (a new batch axis);
    # head 1 in front, the others behind it, shifted up and to the right
    dx, dy = 0.55, 0.45
    for i in reversed(range(h)):
        x0, y0 = x2 + i * dx, top + i * dy
        ax.add_patch(Rectangle((x0, y0 - T * s), d * s, T * s, fc="white", ec="none"))
        for t in range(T):
            for j in range(d):
                cell(x0 + j * s, y0 - (t + 1) * s, colours[i], shade(t))
        ax.text(x0 + d * s + 0.08, y0 - T * s + 0.18, f"head {i + 1}", ha="left", va="center",
                fontsize=9, color=colours[i])
    for t in range(T):
        ax.text(x2 - 0.1, top - (t + 0.5) * s, tokens[t], ha="right", va="center", fontsize=9)
    ax.text(x2 + (d * s + (h - 1) * dx) / 2 + 0.3, top + (h - 1) * dy + 0.2,
            f"transpose(1, 2) → (B, h, T, d_k) = (B, {h}, {T}, {d})\n"
            "one T × d_k matrix per head", ha="center", va="bottom", fontsize=10)
    _arrow(ax, (x1 + w1 + 0.2, top - T * s / 2), (x2 - 0.9, top - T * s / 2))
    ax.set_xlim(-1.6, x2 + d * s + (h - 1) * dx + 1.6)
    ax.set_ylim(top - T * s - 0.3, top + (h - 1) * dy + 1.2)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax
