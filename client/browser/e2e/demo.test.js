// End-to-end tests of the demo page (and so of syncd.js in a real browser):
// headless Chromium, driven by playwright-core, against a syncd built from
// this repository. Each page's WebSocket goes through a TCP proxy of the
// test (?ws=), which cuts it off by dropping or black-holing its connection;
// the page itself is loaded from syncd directly, so that a reload works while
// the page's network is cut.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import WS from "ws";
import { listDocId } from "../demo/listid.js";
import { buildSyncd, startSyncd, api, waitFor, sleep } from "../testlib/harness.js";
import { startProxy, launchChromium, openDemo, addTodo, todos, people, status, pending, waitTodos, waitStatus, screenshots } from "./lib.js";

// A short heartbeat so that a black hole is noticed in seconds, by the
// server (which then drops the page from the room) and by the page (whose
// client gives the silent connection up).
// -origins: the page is served by syncd but its WebSocket goes to the
// proxy's port, another origin, which syncd refuses by default (403).
const syncdFlags = ["-heartbeat", "500ms", "-heartbeat-timeout", "2s", "-origins", "*"];

let build, srv, browser;
before(async () => {
  build = await buildSyncd();
  srv = await startSyncd(build.bin, syncdFlags);
  browser = await launchChromium();
});
after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (srv) await srv.stop();
  if (build) rmSync(build.dir, { recursive: true, force: true });
});

/**
 * Two pages side by side (one browser context, as two windows of one
 * browser), each behind its own proxy, on the list `list`. Screenshots of
 * both are saved when the test ends, passed or failed, then all is closed.
 */
async function twoPages(t, list) {
  const context = await browser.newContext({ viewport: { width: 600, height: 640 } });
  const proxies = [];
  const pages = {};
  t.after(async () => {
    await screenshots(list, pages);
    if (!t.passed) for (const [n, p] of Object.entries(pages)) console.log(`# page ${n} console:\n# ` + p.logs.join("\n# "));
    await context.close().catch(() => {});
    for (const p of proxies) await p.close();
  });
  for (const name of ["Ada", "Bob"]) {
    const proxy = await startProxy(new URL(srv.http).port);
    proxies.push(proxy);
    const page = await openDemo(context, srv, proxy, list, name);
    page.proxy = proxy;
    pages[name] = page;
  }
  await waitStatus(pages.Ada, "open");
  await waitStatus(pages.Bob, "open");
  return pages;
}

/** How many operations in the server's log carry `text` (as a todo's text). */
async function opsWith(list, text) {
  const r = await api(srv, `/v1/docs/${encodeURIComponent("todos:" + list)}/ops?after=0`);
  return r.operations.filter((op) => JSON.stringify(op.payload).includes(JSON.stringify(text))).length;
}

const isDone = (page, text) => page.$$eval("#list li", (els, t) => els.some((li) => li.querySelector("span").textContent === t && li.classList.contains("done")), text);

test("two pages edit the same todo list and converge", async (t) => {
  const { Ada, Bob } = await twoPages(t, "converge");
  // Concurrent additions from both sides.
  await Promise.all([addTodo(Ada, "milk"), addTodo(Bob, "eggs")]);
  await addTodo(Ada, "bread");
  await addTodo(Bob, "jam");
  const all = ["milk", "eggs", "bread", "jam"];
  await waitTodos(Ada, all);
  await waitTodos(Bob, all);
  // A check and a deletion, each from the other side.
  await Bob.click('#list li:has(span:text-is("milk")) input[type=checkbox]');
  await Ada.click('#list li:has(span:text-is("jam")) button');
  for (const page of [Ada, Bob]) {
    await waitFor(() => isDone(page, "milk"), 20000, "milk checked");
    await waitFor(async () => !(await todos(page)).includes("jam"), 20000, "jam deleted");
  }
  await waitFor(async () => (await pending(Ada)) === 0 && (await pending(Bob)) === 0, 20000, "nothing pending");
  // The same list, in the same order, on both pages.
  assert.deepEqual(await todos(Ada), await todos(Bob));
  assert.deepEqual((await todos(Ada)).sort(), ["bread", "eggs", "milk"]);
});

