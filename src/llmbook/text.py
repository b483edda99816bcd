"""Text standardisation: turning a raw corpus into a clean stream of word tokens.

Every step is a small function from ``str`` to ``str`` so that a chapter can
show (and a test can check) each one on its own. :func:`standardize` composes
them in a fixed order::

    lowercase -> mark_stories -> newlines_to_spaces -> split_punctuation
              -> collapse_repeats

and :func:`tokenize_words` splits the result on whitespace.

>>> tokenize_words("THE FOX.\\n\\n\\n\\n\\nA Fox's tail...")
['the', 'fox', '.', '|||||', 'a', 'fox', "'", 's', 'tail', '.']
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from llmbook import _checks

__all__ = [
    "STORY_MARKER",
    "PUNCTUATION",
    "lowercase",
    "mark_stories",
    "newlines_to_spaces",
    "split_punctuation",
    "collapse_repeats",
    "standardize",
    "tokenize_words",
    "ngrams",
    "UnknownTokenError",
    "InvalidIdError",
    "TokenVocabulary",
    "CharVocabulary",
    "PAD_TOKEN",
    "UNK_TOKEN",
    "SPECIAL_TOKENS",
    "PAD_ID",
    "SEED_ID",
    "UNK_ID",
    "Vocabulary",
    "make_windows",
    "one_hot",
]

#: The token that stands for "a new story starts here" (the *seed* marker).
STORY_MARKER = "|||||"

#: Characters that become tokens of their own. ``_`` is included because
#: Project Gutenberg marks emphasis as ``_word_``; ``|`` is deliberately not,
#: so that :data:`STORY_MARKER` survives as one token.
PUNCTUATION = ",.;:\"'!?()[]{}-_*&/"

_PUNCT_RE = re.compile("([" + re.escape(PUNCTUATION) + "])")
_DOTS_RE = re.compile(r"\.(?:\s*\.)+")
_SPACES_RE = re.compile(r"\s+")


def lowercase(text: str) -> str:
    """Return ``text`` in lower case, so that ``The`` and ``the`` are one word."""
    return text.lower()


def mark_stories(text: str, min_blank_lines: int = 3) -> str:
    """Replace each run of at least ``min_blank_lines`` blank lines by the story marker.

    In the Aesop corpus, fables are separated by four blank lines, a title is
    separated from its fable by two, and paragraphs inside a fable by one.
    With the default of three, only the gaps *between* fables become
    `` ||||| ``. Lines holding only spaces or tabs count as blank. Expects
    ``\\n`` line endings (``llmbook.data.load_corpus`` normalises CRLF).

    >>> mark_stories("END\\n\\n\\n\\nTITLE")
    'END ||||| TITLE'
    """
    if min_blank_lines < 1:
        raise ValueError(f"min_blank_lines must be >= 1, got {min_blank_lines}")
    # A run of k blank lines is one line end followed by k (blank line + line end).
    pattern = re.compile(r"\n(?:[ \t]*\n){%d,}" % min_blank_lines)
    return pattern.sub(f" {STORY_MARKER} ", text)


def newlines_to_spaces(text: str) -> str:
    """Replace every line break (``\\n`` or ``\\r``) by one space."""
    return text.replace("\r", " ").replace("\n", " ")


def split_punctuation(text: str) -> str:
    """Put spaces around every character in :data:`PUNCTUATION`.

    Each punctuation mark then becomes a token of its own after splitting on
    whitespace: ``summer's`` -> ``summer ' s``. The story marker ``|||||`` is
    left untouched.

    >>> split_punctuation('"Aha!" it cried.')
    ' " Aha !  "  it cried . '
    """
    return _PUNCT_RE.sub(r" \1 ", text)


def collapse_repeats(text: str) -> str:
    """Collapse runs of dots into one dot and runs of whitespace into one space; strip.

    Dots separated only by whitespace count as a run, so this works both
    before and after :func:`split_punctuation` (``". . ."`` -> ``"."``).

    >>> collapse_repeats("  wait ...  what  ")
    'wait . what'
    """
    text = _DOTS_RE.sub(".", text)
    return _SPACES_RE.sub(" ", text).strip()


def standardize(text: str) -> str:
    """Apply all standardisation steps, in the book's order, and return one line.

    Order: :func:`lowercase`, :func:`mark_stories`, :func:`newlines_to_spaces`,
    :func:`split_punctuation`, :func:`collapse_repeats`. The result has single
    spaces between tokens and no line breaks.

    Raises:
        ValueError: if ``text`` is empty or contains only whitespace.
    """
    if not isinstance(text, str):
        raise TypeError(f"standardize expects a str, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("cannot standardise empty or whitespace-only text")
    text = lowercase(text)
    text = mark_stories(text)
    text = newlines_to_spaces(text)
    text = split_punctuation(text)
    return collapse_repeats(text)


def tokenize_words(text: str) -> list[str]:
    """Standardise ``text`` and split it into word and punctuation tokens.

    Equivalent to ``standardize(text).split()``; raises the same errors.
    """
    return standardize(text).split()


def ngrams(tokens: Sequence[Any], n: int) -> list[tuple[Any, ...]]:
    """All runs of ``n`` consecutive tokens, in order (none if there are fewer than ``n``).

    >>> ngrams(["the", "cat", "sat"], 2)
    [('the', 'cat'), ('cat', 'sat')]
    >>> ngrams("abcd", 3)
    [('a', 'b', 'c'), ('b', 'c', 'd')]
    """
    _checks.positive_int("n", n)
    tokens = list(tokens)
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


# --- Vocabularies: token <-> integer id ---------------------------------------


class UnknownTokenError(KeyError, ValueError):
    """A token (e.g. a character) that the vocabulary does not contain.

    It is both a :class:`KeyError` (a failed look-up) and a
    :class:`ValueError` (bad input text), so either ``except`` catches it.
    ``unknown`` lists the ``(position, token)`` pairs that failed.
    """

    def __init__(self, message: str, unknown: Sequence[tuple[int, str]] = ()) -> None:
        super().__init__(message)
        self.unknown = list(unknown)

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


class InvalidIdError(IndexError, ValueError):
    """An id that is not an integer in ``range(len(vocabulary))``."""

    def __init__(self, message: str, position: int | None = None, value: Any = None) -> None:
        super().__init__(message)
        self.position = position
        self.value = value


_V = TypeVar("_V", bound="TokenVocabulary")


class TokenVocabulary:
    """A fixed list of distinct tokens; a token's id is its index in the list.

    ``itos`` ("integer to string") is that list and ``stoi`` ("string to
    integer") the inverse dictionary. Subclasses decide how text is split
    into tokens and how tokens are joined back (:attr:`separator`).
    """

    #: Written into the JSON file, so that ``load`` rejects the wrong kind.
    kind: ClassVar[str] = "tokens"
    #: Placed between tokens by :meth:`decode`.
    separator: ClassVar[str] = " "

    def __init__(self, itos: Iterable[str]) -> None:
        if isinstance(itos, str):
            raise TypeError("itos must be a list of tokens, not one str")
        tokens = list(itos)
        for i, token in enumerate(tokens):
            if not isinstance(token, str):
                raise TypeError(f"token {i} is a {type(token).__name__}, not a str: {token!r}")
            if token == "":
                raise ValueError(f"token {i} is the empty string")
        if len(set(tokens)) != len(tokens):
            seen: set[str] = set()
            dupes = sorted({t for t in tokens if t in seen or seen.add(t)})  # type: ignore[func-returns-value]
            raise ValueError(f"tokens must be distinct; repeated: {dupes[:5]!r}")
        self.itos: list[str] = tokens
        self.stoi: dict[str, int] = {t: i for i, t in enumerate(tokens)}

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.itos)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.to_dict() == other.to_dict()  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        head = ", ".join(repr(t) for t in self.itos[:8])
        more = ", ..." if len(self) > 8 else ""
        return f"{type(self).__name__}(size={len(self)}, itos=[{head}{more}])"

    def decode_tokens(self, ids: Iterable[int]) -> list[str]:
        """Turn ids back into tokens.

        Accepts any iterable of integers (``list``, NumPy array, 1-D tensor).

        Raises:
            InvalidIdError: for an id that is not an integer in ``range(len(self))``,
                naming it and its position.
        """
        if isinstance(ids, (str, bytes)):
            raise TypeError(f"decode expects integer ids, got a {type(ids).__name__}")
        n = len(self.itos)
        out = []
        for pos, value in enumerate(ids):
            try:
                if isinstance(value, bool):
                    raise TypeError
                i = operator.index(value)
            except TypeError:
                raise InvalidIdError(
                    f"id at position {pos} is not an integer: {value!r}", pos, value
                ) from None
            if not 0 <= i < n:
                raise InvalidIdError(
                    f"id {i} at position {pos} is outside the vocabulary "
                    f"(valid ids are 0..{n - 1})", pos, i
                )
            out.append(self.itos[i])
        return out

    def decode(self, ids: Iterable[int]) -> str:
        """Turn ids back into text: the tokens joined by :attr:`separator`."""
        return self.separator.join(self.decode_tokens(ids))

    # -- persistence --
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (used by :meth:`save`)."""
        return {"kind": self.kind, "itos": list(self.itos)}

    @classmethod
    def from_dict(cls: type[_V], data: dict[str, Any]) -> _V:
        """Rebuild a vocabulary from :meth:`to_dict` output."""
        if not isinstance(data, dict) or "itos" not in data:
            raise ValueError(f"not a saved {cls.__name__}: missing 'itos'")
        if data.get("kind") != cls.kind:
            raise ValueError(
                f"this file holds a {data.get('kind')!r} vocabulary, not a {cls.kind!r} "
                f"one ({cls.__name__})"
            )
        return cls(data["itos"])

    def save(self, path: str | Path) -> Path:
        """Write the vocabulary as UTF-8 JSON and return the path."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
        return path

    @classmethod
    def load(cls: type[_V], path: str | Path) -> _V:
        """Read a vocabulary written by :meth:`save`."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} is not valid JSON: {error}") from None
        return cls.from_dict(data)


