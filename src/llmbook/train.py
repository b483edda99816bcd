"""One training contract for every PyTorch model of the book.

Training a neural network always has the same shape: take a batch, compute
the loss, compute the gradients (``loss.backward()``), let the optimiser
update the parameters, repeat; now and then measure the loss on data the
model does not train on. This module is that shape, once, for every PyTorch
model of the book (MLPs, LSTMs, word2vec, GPT, BERT, a fine-tuned LLM).

The contract
------------
* A **batch** is whatever a batch source yields: usually ``(x, y)``, inputs
  and targets; any tuple, list or dict of tensors works (a Hugging Face
  tokenizer's output, ``(inputs, where, targets)`` for masked language
  modelling, a pair of chosen and rejected answers...). Batches are moved to
  the device the model lives on (:func:`to_device`).
* A **loss function** is ``loss_fn(model, batch) -> Tensor``: it runs the
  model on the batch and returns the mean loss as a scalar tensor. The
  default, :func:`next_token_loss`, is ``cross_entropy(model(x), y)`` and
  fits every model of the book that returns next-token logits (or a tuple
  whose first element is the logits, as the GPT and the LSTMs return);
  :func:`causal_lm_loss` is the same for a ``transformers`` causal LM.
  A model with another objective passes its own function, e.g.
  ``lambda model, batch: F.mse_loss(model(batch[0]), batch[1])``.
* A **learning-rate schedule** is ``lr_schedule(step) -> float``: the
  learning rate of optimisation step ``step`` (0, 1, 2, ... counted over the
  whole run, continued when a history is resumed). It is set on every
  parameter group before the step. :func:`cosine_schedule` builds the usual
  warm-up plus cosine decay. Without a schedule the optimiser's own rate is
  used.
* A **batch source** is either a callable returning one batch per call (for
  example a random sampler from :mod:`llmbook.batches`; an epoch is then
  ``steps_per_epoch`` calls), or an iterable of batches (a list, a
  ``DataLoader``; not a one-shot generator), read from the start again in
  every epoch (at most ``steps_per_epoch`` batches).

The pieces
----------
* :func:`train_step` is one optimisation step: loss, zero the gradients,
  backpropagate, clip, update. Every training loop of the book calls it.
* :func:`evaluate` is the mean loss on some batches, in evaluation mode and
  without gradients.
* :func:`fit` is the loop with epochs, validation, a progress bar, a
  :class:`History` and checkpoints. Chapters whose loop is the lesson write
  it out with :func:`train_step` and :func:`evaluate` instead (see
  :func:`llmbook.gpt_train.train_gpt`, nanoGPT's loop).

Everything runs on the device of the model (:func:`llmbook.devices.device_of`);
``bf16=True`` runs the forward pass under :func:`llmbook.devices.autocast`
(bfloat16 where the hardware supports it, float32 elsewhere).

Other objectives fit the same contract: instruction tuning is
:func:`causal_lm_loss` on batches whose ``labels`` are ``-100`` over the
prompt; a LoRA model trains with an optimiser built on its trainable
parameters only; a preference loss (DPO) is a ``loss_fn(model, batch)``
that reads a frozen reference model from its closure, on batches of chosen
and rejected answers. :func:`evaluate` weights each batch by its number of
targets (the last tensor of a tuple batch), else equally.

>>> import torch.nn.functional as F
>>> _ = torch.manual_seed(0)
>>> model = torch.nn.Linear(2, 1)
>>> x = torch.randn(64, 2); y = x @ torch.tensor([[2.0], [-1.0]])
>>> def mse(model, batch):
...     x, y = batch
...     return F.mse_loss(model(x), y)
>>> history = fit(model, [(x, y)], loss_fn=mse,
...               optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
...               epochs=50, progress=False)
>>> history.train_loss[-1] < history.train_loss[0] / 100
True
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from llmbook import _checks
from llmbook.devices import autocast, device_of
from llmbook.progress import progress_bar

__all__ = [
    "save_atomically",
    "Batch",
    "BatchSource",
    "LossFn",
    "Schedule",
    "History",
    "cross_entropy",
    "next_token_loss",
    "causal_lm_loss",
    "perplexity",
    "cosine_schedule",
    "to_device",
    "train_step",
    "evaluate",
    "fit",
    "save_checkpoint",
    "load_checkpoint",
]

#: One batch: ``(x, y)``, or any tuple, list or dict of tensors.
Batch = Any
#: A callable that returns a fresh batch per call, or an iterable of batches.
BatchSource = Union[Callable[[], Batch], Iterable[Batch]]
#: ``loss_fn(model, batch) -> scalar tensor``: the mean loss of the model on the batch.
LossFn = Callable[[nn.Module, Batch], Tensor]
#: ``lr_schedule(step) -> learning rate`` for optimisation step ``step`` (from 0).
Schedule = Callable[[int], float]


def cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy of next-token ``logits`` against integer ``targets``.

    Works for any number of leading dimensions: logits of shape
    ``(..., vocab_size)`` and targets of shape ``(...)``, e.g. ``(B, T, V)``
    with ``(B, T)``, or ``(B, V)`` with ``(B,)``. It flattens them and calls
    :func:`torch.nn.functional.cross_entropy`, which expects ``(N, V)`` and
    ``(N,)``, in float32 (logits of a half-precision model are converted).

    Raises:
        ValueError: if the leading shapes of logits and targets differ.
    """
    if logits.shape[:-1] != targets.shape:
        raise ValueError(
            f"logits of shape {tuple(logits.shape)} need targets of shape "
            f"{tuple(logits.shape[:-1])}, got {tuple(targets.shape)}"
        )
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets.reshape(-1))


