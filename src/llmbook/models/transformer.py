"""The Transformer of *Attention Is All You Need*, built from the book's own parts.

Pieces, in the order the paper's figure stacks them:

* :func:`sinusoidal_positional_encoding` / :class:`SinusoidalPositionalEncoding`
  and :class:`LearnedPositionalEmbedding`: how the model learns where a
  token is, since attention itself ignores order;
* :class:`PositionwiseFeedForward`: ``FFN(x) = max(0, x W1 + b1) W2 + b2``,
  the same small network applied at every position;
* :class:`EncoderLayer`: self-attention and a feed-forward network, each
  wrapped in a residual connection and layer normalisation;
* :class:`DecoderLayer`: masked self-attention, cross-attention to the
  encoder's output, and a feed-forward network;
* :class:`Transformer`: embeddings, positions, a stack of each, and a linear
  output layer.

Every layer takes ``norm_first``: ``False`` is the paper's *post-norm*
(``x = norm(x + sublayer(x))``), ``True`` the *pre-norm* used by GPT-2 and
most models since (``x = x + sublayer(norm(x))``). The layers have the same
parameters as PyTorch's ``nn.TransformerEncoderLayer`` and
``nn.TransformerDecoderLayer`` and can copy their weights (``from_torch``).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
from torch import Tensor

from llmbook import _checks
from llmbook.models.attention import MultiHeadAttention, causal_mask, padding_mask

__all__ = [
    "sinusoidal_positional_encoding",
    "SinusoidalPositionalEncoding",
    "LearnedPositionalEmbedding",
    "PositionwiseFeedForward",
    "EncoderLayer",
    "DecoderLayer",
    "Transformer",
    "count_transformer_parameters",
]


def sinusoidal_positional_encoding(max_len: int, d_model: int) -> Tensor:
    """The paper's fixed position vectors, shape ``(max_len, d_model)``.

    ``PE[pos, 2i] = sin(pos / 10000^(2i / d_model))`` and
    ``PE[pos, 2i+1] = cos(pos / 10000^(2i / d_model))``: each pair of
    dimensions is a clock hand turning at its own speed, from one turn every
    ``2*pi`` positions (``i = 0``) to one every ``2*pi * 10000`` positions.

    >>> pe = sinusoidal_positional_encoding(4, 2)
    >>> [round(v, 3) for v in pe[1].tolist()]
    [0.841, 0.54]
    """
    _checks.positive_int("max_len", max_len)
    _checks.positive_int("d_model", d_model)
    if d_model % 2:
        raise ValueError(f"d_model must be even (sine/cosine pairs), got {d_model}")
    pos = torch.arange(max_len, dtype=torch.float64)[:, None]  # (max_len, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)    # 0, 2, 4, ...
    angle = pos / 10000 ** (two_i / d_model)                    # (max_len, d_model/2)
    pe = torch.empty(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle)
    return pe.float()


def _check_length(x: Tensor, max_len: int) -> None:
    if x.dim() != 3:
        raise ValueError(f"expected (batch, length, d_model), got shape {tuple(x.shape)}")
    if x.shape[1] > max_len:
        raise ValueError(f"sequence of length {x.shape[1]} is longer than max_len={max_len}")


class SinusoidalPositionalEncoding(nn.Module):
    """Adds :func:`sinusoidal_positional_encoding` to ``(B, T, d_model)`` inputs (no parameters)."""

    def __init__(self, max_len: int, d_model: int) -> None:
        super().__init__()
        self.max_len = max_len
        self.register_buffer("pe", sinusoidal_positional_encoding(max_len, d_model), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        _check_length(x, self.max_len)
        return x + self.pe[: x.shape[1]]


class LearnedPositionalEmbedding(nn.Module):
    """Adds a learned vector per position (one row of an ``nn.Embedding`` each), as GPT does."""

    def __init__(self, max_len: int, d_model: int) -> None:
        super().__init__()
        _checks.positive_int("max_len", max_len)
        self.max_len = max_len
        self.emb = nn.Embedding(max_len, d_model)
        nn.init.normal_(self.emb.weight, std=0.02)

    def forward(self, x: Tensor) -> Tensor:
        _check_length(x, self.max_len)
        return x + self.emb(torch.arange(x.shape[1], device=x.device))


class PositionwiseFeedForward(nn.Module):
    """``FFN(x) = max(0, x W1 + b1) W2 + b2``, applied to every position separately."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0) -> None:
        super().__init__()
        _checks.positive_int("d_model", d_model)
        _checks.positive_int("d_ff", d_ff)
        self.w_1 = nn.Linear(d_model, d_ff)
        self.w_2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.w_2(self.dropout(torch.relu(self.w_1(x))))


