"""The Japanese edition (``tools/i18n.py``): complete, undamaged catalogues
and Japanese Colab notebooks in sync with the English pairs.

That the catalogues hold every message the English pages have *now* is
checked after the book is built (``tools/i18n.py check --extracted`` in
``make test``), because figure captions live in the executed outputs."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from babel.messages.catalog import Catalog

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import i18n  # noqa: E402  (tools/i18n.py)

PAGES = i18n.pages()
CHAPTERS = [p for p in PAGES if (ROOT / f"{p}.ipynb").exists()]


@pytest.mark.parametrize("page", PAGES)
def test_every_message_is_translated_and_keeps_its_markup(page: str) -> None:
    found = i18n.problems(page)
    assert not found, f"{len(found)} problem(s) in {i18n.catalogue_path(page).relative_to(ROOT)}:\n" + "\n".join(
        map(str, found[:20]))


def _catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entries: list[tuple[str, str, bool]]) -> str:
    monkeypatch.setattr(i18n, "CATALOGUES", tmp_path)
    catalogue = Catalog(locale="ja")
    for english, japanese, fuzzy in entries:
        catalogue.add(english, japanese, flags=["fuzzy"] if fuzzy else [])
    i18n.write(catalogue, tmp_path / "page.po")
    return "page"


GOOD = [
    ("A {term}`head <attention head>` of width $d_k$.", "幅 $d_k$ の{term}`ヘッド <attention head>`です。"),
    ("The loss was {glue:text}`ch11_val:.3f` (see {numref}`fig-ch11-loss`).",
     "損失は {glue:text}`ch11_val:.3f` でした（{numref}`fig-ch11-loss` を参照）。"),
    ("Call `generate()` as in [the docs](https://example.org/x) {cite:p}`a2020,b2021`.",
     "[ドキュメント](https://example.org/x)のとおり `generate()` を呼びます {cite:p}`a2020,b2021`。"),
    ("Uses {term}`Attention`.", "{term}`アテンション <attention>` を使います。"),
    ("See {numref}`Figure %s <fig-x>`.", "{numref}`図 %s <fig-x>` を見てください。"),
]

BROKEN = [
    # a role dropped, a glue key or format changed, math altered, a link target changed,
    # a term's target translated, code changed, a citation key dropped
    ("A {term}`head <attention head>` of width $d_k$.", "幅 $d_k$ のヘッドです。"),
    ("The loss was {glue:text}`ch11_val:.3f`.", "損失は {glue:text}`ch11_val:.2f` でした。"),
    ("The loss was {glue:text}`ch11_val:.3f`.", "損失は {glue:text}`ch11_loss:.3f` でした。"),
    ("Width $d_k$.", "幅 $d_v$。"),
    ("Read [the docs](https://example.org/x).", "[ドキュメント](https://example.org/y)を読みます。"),
    ("Uses {term}`Attention`.", "{term}`アテンション`を使います。"),
    ("Call `generate()`.", "`generate` を呼びます。"),
    ("As shown {cite:p}`a2020,b2021`.", "示されたとおりです {cite:p}`a2020`。"),
    ("Math $$x^2$$ here.", "ここに $$x^3$$。"),
    ("See {numref}`fig-x`.", "{numref}`fig-y` を見てください。"),
]


@pytest.mark.parametrize(("english", "japanese"), GOOD)
def test_a_faithful_translation_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       english: str, japanese: str) -> None:
    page = _catalogue(tmp_path, monkeypatch, [(english, japanese, False)])
    assert i18n.problems(page) == []


@pytest.mark.parametrize(("english", "japanese"), BROKEN)
def test_damaged_markup_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  english: str, japanese: str) -> None:
    page = _catalogue(tmp_path, monkeypatch, [(english, japanese, False)])
    assert [p.kind for p in i18n.problems(page)] == ["markup differs"]


def test_untranslated_and_fuzzy_messages_are_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = _catalogue(tmp_path, monkeypatch, [("One.", "", False), ("Two.", "二。", True), ("Three.", "三。", False)])
    assert [(p.kind, p.msgid) for p in i18n.problems(page)] == [("untranslated", "One."), ("fuzzy", "Two.")]


def test_fill_sets_numbered_translations_and_clears_fuzzy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = _catalogue(tmp_path, monkeypatch, [("One $x$.", "", False), ("Two.", "二つ。", True)])
    source = tmp_path / "t.yml"
    source.write_text("0: |-\n  一つ $x$。\n1: 二。\n", encoding="utf-8")
    assert i18n.fill(page, source) == 2
    assert [(m.string, m.fuzzy) for m in i18n.read(tmp_path / "page.po") if m.id] == [("一つ $x$。", False),
                                                                                   ("二。", False)]


def test_prose_detection() -> None:
    assert i18n.has_prose("The loss $L$ falls.")
    assert not i18n.has_prose("\nh_t = f(h_{t-1}, x_t)\n")
    assert not i18n.has_prose("`llmbook.train.fit`")
    assert not i18n.has_prose("{numref}`fig-ch09-flow`")


def test_japanese_build_configuration() -> None:
    config = yaml.safe_load(i18n.write_config("ja").read_text(encoding="utf-8"))
    options = config["sphinx"]["config"]
    assert options["language"] == "ja" and options["llmbook_language"] == "ja"
    assert Path(options["locale_dirs"][0]) == i18n.LOCALES
    assert options["gettext_compact"] is False
    assert config["execute"]["execute_notebooks"] == "cache"  # reuse the English execution
    assert config["repository"]["path_to_book"] == "locales/ja/notebooks"
    assert config["title"] == i18n.JA_TITLE


def test_blocks_keep_fences_whole() -> None:
    text = "# Title\n\nOne\nparagraph.\n\n:::{note}\nInside.\n\nTwo.\n:::\n- a\n- b"
    blocks = [b for b in i18n._blocks(text) if b]
    assert blocks == ["# Title", "One\nparagraph.", ":::{note}\nInside.\n\nTwo.\n:::", "- a\n- b"]
    assert "\n".join(i18n._blocks(text)) == text  # nothing lost or added


def test_translate_block() -> None:
    table = {"Title": "題", "One paragraph.": "一段落。", "Inside.": "中。", "a": "あ", "b": "い"}
    assert i18n.translate_block("# Title", table) == "# 題"
    assert i18n.translate_block("One\nparagraph.", table) == "一段落。"
    assert i18n.translate_block("- a\n- b", table) == "- あ\n- い"
    assert i18n.translate_block(":::{note}\nInside.\n:::", table) == ":::{note}\n中。\n:::"
    assert i18n.translate_block("Not in the table.", table) == "Not in the table."


@pytest.mark.parametrize("page", CHAPTERS)
def test_japanese_notebook_is_in_sync(page: str) -> None:
    path = i18n.notebook_path(page)
    assert path.is_file(), f"{path.relative_to(ROOT)} is missing: run `make sync`"
    assert path.read_text(encoding="utf-8") == nbformat.writes(i18n.japanese_notebook(page)) + "\n", (
        f"{path.relative_to(ROOT)} is out of date: run `make sync`")
    english = nbformat.read(ROOT / f"{page}.ipynb", as_version=4)
    japanese = nbformat.read(path, as_version=4)
    assert [c.cell_type for c in japanese.cells] == [c.cell_type for c in english.cells]
    for mine, theirs in zip(japanese.cells, english.cells, strict=True):
        if mine.cell_type == "code":
            assert (mine.source, mine.metadata) == (theirs.source, theirs.metadata), "code cells must be identical"


@pytest.mark.parametrize("page", CHAPTERS)
def test_japanese_notebook_prose_is_translated(page: str) -> None:
    left = i18n.untranslated_blocks(page)
    assert not left, f"{page}: {len(left)} markdown block(s) of the Colab notebook stay English:\n" + "\n---\n".join(
        left[:5])


def test_equations_stay_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    equation = "\n\\text{bits per character} = \\frac{\\mathrm{NLL}}{N \\ln 2}.\n"
    assert i18n.is_display_math(equation) and not i18n.has_prose(equation)
    page = _catalogue(tmp_path, monkeypatch, [(equation, equation.replace("bits per character", "文字あたりビット数"),
                                               False)])
    assert [p.kind for p in i18n.problems(page)] == ["equation changed"]
    page = _catalogue(tmp_path, monkeypatch, [(equation, equation, False)])
    assert i18n.problems(page) == []


def test_japanese_toc_has_japanese_part_captions() -> None:
    i18n.write_config("ja")
    toc = yaml.safe_load((i18n.BUILD / "_toc.ja.yml").read_text(encoding="utf-8"))
    english = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    table = i18n.translations(english["root"])
    assert [p["caption"] for p in toc["parts"]] == [table[p["caption"]] for p in english["parts"]]
    assert [p["chapters"] for p in toc["parts"]] == [p["chapters"] for p in english["parts"]]


def test_stale_messages_are_those_with_prose(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A changed sentence is stale; a changed code listing or equation is not
    (the Japanese build shows their English either way)."""
    from babel.messages.pofile import write_po

    page = _catalogue(tmp_path, monkeypatch, [("Old sentence.", "古い文。", False),
                                              ("\\begin{Verbatim}\nold()\n\\end{Verbatim}", "", False),
                                              ("\nx^2\n", "\nx^2\n", False)])
    template = Catalog()
    for english in ("New sentence.", "\\begin{Verbatim}\nnew()\n\\end{Verbatim}", "\nx^3\n"):
        template.add(english, "")
    monkeypatch.setattr(i18n, "POT_DIR", tmp_path / "pot")
    (tmp_path / "pot").mkdir()
    with (tmp_path / "pot" / f"{page}.pot").open("wb") as handle:
        write_po(handle, template)
    assert [(p.kind.split(" (")[0], p.msgid) for p in i18n.stale(page)] == [
        ("not in the catalogue", "New sentence."), ("no longer in the English", "Old sentence.")]
