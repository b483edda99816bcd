"""llmbook: the helper package imported by every chapter of the book.

One module per idea a reader meets: ``data`` (corpora), ``text``
(standardisation and vocabularies), ``models`` (from-scratch models),
``plots`` (the book's figures). Importing ``llmbook`` never imports
TensorFlow.
"""

from __future__ import annotations

import os
import warnings

# The one place the version is set: pyproject.toml reads it, and the Colab
# set-up cells and buttons use the git tag `v` + this (see README, "Releasing").
__version__ = "0.2.0"

# The book runs in kernels without ipywidgets (its HTML is static), so
# `tqdm.auto` falls back to text progress bars; silence tqdm's advice to
# install ipywidgets, which would otherwise clutter every page.
warnings.filterwarnings("ignore", message="IProgress not found")


def is_quick() -> bool:
    """True when ``LLMBOOK_QUICK`` is set (to anything but ``0``).

    The test suite sets it while it executes the notebooks with nbval, so that
    training loops run the same code with fewer iterations.
    """
    return os.environ.get("LLMBOOK_QUICK", "0") not in {"", "0"}


def scaled(full: int, quick: int) -> int:
    """``full`` normally, ``quick`` under ``LLMBOOK_QUICK`` (for loop sizes).

    >>> from unittest import mock
    >>> with mock.patch.dict("os.environ", {"LLMBOOK_QUICK": "1"}):
    ...     scaled(1000, 10)
    10
    >>> with mock.patch.dict("os.environ", {"LLMBOOK_QUICK": "0"}):
    ...     scaled(1000, 10)
    1000
    """
    if full < 1 or quick < 1:
        raise ValueError(f"iteration counts must be positive, got full={full}, quick={quick}")
    return quick if is_quick() else full
