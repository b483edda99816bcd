"""A Sphinx extension with small fixes to the HTML the book's toolchain writes.

Sphinx 7.4 writes every inline ``<script>`` that an extension registers after
the builder has started twice on each page (once as registered with the
filename ``None``, once re-added with ``""``). For sphinx-thebe that inline
script is ``const THEBE_JS_URL = ...``, and declaring a ``const`` twice is a
JavaScript error in every reader's console (the browser tests catch it). This
extension drops exact duplicates from each page's scripts.

It also links every page to the same page in the book's other edition: the
English book is built into ``_build/html`` and the Japanese one (built with
``llmbook_language = "ja"``, see ``tools/i18n.py``) into ``_build/html/ja``.

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


#: The other edition of each edition: (its folder relative to the English
#: root, the link's text, its tooltip).
OTHER_EDITION = {
    "en": ("ja/", "日本語", "このページを日本語で読む"),
    "ja": ("", "English", "Read this page in English"),
}


def other_edition_url(pagename: str, language: str) -> str:
    """The relative URL of the same page in the other edition.

    >>> other_edition_url("chapters/09_attention", "en")
    '../ja/chapters/09_attention.html'
    >>> other_edition_url("intro", "ja")
    '../intro.html'
    """
    folder = OTHER_EDITION[language][0]
    up = "../" * (pagename.count("/") + (1 if language == "ja" else 0))
    return f"{up}{folder}{pagename}.html"


def link_other_edition(app: Any, pagename: str, templatename: str,
                       context: dict[str, Any], doctree: Any) -> None:
    """Put a link to the same page in the other language at the top of the page."""
    language = app.config.llmbook_language
    if language not in OTHER_EDITION or "body" not in context:
        return
    _, text, tooltip = OTHER_EDITION[language]
    link = (f'<p class="llmbook-other-edition" style="text-align: right; font-size: 0.9em; margin: 0;"><a href="{other_edition_url(pagename, language)}" '
            f'hreflang="{"ja" if language == "en" else "en"}" title="{tooltip}">'
            f'<i class="fas fa-language"></i> {text}</a></p>\n')
    context["body"] = link + context["body"]


def setup(app: Any) -> dict[str, Any]:
    app.add_config_value("llmbook_language", "en", "html")
    app.connect("html-page-context", drop_duplicate_scripts)
    app.connect("html-page-context", link_other_edition)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
