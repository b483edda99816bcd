"""One training loop for every PyTorch model of the book.

Training a neural network always has the same shape: take a batch, compute
the loss, compute the gradients (``loss.backward()``), let the optimiser
update the parameters, repeat; now and then measure the loss on data the
model does not train on. :func:`fit` is that loop, with a progress bar, a
per-epoch :class:`History` of train and validation loss, and optional
checkpoints. :func:`evaluate` measures the mean loss on some batches.

A *batch source* is either

- a **callable** returning one ``(x, y)`` batch per call (for example a
  random sampler from :mod:`llmbook.batches`); an epoch is then
  ``steps_per_epoch`` calls, or
- an **iterable** of ``(x, y)`` batches (a list, a ``DataLoader``; not a
  one-shot generator), read from the start again in every epoch (at most
  ``steps_per_epoch`` batches).

The loss function is called as ``loss_fn(model(x), y)``; the default,
:func:`cross_entropy`, fits every model that returns next-token logits.

>>> import torch
>>> _ = torch.manual_seed(0)
>>> model = torch.nn.Linear(2, 1)
>>> x = torch.randn(64, 2); y = x @ torch.tensor([[2.0], [-1.0]])
>>> history = fit(model, [(x, y)], loss_fn=torch.nn.functional.mse_loss,
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
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from llmbook.progress import progress_bar

__all__ = [
    "Batch",
    "BatchSource",
    "History",
    "cross_entropy",
    "perplexity",
    "evaluate",
    "fit",
    "save_checkpoint",
    "load_checkpoint",
]

#: One batch: inputs and targets (each a tensor, or anything with ``.to``).
Batch = tuple[Any, Any]
#: A callable that returns a fresh batch per call, or an iterable of batches.
BatchSource = Union[Callable[[], Batch], Iterable[Batch]]
#: ``loss_fn(model_output, targets) -> scalar tensor``.
LossFn = Callable[[Any, Any], Tensor]


def cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean cross-entropy of next-token ``logits`` against integer ``targets``.

    Works for any number of leading dimensions: logits of shape
    ``(..., vocab_size)`` and targets of shape ``(...)``, e.g. ``(B, T, V)``
    with ``(B, T)``, or ``(B, V)`` with ``(B,)``. It flattens them and calls
    :func:`torch.nn.functional.cross_entropy`, which expects ``(N, V)`` and
    ``(N,)``.

    Raises:
        ValueError: if the leading shapes of logits and targets differ.
    """
    if logits.shape[:-1] != targets.shape:
        raise ValueError(
            f"logits of shape {tuple(logits.shape)} need targets of shape "
            f"{tuple(logits.shape[:-1])}, got {tuple(targets.shape)}"
        )
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def perplexity(loss: float) -> float:
    """``exp(loss)``: the effective number of equally likely choices per token.

    ``loss`` is a mean cross-entropy in nats (natural logarithm), as computed
    by :func:`cross_entropy`.

    >>> round(perplexity(math.log(65)), 6)
    65.0
    """
    return math.exp(loss)


@dataclass
class History:
    """What happened during training, one entry per epoch.

    Attributes:
        train_loss: mean training loss of the batches of each epoch (measured
            while the model was changing, so slightly pessimistic).
        val_loss: validation loss after each epoch (empty without validation).
        epoch_time: wall-clock seconds taken by each epoch, validation included.
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)

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


def _to(batch: Any, device: torch.device | str) -> Any:
    """Move a tensor, or the tensors in a tuple/list, to ``device``."""
    if isinstance(batch, Tensor):
        return batch.to(device)
    if isinstance(batch, (tuple, list)):
        return type(batch)(_to(b, device) for b in batch)
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
        f"{what} must be a callable returning (x, y) or an iterable of (x, y) "
        f"batches, got {type(source).__name__}"
    )


def _check_positive(name: str, value: int | None, *, optional: bool = True) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _target_count(y: Any) -> int:
    """How many predictions a batch's targets stand for (its weight in a mean)."""
    return y.numel() if isinstance(y, Tensor) else 1


