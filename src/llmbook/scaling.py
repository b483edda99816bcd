"""Scaling up: the memory a model needs to train, power laws, and a family of GPTs.

Three ideas of the chapter "Scaling up":

- **Memory arithmetic.** Training with Adam in mixed precision keeps about
  16 bytes per parameter (:data:`BYTES_PER_PARAMETER`) plus the activations
  saved for the backward pass (:func:`activation_bytes`); sharding the model
  states over devices (ZeRO/FSDP), splitting the layers' matrices (tensor
  parallelism) or the stack of layers (pipeline parallelism) divides them
  (:func:`bytes_per_device`).
- **Power laws.** A loss that falls as ``L = a * x**(-alpha)`` is a straight
  line on log-log axes; :func:`fit_power_law` fits one.
- **A family of GPTs.** :func:`train_family` trains GPTs of increasing size,
  each on the same number of tokens per parameter as chapter 11's model,
  with the book's recipe (:func:`train_recipe` is the one place that calls
  the trainer).
"""

from __future__ import annotations

import dataclasses
import json
from importlib import resources
import math
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from llmbook.devices import bf16_supported
from llmbook.devices import device as default_device
from llmbook.models.gpt import GPT, GPTConfig, count_gpt_parameters
from llmbook.nn_basics import count_parameters
from llmbook.gpt_train import GPT2_BOOK_MODEL, GPT2_BOOK_TRAIN, TrainConfig, TrainResult, estimate_loss, train_gpt
from llmbook.progress import progress_bar

__all__ = [
    "BYTES_PER_PARAMETER",
    "ModelShape",
    "MODEL_SHAPES",
    "training_state_bytes",
    "activation_bytes",
    "bytes_per_device",
    "PowerLaw",
    "fit_power_law",
    "training_flops",
    "compute_optimal",
    "non_embedding_parameters",
    "FamilyMember",
    "SCALING_FAMILY",
    "tokens_per_parameter",
    "train_recipe",
    "train_family",
    "NANOGPT_GPU_MODEL",
    "NANOGPT_GPU_TRAIN",
    "FINAL_EVAL",
    "GPU_BENCHMARK",
    "gpu_benchmark",
    "run_recipe",
    "hardware_name",
    "pipeline_bubble",
]

GiB = 2**30

# ---------------------------------------------------------------------------
# Memory
# ---------------------------------------------------------------------------

#: Bytes kept per parameter when training with Adam in mixed precision
#: (the accounting of the ZeRO paper): 16 in all.
BYTES_PER_PARAMETER = {
    "weights (bf16)": 2,
    "gradients (bf16)": 2,
    "master weights (fp32)": 4,
    "Adam first moment (fp32)": 4,
    "Adam second moment (fp32)": 4,
}


@dataclass(frozen=True)
class ModelShape:
    """The shape of a GPT-2-style model: depth, width, heads, vocabulary, context."""

    name: str
    n_layer: int
    n_embd: int
    n_head: int
    vocab_size: int
    block_size: int

    @property
    def parameters(self) -> int:
        """Parameter count of a GPT-2-style model of this shape (:func:`count_gpt_parameters`)."""
        return count_gpt_parameters(GPTConfig(vocab_size=self.vocab_size, block_size=self.block_size,
                                              n_layer=self.n_layer, n_head=self.n_head, n_embd=self.n_embd))


#: From GPT-2 small to the depth and width of a 70B model. The last two use
#: Llama 2's depths, widths, vocabulary and context with GPT-2's blocks, so
#: their counts come out a little below Llama 2's 7B and 70B.
MODEL_SHAPES = (
    ModelShape("GPT-2 small", 12, 768, 12, 50257, 1024),
    ModelShape("GPT-2 XL", 48, 1600, 25, 50257, 1024),
    ModelShape("7B shape", 32, 4096, 32, 32000, 4096),
    ModelShape("70B shape", 80, 8192, 64, 32000, 4096),
)


def training_state_bytes(n_params: int) -> dict[str, int]:
    """The bytes of the *model states* (weights, gradients, optimiser) for ``n_params`` parameters.

    >>> sum(training_state_bytes(1_000_000).values())
    16000000
    """
    if n_params < 0:
        raise ValueError(f"n_params must be non-negative, got {n_params}")
    return {name: n_params * size for name, size in BYTES_PER_PARAMETER.items()}


