"""An interactive temperature / top-k / top-p explorer over one real next-token distribution.

:func:`temperature_widget` turns a logit vector into a self-contained piece of
HTML: three sliders, a bar chart drawn as SVG, and a few lines of inline
JavaScript. It needs no network, no Jupyter kernel and no library, so it
works in the static HTML book, in Jupyter and in Colab
(``IPython.display.HTML(temperature_widget(...))``).

The *whole* vocabulary travels with the page, so every number the widget
shows is exact: the logits, sorted from largest to smallest, are stored as
16-bit integers ``round((max - logit) * 500)`` (a step of 0.002 in logit,
far below anything visible), base64-encoded. For ``V = 49,152`` tokens that is
about 130 kB of text.

The JavaScript applies, in this order, the temperature, top-k and top-p,
exactly as :func:`llmbook.sampling.process_logits` does, and draws the
probabilities of the ``shown`` most likely tokens plus one bar for all the
others. Each bar carries its probability in a ``data-prob`` attribute, which
the tests compare with :mod:`llmbook.sampling`.

The root element has the attribute ``data-llmbook-interactive`` and exactly
one ``data-llmbook-output`` element, as the book's browser tests require.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = ["QUANT_STEP", "encode_logits", "decode_logits", "token_label", "temperature_widget"]

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


_JS = r"""
(() => {
  const root = document.getElementById(%(id)s);
  if (!root) return;
  const cfg = %(cfg)s;
  const bin = atob(cfg.data);
  const n = bin.length / 2;
  const z = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    z[i] = cfg.top - (bin.charCodeAt(2 * i) | (bin.charCodeAt(2 * i + 1) << 8)) * cfg.step;
  }
  const q = sel => root.querySelector(sel);
  const tIn = q('[name=temperature]'), kIn = q('[name=top_k]'), pIn = q('[name=top_p]');
  const out = q('[data-llmbook-output]'), info = q('.llmbook-info');
  const NS = 'http://www.w3.org/2000/svg';
  const W = 660, rowH = 22, left = 150, right = 70, shown = cfg.labels.length;
  const H = (shown + 1) * rowH + 46;
  const w = new Float64Array(n), keep = new Uint8Array(n);

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
    const svg = el('svg', {viewBox: `0 0 ${W} ${H}`, width: '100%%', role: 'img',
                           'aria-label': 'Bar chart of next-token probabilities'});
    svg.style.maxWidth = W + 'px';
    svg.style.font = '13px sans-serif';
    const x = v => left + v * (W - left - right);
    for (const t of [0, 0.25, 0.5, 0.75, 1]) {
      svg.appendChild(el('line', {x1: x(t), x2: x(t), y1: 4, y2: H - 38, stroke: '#8888', 'stroke-width': 0.5}));
      svg.appendChild(el('text', {x: x(t), y: H - 24, 'text-anchor': 'middle', fill: 'currentColor'},
                         t.toFixed(2)));
    }
    const rows = cfg.labels.map((lab, i) => [lab, d.before[i], d.after[i]]);
    rows.push([cfg.restLabel, d.restBefore, d.rest]);
    rows.forEach(([lab, b, a], i) => {
      const y = 6 + i * rowH;
      const g = el('g', {'data-token': lab, 'data-prob': a.toPrecision(6)});
      g.appendChild(el('text', {x: left - 8, y: y + 14, 'text-anchor': 'end', fill: 'currentColor'}, lab));
      g.appendChild(el('rect', {x: x(0), y: y + 2, width: Math.max(0, x(b) - x(0)), height: rowH - 6,
                                fill: 'none', stroke: '#999', 'stroke-dasharray': '3 2'}));
      g.appendChild(el('rect', {x: x(0), y: y + 2, width: Math.max(0, x(a) - x(0)), height: rowH - 6,
                                fill: a > 0 ? (i === shown ? '#9bb0cf' : '#4c72b0') : 'none'}));
      g.appendChild(el('text', {x: x(Math.max(a, b)) + 5, y: y + 14, fill: a > 0 ? 'currentColor' : '#999'},
                       a > 0 ? (100 * a).toFixed(a < 0.001 ? 3 : 1) + '%%' : 'removed'));
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
})();
"""


def temperature_widget(
    logits: Tensor,
    labels: Sequence[str] | Callable[[int], str],
    *,
    shown: int = 12,
    title: str = "",
    name: str = "temperature-slider",
    t_range: tuple[float, float] = (0.05, 5.0),
    max_k: int = 50,
) -> str:
    """HTML (with inline SVG and JavaScript) of the temperature / top-k / top-p explorer.

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
        ValueError: for bad logits, ``shown`` outside ``[1, V]``, or a bad range.
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
    label = labels if callable(labels) else labels.__getitem__
    shown_labels = [token_label(str(label(i))) for i in order[:shown]]
    rest = vocab - shown
    cfg = {"data": encoded, "top": top, "step": QUANT_STEP, "labels": shown_labels,
           "restLabel": f"other {rest:,} tokens"}
    digest = hashlib.sha1((encoded + name + title).encode()).hexdigest()[:10]
    root_id = f"llmbook-{name}-{digest}"
    # The slider moves log10(T) in steps of 0.01; its ends must lie on that grid
    # (browsers snap values to min + n * step), so that T = 1 is reachable.
    lo, hi = np.ceil(np.log10(t_lo) * 100) / 100, np.floor(np.log10(t_hi) * 100) / 100
    style_row = "display:flex;flex-wrap:wrap;gap:1.2em;align-items:center;margin:0.3em 0"
    heading = f'<div style="font-weight:600;margin-bottom:0.3em">{html.escape(title)}</div>' if title else ""
    controls = f"""
  <div style="{style_row}">
    <label>temperature <i>T</i> = <b class="llmbook-t">1.00</b><br>
      <input type="range" name="temperature" aria-label="temperature" min="{lo:.2f}" max="{hi:.2f}"
             step="0.01" value="0" style="width:14em"></label>
    <label>top-k = <b class="llmbook-k">off</b><br>
      <input type="range" name="top_k" aria-label="top-k" min="0" max="{max_k}" step="1" value="0"
             style="width:10em"></label>
    <label>top-p = <b class="llmbook-p">off</b><br>
      <input type="range" name="top_p" aria-label="top-p" min="0.05" max="1" step="0.01" value="1"
             style="width:10em"></label>
  </div>"""
    js = _JS % {"id": json.dumps(root_id), "cfg": json.dumps(cfg)}
    return f"""<div id="{root_id}" data-llmbook-interactive="{html.escape(name)}"
     style="border:1px solid #8884;border-radius:6px;padding:0.8em 1em;margin:1em 0">
  {heading}{controls}
  <div data-llmbook-output style="margin-top:0.5em"></div>
  <div class="llmbook-info" style="font-size:0.9em;opacity:0.85"></div>
  <div style="font-size:0.8em;opacity:0.7">Dashed outline: probability before top-k/top-p;
    filled bar: probability of being drawn.</div>
</div>
<script>{js}</script>
"""
