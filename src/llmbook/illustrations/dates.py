"""Chapter 10's toy translation task, for training a Transformer quickly: writing dates in ISO form.

The *source* is a date written the way people write it, in one of several
styles (English or Japanese), and the *target* is the same date in ISO 8601::

    "Sunday, 7 March 2021"  ->  "2021-03-07"
    "Mar 7, 2021"           ->  "2021-03-07"
    "2021年3月7日"           ->  "2021-03-07"

Like real translation, the output's pieces come from different places in the
input and in a different order (the year is last in most sources and first in
the target), so the decoder must learn *where to look*: its cross-attention
maps show that alignment. Unlike real translation, data is unlimited and a
model of a few hundred thousand parameters learns it in a minute or two.

Both sides are read character by character, each with its own
:class:`DateVocabulary`; id 0 is padding.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Sequence
from typing import ClassVar

import torch
from torch import Tensor

from llmbook.text import CharVocabulary, TokenVocabulary

__all__ = [
    "STYLES",
    "DateVocabulary",
    "format_date",
    "random_dates",
    "make_pairs",
    "TEST_EVERY",
    "SOURCE_VOCAB",
    "TARGET_VOCAB",
    "encode_pairs",
]

MONTHS = ["January", "February", "March", "April", "May", "June", "July",
          "August", "September", "October", "November", "December"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

#: The ways a date can be written, by name, with an example for 7 March 2021.
STYLES: dict[str, str] = {
    "day month year": "7 March 2021",
    "month day, year": "March 7, 2021",
    "short month": "Mar 7, 2021",
    "weekday": "Sunday, 7 March 2021",
    "dotted": "07.03.2021",
    "japanese": "2021年3月7日",
    "lower case": "7 march 2021",
}


def format_date(date: dt.date, style: str) -> str:
    """Write ``date`` in one of the :data:`STYLES`.

    >>> format_date(dt.date(2021, 3, 7), "weekday")
    'Sunday, 7 March 2021'
    """
    d, m, y = date.day, date.month, date.year
    month = MONTHS[m - 1]
    if style == "day month year":
        return f"{d} {month} {y}"
    if style == "month day, year":
        return f"{month} {d}, {y}"
    if style == "short month":
        return f"{month[:3]} {d}, {y}"
    if style == "weekday":
        return f"{WEEKDAYS[date.weekday()]}, {d} {month} {y}"
    if style == "dotted":
        return f"{d:02d}.{m:02d}.{y}"
    if style == "japanese":
        return f"{y}年{m}月{d}日"
    if style == "lower case":
        return f"{d} {month.lower()} {y}"
    raise ValueError(f"unknown style {style!r}; choose from {list(STYLES)}")


#: Every tenth day (by its ordinal number) is kept out of training, so that a
#: test set of those days holds dates the model has never seen in any style.
TEST_EVERY = 10


def _in_split(date: dt.date, split: str | None) -> bool:
    if split is None:
        return True
    if split == "train":
        return date.toordinal() % TEST_EVERY != 0
    if split == "test":
        return date.toordinal() % TEST_EVERY == 0
    raise ValueError(f"split must be 'train', 'test' or None, got {split!r}")


def random_dates(n: int, seed: int = 0, first_year: int = 1950, last_year: int = 2049,
                 split: str | None = None) -> list[dt.date]:
    """``n`` dates drawn uniformly between 1 January ``first_year`` and 31 December ``last_year``.

    With ``split="test"`` only every tenth day (by ordinal) is drawn, with
    ``split="train"`` only the others, so the two sets never share a date.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if first_year > last_year:
        raise ValueError(f"first_year ({first_year}) is after last_year ({last_year})")
    _in_split(dt.date(2000, 1, 1), split)  # reject a bad split name early
    rng = random.Random(seed)
    start = dt.date(first_year, 1, 1).toordinal()
    end = dt.date(last_year, 12, 31).toordinal()
    dates: list[dt.date] = []
    while len(dates) < n:
        date = dt.date.fromordinal(rng.randint(start, end))
        if _in_split(date, split):
            dates.append(date)
    return dates


