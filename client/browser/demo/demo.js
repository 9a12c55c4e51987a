// The demo page: a shared todo list over syncd.js. The list is one document,
// {items: {<id>: {text, done, at}}}, and every edit is a JSON Merge Patch on
// one item: keyed by a random id rather than an array index, concurrent
// additions never collide, and a merge patch is harmless to apply twice, so
// the client may re-issue it after a long absence instead of dropping it.
//
// Query parameters: ?list= picks the list, any name (its document is
// todos:<the name made a valid id>, default "demo"), ?name= the name shown
// to others, ?ws= another WebSocket URL (the end-to-end tests route a page
// through their own proxy with it).
import { SyncClient, validDocId } from "/syncd.js";
import { listDocId } from "./listid.js";

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);

// The name is per tab (sessionStorage, like the client id), so two windows
// side by side are two people.
function myName() {
  const given = params.get("name");
  if (given) return given.slice(0, 40);
  let n = sessionStorage.getItem("syncd.demo.name");
  if (!n) {
    const animals = ["Otter", "Heron", "Lynx", "Badger", "Wren", "Ibex", "Marten", "Puffin"];
    n = animals[Math.floor(Math.random() * animals.length)] + " " + Math.floor(Math.random() * 90 + 10);
    sessionStorage.setItem("syncd.demo.name", n);
  }
  return n;
}

