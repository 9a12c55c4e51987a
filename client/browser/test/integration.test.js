// Integration tests of the browser client against a real syncd, built from
// this repository and started by the tests on a free loopback port.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { SyncClient, deepEqual } from "../syncd.js";
import { buildSyncd, startSyncd, makeNet, memStorage, waitFor, sleep, api } from "../testlib/harness.js";

let build;
before(async () => {
  build = await buildSyncd();
});
after(() => {
  if (build) rmSync(build.dir, { recursive: true, force: true });
});

// cleanup collects what a test started, to close it whether it passes or not.
function cleanup(t) {
  const fns = [];
  t.after(async () => {
    for (const fn of fns.reverse()) await fn();
  });
  return (fn) => fns.push(fn);
}

async function server(t, add, flags = []) {
  const srv = await startSyncd(build.bin, flags);
  add(() => srv.stop());
  return srv;
}

// client makes a client on its own test network, with fast backoff.
function client(add, srv, { net = makeNet(), session = memStorage(), local = memStorage(), ...opts } = {}) {
  const c = new SyncClient({ url: srv.url, WebSocket: net.WebSocket, sessionStorage: session, localStorage: local, backoff: { base: 20, cap: 200 }, ...opts });
  c.net = net;
  c.session = session;
  c.local = local;
  c.rejects = [];
  c.on("reject", (e) => c.rejects.push(e));
  c.statuses = [];
  c.on("status", (e) => c.statuses.push(e.status));
  add(() => c.close());
  return c;
}

const settled = (...docs) => docs.every((d) => d.client.status === "open" && d.pending.length === 0);

async function serverDoc(srv, id) {
  return api(srv, "/v1/docs/" + encodeURIComponent(id));
}

test("three clients editing one document concurrently converge", async (t) => {
  const add = cleanup(t);
  const srv = await server(t, add);
  const clients = [0, 1, 2].map(() => client(add, srv, { retries: 20 }));
  const docs = clients.map((c) => c.open("conv"));
  await waitFor(() => settled(...docs), 10000, "all joined");
  docs[0].update({ items: [] });
  await waitFor(() => docs.every((d) => Array.isArray(d.value.items)), 10000, "items created");

  const adds = [0, 0, 0];
  await Promise.all(docs.map(async (d, i) => {
    for (let k = 0; k < 25; k++) {
      if (k % 3 === 0) d.update({ ["own" + i]: { k } }); // disjoint paths
      else if (k % 3 === 1) {
        d.update([{ op: "add", path: "/items/-", value: `c${i}-${k}` }]); // all touch /items
        adds[i]++;
      } else d.update({ shared: `c${i}-${k}` }); // all touch /shared
      await sleep(Math.floor(Math.random() * 8));
    }
  }));
  await waitFor(() => settled(...docs), 20000, "all edits settled");
  const head = await serverDoc(srv, "conv");
  await waitFor(() => docs.every((d) => d.rev === head.rev), 10000, "all at the head");
  for (const d of docs) assert.deepEqual(d.value, head.state);
  for (const [i, c] of clients.entries()) {
    // Every add is in the list exactly once, unless it was finally refused.
    const refused = c.rejects.filter((e) => Array.isArray(e.patch)).length;
    const mine = head.state.items.filter((v) => v.startsWith(`c${i}-`));
    assert.equal(mine.length, adds[i] - refused, `client ${i}: ${mine.length} items, ${adds[i]} adds, ${refused} refused`);
    assert.equal(new Set(mine).size, mine.length);
    assert.deepEqual(head.state["own" + i], { k: 24 });
  }
});