test("a page cut off edits offline, comes back, and the other sees its edits once", async (t) => {
  const { Ada, Bob } = await twoPages(t, "offline");
  await addTodo(Ada, "before");
  await waitTodos(Bob, ["before"]);

  // A network failing loudly: connections closed, new ones refused.
  Bob.proxy.drop();
  await waitStatus(Bob, "offline", 20000);
  await addTodo(Bob, "bob-offline-1");
  await addTodo(Bob, "bob-offline-2");
  await Bob.click('#list li:has(span:text-is("before")) input[type=checkbox]');
  await addTodo(Ada, "ada-meanwhile");
  // Bob's edits show on his page at once, and stay queued.
  await waitTodos(Bob, ["bob-offline-1", "bob-offline-2"]);
  assert.equal(await pending(Bob), 3);
  assert.equal(await Bob.$eval("#pending", (e) => e.textContent), "3");
  await waitTodos(Ada, ["ada-meanwhile"]);
  await sleep(300);
  assert.ok(!(await todos(Ada)).includes("bob-offline-1"), "Ada must not see Bob's edits while he is offline");
  await screenshots("offline-while-cut", { Ada, Bob });

  Bob.proxy.restore();
  await waitStatus(Bob, "open", 30000);
  await waitTodos(Ada, ["before", "bob-offline-1", "bob-offline-2", "ada-meanwhile"]);
  await waitTodos(Bob, ["before", "bob-offline-1", "bob-offline-2", "ada-meanwhile"]);
  await waitFor(() => isDone(Ada, "before"), 20000, "Bob's check on Ada's page");

  // A network failing silently: only the heartbeat notices.
  Bob.proxy.blackhole();
  await addTodo(Bob, "bob-in-the-hole");
  await waitFor(async () => (await status(Bob)) !== "open", 20000, "Bob's client to give the silent connection up");
  Bob.proxy.restore();
  await waitStatus(Bob, "open", 30000);
  await waitTodos(Ada, ["bob-in-the-hole"]);
  await waitFor(async () => (await pending(Bob)) === 0, 20000, "Bob's edits settled");

  for (const text of ["bob-offline-1", "bob-offline-2", "bob-in-the-hole", "ada-meanwhile"]) assert.equal(await opsWith("offline", text), 1, `${text} in the server's log once`);
  assert.deepEqual(await todos(Ada), await todos(Bob));
});

test("a reload with pending edits loses none and applies each once", async (t) => {
  const { Ada, Bob } = await twoPages(t, "reload");
  // A list of a dozen todos already, as real lists are: syncd answers a
  // catch-up with deltas only while they are smaller than the document
  // (otherwise REVISION_GAP "smaller" and a snapshot, after which the
  // client can only re-issue its unsettled merge patches: see the check of
  // the frames below).
  const seeds = Array.from({ length: 12 }, (_, i) => `seed ${i + 1}`);
  for (const s of seeds) await addTodo(Ada, s);
  await waitTodos(Bob, seeds);
  await waitFor(async () => (await pending(Ada)) === 0, 20000, "seeds settled");
  // First the server hears Bob but Bob hears nothing: his edits land and
  // their acknowledgements are lost, so they stay pending on his side.
  Bob.proxy.blackhole("toClient");
  await addTodo(Bob, "r1");
  await addTodo(Bob, "r2");
  await waitFor(async () => (await opsWith("reload", "r1")) === 1 && (await opsWith("reload", "r2")) === 1, 20000, "r1 and r2 committed");
  // Then nothing gets through at all: r3 never reaches the server.
  Bob.proxy.blackhole("both");
  await addTodo(Bob, "r3");
  assert.equal(await pending(Bob), 3);
  assert.equal(await opsWith("reload", "r3"), 0);

  // What the reloaded page hears, to tell how it caught up.
  const heard = [];
  Bob.on("websocket", (ws) => ws.on("framereceived", (f) => heard.push(String(f.payload))));
  await Bob.reload({ timeout: 20000 });
  // The outbox brought the three edits back, still pending.
  await waitTodos(Bob, ["r1", "r2", "r3"]);
  assert.equal(await pending(Bob), 3);
  assert.notEqual(await status(Bob), "open");

  Bob.proxy.restore();
  await waitStatus(Bob, "open", 30000);
  await waitFor(async () => (await pending(Bob)) === 0, 20000, "Bob's edits settled");
  await waitTodos(Ada, [...seeds, "r1", "r2", "r3"]);
  await waitTodos(Bob, [...seeds, "r1", "r2", "r3"]);
  // It caught up from deltas, where it sees r1 and r2 committed (PROTOCOL.md
  // §6.8 step 1), and resent r3 under its own id.
  assert.ok(!heard.some((m) => m.includes('"REVISION_GAP"') || m.includes('"SYNC.SNAPSHOT"')), "caught up with deltas, not a snapshot");
  for (const text of ["r1", "r2", "r3"]) assert.equal(await opsWith("reload", text), 1, `${text} in the server's log once`);
  const state = await api(srv, `/v1/docs/${encodeURIComponent("todos:reload")}`);
  assert.equal(Object.keys(state.state.items).length, seeds.length + 3);
});

