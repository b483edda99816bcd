"""Recurrent networks: an RNN cell and an LSTM cell from scratch, and LSTM language models.

The cells are written out with the textbook equations so that a chapter can show
them, and they use the *same weight layout as PyTorch* (``weight_ih``,
``weight_hh``, ``bias_ih``, ``bias_hh``; LSTM gates stacked in the order input,
forget, cell candidate, output) so that the weights of ``torch.nn.RNN`` /
``torch.nn.LSTM`` can be copied into them and the outputs compared exactly.

Also here:

* :func:`lstm_param_count` -- the parameter formula ``4 * (h * (d + h) + h)``;
* :class:`WordLSTM` and :class:`CharLSTM` -- the PyTorch language models of the
  book (the Aesop word model: ``Embedding(V, 100) -> LSTM(256) -> Linear(V)``);
* :func:`input_gradient_norms` -- the vanishing-gradient experiment: how much
  the last output depends on the input ``k`` steps back;
* :func:`save_word_checkpoint` / :func:`load_word_checkpoint` -- a small,
  framework-neutral ``.npz`` checkpoint (weights in float16 plus the
  vocabulary) that both the PyTorch and the Keras version of the Aesop word model load.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from llmbook import _checks
from llmbook.devices import device_of
from llmbook.sampling import probs_power
from llmbook.text import PAD_ID, SEED_ID, UNK_ID, UnknownTokenError

__all__ = [
    "RNNCell",
    "LSTMCell",
    "run_cell",
    "copy_weights_from_torch",
    "lstm_param_count",
    "WordLSTM",
    "CharLSTM",
    "input_gradient_norms",
    "set_forget_bias",
    "word_lstm_parameter_table",
    "seed_window",
    "generate_words",
    "top_words",
    "tokens_per_second",
    "WordCheckpoint",
    "CheckpointShapeError",
    "save_word_checkpoint",
    "load_word_checkpoint",
    "available_checkpoints",
    "CHECKPOINT_PACKAGE",
]


# --------------------------------------------------------------------------
# Cells from scratch
# --------------------------------------------------------------------------


def _uniform(shape: tuple[int, ...], bound: float, generator: torch.Generator | None) -> nn.Parameter:
    return nn.Parameter((torch.rand(shape, generator=generator) * 2 - 1) * bound)


def _init_cell(cell: nn.Module, input_size: int, hidden_size: int, gates: int,
               seed: int | None) -> None:
    """Give ``cell`` PyTorch's weights for ``gates`` stacked blocks of ``hidden_size`` rows.

    ``weight_ih`` (gates*h, d), ``weight_hh`` (gates*h, h) and the two biases
    (gates*h), uniform in ``[-1/sqrt(h), 1/sqrt(h)]`` as in ``torch.nn.RNN``/``LSTM``.
    """
    _check_sizes(input_size, hidden_size)
    cell.input_size, cell.hidden_size = input_size, hidden_size
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    bound = 1.0 / math.sqrt(hidden_size)
    rows = gates * hidden_size
    cell.weight_ih = _uniform((rows, input_size), bound, gen)
    cell.weight_hh = _uniform((rows, hidden_size), bound, gen)
    cell.bias_ih = _uniform((rows,), bound, gen)
    cell.bias_hh = _uniform((rows,), bound, gen)


class RNNCell(nn.Module):
    """One step of a plain (Elman) recurrent network.

    .. math::  h_t = \\tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})

    Args:
        input_size: ``d``, the size of each input vector ``x_t``.
        hidden_size: ``h``, the size of the hidden state.
        seed: optional seed for the initial weights (uniform in
            ``[-1/sqrt(h), 1/sqrt(h)]``, like PyTorch).
    """

    def __init__(self, input_size: int, hidden_size: int, seed: int | None = None) -> None:
        super().__init__()
        _init_cell(self, input_size, hidden_size, gates=1, seed=seed)

    def forward(self, x: Tensor, h: Tensor) -> Tensor:
        """Return the new hidden state for inputs ``x`` (batch, d) and state ``h`` (batch, h)."""
        return torch.tanh(x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh)

    def initial_state(self, batch_size: int) -> Tensor:
        """All-zero hidden state for ``batch_size`` sequences (on the weights' device)."""
        return torch.zeros(batch_size, self.hidden_size, device=self.weight_ih.device)


class LSTMCell(nn.Module):
    """One step of a long short-term memory (LSTM) network.

    With ``z_t = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}`` split into four
    blocks of size ``h``::

        i_t = sigmoid(z_i)        input gate: how much new information to write
        f_t = sigmoid(z_f)        forget gate: how much of the old cell to keep
        g_t = tanh(z_g)           candidate values to write
        o_t = sigmoid(z_o)        output gate: how much of the cell to show
        c_t = f_t * c_{t-1} + i_t * g_t       the cell state (the "memory")
        h_t = o_t * tanh(c_t)                 the hidden state (the output)

    The gate order (i, f, g, o) and the weight names are PyTorch's, so
    :func:`copy_weights_from_torch` can copy a ``torch.nn.LSTM`` into this cell.
    """

    def __init__(self, input_size: int, hidden_size: int, seed: int | None = None) -> None:
        super().__init__()
        _init_cell(self, input_size, hidden_size, gates=4, seed=seed)  # i, f, g, o

    def forward(self, x: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """Return ``(h_t, c_t)`` for inputs ``x`` (batch, d) and state ``(h, c)``."""
        h, c = state
        z = x @ self.weight_ih.T + self.bias_ih + h @ self.weight_hh.T + self.bias_hh
        z_i, z_f, z_g, z_o = z.chunk(4, dim=-1)
        i, f, g, o = torch.sigmoid(z_i), torch.sigmoid(z_f), torch.tanh(z_g), torch.sigmoid(z_o)
        c = f * c + i * g
        h = o * torch.tanh(c)
        return h, c

    def initial_state(self, batch_size: int) -> tuple[Tensor, Tensor]:
        """All-zero ``(h, c)`` for ``batch_size`` sequences (on the weights' device)."""
        zeros = torch.zeros(batch_size, self.hidden_size, device=self.weight_ih.device)
        return zeros, zeros.clone()


def _check_sizes(input_size: int, hidden_size: int) -> None:
    _checks.positive_int("input_size", input_size)
    _checks.positive_int("hidden_size", hidden_size)


def run_cell(cell: RNNCell | LSTMCell, xs: Tensor, state=None):
    """Unroll ``cell`` over a batch of sequences ``xs`` of shape (batch, time, d).

    Returns ``(outputs, state)`` like ``torch.nn.RNN``/``LSTM`` with
    ``batch_first=True``: ``outputs`` has shape (batch, time, h) and holds the
    hidden state after every step; ``state`` is the final ``h`` (RNN) or
    ``(h, c)`` (LSTM).

    Raises:
        ValueError: if ``xs`` is not 3-dimensional, is empty in time, or its last
            dimension is not the cell's ``input_size``.
    """
    if xs.dim() != 3:
        raise ValueError(f"xs must have shape (batch, time, input_size), got {tuple(xs.shape)}")
    if xs.shape[1] == 0:
        raise ValueError("xs must contain at least one time step")
    if xs.shape[2] != cell.input_size:
        raise ValueError(f"the cell expects inputs of size {cell.input_size}, got {xs.shape[2]}")
    if state is None:
        state = cell.initial_state(xs.shape[0])
    outputs = []
    for t in range(xs.shape[1]):
        state = cell(xs[:, t], state)
        outputs.append(state[0] if isinstance(state, tuple) else state)
    return torch.stack(outputs, dim=1), state


def copy_weights_from_torch(cell: RNNCell | LSTMCell, layer: nn.RNN | nn.LSTM) -> None:
    """Copy the first-layer weights of ``torch.nn.RNN``/``torch.nn.LSTM`` into ``cell``.

    Raises:
        TypeError: if the layer kind does not match the cell kind.
        ValueError: if the sizes differ or the layer has no biases.
    """
    expected = nn.LSTM if isinstance(cell, LSTMCell) else nn.RNN
    if not isinstance(layer, expected):
        raise TypeError(f"{type(cell).__name__} takes weights from {expected.__name__}, "
                        f"got {type(layer).__name__}")
    if (layer.input_size, layer.hidden_size) != (cell.input_size, cell.hidden_size):
        raise ValueError(f"size mismatch: layer ({layer.input_size}, {layer.hidden_size}) vs cell "
                         f"({cell.input_size}, {cell.hidden_size})")
    if not layer.bias:
        raise ValueError("the torch layer has no biases (bias=False); the cell always has them")
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(layer, f"{name}_l0"))


# --------------------------------------------------------------------------
# Parameter counts
# --------------------------------------------------------------------------


def lstm_param_count(input_size: int, hidden_size: int, biases: int = 1) -> int:
    """Number of parameters of one LSTM layer: ``4 * (h * (d + h) + h)``.

    Each of the four gates has a weight matrix on the input (``h x d``), one on
    the previous hidden state (``h x h``) and a bias (``h``). Keras uses one
    bias vector per gate (``biases=1``, the default); PyTorch keeps two
    (``bias_ih`` and ``bias_hh``, ``biases=2``), which add up to the same thing.

    >>> lstm_param_count(100, 256)
    365568
    >>> lstm_param_count(100, 256, biases=2)
    366592
    """
    _check_sizes(input_size, hidden_size)
    if biases not in (0, 1, 2):
        raise ValueError(f"biases must be 0, 1 or 2, got {biases!r}")
    h, d = hidden_size, input_size
    return 4 * (h * (d + h) + biases * h)


# --------------------------------------------------------------------------
# PyTorch language models
# --------------------------------------------------------------------------


class WordLSTM(nn.Module):
    """The Aesop word-level model in PyTorch: ``Embedding(V, 100) -> LSTM(256) -> Linear(V)``.

    ``forward`` takes token ids of shape (batch, time) and returns the logits of
    the next token after the *last* position, shape (batch, V) -- one
    prediction per window, as in the course's Aesop slides. Use ``torch.softmax`` for probabilities
    (Keras puts the softmax inside the model; PyTorch's ``cross_entropy``
    wants logits).
    """

    def __init__(self, vocab_size: int, embedding_dim: int = 100, hidden_size: int = 256,
                 num_layers: int = 1) -> None:
        super().__init__()
        _check_sizes(embedding_dim, hidden_size)
        if vocab_size < 2:
            raise ValueError(f"vocab_size must be at least 2, got {vocab_size}")
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, num_layers=num_layers, batch_first=True)
        self.dense = nn.Linear(hidden_size, vocab_size)

    def forward(self, ids: Tensor) -> Tensor:
        if ids.dim() != 2:
            raise ValueError(f"ids must have shape (batch, time), got {tuple(ids.shape)}")
        out, _ = self.lstm(self.embedding(ids))
        return self.dense(out[:, -1])


