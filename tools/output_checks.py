"""What a reader must not meet in a chapter: checks on its text and on its outputs.

Each function returns a list of problems, one readable sentence each (empty:
fine). ``tests/test_chapters.py`` runs the text checks on every chapter source
and the output checks on the executed notebooks of the last book build;
``tests/browser/test_outputs.py`` runs the output checks after ``make book``.

* :func:`source_labels` -- the source material's section labels ("S" and a
  digit from 1 to 5, used only by the digest of the course) in prose or code;
* :func:`typed_references` -- exercise, figure or section numbers typed in
  prose: the book numbers them across chapters, so a typed number goes stale;
  use ``{ref}``/``{numref}`` with a label;
* :func:`typed_durations` -- a measured time typed in prose ("in about four
  minutes") in a chapter that glues its timings: the glued value is the one
  the output shows;
* :func:`output_problems` -- object reprs with memory addresses
  (``<torch._C.Generator at 0x...>``), absolute paths of the machine that ran
  the chapter, and library load reports, in the outputs of an executed notebook.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

__all__ = ["source_labels", "python_words", "chapter_words", "typed_references", "typed_durations", "timing_glues",
           "output_problems", "executed_notebooks"]

SOURCE_LABEL = re.compile(r"\bS[1-5]\b")

# "exercise 2", "Figure 3", "section 4.1" -- but not "Table 2 of the paper".
TYPED_REFERENCE = re.compile(
    r"\b(?:[Ee]xercises?|[Ff]igures?|[Ss]ections?)\s+\d+(?:\.\d+)*\b(?!\s+of\b)"
    r"|\b(?:first|second|third|fourth|fifth|last|next|previous|final)\s+exercise\b", re.I)

_NUMBER = (r"\d+(?:\.\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
           r"fifteen|twenty|thirty|forty|fifty|sixty|ninety|a hundred|half an?")
TYPED_DURATION = re.compile(rf"\b(?:{_NUMBER})(?:\s+|\s*-\s*)(?:seconds?|minutes?|hours?)\b", re.I)
TIMING_GLUE = re.compile(r"""\bglue\(\s*f?["'](\w*(?:seconds|minutes|_time)\w*)["']""")

GLUE_ROLE = re.compile(r"\{glue(?::\w+)?\}`[^`]*`")
INLINE_CODE = re.compile(r"`[^`\n]*`")

ADDRESS = re.compile(r"\bat 0x[0-9a-fA-F]{6,}\b")
ABSOLUTE_PATH = re.compile(
    r"(?<![\w.~$<>/-])(?:/(?:home|root|Users|tmp|work|private|var/folders|opt|usr/local|usr/lib|mnt|srv)/"
    r"|[A-Za-z]:\\(?:Users|Windows|Program Files)\\)")
LOAD_REPORT = re.compile(r"LOAD REPORT")
_SCRIPT = re.compile(r"<script\b.*?</script>", re.S | re.I)
_DATA_URI = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+")


def _prose(nb: Any) -> list[str]:
    """The markdown cells of a notebook, without inline code and glue roles."""
    return [INLINE_CODE.sub(" ", GLUE_ROLE.sub(" ", cell.source))
            for cell in nb.cells if cell.cell_type == "markdown"]


def source_labels(text: str) -> list[str]:
    """Lines of ``text`` that use a source label (S and a digit 1-5)."""
    return [line.strip() for line in text.splitlines() if SOURCE_LABEL.search(line)]


def python_words(source: str) -> str:
    """The comments and string literals of Python ``source``: its words for a reader.

    A variable named like a label (S and a digit) is code; the same label in a
    docstring or comment is prose a reader meets.
    """
    import io
    import tokenize

    kinds = {tokenize.COMMENT, tokenize.STRING}
    kinds |= {getattr(tokenize, name) for name in ("FSTRING_MIDDLE",) if hasattr(tokenize, name)}
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return source  # not valid Python: check all of it
    return "\n".join(tok.string for tok in tokens if tok.type in kinds)


def chapter_words(nb: Any) -> str:
    """The prose of a chapter plus the comments and strings of its code cells."""
    return "\n".join(cell.source if cell.cell_type != "code" else python_words(cell.source)
                     for cell in nb.cells)


def typed_references(nb: Any) -> list[str]:
    """Exercise/figure/section numbers typed in the prose of ``nb``."""
    return [m.group(0) for text in _prose(nb) for m in TYPED_REFERENCE.finditer(text)]


def timing_glues(nb: Any) -> list[str]:
    """Names of the glued values of ``nb`` that are times (``..._seconds``, ``..._minutes``)."""
    return [name for cell in nb.cells if cell.cell_type == "code"
            for name in TIMING_GLUE.findall(cell.source)]


def typed_durations(nb: Any) -> list[str]:
    """Durations typed in the prose of ``nb``, if ``nb`` glues any timing.

    "A few minutes" and "a minute" are not measurements and pass.
    """
    if not timing_glues(nb):
        return []
    return [m.group(0) for text in _prose(nb) for m in TYPED_DURATION.finditer(text)]


#: The order in which MyST-NB picks one representation of a rich output for
#: HTML (its ``nb_mime_priority_overrides`` default): only that one is shown.
MIME_PRIORITY = ("application/vnd.jupyter.widget-view+json", "application/javascript",
                 "text/html", "image/svg+xml", "image/png", "image/jpeg", "text/markdown",
                 "text/latex", "text/plain")


def _output_texts(nb: Any) -> list[tuple[int, str]]:
    """(cell index, text) of every output a reader sees, scripts and data URIs removed.

    For a rich output that is the representation the book renders (a pandas
    Styler's HTML table, not its ``<... at 0x...>`` plain-text fallback).
    """
    texts = []
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "stream":
                texts.append((index, out.get("text", "")))
            elif out.get("output_type") == "error":
                texts.append((index, "\n".join(out.get("traceback", []))))
            data = out.get("data", {})
            shown = next((mime for mime in MIME_PRIORITY if mime in data), None)
            if shown is not None and shown.startswith("text/"):
                value = data[shown] if isinstance(data[shown], str) else "".join(data[shown])
                texts.append((index, _DATA_URI.sub(" ", _SCRIPT.sub(" ", value))))
    return texts


def output_problems(nb: Any) -> list[str]:
    """Reprs with addresses, absolute machine paths and load reports in ``nb``'s outputs."""
    problems = []
    for index, text in _output_texts(nb):
        for pattern, what in ((ADDRESS, "a memory address"), (ABSOLUTE_PATH, "an absolute path"),
                              (LOAD_REPORT, "a library load report")):
            for m in pattern.finditer(text):
                line = text[:m.start()].rsplit("\n", 1)[-1] + text[m.start():].split("\n", 1)[0]
                problems.append(f"cell {index}: {what}: {line.strip()[:160]}")
    return problems


def executed_notebooks(build: Path) -> list[Path]:
    """The executed chapter notebooks that a book build left under ``build``.

    Jupyter Book writes them to ``<build>/jupyter_execute/chapters/``; the
    one-chapter builds of ``make chapter`` to ``<build>/one/<name>/_build/...``.
    """
    return sorted(build.glob("jupyter_execute/chapters/*.ipynb")) + sorted(
        build.glob("one/*/_build/jupyter_execute/chapters/*.ipynb"))
