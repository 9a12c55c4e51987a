// Tests of SyncClient's wiring against a scripted fake WebSocket (no
// server): credentials, close codes, HELLO, the ackedReqId rules on resume,
// heartbeat, the outbox, and that the declarations cover every export.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as mod from "../syncd.js";
import { memStorage, waitFor, sleep } from "../testlib/harness.js";

const { SyncClient } = mod;
const CID = "01JD3M5Q8R2T4V6X8Z0A2C4E6G";
const EPOCH = "01JD3KZ9X4B7N2Q5T8W1Y3C6F0";

// fakeNet: every socket the client opens, scripted by the test.
function fakeNet() {
  const sockets = [];
  class FakeSocket {
    constructor(url, protocols) {
      this.url = new URL(url);
      this.protocols = protocols;
      this.readyState = 1; // open at once: the client only waits for HELLO
      this.sent = [];
      this.onopen = this.onmessage = this.onclose = this.onerror = null;
      sockets.push(this);
      setTimeout(() => {
        if (this.onopen) this.onopen({});
      }, 1);
    }
    send(s) {
      this.sent.push(JSON.parse(s));
    }
    close(code) {
      this.serverClose(code ?? 1005);
    }
    deliver(type, payload, meta = {}) {
      this.onmessage({ data: JSON.stringify({ type, meta: { timestamp: Date.now(), ...meta }, payload }) });
    }
    hello(extra = {}) {
      this.deliver("HELLO", { clientId: CID, protocol: "syncd/1", heartbeatMs: 15000, limits: { maxMessageBytes: 1 << 20 }, ...extra });
    }
    serverClose(code) {
      if (this.readyState === 3) return;
      this.readyState = 3;
      if (this.onclose) this.onclose({ code, reason: "" });
    }
    of(type) {
      return this.sent.filter((m) => m.type === type);
    }
  }
  return { sockets, WebSocket: FakeSocket, last: () => sockets[sockets.length - 1] };
}

function newClient(net, opts = {}) {
  return new SyncClient({ url: "ws://127.0.0.1:1/ws", WebSocket: net.WebSocket, sessionStorage: memStorage(), localStorage: memStorage(), backoff: { base: 5, cap: 20 }, ...opts });
}

// joinedDoc opens document "d" on c, greets it (hello: HELLO's extra
// fields) and answers its JOIN with a snapshot of state at rev; it returns
// the document and the fake socket.
async function joinedDoc(n, c, { hello = {}, rev = 0, state = {} } = {}) {
  const doc = c.open("d");
  await waitFor(() => n.sockets.length === 1, 1000, "socket");
  const s = n.last();
  s.hello(hello);
  s.deliver("SYNC.SNAPSHOT", { doc: "d", epoch: EPOCH, rev, state }, { correlationId: s.of("JOIN")[0].meta.correlationId });
  return { doc, s };
}

test("credentials: access_token query, or bearer subprotocol with syncd; clientId after HELLO", async () => {
  const n1 = fakeNet();
  const c1 = newClient(n1, { token: "tok" });
  await waitFor(() => n1.sockets.length === 1, 1000, "socket");
  assert.equal(n1.last().url.searchParams.get("access_token"), "tok");
  assert.equal(n1.last().url.searchParams.get("clientId"), null);
  assert.equal(n1.last().protocols, undefined);
  n1.last().hello();
  assert.equal(c1.clientId, CID);
  assert.equal(c1.status, "open");
  n1.last().serverClose(1006);
  await waitFor(() => n1.sockets.length === 2, 1000, "reconnect");
  assert.equal(n1.last().url.searchParams.get("clientId"), CID);
  c1.close();

  const n2 = fakeNet();
  const c2 = newClient(n2, { token: async () => "tok2", tokenIn: "subprotocol" });
  await waitFor(() => n2.sockets.length === 1, 1000, "socket");
  assert.deepEqual(n2.last().protocols, ["bearer.tok2", "syncd"]);
  assert.equal(n2.last().url.searchParams.get("access_token"), null);
  c2.close();
});

test("close codes: stop codes stop, others reconnect; an unknown protocol stops", async () => {
  for (const code of [4401, 4403, 4409, 1008, 1002]) {
    const n = fakeNet();
    const c = newClient(n);
    await waitFor(() => n.sockets.length === 1, 1000, "socket");
    n.last().hello();
    n.last().serverClose(code);
    assert.equal(c.status, "stopped", String(code));
    await sleep(60);
    assert.equal(n.sockets.length, 1, `no reconnect after ${code}`);
  }
  for (const code of [1001, 1006, 1011, 1013, 4408, 4503]) {
    const n = fakeNet();
    const c = newClient(n, { random: () => 0 });
    await waitFor(() => n.sockets.length === 1, 1000, "socket");
    n.last().hello();
    n.last().serverClose(code);
    await waitFor(() => n.sockets.length === 2, 2000, `reconnect after ${code}`);
    c.close();
  }
  const n = fakeNet();
  const c = newClient(n);
  await waitFor(() => n.sockets.length === 1, 1000, "socket");
  n.last().hello({ protocol: "syncd/2" });
  assert.equal(c.status, "stopped");
  await sleep(60);
  assert.equal(n.sockets.length, 1);
});

