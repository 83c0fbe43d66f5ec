// crowdlens review UI. Every string that came from a photo or a manifest (labels,
// OCR text, reasons, paths) is written with textContent, never innerHTML.
"use strict";

const state = { items: [], index: 0, blur: false, outlines: true, labels: [] };
const $ = (id) => document.getElementById(id);

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function filters() {
  const p = new URLSearchParams();
  p.set("label", $("f-label").value.trim());
  p.set("reason", $("f-reason").value);
  p.set("country", $("f-country").value);
  p.set("show", $("f-all").checked ? "all" : "pending");
  return p;
}

function fillSelect(select, values) {
  const keep = select.value;
  while (select.options.length > 1) select.remove(1);
  for (const v of values) { const o = el("option", v); o.value = v; select.appendChild(o); }
  select.value = values.includes(keep) ? keep : "";
}

let loadSeq = 0;  // filters can change faster than the server answers: only the newest answer counts

async function load(keepId) {
  const seq = ++loadSeq;
  const r = await fetch("/api/queue?" + filters().toString(), { credentials: "same-origin" });
  if (seq !== loadSeq) return;
  if (!r.ok) { $("message").textContent = "Could not load the queue (" + r.status + ")"; return; }
  const data = await r.json();
  if (seq !== loadSeq) return;
  state.items = data.items;
  state.labels = data.labels;
  fillSelect($("f-reason"), data.facets.reasons);
  fillSelect($("f-country"), data.facets.countries);
  const dl = $("labels");
  dl.replaceChildren(...data.labels.map((l) => { const o = el("option"); o.value = l; return o; }));
  $("progress").textContent = data.decided + " of " + data.total + " decided";
  const at = keepId ? state.items.findIndex((it) => it.image_id === keepId) : -1;
  state.index = at >= 0 ? at : Math.min(state.index, Math.max(0, state.items.length - 1));
  render();
}

function renderList() {
  const nav = $("list");
  nav.replaceChildren();
  state.items.forEach((it, i) => {
    const d = el("div", null, (i === state.index ? "current " : "") + (it.review ? "done" : ""));
    d.appendChild(el("b", it.label === null ? "(no label)" : it.label));
    d.appendChild(el("div", "u=" + it.uncertainty.toFixed(2) + " · " + it.reason_kinds.join(", ")));
    if (it.review) d.appendChild(el("div", "→ " + it.review.action + (it.review.label ? " " + it.review.label : ""), it.review.action));
    d.dataset.id = it.image_id;
    d.addEventListener("click", () => { state.index = i; render(); });
    nav.appendChild(d);
  });
  const cur = nav.querySelector(".current");
  if (cur) cur.scrollIntoView({ block: "nearest" });
}

function renderPhoto(it) {
  const img = $("photo");
  img.src = "/photo/" + encodeURIComponent(it.image_id) + "?v=" + (state.blur ? "blur" : "original");
  const svg = $("outlines");
  svg.replaceChildren();
  svg.setAttribute("viewBox", "0 0 " + (it.width || 1) + " " + (it.height || 1));
  svg.style.display = state.outlines ? "" : "none";
  for (const r of it.text_regions || []) {
    if (!r || !r.polygon) continue;
    const poly = document.createElementNS("http://www.w3.org/2000/svg", "polygon");
    poly.setAttribute("points", r.polygon.map((p) => Number(p[0]) + "," + Number(p[1])).join(" "));
    if (r.pii_types && r.pii_types.length) poly.setAttribute("class", "pii");
    const t = document.createElementNS("http://www.w3.org/2000/svg", "title");
    t.textContent = String(r.text || "");
    poly.appendChild(t);
    svg.appendChild(poly);
  }
  $("blur").classList.toggle("on", state.blur);
  $("outline").classList.toggle("on", state.outlines);
}

