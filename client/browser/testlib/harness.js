// Test harness: builds syncd once, runs it on a free loopback port, and a
// WebSocket wrapper (over `ws`) that lets a test drop, hold or cut off one
// client's network. Kept outside test/ so that `node --test test/` does not
// count it as a test file.
import { spawn, execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import WS from "ws";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, "../../..");

/** Waits until cond() is truthy, polling; fails after timeoutMs. */
export async function waitFor(cond, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let v;
    try {
      v = await cond();
    } catch (_) {
      v = false;
    }
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Builds cmd/syncd into a fresh temporary directory; returns {bin, dir}. */
export function buildSyncd(timeoutMs = 300000) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "syncd-browser-test-"));
  const bin = path.join(dir, "syncd");
  tempDirs.add(dir);
  return new Promise((resolve, reject) => {
    execFile("go", ["build", "-o", bin, "./cmd/syncd"], { cwd: repoRoot, timeout: timeoutMs, env: { ...process.env, PATH: `${process.env.PATH}:/usr/local/go/bin` } }, (err, _out, stderr) => {
      if (err) {
        rmSync(dir, { recursive: true, force: true });
        reject(new Error(`go build failed: ${err.message}\n${stderr}`));
      } else resolve({ bin, dir });
    });
  });
}

/** A port that was free a moment ago (listen on :0, close). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const running = new Set();
const tempDirs = new Set();
// Whatever happens to the test process (an end, a failure, the runner's
// timeout killing it), the servers it started die with it.
function killAll() {
  for (const p of running) {
    try {
      p.kill("SIGKILL");
    } catch (_) {
      /* gone */
    }
  }
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
}
process.on("exit", killAll);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.once(sig, () => {
    killAll();
    process.exit(128 + (sig === "SIGINT" ? 2 : sig === "SIGTERM" ? 15 : 1));
  });
}

/**
 * Starts syncd with -store memory on a free port (or on `port`), with extra
 * flags (which win over these defaults); retries, with another port unless
 * one was given, if it does not come up. Returns {url, http, apiKey, stop}.
 */
export async function startSyncd(bin, extra = [], { apiKey = "test-key", port: fixedPort } = {}) {
  let lastErr;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = fixedPort || (await freePort());
    const args = ["-store", "memory", "-addr", `127.0.0.1:${port}`, "-api-key", apiKey, "-log-level", "warn", ...extra];
    const proc = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"] });
    running.add(proc);
    let stderr = "";
    proc.stderr.on("data", (d) => (stderr += d));
    let exited = false;
    proc.on("exit", () => {
      exited = true;
      running.delete(proc);
    });
    const base = `http://127.0.0.1:${port}`;
    const stop = async () => {
      if (exited) return;
      proc.kill("SIGKILL");
      await waitFor(() => exited, 5000, "syncd to exit").catch(() => {});
    };
    try {
      await waitFor(async () => {
        if (exited) throw new Error("exited");
        const r = await fetch(base + "/healthz");
        return r.ok;
      }, 10000, "syncd /healthz");
      return { url: `ws://127.0.0.1:${port}/ws`, http: base, apiKey, stop, stderr: () => stderr };
    } catch (e) {
      lastErr = new Error(`syncd did not start (${e.message}): ${stderr}`);
      await stop();
    }
  }
  throw lastErr;
}

/** GET on the HTTP API, with the key; returns the JSON body. */
export async function api(srv, p) {
  const r = await fetch(srv.http + p, { headers: { Authorization: "Bearer " + srv.apiKey } });
  if (!r.ok) throw new Error(`GET ${p}: ${r.status} ${await r.text()}`);
  return r.json();
}

/**
 * A network for one client: `WebSocket` is a constructor with the browser
 * API the client uses, over `ws`. The test can drop open connections (as a
 * network failure, 1006), go offline (new connections fail), and hold
 * incoming messages (deliver them later, in order). `received` logs the
 * types of the messages delivered.
 */
export function makeNet() {
  const n = { offline: false, hold: false, sockets: new Set(), received: [] };
  class TestSocket {
    constructor(url, protocols) {
      this.readyState = 0;
      this._queue = [];
      this.onopen = this.onmessage = this.onclose = this.onerror = null;
      if (n.offline) {
        setTimeout(() => {
          this.readyState = 3;
          if (this.onclose) this.onclose({ code: 1006, reason: "offline" });
        }, 5);
        return;
      }
      const inner = (this.inner = new WS(url, protocols));
      n.sockets.add(this);
      inner.on("open", () => {
        this.readyState = 1;
        if (this.onopen) this.onopen({});
      });
      inner.on("message", (data) => {
        const text = data.toString();
        if (n.hold) this._queue.push(text);
        else this._deliver(text);
      });
      inner.on("close", (code, reason) => {
        n.sockets.delete(this);
        this.readyState = 3;
        if (this.onclose) this.onclose({ code, reason: reason.toString() });
      });
      inner.on("error", () => {}); // a close follows
    }
    _deliver(text) {
      try {
        n.received.push(JSON.parse(text));
      } catch (_) {
        /* not JSON */
      }
      if (this.onmessage) this.onmessage({ data: text });
    }
    send(s) {
      if (this.inner && this.inner.readyState === 1) this.inner.send(s);
    }
    close(code, reason) {
      if (this.inner) this.inner.close(code, reason);
    }
  }
  n.WebSocket = TestSocket;
  n.drop = () => {
    for (const s of n.sockets) s.inner.terminate();
  };
  n.release = () => {
    n.hold = false;
    for (const s of n.sockets) {
      const q = s._queue;
      s._queue = [];
      for (const t of q) s._deliver(t);
    }
  };
  return n;
}

/** In-memory Web Storage, to stand for sessionStorage/localStorage. */
export function memStorage() {
  const m = new Map();
  return {
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem: (k, v) => void m.set(k, String(v)),
    removeItem: (k) => void m.delete(k),
    map: m,
  };
}
