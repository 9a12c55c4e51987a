// The demo page: a shared todo list over syncd.js. The list is one document,
// {items: {<id>: {text, done, at}}}, and every edit is a JSON Merge Patch on
// one item: keyed by a random id rather than an array index, concurrent
// additions never collide, and a merge patch is harmless to apply twice, so
// the client may re-issue it after a long absence instead of dropping it.
//
// Query parameters: ?list= picks the document (todos:<list>, default
// "demo"), ?name= the name shown to others, ?ws= another WebSocket URL (the
// end-to-end tests route a page through their own proxy with it).
import { SyncClient } from "/syncd.js";

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
const docId = "todos:" + (params.get("list") || "demo");
const wsUrl = params.get("ws") || `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
const client = new SyncClient({ url: wsUrl });
let typing = false;
const doc = client.open(docId, { presence: { name, typing } });
$("docid").textContent = docId;

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
  $("pending").textContent = String(doc.pending.length);
}

function renderPeople() {
  const me = client.authorId;
  const people = [...doc.room.entries()].map(([id, s]) => ({ id, name: (s && s.name) || id.slice(0, 6), typing: !!(s && s.typing) }));
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

function renderStatus(s) {
  $("status").dataset.status = s;
  $("status").textContent = s === "open" ? "online" : s;
}

client.on("change", (e) => {
  if (!e || !e.doc || e.doc === docId) renderList();
});
client.on("presence", renderPeople);
client.on("status", (e) => {
  renderStatus(e.status);
  renderList(); // the pending count changes as edits settle
  renderPeople();
});
client.on("reject", (e) => console.warn("edit refused:", e.code, e.message));

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
setInterval(() => ($("pending").textContent = String(doc.pending.length)), 500);

renderStatus(client.status || "connecting");
renderList();
renderPeople();
// For debugging from the console (and the end-to-end tests): the client and document.
window.syncdDemo = { client, doc };
