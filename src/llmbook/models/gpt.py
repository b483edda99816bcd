"""A small GPT: a decoder-only Transformer language model in one readable file.

The model follows GPT-2 (and Karpathy's nanoGPT) at toy scale::

    token ids (B, T)
      -> token embedding + learned position embedding        (B, T, C)
      -> n_layer x Block:  x = x + attn(ln_1(x))             masked self-attention
                           x = x + mlp(ln_2(x))              position-wise FFN
      -> final layer norm -> linear head (tied to the token embedding)
      -> logits (B, T, vocab_size)

``B`` is the batch size, ``T`` the sequence length (at most ``block_size``),
``C`` the model width ``n_embd``. The blocks are *pre-norm* (layer norm
before each sub-layer, as in GPT-2), unlike the *post-norm* of the original
Transformer (:mod:`llmbook.models.transformer` has both).

Attention uses PyTorch's fused :func:`torch.nn.functional.scaled_dot_product_attention`
for speed; it computes exactly ``softmax(QK^T / sqrt(d_k) + mask) V``, the
function written out by hand in :mod:`llmbook.models.attention`.
:meth:`GPT.attention_weights` runs the hand-written version to return the
attention maps, which the fused kernel never materialises.

Generation can keep a *KV cache*: the keys and values of the tokens already
seen, so each new token costs one position instead of a whole forward pass
over the prefix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from llmbook import _checks
from llmbook.devices import device_of
from llmbook.models.attention import scaled_dot_product_attention
from llmbook.sampling import StepFn
from llmbook.sampling import generate as sampling_generate

__all__ = [
    "GPTConfig",
    "KVCache",
    "CausalSelfAttention",
    "MLP",
    "Block",
    "GPT",
    "count_gpt_parameters",
    "gpt_step_fn",
]


# ---------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class GPTConfig:
    """The hyperparameters that fix a GPT's shape.

    Attributes:
        vocab_size: number of distinct tokens (65 characters for Tiny Shakespeare).
        block_size: the longest sequence the model can read (its context window).
        n_layer: number of Transformer blocks.
        n_head: attention heads per block; must divide ``n_embd``.
        n_embd: model width ``C`` (size of every token's vector).
        dropout: dropout probability used in training (0 disables it).
        bias: whether linear layers and layer norms have bias terms.
    """

    vocab_size: int
    block_size: int = 128
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            _checks.positive_int(name, getattr(self, name))
        if self.n_embd % self.n_head != 0:
            raise ValueError(
                f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head}): "
                "each head gets n_embd // n_head dimensions"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def head_size(self) -> int:
        """Dimensions per head, ``n_embd // n_head``."""
        return self.n_embd // self.n_head


def count_gpt_parameters(config: GPTConfig) -> int:
    """The number of parameters of ``GPT(config)``, by formula.

    With width ``C``, ``L`` layers, vocabulary ``V`` and block size ``N``
    (all linear layers and layer norms with biases)::

        V*C            token embedding (shared with the output head)
      + N*C            position embedding
      + L*(12C^2+13C)  per block: attention 4C^2+4C, MLP 8C^2+5C, two layer norms 4C
      + 2C             final layer norm

    Without biases each block has ``12C^2 + 2C`` (the layer-norm weights) and
    the final layer norm ``C``.

    >>> count_gpt_parameters(GPTConfig(vocab_size=65, block_size=64))
    809856
    """
    C, L = config.n_embd, config.n_layer
    per_block = 12 * C * C + (13 * C if config.bias else 2 * C)
    final_norm = 2 * C if config.bias else C
    return config.vocab_size * C + config.block_size * C + L * per_block + final_norm


class KVCache:
    """The keys and values of every layer for the tokens processed so far.

    ``keys[i]`` and ``values[i]`` have shape ``(B, n_head, t, head_size)``
    for layer ``i`` once ``t`` tokens have been seen (``None`` before).
    """

    def __init__(self, n_layer: int) -> None:
        self.keys: list[Tensor | None] = [None] * n_layer
        self.values: list[Tensor | None] = [None] * n_layer

    def __len__(self) -> int:
        """Number of positions cached (in the first layer)."""
        return self.length(0)

    def length(self, layer: int) -> int:
        """Number of positions cached in ``layer``."""
        k = self.keys[layer]
        return 0 if k is None else k.shape[2]

    def append(self, layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Add the new positions' ``k`` and ``v`` to ``layer``; return all of them."""
        if self.keys[layer] is not None:
            k = torch.cat([self.keys[layer], k], dim=2)
            v = torch.cat([self.values[layer], v], dim=2)
        self.keys[layer], self.values[layer] = k, v
        return k, v


class CausalSelfAttention(nn.Module):
    """Multi-head masked self-attention: each position attends to itself and the past.

    One linear layer ``c_attn`` makes queries, keys and values for all heads
    at once (``C -> 3C``); ``c_proj`` mixes the heads' outputs (``C -> C``).
    """

    def __init__(self, config: GPTConfig, layer: int = 0) -> None:
        super().__init__()
        self.n_head, self.n_embd, self.layer = config.n_head, config.n_embd, layer
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = config.dropout
        self.resid_dropout = nn.Dropout(config.dropout)

    def _heads(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        # (B, T, C) -> (B, n_head, T, head_size): every head works on its own slice.
        return tuple(t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))

    def forward(self, x: Tensor, cache: KVCache | None = None) -> Tensor:
        B, T, C = x.shape
        q, k, v = self._heads(x)
        past = 0
        if cache is not None:
            past = cache.length(self.layer)
            k, v = cache.append(self.layer, k, v)
        if past == 0:
            mask, causal = None, True
        elif T == 1:  # one new token may look at everything cached
            mask, causal = None, False
        else:  # new queries sit at positions past..past+T-1
            mask = torch.ones(T, past + T, dtype=torch.bool, device=x.device).tril(diagonal=past)
            causal = False
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=causal,
            dropout_p=self.dropout if self.training else 0.0,
        )
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # concatenate the heads
        return self.resid_dropout(self.c_proj(y))

    def weights(self, x: Tensor) -> Tensor:
        """The attention weights ``(B, n_head, T, T)``, computed with the book's
        from-scratch :func:`~llmbook.models.attention.scaled_dot_product_attention`."""
        q, k, v = self._heads(x)
        T = x.shape[1]
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        _, w = scaled_dot_product_attention(q, k, v, mask=causal)
        return w


class MLP(nn.Module):
    """The position-wise feed-forward network: ``C -> 4C -> GELU -> C``."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x))))


class Block(nn.Module):
    """One pre-norm Transformer block: ``x + attn(ln(x))``, then ``x + mlp(ln(x))``."""

    def __init__(self, config: GPTConfig, layer: int = 0) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config, layer)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: Tensor, cache: KVCache | None = None) -> Tensor:
        x = x + self.attn(self.ln_1(x), cache)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """A decoder-only Transformer language model (GPT-2 architecture, any size)."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"GPT expects a GPTConfig, got {type(config).__name__}")
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config, i) for i in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight  # weight tying, as in GPT-2
        self.apply(self._init_weights)
        # GPT-2: scale the projections that write into the residual stream by
        # 1/sqrt(2 * n_layer), so the stream's variance does not grow with depth.
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def _check_ids(self, idx: Tensor, past: int = 0) -> None:
        _checks.check_ids(idx, self.config.vocab_size, name="idx", dims=(2,))
        T = idx.shape[1]
        if T == 0:
            raise ValueError("idx is empty: the model needs at least one token")
        if past + T > self.config.block_size:
            raise ValueError(
                f"cannot forward a sequence of length {past + T}: the block size "
                f"(context window) is only {self.config.block_size}"
            )

    def forward(
        self, idx: Tensor, targets: Tensor | None = None, *, cache: KVCache | None = None
    ) -> tuple[Tensor, Tensor | None]:
        """Logits for every position, and the mean cross-entropy if ``targets`` are given.

        Args:
            idx: token ids, shape ``(B, T)`` with ``T <= block_size``.
            targets: the next token at every position, shape ``(B, T)``.
            cache: a :class:`KVCache` holding earlier positions; ``idx`` then
                continues them (its first token is at position ``len(cache)``),
                and the cache is extended in place.

        Returns:
            ``(logits, loss)`` with logits of shape ``(B, T, vocab_size)``;
            ``loss`` is ``None`` without targets.

        Raises:
            ValueError: if ``idx`` is not 2-D, is empty, or (with the cache)
                is longer than ``block_size``.
        """
        past = len(cache) if cache is not None else 0
        self._check_ids(idx, past)
        T = idx.shape[1]
        pos = torch.arange(past, past + T, device=idx.device)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(pos))
        for block in self.blocks:
            x = block(x, cache)
        logits = self.lm_head(self.ln_f(x))
        loss = None
        if targets is not None:
            if targets.shape != idx.shape:
                raise ValueError(f"targets must have the shape of idx {tuple(idx.shape)}, "
                                 f"got {tuple(targets.shape)}")
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)).float(), targets.reshape(-1))
        return logits, loss

    @torch.no_grad()
    def attention_weights(self, idx: Tensor) -> Tensor:
        """Attention maps of every layer and head, shape ``(n_layer, B, n_head, T, T)``.

        Row ``i`` of a map gives how much position ``i`` attends to each
        position ``j <= i`` (the rows sum to 1).
        """
        self._check_ids(idx)
        pos = torch.arange(idx.shape[1], device=idx.device)
        x = self.tok_emb(idx) + self.pos_emb(pos)
        maps = []
        for block in self.blocks:
            maps.append(block.attn.weights(block.ln_1(x)))
            x = block(x)
        return torch.stack(maps)

    @torch.no_grad()
    def generate(
        self,
        idx: Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        use_kv_cache: bool = True,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Extend ``idx`` ``(B, T)`` by ``max_new_tokens`` sampled tokens; return the whole sequence.

        At each step the model reads (at most) the last ``block_size`` tokens,
        the last position's logits are divided by ``temperature``, only the
        ``top_k`` largest are kept if asked, and a token is drawn from the
        softmax. This is the book's one generation loop,
        :func:`llmbook.sampling.generate`, driven by
        :func:`gpt_step_fn`.

        With ``use_kv_cache`` the keys and values of earlier positions are
        kept, so each step processes only the newest token; the tokens are
        the same as when the whole prefix is recomputed. Because position
        embeddings are absolute, once the sequence outgrows ``block_size``
        the window slides, every cached position changes, and the cache is
        rebuilt at each step.

        Raises:
            ValueError: if ``idx`` is empty, ``max_new_tokens < 0``,
                ``temperature <= 0`` or ``top_k`` is outside ``[1, vocab_size]``.
        """
        _checks.check_ids(idx, self.config.vocab_size, name="idx", dims=(2,))
        was_training = self.training
        try:
            out = sampling_generate(gpt_step_fn(self, use_kv_cache=use_kv_cache), idx,
                                    max_new_tokens, temperature=temperature, top_k=top_k,
                                    generator=generator)
        finally:
            self.train(was_training)
        return out.ids


def gpt_step_fn(model: GPT, use_kv_cache: bool = True) -> StepFn:
    """A step function for :func:`llmbook.sampling.generate`, with the key/value cache.

    The state is ``(ids, cache)``. While the sequence fits in the model's
    ``block_size`` only the new tokens are processed, reusing the cached keys
    and values; once it outgrows the block the window slides, every position
    changes, and the cache is rebuilt from the last ``block_size`` ids (the
    same rule as ``GPT.generate``). The model is put in eval mode; the ids
    are moved to its device.
    """
    model.eval()
    block = model.config.block_size
    device = device_of(model)

    def step(new_ids: Tensor, state: tuple[Tensor, Any] | None) -> tuple[Tensor, tuple[Tensor, Any]]:
        new_ids = new_ids.to(device)
        ids = new_ids if state is None else torch.cat([state[0], new_ids], dim=1)
        cache = None if state is None else state[1]
        if use_kv_cache and cache is not None and len(cache) + new_ids.shape[1] <= block:
            logits, _ = model(new_ids, cache=cache)
        else:
            cache = KVCache(model.config.n_layer) if use_kv_cache else None
            logits, _ = model(ids[:, -block:], cache=cache)
        return logits[:, -1], (ids, cache)

    return step
