"""word2vec from scratch: skip-gram and CBOW with negative sampling, in PyTorch.

word2vec {Mikolov et al., 2013} learns one dense vector per word from nothing
but running text. Every position ``t`` of the corpus gives a *centre* word
``w_t`` and the *context* words within ``window`` positions of it. Two ways
of turning that into a prediction task:

* **skip-gram**: from the centre word, predict each context word
  (one training pair per (centre, context) pair);
* **CBOW** (continuous bag of words): from the average of the context
  words' vectors, predict the centre word (one example per position).

Predicting a word out of the whole vocabulary needs a softmax over every
word, which is slow. *Negative sampling* replaces it by a yes/no question:
is this (input, target) pair real, or one of ``k`` fake pairs whose target
was drawn at random from the noise distribution ``P(w) ~ count(w)**0.75``?
With ``h`` the input vector and ``u`` the output vectors, the loss of one
example is::

    -log sigmoid(u_target . h) - sum over k noise words n of log sigmoid(-u_n . h)

Two tables of vectors are learned: ``in_embed`` (the vectors ``h`` of
input words, the ones we keep as "the word vectors") and ``out_embed``
(the vectors ``u`` of predicted words). Frequent words such as ``the`` or
``.`` are *subsampled*: each occurrence is kept only with a probability that
falls with the word's frequency, which speeds training up and helps rarer
words.

The module has three parts:

1. data: :func:`count_words`, :func:`encode`, :func:`keep_probabilities`,
   :func:`subsample`, :func:`skipgram_pairs`, :func:`cbow_examples`,
   :func:`noise_distribution`, :class:`NegativeSampler`;
2. models and training: :class:`SkipGram`, :class:`CBOW`, :func:`summed_loss`
   and :func:`train_word2vec` (its steps are :func:`llmbook.train.train_step`);
3. evaluation on *any* word vectors (ours, gensim's ``KeyedVectors``, or a
   plain ``(words, matrix)`` pair): :class:`WordVectors`,
   :func:`as_word_vectors`, :func:`nearest_neighbours`, :func:`analogy`,
   :func:`similarity_matrix`, :func:`analogy_questions`,
   :func:`analogy_accuracy`, and a small analogy set, :data:`ANALOGY_PAIRS`.

>>> pairs = skipgram_pairs([0, 1, 2], window=1)
>>> sorted(map(tuple, pairs.tolist()))
[(0, 1), (1, 0), (1, 2), (2, 1)]
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from llmbook.progress import progress_bar
from llmbook.train import train_step


__all__ = [
    "UnknownWordError",
    "count_words",
    "encode",
    "keep_probabilities",
    "subsample",
    "skipgram_pairs",
    "cbow_examples",
    "noise_distribution",
    "NegativeSampler",
    "negative_sampling_loss",
    "summed_loss",
    "SkipGram",
    "CBOW",
    "Word2VecResult",
    "train_word2vec",
    "WordVectors",
    "as_word_vectors",
    "nearest_neighbours",
    "analogy",
    "similarity_matrix",
    "ANALOGY_PAIRS",
    "AnalogyQuestion",
    "AnalogyScore",
    "analogy_questions",
    "analogy_accuracy",
]


class UnknownWordError(KeyError, ValueError):
    """A query word that has no vector (it is not in the vocabulary).

    Both a :class:`KeyError` (a failed look-up) and a :class:`ValueError`
    (bad input), so either ``except`` catches it. ``words`` lists the
    missing words.
    """

    def __init__(self, message: str, words: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.words = list(words)

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


def _check_window(window: int) -> int:
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)):
        raise TypeError(f"window must be an int, got {type(window).__name__}")
    if window < 1:
        raise ValueError(f"window must be >= 1 (context words on each side), got {window}")
    return int(window)


def _as_ids(ids: Sequence[int] | np.ndarray) -> np.ndarray:
    array = np.asarray(ids)
    if array.ndim != 1:
        raise ValueError(f"ids must be a 1-D sequence of word ids, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"ids must be integers, got dtype {array.dtype}")
    return array.astype(np.int64)


# --- 1. Data: from tokens to training pairs ------------------------------------------

def count_words(tokens: Iterable[str], min_count: int = 5) -> tuple[list[str], np.ndarray]:
    """The vocabulary of a corpus: words seen at least ``min_count`` times, and their counts.

    Words are sorted by falling count (ties alphabetically), so id 0 is the
    most frequent word.

    >>> count_words("a b a c a b".split(), min_count=2)
    (['a', 'b'], array([3, 2]))

    Raises:
        ValueError: if ``min_count < 1``, if there are no tokens, or if no
            word is frequent enough.
    """
    if isinstance(tokens, str):
        raise TypeError("tokens must be a sequence of words, not one str; split it first")
    if min_count < 1:
        raise ValueError(f"min_count must be >= 1, got {min_count}")
    counts = Counter(tokens)
    if not counts:
        raise ValueError("the corpus is empty: there are no tokens to learn from")
    kept = sorted(((w, n) for w, n in counts.items() if n >= min_count), key=lambda x: (-x[1], x[0]))
    if not kept:
        raise ValueError(f"no word occurs at least min_count={min_count} times")
    words = [w for w, _ in kept]
    return words, np.array([n for _, n in kept], dtype=np.int64)


def encode(tokens: Iterable[str], words: Sequence[str]) -> np.ndarray:
    """The ids of the tokens that are in ``words``; the others are dropped (as word2vec does)."""
    index = {w: i for i, w in enumerate(words)}
    return np.array([index[t] for t in tokens if t in index], dtype=np.int64)


def keep_probabilities(counts: Sequence[int] | np.ndarray, sample: float = 1e-3) -> np.ndarray:
    """The probability of keeping each occurrence of each word when subsampling.

    With ``f`` a word's share of all tokens and ``t = sample``, word2vec (and
    gensim) keep an occurrence with probability ``(sqrt(f / t) + 1) * t / f``,
    capped at 1: words rarer than about ``t`` are always kept, and a word
    making up 5% of the text is kept about 16% of the time.
    ``sample = 0`` switches subsampling off.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if sample < 0:
        raise ValueError(f"sample must be >= 0, got {sample}")
    if sample == 0:
        return np.ones_like(counts)
    f = counts / counts.sum()
    return np.minimum(1.0, (np.sqrt(f / sample) + 1.0) * sample / f)


