"""The small GPT: shapes, parameter counts, fused vs hand-written attention,
the KV cache, generation, and training helpers."""

from __future__ import annotations

import math

import pytest
import torch

from llmbook.models.attention import scaled_dot_product_attention
from llmbook.batches import split_ids
from llmbook.models.gpt import GPT, GPTConfig, KVCache, count_gpt_parameters
from llmbook.gpt_train import TrainConfig, estimate_loss, train_gpt
from llmbook.nn_basics import count_parameters
from llmbook.train import cosine_schedule
from llmbook.text import CharVocabulary

SMALL = GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def small_model(**overrides: object) -> GPT:
    fields = {**SMALL.__dict__, **overrides}
    return GPT(GPTConfig(**fields)).eval()


# --- configuration and size -------------------------------------------------


def test_head_count_must_divide_width() -> None:
    with pytest.raises(ValueError, match=r"n_embd \(30\) must be divisible by n_head \(4\)"):
        GPTConfig(vocab_size=10, n_embd=30, n_head=4)


@pytest.mark.parametrize("field", ["vocab_size", "block_size", "n_layer", "n_head", "n_embd"])
def test_sizes_must_be_positive(field: str) -> None:
    with pytest.raises(ValueError, match=f"{field} must be a positive integer"):
        GPTConfig(**{"vocab_size": 10, field: 0})


def test_dropout_range() -> None:
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        GPTConfig(vocab_size=10, dropout=1.0)


def test_gpt_needs_a_config() -> None:
    with pytest.raises(TypeError, match="GPT expects a GPTConfig"):
        GPT({"vocab_size": 10})  # type: ignore[arg-type]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize(("layers", "width", "heads", "block"), [(1, 8, 1, 4), (2, 16, 4, 8), (3, 24, 3, 5)])
def test_parameter_count_formula(bias: bool, layers: int, width: int, heads: int, block: int) -> None:
    cfg = GPTConfig(vocab_size=13, block_size=block, n_layer=layers, n_head=heads, n_embd=width, bias=bias)
    assert count_parameters(GPT(cfg)) == count_gpt_parameters(cfg)


def test_nanogpt_cpu_baseline_size() -> None:
    cfg = GPTConfig(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128)
    assert count_gpt_parameters(cfg) == 809_856


def test_head_is_tied_to_embedding() -> None:
    model = small_model()
    assert model.lm_head.weight is model.tok_emb.weight


# --- forward ---------------------------------------------------------------


def test_forward_shapes_and_initial_loss() -> None:
    model = small_model()
    idx = torch.randint(0, 11, (3, 8))
    logits, loss = model(idx, torch.randint(0, 11, (3, 8)))
    assert logits.shape == (3, 8, 11)
    # Small random weights: every token about equally likely, loss close to ln(vocab).
    assert loss.item() == pytest.approx(math.log(11), abs=0.1)
    assert model(idx)[1] is None


def test_sequence_longer_than_block_size_is_rejected() -> None:
    model = small_model()
    with pytest.raises(ValueError, match=r"sequence of length 9: the block size \(context window\) is only 8"):
        model(torch.zeros(1, 9, dtype=torch.long))


