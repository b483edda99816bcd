"""Measuring language models on one ruler: bits per character, benchmarks, judges.

A language model assigns a probability to every text. Summing
``-log p(token | previous tokens)`` over a text gives its *negative
log-likelihood* in nats; per token, exponentiated, that is the perplexity.
Per-token numbers depend on what a token is (a word, a character, a BPE
piece), so models with different tokenisers are compared on the same text by
dividing the total by the number of *characters* and converting nats to bits:

    bits per character = total nats / (number of characters * ln 2)

The pieces of this module:

* :func:`scorer_for` wraps any model of the book (an n-gram counter, a
  character MLP, LSTM or GPT with its :class:`~llmbook.text.CharVocabulary`,
  or a Hugging Face causal LM with its tokenizer) in a :class:`Scorer` with
  one method, :meth:`Scorer.token_logprobs`; :func:`score_text` and
  :func:`continuation_logprob` use only that.
* :class:`MCItem`, :func:`next_sentence_benchmark`, :func:`score_items`,
  :func:`accuracy_with_ci`: multiple-choice benchmarks scored by
  log-likelihood, the way HellaSwag or MMLU are scored for base models.
* :func:`ngram_overlap`: a contamination check.
* :func:`judge_prompt`, :func:`judge_preference`: an LLM as a judge of two
  answers, and its position bias.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from llmbook.devices import device_of
from llmbook.models.gpt import GPT
from llmbook.models.mlp_lm import ContextMLP
from llmbook.models.ngram import NGramModel
from llmbook.models.rnn import CharLSTM
from llmbook.text import CharVocabulary

__all__ = [
    "NoScoringInterfaceError",
    "ContextTooLongError",
    "TokenizerMismatchError",
    "Scorer",
    "scorer_for",
    "TextScore",
    "score_text",
    "bits_per_char",
    "continuation_logprob",
    "MCItem",
    "split_sentences",
    "next_sentence_benchmark",
    "score_items",
    "choose",
    "accuracy_with_ci",
    "ngram_overlap",
    "judge_prompt",
    "judge_preference",
]


class NoScoringInterfaceError(TypeError):
    """Raised for a model that cannot give the probability of a text."""


class ContextTooLongError(ValueError):
    """Raised when a context and continuation do not fit in the model's window."""


class TokenizerMismatchError(ValueError):
    """Raised when a vocabulary or tokenizer does not belong to the model."""


def bits_per_char(total_nats: float, n_chars: int) -> float:
    """Convert a total negative log-likelihood in nats into bits per character.

    >>> round(bits_per_char(100 * math.log(2), 50), 6)
    2.0
    """
    if n_chars < 1:
        raise ValueError(f"need at least one character, got {n_chars}")
    return total_nats / (n_chars * math.log(2))


@dataclass(frozen=True)
class TextScore:
    """The negative log-likelihood of a text under one model.

    Attributes:
        nats: total ``-sum log p`` over the text's tokens (natural log).
        n_tokens: how many tokens the model's tokeniser made of the text.
        n_chars: how many characters the text has.
    """

    nats: float
    n_tokens: int
    n_chars: int

    @property
    def bits_per_char(self) -> float:
        """Total bits divided by characters: comparable across tokenisers."""
        return bits_per_char(self.nats, self.n_chars)

    @property
    def token_perplexity(self) -> float:
        """``exp(nats / n_tokens)``: only comparable between models with the same tokens."""
        return math.exp(self.nats / self.n_tokens)


