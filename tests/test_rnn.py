"""Tests of llmbook.models.rnn: cells against torch, parameter formulas, gradients, generation."""

import numpy as np
import pytest
import torch

import llmbook.models.rnn as rnn_module
from llmbook.models.rnn import (
    CharLSTM,
    CheckpointShapeError,
    LSTMCell,
    RNNCell,
    WordLSTM,
    copy_weights_from_torch,
    generate_words,
    input_gradient_norms,
    load_word_checkpoint,
    lstm_param_count,
    run_cell,
    word_lstm_parameter_table,
    save_word_checkpoint,
    seed_window,
    set_forget_bias,
    tokens_per_second,
    top_words,
)
from llmbook.text import SEED_ID, UnknownTokenError

TOKENS = ["<pad>", "|||||", "<unk>", "the", "frog", "went", "to", "."]


@pytest.mark.parametrize("d,h", [(3, 5), (7, 4)])
def test_rnn_cell_matches_torch_rnn(d, h):
    torch.manual_seed(0)
    layer = torch.nn.RNN(d, h, batch_first=True)
    cell = RNNCell(d, h)
    copy_weights_from_torch(cell, layer)
    xs, h0 = torch.randn(2, 6, d), torch.randn(1, 2, h)
    want, want_h = layer(xs, h0)
    got, got_h = run_cell(cell, xs, h0[0])
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(got_h, want_h[0], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("d,h", [(3, 5), (8, 2)])
def test_lstm_cell_matches_torch_lstm(d, h):
    torch.manual_seed(1)
    layer = torch.nn.LSTM(d, h, batch_first=True)
    cell = LSTMCell(d, h)
    copy_weights_from_torch(cell, layer)
    xs = torch.randn(3, 7, d)
    h0, c0 = torch.randn(1, 3, h), torch.randn(1, 3, h)
    want, (want_h, want_c) = layer(xs, (h0, c0))
    got, (got_h, got_c) = run_cell(cell, xs, (h0[0], c0[0]))
    torch.testing.assert_close(got, want, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(got_c, want_c[0], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(got_h, want_h[0], atol=1e-6, rtol=1e-5)


def test_cells_are_reproducible_with_a_seed():
    assert torch.equal(LSTMCell(3, 4, seed=5).weight_hh, LSTMCell(3, 4, seed=5).weight_hh)
    assert not torch.equal(RNNCell(3, 4, seed=5).weight_hh, RNNCell(3, 4, seed=6).weight_hh)


def test_cells_have_the_formula_number_of_parameters():
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(LSTMCell(100, 256)) == lstm_param_count(100, 256, biases=2) == n(torch.nn.LSTM(100, 256))
    assert n(RNNCell(10, 20)) == lstm_param_count(10, 20, biases=2) // 4 == n(torch.nn.RNN(10, 20))


def test_copy_weights_rejects_mismatches():
    with pytest.raises(TypeError, match="LSTMCell takes weights from LSTM"):
        copy_weights_from_torch(LSTMCell(3, 4), torch.nn.RNN(3, 4))
    with pytest.raises(ValueError, match="size mismatch"):
        copy_weights_from_torch(RNNCell(3, 4), torch.nn.RNN(3, 5))
    with pytest.raises(ValueError, match="no biases"):
        copy_weights_from_torch(RNNCell(3, 4), torch.nn.RNN(3, 4, bias=False))


def test_run_cell_rejects_bad_inputs():
    cell = RNNCell(3, 4)
    with pytest.raises(ValueError, match="shape \\(batch, time, input_size\\)"):
        run_cell(cell, torch.zeros(2, 3))
    with pytest.raises(ValueError, match="at least one time step"):
        run_cell(cell, torch.zeros(2, 0, 3))
    with pytest.raises(ValueError, match="inputs of size 3, got 5"):
        run_cell(cell, torch.zeros(2, 4, 5))
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        LSTMCell(3, 0)


def test_parameter_formula_and_s1_table():
    assert lstm_param_count(100, 256) == 4 * (256 * (100 + 256) + 256) == 365_568
    assert lstm_param_count(100, 256, biases=0) == 4 * 256 * 356
    assert word_lstm_parameter_table(4169) == {
        "Embedding": 416_900, "LSTM": 365_568, "Dense": 1_071_433, "Total": 1_853_901}
    with pytest.raises(ValueError, match="biases must be 0, 1 or 2"):
        lstm_param_count(3, 4, biases=3)
    with pytest.raises(ValueError, match="vocab_size must be a positive integer"):
        word_lstm_parameter_table(0)


def test_word_and_char_models_shapes():
    torch.manual_seed(0)
    model = WordLSTM(50, 8, 16)
    assert model(torch.randint(0, 50, (4, 20))).shape == (4, 50)
    char = CharLSTM(30, 8, 16, num_layers=2)
    logits, (h, c) = char(torch.randint(0, 30, (2, 7)))
    assert logits.shape == (2, 7, 30) and h.shape == (2, 2, 16)
    with pytest.raises(ValueError, match="shape \\(batch, time\\)"):
        model(torch.zeros(20, dtype=torch.long))
    with pytest.raises(ValueError, match="vocab_size must be at least 2"):
        WordLSTM(1)


def test_input_gradient_norms_shape_and_decay():
    torch.manual_seed(0)
    rnn = torch.nn.RNN(4, 16, batch_first=True)
    norms = input_gradient_norms(rnn, seq_len=30, batch_size=8)
    assert norms.shape == (30,)
    assert np.all(norms > 0)
    assert norms[0] > 100 * norms[-1]  # the influence of old inputs vanishes
    lstm = set_forget_bias(torch.nn.LSTM(4, 16, batch_first=True), 5.0)
    assert torch.all(lstm.bias_ih_l0[16:32] == 5.0) and torch.all(lstm.bias_hh_l0[16:32] == 0)
    kept = input_gradient_norms(lstm, seq_len=30, batch_size=8)
    assert kept[-1] / kept[0] > norms[-1] / norms[0]


def test_input_gradient_norms_rejects_bad_input():
    with pytest.raises(TypeError, match="batch_first=True"):
        input_gradient_norms(torch.nn.RNN(4, 8), seq_len=5)
    with pytest.raises(TypeError, match="batch_first=True"):
        input_gradient_norms(torch.nn.Linear(4, 8), seq_len=5)
    with pytest.raises(ValueError, match="seq_len must be a positive integer"):
        input_gradient_norms(torch.nn.RNN(4, 8, batch_first=True), seq_len=0)
    with pytest.raises(TypeError, match="needs a torch.nn.LSTM"):
        set_forget_bias(torch.nn.RNN(4, 8), 1.0)


def test_seed_window_pads_with_the_seed_marker():
    window = seed_window("the frog went", TOKENS, context=5)
    assert window.tolist() == [SEED_ID, SEED_ID, 3, 4, 5]
    assert seed_window(["to", "the", "frog"], TOKENS, context=2).tolist() == [3, 4]


def test_seed_window_rejects_empty_and_unknown_words():
    with pytest.raises(ValueError, match="the seed is empty"):
        seed_window("   ", TOKENS)
    with pytest.raises(UnknownTokenError, match="not in the vocabulary: 'snake'"):
        seed_window("the snake went", TOKENS)


def uniform_probs(window):
    return np.full(len(TOKENS), 1 / len(TOKENS))


def test_generate_words_never_draws_reserved_tokens_and_is_reproducible():
    words = generate_words(uniform_probs, TOKENS, "the frog", 200, context=4, seed_rng=3)
    assert len(words) == 200
    assert not {"<pad>", "<unk>"} & set(words)
    assert words == generate_words(uniform_probs, TOKENS, "the frog", 200, context=4, seed_rng=3)


def test_generate_words_low_temperature_is_greedy_and_window_slides():
    seen = []

    def probs(window):
        seen.append(window.tolist())
        p = np.full(len(TOKENS), 0.01)
        p[4] = 0.5  # "frog" is the favourite
        return p / p.sum()

    words = generate_words(probs, TOKENS, "the", 3, temperature=0.01, context=3)
    assert words == ["frog", "frog", "frog"]
    assert seen == [[1, 1, 3], [1, 3, 4], [3, 4, 4]]


def test_generate_words_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n_words must be a positive integer"):
        generate_words(uniform_probs, TOKENS, "the", 0)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        generate_words(uniform_probs, TOKENS, "the", 5, temperature=0)
    with pytest.raises(ValueError, match="the seed is empty"):
        generate_words(uniform_probs, TOKENS, "", 5)
    with pytest.raises(UnknownTokenError):
        generate_words(uniform_probs, TOKENS, "the dragon", 5)


def test_top_words():
    probs = np.array([0, 0, 0, 0.5, 0.2, 0.3, 0, 0])
    assert top_words(probs, TOKENS, 2) == [("the", 0.5), ("went", 0.3)]
    with pytest.raises(ValueError, match="3 probabilities for a vocabulary of 8"):
        top_words(np.ones(3), TOKENS)


def test_word_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model = WordLSTM(len(TOKENS), 6, 5)
    path = save_word_checkpoint(tmp_path / "m.npz", model, TOKENS, epoch=3, context=4,
                                history={"train_loss": [2.0, 1.5, 1.2]})
    ckpt = load_word_checkpoint(path)
    assert (ckpt.tokens, ckpt.epoch, ckpt.context, ckpt.sizes) == (TOKENS, 3, 4, (8, 6, 5))
    assert ckpt.history["train_loss"] == [2.0, 1.5, 1.2]
    x = torch.randint(0, 8, (2, 4))
    # float16 storage keeps about three significant digits
    torch.testing.assert_close(ckpt.to_torch()(x), model(x), atol=5e-3, rtol=1e-2)


def test_word_checkpoint_errors(tmp_path):
    model = WordLSTM(len(TOKENS), 6, 5)
    with pytest.raises(ValueError, match="3 tokens for a model with vocabulary 8"):
        save_word_checkpoint(tmp_path / "m.npz", model, TOKENS[:3], epoch=1, context=4)
    path = save_word_checkpoint(tmp_path / "m.npz", model, TOKENS, epoch=1, context=4)
    with pytest.raises(CheckpointShapeError, match="'embedding' has shape \\(8, 6\\)"):
        rnn_module.load_word_weights(WordLSTM(8, 7, 5), load_word_checkpoint(path).weights)
    with pytest.raises(FileNotFoundError, match="no checkpoint 'nope.npz'"):
        load_word_checkpoint("nope.npz")
    np.savez(tmp_path / "bad.npz", tokens=np.array(TOKENS), meta=np.array("{}"),
             embedding=np.zeros((8, 6)), lstm_weight_hh=np.zeros((20, 4)))
    with pytest.raises(CheckpointShapeError, match="missing weights"):
        load_word_checkpoint(tmp_path / "bad.npz")


def test_tokens_per_second_counts_calls():
    calls = []
    rate = tokens_per_second(lambda: calls.append(1), tokens_per_step=10, steps=4, warmup=2)
    assert len(calls) == 6 and rate > 0
    with pytest.raises(ValueError, match="must be positive"):
        tokens_per_second(lambda: None, tokens_per_step=0)


def test_shipped_checkpoints_load_and_match_the_book_vocabulary():
    from llmbook.data import load_corpus
    from llmbook.models.rnn import available_checkpoints
    from llmbook.text import Vocabulary, tokenize_words

    names = available_checkpoints()
    assert names, "no checkpoints shipped in llmbook/checkpoints"
    vocab = Vocabulary.from_tokens(tokenize_words(load_corpus("aesop")))
    epochs = []
    for name in names:
        ckpt = load_word_checkpoint(name)
        assert ckpt.tokens == vocab.itos  # the chapter's preprocessing gives the same ids
        assert ckpt.sizes == (len(vocab), 100, 256) and ckpt.context == 20
        assert len(ckpt.history["val_loss"]) == ckpt.epoch
        epochs.append(ckpt.epoch)
    assert epochs == sorted(epochs) and epochs[0] == 1
