"""Tests of llmbook.keras_models (TensorFlow is imported once, in a module-scoped fixture)."""

import numpy as np
import pytest
import torch

from llmbook.models.rnn import CheckpointShapeError, WordLSTM, load_word_checkpoint, save_word_checkpoint
from llmbook.text import CharVocabulary, UnknownTokenError

# Keras' weight saving trips a NumPy 2 deprecation warning inside Keras itself.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture(scope="module")
def km():
    pytest.importorskip("tensorflow")
    import llmbook.keras_models as km

    km.keras.utils.set_random_seed(0)
    return km


@pytest.fixture(scope="module")
def small_char_model(km):
    return km.CharModel(5, embedding_dim=3, units=4).build_now()


VOCAB = CharVocabulary.from_text("abcd ")


def test_s1_parameter_counts_equal_the_table(km):
    model = km.build_word_model(4169)
    counts = {layer.name: layer.count_params() for layer in model.layers}
    assert counts == {"embedding": 416_900, "lstm": 365_568, "dense": 1_071_433}
    assert model.count_params() == 1_853_901
    assert model.loss == "sparse_categorical_crossentropy"
    assert model.optimizer.learning_rate.numpy() == pytest.approx(1e-3)


def test_s1_model_rejects_bad_sizes(km):
    with pytest.raises(ValueError, match="vocab_size must be an integer >= 2"):
        km.build_word_model(1)
    with pytest.raises(ValueError, match="dropout must be in"):
        km.build_word_model(10, dropout=1.5)


def test_char_model_param_count_matches_formula(km):
    model = km.CharModel(7, embedding_dim=3, units=5, num_layers=2).build_now()
    assert model.count_params() == km.char_model_param_count(7, 3, 5, num_layers=2)
    assert km.char_model_param_count(65, 256, 1024) == 5_330_241


def test_char_dataset_shapes_and_drop_remainder(km):
    ids = np.arange(64 * 101 * 2 + 500) % 65  # two full batches and a remainder
    batches = list(km.char_dataset(ids, seed=0))
    assert len(batches) == 2
    for x, y in batches:
        assert x.shape == (64, 100) and y.shape == (64, 100)
        np.testing.assert_array_equal(x.numpy()[:, 1:], y.numpy()[:, :-1])


def test_split_input_target(km):
    x, y = km.split_input_target(km.tf.constant([1, 2, 3, 4]))
    assert x.numpy().tolist() == [1, 2, 3] and y.numpy().tolist() == [2, 3, 4]


def test_char_dataset_rejects_bad_input(km):
    with pytest.raises(ValueError, match="fewer than one batch of 64"):
        km.char_dataset(np.zeros(1000, dtype=int))
    with pytest.raises(ValueError, match="seq_length must be a positive integer"):
        km.char_dataset(np.zeros(1000, dtype=int), seq_length=0)


def test_generation_carries_the_state(km, small_char_model):
    model, tf = small_char_model, km.tf
    start, n = "ab c", 6
    got = km.generate_chars(model, VOCAB, start, n, temperature=0.7, seed=4)
    # Reference without any carried state: re-read the whole text at every step.
    text = start
    for step in range(n):
        logits = model(tf.constant([VOCAB.encode(text)]))[:, -1, :] / 0.7
        nxt = tf.random.stateless_categorical(logits, 1, seed=[4, step], dtype=tf.int32)
        text += VOCAB.decode([int(nxt[0, 0])])
    assert len(got) == n and start + got == text


def test_generation_rejects_bad_input(km, small_char_model):
    with pytest.raises(ValueError, match="start text is empty"):
        km.generate_chars(small_char_model, VOCAB, "", 5)
    with pytest.raises(ValueError, match="n_chars must be a positive integer"):
        km.generate_chars(small_char_model, VOCAB, "ab", 0)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        km.generate_chars(small_char_model, VOCAB, "ab", 3, temperature=-1)
    with pytest.raises(UnknownTokenError, match="'z' at position 1"):
        km.generate_chars(small_char_model, VOCAB, "az", 3)


def test_gradient_tape_loop_lowers_the_loss_and_checkpoints(km, tmp_path):
    model = km.CharModel(5, embedding_dim=4, units=8)
    ids = np.tile([0, 1, 2, 3, 4], 200)
    ds = km.char_dataset(ids, seq_length=9, batch_size=8, seed=1)
    before = km.evaluate_char_model(model, ds)
    history = km.train_with_gradient_tape(model, ds, km.keras.optimizers.Adam(0.05), epochs=2,
                                          checkpoint_prefix=tmp_path / "ck", checkpoint_every=5,
                                          progress=False)
    assert len(history["loss"]) == 2 and history["loss"][-1] < before / 2
    restored = km.load_char_weights(km.CharModel(5, embedding_dim=4, units=8),
                                    tmp_path / "ck_epoch02.weights.h5")
    x = km.tf.constant([[0, 1, 2]])
    np.testing.assert_allclose(restored(x).numpy(), model(x).numpy(), atol=1e-6)
    with pytest.raises(CheckpointShapeError, match="does not fit this model"):
        km.load_char_weights(km.CharModel(5, embedding_dim=4, units=9), tmp_path / "ck_epoch02.weights.h5")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        km.load_char_weights(model, tmp_path / "missing.weights.h5")
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        km.train_with_gradient_tape(model, ds, km.keras.optimizers.Adam(0.05), epochs=0)


def test_word_checkpoint_loads_into_keras_like_torch(km, tmp_path):
    tokens = ["<pad>", "|||||", "<unk>", "a", "b", "c"]
    torch.manual_seed(0)
    tmodel = WordLSTM(6, 4, 3)
    ckpt = load_word_checkpoint(save_word_checkpoint(tmp_path / "w.npz", tmodel, tokens, 1, 5))
    kmodel = km.set_word_weights(km.build_word_model(6, 4, 3), ckpt)
    window = np.array([1, 1, 3, 4, 5])
    want = torch.softmax(ckpt.to_torch()(torch.tensor(window[None])), -1)[0].detach().numpy()
    np.testing.assert_allclose(km.word_next_probs(kmodel)(window), want, atol=1e-5)
    with pytest.raises(CheckpointShapeError, match="needs"):
        km.set_word_weights(km.build_word_model(7, 4, 3), ckpt)
