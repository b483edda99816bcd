"""Two chapters run one after the other in ONE kernel give what each gives alone.

Chapters change settings that belong to the whole kernel (threads, Matplotlib
style and fonts, pandas options, progress bars) and must put them back at
their end (``llmbook.kernel``). Here the notebooks are executed as a reader
would run them in a single Jupyter kernel (``LLMBOOK_QUICK=1``): a probe cell
records those settings before and after the first chapter, a reader's cell
after it must still show its figure, and the second chapter's outputs,
figures included, are compared with a run of that chapter in a fresh kernel
(the two kernels run at the same time). 40 to 100 s on 2 shared, busy cores.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"

#: Two short chapters: the first runs PyTorch on one thread, hides the hub's
#: loading bars, switches Matplotlib to a font that can draw Japanese and
#: applies the book's style; the second draws figures with Latin text, which
#: would come out differently in a leaked font.
FIRST, SECOND = "09_attention", "02_preprocessing"

PROBE = '''\
import json as _json, sys as _sys
import matplotlib as _mpl, pandas as _pd, torch as _torch
_state = {"threads": _torch.get_num_threads(),
          "rcParams": {k: repr(v) for k, v in sorted(_mpl.rcParams.items())
                       if k not in ("backend", "interactive")},  # the front end's, see llmbook.kernel
          "pandas": {k: repr(_pd.get_option(k)) for k in
                     ("display.max_colwidth", "display.max_rows", "display.max_columns", "display.width")},
          "transformers_bars": True}  # on, as a first import of transformers leaves them
if "transformers" in _sys.modules:
    from transformers.utils import logging as _hf_logging
    _state["transformers_bars"] = _hf_logging.is_progress_bar_enabled()
print(_json.dumps(_state))'''


def probe_cell(index: int) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(PROBE, metadata={"tags": ["probe"]})
    cell.id = f"probe-{index}"
    return cell


#: A reader's own cell after a chapter: its figure must still be shown.
READER_FIGURE = "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.plot([0, 1]);"


def one_kernel_notebook(chapters: list[str]) -> nbformat.NotebookNode:
    """The chapters' notebooks one after another, with a probe cell before the
    first and after each, and a reader's figure after each; every chapter
    cell's metadata names its chapter."""
    cells = [probe_cell(0)]
    for index, name in enumerate(chapters, start=1):
        nb = nbformat.read(CHAPTERS / f"{name}.ipynb", as_version=4)
        for cell in nb.cells:
            cell.metadata["chapter"] = name
            cell.id = f"{name}-{cell.id}"  # ids stay unique in the combined notebook
        reader = nbformat.v4.new_code_cell(READER_FIGURE, metadata={"tags": ["reader"]})
        reader.id = f"reader-{index}"
        cells += nb.cells + [probe_cell(index), reader]
    return nbformat.v4.new_notebook(cells=cells, metadata=nb.metadata)


def execute(*notebooks: nbformat.NotebookNode, timeout: int = 600) -> None:
    """Run each notebook in its own fresh kernel, all at the same time."""
    async def run_all() -> None:
        await asyncio.gather(*(
            NotebookClient(nb, timeout=timeout, kernel_name="python3",
                           resources={"metadata": {"path": str(CHAPTERS)}}).async_execute()
            for nb in notebooks))

    asyncio.run(run_all())


def probes(nb: nbformat.NotebookNode) -> list[dict]:
    return [json.loads(c.outputs[0]["text"]) for c in nb.cells if "probe" in c.metadata.get("tags", [])]


#: What differs between any two runs: object addresses in reprs and the random
#: ids pandas gives a styled table's HTML elements.
RUN_TO_RUN = [(re.compile(r"0x[0-9a-f]{6,}"), "0x..."), (re.compile(r"\bT_[0-9a-f]{5}"), "T_...")]


def chapter_outputs(nb: nbformat.NotebookNode, name: str) -> list[tuple[str, str]]:
    """``(source, outputs as JSON)`` of every code cell of chapter ``name``,
    without execution counts and run-to-run noise."""
    result = []
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.metadata.get("chapter") == name:
            outputs: list[dict] = []
            for out in cell.outputs:
                out = {k: v for k, v in out.items() if k != "execution_count"}
                previous = outputs[-1] if outputs else {}
                if out["output_type"] == previous.get("output_type") == "stream" and out["name"] == previous["name"]:
                    previous["text"] += out["text"]  # how a printout is cut into messages varies
                else:
                    outputs.append(out)
            text = json.dumps(outputs, sort_keys=True)
            for pattern, replacement in RUN_TO_RUN:
                text = pattern.sub(replacement, text)
            result.append((cell.source, text))
    return result


def test_two_chapters_in_one_kernel_match_each_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMBOOK_QUICK", "1")  # the kernels inherit it
    together, alone = one_kernel_notebook([FIRST, SECOND]), one_kernel_notebook([SECOND])
    execute(together, alone)
    before, after_first, after_second = probes(together)
    assert after_first == before, f"{FIRST} left kernel-wide settings changed: " + ", ".join(
        sorted(k for k in before["rcParams"] if before["rcParams"][k] != after_first["rcParams"].get(k))
        + [k for k in ("threads", "pandas", "transformers_bars") if before.get(k) != after_first.get(k)])
    assert after_second == probes(alone)[-1]
    for cell in together.cells:
        if "reader" in cell.metadata.get("tags", []):
            assert any("image/png" in out.get("data", {}) for out in cell.outputs), (
                "a figure drawn after a chapter is not shown")
    ours, theirs = chapter_outputs(together, SECOND), chapter_outputs(alone, SECOND)
    assert len(ours) == len(theirs) > 10
    for (source, got), (_, expected) in zip(ours, theirs):
        assert got == expected, f"{SECOND}: a cell's output differs after {FIRST} ran in the same kernel:\n{source[:300]}"
