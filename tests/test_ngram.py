"""Tests of llmbook.models.ngram on a toy corpus small enough to count by hand.

Corpus (12 tokens):  the cat sat . the dog sat . the cat ran .

Bigram counts:  (the,cat) 2  (the,dog) 1  (cat,sat) 1  (cat,ran) 1
                (sat,.) 2  (.,the) 2  (dog,sat) 1  (ran,.) 1
Vocabulary: the cat sat . dog ran  (6 types; 7 outcomes with <unk>)
"""

import math
import random

import pytest

from llmbook.models.ngram import UNK, NGramModel, NotFittedError, UnseenContextError
from llmbook.text import ngrams

TOY = "the cat sat . the dog sat . the cat ran .".split()


@pytest.fixture
def bigram():
    return NGramModel(n=2).fit(TOY)


def test_ngrams_helper():
    assert ngrams(["a", "b", "c", "d"], 3) == [("a", "b", "c"), ("b", "c", "d")]
    assert ngrams(["a"], 2) == []
    with pytest.raises(ValueError):
        ngrams(["a"], 0)


def test_fit_returns_self_and_counts(bigram):
    assert isinstance(bigram, NGramModel)
    assert bigram.n_tokens == 12
    assert bigram.vocab == [".", "cat", "dog", "ran", "sat", "the"]
    assert bigram.vocab_size == 6
    assert bigram.num_contexts == 6
    assert bigram.num_ngrams == 8
    assert bigram.count(["the", "cat"]) == 2
    assert bigram.count(["sat", "."]) == 2
    assert bigram.count(["dog", "ran"]) == 0
    assert bigram.count(["cow", "ran"]) == 0


def test_trigram_sizes():
    m = NGramModel(n=3).fit(TOY)
    assert m.num_contexts == 7
    assert m.num_ngrams == 9
    assert m.count(("sat", ".", "the")) == 2


def test_maximum_likelihood_probabilities(bigram):
    assert bigram.next_token_probs(["the"]) == pytest.approx({"cat": 2 / 3, "dog": 1 / 3})
    assert bigram.next_token_probs(["cat"]) == {"sat": 0.5, "ran": 0.5}
    assert bigram.next_token_probs(["sat"]) == {".": 1.0}
    # only the last n-1 tokens matter
    assert bigram.next_token_probs(["dog", "sat", ".", "the"]) == bigram.next_token_probs(["the"])
    # most probable first
    assert list(bigram.next_token_probs(["the"])) == ["cat", "dog"]


def test_trigram_uses_two_tokens_of_context():
    m = NGramModel(n=3).fit(TOY)
    assert m.next_token_probs([".", "the"]) == {"dog": 0.5, "cat": 0.5}
    assert m.next_token_probs(["the", "cat"]) == {"sat": 0.5, "ran": 0.5}


def test_unigram_ignores_context():
    m = NGramModel(n=1).fit(TOY)
    probs = m.next_token_probs([])
    assert probs["the"] == pytest.approx(3 / 12)
    assert probs["."] == pytest.approx(3 / 12)
    assert probs["dog"] == pytest.approx(1 / 12)
    assert m.num_contexts == 1
    assert m.next_token_probs(["whatever"]) == probs


def test_add_k_smoothing_by_hand(bigram):
    probs = bigram.next_token_probs(["the"], k=1.0)
    # (count + 1) / (3 + 1 * 7)
    assert probs["cat"] == pytest.approx(3 / 10)
    assert probs["dog"] == pytest.approx(2 / 10)
    assert probs["ran"] == pytest.approx(1 / 10)
    assert probs[UNK] == pytest.approx(1 / 10)
    assert len(probs) == 7
    assert sum(probs.values()) == pytest.approx(1.0)


def test_smoothing_set_on_the_model_and_unseen_context_is_uniform():
    m = NGramModel(n=2, k=0.5).fit(TOY)
    probs = m.next_token_probs(["cow"])
    assert len(probs) == 7
    assert all(p == pytest.approx(1 / 7) for p in probs.values())
    # per-call override back to maximum likelihood
    with pytest.raises(UnseenContextError):
        m.next_token_probs(["cow"], k=0)


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("k", [0.0, 0.1, 2.0])
def test_distributions_sum_to_one(n, k):
    m = NGramModel(n=n, k=k).fit(TOY)
    for gram in ngrams(TOY, n):
        assert sum(m.next_token_probs(gram[:-1]).values()) == pytest.approx(1.0)


def test_unseen_context_raises_keyerror_subclass(bigram):
    with pytest.raises(UnseenContextError, match="'cow' never occurred") as info:
        bigram.next_token_probs(["cow"])
    assert isinstance(info.value, KeyError)
    assert "smoothing" in str(info.value)
    assert not str(info.value).startswith("\"")  # readable, not a quoted repr


def test_top_k(bigram):
    assert bigram.top_k(["the"], k=1) == [("cat", pytest.approx(2 / 3))]
    assert [w for w, _ in bigram.top_k(["the"])] == ["cat", "dog"]
    with pytest.raises(ValueError, match="k must be"):
        bigram.top_k(["the"], k=0)


def test_greedy_generation_by_hand(bigram):
    # the -> cat (2/3); cat -> sat/ran tie: 'sat' was seen first; sat -> . ; . -> the
    assert bigram.generate(["the"], 5, greedy=True) == ["cat", "sat", ".", "the", "cat"]
    assert bigram.generate(["the"], 0, greedy=True) == []


