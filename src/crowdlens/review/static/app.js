// crowdlens review UI. Every string that came from a photo or a manifest (labels,
// OCR text, reasons, paths, reviewer names) is written with textContent, never innerHTML.
// The server pages, filters and sorts the queue; this page holds one page at a time.
// Every value word (actions, states, menus, measures) comes from the server's
// /api/session "vocabulary", built from crowdlens.schema: this file spells none.
"use strict";

const state = {
  session: null, items: [], counts: {}, matched: 0, offset: 0,
  cursor: 0, anchor: 0, selected: new Set(), undo: [],
  detail: null, outlines: true, original: false, busy: false,
};
const $ = (id) => document.getElementById(id);
let V = null;  // the vocabulary of /api/session, set before anything else runs

// How a state looks (app.css classes): UI names, not the vocabulary's words.
function stateStyle(s) {
  return { [V.DECIDED]: "done", [V.CONFLICT]: "disputed", [V.SECOND]: "waiting" }[s] || "open";
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function say(text) { $("message").textContent = text; }

async function api(path, body) {
  const opts = { credentials: "same-origin" };
  if (body !== undefined) {
    opts.method = "POST";
    opts.headers = { "Content-Type": "application/json" };
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.error || ("HTTP " + r.status));
  return data;
}

// --- the queue page ---------------------------------------------------------

function query() {
  const p = new URLSearchParams();
  const add = (k, v) => { if (v) p.set(k, v); };
  add("item", $("f-item").value.trim());
  add("reason", $("f-reason").value);
  add("verdict", $("f-verdict").value);
  add("country", $("f-country").value);
  add("contributor", $("f-contributor").value.trim());
  add("show", $("f-show").value);
  add("sort", $("f-sort").value);
  add("order", $("f-asc").checked ? "asc" : "");
  p.set("offset", String(state.offset));
  p.set("limit", String(state.session.page_size));
  return p;
}

let loadSeq = 0;  // filters can change faster than the server answers: only the newest answer counts

async function load() {
  const seq = ++loadSeq;
  $("grid").setAttribute("aria-busy", "true");
  let data;
  try { data = await api("/api/queue?" + query().toString()); } catch (e) {
    if (seq === loadSeq) say("Could not load the queue: " + e.message);
    return;
  }
  if (seq !== loadSeq) return;
  state.items = data.items;
  state.counts = data.counts;
  state.matched = data.matched;
  state.selected.clear();
  state.cursor = Math.min(state.cursor, Math.max(0, state.items.length - 1));
  state.anchor = state.cursor;
  showAgreement(data.agreement);
  renderGrid();
  $("grid").dataset.offset = String(state.offset);
  $("grid").setAttribute("aria-busy", "false");
}

function refilter() { state.offset = 0; state.cursor = 0; load(); }

function showAgreement(a) {
  $("kappa").textContent = a && a.photos
    ? "agreement on " + a.photos + " photo" + (a.photos === 1 ? "" : "s") + " decided by two reviewers: κ = " + (a.kappa === null ? "n/a" : Number(a.kappa).toFixed(2))
    : "";
}

function renderProgress() {
  const c = state.counts;
  $("progress").textContent = (c[V.TODO] || 0) + " to do · " + (c[V.DECIDED] || 0) + " decided · "
    + (c[V.CONFLICT] || 0) + " conflicts · " + (state.session ? state.session.total : 0) + " in queue";
  const end = state.offset + state.items.length;
  $("range").textContent = state.matched ? (state.offset + 1) + "–" + end + " of " + state.matched : "0 of 0";
  $("prev-page").disabled = state.offset === 0;
  $("next-page").disabled = end >= state.matched;
  $("selcount").textContent = state.selected.size + " selected";
  $("undo").disabled = state.undo.length === 0;
}

function stateText(it) {
  if (it.state === V.CONFLICT) return V.CONFLICT;
  if (it.state === V.SECOND) return it.mine ? "waits for a 2nd reviewer" : "2nd review";
  if (it.state === V.DECIDED) {
    const d = it.mine || it.others[0];
    return d.action + (d.label ? " → " + d.label : "");
  }
  return V.PENDING;
}

function card(it, i) {
  const d = el("div", null, "card");
  d.dataset.id = it.image_id;
  d.dataset.index = String(i);
  d.dataset.state = it.state;
  const img = el("img");
  img.alt = "released copy";
  img.src = "/photo/" + encodeURIComponent(it.image_id) + "?v=thumb";
  d.appendChild(img);
  d.appendChild(el("b", it.label === null ? "(no label)" : it.label));
  if (it.pred_label && it.pred_label !== it.label) d.appendChild(el("div", "looks like " + it.pred_label));
  d.appendChild(el("div", "u=" + Number(it.uncertainty).toFixed(2) + " · " + it.reasons.join(", ")));
  const badges = el("div");
  badges.appendChild(el("span", stateText(it), "badge state state-" + stateStyle(it.state)));
  if (it.double) badges.appendChild(el("span", "double", "badge"));
  for (const o of it.others) badges.appendChild(el("span", o.reviewer + ": " + o.action + (o.label ? " → " + o.label : ""), "badge other"));
  d.appendChild(badges);
  d.classList.toggle("cursor", i === state.cursor);
  d.classList.toggle("selected", state.selected.has(it.image_id));
  d.addEventListener("click", (e) => clickCard(i, e));
  d.addEventListener("dblclick", () => openDetail(i));
  return d;
}

function renderGrid() {
  const grid = $("grid");
  grid.replaceChildren(...state.items.map(card));
  $("empty").hidden = state.items.length > 0;
  renderProgress();
}

function renderCard(i) {
  const old = $("grid").children[i];
  if (old) old.replaceWith(card(state.items[i], i));
}

function renderMarks() {
  const cards = $("grid").children;
  for (let i = 0; i < cards.length; i++) {
    cards[i].classList.toggle("cursor", i === state.cursor);
    cards[i].classList.toggle("selected", state.selected.has(state.items[i].image_id));
  }
  const cur = cards[state.cursor];
  if (cur) cur.scrollIntoView({ block: "nearest" });
  renderProgress();
}

// --- selection --------------------------------------------------------------

function selectRange(a, b) {
  state.selected.clear();
  for (let i = Math.min(a, b); i <= Math.max(a, b); i++) state.selected.add(state.items[i].image_id);
}

function clickCard(i, e) {
  if (e.shiftKey) selectRange(state.anchor, i);
  else if (e.ctrlKey || e.metaKey) {
    const id = state.items[i].image_id;
    if (state.selected.has(id)) state.selected.delete(id); else state.selected.add(id);
    state.anchor = i;
  } else { state.selected.clear(); state.selected.add(state.items[i].image_id); state.anchor = i; }
  state.cursor = i;
  renderMarks();
  if (!$("detail").hidden) openDetail(i);
}

function columns() {
  const cards = $("grid").children;
  if (!cards.length) return 1;
  const top = cards[0].offsetTop;
  let n = 0;
  while (n < cards.length && cards[n].offsetTop === top) n++;
  return Math.max(1, n);
}

function move(step, extend) {
  if (!state.items.length) return;
  state.cursor = Math.max(0, Math.min(state.items.length - 1, state.cursor + step));
  if (extend) selectRange(state.anchor, state.cursor);
  else state.anchor = state.cursor;
  renderMarks();
  if (!$("detail").hidden) openDetail(state.cursor);
}

function targets() {
  if (state.selected.size) return state.items.filter((it) => state.selected.has(it.image_id)).map((it) => it.image_id);
  const it = state.items[state.cursor];
  return it ? [it.image_id] : [];
}

// --- decisions --------------------------------------------------------------

function isTodo(it) { return it.state === V.PENDING || (it.state === V.SECOND && !it.mine); }

function count(it, sign) {
  state.counts[it.state] = (state.counts[it.state] || 0) + sign;
  if (isTodo(it)) state.counts[V.TODO] = (state.counts[V.TODO] || 0) + sign;
}

function applyRows(rows) {
  const at = new Map(state.items.map((it, i) => [it.image_id, i]));
  for (const row of rows) {
    const i = at.get(row.image_id);
    if (i === undefined) continue;
    count(state.items[i], -1);
    state.items[i] = row;
    count(row, +1);
    renderCard(i);
  }
}

async function decide(action, label, newItem) {
  const ids = targets();
  if (!ids.length || state.busy) return;
  state.busy = true;
  const body = { ids: ids, action: action };
  if (label !== undefined) body.label = label;
  if (newItem) body.new_item = true;
  try {
    const data = await api("/api/decide", body);
    state.undo.push(data.batch);
    applyRows(data.items);
    const conflicts = data.items.filter((r) => r.state === V.CONFLICT).length;
    say("Saved: " + action + (label ? " → " + label : "") + (ids.length > 1 ? " (" + ids.length + " photos)" : "")
      + (conflicts ? " · " + conflicts + " in conflict with another reviewer" : ""));
    if (ids.length === 1 && !state.selected.size) move(1, false);
    else { state.selected.clear(); renderMarks(); }
    if (newItem && !state.session.labels.includes(label)) state.session.labels.push(label);
    if (!$("detail").hidden) openDetail(state.cursor);
  } catch (e) { say("Not saved: " + e.message); }
  finally { state.busy = false; renderProgress(); }
}

async function undo() {
  const batch = state.undo[state.undo.length - 1];
  if (batch === undefined || state.busy) return;
  state.busy = true;
  try {
    const data = await api("/api/undo", { batch: batch });
    state.undo.pop();
    applyRows(data.items);
    say("Undone (" + data.items.length + " photo" + (data.items.length === 1 ? "" : "s") + ")");
    if (!$("detail").hidden) openDetail(state.cursor);
  } catch (e) { say("Not undone: " + e.message); }
  finally { state.busy = false; renderProgress(); }
}

// --- relabel picker: only known items, a new one only on purpose -------------

const picker = { matches: [], active: 0 };

function openPicker() {
  const ids = targets();
  if (!ids.length) return;
  $("picker-title").textContent = "Relabel " + ids.length + " photo" + (ids.length === 1 ? "" : "s") + " as:";
  $("picker").hidden = false;
  $("picker-input").value = "";
  filterPicker();
  $("picker-input").focus();
}

function closePicker() { $("picker").hidden = true; $("grid").focus(); }

function filterPicker() {
  const q = $("picker-input").value.trim().toLowerCase();
  const labels = state.session.labels;
  const starts = labels.filter((l) => l.toLowerCase().startsWith(q));
  const inner = q ? labels.filter((l) => !l.toLowerCase().startsWith(q) && l.toLowerCase().includes(q)) : [];
  picker.matches = starts.concat(inner).slice(0, 30);
  picker.active = 0;
  const list = $("picker-list");
  list.replaceChildren(...picker.matches.map((l, i) => {
    const li = el("li", l, i === 0 ? "active" : "");
    li.addEventListener("click", () => pick(l, false));
    return li;
  }));
  const typed = $("picker-input").value.trim();
  const exact = labels.some((l) => l.toLowerCase() === typed.toLowerCase());
  $("new-item").hidden = !typed || exact;
  $("new-item").textContent = "New item “" + typed + "”";
}

function movePicker(step) {
  if (!picker.matches.length) return;
  picker.active = (picker.active + step + picker.matches.length) % picker.matches.length;
  const lis = $("picker-list").children;
  for (let i = 0; i < lis.length; i++) lis[i].classList.toggle("active", i === picker.active);
}

function pick(label, isNew) { closePicker(); decide(V.RELABEL, label, isNew); }

// --- detail -----------------------------------------------------------------

let detailSeq = 0;

async function openDetail(i) {
  const it = state.items[i];
  if (!it) return;
  const seq = ++detailSeq;
  $("detail").hidden = false;
  let d;
  try { d = await api("/api/item/" + encodeURIComponent(it.image_id)); } catch (e) { say("Could not open: " + e.message); return; }
  if (seq !== detailSeq) return;
  state.detail = d;
  renderDetail();
}

function renderPhoto(d) {
  const original = state.original && state.session.originals;
  const img = $("photo");
  img.src = "/photo/" + encodeURIComponent(d.image_id) + "?v=" + (original ? "original" : "released");
  $("shown-as").textContent = original ? "ORIGINAL photo (not released; may show personal data)" : "released copy";
  $("shown-as").className = original ? "original" : "";
  const svg = $("outlines");
  svg.replaceChildren();
  svg.setAttribute("viewBox", "0 0 " + (d.width || 1) + " " + (d.height || 1));
  svg.style.display = state.outlines ? "" : "none";
  for (const r of d.text_regions || []) {
    if (!r || !r.polygon) continue;
    const poly = document.createElementNS("http://www.w3.org/2000/svg", "polygon");
    poly.setAttribute("points", r.polygon.map((p) => Number(p[0]) + "," + Number(p[1])).join(" "));
    if (r.pii_types && r.pii_types.length) poly.setAttribute("class", "pii");
    const t = document.createElementNS("http://www.w3.org/2000/svg", "title");
    t.textContent = String(r.text || "");
    poly.appendChild(t);
    svg.appendChild(poly);
  }
  $("outline").classList.toggle("on", state.outlines);
  $("original").hidden = !state.session.originals;
  $("original").classList.toggle("on", original);
}

function renderDetail() {
  const d = state.detail;
  if (!d) return;
  const q = d.queue;
  $("title").textContent = d.path || d.image_id;
  $("status").textContent = stateText(q) + " · uncertainty " + Number(d.uncertainty).toFixed(2) + (d.country ? " · " + d.country : "");
  $("claimed").textContent = d.label === null || d.label === undefined ? "(none)" : d.label;
  $("predicted").textContent = d.pred_label ? d.pred_label + (d.pred_score !== null && d.pred_score !== undefined ? " (" + Number(d.pred_score).toFixed(2) + ")" : "") : "(no prediction)";
  $("verdict").textContent = (d.label_verdict || "-") + (d.label_prob !== null && d.label_prob !== undefined ? " · p(claimed)=" + Number(d.label_prob).toFixed(3) : "") + (d.label_rank ? " · rank " + d.label_rank : "") + (d.label_evidence ? " · judged by " + d.label_evidence.replace("+", " and ") : "");
  const who = [];
  if (q.mine) who.push(el("li", "you (" + state.session.reviewer + "): " + q.mine.action + (q.mine.label ? " → " + q.mine.label : "")));
  for (const o of q.others) who.push(el("li", o.reviewer + ": " + o.action + (o.label ? " → " + o.label : "") + " (" + o.decided_at + ")", q.state === V.CONFLICT ? "disputed" : ""));
  if (q.state === V.CONFLICT) who.push(el("li", V.CONFLICT + ": the reviewers disagree; nothing was overwritten", "disputed"));
  $("decisions").replaceChildren(...(who.length ? who : [el("li", "nobody yet")]));
  $("topk").replaceChildren(...(d.topk || []).slice(0, 5).map((t) => el("li", t.label + " — " + Number(t.score).toFixed(3))));
  $("reasons").replaceChildren(...(d.reasons || []).map((r) => el("li", r)));
  const texts = (d.text_regions || []).filter((r) => r && r.text);
  $("texts").replaceChildren(...(texts.length ? texts.map((r) => el("li", r.text + (r.pii_types && r.pii_types.length ? "  [" + r.pii_types.join(", ") + "]" : ""))) : [el("li", "none")]));
  const rows = [];
  for (const k of V.measures) {
    if (d[k] === null || d[k] === undefined) continue;
    const tr = el("tr"); tr.appendChild(el("th", k)); tr.appendChild(el("td", typeof d[k] === "number" ? +d[k].toFixed(3) : d[k])); rows.push(tr);
  }
  if (d.quality_flags && d.quality_flags.length) { const tr = el("tr"); tr.appendChild(el("th", "flags")); tr.appendChild(el("td", d.quality_flags.join(", "))); rows.push(tr); }
  $("measures").replaceChildren(...rows);
  $("history").replaceChildren(...d.history.map((h) => el("li", h.decided_at + " " + h.reviewer + ": " + h.action + (h.label ? " → " + h.label : "") + (h.prev_action ? " (was " + h.prev_action + (h.prev_label ? " → " + h.prev_label : "") + ")" : ""))));
  renderPhoto(d);
}

function closeDetail() { $("detail").hidden = true; state.detail = null; $("grid").focus(); }

// --- keys -------------------------------------------------------------------

function pickerKey(e) {
  if (e.key === "Escape") { e.preventDefault(); closePicker(); }
  else if (e.key === "ArrowDown") { e.preventDefault(); movePicker(1); }
  else if (e.key === "ArrowUp") { e.preventDefault(); movePicker(-1); }
  else if (e.key === "Enter") {
    e.preventDefault();
    const typed = $("picker-input").value.trim();
    const exact = state.session.labels.find((l) => l.toLowerCase() === typed.toLowerCase());
    if (exact) pick(exact, false);
    else if (picker.matches.length) pick(picker.matches[picker.active], false);
    else say("“" + typed + "” is not a known item: use “New item” to add it on purpose");
  }
}

function gridKey(e) {
  const k = e.key;
  const it = state.items[state.cursor];
  if ((e.ctrlKey || e.metaKey) && k === "a") { e.preventDefault(); state.items.forEach((x) => state.selected.add(x.image_id)); renderMarks(); return; }
  if ((e.ctrlKey || e.metaKey) && k === "z") { e.preventDefault(); undo(); return; }
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns(), ArrowUp: -columns(), j: 1, k: -1 };
  if (k in moves) { e.preventDefault(); move(moves[k], e.shiftKey && k.startsWith("Arrow")); return; }
  if (k === " ") {
    e.preventDefault();
    if (it) { if (state.selected.has(it.image_id)) state.selected.delete(it.image_id); else state.selected.add(it.image_id); }
    state.anchor = state.cursor;
    renderMarks();
  } else if (k === "a") decide(V.ACCEPT);
  else if (k === "r") decide(V.REJECT);
  else if (k === "p") decide(V.PENDING);
  else if (k === "l") { e.preventDefault(); openPicker(); }
  else if (k === "u") undo();
  else if (k === "Enter") openDetail(state.cursor);
  else if (k === "Escape") { if (!$("detail").hidden) closeDetail(); else { state.selected.clear(); renderMarks(); } }
  else if (k === "n" || k === "PageDown") page(1);
  else if (k === "PageUp") page(-1);
  else if (k === "o") { state.outlines = !state.outlines; if (state.detail) renderPhoto(state.detail); }
  else if (k === "v" && state.session.originals) { state.original = !state.original; if (state.detail) renderPhoto(state.detail); }
  else if (/^[1-5]$/.test(k) && state.detail && state.detail.image_id === (it && it.image_id)) {
    const t = (state.detail.topk || [])[Number(k) - 1];
    if (t) { state.selected.clear(); decide(V.RELABEL, t.label); }
  }
}

