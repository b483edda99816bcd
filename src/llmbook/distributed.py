"""Data parallelism: the same model on several processes, each on its own slice of the batch.

Every process (a *rank*) holds a full copy of the model. At each step

1. the global batch of ``B`` examples is cut into ``world_size`` equal
   shards (:func:`shard`); rank ``r`` keeps shard ``r``;
2. each rank computes the loss and its gradients on its shard only;
3. an *all-reduce* sums every gradient over the ranks, and dividing by the
   number of ranks gives the gradient of the mean loss over the whole batch
   (:func:`average_gradients`);
4. every rank takes the same optimiser step with the same gradient, so the
   copies stay identical.

PyTorch's :class:`~torch.nn.parallel.DistributedDataParallel` (DDP) does
steps 3 and 4's bookkeeping for us, overlapping the all-reduce with the
backward pass; :func:`torch.distributed.fsdp.fully_shard` (FSDP) also shards
the weights, gradients and optimiser states over the ranks.

This module is also a script, started with ``torchrun`` (see :func:`launch`)::

    torchrun --nproc_per_node=2 -m llmbook.distributed --modes scratch ddp --out results

Each rank trains a small GPT on a fixed series of batches in each mode, and
rank 0 saves the final weights of every mode (``<out>/<mode>.pt``) with a
summary (``<out>/summary.json``): the largest difference between the ranks'
weights, the local parameter counts, and the time per step. A single
process with the whole batch (:func:`train_steps` with ``world_size=1``)
must end with the same weights, up to float rounding.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import Tensor, nn

from llmbook.models.gpt import GPT, GPTConfig

__all__ = [
    "DataParallelConfig",
    "MODES",
    "shard",
    "average_gradients",
    "make_model",
    "make_batches",
    "train_steps",
    "flat_weights",
    "port_is_free",
    "free_port",
    "launch",
    "main",
]

#: How the ranks keep their copies in step: our own all-reduce, PyTorch's
#: DistributedDataParallel, or fully sharded data parallelism (FSDP).
MODES = ("scratch", "ddp", "fsdp")


@dataclass(frozen=True)
class DataParallelConfig:
    """A small GPT, the batches it trains on, and the optimiser.

    ``batch_size`` is the *global* batch: the sum over all ranks. Dropout is
    off, so that the data-parallel runs can be compared with a single
    process exactly.
    """

    steps: int = 5
    batch_size: int = 8
    block_size: int = 32
    n_layer: int = 2
    n_head: int = 2
    n_embd: int = 32
    vocab_size: int = 65
    learning_rate: float = 1e-3
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "block_size", "n_layer", "n_head", "n_embd", "vocab_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate}")

    def check_world_size(self, world_size: int) -> None:
        """Raise a clear error unless the batch splits into ``world_size`` equal shards."""
        if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
            raise ValueError(f"world_size must be a positive integer, got {world_size!r}")
        if world_size > self.batch_size:
            raise ValueError(
                f"world size {world_size} is larger than the batch of {self.batch_size} examples: "
                f"some ranks would get no data; use a batch of at least {world_size}"
            )
        if self.batch_size % world_size:
            raise ValueError(
                f"a batch of {self.batch_size} examples does not split into {world_size} equal shards; "
                f"use a multiple of {world_size}"
            )


def shard(batch: Tensor, rank: int, world_size: int) -> Tensor:
    """Rank ``rank``'s contiguous share of ``batch`` (split along the first dimension).

    >>> shard(torch.arange(6), rank=1, world_size=3).tolist()
    [2, 3]

    Raises:
        ValueError: if ``world_size`` exceeds the batch, the batch does not
            split evenly, or ``rank`` is not in ``0..world_size-1``.
    """
    n = len(batch)
    if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"world_size must be a positive integer, got {world_size!r}")
    if world_size > n:
        raise ValueError(f"world size {world_size} is larger than the batch of {n}: some ranks would get no data")
    if n % world_size:
        raise ValueError(f"a batch of {n} does not split into {world_size} equal shards")
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in 0..{world_size - 1}, got {rank}")
    size = n // world_size
    return batch[rank * size : (rank + 1) * size]


def average_gradients(model: nn.Module) -> None:
    """Replace every gradient by its mean over all ranks (one all-reduce per tensor).

    After each rank has called ``loss.backward()`` on its own shard, this is
    the gradient of the mean loss over the whole global batch (the shards
    being of equal size).
    """
    world_size = dist.get_world_size()
    for p in model.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
            p.grad /= world_size


def make_model(cfg: DataParallelConfig) -> GPT:
    """The GPT of ``cfg``, initialised from ``cfg.seed`` (the same on every rank)."""
    torch.manual_seed(cfg.seed)
    return GPT(GPTConfig(vocab_size=cfg.vocab_size, block_size=cfg.block_size, n_layer=cfg.n_layer,
                         n_head=cfg.n_head, n_embd=cfg.n_embd, dropout=0.0))


def make_batches(cfg: DataParallelConfig) -> list[tuple[Tensor, Tensor]]:
    """``cfg.steps`` global batches ``(x, y)`` of random token ids, the same on every rank.

    The model learns to copy each input token one position later (``y`` is
    ``x`` shifted), a task it can make progress on in a few steps.
    """
    generator = torch.Generator().manual_seed(cfg.seed + 1)
    ids = torch.randint(cfg.vocab_size, (cfg.steps, cfg.batch_size, cfg.block_size + 1), generator=generator)
    return [(b[:, :-1], b[:, 1:]) for b in ids]


def train_steps(
    model: nn.Module,
    batches: list[tuple[Tensor, Tensor]],
    learning_rate: float,
    *,
    rank: int = 0,
    world_size: int = 1,
    sync: str = "none",
) -> tuple[list[float], list[float]]:
    """Train ``model`` on ``batches``, each rank on its shard; return the losses and step times.

    ``sync`` says how the gradients are combined: ``"none"`` (a single
    process, or a wrapper such as DDP or FSDP that does it inside
    ``backward``) or ``"scratch"`` (:func:`average_gradients`). The returned
    losses are this rank's, on its own shard.
    """
    if sync not in ("none", "scratch"):
        raise ValueError(f"sync must be 'none' or 'scratch', got {sync!r}")
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    losses, seconds = [], []
    for x, y in batches:
        start = time.perf_counter()
        x, y = shard(x, rank, world_size), shard(y, rank, world_size)
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if sync == "scratch":
            average_gradients(model)
        optimizer.step()
        seconds.append(time.perf_counter() - start)
        losses.append(loss.item())
    return losses, seconds


def flat_weights(model: nn.Module) -> Tensor:
    """All of ``model``'s weights in one float32 vector (FSDP shards gathered first)."""
    parts = []
    for _, value in sorted(model.state_dict().items()):
        if hasattr(value, "full_tensor"):  # an FSDP DTensor: each rank holds a shard
            value = value.full_tensor()
        parts.append(value.detach().float().reshape(-1))
    return torch.cat(parts)