def test_generate_does_not_modify_prompt(bigram):
    prompt = ["the"]
    bigram.generate(prompt, 3, greedy=True)
    assert prompt == ["the"]


def test_sampled_generation_is_reproducible_and_follows_counts(bigram):
    a = bigram.generate(["."], 50, rng=random.Random(1))
    b = bigram.generate(["."], 50, rng=random.Random(1))
    assert a == b
    seq = ["."] + a
    assert all(bigram.count(pair) > 0 for pair in zip(seq, seq[1:]))
    rng = random.Random(0)
    firsts = [bigram.generate(["the"], 1, rng=rng)[0] for _ in range(3000)]
    assert firsts.count("cat") / 3000 == pytest.approx(2 / 3, abs=0.03)


def test_generation_reaching_a_dead_end_raises():
    m = NGramModel(n=2).fit("a b c".split())
    with pytest.raises(UnseenContextError, match="'c'"):
        m.generate(["b"], 2, greedy=True)


def test_perplexity_by_hand(bigram):
    # P(cat|the) P(sat|cat) P(.|sat) = 2/3 * 1/2 * 1 = 1/3 over 3 predictions
    assert bigram.perplexity("the cat sat .".split()) == pytest.approx(3 ** (1 / 3))
    # a perfectly predictable text has perplexity 1
    assert bigram.perplexity("sat .".split()) == pytest.approx(1.0)


def test_perplexity_unsmoothed_is_infinite_on_unseen_ngrams(bigram):
    assert bigram.perplexity("the dog ran .".split()) == math.inf  # (dog, ran) unseen
    assert bigram.perplexity("the cow".split()) == math.inf  # unknown word
    assert bigram.perplexity("cow the".split()) == math.inf  # unknown context


def test_perplexity_smoothed_by_hand(bigram):
    # k=1: P(dog|the) = 2/10, P(ran|dog) = 1/8
    assert bigram.perplexity("the dog ran".split(), k=1) == pytest.approx(40**0.5)
    # unknown context and unknown word: uniform over 7 outcomes
    assert bigram.perplexity("cow cow".split(), k=1) == pytest.approx(7.0)
    smoothed = NGramModel(n=2, k=1).fit(TOY)
    assert smoothed.perplexity("the dog ran".split()) == pytest.approx(40**0.5)


def test_refit_replaces_counts(bigram):
    bigram.fit("x y x y".split())
    assert bigram.vocab == ["x", "y"]
    assert bigram.next_token_probs(["x"]) == {"y": 1.0}
    with pytest.raises(UnseenContextError):
        bigram.next_token_probs(["the"])


@pytest.mark.parametrize("n", [0, -1, 1.5, "2", True])
def test_bad_order(n):
    with pytest.raises(ValueError, match="n must be"):
        NGramModel(n=n)


@pytest.mark.parametrize("k", [-0.1, float("nan"), float("inf"), "1"])
def test_bad_smoothing(k, bigram):
    with pytest.raises(ValueError, match="smoothing"):
        NGramModel(n=2, k=k)
    with pytest.raises(ValueError, match="smoothing"):
        bigram.next_token_probs(["the"], k=k)


def test_fit_on_too_few_tokens():
    with pytest.raises(ValueError, match="at least n=3 tokens"):
        NGramModel(n=3).fit(["a", "b"])
    with pytest.raises(ValueError):
        NGramModel(n=1).fit([])


def test_string_instead_of_tokens_is_rejected(bigram):
    with pytest.raises(TypeError, match="split"):
        NGramModel(n=2).fit("the cat sat")
    with pytest.raises(TypeError, match="split"):
        bigram.next_token_probs("the")
    with pytest.raises(TypeError, match="split"):
        bigram.perplexity("the cat")


def test_use_before_fit():
    m = NGramModel(n=2)
    assert not m.is_fitted
    assert "not fitted" in repr(m)
    for call in (
        lambda: m.next_token_probs(["the"]),
        lambda: m.top_k(["the"]),
        lambda: m.generate(["the"], 3),
        lambda: m.perplexity(["the", "cat"]),
        lambda: m.vocab_size,
        lambda: m.num_contexts,
        lambda: m.count(["the", "cat"]),
    ):
        with pytest.raises(NotFittedError, match="fit"):
            call()


def test_short_context_and_bad_lengths(bigram):
    trigram = NGramModel(n=3).fit(TOY)
    with pytest.raises(ValueError, match="at least 2 token"):
        trigram.next_token_probs(["the"])
    with pytest.raises(ValueError, match="at least 2 token"):
        trigram.generate(["the"], 3)
    with pytest.raises(ValueError, match="n_tokens"):
        bigram.generate(["the"], -1)
    with pytest.raises(ValueError, match="at least n=2"):
        bigram.perplexity(["the"])
    with pytest.raises(ValueError, match="2 tokens"):
        bigram.count(["the"])


def test_repr_of_fitted_model(bigram):
    assert repr(bigram) == "NGramModel(n=2, k=0.0; 12 tokens, 6 contexts)"
    big = NGramModel(n=1).fit(["a"] * 1234)
    assert repr(big) == "NGramModel(n=1, k=0.0; 1,234 tokens, 1 contexts)"
