"""The small GPT: shapes, parameter counts, fused vs hand-written attention,
the KV cache, generation, and training helpers."""

from __future__ import annotations

import dataclasses
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
#: Every modern option switched on (the book's recipe uses ReLU² rather than SwiGLU).
MODERN = {"norm": "rms", "position": "rotary", "mlp": "swiglu", "qk_norm": True,
          "tie_weights": False, "bias": False}
#: The architectures whose cache and generation are checked: GPT-2, each option alone, all of them.
OPTIONS = [{}, {"norm": "rms"}, {"position": "rotary"}, {"mlp": "relu2"}, {"mlp": "swiglu"},
           {"qk_norm": True}, {"tie_weights": False}, MODERN,
           {"position": "none"}, {"residual": False}]  # the last two: chapter 11's ablations


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
    untied = small_model(tie_weights=False)
    assert untied.lm_head.weight is not untied.tok_emb.weight


# --- the modern options ---------------------------------------------------------


@pytest.mark.parametrize("options", OPTIONS[1:] + [{**MODERN, "mlp": "relu2", "bias": True}])
@pytest.mark.parametrize(("layers", "width", "heads", "block"), [(1, 8, 1, 4), (2, 24, 3, 5)])
def test_parameter_count_formula_with_options(options: dict, layers: int, width: int, heads: int,
                                              block: int) -> None:
    cfg = GPTConfig(vocab_size=13, block_size=block, n_layer=layers, n_head=heads, n_embd=width, **options)
    assert count_parameters(GPT(cfg)) == count_gpt_parameters(cfg)


def test_options_change_the_modules() -> None:
    from llmbook.models.gpt import RMSNorm

    model = small_model(**MODERN)
    assert model.pos_emb is None and model.blocks[0].attn.rotary is not None
    assert isinstance(model.blocks[0].ln_1, RMSNorm) and isinstance(model.ln_f, RMSNorm)
    assert model.blocks[0].mlp.c_gate is not None and model.config.mlp_hidden == 48  # 8 * 16 / 3 -> 48
    assert small_model().blocks[0].mlp.c_gate is None


def test_rotary_needs_an_even_head_size() -> None:
    with pytest.raises(ValueError, match=r"head size n_embd // n_head must be even, got 12 // 4 = 3"):
        GPTConfig(vocab_size=10, n_embd=12, n_head=4, position="rotary")
    GPTConfig(vocab_size=10, n_embd=12, n_head=4)  # learned positions do not care


@pytest.mark.parametrize(("field", "value"), [("norm", "batch"), ("position", "sinusoidal"), ("mlp", "relu")])
def test_unknown_options_are_rejected(field: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"{field} must be one of .* got '{value}'"):
        GPTConfig(vocab_size=10, **{field: value})


def test_rope_base_must_exceed_one() -> None:
    with pytest.raises(ValueError, match="rope_base must be greater than 1"):
        GPTConfig(vocab_size=10, position="rotary", rope_base=1.0)


def test_rmsnorm_formula() -> None:
    from llmbook.models.gpt import RMSNorm

    norm = RMSNorm(6)
    with torch.no_grad():
        norm.weight.copy_(torch.arange(1.0, 7.0))
    x = torch.randn(2, 3, 6)
    expected = norm.weight * x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + norm.eps)
    torch.testing.assert_close(norm(x), expected)


def test_rotary_scores_depend_on_relative_position_only() -> None:
    from llmbook.models.gpt import Rotary

    rope = Rotary(head_size=8, block_size=64)
    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)

    def score(m: int, n: int) -> float:
        return (rope(q, m) * rope(k, n)).sum().item()

    assert score(7, 3) == pytest.approx(score(50, 46), abs=1e-5)
    assert score(7, 3) != pytest.approx(score(7, 6), abs=1e-3)
    torch.testing.assert_close(rope(q, 0), q)  # position 0: no rotation
    torch.testing.assert_close(rope(q, 9).norm(), q.norm())  # a rotation keeps lengths


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


def test_without_positions_the_past_is_a_set() -> None:
    """With no position embedding one attention layer sees its prefix as an unordered set:
    swapping two earlier tokens leaves the last logits unchanged (not so with learned
    positions). With more layers the earlier positions' own states differ, so order leaks in."""
    idx = torch.tensor([[1, 2, 3, 4, 5]])
    swapped = torch.tensor([[2, 1, 3, 4, 5]])
    for position, same in (("none", True), ("learned", False)):
        model = small_model(position=position, n_layer=1)
        a, b = model(idx)[0][0, -1], model(swapped)[0][0, -1]
        assert torch.allclose(a, b, atol=1e-5) == same, position
    assert small_model(position="none").pos_emb is None
    cfg = GPTConfig(**{**SMALL.__dict__, "position": "none"})
    assert count_gpt_parameters(cfg) == count_parameters(GPT(cfg))


