"""llmbook: the helper package imported by every chapter of the book.

One module per idea a reader meets: ``data`` (corpora), ``text``
(standardisation and vocabularies), ``models`` (from-scratch models),
``plots`` (the book's figures). Importing ``llmbook`` never imports
TensorFlow.
"""

__version__ = "0.1.0"
