"""The book's interactive figures: self-contained HTML that works in the static book, with no network.

Three widgets, one shape:

- :func:`temperature_explorer`: temperature, top-k and top-p sliders over one
  real next-token distribution (chapter 8);
- :func:`heatmap_explorer`: a menu that switches between attention maps
  (chapters 10 to 12);
- :func:`plotly_views`: a menu that switches one Plotly figure between
  several versions, e.g. projections of word vectors (chapter 5).

Each ``*_html`` function returns the HTML as a string and its companion
without the suffix wraps it in ``IPython.display.HTML`` for a notebook (Jupyter,
Colab and VS Code run the inline script; so does the static book).

Every widget is made the same way (:func:`_widget_html`): a root ``<div>``
with the attribute ``data-llmbook-interactive="<name>"``, its markup (controls
marked ``data-llmbook-control`` or plain ``<input>``/``<select>``, and exactly
one ``data-llmbook-output`` element, as the book's browser tests require),
its data as JSON in ``<script type="application/json" data-llmbook-data>``,
and a constant piece of plain JavaScript that receives the root element and
the parsed data and redraws the output whenever a control moves. Markup is
written with f-strings whose every value goes through :func:`html.escape`;
the scripts contain no Python substitutions at all; and the data passes
through :func:`script_json`, so no token (``</script>``, ``<!--``, U+2028)
can end a script early or inject one.
"""

from __future__ import annotations

import base64
import html
import itertools
import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "script_json",
    "widget_id",
    "token_label",
    "QUANT_STEP",
    "encode_logits",
    "decode_logits",
    "temperature_explorer_html",
    "temperature_explorer",
    "heatmap_explorer_html",
    "heatmap_explorer",
    "plotly_html",
    "plotly_views_html",
    "plotly_views",
]


# --- The shape every widget shares ----------------------------------------------------------

# Inside <script> the HTML parser looks for "</script" and "<!--" (which can
# hide the end tag); "&" matters in XHTML; U+2028 and U+2029 end a line in
# older JavaScript. JSON may write any character as a \u escape.
_SCRIPT_ESCAPES = {ord(c): f"\\u{ord(c):04x}" for c in "<>&\u2028\u2029"}

_ids = itertools.count(1)  # numbers the widgets of a kernel session, so that ids never clash


def script_json(value: Any) -> str:
    """``value`` as JSON that is safe inside a ``<script>`` element.

    ``<``, ``>``, ``&``, U+2028 and U+2029 are written as ``\\u`` escapes, so
    the text cannot close the script, open an HTML comment or break a line;
    ``JSON.parse`` (and Python's :func:`json.loads`) read the value back
    unchanged. NaN and infinity, which JSON cannot hold, raise ``ValueError``.

    >>> script_json(["</script>", "a & b"])
    '["\\\\u003c/script\\\\u003e", "a \\\\u0026 b"]'
    >>> json.loads(script_json(["</script>"]))
    ['</script>']
    """
    return json.dumps(value, ensure_ascii=False, allow_nan=False).translate(_SCRIPT_ESCAPES)


