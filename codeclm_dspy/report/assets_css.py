"""The report's stylesheet: plain, readable, printable; no web font, nothing fetched."""

CSS = """
:root { --ink:#1f2933; --muted:#616e7c; --line:#e4e7eb; --bg:#f5f7fa; --card:#fff; --accent:#2f6fdd;
  --kept:#2e8540; --dropped:#c17d11; --failed:#c23b22; --stage:#2f6fdd; --round:#6b7fd7; --unfinished:#8a8a8a; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
  color:var(--ink); background:var(--bg); }
.wrap { max-width:1280px; margin:0 auto; padding:0 20px; }
header.top { background:#1f2933; color:#fff; padding:14px 0 10px; }
header.top h1 { margin:0; font-size:20px; font-weight:600; }
header.top .sub { margin:4px 0 0; color:#cbd2d9; font-size:13px; }
nav.toc { position:sticky; top:0; z-index:5; background:#fff; border-bottom:1px solid var(--line);
  padding:8px 0; margin:0 -20px 16px; padding-left:20px; }
nav.toc a { margin-right:16px; color:var(--accent); text-decoration:none; font-weight:500; }
section.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:16px 18px;
  margin:0 0 18px; }
section.card > h2 { margin:0 0 10px; font-size:17px; }
h3 { font-size:14px; margin:14px 0 6px; }
p.note { color:var(--muted); margin:4px 0 10px; font-size:13px; }
.stats { display:grid; grid-template-columns:repeat(auto-fill,minmax(170px,1fr)); gap:12px; margin:16px 0; }
.stat { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:10px 14px; }
.stat .v { font-size:22px; font-weight:600; }
.stat .k { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
.stat .d { color:var(--muted); font-size:12px; }
table { border-collapse:collapse; width:100%; font-size:13px; }
th, td { text-align:left; padding:5px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
th { background:#f0f3f7; font-weight:600; white-space:nowrap; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
tbody tr:nth-child(even) { background:#fafbfc; }
.scroll { overflow-x:auto; }
svg text { font:12px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif; fill:var(--ink); }
svg .axis { stroke:#9aa5b1; stroke-width:1; }
svg .theta { stroke:var(--failed); stroke-width:1.5; stroke-dasharray:4 3; }
.bar-stage { fill:var(--stage); } .bar-round { fill:var(--round); } .bar-kept { fill:var(--kept); }
.bar-dropped { fill:var(--dropped); } .bar-failed { fill:var(--failed); } .bar-unfinished { fill:var(--unfinished); }
.bar-before { fill:#9aa5b1; } .bar-after { fill:var(--accent); }
.hists { display:grid; grid-template-columns:repeat(auto-fill,minmax(360px,1fr)); gap:14px; }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600;
  color:#fff; background:var(--muted); white-space:nowrap; }
.badge.kept, .badge.win, .badge.better, .badge.complete, .badge.judged { background:var(--kept); }
.badge.rejected, .badge.tie, .badge.unchanged, .badge.pruned { background:var(--dropped); }
.badge.failed, .badge.loss, .badge.worse, .badge.fail { background:var(--failed); }
.badge.unfinished, .badge.running { background:var(--unfinished); }
.browser { display:grid; grid-template-columns:minmax(0,1.1fr) minmax(0,1fr); gap:16px; align-items:start; }
@media (max-width:980px) { .browser { grid-template-columns:1fr; } }
.filters { display:flex; flex-wrap:wrap; gap:8px 12px; align-items:end; margin-bottom:10px; }
.filters label { display:flex; flex-direction:column; font-size:12px; color:var(--muted); }
.filters select, .filters input { font:inherit; font-size:13px; padding:4px 6px; border:1px solid #cbd2d9;
  border-radius:5px; background:#fff; color:var(--ink); min-width:120px; }
.filters input[type=search] { min-width:220px; }
.list tbody tr { cursor:pointer; }
.list tbody tr:hover { background:#eef4ff; }
.list tbody tr.sel { background:#dbe8ff; }
.list td:first-child { white-space:nowrap; }
.list td.text { max-width:420px; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
.pager { display:flex; gap:10px; align-items:center; margin-top:8px; color:var(--muted); font-size:13px; }
.pager button { font:inherit; padding:3px 10px; border:1px solid #cbd2d9; border-radius:5px; background:#fff;
  cursor:pointer; }
.pager button:disabled { opacity:.4; cursor:default; }
.detail { position:sticky; top:52px; max-height:calc(100vh - 70px); overflow:auto; border:1px solid var(--line);
  border-radius:8px; padding:12px 14px; background:#fcfdfe; }
.detail h3:first-child { margin-top:0; }
.detail .empty { color:var(--muted); }
.step { border-left:3px solid var(--line); padding:2px 0 6px 12px; margin:8px 0; }
.step.kept { border-color:var(--kept); } .step.back { border-color:var(--round); }
.step.stop { border-color:var(--failed); }
.step .lbl { font-size:11px; text-transform:uppercase; letter-spacing:.05em; color:var(--muted); font-weight:600; }
pre.text { white-space:pre-wrap; word-break:break-word; background:#fff; border:1px solid var(--line);
  border-radius:5px; padding:6px 8px; margin:4px 0; font:12.5px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;
  max-height:260px; overflow:auto; }
.pair { display:grid; grid-template-columns:1fr 1fr; gap:8px; }
.chip { display:inline-block; background:#eef2f7; border-radius:4px; padding:0 6px; margin:0 4px 3px 0; font-size:12px; }
img.chart { max-width:100%; border:1px solid var(--line); border-radius:6px; background:#fff; }
.kv td:first-child { color:var(--muted); white-space:nowrap; width:1%; }
.kv td { word-break:break-word; }
.error { color:var(--failed); }
"""
