"""The CRR, compile, comparison and sweep pages, as inline JavaScript, and the dispatcher.

CRR (CodecLM §5.3): the verdict rule compares the target's and the strong
model's scores in both presentation orders; each item shows both.
"""

PAGES_JS = r"""
function crrPage(app) {
  const sum = D.summary || {}, r = D.result, l = D.as_losses || {}, c = D.counts || {};
  document.getElementById("sub").textContent = [sum.status, sum.benchmark, sum.judge_model ? `judge ${sum.judge_model}` : null,
    Object.entries(D.models || {}).map(([k, m]) => `${k}: ${m}`).join(", ")].filter(Boolean).join(" · ");
  app.append(nav([["crr", "CRR"], ["items", "Items"]]));
  if (D.error) app.append(h("p", {class: "error"}, `This evaluation ended with: ${D.error}`));
  const ci = (x) => x ? `${pct(x.ci_low)} to ${pct(x.ci_high)} (${Math.round(100 * x.confidence)}% CI)` : null;
  app.append(stats([
    ["CRR, failures excluded", r ? pct(r.crr) : "n/a", ci(r)],
    ["CRR, failures as losses", pct(l.crr), ci(l.crr === undefined ? null : l)],
    ["wins / ties / losses", r ? `${r.wins} / ${r.ties} / ${r.losses}` : "n/a"],
    ["failed", num(c.failed || 0), Object.entries(c.failed_by_reason || {}).map(([k, v]) => `${k} ${v}`).join(", ")],
  ]));
  if (D.self_judged_as) app.append(h("p", {class: "error"}, `Self-judged: the judge is also the ${D.self_judged_as} model and may favour its own answers.`));
  app.append(card("crr", "Verdicts", hbars([["win", "kept"], ["tie", "dropped"], ["loss", "failed"], ["failed", "unfinished"]].map(([v, cls]) =>
    ({label: v, value: D.items.filter((it) => it.verdict === v).length, cls: cls})), {id: "verdict-chart"}),
    Object.keys(c.target_gated_by_reason || {}).length ? note("Target answers refused by a quality gate (judged as given): " +
      Object.entries(c.target_gated_by_reason).map(([k, v]) => `${k} ${v}`).join(", ")) : null));
  app.append(card("items", "Items", browser({id: "item-browser", items: D.items,
    filters: [["verdict", "verdict"], ["outcome", "outcome"], ["category", "category"], ["reason", "reason"]],
    columns: [["id", (it) => it.id], ["verdict", (it) => badge(it.verdict)], ["category", (it) => it.category],
      ["instruction", (it) => it.instruction, {text: true}]],
    search: (it) => [it.id, it.instruction, it.category, it.strong_response, it.target_response].join(" "),
    detail: crrItem})));
}

function crrItem(it) {
  const js = it.judge_scores || {}, ex = it.explanations || {};
  return h("div", null, h("h3", null, `${it.id} `, badge(it.verdict)),
    h("div", {class: "lbl"}, "instruction"), pre(it.instruction),
    h("div", {class: "pair"}, h("div", null, h("div", {class: "lbl"}, "strong answer"), pre(it.strong_response)),
      h("div", null, h("div", {class: "lbl"}, "target answer"), pre(it.target_response))),
    it.outcome === "failed" ? h("div", {class: "error"}, `${it.reason} at ${it.stage}: ${it.error || ""}`) : [
      h("div", {class: "lbl"}, "judge scores"),
      table([["order shown", (r) => r[0]], ["target", (r) => num((js[r[1]] || {}).target), {num: true}],
        ["strong", (r) => num((js[r[1]] || {}).strong), {num: true}], ["explanation", (r) => ex[r[1]] || ""]],
        [["target answer first", "target_first"], ["strong answer first", "strong_first"]], {class: "scores"}),
      it.target_gate ? h("div", {class: "error"}, `target answer refused by a gate: ${it.target_gate.reason} (${it.target_gate.detail || ""})`) : null]);
}

function programPage(app) {
  const sum = D.summary || {};
  document.getElementById("sub").textContent = [sum.status, Object.entries(D.models || {}).map(([k, m]) => `${k}: ${m}`).join(", "),
    sum.finished_at ? `finished ${sum.finished_at}` : null].filter(Boolean).join(" · ");
  app.append(nav([["steps", "Steps"], ["prompts", "Prompts"], ["items", "Per example"]]));
  if (D.error) app.append(h("p", {class: "error"}, `This compile ended with: ${D.error}`));
  const ci = (x) => x ? ` [${num(x[0], 3)}, ${num(x[1], 3)}]` : "";
  app.append(card("steps", "Held-out score before and after compiling",
    pairbars(D.steps.map((st) => ({label: st.step, a: st.before, b: st.after})), {max: 1, title: "before and after"}),
    table([["step", (r) => r.step], ["optimizer", (r) => r.optimizer], ["before", (r) => num(r.before, 3) + ci(r.before_ci), {num: true}],
      ["after", (r) => num(r.after, 3) + ci(r.after_ci), {num: true}], ["delta", (r) => num(r.delta, 4), {num: true}],
      ["kept", (r) => badge(r.kept)], ["dev n", (r) => num(r.n), {num: true}], ["demos", (r) => num(r.demos), {num: true}],
      ["compile s", (r) => num(r.compile_seconds, 1), {num: true}]], D.steps)));
  app.append(card("prompts", "The instructions each step kept", D.steps.map((st) => [h("h3", null, st.step), pre(st.instructions)])));
  app.append(card("items", "Per held-out example", browser({id: "item-browser", items: D.items,
    filters: [["step", "step"], ["outcome", "change"]],
    columns: [["example", (it) => it.id], ["before", (it) => num(it.before.score, 3), {num: true}],
      ["after", (it) => num(it.after.score, 3), {num: true}], ["change", (it) => badge(it.outcome)]],
    search: (it) => [it.id, it.before.feedback, it.after.feedback, it.before.failed, it.after.failed].join(" "),
    detail: (it) => h("div", null, h("h3", null, `${it.id} `, badge(it.outcome)),
      [["before compiling", it.before], ["after compiling", it.after]].map(([label, x]) => [
        h("div", {class: "lbl"}, `${label}: score ${num(x.score, 3)}`),
        x.failed ? h("div", {class: "error"}, x.failed) : pre(x.feedback || ""),
        x.parts ? kv(x.parts) : null]))})));
}

const COMPARE_COLUMNS = [["method", "Method"], ["kept", "Kept pairs"], ["measured", "Measured"], ["coverage", "Coverage ↑"],
  ["precision", "Precision ↑"], ["mean_nn_similarity", "NN sim ↑"], ["distinct_1", "Distinct-1 ↑"], ["distinct_2", "Distinct-2 ↑"],
  ["mean_pairwise_distance", "Pairwise dist ↑"], ["near_duplicate_rate", "Near-dup ↓"], ["contaminated", "Contaminated ↓"],
  ["calls_per_kept", "Calls/kept ↓"], ["tokens_per_kept", "Tokens/kept ↓"], ["usd_per_kept", "USD/kept ↓"]];

function comparisonPage(app) {
  const st = D.settings || {};
  document.getElementById("sub").textContent = [st.heldout ? `held-out ${st.heldout.path} (${st.heldout.size})` : null,
    st.embedder ? `embedder ${st.embedder}` : null, st.equal_n ? `equal N = ${st.equal_n.n}` : "full data"].filter(Boolean).join(" · ");
  app.append(nav([["table", "Table"], ["charts", "Chart"], ["items", "Contamination"], ["settings", "Settings"]]));
  app.append(card("table", "Runs compared", table(COMPARE_COLUMNS.map(([k, label]) => [label,
    (r) => k === "usd_per_kept" ? usd(r[k]) : (k === "method" ? r[k] : num(r[k])), {num: k !== "method"}]), D.rows)));
  app.append(images("charts", "Chart"));
  app.append(card("items", "Contamination flags", D.items.length ? browser({id: "item-browser", items: D.items,
    filters: [["run", "run"], ["kind", "kind"], ["eval_set", "eval set"]],
    columns: [["run", (it) => it.run], ["row", (it) => it.row_id], ["eval item", (it) => it.eval_id], ["kind", (it) => it.kind],
      ["similarity", (it) => num(it.similarity, 3), {num: true}]],
    search: (it) => [it.run, it.row_id, it.eval_id].join(" "), detail: (it) => kv(it)}) : note("No kept instruction matched an eval item.")));
  app.append(card("settings", "Settings", kv(st)));
}

function sweepPage(app) {
  document.getElementById("sub").textContent = `${D.items.length} trials` + (D.storage ? "" : " · the study is not in study.db (external storage): trials are not listed");
  app.append(nav([["trials", "Trials"], ["charts", "Charts"]]));
  const done = D.items.filter((t) => t.outcome === "complete");
  app.append(stats([["trials", num(D.items.length)], ["complete", num(done.length)],
    ["pruned", num(D.items.filter((t) => t.outcome === "pruned").length)], ["failed", num(D.items.filter((t) => t.outcome === "fail").length)]]));
  const params = [...new Set(D.items.flatMap((t) => Object.keys(t.params)))].sort();
  app.append(card("trials", "Trials", browser({id: "item-browser", items: D.items, filters: [["outcome", "state"], ["study", "study"]],
    columns: [["trial", (t) => t.number, {num: true}], ["state", (t) => badge(t.outcome)],
      ["quality", (t) => num(t.values.quality, 4), {num: true}], ["cost per kept pair", (t) => num(t.values["cost per kept pair"]), {num: true}],
      ...params.map((p) => [p, (t) => t.params[p] === undefined ? "" : String(t.params[p])])],
    search: (t) => JSON.stringify(t), detail: (t) => h("div", null, h("h3", null, `trial ${t.number} `, badge(t.outcome)),
      h("div", {class: "lbl"}, "knobs"), kv(t.params), h("div", {class: "lbl"}, "objectives"), kv(t.values),
      h("div", {class: "lbl"}, "metrics"), kv(t.attrs.metrics || {}),
      h("div", {class: "lbl"}, "recorded"), kv({...Object.fromEntries(Object.entries(t.attrs).filter(([k]) => k !== "metrics")),
        started: t.started, finished: t.finished}))})));
  app.append(images("charts", "Charts"));
}

function images(id, title) {
  return card(id, title, (D.images || []).length ? D.images.map((im) => h("figure", null, h("img", {class: "chart", src: im.src, alt: im.name}),
    h("figcaption", {class: "note"}, im.name))) : note("No chart was written."));
}

(function main() {
  const app = document.getElementById("app");
  const pages = {run: runPage, crr: crrPage, program: programPage, comparison: comparisonPage, sweep: sweepPage};
  pages[D.kind](app);
  app.append(h("p", {class: "note"}, `${D.path} · report written ${D.generated_at} by codeclm report`));
  document.body.setAttribute("data-ready", "1");
})();
"""
