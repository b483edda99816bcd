"""A Sphinx extension with small fixes to the HTML the book's toolchain writes.

Sphinx 7.4 writes every inline ``<script>`` that an extension registers after
the builder has started twice on each page (once as registered with the
filename ``None``, once re-added with ``""``). For sphinx-thebe that inline
script is ``const THEBE_JS_URL = ...``, and declaring a ``const`` twice is a
JavaScript error in every reader's console (the browser tests catch it). This
extension drops exact duplicates from each page's scripts.

Enabled in ``_config.yml``::

    sphinx:
      local_extensions:
        llmbook_html_fixes: _ext
"""

from __future__ import annotations

from typing import Any


def drop_duplicate_scripts(app: Any, pagename: str, templatename: str,
                           context: dict[str, Any], doctree: Any) -> None:
    """Remove repeated scripts (same file or body, same attributes) from the page."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple[str, tuple[tuple[str, Any], ...]]] = set()
    unique = []
    for script in scripts:
        key = (getattr(script, "filename", None) or "",
               tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def setup(app: Any) -> dict[str, Any]:
    app.connect("html-page-context", drop_duplicate_scripts)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
