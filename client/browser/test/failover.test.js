// The browser client with several server URLs (PROTOCOL.md §9.3, "Several
// servers"), against real syncd processes built from this repository: it
// skips a dead endpoint, and when its server is killed it fails over to the
// other URL, where the server comes back on the same data, and resumes with
// deltas, every edit applied exactly once.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { SyncClient } from "../syncd.js";
import { buildSyncd, startSyncd, freePort, makeNet, memStorage, waitFor, sleep, api } from "../testlib/harness.js";

let build;
before(async () => {
  build = await buildSyncd();
});
after(() => {
  if (build) rmSync(build.dir, { recursive: true, force: true });
});

test("several URLs: a dead one is skipped; a killed server is left for the other URL, where the client resumes exactly once", async (t) => {
  const stops = [];
  t.after(async () => {
    for (const fn of stops.reverse()) await fn();
  });
  const data = mkdtempSync(path.join(os.tmpdir(), "syncd-failover-"));
  stops.push(() => rmSync(data, { recursive: true, force: true }));
  const bolt = ["-store", "bolt", "-data", data];

  const dead = `ws://127.0.0.1:${await freePort()}/ws`;
  const srv1 = await startSyncd(build.bin, bolt);
  stops.push(() => srv1.stop());
  const port2 = await freePort();
  const url2 = `ws://127.0.0.1:${port2}/ws`;

  const session = memStorage();
  const c = new SyncClient({
    url: dead,
    urls: [srv1.url, url2],
    WebSocket: makeNet().WebSocket,
    sessionStorage: session,
    localStorage: memStorage(),
    backoff: { base: 20, cap: 200 },
  });
  stops.push(() => c.close());
  const rejects = [];
  c.on("reject", (e) => rejects.push(e));
  let snapshots = 0;
  c.on("change", (e) => {
    if (e.source === "snapshot") snapshots++;
  });

  const d = c.open("failover");
  await waitFor(() => c.status === "open", 10000, "connected past the dead endpoint");
  assert.equal(c.url, srv1.url);
  // A large pad, so that the catch-up after the failover is deltas rather
  // than a smaller snapshot.
  d.update({ pad: "x".repeat(20000), items: [] });
  await waitFor(() => c.status === "open" && d.pending.length === 0, 10000, "pad committed");
  const epoch = d.epoch;
  snapshots = 0;

  let n = 0;
  for (let k = 0; k < 40; k++) {
    d.update([{ op: "add", path: "/items/-", value: "i" + n++ }]);
    if (k % 8 === 0) await sleep(2); // some reach the server, some are in flight
  }
  await srv1.stop(); // SIGKILL
  await waitFor(() => c.status === "offline" || c.status === "connecting", 10000, "the client noticed");
  for (let k = 0; k < 20; k++) d.update([{ op: "add", path: "/items/-", value: "i" + n++ }]);
  const srv2 = await startSyncd(build.bin, bolt, { port: port2 });
  stops.push(() => srv2.stop());

  await waitFor(() => c.status === "open" && d.pending.length === 0, 20000, "resumed on the other URL and settled");
  assert.equal(c.url, url2);
  assert.equal(session.getItem("syncd.url"), url2, "the endpoint that worked is remembered");
  assert.equal(d.epoch, epoch, "same history");
  assert.equal(snapshots, 0, "resumed with deltas, not a snapshot");
  const head = await api(srv2, "/v1/docs/failover");
  await waitFor(() => d.rev === head.rev, 10000, "at the head");
  assert.deepEqual(d.value, head.state);
  assert.deepEqual(head.state.items, Array.from({ length: n }, (_, i) => "i" + i));
  const log = await api(srv2, "/v1/docs/failover/ops?after=0");
  const ids = log.operations.filter((o) => o.clientId === c.authorId).map((o) => o.clientReqId);
  assert.equal(ids.length, n + 1);
  assert.equal(new Set(ids).size, ids.length, "no request id committed twice");
  assert.deepEqual(rejects, []);
});
