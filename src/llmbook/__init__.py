"""llmbook: the helper package imported by every chapter of the book.

One module per idea a reader meets, roughly in the order of the book:

- ``data``: the corpora (pinned, verified, offline first);
- ``text``: standardisation, word tokens, vocabularies and windows;
- ``japanese``: cleaning Japanese text and splitting it into words;
- ``bpe``: byte-pair encoding from scratch;
- ``nn_basics``: neurons, activations, a loss surface, gradient checks;
- ``batches``: training batches cut from a long sequence of token ids;
- ``train``: one training contract for every PyTorch model;
- ``gpt_train``: nanoGPT's training loop for the GPT, on the same pieces;
- ``optim``: Muon, an optimiser that orthogonalises each matrix's update;
- ``models``: the models built from scratch (n-grams, first neural models,
  word2vec, RNN and LSTM, attention, the Transformer, GPT, BERT);
- ``keras_models``: the TensorFlow/Keras reproductions;
- ``sampling``: temperature, greedy, top-k, top-p and generation;
- ``pretrained``: real pretrained models, offline and from the hub.
- ``lora``: low-rank adapters for fine-tuning, from scratch;
- ``sft``: supervised instruction tuning (chat template, response-only labels);
- ``dpo``: preference tuning (DPO loss, a Bradley–Terry reward model, best-of-n);
- ``evaluation``: scoring language models (bits per character, multiple choice);
- ``distributed``: data parallelism across processes, from scratch and with DDP;
- ``scaling``: training memory arithmetic, power-law fits, scaling families.

Around them, the tools the chapters use:

- ``devices``: the device a model runs on (CPU, CUDA, MPS) and its number format;
- ``plots``: the book's figure style and figures of what the reader computes;
- ``attention_plots``: attention weights as heatmaps and lines;
- ``attention_diagrams``: how attention computes, drawn step by step;
- ``widgets``: interactive figures that work in the static HTML book;
- ``progress``: progress bars that stay readable in the book;
- ``source``: showing a helper's source code in a chapter;
- ``doctor``: checking that a machine is ready to run the book;
- ``kernel``: settings a chapter changes for the kernel, undone at its end;
- ``checkpoints``: trained weights shipped with the book (data, no code);
- ``results``: benchmark results shipped with the book (data, no code).

``illustrations`` holds what serves a single chapter's story (the history
timeline, architecture diagrams, the dates task), apart from the ideas above.
Importing the package never imports TensorFlow.
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