class CharLSTM(nn.Module):
    """A character-level LSTM language model: ``Embedding -> LSTM x layers -> Linear``.

    Unlike :class:`WordLSTM` it predicts at *every* position (the TensorFlow tutorial's recipe):
    ``forward(ids, state)`` returns logits of shape (batch, time, V) and the
    final ``(h, c)`` so that generation can carry the state forward.
    """

    def __init__(self, vocab_size: int, embedding_dim: int = 64, hidden_size: int = 256,
                 num_layers: int = 1) -> None:
        super().__init__()
        _check_sizes(embedding_dim, hidden_size)
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, num_layers=num_layers, batch_first=True)
        self.dense = nn.Linear(hidden_size, vocab_size)

    def forward(self, ids: Tensor, state: tuple[Tensor, Tensor] | None = None):
        if ids.dim() != 2:
            raise ValueError(f"ids must have shape (batch, time), got {tuple(ids.shape)}")
        out, state = self.lstm(self.embedding(ids), state)
        return self.dense(out), state


def word_lstm_parameter_table(vocab_size: int, embedding_dim: int = 100, hidden_size: int = 256) -> dict[str, int]:
    """Parameters of each layer of the Aesop word model ``Embedding -> LSTM -> Dense`` (and the total).

    ``Embedding``: one vector of ``d`` numbers per word, ``V * d``.
    ``LSTM``: :func:`lstm_param_count` (one bias per gate, as in Keras).
    ``Dense``: a weight from each of the ``h`` hidden units to each of the ``V``
    words, plus one bias per word, ``h * V + V``.

    >>> word_lstm_parameter_table(4169)
    {'Embedding': 416900, 'LSTM': 365568, 'Dense': 1071433, 'Total': 1853901}
    """
    _checks.positive_int("vocab_size", vocab_size)
    table = {
        "Embedding": vocab_size * embedding_dim,
        "LSTM": lstm_param_count(embedding_dim, hidden_size),
        "Dense": hidden_size * vocab_size + vocab_size,
    }
    table["Total"] = sum(table.values())
    return table