class Scorer:
    """One interface over every language model of the book.

    Subclasses implement :meth:`encode` (text to token ids) and
    :meth:`_logprobs` (log-probabilities of ``ids[1:]`` given what precedes
    them, for at most :attr:`max_length` ids). :meth:`token_logprobs` scores
    any number of ids with overlapping windows when the text is longer than
    the model's context.
    """

    #: The longest input (in tokens) the model reads at once.
    max_length: int
    #: The id that stands before a text's first token (a start-of-text mark).
    start_id: int

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def _logprobs(self, ids: list[int]) -> Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def token_logprobs(self, ids: Sequence[int]) -> Tensor:
        """``log p(ids[i] | start, ids[:i])`` for every ``i``, shape ``(len(ids),)``.

        A text longer than the model's window is read in windows of
        ``max_length`` ids that overlap by half: every token is predicted
        from at least ``max_length // 2`` previous ones (or all of them).
        """
        full = [self.start_id, *ids]
        if len(full) <= self.max_length:
            return self._logprobs(full)
        stride = max(1, self.max_length // 2)
        out: list[Tensor] = []
        done = 0  # how many of ids are scored
        start = 0
        while done < len(ids):
            window = full[start:start + self.max_length]
            lp = self._logprobs(window)  # predicts full[start+1 : start+len(window)]
            first_new = done - start  # index in lp of ids[done]
            out.append(lp[first_new:])
            done = start + len(window) - 1
            start += stride
        return torch.cat(out)


class NGramScorer(Scorer):
    """A character n-gram model from :mod:`llmbook.models.ngram` (with add-k smoothing)."""

    def __init__(self, model: NGramModel, start: str = "\n") -> None:
        if model.k <= 0:
            raise ValueError("score an n-gram model with add-k smoothing (k > 0): without it an "
                             "unseen n-gram has probability 0 and the text infinite bits")
        self.model = model
        self.symbols = [start, *sorted(set(model.vocab) - {start})]
        self.index = {s: i for i, s in enumerate(self.symbols)}
        self.start_id = 0
        self.max_length = 1_000_000_000

    def encode(self, text: str) -> list[int]:
        out = []
        for ch in text:
            if ch not in self.index:  # unseen characters share the smoothing mass of <unk>
                self.index[ch] = len(self.symbols)
                self.symbols.append(ch)
            out.append(self.index[ch])
        return out

    def _logprobs(self, ids: list[int]) -> Tensor:
        n = self.model.n
        toks = [self.symbols[i] for i in ids]
        padded = [toks[0]] * (n - 1) + toks
        lps = []
        for i in range(1, len(toks)):
            probs = self.model.next_token_probs(padded[i:i + n - 1])
            word = toks[i] if toks[i] in probs else "<unk>"
            lps.append(math.log(probs[word]))
        return torch.tensor(lps, dtype=torch.float64)


class CharModelScorer(Scorer):
    """A character model (:class:`ContextMLP`, :class:`CharLSTM`, :class:`GPT`) with its vocabulary."""

    def __init__(self, model: nn.Module, vocab: CharVocabulary, start: str = "\n",
                 max_length: int = 512) -> None:
        out = model.out.out_features if isinstance(model, ContextMLP) else (
            model.dense.out_features if isinstance(model, CharLSTM) else model.config.vocab_size)
        if out != len(vocab):
            raise TokenizerMismatchError(f"the vocabulary has {len(vocab)} characters but the "
                                         f"model predicts {out}: they do not belong together")
        self.model, self.vocab = model, vocab
        self.start_id = vocab.encode(start)[0]
        self.max_length = model.config.block_size if isinstance(model, GPT) else max_length

    def encode(self, text: str) -> list[int]:
        return list(self.vocab.encode(text))

    @torch.no_grad()
    def _logprobs(self, ids: list[int]) -> Tensor:
        self.model.eval()
        x = torch.tensor(ids, device=device_of(self.model))
        if isinstance(self.model, ContextMLP):
            c = self.model.context
            padded = torch.cat([x[:1].repeat(c - 1), x])
            logits = self.model(padded.unfold(0, c, 1)[:-1])  # window ending at each position
        else:  # CharLSTM and GPT both return (logits, something)
            logits = self.model(x[None, :-1])[0][0]
        return F.log_softmax(logits.float(), -1).gather(1, x[1:, None])[:, 0].double().cpu()


class HFScorer(Scorer):
    """A Hugging Face causal language model (e.g. SmolLM2) with its tokenizer."""

    def __init__(self, model: Any, tokenizer: Any) -> None:
        vocab = model.get_input_embeddings().num_embeddings
        if len(tokenizer) > vocab:
            raise TokenizerMismatchError(f"the tokenizer has {len(tokenizer)} tokens but the model "
                                         f"only {vocab} embeddings: they do not belong together")
        self.model, self.tokenizer = model, tokenizer
        start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
        self.start_id = int(start)
        self.max_length = int(getattr(model.config, "max_position_embeddings", 2048))

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    @torch.no_grad()
    def _logprobs(self, ids: list[int]) -> Tensor:
        self.model.eval()
        x = torch.tensor([ids], device=device_of(self.model))
        logits = self.model(input_ids=x[:, :-1]).logits[0]
        return F.log_softmax(logits.float(), -1).gather(1, x[0, 1:, None])[:, 0].double().cpu()


def scorer_for(model: Any, vocab: Any = None) -> Scorer:
    """The :class:`Scorer` of ``model``: ``vocab`` is its CharVocabulary or HF tokenizer.

    Raises:
        NoScoringInterfaceError: for a model that gives no next-token
            probabilities (e.g. a masked model such as BERT, or any other object).
        TokenizerMismatchError: if ``vocab`` does not fit the model.
    """
    if isinstance(model, NGramModel):
        return NGramScorer(model)
    if isinstance(model, (ContextMLP, CharLSTM, GPT)):
        if not isinstance(vocab, CharVocabulary):
            raise TokenizerMismatchError("a character model needs its CharVocabulary")
        return CharModelScorer(model, vocab)
    if type(model).__name__.endswith("ForCausalLM") and hasattr(model, "get_input_embeddings"):
        if vocab is None or not hasattr(vocab, "convert_ids_to_tokens"):
            raise TokenizerMismatchError("a Hugging Face model needs its tokenizer")
        return HFScorer(model, vocab)
    raise NoScoringInterfaceError(
        f"{type(model).__name__} has no next-token scoring interface: only causal language "
        "models (n-gram, ContextMLP, CharLSTM, GPT, a *ForCausalLM) can score a text")


def score_text(scorer: Scorer, text: str) -> TextScore:
    """The total negative log-likelihood of ``text`` (every token, the first one given the start mark)."""
    if not text:
        raise ValueError("cannot score an empty text")
    ids = scorer.encode(text)
    return TextScore(-float(scorer.token_logprobs(ids).sum()), len(ids), len(text))


@torch.no_grad()
def continuation_logprob(scorer: Scorer, context: str, continuation: str) -> float:
    """``log p(continuation | context)`` summed over the continuation's tokens.

    Encoded as lm-evaluation-harness does: ``context + continuation`` is
    tokenised whole and the continuation is what follows the context's own
    tokens (so a word split differently at the seam is still scored once).

    Raises:
        ValueError: for an empty context or continuation.
        ContextTooLongError: if both do not fit in the model's window.
    """
    if not context or not continuation:
        raise ValueError("context and continuation must both be non-empty")
    whole = scorer.encode(context + continuation)
    n_ctx = len(scorer.encode(context))
    n_cont = len(whole) - n_ctx
    if n_cont < 1:
        raise ValueError(f"the continuation {continuation!r} adds no token to the context")
    if len(whole) > scorer.max_length:
        raise ContextTooLongError(f"context and continuation take {len(whole)} tokens, more than "
                                  f"the model's window of {scorer.max_length}")
    lp = scorer._logprobs(whole)  # predicts whole[1:], conditioned on the context only
    return float(lp[-n_cont:].sum())


@dataclass(frozen=True)
class MCItem:
    """A multiple-choice item: a context, the options, and the index of the right one."""

    context: str
    options: tuple[str, ...]
    answer: int

    def __post_init__(self) -> None:
        if len(self.options) < 2:
            raise ValueError(f"an item needs at least two options, got {len(self.options)}")
        if any(not o.strip() for o in self.options):
            raise ValueError("an option is empty")
        if not self.context.strip():
            raise ValueError("the context is empty")
        if not 0 <= self.answer < len(self.options):
            raise ValueError(f"answer {self.answer} is not an option index (0..{len(self.options) - 1})")


def split_sentences(text: str) -> list[str]:
    """Sentences of a fable: cut after ``.``, ``!`` or ``?`` followed by a space."""
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]