test("resume: JOIN with (epoch, rev); committed seen, lost re-issued, undecided resent as is (§6.8)", async () => {
  const n = fakeNet();
  const c = newClient(n);
  const doc = c.open("d");
  await waitFor(() => n.sockets.length === 1, 1000, "socket");
  let s = n.last();
  s.hello();
  const join1 = s.of("JOIN")[0];
  assert.deepEqual(join1.payload, { doc: "d" });
  s.deliver("SYNC.SNAPSHOT", { doc: "d", epoch: EPOCH, rev: 4, state: { a: 0 } }, { correlationId: join1.meta.correlationId });
  assert.equal(c.status, "open");
  const ids = [doc.update({ a: 1 }), doc.update({ b: 1 }), doc.update({ c: 1 })];
  const ups = s.of("UPDATE");
  assert.deepEqual(ups.map((u) => u.payload.clientReqId), ids);
  assert.deepEqual(ups.map((u) => [u.payload.baseRev, u.payload.epoch]), [[4, EPOCH], [4, EPOCH], [4, EPOCH]]);
  assert.ok(ids[0] < ids[1] && ids[1] < ids[2]);

  s.serverClose(1006); // the outcomes are lost with the connection
  doc.update({ d: 1 }); // made offline
  await waitFor(() => n.sockets.length === 2, 1000, "reconnect");
  s = n.last();
  s.hello();
  const join2 = s.of("JOIN")[0];
  assert.deepEqual(join2.payload, { doc: "d", rev: 4, epoch: EPOCH });
  assert.deepEqual(s.of("UPDATE"), [], "no UPDATE before the JOIN answer");
  // ids[0] committed as 5; ids[1] decided (refused, lost); ids[2] never decided.
  s.deliver("SYNC.DELTAS", {
    doc: "d", epoch: EPOCH, fromRev: 4, toRev: 5, ackedReqId: ids[1],
    operations: [{ rev: 5, type: "merge", payload: { a: 1 }, clientId: CID, clientReqId: ids[0], ts: 1 }],
  }, { correlationId: join2.meta.correlationId });
  const sent = s.of("UPDATE").map((u) => u.payload);
  assert.equal(sent.length, 3);
  assert.deepEqual(sent[0], { doc: "d", patch: { c: 1 }, clientReqId: ids[2], baseRev: 4, epoch: EPOCH }); // resent as is
  assert.deepEqual(sent[1].patch, { d: 1 }); // the offline edit, based on the new head
  assert.equal(sent[1].baseRev, 5);
  assert.deepEqual(sent[2].patch, { b: 1 }); // re-issued under a new id
  assert.ok(sent[2].clientReqId > sent[1].clientReqId && sent[1].clientReqId > ids[2]);
  assert.deepEqual(doc.value, { a: 1, c: 1, d: 1, b: 1 });

  // A refusal of the resend rolls it back and reports it.
  const rejects = [];
  c.on("reject", (e) => rejects.push(e));
  s.deliver("ERROR", { code: "FAILED_PRECONDITION", message: "no", details: { doc: "d", clientReqId: ids[2], serverRev: 5 }, retryable: false });
  assert.equal(rejects.length, 1);
  assert.equal(rejects[0].clientReqId, ids[2]);
  assert.deepEqual(doc.value, { a: 1, d: 1, b: 1 });
  c.close();
});

// resumedWithResend: a client whose edit was sent, the connection lost
// before its answer, and on the next connection resent as it is (never
// decided). Returns the client, its rejections, the document, the socket
// and the edit's id.
async function resumedWithResend() {
  const n = fakeNet();
  const c = newClient(n);
  const rejects = [];
  c.on("reject", (e) => rejects.push(e));
  const j = await joinedDoc(n, c, { rev: 4, state: { a: 0 } });
  const id = j.doc.update({ x: 1 });
  j.s.serverClose(1006);
  await waitFor(() => n.sockets.length === 2, 1000, "reconnect");
  const s = n.last();
  s.hello();
  s.deliver("SYNC.DELTAS", { doc: "d", epoch: EPOCH, fromRev: 4, toRev: 4, operations: [] }, { correlationId: s.of("JOIN")[0].meta.correlationId });
  assert.deepEqual(s.of("UPDATE").map((u) => u.payload.clientReqId), [id], "resent as it is");
  return { c, rejects, doc: j.doc, s, id };
}

test("a resend refused UNAVAILABLE goes again under the same id, later edits behind it; ALREADY_EXISTS re-issues it (§6.7)", async () => {
  // The copy sent on the lost connection may still be decided by the server
  // the client left: re-issued under a new id, both could be applied.
  const { c, rejects, doc, s, id } = await resumedWithResend();
  s.deliver("ERROR", { code: "UNAVAILABLE", message: "store", details: { doc: "d", clientReqId: id, serverRev: 4 }, retryable: true, retryAfterMs: 10 });
  const later = doc.update({ y: 1 });
  assert.equal(s.of("UPDATE").length, 1, "the later edit waits behind the held resend");
  await waitFor(() => s.of("UPDATE").length === 3, 2000, "the resend, then the later edit");
  const sent = s.of("UPDATE").map((u) => u.payload);
  assert.deepEqual(sent[1], { doc: "d", patch: { x: 1 }, clientReqId: id, baseRev: 4, epoch: EPOCH }, "the same id, base and epoch");
  assert.equal(sent[2].clientReqId, later);
  assert.deepEqual(rejects, []);
  assert.deepEqual(doc.value, { a: 0, x: 1, y: 1 });

  // Now ALREADY_EXISTS with no operation seen: never applied and never can
  // be, so it is re-issued under a new id rather than rolled back.
  s.deliver("ERROR", { code: "ALREADY_EXISTS", message: "decided", details: { doc: "d", clientReqId: id, serverRev: 5 }, retryable: false });
  await waitFor(() => s.of("UPDATE").length === 4, 2000, "the re-issue");
  const again = s.of("UPDATE")[3].payload;
  assert.deepEqual(again.patch, { x: 1 });
  assert.ok(again.clientReqId > later, "under a new id");
  assert.deepEqual(rejects, []);
  assert.deepEqual(doc.value, { a: 0, y: 1, x: 1 });
  c.close();
});