@torch.no_grad()
def evaluate(
    model: nn.Module,
    batches: BatchSource,
    *,
    loss_fn: LossFn = cross_entropy,
    steps: int | None = None,
    device: torch.device | str = "cpu",
) -> float:
    """Mean loss of ``model`` on ``batches``, without training it.

    The model is put in evaluation mode (``model.eval()``, which switches off
    dropout) and gradients are not computed; its previous mode is restored at
    the end. Each batch's loss is weighted by the number of its targets
    (``y.numel()``), so batches of different sizes give the exact mean over
    all predictions.

    Args:
        model: the network; called as ``model(x)``.
        batches: a batch source (see the module docstring).
        loss_fn: ``loss_fn(model(x), y)``, a mean over the batch.
        steps: number of batches to use; required when ``batches`` is callable.
        device: where to run (batches are moved there).

    Raises:
        ValueError: if ``steps`` is not positive, is missing for a callable,
            or the source yields no batches.
    """
    _check_positive("steps", steps)
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        for x, y in _batches(batches, steps, "batches"):
            x, y = _to(x, device), _to(y, device)
            n = _target_count(y)
            total += float(loss_fn(model(x), y)) * n
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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "history": (history or History()).to_dict(),
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
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
    loss_fn: LossFn = cross_entropy,
    steps_per_epoch: int | None = None,
    val_steps: int | None = None,
    clip_grad_norm: float | None = None,
    device: torch.device | str = "cpu",
    checkpoint_path: str | os.PathLike | None = None,
    history: History | None = None,
    on_epoch_end: Callable[[int, History], None] | None = None,
    progress: bool = True,
) -> History:
    """Train ``model`` for ``epochs`` epochs and return the :class:`History`.

    Each training step: move the batch to ``device``, compute
    ``loss = loss_fn(model(x), y)``, zero the old gradients, backpropagate,
    optionally clip the gradient norm, and take an optimiser step. After each
    epoch the model is evaluated on ``val_batches`` (if given) with
    :func:`evaluate`, the history is updated, a checkpoint is saved (if
    ``checkpoint_path`` is given) and ``on_epoch_end(epoch, history)`` is
    called (``epoch`` counts from 1 over the whole history).

    Args:
        model: the network, already on ``device``.
        train_batches: batch source for training (see the module docstring).
        val_batches: batch source for validation, or ``None``.
        optimizer: e.g. ``torch.optim.Adam(model.parameters(), lr=1e-3)``.
        epochs: number of epochs to train (positive).
        loss_fn: ``loss_fn(model(x), y)``; default :func:`cross_entropy`.
        steps_per_epoch: training batches per epoch; required when
            ``train_batches`` is callable, optional cap for an iterable.
        val_steps: validation batches per evaluation; defaults to
            ``steps_per_epoch`` for a callable ``val_batches``.
        clip_grad_norm: if given, rescale gradients whose total norm exceeds it.
        device: where to train.
        checkpoint_path: if given, save model, optimiser and history there
            after every epoch (atomically, see :func:`save_checkpoint`).
        history: a history to continue (e.g. from :func:`load_checkpoint`);
            new epochs are appended to it. A new one by default.
        on_epoch_end: called after every epoch, e.g. to print a sample.
        progress: show a progress bar (:func:`llmbook.progress.progress_bar`).

    Raises:
        ValueError: for a non-positive ``epochs``, ``steps_per_epoch``,
            ``val_steps`` or ``clip_grad_norm``, a learning rate that is not
            positive, a callable batch source without a step count, or a
            source that yields no batches.
        FloatingPointError: if the training loss becomes NaN or infinite.
    """
    _check_positive("epochs", epochs, optional=False)
    _check_positive("steps_per_epoch", steps_per_epoch)
    _check_positive("val_steps", val_steps)
    if clip_grad_norm is not None and not clip_grad_norm > 0:
        raise ValueError(f"clip_grad_norm must be positive, got {clip_grad_norm!r}")
    for group in optimizer.param_groups:
        lr = group.get("lr")
        if isinstance(lr, Tensor):
            lr = float(lr)
        if lr is None or not lr > 0:
            raise ValueError(f"the learning rate must be positive, got lr={lr!r}")
    if val_batches is not None and val_steps is None and callable(val_batches):
        val_steps = steps_per_epoch
    history = history if history is not None else History()
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
            for x, y in _batches(train_batches, steps_per_epoch, "train_batches"):
                x, y = _to(x, device), _to(y, device)
                loss = loss_fn(model(x), y)
                if not torch.isfinite(loss):
                    raise FloatingPointError(
                        f"the training loss became {loss.item()} in epoch "
                        f"{history.epochs + 1}, step {n_steps + 1}; try a smaller "
                        f"learning rate or gradient clipping"
                    )
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if clip_grad_norm is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
                optimizer.step()
                loss_sum += loss.item()
                n_steps += 1
                bar.update(1)
            if n_steps == 0:
                raise ValueError("train_batches yielded no batches")
            history.train_loss.append(loss_sum / n_steps)
            postfix = {"train": f"{history.train_loss[-1]:.3f}"}
            if val_batches is not None:
                history.val_loss.append(
                    evaluate(model, val_batches, loss_fn=loss_fn, steps=val_steps,
                             device=device))
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