# --------------------------------------------------------------------------
# The vanishing-gradient experiment
# --------------------------------------------------------------------------


def set_forget_bias(lstm: nn.LSTM, value: float) -> nn.LSTM:
    """Set the forget-gate bias of every layer of ``lstm`` to ``value`` (in place).

    PyTorch initialises it like every other bias (around 0, so the forget gate
    starts half open: sigmoid(0) = 0.5); Keras sets it to 1
    (``unit_forget_bias=True``), so that the cell starts out remembering.
    Returns ``lstm``.
    """
    if not isinstance(lstm, nn.LSTM):
        raise TypeError(f"set_forget_bias needs a torch.nn.LSTM, got {type(lstm).__name__}")
    h = lstm.hidden_size
    with torch.no_grad():
        for layer in range(lstm.num_layers):
            getattr(lstm, f"bias_ih_l{layer}")[h:2 * h] = value
            getattr(lstm, f"bias_hh_l{layer}")[h:2 * h] = 0.0
    return lstm


def input_gradient_norms(layer: nn.RNN | nn.LSTM, seq_len: int, batch_size: int = 32,
                         seed: int = 0) -> np.ndarray:
    """How strongly the last output depends on each earlier input: ``||dL/dx_{T-k}||``.

    Feeds ``batch_size`` random sequences of ``seq_len`` standard-normal input
    vectors through ``layer`` (a ``torch.nn.RNN`` or ``torch.nn.LSTM`` with
    ``batch_first=True``), takes ``L`` = the sum of the hidden state after the
    *last* step, backpropagates through time, and returns an array whose entry
    ``k`` is the norm of the gradient of ``L`` with respect to the input ``k``
    steps before the end (``k = 0`` is the last input), averaged over the batch.

    Raises:
        TypeError: if ``layer`` is not an ``nn.RNN``/``nn.LSTM`` with ``batch_first=True``.
        ValueError: if ``seq_len`` or ``batch_size`` is not positive.
    """
    if not isinstance(layer, (nn.RNN, nn.LSTM)) or not layer.batch_first:
        raise TypeError("layer must be a torch.nn.RNN or torch.nn.LSTM with batch_first=True")
    _checks.positive_int("seq_len", seq_len)
    _checks.positive_int("batch_size", batch_size)
    gen = torch.Generator().manual_seed(seed)
    xs = torch.randn(batch_size, seq_len, layer.input_size, generator=gen)
    xs = xs.to(device_of(layer)).requires_grad_()
    out, _ = layer(xs)
    out[:, -1].sum().backward()
    norms = xs.grad.norm(dim=-1).mean(dim=0)  # (seq_len,), position 0 = first input
    return norms.flip(0).detach().cpu().numpy()


