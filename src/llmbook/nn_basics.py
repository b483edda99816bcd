"""Small pieces for learning how neural networks work.

- :data:`ACTIVATIONS`: the activation functions a chapter plots (step,
  sigmoid, tanh, ReLU, GELU) and :func:`neuron`, one artificial neuron.
- :func:`valley` and :func:`optimizer_paths`: a 2-D loss surface with a long,
  curved valley, and the path each optimiser takes across it.
- :func:`numerical_gradient` and :func:`gradient_check`: check gradients
  (from autograd or written by hand) against finite differences.
- :func:`count_parameters`: the size of a model, as papers report it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "step",
    "ACTIVATIONS",
    "neuron",
    "valley",
    "VALLEY_MINIMUM",
    "optimizer_paths",
    "numerical_gradient",
    "relative_error",
    "GradientCheck",
    "gradient_check",
    "count_parameters",
]


def step(z: Tensor) -> Tensor:
    """The step function: 1 where ``z > 0``, else 0 (the perceptron's activation).

    >>> step(torch.tensor([-1.0, 0.0, 2.0])).tolist()
    [0.0, 0.0, 1.0]
    """
    return (z > 0).to(z.dtype)


#: Activation functions by name, each applied element-wise to a tensor.
ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "step": step,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "ReLU": torch.relu,
    "GELU": F.gelu,
}


def neuron(x: Tensor, w: Tensor, b: float | Tensor,
           activation: Callable[[Tensor], Tensor] = torch.sigmoid) -> Tensor:
    """One artificial neuron: ``activation(w · x + b)``.

    ``x`` may hold one input (shape ``(n,)``) or a batch of inputs (shape
    ``(batch, n)``); ``w`` has shape ``(n,)``.

    >>> neuron(torch.tensor([1.0, 2.0]), torch.tensor([0.5, -1.0]), 1.5, step)
    tensor(0.)
    """
    if x.shape[-1] != w.shape[-1]:
        raise ValueError(f"x has {x.shape[-1]} inputs but w has {w.shape[-1]} weights")
    return activation(x @ w + b)


#: Where :func:`valley` is lowest: ``valley(VALLEY_MINIMUM) == 0``.
VALLEY_MINIMUM = (1.0, 1.0)


def valley(p: Tensor) -> Tensor:
    """A loss surface over two parameters with a long, curved, flat-bottomed valley.

    :math:`L(x, y) = (1 - x)^2 + 10\\,(y - x^2)^2`, a gentler version of
    Rosenbrock's test function. The valley floor follows the parabola
    :math:`y = x^2`; the single minimum, :math:`L = 0`, is at :math:`(1, 1)`.
    ``p`` has shape ``(..., 2)``; the result has shape ``p.shape[:-1]``.

    >>> valley(torch.tensor([1.0, 1.0])).item(), valley(torch.tensor([0.0, 0.0])).item()
    (0.0, 1.0)
    """
    x, y = p[..., 0], p[..., 1]
    return (1 - x) ** 2 + 10 * (y - x**2) ** 2


def optimizer_paths(
    loss_fn: Callable[[Tensor], Tensor],
    start: Sequence[float],
    optimizers: Mapping[str, Callable[[list[Tensor]], torch.optim.Optimizer]],
    steps: int,
) -> dict[str, Tensor]:
    """Run each optimiser from ``start`` for ``steps`` steps on ``loss_fn``.

    Args:
        loss_fn: maps a parameter vector (shape ``(2,)``) to a scalar loss.
        start: the starting point, shared by every optimiser.
        optimizers: name -> a function building the optimiser from a list of
            parameters, e.g. ``lambda ps: torch.optim.Adam(ps, lr=0.1)``.
        steps: number of updates.

    Returns:
        name -> the visited points, a tensor of shape ``(steps + 1, len(start))``
        whose first row is ``start``.

    Raises:
        ValueError: if ``steps`` is negative.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    paths = {}
    for name, make in optimizers.items():
        p = torch.tensor(start, dtype=torch.float64, requires_grad=True)
        opt = make([p])
        points = [p.detach().clone()]
        for _ in range(steps):
            opt.zero_grad()
            loss_fn(p).backward()
            opt.step()
            points.append(p.detach().clone())
        paths[name] = torch.stack(points)
    return paths


def numerical_gradient(f: Callable[[], Tensor], param: Tensor, eps: float = 1e-6) -> Tensor:
    """The gradient of the scalar ``f()`` with respect to ``param``, by central differences.

    Each entry ``param[i]`` is nudged by ``+eps`` and ``-eps`` in place, and
    ``(f(+) - f(-)) / (2 eps)`` is its slope; the entry is restored afterwards.
    The error of this estimate shrinks like ``eps**2``, until rounding error
    takes over, so use ``float64`` tensors.

    Raises:
        ValueError: if ``eps`` is not positive.
    """
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps}")
    grad = torch.zeros_like(param)
    flat, gflat = param.data.view(-1), grad.view(-1)
    with torch.no_grad():
        for i in range(flat.numel()):
            old = flat[i].item()
            flat[i] = old + eps
            plus = float(f())
            flat[i] = old - eps
            minus = float(f())
            flat[i] = old
            gflat[i] = (plus - minus) / (2 * eps)
    return grad