def subsample(ids: Sequence[int] | np.ndarray, keep: np.ndarray,
              rng: np.random.Generator) -> np.ndarray:
    """Drop each occurrence of word ``i`` with probability ``1 - keep[i]``.

    Dropping happens *before* windows are taken, so the surviving words move
    closer together and a window reaches further.
    """
    ids = _as_ids(ids)
    return ids[rng.random(len(ids)) < keep[ids]]


def _window_sizes(n: int, window: int, rng: np.random.Generator | None) -> np.ndarray:
    """The window used at each position: ``window`` everywhere, or (with ``rng``)
    a size drawn uniformly from 1..window per position, as word2vec does, which
    gives near neighbours more weight than far ones."""
    if rng is None:
        return np.full(n, window, dtype=np.int64)
    return rng.integers(1, window + 1, size=n)


def skipgram_pairs(ids: Sequence[int] | np.ndarray, window: int,
                   rng: np.random.Generator | None = None) -> np.ndarray:
    """All (centre, context) pairs of a sequence of ids, shape ``(n, 2)``.

    A context word is any word at most ``window`` positions before or
    after the centre. The pairs are built one offset at a time
    (``-window .. -1``, ``1 .. window``), each in one vectorised step; with
    ``rng``, each position uses a random window of 1..``window``.
    """
    window = _check_window(window)
    ids = _as_ids(ids)
    n = len(ids)
    sizes = _window_sizes(n, window, rng)  # the window of each position
    chunks = []
    for offset in [*range(-window, 0), *range(1, window + 1)]:
        # every centre position whose neighbour at this offset exists ...
        centre = np.arange(max(0, -offset), min(n, n - offset))
        # ... and lies inside the centre's window
        centre = centre[sizes[centre] >= abs(offset)]
        pairs = np.stack([ids[centre], ids[centre + offset]], axis=1)
        chunks.append(pairs)
    return np.concatenate(chunks)


