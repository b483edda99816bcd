"""Training a :class:`~llmbook.models.gpt.GPT` on a stream of token ids: nanoGPT's loop.

The recipe is nanoGPT's, tuned for two CPU cores:

* batches of random windows: ``x = data[i : i+T]``, ``y = data[i+1 : i+T+1]``
  (:func:`llmbook.batches.random_windows`);
* AdamW with decoupled weight decay on the matrices only, or (``optimizer="muon"``)
  Muon for the matrices inside the blocks and AdamW for the rest
  (:mod:`llmbook.optim`);
* a learning rate that warms up linearly, then decays along a cosine to
  ``min_lr`` (:func:`llmbook.train.cosine_schedule`), or stays at its peak
  and decays linearly over the last ``cooldown`` fraction of the run
  (``schedule="wsd"``: warm-up, stable, decay);
* a fixed number of iterations, or a *time budget*: training stops after
  ``time_budget`` seconds (evaluations not counted) and the schedule follows
  the fraction of the budget used, so recipes can be compared at equal time;
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
import json
import math
import time
from importlib import resources
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor
from torch.nn.attention import SDPBackend, sdpa_kernel

from llmbook import _checks
from llmbook.batches import random_windows
from llmbook.devices import bf16_supported, device_of
from llmbook.models.gpt import GPT
from llmbook.optim import muon_and_adamw
from llmbook.progress import progress_bar
from llmbook.train import cosine_schedule, evaluate, train_step

__all__ = [
    "TrainConfig",
    "TrainResult",
    "estimate_loss",
    "train_gpt",
    "NANOGPT_CPU_MODEL",
    "NANOGPT_CPU_TRAIN",
    "GPT2_BOOK_MODEL",
    "GPT2_BOOK_TRAIN",
    "BOOK_MODEL",
    "BOOK_TRAIN",
    "benchmark_results",
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

    ``optimizer`` is ``"adamw"`` (every parameter at ``learning_rate``) or
    ``"muon"`` (the block matrices with Muon at ``muon_lr``, the rest with
    AdamW at ``learning_rate``; both follow the same schedule, scaled to
    their own peak). ``schedule`` is ``"cosine"`` or ``"wsd"`` (constant,
    then a linear decay to ``min_lr`` over the last ``cooldown`` fraction).
    With ``time_budget`` (seconds), training stops when the budget or
    ``max_iters`` is used up, whichever comes first.
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
    optimizer: str = "adamw"
    muon_lr: float = 0.05
    muon_momentum: float = 0.95
    schedule: str = "cosine"
    cooldown: float = 0.5
    time_budget: float | None = None

    def __post_init__(self) -> None:
        if self.optimizer not in ("adamw", "muon"):
            raise ValueError(f"optimizer must be 'adamw' or 'muon', got {self.optimizer!r}")
        if self.schedule not in ("cosine", "wsd"):
            raise ValueError(f"schedule must be 'cosine' or 'wsd', got {self.schedule!r}")
        if not 0 < self.cooldown <= 1:
            raise ValueError(f"cooldown must be a fraction in (0, 1], got {self.cooldown}")
        if not self.muon_lr > 0:
            raise ValueError(f"muon_lr must be positive, got {self.muon_lr}")
        if self.time_budget is not None and not self.time_budget > 0:
            raise ValueError(f"time_budget must be a positive number of seconds (or None), "
                             f"got {self.time_budget}")
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
    iteration to the text generated then; ``seconds`` is the wall time,
    ``train_seconds`` the part spent in training steps (without the
    evaluations: what a time budget counts).
    """

    iters: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    samples: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0
    train_seconds: float = 0.0

    @property
    def iterations(self) -> int:
        """Number of optimisation steps taken."""
        return len(self.step_loss)


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


