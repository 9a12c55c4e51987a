// Unit tests of the client's reconciliation logic, with no server: patches,
// request ids, rebase of pending edits, acknowledgement, rollback, the
// ackedReqId rules of PROTOCOL.md §6.8, and the reconnect policy.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import {
  applyJsonPatch, applyMergePatch, applyPatch, applyOperation, PatchError, createUlid,
  compareReqIds, DocState, closeAction, reconnectDelay, Emitter, deepEqual, tokenExp,
  endpoints, nextEndpoint,
} from "../syncd.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const suite = JSON.parse(readFileSync(path.join(here, "../../../testdata/json-patch-tests/tests.json"), "utf8"));

test("JSON Patch: the json-patch-tests suite", () => {
  let ran = 0;
  for (const r of suite) {
    if (r.disabled) continue;
    const name = r.comment || JSON.stringify(r.patch);
    if ("expected" in r) {
      assert.deepEqual(applyJsonPatch(r.doc, r.patch), r.expected, name);
      ran++;
    } else if ("error" in r) {
      assert.throws(() => applyJsonPatch(r.doc, r.patch), PatchError, name);
      ran++;
    }
  }
  assert.ok(ran > 80, `ran ${ran} records`);
});

test("JSON Patch is atomic and leaves its input alone", () => {
  const doc = { a: 1, list: [1, 2] };
  assert.throws(() => applyJsonPatch(doc, [{ op: "add", path: "/b", value: 2 }, { op: "test", path: "/a", value: 9 }]),
    (e) => e.code === "FAILED_PRECONDITION");
  assert.deepEqual(doc, { a: 1, list: [1, 2] });
  assert.deepEqual(applyJsonPatch(doc, [{ op: "add", path: "/list/-", value: 3 }]), { a: 1, list: [1, 2, 3] });
  assert.deepEqual(doc.list, [1, 2]);
  assert.throws(() => applyJsonPatch(doc, [{ op: "remove", path: "" }]), (e) => e.code === "INVALID_ARGUMENT");
  assert.throws(() => applyJsonPatch(doc, [{ op: "frob", path: "/a" }]), (e) => e.code === "INVALID_ARGUMENT");
  assert.throws(() => applyJsonPatch(doc, [{ op: "remove", path: "/zz" }]), (e) => e.code === "FAILED_PRECONDITION");
});

test("JSON Patch refusals carry the server's code", () => {
  const doc = { a: 1, list: [1, 2] };
  // A malformed operation anywhere in the patch is INVALID_ARGUMENT, even
  // after one that fails on the document: the server checks the whole patch
  // before applying any of it.
  assert.throws(() => applyJsonPatch(doc, [{ op: "remove", path: "/zz" }, { op: "remove", path: "" }]), (e) => e.code === "INVALID_ARGUMENT");
  assert.throws(() => applyJsonPatch(doc, [{ op: "test", path: "/a", value: 2 }, { op: "frob", path: "/a" }]), (e) => e.code === "INVALID_ARGUMENT");
  assert.throws(() => applyJsonPatch(doc, [{ op: "remove", path: "/zz" }, { op: "move", from: "/a", path: "/a/b" }]), (e) => e.code === "INVALID_ARGUMENT");
  // A token that is no array index names no element: a missing path.
  for (const tok of ["01", "x", "-1", "1e0"]) {
    assert.throws(() => applyJsonPatch(doc, [{ op: "test", path: "/list/" + tok, value: 1 }]), (e) => e.code === "FAILED_PRECONDITION", tok);
  }
});