def next_sentence_benchmark(fables: Sequence[str], n_items: int, n_options: int = 4,
                            context_sentences: int = 2, seed: int = 0) -> list[MCItem]:
    """Items "which sentence comes next?" built from held-out fables.

    Each item takes a run of ``context_sentences`` sentences of a fable as
    the context; the right option is the sentence that follows, the other
    options are sentences drawn from *other* fables. Items are drawn without
    replacement from every possible (fable, position) pair; the position of
    the right answer is random. Everything depends only on ``seed``.

    Raises:
        ValueError: if the fables cannot give ``n_items`` items.
    """
    if n_options < 2:
        raise ValueError(f"an item needs at least two options, got n_options={n_options}")
    rng = random.Random(seed)
    sentences = [split_sentences(f) for f in fables]
    spots = [(i, s) for i, sents in enumerate(sentences)
             for s in range(len(sents) - context_sentences)]
    if len(spots) < n_items or len({i for i, _ in spots}) < n_options:
        raise ValueError(f"the fables give only {len(spots)} (context, next sentence) pairs; "
                         f"cannot build {n_items} items of {n_options} options")
    items = []
    for i, start in rng.sample(spots, n_items):
        context = " ".join(sentences[i][start:start + context_sentences])
        right = sentences[i][start + context_sentences]
        others = rng.sample([j for j in range(len(fables)) if j != i and sentences[j]],
                            n_options - 1)
        options = [" " + rng.choice(sentences[j]) for j in others]
        answer = rng.randrange(n_options)
        options.insert(answer, " " + right)
        items.append(MCItem(context, tuple(options), answer))
    return items