def _optimizer(model: GPT, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW with weight decay on the matrices only (not on biases and norm gains),
    or Muon for the block matrices plus that AdamW for the rest. Every
    parameter group remembers its peak rate as ``initial_lr``."""
    if cfg.optimizer == "muon":
        optimizer = muon_and_adamw(model, muon_lr=cfg.muon_lr, adam_lr=cfg.learning_rate,
                                   weight_decay=cfg.weight_decay, betas=(cfg.beta1, cfg.beta2),
                                   momentum=cfg.muon_momentum)
    else:
        matrices = [p for p in model.parameters() if p.dim() >= 2]
        others = [p for p in model.parameters() if p.dim() < 2]
        optimizer = torch.optim.AdamW(
            [{"params": matrices, "weight_decay": cfg.weight_decay},
             {"params": others, "weight_decay": 0.0}],
            lr=cfg.learning_rate, betas=(cfg.beta1, cfg.beta2),
        )
    for group in optimizer.param_groups:
        group.setdefault("initial_lr", group["lr"])
    return optimizer


def lr_factor(cfg: TrainConfig, it: int, progress: float) -> float:
    """The learning rate of iteration ``it`` as a fraction of the peak rate.

    ``progress`` in ``[0, 1]`` is how much of the run is done: ``it / max_iters``,
    or with a time budget the larger of that and the fraction of the budget
    used. The warm-up counts iterations; the decay follows ``progress``
    (for a run without a time budget, ``"cosine"`` is exactly
    :func:`llmbook.train.cosine_schedule`).
    """
    ratio = cfg.min_lr / cfg.learning_rate
    if it < cfg.warmup_iters:
        return (it + 1) / cfg.warmup_iters
    if cfg.schedule == "wsd":
        left = 1.0 - progress  # the fraction of the run still to come
        return 1.0 if left >= cfg.cooldown else ratio + (1.0 - ratio) * max(0.0, left) / cfg.cooldown
    if cfg.time_budget is None:
        return cosine_schedule(1.0, ratio, cfg.warmup_iters, cfg.max_iters)(it)
    return ratio + 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress))) * (1.0 - ratio)


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
    optimizer = _optimizer(model, cfg)
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

    def progress_at(it: int) -> float:  # the fraction of the run done before iteration `it`
        done = it / cfg.max_iters
        if cfg.time_budget is not None:
            done = max(done, result.train_seconds / cfg.time_budget)
        return done

    start_time = time.perf_counter()
    model.train()
    with _attention_backend(cfg.sdpa_backend):
        total = cfg.max_iters if cfg.time_budget is None else None
        bar = progress_bar(total=total, desc="training", unit="it", disable=not progress)
        it = 0
        while progress_at(it) < 1.0:
            if it % cfg.eval_interval == 0:
                record(it)
                bar.set_postfix(val_loss=f"{result.val_loss[-1]:.3f}", refresh=False)
            step_start = time.perf_counter()
            lr = lr_factor(cfg, it, progress_at(it))
            for group in optimizer.param_groups:
                group["lr"] = lr * group["initial_lr"]
            batch = random_windows(train_data, cfg.batch_size, model.config.block_size,
                                   generator=generator)
            loss = train_step(model, batch, optimizer, bf16=bf16,
                              clip_grad_norm=cfg.grad_clip if cfg.grad_clip > 0 else None)
            result.step_loss.append(loss.item())  # .item() waits for the step to finish
            result.lr.append(lr * cfg.learning_rate)
            result.train_seconds += time.perf_counter() - step_start
            it += 1
            bar.update(1)
        record(it)
        # The bar's last line shows the final validation loss, the one that goes
        # with the last entry of result.samples (closing first would lag by one).
        bar.set_postfix(val_loss=f"{result.val_loss[-1]:.3f}", refresh=False)
        bar.close()
    result.seconds = time.perf_counter() - start_time
    model.eval()
    return result


# ---------------------------------------------------------------------------
# The recipes compared in the book and in benchmarks/gpt_shakespeare.py
# ---------------------------------------------------------------------------

#: nanoGPT's documented CPU run on Tiny Shakespeare characters (its
#: ``config/train_shakespeare_char.py`` with the README's CPU overrides):
#: 4 layers, 4 heads, width 128, no biases, block 64, batch 12, 2000
#: iterations, learning rate 1e-3 decaying to 1e-4, float32.
NANOGPT_CPU_MODEL = dict(block_size=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0, bias=False)
NANOGPT_CPU_TRAIN = TrainConfig(max_iters=2000, batch_size=12, learning_rate=1e-3, min_lr=1e-4,
                                warmup_iters=100, weight_decay=0.1, beta2=0.99, grad_clip=1.0,
                                eval_interval=250, eval_iters=20, bf16=False)

#: The book's first recipe (GPT-2's architecture) for about four minutes on two
#: CPU cores: nanoGPT's model with a longer context, larger batches, a higher
#: peak learning rate, and bfloat16 autocast.
GPT2_BOOK_MODEL = dict(block_size=128, n_layer=4, n_head=4, n_embd=128, dropout=0.0, bias=True)
GPT2_BOOK_TRAIN = TrainConfig(max_iters=2000, batch_size=32, learning_rate=2e-3, min_lr=2e-4,
                              warmup_iters=100, weight_decay=0.1, beta2=0.99, grad_clip=1.0,
                              eval_interval=250, eval_iters=10, bf16=True, sdpa_backend="math")

#: The book's recipe: the same size of model with the modern changes of
#: chapter 13 and the speed-run (RMSNorm, rotary positions, a ReLU² MLP,
#: QK-norm, an untied head, no biases), Muon for the block matrices, a
#: warm-up/stable/decay schedule, and a budget of three minutes of training (so
#: that chapter 11 runs in five minutes; the benchmark gives every recipe four).
BOOK_MODEL = dict(block_size=128, n_layer=4, n_head=4, n_embd=128, dropout=0.0, bias=False,
                  norm="rms", position="rotary", mlp="relu2", qk_norm=True, tie_weights=False)
BOOK_TRAIN = TrainConfig(max_iters=100_000, batch_size=32, learning_rate=2e-3, min_lr=2e-5,
                         warmup_iters=100, weight_decay=0.1, beta2=0.99, grad_clip=1.0,
                         eval_interval=500, eval_iters=10, bf16=True, sdpa_backend="math",
                         optimizer="muon", muon_lr=0.05, schedule="wsd", cooldown=0.5,
                         time_budget=180.0)


def benchmark_results(name: str = "gpt_shakespeare") -> dict:
    """The results of ``benchmarks/<name>.py`` shipped with the book (``llmbook/results/<name>.json``).

    A dict with ``seconds`` (training time of every run), ``machine`` (where
    and when it ran: date, processor, threads, load average), ``note`` and
    ``rows`` (one per run: recipe, what it is, seed, parameters, iterations,
    tokens, val_loss, seconds).

    Raises:
        FileNotFoundError: if there are no results of that name.
    """
    path = resources.files("llmbook.results") / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no benchmark results named {name!r}: run benchmarks/{name}.py "
                                f"with --out src/llmbook/results/{name}.json")
    return json.loads(path.read_text())