test("a resend refused UNAVAILABLE every time is reported UNKNOWN_OUTCOME, never re-issued", async () => {
  const { c, rejects, doc, s, id } = await resumedWithResend();
  const refuse = () => s.deliver("ERROR", { code: "UNAVAILABLE", message: "store", details: { doc: "d", clientReqId: id, serverRev: 4 }, retryable: true, retryAfterMs: 1 });
  // Ten sends again (100 ms doubling, capped at 5 s, ~26 s in all), so
  // the test hurries the client's timers.
  const realSetTimeout = globalThis.setTimeout;
  globalThis.setTimeout = (f, ms, ...a) => realSetTimeout(f, Math.min(ms, 5), ...a);
  try {
    for (let i = 1; i <= 10; i++) {
      refuse();
      await waitFor(() => s.of("UPDATE").length === i + 1, 2000, `send ${i + 1}`);
    }
  } finally {
    globalThis.setTimeout = realSetTimeout;
  }
  assert.ok(s.of("UPDATE").every((u) => u.payload.clientReqId === id), "always the same id");
  refuse();
  assert.deepEqual(rejects.map((r) => [r.clientReqId, r.code]), [[id, "UNKNOWN_OUTCOME"]]);
  assert.deepEqual(doc.value, { a: 0 });
  assert.equal(doc.pending.length, 0);
  c.close();
});

test("a refused edit is not re-issued over its client's later edits: a title typed a, ab ends as ab", async () => {
  const n = fakeNet();
  const c = newClient(n);
  const rejects = [];
  c.on("reject", (e) => rejects.push(e));
  const { doc, s } = await joinedDoc(n, c, { rev: 4, state: {} });
  const a = doc.update({ title: "a", x: 1 });
  doc.update({ title: "ab" });
  assert.equal(s.of("UPDATE").length, 2);
  // The first refused (the store failed for it alone); the second went through.
  s.deliver("ERROR", { code: "UNAVAILABLE", message: "store", details: { doc: "d", clientReqId: a, serverRev: 4 }, retryable: true, retryAfterMs: 1 });
  await sleep(20);
  assert.equal(s.of("UPDATE").length, 2, "held for the backoff (100 ms), not the 1 ms hint");
  await waitFor(() => s.of("UPDATE").length === 3, 2000, "the re-issue");
  assert.deepEqual(s.of("UPDATE")[2].payload.patch, { x: 1 }, "without the title its client set again");
  assert.deepEqual(doc.value, { x: 1, title: "ab" });
  const again = s.of("UPDATE")[2].payload.clientReqId;
  doc.update({ x: 2 });
  s.deliver("ERROR", { code: "ABORTED", message: "conflict", details: { doc: "d", clientReqId: again, serverRev: 4 }, retryable: true });
  assert.deepEqual(rejects.map((r) => r.code), ["SUPERSEDED"]);
  assert.deepEqual(doc.value, { title: "ab", x: 2 });
  c.close();
});

test("a snapshot answer: undecided edits resent, uncertain JSON Patches dropped with a reject, merge patches re-issued", async () => {
  const n = fakeNet();
  const c = newClient(n);
  const j = await joinedDoc(n, c, { rev: 1, state: { list: [] } });
  const doc = j.doc;
  let s = j.s;
  const ids = [doc.update([{ op: "add", path: "/list/-", value: 1 }]), doc.update({ m: 1 }), doc.update({ z: 1 })];
  s.serverClose(1006);
  await waitFor(() => n.sockets.length === 2, 1000, "reconnect");
  s = n.last();
  s.hello();
  const rejects = [];
  c.on("reject", (e) => rejects.push(e));
  s.deliver("REVISION_GAP", { doc: "d", expectedRev: 1, serverRev: 50, bufferFirstRev: 40, resumeFrom: 50, reason: "retention" });
  s.deliver("SYNC.SNAPSHOT", { doc: "d", epoch: EPOCH, rev: 50, state: { list: [1], other: true }, ackedReqId: ids[1] }, { correlationId: s.of("JOIN")[0].meta.correlationId });
  assert.deepEqual(rejects.map((r) => [r.clientReqId, r.code]), [[ids[0], "UNKNOWN_OUTCOME"]]);
  const sent = s.of("UPDATE").map((u) => u.payload);
  assert.deepEqual(sent.map((u) => u.patch), [{ z: 1 }, { m: 1 }]);
  assert.equal(sent[0].clientReqId, ids[2]);
  assert.notEqual(sent[1].clientReqId, ids[1]);
  assert.deepEqual(doc.value, { list: [1], other: true, z: 1, m: 1 });
  c.close();
});

test("a snapshot answer with outcomes: committed edits acknowledged, refused ones handled as refusals, nothing unknown", async () => {
  const n = fakeNet();
  const c = newClient(n);
  const j = await joinedDoc(n, c, { rev: 1, state: { list: [] } });
  const doc = j.doc;
  let s = j.s;
  const ids = [
    doc.update([{ op: "add", path: "/list/-", value: 1 }]), // committed as 7
    doc.update({ m: 1 }), // refused ABORTED: retryable, re-issued
    doc.update([{ op: "add", path: "/bad", value: 1 }]), // refused INVALID_ARGUMENT: reported
    doc.update({ z: 1 }), // above the watermark: resent
  ];
  s.serverClose(1006);
  await waitFor(() => n.sockets.length === 2, 1000, "reconnect");
  s = n.last();
  s.hello();
  const rejects = [];
  const changes = [];
  c.on("reject", (e) => rejects.push(e));
  c.on("change", (e) => changes.push(e));
  s.deliver("REVISION_GAP", { doc: "d", expectedRev: 1, serverRev: 50, bufferFirstRev: 40, resumeFrom: 50, reason: "retention" });
  s.deliver("SYNC.SNAPSHOT", {
    doc: "d", epoch: EPOCH, rev: 50, state: { list: [1] }, ackedReqId: ids[2],
    outcomes: [{ clientReqId: ids[0], rev: 7 }, { clientReqId: ids[1], code: "ABORTED" }, { clientReqId: ids[2], code: "INVALID_ARGUMENT" }],
  }, { correlationId: s.of("JOIN")[0].meta.correlationId });
  assert.deepEqual(rejects.map((r) => [r.clientReqId, r.code]), [[ids[2], "INVALID_ARGUMENT"]]);
  assert.ok(changes.some((e) => e.committed && e.committed.includes(ids[0])), "the committed edit is acknowledged");
  await waitFor(() => s.of("UPDATE").length === 2, 1000, "resend and re-issue");
  const sent = s.of("UPDATE").map((u) => u.payload);
  assert.deepEqual(sent.map((u) => u.patch), [{ z: 1 }, { m: 1 }]);
  assert.equal(sent[0].clientReqId, ids[3]);
  assert.ok(sent[1].clientReqId > ids[3], "the refused merge patch goes under a new id");
  assert.deepEqual(doc.value, { list: [1], z: 1, m: 1 });
  assert.equal(doc.pending.length, 2);
  c.close();
});

