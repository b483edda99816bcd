"""Training batches from a long sequence of token ids.

A language model learns from pairs *(what it has seen, what came next)*.
For a text encoded as one long 1-D tensor of ids, the helpers here cut out
such pairs:

- :func:`split_ids` keeps the first 80 % for training and the last 20 % for
  validation (contiguous, so no validation text leaks into training);
- :func:`random_windows` picks random windows ``x`` and the same windows
  shifted by one, ``y``: at every position, ``y`` holds the next id;
- :func:`random_rows` picks random rows of prepared ``(X, Y)`` tensors, e.g.
  fixed-length contexts and their next ids (see :func:`llmbook.text.make_windows`).

All of them take an optional :class:`torch.Generator` so that a chapter can
draw the same batches on every run. The batches live on the device of the
data; the random positions are drawn on the generator's device (a CPU
generator gives the same batches whether the data sit on the CPU or a GPU)
or, without a generator, on the data's device.

>>> data = torch.arange(10)
>>> x, y = random_windows(data, batch_size=2, block_size=4,
...                       generator=torch.Generator().manual_seed(0))
>>> x.tolist(), y.tolist()
([[2, 3, 4, 5], [3, 4, 5, 6]], [[3, 4, 5, 6], [4, 5, 6, 7]])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from llmbook import _checks

__all__ = ["as_ids", "split_ids", "random_windows", "random_rows"]


def _positions(high: int, count: int, device: torch.device,
               generator: torch.Generator | None) -> Tensor:
    """``count`` random integers in ``[0, high)`` on ``device``, drawn with ``generator``."""
    where = generator.device if generator is not None else device
    return torch.randint(high, (count,), generator=generator, device=where).to(device)


def as_ids(ids: Tensor | Sequence[int]) -> Tensor:
    """``ids`` as a 1-D ``int64`` tensor (a list, NumPy array or tensor).

    Raises:
        ValueError: if ``ids`` is not one-dimensional.
        TypeError: if the ids are not integers.
    """
    tensor = torch.as_tensor(ids)
    if tensor.dim() != 1:
        raise ValueError(f"expected a 1-D sequence of ids, got shape {tuple(tensor.shape)}")
    if tensor.dtype.is_floating_point or tensor.dtype.is_complex or tensor.dtype == torch.bool:
        raise TypeError(f"ids must be integers, got dtype {tensor.dtype}")
    return tensor.long()


def split_ids(ids: Tensor | Sequence[int], train_fraction: float = 0.8) -> tuple[Tensor, Tensor]:
    """Split ids into a training part (the first ``train_fraction``) and a validation part.

    The split is contiguous rather than random: random windows drawn from a
    randomly interleaved split would overlap the validation text.

    >>> [t.tolist() for t in split_ids([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])]
    [[1, 2, 3, 4, 5, 6, 7, 8], [9, 10]]

    Raises:
        ValueError: if ``train_fraction`` is not strictly between 0 and 1, or
            either part would hold fewer than 2 ids (one input and one target).
    """
    ids = as_ids(ids)
    if not 0 < train_fraction < 1:
        raise ValueError(f"train_fraction must be strictly between 0 and 1, got {train_fraction}")
    n = int(round(train_fraction * len(ids)))
    if n < 2 or len(ids) - n < 2:
        raise ValueError(
            f"{len(ids)} ids are too few to split {train_fraction:.0%}/{1 - train_fraction:.0%}: "
            f"each part needs at least 2 ids (an input and its target)"
        )
    return ids[:n], ids[n:]


def random_windows(
    data: Tensor | Sequence[int],
    batch_size: int,
    block_size: int,
    *,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """``batch_size`` random windows of ``block_size`` ids, and the same windows shifted by one.

    Each window starts at a random position ``i``: ``x = data[i : i + block_size]``
    and ``y = data[i + 1 : i + block_size + 1]``, so ``y[b, t]`` is the id that
    follows ``x[b, t]``. A window plus its last target needs
    ``block_size + 1`` ids.

    Returns:
        ``(x, y)``, two ``int64`` tensors of shape ``(batch_size, block_size)``.

    Raises:
        ValueError: if ``batch_size`` or ``block_size`` is not a positive
            integer, or the window (with its target) is longer than the data.
    """
    _checks.positive_int("batch_size", batch_size)
    _checks.positive_int("block_size", block_size)
    data = as_ids(data)
    if block_size + 1 > len(data):
        raise ValueError(
            f"a window of block_size={block_size} ids plus its next id needs "
            f"{block_size + 1} ids, but the data has only {len(data)}"
        )
    starts = _positions(len(data) - block_size, batch_size, data.device, generator)
    offsets = torch.arange(block_size, device=data.device)
    x = data[starts[:, None] + offsets]
    y = data[starts[:, None] + offsets + 1]
    return x, y


def random_rows(
    x: Tensor,
    y: Tensor,
    batch_size: int,
    *,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """``batch_size`` random rows (with replacement) of the paired tensors ``x`` and ``y``.

    Use it for data already cut into examples, such as contexts ``x`` of shape
    ``(N, context)`` and next ids ``y`` of shape ``(N,)``.

    Raises:
        ValueError: if ``batch_size`` is not positive, ``x`` and ``y`` have
            different numbers of rows, or they are empty.
    """
    _checks.positive_int("batch_size", batch_size)
    if len(x) != len(y):
        raise ValueError(f"x and y must have the same number of rows, got {len(x)} and {len(y)}")
    if len(x) == 0:
        raise ValueError("cannot draw rows from empty tensors")
    rows = _positions(len(x), batch_size, x.device, generator)
    return x[rows], y[rows]