def relative_error(a: Tensor, b: Tensor) -> float:
    """The largest element-wise ``|a - b| / max(|a| + |b|, 1e-12)``: 0 means identical."""
    if a.shape != b.shape:
        raise ValueError(f"cannot compare shapes {tuple(a.shape)} and {tuple(b.shape)}")
    if a.numel() == 0:
        return 0.0
    return float(((a - b).abs() / (a.abs() + b.abs()).clamp_min(1e-12)).max())


@dataclass(frozen=True)
class GradientCheck:
    """The result of :func:`gradient_check`.

    Attributes:
        errors: the :func:`relative_error` of each parameter's gradient.
        tolerance: the largest error that counts as agreement.
    """

    errors: tuple[float, ...]
    tolerance: float

    @property
    def max_error(self) -> float:
        """The worst relative error over all parameters."""
        return max(self.errors, default=0.0)

    @property
    def passed(self) -> bool:
        """Whether every gradient agrees with finite differences."""
        return self.max_error <= self.tolerance


def gradient_check(
    f: Callable[[], Tensor],
    params: Sequence[Tensor],
    grads: Sequence[Tensor] | None = None,
    *,
    eps: float = 1e-6,
    tolerance: float = 1e-6,
) -> GradientCheck:
    """Compare gradients of the scalar ``f()`` with finite differences.

    Args:
        f: computes the loss from the current values of ``params``.
        params: the tensors to differentiate with respect to (``float64``
            recommended: in ``float32`` the finite differences are too noisy).
        grads: the gradients to check, one per parameter; by default they are
            computed with autograd (``f().backward()``).
        eps: step of the central differences.
        tolerance: the largest relative error accepted.

    Raises:
        ValueError: if ``grads`` does not have one tensor per parameter.
    """
    params = list(params)
    if grads is None:
        for p in params:
            p.grad = None
        f().backward()
        grads = [p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p)
                 for p in params]
    grads = list(grads)
    if len(grads) != len(params):
        raise ValueError(f"got {len(grads)} gradients for {len(params)} parameters")
    errors = tuple(relative_error(g, numerical_gradient(f, p, eps)) for p, g in zip(params, grads))
    return GradientCheck(errors, tolerance)


def count_parameters(model: torch.nn.Module) -> int:
    """The number of parameters of ``model``: every weight and bias, trainable or
    frozen, a tied (shared) matrix counted once, buffers (such as counts) not at all.

    >>> count_parameters(torch.nn.Linear(3, 2))
    8
    """
    return sum(p.numel() for p in model.parameters())  # parameters() skips shared tensors