# --------------------------------------------------------------------------
# Word-level generation (framework-neutral: works with PyTorch and Keras)
# --------------------------------------------------------------------------


def seed_window(seed: str | Sequence[str], tokens: Sequence[str], context: int = 20) -> np.ndarray:
    """The ids of the last ``context`` words of ``seed``, left-padded with the seed marker.

    ``seed`` is a standardised string (words and punctuation separated by
    spaces, e.g. ``"the frog went to"``) or a list of tokens; ``tokens`` is the
    vocabulary (id -> token, with ``|||||`` at id 1). The course pads the start of the
    text with the seed marker, so a short seed looks like the beginning of a
    story.

    Raises:
        ValueError: if the seed is empty.
        llmbook.text.UnknownTokenError: if a word of the seed is not in the
            vocabulary (the model has no vector for it).
    """
    words = seed.split() if isinstance(seed, str) else list(seed)
    if not words:
        raise ValueError("the seed is empty: give at least one word (or '|||||' to start a story)")
    if context < 1:
        raise ValueError(f"context must be >= 1, got {context}")
    stoi = {t: i for i, t in enumerate(tokens)}
    unknown = [(i, w) for i, w in enumerate(words) if w not in stoi]
    if unknown:
        shown = ", ".join(repr(w) for _, w in unknown[:5])
        raise UnknownTokenError(f"the seed has words that are not in the vocabulary: {shown}", unknown)
    ids = [stoi[w] for w in words][-context:]
    return np.array([SEED_ID] * (context - len(ids)) + ids, dtype=np.int64)