def _require_str(text: object, what: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"{what} expects a str, got {type(text).__name__}")
    return text


class CharVocabulary(TokenVocabulary):
    """A character-level vocabulary: every distinct character is a token.

    There are no reserved ids: the ids are ``0..len-1`` in sorted character
    order, as in most character-level tutorials. A character absent from the
    vocabulary cannot be encoded (:class:`UnknownTokenError`).

    >>> v = CharVocabulary.from_text("hello")
    >>> v.itos, v.encode("hole"), v.decode([3, 1, 2, 2, 3])
    (['e', 'h', 'l', 'o'], [1, 3, 2, 0], 'ohllo')
    """

    kind: ClassVar[str] = "char"
    separator: ClassVar[str] = ""

    def __init__(self, itos: Iterable[str]) -> None:
        super().__init__(itos)
        long = [t for t in self.itos if len(t) != 1]
        if long:
            raise ValueError(f"a CharVocabulary holds single characters, got {long[:5]!r}")

    @classmethod
    def from_text(cls, text: str) -> CharVocabulary:
        """The sorted distinct characters of ``text`` (which must not be empty)."""
        _require_str(text, "CharVocabulary.from_text")
        if not text:
            raise ValueError("cannot build a character vocabulary from empty text")
        return cls(sorted(set(text)))

    def encode(self, text: str) -> list[int]:
        """The id of every character of ``text``.

        Raises:
            UnknownTokenError: naming the characters that are not in the
                vocabulary and their positions (the first five are shown).
        """
        _require_str(text, "CharVocabulary.encode")
        stoi = self.stoi
        try:
            return [stoi[c] for c in text]
        except KeyError:
            unknown = [(i, c) for i, c in enumerate(text) if c not in stoi]
            shown = ", ".join(f"{c!r} at position {i}" for i, c in unknown[:5])
            more = f" (and {len(unknown) - 5} more)" if len(unknown) > 5 else ""
            raise UnknownTokenError(
                f"{len(unknown)} character(s) not in the vocabulary: {shown}{more}", unknown
            ) from None