def _shard_with_fsdp(model: GPT) -> nn.Module:
    from torch.distributed.fsdp import fully_shard

    for block in model.blocks:
        fully_shard(block)
    fully_shard(model)  # the rest: embeddings (tied to the head) and the final layer norm
    return model


def _run_mode(mode: str, cfg: DataParallelConfig, out: Path, rank: int, world_size: int) -> dict:
    model: nn.Module = make_model(cfg)
    total = sum(p.numel() for p in model.parameters())
    if mode == "ddp":
        model = nn.parallel.DistributedDataParallel(model)
    elif mode == "fsdp":
        model = _shard_with_fsdp(model)
    local = sum(p.to_local().numel() if hasattr(p, "to_local") else p.numel() for p in model.parameters())
    losses, seconds = train_steps(model, make_batches(cfg), cfg.learning_rate, rank=rank,
                                  world_size=world_size, sync="scratch" if mode == "scratch" else "none")
    weights = flat_weights(model)
    gathered = [torch.empty_like(weights) for _ in range(world_size)]
    dist.all_gather(gathered, weights)
    locals_ = [torch.zeros(1, dtype=torch.long) for _ in range(world_size)]
    dist.all_gather(locals_, torch.tensor([local]))
    rank_losses = [torch.empty(len(losses)) for _ in range(world_size)]
    dist.all_gather(rank_losses, torch.tensor(losses))
    if rank == 0:
        torch.save(weights, out / f"{mode}.pt")
        per = cfg.batch_size // world_size
        for step in range(len(losses)):
            cells = ", ".join(f"rank {r} {float(rank_losses[r][step]):.4f} (examples {r * per}-{(r + 1) * per - 1})"
                              for r in range(world_size))
            print(f"  step {step + 1}: loss on each shard: {cells}", flush=True)
        print(f"  weights of the ranks differ by at most {max(float((g - gathered[0]).abs().max()) for g in gathered):.1e}; "
              f"parameters held by each rank: {', '.join(f'{int(t):,}' for t in locals_)} of {total:,}", flush=True)
    return {
        "max_rank_difference": max(float((g - gathered[0]).abs().max()) for g in gathered),
        "parameters": total,
        "local_parameters": [int(t) for t in locals_],
        "seconds_per_step": seconds,
        "losses": [t.tolist() for t in rank_losses],
    }


