"""Glue references inside translated messages (the Japanese edition).

Sphinx translates a paragraph by parsing its translation (``msgstr``) as a
small document of its own. MyST-NB's glue roles (``{glue:text}`key```) look
their key up in the notebook outputs attached to the document being parsed
(``document["nb_renderer"]``), which that small document lacks, so every
glued number of a translated paragraph would fail with "No key ... found in
glue data for this document".

This extension records the renderer that MyST-NB creates for each page it
reads (MyST-NB drops it from the page's document once the page is parsed,
before Sphinx translates it) and lets the glue lookup fall back on the
renderer of the page being read when the document at hand has none. Glue
references of the English build are untouched (their document has its
renderer).

Enabled in ``_config.yml``::

    sphinx:
      local_extensions:
        llmbook_i18n: _ext
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from docutils import nodes

#: The MyST-NB renderer of each page read so far, by document name.
RENDERERS: dict[str, Any] = {}


def remember_renderers(load_renderer: Callable[[str], Any],
                       current_page: Callable[[], str]) -> Callable[[str], Any]:
    """Wrap MyST-NB's ``load_renderer`` so that every renderer it creates is
    kept in :data:`RENDERERS` under the page being read."""

    def load(name: str) -> Any:
        renderer_class = load_renderer(name)

        def create(*args: Any, **kwargs: Any) -> Any:
            renderer = renderer_class(*args, **kwargs)
            RENDERERS[current_page()] = renderer
            return renderer

        return create

    load.llmbook_wrapped = True  # type: ignore[attr-defined]
    return load


def glue_lookup(original: Any) -> Any:
    """Wrap MyST-NB's ``retrieve_glue_data`` to fall back on the page's renderer."""

    def retrieve_glue_data(document: nodes.document, key: str) -> Any:
        if "nb_renderer" not in document:
            env = getattr(document.settings, "env", None)
            renderer = RENDERERS.get(getattr(env, "docname", None))
            if renderer is not None:
                # Lent for the look-up only: the document must stay picklable.
                document["nb_renderer"] = renderer
                try:
                    return original(document, key)
                finally:
                    del document["nb_renderer"]
        return original(document, key)

    retrieve_glue_data.llmbook_wrapped = True  # type: ignore[attr-defined]
    return retrieve_glue_data


def setup(app: Any) -> dict[str, Any]:
    from myst_nb import sphinx_ as nb_sphinx  # noqa: PLC0415 (loaded by the book's build)
    from myst_nb.ext.glue import directives, roles, utils  # noqa: PLC0415

    if not hasattr(utils.retrieve_glue_data, "llmbook_wrapped"):
        patched = glue_lookup(utils.retrieve_glue_data)
        utils.retrieve_glue_data = roles.retrieve_glue_data = directives.retrieve_glue_data = patched
    if not hasattr(nb_sphinx.load_renderer, "llmbook_wrapped"):
        nb_sphinx.load_renderer = remember_renderers(nb_sphinx.load_renderer, lambda: app.env.docname)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
