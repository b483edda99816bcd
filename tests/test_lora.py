"""Tests of llmbook.lora: the adapter, its parameter count, merging, and agreement with peft."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from llmbook import lora as L

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def tiny_llama(seed: int = 0):
    """A 2-layer Llama (SmolLM2's architecture) with random weights."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=50, hidden_size=16, intermediate_size=24, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32,
                         tie_word_embeddings=True)
    return LlamaForCausalLM(config).eval()


def test_starts_as_the_base_layer_and_counts_parameters():
    torch.manual_seed(0)
    base = nn.Linear(10, 6)
    layer = L.LoRALinear(base, r=3, alpha=6)
    x = torch.randn(4, 10)
    assert torch.equal(layer(x), base(x))
    assert layer.trainable_count() == L.lora_parameter_count(10, 6, 3) == 3 * 16
    assert layer.scaling == 2.0
    assert not base.weight.requires_grad and not base.bias.requires_grad
    assert layer.lora_A.requires_grad and layer.lora_B.requires_grad


def test_forward_is_w_plus_scaled_ba():
    torch.manual_seed(0)
    layer = L.LoRALinear(nn.Linear(5, 7), r=2, alpha=3)
    with torch.no_grad():
        layer.lora_B.normal_()
    x = torch.randn(3, 5)
    w = layer.base.weight + 1.5 * layer.lora_B @ layer.lora_A
    assert torch.allclose(layer(x), x @ w.T + layer.base.bias, atol=1e-6)
    assert not torch.equal(layer(x), layer.base(x))


@pytest.mark.parametrize("r", [0, -1, 7])
def test_bad_rank(r):
    with pytest.raises(ValueError, match="rank"):
        L.LoRALinear(nn.Linear(6, 8), r=r)


def test_rank_must_be_an_integer():
    with pytest.raises(TypeError, match="integer"):
        L.LoRALinear(nn.Linear(6, 8), r=2.0)


def test_bad_alpha():
    with pytest.raises(ValueError, match="alpha"):
        L.LoRALinear(nn.Linear(6, 8), r=2, alpha=0)


def test_only_linear_layers():
    with pytest.raises(TypeError, match="nn.Linear"):
        L.LoRALinear(nn.Embedding(10, 4), r=2)
    model = tiny_llama()
    with pytest.raises(TypeError, match="not an nn.Linear"):
        L.add_lora(model, ["embed_tokens"], r=2)


def test_add_lora_freezes_everything_else_and_is_identity_at_start():
    model = tiny_llama()
    x = torch.randint(0, 50, (2, 9))
    before = model(input_ids=x).logits
    names = L.add_lora(model, TARGETS, r=2, alpha=4)
    assert len(names) == 2 * 7
    assert set(L.lora_layers(model)) == set(names)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(n.endswith(("lora_A", "lora_B")) for n in trainable)
    assert L.count_trainable(model) == sum(m.trainable_count() for m in L.lora_layers(model).values())
    assert torch.equal(model(input_ids=x).logits, before)
    with pytest.raises(ValueError, match="already"):
        L.add_lora(model, ["q_proj"], r=2)


def test_add_lora_needs_a_match():
    with pytest.raises(ValueError, match="no module"):
        L.add_lora(tiny_llama(), ["nope_proj"])
    with pytest.raises(ValueError, match="empty"):
        L.add_lora(tiny_llama(), [])


def test_merge_gives_the_same_logits():
    model = tiny_llama()
    L.add_lora(model, TARGETS, r=2, alpha=4)
    torch.manual_seed(1)
    with torch.no_grad():
        for layer in L.lora_layers(model).values():
            layer.lora_B.normal_(std=0.1)
    x = torch.randint(0, 50, (2, 9))
    adapted = model(input_ids=x).logits
    L.merge_lora(model)
    assert not L.lora_layers(model)
    assert all(type(model.get_submodule(f"model.layers.0.self_attn.{t}")) is nn.Linear
               for t in ("q_proj", "v_proj"))
    assert torch.allclose(model(input_ids=x).logits, adapted, atol=1e-5)
    with pytest.raises(ValueError, match="no LoRA"):
        L.merge_lora(model)


def test_state_dict_round_trip():
    model = tiny_llama()
    L.add_lora(model, ["q_proj", "v_proj"], r=2)
    with torch.no_grad():
        for layer in L.lora_layers(model).values():
            layer.lora_B.normal_()
    state = L.lora_state_dict(model)
    assert len(state) == 2 * 2 * 2
    other = tiny_llama()
    L.add_lora(other, ["q_proj", "v_proj"], r=2)
    L.load_lora_state_dict(other, state)
    x = torch.randint(0, 50, (1, 5))
    assert torch.equal(other(input_ids=x).logits, model(input_ids=x).logits)
    third = tiny_llama()
    L.add_lora(third, ["q_proj"], r=2)
    with pytest.raises(ValueError, match="do not fit"):
        L.load_lora_state_dict(third, state)


def test_matches_peft_outputs_and_gradients():
    peft = pytest.importorskip("peft")
    ours, theirs = tiny_llama(), tiny_llama()
    config = peft.LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=TARGETS)
    theirs = peft.get_peft_model(theirs, config)
    L.add_lora(ours, TARGETS, r=4, alpha=8)
    torch.manual_seed(2)
    with torch.no_grad():  # same, non-zero adapters in both
        for name, layer in L.lora_layers(ours).items():
            peft_layer = theirs.base_model.model.get_submodule(name)
            layer.lora_B.normal_(std=0.1)
            peft_layer.lora_A["default"].weight.copy_(layer.lora_A)
            peft_layer.lora_B["default"].weight.copy_(layer.lora_B)
    x = torch.randint(0, 50, (2, 9))
    out_ours = ours(input_ids=x, labels=x)
    out_theirs = theirs(input_ids=x, labels=x)
    assert torch.allclose(out_ours.logits, out_theirs.logits, atol=1e-5)
    out_ours.loss.backward()
    out_theirs.loss.backward()
    for name, layer in L.lora_layers(ours).items():
        peft_layer = theirs.base_model.model.get_submodule(name)
        assert torch.allclose(layer.lora_A.grad, peft_layer.lora_A["default"].weight.grad, atol=1e-5)
        assert torch.allclose(layer.lora_B.grad, peft_layer.lora_B["default"].weight.grad, atol=1e-5)
    assert L.count_trainable(ours) == sum(p.numel() for p in theirs.parameters() if p.requires_grad)


def test_does_not_touch_a_copy():
    model = tiny_llama()
    original = copy.deepcopy(model)
    L.add_lora(model, ["q_proj"], r=2)
    assert all(p.requires_grad for p in original.parameters())


def test_lora_disabled_gives_the_base_model_back():
    model = tiny_llama()
    x = torch.randint(0, 50, (2, 7))
    base = model(input_ids=x).logits
    L.add_lora(model, ["q_proj", "v_proj", "down_proj"], r=2)
    with torch.no_grad():
        for layer in L.lora_layers(model).values():
            layer.lora_B.normal_()
    adapted = model(input_ids=x).logits
    assert not torch.allclose(adapted, base)
    with L.lora_disabled(model):
        assert torch.equal(model(input_ids=x).logits, base)
    assert torch.equal(model(input_ids=x).logits, adapted)
    with pytest.raises(ValueError, match="no LoRA"):
        with L.lora_disabled(tiny_llama()):
            pass
