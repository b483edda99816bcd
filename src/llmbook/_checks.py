"""Input checks shared by the public entry points of ``llmbook``.

The functions a chapter shows with :func:`llmbook.source.show_source` should
be about their idea, not about bad input; the checks live here, one copy
each, and the public functions call them in one line.

>>> positive_int("batch_size", 4)
4
>>> positive_int("batch_size", 0)
Traceback (most recent call last):
...
ValueError: batch_size must be a positive integer, got 0
>>> check_ids(torch.tensor([[1, 5]]), vocab_size=4)
Traceback (most recent call last):
...
ValueError: ids: id 5 is outside the vocabulary (valid ids 0..3)
"""

from __future__ import annotations

import math
import operator
from typing import Any

import torch
from torch import Tensor

__all__ = ["positive_int", "non_negative_int", "token_id", "check_ids", "check_temperature"]


def _is_int(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        operator.index(value)
    except TypeError:
        return False
    return True


def positive_int(name: str, value: Any, *, optional: bool = False) -> Any:
    """``value`` if it is an integer ``>= 1`` (or ``None`` when ``optional``); else ``ValueError``."""
    if value is None and optional:
        return None
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def non_negative_int(name: str, value: Any) -> Any:
    """``value`` if it is an integer ``>= 0``; else ``ValueError``."""
    if not _is_int(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return value


def token_id(name: str, value: Any, vocab_size: int) -> int:
    """``value`` if it is an integer id in ``range(vocab_size)``; else ``ValueError``."""
    if not _is_int(value) or not 0 <= value < vocab_size:
        raise ValueError(f"{name} must be a token id in 0..{vocab_size - 1} "
                         f"(the vocabulary), got {value!r}")
    return int(value)


def check_ids(ids: Any, vocab_size: int | None = None, *, name: str = "ids",
              dims: tuple[int, ...] | None = None) -> Tensor:
    """Check a tensor of token ids and return it as ``int64``.

    Raises:
        TypeError: if ``ids`` is not a tensor of integers.
        ValueError: if it has a number of dimensions not in ``dims``, or (with
            ``vocab_size``) an id outside ``range(vocab_size)``.
    """
    if not isinstance(ids, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of token ids, got {type(ids).__name__}")
    if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer token ids, got dtype {ids.dtype}")
    if dims is not None and ids.dim() not in dims:
        shapes = " or ".join(f"{d}-D" for d in dims)
        raise ValueError(f"{name} must be a {shapes} tensor of token ids"
                         f"{' (batch, time)' if dims == (2,) else ''}, got shape {tuple(ids.shape)}")
    if vocab_size is not None and ids.numel():
        low, high = int(ids.min()), int(ids.max())
        if low < 0 or high >= vocab_size:
            bad = low if low < 0 else high
            raise ValueError(f"{name}: id {bad} is outside the vocabulary "
                             f"(valid ids 0..{vocab_size - 1})")
    return ids.long()


def check_temperature(temperature: float) -> float:
    """``temperature`` as a float if it is a finite number ``> 0``; else a clear error."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise TypeError(f"temperature must be a number, got {type(temperature).__name__}")
    if math.isnan(temperature) or temperature <= 0:
        raise ValueError(
            f"temperature must be > 0, got {temperature}. Dividing by T = 0 is undefined; "
            "its limit, always taking the most probable token, is greedy decoding: "
            "pass greedy=True instead"
        )
    if math.isinf(temperature):
        raise ValueError("temperature must be finite (T -> infinity is the uniform distribution)")
    return float(temperature)
