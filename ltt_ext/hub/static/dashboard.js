// The ltt-ext instructor dashboard: fetches the summary, renders it with textContent only
// (learner text is untrusted), follows server-sent events for live updates.
(function () {
  "use strict";
  const root = document.getElementById("ltt-dashboard");
  const api = root.dataset.api;
  const form = document.getElementById("ltt-filters");
  const live = document.getElementById("ltt-live");
  const filters = ["lesson", "notebook", "ename", "learner"];

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k.startsWith("data-")) node.setAttribute(k, v);
      else node[k] = v;
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function query() {
    const q = new URLSearchParams();
    for (const f of filters) {
      const v = form.elements[f].value;
      if (v) q.set(f, v);
    }
    return q;
  }

  function when(ts) {
    const s = Math.max(0, Math.round(Date.now() / 1000 - ts));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.round(s / 60) + " min ago";
    return new Date(ts * 1000).toLocaleString();
  }

  function fillSelect(name, values) {
    const select = form.elements[name];
    const current = select.value;
    const seen = new Set();
    select.replaceChildren(el("option", { value: "" }, "all"));
    for (const [value, label] of values) {
      if (seen.has(value)) continue;
      seen.add(value);
      select.append(el("option", { value: value }, label));
    }
    if (current && !seen.has(current)) select.append(el("option", { value: current }, current));
    select.value = current;
  }

  function level(n) {
    return n ? el("span", { class: "ltt-level", "data-level": String(n) }, n) : "";
  }

  function render(data) {
    // the filter menus keep what the whole course has, so they are filled from unfiltered data
    const stuck = document.getElementById("ltt-stuck");
    stuck.replaceChildren();
    if (!data.stuck.length) stuck.append(el("li", { class: "list-group-item text-secondary" }, "Nobody right now."));
    for (const s of data.stuck) {
      const why =
        s.reason === "long_run"
          ? "a cell has been running since " + when(s.since)
          : s.count + " × " + s.ename + " since " + when(s.since);
      stuck.append(
        el("li", { class: "list-group-item ltt-stuck-item", "data-learner": s.learner },
          el("strong", {}, s.learner), " · ", el("code", {}, s.path), el("div", { class: "small" }, why))
      );
    }

    const fam = document.getElementById("ltt-families");
    fam.replaceChildren();
    for (const f of data.families) {
      fam.append(el("tr", {}, el("td", {}, el("code", {}, f.ename)), el("td", { class: "text-end" }, f.count),
        el("td", { class: "text-end" }, f.learners)));
    }

    const matrix = document.getElementById("ltt-matrix");
    matrix.replaceChildren();
    const head = el("tr", {}, el("th", {}, "learner"));
    for (const nb of data.notebooks) head.append(el("th", {}, nb));
    matrix.append(el("thead", {}, head));
    const body = el("tbody");
    for (const learner of data.learners) {
      const row = el("tr", { "data-learner": learner }, el("th", {}, learner));
      for (const nb of data.notebooks) {
        const c = (data.matrix[learner] || {})[nb];
        if (!c) { row.append(el("td", { class: "text-secondary" }, "–")); continue; }
        const td = el("td", { title: "last activity " + when(c.last), class: c.errors >= 3 ? "ltt-hot" : "" },
          c.errors + " · " + c.hints, " ", level(c.max_level), " · " + c.questions);
        row.append(td);
      }
      body.append(row);
    }
    matrix.append(body);

    const recent = document.getElementById("ltt-recent");
    recent.replaceChildren();
    for (const r of data.recent) {
      let what = r.kind === "answer" ? "question" : r.kind;
      let details;
      if (r.kind === "error") details = el("span", {}, el("code", {}, r.ename), ": " + (r.evalue || ""));
      else if (r.kind === "answer") details = el("span", {}, el("em", {}, "“" + r.question + "” "), "→ " + r.text);
      else details = el("span", {}, r.ename ? el("code", {}, r.ename) : "", " " + r.text);
      recent.append(el("tr", { class: "ltt-recent-row", "data-kind": r.kind },
        el("td", { title: new Date(r.created * 1000).toISOString() }, when(r.created)),
        el("td", {}, r.learner), el("td", {}, el("code", {}, r.path)), el("td", {}, what),
        el("td", {}, level(r.level)), el("td", { class: "ltt-details" }, details)));
    }
    document.getElementById("ltt-export").href = api + "dashboard/export.csv?" + query().toString();
    root.dataset.loaded = String(Date.now());
  }

  async function fetchJSON(q) {
    const r = await fetch(api + "dashboard?" + q.toString(), { credentials: "same-origin" });
    if (!r.ok) throw new Error("HTTP " + r.status);
    return r.json();
  }

  let pending = null;
  let latest = 0;
  async function refresh() {
    const seq = ++latest;
    try {
      const [all, data] = await Promise.all([fetchJSON(new URLSearchParams()), fetchJSON(query())]);
      if (seq !== latest) return; // a newer refresh (another filter) started meanwhile: it renders
      fillSelect("lesson", all.lessons.map((l) => [l, l || "(top folder)"]));
      fillSelect("notebook", all.notebooks.map((n) => [n, n]));
      fillSelect("ename", all.families.map((f) => [f.ename, f.ename]));
      fillSelect("learner", all.learners.map((l) => [l, l]));
      render(data);
    } catch (e) {
      live.textContent = "cannot load: " + e.message;
      live.dataset.state = "offline";
    }
  }
  function soon() {
    if (pending) return;
    pending = setTimeout(() => { pending = null; refresh(); }, 300);
  }

  form.addEventListener("change", refresh);
  const events = new EventSource(api + "dashboard/stream");
  events.onopen = () => { live.textContent = "live"; live.dataset.state = "live"; };
  events.onerror = () => { live.textContent = "reconnecting…"; live.dataset.state = "offline"; };
  events.addEventListener("changed", soon);
  setInterval(refresh, 30000); // "stuck" also changes with time alone
  refresh();
})();
