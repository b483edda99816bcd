"""Static figures of attention: weight matrices as heatmaps, and heads as coloured lines.

Both functions draw on a Matplotlib ``Axes`` (a new one if ``ax`` is not
given) and return it. Labels may be Japanese: call
:func:`use_cjk_font` first so that they are not drawn as empty boxes.
For an interactive version see :func:`llmbook.interactive.heatmap_explorer`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

__all__ = ["use_cjk_font", "plot_attention", "plot_attention_lines", "plot_seq2seq",
           "plot_transformer_diagram"]


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


def plot_seq2seq(
    source: Sequence[str],
    target: Sequence[str],
    ax: Axes | None = None,
    *,
    attention: np.ndarray | None = None,
    title: str | None = None,
    target_glosses: Sequence[str] | None = None,
) -> Axes:
    """A diagram of an RNN encoder-decoder translating ``source`` into ``target``.

    Without ``attention`` the encoder's last hidden state is the only thing
    passed to the decoder (the bottleneck, drawn in red). With ``attention``
    (``(len(target), len(source))`` weights), every decoder step is joined to
    every encoder state by a line as strong as its weight.
    ``target_glosses`` (one per target token, e.g. English for Japanese) are
    written small above the target tokens.
    """
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    n_src, n_tgt = len(source), len(target)
    if n_src == 0 or n_tgt == 0:
        raise ValueError("source and target must both have at least one token")
    if attention is not None:
        attention = np.asarray(attention, dtype=float)
        if attention.shape != (n_tgt, n_src):
            raise ValueError(f"attention must have shape (len(target), len(source)) = "
                             f"({n_tgt}, {n_src}), got {attention.shape}")
    if target_glosses is not None and len(target_glosses) != n_tgt:
        raise ValueError(f"target_glosses has {len(target_glosses)} entries for "
                         f"{n_tgt} target tokens")
    lift = 0.3 if target_glosses is not None else 0.0  # room for the glosses
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3.2))
    gap = 1.0
    xs_src = np.arange(n_src) * gap
    xs_tgt = (n_src + 1) * gap + np.arange(n_tgt) * gap
    y_state, y_tok = 1.0, 0.0

    def box(x: float, y: float, colour: str) -> None:
        ax.add_patch(FancyBboxPatch((x - 0.3, y - 0.22), 0.6, 0.44, boxstyle="round,pad=0.02",
                                    fc=colour, ec="black", lw=1))

    def arrow(x0: float, y0: float, x1: float, y1: float, **kw: object) -> None:
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=10,
                                     shrinkA=3, shrinkB=3, **kw))

    for i, (x, tok) in enumerate(zip(xs_src, source)):
        box(x, y_state, "#cfe2f3")
        ax.text(x, y_tok - 0.05, tok, ha="center", va="center", fontsize=12)
        arrow(x, y_tok + 0.15, x, y_state - 0.24, color="grey")
        if i:
            arrow(xs_src[i - 1] + 0.3, y_state, x - 0.3, y_state, color="black")
    for j, (x, tok) in enumerate(zip(xs_tgt, target)):
        box(x, y_state, "#fce5cd")
        ax.text(x, y_state + 0.75, tok, ha="center", va="center", fontsize=12)
        if target_glosses is not None:
            ax.text(x, y_state + 1.07, str(target_glosses[j]), ha="center", va="center",
                    fontsize=9, color="dimgrey", style="italic")
        arrow(x, y_state + 0.24, x, y_state + 0.6, color="grey")
        if j:
            arrow(xs_tgt[j - 1] + 0.3, y_state, x - 0.3, y_state, color="black")
    if attention is None:
        arrow(xs_src[-1] + 0.3, y_state, xs_tgt[0] - 0.3, y_state, color="tab:red", lw=2.5)
        ax.text((xs_src[-1] + xs_tgt[0]) / 2, y_state - 0.45, "one fixed-size\nvector",
                ha="center", va="top", fontsize=10, color="tab:red")
    else:
        for j, x in enumerate(xs_tgt):
            for i, xs in enumerate(xs_src):
                w = attention[j, i]
                if w > 0.02:
                    ax.add_patch(FancyArrowPatch((xs, y_state - 0.22), (x, y_state - 0.22),
                                                 connectionstyle="arc3,rad=0.18", arrowstyle="-",
                                                 color="tab:purple", alpha=min(1.0, 0.1 + w), lw=0.5 + 3.5 * w))
    ax.text(xs_src.mean(), y_state + 0.45, "encoder", ha="center", fontsize=11, color="#1f4e79")
    y_decoder = y_state - 0.55 if attention is None else y_state + 1.15 + lift
    ax.text(xs_tgt.mean(), y_decoder, "decoder", ha="center", fontsize=11, color="#7f4f00")
    ax.set_xlim(xs_src[0] - 0.6, xs_tgt[-1] + 0.6)
    ax.set_ylim(-0.4, 2.0 + lift if attention is None else 2.45 + lift)  # room for "decoder" on top
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax


_SUBLAYER_COLOURS = {
    "attention": "#f9cb9c",
    "norm": "#fff2cc",
    "ffn": "#cfe2f3",
    "embedding": "#ead1dc",
    "output": "#d9ead3",
}


def plot_transformer_diagram(ax: Axes | None = None, *, norm_first: bool = False) -> Axes:
    """The encoder-decoder Transformer as stacked boxes, in the layout of the original paper.

    The encoder (left) and decoder (right) layers are drawn once, framed, with
    "x N" beside them. With ``norm_first=True`` each "Norm" box moves before
    its sub-layer (pre-norm) instead of after the residual addition (post-norm).
    """
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 8))

    def box(x: float, y: float, text: str, kind: str, w: float = 2.6, h: float = 0.5) -> None:
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.03",
                                    fc=_SUBLAYER_COLOURS[kind], ec="black", lw=1))
        ax.text(x, y, text, ha="center", va="center", fontsize=10)

    def arrow(x0: float, y0: float, x1: float, y1: float, **kw: object) -> None:
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=10,
                                     color=kw.pop("color", "black"), lw=1, **kw))

    def sublayers(x: float, y0: float, names: list[tuple[str, str]]) -> list[float]:
        ys = []
        y = y0
        for text, kind in names:
            pair = [(text, kind), ("Add & Norm", "norm")]
            if norm_first:
                pair = [("Norm", "norm"), (text, kind)]
            start = y - 0.45  # the residual branch leaves below the pair ...
            for t, k in pair:
                box(x, y, t, k, w=2.6)
                ys.append(y)
                y += 0.75
            end = y - 0.75 if not norm_first else y - 0.45  # ... and rejoins at Add (& Norm)
            stop = x - 1.3 if not norm_first else x - 0.1
            ax.plot([x, x - 1.45, x - 1.45], [start, start, end], color="tab:green", lw=1.2)
            arrow(x - 1.45, end, stop, end, color="tab:green")
            if norm_first:
                ax.add_patch(plt.Circle((x, end), 0.1, fc="white", ec="tab:green", zorder=3))
                ax.text(x, end, "+", ha="center", va="center", fontsize=8, color="tab:green", zorder=4)
        return ys

    enc_x, dec_x = 0.0, 4.2
    # inputs and embeddings
    for x, label, emb in ((enc_x, "source tokens", "Input embedding"),
                          (dec_x, "target tokens (shifted right)", "Output embedding")):
        ax.text(x, -0.6, label, ha="center", va="center", fontsize=10)
        box(x, 0.3, emb, "embedding")
        arrow(x, -0.4, x, 0.05)
        ax.add_patch(plt.Circle((x, 1.05), 0.18, fc="white", ec="black"))
        ax.text(x, 1.05, "+", ha="center", va="center", fontsize=12)
        ax.text(x + (-1.0 if x == enc_x else 1.0), 1.05, "positional\nencoding", ha="center",
                va="center", fontsize=9)
        arrow(x, 0.55, x, 0.87)
    enc = sublayers(enc_x, 2.0, [("Multi-head\nself-attention", "attention"), ("Feed-forward", "ffn")])
    dec = sublayers(dec_x, 2.0, [("Masked multi-head\nself-attention", "attention"),
                                 ("Multi-head\ncross-attention", "attention"), ("Feed-forward", "ffn")])
    for x, ys in ((enc_x, enc), (dec_x, dec)):
        arrow(x, 1.23, x, ys[0] - 0.27)
        for a, b in zip(ys, ys[1:]):
            arrow(x, a + 0.27, x, b - 0.27)
        ax.add_patch(FancyBboxPatch((x - 1.55, ys[0] - 0.45), 3.1, ys[-1] - ys[0] + 0.9,
                                    boxstyle="round,pad=0.05", fc="none", ec="grey", lw=1.2, ls="--"))
        ax.text(x + (-1.8 if x == enc_x else 1.8), (ys[0] + ys[-1]) / 2, "× N", fontsize=13,
                ha="center", va="center")
    # encoder output -> decoder cross-attention
    cross_y = dec[2] if not norm_first else dec[3]
    arrow(enc_x + 1.3, enc[-1], dec_x - 1.3, cross_y, connectionstyle="arc3,rad=-0.2", color="tab:red")
    ax.text((enc_x + dec_x) / 2, enc[-1] + 0.62, "keys & values", ha="center", fontsize=9, color="tab:red")
    # output head
    top = dec[-1] + 0.9
    box(dec_x, top, "Linear", "output")
    box(dec_x, top + 0.75, "Softmax", "output")
    arrow(dec_x, dec[-1] + 0.27, dec_x, top - 0.27)
    arrow(dec_x, top + 0.27, dec_x, top + 0.48)
    arrow(dec_x, top + 1.02, dec_x, top + 1.35)
    ax.text(dec_x, top + 1.5, "next-token probabilities", ha="center", fontsize=10)
    ax.text(enc_x, enc[-1] + 0.9, "Encoder", ha="center", fontsize=13)
    ax.text(dec_x - 2.1, top + 0.4, "Decoder", ha="center", fontsize=13)
    ax.set_xlim(-2.2, 6.4)
    ax.set_ylim(-1.0, top + 1.8)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax
