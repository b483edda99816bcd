"""A counting language model: predict the next token from the previous n-1 tokens.

An n-gram model estimates the probability of the next token ``w`` after a
context ``c`` (the last ``n - 1`` tokens) by counting how often ``c`` was
followed by ``w`` in the training text::

    P(w | c) = (count(c, w) + k) / (count(c) + k * |V|)

With ``k = 0`` this is the maximum-likelihood estimate (plain relative
frequencies); ``k > 0`` is *add-k smoothing*, which gives every token of the
vocabulary ``V`` a little probability even after contexts never seen in
training. For smoothing, ``V`` is the training vocabulary plus one slot,
:data:`UNK`, that stands for every token never seen in training.

Choices made here (and tested):

* Without smoothing, asking for the distribution after a context that never
  occurred in training raises :class:`UnseenContextError` (a ``KeyError``):
  the counts say nothing at all, and returning an empty or made-up
  distribution would hide that.
* :meth:`NGramModel.perplexity` returns ``math.inf`` when some token of the
  evaluated text gets probability zero (an unseen n-gram or context without
  smoothing): that is the mathematically correct value, and it is the
  lesson.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Sequence

from llmbook.text import ngrams

__all__ = ["UNK", "NGramModel", "NotFittedError", "UnseenContextError"]

#: The vocabulary slot that stands for any token never seen in training.
UNK = "<unk>"


class NotFittedError(RuntimeError):
    """Raised when a model is used before :meth:`NGramModel.fit`."""


class UnseenContextError(KeyError):
    """Raised (without smoothing) for a context that never occurred in training."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


def _check_tokens(tokens: Sequence[str], what: str) -> list[str]:
    if isinstance(tokens, str):
        raise TypeError(
            f"{what} must be a sequence of tokens, not a single string; "
            "split it first, e.g. text.split() or tokenize_words(text)"
        )
    return list(tokens)


