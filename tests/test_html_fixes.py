"""The Sphinx extension ``_ext/llmbook_html_fixes.py`` removes duplicate scripts."""

from __future__ import annotations

import sys
from pathlib import Path

from sphinx.builders.html._assets import _JavaScript

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "_ext"))
import llmbook_html_fixes  # noqa: E402


def test_duplicate_inline_scripts_are_dropped() -> None:
    thebe = 'const THEBE_JS_URL = "x"'
    scripts = [
        _JavaScript("_static/doctools.js", priority=200),
        _JavaScript(None, body=thebe),             # as sphinx-thebe registers it
        _JavaScript("_static/sphinx-thebe.js", **{"async": "async"}),
        _JavaScript("", body=thebe),               # as Sphinx 7.4 adds it again
        _JavaScript("", body="var other = 1"),
    ]
    context = {"script_files": scripts}
    llmbook_html_fixes.drop_duplicate_scripts(None, "intro", "page.html", context, None)
    assert context["script_files"] is scripts  # changed in place: the builder shares the list
    assert [(s.filename, s.attributes.get("body")) for s in scripts] == [
        ("_static/doctools.js", None), (None, thebe), ("_static/sphinx-thebe.js", None), ("", "var other = 1"),
    ]


def test_pages_without_scripts_are_left_alone() -> None:
    context: dict[str, object] = {}
    llmbook_html_fixes.drop_duplicate_scripts(None, "intro", "page.html", context, None)
    assert context == {}
