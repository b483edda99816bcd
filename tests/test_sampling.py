"""Tests of llmbook.sampling: temperature, filters, the generation loop, the metrics."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from llmbook import sampling as S
from llmbook.text import ngrams

# ---------------------------------------------------------------------------
# Temperature
# ---------------------------------------------------------------------------


def random_logits(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * 3


def test_temperature_one_is_plain_softmax() -> None:
    logits = random_logits(4, 50)
    assert torch.equal(S.apply_temperature(logits, 1.0), logits)
    assert torch.allclose(F.softmax(S.apply_temperature(logits, 1.0), -1), F.softmax(logits, -1))


def test_temperature_divides_logits() -> None:
    assert torch.equal(S.apply_temperature(torch.tensor([2.0, -1.0, 0.0]), 0.5),
                       torch.tensor([4.0, -2.0, 0.0]))


def test_tiny_temperature_is_argmax() -> None:
    logits = random_logits(8, 100)
    probs = F.softmax(S.apply_temperature(logits, 1e-3), -1)
    assert torch.equal(probs.argmax(-1), logits.argmax(-1))
    assert torch.allclose(probs.max(-1).values, torch.ones(8))
    chosen = S.sample_next(logits, temperature=1e-3, generator=torch.Generator().manual_seed(1))
    assert torch.equal(chosen, logits.argmax(-1))


def test_huge_temperature_is_nearly_uniform() -> None:
    probs = F.softmax(S.apply_temperature(random_logits(50), 1e6), -1)
    assert torch.allclose(probs, torch.full((50,), 1 / 50), atol=1e-6)


@pytest.mark.parametrize("t", [0.1, 0.5, 1.0, 2.0, 5.0])
def test_probs_power_equals_softmax_of_scaled_logits(t: float) -> None:
    logits = random_logits(3, 40).double()
    expected = F.softmax(logits / t, -1)
    assert torch.allclose(S.probs_power(F.softmax(logits, -1), t), expected, atol=1e-12)


def test_probs_power_small_temperature_does_not_underflow() -> None:
    p = torch.tensor([0.6, 0.3, 0.1])
    assert torch.equal(S.probs_power(p, 0.001), torch.tensor([1.0, 0.0, 0.0]))
    assert torch.allclose(S.probs_power(p, 1.0), p)


@pytest.mark.parametrize("t", [0, 0.0, -1.0, math.nan])
def test_non_positive_temperature_is_an_error(t: float) -> None:
    with pytest.raises(ValueError, match="temperature must be > 0.*greedy=True"):
        S.apply_temperature(torch.zeros(3), t)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        S.sample_next(torch.zeros(3), temperature=t)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        S.probs_power(torch.tensor([0.5, 0.5]), t)


def test_infinite_or_non_numeric_temperature_is_an_error() -> None:
    with pytest.raises(ValueError, match="temperature must be finite"):
        S.apply_temperature(torch.zeros(3), math.inf)
    with pytest.raises(TypeError, match="temperature must be a number"):
        S.apply_temperature(torch.zeros(3), "1.0")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="temperature must be a number"):
        S.apply_temperature(torch.zeros(3), True)


def test_bad_probabilities_are_an_error() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        S.probs_power(torch.tensor([0.5, 0.6]), 1.0)
    with pytest.raises(ValueError, match="non-negative"):
        S.probs_power(torch.tensor([1.5, -0.5]), 1.0)


# ---------------------------------------------------------------------------
# Bad logits
# ---------------------------------------------------------------------------


def test_nan_logits_are_an_error() -> None:
    bad = torch.tensor([[0.0, 1.0], [math.nan, 1.0]])
    for call in (lambda: S.apply_temperature(bad, 1.0), lambda: S.sample_next(bad),
                 lambda: S.top_k_filter(bad, 1), lambda: S.top_p_filter(bad, 0.5)):
        with pytest.raises(ValueError, match="logits contain NaN"):
            call()


def test_other_bad_logits_are_errors() -> None:
    with pytest.raises(ValueError, match=r"\+inf"):
        S.sample_next(torch.tensor([0.0, math.inf]))
    with pytest.raises(ValueError, match="every logit of a row is -inf"):
        S.sample_next(torch.full((2, 3), -math.inf))
    with pytest.raises(ValueError, match="shape"):
        S.sample_next(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="empty"):
        S.sample_next(torch.zeros(0))
    with pytest.raises(TypeError, match="floating-point"):
        S.sample_next(torch.tensor([1, 2, 3]))
    with pytest.raises(TypeError, match="torch.Tensor"):
        S.sample_next([0.1, 0.2])  # type: ignore[arg-type]


def test_minus_infinity_logits_are_never_chosen() -> None:
    logits = torch.tensor([[-math.inf, 0.0, -math.inf, 0.0]]).repeat(200, 1)
    chosen = S.sample_next(logits, generator=torch.Generator().manual_seed(0))
    assert set(chosen.tolist()) == {1, 3}


# ---------------------------------------------------------------------------
# Top-k and top-p
# ---------------------------------------------------------------------------


def test_top_k_keeps_the_k_largest() -> None:
    out = S.top_k_filter(torch.tensor([[1.0, 3.0, 2.0, 0.0], [5.0, 4.0, 3.0, 6.0]]), 2)
    inf = -math.inf
    assert torch.equal(out, torch.tensor([[inf, 3.0, 2.0, inf], [5.0, inf, inf, 6.0]]))


def test_top_k_equal_to_vocabulary_keeps_everything() -> None:
    logits = random_logits(2, 7)
    assert torch.equal(S.top_k_filter(logits, 7), logits)


@pytest.mark.parametrize("k", [0, -3])
def test_top_k_below_one_is_an_error(k: int) -> None:
    with pytest.raises(ValueError, match="top_k must be at least 1"):
        S.top_k_filter(torch.zeros(5), k)
    with pytest.raises(ValueError, match="top_k must be at least 1"):
        S.sample_next(torch.zeros(5), top_k=k)


def test_top_k_larger_than_vocabulary_is_an_error() -> None:
    with pytest.raises(ValueError, match="top_k = 6 is larger than the vocabulary \\(5 tokens\\)"):
        S.top_k_filter(torch.zeros(5), 6)
    with pytest.raises(TypeError, match="top_k must be an int"):
        S.top_k_filter(torch.zeros(5), 2.0)  # type: ignore[arg-type]


def test_top_p_keeps_the_minimal_set_reaching_p() -> None:
    logits = torch.log(torch.tensor([0.1, 0.4, 0.05, 0.3, 0.15]))
    kept = lambda p: torch.isfinite(S.top_p_filter(logits, p)).nonzero()[:, 0].tolist()  # noqa: E731
    assert kept(0.3) == [1]              # 0.4 alone reaches 0.3
    assert kept(0.4) == [1]              # ... and exactly 0.4
    assert kept(0.5) == [1, 3]           # 0.4 + 0.3 = 0.7 >= 0.5
    assert kept(0.7) == [1, 3]
    assert kept(0.75) == [1, 3, 4]       # 0.4 + 0.3 + 0.15 = 0.85
    assert kept(0.9) == [0, 1, 3, 4]     # 0.95
    assert kept(0.99) == [0, 1, 2, 3, 4]
    assert kept(1.0) == [0, 1, 2, 3, 4]


def test_top_p_set_is_minimal_on_random_logits() -> None:
    logits = random_logits(20, 30, seed=3)
    p = 0.8
    probs = F.softmax(logits, -1)
    keep = torch.isfinite(S.top_p_filter(logits, p))
    for row in range(20):
        kept_probs = probs[row][keep[row]]
        assert kept_probs.sum() >= p                                  # the set reaches p
        assert kept_probs.sum() - kept_probs.min() < p                # ... and nothing can be dropped
        dropped = probs[row][~keep[row]]
        assert dropped.numel() and kept_probs.min() >= dropped.max()  # the most probable ones


def test_top_p_keeps_logit_values() -> None:
    logits = random_logits(3, 10)
    out = S.top_p_filter(logits, 0.6)
    keep = torch.isfinite(out)
    assert torch.equal(out[keep], logits[keep])


@pytest.mark.parametrize("p", [0, 0.0, -0.1, 1.01, math.nan])
def test_top_p_outside_zero_one_is_an_error(p: float) -> None:
    with pytest.raises(ValueError, match=r"top_p must be in \(0, 1\]"):
        S.top_p_filter(torch.zeros(4), p)
    with pytest.raises(ValueError, match=r"top_p must be in \(0, 1\]"):
        S.sample_next(torch.zeros(4), top_p=p)


# ---------------------------------------------------------------------------
# Repetition penalty
# ---------------------------------------------------------------------------


def test_repetition_penalty_divides_positive_and_multiplies_negative_logits() -> None:
    logits = torch.tensor([[2.0, -1.0, 0.5, 3.0]])
    out = S.apply_repetition_penalty(logits, torch.tensor([[0, 1, 1, 0]]), 2.0)
    assert torch.equal(out, torch.tensor([[1.0, -2.0, 0.5, 3.0]]))
    assert torch.equal(logits, torch.tensor([[2.0, -1.0, 0.5, 3.0]]))  # input unchanged


def test_repetition_penalty_bad_input() -> None:
    with pytest.raises(ValueError, match="positive finite"):
        S.apply_repetition_penalty(torch.zeros(3), torch.tensor([0]), 0.0)
    with pytest.raises(ValueError, match="do not match"):
        S.apply_repetition_penalty(torch.zeros(2, 3), torch.tensor([0]), 1.2)
    with pytest.raises(ValueError, match=r"previous_ids: id 3 is outside the vocabulary \(valid ids 0..2\)"):
        S.apply_repetition_penalty(torch.zeros(3), torch.tensor([3]), 1.2)
    with pytest.raises(ValueError, match="needs previous_ids"):
        S.process_logits(torch.zeros(3), repetition_penalty=1.2)


# ---------------------------------------------------------------------------
# Agreement with transformers' logits processors
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_filters_agree_with_transformers_processors(seed: int) -> None:
    tp = pytest.importorskip("transformers.generation.logits_process")
    logits = random_logits(6, 500, seed=seed)
    previous = torch.randint(0, 500, (6, 12), generator=torch.Generator().manual_seed(seed))
    for t in (0.3, 0.7, 1.5):
        assert torch.equal(S.apply_temperature(logits, t), tp.TemperatureLogitsWarper(t)(previous, logits))
    for k in (1, 5, 50, 500):
        assert torch.equal(S.top_k_filter(logits, k), tp.TopKLogitsWarper(k)(previous, logits))
    for p in (0.1, 0.5, 0.9, 0.95, 1.0):
        ours, theirs = S.top_p_filter(logits, p), tp.TopPLogitsWarper(p)(previous, logits)
        assert torch.equal(torch.isfinite(ours), torch.isfinite(theirs)), p
        assert torch.equal(ours, theirs)
    for penalty in (0.8, 1.2, 2.0):
        theirs = tp.RepetitionPenaltyLogitsProcessor(penalty)(previous, logits.clone())
        assert torch.equal(S.apply_repetition_penalty(logits, previous, penalty), theirs)


def test_full_pipeline_agrees_with_transformers() -> None:
    tp = pytest.importorskip("transformers.generation.logits_process")
    logits = random_logits(4, 300, seed=7)
    previous = torch.randint(0, 300, (4, 20), generator=torch.Generator().manual_seed(7))
    chain = tp.LogitsProcessorList([
        tp.RepetitionPenaltyLogitsProcessor(1.3), tp.TemperatureLogitsWarper(0.7),
        tp.TopKLogitsWarper(40), tp.TopPLogitsWarper(0.9),
    ])
    theirs = chain(previous, logits.clone())
    ours = S.process_logits(logits, temperature=0.7, top_k=40, top_p=0.9,
                            repetition_penalty=1.3, previous_ids=previous)
    assert torch.equal(ours, theirs)
    # ... so the same random state draws the same tokens.
    torch.manual_seed(0)
    theirs_tokens = torch.multinomial(F.softmax(theirs, -1), 1)[:, 0]
    torch.manual_seed(0)
    scores = S.apply_repetition_penalty(logits, previous, 1.3)
    ours_tokens = S.sample_next(scores, temperature=0.7, top_k=40, top_p=0.9)
    assert torch.equal(ours_tokens, theirs_tokens)


# ---------------------------------------------------------------------------
# sample_next
# ---------------------------------------------------------------------------


def test_sample_next_shapes_and_greedy() -> None:
    logits = random_logits(5, 20)
    assert S.sample_next(logits[0], generator=torch.Generator().manual_seed(0)).shape == ()
    assert S.sample_next(logits, generator=torch.Generator().manual_seed(0)).shape == (5,)
    assert torch.equal(S.sample_next(logits, greedy=True), logits.argmax(-1))
    assert torch.equal(S.sample_next(logits, greedy=True, temperature=3.0, top_k=2), logits.argmax(-1))


def test_sample_next_follows_the_distribution() -> None:
    logits = torch.log(torch.tensor([0.7, 0.2, 0.1])).repeat(20000, 1)
    chosen = S.sample_next(logits, generator=torch.Generator().manual_seed(0))
    freq = torch.bincount(chosen, minlength=3).float() / 20000
    assert torch.allclose(freq, torch.tensor([0.7, 0.2, 0.1]), atol=0.015)


def test_top_k_one_is_greedy() -> None:
    logits = random_logits(10, 30)
    chosen = S.sample_next(logits, top_k=1, generator=torch.Generator().manual_seed(0))
    assert torch.equal(chosen, logits.argmax(-1))


# ---------------------------------------------------------------------------
# generate
# ---------------------------------------------------------------------------

VOCAB = 11


def counting_step(new_ids: torch.Tensor, state: torch.Tensor | None):
    """A dummy model: after token i it strongly prefers i + 1 (mod VOCAB), with some noise.

    Its state is the number of tokens seen, to check that state is carried."""
    seen = new_ids.shape[1] if state is None else state + new_ids.shape[1]
    last = new_ids[:, -1]
    logits = torch.full((new_ids.shape[0], VOCAB), 0.0)
    logits[torch.arange(len(last)), (last + 1) % VOCAB] = 3.0
    return logits, seen


def test_generate_greedy_follows_the_model() -> None:
    out = S.generate(counting_step, [3], 5, greedy=True)
    assert out.ids.tolist() == [[3, 4, 5, 6, 7, 8]]
    assert out.new_ids.tolist() == [[4, 5, 6, 7, 8]]
    expected = F.log_softmax(counting_step(torch.tensor([[0]]), None)[0], -1).max().item()
    assert torch.allclose(out.logprobs, torch.full((1, 5), expected))


def test_generate_is_deterministic_under_a_seed() -> None:
    a = S.generate(counting_step, [[1], [2]], 30, temperature=1.5, seed=42)
    b = S.generate(counting_step, [[1], [2]], 30, temperature=1.5, seed=42)
    c = S.generate(counting_step, [[1], [2]], 30, temperature=1.5, seed=43)
    assert torch.equal(a.ids, b.ids)
    assert not torch.equal(a.ids, c.ids)
    assert a.ids.shape == (2, 31)


def test_generate_carries_state_and_feeds_one_token_at_a_time() -> None:
    calls = []

    def step(new_ids, state):
        calls.append((new_ids.shape[1], state))
        return counting_step(new_ids, state)

    S.generate(step, [5, 6, 7], 3, greedy=True)
    assert calls == [(3, None), (1, 3), (1, 4)]


def test_generate_with_global_random_state_matches_manual_seed() -> None:
    torch.manual_seed(5)
    a = S.generate(counting_step, [0], 20)
    torch.manual_seed(5)
    b = S.generate(counting_step, [0], 20)
    assert torch.equal(a.ids, b.ids)


def test_generate_stops_at_stop_id() -> None:
    out = S.generate(counting_step, [[6], [8]], 10, greedy=True, stop_id=9)
    assert out.ids.tolist() == [[6, 7, 8, 9], [8, 9, 9, 9]]
    assert math.isnan(out.logprobs[1, 1]) and not math.isnan(out.logprobs[0, 2])


def test_generate_repetition_penalty_breaks_a_loop() -> None:
    def loop_step(new_ids, state):  # always prefers token 0, then 1
        return torch.tensor([[2.0, 1.0, 0.5, 0.0]]).repeat(new_ids.shape[0], 1), None

    assert S.generate(loop_step, [3], 4, greedy=True).new_ids.tolist() == [[0, 0, 0, 0]]
    out = S.generate(loop_step, [3], 4, greedy=True, repetition_penalty=5.0)
    # after 0: [0.4, 1, 0.5, 0] -> 1; after 0, 1: [0.4, 0.2, 0.5, 0] -> 2; then [0.4, 0.2, 0.1, 0] -> 0
    assert out.new_ids.tolist() == [[0, 1, 2, 0]]


def test_generate_bad_input() -> None:
    with pytest.raises(ValueError, match="the prompt is empty"):
        S.generate(counting_step, [], 5)
    with pytest.raises(ValueError, match="the prompt is empty"):
        S.generate(counting_step, torch.zeros(2, 0, dtype=torch.long), 5)
    with pytest.raises(TypeError, match="integer token ids"):
        S.generate(counting_step, torch.tensor([0.5]), 5)
    with pytest.raises(ValueError, match="max_new_tokens"):
        S.generate(counting_step, [1], -1)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        S.generate(counting_step, [1], 5, temperature=0.0)
    with pytest.raises(ValueError, match=r"top_p must be in \(0, 1\]"):
        S.generate(counting_step, [1], 5, top_p=1.5)
    with pytest.raises(ValueError, match="top_k = 12 is larger than the vocabulary"):
        S.generate(counting_step, [1], 5, top_k=12)
    with pytest.raises(ValueError, match="either seed or generator"):
        S.generate(counting_step, [1], 5, seed=1, generator=torch.Generator())
    with pytest.raises(ValueError, match="step_fn must return logits of shape"):
        S.generate(lambda ids, s: (torch.zeros(VOCAB), s), [1], 5)
    assert S.generate(counting_step, [1, 2], 0).ids.tolist() == [[1, 2]]


def test_window_step_fn_matches_a_stateless_model() -> None:
    def forward(ids):  # logits depend on the last token only
        return counting_step(ids[:, -1:], None)[0][:, None, :]

    step = S.window_step_fn(forward, block_size=4)
    a = S.generate(step, [2], 6, seed=0, temperature=2.0)
    b = S.generate(counting_step, [2], 6, seed=0, temperature=2.0)
    assert torch.equal(a.ids, b.ids)


def test_recurrent_step_fn_feeds_hidden_state() -> None:
    seen = []

    def model(ids, hidden):
        seen.append(hidden)
        return counting_step(ids, hidden)[0][:, None, :], (0 if hidden is None else hidden) + 1

    S.generate(S.recurrent_step_fn(model), [1, 2], 3, greedy=True)
    assert seen == [None, 1, 2]


def test_gpt_step_fn_matches_recomputation() -> None:
    gpt = pytest.importorskip("llmbook.models.gpt")  # the GPT's own step function, beside the model
    torch.manual_seed(0)
    model = gpt.GPT(gpt.GPTConfig(vocab_size=13, block_size=8, n_layer=2, n_head=2, n_embd=16))
    prompt = torch.tensor([[1, 2, 3], [4, 5, 6]])
    cached = S.generate(gpt.gpt_step_fn(model), prompt, 12, seed=3)       # slides past block_size
    full = S.generate(S.window_step_fn(model, block_size=8), prompt, 12, seed=3)
    assert torch.equal(cached.ids, full.ids)
    assert torch.allclose(cached.logprobs, full.logprobs, atol=1e-5)


# ---------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------


def test_entropy() -> None:
    assert S.entropy(torch.tensor([1.0, 0.0, 0.0])).item() == 0.0
    assert math.isclose(S.entropy(torch.full((8,), 1 / 8), base=2).item(), 3.0, rel_tol=1e-6)
    assert torch.allclose(S.entropy(torch.tensor([[0.5, 0.5], [1.0, 0.0]])), torch.tensor([math.log(2), 0.0]))
    with pytest.raises(ValueError, match="non-negative"):
        S.entropy(torch.tensor([-0.1, 1.1]))


def test_distinct_n() -> None:
    assert S.distinct_n([["a", "b", "a", "b"], ["a", "b", "c"]], 2) == 3 / 5
    assert S.distinct_n([list("abcd")], 1) == 1.0
    assert S.distinct_n(torch.tensor([[1, 1, 1], [1, 1, 1]]), 2) == 1 / 4
    with pytest.raises(ValueError, match="no text has 5 tokens"):
        S.distinct_n([["a"]], 5)
    with pytest.raises(TypeError, match="not a single str"):
        S.distinct_n("abc", 1)


def test_repeated_ngram_fraction() -> None:
    assert S.repeated_ngram_fraction("abcabcab", 3) == 0.5
    assert S.repeated_ngram_fraction("abcdef", 2) == 0.0
    assert S.repeated_ngram_fraction(["the"] * 10, 1) == 0.9
    with pytest.raises(ValueError, match="fewer than 4 tokens"):
        S.repeated_ngram_fraction("abc", 4)
    with pytest.raises(ValueError, match="positive integer"):
        ngrams("abc", 0)


def test_hf_step_fn_reproduces_transformers_generate() -> None:
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=40, hidden_size=16, intermediate_size=32,
                                      num_hidden_layers=2, num_attention_heads=2,
                                      num_key_value_heads=1, max_position_embeddings=64,
                                      bos_token_id=0, eos_token_id=1, pad_token_id=1)
    model = transformers.LlamaForCausalLM(config).eval()
    prompt = torch.tensor([[0, 5, 9, 12]])
    mask = torch.ones_like(prompt)
    theirs = model.generate(prompt, attention_mask=mask, do_sample=False, max_new_tokens=10,
                            eos_token_id=None)
    ours = S.generate(S.hf_step_fn(model), prompt, 10, greedy=True)
    assert torch.equal(theirs, ours.ids)
    settings = dict(temperature=0.7, top_k=20, top_p=0.9, repetition_penalty=1.2)
    torch.manual_seed(11)
    theirs = model.generate(prompt, attention_mask=mask, do_sample=True, max_new_tokens=12,
                            eos_token_id=None, **settings)
    torch.manual_seed(11)
    ours = S.generate(S.hf_step_fn(model), prompt, 12, **settings)
    assert torch.equal(theirs, ours.ids)


# ---------------------------------------------------------------------------
# Reliability: no silent wrong answers, no crash inside torch
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("t", [1e-30, 1e-45])
def test_tiny_temperature_does_not_overflow(t: float) -> None:
    # logits / 1e-45 overflow to inf in float32 (and softmax to NaN) unless the
    # largest logit is subtracted first; the draw must then be the argmax.
    logits = torch.tensor([[5.0, 7.0, 6.0], [100.0, -3.0, 99.0]])
    assert S.sample_next(logits, temperature=t, generator=torch.Generator().manual_seed(0)).tolist() == [1, 0]


def test_half_precision_logits_do_not_overflow() -> None:
    # 30 / 1e-4 = 300,000 is beyond float16's largest number (65,504).
    logits = torch.tensor([[30.0, 29.0, -5.0]], dtype=torch.float16)
    out = S.sample_next(logits, temperature=1e-4, generator=torch.Generator().manual_seed(0))
    assert out.tolist() == [0]
    steps = S.generate(lambda ids, state: (logits.expand(ids.shape[0], -1), state), [1], 3,
                       temperature=1e-4, seed=0)
    assert steps.new_ids.tolist() == [[0, 0, 0]]


def test_generate_rejects_a_text_prompt() -> None:
    with pytest.raises(TypeError, match="prompt_ids must be token ids, not text: encode the prompt first"):
        S.generate(counting_step, "abc", 5)


@pytest.mark.parametrize(("stop_id", "message"), [
    (VOCAB, rf"stop_id must be a token id in 0..{VOCAB - 1} \(the vocabulary\), got {VOCAB}"),
    (-1, "stop_id must be a non-negative integer, got -1"),
    (2.0, "stop_id must be a non-negative integer, got 2.0"),
])
def test_generate_rejects_a_bad_stop_id(stop_id, message) -> None:
    with pytest.raises(ValueError, match=message):
        S.generate(counting_step, [1], 5, stop_id=stop_id)


def test_generate_rejects_prompt_ids_outside_the_vocabulary() -> None:
    with pytest.raises(ValueError, match=rf"prompt_ids: id {VOCAB + 3} is outside the vocabulary"):
        S.generate(counting_step, [1, VOCAB + 3], 5)


def test_sampling_imports_no_model() -> None:
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(S))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not {name for name in imported if name and name.startswith("llmbook.models")}


# ---------------------------------------------------------------------------
# Devices: a CPU generator drives a model anywhere; tokens live with the model
# ---------------------------------------------------------------------------

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU"))]


@pytest.mark.parametrize("device", DEVICES)
def test_generate_on_the_models_device(device: str) -> None:
    model = torch.nn.Sequential(torch.nn.Embedding(VOCAB, 8), torch.nn.Linear(8, VOCAB)).to(device)
    cpu_model = torch.nn.Sequential(torch.nn.Embedding(VOCAB, 8), torch.nn.Linear(8, VOCAB))
    cpu_model.load_state_dict(model.state_dict())
    out = S.generate(S.window_step_fn(model, block_size=4), [1, 2], 6, seed=0, top_k=5)
    assert out.ids.device.type == device and out.logprobs.device.type == device
    reference = S.generate(S.window_step_fn(cpu_model, block_size=4), [1, 2], 6, seed=0, top_k=5)
    assert out.ids.tolist() == reference.ids.tolist()  # the same seed, the same tokens
    greedy = S.generate(S.recurrent_step_fn(lambda ids, h: (model(ids), h)), [1], 3, greedy=True)
    assert greedy.ids.device.type == device