test("open refuses an invalid document id at once; validDocId says which are valid", async () => {
  const n = fakeNet();
  const c = newClient(n);
  for (const bad of ["todos:my groceries", "", "x".repeat(129), "émile", "a?b"]) {
    assert.throws(() => c.open(bad), (e) => e.code === "INVALID_ARGUMENT" && /invalid document id/.test(e.message), bad);
    assert.equal(mod.validDocId(bad), false, bad);
  }
  for (const good of ["todos:my-groceries", "team:7/notes", "a.b_c-d", "x".repeat(128)]) assert.equal(mod.validDocId(good), true, good);
  assert.equal(c.docs.size, 0);
  c.close();
});

test("reconnectNow: while offline, reconnects without waiting for the backoff", async () => {
  const n = fakeNet();
  const c = newClient(n, { backoff: { base: 60000, cap: 60000 } });
  await waitFor(() => n.sockets.length === 1, 1000, "socket");
  assert.equal(c.reconnectNow(), false, "not offline yet");
  n.last().serverClose(1006);
  assert.equal(c.status, "offline");
  assert.equal(c.reconnectNow(), true);
  assert.equal(n.sockets.length, 2, "a second socket at once");
  assert.equal(c.reconnectNow(), false, "connecting now, not offline");
  c.close();
});

test("at most MAX_IN_FLIGHT edits of a document in flight; each answer lets the next go", async () => {
  const n = fakeNet();
  const c = newClient(n);
  const { doc, s } = await joinedDoc(n, c);
  assert.equal(mod.MAX_IN_FLIGHT, 32);
  const ids = [];
  for (let i = 0; i < mod.MAX_IN_FLIGHT + 8; i++) ids.push(doc.update({ ["k" + i]: i }));
  await waitFor(() => s.of("UPDATE").length === mod.MAX_IN_FLIGHT, 1000, "the window's worth sent");
  await sleep(50);
  assert.equal(s.of("UPDATE").length, mod.MAX_IN_FLIGHT, "no more than the window");
  assert.equal(doc.pending.length, mod.MAX_IN_FLIGHT + 8);
  // The echo of the first frees one place.
  s.deliver("SYNC.DELTAS", { doc: "d", epoch: EPOCH, fromRev: 0, toRev: 1, operations: [{ rev: 1, type: "merge", payload: { k0: 0 }, clientId: CID, clientReqId: ids[0], ts: 1 }] });
  await waitFor(() => s.of("UPDATE").length === mod.MAX_IN_FLIGHT + 1, 1000, "the next one sent");
  assert.equal(s.of("UPDATE").at(-1).payload.clientReqId, ids[mod.MAX_IN_FLIGHT]);
  // A refusal frees one too.
  s.deliver("ERROR", { code: "INVALID_ARGUMENT", message: "no", details: { doc: "d", clientReqId: ids[1], serverRev: 1 }, retryable: false });
  await waitFor(() => s.of("UPDATE").length === mod.MAX_IN_FLIGHT + 2, 1000, "another one sent");
  c.close();
});

test("presence: full room after a JOIN answer, then changes", async () => {
  const n = fakeNet();
  const c = newClient(n);
  const doc = c.open("d", { presence: { name: "Ada" } });
  await waitFor(() => n.sockets.length === 1, 1000, "socket");
  const s = n.last();
  s.hello();
  const join = s.of("JOIN")[0];
  assert.deepEqual(join.payload.presence, { name: "Ada" });
  doc.room.set("STALE", 1);
  s.deliver("SYNC.SNAPSHOT", { doc: "d", epoch: EPOCH, rev: 0, state: {} }, { correlationId: join.meta.correlationId });
  s.deliver("PRESENCE", { doc: "d", clients: [{ clientId: "BOB", state: { name: "Bob" } }] });
  assert.deepEqual([...doc.room.keys()], ["BOB"]);
  s.deliver("PRESENCE", { doc: "d", clients: [{ clientId: CID, state: { name: "Ada" } }] });
  s.deliver("PRESENCE", { doc: "d", clients: [], left: ["BOB"] });
  assert.deepEqual([...doc.room.entries()], [[CID, { name: "Ada" }]]);
  c.close();
});

test("presence: a change of the old subscription, arriving before a re-JOIN's answer, is not taken for the full room (§6.4)", async () => {
  const n = fakeNet();
  const c = newClient(n);
  const { doc, s } = await joinedDoc(n, c, { rev: 3 });
  s.deliver("PRESENCE", { doc: "d", clients: [{ clientId: "BOB", state: { name: "Bob" } }] });
  // Out of step (a revision skipped): the client re-joins on this connection.
  s.deliver("SYNC.DELTAS", { doc: "d", epoch: EPOCH, fromRev: 5, toRev: 6, operations: [{ rev: 6, type: "merge", payload: { a: 1 }, ts: 1 }] });
  const rejoin = s.of("JOIN")[1];
  assert.ok(rejoin, "re-joined");
  // Live traffic of the old subscription, sent before the server handled
  // the JOIN: Carol joins the room, then leaves it again.
  s.deliver("PRESENCE", { doc: "d", clients: [{ clientId: "CAROL", state: { name: "Carol" } }] });
  // The answer, then the full room: only Bob.
  s.deliver("SYNC.DELTAS", { doc: "d", epoch: EPOCH, fromRev: 3, toRev: 6, operations: [{ rev: 6, type: "merge", payload: { a: 1 }, ts: 1, firstRev: 4 }] }, { correlationId: rejoin.meta.correlationId });
  s.deliver("PRESENCE", { doc: "d", clients: [{ clientId: "BOB", state: { name: "Bob" } }] });
  assert.deepEqual([...doc.room.keys()], ["BOB"], "Carol, who left, is not shown in the room");
  c.close();
});