test("Merge Patch (RFC 7396) and the object-root rule", () => {
  assert.deepEqual(applyMergePatch({ a: "b", c: { d: "e", f: "g" } }, { a: "z", c: { f: null } }), { a: "z", c: { d: "e" } });
  assert.deepEqual(applyMergePatch({ a: [1] }, { a: { b: 1 } }), { a: { b: 1 } });
  assert.deepEqual(applyMergePatch({ a: 1 }, {}), { a: 1 });
  assert.throws(() => applyPatch({}, [{ op: "replace", path: "", value: [1] }]), (e) => e.code === "INVALID_ARGUMENT");
  assert.throws(() => applyPatch({}, "x"), (e) => e.code === "INVALID_ARGUMENT");
  assert.deepEqual(applyOperation({ a: 1 }, { type: "merge", payload: { b: 2 } }), { a: 1, b: 2 });
  assert.deepEqual(applyOperation({ a: 1 }, { type: "patch", payload: [{ op: "remove", path: "/a" }] }), {});
});

test("a member named __proto__ is a member like any other, as on the server (§6.2)", () => {
  // The server (Go) adds it as a member; a client that sets it by
  // assignment changes the object's prototype instead and loses it, so its
  // state is no longer the server's.
  const text = (v) => JSON.stringify(v);
  assert.equal(text(applyPatch({}, JSON.parse('{"__proto__":{"x":1}}'))), '{"__proto__":{"x":1}}', "merge patch");
  assert.equal(text(applyPatch({}, [{ op: "add", path: "/__proto__", value: { x: 1 } }])), '{"__proto__":{"x":1}}', "JSON Patch add");
  assert.equal(text(applyPatch({ a: 5 }, [{ op: "move", from: "/a", path: "/__proto__" }])), '{"__proto__":5}', "JSON Patch move");
  // A merge patch re-issued after a later edit keeps it too.
  const st = new DocState("d", { epoch: "E", rev: 4, confirmed: {}, pending: [] });
  const first = st.addLocal("R1", JSON.parse('{"__proto__":{"x":1},"t":"a"}'));
  st.addLocal("R2", { t: "ab" });
  assert.equal(text(st.supersede(first)), '{"__proto__":{"x":1}}', "supersede");
  // ...and a later operation on it applies, instead of failing (which
  // sends the client re-joining, forever, when the answer is deltas).
  const s = applyOperation({}, { type: "merge", payload: JSON.parse('{"__proto__":{"x":1}}') });
  assert.equal(text(applyOperation(s, { type: "patch", payload: [{ op: "replace", path: "/__proto__/x", value: 2 }] })), '{"__proto__":{"x":2}}');
});

test("deepEqual ignores key order", () => {
  assert.ok(deepEqual({ a: 1, b: [1, { c: 2, d: 3 }] }, { b: [1, { d: 3, c: 2 }], a: 1 }));
  assert.ok(!deepEqual({ a: 1 }, { a: 1, b: undefined }));
  assert.ok(!deepEqual([1], { 0: 1 }));
});

test("request ids: §6.7 order", () => {
  assert.ok(compareReqIds("req-9", "req-10") < 0);
  assert.ok(compareReqIds("b", "a") > 0);
  assert.equal(compareReqIds("01ABC", "01ABC"), 0);
});

test("ULIDs: monotonic within a millisecond, across a backwards clock and a reload", () => {
  let t = 1730450000000;
  const next = createUlid({ now: () => t });
  const ids = [];
  for (let i = 0; i < 2000; i++) ids.push(next()); // all in one millisecond
  t -= 60000; // the clock steps back a minute
  for (let i = 0; i < 100; i++) ids.push(next());
  t += 120000;
  ids.push(next());
  for (let i = 1; i < ids.length; i++) assert.ok(compareReqIds(ids[i - 1], ids[i]) < 0, `${ids[i - 1]} < ${ids[i]}`);
  for (const id of ids) assert.match(id, /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/);
  // Reload: a new source seeded with the persisted last id and an old clock.
  const reloaded = createUlid({ now: () => 1, last: ids[ids.length - 1] });
  assert.ok(compareReqIds(reloaded(), ids[ids.length - 1]) > 0);
  // The carry runs across the random part.
  const carry = createUlid({ now: () => 0, random: (n) => new Uint8Array(n).fill(31) });
  const a = carry(), b = carry();
  assert.equal(a, "0000000000ZZZZZZZZZZZZZZZZ");
  assert.equal(b, "00000000010000000000000000"); // 80 random bits full: the carry reaches the time
});

