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
    assert 10 <= redraws(err) <= 12  # the first draw, nine updates, the close


def test_without_a_total_it_still_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert sum(1 for _ in progress_bar(iter(range(5)), desc="gen")) == 5


def test_lines_must_be_positive() -> None:
    with pytest.raises(ValueError, match="lines must be positive"):
        progress_bar(range(3), lines=0)


@pytest.mark.parametrize("n", [7, 100, 1000])
def test_a_finished_bar_has_exactly_one_final_line(n: int, capsys: pytest.CaptureFixture[str]) -> None:
    for _ in progress_bar(range(n), desc="done", lines=10):
        pass
    err = capsys.readouterr().err
    assert err.count("100%") == 1, err
    assert err.count(f"{n}/{n}") == 1


def test_the_final_line_shows_the_last_postfix(capsys: pytest.CaptureFixture[str]) -> None:
    bar = progress_bar(total=20, desc="manual", lines=4)
    for i in range(20):
        bar.update(1)
        bar.set_postfix(step=i, refresh=False)
    bar.close()
    final = [line for line in capsys.readouterr().err.split("\r") if "100%" in line]
    assert len(final) == 1 and "step=19" in final[0], final