test("heartbeat: __heartbeat when idle; a silent server is given up", async () => {
  const n = fakeNet();
  const c = newClient(n, { random: () => 0 });
  await waitFor(() => n.sockets.length === 1, 1000, "socket");
  n.last().hello({ heartbeatMs: 50, limits: { heartbeatTimeoutMs: 400 } });
  await waitFor(() => n.sockets[0].of("__heartbeat").length >= 2, 2000, "heartbeats");
  await waitFor(() => n.sockets.length === 2, 3000, "reconnect after silence");
  c.close();
});

test("the outbox: pending edits in localStorage under the clientId, restored by a new client", async () => {
  const n = fakeNet();
  const session = memStorage(), local = memStorage();
  const c = newClient(n, { sessionStorage: session, localStorage: local });
  const { doc } = await joinedDoc(n, c, { rev: 3 });
  const id = doc.update({ x: 1 });
  const saved = JSON.parse(local.getItem("syncd.outbox." + CID));
  assert.equal(saved.d.pending[0].clientReqId, id);
  assert.equal(saved.d.rev, 3);
  assert.equal(session.getItem("syncd.clientId"), CID);
  assert.equal(session.getItem("syncd.lastReqId"), id);
  c.close();
  const c2 = newClient(fakeNet(), { sessionStorage: session, localStorage: local, autoConnect: false });
  const d2 = c2.open("d");
  assert.deepEqual(d2.pending.map((p) => p.clientReqId), [id]);
  assert.deepEqual(d2.value, { x: 1 });
  assert.ok(d2.update({ y: 1 }) > id);
});

test("the outbox keeps the pending edits of a document named __proto__ (a valid id, §6.1) across a reload", async () => {
  const n = fakeNet();
  const session = memStorage(), local = memStorage();
  const c = newClient(n, { sessionStorage: session, localStorage: local });
  const doc = c.open("__proto__");
  await waitFor(() => n.sockets.length === 1, 1000, "socket");
  const s = n.last();
  s.hello();
  s.deliver("SYNC.SNAPSHOT", { doc: "__proto__", epoch: EPOCH, rev: 3, state: {} }, { correlationId: s.of("JOIN")[0].meta.correlationId });
  const id = doc.update({ x: 1 });
  c.close();
  const c2 = newClient(fakeNet(), { sessionStorage: session, localStorage: local, autoConnect: false });
  const d2 = c2.open("__proto__");
  assert.deepEqual(d2.pending.map((p) => p.clientReqId), [id], "the pending edit survives the reload");
  assert.deepEqual(d2.value, { x: 1 });
});

test("a duplicated tab (same sessionStorage copy) takes a fresh clientId; a reloaded one keeps its own", async () => {
  const session = memStorage();
  session.setItem("syncd.clientId", CID);
  const na = fakeNet();
  const a = newClient(na, { sessionStorage: session, detectDuplicateTab: true, tabCheckMs: 100 });
  await waitFor(() => na.sockets.length === 1, 2000, "A's socket");
  assert.equal(na.last().url.searchParams.get("clientId"), CID); // nobody else has it
  const copy = memStorage();
  for (const [k, v] of session.map) copy.setItem(k, v);
  const local = memStorage();
  local.setItem("syncd.outbox." + CID, JSON.stringify({ d: { epoch: EPOCH, rev: 1, confirmed: {}, pending: [{ clientReqId: "01JD3NB8W5C2K7R4M9X1T6Q3F0", patch: { x: 1 }, sent: true, attempts: 0, baseRev: 1, epoch: EPOCH }] } }));
  const nb = fakeNet();
  const b = newClient(nb, { sessionStorage: copy, localStorage: local, detectDuplicateTab: true, tabCheckMs: 100 });
  const db = b.open("d");
  assert.equal(db.pending.length, 1); // restored before the check answered...
  await waitFor(() => nb.sockets.length === 1, 2000, "B's socket");
  assert.equal(nb.last().url.searchParams.get("clientId"), null); // ...but B is a duplicate
  assert.equal(b.clientId, undefined);
  assert.equal(db.pending.length, 0, "the other tab's outbox is not B's");
  a.close();
  b.close();
  a._tabs.close();
  b._tabs.close();
});

test("a client closed in this tab does not claim its clientId from the next one (which would drop the outbox)", async () => {
  const session = memStorage(), local = memStorage();
  session.setItem("syncd.clientId", CID);
  const na = fakeNet();
  const a = newClient(na, { sessionStorage: session, localStorage: local, detectDuplicateTab: true, tabCheckMs: 100 });
  await waitFor(() => na.sockets.length === 1, 2000, "A's socket");
  na.last().hello();
  const id = a.open("d").update({ x: 1 }); // pending, in the outbox
  a.close();
  // The same tab starts over (a new token, say): same sessionStorage, same page.
  const nb = fakeNet();
  const b = newClient(nb, { sessionStorage: session, localStorage: local, detectDuplicateTab: true, tabCheckMs: 100 });
  const db = b.open("d");
  await waitFor(() => nb.sockets.length === 1, 2000, "B's socket");
  const kept = { clientId: b.clientId, pending: db.pending.map((p) => p.clientReqId) };
  b.close();
  a._tabs.close();
  b._tabs.close();
  assert.deepEqual(kept, { clientId: CID, pending: [id] }, "the tab's own id and pending edit are kept");
});

