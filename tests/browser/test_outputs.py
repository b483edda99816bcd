"""The outputs of the book just built, as a reader sees them: no object reprs
with memory addresses, no absolute paths of the build machine, no library load
reports (``tools/output_checks.py``). Runs after ``make book``, like the
other tests here; it reads the executed notebooks that the build keeps in
``<build>/jupyter_execute/``."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

from conftest import executed_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import output_checks as oc  # noqa: E402  (tools/output_checks.py)


def test_the_build_kept_its_executed_notebooks() -> None:
    executed = list((executed_dir() / "chapters").glob("*.ipynb"))
    assert executed, f"no executed notebooks in {executed_dir()}: run `make book` first"


@pytest.mark.parametrize("ipynb", sorted((executed_dir() / "chapters").glob("*.ipynb")),
                         ids=lambda p: p.stem)
def test_outputs_are_for_readers(ipynb: Path) -> None:
    bad = oc.output_problems(nbformat.read(ipynb, as_version=4))
    assert not bad, f"{ipynb.name}: " + "; ".join(bad)
