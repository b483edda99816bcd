"""Tests of llmbook.models.mlp_lm: the one-hot MLP, the bigram counts, the
context MLP and generation, on a tiny character vocabulary."""

import math

import pytest
import torch
import torch.nn.functional as F

from llmbook.batches import random_rows, random_windows
from llmbook.models.mlp_lm import BigramModel, ContextMLP, OneHotMLP, generate
from llmbook.nn_basics import count_parameters
from llmbook.text import CharVocabulary, UnknownTokenError, make_windows
from llmbook.train import cross_entropy, evaluate, fit

TEXT = "abracadabra, said the cat. " * 20


@pytest.fixture
def vocab():
    return CharVocabulary.from_text(TEXT)


def test_one_hot_mlp_shapes_and_parameter_count(vocab):
    V = len(vocab)
    model = OneHotMLP(V, hidden=128)
    assert count_parameters(model) == V * 128 + 128 + 128 * V + V
    assert model(torch.zeros(4, 9, dtype=torch.long)).shape == (4, 9, V)
    assert model(torch.tensor([1, 2])).shape == (2, V)


def test_one_hot_mlp_first_layer_is_a_column_lookup(vocab):
    torch.manual_seed(0)
    model = OneHotMLP(len(vocab), hidden=8)
    first = model.net[0]
    i = 3
    hidden = first(F.one_hot(torch.tensor(i), len(vocab)).float())
    assert torch.allclose(hidden, first.weight[:, i] + first.bias)


def test_models_reject_ids_outside_vocabulary(vocab):
    V = len(vocab)
    with pytest.raises(ValueError, match=rf"OneHotMLP: id {V} is outside the vocabulary "
                                         rf"\(valid ids 0..{V - 1}\)"):
        OneHotMLP(V)(torch.tensor([0, V]))
    with pytest.raises(ValueError, match="ContextMLP: id -1 is outside"):
        ContextMLP(V, context=2)(torch.tensor([[0, -1]]))
    with pytest.raises(TypeError, match="OneHotMLP must hold integer token ids, got dtype torch.float32"):
        OneHotMLP(V)(torch.tensor([0.0]))


def test_unknown_characters_fail_at_encode_time(vocab):
    with pytest.raises(UnknownTokenError, match="'z' at position 3"):
        vocab.encode("cabz")


def test_bigram_counts_and_probabilities():
    model = BigramModel.from_ids([0, 1, 0, 1, 0, 2], vocab_size=3)
    assert model.counts.tolist() == [[0, 2, 1], [2, 0, 0], [0, 0, 0]]
    assert model.probs[0].tolist() == pytest.approx([0, 2 / 3, 1 / 3])
    assert model.probs[2].tolist() == pytest.approx([1 / 3] * 3)  # never a context: uniform
    smoothed = BigramModel.from_ids([0, 1, 0, 1, 0, 2], vocab_size=3, smoothing=1.0)
    assert smoothed.probs[0].tolist() == pytest.approx([1 / 6, 3 / 6, 2 / 6])
    assert count_parameters(model) == 0


def test_bigram_cross_entropy_is_the_empirical_conditional_entropy():
    ids = torch.tensor([0, 1, 0, 1, 0, 2])
    model = BigramModel.from_ids(ids, 3)
    loss = cross_entropy(model(ids[:-1]), ids[1:]).item()
    # 5 predictions: after 0 three times (p 2/3, 2/3, 1/3), after 1 twice (p 1)
    expected = -(2 * math.log(2 / 3) + math.log(1 / 3)) / 5
    assert loss == pytest.approx(expected)


