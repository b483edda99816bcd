"""Attention from scratch: scaled dot-product attention, masks, multi-head attention.

Attention is a *soft dictionary look-up*. Each query vector is compared with
every key vector; the comparison scores, turned into weights by a softmax,
say how much of each value vector to mix into the answer::

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k) + mask) V

with ``Q`` of shape ``(..., T_q, d_k)``, ``K`` of shape ``(..., T_k, d_k)``
and ``V`` of shape ``(..., T_k, d_v)``.

Masks here are boolean and say which keys a query **may** look at
(``True`` = allowed), the same convention as
:func:`torch.nn.functional.scaled_dot_product_attention`. Beware that
:class:`torch.nn.MultiheadAttention` uses the opposite convention for its
``attn_mask`` and ``key_padding_mask`` (``True`` = blocked).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
from torch import Tensor

from llmbook import _checks

__all__ = [
    "scaled_dot_product_attention",
    "causal_mask",
    "padding_mask",
    "MultiHeadAttention",
]


def _check_mask(mask: Tensor, shape: torch.Size) -> None:
    if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
        got = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise TypeError(f"mask must be a boolean tensor (True = may attend), got {got}")
    try:
        torch.broadcast_shapes(mask.shape, shape)
    except RuntimeError:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not broadcast to the attention "
            f"scores of shape {tuple(shape)} (..., queries, keys)"
        ) from None


def scaled_dot_product_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """Attention written out in four lines: scores, mask, softmax, weighted sum.

    Args:
        q: queries, shape ``(..., T_q, d_k)``.
        k: keys, shape ``(..., T_k, d_k)``.
        v: values, shape ``(..., T_k, d_v)``.
        mask: optional boolean tensor broadcastable to ``(..., T_q, T_k)``;
            ``True`` where a query may attend to a key. A query that may
            attend to no key at all gets zero weights and a zero output (as
            in PyTorch).

    Returns:
        ``(output, weights)``: the output ``(..., T_q, d_v)`` and the
        attention weights ``(..., T_q, T_k)``, each row summing to 1.

    Raises:
        ValueError: if the shapes do not fit together.
        TypeError: if ``mask`` is not boolean.
    """
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, Tensor) or t.dim() < 2:
            raise ValueError(f"{name} must be a tensor of shape (..., length, dim), got "
                             f"{tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"queries and keys must have the same size d_k, got "
                         f"q {tuple(q.shape)} and k {tuple(k.shape)}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"keys and values must have the same length (one value per key), "
                         f"got k {tuple(k.shape)} and v {tuple(v.shape)}")
    d_k = q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (..., T_q, T_k)
    if mask is not None:
        _check_mask(mask, scores.shape)
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if mask is not None:  # rows with every key masked: 0/0 -> zeros, not NaN
        weights = weights.nan_to_num(0.0)
    return weights @ v, weights


def causal_mask(size: int, device: torch.device | str | None = None) -> Tensor:
    """The ``(size, size)`` mask that lets position ``i`` see positions ``0..i`` only.

    >>> causal_mask(3).int()
    tensor([[1, 0, 0],
            [1, 1, 0],
            [1, 1, 1]], dtype=torch.int32)
    """
    _checks.positive_int("size", size)
    return torch.ones(size, size, dtype=torch.bool, device=device).tril()


def padding_mask(lengths: Tensor | list[int], size: int) -> Tensor:
    """A ``(B, 1, size)`` mask hiding the padding at the end of each sequence.

    Sequence ``b`` has ``lengths[b]`` real tokens followed by padding; every
    query may look only at real keys. The middle axis broadcasts over the
    queries.

    >>> padding_mask([3, 1], 4).int()
    tensor([[[1, 1, 1, 0]],
    <BLANKLINE>
            [[1, 0, 0, 0]]], dtype=torch.int32)
    """
    _checks.positive_int("size", size)
    lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1 or lengths.numel() == 0:
        raise ValueError(f"lengths must be a non-empty 1-D sequence, got shape {tuple(lengths.shape)}")
    if lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
        raise TypeError(f"lengths must be integers, got {lengths.dtype}")
    if (lengths < 1).any() or (lengths > size).any():
        raise ValueError(f"every length must be between 1 and {size}, got {lengths.tolist()}")
    positions = torch.arange(size, device=lengths.device)
    return (positions[None, :] < lengths[:, None])[:, None, :]


class MultiHeadAttention(nn.Module):
    """Multi-head attention with the same parameters as :class:`torch.nn.MultiheadAttention`.

    The inputs are projected by ``w_q``, ``w_k``, ``w_v`` (each
    ``d_model -> d_model``), split into ``n_heads`` heads of
    ``d_head = d_model // n_heads`` dimensions, attended per head, the heads'
    outputs concatenated and mixed by ``w_o``. Batches come first:
    ``(B, T, d_model)``.

    :meth:`from_torch` and :meth:`to_torch` copy the weights from and to a
    ``torch.nn.MultiheadAttention(d_model, n_heads, batch_first=True)``.
    """

    def __init__(self, d_model: int, n_heads: int, bias: bool = True) -> None:
        super().__init__()
        _checks.positive_int("d_model", d_model)
        _checks.positive_int("n_heads", n_heads)
        if d_model % n_heads != 0:
            raise ValueError(
                f"d_model ({d_model}) must be divisible by n_heads ({n_heads}): "
                "each head gets d_model // n_heads dimensions"
            )
        self.d_model, self.n_heads, self.d_head = d_model, n_heads, d_model // n_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)

    def _split(self, x: Tensor) -> Tensor:
        B, T, _ = x.shape  # (B, T, d_model) -> (B, n_heads, T, d_head)
        return x.view(B, T, self.n_heads, self.d_head).transpose(1, 2)

    def forward(
        self, query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Attend from ``query`` (B, T_q, d_model) to ``key``/``value`` (B, T_k, d_model).

        For self-attention pass the same tensor three times; for cross-attention
        the queries come from the decoder and keys/values from the encoder.

        Args:
            mask: boolean, broadcastable to ``(B, T_q, T_k)``, ``True`` = may
                attend (e.g. :func:`causal_mask` or :func:`padding_mask`); it
                is shared by all heads.

        Returns:
            ``(output, weights)``: output ``(B, T_q, d_model)`` and the weights
            of every head, ``(B, n_heads, T_q, T_k)``.
        """
        for name, t in (("query", query), ("key", key), ("value", value)):
            if not isinstance(t, Tensor) or t.dim() != 3 or t.shape[-1] != self.d_model:
                raise ValueError(f"{name} must have shape (batch, length, {self.d_model}), got "
                                 f"{tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__}")
        if key.shape[:2] != value.shape[:2]:
            raise ValueError(f"key and value must have the same batch and length, got "
                             f"{tuple(key.shape)} and {tuple(value.shape)}")
        if query.shape[0] != key.shape[0]:
            raise ValueError(f"query and key must have the same batch size, got "
                             f"{query.shape[0]} and {key.shape[0]}")
        q, k, v = self._split(self.w_q(query)), self._split(self.w_k(key)), self._split(self.w_v(value))
        if mask is not None:
            _check_mask(mask, torch.Size([query.shape[0], query.shape[1], key.shape[1]]))
            mask = mask.unsqueeze(-3)  # the same mask for every head
        out, weights = scaled_dot_product_attention(q, k, v, mask)
        B, _, T, _ = out.shape
        out = out.transpose(1, 2).reshape(B, T, self.d_model)  # concatenate the heads
        return self.w_o(out), weights

    @classmethod
    def from_torch(cls, mha: nn.MultiheadAttention) -> MultiHeadAttention:
        """A :class:`MultiHeadAttention` with the weights of a PyTorch one."""
        if not mha._qkv_same_embed_dim:
            raise ValueError("only nn.MultiheadAttention with kdim == vdim == embed_dim is supported")
        ours = cls(mha.embed_dim, mha.num_heads, bias=mha.in_proj_bias is not None)
        with torch.no_grad():
            for lin, w in zip((ours.w_q, ours.w_k, ours.w_v), mha.in_proj_weight.chunk(3)):
                lin.weight.copy_(w)
            ours.w_o.weight.copy_(mha.out_proj.weight)
            if mha.in_proj_bias is not None:
                for lin, b in zip((ours.w_q, ours.w_k, ours.w_v), mha.in_proj_bias.chunk(3)):
                    lin.bias.copy_(b)
                ours.w_o.bias.copy_(mha.out_proj.bias)
        return ours

    def to_torch(self) -> nn.MultiheadAttention:
        """A ``torch.nn.MultiheadAttention(batch_first=True)`` with these weights."""
        bias = self.w_q.bias is not None
        mha = nn.MultiheadAttention(self.d_model, self.n_heads, bias=bias, batch_first=True)
        with torch.no_grad():
            mha.in_proj_weight.copy_(torch.cat([self.w_q.weight, self.w_k.weight, self.w_v.weight]))
            mha.out_proj.weight.copy_(self.w_o.weight)
            if bias:
                mha.in_proj_bias.copy_(torch.cat([self.w_q.bias, self.w_k.bias, self.w_v.bias]))
                mha.out_proj.bias.copy_(self.w_o.bias)
        return mha
