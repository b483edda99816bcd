"""Tests of llmbook.text: each standardisation step, then the composition."""

import numpy as np
import pytest

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


# --- Character vocabulary ------------------------------------------------------

from llmbook.text import (  # noqa: E402
    CharVocabulary,
    InvalidIdError,
    TokenVocabulary,
    UnknownTokenError,
)


def test_char_vocabulary_is_sorted_distinct_characters():
    v = CharVocabulary.from_text("hello world")
    assert v.itos == [" ", "d", "e", "h", "l", "o", "r", "w"]
    assert v.stoi == {" ": 0, "d": 1, "e": 2, "h": 3, "l": 4, "o": 5, "r": 6, "w": 7}
    assert len(v) == 8
    assert "h" in v and "z" not in v and "he" not in v
    assert isinstance(v, TokenVocabulary)


def test_char_vocabulary_round_trip():
    text = "Mr. Holmes, 'twas late!\nWatson?"
    v = CharVocabulary.from_text(text)
    ids = v.encode(text)
    assert ids == [v.stoi[c] for c in text]
    assert v.decode(ids) == text
    assert v.encode("") == [] and v.decode([]) == ""


def test_char_vocabulary_decode_accepts_numpy_and_torch():
    np = pytest.importorskip("numpy")
    v = CharVocabulary.from_text("abc")
    assert v.decode(np.array([2, 0, 1])) == "cab"
    torch = pytest.importorskip("torch")
    assert v.decode(torch.tensor([1, 1, 2])) == "bbc"


def test_char_vocabulary_unknown_character_error():
    v = CharVocabulary.from_text("hello")
    with pytest.raises(UnknownTokenError) as info:
        v.encode("help!")
    error = info.value
    assert isinstance(error, KeyError) and isinstance(error, ValueError)
    assert str(error) == (
        "2 character(s) not in the vocabulary: 'p' at position 3, '!' at position 4"
    )
    assert error.unknown == [(3, "p"), (4, "!")]


def test_char_vocabulary_unknown_error_lists_at_most_five():
    v = CharVocabulary.from_text("a")
    with pytest.raises(UnknownTokenError, match=r"7 character\(s\).*\(and 2 more\)"):
        v.encode("bcdefgh")


@pytest.mark.parametrize("bad_id", [8, -1, 100])
def test_char_vocabulary_decode_out_of_range(bad_id):
    v = CharVocabulary.from_text("hello world")
    with pytest.raises(InvalidIdError, match=rf"id {bad_id} at position 1 .*0\.\.7"):
        v.decode([0, bad_id])
    with pytest.raises(IndexError):  # also an IndexError ...
        v.decode([bad_id])
    with pytest.raises(ValueError):  # ... and a ValueError
        v.decode([bad_id])


@pytest.mark.parametrize("bad_id", [1.0, "1", None, True])
def test_char_vocabulary_decode_rejects_non_integers(bad_id):
    v = CharVocabulary.from_text("abc")
    with pytest.raises(InvalidIdError, match="position 0 is not an integer"):
        v.decode([bad_id])


def test_char_vocabulary_bad_input():
    with pytest.raises(ValueError, match="empty"):
        CharVocabulary.from_text("")
    with pytest.raises(TypeError, match="str"):
        CharVocabulary.from_text(["a", "b"])  # type: ignore[arg-type]
    v = CharVocabulary.from_text("abc")
    with pytest.raises(TypeError, match="str"):
        v.encode(["a"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="integer ids"):
        v.decode("abc")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="single characters"):
        CharVocabulary(["a", "bc"])
    with pytest.raises(ValueError, match="distinct"):
        CharVocabulary(["a", "b", "a"])


def test_char_vocabulary_save_load(tmp_path):
    v = CharVocabulary.from_text("すもも and 'plums'\n")
    path = v.save(tmp_path / "chars.json")
    again = CharVocabulary.load(path)
    assert again == v
    assert again.itos == v.itos and again.stoi == v.stoi
    assert '"す"' in path.read_text(encoding="utf-8")  # readable UTF-8, not \\u escapes


