// The admin page's script: polls /admin/api/overview every second and
// redraws; shows one document (state, presence, recent operations) when its
// id is clicked; disconnects connections and deletes documents after a
// confirmation. No dependencies, no build step. Everything shown is set as
// text (textContent), never as HTML: document ids, states and user names
// come from clients.

const POLL_MS = 1000;
let csrf = "";
let selected = null; // the id of the document shown, or null
let timer = null;

const $ = (sel) => document.querySelector(sel);

/** el("td", {class: "num"}, "text", child…) builds an element. */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(e.dataset, v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : String(c));
  return e;
}

function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / (1 << 20)).toFixed(1)} MiB`;
}

function age(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  const h = Math.floor(s / 3600);
  return h < 48 ? `${h}h ${Math.floor((s % 3600) / 60)}m` : `${Math.floor(h / 24)}d`;
}

function ago(now, ts) {
  return ts ? `${age(now - ts)} ago` : "—";
}

function setStatus(s, text) {
  const st = $("#status");
  st.dataset.status = s;
  st.textContent = text || s;
}

function showError(msg) {
  const e = $("#error");
  e.hidden = !msg;
  e.textContent = msg || "";
}

/** Fetches a JSON API route; a 401 (signed out, expired) reloads to the sign-in form. */
async function api(path, opts = {}) {
  const r = await fetch(path, { credentials: "same-origin", cache: "no-store", ...opts });
  if (r.status === 401) {
    location.reload();
    throw new Error("signed out");
  }
  if (!r.ok) {
    let msg = `${r.status}`;
    try {
      msg += ": " + (await r.json()).error;
    } catch (_) {
      /* not JSON */
    }
    throw new Error(msg);
  }
  return r.status === 204 ? null : r.json();
}

/** A state-changing call: POST with the session's CSRF token. */
function act(path) {
  return api(path, { method: "POST", headers: { "X-CSRF-Token": csrf } });
}

function renderInstance(o) {
  const i = o.instance;
  const box = $("#instance");
  box.replaceChildren(
    "instance ", el("b", {}, i.address || "?"),
    " · started ", el("b", { title: new Date(i.started).toISOString() }, `${age(o.now - i.started)} ago`),
    " · version ", el("b", {}, i.version),
    " · store ", el("b", {}, i.store),
  );
  $("#note").textContent = i.note;
}

function renderChart(series) {
  const svg = $("#chart");
  const W = 600, H = 120, N = 300;
  const all = series.commits.concat(series.deliveries);
  const max = Math.max(1, ...all);
  const line = (vals) => {
    const start = N - vals.length;
    return vals.map((v, i) => `${((start + i) / (N - 1)) * W},${H - 4 - (v / max) * (H - 8)}`).join(" ");
  };
  const ns = "http://www.w3.org/2000/svg";
  const mk = (tag, attrs) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    return e;
  };
  const kids = [];
  for (const f of [0.25, 0.5, 0.75]) kids.push(mk("line", { class: "grid", x1: 0, x2: W, y1: H * f, y2: H * f }));
  if (series.commits.length) {
    kids.push(mk("polyline", { class: "deliveries", points: line(series.deliveries) }));
    kids.push(mk("polyline", { class: "commits", points: line(series.commits) }));
  }
  svg.replaceChildren(...kids);
  const last = (a) => (a.length ? a[a.length - 1] : 0);
  $("#rate-commits").textContent = last(series.commits);
  $("#rate-deliveries").textContent = last(series.deliveries);
  $("#rate-max").textContent = `scale 0–${max}/s over ${Math.round((series.commits.length * series.intervalMs) / 1000)}s`;
}

function renderDocs(o) {
  $("#docs-count").textContent = o.documentsTotal > o.documents.length ? `(${o.documents.length} of ${o.documentsTotal})` : `(${o.documentsTotal})`;
  const rows = o.documents.map((d) =>
    el("tr", { dataset: { doc: d.id }, class: d.id === selected ? "selected" : "" },
      el("td", {}, el("a", { class: "doc", onclick: () => select(d.id) }, d.id)),
      el("td", { class: "num", title: `epoch ${d.epoch}; durable ${d.durable}` }, d.rev === d.durable ? d.rev : `${d.rev} (${d.durable} durable)`),
      el("td", { class: "num" }, bytes(d.size)),
      el("td", { class: "num" }, d.subscribers),
      el("td", {}, d.present.length ? d.present.join(", ") : "—"),
      el("td", { class: "num" }, `${d.ringLen}/${d.ringCap}`),
      el("td", {}, ago(o.now, d.lastCommit)),
      el("td", {}, d.policy),
      el("td", {}, el("button", { class: "danger", type: "button", onclick: () => deleteDoc(d.id) }, "delete")),
    ));
  $("#docs tbody").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 9, class: "muted" }, "no document loaded"))]));
}

function renderConns(o) {
  $("#conns-count").textContent = o.connectionsTotal > o.connections.length ? `(${o.connections.length} of ${o.connectionsTotal})` : `(${o.connectionsTotal})`;
  const rows = o.connections.map((c) =>
    el("tr", { dataset: { client: c.clientId } },
      el("td", {}, el("code", {}, c.clientId)),
      el("td", {}, c.user || "—"),
      el("td", {}, c.address),
      el("td", {}, c.documents.length ? c.documents.join(", ") : "—"),
      el("td", {}, c.topics.length ? c.topics.join(", ") : "—"),
      el("td", { class: "num" }, bytes(c.queuedBytes)),
      el("td", { class: "num" }, age(o.now - c.opened)),
      el("td", {}, el("button", { class: "danger", type: "button", onclick: () => disconnect(c.clientId) }, "disconnect")),
    ));
  $("#conns tbody").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 8, class: "muted" }, "no connection"))]));
}

function pretty(raw) {
  return JSON.stringify(raw, null, 2);
}

async function renderDoc() {
  if (selected === null) return;
  const id = selected;
  let d;
  try {
    d = await api(`/admin/api/doc?id=${encodeURIComponent(id)}`);
  } catch (e) {
    if (id === selected) {
      $("#doc-rev").textContent = `(${e.message})`;
      $("#doc-state").textContent = "";
    }
    return;
  }
  if (id !== selected) return;
  $("#doc-rev").textContent = `revision ${d.rev} · epoch ${d.epoch}`;
  const state = pretty(d.state);
  if ($("#doc-state").textContent !== state) $("#doc-state").textContent = state;
  $("#doc-presence").replaceChildren(...(d.presence.length ? d.presence.map((p) => el("li", {}, el("code", {}, p.clientId), " ", JSON.stringify(p.state))) : [el("li", { class: "muted" }, "nobody")]));
  const rows = d.ops.map((op) =>
    el("tr", { dataset: { rev: op.rev } },
      el("td", { class: "num" }, op.rev),
      el("td", { title: new Date(op.ts).toISOString() }, new Date(op.ts).toLocaleTimeString()),
      el("td", { title: op.clientId ? `client ${op.clientId}` : "" }, op.author || "(server)"),
      el("td", {}, op.user || "—"),
      el("td", {}, op.type),
      el("td", {}, el("code", {}, JSON.stringify(op.payload))),
    ));
  $("#doc-ops tbody").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 6, class: "muted" }, "none in memory"))]));
}

function select(id) {
  selected = id;
  $("#doc-view").hidden = false;
  $("#doc-id").textContent = id;
  $("#doc-state").textContent = "loading…";
  for (const tr of document.querySelectorAll("#docs tbody tr")) tr.classList.toggle("selected", tr.dataset.doc === id);
  renderDoc();
}

async function disconnect(client) {
  if (!confirm(`Disconnect client ${client}?\nIts client will not reconnect by itself.`)) return;
  try {
    await act(`/admin/api/disconnect?client=${encodeURIComponent(client)}`);
    showError("");
  } catch (e) {
    showError(`disconnect ${client}: ${e.message}`);
  }
  tick();
}

async function deleteDoc(id) {
  if (!confirm(`Delete document ${id}?\nIts state and history are removed for good.`)) return;
  try {
    await act(`/admin/api/delete?id=${encodeURIComponent(id)}`);
    showError("");
    if (selected === id) {
      selected = null;
      $("#doc-view").hidden = true;
    }
  } catch (e) {
    showError(`delete ${id}: ${e.message}`);
  }
  tick();
}

async function tick() {
  clearTimeout(timer);
  try {
    const o = await api("/admin/api/overview");
    csrf = o.csrf;
    renderInstance(o);
    renderChart(o.series);
    renderDocs(o);
    renderConns(o);
    await renderDoc();
    setStatus("live");
  } catch (e) {
    setStatus("error", `error: ${e.message}`);
  }
  timer = setTimeout(tick, POLL_MS);
}

$("#signout").addEventListener("click", async () => {
  try {
    await act("/admin/logout");
  } finally {
    location.reload();
  }
});
$("#doc-close").addEventListener("click", () => {
  selected = null;
  $("#doc-view").hidden = true;
  for (const tr of document.querySelectorAll("#docs tbody tr")) tr.classList.remove("selected");
});
tick();