def _copy_weight_and_bias(ours: nn.Module, theirs: nn.Module) -> None:
    """Copy a ``Linear`` or ``LayerNorm`` (both have ``weight`` and ``bias``)."""
    ours.weight.copy_(theirs.weight)
    ours.bias.copy_(theirs.bias)


def _from_torch_layer(cls: type, layer: nn.Module) -> nn.Module:
    """``cls`` (our encoder or decoder layer) with the self-attention, feed-forward
    and layer-norm weights of a PyTorch ``TransformerEncoderLayer``/``DecoderLayer``."""
    act = layer.activation
    if not (act is torch.nn.functional.relu or isinstance(act, nn.ReLU)):
        raise ValueError("only layers with activation='relu' can be copied")
    if not layer.self_attn.batch_first:
        raise ValueError("only layers with batch_first=True can be copied")
    ours = cls(layer.linear1.in_features, layer.self_attn.num_heads, layer.linear1.out_features,
               norm_first=layer.norm_first)
    ours.self_attn = MultiHeadAttention.from_torch(layer.self_attn)
    _copy_weight_and_bias(ours.ff.w_1, layer.linear1)
    _copy_weight_and_bias(ours.ff.w_2, layer.linear2)
    for name in ("norm1", "norm2", "norm3"):  # the decoder has a third
        if hasattr(layer, name):
            _copy_weight_and_bias(getattr(ours, name), getattr(layer, name))
    return ours


