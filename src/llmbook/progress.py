"""Progress bars that stay readable in the static book.

In a terminal a ``tqdm`` bar redraws itself in place. In an executed notebook
rendered to HTML every redraw is kept as a line of text, so a bar that
refreshes every fraction of a second becomes hundreds of lines. The bars
here redraw a fixed number of times (``lines``, about ten), whatever the
speed of the machine; in Colab they are the usual live bars. A finished bar
is drawn once, when it closes, so the page ends with exactly one line at
100 % (with the final postfix values) rather than two that disagree.

>>> bar = progress_bar(range(100), desc="demo", lines=4, disable=True)
>>> sum(1 for _ in bar)
100
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable
from typing import Any

__all__ = ["progress_bar"]


def progress_bar(iterable: Iterable[Any] | None = None, *, total: int | None = None,
                 desc: str = "", unit: str = "it", lines: int = 10,
                 disable: bool = False) -> Any:
    """A ``tqdm.auto`` bar that redraws about ``lines`` times in all.

    ``total`` defaults to ``len(iterable)`` when the iterable has a length.
    Without a total, the bar redraws at most every 10 seconds instead.
    Postfix values (``bar.set_postfix(..., refresh=False)``) appear with the
    next redraw rather than adding lines of their own.

    Raises:
        ValueError: if ``lines`` is not positive.
    """
    if lines < 1:
        raise ValueError(f"lines must be positive, got {lines}")
    tqdm = _bar_class()

    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    if total:
        # maxinterval=inf stops tqdm's monitor thread from switching to a
        # redraw per step after a slow step (an evaluation, say).
        pacing = dict(miniters=max(1, math.ceil(total / lines)), mininterval=0.0,
                      maxinterval=float("inf"))
    else:
        pacing = dict(mininterval=10.0)
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=disable,
                ncols=80, **pacing)  # fits the width of a code cell in the book


def _bar_class() -> type:
    """``tqdm.auto``'s bar, except that reaching the total does not redraw it.

    ``close()`` draws the finished bar anyway (with the overall rate and the
    latest postfix); a redraw at the last step as well would leave two
    "100%" lines with different numbers in a static page.
    """
    with warnings.catch_warnings():
        # Without ipywidgets (deliberately not installed) tqdm.auto warns and
        # uses a plain-text bar, which is what the static book needs.
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm

    class _Bar(tqdm):  # type: ignore[misc, valid-type]
        def refresh(self, nolock: bool = False, lock_args: Any = None) -> Any:
            if self.total and self.n >= self.total:
                return False  # the close draws the final line
            return super().refresh(nolock=nolock, lock_args=lock_args)

    return _Bar