def next_token_loss(model: nn.Module, batch: Batch) -> Tensor:
    """The default loss: ``cross_entropy(model(x), y)`` for a batch ``(x, y)``.

    Models that return a tuple (the GPT's ``(logits, loss)``, an LSTM's
    ``(logits, state)``) have their logits taken from its first element.
    """
    x, y = batch
    logits = model(x)
    if isinstance(logits, tuple):
        logits = logits[0]
    return cross_entropy(logits, y)


def causal_lm_loss(model: nn.Module, batch: Batch) -> Tensor:
    """The loss of a ``transformers`` causal language model (GPT-2, SmolLM2...) on a batch.

    ``batch`` is a ``(B, T)`` tensor of token ids, or a dict of the model's
    inputs (``input_ids``, ``attention_mask``, and optionally ``labels``:
    the ids to predict, ``-100`` where nothing is to be learned, such as the
    prompt of an instruction). Without ``labels`` the inputs are their own
    targets. The model shifts the labels by one position itself and returns
    the mean next-token cross-entropy.
    """
    inputs = dict(batch) if isinstance(batch, Mapping) else {"input_ids": batch}
    inputs.setdefault("labels", inputs["input_ids"])
    return model(**inputs).loss


def perplexity(loss: float) -> float:
    """``exp(loss)``: the effective number of equally likely choices per token.

    ``loss`` is a mean cross-entropy in nats (natural logarithm), as computed
    by :func:`cross_entropy`.

    >>> round(perplexity(math.log(65)), 6)
    65.0
    """
    return math.exp(loss)