@pytest.fixture
def one_thread():
    """Tiny models train fastest on one thread (and far faster on a busy machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_bigram_is_a_lower_bound_for_a_trained_one_hot_mlp(vocab, one_thread):
    ids = torch.tensor(vocab.encode(TEXT))
    bigram = BigramModel.from_ids(ids, len(vocab))
    floor = evaluate(bigram, [(ids[:-1], ids[1:])])
    torch.manual_seed(0)
    model = OneHotMLP(len(vocab), hidden=32)
    g = torch.Generator().manual_seed(0)
    h = fit(model, lambda: random_windows(ids, 16, 16, generator=g), [(ids[:-1], ids[1:])],
            optimizer=torch.optim.Adam(model.parameters(), lr=0.02), epochs=20,
            steps_per_epoch=10, progress=False)
    assert h.val_loss[-1] < h.val_loss[0]
    assert floor - 1e-4 <= h.val_loss[-1] < floor + 0.05


def test_bigram_bad_input():
    with pytest.raises(ValueError, match="need at least 2 ids"):
        BigramModel.from_ids([1], 3)
    with pytest.raises(ValueError, match="id 5 is outside"):
        BigramModel.from_ids([0, 5], 3)
    with pytest.raises(ValueError, match="smoothing must be >= 0"):
        BigramModel.from_ids([0, 1], 3, smoothing=-1)


def test_context_mlp_shapes_and_parameters(vocab):
    V = len(vocab)
    model = ContextMLP(V, context=4, embed_dim=3, hidden=10)
    assert model(torch.zeros(7, 4, dtype=torch.long)).shape == (7, V)
    assert model(torch.zeros(2, 5, 4, dtype=torch.long)).shape == (2, 5, V)
    assert count_parameters(model) == V * 3 + (4 * 3 * 10 + 10) + (10 * V + V)


def test_context_mlp_rejects_wrong_context_length(vocab):
    model = ContextMLP(len(vocab), context=4)
    with pytest.raises(ValueError, match=r"sees exactly 4 characters: expected ids of shape "
                                         r"\(\.\.\., 4\), got \(2, 3\)"):
        model(torch.zeros(2, 3, dtype=torch.long))


def test_generate_greedy_follows_the_most_probable_pair(vocab):
    ids = vocab.encode("abababab")
    model = BigramModel.from_ids(ids, len(vocab))
    out = generate(model, vocab.encode("a"), 5, greedy=True)
    assert vocab.decode(out) == "ababab"


def test_generate_sampling_is_reproducible_and_in_vocab(vocab):
    torch.manual_seed(0)
    model = ContextMLP(len(vocab), context=3, embed_dim=2, hidden=4)
    a = generate(model, vocab.encode("abr"), 20, context=3,
                 generator=torch.Generator().manual_seed(0))
    b = generate(model, vocab.encode("abr"), 20, context=3,
                 generator=torch.Generator().manual_seed(0))
    assert a == b and len(a) == 23 and a[:3] == vocab.encode("abr")
    assert all(0 <= i < len(vocab) for i in a)
    assert model.training  # mode restored


def test_generate_bad_input(vocab):
    model = ContextMLP(len(vocab), context=3)
    with pytest.raises(ValueError, match="the prompt has 2 ids but the model needs 3"):
        generate(model, [0, 1], 5, context=3)
    with pytest.raises(ValueError, match="length must be a non-negative integer, got -1"):
        generate(model, [0, 1, 2], -1, context=3)


def test_training_rejects_bad_learning_rate_and_epochs(vocab):
    ids = torch.tensor(vocab.encode(TEXT))
    model = OneHotMLP(len(vocab))
    batches = [random_windows(ids, 2, 8)]
    with pytest.raises(ValueError, match="learning rate must be positive, got lr=0.0"):
        fit(model, batches, optimizer=torch.optim.Adam(model.parameters(), lr=0.0), epochs=1,
            progress=False)
    with pytest.raises(ValueError, match="epochs must be a positive integer, got 0"):
        fit(model, batches, optimizer=torch.optim.Adam(model.parameters(), lr=1e-3), epochs=0,
            progress=False)
    with pytest.raises(ValueError, match="needs 1001 ids, but the data has only 540"):
        random_windows(ids, 2, 1000)


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU"))]


@pytest.mark.parametrize("device", DEVICES)
def test_models_train_count_and_generate_on_the_device(vocab, device):
    ids = torch.tensor(vocab.encode(TEXT))
    bigram = BigramModel.from_ids(ids.to(device), len(vocab))
    assert bigram.counts.device.type == device
    assert torch.equal(bigram.counts.cpu(), BigramModel.from_ids(ids, len(vocab)).counts)
    torch.manual_seed(0)
    model = ContextMLP(len(vocab), context=3).to(device)
    x, y = make_windows(ids.tolist(), context=3)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    g = torch.Generator().manual_seed(0)
    h = fit(model, lambda: random_rows(x, y, 32, generator=g), optimizer=torch.optim.Adam(model.parameters(), lr=1e-2),
            epochs=3, steps_per_epoch=20, progress=False)
    assert h.train_loss[-1] < h.train_loss[0]
    out = generate(model, ids[:3], 5, context=3, generator=torch.Generator().manual_seed(0))
    assert len(out) == 8 and all(0 <= i < len(vocab) for i in out)