const name = myName();
const listName = (params.get("list") || "demo").trim() || "demo";
const docId = listDocId(listName);
if (!validDocId(docId)) throw new Error("demo bug: " + docId);
const wsUrl = params.get("ws") || `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
const client = new SyncClient({ url: wsUrl });
let typing = false;
const doc = client.open(docId, { presence: { name, typing } });
$("docid").textContent = docId;
if (listName !== "demo") {
  $("title").textContent = listName;
  document.title = `${listName} · syncd demo`;
}

// Errors the client reports (a refused edit, a refused JOIN, a flood
// warning) are shown, not only logged: a page that silently drops them
// looks connected while nothing works.
function showError(text) {
  const box = $("errors");
  const p = document.createElement("p");
  const msg = Object.assign(document.createElement("span"), { textContent: text });
  const close = Object.assign(document.createElement("button"), { type: "button", textContent: "×", title: "Dismiss" });
  close.setAttribute("aria-label", "dismiss");
  close.onclick = () => p.remove();
  p.append(msg, close);
  box.append(p);
  while (box.children.length > 3) box.firstChild.remove(); // the newest few
}

const newId = () => Date.now().toString(36) + Math.random().toString(36).slice(2, 8);

function renderList() {
  const items = (doc.value && doc.value.items) || {};
  const entries = Object.entries(items)
    .filter(([, t]) => t && typeof t === "object")
    .sort(([a, x], [b, y]) => (x.at || 0) - (y.at || 0) || (a < b ? -1 : a > b ? 1 : 0));
  $("list").replaceChildren(
    ...entries.map(([id, t]) => {
      const li = document.createElement("li");
      li.dataset.id = id;
      li.className = t.done ? "done" : "";
      const box = Object.assign(document.createElement("input"), { type: "checkbox", checked: !!t.done });
      box.setAttribute("aria-label", "done");
      box.onchange = () => doc.update({ items: { [id]: { done: box.checked } } });
      const text = Object.assign(document.createElement("span"), { textContent: String(t.text ?? "") });
      const del = Object.assign(document.createElement("button"), { textContent: "×", title: "Delete" });
      del.setAttribute("aria-label", "delete");
      del.onclick = () => doc.update({ items: { [id]: null } });
      li.append(box, text, del);
      return li;
    }),
  );
  $("empty").hidden = entries.length > 0;
  renderPending();
}

function renderPending() {
  const n = doc.pending.length;
  $("pending").textContent = String(n);
  $("pending-badge").hidden = n === 0;
}

function renderPeople() {
  const me = client.authorId;
  // A presence value is whatever another client set: the name is shown
  // only when it is a string.
  const people = [...doc.room.entries()].map(([id, s]) => ({
    id,
    name: (s && typeof s.name === "string" && s.name) || id.slice(0, 6),
    typing: !!(s && s.typing),
  }));
  // The room may or may not list this tab; show it once, first.
  if (!people.some((p) => p.id === me)) people.unshift({ id: me, name, typing });
  people.sort((a, b) => (a.id === me ? -1 : b.id === me ? 1 : a.name.localeCompare(b.name)));
  $("who").replaceChildren(
    ...people.map((p) => {
      const li = document.createElement("li");
      li.dataset.clientId = p.id || "";
      // While this tab is cut off, the others shown are only the last known.
      li.className = (p.id === me ? "me" : client.status === "open" ? "" : "stale") + (p.typing ? " typing" : "");
      li.textContent = p.id === me ? `${p.name} (you)` : p.name;
      return li;
    }),
  );
  const others = people.filter((p) => p.id !== me && p.typing).map((p) => p.name);
  $("typing").textContent = others.length ? `${others.join(", ")} ${others.length > 1 ? "are" : "is"} typing…` : "";
  $("me").textContent = me || "";
}

// While offline, the page counts down to the next attempt and offers to
// try at once.
let retryAt = 0;
let countdown;
function renderStatus(s, e = {}) {
  $("status").dataset.status = s;
  $("status").textContent = s === "open" ? "online" : s;
  clearInterval(countdown);
  if (s === "offline" && typeof e.retryInMs === "number") {
    retryAt = Date.now() + e.retryInMs;
    const tick = () => ($("retry-in").textContent = String(Math.max(0, Math.ceil((retryAt - Date.now()) / 1000))));
    tick();
    countdown = setInterval(tick, 250);
    $("offline").hidden = false;
  } else {
    $("offline").hidden = true;
  }
  if (s === "offline" && e.suspectCredentials) showError("The server keeps refusing the connection: check the address and the credentials.");
  if (s === "stopped" && e.code && e.code !== 1000) showError(`Disconnected for good (${e.code}${e.reason ? ": " + e.reason : ""}). Reload the page to connect again.`);
}
$("retry").addEventListener("click", () => client.reconnectNow());

client.on("change", (e) => {
  if (!e || !e.doc || e.doc === docId) renderList();
});
client.on("presence", renderPeople);
client.on("status", (e) => {
  renderStatus(e.status, e);
  renderList(); // the pending count changes as edits settle
  renderPeople();
});
client.on("reject", (e) => {
  console.warn("edit refused:", e.code, e.message);
  showError(`An edit was refused and undone (${e.code}): ${e.message}`);
});
client.on("error", (e) => {
  console.warn("syncd error:", e.code, e.message);
  showError(e.doc ? `${e.doc}: ${e.message} (${e.code})` : `${e.message} (${e.code})`);
});

// Typing is presence state: set while keys are pressed, cleared after a
// quiet second and a half or when the todo is added.
let typingTimer;
function setTyping(v) {
  clearTimeout(typingTimer);
  if (v) typingTimer = setTimeout(() => setTyping(false), 1500);
  if (v === typing) return;
  typing = v;
  // Refused only when the connection is gone; the client keeps the state
  // and sends it with its next JOIN, so there is nothing to do.
  doc.setPresence({ name, typing }).catch(() => {});
  renderPeople();
}
$("text").addEventListener("input", () => setTyping($("text").value !== ""));

$("add").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = $("text").value.trim();
  if (!text) return;
  doc.update({ items: { [newId()]: { text, done: false, at: Date.now() } } });
  $("text").value = "";
  setTyping(false);
});

// An acknowledgement settles an edit without changing the view (no
// "change" event), so the pending count is also refreshed on a timer.
setInterval(renderPending, 500);

renderStatus(client.status || "connecting");
renderList();
renderPeople();
// For debugging from the console (and the end-to-end tests): the client and document.
window.syncdDemo = { client, doc };