test("presence: who is here and who is typing appear and disappear", async (t) => {
  const { Ada, Bob } = await twoPages(t, "presence");
  await waitFor(async () => (await people(Ada)).includes("Bob"), 20000, "Bob in Ada's room");
  await waitFor(async () => (await people(Bob)).includes("Ada"), 20000, "Ada in Bob's room");
  assert.ok((await people(Ada)).includes("Ada (you)"));

  // Typing is presence state.
  await Bob.fill("#text", "thinking…");
  await waitFor(async () => (await Ada.$eval("#typing", (e) => e.textContent)) === "Bob is typing…", 20000, "Bob typing on Ada's page");
  await screenshots("presence-typing", { Ada, Bob });
  await Bob.fill("#text", "");
  await waitFor(async () => (await Ada.$eval("#typing", (e) => e.textContent)) === "", 20000, "Bob no longer typing");

  // Bob's network goes silent: the server's heartbeat expires, and he leaves
  // Ada's room; his own page says it is not connected.
  Bob.proxy.blackhole();
  await waitFor(async () => !(await people(Ada)).includes("Bob"), 20000, "Bob gone from Ada's room");
  await waitFor(async () => (await status(Bob)) !== "open", 20000, "Bob's page not online");
  await screenshots("presence-away", { Ada, Bob });

  Bob.proxy.restore();
  await waitFor(async () => (await people(Ada)).includes("Bob"), 30000, "Bob back in Ada's room");
  await waitStatus(Bob, "open", 30000);
});

test("presence: a peer whose name is not a string does not break who is here", async (t) => {
  const { Ada, Bob } = await twoPages(t, "presence-odd");
  await waitFor(async () => (await people(Ada)).includes("Bob"), 20000, "Bob in Ada's room");
  // A third client, not the demo, sets a name that is a number.
  const ws = new WS(srv.url);
  t.after(() => ws.terminate());
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  ws.send(JSON.stringify({ type: "JOIN", payload: { doc: listDocId("presence-odd"), presence: { name: 5 } } }));
  await waitFor(async () => (await people(Ada)).length === 3, 20000, "three people in Ada's room");
  // The list still follows the room: Bob's typing shows, and his leaving.
  await Bob.fill("#text", "still here");
  await waitFor(async () => (await Ada.$eval("#typing", (e) => e.textContent)) === "Bob is typing…", 20000, "Bob typing on Ada's page");
  assert.ok(!Ada.logs.some((l) => l.startsWith("pageerror")), Ada.logs.join("\n"));
});

test("the demo at / connects to its own /ws by default (same origin)", async (t) => {
  // A syncd of its own with default flags: no -origins, so the page must be
  // same-origin to be let in.
  const plain = await startSyncd(build.bin);
  const context = await browser.newContext({ viewport: { width: 600, height: 400 } });
  t.after(async () => {
    await context.close().catch(() => {});
    await plain.stop();
  });
  const page = await context.newPage();
  await page.goto(`${plain.http}/?list=plain`, { timeout: 20000 });
  await waitStatus(page, "open", 20000);
  // A name was made up for this tab, and shown.
  assert.match((await people(page))[0], /^\S+ \d+ \(you\)$/);
  await addTodo(page, "straight to syncd");
  await waitFor(async () => {
    const d = await api(plain, `/v1/docs/${encodeURIComponent("todos:plain")}`);
    return Object.values(d.state.items || {}).some((i) => i.text === "straight to syncd");
  }, 20000, "the todo on the server");
});
