// Helpers of the end-to-end tests: a TCP proxy that can cut a page off, a
// headless Chromium (the system one, through playwright-core), and a few
// readers of the demo page. The server side (build, start, HTTP API) comes
// from ../testlib/harness.js. Named lib.js, not *.test.js, so that the
// runner does not take it for a test file.
import net from "node:net";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { waitFor } from "../testlib/harness.js";

const here = path.dirname(fileURLToPath(import.meta.url));
export const artifacts = path.join(here, "artifacts");
export const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";

/**
 * A TCP proxy on a free loopback port forwarding to 127.0.0.1:targetPort,
 * standing for one page's network. Chromium's offline emulation leaves open
 * WebSockets alone, so a test cuts a page off here instead:
 *
 *   drop()          closes every connection, and refuses new ones (closes
 *                   them at once) until restore(): a network that fails
 *                   loudly.
 *   blackhole(dir)  stops forwarding without closing anything, and swallows
 *                   new connections: a network that fails silently, which
 *                   only heartbeats notice. dir "both" (default) or
 *                   "toClient" (the server still hears the page, the page
 *                   hears nothing: its edits land but their acks are lost).
 *   restore()       forwards again. Connections that lost bytes in a black
 *                   hole are closed, since their streams have holes (as a
 *                   real peer would reset them); new ones forward.
 */
export async function startProxy(targetPort) {
  const conns = new Set();
  const p = { mode: "up", dir: "both", conns, accepted: 0 };
  const server = net.createServer((client) => {
    p.accepted++;
    const c = { client, upstream: null, holed: false };
    conns.add(c);
    const end = () => {
      conns.delete(c);
      client.destroy();
      if (c.upstream) c.upstream.destroy();
    };
    client.on("error", end);
    client.on("close", end);
    if (p.mode === "down") return end();
    if (p.mode === "blackhole") {
      // Accepted, and never answered.
      c.holed = true;
      client.on("data", () => {});
      return;
    }
    const up = (c.upstream = net.connect(targetPort, "127.0.0.1"));
    up.on("error", end);
    up.on("close", end);
    // Page to server: swallowed in a black hole unless it is "toClient" only.
    client.on("data", (d) => {
      if (p.mode === "blackhole" && p.dir === "both") c.holed = true;
      else up.write(d);
    });
    // Server to page: swallowed in any black hole.
    up.on("data", (d) => {
      if (p.mode === "blackhole") c.holed = true;
      else client.write(d);
    });
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  p.port = server.address().port;
  p.wsUrl = `ws://127.0.0.1:${p.port}/ws`;
  const closeAll = (pred = () => true) => {
    for (const c of [...conns]) if (pred(c)) {
      conns.delete(c);
      c.client.destroy();
      if (c.upstream) c.upstream.destroy();
    }
  };
  p.drop = () => {
    p.mode = "down";
    closeAll();
  };
  p.blackhole = (dir = "both") => {
    p.mode = "blackhole";
    p.dir = dir;
  };
  p.restore = () => {
    p.mode = "up";
    closeAll((c) => c.holed);
  };
  p.close = () =>
    new Promise((resolve) => {
      closeAll();
      server.close(() => resolve());
    });
  return p;
}

// The flags of the machine notes: no sandbox as root, and no background
// traffic (this machine's network is closed, and Chromium would keep trying).
export const chromiumArgs = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Starts the system Chromium; playwright-core never downloads a browser of
 * its own (executablePath), and launch() gives it a fresh temporary profile
 * (its own --user-data-dir), removed when the browser closes.
 */
export function launchChromium() {
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: chromiumArgs, timeout: 60000 });
}

/** Opens the demo for list `list` as `name`, its WebSocket through proxy. */
export async function openDemo(context, srv, proxy, list, name) {
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  page.logs = [];
  page.on("console", (m) => page.logs.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => page.logs.push(`pageerror: ${e.message}`));
  await page.goto(demoUrl(srv, proxy, list, name), { timeout: 20000 });
  return page;
}

export function demoUrl(srv, proxy, list, name) {
  const q = new URLSearchParams({ list, name, ws: proxy.wsUrl });
  return `${srv.http}/?${q}`;
}

/** Adds a todo the way a person does: type, press Enter. */
export async function addTodo(page, text) {
  await page.fill("#text", text);
  await page.press("#text", "Enter");
}

export const todos = (page) => page.$$eval("#list li span", (els) => els.map((e) => e.textContent));
export const people = (page) => page.$$eval("#who li", (els) => els.map((e) => e.textContent));
export const status = (page) => page.$eval("#status", (e) => e.dataset.status);
export const pending = (page) => page.evaluate(() => window.syncdDemo.doc.pending.length);

/** Waits until the page shows every text in `want`, each exactly once. */
export function waitTodos(page, want, timeoutMs = 30000) {
  return waitFor(async () => {
    const got = await todos(page);
    return want.every((w) => got.filter((g) => g === w).length === 1);
  }, timeoutMs, `${want.join(", ")} once on the page`);
}

export const waitStatus = (page, s, timeoutMs = 30000) => waitFor(async () => (await status(page)) === s, timeoutMs, `status ${s}`);

/** Saves a screenshot of each page as artifacts/<prefix>-<name>.png. */
export async function screenshots(prefix, pages) {
  mkdirSync(artifacts, { recursive: true });
  for (const [name, page] of Object.entries(pages)) {
    if (!page || page.isClosed()) continue;
    await page.screenshot({ path: path.join(artifacts, `${prefix}-${name}.png`), fullPage: true, timeout: 10000 }).catch(() => {});
  }
}