def activation_bytes(shape: ModelShape, batch_size: int, context: int, *, flash_attention: bool = True) -> int:
    """Bytes of activations kept for the backward pass, for 16-bit activations.

    Per layer, ``s * b * h * (34 + 5 * a * s / h)`` bytes for a batch of
    ``b`` sequences of ``s`` tokens, width ``h`` and ``a`` heads
    (Korthikanti et al., 2023). The ``34`` counts the inputs of the layer
    norms, matrix products, GELU and dropout masks; the ``5 a s / h`` the
    ``a`` attention matrices of ``s x s`` scores, their softmax and dropout
    mask, which a fused ("flash") attention kernel never stores.

    >>> activation_bytes(ModelShape("toy", 1, 8, 2, 10, 4), batch_size=1, context=4)
    1088
    """
    for name, value in (("batch_size", batch_size), ("context", context)):
        if value < 1:
            raise ValueError(f"{name} must be positive, got {value}")
    s, b, h, a = context, batch_size, shape.n_embd, shape.n_head
    per_token_and_width = 34 if flash_attention else 34 + 5 * a * s / h
    return int(round(shape.n_layer * s * b * h * per_token_and_width))


def bytes_per_device(
    n_params: int, *, data: int = 1, tensor: int = 1, pipeline: int = 1, zero_stage: int = 0
) -> float:
    """Model-state bytes on each device (16 per parameter, divided up).

    Tensor parallelism over ``tensor`` devices splits every layer's matrices;
    pipeline parallelism over ``pipeline`` devices gives each a slice of the
    layers: both divide all 16 bytes. Data parallelism over ``data`` devices
    replicates the model, unless ZeRO shards it: stage 1 shards the optimiser
    states (12 bytes), stage 2 also the gradients (2 bytes), stage 3 (FSDP)
    also the weights (2 bytes).

    >>> bytes_per_device(1000, data=4, zero_stage=3)
    4000.0
    """
    for name, value in (("data", data), ("tensor", tensor), ("pipeline", pipeline)):
        if value < 1:
            raise ValueError(f"{name} must be a positive number of devices, got {value}")
    if zero_stage not in (0, 1, 2, 3):
        raise ValueError(f"zero_stage must be 0, 1, 2 or 3, got {zero_stage}")
    per_model_slice = n_params / (tensor * pipeline)
    weights, grads, optimizer = 2.0, 2.0, 12.0
    optimizer /= data if zero_stage >= 1 else 1
    grads /= data if zero_stage >= 2 else 1
    weights /= data if zero_stage >= 3 else 1
    return per_model_slice * (weights + grads + optimizer)


def pipeline_bubble(stages: int, micro_batches: int) -> float:
    """The idle fraction of a pipeline of ``stages`` devices fed ``micro_batches`` per step (GPipe).

    Filling and draining the pipeline leaves each device idle for
    ``stages - 1`` of the ``micro_batches + stages - 1`` time slots.

    >>> pipeline_bubble(4, 1), pipeline_bubble(4, 12)
    (0.75, 0.2)
    """
    if stages < 1 or micro_batches < 1:
        raise ValueError(f"stages and micro_batches must be positive, got {stages} and {micro_batches}")
    return (stages - 1) / (micro_batches + stages - 1)


# ---------------------------------------------------------------------------
# Power laws and compute
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PowerLaw:
    """``y = scale * x**(-exponent)``: a straight line of slope ``-exponent`` on log-log axes."""

    scale: float
    exponent: float

    def __call__(self, x: float | np.ndarray) -> float | np.ndarray:
        return self.scale * np.asarray(x, dtype=float) ** (-self.exponent)


def fit_power_law(x: Sequence[float], y: Sequence[float]) -> PowerLaw:
    """Least-squares fit of ``log y = log scale - exponent * log x``.

    >>> law = fit_power_law([1, 10, 100], [2.0, 1.0, 0.5])
    >>> round(law.exponent, 4), round(law.scale, 4)
    (0.301, 2.0)

    Raises:
        ValueError: for fewer than two points, different lengths, values
            that are not positive, or all ``x`` equal.
    """
    x_arr, y_arr = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x_arr.shape != y_arr.shape or x_arr.ndim != 1:
        raise ValueError(f"x and y must be 1-D and of the same length, got shapes {x_arr.shape} and {y_arr.shape}")
    if len(x_arr) < 2:
        raise ValueError(f"a power law needs at least two points, got {len(x_arr)}")
    if not (np.all(x_arr > 0) and np.all(y_arr > 0)):
        raise ValueError("a power law is fitted on logarithms: every x and y must be positive")
    if np.ptp(x_arr) == 0:
        raise ValueError("all x are equal: the exponent is undetermined")
    slope, intercept = np.polyfit(np.log(x_arr), np.log(y_arr), 1)
    return PowerLaw(scale=float(np.exp(intercept)), exponent=float(-slope))


def training_flops(n_params: float, n_tokens: float) -> float:
    """``6 N D``: about 2 floating-point operations per parameter and token forward, 4 backward.

    >>> training_flops(1e6, 1e7) == 6e13
    True
    """
    return 6.0 * n_params * n_tokens