test("a JOIN refused for good is an answer too: the connection counts as established and the backoff is reset (§9.2 step 5)", async () => {
  const n = fakeNet();
  const c = newClient(n, { random: () => 0.999, backoff: { base: 5, cap: 10000 } });
  c.open("d");
  c.open("forbidden");
  const delays = [];
  c.on("status", (e) => e.status === "offline" && delays.push(e.retryInMs));
  for (let round = 0; round < 6; round++) {
    await waitFor(() => n.sockets.length === round + 1, 5000, "socket " + round);
    const s = n.last();
    s.hello();
    const [jd, jf] = s.of("JOIN");
    s.deliver("SYNC.SNAPSHOT", { doc: "d", epoch: EPOCH, rev: 0, state: {} }, { correlationId: jd.meta.correlationId });
    s.deliver("RPC_ERROR", { code: "PERMISSION_DENIED", message: "this token does not allow it", details: { doc: "forbidden" }, retryable: false }, { correlationId: jf.meta.correlationId });
    s.serverClose(1006); // a healthy connection, later lost
  }
  c.close();
  assert.ok(Math.max(...delays) < 10, `retryInMs after each established connection: ${delays}`);
});

test("sending stays within the announced rates, in order (§6.11)", async () => {
  const n = fakeNet();
  const c = newClient(n);
  const { doc, s } = await joinedDoc(n, c, { hello: { limits: { messagesPerSecond: 10, updatesPerSecond: 100 } } });
  const ids = [];
  for (let k = 0; k < 12; k++) ids.push(doc.update({ k }));
  // A burst of 8 (80% of 10/s, the JOIN took one), then about 8 a second.
  assert.equal(s.of("UPDATE").length, 7);
  await waitFor(() => s.of("UPDATE").length === 12, 3000, "the rest, paced");
  assert.deepEqual(s.of("UPDATE").map((u) => u.payload.clientReqId), ids);
  // Their echoes: nothing awaits an answer any more.
  s.deliver("SYNC.DELTAS", {
    doc: "d", epoch: EPOCH, fromRev: 0, toRev: 12,
    operations: ids.map((id, k) => ({ rev: k + 1, type: "merge", payload: { k }, clientId: CID, clientReqId: id, ts: 1 })),
  });
  assert.equal(doc.pending.length, 0);
  // The flood guard firing anyway pauses sending for retryAfterMs.
  s.deliver("ERROR", { code: "RESOURCE_EXHAUSTED", message: "rate", details: { messagesPerSecond: 10, burst: 20 }, retryable: true, retryAfterMs: 300 });
  const t0 = Date.now();
  doc.update({ after: true });
  assert.equal(s.of("UPDATE").length, 12);
  await waitFor(() => s.of("UPDATE").length === 13, 3000, "sent after the pause");
  assert.ok(Date.now() - t0 >= 250, `waited ${Date.now() - t0} ms`);
  c.close();
});

// The flood guard does not say which message it dropped: with an edit
// awaiting its echo, the client starts over on a new connection, whose JOIN
// answer settles the edit (here: committed, seen in the deltas).
test("a flood-guard ERROR with an edit awaiting its echo: reconnect and settle", async () => {
  const n = fakeNet();
  const c = newClient(n);
  const limits = { limits: { messagesPerSecond: 1000, updatesPerSecond: 1000 } };
  const j = await joinedDoc(n, c, { hello: limits });
  const doc = j.doc;
  let s = j.s;
  const id = doc.update({ a: 1 });
  assert.equal(s.of("UPDATE").length, 1);
  s.deliver("ERROR", { code: "RESOURCE_EXHAUSTED", message: "rate", details: { messagesPerSecond: 1000, burst: 2000 }, retryable: true, retryAfterMs: 10 });
  await waitFor(() => n.sockets.length === 2, 2000, "reconnect");
  s = n.last();
  s.hello(limits);
  await waitFor(() => s.of("JOIN").length === 1, 2000, "re-join");
  const join = s.of("JOIN")[0];
  assert.deepEqual(join.payload, { doc: "d", rev: 0, epoch: EPOCH });
  s.deliver("SYNC.DELTAS", {
    doc: "d", epoch: EPOCH, fromRev: 0, toRev: 1, ackedReqId: id,
    operations: [{ rev: 1, type: "merge", payload: { a: 1 }, clientId: CID, clientReqId: id, ts: 1 }],
  }, { correlationId: join.meta.correlationId });
  assert.equal(doc.pending.length, 0);
  assert.deepEqual(doc.value, { a: 1 });
  assert.equal(s.of("UPDATE").length, 0, "nothing resent");
  c.close();
});

test("syncd.d.ts declares every export of syncd.js", () => {
  const dts = readFileSync(new URL("../syncd.d.ts", import.meta.url), "utf8");
  for (const name of Object.keys(mod)) {
    assert.match(dts, new RegExp(`export declare (const|function|class) ${name}\\b`), name);
  }
});

test("attempt: every connection attempt carries an increasing value from the persisted source, across reconnects and a reload", async () => {
  const session = memStorage();
  const n = fakeNet();
  const c = newClient(n, { sessionStorage: session });
  await waitFor(() => n.sockets.length === 1, 1000, "socket");
  n.last().hello();
  n.last().serverClose(1006);
  await waitFor(() => n.sockets.length === 2, 1000, "reconnect");
  n.last().hello();
  n.last().serverClose(1013);
  await waitFor(() => n.sockets.length === 3, 1000, "reconnect again");
  n.last().hello();
  c.close();
  // A reload: a new client on the same sessionStorage.
  const c2 = newClient(n, { sessionStorage: session });
  await waitFor(() => n.sockets.length === 4, 1000, "socket after the reload");
  assert.equal(n.last().url.searchParams.get("clientId"), CID);
  c2.close();
  const attempts = n.sockets.map((s) => s.url.searchParams.get("attempt"));
  for (let i = 0; i < attempts.length; i++) {
    assert.match(attempts[i] ?? "", /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/, `attempt ${i} is a ULID`);
    if (i > 0) assert.ok(attempts[i] > attempts[i - 1], `attempt ${i} (${attempts[i]}) > attempt ${i - 1} (${attempts[i - 1]})`);
  }
  assert.ok(session.getItem("syncd.lastReqId") >= attempts[3], "the source is persisted");
});