test("a refused edit (failing test) is rolled back, with a reject event", async (t) => {
  const add = cleanup(t);
  const srv = await server(t, add);
  const a = client(add, srv);
  const b = client(add, srv);
  const da = a.open("rb");
  const db = b.open("rb");
  await waitFor(() => settled(da, db), 10000, "joined");
  da.update({ n: 1 });
  await waitFor(() => db.value.n === 1 && settled(da, db), 10000, "n=1 everywhere");

  a.net.hold = true; // A does not hear of B's edit yet
  db.update({ n: 5 });
  await waitFor(() => settled(db), 10000, "B's edit committed");
  const changes = [];
  a.on("change", (e) => changes.push(e.source));
  const id = da.update([{ op: "test", path: "/n", value: 1 }, { op: "replace", path: "/n", value: 2 }]);
  assert.equal(da.value.n, 2); // optimistic
  a.net.release();
  await waitFor(() => a.rejects.length === 1, 10000, "the reject event");
  const r = a.rejects[0];
  assert.equal(r.clientReqId, id);
  assert.equal(r.code, "FAILED_PRECONDITION");
  assert.equal(r.doc, "rb");
  assert.deepEqual(r.patch[1], { op: "replace", path: "/n", value: 2 });
  assert.equal(da.value.n, 5);
  assert.deepEqual(da.pending, []);
  assert.ok(changes.includes("rollback"));
  assert.deepEqual(da.value, (await serverDoc(srv, "rb")).state);
});

test("a long absence ends in a snapshot, and pending edits are kept", async (t) => {
  const add = cleanup(t);
  const srv = await server(t, add, ["-retention", "3", "-ring-size", "2", "-snapshot-interval", "2"]);
  const a = client(add, srv);
  const b = client(add, srv);
  const da = a.open("absent");
  const db = b.open("absent");
  await waitFor(() => settled(da, db), 10000, "joined");
  da.update({ list: [], before: true }); // gives A a watermark in the document
  await waitFor(() => settled(da) && db.value.before === true, 10000, "A's first edit committed");

  a.net.offline = true;
  a.net.drop();
  await waitFor(() => a.status === "offline", 10000, "A offline");
  da.update({ offline: 1 });
  da.update([{ op: "add", path: "/list/-", value: "from-A" }]);
  assert.equal(da.pending.length, 2);
  // One at a time: with a ring of 2, a baseRev further behind is refused.
  for (let k = 0; k < 20; k++) {
    db.update([{ op: "add", path: "/list/-", value: "b" + k }]);
    await waitFor(() => settled(db), 10000, `B's edit ${k} committed`);
  }
  assert.notEqual(a.status, "open");

  a.net.received.length = 0;
  a.net.offline = false;
  await waitFor(() => settled(da, db) && deepEqual(da.value, db.value), 10000, "A back and converged");
  const gap = a.net.received.find((m) => m.type === "REVISION_GAP");
  assert.ok(gap, "A got a REVISION_GAP");
  assert.equal(gap.payload.reason, "retention");
  assert.ok(a.net.received.some((m) => m.type === "SYNC.SNAPSHOT"));
  const head = await serverDoc(srv, "absent");
  assert.deepEqual(da.value, head.state);
  assert.equal(head.state.offline, 1);
  assert.equal(head.state.list.filter((v) => v === "from-A").length, 1);
  assert.equal(head.state.list.length, 21, JSON.stringify([a.rejects, b.rejects]));
  assert.deepEqual(a.rejects, []);
});