def test_without_residual_each_sublayer_replaces_the_stream() -> None:
    block = small_model(residual=False).blocks[0]
    with_residual = small_model().blocks[0]
    with_residual.load_state_dict(block.state_dict())
    x = torch.randn(2, 5, SMALL.n_embd)
    with torch.no_grad():
        h = block.attn(block.ln_1(x))
        torch.testing.assert_close(block(x), block.mlp(block.ln_2(h)))
        h = x + h
        torch.testing.assert_close(with_residual(x), h + with_residual.mlp(with_residual.ln_2(h)))


# --- KV cache and generation -------------------------------------------------


@pytest.mark.parametrize("options", OPTIONS)
def test_cached_forward_equals_full_forward(options: dict) -> None:
    model = small_model(**options)
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


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("new_tokens", [5, 20])  # inside the block, and sliding past it
def test_generation_with_and_without_cache_agree(new_tokens: int, options: dict) -> None:
    model = small_model(**options)
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
    with pytest.raises(ValueError, match="optimizer must be 'adamw' or 'muon', got 'sgd'"):
        TrainConfig(optimizer="sgd")
    with pytest.raises(ValueError, match="schedule must be 'cosine' or 'wsd'"):
        TrainConfig(schedule="linear")
    with pytest.raises(ValueError, match=r"cooldown must be a fraction in \(0, 1\]"):
        TrainConfig(cooldown=0.0)


@pytest.mark.parametrize("budget", [0, -5.0])
def test_time_budget_must_be_positive(budget: float) -> None:
    with pytest.raises(ValueError, match=f"time_budget must be a positive number of seconds .* got {budget}"):
        TrainConfig(time_budget=budget)


def test_time_budget_stops_training() -> None:
    ids = torch.randint(0, 5, (500,))
    model = GPT(GPTConfig(vocab_size=5, block_size=8, n_layer=1, n_head=2, n_embd=16))
    cfg = TrainConfig(max_iters=10**9, batch_size=4, warmup_iters=2, eval_interval=10**6, eval_iters=1,
                      bf16=False, time_budget=0.5)
    result = train_gpt(model, ids, ids, cfg, progress=False)
    assert 0.5 <= result.train_seconds < 60 and 1 <= result.iterations < 10**9
    assert result.iters == [0, result.iterations]
    # the schedule was stretched over the budget: warm-up, then decayed to the end
    assert result.lr[-1] < result.lr[min(2, result.iterations - 1)] or result.iterations <= 2


def test_lr_factor_schedules() -> None:
    from llmbook.gpt_train import lr_factor

    cosine = TrainConfig(max_iters=1000, learning_rate=1e-3, min_lr=1e-4, warmup_iters=100)
    lr_at = cosine_schedule(1e-3, 1e-4, 100, 1000)
    for it in (0, 50, 99, 100, 550, 999, 1000):
        assert lr_factor(cosine, it, it / 1000) * 1e-3 == pytest.approx(lr_at(it))
    wsd = TrainConfig(max_iters=1000, learning_rate=1e-3, min_lr=1e-4, warmup_iters=10,
                      schedule="wsd", cooldown=0.4)
    assert lr_factor(wsd, 4, 0.005) == pytest.approx(0.5)  # warming up
    assert lr_factor(wsd, 300, 0.3) == lr_factor(wsd, 600, 0.6) == 1.0  # stable
    assert lr_factor(wsd, 800, 0.8) == pytest.approx(0.1 + 0.9 * 0.5)  # half-way down
    assert lr_factor(wsd, 1000, 1.0) == pytest.approx(0.1)
    timed = dataclasses.replace(cosine, time_budget=60.0)
    assert lr_factor(timed, 200, 0.5) == pytest.approx(0.1 + 0.9 * 0.5)  # by the fraction of time


@pytest.mark.parametrize("optimizer", ["adamw", "muon"])
def test_modern_recipe_learns_a_pattern(optimizer: str) -> None:
    tok = CharVocabulary.from_text("abcde")
    ids = torch.tensor(tok.encode("abcde" * 200))
    train, val = split_ids(ids)
    model = GPT(GPTConfig(vocab_size=5, block_size=8, n_layer=1, n_head=2, n_embd=16, **MODERN))
    cfg = TrainConfig(max_iters=60, batch_size=8, learning_rate=1e-2, min_lr=1e-4, warmup_iters=5,
                      eval_interval=30, eval_iters=2, bf16=False, optimizer=optimizer, schedule="wsd")
    result = train_gpt(model, train, val, cfg, progress=False)
    assert result.val_loss[0] > 1.4 and result.val_loss[-1] < 0.2


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
