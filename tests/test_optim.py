"""Muon: the Newton-Schulz orthogonalisation, the update rule, and the split with AdamW."""

from __future__ import annotations

import pytest
import torch

from llmbook.models.gpt import GPT, GPTConfig
from llmbook.optim import Muon, muon_and_adamw, orthogonalize


@pytest.mark.parametrize("shape", [(8, 8), (16, 48), (48, 16), (3, 5, 7)])
def test_orthogonalize_gives_singular_values_near_one(shape: tuple[int, ...]) -> None:
    g = torch.randn(*shape, generator=torch.Generator().manual_seed(0))
    s = torch.linalg.svdvals(orthogonalize(g))
    assert s.min() > 0.5 and s.max() < 1.3
    # the same directions as U V^T from the SVD
    u, _, vh = torch.linalg.svd(g, full_matrices=False)
    cosine = (orthogonalize(g) * (u @ vh)).sum((-2, -1)) / (u @ vh).norm(dim=(-2, -1)) ** 2
    assert torch.all(cosine > 0.8)


def test_orthogonalize_needs_a_matrix() -> None:
    with pytest.raises(ValueError, match="orthogonalize needs a matrix"):
        orthogonalize(torch.randn(5))


def test_muon_step_is_the_orthogonalised_momentum() -> None:
    w = torch.nn.Parameter(torch.randn(6, 4))
    before = w.detach().clone()
    g = torch.randn(6, 4)
    w.grad = g.clone()
    Muon([w], lr=0.1, momentum=0.9).step()
    m = 0.1 * g  # momentum after one step: lerp from zero
    expected = before - 0.1 * (6 / 4) ** 0.5 * orthogonalize(g.lerp(m, 0.9))
    torch.testing.assert_close(w.detach(), expected)


def test_muon_bad_input() -> None:
    with pytest.raises(ValueError, match="Muon trains matrices only"):
        Muon([torch.nn.Parameter(torch.randn(4))])
    with pytest.raises(ValueError, match="lr must be positive"):
        Muon([torch.nn.Parameter(torch.randn(2, 2))], lr=0.0)
    with pytest.raises(ValueError, match=r"momentum must be in \[0, 1\)"):
        Muon([torch.nn.Parameter(torch.randn(2, 2))], momentum=1.0)


def test_muon_and_adamw_split_the_parameters() -> None:
    model = GPT(GPTConfig(vocab_size=7, block_size=8, n_layer=2, n_head=2, n_embd=8, tie_weights=False))
    opt = muon_and_adamw(model, muon_lr=0.05, adam_lr=1e-3, weight_decay=0.1)
    muon, adam = opt.optimizers
    muon_ids = {id(p) for g in muon.param_groups for p in g["params"]}
    names = {n for n, p in model.named_parameters() if id(p) in muon_ids}
    assert names == {f"blocks.{i}.{m}.weight" for i in range(2)
                     for m in ("attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj")}
    n_adam = sum(len(g["params"]) for g in adam.param_groups)
    assert len(muon_ids) + n_adam == len(list(model.parameters()))
    assert [g["initial_lr"] for g in opt.param_groups] == [0.05, 1e-3, 1e-3]


def test_muon_trains_a_linear_map() -> None:
    torch.manual_seed(0)
    target = torch.randn(8, 8)
    layer = torch.nn.Linear(8, 8, bias=False)
    opt = Muon(layer.parameters(), lr=0.05)
    x = torch.randn(256, 8)
    first = None
    for _ in range(200):
        loss = (layer(x) - x @ target.T).pow(2).mean()
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first / 20
