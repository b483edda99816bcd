"""LoRA: fine-tuning a large model by training two thin matrices per layer.

Low-rank adaptation (LoRA, Hu et al. 2021) freezes every weight matrix
``W`` (shape ``d_out x d_in``) of a pretrained model and learns a *change*
``ΔW = (alpha / r) · B A`` of low rank ``r`` instead: ``A`` is ``r x d_in``,
``B`` is ``d_out x r``. A layer then computes::

    y = W x + b + (alpha / r) · B (A x)

``B`` starts at zero, so before training the adapted model is exactly the
original one; ``A`` starts random (as in ``peft``: Kaiming-uniform), so the
gradient of ``B`` is not zero and training can start. Each adapted matrix
trains ``r · (d_in + d_out)`` numbers instead of ``d_in · d_out``. After
training, ``ΔW`` can be added into ``W`` (:func:`merge_lora`): the merged
model is an ordinary model again and costs nothing extra at inference.

>>> import torch
>>> layer = LoRALinear(torch.nn.Linear(6, 4), r=2, alpha=4)
>>> layer.trainable_count() == lora_parameter_count(6, 4, 2) == 2 * (6 + 4)
True
>>> x = torch.randn(3, 6)
>>> bool(torch.equal(layer(x), layer.base(x)))  # B = 0: nothing changed yet
True
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator

import torch
from torch import Tensor, nn

__all__ = [
    "LoRALinear",
    "lora_parameter_count",
    "add_lora",
    "merge_lora",
    "lora_layers",
    "lora_disabled",
    "count_trainable",
    "lora_state_dict",
    "load_lora_state_dict",
]


def _check_rank(r: int, d_in: int, d_out: int) -> None:
    if isinstance(r, bool) or not isinstance(r, int):
        raise TypeError(f"the rank r must be an integer, got {type(r).__name__}")
    if r < 1:
        raise ValueError(f"the rank r must be at least 1, got {r}")
    if r > min(d_in, d_out):
        raise ValueError(f"the rank r={r} is larger than the matrix allows: a {d_out} x {d_in} "
                         f"matrix has rank at most {min(d_in, d_out)}")


def lora_parameter_count(d_in: int, d_out: int, r: int) -> int:
    """Numbers trained by a rank-``r`` adapter of a ``d_out x d_in`` matrix: ``r · (d_in + d_out)``.

    Raises:
        ValueError: if ``r`` is not between 1 and ``min(d_in, d_out)``.
    """
    _check_rank(r, d_in, d_out)
    return r * (d_in + d_out)


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable low-rank update ``(alpha / r) · B A``.

    Args:
        base: the pretrained layer; its weight (and bias) are frozen in place.
        r: the rank of the update, ``1 <= r <= min(d_in, d_out)``.
        alpha: the update is scaled by ``alpha / r`` (so changing ``r`` does
            not change the size of the first updates much).

    Raises:
        TypeError: if ``base`` is not an ``nn.Linear``.
        ValueError: for a rank out of range or ``alpha <= 0``.
    """

    def __init__(self, base: nn.Linear, r: int = 8, alpha: float = 16.0) -> None:
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"LoRA adapts nn.Linear layers, got {type(base).__name__}")
        _check_rank(r, base.in_features, base.out_features)
        if not alpha > 0:
            raise ValueError(f"alpha must be positive, got {alpha!r}")
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        self.r, self.alpha = r, float(alpha)
        self.scaling = self.alpha / r
        self.enabled = True
        weight = base.weight
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features, dtype=weight.dtype,
                                               device=weight.device))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r, dtype=weight.dtype,
                                               device=weight.device))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))  # as peft (and nn.Linear) do

    def forward(self, x: Tensor) -> Tensor:
        """``W x + b + scaling · B (A x)``: the update never forms the full ``d_out x d_in`` matrix."""
        if not self.enabled:
            return self.base(x)
        return self.base(x) + (x @ self.lora_A.T @ self.lora_B.T) * self.scaling

    def delta_weight(self) -> Tensor:
        """The full update ``ΔW = scaling · B A`` (shape of ``base.weight``)."""
        return (self.lora_B @ self.lora_A) * self.scaling

    def merged(self) -> nn.Linear:
        """A plain ``nn.Linear`` with weight ``W + ΔW`` (and the same bias)."""
        base = self.base
        layer = nn.Linear(base.in_features, base.out_features, bias=base.bias is not None,
                          device=base.weight.device, dtype=base.weight.dtype)
        with torch.no_grad():
            layer.weight.copy_(base.weight + self.delta_weight())
            if base.bias is not None:
                layer.bias.copy_(base.bias)
        return layer

    def trainable_count(self) -> int:
        """``r · (d_in + d_out)``: the numbers in ``A`` and ``B``."""
        return self.lora_A.numel() + self.lora_B.numel()

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha:g}"


