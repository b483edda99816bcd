"""What a reader's browser must see on every page of the book, as plain checks.

Each ``check_*`` function looks at one aspect of a page that is open in a
Playwright ``Page`` (or at the :class:`PageLog` recorded while it loaded) and
returns a list of problems, one readable sentence each; an empty list means the
page passes. The same functions run against every page of the built book
(``test_pages.py``) and against deliberately broken pages in ``fixtures/``
(``test_checks.py``), which proves that each check reports what it should.

Interactive figures: the contract
---------------------------------
Every interactive figure of the book must work in the static HTML with no
network and no Jupyter kernel, and must follow one of these two forms.

1. **Plotly figures** (``fig.to_html(full_html=False, include_plotlyjs=...)``,
   plotly.js inlined once per page). Each ``div.plotly-graph-div`` must be
   drawn by plotly.js: it gets the class ``js-plotly-plot``, an
   ``svg.main-svg`` of non-zero width and at least one trace. A figure with a
   plotly slider (``layout.sliders``) must respond to it: the test clicks the
   slider's last step (its first step if the last is active) and expects the
   plotted data or the drawn plot to change within 3 seconds.

2. **Custom HTML+JS widgets** (for example a temperature slider with bars, or
   an attention map with a head selector) are wrapped in one element with the
   attribute ``data-llmbook-interactive="<short name>"`` that contains

   * its controls: the elements marked ``data-llmbook-control``, or, if none
     is marked, every ``input``, ``select`` and ``textarea`` inside;
   * exactly one output element marked ``data-llmbook-output`` (a ``div``,
     ``svg``, ``canvas``, ``output``, ... possibly holding a plotly figure)
     that shows something (text, child elements or drawn pixels) as soon as
     the page has loaded.

   The test moves every control in turn, the way a reader would: a range or
   number input goes to its ``max`` (to its ``min`` if it already is at
   ``max``), a ``select`` to its next option, a checkbox or radio button or
   button is clicked, a text field gets a word appended; it then dispatches
   bubbling ``input`` and ``change`` events. Within 3 seconds the output
   must differ (its ``innerHTML``, the pixels of a canvas, or the data of a
   plotly figure inside it). Widgets should update on ``input`` so that they
   follow a dragged slider live. ``fixtures/good.html`` is a working example.

Anything else the book shows (Matplotlib PNGs, tables) is static and is
covered by the image and console checks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urlsplit

from playwright.sync_api import Browser, ConsoleMessage, Page, Route

#: Chromium's command line for the tests: headless, no sandbox (CI runs as
#: root in a container), and none of the background traffic to Google.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

LOCAL_HOSTS = {"127.0.0.1"}
VIEWPORT = {"width": 1280, "height": 900}
WAIT_MS = 3000  # how long a figure may take to react or draw


# --- Opening a page with the network cut off ------------------------------------

@dataclass
class PageLog:
    """What happened while a page was open: console errors, exceptions, requests."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)  # requests to anything but 127.0.0.1

    def route(self, route: Route) -> None:
        """Let requests to the local server through; record and abort all others."""
        url = route.request.url
        if urlsplit(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("blockedbyclient")

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location or {}
            at = f" (at {where.get('url')}:{where.get('lineNumber')})" if where.get("url") else ""
            self.console_errors.append(message.text + at)

    def on_page_error(self, error: Any) -> None:
        self.page_errors.append(str(error))


@contextmanager
def open_page(browser: Browser, url: str) -> Iterator[tuple[Page, PageLog]]:
    """Open ``url`` in a fresh browser context whose network is only 127.0.0.1.

    Every request to another host is aborted and recorded in the log, as are
    console errors and uncaught exceptions. Waits for the ``load`` event and
    for MathJax's first typesetting pass.
    """
    context = browser.new_context(viewport=VIEWPORT, service_workers="block")
    log = PageLog()
    context.route("**/*", log.route)
    page = context.new_page()
    page.on("console", log.on_console)
    page.on("pageerror", log.on_page_error)
    try:
        response = page.goto(url, wait_until="load", timeout=60_000)
        if response is not None and response.status >= 400:
            log.console_errors.append(f"the page itself answered HTTP {response.status}: {url}")
        wait_for_mathjax(page)
        yield page, log
    finally:
        context.close()


def wait_for_mathjax(page: Page, timeout_ms: int = 20_000) -> str:
    """Wait until MathJax has typeset the page; return what was found.

    ``"no math"`` (nothing to typeset), ``"no MathJax"`` (math but MathJax
    is not loaded) or ``"typeset"``.
    """
    return page.evaluate(
        """async (timeoutMs) => {
            if (!document.querySelector('span.math, div.math')) return 'no math';
            const mj = window.MathJax;
            if (!mj || !mj.startup || !mj.startup.promise) return 'no MathJax';
            await Promise.race([mj.startup.promise, new Promise(r => setTimeout(r, timeoutMs))]);
            return 'typeset';
        }""",
        timeout_ms,
    )


# --- The checks -------------------------------------------------------------------

def check_console(log: PageLog) -> list[str]:
    """Console errors and uncaught JavaScript exceptions while the page was open."""
    return [f"console error: {e}" for e in log.console_errors] + [
        f"uncaught JavaScript exception: {e}" for e in log.page_errors
    ]


def check_network(log: PageLog) -> list[str]:
    """Requests to anything but the local server (the book must work offline)."""
    return [f"tried to reach the network: {url}" for url in dict.fromkeys(log.blocked)]


def check_images(page: Page) -> list[str]:
    """Every ``<img>`` has loaded and has a natural width greater than zero."""
    images = page.evaluate(
        """async (timeoutMs) => {
            const imgs = Array.from(document.images);
            imgs.forEach(i => { if (i.loading === 'lazy') i.loading = 'eager'; });
            const settled = i => i.complete ? Promise.resolve() : new Promise(r => {
                i.addEventListener('load', r, {once: true});
                i.addEventListener('error', r, {once: true});
            });
            await Promise.race([Promise.all(imgs.map(settled)),
                                new Promise(r => setTimeout(r, timeoutMs))]);
            return imgs.map(i => ({src: i.getAttribute('src') || '', ok: i.complete && i.naturalWidth > 0}));
        }""",
        10_000,
    )
    return [f"image did not load: {img['src'][:120]}" for img in images if not img["ok"]]


_RAW_MATH = re.compile(
    r"\\\(.+?\\\)|\\\[.+?\\\]|\$\$.+?\$\$|(?<![\\$])\$[^\s$](?:[^$\n]*[^\s$\\])?\$(?!\$)",
    re.S,
)


def check_math(page: Page) -> list[str]:
    """Every Sphinx math node was typeset by MathJax 3 and no raw TeX is left.

    Math nodes (``span.math``, ``div.math``) must contain an ``mjx-container``
    without ``mjx-merror`` (a TeX error); text outside code and math must not
    contain ``\\(...\\)``, ``\\[...\\]``, ``$$...$$`` or ``$...$`` that would
    have been math (the same rule as MyST's dollarmath: no space inside the
    dollars). Pages without math pass.
    """
    state = wait_for_mathjax(page)
    found = page.evaluate(
        """() => {
            const nodes = Array.from(document.querySelectorAll('span.math, div.math'));
            const untypeset = nodes.filter(n => !n.querySelector('mjx-container'))
                                   .map(n => n.textContent.trim().slice(0, 80));
            const errors = Array.from(document.querySelectorAll('mjx-merror'))
                                .map(e => (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 80));
            const root = document.querySelector('article.bd-article') || document.querySelector('main') || document.body;
            const skip = 'pre, code, script, style, textarea, mjx-container, .math, .highlight, .MathJax';
            const texts = [];
            const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
            for (let n = walker.nextNode(); n; n = walker.nextNode()) {
                if (n.parentElement && !n.parentElement.closest(skip) && /[$\\\\]/.test(n.nodeValue))
                    texts.push(n.nodeValue);
            }
            return {count: nodes.length, untypeset, errors, texts};
        }"""
    )
    problems = []
    if found["untypeset"]:
        why = "MathJax is not loaded on this page" if state == "no MathJax" else "MathJax did not typeset it"
        problems += [f"math not typeset ({why}): {tex}" for tex in found["untypeset"]]
    problems += [f"MathJax error in a formula: {e}" for e in found["errors"]]
    for text in found["texts"]:
        problems += [f"raw TeX left in the text (not parsed as math): {m.group(0)[:80]}"
                     for m in _RAW_MATH.finditer(text)]
    return problems


def colab_url(repository_url: str, chapter: str, branch: str = "main", folder: str = "") -> str:
    """The Colab link of ``<folder>chapters/<chapter>.ipynb`` in a GitHub repository.

    >>> colab_url("https://github.com/llmbook/llmbook/", "01_history")
    'https://colab.research.google.com/github/llmbook/llmbook/blob/main/chapters/01_history.ipynb'
    >>> colab_url("https://github.com/llmbook/llmbook", "01_history", "v1", "locales/ja/notebooks/")
    'https://colab.research.google.com/github/llmbook/llmbook/blob/v1/locales/ja/notebooks/chapters/01_history.ipynb'
    """
    parts = urlsplit(repository_url)
    if parts.hostname != "github.com":
        raise ValueError(f"Colab opens notebooks from GitHub; {repository_url!r} is not a GitHub URL")
    path = parts.path.strip("/").removesuffix(".git")
    if path.count("/") != 1:
        raise ValueError(f"expected https://github.com/<owner>/<repo>, got {repository_url!r}")
    return f"https://colab.research.google.com/github/{path}/blob/{branch}/{folder}chapters/{chapter}.ipynb"


def check_colab(page: Page, expected: str) -> list[str]:
    """The page has a Colab button and every Colab link on it is ``expected``."""
    hrefs = page.eval_on_selector_all(
        "a[href*='colab.research.google.com']", "els => els.map(e => e.href)"
    )
    if not hrefs:
        return [f"no Colab button on the page (expected a link to {expected})"]
    return [f"Colab button points to {href}, expected {expected}" for href in dict.fromkeys(hrefs)
            if href != expected]


class _Ids(HTMLParser):
    """Collects the ``id`` (and ``<a name>``) attributes of an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if value and (key == "id" or (key == "name" and tag == "a")):
                self.ids.add(value)


def html_ids(html: str) -> set[str]:
    """Every ``id`` in an HTML document (and the ``name`` of ``<a>`` anchors)."""
    parser = _Ids()
    parser.feed(html)
    return parser.ids


def check_internal_links(page: Page, cache: dict[str, tuple[int, set[str]]] | None = None) -> list[str]:
    """Every link to the same site points to an existing file, and to an existing id.

    Targets are fetched from the local server (``cache`` maps a document URL
    to its HTTP status and ids, and may be shared between pages).
    """
    cache = {} if cache is None else cache
    here, _ = urldefrag(page.url)
    origin = urlsplit(here)[:2]
    links = page.eval_on_selector_all(
        "a[href]", "els => els.map(e => [e.getAttribute('href'), e.href])"
    )
    ids_here = set(page.eval_on_selector_all("[id], a[name]", "els => els.map(e => e.id || e.name)"))
    problems = []
    for raw, absolute in dict.fromkeys(map(tuple, links)):
        if urlsplit(absolute)[:2] != origin:
            continue  # external (listed by tools/external_links.py), mailto:, javascript:
        document, fragment = urldefrag(absolute)
        document = document.split("?", 1)[0]
        if document == here.split("?", 1)[0]:
            status, ids = 200, ids_here
        else:
            if document not in cache:
                response = page.request.get(document, fail_on_status_code=False)
                body = response.text() if response.ok and "html" in response.headers.get("content-type", "") else ""
                cache[document] = (response.status, html_ids(body))
            status, ids = cache[document]
        if status != 200:
            problems.append(f"dead link: {raw} -> {document} (HTTP {status})")
        elif fragment and unquote(fragment) not in ids:
            problems.append(f"dead link: {raw} -> no element with id {unquote(fragment)!r} in {document}")
    return problems


_PLOTLY_STATE = """async (timeoutMs) => {
    const divs = Array.from(document.querySelectorAll('.plotly-graph-div'));
    if (!divs.length) return {problems: [], sliders: []};
    const drawn = d => d.classList.contains('js-plotly-plot') && d.querySelector('svg.main-svg');
    if (typeof window.Plotly !== 'undefined') {
        const start = Date.now();
        while (!divs.every(drawn) && Date.now() - start < timeoutMs) await new Promise(r => setTimeout(r, 100));
    }
    const problems = [], sliders = [];
    divs.forEach((d, i) => {
        const name = `plotly figure ${i + 1} (id ${d.id})`;
        if (!drawn(d)) {
            problems.push(`${name} was not drawn` + (typeof window.Plotly === 'undefined'
                ? ' (plotly.js is not on the page: inline it with include_plotlyjs=True once per page)' : ''));
            return;
        }
        const svg = d.querySelector('svg.main-svg');
        if (!(parseFloat(svg.getAttribute('width')) > 0 && parseFloat(svg.getAttribute('height')) > 0))
            problems.push(`${name} has an empty drawing area`);
        if (!d._fullData || !d._fullData.length) problems.push(`${name} has no traces`);
        const s = d.layout && d.layout.sliders;
        if (s && s.length && s[0].steps && s[0].steps.length > 1)
            sliders.push({id: d.id, name, active: s[0].active || 0, steps: s[0].steps.length});
    });
    return {problems, sliders};
}"""

_PLOTLY_SIGNATURE = """(id) => {
    const d = document.getElementById(id);
    const parts = [JSON.stringify(d.data || [])];
    const layers = '.cartesianlayer, .polarlayer, .ternarylayer, .pielayer, .imagelayer, '
                 + '.shapelayer, .gl-container, .geolayer, .annotation, .g-gtitle';
    d.querySelectorAll(layers).forEach(n => parts.push(n.outerHTML));
    return parts.join('|');
}"""

_WIDGETS = """async (timeoutMs) => {
    const problems = [];
    const sleep = ms => new Promise(r => setTimeout(r, ms));
    const pixels = c => { try { return c.toDataURL(); } catch (e) { return 'tainted'; } };
    const blank = c => { const b = document.createElement('canvas'); b.width = c.width; b.height = c.height;
                         return pixels(c) === b.toDataURL(); };
    const signature = out => {
        if (out.tagName === 'CANVAS') return pixels(out);
        const parts = [out.innerHTML];
        out.querySelectorAll('canvas').forEach(c => parts.push(pixels(c)));
        out.querySelectorAll('.js-plotly-plot').forEach(p => parts.push(JSON.stringify(p.data || [])));
        return parts.join('|');
    };
    const shows = out => out.tagName === 'CANVAS' ? !blank(out)
        : (out.textContent.trim() !== '' || out.childElementCount > 0);
    const describe = c => c.getAttribute('aria-label') || c.name || c.id
        || `${c.tagName.toLowerCase()}${c.type ? '[type=' + c.type + ']' : ''}`;
    const fire = c => ['input', 'change'].forEach(t => c.dispatchEvent(new Event(t, {bubbles: true})));
    const move = c => {
        const type = (c.type || '').toLowerCase();
        if (c.tagName === 'SELECT') {
            if (c.options.length < 2) return false;
            c.selectedIndex = (c.selectedIndex + 1) % c.options.length; fire(c);
        } else if (type === 'range' || type === 'number') {
            const min = c.min === '' ? (type === 'range' ? 0 : NaN) : parseFloat(c.min);
            const max = c.max === '' ? (type === 'range' ? 100 : NaN) : parseFloat(c.max);
            const now = parseFloat(c.value);
            if (isNaN(min) || isNaN(max)) { c.value = String(now + 1); }
            else { c.value = String(now >= max ? min : max); }
            fire(c);
        } else if (type === 'checkbox' || type === 'radio' || c.tagName === 'BUTTON' || type === 'button') {
            c.click();
        } else if (c.tagName === 'TEXTAREA' || c.tagName === 'INPUT') {
            c.value = c.value + ' the'; fire(c);
        } else {
            c.click();
        }
        return true;
    };
    const boxes = Array.from(document.querySelectorAll('[data-llmbook-interactive]'));
    for (const [i, box] of boxes.entries()) {
        const name = `interactive figure "${box.getAttribute('data-llmbook-interactive') || i + 1}"`;
        let controls = Array.from(box.querySelectorAll('[data-llmbook-control]'));
        if (!controls.length) controls = Array.from(box.querySelectorAll('input, select, textarea'));
        const outputs = box.querySelectorAll('[data-llmbook-output]');
        if (!controls.length) { problems.push(`${name} has no control (input, select, textarea or [data-llmbook-control])`); continue; }
        if (outputs.length !== 1) { problems.push(`${name} must have exactly one [data-llmbook-output] element, found ${outputs.length}`); continue; }
        const out = outputs[0];
        const start = Date.now();
        while (!shows(out) && Date.now() - start < timeoutMs) await sleep(100);
        if (!shows(out)) { problems.push(`${name} shows nothing: its output is empty after loading`); continue; }
        for (const c of controls) {
            const before = signature(out);
            if (!move(c)) { problems.push(`${name}: control ${describe(c)} cannot be moved (one option only)`); continue; }
            const t0 = Date.now();
            while (signature(out) === before && Date.now() - t0 < timeoutMs) await sleep(50);
            if (signature(out) === before)
                problems.push(`${name} does not respond: moving control ${describe(c)} did not change its output`);
        }
    }
    return problems;
}"""


def check_interactive(page: Page) -> list[str]:
    """Every interactive figure renders and responds (see the contract above)."""
    state = page.evaluate(_PLOTLY_STATE, WAIT_MS)
    problems: list[str] = list(state["problems"])
    for slider in state["sliders"]:
        rail = page.locator(f'[id="{slider["id"]}"] .slider-rail-touch-rect').first
        try:
            rail.scroll_into_view_if_needed(timeout=WAIT_MS)
            box = rail.bounding_box()
        except Exception:  # noqa: BLE001 - hidden (e.g. in a folded solution): nothing to click
            box = None
        if box is None or box["width"] == 0:
            continue
        before = page.evaluate(_PLOTLY_SIGNATURE, slider["id"])
        last = slider["active"] < slider["steps"] - 1
        x = box["x"] + (box["width"] - 3 if last else 3)
        page.mouse.click(x, box["y"] + box["height"] / 2)
        try:
            page.wait_for_function(
                f"(before) => ({_PLOTLY_SIGNATURE})({slider['id']!r}) !== before", arg=before,
                timeout=WAIT_MS,
            )
        except Exception:  # noqa: BLE001 - a timeout is the finding
            problems.append(f"{slider['name']} does not respond: moving its slider did not change the plot")
    problems += page.evaluate(_WIDGETS, WAIT_MS)
    return problems


def check_search(page: Page, expected_page: str) -> list[str]:
    """Sphinx's search page, open in ``page`` at ``search.html?q=...``, lists ``expected_page``.

    ``expected_page`` is the path of a page relative to the book's root, such
    as ``chapters/01_history.html``.
    """
    query = urlsplit(page.url).query
    try:
        page.wait_for_function(
            # Finished: the title says "Search Results" (Sphinx's Japanese catalogue
            # translates it; it leaves the "found" summary empty, so the title is the signal).
            """() => { const h = document.querySelector('#search-results h2');
                       const s = document.querySelector('#search-results .search-summary');
                       return h && s && /Search Results|検索結果/.test(h.textContent)
                              && (s.textContent === '' || /found|did not match|見つかりません/i.test(s.textContent)); }""",
            timeout=15_000,
        )
    except Exception:  # noqa: BLE001 - a timeout is the finding
        return [f"the search page did not finish searching for {query}"]
    hrefs = page.eval_on_selector_all("#search-results ul.search li a", "els => els.map(e => e.href)")
    found = [urlsplit(h).path for h in hrefs]
    if not any(path.endswith("/" + expected_page) for path in found):
        return [f"searching ({query}) did not find {expected_page}; results: {found[:10] or 'none'}"]
    return []


def save_screenshot(page: Page, path: Path) -> Path:
    """Save a full-page PNG of ``page`` at ``path`` (creating its folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True, animations="disabled")
    return path


# --- Accessibility basics, on the HTML itself ------------------------------------------

def main_content(html: str) -> Any:
    """The main content of a built page (Sphinx's ``article``), parsed with BeautifulSoup."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    return soup.select_one("article.bd-article") or soup.select_one("main") or soup.body or soup


def check_image_alt(html: str) -> list[str]:
    """Every image of the main content has alt text or sits in a captioned ``<figure>``.

    An ``alt`` equal to the image's own path does not count: that is what
    docutils writes when the author gave no alt text.
    """
    problems = []
    for img in main_content(html).find_all("img"):
        src = img.get("src", "")
        alt = (img.get("alt") or "").strip()
        if alt and alt not in {src, src.rsplit("/", 1)[-1]}:
            continue
        figure = img.find_parent("figure")
        caption = figure.find("figcaption") if figure else None
        if caption is not None and caption.get_text(strip=True):
            continue
        problems.append(f"image without alt text or caption: {src[:120]} (add `image: alt:` or "
                        "`figure: caption:` to the cell's mystnb metadata)")
    return problems


def check_heading_order(html: str) -> list[str]:
    """Headings of the main content start at ``h1`` and never skip a level going down."""
    headings = main_content(html).find_all(re.compile(r"^h[1-6]$"))
    problems, previous = [], 0
    for h in headings:
        level = int(h.name[1])
        text = h.get_text(" ", strip=True).rstrip("#").strip()[:60]
        if previous == 0 and level != 1:
            problems.append(f"the first heading is h{level} ({text!r}), not h1")
        elif level > previous + 1 and previous:
            problems.append(f"h{previous} -> h{level} skips a level at {text!r}")
        previous = level
    return problems