// A document at (E, 4) with the client "ME"; ops build SYNC.DELTAS.
const E = "01JD3KZ9X4B7N2Q5T8W1Y3C6F0";
const op = (rev, payload, clientId, clientReqId) => ({ rev, type: Array.isArray(payload) ? "patch" : "merge", payload, clientId, clientReqId, ts: 1 });
const deltas = (fromRev, operations, extra) => ({ doc: "d", epoch: E, fromRev, toRev: fromRev + operations.length, operations, ...extra });
function docAt4() {
  return new DocState("d", { epoch: E, rev: 4, confirmed: { title: "t", items: ["a"] }, pending: [] });
}

test("rebase: pending edits are re-applied over remote operations", () => {
  const s = docAt4();
  const e1 = s.addLocal("R1", [{ op: "add", path: "/items/-", value: "mine" }]);
  s.markSent(e1);
  assert.equal(e1.baseRev, 4);
  assert.equal(e1.epoch, E);
  assert.deepEqual(s.view.items, ["a", "mine"]);
  const r = s.applyDeltas(deltas(4, [op(5, [{ op: "add", path: "/items/0", value: "theirs" }], "OTHER", "X1"), op(6, { title: "T" }, "OTHER", "X2")]), "ME");
  assert.equal(r.rejoin, false);
  assert.equal(s.rev, 6);
  assert.deepEqual(s.confirmed, { title: "T", items: ["theirs", "a"] });
  assert.deepEqual(s.view, { title: "T", items: ["theirs", "a", "mine"] });
  assert.equal(s.pending.length, 1);
});

test("ack: the echo with our clientId and clientReqId commits the edit", () => {
  const s = docAt4();
  const e1 = s.addLocal("R1", { title: "x" });
  const e2 = s.addLocal("R2", { extra: 1 });
  s.markSent(e1);
  s.markSent(e2);
  // Another client using the same request id is not our ack.
  let r = s.applyDeltas(deltas(4, [op(5, { title: "x" }, "OTHER", "R1")]), "ME");
  assert.deepEqual(r.committed, []);
  r = s.applyDeltas(deltas(5, [op(6, { title: "x" }, "ME", "R1")]), "ME");
  assert.deepEqual(r.committed.map((e) => e.clientReqId), ["R1"]);
  assert.deepEqual(s.pending.map((e) => e.clientReqId), ["R2"]);
  assert.deepEqual(s.view, { title: "x", items: ["a"], extra: 1 });
  // Duplicates at or below rev are skipped; a skipped revision asks for a re-join.
  r = s.applyDeltas(deltas(5, [op(6, { title: "dup" }, "OTHER", "Z")]), "ME");
  assert.equal(s.confirmed.title, "x");
  assert.equal(s.applyDeltas(deltas(8, [op(9, {}, "O", "Z")]), "ME").rejoin, true);
  assert.equal(s.applyDeltas({ ...deltas(6, [op(7, {}, "O", "Z")]), epoch: "OTHEREPOCH" }, "ME").rejoin, true);
});

