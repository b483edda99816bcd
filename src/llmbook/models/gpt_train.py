"""Training a :class:`~llmbook.models.gpt.GPT` on a stream of token ids.

The recipe is nanoGPT's, tuned for two CPU cores:

* batches of random windows: ``x = data[i : i+T]``, ``y = data[i+1 : i+T+1]``
  (:func:`llmbook.batches.random_windows`);
* AdamW with decoupled weight decay on the matrices only;
* a learning rate that warms up linearly, then decays along a cosine to ``min_lr``;
* gradient clipping;
* bfloat16 *autocast* where the CPU supports it: matrix products run in
  bfloat16 (twice as fast on CPUs with bf16 instructions), while the
  weights, the loss and the optimiser stay in float32.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor

from llmbook.batches import random_windows
from llmbook.progress import progress_bar
from llmbook.models.gpt import GPT
from llmbook.train import cross_entropy, evaluate

__all__ = [
    "TrainConfig",
    "TrainResult",
    "learning_rate_at",
    "estimate_loss",
    "bf16_supported",
    "train_gpt",
    "NANOGPT_CPU_MODEL",
    "NANOGPT_CPU_TRAIN",
    "BOOK_MODEL",
    "BOOK_TRAIN",
]


#: Names for the implementations behind ``F.scaled_dot_product_attention``
#: (``None``: let PyTorch choose).
_BACKENDS = {None: None, "math": "MATH", "flash": "FLASH_ATTENTION", "efficient": "EFFICIENT_ATTENTION"}


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of a training run (the model's shape is in ``GPTConfig``).

    ``sdpa_backend`` picks the implementation of the fused attention during
    training: all compute the same function, at different speeds. On CPUs,
    PyTorch's default is a "flash" kernel that saves memory on long sequences;
    for short windows in bfloat16, the plain ``"math"`` kernel (matrix
    products and a softmax) is faster.
    """

    max_iters: int = 2000
    batch_size: int = 32
    learning_rate: float = 2e-3
    min_lr: float = 2e-4
    warmup_iters: int = 100
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0
    eval_interval: int = 250
    eval_iters: int = 20
    bf16: bool = True
    sdpa_backend: str | None = None
    seed: int = 1337

    def __post_init__(self) -> None:
        if self.sdpa_backend not in _BACKENDS:
            raise ValueError(f"sdpa_backend must be one of {sorted(_BACKENDS, key=str)}, got {self.sdpa_backend!r}")
        for name in ("max_iters", "batch_size", "eval_interval", "eval_iters"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.warmup_iters < 0:
            raise ValueError(f"warmup_iters must be >= 0, got {self.warmup_iters}")
        if not 0 < self.min_lr <= self.learning_rate:
            raise ValueError(f"need 0 < min_lr <= learning_rate, got {self.min_lr} and {self.learning_rate}")


@dataclass
class TrainResult:
    """What happened during training.

    ``iters``, ``train_loss``, ``val_loss`` hold one entry per evaluation;
    ``step_loss`` and ``lr`` one entry per iteration; ``samples`` maps an
    iteration to the text generated then; ``seconds`` is the wall time.
    """

    iters: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    samples: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0


def learning_rate_at(it: int, cfg: TrainConfig) -> float:
    """Linear warm-up for ``warmup_iters`` steps, then cosine decay to ``min_lr`` at ``max_iters``."""
    if it < cfg.warmup_iters:
        return cfg.learning_rate * (it + 1) / cfg.warmup_iters
    progress = min(1.0, (it - cfg.warmup_iters) / max(1, cfg.max_iters - cfg.warmup_iters))
    return cfg.min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (cfg.learning_rate - cfg.min_lr)


def bf16_supported() -> bool:
    """Whether bfloat16 matrix products are fast here (CPU with AVX-512 BF16 or AMX)."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def estimate_loss(
    model: GPT, data: Tensor, batch_size: int, n_batches: int, *, bf16: bool = False, seed: int = 0
) -> float:
    """Mean cross-entropy (nats per token) over ``n_batches`` random windows of ``data``.

    The windows depend only on ``seed``, so two models can be compared on the
    same text. Uses :func:`llmbook.train.evaluate`.
    """
    generator = torch.Generator().manual_seed(seed)
    block = model.config.block_size

    def batches() -> tuple[Tensor, Tensor]:
        return random_windows(data, batch_size, block, generator=generator)

    def loss_fn(output: tuple[Tensor, Tensor | None], y: Tensor) -> Tensor:
        return cross_entropy(output[0].float(), y)

    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        return evaluate(model, batches, loss_fn=loss_fn, steps=n_batches)


def _attention_backend(name: str | None) -> contextlib.AbstractContextManager:
    """A context that makes ``F.scaled_dot_product_attention`` use one implementation."""
    if name is None:
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    return sdpa_kernel(getattr(SDPBackend, _BACKENDS[name]))


def train_gpt(
    model: GPT,
    train_data: Tensor,
    val_data: Tensor,
    cfg: TrainConfig,
    *,
    decode: Callable[[list[int]], str] | None = None,
    sample_tokens: int = 200,
    progress: bool = True,
) -> TrainResult:
    """Train ``model`` in place on ``train_data`` and return its history.

    Every ``cfg.eval_interval`` iterations (and at the end) the loss is
    estimated on ``cfg.eval_iters`` batches of each split; if ``decode`` is
    given, a sample of ``sample_tokens`` tokens is generated from the first
    character of the validation text and stored in ``result.samples``.
    """
    torch.manual_seed(cfg.seed)
    generator = torch.Generator().manual_seed(cfg.seed)  # the batches of this run
    bf16 = cfg.bf16 and bf16_supported()
    matrices = [p for p in model.parameters() if p.dim() >= 2]  # weight decay on these only
    others = [p for p in model.parameters() if p.dim() < 2]     # biases and layer-norm gains
    optimizer = torch.optim.AdamW(
        [{"params": matrices, "weight_decay": cfg.weight_decay},
         {"params": others, "weight_decay": 0.0}],
        lr=cfg.learning_rate, betas=(cfg.beta1, cfg.beta2),
    )
    result = TrainResult()

    def evaluate(it: int) -> None:
        result.iters.append(it)
        for split, losses in ((train_data, result.train_loss), (val_data, result.val_loss)):
            losses.append(estimate_loss(model, split, cfg.batch_size, cfg.eval_iters,
                                        bf16=bf16, seed=cfg.seed + it))
        if decode is not None:
            out = model.generate(val_data[:1].view(1, 1), sample_tokens,
                                 generator=torch.Generator().manual_seed(cfg.seed))
            result.samples[it] = decode(out[0].tolist())

    start_time = time.perf_counter()
    model.train()
    with _attention_backend(cfg.sdpa_backend):
        bar = progress_bar(total=cfg.max_iters, desc="training", disable=not progress)
        for it in range(cfg.max_iters):
            if it % cfg.eval_interval == 0:
                evaluate(it)
                bar.set_postfix(val_loss=f"{result.val_loss[-1]:.3f}", refresh=False)
            lr = learning_rate_at(it, cfg)
            for group in optimizer.param_groups:
                group["lr"] = lr
            x, y = random_windows(train_data, cfg.batch_size, model.config.block_size, generator=generator)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                _, loss = model(x, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            result.step_loss.append(loss.item())
            result.lr.append(lr)
            bar.update(1)
        evaluate(cfg.max_iters)
        # The bar's last line shows the final validation loss, the one that
        # goes with the last entry of result.samples.
        bar.set_postfix(val_loss=f"{result.val_loss[-1]:.3f}", refresh=False)
        bar.close()
    result.seconds = time.perf_counter() - start_time
    model.eval()
    return result


# ---------------------------------------------------------------------------
# The two recipes compared in the book and in benchmarks/gpt_shakespeare.py
# ---------------------------------------------------------------------------

#: nanoGPT's documented CPU run on Tiny Shakespeare characters (its
#: ``config/train_shakespeare_char.py`` with the README's CPU overrides):
#: 4 layers, 4 heads, width 128, no biases, block 64, batch 12, 2000
#: iterations, learning rate 1e-3 decaying to 1e-4, float32.
NANOGPT_CPU_MODEL = dict(block_size=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0, bias=False)
NANOGPT_CPU_TRAIN = TrainConfig(max_iters=2000, batch_size=12, learning_rate=1e-3, min_lr=1e-4,
                                warmup_iters=100, weight_decay=0.1, beta2=0.99, grad_clip=1.0,
                                eval_interval=250, eval_iters=20, bf16=False)

#: The book's recipe for about four minutes on two CPU cores: the same
#: architecture with a longer context, larger batches, a higher peak learning
#: rate, and bfloat16 autocast.
BOOK_MODEL = dict(block_size=128, n_layer=4, n_head=4, n_embd=128, dropout=0.0, bias=True)
BOOK_TRAIN = TrainConfig(max_iters=2000, batch_size=32, learning_rate=2e-3, min_lr=2e-4,
                         warmup_iters=100, weight_decay=0.1, beta2=0.99, grad_clip=1.0,
                         eval_interval=250, eval_iters=10, bf16=True, sdpa_backend="math")