test("authorId: own operations are recognised by HELLO.authorId, not by the clientId", async () => {
  const AUTHOR = "3B74RGSW7P5PD3MN9S7431PQJA";
  const n = fakeNet();
  const c = newClient(n);
  const { doc, s } = await joinedDoc(n, c, { hello: { authorId: AUTHOR } });
  assert.equal(c.authorId, AUTHOR);
  doc.update({ a: 1 });
  doc.update({ b: 1 });
  const [u1, u2] = s.of("UPDATE").map((u) => u.payload.clientReqId);
  // An operation carrying the clientId itself is someone else's (it cannot
  // be ours: the server shows our author id), so u1 stays pending.
  s.deliver("SYNC.DELTAS", { doc: "d", epoch: EPOCH, fromRev: 0, toRev: 1, operations: [{ rev: 1, type: "merge", payload: { a: 1 }, clientId: CID, clientReqId: u1, ts: 1 }] });
  assert.equal(doc.pending.length, 2);
  s.deliver("SYNC.DELTAS", { doc: "d", epoch: EPOCH, fromRev: 1, toRev: 2, operations: [{ rev: 2, type: "merge", payload: { b: 1 }, clientId: AUTHOR, clientReqId: u2, ts: 1 }] });
  assert.deepEqual(doc.pending.map((p) => p.clientReqId), [u1]);
  c.close();
});

// --- review h15 -------------------------------------------------------------

test("the outbox keeps the pending edits of a document not opened yet after a reload (it is not overwritten)", async () => {
  const session = memStorage(), local = memStorage();
  session.setItem("syncd.clientId", CID);
  const pendingOf = (id, x) => ({ epoch: EPOCH, rev: 1, confirmed: {}, pending: [{ clientReqId: id, patch: { x }, sent: true, attempts: 0, baseRev: 1, epoch: EPOCH, seq: 1 }] });
  const A = "01JD3NB8W5C2K7R4M9X1T6Q3F0", B = "01JD3NB8W5C2K7R4M9X1T6Q3F1";
  local.setItem("syncd.outbox." + CID, JSON.stringify({ a: pendingOf(A, 1), b: pendingOf(B, 2) }));
  // After the reload the application opens "a" first, edits it, and opens "b" later.
  const c = newClient(fakeNet(), { sessionStorage: session, localStorage: local, autoConnect: false });
  c.open("a").update({ y: 1 });
  const db = c.open("b");
  assert.deepEqual(db.pending.map((p) => p.clientReqId), [B], "b's pending edit survives a's edit");
});

test("a duplicated tab does not write the other tab's outbox while it checks whether the id is taken", async () => {
  const session = memStorage(), local = memStorage();
  session.setItem("syncd.clientId", CID);
  const na = fakeNet();
  const a = newClient(na, { sessionStorage: session, localStorage: local, detectDuplicateTab: true, tabCheckMs: 100 });
  await waitFor(() => na.sockets.length === 1, 2000, "A's socket");
  na.last().hello();
  const da = a.open("d");
  const e0 = da.update({ x: 0 });
  // The tab is duplicated: B starts with a copy of A's sessionStorage.
  const copy = memStorage();
  for (const [k, v] of session.map) copy.setItem(k, v);
  const b = newClient(fakeNet(), { sessionStorage: copy, localStorage: local, detectDuplicateTab: true, tabCheckMs: 100 });
  b.open("d");
  const e1 = da.update({ x: 1 }); // A goes on editing
  b.open("e").update({ z: 1 }); // B edits during its check: it must not touch A's outbox
  await waitFor(() => b.clientId === undefined, 2000, "B to learn it is a duplicate");
  a.close();
  b.close();
  a._tabs.close();
  b._tabs.close();
  // A reloads: its outbox must hold its own edits, and nothing of B.
  const a2 = newClient(fakeNet(), { sessionStorage: session, localStorage: local, autoConnect: false });
  assert.deepEqual(a2.open("d").pending.map((p) => p.clientReqId), [e0, e1], "A's edits survive");
  assert.deepEqual(a2.open("e").pending, [], "B's edit is not A's");
});

test("close() leaves no timer running: a held retry of a refused edit is cancelled", async () => {
  const n = fakeNet();
  const c = newClient(n);
  const { doc, s } = await joinedDoc(n, c);
  const id = doc.update({ a: 1 });
  s.deliver("ERROR", { code: "ABORTED", message: "conflict", details: { doc: "d", clientReqId: id, serverRev: 0 }, retryable: true, retryAfterMs: 60000 });
  assert.equal(doc.pending.length, 1, "re-issued, held for retryAfterMs");
  const before = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
  c.close();
  const after = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
  assert.equal(c._editTimers.size, 0, "no edit timer left");
  assert.ok(after < before, `timers before close ${before}, after ${after}`);
});

test("connect(), close(), connect() (as a React StrictMode effect does) opens one socket, and closes every socket it opened", async () => {
  const n = fakeNet();
  const c = newClient(n, { autoConnect: false });
  c.connect();
  c.close();
  c.connect();
  await sleep(50);
  const live = n.sockets.filter((s) => s.readyState !== 3);
  assert.equal(live.length, 1, `${n.sockets.length} sockets opened, ${live.length} left open`);
  c.close();
});

test("a topic whose SUBSCRIBE was refused for good is not subscribed again on every reconnect", async () => {
  const n = fakeNet();
  const c = newClient(n);
  await waitFor(() => n.sockets.length === 1, 1000, "socket");
  let s = n.last();
  s.hello();
  const p = c.subscribe("forbidden").catch((e) => e);
  const sub = s.of("SUBSCRIBE")[0];
  s.deliver("RPC_ERROR", { code: "PERMISSION_DENIED", message: "no topics claim", details: { topic: "forbidden" }, retryable: false }, { correlationId: sub.meta.correlationId });
  assert.equal((await p).code, "PERMISSION_DENIED");
  s.serverClose(1006);
  await waitFor(() => n.sockets.length === 2, 2000, "reconnect");
  s = n.last();
  s.hello();
  assert.deepEqual(s.of("SUBSCRIBE").map((m) => m.payload.topic), [], "the refused topic is not sent again");
  assert.equal(c.topics.has("forbidden"), false);
  c.close();
});