class EncoderLayer(nn.Module):
    """Self-attention then feed-forward, each with a residual connection and layer norm.

    Post-norm (``norm_first=False``, the paper)::

        x = norm1(x + SelfAttention(x))
        x = norm2(x + FFN(x))

    Pre-norm (``norm_first=True``, GPT-2 and later)::

        x = x + SelfAttention(norm1(x))
        x = x + FFN(norm2(x))

    The last attention weights are kept in ``self.attn_weights`` ``(B, heads, T, T)``.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.0,
                 norm_first: bool = False) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads)
        self.ff = PositionwiseFeedForward(d_model, d_ff, dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.norm_first = norm_first
        self.attn_weights: Tensor | None = None

    def _sa(self, x: Tensor, mask: Tensor | None) -> Tensor:
        out, self.attn_weights = self.self_attn(x, x, x, mask)
        return self.dropout(out)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """``x`` is ``(B, T, d_model)``; ``mask`` (``True`` = may attend) broadcasts to ``(B, T, T)``."""
        if self.norm_first:
            x = x + self._sa(self.norm1(x), mask)
            return x + self.dropout(self.ff(self.norm2(x)))
        x = self.norm1(x + self._sa(x, mask))
        return self.norm2(x + self.dropout(self.ff(x)))

    @classmethod
    @torch.no_grad()
    def from_torch(cls, layer: nn.TransformerEncoderLayer) -> EncoderLayer:
        """An :class:`EncoderLayer` with the weights of a PyTorch one (ReLU, ``batch_first=True``)."""
        return _from_torch_layer(cls, layer)


class DecoderLayer(nn.Module):
    """Masked self-attention, cross-attention to the encoder, then feed-forward.

    Post-norm (``norm_first=False``)::

        x = norm1(x + MaskedSelfAttention(x))
        x = norm2(x + CrossAttention(queries=x, keys=values=memory))
        x = norm3(x + FFN(x))

    The last weights are kept in ``self_attn_weights`` ``(B, heads, T, T)``
    and ``cross_attn_weights`` ``(B, heads, T, S)``.
    """

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.0,
                 norm_first: bool = False) -> None:
        super().__init__()
        self.self_attn = MultiHeadAttention(d_model, n_heads)
        self.cross_attn = MultiHeadAttention(d_model, n_heads)
        self.ff = PositionwiseFeedForward(d_model, d_ff, dropout)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.norm_first = norm_first
        self.self_attn_weights: Tensor | None = None
        self.cross_attn_weights: Tensor | None = None

    def _sa(self, x: Tensor, mask: Tensor | None) -> Tensor:
        out, self.self_attn_weights = self.self_attn(x, x, x, mask)
        return self.dropout(out)

    def _ca(self, x: Tensor, memory: Tensor, mask: Tensor | None) -> Tensor:
        out, self.cross_attn_weights = self.cross_attn(x, memory, memory, mask)
        return self.dropout(out)

    def forward(self, x: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None) -> Tensor:
        """``x`` ``(B, T, d)`` is the target so far, ``memory`` ``(B, S, d)`` the encoder output.

        ``tgt_mask`` broadcasts to ``(B, T, T)`` (usually :func:`causal_mask`),
        ``memory_mask`` to ``(B, T, S)`` (usually :func:`padding_mask` of the source).
        """
        if self.norm_first:
            x = x + self._sa(self.norm1(x), tgt_mask)
            x = x + self._ca(self.norm2(x), memory, memory_mask)
            return x + self.dropout(self.ff(self.norm3(x)))
        x = self.norm1(x + self._sa(x, tgt_mask))
        x = self.norm2(x + self._ca(x, memory, memory_mask))
        return self.norm3(x + self.dropout(self.ff(x)))

    @classmethod
    @torch.no_grad()
    def from_torch(cls, layer: nn.TransformerDecoderLayer) -> DecoderLayer:
        """A :class:`DecoderLayer` with the weights of a PyTorch one (ReLU, ``batch_first=True``)."""
        ours = _from_torch_layer(cls, layer)
        ours.cross_attn = MultiHeadAttention.from_torch(layer.multihead_attn)
        return ours


def count_transformer_parameters(
    src_vocab: int, tgt_vocab: int, d_model: int, d_ff: int, n_layers: int,
    *, norm_first: bool = False, positions: str = "sinusoidal", max_len: int = 0,
    shared_embeddings: bool = False,
) -> int:
    """Parameters of an encoder-decoder :class:`Transformer`, by formula (``d`` = ``d_model``).

    * one attention block: four ``d x d`` matrices and biases, ``4d^2 + 4d``;
    * one FFN: ``2 d d_ff + d_ff + d``;
    * one layer norm: ``2d``;
    * encoder layer: attention + FFN + 2 norms; decoder layer: 2 attentions + FFN + 3 norms;
    * embeddings ``(src_vocab + tgt_vocab) d``, output layer ``d tgt_vocab + tgt_vocab``;
      with ``shared_embeddings`` (the paper, one vocabulary) a single ``vocab x d``
      matrix serves all three and the output layer has no bias;
    * learned positions add ``2 max_len d``; pre-norm adds two final norms ``4d``.

    >>> count_transformer_parameters(37000, 37000, 512, 2048, 6, shared_embeddings=True)
    63082496
    """
    d = d_model
    attn = 4 * d * d + 4 * d
    ffn = 2 * d * d_ff + d_ff + d
    norm = 2 * d
    layers = n_layers * (attn + ffn + 2 * norm) + n_layers * (2 * attn + ffn + 3 * norm)
    if shared_embeddings:
        if src_vocab != tgt_vocab:
            raise ValueError("shared embeddings need one vocabulary (src_vocab == tgt_vocab)")
        emb = src_vocab * d
    else:
        emb = (src_vocab + tgt_vocab) * d + d * tgt_vocab + tgt_vocab
    if positions == "learned":
        emb += 2 * max_len * d
    elif positions != "sinusoidal":
        raise ValueError(f"positions must be 'sinusoidal' or 'learned', got {positions!r}")
    return layers + emb + (2 * norm if norm_first else 0)


class Transformer(nn.Module):
    """An encoder-decoder Transformer for sequence-to-sequence tasks.

    Source and target have their own vocabularies and embeddings (scaled by
    ``sqrt(d_model)`` as in the paper); both use the same kind of positional
    information; a linear layer turns the decoder's output into logits.

    Args:
        src_vocab, tgt_vocab: vocabulary sizes.
        d_model: width of every vector; must be divisible by ``n_heads``.
        n_heads: attention heads per attention block.
        n_layers: layers in the encoder and in the decoder.
        d_ff: hidden width of the feed-forward networks.
        dropout: dropout probability during training.
        max_len: the longest source or target sequence.
        norm_first: pre-norm (``True``) or the paper's post-norm (``False``).
        positions: ``"sinusoidal"`` (the paper) or ``"learned"``.
        pad_id: the padding id of the source (its positions are masked).
    """

    def __init__(self, src_vocab: int, tgt_vocab: int, d_model: int = 64, n_heads: int = 4,
                 n_layers: int = 2, d_ff: int = 256, dropout: float = 0.1, max_len: int = 64,
                 norm_first: bool = False, positions: str = "sinusoidal", pad_id: int = 0) -> None:
        super().__init__()
        for name, value in (("src_vocab", src_vocab), ("tgt_vocab", tgt_vocab), ("n_layers", n_layers)):
            _checks.positive_int(name, value)
        if positions == "sinusoidal":
            self.src_pos = SinusoidalPositionalEncoding(max_len, d_model)
            self.tgt_pos = SinusoidalPositionalEncoding(max_len, d_model)
        elif positions == "learned":
            self.src_pos = LearnedPositionalEmbedding(max_len, d_model)
            self.tgt_pos = LearnedPositionalEmbedding(max_len, d_model)
        else:
            raise ValueError(f"positions must be 'sinusoidal' or 'learned', got {positions!r}")
        self.d_model, self.pad_id, self.max_len = d_model, pad_id, max_len
        self.src_emb = nn.Embedding(src_vocab, d_model)
        self.tgt_emb = nn.Embedding(tgt_vocab, d_model)
        self.encoder = nn.ModuleList(
            EncoderLayer(d_model, n_heads, d_ff, dropout, norm_first) for _ in range(n_layers))
        self.decoder = nn.ModuleList(
            DecoderLayer(d_model, n_heads, d_ff, dropout, norm_first) for _ in range(n_layers))
        # Pre-norm stacks end with one more layer norm (post-norm ones already end in one).
        self.enc_norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()
        self.dec_norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()
        self.out = nn.Linear(d_model, tgt_vocab)
        self.dropout = nn.Dropout(dropout)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def _check_ids(self, name: str, ids: Tensor) -> None:
        if not isinstance(ids, Tensor) or ids.dim() != 2 or ids.shape[1] == 0:
            raise ValueError(f"{name} must be a non-empty (batch, length) tensor of ids")
        if ids.shape[1] > self.max_len:
            raise ValueError(f"{name} has length {ids.shape[1]}, longer than max_len={self.max_len}")

    def source_mask(self, src: Tensor) -> Tensor:
        """``(B, 1, S)``: ``True`` at real source tokens, ``False`` at padding."""
        return padding_mask((src != self.pad_id).sum(dim=1).clamp(min=1), src.shape[1])

    def encode(self, src: Tensor) -> Tensor:
        """Source ids ``(B, S)`` -> memory ``(B, S, d_model)``."""
        self._check_ids("src", src)
        mask = self.source_mask(src)
        x = self.dropout(self.src_pos(self.src_emb(src) * math.sqrt(self.d_model)))
        for layer in self.encoder:
            x = layer(x, mask)
        return self.enc_norm(x)

    def decode(self, tgt: Tensor, memory: Tensor, src: Tensor) -> Tensor:
        """Target ids so far ``(B, T)`` and memory -> logits ``(B, T, tgt_vocab)``."""
        self._check_ids("tgt", tgt)
        x = self.dropout(self.tgt_pos(self.tgt_emb(tgt) * math.sqrt(self.d_model)))
        tgt_mask = causal_mask(tgt.shape[1], device=tgt.device)
        memory_mask = self.source_mask(src)
        for layer in self.decoder:
            x = layer(x, memory, tgt_mask, memory_mask)
        return self.out(self.dec_norm(x))

    def forward(self, src: Tensor, tgt: Tensor) -> Tensor:
        """Teacher forcing: logits for every target position given the true previous ones."""
        return self.decode(tgt, self.encode(src), src)

    @torch.no_grad()
    def greedy_decode(self, src: Tensor, bos_id: int, eos_id: int, max_len: int) -> Tensor:
        """Translate ``src`` ``(B, S)`` by picking the most likely token at each step.

        Returns ``(B, <= max_len + 1)`` ids starting with ``bos_id``; decoding stops
        once every sequence has produced ``eos_id``.
        """
        _checks.positive_int("max_len", max_len)
        was_training = self.training
        self.eval()
        memory = self.encode(src)
        out = torch.full((src.shape[0], 1), bos_id, dtype=torch.long, device=src.device)
        done = torch.zeros(src.shape[0], dtype=torch.bool, device=src.device)
        for _ in range(max_len):
            next_id = self.decode(out, memory, src)[:, -1].argmax(-1)
            out = torch.cat([out, next_id[:, None]], dim=1)
            done |= next_id == eos_id
            if done.all():
                break
        self.train(was_training)
        return out
