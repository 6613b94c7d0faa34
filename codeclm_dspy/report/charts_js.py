"""The page's helpers and charts, as inline JavaScript (no library: drawn as SVG).

``h`` builds elements and only ever adds text as text nodes, which is what
keeps item text (model output) from becoming markup.
"""

CHARTS_JS = r"""
"use strict";
const D = JSON.parse(document.getElementById("report-data").textContent);
const SVGNS = "http://www.w3.org/2000/svg";

function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  setAttrs(e, attrs);
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    e.append(kid instanceof Node ? kid : String(kid));
  }
  return e;
}
function setAttrs(e, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") e.setAttribute("class", v);
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : String(v));
  }
}
function s(tag, attrs, ...kids) {
  const e = document.createElementNS(SVGNS, tag);
  setAttrs(e, attrs);
  for (const kid of kids.flat(Infinity)) if (kid !== null && kid !== undefined) e.append(kid instanceof Node ? kid : String(kid));
  return e;
}
const isNum = (x) => typeof x === "number" && isFinite(x);
function num(x, digits) {
  if (!isNum(x)) return "n/a";
  if (digits !== undefined) return x.toFixed(digits);
  return Number.isInteger(x) ? x.toLocaleString("en-US") : x.toLocaleString("en-US", {maximumFractionDigits: 3});
}
function usd(x) {
  if (!isNum(x)) return "unknown";
  return x >= 1 ? "$" + x.toFixed(2) : "$" + (x === 0 ? "0" : x.toPrecision(3));
}
function duration(seconds) {
  if (seconds < 60) return `${seconds.toFixed(1)}\u00a0s`;
  const m = Math.floor(seconds / 60), h = Math.floor(m / 60);
  return h ? `${h}\u00a0h ${m % 60}\u00a0min` : `${m}\u00a0min ${Math.round(seconds % 60)}\u00a0s`;
}
const pct = (x) => isNum(x) ? (100 * x).toFixed(1) + "%" : "n/a";
const badge = (text) => h("span", {class: "badge " + String(text).toLowerCase()}, text);
const pre = (text) => h("pre", {class: "text"}, text === null || text === undefined ? "" : String(text));
const note = (text) => h("p", {class: "note"}, text);

function card(id, title, ...kids) {
  return h("section", {class: "card", id: id}, h("h2", null, title), ...kids);
}
function stats(rows) {
  return h("div", {class: "stats"}, rows.filter(Boolean).map(([k, v, d]) =>
    h("div", {class: "stat"}, h("div", {class: "k"}, k), h("div", {class: "v"}, v), d ? h("div", {class: "d"}, d) : null)));
}
/* cols: [label, value(row), {num: true}] */
function table(cols, rows, attrs) {
  return h("div", {class: "scroll"}, h("table", attrs || null,
    h("thead", null, h("tr", null, cols.map(([label, , o]) => h("th", {class: o && o.num ? "num" : null}, label)))),
    h("tbody", null, rows.map((r) => h("tr", null, cols.map(([, get, o]) => {
      const v = get(r);
      return h("td", {class: o && o.num ? "num" : null}, v instanceof Node ? v : (v === null || v === undefined ? "" : String(v)));
    }))))));
}
function kv(obj) {
  return table([["setting", (r) => r[0]], ["value", (r) => typeof r[1] === "object" && r[1] !== null ? JSON.stringify(r[1]) : r[1]]],
    Object.entries(obj || {}), {class: "kv"});
}
function nav(links) {
  return h("nav", {class: "toc"}, links.map(([id, label]) => h("a", {href: "#" + id}, label)));
}

/* Horizontal bars: rows [{label, value, cls}]; the label column is sized to the longest label. */
function hbars(rows, opts) {
  opts = opts || {};
  const width = opts.width || 760, bar = 22, gap = 6;
  const clip = (t) => t.length > 44 ? t.slice(0, 43) + "\u2026" : t;
  const labelW = 12 + 6.6 * Math.max(4, ...rows.map((r) => clip(String(r.label)).length));
  const max = Math.max(1, ...rows.map((r) => isNum(r.value) ? r.value : 0));
  const plot = width - labelW - 70;
  const height = rows.length * (bar + gap) + 4;
  const svg = s("svg", {width: width, height: height, viewBox: `0 0 ${width} ${height}`, role: "img",
    class: "chart", id: opts.id || null, "aria-label": opts.title || "bar chart"});
  rows.forEach((r, i) => {
    const y = i * (bar + gap) + 2, v = isNum(r.value) ? r.value : 0;
    const w = Math.max(v > 0 ? 2 : 0, (v / max) * plot);
    svg.append(s("text", {x: labelW - 8, y: y + bar / 2 + 4, "text-anchor": "end"}, clip(String(r.label)), s("title", null, r.label)));
    svg.append(s("rect", {x: labelW, y: y, width: w, height: bar, rx: 3, class: "bar-" + (r.cls || "stage")},
      s("title", null, `${r.label}: ${num(r.value)}`)));
    svg.append(s("text", {x: labelW + w + 6, y: y + bar / 2 + 4}, opts.format ? opts.format(r.value) : num(r.value)));
  });
  return svg;
}

/* A histogram of values in [lo, hi) in bins of `step`, with vertical marks (θ lines) at `marks`;
   `keep(mid)` colours a bin by its middle value. */
function histogram(values, opts) {
  const lo = opts.lo, hi = opts.hi, step = opts.step || 1;
  const bins = Math.max(1, Math.round((hi - lo) / step));
  const counts = new Array(bins).fill(0);
  for (const v of values) {
    if (!isNum(v)) continue;
    const b = Math.min(bins - 1, Math.max(0, Math.floor((v - lo) / step)));
    counts[b] += 1;
  }
  const W = 360, H = 170, L = 34, B = 26, T = 18, plotW = W - L - 8, plotH = H - B - T;
  const max = Math.max(1, ...counts);
  const x = (v) => L + ((v - lo) / (hi - lo)) * plotW;
  const svg = s("svg", {width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", class: "chart hist",
    "aria-label": opts.title || "histogram"});
  svg.append(s("text", {x: L, y: 12}, opts.title || ""));
  counts.forEach((c, i) => {
    if (!c) return;
    const x0 = x(lo + i * step), bw = Math.max(1, x(lo + (i + 1) * step) - x0 - 1), bh = (c / max) * plotH;
    const mid = lo + (i + 0.5) * step, keep = opts.keep ? opts.keep(mid) : false;
    svg.append(s("rect", {x: x0, y: T + plotH - bh, width: bw, height: bh, class: keep ? "bar-kept" : "bar-round"},
      s("title", null, `gap ${num(lo + i * step)} to ${num(lo + (i + 1) * step)}: ${c}`)));
  });
  svg.append(s("line", {x1: L, x2: L + plotW, y1: T + plotH, y2: T + plotH, class: "axis"}));
  svg.append(s("line", {x1: L, x2: L, y1: T, y2: T + plotH, class: "axis"}));
  svg.append(s("text", {x: L - 4, y: T + 8, "text-anchor": "end"}, max));
  svg.append(s("text", {x: L - 4, y: T + plotH, "text-anchor": "end"}, 0));
  for (const t of opts.ticks || [lo, hi]) {
    svg.append(s("text", {x: x(t), y: H - 8, "text-anchor": "middle"}, num(t)));
  }
  for (const [m, label] of opts.marks || []) {
    if (!isNum(m) || m < lo || m > hi) continue;
    svg.append(s("line", {x1: x(m), x2: x(m), y1: T - 4, y2: T + plotH, class: "theta"}));
    svg.append(s("text", {x: x(m) + 3, y: T + 6, fill: "#c23b22"}, label));
  }
  return svg;
}

/* Paired bars per row: [{label, a, b}] drawn as two bars (before, after) in [0, max]. */
function pairbars(rows, opts) {
  const W = 760, bar = 12, L = 170, plot = W - L - 80, max = opts.max || 1;
  const H = rows.length * (2 * bar + 14) + 24;
  const svg = s("svg", {width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", class: "chart", "aria-label": opts.title || ""});
  rows.forEach((r, i) => {
    const y = i * (2 * bar + 14) + 4;
    svg.append(s("text", {x: L - 8, y: y + bar + 4, "text-anchor": "end"}, r.label));
    [[r.a, "before", 0], [r.b, "after", bar + 2]].forEach(([v, cls, dy]) => {
      const w = isNum(v) ? Math.max(1, (v / max) * plot) : 0;
      svg.append(s("rect", {x: L, y: y + dy, width: w, height: bar, class: "bar-" + cls}, s("title", null, `${cls}: ${num(v, 3)}`)));
      svg.append(s("text", {x: L + w + 6, y: y + dy + bar - 2}, `${cls} ${num(v, 3)}`));
    });
  });
  return svg;
}
"""