function render() {
  renderList();
  const it = state.items[state.index];
  $("empty").hidden = !!it;
  $("item").hidden = !it;
  if (!it) return;
  $("title").textContent = it.path || it.image_id;
  $("status").textContent = it.review
    ? "decided: " + it.review.action + (it.review.label ? " → " + it.review.label : "") + " (" + it.review.decided_at + ")"
    : "pending · uncertainty " + it.uncertainty.toFixed(2) + (it.country ? " · " + it.country : "");
  $("claimed").textContent = it.label === null ? "(none)" : it.label;
  $("predicted").textContent = it.pred_label ? it.pred_label + (it.pred_score !== null && it.pred_score !== undefined ? " (" + Number(it.pred_score).toFixed(2) + ")" : "") : "(no prediction)";
  $("verdict").textContent = (it.label_verdict || "-") + (it.label_prob !== null && it.label_prob !== undefined ? " · p(claimed)=" + Number(it.label_prob).toFixed(3) : "") + (it.label_rank ? " · rank " + it.label_rank : "");
  $("topk").replaceChildren(...(it.topk || []).slice(0, 5).map((t) => el("li", t.label + " — " + Number(t.score).toFixed(3))));
  $("reasons").replaceChildren(...(it.reasons || []).map((r) => el("li", r)));
  const texts = (it.text_regions || []).filter((r) => r && r.text);
  $("texts").replaceChildren(...(texts.length ? texts.map((r) => el("li", r.text + (r.pii_types && r.pii_types.length ? "  [" + r.pii_types.join(", ") + "]" : ""))) : [el("li", "none")]));
  const rows = [];
  for (const k of ["sharpness", "brightness", "dark_fraction", "bright_fraction", "contrast", "noise", "megapixels", "short_side", "width", "height"]) {
    if (it[k] === null || it[k] === undefined) continue;
    const tr = el("tr"); tr.appendChild(el("th", k)); tr.appendChild(el("td", typeof it[k] === "number" ? +it[k].toFixed(3) : it[k])); rows.push(tr);
  }
  if (it.quality_flags && it.quality_flags.length) { const tr = el("tr"); tr.appendChild(el("th", "flags")); tr.appendChild(el("td", it.quality_flags.join(", "))); rows.push(tr); }
  $("measures").replaceChildren(...rows);
  renderPhoto(it);
}

async function decide(action, label) {
  const it = state.items[state.index];
  if (!it) return;
  const r = await fetch("/api/decide", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ image_id: it.image_id, action: action, label: label }),
  });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) { $("message").textContent = "Not saved: " + (data.error || r.status); return; }
  $("message").textContent = "Saved: " + action + (label ? " → " + label : "");
  const showAll = $("f-all").checked;
  const next = state.items[state.index + 1];
  await load(showAll ? it.image_id : (next ? next.image_id : null));
}

function startRelabel() {
  $("relabel-form").hidden = false;
  const inp = $("relabel-input");
  inp.value = "";
  inp.focus();
}

function move(step) {
  if (!state.items.length) return;
  state.index = Math.max(0, Math.min(state.items.length - 1, state.index + step));
  render();
}

document.addEventListener("DOMContentLoaded", () => {
  $("accept").addEventListener("click", () => decide("accept"));
  $("reject").addEventListener("click", () => decide("reject"));
  $("relabel").addEventListener("click", startRelabel);
  $("blur").addEventListener("click", () => { state.blur = !state.blur; render(); });
  $("outline").addEventListener("click", () => { state.outlines = !state.outlines; render(); });
  $("relabel-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const v = $("relabel-input").value.trim();
    $("relabel-form").hidden = true;
    if (v) decide("relabel", v);
  });
  for (const id of ["f-reason", "f-country", "f-all"]) $(id).addEventListener("change", () => load());
  $("f-label").addEventListener("change", () => load());
  document.addEventListener("keydown", (e) => {
    const t = e.target;
    if (e.key === "Escape") { $("relabel-form").hidden = true; t.blur && t.blur(); return; }
    if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const it = state.items[state.index];
    if (e.key === "a") decide("accept");
    else if (e.key === "r") decide("reject");
    else if (e.key === "l") { e.preventDefault(); startRelabel(); }
    else if (e.key === "b") { state.blur = !state.blur; render(); }
    else if (e.key === "o") { state.outlines = !state.outlines; render(); }
    else if (e.key === "j" || e.key === "ArrowDown") move(1);
    else if (e.key === "k" || e.key === "ArrowUp") move(-1);
    else if (/^[1-5]$/.test(e.key) && it && it.topk && it.topk[Number(e.key) - 1]) decide("relabel", it.topk[Number(e.key) - 1].label);
  });
  load();
});