def top_words(probs: np.ndarray, tokens: Sequence[str], k: int = 10) -> list[tuple[str, float]]:
    """The ``k`` most probable next words, as ``(word, probability)`` pairs, best first."""
    probs = np.asarray(probs, dtype=np.float64).reshape(-1)
    if probs.shape[0] != len(tokens):
        raise ValueError(f"{probs.shape[0]} probabilities for a vocabulary of {len(tokens)}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    best = np.argsort(-probs, kind="stable")[:k]
    return [(tokens[i], float(probs[i])) for i in best]


def generate_words(next_probs, tokens: Sequence[str], seed: str | Sequence[str], n_words: int,
                   temperature: float = 1.0, context: int = 20, seed_rng: int | None = 0,
                   stop_at_marker: bool = False) -> list[str]:
    """Generate ``n_words`` words after ``seed``, the way the Aesop slides do.

    At each step, ``next_probs(window)`` (a function from an int array of shape
    ``(context,)`` to the probabilities of the next word, e.g. a wrapper
    around ``model.predict``) gives a distribution; it is reshaped by the
    temperature ``T`` as ``p ** (1 / T)`` and renormalised
    (:func:`llmbook.sampling.probs_power`; T < 1 sharpens, T > 1 flattens), a word is drawn, appended, and the window slides one word
    to the left. Returns the generated words (without the seed). Reserved ids
    (``<pad>``, ``<unk>``) are never drawn. With ``stop_at_marker`` the text
    ends at the next ``|||||`` (the end of the story).

    Raises:
        ValueError: for an empty seed, ``n_words <= 0`` or ``temperature <= 0``.
        llmbook.text.UnknownTokenError: for seed words not in the vocabulary.
    """
    _checks.positive_int("n_words", n_words)
    _checks.check_temperature(temperature)
    window = seed_window(seed, tokens, context)
    rng = np.random.default_rng(seed_rng)
    out: list[str] = []
    for _ in range(n_words):
        probs = np.asarray(next_probs(window), dtype=np.float64).reshape(-1).copy()
        probs[[PAD_ID, UNK_ID]] = 0.0            # never write padding or "unknown"
        p = probs_power(torch.from_numpy(probs / probs.sum()), temperature).numpy()
        nxt = int(rng.choice(len(p), p=p / p.sum()))
        if stop_at_marker and nxt == SEED_ID:
            break
        out.append(tokens[nxt])
        window = np.append(window[1:], nxt)
    return out


def tokens_per_second(step, tokens_per_step: int, steps: int = 5, warmup: int = 1) -> float:
    """Time ``step()`` (one training step on ``tokens_per_step`` tokens); return tokens/s.

    ``warmup`` calls are made first and not timed (the first call of a
    framework often compiles or allocates).
    """
    if steps < 1 or tokens_per_step < 1 or warmup < 0:
        raise ValueError("steps and tokens_per_step must be positive, warmup non-negative")
    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return tokens_per_step * steps / (time.perf_counter() - start)


# --------------------------------------------------------------------------
# Checkpoints of the Aesop word model (framework-neutral .npz)
# --------------------------------------------------------------------------

#: The package directory that holds the book's shipped checkpoints.
CHECKPOINT_PACKAGE = "llmbook.checkpoints"

_WEIGHT_SHAPES = {  # name -> shape as a function of (V, d, h)
    "embedding": lambda V, d, h: (V, d),
    "lstm_weight_ih": lambda V, d, h: (4 * h, d),
    "lstm_weight_hh": lambda V, d, h: (4 * h, h),
    "lstm_bias": lambda V, d, h: (4 * h,),
    "dense_weight": lambda V, d, h: (V, h),
    "dense_bias": lambda V, d, h: (V,),
}


class CheckpointShapeError(ValueError):
    """Raised when a checkpoint's weights do not fit the model they are loaded into."""


@dataclass
class WordCheckpoint:
    """The Aesop word model at one epoch: vocabulary, weights and training history.

    ``weights`` uses PyTorch's layout with the two LSTM biases summed into one
    (``lstm_bias``), which is also what Keras keeps; ``history`` maps
    ``"train_loss"``/``"val_loss"`` to per-epoch lists (nats per token).
    """

    tokens: list[str]
    weights: dict[str, np.ndarray]
    epoch: int
    context: int
    history: dict[str, list[float]] = field(default_factory=dict)

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    @property
    def sizes(self) -> tuple[int, int, int]:
        """``(V, d, h)``: vocabulary, embedding and hidden sizes."""
        V, d = self.weights["embedding"].shape
        return V, d, self.weights["lstm_weight_hh"].shape[1]

    def to_torch(self) -> WordLSTM:
        """A :class:`WordLSTM` holding these weights (float32)."""
        V, d, h = self.sizes
        model = WordLSTM(V, d, h)
        load_word_weights(model, self.weights)
        return model.eval()


def word_weights(model: WordLSTM) -> dict[str, np.ndarray]:
    """The weights of a one-layer :class:`WordLSTM` as the checkpoint's numpy dict."""
    if model.lstm.num_layers != 1:
        raise ValueError("checkpoints hold one-layer models only")
    l = model.lstm
    t = lambda x: x.detach().cpu().numpy().astype(np.float32)  # noqa: E731
    return {
        "embedding": t(model.embedding.weight),
        "lstm_weight_ih": t(l.weight_ih_l0),
        "lstm_weight_hh": t(l.weight_hh_l0),
        "lstm_bias": t(l.bias_ih_l0 + l.bias_hh_l0),
        "dense_weight": t(model.dense.weight),
        "dense_bias": t(model.dense.bias),
    }


def check_word_weights(weights: dict[str, np.ndarray], vocab_size: int, embedding_dim: int,
                       hidden_size: int) -> None:
    """Raise :class:`CheckpointShapeError` unless ``weights`` fit a model of these sizes."""
    missing = sorted(set(_WEIGHT_SHAPES) - set(weights))
    if missing:
        raise CheckpointShapeError(f"checkpoint is missing weights: {missing}")
    for name, shape_of in _WEIGHT_SHAPES.items():
        want = shape_of(vocab_size, embedding_dim, hidden_size)
        got = tuple(weights[name].shape)
        if got != want:
            raise CheckpointShapeError(
                f"checkpoint weight {name!r} has shape {got}, but a model with vocabulary "
                f"{vocab_size}, embedding {embedding_dim} and hidden size {hidden_size} needs {want}")


def load_word_weights(model: WordLSTM, weights: dict[str, np.ndarray]) -> None:
    """Copy checkpoint ``weights`` into a one-layer :class:`WordLSTM` (bias goes to ``bias_ih``)."""
    V, d = model.embedding.weight.shape
    check_word_weights(weights, V, d, model.lstm.hidden_size)
    f = lambda name: torch.from_numpy(np.asarray(weights[name], dtype=np.float32))  # noqa: E731
    with torch.no_grad():
        model.embedding.weight.copy_(f("embedding"))
        model.lstm.weight_ih_l0.copy_(f("lstm_weight_ih"))
        model.lstm.weight_hh_l0.copy_(f("lstm_weight_hh"))
        model.lstm.bias_ih_l0.copy_(f("lstm_bias"))
        model.lstm.bias_hh_l0.zero_()
        model.dense.weight.copy_(f("dense_weight"))
        model.dense.bias.copy_(f("dense_bias"))


def save_word_checkpoint(path: str | Path, model: WordLSTM, tokens: Sequence[str], epoch: int,
                         context: int, history: dict[str, list[float]] | None = None) -> Path:
    """Save ``model`` with its vocabulary as a compressed ``.npz`` in float16 (half the bytes).

    float16 keeps about three significant digits, plenty for generation; the
    file of the Aesop word model (1.8 million parameters) is about 3.5 MB.
    """
    if len(tokens) != model.embedding.num_embeddings:
        raise ValueError(f"{len(tokens)} tokens for a model with vocabulary "
                         f"{model.embedding.num_embeddings}")
    path = Path(path)
    arrays = {k: v.astype(np.float16) for k, v in word_weights(model).items()}
    meta = {"epoch": int(epoch), "context": int(context), "history": history or {}}
    np.savez_compressed(path, tokens=np.array(list(tokens)), meta=np.array(json.dumps(meta)), **arrays)
    return path


def available_checkpoints() -> list[str]:
    """Names of the checkpoints shipped inside the package (``llmbook/checkpoints``)."""
    folder = resources.files(CHECKPOINT_PACKAGE)
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".npz"))


