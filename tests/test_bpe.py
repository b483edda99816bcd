"""Tests of llmbook.bpe: BPE from scratch, checked against Hugging Face tokenizers."""

import random

import pytest

from llmbook.bpe import (
    apply_bpe,
    bpe_steps,
    count_words,
    hf_bpe_from_words,
    hf_merges,
    learn_bpe,
    train_bpe_tokenizer,
)

TOY = {"low": 5, "lower": 2, "newest": 6, "widest": 3}


def test_learn_bpe_on_the_classic_toy_corpus():
    assert learn_bpe(TOY, 8) == [
        ("e", "s"), ("es", "t"), ("l", "o"), ("lo", "w"),
        ("e", "w"), ("n", "ew"), ("new", "est"), ("d", "est"),
    ]


def test_bpe_steps_report_counts_and_segmentation():
    steps = list(bpe_steps(TOY, 4))
    assert [(s.merged, s.count) for s in steps] == [("es", 9), ("est", 9), ("lo", 7), ("low", 7)]
    assert steps[1].segmentation["widest"] == ("w", "i", "d", "est")
    assert steps[3].segmentation == {
        "low": ("low",), "lower": ("low", "e", "r"),
        "newest": ("n", "e", "w", "est"), "widest": ("w", "i", "d", "est"),
    }


def test_ties_go_to_the_older_symbols():
    # e-s and s-t both occur 9 times: (e, s) wins because 'e' < 's'
    assert learn_bpe(TOY, 1) == [("e", "s")]
    # a word list is counted like a dict
    assert learn_bpe(["ba", "ab"], 1) == [("a", "b")]


def test_overlapping_pairs_are_counted_and_merged_left_to_right():
    assert learn_bpe({"aaa": 1}, 2) == [("a", "a"), ("aa", "a")]
    assert apply_bpe("aaa", [("a", "a")]) == ["aa", "a"]


def test_learning_stops_when_nothing_is_left_to_merge():
    assert learn_bpe({"ab": 1}, 5) == [("a", "b")]
    assert learn_bpe({"a": 3}, 5) == []
    assert learn_bpe(TOY, 0) == []


def test_apply_bpe():
    merges = learn_bpe(TOY, 8)
    assert apply_bpe("lowest", merges) == ["low", "est"]
    assert apply_bpe("newer", merges) == ["new", "e", "r"]
    assert apply_bpe("xyz", merges) == ["x", "y", "z"]  # unseen characters stay
    assert apply_bpe("low", []) == ["l", "o", "w"]


def test_bad_input():
    with pytest.raises(TypeError, match="split the text first"):
        learn_bpe("low lower", 3)
    with pytest.raises(ValueError, match="no words"):
        learn_bpe([], 3)
    with pytest.raises(ValueError, match="no whitespace"):
        learn_bpe(["lo w"], 3)
    with pytest.raises(ValueError, match="positive int"):
        learn_bpe({"low": 0}, 3)
    with pytest.raises(TypeError, match="must be str"):
        count_words([1, 2])
    with pytest.raises(ValueError, match="n_merges must be >= 0"):
        learn_bpe(TOY, -1)
    with pytest.raises(TypeError, match="n_merges must be an int"):
        learn_bpe(TOY, 2.5)
    with pytest.raises(ValueError, match="one non-empty word"):
        apply_bpe("two words", [])
    with pytest.raises(ValueError, match="one non-empty word"):
        apply_bpe("", [])
    with pytest.raises(TypeError, match="str"):
        apply_bpe(["low"], [])


def test_agrees_with_hugging_face_on_the_toy_corpus():
    pytest.importorskip("tokenizers")
    tokenizer = hf_bpe_from_words(TOY, 10)
    ours = learn_bpe(TOY, 10)
    assert hf_merges(tokenizer) == ours
    for word in ["lowest", "newer", "wider", "slow"]:
        assert tokenizer.encode(word).tokens == apply_bpe(word, ours)


def test_agrees_with_hugging_face_on_random_corpora():
    pytest.importorskip("tokenizers")
    rng = random.Random(1)
    for _ in range(40):
        words = {
            "".join(rng.choice("abcab") for _ in range(rng.randint(1, 7))): rng.randint(1, 5)
            for _ in range(rng.randint(1, 10))
        }
        n = rng.randint(1, 12)
        ours = learn_bpe(words, n)
        tokenizer = hf_bpe_from_words(words, n)
        assert hf_merges(tokenizer) == ours, words
        alphabet = sorted({c for w in words for c in w})
        for _ in range(3):
            word = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 9)))
            assert tokenizer.encode(word).tokens == apply_bpe(word, ours)


def test_train_bpe_tokenizer_round_trip_and_unknown():
    pytest.importorskip("tokenizers")
    text = "the fox and the grapes\nthe fox and the crow\nthe crow and the pitcher\n" * 5
    tokenizer = train_bpe_tokenizer(text.splitlines(), vocab_size=40)
    assert tokenizer.get_vocab_size() == 40
    assert tokenizer.token_to_id("<unk>") == 0
    encoding = tokenizer.encode("the fox and the pitcher")
    assert encoding.tokens[0] == "▁the"
    assert tokenizer.decode(encoding.ids) == "the fox and the pitcher"
    assert tokenizer.encode("fox!").tokens[-1] == "<unk>"  # '!' never seen in training


def test_train_bpe_tokenizer_bad_input():
    pytest.importorskip("tokenizers")
    with pytest.raises(ValueError, match="empty"):
        train_bpe_tokenizer(["", "  "], 100)
    with pytest.raises(ValueError, match="vocab_size"):
        train_bpe_tokenizer("some text", 1)
    with pytest.raises(TypeError, match="str"):
        train_bpe_tokenizer(["ok", 3], 100)
    with pytest.raises(ValueError, match="not a BPE"):
        from tokenizers import Tokenizer, models

        hf_merges(Tokenizer(models.WordLevel({"a": 0}, unk_token="a")))


def test_byte_symbols_cover_every_byte_once() -> None:
    from llmbook.bpe import BYTE_SYMBOLS, byte_token_bytes

    assert sorted(BYTE_SYMBOLS) == list(range(256))
    assert len(set(BYTE_SYMBOLS.values())) == 256
    assert BYTE_SYMBOLS[ord(" ")] == "Ġ" and BYTE_SYMBOLS[ord("\n")] == "Ċ"
    text = "すもも 🦊 café\n"
    assert byte_token_bytes("".join(BYTE_SYMBOLS[b] for b in text.encode())) == text.encode()


def test_byte_token_labels_and_bad_input() -> None:
    from llmbook.bpe import byte_token_label, byte_token_bytes

    assert byte_token_label("ãģĻ") == "す"
    assert byte_token_label("ãģ") == "⟨e3 81⟩"
    with pytest.raises(ValueError, match="not a byte-level token"):
        byte_token_bytes("す")
