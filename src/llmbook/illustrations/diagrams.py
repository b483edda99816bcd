"""Diagrams drawn for one chapter each: they explain an architecture, they plot no data.

- :func:`plot_network`: a fully connected network, neuron by neuron (chapter 4);
- :func:`plot_seq2seq`: an RNN encoder-decoder, with or without attention (chapter 9);
- :func:`plot_transformer_diagram`: the encoder-decoder Transformer of the
  original paper, post-norm or pre-norm (chapter 10).

Each draws on a Matplotlib ``Axes`` (a new one if ``ax`` is not given) and
returns it.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

__all__ = ["plot_network", "plot_seq2seq", "plot_transformer_diagram"]


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
    if ax is None:
        _, ax = plt.subplots(figsize=(1.8 * len(sizes) + 1, 0.7 * max(sizes) + 1.5))
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
