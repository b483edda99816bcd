"""pytest's run of the docstring examples in ``src/llmbook`` (``--doctest-modules``).

Only the TensorFlow module needs TensorFlow: where it is absent (Colab has
it; a minimal install does not), that module's examples are skipped rather
than failing to import. Each example runs with the random state it found and
leaves it as it was, so an example that seeds ``torch`` cannot change what
runs after it.
"""

from __future__ import annotations

import importlib.util
import random
from collections.abc import Iterator

import numpy as np
import pytest
import torch

collect_ignore = [] if importlib.util.find_spec("tensorflow") else ["llmbook/keras_models.py"]


@pytest.fixture(autouse=True)
def _keep_random_state() -> Iterator[None]:
    python_state, numpy_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        yield
    random.setstate(python_state)
    np.random.set_state(numpy_state)