def compute_optimal(flops: float, tokens_per_param: float = 20.0) -> tuple[float, float]:
    """The model size ``N`` and tokens ``D`` that spend ``flops = 6 N D`` with ``D = tokens_per_param * N``.

    Chinchilla's rule of thumb (Hoffmann et al., 2022) is about 20 tokens
    per parameter: ``N = sqrt(flops / (6 * 20))``.

    >>> n, d = compute_optimal(6 * 20 * 1e18)
    >>> round(n), round(d)
    (1000000000, 20000000000)
    """
    if not flops > 0 or not tokens_per_param > 0:
        raise ValueError(f"flops and tokens_per_param must be positive, got {flops} and {tokens_per_param}")
    n = math.sqrt(flops / (6.0 * tokens_per_param))
    return n, tokens_per_param * n


# ---------------------------------------------------------------------------
# A family of small GPTs, trained with the book's recipe
# ---------------------------------------------------------------------------

#: The final validation estimate of chapter 11: 20 batches of 20 windows,
#: the same windows for every model (seed 1234).
FINAL_EVAL = dict(batch_size=20, n_batches=20, seed=1234)


def non_embedding_parameters(config: GPTConfig) -> int:
    """Parameters in the Transformer blocks: the ``N`` of the scaling laws (Kaplan et al., 2020).

    The embeddings and the final layer norm are left out; for a
    65-character vocabulary they matter little, for GPT-2's 50,257 tokens
    they are a large share of a small model.

    >>> non_embedding_parameters(GPTConfig(vocab_size=65, n_layer=4, n_embd=128))
    793088
    """
    per_block = 12 * config.n_embd**2 + (13 if config.bias else 2) * config.n_embd
    return config.n_layer * per_block


@dataclass(frozen=True)
class FamilyMember:
    """One model of the family: depth, heads and width (the rest as in chapter 11)."""

    n_layer: int
    n_head: int
    n_embd: int

    @property
    def name(self) -> str:
        return f"{self.n_layer}x{self.n_embd}"

    def config(self, vocab_size: int) -> GPTConfig:
        """The GPT configuration: chapter 11's model with this depth, width and heads."""
        return GPTConfig(vocab_size=vocab_size, **{**GPT2_BOOK_MODEL, "n_layer": self.n_layer,
                                                   "n_head": self.n_head, "n_embd": self.n_embd})


#: Chapter 11's architecture (4 blocks) at four widths, each model about
#: twice the size of the one before; chapter 11's model (width 128) is the
#: next step, four times the largest.
SCALING_FAMILY = (FamilyMember(4, 2, 24), FamilyMember(4, 2, 32), FamilyMember(4, 3, 48), FamilyMember(4, 4, 64))


def tokens_per_parameter(vocab_size: int = 65) -> float:
    """Training tokens per non-embedding parameter of chapter 11's run (its recipe ``GPT2_BOOK_TRAIN``)."""
    config = GPTConfig(vocab_size=vocab_size, **GPT2_BOOK_MODEL)
    tokens = GPT2_BOOK_TRAIN.max_iters * GPT2_BOOK_TRAIN.batch_size * config.block_size
    return tokens / non_embedding_parameters(config)


def train_recipe(
    config: GPTConfig,
    train_cfg: TrainConfig,
    train_ids: Tensor,
    val_ids: Tensor,
    *,
    device: torch.device | str | None = None,
    progress: bool = True,
    init_seed: int = 0,
) -> tuple[GPT, TrainResult, float]:
    """Build ``GPT(config)`` on ``device``, train it with ``train_cfg``; return it, its history and final loss.

    The final loss is chapter 11's estimate (:data:`FINAL_EVAL`) on
    ``val_ids``. ``device`` defaults to :func:`llmbook.devices.device`.
    """
    dev = default_device() if device is None else torch.device(device)
    torch.manual_seed(init_seed)
    model = GPT(config).to(dev)
    result = train_gpt(model, train_ids, val_ids, train_cfg, progress=progress)
    final = estimate_loss(model, val_ids, **FINAL_EVAL)
    return model, result, final