// A client whose edits' echoes were lost, and whose connection then dropped
// while another made 1,000 edits of a ~100 KB document, rejoins and gets a
// compacted catch-up: the other's operations combined (firstRev), its own
// as committed. It sees its own edits committed and resends none, so each
// lands once; an edit made while offline is sent after; it converges.
test("a compacted catch-up settles pending edits exactly once", async (t) => {
  const add = cleanup(t);
  const srv = await server(t, add, ["-rate", "1000000", "-update-rate", "1000000"]);
  const a = client(add, srv);
  const b = client(add, srv);
  const da = a.open("compact");
  const db = b.open("compact");
  await waitFor(() => settled(da, db), 10000, "joined");
  const fill = { mine: [] };
  for (let i = 0; i < 1000; i++) fill["k" + i] = { v: 0, pad: "x".repeat(80) };
  db.update(fill);
  await waitFor(() => settled(db) && da.rev === db.rev, 10000, "document filled");

  // A's two edits commit, but A never sees their echoes.
  a.net.hold = true;
  da.update([{ op: "add", path: "/mine/-", value: "a1" }]);
  da.update({ solo: "a2" });
  const rev = da.rev;
  await waitFor(async () => (await serverDoc(srv, "compact")).rev === rev + 2, 10000, "A's edits committed");
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648);
  // In batches: every local edit recomputes B's view over its pending ones.
  for (let i = 0; i < 1000; i++) {
    db.update({ ["k" + (next() % 1000)]: { v: i + 1, pad: "y".repeat(80) } });
    if (i % 20 === 19) await waitFor(() => settled(db), 30000, `B's edit ${i} committed`);
  }

  a.net.drop();
  a.net.hold = false;
  a.net.received.length = 0;
  da.update([{ op: "add", path: "/mine/-", value: "a3" }]); // while disconnected
  const head = async () => serverDoc(srv, "compact");
  await waitFor(async () => settled(da, db) && da.rev === (await head()).rev && db.rev === da.rev, 30000, "A back and converged");

  const answer = a.net.received.find((m) => m.type === "SYNC.DELTAS" && m.payload.doc === "compact");
  assert.ok(answer, "A caught up with deltas");
  const ops = answer.payload.operations;
  assert.ok(ops.some((o) => typeof o.firstRev === "number" && o.firstRev < o.rev && o.clientId === undefined), "a combined operation");
  assert.deepEqual(ops.filter((o) => o.clientId === a.authorId).map((o) => o.rev), [rev + 1, rev + 2], "A's own operations, separate");
  const state = (await head()).state;
  assert.deepEqual(da.value, state);
  assert.deepEqual(state.mine, ["a1", "a3"]);
  assert.equal(state.solo, "a2");
  assert.deepEqual(a.rejects, []);
});

// dropTest edits a document with a large pad (so that catch-up is deltas, not
// a "smaller" snapshot), kills the connection right after sending, and
// checks in the server's log that every edit committed exactly once.
test("resume after a dropped connection, without duplicates", async (t) => {
  const add = cleanup(t);
  const srv = await server(t, add);
  const a = client(add, srv);
  const b = client(add, srv);
  const da = a.open("drop");
  const db = b.open("drop");
  await waitFor(() => settled(da, db), 10000, "joined");
  da.update({ pad: "x".repeat(20000), items: [] });
  await waitFor(() => settled(da) && Array.isArray(db.value.items), 10000, "pad committed");

  let n = 0;
  for (let round = 0; round < 4; round++) {
    for (let k = 0; k < 8; k++) {
      da.update([{ op: "add", path: "/items/-", value: "i" + n++ }]);
      if (k === round * 2) await sleep(2); // let some reach the server, not all
    }
    db.update({ ["b" + round]: true }); // the other client moves on meanwhile
    const before = a.statuses.length;
    a.net.drop();
    await waitFor(() => a.statuses.slice(before).includes("offline"), 10000, "A dropped");
    await waitFor(() => settled(da, db), 10000, `round ${round} settled`);
  }
  const head = await serverDoc(srv, "drop");
  await waitFor(() => da.rev === head.rev && db.rev === head.rev, 10000, "both at the head");
  assert.deepEqual(da.value, head.state);
  assert.deepEqual(db.value, head.state);
  assert.deepEqual(head.state.items, Array.from({ length: n }, (_, i) => "i" + i));
  const log = await api(srv, "/v1/docs/drop/ops?after=0");
  const ids = log.operations.filter((o) => o.clientId === a.authorId).map((o) => o.clientReqId);
  assert.equal(ids.length, n + 1);
  assert.equal(new Set(ids).size, ids.length, "no request id committed twice");
  assert.deepEqual(a.rejects, []);
});

