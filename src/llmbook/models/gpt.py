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

Options of :class:`GPTConfig` switch on, one at a time, the changes that
modern models made to this architecture (chapter 13 explains them, and
chapter 11 measures what each buys): ``norm="rms"`` (RMSNorm instead of
layer norm), ``position="rotary"`` (rotary position embeddings, RoPE,
instead of learned absolute ones), ``mlp="swiglu"`` or ``mlp="relu2"``
(a gated SiLU unit, or the squared ReLU of the modded-nanogpt speed-run,
instead of GELU), ``qk_norm=True`` (queries and keys RMS-normalised per
head before their dot product) and ``tie_weights=False`` (an output head of
its own). The defaults give GPT-2.
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
    "RMSNorm",
    "Rotary",
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

_NORMS = ("layer", "rms")
_POSITIONS = ("learned", "rotary", "none")
_MLPS = ("gelu", "relu2", "swiglu")


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
        norm: ``"layer"`` (layer normalisation, GPT-2) or ``"rms"`` (RMSNorm:
            divide by the root mean square, learned gain, no bias).
        position: ``"learned"`` (a learned vector per absolute position,
            added to the token embedding, GPT-2) or ``"rotary"`` (rotary
            position embeddings: queries and keys are rotated by angles
            proportional to their position; needs an even head size) or
            ``"none"`` (no position information at all: an ablation; the causal
            mask is then the only thing that tells positions apart).
        mlp: the feed-forward network: ``"gelu"`` (``C -> 4C -> GELU -> C``,
            GPT-2), ``"relu2"`` (the same with ``relu(z)**2``) or
            ``"swiglu"`` (``W_down(SiLU(W_gate x) * W_up x)`` with a hidden
            size of about ``8C/3``, so the parameter count stays about the same).
        qk_norm: RMS-normalise each head's queries and keys (no gain) before
            their dot product, which keeps the attention logits bounded.
        tie_weights: share the output head's matrix with the token embedding.
        rope_base: the base ``b`` of the rotary angles ``theta_i = b**(-2i/d)``.
        residual: add each sub-layer's output to its input (``x + f(x)``, as
            every Transformer does); ``False`` replaces the stream by the
            output (``x = f(x)``), an ablation that shows what the residual
            connections are for.
    """

    vocab_size: int
    block_size: int = 128
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True
    norm: str = "layer"
    position: str = "learned"
    mlp: str = "gelu"
    qk_norm: bool = False
    tie_weights: bool = True
    rope_base: float = 10000.0
    residual: bool = True

    def __post_init__(self) -> None:
        for name, allowed in (("norm", _NORMS), ("position", _POSITIONS), ("mlp", _MLPS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {list(allowed)}, got {getattr(self, name)!r}")
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            _checks.positive_int(name, getattr(self, name))
        if self.n_embd % self.n_head != 0:
            raise ValueError(
                f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head}): "
                "each head gets n_embd // n_head dimensions"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.position == "rotary" and self.head_size % 2:
            raise ValueError(
                f"rotary position embeddings rotate pairs of dimensions, so the head size "
                f"n_embd // n_head must be even, got {self.n_embd} // {self.n_head} = {self.head_size}"
            )
        if not self.rope_base > 1:
            raise ValueError(f"rope_base must be greater than 1, got {self.rope_base}")

    @property
    def head_size(self) -> int:
        """Dimensions per head, ``n_embd // n_head``."""
        return self.n_embd // self.n_head

    @property
    def mlp_hidden(self) -> int:
        """Hidden size of the feed-forward network: ``4C``, or for SwiGLU
        ``8C/3`` rounded up to a multiple of 8 (three matrices instead of two)."""
        if self.mlp == "swiglu":
            return -(-8 * self.n_embd // 3 // 8) * 8
        return 4 * self.n_embd


def count_gpt_parameters(config: GPTConfig) -> int:
    """The number of parameters of ``GPT(config)``, by formula.

    With width ``C``, ``L`` layers, vocabulary ``V`` and block size ``N``
    (GPT-2's options: all linear layers and layer norms with biases)::

        V*C            token embedding (shared with the output head)
      + N*C            position embedding
      + L*(12C^2+13C)  per block: attention 4C^2+4C, MLP 8C^2+5C, two layer norms 4C
      + 2C             final layer norm

    Without biases each block has ``12C^2 + 2C`` (the layer-norm weights) and
    the final layer norm ``C``. The other options change the terms: rotary
    positions have no parameters (no ``N*C``), an RMSNorm has ``C`` (a gain,
    no bias), SwiGLU has three ``C x H`` matrices with ``H = mlp_hidden``, and
    an untied head adds ``V*C``. QK-norm has no parameters.

    >>> count_gpt_parameters(GPTConfig(vocab_size=65, block_size=64))
    809856
    """
    C, L, V, H = config.n_embd, config.n_layer, config.vocab_size, config.mlp_hidden
    b = config.bias
    norm = C if config.norm == "rms" or not b else 2 * C
    attention = 4 * C * C + (4 * C if b else 0)
    if config.mlp == "swiglu":
        mlp = 3 * C * H + (2 * H + C if b else 0)
    else:
        mlp = 2 * C * H + (H + C if b else 0)
    embeddings = V * C * (1 if config.tie_weights else 2)
    if config.position == "learned":
        embeddings += config.block_size * C
    return embeddings + L * (attention + mlp + 2 * norm) + norm


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


class RMSNorm(nn.Module):
    """RMSNorm: ``g * x / sqrt(mean(x**2) + eps)`` over the last dimension.

    Unlike layer normalisation it does not subtract the mean and has no bias
    (chapter 13 checks the formula against SmolLM2's module).
    """

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        # the gain in x's precision: a bfloat16 stream (no residual connections
        # under autocast) would otherwise miss the fused kernel
        return F.rms_norm(x, (x.shape[-1],), self.weight.to(x.dtype), self.eps)


def _norm(config: GPTConfig) -> nn.Module:
    """The normalisation layer the config asks for."""
    if config.norm == "rms":
        return RMSNorm(config.n_embd)
    return nn.LayerNorm(config.n_embd, bias=config.bias)


class Rotary(nn.Module):
    """Rotary position embeddings (RoPE): rotate pairs of dimensions by ``position * theta_i``.

    For a head of size ``d``, dimension ``i`` and dimension ``i + d/2`` form
    a pair (the "half-split" layout of GPT-NeoX and Llama), rotated by the
    angle ``m * theta_i`` at position ``m``, with ``theta_i = base**(-2i/d)``.
    The dot product of a query rotated at ``m`` and a key rotated at ``n``
    then depends on ``m - n`` only. The cosines and sines of every position
    up to ``block_size`` are computed once, as buffers (not parameters).
    """

    def __init__(self, head_size: int, block_size: int, base: float = 10000.0) -> None:
        super().__init__()
        theta = base ** (-torch.arange(0, head_size, 2, dtype=torch.float32) / head_size)
        angles = torch.outer(torch.arange(block_size, dtype=torch.float32), theta)  # (N, d/2)
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    def forward(self, x: Tensor, start: int = 0) -> Tensor:
        """Rotate ``x`` of shape ``(B, n_head, T, d)`` whose first position is ``start``."""
        T = x.shape[-2]
        cos = self.cos[start : start + T].to(x.dtype)
        sin = self.sin[start : start + T].to(x.dtype)
        x1, x2 = x.chunk(2, dim=-1)
        return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


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
        self.qk_norm = config.qk_norm
        self.rotary = (Rotary(config.head_size, config.block_size, config.rope_base)
                       if config.position == "rotary" else None)

    def _heads(self, x: Tensor, start: int = 0) -> tuple[Tensor, Tensor, Tensor]:
        """Queries, keys and values ``(B, n_head, T, head_size)`` for positions ``start..start+T-1``
        (after QK-norm and the rotation, when the config asks for them)."""
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        # (B, T, C) -> (B, n_head, T, head_size): every head works on its own slice.
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        if self.qk_norm:
            q, k = F.rms_norm(q, (q.shape[-1],)), F.rms_norm(k, (k.shape[-1],))
        if self.rotary is not None:  # cached keys are already rotated: new ones start at `start`
            q, k = self.rotary(q, start), self.rotary(k, start)
        return q, k, v

    def forward(self, x: Tensor, cache: KVCache | None = None) -> Tensor:
        B, T, C = x.shape
        past = cache.length(self.layer) if cache is not None else 0
        q, k, v = self._heads(x, past)
        if cache is not None:
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
    """The position-wise feed-forward network: ``C -> 4C -> GELU -> C`` (GPT-2).

    With ``mlp="relu2"`` the activation is ``relu(z)**2``; with
    ``mlp="swiglu"`` a second projection ``c_gate`` gates the first:
    ``c_proj(SiLU(c_gate(x)) * c_fc(x))``, with hidden size ``config.mlp_hidden``.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.kind = config.mlp
        hidden = config.mlp_hidden
        self.c_fc = nn.Linear(config.n_embd, hidden, bias=config.bias)
        self.c_gate = nn.Linear(config.n_embd, hidden, bias=config.bias) if self.kind == "swiglu" else None
        self.c_proj = nn.Linear(hidden, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: Tensor) -> Tensor:
        h = self.c_fc(x)
        if self.kind == "swiglu":
            h = F.silu(self.c_gate(x)) * h
        elif self.kind == "relu2":
            h = F.relu(h).square()
        else:
            h = F.gelu(h)
        return self.dropout(self.c_proj(h))


class Block(nn.Module):
    """One pre-norm Transformer block: ``x + attn(ln(x))``, then ``x + mlp(ln(x))``."""

    def __init__(self, config: GPTConfig, layer: int = 0) -> None:
        super().__init__()
        self.ln_1 = _norm(config)
        self.attn = CausalSelfAttention(config, layer)
        self.ln_2 = _norm(config)
        self.mlp = MLP(config)
        self.residual = config.residual

    def forward(self, x: Tensor, cache: KVCache | None = None) -> Tensor:
        if not self.residual:  # the ablation: each sub-layer replaces the stream
            x = self.attn(self.ln_1(x), cache)
            return self.mlp(self.ln_2(x))
        x = x + self.attn(self.ln_1(x), cache)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """A decoder-only Transformer language model (GPT-2 architecture, any size,
    with the modern options of :class:`GPTConfig`)."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"GPT expects a GPTConfig, got {type(config).__name__}")
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        # Learned absolute positions (GPT-2); rotary ones live in the attention layers.
        self.pos_emb = (nn.Embedding(config.block_size, config.n_embd)
                        if config.position == "learned" else None)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config, i) for i in range(config.n_layer))
        self.ln_f = _norm(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_weights:
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
        x = self.drop(self._embed(idx, past))
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

    def _embed(self, idx: Tensor, past: int = 0) -> Tensor:
        """Token embeddings, plus the position embeddings of positions ``past..`` if learned."""
        x = self.tok_emb(idx)
        if self.pos_emb is not None:
            x = x + self.pos_emb(torch.arange(past, past + idx.shape[1], device=idx.device))
        return x

    @torch.no_grad()
    def attention_weights(self, idx: Tensor) -> Tensor:
        """Attention maps of every layer and head, shape ``(n_layer, B, n_head, T, T)``.

        Row ``i`` of a map gives how much position ``i`` attends to each
        position ``j <= i`` (the rows sum to 1).
        """
        self._check_ids(idx)
        x = self._embed(idx)
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
        the same as when the whole prefix is recomputed. Once the sequence
        outgrows ``block_size`` the window slides, every cached position
        changes (learned or rotary, positions count from the window's
        start), and the cache is rebuilt at each step.

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