class NGramModel:
    """An n-gram language model estimated by counting.

    Args:
        n: the order; the model looks at the previous ``n - 1`` tokens
            (``n=1``: unigram, no context; ``n=2``: bigram; ``n=3``: trigram).
        k: add-k smoothing constant (``0.0`` = maximum likelihood). It can be
            overridden per call in :meth:`next_token_probs` and
            :meth:`perplexity`.

    >>> m = NGramModel(n=2).fit("the cat sat . the dog sat .".split())
    >>> m.next_token_probs(["the"])
    {'cat': 0.5, 'dog': 0.5}
    """

    def __init__(self, n: int = 2, *, k: float = 0.0) -> None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be an integer >= 1, got {n!r}")
        self.n = n
        self.k = self._check_k(k)
        self._counts: dict[tuple[str, ...], Counter[str]] | None = None
        self._totals: dict[tuple[str, ...], int] = {}
        self._vocab: set[str] = set()
        self._outcomes: list[str] = []
        self.n_tokens = 0

    # ----------------------------------------------------------------- fitting
    def fit(self, tokens: Sequence[str]) -> NGramModel:
        """Count every n-gram of ``tokens`` (replacing any earlier counts); return ``self``."""
        tokens = _check_tokens(tokens, "tokens")
        if len(tokens) < self.n:
            raise ValueError(
                f"need at least n={self.n} tokens to fit a {self.n}-gram model, "
                f"got {len(tokens)}"
            )
        counts: dict[tuple[str, ...], Counter[str]] = {}
        for gram in ngrams(tokens, self.n):
            counts.setdefault(gram[:-1], Counter())[gram[-1]] += 1
        self._counts = counts
        self._totals = {ctx: sum(follow.values()) for ctx, follow in counts.items()}
        self._vocab = set(tokens)
        # The outcomes add-k smoothing spreads probability over: vocabulary + UNK.
        self._outcomes = sorted(self._vocab | {UNK})
        self.n_tokens = len(tokens)
        return self

    # -------------------------------------------------------------- properties
    @property
    def is_fitted(self) -> bool:
        return self._counts is not None

    @property
    def vocab(self) -> list[str]:
        """The distinct tokens seen in training, sorted."""
        self._require_fitted()
        return sorted(self._vocab)

    @property
    def vocab_size(self) -> int:
        """The number of distinct tokens seen in training (without :data:`UNK`)."""
        self._require_fitted()
        return len(self._vocab)

    @property
    def num_contexts(self) -> int:
        """The number of distinct contexts (runs of ``n - 1`` tokens) seen in training."""
        return len(self._require_fitted())

    @property
    def num_ngrams(self) -> int:
        """The number of distinct n-grams seen in training."""
        return sum(len(c) for c in self._require_fitted().values())

    def count(self, ngram: Sequence[str]) -> int:
        """How often the n-gram ``ngram`` (exactly ``n`` tokens) occurred in training."""
        gram = tuple(_check_tokens(ngram, "ngram"))
        if len(gram) != self.n:
            raise ValueError(f"expected an n-gram of {self.n} tokens, got {len(gram)}")
        follow = self._require_fitted().get(gram[:-1])
        return follow[gram[-1]] if follow else 0

    # -------------------------------------------------------------- prediction
    def next_token_probs(
        self, context: Sequence[str], *, k: float | None = None
    ) -> dict[str, float]:
        """The probability of every possible next token after ``context``.

        Only the last ``n - 1`` tokens of ``context`` are used. Without
        smoothing the result holds only the tokens that followed this context
        in training, most frequent first (ties in order of first occurrence).
        With ``k > 0`` it holds the whole vocabulary plus :data:`UNK`.

        Raises:
            NotFittedError: before :meth:`fit`.
            ValueError: if ``context`` has fewer than ``n - 1`` tokens.
            UnseenContextError: if ``k == 0`` and the context never occurred.
        """
        k = self.k if k is None else self._check_k(k)
        ctx = self._context(context)
        follow = self._require_fitted().get(ctx)
        if k == 0:
            if not follow:
                raise UnseenContextError(
                    f"the context {' '.join(ctx)!r} never occurred in training, so "
                    f"a {self.n}-gram model without smoothing has no estimate; "
                    "use a shorter context (smaller n) or add-k smoothing (k > 0)"
                )
            total = sum(follow.values())
            return {w: c / total for w, c in follow.most_common()}
        follow = follow or Counter()
        denom = self._totals.get(ctx, 0) + k * len(self._outcomes)
        probs = {w: (c + k) / denom for w, c in follow.most_common()}
        for w in self._outcomes:
            if w not in probs:
                probs[w] = k / denom
        return probs

    def top_k(self, context: Sequence[str], k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` most probable next tokens after ``context``, as (token, probability)."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be an integer >= 1, got {k!r}")
        probs = self.next_token_probs(context)
        return sorted(probs.items(), key=lambda item: -item[1])[:k]

    def generate(
        self,
        prompt: Sequence[str],
        n_tokens: int,
        *,
        rng: random.Random | None = None,
        greedy: bool = False,
    ) -> list[str]:
        """Continue ``prompt`` by ``n_tokens`` tokens and return only the new tokens.

        Each step looks at the last ``n - 1`` tokens, takes the distribution
        from :meth:`next_token_probs` and either picks the most probable token
        (``greedy=True``) or samples one with ``rng`` (pass
        ``random.Random(seed)`` for a reproducible result).

        Raises:
            ValueError: if ``n_tokens < 0`` or ``prompt`` is shorter than ``n - 1``.
            UnseenContextError: (without smoothing) if the prompt's context, or
                the corpus's very last context reached while generating, was
                never followed by anything in training.
        """
        if isinstance(n_tokens, bool) or not isinstance(n_tokens, int) or n_tokens < 0:
            raise ValueError(f"n_tokens must be an integer >= 0, got {n_tokens!r}")
        self._require_fitted()
        history = _check_tokens(prompt, "prompt")
        self._context(history)  # validates the length
        rng = rng if rng is not None else random.Random()
        out: list[str] = []
        for _ in range(n_tokens):
            probs = self.next_token_probs(history)
            if greedy:  # max keeps the first of equals: the one seen first in training
                token = max(probs, key=probs.__getitem__)
            else:
                token = rng.choices(list(probs), weights=list(probs.values()))[0]
            out.append(token)
            history.append(token)
        return out

    def perplexity(self, tokens: Sequence[str], *, k: float | None = None) -> float:
        """Perplexity of the model on ``tokens``: exp of the mean negative log-probability.

        Every token from position ``n - 1`` on is predicted from the ``n - 1``
        tokens before it; with ``N`` such predictions,
        ``PP = exp(-(1/N) * sum(log P(w_i | context_i)))``. Tokens never seen
        in training count as :data:`UNK`.

        Returns ``math.inf`` if any prediction has probability zero, which
        happens without smoothing (``k == 0``) as soon as the text contains an
        n-gram, or a context, that training never saw.

        Raises:
            ValueError: if ``tokens`` has fewer than ``n`` tokens.
        """
        k = self.k if k is None else self._check_k(k)
        counts = self._require_fitted()
        tokens = _check_tokens(tokens, "tokens")
        if len(tokens) < self.n:
            raise ValueError(
                f"need at least n={self.n} tokens to compute perplexity, got {len(tokens)}"
            )
        log_sum = 0.0
        grams = ngrams(tokens, self.n)
        for gram in grams:
            ctx, word = gram[:-1], gram[-1]
            if word not in self._vocab:
                word = UNK
            follow = counts.get(ctx)
            count = follow[word] if follow else 0
            denom = self._totals.get(ctx, 0) + k * len(self._outcomes)
            if count + k == 0:  # includes an unseen context without smoothing
                return math.inf
            log_sum += math.log((count + k) / denom)
        return math.exp(-log_sum / len(grams))

    # ----------------------------------------------------------------- helpers
    def _require_fitted(self) -> dict[tuple[str, ...], Counter[str]]:
        if self._counts is None:
            raise NotFittedError("this NGramModel is not fitted yet: call .fit(tokens) first")
        return self._counts

    def _context(self, context: Sequence[str]) -> tuple[str, ...]:
        ctx = _check_tokens(context, "context")
        if len(ctx) < self.n - 1:
            raise ValueError(
                f"a {self.n}-gram model needs a context of at least {self.n - 1} "
                f"token(s), got {len(ctx)}: {ctx!r}"
            )
        return tuple(ctx[len(ctx) - (self.n - 1) :])

    @staticmethod
    def _check_k(k: float) -> float:
        if isinstance(k, bool) or not isinstance(k, (int, float)) or not k >= 0 or math.isinf(k):
            raise ValueError(f"smoothing constant k must be a finite number >= 0, got {k!r}")
        return float(k)

    def __repr__(self) -> str:
        state = (
            f"{self.n_tokens:,} tokens, {self.num_contexts:,} contexts"
            if self.is_fitted
            else "not fitted"
        )
        return f"NGramModel(n={self.n}, k={self.k}; {state})"