test("pending edits survive a reload (outbox) and apply exactly once", async (t) => {
  const add = cleanup(t);
  const srv = await server(t, add);
  const session = memStorage();
  const local = memStorage();
  const a1 = client(add, srv, { session, local });
  const d1 = a1.open("reload");
  await waitFor(() => settled(d1), 10000, "joined");
  d1.update({ items: [] });
  await waitFor(() => settled(d1), 10000, "first edit");
  // Some edits reach the server, and the page goes away before any answer.
  for (let k = 0; k < 5; k++) d1.update([{ op: "add", path: "/items/-", value: "sent" + k }]);
  a1.net.hold = true;
  await sleep(100);
  a1.net.offline = true;
  a1.net.drop();
  await waitFor(() => a1.status === "offline", 10000, "dropped");
  // And some are made offline, never sent.
  for (let k = 0; k < 3; k++) d1.update([{ op: "add", path: "/items/-", value: "offline" + k }]);
  assert.equal(d1.pending.length, 8);
  a1.close(); // the page unloads

  // The reload: same tab storage, a new client.
  const a2 = client(add, srv, { session, local });
  assert.equal(a2.clientId, a1.clientId);
  const d2 = a2.open("reload");
  assert.equal(d2.pending.length, 8);
  assert.equal(d2.value.items.length, 8);
  await waitFor(() => settled(d2), 10000, "settled after reload");
  const want = [...Array.from({ length: 5 }, (_, k) => "sent" + k), ...Array.from({ length: 3 }, (_, k) => "offline" + k)];
  const head = await serverDoc(srv, "reload");
  assert.deepEqual(head.state.items, want);
  assert.deepEqual(d2.value, head.state);
  assert.equal(local.getItem("syncd.outbox." + a2.clientId), null, "outbox emptied");
  const ids = (await api(srv, "/v1/docs/reload/ops?after=0")).operations.map((o) => o.clientReqId);
  assert.equal(new Set(ids).size, ids.length);
  assert.equal(ids.length, 9);
});

test("presence, room messages, topics, heartbeat and leave", async (t) => {
  const add = cleanup(t);
  const srv = await server(t, add);
  const a = client(add, srv);
  const b = client(add, srv);
  const da = a.open("room", { presence: { name: "Ada" } });
  await waitFor(() => settled(da), 10000, "A joined");
  const db = b.open("room", { presence: { name: "Bob" } });
  await waitFor(() => settled(db), 10000, "B joined");
  await waitFor(() => da.room.size === 2 && db.room.size === 2, 10000, "both in both rooms");
  assert.deepEqual(da.room.get(b.authorId), { name: "Bob" });
  assert.deepEqual(db.room.get(a.authorId), { name: "Ada" });

  await db.setPresence({ name: "Bob", typing: true });
  await waitFor(() => da.room.get(b.authorId)?.typing === true, 10000, "B typing seen by A");

  const got = [];
  a.on("message", (m) => got.push(m));
  await db.publish({ chat: "hi" });
  await Promise.all([a.subscribe("lobby"), b.subscribe("lobby")]);
  await b.publish("lobby", "chess?");
  await waitFor(() => got.length === 2, 10000, "two messages");
  assert.deepEqual(got.find((m) => m.doc === "room"), { doc: "room", topic: undefined, data: { chat: "hi" }, from: b.authorId });
  assert.deepEqual(got.find((m) => m.topic === "lobby"), { doc: undefined, topic: "lobby", data: "chess?", from: b.authorId });

  assert.deepEqual(await a.heartbeat(), {});
  await db.leave();
  await waitFor(() => !da.room.has(b.authorId), 10000, "B left A's room");
  await a.unsubscribe("lobby");
});

