"""Tests of llmbook.text: each standardisation step, then the composition."""

import doctest

import pytest

import llmbook.text as text_module
from llmbook.text import (
    STORY_MARKER,
    collapse_repeats,
    lowercase,
    mark_stories,
    newlines_to_spaces,
    split_punctuation,
    standardize,
    tokenize_words,
)

# Two fables laid out exactly as in the Aesop corpus: a leading line break,
# title, two blank lines, body (with a moral indented by four spaces after
# one blank line), four blank lines, the next fable.
TWO_FABLES = (
    "\nTHE FOX AND THE GRAPES\n\n\n"
    "A hungry Fox saw some fine Grapes. \"They're sour...\" he said;\n"
    "and off he went!\n\n"
    "    Sour grapes.\n\n\n\n\n"
    "THE CAT AND THE MICE\n\n\n"
    "A Cat (a clever one) caught the Mice: one-by-one?\n\n"
)


def test_module_doctests_pass():
    result = doctest.testmod(text_module)
    assert result.attempted >= 4
    assert result.failed == 0


def test_lowercase():
    assert lowercase("The FOX and Æsop") == "the fox and æsop"


def test_mark_stories_replaces_only_long_blank_runs():
    # 4 blank lines (5 newlines) between stories -> marker
    assert mark_stories("end.\n\n\n\n\nTITLE") == "end. ||||| TITLE"
    # exactly 3 blank lines is still a separator (the default threshold)
    assert mark_stories("a\n\n\n\nb") == "a ||||| b"
    # 2 blank lines (title -> body) and 1 blank line (paragraph) are kept
    assert mark_stories("TITLE\n\n\nBody") == "TITLE\n\n\nBody"
    assert mark_stories("p1\n\np2") == "p1\n\np2"


def test_mark_stories_treats_whitespace_only_lines_as_blank():
    assert mark_stories("a\n  \n\t\n \n\nb") == "a ||||| b"


def test_mark_stories_threshold_is_configurable():
    assert mark_stories("TITLE\n\n\nBody", min_blank_lines=2) == "TITLE ||||| Body"
    with pytest.raises(ValueError, match="min_blank_lines"):
        mark_stories("x", min_blank_lines=0)


def test_newlines_to_spaces():
    assert newlines_to_spaces("a\nb\r\nc\n") == "a b  c "


def test_split_punctuation_makes_each_mark_a_token():
    assert split_punctuation("summer's day,") == "summer ' s day , "
    assert split_punctuation('"Aha!" (yes)').split() == [
        '"', "Aha", "!", '"', "(", "yes", ")",
    ]
    assert split_punctuation("a;b:c?d-e.").split() == [
        "a", ";", "b", ":", "c", "?", "d", "-", "e", ".",
    ]
    assert split_punctuation("_would_").split() == ["_", "would", "_"]


def test_split_punctuation_keeps_story_marker_whole():
    assert split_punctuation(f"end. {STORY_MARKER} the").split() == [
        "end", ".", STORY_MARKER, "the",
    ]


def test_collapse_repeats():
    assert collapse_repeats("wait...") == "wait."
    assert collapse_repeats("wait . . .  now") == "wait . now"
    assert collapse_repeats("  a   b \t c  ") == "a b c"
    assert collapse_repeats("a. b.") == "a. b."  # separate sentences stay


def test_standardize_on_two_fables():
    assert standardize(TWO_FABLES) == (
        "the fox and the grapes a hungry fox saw some fine grapes . "
        "\" they ' re sour . \" he said ; and off he went ! sour grapes . "
        "||||| the cat and the mice a cat ( a clever one ) caught the mice : "
        "one - by - one ?"
    )


def test_standardize_returns_one_line_with_single_spaces():
    out = standardize(TWO_FABLES)
    assert "\n" not in out
    assert "  " not in out
    assert out == out.strip()


def test_tokenize_words_is_split_of_standardize():
    tokens = tokenize_words(TWO_FABLES)
    assert tokens == standardize(TWO_FABLES).split()
    assert tokens.count(STORY_MARKER) == 1
    assert tokens[:6] == ["the", "fox", "and", "the", "grapes", "a"]


@pytest.mark.parametrize("bad", ["", "   ", "\n\n\t\n"])
def test_standardize_rejects_empty_text(bad):
    with pytest.raises(ValueError, match="empty"):
        standardize(bad)
    with pytest.raises(ValueError, match="empty"):
        tokenize_words(bad)


def test_standardize_rejects_non_strings():
    with pytest.raises(TypeError, match="str"):
        standardize(["not", "a", "string"])  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def aesop_tokens():
    from llmbook.data import CorpusNotFoundError, load_corpus

    try:
        return tokenize_words(load_corpus("aesop"))
    except CorpusNotFoundError as error:  # offline without a local copy
        pytest.skip(f"Aesop corpus not available: {error}")


def test_aesop_standardised_text(aesop_tokens):
    # The file starts directly with the first title (no separator before it)
    # and titles carry no full stop.
    assert aesop_tokens[:12] == [
        "the", "fox", "and", "the", "grapes", "a", "hungry", "fox", "saw",
        "some", "fine", "bunches",
    ]
    # 284 fables, separated by 283 markers; the title/body gap is not a marker
    assert aesop_tokens.count(STORY_MARKER) == 283
    i = aesop_tokens.index(STORY_MARKER)
    assert aesop_tokens[i - 3 : i + 6] == [
        "sour", ".", '"', STORY_MARKER, "the", "goose", "that", "laid", "the",
    ]
    assert len(aesop_tokens) == 45_410
    assert len(set(aesop_tokens)) == 4_101
    assert all(t == t.lower() and " " not in t for t in aesop_tokens)
