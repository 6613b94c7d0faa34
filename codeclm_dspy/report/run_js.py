"""The run page, as inline JavaScript: funnel, filter rounds, cost, reasons, items.

An item's trajectory follows CodecLM's path (§4): seeds, their metadata (use
case and skills), the basic instruction decoded from it, then each
Contrastive Filtering round (§4.3) with the Self-Rubrics action (§4.2) that
rewrote the instruction before it, both answers, the judge's scores in both
orders, the gap against θ, and the decision.
"""

RUN_JS = r"""
function runPage(app) {
  const f = D.funnel, sum = D.summary || {};
  const theta = D.threshold;
  const kept = f.find((b) => b.label === "kept");
  const per = D.per_kept_pair;
  document.getElementById("sub").textContent = [sum.method, sum.status, Object.entries(D.models || {}).map(([r, m]) => `${r}: ${m}`).join(", "),
    sum.finished_at ? `finished ${sum.finished_at}` : null, isNum(sum.wall_time_s) ? duration(sum.wall_time_s) : null].filter(Boolean).join(" · ");
  app.append(nav([["funnel", "Funnel"], ["rounds", "Filter rounds"], ["cost", "Cost"], ["reasons", "Not kept"], ["items", "Items"], ["settings", "Settings"]]));
  if (D.error) app.append(h("p", {class: "error"}, `This run ended with: ${D.error}`));
  app.append(stats([
    ["seeds", num((f.find((b) => b.label === "seeds") || {}).value)],
    ["kept pairs", num(kept ? kept.value : null), D.settings.num_instructions ? `of ${D.settings.num_instructions} asked` : null],
    ["items browsed", num(D.items.length), "kept, rejected and failed"],
    ["per kept pair", per ? usd(per.usd) : "n/a", per ? `${num(per.calls, 1)} calls · ${num(Math.round(per.tokens))} tokens` : null],
    ["threshold θ", num(theta), "keep when |G| > θ"],
    D.shortfall && D.shortfall.pairs ? ["shortfall", num(D.shortfall.pairs), D.shortfall.reason] : null,
  ]));
  app.append(card("funnel", "Funnel: what became of the seeds",
    note("Seeds → metadata → basic instructions → instructions judged in each Contrastive Filtering round → how they ended."),
    hbars(f.map((b) => ({label: b.label, value: b.value, cls: b.group})), {id: "funnel-chart", title: "funnel"})));
  app.append(rounds(theta));
  app.append(cost());
  app.append(card("reasons", "Why items were not kept",
    D.reasons.length ? hbars(D.reasons.map((r) => ({label: `${r.reason} (${r.kind}, ${r.stage})`, value: r.count,
      cls: r.outcome === "failed" ? "failed" : (r.outcome === "unfinished" ? "unfinished" : "dropped")})), {title: "reasons"})
      : note("Every item was kept.")));
  const filters = [["outcome", "outcome"], ["reason", "reason"], ["stage", "stage"], ["kind", "kind"], ["source", "source"],
    ["iteration", "round"], ["use_case", "use case"]];
  app.append(card("items", "Items", note("Every seed, metadata and instruction that did not make it, and every kept pair. Filter, search, click one to see its trajectory."),
    browser({id: "item-browser", items: D.items, filters: filters,
      columns: [["id", (it) => it.id], ["outcome", (it) => badge(it.outcome)], ["reason", (it) => it.reason],
        ["round", (it) => it.iteration, {num: true}], ["gap", (it) => isNum(it.gap) ? num(it.gap, 2) : "", {num: true}],
        ["instruction", (it) => it.instruction, {text: true}]],
      search: (it) => [it.id, it.instruction, it.basic_instruction, it.use_case, (it.skills || []).join(" "), it.reason].join(" "),
      detail: trajectory})));
  app.append(card("settings", "Settings", h("h3", null, "Pipeline"), kv(D.settings),
    D.accounting ? [h("h3", null, "Accounting checks (every item counted once)"), kv(D.accounting)] : null));
}

function rounds(theta) {
  const its = D.iterations;
  const rows = table([["round", (r) => r.iteration, {num: true}], ["judged", (r) => r.judged, {num: true}],
    ["kept (strong)", (r) => r.kept_strong, {num: true}], ["kept (target)", (r) => r.kept_target, {num: true}],
    ["sent back", (r) => r.sent_back, {num: true}], ["dropped", (r) => r.dropped, {num: true}],
    ["rejected", (r) => r.rejected || 0, {num: true}], ["failed", (r) => r.failed, {num: true}]], its);
  const hists = Object.entries(D.gaps).map(([round, gaps]) => {
    const judged = (its.find((r) => String(r.iteration) === round) || {}).judged;
    const title = `round ${round}: ${gaps.length} gaps` + (isNum(judged) && judged !== gaps.length ? ` of ${judged} judged` : "");
    // gaps are differences of two means of two integer scores: multiples of 0.5, each bin centred on one
    return histogram(gaps, {lo: -9.25, hi: 9.25, step: 0.5, ticks: [-9, -6, -3, 0, 3, 6, 9], title: title, keep: (g) => isNum(theta) && Math.abs(g) > theta,
      marks: isNum(theta) ? [[-theta, "\u2212θ"], [theta, "θ"]] : []});
  });
  return card("rounds", "Contrastive Filtering rounds", its.length ? rows : note("This method has no filter rounds."),
    hists.length ? [h("h3", null, "Gap G = strong score - target score, per round (green: |G| > θ, the filter keeps it unless a quality gate refuses an answer)"),
      D.items.some((it) => it.only_last_round) ? note("This run's kept pairs recorded only the round that kept them (runs made before reports existed), so their earlier rounds are missing from these histograms.") : null,
      h("div", {class: "hists"}, hists)] : null);
}

function cost() {
  const per = D.per_kept_pair, alone = D.per_kept_pair_standalone;
  return card("cost", "Cost",
    h("h3", null, "Per stage"),
    table([["stage", (r) => r.stage], ["calls", (r) => num(r.calls), {num: true}], ["tokens", (r) => num(r.tokens), {num: true}],
      ["USD", (r) => usd(r.usd), {num: true}]], D.stages),
    h("h3", null, "Per step"),
    table([["step", (r) => r.step], ["models", (r) => r.models], ["calls", (r) => num(r.calls), {num: true}],
      ["cache hits", (r) => num(r.cache_hits), {num: true}], ["tokens", (r) => num(r.tokens), {num: true}],
      ["USD", (r) => usd(r.usd), {num: true}], ["provider s", (r) => isNum(r.seconds) ? num(r.seconds, 1) : "", {num: true}]], D.steps),
    h("h3", null, "Per kept pair"),
    per ? table([["", (r) => r[0]], ["calls", (r) => num(r[1].calls, 1), {num: true}], ["tokens", (r) => num(Math.round(r[1].tokens)), {num: true}],
      ["USD", (r) => usd(r[1].usd), {num: true}]], [["paid by this run", per], ...(alone ? [["on a cold cache", alone]] : [])])
      : note("No pair was kept."));
}

function scores(a) {
  const js = a.judge_scores || {};
  const order = (k) => js[k] || {};
  return table([["order shown", (r) => r[0]], ["strong", (r) => num(r[1].strong), {num: true}], ["target", (r) => num(r[1].target), {num: true}]],
    [["strong answer first", order("strong_first")], ["target answer first", order("target_first")],
      ["mean of both orders", {strong: a.strong_score, target: a.target_score}]], {class: "scores"});
}

function trajectory(it) {
  const out = h("div", {class: "trajectory"});
  out.append(h("h3", null, `${it.kind} ${it.id} `, badge(it.outcome)));
  if (it.seeds && it.seeds.length) out.append(step("", "seeds", it.seeds.map((sd) => h("div", null, h("span", {class: "chip"}, sd.id), sd.text ? pre(sd.text) : null))));
  if (it.use_case || (it.skills || []).length) out.append(step("", "metadata" + (it.metadata_id ? ` ${it.metadata_id}` : ""),
    h("div", null, "use case: ", h("b", null, it.use_case)), h("div", null, "skills: ", (it.skills || []).map((sk) => h("span", {class: "chip"}, sk)))));
  if (it.basic_instruction) out.append(step("", "basic instruction (decoded)", pre(it.basic_instruction)));
  const attempts = it.attempts || [], actions = it.actions || [];
  if (it.only_last_round && actions.length) out.append(step("back", `Self-Rubrics actions applied (${actions.length})`, h("ol", null, actions.map((a) => h("li", null, a)))));
  attempts.forEach((a, i) => {
    const last = i === attempts.length - 1, action = !it.only_last_round && i > 0 ? actions[i - 1] : null;
    const g = a.gap, within = isNum(g) && isNum(D.threshold) && Math.abs(g) <= D.threshold;
    out.append(step(last && it.outcome === "kept" ? "kept" : (last ? "stop" : "back"), `round ${a.iteration}`,
      action ? h("div", null, "rewritten by action: ", h("b", null, action)) : null,
      h("div", {class: "lbl"}, "instruction"), pre(a.instruction),
      h("div", {class: "pair"}, answer("strong", a.strong_response, a.strong_finish), answer("target", a.target_response, a.target_finish)),
      h("div", {class: "lbl"}, "judge scores"), scores(a),
      h("div", null, `gap G = ${num(g, 2)}; `, last ? decision(it) : (within ? `|G| ≤ θ = ${num(D.threshold)}: sent back to Self-Rubrics` : "sent back"))));
  });
  for (const r of it.refused_rewrites || []) out.append(step("stop", "rewrite refused", pre(r)));
  if (!attempts.length) out.append(step(it.outcome === "kept" ? "kept" : "stop", "decision", h("div", null, decision(it)), h("div", {class: "lbl"}, "instruction"), pre(it.instruction)));
  return out;
}

function answer(who, text, finish) {
  const stopped = finish && finish !== "stop" ? ` (stopped: ${finish})` : "";
  return h("div", null, h("div", {class: "lbl"}, `${who} answer${stopped}`),
    text === undefined ? note("not recorded: kept.jsonl keeps only the answer it kept") : pre(text));
}

function decision(it) {
  const why = [it.gate_detail, it.error].filter(Boolean).join("; ");
  if (it.outcome === "kept") return h("span", null, badge("kept"), ` the ${it.source} answer: |G| > θ = ${num(D.threshold)}`);
  return h("span", null, badge(it.outcome), ` ${it.reason} at ${it.stage}`, why ? h("div", {class: "error"}, why) : null,
    it.raw ? [h("div", {class: "lbl"}, "raw output"), pre(it.raw)] : null);
}

function step(cls, label, ...kids) {
  return h("div", {class: "step " + cls}, h("div", {class: "lbl"}, label), ...kids);
}
"""
