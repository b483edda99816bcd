"""Tests of llmbook.models.word2vec: data preparation, the two models, training, evaluation."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from llmbook.models.word2vec import (
    ANALOGY_PAIRS,
    CBOW,
    AnalogyQuestion,
    NegativeSampler,
    SkipGram,
    UnknownWordError,
    WordVectors,
    analogy,
    analogy_accuracy,
    analogy_questions,
    as_word_vectors,
    cbow_examples,
    count_words,
    encode,
    keep_probabilities,
    nearest_neighbours,
    negative_sampling_loss,
    noise_distribution,
    similarity_matrix,
    skipgram_pairs,
    subsample,
    train_word2vec,
)
from llmbook.text import one_hot

TOY = "the cat sat on the mat . the dog sat on the log .".split()


# --- an embedding is a lookup table ---------------------------------------------------

def test_embedding_equals_one_hot_times_weight_matrix():
    torch.manual_seed(0)
    vocab_size, dim = 7, 4
    embedding = nn.Embedding(vocab_size, dim)
    ids = [3, 0, 6, 3]
    looked_up = embedding(torch.tensor(ids))
    product = torch.from_numpy(one_hot(ids, vocab_size)) @ embedding.weight
    assert torch.allclose(looked_up, product)
    assert torch.equal(looked_up, embedding.weight[ids])
    assert sum(p.numel() for p in embedding.parameters()) == vocab_size * dim


# --- data preparation -----------------------------------------------------------------

def test_count_words_ranks_by_count_then_alphabet_and_applies_min_count():
    words, counts = count_words(TOY, min_count=2)
    assert words == ["the", ".", "on", "sat"]
    assert counts.tolist() == [4, 2, 2, 2]
    words, _ = count_words(TOY, min_count=1)
    assert len(words) == 8
    assert encode(["the", "zebra", "sat"], ["the", ".", "on", "sat"]).tolist() == [0, 3]


def test_skipgram_pairs_on_a_toy_sentence():
    words = "the fox saw the crow".split()
    index = {"the": 0, "fox": 1, "saw": 2, "crow": 3}
    ids = [index[w] for w in words]
    pairs = skipgram_pairs(ids, window=1)
    # offset -1 first (centre, word before it), then offset +1 (centre, word after it)
    assert pairs.tolist() == [[1, 0], [2, 1], [0, 2], [3, 0],
                              [0, 1], [1, 2], [2, 0], [0, 3]]
    named = sorted((words[i], words[j]) for i in range(5) for j in range(5)
                   if 0 < abs(i - j) <= 2)
    itos = {v: k for k, v in index.items()}
    got = sorted((itos[c], itos[o]) for c, o in skipgram_pairs(ids, window=2).tolist())
    assert got == named
    assert len(got) == 14  # 2 * (4 + 3) pairs for 5 words and window 2


def test_skipgram_random_windows_are_a_subset_that_keeps_neighbours():
    ids = np.arange(30)
    full = {tuple(p) for p in skipgram_pairs(ids, 4).tolist()}
    sampled = [tuple(p) for p in skipgram_pairs(ids, 4, np.random.default_rng(0)).tolist()]
    assert set(sampled) <= full
    assert len(sampled) < len(full)
    assert {(i, i + 1) for i in range(29)} <= set(sampled)  # every window is at least 1


def test_cbow_examples_exact_contexts_with_padding():
    contexts, centres = cbow_examples([10, 11, 12, 13], window=2)
    assert centres.tolist() == [10, 11, 12, 13]
    assert contexts.tolist() == [[-1, -1, 11, 12],
                                 [-1, 10, 12, 13],
                                 [10, 11, 13, -1],
                                 [11, 12, -1, -1]]
    contexts, centres = cbow_examples([5], window=1)
    assert contexts.shape == (0, 2) and centres.tolist() == []


def test_keep_probabilities_follow_the_word2vec_formula():
    keep = keep_probabilities([1, 999], sample=1e-3)
    f = 0.999
    assert keep[0] == 1.0  # rare words are always kept
    assert keep[1] == pytest.approx((math.sqrt(f / 1e-3) + 1) * 1e-3 / f)
    assert keep_probabilities([3, 5], sample=0).tolist() == [1.0, 1.0]
    rng = np.random.default_rng(0)
    kept = subsample(np.array([0] * 1000 + [1] * 1000), np.array([1.0, 0.0]), rng)
    assert kept.tolist() == [0] * 1000


def test_noise_distribution_and_sampler():
    p = noise_distribution([1, 16])  # 1**0.75 = 1, 16**0.75 = 8
    assert p.tolist() == pytest.approx([1 / 9, 8 / 9])
    assert noise_distribution([1, 16], power=1.0).tolist() == pytest.approx([1 / 17, 16 / 17])
    assert noise_distribution([1, 16], power=0.0).tolist() == pytest.approx([0.5, 0.5])
    sampler = NegativeSampler(noise_distribution([10, 0, 30, 60]))
    draws = sampler.sample((200_000,), torch.Generator().manual_seed(0))
    freq = torch.bincount(draws, minlength=4).double() / len(draws)
    expected = noise_distribution([10, 0, 30, 60])
    assert freq[1] == 0  # a word with count 0 is never drawn
    assert freq.tolist() == pytest.approx(expected.tolist(), abs=0.005)
    assert sampler.sample((3, 5)).shape == (3, 5)


# --- the models -------------------------------------------------------------------------

def test_negative_sampling_loss_matches_its_formula():
    torch.manual_seed(0)
    h, t, n = torch.randn(4, 3), torch.randn(4, 3), torch.randn(4, 2, 3)
    expected = []
    for b in range(4):
        value = -torch.log(torch.sigmoid(t[b] @ h[b]))
        for j in range(2):
            value = value - torch.log(torch.sigmoid(-(n[b, j] @ h[b])))
        expected.append(value)
    assert negative_sampling_loss(h, t, n).item() == pytest.approx(torch.stack(expected).mean().item())


def test_initial_loss_is_one_plus_k_times_log_2():
    # output vectors start at zero, so every score is 0 and sigmoid(0) = 1/2
    k = 5
    centres, targets = torch.tensor([0, 1, 2]), torch.tensor([3, 4, 0])
    noise = torch.tensor([[1, 2, 3, 4, 0]] * 3)
    assert SkipGram(6, 8)(centres, targets, noise).item() == pytest.approx((1 + k) * math.log(2))
    contexts = torch.tensor([[1, -1], [0, 2], [-1, 3]])
    assert CBOW(6, 8)(contexts, targets, noise).item() == pytest.approx((1 + k) * math.log(2))


def test_cbow_averages_only_real_context_words():
    model = CBOW(4, 2)
    with torch.no_grad():
        model.in_embed.weight.copy_(torch.tensor([[1.0, 0], [0, 1], [3, 3], [9, 9]]))
        model.out_embed.weight.copy_(torch.tensor([[1.0, 0], [0, 0], [0, 0], [0, 0]]))
    # context (0, 1, pad): h = (0.5, 0.5); target 0 scores 0.5; noise word 1 scores 0
    loss = model(torch.tensor([[0, 1, -1]]), torch.tensor([0]), torch.tensor([[1]]))
    expected = -math.log(1 / (1 + math.exp(-0.5))) - math.log(0.5)
    assert loss.item() == pytest.approx(expected)


@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
def test_training_decreases_the_loss_and_returns_vectors(architecture):
    result = train_word2vec(TOY * 40, architecture=architecture, dim=8, window=2, min_count=1,
                            sample=0, epochs=6, batch_size=256, seed=1, threads=1,
                            progress=False)
    assert result.losses[-1] < result.losses[0] - 0.3
    assert len(result.losses) == 6
    assert result.vectors.words[0] == "the"
    assert result.vectors.vectors.shape == (8, 8)
    assert result.words_per_second > 0
    assert result.config["architecture"] == architecture
    again = train_word2vec(TOY * 40, architecture=architecture, dim=8, window=2, min_count=1,
                           sample=0, epochs=6, batch_size=256, seed=1, threads=1, progress=False)
    assert np.array_equal(again.vectors.vectors, result.vectors.vectors)  # seeded


def test_training_restores_the_thread_count():
    before = torch.get_num_threads()
    train_word2vec(TOY, dim=4, min_count=1, epochs=1, threads=1, progress=False)
    assert torch.get_num_threads() == before


# --- evaluation -------------------------------------------------------------------------

# dimensions: (person, female, royal, fruit)
TOY_WORDS = ["man", "woman", "king", "queen", "apple", "pear"]
TOY_VECTORS = np.array([[1, 0, 0, 0], [1, 1, 0, 0], [1, 0, 1, 0], [1, 1, 1, 0],
                        [0, 0, 0, 1], [0, 0.2, 0, 1]], dtype=np.float32)


def test_analogy_on_toy_vectors_excludes_the_query_words():
    wv = WordVectors(TOY_WORDS, TOY_VECTORS)
    best = analogy(wv, "king", "man", "woman", k=3)
    assert best[0][0] == "queen"
    assert {w for w, _ in best}.isdisjoint({"king", "man", "woman"})
    # 3CosAdd on unit vectors: t = king/|king| - man + woman/|woman|
    r2 = math.sqrt(2)
    t = np.array([1 / r2 - 1 + 1 / r2, 1 / r2, 1 / r2, 0])
    assert best[0][1] == pytest.approx(t.sum() / math.sqrt(3) / np.linalg.norm(t), rel=1e-5)
    assert [w for w, _ in analogy(wv, "queen", "woman", "man", k=1)] == ["king"]


def test_nearest_neighbours_and_similarity_matrix():
    wv = WordVectors(TOY_WORDS, TOY_VECTORS)
    got = nearest_neighbours(wv, "apple", k=2)
    assert [w for w, _ in got] == ["pear", "man"]
    assert got[0][1] == pytest.approx(1 / math.sqrt(1.04))
    sims = similarity_matrix(wv, ["man", "apple", "man"])
    assert sims.shape == (3, 3)
    assert np.allclose(np.diag(sims), 1.0)
    assert sims[0, 1] == pytest.approx(0.0)
    assert len(nearest_neighbours(wv, "man", k=100)) == 5  # never the word itself


def test_helpers_accept_gensim_keyed_vectors_and_plain_pairs():
    from gensim.models import KeyedVectors

    kv = KeyedVectors(4)
    kv.add_vectors(TOY_WORDS, TOY_VECTORS)
    for vectors in (kv, (TOY_WORDS, TOY_VECTORS), (TOY_WORDS, torch.from_numpy(TOY_VECTORS))):
        assert analogy(vectors, "king", "man", "woman")[0][0] == "queen"
        assert nearest_neighbours(vectors, "apple", 1)[0][0] == "pear"
    assert as_word_vectors(kv).words == TOY_WORDS
    with pytest.raises(TypeError, match="gensim KeyedVectors"):
        as_word_vectors({"man": [1, 0]})


def test_analogy_questions_and_accuracy():
    pairs = {"gender": [("man", "woman"), ("king", "queen")], "fruit": [("apple", "pear"),
                                                                      ("plum", "peach")]}
    questions = analogy_questions(pairs)
    assert [str(q) for q in questions] == [
        "king - man + woman = queen", "man - king + queen = woman",
        "plum - apple + pear = peach", "apple - plum + peach = pear"]
    score = analogy_accuracy(WordVectors(TOY_WORDS, TOY_VECTORS), questions)
    assert (score.correct, score.attempted, score.skipped) == (2, 2, 2)
    assert score.accuracy == 1.0
    assert score.by_category == {"gender": (2, 2)}
    assert score.answers[0] == (questions[0], "queen")


def test_the_book_analogy_set():
    questions = analogy_questions()
    sizes = {c: len(p) for c, p in ANALOGY_PAIRS.items()}
    assert len(questions) == sum(n * (n - 1) for n in sizes.values())
    assert all(isinstance(q, AnalogyQuestion) for q in questions)
    for category, pairs in ANALOGY_PAIRS.items():
        assert len(set(pairs)) == len(pairs), category


# --- bad input --------------------------------------------------------------------------

def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="corpus is empty"):
        train_word2vec([], progress=False)
    with pytest.raises(ValueError, match="window must be >= 1"):
        train_word2vec(TOY, window=0, progress=False)
    with pytest.raises(ValueError, match="window must be >= 1"):
        skipgram_pairs([1, 2, 3], window=0)
    with pytest.raises(ValueError, match="window must be >= 1"):
        cbow_examples([1, 2, 3], window=-1)
    with pytest.raises(TypeError, match="window must be an int"):
        skipgram_pairs([1, 2, 3], window=1.5)
    with pytest.raises(ValueError, match="negatives must be >= 1"):
        train_word2vec(TOY, negatives=0, progress=False)
    with pytest.raises(ValueError, match="unknown architecture 'glove'"):
        train_word2vec(TOY, architecture="glove", progress=False)
    with pytest.raises(ValueError, match="no word occurs at least min_count=50 times"):
        count_words(TOY, min_count=50)
    with pytest.raises(TypeError, match="not one str"):
        count_words("the cat sat")
    with pytest.raises(ValueError, match="sum to 1"):
        NegativeSampler(np.array([0.5, 0.2]))


def test_unknown_and_empty_queries():
    wv = WordVectors(TOY_WORDS, TOY_VECTORS)
    with pytest.raises(UnknownWordError, match="not in the vocabulary .*'zebra'") as info:
        nearest_neighbours(wv, "zebra")
    assert info.value.words == ["zebra"]
    assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)
    with pytest.raises(UnknownWordError, match="'prince', 'princess'"):
        analogy(wv, "prince", "man", "princess")
    with pytest.raises(ValueError, match="empty query"):
        nearest_neighbours(wv, "")
    with pytest.raises(ValueError, match="k must be >= 1"):
        nearest_neighbours(wv, "man", k=0)
    with pytest.raises(ValueError, match="one row per word"):
        WordVectors(["a", "b"], np.zeros((3, 2)))
    with pytest.raises(ValueError, match="no analogy questions"):
        analogy_accuracy(wv, [])


def test_batched_accuracy_gives_the_same_answers_as_analogy():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(40)]
    wv = WordVectors(words, rng.normal(size=(40, 6)))
    pairs = {"x": [(words[i], words[i + 1]) for i in range(0, 12, 2)],
             "y": [(words[i], words[i + 20]) for i in range(5)]}
    questions = analogy_questions(pairs)
    score = analogy_accuracy(wv, questions)
    assert score.attempted == len(questions) == 6 * 5 + 5 * 4
    for q, guess in score.answers:
        assert guess == analogy(wv, q.a, q.b, q.c)[0][0]
    top5 = analogy_accuracy(wv, questions, top=5)
    expected = sum(q.expected in [w for w, _ in analogy(wv, q.a, q.b, q.c, k=5)] for q in questions)
    assert top5.correct == expected
    with pytest.raises(ValueError, match="top must be >= 1"):
        analogy_accuracy(wv, questions, top=0)