# --- Word vocabulary -----------------------------------------------------------

#: Fills the unused positions of a batch of unequal sequences (id 0).
PAD_TOKEN = "<pad>"
#: Stands for any word that is not in the vocabulary (id 2).
UNK_TOKEN = "<unk>"
#: The reserved tokens, in id order: padding 0, seed marker 1, unknown 2.
SPECIAL_TOKENS = (PAD_TOKEN, STORY_MARKER, UNK_TOKEN)
PAD_ID, SEED_ID, UNK_ID = 0, 1, 2


class Vocabulary(TokenVocabulary):
    """A word-level vocabulary ranked by frequency, with three reserved ids.

    ========  =============  =============================================
    id        token          meaning
    ========  =============  =============================================
    0         ``<pad>``      padding (never a real word)
    1         ``|||||``      the seed / story marker (:data:`STORY_MARKER`)
    2         ``<unk>``      any word not in the vocabulary
    3, 4 ...  words          most frequent first; ties in order of first use
    ========  =============  =============================================

    :meth:`encode` maps a word that is not in the vocabulary to ``<unk>``
    (id 2) -- it never fails on an unseen word. :meth:`decode` joins words
    with single spaces.

    >>> v = Vocabulary.from_tokens("the fox and the dog and the cat".split())
    >>> v.itos
    ['<pad>', '|||||', '<unk>', 'the', 'and', 'fox', 'dog', 'cat']
    >>> v.encode(["the", "wolf"]), v.decode([3, 7])
    ([3, 2], 'the cat')
    """

    kind: ClassVar[str] = "word"
    separator: ClassVar[str] = " "
    pad_id: ClassVar[int] = PAD_ID
    seed_id: ClassVar[int] = SEED_ID
    unk_id: ClassVar[int] = UNK_ID

    def __init__(self, itos: Iterable[str], counts: Sequence[int] | None = None) -> None:
        super().__init__(itos)
        if tuple(self.itos[:3]) != SPECIAL_TOKENS:
            raise ValueError(
                f"a Vocabulary must start with the reserved tokens {list(SPECIAL_TOKENS)}, "
                f"got {self.itos[:3]!r}"
            )
        if counts is None:
            counts = [0] * len(self.itos)
        counts = [int(c) for c in counts]
        if len(counts) != len(self.itos):
            raise ValueError(f"got {len(counts)} counts for {len(self.itos)} tokens")
        #: How often each token occurred in the text the vocabulary was built
        #: from (by id; 0 for reserved tokens that never occurred).
        self.counts: list[int] = counts

    @classmethod
    def from_tokens(
        cls, tokens: Iterable[str], *, max_size: int | None = None, min_count: int = 1
    ) -> Vocabulary:
        """Count ``tokens`` and rank them by frequency.

        Args:
            tokens: a list of tokens, e.g. ``tokenize_words(text)``.
            max_size: keep at most this many entries *including* the three
                reserved ones; rarer words then become ``<unk>``.
            min_count: keep only words seen at least this often.

        Raises:
            TypeError: if ``tokens`` is a string (split it first) or holds non-strings.
            ValueError: if there are no tokens, or for a bad ``max_size``/``min_count``.
        """
        if isinstance(tokens, str):
            raise TypeError(
                "Vocabulary.from_tokens expects a list of tokens, not a str; "
                "split the text first, e.g. tokenize_words(text)"
            )
        if max_size is not None and max_size < len(SPECIAL_TOKENS):
            raise ValueError(f"max_size must be at least {len(SPECIAL_TOKENS)}, got {max_size}")
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count}")
        counter: dict[str, int] = {}  # insertion order = order of first use
        for i, token in enumerate(tokens):
            if not isinstance(token, str):
                raise TypeError(f"token {i} is a {type(token).__name__}, not a str: {token!r}")
            if not token or token != token.strip() or any(c.isspace() for c in token):
                raise ValueError(f"token {i} is empty or contains whitespace: {token!r}")
            counter[token] = counter.get(token, 0) + 1
        if not counter:
            raise ValueError("cannot build a vocabulary from no tokens (the text was empty)")
        # sorted() is stable, so equal counts keep their order of first use.
        ranked = sorted(
            (t for t in counter if t not in SPECIAL_TOKENS and counter[t] >= min_count),
            key=lambda t: -counter[t],
        )
        if max_size is not None:
            ranked = ranked[: max_size - len(SPECIAL_TOKENS)]
        itos = [*SPECIAL_TOKENS, *ranked]
        return cls(itos, [counter.get(t, 0) for t in itos])

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """The id of every token; a token not in the vocabulary gets :data:`UNK_ID`.

        Raises:
            TypeError: if ``tokens`` is a str (split it first) or holds
                something that is not a str (an id, ``None``...), which would
                otherwise silently become ``<unk>``.
        """
        if isinstance(tokens, str):
            raise TypeError(
                "Vocabulary.encode expects a list of tokens, not a str; "
                "split the text first, e.g. tokenize_words(text)"
            )
        stoi, unk = self.stoi, UNK_ID
        ids = []
        for i, token in enumerate(tokens):
            if not isinstance(token, str):
                raise TypeError(f"token {i} is a {type(token).__name__}, not a str: {token!r}")
            ids.append(stoi.get(token, unk))
        return ids

    def most_common(self, n: int | None = None) -> list[tuple[str, int]]:
        """The ``n`` most frequent words (reserved tokens excluded) with their counts."""
        pairs = [(t, c) for t, c in zip(self.itos, self.counts) if t not in SPECIAL_TOKENS]
        pairs.sort(key=lambda pair: -pair[1])
        return pairs if n is None else pairs[:n]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "itos": list(self.itos), "counts": list(self.counts)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Vocabulary:
        vocab = super().from_dict(data)
        return cls(vocab.itos, data.get("counts"))