test("a second connection with the same clientId replaces the first, which stops (4409)", async (t) => {
  const add = cleanup(t);
  const srv = await server(t, add);
  const a = client(add, srv);
  a.open("r");
  await waitFor(() => a.status === "open", 10000, "A open");
  const copy = memStorage();
  copy.setItem("syncd.clientId", a.clientId); // a duplicated tab
  const twin = client(add, srv, { session: copy });
  await waitFor(() => twin.status === "connected" || twin.status === "open", 10000, "twin connected");
  await waitFor(() => a.status === "stopped", 10000, "A stopped");
  await sleep(300);
  assert.equal(a.status, "stopped"); // it did not take the id back
  assert.ok(twin.status === "open" || twin.status === "connected");
});

test("credentials: the access_token query and the bearer subprotocol reach the server", async (t) => {
  const add = cleanup(t);
  const srv = await server(t, add, ["-jwt-secret", "s3cret-s3cret-s3cret-s3cret-s3cret"]);
  const token = hs256({ sub: "ada" }, "s3cret-s3cret-s3cret-s3cret-s3cret");
  const q = client(add, srv, { token });
  const s = client(add, srv, { token: () => Promise.resolve(token), tokenIn: "subprotocol" });
  await waitFor(() => q.status === "open" && s.status === "open", 10000, "both connected");
  const bad = client(add, srv, { token: "nope" });
  const statuses = [];
  bad.on("status", (e) => statuses.push(e));
  await waitFor(() => statuses.some((e) => e.suspectCredentials), 15000, "credentials suspected");
  assert.equal(bad.clientId, undefined);
});

const SECRET = "s3cret-s3cret-s3cret-s3cret-s3cret";
const expIn = (s) => Math.floor(Date.now() / 1000) + s;

test("a token function keeps one connection past several token lifetimes (AUTH.REFRESH)", async (t) => {
  const add = cleanup(t);
  const srv = await server(t, add, ["-jwt-secret", SECRET, "-jwt-leeway", "1s"]);
  let calls = 0;
  const c = client(add, srv, {
    token: () => {
      calls++;
      return hs256({ sub: "ada", exp: expIn(2) }, SECRET);
    },
  });
  const d = c.open("tokens:browser");
  await waitFor(() => c.status === "open", 10000, "open");
  const offline = [];
  c.on("status", (e) => e.status !== "open" && offline.push(e));
  for (let i = 0; i < 10; i++) {
    d.update({ n: i });
    await sleep(500);
  }
  await waitFor(() => d.pending.length === 0, 10000, "edits settled");
  assert.deepEqual(offline, [], "the connection stayed up");
  assert.ok(calls >= 3, `token function called ${calls} times in 5 s of 2-second tokens`);
});

test("a fixed token that expires closes with 4401 and stops; refreshToken checks the user", async (t) => {
  const add = cleanup(t);
  const srv = await server(t, add, ["-jwt-secret", SECRET, "-jwt-leeway", "1s"]);
  const fixed = client(add, srv, { token: hs256({ sub: "ada", exp: expIn(1) }, SECRET) });
  const stopped = [];
  fixed.on("status", (e) => e.status === "stopped" && stopped.push(e));

  const other = client(add, srv, { token: hs256({ sub: "bob", exp: expIn(3600) }, SECRET) });
  await waitFor(() => other.status === "open" || other.status === "connected", 10000, "bob connected");
  const ok = await other.refreshToken(hs256({ sub: "bob", exp: expIn(7200) }, SECRET));
  assert.equal(ok.exp, expIn(7200));
  await assert.rejects(other.refreshToken(hs256({ sub: "ada", exp: expIn(3600) }, SECRET)), (e) => e.code === "PERMISSION_DENIED");
  await assert.rejects(other.refreshToken("not.a.jwt"), (e) => e.code === "UNAUTHENTICATED");

  // A narrower token takes a joined document and a subscribed topic away.
  const keep = other.open("team/a");
  const lose = other.open("other/b");
  await waitFor(() => keep._joined && lose._joined, 10000, "both joined");
  await other.refreshToken(hs256({ sub: "bob", exp: expIn(7200), topics: { read: ["*"], write: ["*"] } }, SECRET));
  await other.subscribe("news");
  await other.subscribe("team");
  const errors = [];
  other.on("error", (e) => errors.push(e));
  await other.refreshToken(hs256({ sub: "bob", exp: expIn(7200), docs: { read: ["team/*"], write: ["team/*"] }, topics: { read: ["team"], write: ["team"] } }, SECRET));
  await waitFor(() => errors.some((e) => e.revoked && e.doc === "other/b"), 10000, "other/b revoked");
  await waitFor(() => errors.some((e) => e.revoked && e.topic === "news"), 10000, "news revoked");
  assert.deepEqual([...other.topics], ["team"], "the revoked topic is left, not renewed at the next connection");
  keep.update({ still: "mine" });
  await waitFor(() => keep.pending.length === 0, 10000, "team/a still writable");
  assert.equal(lose.rev, 0);

  await waitFor(() => stopped.length > 0, 10000, "the fixed token's connection stopped");
  assert.equal(stopped[0].code, 4401);
});

