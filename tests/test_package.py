"""The package's top level: its docstring, import cost and the quick-mode switch."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import llmbook


def test_importing_llmbook_does_not_import_tensorflow() -> None:
    code = "import sys, llmbook, llmbook.data; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(("value", "expected"), [("1", 5), ("yes", 5), ("0", 100), ("", 100)])
def test_scaled_follows_llmbook_quick(monkeypatch: pytest.MonkeyPatch, value: str, expected: int) -> None:
    monkeypatch.setenv("LLMBOOK_QUICK", value)
    assert llmbook.scaled(100, 5) == expected


def test_scaled_without_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMBOOK_QUICK", raising=False)
    assert not llmbook.is_quick()
    assert llmbook.scaled(100, 5) == 100


@pytest.mark.parametrize(("full", "quick"), [(0, 1), (1, 0), (-3, 2)])
def test_scaled_rejects_non_positive_counts(full: int, quick: int) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        llmbook.scaled(full, quick)


def test_the_package_docstring_names_every_public_module() -> None:
    root = Path(llmbook.__file__).parent
    modules = {p.stem for p in root.glob("*.py") if not p.stem.startswith("_")}
    modules |= {p.parent.name for p in root.glob("*/__init__.py")}
    named = set(re.findall(r"``(\w+)``", llmbook.__doc__ or ""))
    assert modules == named, f"missing from the docstring: {modules - named}; not modules: {named - modules}"