def cosine_schedule(peak_lr: float, min_lr: float, warmup_steps: int, total_steps: int) -> Schedule:
    """Linear warm-up to ``peak_lr`` over ``warmup_steps``, then cosine decay to ``min_lr``.

    The schedule of GPT-2 and nanoGPT: step ``s < warmup_steps`` gets
    ``peak_lr * (s + 1) / warmup_steps``; afterwards the rate follows half a
    cosine from ``peak_lr`` down to ``min_lr`` at ``total_steps`` and stays there.

    >>> lr = cosine_schedule(1.0, 0.1, warmup_steps=10, total_steps=110)
    >>> lr(0), lr(9), round(lr(60), 3), lr(110), lr(500)
    (0.1, 1.0, 0.55, 0.1, 0.1)

    Raises:
        ValueError: unless ``0 < min_lr <= peak_lr``, ``warmup_steps >= 0``
            and ``total_steps >= 1``.
    """
    if not 0 < min_lr <= peak_lr:
        raise ValueError(f"need 0 < min_lr <= peak_lr, got {min_lr} and {peak_lr}")
    _checks.non_negative_int("warmup_steps", warmup_steps)
    _checks.positive_int("total_steps", total_steps)

    def lr_at(step: int) -> float:
        if step < warmup_steps:
            return peak_lr * (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (peak_lr - min_lr)

    return lr_at


@dataclass
class History:
    """What happened during training.

    Attributes:
        train_loss: mean training loss of the batches of each epoch (measured
            while the model was changing, so slightly pessimistic).
        val_loss: validation loss after each epoch (empty without validation).
        epoch_time: wall-clock seconds taken by each epoch, validation included.
        step_loss: the training loss of every optimisation step.
        lr: the learning rate of every optimisation step (of the first
            parameter group).
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        """Number of epochs recorded."""
        return len(self.train_loss)

    @property
    def train_perplexity(self) -> list[float]:
        """``exp`` of each training loss (meaningful for cross-entropy losses)."""
        return [perplexity(v) for v in self.train_loss]

    @property
    def val_perplexity(self) -> list[float]:
        """``exp`` of each validation loss (meaningful for cross-entropy losses)."""
        return [perplexity(v) for v in self.val_loss]

    @property
    def wall_time(self) -> float:
        """Total seconds spent training, over all recorded epochs."""
        return sum(self.epoch_time)

    def to_dict(self) -> dict[str, list[float]]:
        """Plain lists, for saving (see :func:`save_checkpoint`)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, list[float]]) -> History:
        """Rebuild a history saved with :meth:`to_dict`."""
        return cls(**{k: list(v) for k, v in data.items()})


def to_device(batch: Batch, device: torch.device | str) -> Batch:
    """Move a tensor, or the tensors in a tuple, list or dict, to ``device``."""
    if isinstance(batch, Tensor):
        return batch.to(device)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(b, device) for b in batch)
    return batch


def _batches(source: BatchSource, steps: int | None, what: str) -> Iterable[Batch]:
    """The batches of one epoch from a batch source (see module docstring)."""
    if callable(source):
        if steps is None:
            raise ValueError(
                f"{what} is a callable that makes batches on demand, so the number "
                f"of batches per epoch must be given (steps_per_epoch / val_steps)"
            )
        return (source() for _ in range(steps))
    if isinstance(source, Iterable):
        if steps is None:
            return source
        return (batch for _, batch in zip(range(steps), source))
    raise TypeError(
        f"{what} must be a callable returning a batch or an iterable of batches, "
        f"got {type(source).__name__}"
    )


def _target_count(batch: Batch) -> int:
    """How many predictions a batch stands for (its weight in a mean): the
    number of elements of its last tensor, the targets, in a tuple or list."""
    if isinstance(batch, (tuple, list)) and batch and isinstance(batch[-1], Tensor):
        return batch[-1].numel()
    return 1


def train_step(
    model: nn.Module,
    batch: Batch,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn = next_token_loss,
    *,
    lr: float | None = None,
    clip_grad_norm: float | None = None,
    bf16: bool = False,
) -> Tensor:
    """One optimisation step on one batch; returns the loss (detached).

    Set the learning rate (if ``lr`` is given), compute the loss, zero the old
    gradients, backpropagate, optionally rescale the gradients so that their
    total norm is at most ``clip_grad_norm``, and let the optimiser update
    the parameters. The batch is moved to the model's device first.

    Raises:
        FloatingPointError: if the loss is NaN or infinite (before the update).
    """
    if lr is not None:
        for group in optimizer.param_groups:
            group["lr"] = lr
    batch = to_device(batch, device_of(model))
    with autocast(device_of(model), enabled=bf16):
        loss = loss_fn(model, batch)
    if not torch.isfinite(loss):
        raise FloatingPointError(f"the training loss became {loss.item()}")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip_grad_norm is not None:
        nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
    optimizer.step()
    return loss.detach()