test("with a token function, a 4401 close reconnects with a fresh token", async (t) => {
  const add = cleanup(t);
  const srv = await server(t, add, ["-jwt-secret", SECRET, "-jwt-leeway", "1s"]);
  // The first token is short; refreshing fails (the source is "down")
  // until after it expired, so the server closes with 4401.
  const firstExp = expIn(1);
  let first = true;
  const c = client(add, srv, {
    token: () => {
      if (first) {
        first = false;
        return hs256({ sub: "ada", exp: firstExp }, SECRET);
      }
      if (Date.now() < firstExp * 1000 + 1500) throw new Error("identity provider down"); // past exp + leeway

      return hs256({ sub: "ada", exp: expIn(3600) }, SECRET);
    },
  });
  const codes = [];
  c.on("status", (e) => e.status === "offline" && codes.push(e.code));
  await waitFor(() => codes.includes(4401), 10000, "closed with 4401");
  await waitFor(() => c.status === "open" || c.status === "connected", 10000, "reconnected");
});

import { createHmac } from "node:crypto";
function hs256(claims, secret) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const data = b64({ alg: "HS256", typ: "JWT" }) + "." + b64(claims);
  return data + "." + createHmac("sha256", secret).update(data).digest("base64url");
}

test("a member named __proto__ reaches every client as on the server, and does not send it re-joining in a loop", async (t) => {
  const add = cleanup(t);
  const srv = await server(t, add);
  const a = client(add, srv);
  const b = client(add, srv);
  const da = a.open("proto");
  const db = b.open("proto");
  await waitFor(() => settled(da, db), 10000, "both open");
  // A document large enough that a catch-up of a few operations is
  // answered with deltas, not a snapshot.
  db.update({ big: "x".repeat(20000) });
  await waitFor(() => db.pending.length === 0 && da.rev === db.rev, 10000, "big committed");
  // JSON.parse gives an own member "__proto__", as any JSON decoder would.
  db.update(JSON.parse('{"__proto__":{"x":1}}'));
  await waitFor(() => db.pending.length === 0 && da.rev === db.rev, 10000, "__proto__ committed");
  const onServer = await serverDoc(srv, "proto");
  assert.deepEqual(Object.keys(onServer.state).sort(), ["__proto__", "big"], "the server keeps the member");
  const keys = Object.keys(da.value).sort();

  const joins = (c) => c.net.received.filter((m) => m.type === "SYNC.DELTAS" && m.meta.correlationId).length;
  const before = [joins(a), joins(b)];
  const rev = (await serverDoc(srv, "proto")).rev;
  db.update([{ op: "replace", path: "/__proto__/x", value: 2 }]);
  await waitFor(async () => (await serverDoc(srv, "proto")).rev === rev + 1, 10000, "replace committed on the server");
  await sleep(1000);
  const rejoins = [joins(a) - before[0], joins(b) - before[1]];
  assert.deepEqual(keys, ["__proto__", "big"], "the client that received it keeps it too");
  assert.ok(rejoins[0] <= 1 && rejoins[1] <= 1, `JOIN answers in 1 s (receiver, author): ${rejoins}: re-joining in a loop`);
  assert.equal(db.pending.length, 0, "the author's edit settled");
  assert.equal(da.rev, rev + 1);
});