# --- Training windows and one-hot vectors ------------------------------------


def _as_id_array(ids: Iterable[int], what: str) -> np.ndarray:
    if isinstance(ids, (str, bytes)):
        raise TypeError(f"{what} expects integer ids, got a {type(ids).__name__}")
    array = np.asarray(ids if isinstance(ids, np.ndarray) else list(ids))
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{what} expects integer ids, got dtype {array.dtype}")
    return array.astype(np.int64, copy=False)


def make_windows(
    ids: Iterable[int], context: int = 20, pad_id: int = SEED_ID
) -> tuple[np.ndarray, np.ndarray]:
    """Cut a sequence of ids into (window, next id) training pairs.

    The sequence is first preceded by ``context`` copies of ``pad_id`` (the
    seed marker by default), so that *every* id of ``ids`` is a label once,
    including the first: window 0 is ``[pad_id] * context`` and its label is
    ``ids[0]``; window ``i`` is the ``context`` ids before ``ids[i]``.

    Returns:
        ``(x, y)``: ``x`` of shape ``(len(ids), context)`` and ``y`` of shape
        ``(len(ids),)``, both ``int64``.

    Raises:
        ValueError: if ``context < 1``, ``pad_id < 0`` or ``ids`` is empty.
        TypeError: if ``ids`` are not integers.

    >>> x, y = make_windows([7, 8, 9], context=2)
    >>> x.tolist(), y.tolist()
    ([[1, 1], [1, 7], [7, 8]], [7, 8, 9])
    """
    if isinstance(context, bool) or not isinstance(context, (int, np.integer)):
        raise TypeError(f"context must be an int, got {type(context).__name__}")
    if context < 1:
        raise ValueError(f"context (the window size) must be >= 1, got {context}")
    if pad_id < 0:
        raise ValueError(f"pad_id must be a non-negative id, got {pad_id}")
    array = _as_id_array(ids, "make_windows")
    if array.ndim != 1:
        raise ValueError(f"make_windows expects a 1-D sequence of ids, got shape {array.shape}")
    if array.size == 0:
        raise ValueError("cannot make windows from an empty sequence of ids")
    padded = np.concatenate([np.full(context, pad_id, dtype=np.int64), array])
    x = np.lib.stride_tricks.sliding_window_view(padded, context)[:-1].copy()
    return x, array.copy()


def one_hot(ids: Iterable[int] | int, size: int) -> np.ndarray:
    """One-hot vectors: a ``float32`` array with one more axis, of length ``size``.

    Row ``k`` is all zeros except a 1 at position ``ids[k]``.

    Raises:
        ValueError: if ``size < 1``.
        InvalidIdError: if an id is outside ``range(size)``.

    >>> one_hot([2, 0], size=3).tolist()
    [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    if size < 1:
        raise ValueError(f"size (the vocabulary size) must be >= 1, got {size}")
    array = _as_id_array(ids if np.ndim(ids) else [ids], "one_hot")  # type: ignore[list-item]
    bad = (array < 0) | (array >= size)
    if bad.any():
        value = int(array[bad][0])
        raise InvalidIdError(f"id {value} is outside range(0, {size}) for one_hot", value=value)
    out = np.zeros((*array.shape, size), dtype=np.float32)
    np.put_along_axis(out, array[..., None], 1.0, axis=-1)
    return out if np.ndim(ids) else out[0]
