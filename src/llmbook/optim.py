"""Muon: momentum, then orthogonalise the update of every weight matrix.

Adam scales each parameter's step by a running estimate of its own gradient
size. Muon ("MomentUm Orthogonalized by Newton-Schulz", Keller Jordan's
optimiser from the modded-nanogpt speed-run, 2024) treats a weight matrix as
a matrix: it keeps a momentum ``M`` of the gradients, as SGD with Nesterov
momentum does, and replaces ``M`` by the nearest *orthogonal* matrix before
the step. If ``M = U S V^T`` (singular value decomposition), the update is
``U V^T``: every direction in which the matrix changes gets the same step
size, so the rare directions that plain momentum would barely move are
learned as fast as the dominant ones.

Computing ``U V^T`` by an SVD is slow; five iterations of a Newton-Schulz
polynomial ``X <- a X + b (X X^T) X + c (X X^T)^2 X`` (with the
coefficients tuned in the speed-run) bring every singular value of
``X = M / ||M||`` close to 1 using matrix products only. The result is
roughly, not exactly, orthogonal (singular values between about 0.7 and
1.2), which is all the optimiser needs.

Muon is meant for the 2-D weight matrices inside the Transformer blocks.
Embeddings, the output head, gains and biases are trained with AdamW
(:func:`muon_and_adamw` makes the two optimisers for a model).

References: Keller Jordan, "Muon: An optimizer for hidden layers in neural
networks" (2024, kellerjordan.github.io/posts/muon), and the
``KellerJordan/Muon`` and ``KellerJordan/modded-nanogpt`` repositories, whose
algorithm this is, rewritten small.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

from llmbook.devices import bf16_supported

__all__ = ["orthogonalize", "Muon", "muon_and_adamw", "CombinedOptimizer"]

#: Coefficients of the quintic Newton-Schulz iteration (from the speed-run):
#: chosen to push small singular values up fast rather than to converge exactly.
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def orthogonalize(g: Tensor, steps: int = 5, eps: float = 1e-7, dtype: torch.dtype | None = None) -> Tensor:
    """An approximately orthogonal matrix ``~ U V^T`` for ``g = U S V^T``, by Newton-Schulz.

    Works on the last two dimensions. The iteration runs on the wide
    orientation (fewer rows than columns), where ``X X^T`` is the smaller
    product, in ``dtype``: by default bfloat16 where the hardware has
    bfloat16 instructions (:func:`llmbook.devices.bf16_supported`; the
    iteration does not need more precision, as in the speed-run), else float32.

    >>> g = torch.randn(16, 48, generator=torch.Generator().manual_seed(0))
    >>> s = torch.linalg.svdvals(orthogonalize(g))
    >>> bool(s.min() > 0.5 and s.max() < 1.3)
    True
    """
    if g.dim() < 2:
        raise ValueError(f"orthogonalize needs a matrix, got a tensor of shape {tuple(g.shape)}")
    a, b, c = NS_COEFFICIENTS
    if dtype is None:
        dtype = torch.bfloat16 if bf16_supported(g.device) else torch.float32
    x = g.to(dtype)
    tall = x.size(-2) > x.size(-1)
    if tall:
        x = x.mT
    x = x / (x.norm(dim=(-2, -1), keepdim=True) + eps)  # singular values now at most 1
    for _ in range(steps):
        A = x @ x.mT
        x = a * x + (b * A + c * A @ A) @ x
    if tall:
        x = x.mT
    return x.to(g.dtype)


class Muon(torch.optim.Optimizer):
    """Nesterov momentum whose update is orthogonalised (see the module docstring).

    For each matrix ``W`` with gradient ``G``::

        M <- momentum * M + (1 - momentum) * G
        D <- orthogonalize((1 - momentum) * G + momentum * M)     (Nesterov)
        W <- W * (1 - lr * weight_decay) - lr * sqrt(max(1, rows / cols)) * D

    The factor ``sqrt(max(1, rows/cols))`` keeps the step's size per element
    comparable for tall matrices.

    Args:
        params: the 2-D parameters (or parameter groups) to train.
        lr: learning rate (about 0.02-0.05: the update has unit singular values).
        momentum: the momentum coefficient.
        weight_decay: decoupled weight decay, as in AdamW.
        ns_steps: Newton-Schulz iterations.

    Raises:
        ValueError: for a parameter that is not a matrix, a learning rate
            that is not positive or a momentum outside ``[0, 1)``.
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 0.02,
                 momentum: float = 0.95, weight_decay: float = 0.0, ns_steps: int = 5) -> None:
        if not lr > 0:
            raise ValueError(f"lr must be positive, got {lr}")
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                      ns_steps=ns_steps))
        for group in self.param_groups:
            for p in group["params"]:
                if p.dim() != 2:
                    raise ValueError(f"Muon trains matrices only, got a parameter of shape {tuple(p.shape)}; "
                                     "train vectors and embeddings with AdamW")

    @torch.no_grad()
    def step(self, closure=None):  # noqa: ANN001, ANN201 (the signature of torch.optim)
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta = group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "momentum" not in state:
                    state["momentum"] = torch.zeros_like(p.grad)
                m = state["momentum"]
                m.lerp_(p.grad, 1 - beta)
                update = orthogonalize(p.grad.lerp(m, beta), group["ns_steps"])
                p.mul_(1 - group["lr"] * group["weight_decay"])
                p.add_(update, alpha=-group["lr"] * max(1.0, p.size(0) / p.size(1)) ** 0.5)
        return loss