def make_pairs(n: int, seed: int = 0, split: str | None = None) -> list[tuple[str, str]]:
    """``n`` (source, target) pairs: random dates in random styles, and their ISO form.

    ``split`` is passed to :func:`random_dates` (``"train"``, ``"test"`` or ``None``).
    """
    rng = random.Random(seed + 1)
    styles = list(STYLES)
    return [(format_date(d, rng.choice(styles)), d.isoformat())
            for d in random_dates(n, seed, split=split)]


class DateVocabulary(CharVocabulary):
    """A :class:`~llmbook.text.CharVocabulary` whose first ids are reserved: padding (0),
    then, on the target side, begin and end of sequence.

    Encoding is :class:`~llmbook.text.CharVocabulary`'s (one id per character;
    text never produces a reserved token). Decoding skips padding and the
    begin-of-sequence token and stops at the end of sequence.

    >>> v = DateVocabulary.of("0123456789-", bos_eos=True)
    >>> v.itos[:4], v.encode("20-1"), v.decode([1, 5, 3, 13, 4, 2, 5])
    (['<pad>', '<s>', '</s>', '0'], [5, 3, 13, 4], '20-1')
    """

    kind: ClassVar[str] = "date characters"
    PAD, BOS, EOS = "<pad>", "<s>", "</s>"

    def __init__(self, itos: Iterable[str]) -> None:
        TokenVocabulary.__init__(self, itos)  # CharVocabulary's own check refuses "<pad>"
        reserved = [t for t in self.itos if t in (self.PAD, self.BOS, self.EOS)]
        if self.itos[: len(reserved)] != reserved or reserved[:1] != [self.PAD]:
            raise ValueError(f"the reserved tokens must come first, {self.PAD!r} at id 0")
        if any(len(t) != 1 for t in self.itos[len(reserved):]):
            raise ValueError("after the reserved tokens every token must be one character")
        self.pad_id = 0
        self.bos_id = self.stoi.get(self.BOS)
        self.eos_id = self.stoi.get(self.EOS)

    @classmethod
    def of(cls, chars: str, bos_eos: bool = False) -> DateVocabulary:
        """Padding, then (with ``bos_eos``) begin and end of sequence, then ``chars``."""
        return cls([cls.PAD] + ([cls.BOS, cls.EOS] if bos_eos else []) + list(chars))

    def decode(self, ids: Iterable[int], *, stop_at_eos: bool = True) -> str:
        """Text of ``ids``, skipping padding and BOS, stopping at EOS."""
        out = []
        for token in self.decode_tokens(ids):
            if token == self.EOS and stop_at_eos:
                break
            if token not in (self.PAD, self.BOS, self.EOS):
                out.append(token)
        return "".join(out)


def _source_chars() -> str:
    chars = set("0123456789 ,.年月日")
    for word in MONTHS + WEEKDAYS:
        chars |= set(word) | set(word.lower())
    return "".join(sorted(chars))


#: Every character a source date can contain (plus padding).
SOURCE_VOCAB = DateVocabulary.of(_source_chars())
#: Digits and the dash (plus padding, begin and end of sequence).
TARGET_VOCAB = DateVocabulary.of("0123456789-", bos_eos=True)


def encode_pairs(pairs: Sequence[tuple[str, str]]) -> tuple[Tensor, Tensor, Tensor]:
    """Pad a batch of pairs into tensors for teacher forcing.

    Returns ``(src, tgt_in, tgt_out)``: ``src`` ``(B, S)`` source ids padded
    with 0; ``tgt_in`` ``(B, 11)`` = BOS + the 10 target characters;
    ``tgt_out`` ``(B, 11)`` = the 10 characters + EOS (what each position
    must predict).
    """
    if not pairs:
        raise ValueError("encode_pairs needs at least one pair")
    src_ids = [SOURCE_VOCAB.encode(s) for s, _ in pairs]
    width = max(len(s) for s in src_ids)
    src = torch.zeros(len(pairs), width, dtype=torch.long)
    for row, ids in enumerate(src_ids):
        src[row, : len(ids)] = torch.tensor(ids)
    tgt = [TARGET_VOCAB.encode(t) for _, t in pairs]
    if len({len(t) for t in tgt}) != 1:
        raise ValueError("every target must have the same length (ISO dates have 10 characters)")
    tgt_in = torch.tensor([[TARGET_VOCAB.bos_id] + t for t in tgt])
    tgt_out = torch.tensor([t + [TARGET_VOCAB.eos_id] for t in tgt])
    return src, tgt_in, tgt_out