@torch.no_grad()
def evaluate(
    model: nn.Module,
    batches: BatchSource,
    *,
    loss_fn: LossFn = next_token_loss,
    steps: int | None = None,
    bf16: bool = False,
) -> float:
    """Mean loss of ``model`` on ``batches``, without training it.

    The model is put in evaluation mode (``model.eval()``, which switches off
    dropout) and gradients are not computed; its previous mode is restored at
    the end. Batches are moved to the model's device. Each batch's loss is
    weighted by its number of targets (the elements of the last tensor of a
    tuple batch, ``y.numel()`` for ``(x, y)``; 1 for other batches), so
    batches of different sizes give the exact mean over all predictions.

    Args:
        model: the network.
        batches: a batch source (see the module docstring).
        loss_fn: ``loss_fn(model, batch)``, a mean over the batch.
        steps: number of batches to use; required when ``batches`` is callable.
        bf16: run under :func:`llmbook.devices.autocast`.

    Raises:
        ValueError: if ``steps`` is not positive, is missing for a callable,
            or the source yields no batches.
    """
    _checks.positive_int("steps", steps, optional=True)
    dev = device_of(model)
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        for batch in _batches(batches, steps, "batches"):
            batch = to_device(batch, dev)
            n = _target_count(batch)
            with autocast(dev, enabled=bf16):
                total += float(loss_fn(model, batch)) * n
            count += n
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("evaluate got no batches")
    return total / count


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    history: History | None = None,
) -> Path:
    """Save model (and optimiser) state and the history to ``path``, atomically.

    The file is written under a temporary name in the same folder and then
    renamed, so an interrupted save never leaves a half-written checkpoint.
    Returns the path.
    """
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "history": (history or History()).to_dict(),
    }
    return save_atomically(state, path)