class CombinedOptimizer(torch.optim.Optimizer):
    """Several optimisers stepped as one (Muon for the matrices, AdamW for the rest).

    ``param_groups`` is the list of all their groups, so a learning-rate
    schedule that sets ``group["lr"]`` reaches every one of them; each group
    keeps its ``initial_lr`` (its peak rate) for schedules that scale it.
    """

    def __init__(self, optimizers: list[torch.optim.Optimizer]) -> None:
        self.optimizers = optimizers
        self.param_groups = [g for opt in optimizers for g in opt.param_groups]
        for g in self.param_groups:
            g.setdefault("initial_lr", g["lr"])
        self.defaults = {}
        self.state = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=set_to_none)

    def step(self, closure=None):  # noqa: ANN001, ANN201
        for opt in self.optimizers:
            opt.step()

    def state_dict(self) -> dict:
        return {"optimizers": [opt.state_dict() for opt in self.optimizers]}

    def load_state_dict(self, state_dict: dict) -> None:
        for opt, sd in zip(self.optimizers, state_dict["optimizers"]):
            opt.load_state_dict(sd)


def muon_and_adamw(model: nn.Module, *, muon_lr: float, adam_lr: float, weight_decay: float = 0.0,
                   betas: tuple[float, float] = (0.9, 0.95), momentum: float = 0.95,
                   muon_weight_decay: float = 0.0) -> CombinedOptimizer:
    """Muon for the matrices inside the model's blocks, AdamW for everything else.

    "Inside the blocks" means every 2-D parameter whose name does not belong
    to an embedding or to the output head (``tok_emb``, ``pos_emb``,
    ``lm_head``): those map tokens in and out and are trained with AdamW, as
    are gains and biases. AdamW's ``weight_decay`` applies to its matrices
    only; Muon's matrices get ``muon_weight_decay`` (none by default: Muon's
    steps have a fixed size, so decay at its learning rate would be strong).
    """
    muon, adam_matrices, others, seen = [], [], [], set()
    for name, p in model.named_parameters():
        if id(p) in seen:  # a tied weight appears once
            continue
        seen.add(id(p))
        if p.dim() == 2 and not name.startswith(("tok_emb", "pos_emb", "lm_head")):
            muon.append(p)
        elif p.dim() >= 2:
            adam_matrices.append(p)
        else:
            others.append(p)
    adam = torch.optim.AdamW([{"params": adam_matrices, "weight_decay": weight_decay},
                              {"params": others, "weight_decay": 0.0}], lr=adam_lr, betas=betas)
    return CombinedOptimizer([Muon(muon, lr=muon_lr, momentum=momentum, weight_decay=muon_weight_decay), adam])