test("status: a document opened while open is not caught up, so the status leaves open until its JOIN answer", async () => {
  const n = fakeNet();
  const c = newClient(n);
  const { s } = await joinedDoc(n, c);
  assert.equal(c.status, "open");
  c.open("e");
  const statusWhileJoining = c.status;
  s.deliver("SYNC.SNAPSHOT", { doc: "e", epoch: EPOCH, rev: 0, state: {} }, { correlationId: s.of("JOIN")[1].meta.correlationId });
  c.close();
  assert.equal(statusWhileJoining, "connected", "open means every document caught up (README)");
});

test("presence set while the JOIN is in flight (open, then setPresence at once) is sent after the JOIN answer", async () => {
  const n = fakeNet();
  const c = newClient(n);
  await waitFor(() => n.sockets.length === 1, 1000, "socket");
  const s = n.last();
  s.hello();
  const doc = c.open("d"); // connected: the JOIN goes now, without presence
  await doc.setPresence({ name: "Ada" }); // resolves at once: "sent with the next JOIN"
  const join = s.of("JOIN")[0];
  assert.equal(join.payload.presence, undefined);
  s.deliver("SYNC.SNAPSHOT", { doc: "d", epoch: EPOCH, rev: 0, state: {} }, { correlationId: join.meta.correlationId });
  await sleep(20);
  const sets = s.of("PRESENCE.SET").map((m) => m.payload);
  c.close();
  assert.deepEqual(sets, [{ doc: "d", state: { name: "Ada" } }], "the room learns the presence without waiting for a reconnect");
});

test("an edit made while a refused one waits out its backoff is not overwritten by it: a title typed a, ab still ends as ab (§9.6 step 6)", async () => {
  const n = fakeNet();
  const c = newClient(n);
  const { doc, s } = await joinedDoc(n, c, { rev: 4, state: {} });
  const a = doc.update({ title: "a" });
  s.deliver("ERROR", { code: "UNAVAILABLE", message: "store", details: { doc: "d", clientReqId: a, serverRev: 4 }, retryable: true, retryAfterMs: 1 });
  // Re-issued, held for its backoff (100 ms). Meanwhile the user types on.
  const ab = doc.update({ title: "ab" });
  assert.deepEqual(doc.value, { title: "ab" }, "the view shows the last edit");
  const sent = s.of("UPDATE").map((u) => u.payload.clientReqId);
  if (sent.includes(ab)) s.deliver("SYNC.DELTAS", { doc: "d", epoch: EPOCH, fromRev: 4, toRev: 5, operations: [{ rev: 5, type: "merge", payload: { title: "ab" }, clientId: CID, clientReqId: ab, ts: 1 }] });
  const viewAfterEcho = doc.value;
  await sleep(300); // the held re-issue's backoff is over
  const later = s.of("UPDATE").slice(1).map((u) => u.payload.patch);
  c.close();
  assert.deepEqual(viewAfterEcho, { title: "ab" }, "the echo of ab does not bring a back");
  assert.ok(!later.some((p) => p.title === "a"), `sent after the refusal: ${JSON.stringify(later)}`);
});

test("a presence given to open() (or set before HELLO) over maxPresenceBytes does not keep the document from ever being joined (§4.4)", async () => {
  const n = fakeNet();
  const c = newClient(n);
  const errors = [];
  c.on("error", (e) => errors.push(e));
  const doc = c.open("d", { presence: { name: "Ada", bio: "x".repeat(200) } });
  const hello = { limits: { maxMessageBytes: 1 << 20, maxPresenceBytes: 100 } };
  for (let round = 0; round < 2; round++) {
    await waitFor(() => n.sockets.length === round + 1, 2000, "socket " + round);
    const s = n.last();
    s.hello(hello);
    const join = s.of("JOIN")[0];
    if (join.payload.presence !== undefined) {
      // What syncd answers (§4.4: a value over the size refuses the JOIN).
      s.deliver("RPC_ERROR", { code: "INVALID_ARGUMENT", message: "presence too large", details: { doc: "d", limit: 100 }, retryable: false }, { correlationId: join.meta.correlationId });
    } else {
      s.deliver("SYNC.SNAPSHOT", { doc: "d", epoch: EPOCH, rev: 0, state: {} }, { correlationId: join.meta.correlationId });
    }
    if (round === 0) s.serverClose(1006);
  }
  const joined = doc._joined;
  c.close();
  assert.equal(joined, true, "joined on the next connection at the latest, without the refused presence");
  assert.ok(errors.length > 0, "the application is told about its presence");
});

test("several URLs: an attempt that never gets HELLO times out and the next endpoint is tried (§9.3: refused, dropped before HELLO, timed out)", async () => {
  const n = fakeNet();
  const c = newClient(n, { url: "ws://a.invalid/ws", urls: ["ws://b.invalid/ws"], requestTimeoutMs: 200 });
  await waitFor(() => n.sockets.length === 1, 1000, "the first attempt");
  assert.equal(n.sockets[0].url.host, "a.invalid");
  // a.invalid accepted the socket and says nothing (an instance stuck on its store, a black hole).
  let moved = false;
  try {
    await waitFor(() => n.sockets.some((s) => s.url.host === "b.invalid"), 3000, "an attempt at the next endpoint");
    moved = true;
  } catch (_) {
    /* stuck */
  }
  const first = n.sockets[0].readyState;
  c.close();
  assert.ok(moved, "the client waits forever for a HELLO that does not come");
  assert.equal(first, 3, "the silent attempt is closed");
});
