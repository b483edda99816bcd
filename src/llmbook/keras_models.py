"""Every TensorFlow/Keras model of the book (importing :mod:`llmbook` never imports TensorFlow).

Two reproductions live here:

* **the Aesop word model**, the word-level LSTM on Aesop's Fables: :func:`build_word_model`
  (``Input(shape=(None,)) -> Embedding(V, 100) -> LSTM(256) -> Dense(V, softmax)``,
  RMSprop with learning rate 0.001), :func:`set_word_weights` to load a
  framework-neutral checkpoint of :mod:`llmbook.models.rnn`, and
  :func:`word_next_probs` to use the model with
  :func:`llmbook.models.rnn.generate_words`;
* **the Shakespeare character model**, TensorFlow's character-level RNN on Shakespeare: the ``tf.data``
  pipeline :func:`char_dataset`, the model :class:`CharModel` (logits, and
  the LSTM state handed in and out so that generation can carry it),
  :func:`generate_chars`, and a custom training loop with ``tf.GradientTape``,
  :func:`train_with_gradient_tape`.

Importing this module imports TensorFlow (which takes a few seconds) and
silences its start-up messages about CUDA and oneDNN, which say nothing
useful on a CPU-only machine.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Send the process's stderr (file descriptor 2) to /dev/null for a moment.

    TensorFlow's C++ start-up messages ("oneDNN custom operations are on",
    "Could not find cuda drivers", "failed call to cuInit") are written
    straight to descriptor 2 before any Python logging setting applies, so
    they can only be filtered at that level.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real descriptor (unusual hosts)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


# Keras' weight saving converts TensorFlow variables with an old NumPy protocol;
# NumPy 2 warns about it on every save. Harmless, and not the reader's concern.
warnings.filterwarnings("ignore", message="__array__ implementation doesn't accept a copy keyword",
                        category=DeprecationWarning)

with _quiet_stderr(), warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import tensorflow as tf
    import keras

    tf.get_logger().setLevel("ERROR")
    tf.config.list_physical_devices()  # probes CUDA now, quietly, not at the first op
    tf.constant(0.0) + 1.0

from llmbook.models.rnn import (CheckpointShapeError, WordCheckpoint, check_word_weights,  # noqa: E402
                               lstm_param_count)
from llmbook.progress import progress_bar  # noqa: E402
from llmbook.text import CharVocabulary  # noqa: E402

__all__ = [
    "tf",
    "keras",
    "build_word_model",
    "set_word_weights",
    "word_next_probs",
    "split_input_target",
    "char_dataset",
    "CharModel",
    "char_model_param_count",
    "sequence_loss",
    "evaluate_char_model",
    "generate_chars",
    "train_with_gradient_tape",
    "load_char_weights",
]


# --------------------------------------------------------------------------
# The Aesop word model (word level)
# --------------------------------------------------------------------------


def build_word_model(vocab_size: int, embedding_dim: int = 100, units: int = 256,
                     dropout: float | None = None, learning_rate: float = 1e-3) -> keras.Model:
    """The Aesop word model, compiled: ``Embedding(V, d) -> LSTM(h) -> [Dropout] -> Dense(V, softmax)``.

    The loss is *sparse* categorical cross-entropy: our labels are word ids
    (``3``), not one-hot vectors (``[0, 0, 0, 1, 0, ...]``). Both losses
    compute ``-log p(correct word)``; the sparse one simply skips building a
    vector of ``V`` zeros for each label, so the numbers are identical.

    Raises:
        ValueError: for a vocabulary smaller than 2 or a dropout outside [0, 1).
    """
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 2:
        raise ValueError(f"vocab_size must be an integer >= 2, got {vocab_size!r}")
    if dropout is not None and not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    layers: list = [
        keras.Input(shape=(None,), dtype="int32", name="word_ids"),
        keras.layers.Embedding(vocab_size, embedding_dim, name="embedding"),
        keras.layers.LSTM(units, name="lstm"),
    ]
    if dropout:
        layers.append(keras.layers.Dropout(dropout, name="dropout"))
    layers.append(keras.layers.Dense(vocab_size, activation="softmax", name="dense"))
    model = keras.Sequential(layers, name="aesop_word_lstm")
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy")
    return model


def set_word_weights(model: keras.Model, checkpoint: WordCheckpoint) -> keras.Model:
    """Load a :class:`~llmbook.models.rnn.WordCheckpoint` into a Keras Aesop word model.

    The checkpoint uses PyTorch's layout; Keras stores the transposes
    (``kernel`` is ``d x 4h`` where PyTorch's ``weight_ih`` is ``4h x d``), with
    the same gate order (input, forget, cell, output) and one bias per gate.

    Raises:
        CheckpointShapeError: if the checkpoint was made for other sizes.
    """
    emb, lstm, dense = (model.get_layer(n) for n in ("embedding", "lstm", "dense"))
    V, d = emb.embeddings.shape
    check_word_weights(checkpoint.weights, int(V), int(d), int(lstm.units))
    w = checkpoint.weights
    emb.set_weights([w["embedding"]])
    lstm.set_weights([w["lstm_weight_ih"].T, w["lstm_weight_hh"].T, w["lstm_bias"]])
    dense.set_weights([w["dense_weight"].T, w["dense_bias"]])
    return model


def word_next_probs(model: keras.Model):
    """A function ``window -> probabilities of the next word`` for :func:`generate_words`.

    Calls the model directly (``model(x)``), which for one window is much
    faster than ``model.predict`` (built for large batches).
    """

    # Compiled into a graph once (for windows of any length): an eager call
    # runs the LSTM's time loop op by op, which is several times slower.
    predict = tf.function(lambda x: model(x, training=False), reduce_retracing=True,
                          input_signature=[tf.TensorSpec((1, None), tf.int32)])

    def next_probs(window: np.ndarray) -> np.ndarray:
        return predict(tf.constant(np.asarray(window, dtype=np.int32)[None, :])).numpy()[0]

    return next_probs


# --------------------------------------------------------------------------
# The Shakespeare character model (TensorFlow's tutorial)
# --------------------------------------------------------------------------


def split_input_target(sequence: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """``"Hello"`` -> (``"Hell"``, ``"ello"``): at every position the target is the next id."""
    return sequence[:-1], sequence[1:]


def char_dataset(ids: Sequence[int] | np.ndarray, seq_length: int = 100, batch_size: int = 64,
                 buffer_size: int = 10_000, shuffle: bool = True, seed: int = 0) -> tf.data.Dataset:
    """The tutorial's ``tf.data`` pipeline: chunks of ``seq_length + 1`` ids -> (input, target) batches.

    The ids are cut into consecutive chunks of ``seq_length + 1`` (the last,
    incomplete chunk is dropped); each chunk becomes an input (all but the
    last id) and a target (all but the first); the pairs are shuffled with a
    buffer of ``buffer_size`` and grouped into batches of ``batch_size``,
    dropping the last incomplete batch so that every batch has shape
    ``(batch_size, seq_length)``.

    Raises:
        ValueError: for non-positive sizes, or too few ids for one batch.
    """
    for name, value in (("seq_length", seq_length), ("batch_size", batch_size),
                        ("buffer_size", buffer_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    ids = np.asarray(ids, dtype=np.int32)
    if ids.ndim != 1:
        raise ValueError(f"ids must be a 1-D sequence, got shape {ids.shape}")
    n_sequences = len(ids) // (seq_length + 1)
    if n_sequences < batch_size:
        raise ValueError(f"{len(ids)} ids make {n_sequences} sequences of {seq_length + 1}, "
                         f"fewer than one batch of {batch_size}")
    ds = tf.data.Dataset.from_tensor_slices(ids)
    ds = ds.batch(seq_length + 1, drop_remainder=True).map(split_input_target)
    if shuffle:
        ds = ds.shuffle(buffer_size, seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


class CharModel(keras.Model):
    """A character-level LSTM: ``Embedding -> LSTM x num_layers -> Dense`` (logits).

    ``model(ids)`` returns logits of shape ``(batch, time, V)``.
    ``model(ids, states=states, return_state=True)`` also starts from the
    given LSTM states (one ``[h, c]`` pair per layer; ``None`` for zeros)
    and returns the final ones, so that generation can feed one character at a
    time and carry the memory forward.
    """

    def __init__(self, vocab_size: int, embedding_dim: int = 64, units: int = 256,
                 num_layers: int = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        for name, value in (("vocab_size", vocab_size), ("embedding_dim", embedding_dim),
                            ("units", units), ("num_layers", num_layers)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.vocab_size, self.embedding_dim = vocab_size, embedding_dim
        self.units, self.num_layers = units, num_layers
        self.embedding = keras.layers.Embedding(vocab_size, embedding_dim, name="embedding")
        self.lstms = [keras.layers.LSTM(units, return_sequences=True, return_state=True,
                                        name=f"lstm_{i}") for i in range(num_layers)]
        self.dense = keras.layers.Dense(vocab_size, name="dense")

    def call(self, inputs, states=None, return_state=False, training=False):
        x = self.embedding(inputs, training=training)
        new_states = []
        for i, lstm in enumerate(self.lstms):
            x, h, c = lstm(x, initial_state=None if states is None else states[i],
                           training=training)
            new_states.append([h, c])
        logits = self.dense(x, training=training)
        return (logits, new_states) if return_state else logits

    def get_config(self) -> dict:
        return {"vocab_size": self.vocab_size, "embedding_dim": self.embedding_dim,
                "units": self.units, "num_layers": self.num_layers, "name": self.name}

    def build_now(self) -> CharModel:
        """Create the weights (by running one dummy character); returns ``self``."""
        self(tf.zeros((1, 1), dtype=tf.int32))
        return self


def char_model_param_count(vocab_size: int, embedding_dim: int, units: int, num_layers: int = 1) -> int:
    """Parameters of :class:`CharModel` by the formula (embedding + LSTMs + dense).

    >>> char_model_param_count(65, 256, 1024)   # the tutorial's model
    5330241
    """
    lstm = lstm_param_count(embedding_dim, units) + (num_layers - 1) * lstm_param_count(units, units)
    return vocab_size * embedding_dim + lstm + units * vocab_size + vocab_size


#: The loss of the TensorFlow tutorial: cross-entropy computed from logits, labels given as ids.
sequence_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def evaluate_char_model(model: keras.Model, dataset: tf.data.Dataset) -> float:
    """Mean cross-entropy (nats per character) of ``model`` over every batch of ``dataset``."""
    total, count = 0.0, 0
    for x, y in dataset:
        logits = model(x, training=False)
        total += float(sequence_loss(y, logits)) * int(tf.size(y))
        count += int(tf.size(y))
    if count == 0:
        raise ValueError("the dataset has no batches")
    return total / count


def generate_chars(model: CharModel, vocab: CharVocabulary, start: str, n_chars: int,
                   temperature: float = 1.0, seed: int = 0) -> str:
    """Generate ``n_chars`` characters after ``start``, carrying the LSTM state.

    The model reads ``start`` once; from then on it is fed only the character
    it has just produced, together with the state it returned at the previous
    step (the state *is* its memory of everything before). Each character is
    drawn with ``tf.random.stateless_categorical`` from the logits divided by
    ``temperature`` (reproducible for a given ``seed``). Returns only the new
    characters.

    Raises:
        ValueError: for an empty ``start``, ``n_chars <= 0`` or ``temperature <= 0``.
        llmbook.text.UnknownTokenError: for characters of ``start`` not in ``vocab``.
    """
    if not isinstance(start, str) or not start:
        raise ValueError("the start text is empty: give at least one character")
    if isinstance(n_chars, bool) or not isinstance(n_chars, int) or n_chars <= 0:
        raise ValueError(f"n_chars must be a positive integer, got {n_chars!r}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    ids = tf.constant([vocab.encode(start)], dtype=tf.int32)  # raises UnknownTokenError
    logits, states = model(ids, return_state=True)           # read the start text once
    out = []
    for step in range(n_chars):
        ids = tf.random.stateless_categorical(logits[:, -1, :] / temperature, 1,
                                              seed=[seed, step], dtype=tf.int32)
        out.append(int(ids[0, 0]))
        logits, states = _one_step(model)(ids, states)       # one character, carried state
    return vocab.decode(out)


def _one_step(model: CharModel):
    """``model(ids, states=..., return_state=True)`` compiled with ``tf.function`` (cached)."""
    step = _STEP_FUNCTIONS.get(model)
    if step is None:
        step = tf.function(lambda ids, states: model(ids, states=states, return_state=True))
        _STEP_FUNCTIONS[model] = step
    return step


_STEP_FUNCTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def train_with_gradient_tape(model: keras.Model, dataset: tf.data.Dataset,
                             optimizer: keras.optimizers.Optimizer, epochs: int = 1,
                             steps_per_epoch: int | None = None,
                             val_dataset: tf.data.Dataset | None = None,
                             checkpoint_prefix: str | Path | None = None,
                             checkpoint_every: int = 5, progress: bool = True) -> dict[str, list[float]]:
    """Train with an explicit loop: forward pass under ``tf.GradientTape``, gradients, update.

    This is what ``model.fit`` does for us, written out (the tutorial's last section).
    ``train_step`` is compiled into a TensorFlow graph with ``tf.function``.
    Every ``checkpoint_every`` epochs (and after the last) the weights are
    saved to ``{checkpoint_prefix}_epoch{N:02d}.weights.h5``. Returns the
    mean training loss per epoch (and the validation loss, if given).

    Raises:
        ValueError: for non-positive ``epochs``/``steps_per_epoch``/``checkpoint_every``.
    """
    for name, value in (("epochs", epochs), ("checkpoint_every", checkpoint_every),
                        ("steps_per_epoch", steps_per_epoch if steps_per_epoch is not None else 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            loss = sequence_loss(y, logits)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    history: dict[str, list[float]] = {"loss": []}
    if val_dataset is not None:
        history["val_loss"] = []
    for epoch in range(1, epochs + 1):
        # The tutorial's model is stateful and resets its states here; ours starts every
        # sequence from zeros, so there is nothing to reset.
        batches = dataset.take(steps_per_epoch) if steps_per_epoch else dataset
        total = steps_per_epoch
        losses = []
        for x, y in progress_bar(batches, total=total, desc=f"epoch {epoch}",
                                 disable=not progress):
            losses.append(float(train_step(x, y)))
        history["loss"].append(float(np.mean(losses)))
        if val_dataset is not None:
            history["val_loss"].append(evaluate_char_model(model, val_dataset))
        if checkpoint_prefix is not None and (epoch % checkpoint_every == 0 or epoch == epochs):
            model.save_weights(f"{checkpoint_prefix}_epoch{epoch:02d}.weights.h5")
    return history


def load_char_weights(model: CharModel, path: str | Path) -> CharModel:
    """Restore weights saved by ``ModelCheckpoint``/``save_weights`` into ``model`` (built first).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        CheckpointShapeError: if the checkpoint was written by a model of other
            sizes (the message names both).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    if not model.built:
        model.build_now()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.load_weights(path)
    except ValueError as error:
        raise CheckpointShapeError(
            f"{path.name} does not fit this model (vocabulary {model.vocab_size}, embedding "
            f"{model.embedding_dim}, {model.num_layers} LSTM layer(s) of {model.units} units): "
            f"{error}") from None
    return model