def train_family(
    members: Sequence[FamilyMember],
    train_ids: Tensor,
    val_ids: Tensor,
    *,
    vocab_size: int,
    tokens_per_param: float,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> list[dict]:
    """Train each member with chapter 11's recipe on ``tokens_per_param`` tokens per parameter.

    Each run keeps the book's batch (32 windows of 128 tokens), peak learning
    rate and schedule; only the number of iterations changes (and the
    warm-up, 5 % of them). Returns one row per model: its size, iterations,
    tokens, compute (``6 N D``), final validation loss and seconds.
    """
    if not tokens_per_param > 0:
        raise ValueError(f"tokens_per_param must be positive, got {tokens_per_param}")
    rows = []
    bar = progress_bar(members, desc="models", unit="model", lines=len(members), disable=not progress)
    for member in bar:
        config = member.config(vocab_size)
        n = non_embedding_parameters(config)
        tokens_per_iter = GPT2_BOOK_TRAIN.batch_size * config.block_size
        iters = max(2, round(tokens_per_param * n / tokens_per_iter))
        cfg = dataclasses.replace(GPT2_BOOK_TRAIN, max_iters=iters, warmup_iters=max(1, round(0.05 * iters)),
                                  eval_interval=iters, eval_iters=2)
        _, result, final = train_recipe(config, cfg, train_ids, val_ids, device=device, progress=False)
        rows.append({"model": member.name, "layers": member.n_layer, "width": member.n_embd,
                     "parameters": n, "iterations": iters, "tokens": iters * tokens_per_iter,
                     "flops": training_flops(n, iters * tokens_per_iter), "val_loss": final,
                     "seconds": result.seconds})
    return rows


# ---------------------------------------------------------------------------
# nanoGPT's GPU recipe (benchmarks/gpt_gpu.py and chapter 11's GPU section)
# ---------------------------------------------------------------------------

#: nanoGPT's ``config/train_shakespeare_char.py`` (its GPU run): 6 layers,
#: 6 heads, width 384, context 256, dropout 0.2, no biases (``train.py``'s
#: default ``bias = False``).
NANOGPT_GPU_MODEL = dict(block_size=256, n_layer=6, n_head=6, n_embd=384, dropout=0.2, bias=False)
#: Its training settings: batch 64, learning rate 1e-3 decaying to 1e-4 over
#: 5000 iterations after 100 of warm-up, beta2 0.99, weight decay 0.1 on the
#: matrices, gradient clipping at 1, an evaluation of 200 batches per split
#: every 250 iterations, bfloat16 autocast.
NANOGPT_GPU_TRAIN = TrainConfig(max_iters=5000, batch_size=64, learning_rate=1e-3, min_lr=1e-4,
                                warmup_iters=100, weight_decay=0.1, beta2=0.99, grad_clip=1.0,
                                eval_interval=250, eval_iters=200, bf16=True)


#: Where ``benchmarks/gpt_gpu.py``'s results on an NVIDIA H200 ship with the
#: package (the chapters read them when there is no GPU to train on).
GPU_BENCHMARK = resources.files("llmbook.results") / "gpt_gpu_h200.json"


def gpu_benchmark(path: str | Path | None = None) -> dict | None:
    """The results written by ``benchmarks/gpt_gpu.py`` (default :data:`GPU_BENCHMARK`), or ``None``.

    ``None`` when the file is absent (before anyone has run the benchmark on
    a GPU and committed its output).
    """
    source = GPU_BENCHMARK if path is None else Path(path)
    if not source.is_file():
        return None
    return json.loads(source.read_text(encoding="utf-8"))


def hardware_name(dev: torch.device | str) -> str:
    """A readable name of the hardware behind ``dev``: the GPU's, or the CPU's model name."""
    dev = torch.device(dev)
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    if dev.type == "mps":
        return "Apple GPU (MPS)"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} CPUs)"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} ({os.cpu_count()} CPUs)"


def run_recipe(
    name: str,
    model_cfg: dict,
    train_cfg: TrainConfig,
    train_ids: Tensor,
    val_ids: Tensor,
    *,
    vocab_size: int,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> dict:
    """Train one recipe with :func:`train_recipe` and summarise it as a JSON-ready dict.

    The summary (the format of ``benchmarks/gpt_gpu.py``'s ``runs``) holds the
    hardware, the wall time, the losses at every evaluation, the best
    validation loss and its iteration (nanoGPT keeps the checkpoint with the
    lowest validation loss and reports that one), the final validation loss
    measured as in chapter 11 (:data:`FINAL_EVAL`) and the peak GPU memory.
    """
    dev = default_device() if device is None else torch.device(device)
    config = GPTConfig(vocab_size=vocab_size, **model_cfg)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    model, result, final = train_recipe(config, train_cfg, train_ids, val_ids, device=dev, progress=progress)
    best = min(range(len(result.val_loss)), key=result.val_loss.__getitem__)
    return {
        "recipe": name,
        "hardware": hardware_name(dev),
        "model": dataclasses.asdict(config),
        "train": dataclasses.asdict(train_cfg),
        "parameters": count_parameters(model),
        "bf16": train_cfg.bf16 and bf16_supported(dev),
        "seconds": result.seconds,
        "seconds_per_iter": result.seconds / train_cfg.max_iters,
        "iters": result.iters,
        "train_loss": result.train_loss,
        "val_loss": result.val_loss,
        "best_val_loss": result.val_loss[best],
        "best_iter": result.iters[best],
        "final_val_loss": final,
        "final_eval": FINAL_EVAL,
        "peak_memory_gib": torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == "cuda" else None,
    }
