"""The item browser, as inline JavaScript: filters, search, pages of 50, one item's detail.

Filtering is one pass over the items in memory and only the current page is
drawn, so 10,000 items stay responsive without a virtual list. Each item's
search text is lowercased once, the first time a search needs it.
"""

BROWSER_JS = r"""
/* opts: {id, items, filters: [[key, label]], columns: [[label, get, {num}]], search(item) -> text,
          detail(item) -> Node, pageSize} */
function browser(opts) {
  const items = opts.items, size = opts.pageSize || 50;
  const state = {filters: {}, query: "", page: 0, selected: null, matched: items};
  const root = h("div", {class: "browser-wrap", id: opts.id});
  const count = h("span", {class: "count"});
  const body = h("tbody");
  const detail = h("div", {class: "detail", id: opts.id + "-detail"},
    h("p", {class: "empty"}, "Click an item to see its whole trajectory."));
  const prev = h("button", {type: "button", onclick: () => go(state.page - 1)}, "\u2039 Prev");
  const next = h("button", {type: "button", onclick: () => go(state.page + 1)}, "Next \u203a");
  const where = h("span");

  const controls = opts.filters.map(([key, label]) => {
    const tally = new Map();
    for (const it of items) {
      const v = valueOf(it, key);
      tally.set(v, (tally.get(v) || 0) + 1);
    }
    const values = [...tally.entries()].sort((a, b) => b[1] - a[1] || String(a[0]).localeCompare(String(b[0])));
    const select = h("select", {"data-filter": key, onchange: (e) => {
      state.filters[key] = e.target.value === "\u0000all" ? undefined : e.target.value;
      refilter();
    }}, h("option", {value: "\u0000all"}, `all (${items.length})`),
      values.map(([v, n]) => h("option", {value: v}, `${v === "" ? "(none)" : v} (${n})`)));
    return h("label", null, label, select);
  });
  let timer = null;
  const search = h("input", {type: "search", placeholder: "search text, id, use case…", "aria-label": "search",
    oninput: (e) => {
      clearTimeout(timer);
      timer = setTimeout(() => { state.query = e.target.value.trim().toLowerCase(); refilter(); }, 120);
    }});
  root.append(h("div", {class: "filters"}, controls, h("label", null, "search", search), count));
  root.append(h("div", {class: "browser"},
    h("div", null, h("div", {class: "scroll"}, h("table", {class: "list"},
      h("thead", null, h("tr", null, opts.columns.map(([label, , o]) => h("th", {class: o && o.num ? "num" : null}, label)))),
      body)), h("div", {class: "pager"}, prev, where, next)),
    detail));

  function valueOf(it, key) {
    const v = it[key];
    return v === null || v === undefined ? "" : String(v);
  }
  function textOf(it) {
    if (it.__text === undefined) it.__text = opts.search(it).toLowerCase();
    return it.__text;
  }
  function refilter() {
    const active = Object.entries(state.filters).filter(([, v]) => v !== undefined);
    const q = state.query;
    state.matched = items.filter((it) => active.every(([k, v]) => valueOf(it, k) === v) && (!q || textOf(it).includes(q)));
    go(0);
  }
  function go(page) {
    const pages = Math.max(1, Math.ceil(state.matched.length / size));
    state.page = Math.min(Math.max(0, page), pages - 1);
    const start = state.page * size, shown = state.matched.slice(start, start + size);
    body.replaceChildren(...shown.map((it) => {
      const tr = h("tr", {"data-id": it.id, class: it === state.selected ? "sel" : null, onclick: () => select(it, tr)},
        opts.columns.map(([, get, o]) => {
          const v = get(it);
          return h("td", {class: o && o.num ? "num" : (o && o.text ? "text" : null), title: o && o.text ? String(v) : null},
            v instanceof Node ? v : (v === null || v === undefined ? "" : String(v)));
        }));
      return tr;
    }));
    if (!shown.length) body.append(h("tr", null, h("td", {colspan: opts.columns.length, class: "empty"}, "No item matches.")));
    count.textContent = `${state.matched.length.toLocaleString("en-US")} of ${items.length.toLocaleString("en-US")} items`;
    where.textContent = `page ${state.page + 1} of ${pages}`;
    prev.disabled = state.page === 0;
    next.disabled = state.page >= pages - 1;
  }
  function select(it, tr) {
    state.selected = it;
    for (const row of body.querySelectorAll("tr.sel")) row.classList.remove("sel");
    if (tr) tr.classList.add("sel");
    detail.replaceChildren(opts.detail(it));
    detail.scrollTop = 0;
  }
  go(0);
  return root;
}
"""
