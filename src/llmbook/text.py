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

import re

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
