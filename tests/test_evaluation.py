"""Tests of llmbook.evaluation: bits per character, the scorers, benchmarks, judges."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from llmbook.evaluation import (
    ContextTooLongError,
    MCItem,
    NoScoringInterfaceError,
    TokenizerMismatchError,
    accuracy_with_ci,
    bits_per_char,
    choose,
    continuation_logprob,
    next_sentence_benchmark,
    ngram_overlap,
    score_items,
    score_text,
    scorer_for,
    split_sentences,
)
from llmbook.models.gpt import GPT, GPTConfig
from llmbook.models.mlp_lm import ContextMLP
from llmbook.models.ngram import NGramModel
from llmbook.models.rnn import CharLSTM
from llmbook.text import CharVocabulary

TEXT = "\nthe cat sat on the mat. the dog sat on the log.\n"
VOCAB = CharVocabulary.from_text(TEXT)
FABLES = [f"Fable {i}. It had a start {i}. Then a middle {i}! And it ended {i}? Moral {i}."
          for i in range(12)]


def small_models():
    torch.manual_seed(0)
    V = len(VOCAB)
    return [ContextMLP(V, context=3, embed_dim=4, hidden=8), CharLSTM(V, 8, 16),
            GPT(GPTConfig(vocab_size=V, block_size=8, n_layer=1, n_head=2, n_embd=8))]


def test_bits_per_char_conversion():
    assert bits_per_char(10 * math.log(2), 5) == pytest.approx(2.0)
    with pytest.raises(ValueError):
        bits_per_char(1.0, 0)


def test_uniform_model_has_log2_vocab_bits():
    # A unigram model with huge add-k smoothing is uniform over V + 1 symbols (with <unk>).
    model = NGramModel(1, k=1e9).fit(list(TEXT))
    score = score_text(scorer_for(model), "the cat")
    assert score.bits_per_char == pytest.approx(math.log2(model.vocab_size + 1), rel=1e-6)
    assert score.n_tokens == score.n_chars == 7


def test_ngram_without_smoothing_is_refused():
    with pytest.raises(ValueError, match="smoothing"):
        scorer_for(NGramModel(2).fit(list(TEXT)))


@pytest.mark.parametrize("index", [0, 1, 2])
def test_char_scorer_matches_a_direct_computation(index):
    model = small_models()[index].eval()
    scorer = scorer_for(model, VOCAB)
    ids = VOCAB.encode("the cat sat")
    lp = scorer.token_logprobs(ids)
    assert lp.shape == (len(ids),)
    # direct: log p(ids[i] | start, ids[:i]) for the last id
    full = torch.tensor([scorer.start_id, *ids])
    with torch.no_grad():
        logits = direct_logits(model, full)
    assert float(lp[-1]) == pytest.approx(float(F.log_softmax(logits, -1)[ids[-1]]), abs=1e-5)


def direct_logits(model, full):
    if isinstance(model, ContextMLP):
        return model(full[-4:-1][None])[0]
    if isinstance(model, CharLSTM):
        return model(full[None, :-1])[0][0, -1]
    # the GPT sees only its block of 8: the windows must give the same as the last block
    return model(full[None, -8:-1])[0][0, -1]


def test_long_text_is_scored_in_windows():
    model = small_models()[2].eval()  # GPT with block_size 8
    scorer = scorer_for(model, VOCAB)
    ids = VOCAB.encode(TEXT[1:] * 2)
    lp = scorer.token_logprobs(ids)
    assert lp.shape == (len(ids),) and torch.isfinite(lp).all()


def test_model_without_scoring_interface():
    with pytest.raises(NoScoringInterfaceError, match="scoring interface"):
        scorer_for(torch.nn.Linear(3, 3))
    with pytest.raises(NoScoringInterfaceError):
        scorer_for("not a model")


def test_mismatched_vocabularies():
    model = ContextMLP(len(VOCAB) + 1, context=3)
    with pytest.raises(TokenizerMismatchError, match="do not belong together"):
        scorer_for(model, VOCAB)
    with pytest.raises(TokenizerMismatchError):
        scorer_for(small_models()[1], None)


def test_continuation_logprob_is_a_difference_of_text_scores():
    model = small_models()[1].eval()
    scorer = scorer_for(model, VOCAB)
    lp = continuation_logprob(scorer, "the cat", " sat")
    whole = scorer.token_logprobs(VOCAB.encode("the cat sat"))
    # conditioned on the context only (no start mark): drop the first token of the whole
    assert lp == pytest.approx(float(scorer._logprobs(VOCAB.encode("the cat sat"))[-4:].sum()))
    assert math.isfinite(float(whole.sum()))
    with pytest.raises(ValueError):
        continuation_logprob(scorer, "", " sat")


def test_context_longer_than_the_model():
    scorer = scorer_for(small_models()[2], VOCAB)  # block_size 8
    with pytest.raises(ContextTooLongError, match="window of 8"):
        continuation_logprob(scorer, "the cat sat on", " the mat")


def test_bad_items():
    with pytest.raises(ValueError, match="at least two options"):
        MCItem("ctx", (" a",), 0)
    with pytest.raises(ValueError, match="empty"):
        MCItem("ctx", (" a", " "), 0)
    with pytest.raises(ValueError, match="not an option"):
        MCItem("ctx", (" a", " b"), 2)


def test_benchmark_is_seeded_and_well_formed():
    items = next_sentence_benchmark(FABLES, 5, seed=3)
    assert items == next_sentence_benchmark(FABLES, 5, seed=3)
    assert items != next_sentence_benchmark(FABLES, 5, seed=4)
    for item in items:
        assert len(item.options) == 4
        assert len(set(item.options)) == 4
        # the right option comes from the same fable as the context
        number = item.context.split()[-1].rstrip(".!?")
        assert number in item.options[item.answer]
    with pytest.raises(ValueError, match="cannot build"):
        next_sentence_benchmark(FABLES, 100)


def test_split_sentences():
    assert split_sentences("A b. C d! E f? G") == ["A b.", "C d!", "E f?", "G"]


def test_choose_sum_versus_normalised():
    item = MCItem("c", (" short", " much longer option"), 1)
    lps = [[-6.0, -9.0]]  # the long option has a lower sum but a higher per-character score
    assert choose([item], lps) == [0]
    assert choose([item], lps, normalise=True) == [1]


def test_score_items_and_a_perfect_model():
    # a character model of the text scores the true continuation of a memorised text highest
    text = "abcabcabcabc"
    vocab = CharVocabulary.from_text(text + "\nxyz")
    model = NGramModel(3, k=0.001).fit(list("\n" + text * 20))
    scorer = scorer_for(model)
    item = MCItem("abcab", ("c", "x", "y"), 0)
    assert choose([item], score_items(scorer, [item])) == [0]
    assert vocab  # the n-gram scorer needs no vocabulary


def test_wilson_interval():
    acc, lo, hi = accuracy_with_ci([True] * 3 + [False] * 7)
    assert acc == pytest.approx(0.3) and 0 < lo < 0.3 < hi < 1
    assert accuracy_with_ci([True] * 5)[2] == pytest.approx(1.0)
    assert accuracy_with_ci([False] * 5)[1] == pytest.approx(0.0)
    with pytest.raises(ValueError):
        accuracy_with_ci([])


def test_ngram_overlap():
    train = "once upon a time a fox saw some grapes hanging high on a vine"
    texts = ["The fox saw some grapes hanging high up.", "A lion slept in the sun all day long."]
    assert ngram_overlap(texts, train, n=5) == [True, False]
    assert ngram_overlap(texts, train, n=8) == [False, False]
    with pytest.raises(ValueError):
        ngram_overlap(texts, train, n=0)


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU"))]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("index", [0, 1, 2])
def test_scorers_work_on_the_models_device(device, index):
    """A model on any device is scored there, and gives the CPU's numbers."""
    model = small_models()[index].eval()
    expected = score_text(scorer_for(model, VOCAB), TEXT[1:])
    moved = score_text(scorer_for(model.to(device), VOCAB), TEXT[1:])
    assert moved.n_tokens == expected.n_tokens
    assert moved.nats == pytest.approx(expected.nats, rel=1e-4)
    item = MCItem("on", (" mat", " dog"), 0)  # short: the GPT reads 8 characters
    assert len(score_items(scorer_for(model, VOCAB), [item])[0]) == 2


@pytest.mark.parametrize("device", DEVICES)
def test_hf_scorer_and_judge_on_the_models_device(device):
    from tiny_models import smollm2_tokenizer, tiny_llama

    from llmbook.evaluation import judge_preference

    tokenizer = smollm2_tokenizer()
    model = tiny_llama(len(tokenizer))
    expected = continuation_logprob(scorer_for(model, tokenizer), "Once upon", " a time")
    model.to(device)
    assert continuation_logprob(scorer_for(model, tokenizer), "Once upon", " a time") == (
        pytest.approx(expected, rel=1e-4))
    assert math.isfinite(judge_preference(model, tokenizer, "2+2?", "4", "5"))
