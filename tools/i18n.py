"""The Japanese edition: message catalogues, the Japanese build, Colab notebooks.

The English ``.md`` files are the only source of the book's code. The
Japanese edition is generated from them and from one message catalogue per
page, ``locales/ja/LC_MESSAGES/<page>.po`` (Sphinx's gettext workflow):

    python tools/i18n.py update       # extract messages, merge them into the .po files
    python tools/i18n.py check        # untranslated, fuzzy or damaged messages (exit 1)
    python tools/i18n.py stats        # per-page counts
    python tools/i18n.py todo PAGE    # the page's messages still to translate, numbered
    python tools/i18n.py fill PAGE FILE.yml  # set translations {number: Japanese}
    python tools/i18n.py config ja    # write _build/_config.ja.yml for the Japanese build
    python tools/i18n.py notebooks    # regenerate the Japanese Colab notebooks

``update`` runs Sphinx's ``gettext`` builder without executing anything (a few
seconds), then merges: a message whose English changed becomes *fuzzy* (its
old translation kept as a hint), a new message is empty, a removed one is
dropped. Messages with nothing to translate (a display equation, a lone code
span) are filled with their English. ``check`` fails on any untranslated or
fuzzy message and on any translation whose markup skeleton (roles and their
targets, glue keys, math, inline code, link targets) differs from the
English, so that a translation can never silently break a reference.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
LOCALES = ROOT / "locales"
LANG = "ja"
CATALOGUES = LOCALES / LANG / "LC_MESSAGES"
NOTEBOOKS = LOCALES / LANG / "notebooks"
BUILD = ROOT / "_build"
POT_DIR = BUILD / "i18n" / "_build" / "gettext"
JB = Path(sys.executable).parent / "jupyter-book"

#: What the Japanese edition changes in ``_config.yml`` besides the language.
JA_TITLE = "大規模言語モデルのしくみ"
JA_SEARCH = "この本を検索..."


# --------------------------------------------------------------------------
# Markup skeletons


ROLE = re.compile(r"\{([\w:.-]+)\}`([^`]*)`")
MATH_DISPLAY = re.compile(r"\$\$(.+?)\$\$", re.S)
MATH_INLINE = re.compile(r"(?<![\\$])\$(?!\s)([^$\n]+?)(?<![\s\\])\$(?!\$)")
CODE = re.compile(r"(?<![`}])(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)
LINK = re.compile(r"\]\(([^)\s]+)\)|<(https?://[^>\s]+)>")
SUBSTITUTION = re.compile(r"\{\{\s*([^}]+?)\s*\}\}")


def _role_target(name: str, content: str) -> str:
    """What a role points at: ``text <target>`` -> target, else the content."""
    explicit = re.fullmatch(r"(?s)(.*?)\s*<([^<>]+)>", content)
    target = explicit.group(2) if explicit and name != "glue:text" else content
    if name in ("term",):
        target = " ".join(target.lower().split())
    return target.strip()


JA_GLUE = re.compile(r"^(\w+)_ja(?=:|$)")


def skeleton(text: str, japanese: bool = False) -> Counter[str]:
    """The markup of a message that a translation must keep, as a multiset.

    >>> skeleton("A {term}`head <attention head>` has $d_k$ dims") == skeleton(
    ...     "{term}`ヘッド <attention head>` は $d_k$ 次元です")
    True
    >>> skeleton("see {numref}`fig-a`") == skeleton("{numref}`fig-b` を参照")
    False
    >>> skeleton("{glue:md}`ch07_note`") == skeleton("{glue:md}`ch07_note_ja`", japanese=True)
    True
    """
    parts: Counter[str] = Counter()
    rest = text
    for match in ROLE.finditer(rest):
        name, content = match.group(1), match.group(2)
        if japanese and name.startswith("glue"):
            # A chapter may glue a Japanese variant of an English sentence as
            # ``<key>_ja``; a translation uses it in place of ``<key>``.
            content = JA_GLUE.sub(r"\1", content)
        parts[f"role {name} -> {_role_target(name, content)}"] += 1
    rest = ROLE.sub(" ", rest)
    for match in MATH_DISPLAY.finditer(rest):
        parts["math $$" + " ".join(match.group(1).split())] += 1
    rest = MATH_DISPLAY.sub(" ", rest)
    for match in CODE.finditer(rest):
        parts["code " + match.group(2).strip()] += 1
    rest = CODE.sub(" ", rest)
    for match in MATH_INLINE.finditer(rest):
        parts["math $" + " ".join(match.group(1).split())] += 1
    for match in LINK.finditer(rest):
        parts["link " + (match.group(1) or match.group(2))] += 1
    for match in SUBSTITUTION.finditer(rest):
        parts["substitution " + match.group(1)] += 1
    return parts


def is_display_math(text: str) -> bool:
    """A display equation's message (its ``$$`` fences are not part of it):
    equations are the same in both editions, labels in ``\\text`` included."""
    return len(text) > 2 and text.startswith("\n") and text.endswith("\n")


def has_prose(text: str) -> bool:
    """Whether a message has words to translate outside its markup."""
    if is_display_math(text) or text.lstrip().startswith("\\begin{"):
        return False  # an equation, or a LaTeX rendering of code among the outputs
    rest = ROLE.sub(" ", text)
    rest = MATH_DISPLAY.sub(" ", rest)
    rest = CODE.sub(" ", rest)
    rest = MATH_INLINE.sub(" ", rest)
    rest = re.sub(r"\]\([^)]*\)", "]", rest)
    rest = re.sub(r"https?://\S+", " ", rest)
    return re.search(r"[A-Za-z]{2,}", rest) is not None


# --------------------------------------------------------------------------
# Derived configurations


def _base_config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


def write_config(kind: str) -> Path:
    """Write ``_build/_config.<kind>.yml``: ``gettext`` (extraction, nothing
    executed), ``ja`` (the Japanese HTML, reusing the execution cache of the
    English build) or ``force`` (the English build executing every chapter
    afresh into an emptied cache, which the Japanese build then reuses)."""
    config = _base_config()
    sphinx = config.setdefault("sphinx", {})
    sphinx["local_extensions"] = {name: str(ROOT / path)
                                  for name, path in sphinx.get("local_extensions", {}).items()}
    options = sphinx.setdefault("config", {})
    cache = str(BUILD / ".jupyter_cache")
    if kind == "gettext":
        # Figure captions and alt text live in the outputs' metadata: read
        # them from the execution cache of the last build.
        config["execute"]["execute_notebooks"] = "cache"
        config["execute"]["cache"] = cache
        options.update(gettext_compact=False, gettext_uuid=False, gettext_location=False,
                       gettext_additional_targets=[])
    elif kind == "ja":
        config["title"] = JA_TITLE
        config["execute"]["execute_notebooks"] = "cache"
        config["execute"]["cache"] = cache
        config["repository"]["path_to_book"] = str(NOTEBOOKS.relative_to(ROOT))
        options.update(language=LANG, locale_dirs=[str(LOCALES)], gettext_compact=False,
                       llmbook_language=LANG)
        options.update(nb_code_prompt_show="コードセルを表示", nb_code_prompt_hide="コードセルを隠す")
        write_japanese_toc()
        # Merged into Jupyter Book's own theme options (launch buttons, repository), not replacing them.
        sphinx["recursive_update"] = True
        options["html_theme_options"] = {"search_bar_text": JA_SEARCH}
    elif kind == "force":
        config["execute"]["execute_notebooks"] = "cache"
        config["execute"]["cache"] = cache
    else:
        raise SystemExit(f"unknown configuration {kind!r}: choose gettext, ja or force")
    BUILD.mkdir(exist_ok=True)
    path = BUILD / f"_config.{kind}.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def write_japanese_toc() -> Path:
    """``_build/_toc.ja.yml``: the table of contents with its part captions in
    Japanese (the captions' messages are in the root page's catalogue; the
    sidebar is built from the toc, not from the translated page)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    table = translations(toc["root"])
    for part in toc.get("parts", []):
        if "caption" in part:
            part["caption"] = table.get(part["caption"], part["caption"])
    BUILD.mkdir(exist_ok=True)
    path = BUILD / "_toc.ja.yml"
    path.write_text(yaml.safe_dump(toc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# --------------------------------------------------------------------------
# Catalogues


def catalogue_path(page: str) -> Path:
    return CATALOGUES / f"{page}.po"


def pages() -> list[str]:
    """Every page of the book, from ``_toc.yml`` (as ``chapters/09_attention``)."""
    sys.path.insert(0, str(ROOT / "tools"))
    from chapters import toc_files  # noqa: PLC0415 (tools/ is not a package)

    return toc_files()


def read(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=LANG)


def write(catalogue: Catalog, path: Path) -> None:
    for message in catalogue:
        message.flags.discard("python-brace-format")
        message.flags.discard("python-format")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalogue, width=0, omit_header=False, sort_output=False,
                 ignore_obsolete=True)


def extract() -> None:
    """Run Sphinx's gettext builder into ``_build/i18n``, reading outputs (and
    so figure captions and alt text) from the English build's execution cache."""
    if not (BUILD / ".jupyter_cache").is_dir():
        raise SystemExit("no execution cache in _build/.jupyter_cache: run `make book` first, so that "
                         "figure captions and alt text, which live in the outputs, are extracted too")
    config = write_config("gettext")
    subprocess.run([str(JB), "build", str(ROOT), "--config", str(config), "--builder", "custom",
                    "--custom-builder", "gettext", "--path-output", str(BUILD / "i18n"), "--quiet"],
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


def update() -> None:
    """Merge freshly extracted messages into every page's catalogue."""
    extract()
    for page in pages():
        with (POT_DIR / f"{page}.pot").open("rb") as handle:
            template = read_po(handle)
        path = catalogue_path(page)
        if path.exists():
            catalogue = read(path)
            catalogue.update(template, no_fuzzy_matching=False, update_header_comment=False)
        else:
            catalogue = Catalog(locale=LANG, project="llmbook", charset="utf-8")
            for message in template:
                if message.id:
                    catalogue.add(message.id, "")
        catalogue.obsolete.clear()
        for message in catalogue:
            if message.id and not has_prose(message.id):  # nothing to translate: the English
                message.string = message.id
                message.flags.discard("fuzzy")
        catalogue.fuzzy = False
        catalogue.project = "llmbook"
        write(catalogue, path)
    print(f"updated {len(pages())} catalogues in {CATALOGUES.relative_to(ROOT)}")


@dataclass
class Problem:
    page: str
    kind: str
    msgid: str
    detail: str = ""

    def __str__(self) -> str:
        head = self.msgid if len(self.msgid) < 90 else self.msgid[:87] + "..."
        return f"{self.page}: {self.kind}: {head!r}" + (f"\n    {self.detail}" if self.detail else "")


def problems(page: str) -> list[Problem]:
    """Untranslated, fuzzy and damaged messages of one page's catalogue."""
    path = catalogue_path(page)
    if not path.exists():
        return [Problem(page, "no catalogue", str(path.relative_to(ROOT)))]
    found = []
    for message in read(path):
        if not message.id:
            continue
        if not message.string:
            found.append(Problem(page, "untranslated", message.id))
        elif message.fuzzy:
            found.append(Problem(page, "fuzzy", message.id))
        elif is_display_math(message.id):
            if message.string != message.id:
                found.append(Problem(page, "equation changed", message.id,
                                     "equations are the same in both editions: copy the English"))
        else:
            want, got = skeleton(message.id), skeleton(message.string, japanese=True)
            if want != got:
                missing = ", ".join(sorted((want - got).elements())) or "-"
                extra = ", ".join(sorted((got - want).elements())) or "-"
                found.append(Problem(page, "markup differs", message.id,
                                     f"missing: {missing}; added: {extra}"))
    return found


def stale(page: str) -> list[Problem]:
    """Messages of the page's freshly extracted template missing from its
    catalogue (English changed or added without ``update``), and catalogue
    messages the English no longer has.

    Messages with nothing to translate (equations, the LaTeX rendering of a
    function's source shown with ``show_source``) are left out: the Japanese
    build shows their English whether or not the catalogue has them, so a
    change to a library function shown in a chapter needs no catalogue update."""
    with (POT_DIR / f"{page}.pot").open("rb") as handle:
        wanted = {m.id for m in read_po(handle) if m.id and has_prose(m.id)}
    path = catalogue_path(page)
    have = {m.id for m in read(path) if m.id and has_prose(m.id)} if path.exists() else set()
    return ([Problem(page, "not in the catalogue (run tools/i18n.py update)", m) for m in sorted(wanted - have)]
            + [Problem(page, "no longer in the English (run tools/i18n.py update)", m) for m in sorted(have - wanted)])


def stats() -> list[tuple[str, int, int, int]]:
    rows = []
    for page in pages():
        path = catalogue_path(page)
        messages = [m for m in read(path) if m.id] if path.exists() else []
        done = sum(1 for m in messages if m.string and not m.fuzzy)
        fuzzy = sum(1 for m in messages if m.fuzzy)
        rows.append((page, len(messages), done, fuzzy))
    return rows


def todo(page: str, everything: bool = False) -> list[tuple[int, str, str]]:
    """(number, flag, English) of a page's messages that need a translation
    (all of them with ``everything``); numbers are positions in the catalogue."""
    rows = []
    for number, message in enumerate(m for m in read(catalogue_path(page)) if m.id):
        if everything or not message.string or message.fuzzy:
            rows.append((number, "fuzzy" if message.fuzzy else "", message.id))
    return rows


def fill(page: str, source: Path) -> int:
    """Set translations from a YAML (or JSON) mapping {number: Japanese}.

    YAML block scalars (``12: |-`` then the indented text) need no escaping of
    backslashes or quotes, which suits math. Returns how many were set."""
    table = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    path = catalogue_path(page)
    catalogue = read(path)
    messages = [m for m in catalogue if m.id]
    for number, text in table.items():
        message = messages[int(number)]
        text = str(text)
        message.string = text if message.id.endswith("\n") else text.rstrip("\n")
        message.flags.discard("fuzzy")
    write(catalogue, path)
    return len(table)


# --------------------------------------------------------------------------
# Japanese Colab notebooks


def translations(page: str) -> dict[str, str]:
    path = catalogue_path(page)
    return {m.id: m.string for m in read(path) if m.id and m.string and not m.fuzzy} if path.exists() else {}


def _blocks(markdown: str) -> list[str]:
    """Split a markdown cell into blocks separated by blank lines, keeping
    fenced blocks (``` or :::) whole."""
    blocks, current, fence = [], [], None
    for line in markdown.split("\n"):
        stripped = line.strip()
        if fence is None and re.match(r"^(`{3,}|:{3,})", stripped):
            fence = re.match(r"^(`{3,}|:{3,})", stripped).group(1)
            current.append(line)
            continue
        if fence is not None:
            current.append(line)
            if stripped == fence:  # the fence closes: so does its block
                fence = None
                blocks.append("\n".join(current))
                current = []
            continue
        if not stripped:
            if current:
                blocks.append("\n".join(current))
                current = []
            blocks.append("")
            continue
        current.append(line)
    if current:
        blocks.append("\n".join(current))
    return blocks


def _flat(text: str) -> str:
    return " ".join(text.split())


FENCE = re.compile(r"^(\s*)(`{3,}|:{3,})(.*)$")
ITEM = re.compile(r"^(\s*(?:[-*+]|\d+\.)\s+)(.*)$", re.S)


def translate_block(block: str, table: dict[str, str], misses: list[str] | None = None) -> str:
    """Translate one markdown block with a page's catalogue.

    A heading, a paragraph, a list item or a table cell is looked up with its
    lines joined (as Sphinx extracts it); a directive's body is translated
    block by block inside its fences, its options kept. What is not found
    stays English and, if it has prose, is appended to ``misses``."""
    misses = [] if misses is None else misses

    def miss(text: str) -> str:
        if has_prose(text):
            misses.append(text)
        return text

    if not block.strip() or block.lstrip().startswith("$$"):
        return block  # nothing, or a display equation
    lines = block.split("\n")
    if re.fullmatch(r"\([^()\s]+\)=", lines[0].strip()) and len(lines) > 1:  # a label, then what it labels
        return lines[0] + "\n" + translate_block("\n".join(lines[1:]), table, misses)
    fence = FENCE.match(lines[0])
    if fence:
        if not fence.group(3).strip().startswith("{") or len(lines) < 2:
            return block  # a plain code block: nothing to translate
        head, body, tail = lines[0], lines[1:-1], lines[-1]
        options = []
        while body and re.match(r"^\s*:[\w-]+:", body[0]):
            options.append(body.pop(0))
        inner = "\n".join(translate_block(b, table, misses) for b in _blocks("\n".join(body)))
        title = re.match(r"^\{[\w:-]+\}\s*(.*)$", fence.group(3).strip())
        argument = title.group(1) if title else ""
        if argument and not re.fullmatch(r"[\w:-]+", argument):  # a title, not a label
            head = head.replace(argument, table.get(_flat(argument)) or miss(argument))
        return "\n".join([head, *options, *([inner] if body else []), tail])
    heading = re.match(r"^(#+\s+)(.*)$", block)
    if heading and len(lines) == 1:
        return heading.group(1) + (table.get(_flat(heading.group(2))) or miss(heading.group(2)))
    key = _flat(block)
    if key in table:
        return table[key]
    if ITEM.match(block):
        items = re.split(r"\n(?=\s*(?:[-*+]|\d+\.)\s)", block)
        if len(items) > 1:
            return "\n".join(translate_block(i, table, misses) for i in items)
        item = ITEM.match(block)
        body = _flat(item.group(2))
        return item.group(1) + table[body] if body in table else miss(block)
    if block.lstrip().startswith("|"):
        rows = []
        for row in lines:
            cells = row.split("|")
            rows.append("|".join(
                f" {table[c.strip()]} " if c.strip() in table else (miss(c) if c.strip() else c) for c in cells))
        return "\n".join(rows)
    return miss(block)


def untranslated_blocks(page: str) -> list[str]:
    """The prose of a chapter's markdown cells that its catalogue does not translate."""
    misses: list[str] = []
    notebook = nbformat.read(ROOT / f"{page}.ipynb", as_version=4)
    table = translations(page)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for block in _blocks(cell.source):
                translate_block(block, table, misses)
    return misses


def japanese_notebook(page: str) -> nbformat.NotebookNode:
    """The chapter's ``.ipynb`` pair with its markdown cells translated."""
    notebook = nbformat.read(ROOT / f"{page}.ipynb", as_version=4)
    table = translations(page)
    japanese = copy.deepcopy(notebook)
    for cell in japanese.cells:
        if cell.cell_type == "markdown":
            cell.source = "\n".join(translate_block(b, table) for b in _blocks(cell.source))
    japanese.metadata.setdefault("language_info", {})
    japanese.metadata["llmbook"] = {"language": LANG, "source": f"{page}.md"}
    return japanese


def notebook_path(page: str) -> Path:
    return NOTEBOOKS / f"{page}.ipynb"


def notebooks(write_files: bool = True) -> dict[str, str]:
    """Regenerate (or, with ``write_files=False``, only render) every Japanese
    notebook; returns {path: JSON text}."""
    rendered = {}
    for page in pages():
        if not (ROOT / f"{page}.ipynb").exists():
            continue
        text = nbformat.writes(japanese_notebook(page)) + "\n"
        path = notebook_path(page)
        rendered[str(path.relative_to(ROOT))] = text
        if write_files:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
    return rendered


# --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("update", help="extract messages and merge them into the catalogues")
    check = sub.add_parser("check", help="report untranslated, fuzzy or damaged messages")
    check.add_argument("pages", nargs="*", help="pages to check (default: all)")
    check.add_argument("--extracted", action="store_true",
                       help="also extract the English messages afresh and compare (needs `make book` first)")
    sub.add_parser("stats", help="messages translated per page")
    config = sub.add_parser("config", help="write a derived Jupyter Book configuration")
    config.add_argument("kind", choices=["gettext", "ja", "force"])
    sub.add_parser("notebooks", help="regenerate the Japanese Colab notebooks")
    todo_parser = sub.add_parser("todo", help="list a page's messages still to translate")
    todo_parser.add_argument("page")
    todo_parser.add_argument("--all", action="store_true", help="every message, translated or not")
    fill_parser = sub.add_parser("fill", help="set translations from a YAML file {number: text}")
    fill_parser.add_argument("page")
    fill_parser.add_argument("source", type=Path)
    args = parser.parse_args(argv)
    if args.command == "update":
        update()
    elif args.command == "check":
        if args.extracted:
            extract()
        found = [p for page in (args.pages or pages())
                 for p in problems(page) + (stale(page) if args.extracted else [])]
        for problem in found:
            print(problem)
        print(f"{len(found)} problem(s)")
        return 1 if found else 0
    elif args.command == "stats":
        for page, total, done, fuzzy in stats():
            print(f"{page:40s} {done:4d}/{total:4d} translated, {fuzzy} fuzzy")
    elif args.command == "config":
        print(write_config(args.kind).relative_to(ROOT))
    elif args.command == "todo":
        for number, flag, english in todo(args.page, args.all):
            print(f"[{number}]{' (' + flag + ')' if flag else ''} {english}\n")
    elif args.command == "fill":
        print(f"set {fill(args.page, args.source)} translation(s) in {catalogue_path(args.page).relative_to(ROOT)}")
    elif args.command == "notebooks":
        for path in notebooks():
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