def main(argv: list[str] | None = None) -> None:
    """The script run on every rank by ``torchrun`` (see the module docstring)."""
    parser = argparse.ArgumentParser(description="Data-parallel training of a small GPT on CPU processes.")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=["scratch", "ddp"])
    parser.add_argument("--out", type=Path, required=True, help="folder for the weights and summary.json")
    parser.add_argument("--backend", default="gloo", help="gloo for CPUs, nccl for NVIDIA GPUs")
    for field, value in asdict(DataParallelConfig()).items():
        parser.add_argument(f"--{field.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args(argv)
    cfg = DataParallelConfig(**{k: getattr(args, k) for k in asdict(DataParallelConfig())})
    dist.init_process_group(args.backend)
    try:
        rank, world_size = dist.get_rank(), dist.get_world_size()
        cfg.check_world_size(world_size)
        args.out.mkdir(parents=True, exist_ok=True)
        summary = {"world_size": world_size, "threads_per_rank": torch.get_num_threads(), "config": asdict(cfg)}
        for mode in args.modes:
            if rank == 0:
                print(f"--- {mode}: {world_size} ranks, {cfg.batch_size // world_size} of the "
                      f"{cfg.batch_size} examples each ---", flush=True)
            dist.barrier()
            summary[mode] = _run_mode(mode, cfg, args.out, rank, world_size)
            dist.barrier()
        if rank == 0:
            (args.out / "summary.json").write_text(json.dumps(summary, indent=1))
    finally:
        dist.destroy_process_group()


# ---------------------------------------------------------------------------
# Starting the ranks: torchrun as a subprocess
# ---------------------------------------------------------------------------


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a TCP server could listen on ``host:port`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free now (chosen by the operating system)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def launch(
    nproc: int,
    out: str | os.PathLike,
    cfg: DataParallelConfig = DataParallelConfig(),
    *,
    modes: tuple[str, ...] = ("scratch", "ddp"),
    port: int | None = None,
    threads_per_rank: int = 1,
    timeout: float = 300.0,
) -> tuple[str, dict]:
    """Run this module on ``nproc`` CPU processes with ``torchrun`` and the gloo backend.

    Returns the ranks' printed output and the summary that rank 0 wrote to
    ``out/summary.json``. The weights of each mode are in ``out/<mode>.pt``.

    Raises:
        ValueError: for an unknown mode, ``nproc`` < 1, or a global batch that
            does not split into ``nproc`` equal shards (e.g. more processes
            than examples).
        OSError: if ``port`` is already in use.
        TimeoutError: if the run takes longer than ``timeout`` seconds (the
            processes are killed).
        RuntimeError: if a rank fails (with the end of its error output).
    """
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise ValueError(f"modes must be a non-empty selection of {MODES}, got {modes!r}")
    cfg.check_world_size(nproc)
    if port is None:
        port = free_port()
    elif not port_is_free(port):
        raise OSError(f"port {port} is already in use on 127.0.0.1: pick another (or port=None for a free one)")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").unlink(missing_ok=True)
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in asdict(cfg).items()]
    command = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", "--nnodes=1",
               "--master_addr=127.0.0.1", f"--master_port={port}", "-m", "llmbook.distributed",
               "--modes", *modes, "--out", str(out), *flags]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads_per_rank), "PYTHONUNBUFFERED": "1"}
    # A session of its own, so that a timeout stops torchrun *and* the ranks it started.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as err:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise TimeoutError(f"the {nproc}-process run did not finish within {timeout:g} s and was stopped") from err
    if process.returncode != 0 or not (out / "summary.json").is_file():
        tail = "\n".join((stderr or stdout).strip().splitlines()[-15:])
        raise RuntimeError(f"the {nproc}-process run failed (exit code {process.returncode}):\n{tail}")
    return stdout, json.loads((out / "summary.json").read_text())


if __name__ == "__main__":
    main()