def save_atomically(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save(obj)`` to ``path`` under a temporary name, then renamed into place.

    A reader never sees half a file, and an interrupted save leaves none
    (the folder is created if needed). Returns the path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    map_location: torch.device | str = "cpu",
) -> History:
    """Restore ``model`` (and ``optimizer``) from a checkpoint; return its history.

    Pass the returned history to :func:`fit` as ``history=`` to continue
    training where the checkpoint left off.

    Raises:
        FileNotFoundError: if there is no checkpoint at ``path``.
        ValueError: if ``optimizer`` is given but the checkpoint has no
            optimiser state.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    state = torch.load(path, map_location=map_location, weights_only=True)
    model.load_state_dict(state["model"])
    if optimizer is not None:
        if state["optimizer"] is None:
            raise ValueError(f"checkpoint {path} holds no optimizer state")
        optimizer.load_state_dict(state["optimizer"])
    return History.from_dict(state["history"])


def fit(
    model: nn.Module,
    train_batches: BatchSource,
    val_batches: BatchSource | None = None,
    *,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    loss_fn: LossFn = next_token_loss,
    lr_schedule: Schedule | None = None,
    steps_per_epoch: int | None = None,
    val_steps: int | None = None,
    clip_grad_norm: float | None = None,
    bf16: bool = False,
    checkpoint_path: str | os.PathLike | None = None,
    history: History | None = None,
    on_epoch_end: Callable[[int, History], None] | None = None,
    progress: bool = True,
) -> History:
    """Train ``model`` for ``epochs`` epochs and return the :class:`History`.

    Every step is a :func:`train_step` (with the rate ``lr_schedule(step)``
    if a schedule is given). After each epoch the model is evaluated on
    ``val_batches`` (if given) with :func:`evaluate`, the history is updated,
    a checkpoint is saved (if ``checkpoint_path`` is given) and
    ``on_epoch_end(epoch, history)`` is called (``epoch`` counts from 1 over
    the whole history).

    Args:
        model: the network, already on the device to train on.
        train_batches: batch source for training (see the module docstring).
        val_batches: batch source for validation, or ``None``.
        optimizer: e.g. ``torch.optim.Adam(model.parameters(), lr=1e-3)``.
        epochs: number of epochs to train (positive).
        loss_fn: ``loss_fn(model, batch)``; default :func:`next_token_loss`.
        lr_schedule: ``lr_schedule(step)``, the learning rate of each step.
        steps_per_epoch: training batches per epoch; required when
            ``train_batches`` is callable, optional cap for an iterable.
        val_steps: validation batches per evaluation; defaults to
            ``steps_per_epoch`` for a callable ``val_batches``.
        clip_grad_norm: if given, rescale gradients whose total norm exceeds it.
        bf16: forward passes under :func:`llmbook.devices.autocast`.
        checkpoint_path: if given, save model, optimiser and history there
            after every epoch (atomically, see :func:`save_checkpoint`).
        history: a history to continue (e.g. from :func:`load_checkpoint`);
            new epochs are appended to it and the schedule continues from its
            last step. A new one by default.
        on_epoch_end: called after every epoch, e.g. to print a sample.
        progress: show a progress bar (:func:`llmbook.progress.progress_bar`).

    Raises:
        ValueError: for a non-positive ``epochs``, ``steps_per_epoch``,
            ``val_steps`` or ``clip_grad_norm``, a learning rate that is not
            positive, a callable batch source without a step count, or a
            source that yields no batches.
        FloatingPointError: if the training loss becomes NaN or infinite.
    """
    _checks.positive_int("epochs", epochs)
    _checks.positive_int("steps_per_epoch", steps_per_epoch, optional=True)
    _checks.positive_int("val_steps", val_steps, optional=True)
    if clip_grad_norm is not None and not clip_grad_norm > 0:
        raise ValueError(f"clip_grad_norm must be positive, got {clip_grad_norm!r}")
    history = history if history is not None else History()
    step = len(history.step_loss)
    rates = [lr_schedule(step)] if lr_schedule is not None else [
        float(g["lr"]) if g.get("lr") is not None else None for g in optimizer.param_groups]
    for lr in rates:
        if lr is None or not lr > 0:
            raise ValueError(f"the learning rate must be positive, got lr={lr!r}")
    if val_batches is not None and val_steps is None and callable(val_batches):
        val_steps = steps_per_epoch
    # Fail early on a wrong kind of source, before any training happens.
    _batches(train_batches, steps_per_epoch, "train_batches")
    if val_batches is not None:
        _batches(val_batches, val_steps, "val_batches")

    per_epoch = steps_per_epoch
    if per_epoch is None and hasattr(train_batches, "__len__"):
        per_epoch = len(train_batches)
    total = epochs * per_epoch if per_epoch is not None else None
    bar = progress_bar(total=total, desc="training", unit="step", disable=not progress)
    try:
        for _ in range(epochs):
            start = time.perf_counter()
            model.train()
            loss_sum, n_steps = 0.0, 0
            for batch in _batches(train_batches, steps_per_epoch, "train_batches"):
                lr = lr_schedule(step) if lr_schedule is not None else None
                try:
                    loss = train_step(model, batch, optimizer, loss_fn, lr=lr,
                                      clip_grad_norm=clip_grad_norm, bf16=bf16).item()
                except FloatingPointError as error:
                    raise FloatingPointError(
                        f"{error} in epoch {history.epochs + 1}, step {n_steps + 1}; "
                        f"try a smaller learning rate or gradient clipping") from None
                history.step_loss.append(loss)
                history.lr.append(float(optimizer.param_groups[0]["lr"]))
                loss_sum += loss
                n_steps += 1
                step += 1
                bar.update(1)
            if n_steps == 0:
                raise ValueError("train_batches yielded no batches")
            history.train_loss.append(loss_sum / n_steps)
            postfix = {"train": f"{history.train_loss[-1]:.3f}"}
            if val_batches is not None:
                history.val_loss.append(evaluate(model, val_batches, loss_fn=loss_fn,
                                                 steps=val_steps, bf16=bf16))
                postfix["val"] = f"{history.val_loss[-1]:.3f}"
            history.epoch_time.append(time.perf_counter() - start)
            bar.set_postfix(postfix, refresh=False)
            if checkpoint_path is not None:
                save_checkpoint(checkpoint_path, model, optimizer, history)
            if on_epoch_end is not None:
                on_epoch_end(history.epochs, history)
    finally:
        bar.close()
    return history
