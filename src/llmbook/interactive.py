"""Small interactive figures that work in the static HTML book, with no network.

Each widget is one ``<div>`` holding its data as JSON, a control and an SVG
drawn by a few lines of plain JavaScript: no plotly.js, no CDN, nothing to
download. Following the book's convention (see :func:`llmbook.plots.plotly_views_html`)
the root element carries ``data-llmbook-interactive="<name>"``, its control
``data-llmbook-control`` and the drawing ``data-llmbook-output``; changing
the control (an ``input`` or ``change`` event) redraws the output.

In a notebook the HTML renders the same way (Jupyter, Colab and VS Code run
the inline script).
"""

from __future__ import annotations

import html
import itertools
import json
import re
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["heatmap_explorer_html", "heatmap_explorer"]

_counter = itertools.count(1)


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
    Hovering a cell shows its row, column and value; a row label is
    highlighted with the keys it attends to.

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
    row_labels, col_labels = [str(r) for r in row_labels], [str(c) for c in col_labels]
    arrays = _check_matrices(matrices, len(row_labels), len(col_labels))
    if not name or not name.strip():
        raise ValueError("give the widget a name (used in data-llmbook-interactive)")
    top = float(vmax) if vmax is not None else max(float(a.max()) for a in arrays)
    top = top if top > 0 else 1.0
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "heatmap"
    root = f"llmbook-{slug}-{next(_counter)}"
    data = {
        "values": [np.round(a, 4).tolist() for a in arrays],
        "rows": row_labels,
        "cols": col_labels,
        "vmax": top,
        "cell": int(cell),
        "rowTitle": row_title,
        "colTitle": col_title,
    }
    payload = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")
    options = "".join(f'<option value="{i}">{html.escape(str(k))}</option>'
                      for i, k in enumerate(matrices))
    disabled = " disabled" if len(arrays) == 1 else ""
    heading = f'<div style="font-weight:600;margin-bottom:4px">{html.escape(title)}</div>' if title else ""
    return f"""<div id="{root}" data-llmbook-interactive="{html.escape(name)}" style="font-family:sans-serif;font-size:13px;overflow-x:auto">
{heading}<label>{html.escape(control_label)}:
<select data-llmbook-control aria-label="{html.escape(control_label)}"{disabled}>{options}</select></label>
<span data-llmbook-readout style="margin-left:1em;color:#555">hover over a cell</span>
<div data-llmbook-output></div>
<script type="application/json" data-llmbook-data>{payload}</script>
<script>
(function () {{
  var root = document.getElementById("{root}");
  var d = JSON.parse(root.querySelector("script[data-llmbook-data]").textContent);
  var menu = root.querySelector("select"), out = root.querySelector("[data-llmbook-output]");
  var readout = root.querySelector("[data-llmbook-readout]");
  var NS = "http://www.w3.org/2000/svg", c = d.cell, fs = Math.min(12, c), charW = 0.62 * fs;
  function longest(labels) {{ return Math.max.apply(null, labels.map(function (s) {{ return show(s).length; }})); }}
  // Word labels stand upright above the columns; single characters fit across.
  var rotate = longest(d.cols) > 1, left = 30 + longest(d.rows) * charW;
  var topPad = 22 + (rotate ? longest(d.cols) * charW : fs);
  function el(tag, attrs, text) {{
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }}
  function colour(v) {{  // white -> dark blue
    var t = Math.max(0, Math.min(1, v / d.vmax));
    var r = Math.round(255 - t * (255 - 8)), g = Math.round(255 - t * (255 - 48)), b = Math.round(255 - t * (255 - 107));
    return "rgb(" + r + "," + g + "," + b + ")";
  }}
  function show(label) {{
    return label === " " ? "\u2423" : label === "\\n" ? "\u21b5" : label;
  }}
  function draw() {{
    var m = d.values[Number(menu.value)], R = d.rows.length, C = d.cols.length;
    var svg = el("svg", {{width: left + C * c + 10, height: topPad + R * c + 10, role: "img",
                         "aria-label": menu.options[menu.selectedIndex].text}});
    svg.appendChild(el("text", {{x: left + C * c / 2, y: 12, "text-anchor": "middle", "font-size": 12}}, d.colTitle + " \u2192"));
    svg.appendChild(el("text", {{x: 12, y: topPad + R * c / 2, "text-anchor": "middle", "font-size": 12,
                                transform: "rotate(-90 12 " + (topPad + R * c / 2) + ")"}}, d.rowTitle + " \u2192"));
    for (var j = 0; j < C; j++) {{
      var x = left + j * c + c / 2, y = topPad - 6;
      svg.appendChild(el("text", rotate
        ? {{x: x + fs / 3, y: y, "text-anchor": "start", "font-size": fs, "font-family": "monospace",
           transform: "rotate(-90 " + (x + fs / 3) + " " + y + ")"}}
        : {{x: x, y: y, "text-anchor": "middle", "font-size": fs, "font-family": "monospace"}}, show(d.cols[j])));
    }}
    for (var i = 0; i < R; i++) {{
      svg.appendChild(el("text", {{x: left - 6, y: topPad + i * c + c * 0.75, "text-anchor": "end",
                                  "font-size": fs, "font-family": "monospace"}}, show(d.rows[i])));
      for (var j2 = 0; j2 < C; j2++) {{
        var rect = el("rect", {{x: left + j2 * c, y: topPad + i * c, width: c, height: c,
                                fill: colour(m[i][j2]), "data-value": m[i][j2]}});
        rect.appendChild(el("title", {{}}, show(d.rows[i]) + " (" + i + ") \u2192 " + show(d.cols[j2]) + " (" + j2 + "): " + m[i][j2].toFixed(3)));
        (function (i, j) {{
          rect.addEventListener("mouseenter", function () {{
            readout.textContent = d.rowTitle + " " + i + " '" + show(d.rows[i]) + "' \u2192 " + d.colTitle + " " + j +
              " '" + show(d.cols[j]) + "': " + m[i][j].toFixed(3);
          }});
        }})(i, j2);
        svg.appendChild(rect);
      }}
    }}
    out.replaceChildren(svg);
  }}
  menu.addEventListener("input", draw);
  menu.addEventListener("change", draw);
  draw();
}})();
</script>
</div>"""


def heatmap_explorer(
    matrices: Mapping[str, np.ndarray],
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    title: str = "",
    **kwargs: object,
):  # -> IPython.display.HTML
    """Display :func:`heatmap_explorer_html` in a notebook (and the book)."""
    from IPython.display import HTML

    return HTML(heatmap_explorer_html(matrices, row_labels, col_labels, title, **kwargs))  # type: ignore[arg-type]
