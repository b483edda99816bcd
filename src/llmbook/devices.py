"""Where tensors live: one place that picks the device and its number format.

The book is built on two CPU cores, but every helper works on the device its
model lives on. Chapters ask :func:`device` once::

    dev = llmbook.devices.device()      # cuda, then mps, then cpu
    model = model.to(dev)

and the environment variable ``LLMBOOK_DEVICE`` (``cpu``, ``cuda``,
``cuda:1``, ``mps``) overrides the choice, so a reader with a GPU can still
reproduce the CPU numbers of the book.

:func:`autocast` is the matching mixed-precision context: bfloat16 matrix
products where the hardware runs them fast (CUDA GPUs with bf16 support;
CPUs with AVX-512 BF16 or AMX), plain float32 everywhere else.
"""

from __future__ import annotations

import contextlib
import os

import torch

__all__ = ["ENV_VAR", "autocast", "bf16_supported", "device", "device_of"]

#: The environment variable that overrides :func:`device`'s choice.
ENV_VAR = "LLMBOOK_DEVICE"

_KINDS = ("cpu", "cuda", "mps")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def _validate(name: str) -> torch.device:
    """``name`` as a :class:`torch.device`, or a clear error if this machine lacks it."""
    try:
        dev = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"unknown device {name!r}: use one of {', '.join(_KINDS)} (e.g. 'cuda:0')") from err
    if dev.type not in _KINDS:
        raise ValueError(f"unknown device {name!r}: use one of {', '.join(_KINDS)} (e.g. 'cuda:0')")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(f"device {name!r} was requested but CUDA is not available on this machine")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise RuntimeError(
                f"device {name!r} was requested but this machine has {torch.cuda.device_count()} CUDA device(s)"
            )
    if dev.type == "mps" and not _mps_available():
        raise RuntimeError(f"device {name!r} was requested but Apple MPS is not available on this machine")
    return dev


def device(name: str | None = None) -> torch.device:
    """The device to compute on: ``name``, else ``$LLMBOOK_DEVICE``, else the best one present.

    The automatic choice is CUDA, then Apple's MPS, then the CPU. An explicit
    request for a device this machine lacks raises an error instead of
    silently falling back to the CPU.

    >>> device("cpu")
    device(type='cpu')
    >>> device("tpu")
    Traceback (most recent call last):
    ...
    ValueError: unknown device 'tpu': use one of cpu, cuda, mps (e.g. 'cuda:0')
    """
    requested = name if name is not None else os.environ.get(ENV_VAR, "").strip()
    if requested:
        return _validate(requested)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def device_of(module: torch.nn.Module) -> torch.device:
    """The device of ``module``'s first parameter (or buffer); the CPU if it has neither.

    >>> device_of(torch.nn.Linear(2, 2))
    device(type='cpu')
    """
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")


def bf16_supported(dev: torch.device | str = "cpu") -> bool:
    """Whether bfloat16 matrix products are fast on ``dev``.

    CUDA: the GPU reports bf16 support (Ampere and newer). CPU: oneDNN finds
    AVX-512 BF16 or AMX instructions. MPS and others: no.
    """
    dev = torch.device(dev)
    if dev.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if dev.type == "cpu":
        try:
            return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


def autocast(dev: torch.device | str, enabled: bool = True) -> contextlib.AbstractContextManager:
    """bfloat16 autocast on ``dev`` when ``enabled`` and the hardware runs it fast; otherwise a no-op.

    >>> with autocast("cpu", enabled=False):
    ...     (torch.ones(2, 2) @ torch.ones(2, 2)).dtype
    torch.float32
    """
    dev = torch.device(dev)
    if enabled and bf16_supported(dev):
        return torch.autocast(dev.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