test("compacted catch-up: a combined operation covers firstRev … rev; pending edits rebase over it", () => {
  const s = docAt4();
  const e1 = s.addLocal("R1", [{ op: "add", path: "/items/-", value: "mine" }]);
  const e2 = s.addLocal("R2", { extra: 1 });
  s.markSent(e1);
  s.markSent(e2);
  // Others' 5 … 7 combined, our R1 as committed at 8, others' 9 … 10 combined.
  const m = {
    doc: "d",
    epoch: E,
    fromRev: 4,
    toRev: 10,
    operations: [
      { rev: 7, firstRev: 5, type: "merge", payload: { title: "T", other: { x: 1 } }, ts: 1 },
      op(8, [{ op: "add", path: "/items/-", value: "mine" }], "ME", "R1"),
      { rev: 10, firstRev: 9, type: "patch", payload: [{ op: "add", path: "/items/0", value: "theirs" }, { op: "remove", path: "/other" }], ts: 2 },
    ],
    ackedReqId: "R1",
  };
  const r = s.applyDeltas(m, "ME");
  assert.equal(r.rejoin, false);
  assert.equal(s.rev, 10);
  assert.deepEqual(r.committed.map((e) => e.clientReqId), ["R1"]);
  assert.deepEqual(s.confirmed, { title: "T", items: ["theirs", "a", "mine"] });
  assert.deepEqual(s.view, { title: "T", items: ["theirs", "a", "mine"], extra: 1 });
  assert.deepEqual(s.pending.map((e) => e.clientReqId), ["R2"]);
  // Part of a combined operation already applied cannot be separated: re-join.
  assert.equal(s.applyDeltas({ doc: "d", epoch: E, fromRev: 10, toRev: 12, operations: [{ rev: 12, firstRev: 10, type: "merge", payload: {}, ts: 3 }] }, "ME").rejoin, true);
  assert.equal(s.rev, 10);
});

test("rollback: removing a refused edit restores the view; a pending edit that no longer applies stays pending", () => {
  const s = docAt4();
  const e1 = s.addLocal("R1", [{ op: "test", path: "/title", value: "t" }, { op: "replace", path: "/title", value: "mine" }]);
  s.markSent(e1);
  assert.equal(s.view.title, "mine");
  s.applyDeltas(deltas(4, [op(5, { title: "theirs" }, "OTHER", "X")]), "ME");
  assert.equal(s.view.title, "theirs"); // the test fails locally now: not shown
  assert.equal(s.pending.length, 1); // but stays until the server refuses it
  assert.equal(s.remove("R1").clientReqId, "R1");
  assert.deepEqual(s.view, { title: "theirs", items: ["a"] });
  assert.equal(s.remove("R1"), undefined);
});

test("settle after a JOIN answered with deltas (§6.8 steps 1–3)", () => {
  const s = docAt4();
  for (const id of ["F0", "F1", "F2"]) s.markSent(s.addLocal(id, { [id]: true }));
  s.addLocal("F3", { F3: true }); // made offline, never sent
  // F0 committed as 6; W = F1: F1 was refused (lost); F2 never decided.
  s.applyDeltas(deltas(4, [op(5, { title: "Sat" }, "BOB", "B1"), op(6, { F0: true }, "ME", "F0")]), "ME");
  const r = s.settle("F1", { snapshot: false });
  assert.deepEqual(r.lost.map((e) => e.clientReqId), ["F1"]);
  assert.deepEqual(r.resend.map((e) => e.clientReqId), ["F2"]);
  assert.deepEqual(r.fresh.map((e) => e.clientReqId), ["F3"]);
  assert.deepEqual(r.unknown, []);
  // A resend keeps its baseRev and epoch; a fresh edit gets them at send time.
  assert.equal(r.resend[0].baseRev, 4);
  s.markSent(r.fresh[0]);
  assert.equal(r.fresh[0].baseRev, 6);
});

test("settle without ackedReqId: nothing was decided, everything is resent", () => {
  const s = docAt4();
  s.markSent(s.addLocal("F0", { a: 1 }));
  const r = s.settle(undefined, { snapshot: true });
  assert.deepEqual(r.resend.map((e) => e.clientReqId), ["F0"]);
});