function page(step) {
  const next = state.offset + step * state.session.page_size;
  if (next < 0 || next >= state.matched) return;
  state.offset = next;
  state.cursor = 0;
  load();
}

function fillSelect(select, values) {
  for (const v of values) { const o = el("option", v); o.value = v; select.appendChild(o); }
}

function fillMenu(select, choices) {  // [value, title] pairs; the first is the default
  for (const [v, title] of choices) { const o = el("option", title); o.value = v; select.appendChild(o); }
}

async function start() {
  try { state.session = await api("/api/session"); } catch (e) { say("Could not start: " + e.message); return; }
  V = state.session.vocabulary;
  $("who").textContent = "reviewer: " + state.session.reviewer;
  fillMenu($("f-show"), V.shows);
  fillMenu($("f-sort"), V.sorts);
  fillSelect($("f-reason"), state.session.facets.reasons);
  fillSelect($("f-verdict"), state.session.facets.verdicts);
  fillSelect($("f-country"), state.session.facets.countries);
  await load();
  $("grid").focus();
}

document.addEventListener("DOMContentLoaded", () => {
  $("accept").addEventListener("click", () => decide(V.ACCEPT));
  $("reject").addEventListener("click", () => decide(V.REJECT));
  $("pending").addEventListener("click", () => decide(V.PENDING));
  $("relabel").addEventListener("click", openPicker);
  $("undo").addEventListener("click", undo);
  $("prev-page").addEventListener("click", () => page(-1));
  $("next-page").addEventListener("click", () => page(1));
  $("close-detail").addEventListener("click", closeDetail);
  $("outline").addEventListener("click", () => { state.outlines = !state.outlines; if (state.detail) renderPhoto(state.detail); });
  $("original").addEventListener("click", () => { state.original = !state.original; if (state.detail) renderPhoto(state.detail); });
  $("picker-input").addEventListener("input", filterPicker);
  $("picker-input").addEventListener("keydown", pickerKey);
  $("new-item").addEventListener("click", () => pick($("picker-input").value.trim(), true));
  for (const id of ["f-reason", "f-verdict", "f-country", "f-show", "f-sort", "f-asc"]) $(id).addEventListener("change", refilter);
  let typing;
  for (const id of ["f-item", "f-contributor"]) $(id).addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(refilter, 250); });
  $("grid").tabIndex = 0;
  document.addEventListener("keydown", (e) => {
    if (!$("picker").hidden) return;  // the picker's input handles its own keys
    const t = e.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) {
      if (e.key === "Escape") t.blur();
      return;
    }
    gridKey(e);
  });
  start();
});