def cbow_examples(ids: Sequence[int] | np.ndarray, window: int,
                  rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
    """CBOW examples: for every position, its context ids and its centre id.

    Returns ``(contexts, centres)``: ``contexts`` has shape
    ``(n, 2 * window)``, the ids at offsets ``-window .. -1, 1 .. window``,
    with ``-1`` where the offset falls outside the sequence (or outside the
    random window when ``rng`` is given). Positions with no context at all
    (a one-word corpus) are left out.
    """
    window = _check_window(window)
    ids = _as_ids(ids)
    n = len(ids)
    sizes = _window_sizes(n, window, rng)
    offsets = np.array([*range(-window, 0), *range(1, window + 1)])
    where = np.arange(n)[:, None] + offsets[None, :]
    valid = (where >= 0) & (where < n) & (np.abs(offsets)[None, :] <= sizes[:, None])
    contexts = np.where(valid, ids[np.clip(where, 0, max(n - 1, 0))], -1)
    has_context = valid.any(axis=1)
    return contexts[has_context], ids[has_context]


def noise_distribution(counts: Sequence[int] | np.ndarray, power: float = 0.75) -> np.ndarray:
    """The distribution negative samples are drawn from: ``count**power``, normalised.

    ``power = 1`` is the plain word frequency, ``0`` the uniform distribution;
    word2vec's ``0.75`` lies between: frequent words are still drawn most
    often, but rare words a little more often than their frequency.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or counts.size == 0:
        raise ValueError("counts must be a non-empty 1-D array")
    if (counts < 0).any() or counts.sum() == 0:
        raise ValueError("counts must be non-negative and not all zero")
    weights = counts**power
    return weights / weights.sum()


class NegativeSampler:
    """Draws noise word ids from a fixed distribution (by inverting its cumulative sum).

    >>> sampler = NegativeSampler(np.array([0.0, 1.0]))
    >>> sampler.sample((2, 3), torch.Generator().manual_seed(0)).tolist()
    [[1, 1, 1], [1, 1, 1]]
    """

    def __init__(self, probabilities: np.ndarray) -> None:
        p = torch.as_tensor(np.asarray(probabilities, dtype=np.float64))
        if p.ndim != 1 or p.numel() == 0 or (p < 0).any() or not math.isclose(p.sum().item(), 1.0,
                                                                              rel_tol=1e-6):
            raise ValueError("probabilities must be a non-empty 1-D array of non-negative "
                             "numbers that sum to 1")
        self.cdf = torch.cumsum(p, 0)
        self.cdf[-1] = 1.0  # guard against rounding: every draw < 1 lands in range

    def sample(self, shape: tuple[int, ...], generator: torch.Generator | None = None) -> torch.Tensor:
        """A tensor of ``shape`` with ids drawn independently from the distribution."""
        u = torch.rand(shape, generator=generator, dtype=torch.float64)
        return torch.searchsorted(self.cdf, u, right=True).clamp_(max=len(self.cdf) - 1)


# --- 2. The two models and their training --------------------------------------------

def negative_sampling_loss(h: torch.Tensor, target: torch.Tensor,
                           noise: torch.Tensor) -> torch.Tensor:
    """Mean negative-sampling loss over a batch.

    Args:
        h: ``(B, d)`` input vectors (a centre word's, or a context mean).
        target: ``(B, d)`` output vectors of the true targets.
        noise: ``(B, k, d)`` output vectors of ``k`` noise words each.

    Returns the mean over the batch of
    ``-log sigmoid(target . h) - sum_k log sigmoid(-noise_k . h)``.
    """
    real = (h * target).sum(-1)                              # (B,)
    fake = torch.bmm(noise, h.unsqueeze(-1)).squeeze(-1)     # (B, k)
    loss = -F.logsigmoid(real) - F.logsigmoid(-fake).sum(-1)
    return loss.mean()


def summed_loss(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """word2vec's loss in the book's training contract: ``model(inputs, targets, noise)``
    summed (not averaged) over the batch, so that SGD moves each example's vectors
    by the learning rate, as word2vec does."""
    inputs, targets, noise = batch
    return model(inputs, targets, noise) * len(targets)


class _Word2Vec(nn.Module):
    """The two tables shared by both architectures, initialised as in word2vec:
    input vectors small and random, output vectors zero."""

    def __init__(self, vocab_size: int, dim: int) -> None:
        super().__init__()
        if vocab_size < 1 or dim < 1:
            raise ValueError(f"vocab_size and dim must be >= 1, got {vocab_size} and {dim}")
        self.in_embed = nn.Embedding(vocab_size, dim)
        self.out_embed = nn.Embedding(vocab_size, dim)
        nn.init.uniform_(self.in_embed.weight, -0.5 / dim, 0.5 / dim)
        nn.init.zeros_(self.out_embed.weight)


class SkipGram(_Word2Vec):
    """Skip-gram: a centre word's input vector must pick out a context word."""

    def forward(self, centres: torch.Tensor, contexts: torch.Tensor,
                noise: torch.Tensor) -> torch.Tensor:
        """Loss for centre ids ``(B,)``, their context ids ``(B,)`` and
        noise ids ``(B, k)``."""
        h = self.in_embed(centres)                                 # (B, d)
        return negative_sampling_loss(h, self.out_embed(contexts),
                                      self.out_embed(noise))


class CBOW(_Word2Vec):
    """CBOW: the mean input vector of the context must pick out the centre."""

    def forward(self, contexts: torch.Tensor, centres: torch.Tensor,
                noise: torch.Tensor) -> torch.Tensor:
        """Loss for context ids ``(B, 2w)`` (``-1``: no word), centre ids
        ``(B,)`` and noise ids ``(B, k)``."""
        mask = (contexts >= 0).unsqueeze(-1).float()            # (B, 2w, 1)
        vectors = self.in_embed(contexts.clamp(min=0)) * mask   # (B, 2w, d)
        h = vectors.sum(1) / mask.sum(1).clamp(min=1.0)         # (B, d)
        return negative_sampling_loss(h, self.out_embed(centres),
                                      self.out_embed(noise))


@dataclass
class Word2VecResult:
    """What :func:`train_word2vec` returns.

    ``vectors`` are the input embeddings; ``losses`` the mean loss of each
    epoch; ``batch_losses`` that of every batch; ``seconds`` the wall-clock
    training time (data preparation included); ``words_per_second`` the
    in-vocabulary corpus words processed per second (before subsampling,
    as gensim counts them).
    """

    vectors: WordVectors
    model: nn.Module
    losses: list[float]
    batch_losses: list[float]
    seconds: float
    words_per_second: float
    config: dict[str, Any] = field(default_factory=dict)


_ARCHITECTURES = {"skipgram": SkipGram, "cbow": CBOW}


def _check_settings(architecture: str, window: int, **counts: int) -> None:
    if architecture not in _ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; "
                         "choose 'skipgram' or 'cbow'")
    _check_window(window)
    for name, value in counts.items():
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")


def _examples(architecture: str, ids: np.ndarray, window: int,
              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets) of one epoch: (centres, contexts) for skip-gram,
    (context windows, centres) for CBOW; random window sizes."""
    if architecture == "skipgram":
        pairs = skipgram_pairs(ids, window, rng)
        return pairs[:, 0], pairs[:, 1]
    return cbow_examples(ids, window, rng)


def train_word2vec(
    tokens: Sequence[str],
    *,
    architecture: str = "skipgram",
    dim: int = 100,
    window: int = 5,
    negatives: int = 5,
    min_count: int = 5,
    sample: float = 1e-3,
    epochs: int = 5,
    batch_size: int = 1024,
    lr: float = 0.025,
    seed: int = 0,
    threads: int | None = None,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> Word2VecResult:
    """Train skip-gram or CBOW with negative sampling on a list of tokens.

    Each epoch subsamples the corpus, builds all examples at once
    (:func:`skipgram_pairs` or :func:`cbow_examples`, with random window
    sizes), shuffles them, and takes one SGD step per batch of
    ``batch_size`` examples with ``negatives`` noise words each, drawn from
    :func:`noise_distribution`. The loss is summed over the batch, so each
    example moves its vectors by ``lr`` as in word2vec (0.025 for
    skip-gram, 0.05 for CBOW there); ``lr`` falls linearly to zero over the
    run. The embedding tables use sparse gradients (only the rows in a
    batch are updated), so a step costs the same whatever the vocabulary
    size.

    Args:
        tokens: the corpus as a list of words (e.g. from ``tokenize_words``).
        architecture: ``"skipgram"`` or ``"cbow"``.
        threads: if given, ``torch.set_num_threads(threads)`` during
            training (restored afterwards).
        device: where to train (the examples are prepared on the CPU and
            each batch moved there by :func:`llmbook.train.train_step`).
        progress: show a ``tqdm`` progress bar over epochs.

    Raises:
        ValueError: for an empty corpus, an unknown architecture, ``lr <=
            0``, or ``window``, ``negatives``, ``epochs``, ``batch_size`` or
            ``dim`` < 1.
    """
    _check_settings(architecture, window, negatives=negatives, epochs=epochs,
                    batch_size=batch_size, dim=dim)
    if lr <= 0:
        raise ValueError(f"lr must be > 0, got {lr}")
    config = dict(architecture=architecture, dim=dim, window=window,
                  negatives=negatives, min_count=min_count, sample=sample,
                  epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        start = time.perf_counter()
        words, counts = count_words(tokens, min_count)
        ids = encode(tokens, words)
        keep = keep_probabilities(counts, sample)
        sampler = NegativeSampler(noise_distribution(counts))
        rng = np.random.default_rng(seed)
        generator = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        model = _ARCHITECTURES[architecture](len(words), dim).to(device)
        model.in_embed.sparse = model.out_embed.sparse = True
        optimiser = torch.optim.SGD(model.parameters(), lr=lr)
        # The number of examples varies a little from epoch to epoch (random
        # subsampling): the first epoch's count sets the lr schedule.
        total_steps = None
        losses: list[float] = []
        batch_losses: list[float] = []
        for _ in progress_bar(range(epochs), desc=f"{architecture} epochs",
                              disable=not progress):
            kept = subsample(ids, keep, rng)
            inputs, targets = _examples(architecture, kept, window, rng)
            order = torch.from_numpy(rng.permutation(len(targets)))
            inputs_t = torch.from_numpy(inputs)[order]
            targets_t = torch.from_numpy(targets)[order]
            starts = range(0, len(targets), batch_size)
            total_steps = total_steps or len(starts) * epochs
            epoch_loss = 0.0
            for b in starts:
                y = targets_t[b:b + batch_size]
                batch = (inputs_t[b:b + batch_size], y, sampler.sample((len(y), negatives), generator))
                rate = lr * max(1e-4, 1.0 - len(batch_losses) / total_steps)  # linear decay
                summed = train_step(model, batch, optimiser, summed_loss, lr=rate).item()
                batch_losses.append(summed / len(y))
                epoch_loss += summed
            losses.append(epoch_loss / max(len(targets), 1))
        seconds = time.perf_counter() - start
    finally:
        torch.set_num_threads(previous_threads)
    table = model.in_embed.weight.detach().cpu().numpy().copy()
    return Word2VecResult(WordVectors(words, table, counts), model, losses,
                          batch_losses, seconds, len(ids) * epochs / seconds,
                          config)


# --- 3. Evaluation on any word vectors -------------------------------------------

class WordVectors:
    """Words and their vectors: row ``i`` of ``vectors`` belongs to ``words[i]``.

    The evaluation functions below accept a ``WordVectors``, anything
    :func:`as_word_vectors` can convert (gensim ``KeyedVectors`` or
    ``Word2Vec``, a ``(words, matrix)`` pair) or a :class:`Word2VecResult`.
    """

    def __init__(self, words: Sequence[str], vectors: np.ndarray | torch.Tensor,
                 counts: Sequence[int] | np.ndarray | None = None) -> None:
        if isinstance(vectors, torch.Tensor):
            vectors = vectors.detach().cpu().numpy()
        vectors = np.asarray(vectors, dtype=np.float32)
        words = list(words)
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise ValueError(f"need one row per word: {len(words)} words but vectors of shape "
                             f"{vectors.shape}")
        if not words:
            raise ValueError("WordVectors needs at least one word")
        self.words = words
        self.vectors = vectors
        self.counts = None if counts is None else np.asarray(counts)
        self.index = {w: i for i, w in enumerate(words)}
        if len(self.index) != len(words):
            raise ValueError("words must be distinct")
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.unit = vectors / np.maximum(norms, 1e-12)  # rows of length 1, for cosines

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def __repr__(self) -> str:
        return f"WordVectors({len(self)} words x {self.vectors.shape[1]} dimensions)"

    def ids(self, words: Iterable[str]) -> list[int]:
        """The row of each word; :class:`UnknownWordError` names every missing one."""
        if isinstance(words, str):
            words = [words]
        words = list(words)
        for w in words:
            if not isinstance(w, str):
                raise TypeError(f"query words must be str, got {type(w).__name__}: {w!r}")
            if not w.strip():
                raise ValueError("empty query: give a word")
        missing = [w for w in words if w not in self.index]
        if missing:
            raise UnknownWordError(f"not in the vocabulary ({len(self)} words): "
                                   + ", ".join(repr(w) for w in missing), missing)
        return [self.index[w] for w in words]

    def __getitem__(self, word: str) -> np.ndarray:
        return self.vectors[self.ids([word])[0]]


def as_word_vectors(obj: Any) -> WordVectors:
    """Turn our result, gensim vectors or a ``(words, matrix)`` pair into :class:`WordVectors`."""
    if isinstance(obj, WordVectors):
        return obj
    if isinstance(obj, Word2VecResult):
        return obj.vectors
    if hasattr(obj, "wv"):  # gensim.models.Word2Vec
        obj = obj.wv
    if hasattr(obj, "index_to_key") and hasattr(obj, "vectors"):  # gensim KeyedVectors
        counts = None
        if hasattr(obj, "get_vecattr") and "count" in getattr(obj, "expandos", {}):
            counts = [obj.get_vecattr(w, "count") for w in obj.index_to_key]
        return WordVectors(obj.index_to_key, obj.vectors, counts)
    if isinstance(obj, tuple) and len(obj) == 2:
        return WordVectors(*obj)
    raise TypeError("expected WordVectors, a Word2VecResult, gensim KeyedVectors/Word2Vec or a "
                    f"(words, matrix) pair, got {type(obj).__name__}")


def _top(wv: WordVectors, query: np.ndarray, k: int, exclude: set[int]) -> list[tuple[str, float]]:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    q = query / max(float(np.linalg.norm(query)), 1e-12)
    scores = wv.unit @ q
    if exclude:
        scores[list(exclude)] = -np.inf
    k = min(k, len(wv) - len(exclude))
    best = np.argpartition(-scores, k - 1)[:k] if k > 0 else np.array([], dtype=int)
    best = best[np.argsort(-scores[best], kind="stable")]
    return [(wv.words[i], float(scores[i])) for i in best]


def nearest_neighbours(vectors: Any, word: str, k: int = 8) -> list[tuple[str, float]]:
    """The ``k`` words whose vectors have the highest cosine similarity to ``word``'s.

    The word itself is left out. Cosine similarity is
    ``a . b / (|a| |b|)``: 1 for vectors pointing the same way, 0 for
    perpendicular ones.

    Raises:
        UnknownWordError: if ``word`` has no vector.
        ValueError: for an empty query or ``k < 1``.
    """
    wv = as_word_vectors(vectors)
    (i,) = wv.ids([word])
    return _top(wv, wv.unit[i], k, {i})


def analogy(vectors: Any, a: str, b: str, c: str,
            k: int = 1) -> list[tuple[str, float]]:
    """Solve ``a - b + c = ?`` (e.g. ``king - man + woman``): the k best words.

    The three query words are excluded from the answer (otherwise
    ``king`` itself usually wins). Vectors are scaled to length 1 before
    they are added (the "3CosAdd" method of word2vec and gensim).

    Raises:
        UnknownWordError: naming every query word that has no vector.
    """
    wv = as_word_vectors(vectors)
    ia, ib, ic = wv.ids([a, b, c])
    target = wv.unit[ia] - wv.unit[ib] + wv.unit[ic]
    return _top(wv, target, k, {ia, ib, ic})


def similarity_matrix(vectors: Any, words: Sequence[str]) -> np.ndarray:
    """The cosine similarity of every pair of ``words``: a ``(n, n)`` array."""
    wv = as_word_vectors(vectors)
    rows = wv.unit[wv.ids(words)]
    return rows @ rows.T


#: A small analogy set written for Aesop + Sherlock Holmes: pairs of words that
#: stand in the same relation, by category. Every word occurs at least ten
#: times in the two books together. :func:`analogy_questions` turns them
#: into questions.
ANALOGY_PAIRS: dict[str, list[tuple[str, str]]] = {
    "gender": [("man", "woman"), ("he", "she"), ("his", "her"), ("father", "mother"),
               ("son", "daughter"), ("husband", "wife"), ("boy", "girl"), ("mr", "mrs"),
               ("sir", "madam"), ("lord", "lady")],
    "plural": [("man", "men"), ("day", "days"), ("year", "years"), ("hand", "hands"),
               ("eye", "eyes"), ("friend", "friends"), ("room", "rooms"),
               ("letter", "letters"), ("word", "words"), ("tree", "trees"), ("dog", "dogs"),
               ("bird", "birds"), ("house", "houses"), ("child", "children")],
    "past tense": [("go", "went"), ("come", "came"), ("see", "saw"), ("say", "said"),
                   ("take", "took"), ("give", "gave"), ("know", "knew"),
                   ("think", "thought"), ("find", "found"), ("tell", "told"),
                   ("make", "made"), ("get", "got"), ("sit", "sat"), ("stand", "stood"),
                   ("hear", "heard"), ("fall", "fell"), ("run", "ran"), ("speak", "spoke")],
}


@dataclass(frozen=True)
class AnalogyQuestion:
    """``a - b + c`` should give ``expected`` (e.g. king - man + woman = queen)."""

    category: str
    a: str
    b: str
    c: str
    expected: str

    def __str__(self) -> str:
        return f"{self.a} - {self.b} + {self.c} = {self.expected}"


def analogy_questions(pairs: Mapping[str, Sequence[tuple[str, str]]] = ANALOGY_PAIRS
                      ) -> list[AnalogyQuestion]:
    """Every question from two pairs of the same category.

    For pairs ``(x1, y1)`` and ``(x2, y2)`` (e.g. (man, woman) and (king,
    queen)) the question is ``x2 - x1 + y1 = y2`` (king - man + woman =
    queen). ``n`` pairs give ``n * (n - 1)`` questions.

    >>> [str(q) for q in analogy_questions({"g": [("man", "woman"), ("king", "queen")]})]
    ['king - man + woman = queen', 'man - king + queen = woman']
    """
    questions = []
    for category, items in pairs.items():
        for x1, y1 in items:
            for x2, y2 in items:
                if (x1, y1) != (x2, y2):
                    questions.append(AnalogyQuestion(category, x2, x1, y1, y2))
    return questions


@dataclass
class AnalogyScore:
    """Result of :func:`analogy_accuracy`: counts overall and per category.

    ``attempted`` counts questions whose four words all have vectors;
    ``skipped`` the others (they count as neither right nor wrong).
    """

    correct: int
    attempted: int
    skipped: int
    by_category: dict[str, tuple[int, int]]  # category -> (correct, attempted)
    answers: list[tuple[AnalogyQuestion, str]]  # the model's top answer to each attempted question

    @property
    def accuracy(self) -> float:
        """``correct / attempted`` (0 when nothing could be attempted)."""
        return self.correct / self.attempted if self.attempted else 0.0


def analogy_accuracy(vectors: Any, questions: Sequence[AnalogyQuestion] | None = None,
                     top: int = 1) -> AnalogyScore:
    """How many analogy questions the vectors answer right.

    A question counts as right when ``expected`` is among the ``top``
    answers of :func:`analogy` (``top=1``: it must be the single best).
    Questions with a word missing from the vocabulary are skipped, as gensim's
    ``evaluate_word_analogies`` does. The answers are those of
    :func:`analogy`, computed for many questions at once (one matrix product
    per block of questions instead of one per question).
    """
    wv = as_word_vectors(vectors)
    questions = analogy_questions() if questions is None else list(questions)
    if not questions:
        raise ValueError("no analogy questions given")
    if top < 1:
        raise ValueError(f"top must be >= 1, got {top}")
    usable = [q for q in questions if all(w in wv for w in (q.a, q.b, q.c, q.expected))]
    by_category: dict[str, tuple[int, int]] = {}
    answers = []
    correct = 0
    block = 256
    for start in range(0, len(usable), block):
        chunk = usable[start:start + block]
        abc = np.array([wv.ids([q.a, q.b, q.c]) for q in chunk])           # (n, 3)
        targets = wv.unit[abc[:, 0]] - wv.unit[abc[:, 1]] + wv.unit[abc[:, 2]]
        targets /= np.maximum(np.linalg.norm(targets, axis=1, keepdims=True), 1e-12)
        scores = targets @ wv.unit.T                                         # (n, |V|)
        scores[np.arange(len(chunk))[:, None], abc] = -np.inf               # exclude a, b, c
        k = min(top, len(wv) - 3)
        best = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, best, axis=1), axis=1, kind="stable")
        best = np.take_along_axis(best, order, axis=1)
        for q, row in zip(chunk, best):
            guesses = [wv.words[i] for i in row]
            right = q.expected in guesses
            correct += right
            c, n = by_category.get(q.category, (0, 0))
            by_category[q.category] = (c + right, n + 1)
            answers.append((q, guesses[0]))
    return AnalogyScore(correct, len(usable), len(questions) - len(usable), by_category, answers)