test("settle after a snapshot (§6.8 step 4) and a new epoch (step 5)", () => {
  const s = docAt4();
  s.markSent(s.addLocal("F0", { a: 1 }));
  s.markSent(s.addLocal("F1", [{ op: "add", path: "/items/-", value: "x" }]));
  s.markSent(s.addLocal("F2", { c: 3 }));
  let changed = s.applySnapshot({ doc: "d", epoch: E, rev: 90, state: { title: "new", items: [] } });
  assert.equal(changed, false);
  assert.deepEqual(s.view, { title: "new", items: ["x"], a: 1, c: 3 }); // pending re-applied on the snapshot
  let r = s.settle("F1", { snapshot: true });
  assert.deepEqual(r.unknown.map((e) => e.clientReqId), ["F0", "F1"]);
  assert.deepEqual(r.resend.map((e) => e.clientReqId), ["F2"]);
  changed = s.applySnapshot({ doc: "d", epoch: "01JD4R2D5G8K1N4Q7T0W3Z6B9E", rev: 0, state: {} });
  assert.equal(changed, true);
  r = s.settle(undefined, { snapshot: true, epochChanged: true });
  assert.deepEqual(r.unknown.map((e) => e.clientReqId), ["F0", "F1", "F2"]);
});

test("the outbox form round-trips", () => {
  const s = docAt4();
  s.markSent(s.addLocal("F0", { a: 1 }));
  const back = new DocState("d", JSON.parse(JSON.stringify(s.save())));
  assert.deepEqual(back.view, s.view);
  assert.equal(back.pending[0].baseRev, 4);
  assert.equal(back.rev, 4);
});

test("close codes (§8) and backoff with full jitter (§9.3)", () => {
  for (const c of [1000, 1002, 1003, 1007, 1008, 4401, 4403, 4409]) assert.equal(closeAction(c), "stop", String(c));
  for (const c of [4408, 4503]) assert.equal(closeAction(c), "now");
  for (const c of [1001, 1005, 1006, 1009, 1011, 1012, 1013, 4429, 4999]) assert.equal(closeAction(c), "backoff", String(c));
  const max = () => 0.999999;
  assert.equal(reconnectDelay(1006, 0, { random: max }), 499);
  assert.equal(reconnectDelay(1006, 3, { random: max }), 3999);
  assert.equal(reconnectDelay(1006, 20, { random: max }), 29999); // capped
  assert.equal(reconnectDelay(1006, 5, { random: () => 0 }), 0); // full jitter reaches 0
  assert.equal(reconnectDelay(4429, 0, { random: () => 0 }), 5000);
  assert.ok(reconnectDelay(4408, 10, { random: max }) < 1000);
});

test("several endpoints (§9.3): url first, each once; which one is tried next", () => {
  assert.deepEqual(endpoints({ url: "ws://a/ws", urls: ["ws://b/ws", "ws://a/ws", "", "ws://c/ws"] }), ["ws://a/ws", "ws://b/ws", "ws://c/ws"]);
  assert.deepEqual(endpoints({ urls: ["ws://b/ws"] }), ["ws://b/ws"]);
  assert.deepEqual(endpoints({}), []);
  // After an established connection to 1 of 3: closes about the client stay.
  for (const code of [1009, 4401, 4408, 4429, 4503]) assert.equal(nextEndpoint({ n: 3, good: 1, tried: 1, hadHello: true, code }), 1, String(code));
  // A drop, a shutdown, an overloaded server, an unknown code: the next one.
  for (const code of [1001, 1005, 1006, 1011, 1012, 1013, 4999]) assert.equal(nextEndpoint({ n: 3, good: 1, tried: 1, hadHello: true, code }), 2, String(code));
  assert.equal(nextEndpoint({ n: 3, good: 2, tried: 2, hadHello: true, code: 1006 }), 0, "wraps around");
  // A failed attempt moves on from the one tried, whatever worked before.
  assert.equal(nextEndpoint({ n: 3, good: 0, tried: 2, hadHello: false, code: 1006 }), 0);
  assert.equal(nextEndpoint({ n: 3, good: 0, tried: 0, hadHello: false, code: 1006 }), 1);
  assert.equal(nextEndpoint({ n: 1, good: 0, tried: 0, hadHello: true, code: 1006 }), 0, "one endpoint");
});