@pytest.mark.parametrize(("idx", "error", "message"), [
    (torch.zeros(4, dtype=torch.long), ValueError, "2-D tensor"),
    (torch.zeros(1, 0, dtype=torch.long), ValueError, "idx is empty"),
    (torch.zeros(1, 3), TypeError, "integer token ids"),
])
def test_forward_bad_ids(idx: torch.Tensor, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        small_model()(idx)


def test_targets_shape_must_match() -> None:
    with pytest.raises(ValueError, match=r"targets must have the shape of idx \(1, 4\)"):
        small_model()(torch.zeros(1, 4, dtype=torch.long), torch.zeros(1, 3, dtype=torch.long))


def test_model_is_causal() -> None:
    model = small_model()
    idx = torch.randint(0, 11, (2, 8))
    changed = idx.clone()
    changed[:, 5] = (changed[:, 5] + 1) % 11
    torch.testing.assert_close(model(changed)[0][:, :5], model(idx)[0][:, :5])
    assert not torch.allclose(model(changed)[0][:, 5:], model(idx)[0][:, 5:])


def test_fused_attention_equals_hand_written() -> None:
    model = small_model()
    attn = model.blocks[0].attn
    x = torch.randn(2, 8, 16)
    q, k, v = attn._heads(x)
    mask = torch.ones(8, 8, dtype=torch.bool).tril()
    ours, _ = scaled_dot_product_attention(q, k, v, mask)
    expected = attn.c_proj(ours.transpose(1, 2).reshape(2, 8, 16))
    torch.testing.assert_close(attn(x), expected)


def test_attention_weights() -> None:
    model = small_model()
    w = model.attention_weights(torch.randint(0, 11, (3, 6)))
    assert w.shape == (2, 3, 2, 6, 6)  # (layers, batch, heads, T, T)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 3, 2, 6))
    assert torch.all(w.triu(diagonal=1) == 0)


# --- KV cache and generation -------------------------------------------------


def test_cached_forward_equals_full_forward() -> None:
    model = small_model()
    idx = torch.randint(0, 11, (2, 8))
    full, _ = model(idx)
    cache = KVCache(SMALL.n_layer)
    first, _ = model(idx[:, :3], cache=cache)  # a prompt of three tokens ...
    assert len(cache) == 3
    steps = [first] + [model(idx[:, t : t + 1], cache=cache)[0] for t in range(3, 6)]  # ... then one at a time
    rest, _ = model(idx[:, 6:], cache=cache)  # ... and two at once
    torch.testing.assert_close(torch.cat(steps + [rest], dim=1), full, atol=1e-5, rtol=1e-5)
    assert len(cache) == 8


def test_cache_cannot_grow_past_block_size() -> None:
    model = small_model()
    cache = KVCache(SMALL.n_layer)
    model(torch.zeros(1, 6, dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match="sequence of length 9"):
        model(torch.zeros(1, 3, dtype=torch.long), cache=cache)


@pytest.mark.parametrize("new_tokens", [5, 20])  # inside the block, and sliding past it
def test_generation_with_and_without_cache_agree(new_tokens: int) -> None:
    model = small_model()
    prompt = torch.tensor([[1, 2, 3], [4, 5, 6]])
    a = model.generate(prompt, new_tokens, use_kv_cache=True, generator=torch.Generator().manual_seed(7))
    b = model.generate(prompt, new_tokens, use_kv_cache=False, generator=torch.Generator().manual_seed(7))
    assert a.shape == (2, 3 + new_tokens)
    assert torch.equal(a, b)
    assert torch.equal(a[:, :3], prompt)


def test_top_k_one_is_greedy() -> None:
    model = small_model()
    idx = torch.tensor([[3]])
    out = model.generate(idx, 6, top_k=1)
    expected = idx
    for _ in range(6):
        nxt = model(expected)[0][:, -1].argmax(-1, keepdim=True)
        expected = torch.cat([expected, nxt], dim=1)
    assert torch.equal(out, expected)


def test_generate_restores_training_mode() -> None:
    model = small_model().train()
    model.generate(torch.tensor([[1]]), 2)
    assert model.training


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"idx": torch.zeros(1, 0, dtype=torch.long)}, "the prompt is empty"),
    ({"idx": torch.zeros(3, dtype=torch.long)}, "2-D tensor"),
    ({"temperature": 0.0}, "temperature must be > 0"),
    ({"temperature": -1.0}, "temperature must be > 0"),
    ({"top_k": 0}, "top_k must be at least 1"),
    ({"top_k": 12}, "larger than the vocabulary"),
    ({"max_new_tokens": -1}, "max_new_tokens must be a non-negative integer"),
])
def test_generate_bad_input(kwargs: dict, message: str) -> None:
    args = {"idx": torch.tensor([[1, 2]]), "max_new_tokens": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        small_model().generate(**args)


# --- training helpers ----------------------------------------------------------


def test_learning_rate_schedule() -> None:
    lr_at = cosine_schedule(1e-3, 1e-4, warmup_steps=100, total_steps=1000)
    assert lr_at(0) == pytest.approx(1e-5)
    assert lr_at(99) == pytest.approx(1e-3)
    assert lr_at(550) == pytest.approx(5.5e-4)  # halfway down the cosine
    assert lr_at(1000) == pytest.approx(1e-4)
    with pytest.raises(ValueError, match="min_lr <= peak_lr"):
        cosine_schedule(1e-4, 1e-3, 10, 100)


def test_train_config_errors() -> None:
    with pytest.raises(ValueError, match="max_iters must be a positive integer, got 0"):
        TrainConfig(max_iters=0)
    with pytest.raises(ValueError, match="min_lr <= learning_rate"):
        TrainConfig(learning_rate=1e-4, min_lr=1e-3)


def test_training_learns_a_pattern() -> None:
    tok = CharVocabulary.from_text("abcde")
    ids = torch.tensor(tok.encode("abcde" * 200))
    train, val = split_ids(ids)
    model = GPT(GPTConfig(vocab_size=5, block_size=8, n_layer=1, n_head=2, n_embd=16))
    before = estimate_loss(model, val, 8, 2)
    cfg = TrainConfig(max_iters=60, batch_size=8, learning_rate=1e-2, min_lr=1e-3, warmup_iters=5,
                      eval_interval=30, eval_iters=2, bf16=False)
    result = train_gpt(model, train, val, cfg, decode=tok.decode, sample_tokens=10, progress=False)
    assert before > 1.4 and result.val_loss[-1] < 0.2
    assert result.iters == [0, 30, 60] and len(result.step_loss) == 60
    assert set(result.samples) == {0, 30, 60}
    assert result.samples[60].startswith("a") and len(result.samples[60]) == 11


def test_sdpa_backend_choice() -> None:
    with pytest.raises(ValueError, match="sdpa_backend must be one of"):
        TrainConfig(sdpa_backend="fast")
    tok = CharVocabulary.from_text("abc")
    ids = torch.tensor(tok.encode("abc" * 50))
    results = []
    for backend in (None, "math"):
        torch.manual_seed(0)
        model = GPT(GPTConfig(vocab_size=3, block_size=4, n_layer=1, n_head=1, n_embd=8))
        cfg = TrainConfig(max_iters=5, batch_size=4, warmup_iters=1, eval_interval=5, eval_iters=1,
                          bf16=False, sdpa_backend=backend)
        results.append(train_gpt(model, ids, ids, cfg, progress=False).step_loss)
    assert results[0] == pytest.approx(results[1], rel=1e-4)  # same function, another kernel


# --- reliability and devices -------------------------------------------------------


def test_ids_outside_the_vocabulary_are_a_clear_error() -> None:
    model = small_model()
    with pytest.raises(ValueError, match=r"idx: id 11 is outside the vocabulary \(valid ids 0..10\)"):
        model(torch.tensor([[1, 11]]))  # before: IndexError deep inside nn.Embedding
    with pytest.raises(ValueError, match=r"idx: id -1 is outside the vocabulary"):
        model.generate(torch.tensor([[-1]]), 3)


def test_gpt_step_fn_lives_with_the_gpt() -> None:
    from llmbook.models.gpt import gpt_step_fn
    from llmbook import sampling

    assert not hasattr(sampling, "gpt_step_fn")
    model = small_model()
    out = sampling.generate(gpt_step_fn(model), torch.tensor([[1, 2]]), 4, seed=0)
    assert torch.equal(out.ids, model.generate(torch.tensor([[1, 2]]), 4,
                                               generator=torch.Generator().manual_seed(0)))


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU"))]


@pytest.mark.parametrize("device", DEVICES)
def test_train_estimate_and_generate_on_the_models_device(device: str) -> None:
    """A few steps of the GPT recipe with the model on ``device`` and the data on the CPU."""
    tok = CharVocabulary.from_text("abcde")
    ids = torch.tensor(tok.encode("abcde" * 200))
    train, val = split_ids(ids)
    model = GPT(GPTConfig(vocab_size=5, block_size=8, n_layer=1, n_head=2, n_embd=16)).to(device)
    cfg = TrainConfig(max_iters=40, batch_size=8, learning_rate=1e-2, min_lr=1e-3, warmup_iters=5,
                      eval_interval=20, eval_iters=2, bf16=True)
    result = train_gpt(model, train, val, cfg, decode=tok.decode, sample_tokens=10, progress=False)
    assert next(model.parameters()).device.type == device
    assert result.iters == [0, 20, 40] and result.val_loss[-1] < result.val_loss[0] - 0.5
    loss = estimate_loss(model, val, 8, 2)
    assert math.isfinite(loss) and loss < 1.0
    out = model.generate(torch.tensor([[0]]), 10, generator=torch.Generator().manual_seed(0))
    assert out.device.type == device and out.shape == (1, 11)
    assert result.samples[40].startswith("a")