def load_word_checkpoint(name_or_path: str | Path) -> WordCheckpoint:
    """Load a checkpoint written by :func:`save_word_checkpoint`.

    ``name_or_path`` is the name of a shipped checkpoint (see
    :func:`available_checkpoints`, e.g. ``"aesop_word_lstm_e200.npz"``) or a path.

    Raises:
        FileNotFoundError: if there is no such checkpoint (the message lists
            the shipped ones).
        CheckpointShapeError: if its weights are inconsistent with each other
            or with its vocabulary.
    """
    path = Path(name_or_path)
    if not path.is_file():
        shipped = resources.files(CHECKPOINT_PACKAGE) / str(name_or_path)
        if not shipped.is_file():
            raise FileNotFoundError(f"no checkpoint {str(name_or_path)!r}; shipped checkpoints: "
                                    f"{available_checkpoints()}")
        path = Path(str(shipped))
    with np.load(path, allow_pickle=False) as data:
        tokens = [str(t) for t in data["tokens"]]
        meta = json.loads(str(data["meta"]))
        weights = {k: data[k].astype(np.float32) for k in data.files if k in _WEIGHT_SHAPES}
    if "embedding" not in weights or "lstm_weight_hh" not in weights:
        raise CheckpointShapeError(f"{path.name} is not a word-LSTM checkpoint")
    V, d = weights["embedding"].shape
    h = weights["lstm_weight_hh"].shape[1]
    if V != len(tokens):
        raise CheckpointShapeError(f"{path.name}: embedding has {V} rows for {len(tokens)} tokens")
    check_word_weights(weights, V, d, h)
    return WordCheckpoint(tokens, weights, meta["epoch"], meta["context"], meta.get("history", {}))