def test_char_vocabulary_load_rejects_other_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="not valid JSON"):
        CharVocabulary.load(bad)
    other = tmp_path / "other.json"
    other.write_text('{"kind": "word", "itos": ["a"]}', encoding="utf-8")
    with pytest.raises(ValueError, match="'word' vocabulary"):
        CharVocabulary.load(other)


# --- Word vocabulary -----------------------------------------------------------

from llmbook.text import (  # noqa: E402
    PAD_ID,
    SEED_ID,
    SPECIAL_TOKENS,
    UNK_ID,
    Vocabulary,
    make_windows,
    one_hot,
)

FOX_TOKENS = "the fox and the dog and the cat . ||||| the end".split()


def test_vocabulary_reserved_ids_then_frequency_rank():
    assert (PAD_ID, SEED_ID, UNK_ID) == (0, 1, 2)
    assert SPECIAL_TOKENS == ("<pad>", STORY_MARKER, "<unk>")
    v = Vocabulary.from_tokens(FOX_TOKENS)
    # the x4, and x2, then the words seen once in order of first use
    assert v.itos == [
        "<pad>", "|||||", "<unk>", "the", "and", "fox", "dog", "cat", ".", "end",
    ]
    assert v.stoi["the"] == 3 and v.stoi[STORY_MARKER] == SEED_ID
    assert v.counts == [0, 1, 0, 4, 2, 1, 1, 1, 1, 1]
    assert v.most_common(2) == [("the", 4), ("and", 2)]
    assert len(v) == 10 and "fox" in v and "wolf" not in v


def test_vocabulary_encode_decode_and_unknown_words():
    v = Vocabulary.from_tokens(FOX_TOKENS)
    assert v.encode("the fox and the wolf".split()) == [3, 5, 4, 3, UNK_ID]
    assert v.decode([1, 3, 5, 2]) == "||||| the fox <unk>"
    assert v.decode(v.encode(FOX_TOKENS)) == " ".join(FOX_TOKENS)


def test_vocabulary_max_size_and_min_count():
    v = Vocabulary.from_tokens(FOX_TOKENS, max_size=5)
    assert v.itos == ["<pad>", "|||||", "<unk>", "the", "and"]
    assert v.encode(["fox"]) == [UNK_ID]
    assert Vocabulary.from_tokens(FOX_TOKENS, min_count=2).itos[3:] == ["the", "and"]


def test_vocabulary_bad_input():
    with pytest.raises(ValueError, match="no tokens"):
        Vocabulary.from_tokens([])
    with pytest.raises(TypeError, match="tokenize_words"):
        Vocabulary.from_tokens("the fox")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="token 1 is a int"):
        Vocabulary.from_tokens(["a", 3])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="whitespace"):
        Vocabulary.from_tokens(["a b"])
    with pytest.raises(ValueError, match="max_size"):
        Vocabulary.from_tokens(["a"], max_size=2)
    with pytest.raises(ValueError, match="min_count"):
        Vocabulary.from_tokens(["a"], min_count=0)
    v = Vocabulary.from_tokens(["a"])
    with pytest.raises(TypeError, match="tokenize_words"):
        v.encode("a")  # type: ignore[arg-type]
    with pytest.raises(InvalidIdError, match="id 4 at position 0"):
        v.decode([4])
    with pytest.raises(ValueError, match="reserved tokens"):
        Vocabulary(["the", "a", "b"])


def test_vocabulary_save_load(tmp_path):
    v = Vocabulary.from_tokens(FOX_TOKENS)
    again = Vocabulary.load(v.save(tmp_path / "vocab.json"))
    assert again == v and again.counts == v.counts and again.itos == v.itos
    with pytest.raises(ValueError, match="'word' vocabulary"):
        CharVocabulary.load(tmp_path / "vocab.json")


# --- Windows and one-hot -------------------------------------------------------