test("emitter: listeners, unsubscribe, a failing listener does not stop others", () => {
  const e = new Emitter();
  const got = [];
  const off = e.on("x", (v) => got.push(v));
  const origError = console.error;
  console.error = () => {};
  try {
    e.on("x", () => { throw new Error("boom"); });
    e.on("x", (v) => got.push(v * 10));
    e.emit("x", 1);
    off();
    e.emit("x", 2);
  } finally {
    console.error = origError;
  }
  assert.deepEqual(got, [1, 10, 20]);
});

test("tokenExp reads a JWT's exp without verifying it", () => {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  assert.equal(tokenExp(b64({ alg: "HS256" }) + "." + b64({ sub: "a", exp: 1730456600 }) + ".sig"), 1730456600);
  assert.equal(tokenExp(b64({ alg: "HS256" }) + "." + b64({ sub: "a" }) + ".sig"), undefined);
  // base64url needing padding, with - and _ in it
  assert.equal(tokenExp("x." + b64({ s: "??>>", exp: 7 }) + ".y"), 7);
  for (const bad of [undefined, "", "a.b", "a.!!!.c", "a." + b64("str") + ".c"]) assert.equal(tokenExp(bad), undefined);
});

test("settle with outcomes: an id between the oldest outcome and the watermark that is not among them was never decided (§6.8 step 4)", () => {
  const s = new DocState("d");
  s.epoch = "E";
  s.rev = 3;
  for (const id of ["r-1", "r-2", "r-3", "r-5"]) {
    const e = s.addLocal(id, { [id]: 1 });
    s.markSent(e);
  }
  const outcomes = [{ clientReqId: "r-2", rev: 7 }, { clientReqId: "r-4", code: "ABORTED" }];
  const r = s.settle("r-4", { snapshot: true, outcomes });
  const ids = (l) => l.map((e) => e.clientReqId);
  assert.deepEqual(ids(r.committed), ["r-2"]);
  assert.deepEqual(ids(r.lost), ["r-3"], "skipped over: re-issue, its outcome is known (never applied)");
  assert.deepEqual(ids(r.unknown), ["r-1"], "older than every outcome: unknown behind a snapshot");
  assert.deepEqual(ids(r.resend), ["r-5"]);
  assert.deepEqual(ids(s.pending), ["r-1", "r-3", "r-5"], "the committed edit left the queue");
});

test("supersede: a merge patch to re-issue loses what this client's later edits set again", () => {
  const s = docAt4();
  const first = s.addLocal("R1", { title: "a", x: 1, nested: { a: 1, b: 2 } });
  s.addLocal("R2", { title: "ab", nested: { a: 3 } });
  assert.deepEqual(s.supersede(first), { x: 1, nested: { b: 2 } });
  s.addLocal("R3", [{ op: "remove", path: "/x" }, { op: "replace", path: "/nested", value: {} }]);
  assert.equal(s.supersede(first), undefined, "nothing left");
  // An edit loses nothing to an earlier one, only to later ones.
  assert.deepEqual(s.supersede(s.pending[1]), { title: "ab" }, "R3 replaced nested after R2");
  // A JSON Patch is re-issued as it is.
  assert.deepEqual(s.supersede(s.pending[2]), s.pending[2].patch);
});

test("supersede: acknowledged later edits count too", () => {
  const s = docAt4();
  const first = s.addLocal("R1", { title: "a", y: 2 });
  s.markSent(first);
  const second = s.addLocal("R2", { title: "ab" });
  s.markSent(second);
  s.applyDeltas(deltas(4, [op(5, { title: "ab" }, "ME", "R2")]), "ME");
  assert.equal(s.pending.length, 1);
  assert.deepEqual(s.supersede(first), { y: 2 });
});
