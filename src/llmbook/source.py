"""Show the source code of an ``llmbook`` helper inside a chapter.

When the way a helper works is the lesson, a chapter shows its code rather
than pasting a copy that could drift from what actually runs:

>>> from llmbook.batches import as_ids
>>> print(source_text(as_ids, docstring=False).splitlines()[:2])
['def as_ids(ids: Tensor | Sequence[int]) -> Tensor:', '    ...']
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Any

__all__ = ["source_text", "show_source"]


def source_text(obj: Any, *, docstring: bool = True, start: str | None = None,
                stop: str | None = None) -> str:
    """The source of a function or class, optionally trimmed.

    Args:
        obj: a function, method or class.
        docstring: ``False`` replaces the docstring with a line ``...``.
        start: keep the signature, then skip the body up to the first line
            that contains ``start``.
        stop: end before the first line (after ``start``) that contains ``stop``.

    Raises:
        ValueError: if ``start`` or ``stop`` is not found.
    """
    lines = textwrap.dedent(inspect.getsource(obj)).splitlines()
    node = ast.parse("\n".join(lines)).body[0]
    body_start = node.body[0].lineno - 1  # 0-based index of the first body line
    head, body = lines[:body_start], lines[body_start:]
    indent = body[0][: len(body[0]) - len(body[0].lstrip())]
    skipped = False  # lines left out after the signature are shown as one "..."
    first = node.body[0]
    if (not docstring and isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)):
        body, skipped = lines[first.end_lineno:], True
    if start is not None:
        hits = [i for i, line in enumerate(body) if start in line]
        if not hits:
            raise ValueError(f"{start!r} does not occur in the body of {obj.__qualname__}")
        body, skipped = body[hits[0]:], skipped or hits[0] > 0
    if skipped:
        body = [indent + "..."] + body
    if stop is not None:
        hits = [i for i, line in enumerate(body) if stop in line]
        if not hits:
            raise ValueError(f"{stop!r} does not occur in the body of {obj.__qualname__}")
        body = body[:hits[0]]
    return "\n".join(head + body).rstrip() + "\n"


def show_source(obj: Any, **trim: Any) -> None:
    """Display :func:`source_text` as highlighted Python (in a notebook and the book)."""
    from IPython.display import Code, display

    display(Code(source_text(obj, **trim), language="python"))