def score_items(scorer: Scorer, items: Sequence[MCItem],
                template: Callable[[str], str] = lambda c: c,
                progress: Callable[[Any], Any] = lambda x: x) -> list[list[float]]:
    """``log p(option | template(context))`` for every option of every item."""
    return [[continuation_logprob(scorer, template(item.context), o) for o in item.options]
            for item in progress(items)]


def choose(items: Sequence[MCItem], logprobs: Sequence[Sequence[float]],
           normalise: bool = False) -> list[int]:
    """The chosen option of each item: highest log-likelihood, or per character if ``normalise``.

    Dividing by the option's length in characters (lm-eval's ``acc_norm``)
    removes the advantage of short options, whose sum of log-probabilities
    has fewer negative terms.
    """
    out = []
    for item, lps in zip(items, logprobs, strict=True):
        scores = [lp / len(o) if normalise else lp for o, lp in zip(item.options, lps, strict=True)]
        out.append(max(range(len(scores)), key=scores.__getitem__))
    return out


def accuracy_with_ci(correct: Sequence[bool], z: float = 1.96) -> tuple[float, float, float]:
    """Accuracy and its Wilson score interval (95 % for ``z = 1.96``).

    For ``k`` right out of ``n`` with ``p = k / n`` the Wilson interval is

        (p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n),

    which, unlike ``p ± z sqrt(p(1-p)/n)``, stays within [0, 1] and is
    sensible for small ``n`` or ``p`` near 0 or 1.

    >>> [round(v, 3) for v in accuracy_with_ci([True] * 8 + [False] * 2)]
    [0.8, 0.49, 0.943]
    """
    n = len(correct)
    if n == 0:
        raise ValueError("accuracy of zero items is undefined")
    p = sum(map(bool, correct)) / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return p, max(0.0, centre - half), min(1.0, centre + half)


def ngram_overlap(texts: Sequence[str], training_text: str, n: int = 8) -> list[bool]:
    """For each text, whether any of its word ``n``-grams occurs in ``training_text``.

    The check that GPT-3's authors ran (with 13-grams) to find benchmark
    items that leaked into the training data. Words are lower-cased runs of
    letters and digits.

    Raises:
        ValueError: if ``n < 1``.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")

    def grams(text: str) -> set[tuple[str, ...]]:
        words = re.findall(r"[a-z0-9']+", text.lower())
        return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}

    seen = grams(training_text)
    return [bool(grams(t) & seen) for t in texts]


JUDGE_TEMPLATE = ("Question: {question}\nAnswer A: {a}\nAnswer B: {b}\n"
                  "Which answer is correct? Reply with the letter A or B only.")


def judge_prompt(question: str, a: str, b: str) -> str:
    """The question put to the judge model about two answers ``a`` and ``b``."""
    return JUDGE_TEMPLATE.format(question=question, a=a, b=b)


@torch.no_grad()
@torch.no_grad()
def judge_preference(model: Any, tokenizer: Any, question: str, a: str, b: str) -> float:
    """``log p("A") - log p("B")`` as the judge's first answer token: > 0 prefers answer A.

    The prompt goes through the model's chat template; comparing the two
    letters' probabilities (rather than sampling text) gives a verdict on
    every item and a margin.
    """
    messages = [{"role": "user", "content": judge_prompt(question, a, b)}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    ids = tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    logits = model(input_ids=ids.to(device_of(model))).logits[0, -1].float()
    letter_a, letter_b = (tokenizer(x, add_special_tokens=False)["input_ids"][0] for x in "AB")
    lp = F.log_softmax(logits, -1)
    return float(lp[letter_a] - lp[letter_b])