def _set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def add_lora(model: nn.Module, targets: Iterable[str], r: int = 8,
             alpha: float = 16.0) -> list[str]:
    """Freeze ``model`` and wrap every sub-module whose name ends with one of ``targets`` in LoRA.

    ``targets`` are name endings such as ``"q_proj"`` or ``"mlp.down_proj"``
    (matched at a dot boundary). Every parameter of the model is frozen
    first, so afterwards only the adapters' ``A`` and ``B`` are trained.
    Returns the names of the adapted modules. The same random ``A`` are drawn
    for the same ``torch.manual_seed``.

    Raises:
        TypeError: if a matching module is not an ``nn.Linear``.
        ValueError: if nothing matches, or for a bad rank or alpha.
    """
    targets = tuple(targets)
    if not targets:
        raise ValueError("targets is empty: name at least one module ending, e.g. 'q_proj'")
    names = [name for name, _ in model.named_modules()
             if name and any(name == t or name.endswith("." + t) for t in targets)]
    if not names:
        raise ValueError(f"no module of the model has a name ending in {list(targets)}")
    for name in names:
        module = model.get_submodule(name)
        if isinstance(module, LoRALinear):
            raise ValueError(f"{name!r} already has a LoRA adapter")
        if not isinstance(module, nn.Linear):
            raise TypeError(f"{name!r} is a {type(module).__name__}, not an nn.Linear: "
                            "LoRA here adapts linear layers only")
    for p in model.parameters():
        p.requires_grad_(False)
    for name in names:
        _set_submodule(model, name, LoRALinear(model.get_submodule(name), r=r, alpha=alpha))
    return names


def lora_layers(model: nn.Module) -> dict[str, LoRALinear]:
    """The LoRA layers of ``model`` by name."""
    return {name: m for name, m in model.named_modules() if isinstance(m, LoRALinear)}


@contextlib.contextmanager
def lora_disabled(model: nn.Module) -> Iterator[nn.Module]:
    """Inside this context ``model`` computes as its frozen base model (every adapter switched off).

    This is how preference tuning gets the *reference* model's outputs
    without keeping a second copy of the model.

    Raises:
        ValueError: if the model has no LoRA layer.
    """
    layers = list(lora_layers(model).values())
    if not layers:
        raise ValueError("the model has no LoRA layer to disable")
    states = [layer.enabled for layer in layers]
    try:
        for layer in layers:
            layer.enabled = False
        yield model
    finally:
        for layer, state in zip(layers, states):
            layer.enabled = state


def merge_lora(model: nn.Module) -> nn.Module:
    """Replace every :class:`LoRALinear` of ``model`` by its merged ``nn.Linear``, in place.

    The merged layers are frozen like the rest of the base model. Returns
    ``model``.

    Raises:
        ValueError: if the model has no LoRA layer.
    """
    layers = lora_layers(model)
    if not layers:
        raise ValueError("the model has no LoRA layer to merge")
    for name, layer in layers.items():
        merged = layer.merged()
        merged.requires_grad_(False)
        _set_submodule(model, name, merged)
    return model


def count_trainable(model: nn.Module) -> int:
    """Parameters that will be trained (``requires_grad``); tied weights count once."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def lora_state_dict(model: nn.Module) -> dict[str, Tensor]:
    """Only the adapters' ``A`` and ``B`` (what a saved adapter file holds), on the CPU."""
    return {name: t.detach().cpu().clone() for name, t in model.state_dict().items()
            if name.endswith((".lora_A", ".lora_B"))}


def load_lora_state_dict(model: nn.Module, state: dict[str, Tensor]) -> None:
    """Copy saved adapters (from :func:`lora_state_dict`) into a model with the same adapters.

    Raises:
        ValueError: if the names of the saved and the model's adapters differ.
    """
    own = {name for name in model.state_dict() if name.endswith((".lora_A", ".lora_B"))}
    if own != set(state):
        raise ValueError(f"the saved adapters ({len(state)} tensors) do not fit the model's "
                         f"({len(own)} tensors); add_lora with the same targets first")
    model.load_state_dict(state, strict=False)
