"""Japanese text: cleaning Aozora Bunko files and splitting sentences into words.

Japanese is written without spaces between words, so the first step of any
word-level pipeline is *morphological analysis*: a dictionary-driven analyser
finds the most likely split of a sentence into morphemes and labels each with
its part of speech. Two analysers are supported:

* ``"janome"`` -- pure Python, ships its own IPADIC dictionary
  (``pip install janome``);
* ``"fugashi"`` -- a wrapper of the C++ analyser MeCab, here with the small
  UniDic dictionary (``pip install fugashi unidic-lite``).

Aozora Bunko (青空文庫) texts carry annotations that are not part of the
prose: readings in ``《》`` (*ruby*), ``｜`` marking where a ruby's base
starts, editors' notes in ``［＃…］``, a block explaining those symbols and a
colophon starting with ``底本：``. :func:`clean_aozora` removes them all.

>>> remove_ruby("天地｜開闢《かいびゃく》の頃《ころ》おい")
'天地開闢の頃おい'
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, NamedTuple

__all__ = [
    "ANALYSERS",
    "AnalyserUnavailableError",
    "Morpheme",
    "remove_ruby",
    "remove_aozora_notes",
    "remove_aozora_front_and_back",
    "clean_aozora",
    "available_analysers",
    "analyse_japanese",
    "tokenize_japanese",
]

#: The analysers :func:`analyse_japanese` knows, and the pip packages each needs.
ANALYSERS: dict[str, str] = {"janome": "janome", "fugashi": "fugashi unidic-lite"}

# ｜base《reading》 -> base ; then any remaining 《reading》 -> nothing.
_RUBY_WITH_BAR = re.compile(r"｜([^《｜\n]*)《[^》\n]*》")
_RUBY = re.compile(r"《[^》\n]*》")
_NOTE = re.compile(r"［＃[^］\n]*］")
_SYMBOL_BLOCK = re.compile(r"-{10,}\n【テキスト中に現れる記号について】.*?\n-{10,}\n", re.DOTALL)
_COLOPHON = re.compile(r"^底本：.*?(?=\n\s*\n|\Z)", re.DOTALL | re.MULTILINE)


class AnalyserUnavailableError(ImportError):
    """The package of a morphological analyser is not installed."""


class Morpheme(NamedTuple):
    """One unit found by a morphological analyser."""

    surface: str  # the characters as they appear in the text
    pos: str  # part of speech (main category), e.g. 名詞 (noun), 助詞 (particle)
    base: str  # dictionary form (janome) or lemma (UniDic), e.g. 桃 for もも
    reading: str  # pronunciation in katakana ("" when the dictionary has none)


def _require_str(text: object, what: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"{what} expects a str, got {type(text).__name__}")
    return text


def remove_ruby(text: str) -> str:
    """Delete ruby readings ``《…》`` and the ``｜`` that marks where their base starts.

    >>> remove_ruby("蜘蛛《くも》の巣")
    '蜘蛛の巣'
    """
    _require_str(text, "remove_ruby")
    return _RUBY.sub("", _RUBY_WITH_BAR.sub(r"\1", text))


def remove_aozora_notes(text: str) -> str:
    """Delete the editors' notes ``［＃…］`` (headings, indentation, rare characters).

    A character that cannot be encoded appears as ``※`` followed by a note
    describing it; the ``※`` is kept as a placeholder.

    >>> remove_aozora_notes("［＃８字下げ］一［＃「一」は中見出し］")
    '一'
    """
    _require_str(text, "remove_aozora_notes")
    return _NOTE.sub("", text)


def remove_aozora_front_and_back(text: str) -> str:
    """Delete the block that explains the symbols and the colophon (``底本：`` ...)."""
    _require_str(text, "remove_aozora_front_and_back")
    return _COLOPHON.sub("", _SYMBOL_BLOCK.sub("", text))


def clean_aozora(text: str) -> str:
    """All Aozora clean-up steps: front and back matter, notes, then ruby.

    Line breaks are kept; trailing blank space at the end is stripped.
    """
    _require_str(text, "clean_aozora")
    text = remove_aozora_front_and_back(text)
    text = remove_aozora_notes(text)
    return remove_ruby(text).rstrip()


@lru_cache(maxsize=None)
def _analyser(name: str) -> Any:
    """Create (once per process) the analyser object; loading a dictionary takes a moment."""
    try:
        if name == "janome":
            from janome.tokenizer import Tokenizer

            return Tokenizer()
        import fugashi  # noqa: F401  (imported first for a clear error)

        return fugashi.Tagger()
    except (ImportError, RuntimeError) as error:  # fugashi raises RuntimeError without a dictionary
        raise AnalyserUnavailableError(
            f"the Japanese analyser {name!r} is not available ({error}). "
            f"Install it with:  pip install {ANALYSERS[name]}"
        ) from error


def available_analysers() -> list[str]:
    """The names in :data:`ANALYSERS` whose packages can be loaded here."""
    names = []
    for name in ANALYSERS:
        try:
            _analyser(name)
        except AnalyserUnavailableError:
            continue
        names.append(name)
    return names


def analyse_japanese(text: str, analyser: str = "janome") -> list[Morpheme]:
    """Split Japanese ``text`` into morphemes with part of speech, base form and reading.

    Whitespace (including the full-width space ``　`` and line breaks) only
    separates morphemes; it never becomes one.

    Raises:
        TypeError: if ``text`` is not a str.
        ValueError: if ``text`` is empty or whitespace only, or ``analyser`` is unknown.
        AnalyserUnavailableError: if the analyser's package is not installed.
    """
    _require_str(text, "analyse_japanese")
    if analyser not in ANALYSERS:
        raise ValueError(f"unknown analyser {analyser!r}; choose one of {sorted(ANALYSERS)}")
    if not text.strip():
        raise ValueError("cannot analyse empty or whitespace-only text")
    engine = _analyser(analyser)
    if analyser == "janome":
        morphemes = [
            Morpheme(t.surface, t.part_of_speech.split(",")[0], t.base_form,
                     t.reading if t.reading != "*" else "")
            for t in engine.tokenize(text)
        ]
    else:
        morphemes = []
        for word in engine(text):
            feature = word.feature
            lemma = getattr(feature, "lemma", None) or word.surface
            kana = getattr(feature, "kana", None) or ""
            morphemes.append(Morpheme(word.surface, feature.pos1, lemma, kana))
    return [m for m in morphemes if m.surface.strip()]


def tokenize_japanese(text: str, analyser: str = "janome") -> list[str]:
    """The surface forms of :func:`analyse_japanese` -- Japanese split into words.

    >>> tokenize_japanese("すもももももももものうち")
    ['すもも', 'も', 'もも', 'も', 'もも', 'の', 'うち']
    """
    return [m.surface for m in analyse_japanese(text, analyser)]
