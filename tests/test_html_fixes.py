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


def test_every_page_links_to_the_same_page_in_the_other_edition() -> None:
    assert llmbook_html_fixes.other_edition_url("intro", "en") == "ja/intro.html"
    assert llmbook_html_fixes.other_edition_url("chapters/09_attention", "en") == "../ja/chapters/09_attention.html"
    assert llmbook_html_fixes.other_edition_url("intro", "ja") == "../intro.html"
    assert llmbook_html_fixes.other_edition_url("chapters/09_attention", "ja") == "../../chapters/09_attention.html"


def test_the_other_edition_link_leads_the_page_body() -> None:
    class App:
        class config:  # noqa: N801 - stands in for Sphinx's config object
            llmbook_language = "ja"

    context = {"body": "<h1>アテンション</h1>"}
    llmbook_html_fixes.link_other_edition(App, "chapters/09_attention", "page.html", context, None)
    assert context["body"].startswith('<p class="llmbook-other-edition"')
    assert 'href="../../chapters/09_attention.html" hreflang="en"' in context["body"]
    assert context["body"].endswith("<h1>アテンション</h1>")


def test_translated_messages_find_the_glue_of_their_page() -> None:
    """``_ext/llmbook_i18n.py``: a translated paragraph (a document without a
    notebook renderer) looks its glue keys up in the page being read."""
    import llmbook_i18n
    from docutils.frontend import get_default_settings
    from docutils.parsers.rst import Parser
    from docutils.utils import new_document

    class Env:
        docname = "chapters/09_attention"

    def lookup(document, key):  # stands in for MyST-NB's retrieve_glue_data
        if "nb_renderer" not in document:
            raise LookupError(f"No key {key!r} found in glue data for this document.")
        return document["nb_renderer"][key]

    settings = get_default_settings(Parser)
    settings.env = Env()
    # MyST-NB creates the page's renderer through load_renderer, then drops it from the page
    load = llmbook_i18n.remember_renderers(lambda name: (lambda glue: dict(glue)), lambda: Env.docname)
    load("default")({"ch09_weight": 0.6})
    translated = new_document("page:12:<translated>", settings)
    patched = llmbook_i18n.glue_lookup(lookup)
    assert patched(translated, "ch09_weight") == 0.6
    assert "nb_renderer" not in translated  # lent for the look-up only: doctrees are pickled
    Env.docname = "chapters/10_transformer"  # another page: its own renderer, none recorded
    other = new_document("other:3:<translated>", settings)
    try:
        patched(other, "ch09_weight")
    except LookupError as error:
        assert "No key 'ch09_weight'" in str(error)
    else:
        raise AssertionError("a page without a renderer must not borrow another page's glue")
