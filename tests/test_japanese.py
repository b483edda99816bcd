"""Tests of llmbook.japanese: Aozora clean-up and morphological analysis."""

import pytest

import llmbook.japanese as japanese
from llmbook.japanese import (
    AnalyserUnavailableError,
    Morpheme,
    analyse_japanese,
    available_analysers,
    clean_aozora,
    remove_aozora_front_and_back,
    remove_aozora_notes,
    remove_ruby,
    tokenize_japanese,
)

SUMOMO = "すもももももももものうち"
SUMOMO_WORDS = ["すもも", "も", "もも", "も", "もも", "の", "うち"]

AOZORA = (
    "桃太郎\n芥川龍之介\n\n"
    "-------------------------------------------------------\n"
    "【テキスト中に現れる記号について】\n\n《》：ルビ\n（例）桃《もも》\n"
    "-------------------------------------------------------\n\n"
    "［＃８字下げ］一［＃「一」は中見出し］\n\n"
    "　天地｜開闢《かいびゃく》の頃《ころ》おい、大きい桃《もも》の木があった。\n"
    "※［＃「言＋墟のつくり」、第4水準2-88-74］\n\n\n\n"
    "底本：「芥川龍之介全集5」ちくま文庫\n入力：j.utiyama\n"
)


def test_remove_ruby():
    assert remove_ruby("蜘蛛《くも》の巣") == "蜘蛛の巣"
    assert remove_ruby("天地｜開闢《かいびゃく》の頃《ころ》") == "天地開闢の頃"
    assert remove_ruby("何分｜下《しも》ざま") == "何分下ざま"
    assert remove_ruby("ルビのない文。") == "ルビのない文。"
    assert remove_ruby("") == ""


def test_remove_aozora_notes_keeps_placeholder():
    assert remove_aozora_notes("［＃８字下げ］一［＃「一」は中見出し］") == "一"
    assert remove_aozora_notes("同じように、※［＃「言＋墟のつくり」、第4水準2-88-74］") == (
        "同じように、※"
    )


def test_remove_front_and_back_matter():
    out = remove_aozora_front_and_back(AOZORA)
    assert "【テキスト中に現れる記号について】" not in out
    assert "底本" not in out and "入力" not in out
    assert out.startswith("桃太郎\n芥川龍之介\n\n\n［＃８字下げ］")


def test_clean_aozora():
    assert clean_aozora(AOZORA) == (
        "桃太郎\n芥川龍之介\n\n\n一\n\n"
        "　天地開闢の頃おい、大きい桃の木があった。\n※"
    )
    # text that is nothing but annotations cleans to nothing
    assert clean_aozora("《くも》［＃注］") == ""


@pytest.mark.parametrize("function", [remove_ruby, remove_aozora_notes, clean_aozora])
def test_cleaners_reject_non_strings(function):
    with pytest.raises(TypeError, match="str"):
        function(b"bytes")


def test_janome_splits_sumomo():
    assert tokenize_japanese(SUMOMO) == SUMOMO_WORDS
    morphemes = analyse_japanese(SUMOMO, "janome")
    assert morphemes[0] == Morpheme("すもも", "名詞", "すもも", "スモモ")
    assert [m.pos for m in morphemes] == ["名詞", "助詞", "名詞", "助詞", "名詞", "助詞", "名詞"]


def test_fugashi_splits_sumomo():
    if "fugashi" not in available_analysers():
        pytest.skip("fugashi with unidic-lite is not installed")
    assert tokenize_japanese(SUMOMO, analyser="fugashi") == SUMOMO_WORDS
    morphemes = analyse_japanese(SUMOMO, analyser="fugashi")
    assert morphemes[2] == Morpheme("もも", "名詞", "桃", "モモ")  # UniDic lemma is the kanji


@pytest.mark.parametrize("analyser", ["janome", "fugashi"])
def test_whitespace_never_becomes_a_token(analyser):
    if analyser not in available_analysers():
        pytest.skip(f"{analyser} is not installed")
    assert tokenize_japanese("　下人の行方は、\n誰も知らない。 ", analyser) == [
        "下人", "の", "行方", "は", "、", "誰", "も", "知ら", "ない", "。",
    ]


@pytest.mark.parametrize("bad", ["", "  ", "\u3000\n"])
def test_empty_text_is_rejected(bad):
    with pytest.raises(ValueError, match="empty"):
        tokenize_japanese(bad)


def test_text_that_cleans_to_nothing_is_rejected():
    with pytest.raises(ValueError, match="empty"):
        tokenize_japanese(clean_aozora("《くも》"))


def test_bad_analyser_and_type():
    with pytest.raises(ValueError, match="unknown analyser 'mecab'"):
        tokenize_japanese(SUMOMO, analyser="mecab")
    with pytest.raises(TypeError, match="str"):
        tokenize_japanese(["すもも"])  # type: ignore[arg-type]


def test_missing_analyser_gives_install_hint(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name.startswith("fugashi"):
            raise ImportError("No module named 'fugashi'")
        return real_import(name, *args, **kwargs)

    japanese._analyser.cache_clear()
    monkeypatch.setattr(builtins, "__import__", fake_import)
    try:
        with pytest.raises(AnalyserUnavailableError, match="pip install fugashi unidic-lite"):
            tokenize_japanese(SUMOMO, analyser="fugashi")
        assert "fugashi" not in available_analysers()
    finally:
        monkeypatch.undo()
        japanese._analyser.cache_clear()
