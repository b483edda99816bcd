"""The book's progress bars redraw a fixed number of times, however fast the loop is."""

from __future__ import annotations

import pytest

from llmbook.progress import progress_bar


def redraws(text: str) -> int:
    return text.count("\r")


def test_redraws_about_lines_times(capsys: pytest.CaptureFixture[str]) -> None:
    for _ in progress_bar(range(1000), desc="quick", lines=10):
        pass
    err = capsys.readouterr().err
    assert "1000/1000" in err
    assert 10 <= redraws(err) <= 13  # the first draw, ten updates, the close


def test_without_a_total_it_still_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert sum(1 for _ in progress_bar(iter(range(5)), desc="gen")) == 5


def test_lines_must_be_positive() -> None:
    with pytest.raises(ValueError, match="lines must be positive"):
        progress_bar(range(3), lines=0)
