// End-to-end test of the admin page (/admin, server/admin.go) in headless
// Chromium against a syncd built from this repository and started here on
// 127.0.0.1: sign in with the form, watch a document change live while the
// demo page edits it, and disconnect the demo's connection from the page.
// Screenshots go to e2e/artifacts/admin-*.png (printed in the log).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { rmSync, mkdirSync } from "node:fs";
import path from "node:path";
import { buildSyncd, startSyncd, waitFor } from "../testlib/harness.js";
import { launchChromium, addTodo, status, waitStatus, artifacts } from "./lib.js";

const adminKey = "admin-key-for-the-e2e-test";

let build, srv, browser;
before(async () => {
  build = await buildSyncd();
  srv = await startSyncd(build.bin, ["-admin-key", adminKey]);
  browser = await launchChromium();
});
after(async () => {
  if (browser) await browser.close().catch(() => {});
  if (srv) await srv.stop();
  if (build) rmSync(build.dir, { recursive: true, force: true });
});

/** Saves a screenshot of page as artifacts/admin-<name>.png and logs where. */
async function shot(page, name) {
  mkdirSync(artifacts, { recursive: true });
  const file = path.join(artifacts, `admin-${name}.png`);
  await page.screenshot({ path: file, fullPage: true, timeout: 10000 });
  console.log(`# screenshot: ${file}`);
}

const rowCount = (page, sel) => page.$$eval(sel, (rows) => rows.length);

test("admin page: sign in, a document changes live, disconnect a client", async (t) => {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const admin = await context.newPage();
  admin.setDefaultTimeout(20000);
  const logs = [];
  admin.on("console", (m) => logs.push(`${m.type()}: ${m.text()}`));
  admin.on("pageerror", (e) => logs.push(`pageerror: ${e.message}`));
  // The page asks before disconnecting or deleting; the operator agrees.
  admin.on("dialog", (d) => d.accept());
  t.after(async () => {
    if (!t.passed) console.log("# admin page console:\n# " + logs.join("\n# "));
    await context.close().catch(() => {});
  });

  // Signed out, /admin is the sign-in form; a wrong key is refused.
  await admin.goto(`${srv.http}/admin`);
  await admin.fill("#key", "wrong");
  await admin.click("button[type=submit]");
  await admin.waitForSelector("p.error");
  await shot(admin, "wrong-key");
  await admin.fill("#key", adminKey);
  await Promise.all([admin.waitForURL(`${srv.http}/admin`), admin.click("button[type=submit]")]);
  await waitFor(async () => (await admin.$eval("#status", (e) => e.dataset.status)) === "live", 20000, "the admin page live");
  const instance = await admin.textContent("#instance");
  assert.match(instance, /127\.0\.0\.1:\d+/);
  assert.match(instance, /memory/);
  assert.match(await admin.textContent("#note"), /this instance only/);

  // A person on the demo page, in another tab of the same browser.
  const demo = await context.newPage();
  demo.setDefaultTimeout(20000);
  await demo.goto(`${srv.http}/?list=admin-e2e&name=Ada`);
  await waitStatus(demo, "open");
  await addTodo(demo, "milk");
  const doc = "todos:admin-e2e";

  // The admin page lists the document and the connection on its own.
  const docRow = `#docs tbody tr[data-doc="${doc}"]`;
  await admin.waitForSelector(docRow);
  await waitFor(async () => (await rowCount(admin, "#conns tbody tr[data-client]")) === 1, 10000, "one connection listed");
  await admin.click(`${docRow} a.doc`);
  await waitFor(async () => (await admin.textContent("#doc-state")).includes('"milk"'), 10000, "milk in the document's state");

  // A change on the demo shows up live, in the state and the operations.
  await addTodo(demo, "eggs");
  await waitFor(async () => (await admin.textContent("#doc-state")).includes('"eggs"'), 10000, "eggs in the document's state, live");
  await waitFor(async () => (await rowCount(admin, "#doc-ops tbody tr[data-rev]")) >= 2, 10000, "two recent operations");
  const author = await admin.textContent("#doc-ops tbody tr[data-rev] td:nth-child(3)");
  assert.notEqual(author.trim(), "(server)", "the operation's author is shown");
  // The presence column names Ada's client once the demo has set it.
  await waitFor(async () => (await admin.textContent(`${docRow} td:nth-child(5)`)).trim() !== "—", 10000, "presence listed");
  // Let the chart gather a few samples with the commits in them.
  await waitFor(async () => Number(await admin.textContent("#rate-commits")) >= 0 && (await admin.$$eval("#chart polyline", (p) => p.length)) === 2, 10000, "the chart drawn");
  await shot(admin, "live");

  // Disconnect the demo's connection from the page: it closes (1000:
  // the server ended the session on purpose, the client stays offline).
  await admin.click("#conns tbody tr[data-client] button.danger");
  await waitFor(async () => (await status(demo)) !== "open", 10000, "the demo page disconnected");
  await waitFor(async () => (await rowCount(admin, "#conns tbody tr[data-client]")) === 0, 10000, "no connection listed");
  await shot(admin, "disconnected");
  assert.equal(logs.filter((l) => l.startsWith("pageerror")).length, 0, logs.join("\n"));
});