def test_make_windows_seed_padded_start():
    x, y = make_windows([7, 8, 9, 10], context=3)
    assert x.tolist() == [[1, 1, 1], [1, 1, 7], [1, 7, 8], [7, 8, 9]]
    assert y.tolist() == [7, 8, 9, 10]
    assert x.dtype == y.dtype == np.int64
    x, y = make_windows([5, 6], context=1, pad_id=0)
    assert x.tolist() == [[0], [5]] and y.tolist() == [5, 6]
    x[0, 0] = 99  # a writable copy, not a view
    assert make_windows([5, 6], context=1, pad_id=0)[0][0, 0] == 0


def test_make_windows_default_is_twenty_seeds():
    x, y = make_windows(np.arange(3, 40))
    assert x.shape == (37, 20) and y.shape == (37,)
    assert x[0].tolist() == [SEED_ID] * 20
    assert x[-1].tolist() == list(range(19, 39)) and y[-1] == 39


@pytest.mark.parametrize("context", [0, -3])
def test_make_windows_rejects_small_context(context):
    with pytest.raises(ValueError, match="context .* >= 1"):
        make_windows([1, 2, 3], context=context)


def test_make_windows_bad_input():
    with pytest.raises(ValueError, match="empty"):
        make_windows([], context=2)
    with pytest.raises(TypeError, match="integer ids"):
        make_windows("abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="integer ids"):
        make_windows([1.5, 2.0])
    with pytest.raises(TypeError, match="context must be an int"):
        make_windows([1, 2], context=2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pad_id"):
        make_windows([1, 2], pad_id=-1)
    with pytest.raises(ValueError, match="1-D"):
        make_windows([[1, 2]])


def test_one_hot():
    assert one_hot([2, 0], size=3).tolist() == [[0, 0, 1], [1, 0, 0]]
    assert one_hot(1, size=2).tolist() == [0, 1]
    batch = one_hot(np.array([[0, 1], [1, 1]]), size=2)
    assert batch.shape == (2, 2, 2) and batch.dtype == np.float32
    assert (batch.sum(-1) == 1).all()
    with pytest.raises(InvalidIdError, match="id 3 is outside range"):
        one_hot([0, 3], size=3)
    with pytest.raises(InvalidIdError, match="id -1"):
        one_hot([-1], size=3)
    with pytest.raises(ValueError, match="size"):
        one_hot([0], size=0)


def test_aesop_vocabulary_and_windows(aesop_tokens):
    v = Vocabulary.from_tokens(aesop_tokens)
    assert len(v) == 4_101 + 2  # the seed marker is a real token; pad and unk are added
    assert v.itos[3:7] == [",", "the", "and", "."]
    ids = v.encode(aesop_tokens)
    assert UNK_ID not in ids and v.decode(ids) == " ".join(aesop_tokens)
    x, y = make_windows(ids)
    assert x.shape == (45_410, 20)
    assert y[:5].tolist() == v.encode(["the", "fox", "and", "the", "grapes"])


# --- Reliability: no silent wrong answers -------------------------------------------------


@pytest.mark.parametrize("bad", [[3], ["the", None], ["the", b"fox"], [("the",)]])
def test_vocabulary_encode_rejects_non_strings(bad):
    vocab = Vocabulary.from_tokens("the fox and the dog".split())
    with pytest.raises(TypeError, match=r"token \d is a \w+, not a str"):
        vocab.encode(bad)  # before: each became <unk> without a word


def test_one_hot_does_not_build_an_identity_matrix():
    # np.eye(2_000_000) would need 16 TB; one row of two million floats is 8 MB.
    vector = one_hot([1_999_999], size=2_000_000)
    assert vector.shape == (1, 2_000_000) and vector.dtype == np.float32
    assert vector[0, -1] == 1.0 and vector.sum() == 1.0
    assert one_hot(np.array([[0, 2], [1, 1]]), size=3).tolist() == [
        [[1, 0, 0], [0, 0, 1]], [[0, 1, 0], [0, 1, 0]]]
