"""llmbook: the helper package imported by every chapter of the book.

One module per idea a reader meets, roughly in the order of the book:

- ``data``: the corpora (pinned, verified, offline first);
- ``text``: standardisation, word tokens, vocabularies and windows;
- ``japanese``: cleaning Japanese text and splitting it into words;
- ``bpe``: byte-pair encoding from scratch;
- ``nn_basics``: neurons, activations, a loss surface, gradient checks;
- ``batches``: training batches cut from a long sequence of token ids;
- ``train``: one training loop for every PyTorch model;
- ``models``: the models built from scratch (n-grams, first neural models,
  word2vec, RNN and LSTM, attention, the Transformer, GPT, BERT);
- ``keras_models``: the TensorFlow/Keras reproductions;
- ``sampling``: temperature, greedy, top-k, top-p and generation;
- ``pretrained``: real pretrained models, offline and from the hub.

Around them, the tools the chapters use:

- ``devices``: the device a model runs on (CPU, CUDA, MPS) and its number format;
- ``plots``: the book's figure style and figures of what the reader computes;
- ``attention_plots``: attention weights as heatmaps and lines;
- ``widgets``: interactive figures that work in the static HTML book;
- ``progress``: progress bars that stay readable in the book;
- ``source``: showing a helper's source code in a chapter;
- ``doctor``: checking that a machine is ready to run the book;
- ``checkpoints``: trained weights shipped with the book (data, no code).

``illustrations`` holds what serves a single chapter's story (the history
timeline, architecture diagrams, the dates task), apart from the ideas above.
Importing the package never imports TensorFlow.
"""

from __future__ import annotations

import os
import warnings

__version__ = "0.1.0"

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

    >>> scaled(1000, 10) if not is_quick() else 1000
    1000
    """
    if full < 1 or quick < 1:
        raise ValueError(f"iteration counts must be positive, got full={full}, quick={quick}")
    return quick if is_quick() else full