test("a JOIN refused by the document creation rate (RESOURCE_EXHAUSTED) is sent again after retryAfterMs (§9.4, §6.11)", async (t) => {
  const add = cleanup(t);
  // The default creation rate, 60 a minute with a burst of 60: the 61st
  // document opened at once is refused, retryAfterMs about 1 s.
  const srv = await server(t, add);
  const c = client(add, srv);
  const errors = [];
  c.on("error", (e) => errors.push(e));
  const docs = [];
  for (let i = 0; i <= 60; i++) docs.push(c.open("create:" + i));
  await waitFor(() => errors.some((e) => e.code === "RESOURCE_EXHAUSTED"), 10000, "a JOIN refused by the creation rate");
  const last = docs.find((d) => !d._joined);
  assert.ok(last, "one document not joined");
  last.update({ hello: "world" });
  await waitFor(() => c.status === "open" && last.pending.length === 0, 8000, "the refused JOIN retried, the document joined and its edit committed");
});

test("a long-lived token (exp more than 2^31 ms away) is not refreshed over and over", async (t) => {
  const add = cleanup(t);
  const srv = await server(t, add, ["-jwt-secret", SECRET]);
  let calls = 0;
  const c = client(add, srv, {
    token: () => {
      calls++;
      return hs256({ sub: "ada", exp: expIn(60 * 86400) }, SECRET); // 60 days
    },
  });
  c.open("tokens:long");
  await waitFor(() => c.status === "open", 10000, "open");
  const at = calls;
  await sleep(1000);
  assert.ok(calls - at <= 1, `token function called ${calls - at} times in 1 s for a 60-day token`);
});

test("a presence value the server refused is not sent again with the next JOIN, which would be refused too (§4.4)", async (t) => {
  const add = cleanup(t);
  const srv = await server(t, add, ["-max-presence-bytes", "100"]);
  const c = client(add, srv);
  const d = c.open("presence:refused", { presence: { name: "Ada" } });
  await waitFor(() => settled(d), 10000, "joined");
  await assert.rejects(d.setPresence({ name: "Ada", bio: "x".repeat(200) }), (e) => e.code === "INVALID_ARGUMENT");
  // A lost connection: the document is joined again, with its presence.
  const n = c.statuses.length;
  c.net.drop();
  await waitFor(() => c.statuses.slice(n).includes("offline"), 10000, "offline");
  d.update({ after: "reconnect" });
  await waitFor(() => settled(d), 10000, "re-joined, the edit committed");
  await waitFor(() => d.room.get(c.authorId)?.name === "Ada", 10000, "the accepted presence is back in the room");
});

test("a JOIN over maxDocsPerConnection (details.limit) is not sent again on that connection (§6.11)", async (t) => {
  const add = cleanup(t);
  const srv = await server(t, add, ["-max-docs-per-conn", "2"]);
  const c = client(add, srv);
  const a = c.open("cap:a");
  c.open("cap:b");
  await waitFor(() => c.status === "open", 10000, "two documents open");
  const third = c.open("cap:c");
  const refusals = () =>
    c.net.received.filter((m) => m.payload?.code === "RESOURCE_EXHAUSTED" && m.payload?.details?.doc === "cap:c").length;
  await waitFor(() => refusals() === 1, 10000, "the third JOIN refused");
  assert.equal(c.net.received.find((m) => m.payload?.details?.doc === "cap:c").payload.details.limit, "maxDocsPerConnection");
  await sleep(600);
  assert.equal(refusals(), 1, "the refused JOIN was sent again with no document left");
  assert.equal(third._joined, false);
  // Once a document is left, the next connection joins the third.
  await a.leave();
  third.update({ now: "joined" });
  c.net.drop();
  await waitFor(() => settled(third), 10000, "joined on the next connection, the edit committed");
});
