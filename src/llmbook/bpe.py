"""Byte-pair encoding (BPE) from scratch: learn merges, then apply them.

BPE builds a subword vocabulary bottom-up. Every word starts as a sequence of
single characters; training repeatedly finds the *pair of adjacent symbols*
that occurs most often in the corpus (counting each word as often as it
occurs) and merges it into a new symbol. The ordered list of merges *is* the
tokenizer: to split a new word, start from its characters and apply the
learned merges, earliest-learned first.

Conventions, chosen to agree exactly with the Hugging Face ``tokenizers``
``BpeTrainer`` on whitespace-split words without an end-of-word marker:

* merges never cross word boundaries (each word is split on its own);
* a pair is counted at every position where it occurs, overlaps included
  (``"aaa"`` holds the pair ``a a`` twice), and merged left to right;
* ties between equally frequent pairs go to the pair whose symbols were
  created first: single characters in code-point order, then merged symbols
  in the order they were made.

>>> learn_bpe({"low": 5, "lower": 2, "newest": 6, "widest": 3}, 3)
[('e', 's'), ('es', 't'), ('l', 'o')]
>>> apply_bpe("lowest", learn_bpe({"low": 5, "lower": 2, "newest": 6, "widest": 3}, 4))
['low', 'est']
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # the Hugging Face library is imported only when used
    from tokenizers import Tokenizer

__all__ = [
    "MergeStep", "count_words", "bpe_steps", "learn_bpe", "apply_bpe",
    "hf_bpe_from_words", "hf_merges", "train_bpe_tokenizer",
    "BYTE_SYMBOLS", "byte_token_bytes", "byte_token_label",
]

Pair = tuple[str, str]


class MergeStep(NamedTuple):
    """One step of BPE training: the pair merged, how often it occurred, the result."""

    left: str
    right: str
    count: int
    #: every word type split into symbols *after* this merge, e.g. {"lowest": ("low", "est")}
    segmentation: dict[str, tuple[str, ...]]

    @property
    def merged(self) -> str:
        return self.left + self.right


def count_words(words: Mapping[str, int] | Iterable[str]) -> dict[str, int]:
    """Word frequencies from a list of words, or a checked copy of a ``{word: count}`` dict.

    Raises:
        TypeError: if ``words`` is one string (split it first) or holds non-strings.
        ValueError: if there are no words, a word is empty or contains
            whitespace, or a count is not positive.
    """
    if isinstance(words, str):
        raise TypeError("expected a list of words or a {word: count} dict, not a str; "
                        "split the text first, e.g. text.split()")
    counts = dict(words) if isinstance(words, Mapping) else Counter(words)
    for word, count in counts.items():
        if not isinstance(word, str):
            raise TypeError(f"words must be str, got {type(word).__name__}: {word!r}")
        if not word or any(c.isspace() for c in word):
            raise ValueError(f"a word must be non-empty and contain no whitespace: {word!r}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"the count of {word!r} must be a positive int, got {count!r}")
    if not counts:
        raise ValueError("cannot learn BPE from no words (the text was empty)")
    return counts


def _merge_pair(symbols: Sequence[str], pair: Pair) -> tuple[str, ...]:
    """Replace every occurrence of ``pair`` in ``symbols`` by one symbol, left to right."""
    left, right = pair
    out: list[str] = []
    i = 0
    while i < len(symbols):
        if i + 1 < len(symbols) and symbols[i] == left and symbols[i + 1] == right:
            out.append(left + right)
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return tuple(out)


def bpe_steps(words: Mapping[str, int] | Iterable[str], n_merges: int) -> Iterator[MergeStep]:
    """Run BPE training and yield every merge as a :class:`MergeStep`.

    Stops early (yielding fewer than ``n_merges`` steps) when every word has
    become a single symbol, because no pair is left to merge.
    """
    if isinstance(n_merges, bool) or not isinstance(n_merges, int):
        raise TypeError(f"n_merges must be an int, got {type(n_merges).__name__}")
    if n_merges < 0:
        raise ValueError(f"n_merges must be >= 0, got {n_merges}")
    counts = count_words(words)
    split = {word: tuple(word) for word in counts}
    # Symbol "age" decides ties: characters by code point, then merges in order.
    order = {c: i for i, c in enumerate(sorted({c for w in counts for c in w}))}
    for _ in range(n_merges):
        pairs: Counter[Pair] = Counter()
        for word, symbols in split.items():
            for pair in zip(symbols, symbols[1:]):
                pairs[pair] += counts[word]
        if not pairs:
            return
        best = max(pairs, key=lambda p: (pairs[p], -order[p[0]], -order[p[1]]))
        merged = best[0] + best[1]
        order.setdefault(merged, len(order))
        split = {w: _merge_pair(s, best) if merged in w else s for w, s in split.items()}
        yield MergeStep(best[0], best[1], pairs[best], dict(split))


def learn_bpe(words: Mapping[str, int] | Iterable[str], n_merges: int) -> list[Pair]:
    """Learn up to ``n_merges`` BPE merges from words (a list, or ``{word: count}``).

    Returns the merges in the order learned, e.g. ``[("e", "s"), ("es", "t"), ...]``.
    """
    return [(step.left, step.right) for step in bpe_steps(words, n_merges)]


def apply_bpe(word: str, merges: Sequence[Pair]) -> list[str]:
    """Split one word into subwords with learned ``merges``.

    Starting from single characters, repeatedly merge the adjacent pair that
    was learned *earliest*, until no learned pair is left. Characters never
    seen in training simply stay single symbols.

    Raises:
        TypeError: if ``word`` is not a str.
        ValueError: if ``word`` is empty or contains whitespace (split text first).
    """
    if not isinstance(word, str):
        raise TypeError(f"apply_bpe expects one word as a str, got {type(word).__name__}")
    if not word or any(c.isspace() for c in word):
        raise ValueError(f"apply_bpe expects one non-empty word without spaces, got {word!r}")
    rank = {tuple(pair): i for i, pair in enumerate(merges)}
    symbols: tuple[str, ...] = tuple(word)
    while len(symbols) > 1:
        candidates = [p for p in zip(symbols, symbols[1:]) if p in rank]
        if not candidates:
            break
        symbols = _merge_pair(symbols, min(candidates, key=rank.__getitem__))
    return list(symbols)


# --- The same with the Hugging Face ``tokenizers`` library -------------------


def hf_bpe_from_words(words: Mapping[str, int] | Iterable[str], n_merges: int) -> Tokenizer:
    """Train a Hugging Face BPE tokenizer that learns ``n_merges`` merges from ``words``.

    It uses the conventions of :func:`learn_bpe` (words split on whitespace,
    no end-of-word marker, no unknown token), so its merges can be compared
    with ours one for one: the vocabulary is the alphabet plus one symbol per
    merge. Note that without an unknown token, the Hugging Face model
    silently *drops* characters it has never seen when it encodes.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    counts = count_words(words)
    if n_merges < 0:
        raise ValueError(f"n_merges must be >= 0, got {n_merges}")
    alphabet = {c for word in counts for c in word}
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.BpeTrainer(
        vocab_size=len(alphabet) + n_merges, min_frequency=0, show_progress=False
    )
    tokenizer.train_from_iterator(
        (word for word, count in counts.items() for _ in range(count)), trainer
    )
    return tokenizer