def widget_id(name: str) -> str:
    """A fresh element id for a widget called ``name``: ``llmbook-<slug>-<n>``.

    The slug keeps only ``a-z`` and ``0-9`` of the name (anything else becomes
    ``-``), so the id is safe in an attribute and a CSS selector whatever the
    name holds; ``n`` counts the widgets of the session, so two widgets never
    share an id.

    Raises:
        ValueError: if ``name`` is empty or blank.

    >>> widget_id('a "quoted" <name>').startswith("llmbook-a-quoted-name-")
    True
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError("give the widget a name (used in data-llmbook-interactive)")
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "widget"
    return f"llmbook-{slug}-{next(_ids)}"


def _widget_html(root: str, name: str, markup: str, data: Any, script: str, style: str = "") -> str:
    """Assemble a widget: the root ``div``, its markup, its data, and its script.

    ``root`` comes from :func:`widget_id`; ``markup`` is escaped HTML;
    ``script`` is constant JavaScript that runs with ``root`` (the element)
    and ``data`` (the parsed JSON) in scope.
    """
    style = f' style="{html.escape(style)}"' if style else ""
    return f"""<div id="{root}" data-llmbook-interactive="{html.escape(name)}"{style}>
{markup}
<script type="application/json" data-llmbook-data>{script_json(data)}</script>
<script>
(function (root) {{
  if (!root) return;
  var data = JSON.parse(root.querySelector("script[data-llmbook-data]").textContent);
{script}
}})(document.getElementById({script_json(root)}));
</script>
</div>"""


def _show(page: str) -> Any:  # -> IPython.display.HTML
    from IPython.display import HTML  # only where a notebook displays it

    return HTML(page)


def token_label(text: str) -> str:
    """A readable label for a token: leading/trailing spaces as ``␣``, newlines as ``↵``.

    >>> token_label(" fox"), token_label("\\n")
    ('␣fox', '↵')
    """
    out = text.replace("\n", "↵").replace("\t", "⇥")
    stripped = out.strip(" ")
    lead = len(out) - len(out.lstrip(" "))
    trail = len(out) - len(out.rstrip(" "))
    if not stripped:
        return "␣" * len(out) if out else "∅"
    return "␣" * lead + stripped + "␣" * trail


# --- Temperature, top-k and top-p over one next-token distribution ---------------------------
#
# The *whole* vocabulary travels with the page, so every number the widget
# shows is exact: the logits, sorted from largest to smallest, are stored as
# 16-bit integers round((max - logit) * 500) (a step of 0.002 in logit, far
# below anything visible), base64-encoded. For V = 49,152 tokens that is
# about 130 kB of text. The JavaScript applies, in this order, the
# temperature, top-k and top-p, exactly as llmbook.sampling.process_logits
# does. Each bar carries its probability in a data-prob attribute, which the
# tests compare with llmbook.sampling.

#: Logits are stored in steps of 1/500 below the maximum (16-bit integers).
QUANT_STEP = 1.0 / 500.0
_MAX_CODE = 65535


def encode_logits(logits: Tensor) -> tuple[str, float, list[int]]:
    """Sort ``logits`` (1-D) from largest to smallest and pack them as base64 16-bit integers.

    Returns ``(data, top, order)``: the base64 text, the largest logit, and the
    vocabulary ids in sorted order. Logits more than ``65535 * QUANT_STEP``
    (= 131) below the maximum are clamped there (their probability is below
    ``exp(-131 / T)``, invisible for any temperature the widget offers);
    ``-inf`` logits are clamped too.
    """
    if not isinstance(logits, Tensor) or logits.dim() != 1 or not logits.is_floating_point():
        raise ValueError("logits must be a 1-D floating-point tensor")
    if logits.numel() == 0 or torch.isnan(logits).any() or not torch.isfinite(logits.max()):
        raise ValueError("logits must be non-empty, without NaN, with a finite maximum")
    values, order = torch.sort(logits.double(), descending=True)
    top = float(values[0])
    codes = torch.clamp(torch.round((top - values) / QUANT_STEP), 0, _MAX_CODE)
    raw = codes.numpy().astype("<u2").tobytes()
    return base64.b64encode(raw).decode("ascii"), top, order.tolist()


def decode_logits(data: str, top: float) -> Tensor:
    """The sorted logits back from :func:`encode_logits` (what the JavaScript computes)."""
    codes = np.frombuffer(base64.b64decode(data), dtype="<u2").astype(np.float64)
    return torch.from_numpy(top - codes * QUANT_STEP)


_TEMPERATURE_JS = r"""
  const bin = atob(data.data);
  const n = bin.length / 2;
  const z = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    z[i] = data.top - (bin.charCodeAt(2 * i) | (bin.charCodeAt(2 * i + 1) << 8)) * data.step;
  }
  const q = sel => root.querySelector(sel);
  const tIn = q('[name=temperature]'), kIn = q('[name=top_k]'), pIn = q('[name=top_p]');
  const out = q('[data-llmbook-output]'), info = q('.llmbook-info');
  const NS = 'http://www.w3.org/2000/svg';
  const W = 660, rowH = 22, left = 150, right = 70, shown = data.labels.length;
  const H = (shown + 1) * rowH + 46;
  const w = new Float64Array(n);

  function distribution(T, k, p) {
    // temperature: softmax(z / T); z is sorted, so z[0] is the maximum
    let s = 0;
    for (let i = 0; i < n; i++) { w[i] = Math.exp((z[i] - z[0]) / T); s += w[i]; }
    const before = Array.from(w.subarray(0, shown), v => v / s);
    // top-k: the k most probable (ties with the k-th are kept, as in transformers)
    let m = n;
    if (k > 0 && k < n) { m = k; while (m < n && z[m] === z[k - 1]) m++; }
    // top-p on the top-k distribution: keep a token while the mass before it is < p
    let sk = 0;
    for (let i = 0; i < m; i++) sk += w[i];
    let kept = m;
    if (p < 1) {
      let c = 0; kept = 0;
      while (kept < m && c / sk < p) { c += w[kept]; kept++; }
    }
    let sum = 0;
    for (let i = 0; i < kept; i++) sum += w[i];
    let H = 0;
    for (let i = 0; i < kept; i++) { const pi = w[i] / sum; if (pi > 0) H -= pi * Math.log2(pi); }
    const after = [];
    for (let i = 0; i < shown; i++) after.push(i < kept ? w[i] / sum : 0);
    let rest = 0;
    for (let i = shown; i < kept; i++) rest += w[i] / sum;
    let restBefore = 0;
    for (let i = shown; i < n; i++) restBefore += w[i] / s;
    return {before, after, rest, restBefore, kept, H};
  }

  function el(name, attrs, text) {
    const e = document.createElementNS(NS, name);
    for (const [a, v] of Object.entries(attrs)) e.setAttribute(a, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function draw() {
    const T = Math.pow(10, parseFloat(tIn.value));
    const k = parseInt(kIn.value, 10), p = parseFloat(pIn.value);
    const d = distribution(T, k, p);
    q('.llmbook-t').textContent = T.toFixed(T < 1 ? 2 : 1);
    q('.llmbook-k').textContent = k > 0 ? String(k) : 'off';
    q('.llmbook-p').textContent = p < 1 ? p.toFixed(2) : 'off';
    const svg = el('svg', {viewBox: `0 0 ${W} ${H}`, width: '100%', role: 'img',
                           'aria-label': 'Bar chart of next-token probabilities'});
    svg.style.maxWidth = W + 'px';
    svg.style.font = '13px sans-serif';
    const x = v => left + v * (W - left - right);
    for (const t of [0, 0.25, 0.5, 0.75, 1]) {
      svg.appendChild(el('line', {x1: x(t), x2: x(t), y1: 4, y2: H - 38, stroke: '#8888', 'stroke-width': 0.5}));
      svg.appendChild(el('text', {x: x(t), y: H - 24, 'text-anchor': 'middle', fill: 'currentColor'},
                         t.toFixed(2)));
    }
    const rows = data.labels.map((lab, i) => [lab, d.before[i], d.after[i]]);
    rows.push([data.restLabel, d.restBefore, d.rest]);
    rows.forEach(([lab, b, a], i) => {
      const y = 6 + i * rowH;
      const g = el('g', {'data-token': lab, 'data-prob': a.toPrecision(6)});
      g.appendChild(el('text', {x: left - 8, y: y + 14, 'text-anchor': 'end', fill: 'currentColor'}, lab));
      g.appendChild(el('rect', {x: x(0), y: y + 2, width: Math.max(0, x(b) - x(0)), height: rowH - 6,
                                fill: 'none', stroke: '#999', 'stroke-dasharray': '3 2'}));
      g.appendChild(el('rect', {x: x(0), y: y + 2, width: Math.max(0, x(a) - x(0)), height: rowH - 6,
                                fill: a > 0 ? (i === shown ? '#9bb0cf' : '#4c72b0') : 'none'}));
      g.appendChild(el('text', {x: x(Math.max(a, b)) + 5, y: y + 14, fill: a > 0 ? 'currentColor' : '#999'},
                       a > 0 ? (100 * a).toFixed(a < 0.001 ? 3 : 1) + '%' : 'removed'));
      svg.appendChild(g);
    });
    svg.appendChild(el('text', {x: x(0.5), y: H - 4, 'text-anchor': 'middle', fill: 'currentColor'},
                       'probability of the next token'));
    out.replaceChildren(svg);
    info.textContent = `${d.kept.toLocaleString('en')} of ${n.toLocaleString('en')} tokens can be drawn; ` +
      `entropy ${d.H.toFixed(2)} bits (as uncertain as ${Math.pow(2, d.H).toFixed(1)} equally likely tokens).`;
  }
  [tIn, kIn, pIn].forEach(c => c.addEventListener('input', draw));
  draw();
"""


def temperature_explorer_html(
    logits: Tensor,
    labels: Sequence[str] | Callable[[int], str],
    *,
    shown: int = 12,
    title: str = "",
    name: str = "temperature-slider",
    t_range: tuple[float, float] = (0.05, 5.0),
    max_k: int = 50,
) -> str:
    """HTML of the temperature / top-k / top-p explorer over one next-token distribution.

    Three sliders, a bar chart drawn as SVG, and a few lines of JavaScript
    that recompute the distribution from the packed logits (:func:`encode_logits`).

    Args:
        logits: the next-token logits, 1-D (the whole vocabulary).
        labels: the text of each token: a sequence indexed by token id, or a
            function ``id -> text`` (only the ``shown`` most likely are needed).
            Spaces and newlines are made visible with :func:`token_label`.
        shown: how many of the most likely tokens get their own bar; one more
            bar shows all the other tokens together.
        title: a caption above the controls (plain text).
        name: the value of ``data-llmbook-interactive``.
        t_range: the temperature slider's range (it moves on a log scale).
        max_k: the top-k slider goes from 0 (off) to this.

    Raises:
        ValueError: for bad logits, ``shown`` outside ``[1, V]``, a bad range
            or an empty ``name``.
    """
    encoded, top, order = encode_logits(logits)
    vocab = len(order)
    if not 1 <= shown <= vocab:
        raise ValueError(f"shown must be between 1 and the vocabulary size {vocab}, got {shown}")
    t_lo, t_hi = t_range
    if not 0 < t_lo < 1 < t_hi:
        raise ValueError(f"t_range must satisfy 0 < low < 1 < high, got {t_range}")
    if not 1 <= max_k <= vocab:
        raise ValueError(f"max_k must be between 1 and {vocab}, got {max_k}")
    root = widget_id(name)
    label = labels if callable(labels) else labels.__getitem__
    data = {"data": encoded, "top": top, "step": QUANT_STEP,
            "labels": [token_label(str(label(i))) for i in order[:shown]],
            "restLabel": f"other {vocab - shown:,} tokens"}
    # The slider moves log10(T) in steps of 0.01; its ends must lie on that grid
    # (browsers snap values to min + n * step), so that T = 1 is reachable.
    lo, hi = np.ceil(np.log10(t_lo) * 100) / 100, np.floor(np.log10(t_hi) * 100) / 100
    row = "display:flex;flex-wrap:wrap;gap:1.2em;align-items:center;margin:0.3em 0"
    heading = f'<div style="font-weight:600;margin-bottom:0.3em">{html.escape(title)}</div>' if title else ""
    markup = f"""{heading}<div style="{row}">
  <label>temperature <i>T</i> = <b class="llmbook-t">1.00</b><br>
    <input type="range" name="temperature" aria-label="temperature" min="{lo:.2f}" max="{hi:.2f}"
           step="0.01" value="0" style="width:14em"></label>
  <label>top-k = <b class="llmbook-k">off</b><br>
    <input type="range" name="top_k" aria-label="top-k" min="0" max="{max_k}" step="1" value="0"
           style="width:10em"></label>
  <label>top-p = <b class="llmbook-p">off</b><br>
    <input type="range" name="top_p" aria-label="top-p" min="0.05" max="1" step="0.01" value="1"
           style="width:10em"></label>
</div>
<div data-llmbook-output style="margin-top:0.5em"></div>
<div class="llmbook-info" style="font-size:0.9em;opacity:0.85"></div>
<div style="font-size:0.8em;opacity:0.7">Dashed outline: probability before top-k/top-p;
  filled bar: probability of being drawn.</div>"""
    style = "border:1px solid #8884;border-radius:6px;padding:0.8em 1em;margin:1em 0"
    return _widget_html(root, name, markup, data, _TEMPERATURE_JS, style)


def temperature_explorer(logits: Tensor, labels: Sequence[str] | Callable[[int], str],
                         **kwargs: Any) -> Any:  # -> IPython.display.HTML
    """Display :func:`temperature_explorer_html` in a notebook (and the book)."""
    return _show(temperature_explorer_html(logits, labels, **kwargs))


# --- A menu of heatmaps (attention maps) -----------------------------------------------------

_HEATMAP_JS = r"""
  var menu = root.querySelector("select"), out = root.querySelector("[data-llmbook-output]");
  var readout = root.querySelector("[data-llmbook-readout]");
  var NS = "http://www.w3.org/2000/svg", c = data.cell, fs = Math.min(12, c), charW = 0.62 * fs;
  function longest(labels) { return Math.max.apply(null, labels.map(function (s) { return s.length; })); }
  // Word labels stand upright above the columns; single characters fit across.
  var rotate = longest(data.cols) > 1, left = 30 + longest(data.rows) * charW;
  var topPad = 22 + (rotate ? longest(data.cols) * charW : fs);
  function el(tag, attrs, text) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function colour(v) {  // white -> dark blue
    var t = Math.max(0, Math.min(1, v / data.vmax));
    var r = Math.round(255 - t * (255 - 8)), g = Math.round(255 - t * (255 - 48)), b = Math.round(255 - t * (255 - 107));
    return "rgb(" + r + "," + g + "," + b + ")";
  }
  function draw() {
    var m = data.values[Number(menu.value)], R = data.rows.length, C = data.cols.length;
    var svg = el("svg", {width: left + C * c + 10, height: topPad + R * c + 10, role: "img",
                         "aria-label": menu.options[menu.selectedIndex].text});
    svg.appendChild(el("text", {x: left + C * c / 2, y: 12, "text-anchor": "middle", "font-size": 12}, data.colTitle + " \u2192"));
    svg.appendChild(el("text", {x: 12, y: topPad + R * c / 2, "text-anchor": "middle", "font-size": 12,
                                transform: "rotate(-90 12 " + (topPad + R * c / 2) + ")"}, data.rowTitle + " \u2192"));
    for (var j = 0; j < C; j++) {
      var x = left + j * c + c / 2, y = topPad - 6;
      svg.appendChild(el("text", rotate
        ? {x: x + fs / 3, y: y, "text-anchor": "start", "font-size": fs, "font-family": "monospace",
           transform: "rotate(-90 " + (x + fs / 3) + " " + y + ")"}
        : {x: x, y: y, "text-anchor": "middle", "font-size": fs, "font-family": "monospace"}, data.cols[j]));
    }
    for (var i = 0; i < R; i++) {
      svg.appendChild(el("text", {x: left - 6, y: topPad + i * c + c * 0.75, "text-anchor": "end",
                                  "font-size": fs, "font-family": "monospace"}, data.rows[i]));
      for (var j2 = 0; j2 < C; j2++) {
        var rect = el("rect", {x: left + j2 * c, y: topPad + i * c, width: c, height: c,
                                fill: colour(m[i][j2]), "data-value": m[i][j2]});
        rect.appendChild(el("title", {}, data.rows[i] + " (" + i + ") \u2192 " + data.cols[j2] + " (" + j2 + "): " + m[i][j2].toFixed(3)));
        (function (i, j) {
          rect.addEventListener("mouseenter", function () {
            readout.textContent = data.rowTitle + " " + i + " '" + data.rows[i] + "' \u2192 " + data.colTitle + " " + j +
              " '" + data.cols[j] + "': " + m[i][j].toFixed(3);
          });
        })(i, j2);
        svg.appendChild(rect);
      }
    }
    out.replaceChildren(svg);
  }
  menu.addEventListener("input", draw);
  menu.addEventListener("change", draw);
  draw();
"""


def _check_matrices(matrices: Mapping[str, np.ndarray], n_rows: int, n_cols: int) -> list[np.ndarray]:
    if not matrices:
        raise ValueError("heatmap_explorer needs at least one matrix")
    arrays = []
    for name, m in matrices.items():
        a = np.asarray(m, dtype=float)
        if a.shape != (n_rows, n_cols):
            raise ValueError(f"matrix {name!r} has shape {a.shape}, but the labels ask for "
                             f"({n_rows}, {n_cols}) (rows, columns)")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"matrix {name!r} contains NaN or infinite values")
        arrays.append(a)
    return arrays


def heatmap_explorer_html(
    matrices: Mapping[str, np.ndarray],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    title: str = "",
    *,
    name: str = "heatmap",
    control_label: str = "Matrix",
    row_title: str = "row",
    col_title: str = "column",
    vmax: float | None = None,
    cell: int = 14,
) -> str:
    """HTML for a heatmap with a menu that switches between several matrices.

    Typical use: one attention map per layer and head, rows = queries
    (the position that looks), columns = keys (the positions looked at).
    Hovering a cell shows its row, column and value. Labels are shown with
    :func:`token_label` (a space as ``␣``, a newline as ``↵``).

    Args:
        matrices: menu entry -> 2-D array of shape ``(len(row_labels), len(col_labels))``.
        row_labels, col_labels: tick labels (e.g. the characters of a text).
        title: shown above the heatmap.
        name: value of ``data-llmbook-interactive`` (for tests and styling).
        control_label: the text in front of the menu.
        row_title, col_title: axis titles.
        vmax: value drawn darkest (default: the largest value of all matrices).
        cell: cell size in pixels.

    Raises:
        ValueError: for no matrices, a shape that does not match the labels,
            non-finite values, or an empty ``name``.
    """
    row_labels = [token_label(str(r)) for r in row_labels]
    col_labels = [token_label(str(c)) for c in col_labels]
    arrays = _check_matrices(matrices, len(row_labels), len(col_labels))
    root = widget_id(name)
    top = float(vmax) if vmax is not None else max(float(a.max()) for a in arrays)
    data = {
        "values": [np.round(a, 4).tolist() for a in arrays],
        "rows": row_labels,
        "cols": col_labels,
        "vmax": top if top > 0 else 1.0,
        "cell": int(cell),
        "rowTitle": row_title,
        "colTitle": col_title,
    }
    options = "".join(f'<option value="{i}">{html.escape(str(k))}</option>'
                      for i, k in enumerate(matrices))
    disabled = " disabled" if len(arrays) == 1 else ""
    heading = f'<div style="font-weight:600;margin-bottom:4px">{html.escape(title)}</div>' if title else ""
    markup = f"""{heading}<label>{html.escape(control_label)}:
<select data-llmbook-control aria-label="{html.escape(control_label)}"{disabled}>{options}</select></label>
<span data-llmbook-readout style="margin-left:1em;color:#555">hover over a cell</span>
<div data-llmbook-output></div>"""
    style = "font-family:sans-serif;font-size:13px;overflow-x:auto"
    return _widget_html(root, name, markup, data, _HEATMAP_JS, style)


def heatmap_explorer(
    matrices: Mapping[str, np.ndarray],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    title: str = "",
    **kwargs: Any,
) -> Any:  # -> IPython.display.HTML
    """Display :func:`heatmap_explorer_html` in a notebook (and the book)."""
    return _show(heatmap_explorer_html(matrices, row_labels, col_labels, title, **kwargs))


# --- Plotly figures, and a menu that switches between several -------------------------------
#
# plotly.js (about 4.7 MB) must travel inside the page, since the book works
# with no network; it is inlined by the first figure of a kernel session only,
# and later figures on the same page reuse it. In Google Colab every output
# lives in its own frame, so there each figure carries its own copy. Plotly
# writes the figure's own JSON with <, > and & escaped.

_plotlyjs_inlined = False


def _needs_plotlyjs() -> bool:
    """True if the next figure must inline plotly.js (and remember that it did)."""
    global _plotlyjs_inlined
    if "google.colab" in sys.modules:
        return True
    first = not _plotlyjs_inlined
    _plotlyjs_inlined = True
    return first


def plotly_html(fig: Any, *, div_id: str | None = None) -> str:
    """HTML for a Plotly figure; plotly.js is inlined only by the first call of a session.

    Never uses a CDN: the figure works in the static HTML book with the
    network off.
    """
    return fig.to_html(full_html=False, include_plotlyjs=_needs_plotlyjs(), div_id=div_id,
                       config={"displaylogo": False, "responsive": True})


_PLOTLY_VIEWS_JS = r"""
  var menu = root.querySelector("select");
  function redraw() {
    var plot = document.getElementById(root.id + "-plot");
    if (window.Plotly && plot) {
      var view = data[Number(menu.value)];
      window.Plotly.react(plot, view.data, view.layout);
    }
  }
  menu.addEventListener("input", redraw);
  menu.addEventListener("change", redraw);
"""


def plotly_views_html(views: Mapping[str, Any], name: str, label: str = "View") -> str:
    """One Plotly figure with a menu that switches between several versions of it.

    ``views`` maps a menu entry (e.g. ``"PCA"``, ``"t-SNE"``) to a figure;
    the first is drawn, and choosing another entry redraws the figure with
    ``Plotly.react``. Hover and zoom work as in any Plotly figure.

    Raises:
        ValueError: if ``views`` has fewer than two entries or ``name`` is empty.
    """
    import plotly.io as pio  # an optional dependency, needed only here

    if len(views) < 2:
        raise ValueError("plotly_views_html needs at least two views to switch between")
    root = widget_id(name)
    figures = list(views.values())
    options = "".join(f'<option value="{i}">{html.escape(str(key))}</option>'
                      for i, key in enumerate(views))
    data = [json.loads(pio.to_json(f, validate=False)) for f in figures]
    markup = f"""<label style="font-size:0.9em">{html.escape(label)}:
<select data-llmbook-control aria-label="{html.escape(label)}">{options}</select></label>
<div data-llmbook-output>{plotly_html(figures[0], div_id=root + "-plot")}</div>"""
    return _widget_html(root, name, markup, data, _PLOTLY_VIEWS_JS)


def plotly_views(views: Mapping[str, Any], name: str, label: str = "View") -> Any:
    """Display :func:`plotly_views_html` in a notebook (and the book)."""
    return _show(plotly_views_html(views, name, label))
