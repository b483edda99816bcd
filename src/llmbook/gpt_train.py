"""Training a :class:`~llmbook.models.gpt.GPT` on a stream of token ids: nanoGPT's loop.

The recipe is nanoGPT's, tuned for two CPU cores:

* batches of random windows: ``x = data[i : i+T]``, ``y = data[i+1 : i+T+1]``
  (:func:`llmbook.batches.random_windows`);
* AdamW with decoupled weight decay on the matrices only;
* a learning rate that warms up linearly, then decays along a cosine to
  ``min_lr`` (:func:`llmbook.train.cosine_schedule`);
* gradient clipping;
* bfloat16 *autocast* where the hardware supports it
  (:func:`llmbook.devices.autocast`): matrix products run in bfloat16 (twice
  as fast on CPUs with bf16 instructions), while the weights, the loss and
  the optimiser stay in float32.

:func:`train_gpt` writes the loop out, as nanoGPT's ``train.py`` does, on the
pieces of :mod:`llmbook.train` (:func:`~llmbook.train.train_step` with the
default :func:`~llmbook.train.next_token_loss`, and
:func:`~llmbook.train.evaluate` through :func:`estimate_loss`). It trains on
the device the model lives on; the data are moved there once.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor
from torch.nn.attention import SDPBackend, sdpa_kernel

from llmbook import _checks
from llmbook.batches import random_windows
from llmbook.devices import bf16_supported, device_of
from llmbook.models.gpt import GPT
from llmbook.progress import progress_bar
from llmbook.train import cosine_schedule, evaluate, train_step

__all__ = [
    "TrainConfig",
    "TrainResult",
    "estimate_loss",
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
            _checks.positive_int(name, getattr(self, name))
        _checks.non_negative_int("warmup_iters", self.warmup_iters)
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


def estimate_loss(
    model: GPT, data: Tensor, batch_size: int, n_batches: int, *, bf16: bool = False, seed: int = 0
) -> float:
    """Mean cross-entropy (nats per token) over ``n_batches`` random windows of ``data``.

    The windows depend only on ``seed`` (drawn with a CPU generator, so they
    are the same on every device), so two models can be compared on the same
    text. Uses :func:`llmbook.train.evaluate` on the model's device.
    """
    data = data.to(device_of(model))
    generator = torch.Generator().manual_seed(seed)
    windows = lambda: random_windows(data, batch_size, model.config.block_size, generator=generator)  # noqa: E731
    return evaluate(model, windows, steps=n_batches, bf16=bf16)


def _attention_backend(name: str | None) -> contextlib.AbstractContextManager:
    """A context that makes ``F.scaled_dot_product_attention`` use one implementation."""
    if name is None:
        return contextlib.nullcontext()
    return sdpa_kernel(getattr(SDPBackend, _BACKENDS[name]))


def _adamw(model: GPT, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on the matrices only (not on biases and layer-norm gains)."""
    matrices = [p for p in model.parameters() if p.dim() >= 2]
    others = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW(
        [{"params": matrices, "weight_decay": cfg.weight_decay},
         {"params": others, "weight_decay": 0.0}],
        lr=cfg.learning_rate, betas=(cfg.beta1, cfg.beta2),
    )


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
    dev = device_of(model)
    train_data, val_data = train_data.to(dev), val_data.to(dev)
    bf16 = cfg.bf16 and bf16_supported(dev)
    optimizer = _adamw(model, cfg)
    lr_at = cosine_schedule(cfg.learning_rate, cfg.min_lr, cfg.warmup_iters, cfg.max_iters)
    result = TrainResult()

    def record(it: int) -> None:  # losses on both splits, and a sample
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
        bar = progress_bar(range(cfg.max_iters), desc="training", disable=not progress)
        for it in bar:
            if it % cfg.eval_interval == 0:
                record(it)
                bar.set_postfix(val_loss=f"{result.val_loss[-1]:.3f}", refresh=False)
            batch = random_windows(train_data, cfg.batch_size, model.config.block_size,
                                   generator=generator)
            loss = train_step(model, batch, optimizer, lr=lr_at(it), bf16=bf16,
                              clip_grad_norm=cfg.grad_clip if cfg.grad_clip > 0 else None)
            result.step_loss.append(loss.item())
            result.lr.append(lr_at(it))
        record(cfg.max_iters)
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
