"""llmbook.source: a helper's code shown in a chapter, whole or trimmed."""

from __future__ import annotations


import pytest

from llmbook.source import show_source, source_text


def example(x: int) -> int:
    """A docstring
    over two lines."""
    y = x + 1
    z = y * 2
    return z


def test_whole_source() -> None:
    text = source_text(example)
    assert text.startswith("def example(x: int) -> int:\n    \"\"\"A docstring")
    assert text.endswith("    return z\n")


def test_without_docstring() -> None:
    assert source_text(example, docstring=False) == (
        "def example(x: int) -> int:\n    ...\n    y = x + 1\n    z = y * 2\n    return z\n")


def test_start_and_stop() -> None:
    assert source_text(example, start="z =", stop="return") == (
        "def example(x: int) -> int:\n    ...\n    z = y * 2\n")


def test_missing_marker_is_an_error() -> None:
    with pytest.raises(ValueError, match="'nowhere' does not occur in the body of example"):
        source_text(example, start="nowhere")
    with pytest.raises(ValueError, match="does not occur"):
        source_text(example, stop="nowhere")


def test_show_source_displays_highlighted_code(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = []
    monkeypatch.setattr("IPython.display.display", shown.append)
    show_source(example, docstring=False)
    assert len(shown) == 1 and shown[0].data == source_text(example, docstring=False)