def hf_merges(tokenizer: Tokenizer) -> list[Pair]:
    """The merge list of a Hugging Face BPE tokenizer, as ``[(left, right), ...]``."""
    import json

    model = json.loads(tokenizer.to_str())["model"]
    if model.get("type") != "BPE":
        raise ValueError(f"not a BPE tokenizer: its model is {model.get('type')!r}")
    # tokenizers >= 0.20 stores pairs as lists; older versions as "left right" strings
    return [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in model["merges"]]


def train_bpe_tokenizer(
    texts: str | Iterable[str], vocab_size: int, *, unk_token: str = "<unk>",
    min_frequency: int = 2,
) -> Tokenizer:
    """Train a Hugging Face BPE tokenizer on real text, SentencePiece style.

    Spaces are kept as the marker ``▁`` at the start of each word (the
    ``Metaspace`` pre-tokenizer), so decoding restores the text's spacing.
    The alphabet is the characters of the training text; any other character
    becomes ``unk_token`` when encoding.

    Raises:
        ValueError: if there is no text or ``vocab_size`` is too small.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    lines = [texts] if isinstance(texts, str) else list(texts)
    if not any(isinstance(t, str) and t.strip() for t in lines):
        raise ValueError("cannot train a tokenizer on empty text")
    for t in lines:
        if not isinstance(t, str):
            raise TypeError(f"texts must be str, got {type(t).__name__}")
    if vocab_size < 2:
        raise ValueError(f"vocab_size must be at least 2, got {vocab_size}")
    tokenizer = Tokenizer(models.BPE(unk_token=unk_token))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=[unk_token],
        show_progress=False,
    )
    tokenizer.train_from_iterator(lines, trainer)
    return tokenizer


# --- Byte-level BPE (GPT-2, SmolLM2): the printable stand-ins for bytes ------------

def _byte_symbols() -> dict[int, str]:
    """GPT-2's table: every byte value -> one printable character.

    Printable Latin-1 bytes stand for themselves (``a`` is ``a``); the other
    68 bytes (space, control codes, ...) get the characters from U+0100 on,
    in byte order: the space (0x20) becomes ``Ġ``, the newline ``Ċ``.
    """
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
            *range(ord("®"), ord("ÿ") + 1)]
    table = {b: chr(b) for b in keep}
    for n, b in enumerate(b for b in range(256) if b not in table):
        table[b] = chr(256 + n)
    return table


#: byte value -> the character a byte-level BPE vocabulary writes for it
BYTE_SYMBOLS: dict[int, str] = _byte_symbols()
_SYMBOL_BYTES = {symbol: b for b, symbol in BYTE_SYMBOLS.items()}


def byte_token_bytes(token: str) -> bytes:
    """The bytes that a byte-level BPE token (as stored in its vocabulary) stands for.

    >>> byte_token_bytes("Ġfox")
    b' fox'
    >>> byte_token_bytes("ãģ").hex(" ")
    'e3 81'

    Raises:
        ValueError: if ``token`` contains a character that stands for no byte.
    """
    try:
        return bytes(_SYMBOL_BYTES[ch] for ch in token)
    except KeyError as e:
        raise ValueError(f"{token!r} is not a byte-level token: {e.args[0]!r} stands for no byte") from None


def byte_token_label(token: str) -> str:
    """A byte-level token as a reader wants to see it.

    The text it stands for when its bytes are whole UTF-8 characters; else the
    bytes in hexadecimal, e.g. ``⟨e3 81⟩`` for the first two of the three
    bytes of a kana (UTF-8 spends 3 bytes on each kana and kanji).

    >>> [byte_token_label(t) for t in ["Ġfox", "ãģ", "ĵ"]]
    [' fox', '⟨e3 81⟩', '⟨93⟩']
    """
    raw = byte_token_bytes(token)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return "⟨" + raw.hex(" ") + "⟩"
