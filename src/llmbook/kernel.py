"""Settings a chapter changes for the whole kernel, undone at the chapter's end.

A few settings are not local to a cell but belong to the Python process: how
many CPU threads PyTorch uses, Matplotlib's ``rcParams`` (the book's figure
style, a font that can draw Japanese), pandas' display options, and whether
the Hugging Face libraries draw download progress bars. A chapter that
changes them and leaves them changed alters whatever runs next in the same
kernel: a reader's own cells, or the next chapter, which would then draw its
figures in another font or run its arithmetic on another number of threads.

So a chapter opens its settings in its first code cell, with
:func:`chapter_settings`, and its last code cell calls
:meth:`KernelSettings.restore`; a block of code that needs a setting for a
moment uses :class:`KernelSettings` as a context manager:

>>> import torch
>>> before = torch.get_num_threads()
>>> with KernelSettings(threads=1):
...     torch.get_num_threads()
1
>>> torch.get_num_threads() == before
True

The snapshot covers every Matplotlib setting, so the figure style a chapter
applies after opening its settings is undone too -- all but ``backend`` and
``interactive``, which belong to the notebook front end (Jupyter switches
``interactive`` on at the first figure; switching it off again would stop
later cells from showing their figures).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any

import matplotlib as mpl
import torch

__all__ = ["KernelSettings", "chapter_settings"]


class KernelSettings:
    """A snapshot of the kernel-wide settings, some of them changed, and the way back.

    Creating it records the current thread count and Matplotlib settings and
    applies the arguments; :meth:`apply` changes more later;
    :meth:`restore` puts back everything as it was at creation (calling it
    again does nothing).

    Args:
        threads: ``torch.set_num_threads(threads)``.
        pandas: pandas options to set, ``{"display.max_colwidth": None}``.
        hub_progress_bars: ``False`` hides the download and loading progress
            bars of ``transformers`` and ``huggingface_hub``.
        dataset_progress_bars: ``False`` hides the progress bars that the
            ``datasets`` library draws while it maps or filters a data set
            (``trl`` tokenizes with it).

    Raises:
        ValueError: for a thread count that is not a positive integer.
    """

    def __init__(self, *, threads: int | None = None, pandas: Mapping[str, Any] | None = None,
                 hub_progress_bars: bool | None = None, dataset_progress_bars: bool | None = None) -> None:
        self._threads = torch.get_num_threads()
        self._rc = _rc_snapshot()
        self._pandas: dict[str, Any] = {}
        self._hub: tuple[bool, bool] | None = None
        self._datasets: bool | None = None
        self.restored = False
        self.apply(threads=threads, pandas=pandas, hub_progress_bars=hub_progress_bars,
                   dataset_progress_bars=dataset_progress_bars)

    def apply(self, *, threads: int | None = None, pandas: Mapping[str, Any] | None = None,
              hub_progress_bars: bool | None = None, dataset_progress_bars: bool | None = None) -> None:
        """Change settings (``None`` leaves one alone); :meth:`restore` undoes them."""
        if threads is not None:
            if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
                raise ValueError(f"threads must be a positive integer, got {threads!r}")
            torch.set_num_threads(threads)
        if pandas:
            # pandas and transformers are imported only when asked for: llmbook
            # itself does not depend on them (they come with `llmbook[colab]`).
            import pandas as pd

            for key, value in pandas.items():
                self._pandas.setdefault(key, pd.get_option(key))
                pd.set_option(key, value)
        if hub_progress_bars is not None:
            if self._hub is None:
                self._hub = _hub_progress_bars()
            _set_hub_progress_bars(hub_progress_bars, hub_progress_bars)
        if dataset_progress_bars is not None:
            import datasets  # only when asked for, like pandas and transformers

            if self._datasets is None:
                self._datasets = datasets.is_progress_bar_enabled()
            _set_dataset_progress_bars(dataset_progress_bars)
        self.restored = False

    def restore(self) -> None:
        """Put every setting back as it was when this object was created."""
        if self.restored:
            return
        if torch.get_num_threads() != self._threads:
            torch.set_num_threads(self._threads)
        changed = {key: value for key, value in self._rc.items() if mpl.rcParams[key] != value}
        mpl.rcParams.update(changed)
        if self._pandas:
            import pandas as pd

            for key, value in self._pandas.items():
                pd.set_option(key, value)
        if self._hub is not None:
            _set_hub_progress_bars(*self._hub)
        if self._datasets is not None:
            _set_dataset_progress_bars(self._datasets)
        self.restored = True

    def __enter__(self) -> KernelSettings:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.restore()


_open_chapter: KernelSettings | None = None


def chapter_settings(*, threads: int | None = None, pandas: Mapping[str, Any] | None = None,
                     hub_progress_bars: bool | None = None) -> KernelSettings:
    """Open a chapter's settings (see :class:`KernelSettings`); its last cell restores them.

    Settings of an earlier chapter that were never restored (a chapter left
    half-way, or this chapter's first cell run twice) are restored first, so
    the snapshot is always of the kernel as the chapter found it.
    """
    global _open_chapter
    if _open_chapter is not None:
        _open_chapter.restore()
    _open_chapter = KernelSettings(threads=threads, pandas=pandas, hub_progress_bars=hub_progress_bars)
    return _open_chapter


#: Matplotlib settings of the front end rather than of the figures: never restored.
_FRONT_END_RC = ("backend", "interactive")


def _rc_snapshot() -> dict[str, Any]:
    """Every Matplotlib setting but those of :data:`_FRONT_END_RC`."""
    return {key: value for key, value in mpl.rcParams.copy().items() if key not in _FRONT_END_RC}


def _hub_progress_bars() -> tuple[bool, bool]:
    """Whether ``transformers`` and ``huggingface_hub`` draw their progress bars."""
    from huggingface_hub import utils as hub_utils
    from transformers.utils import logging as hf_logging

    return hf_logging.is_progress_bar_enabled(), not hub_utils.are_progress_bars_disabled()


def _set_hub_progress_bars(transformers_on: bool, hub_on: bool) -> None:
    from huggingface_hub import utils as hub_utils
    from transformers.utils import logging as hf_logging

    if hf_logging.is_progress_bar_enabled() != transformers_on:
        # transformers switches the hub's bars along with its own.
        (hf_logging.enable_progress_bar if transformers_on else hf_logging.disable_progress_bar)()
    if hub_utils.are_progress_bars_disabled() == hub_on:
        (hub_utils.enable_progress_bars if hub_on else hub_utils.disable_progress_bars)()


def _set_dataset_progress_bars(on: bool) -> None:
    import datasets

    if datasets.is_progress_bar_enabled() != on:
        (datasets.enable_progress_bars if on else datasets.disable_progress_bars)()
