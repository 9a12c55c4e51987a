// syncd.js: the browser client of syncd, protocol syncd/1 (see PROTOCOL.md).
//
// A dependency-free ES2020 module: load it with
//   import { SyncClient } from "/syncd.js";
// It keeps JSON documents in sync over one WebSocket: optimistic edits with a
// pending queue, rebase on remote operations, acknowledgement by the echoed
// request id, rollback on refusal, reconnect with backoff and resume from
// (epoch, rev), presence, room messages and topics. Pending edits are kept in
// an outbox (localStorage) so that a reload loses none and applies each once.
//
// The pure parts (patches, request ids, the per-document reconciliation) are
// exported too, so that they can be tested without a server.

export const PROTOCOL = "syncd/1";

// ---------------------------------------------------------------------------
// Small helpers

const clone = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));
const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const hasOwn = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
// setMember sets member k of object o as an own property: plain assignment
// of "__proto__" would change o's prototype instead (and lose the member),
// where the server (and JSON.parse) make it a member like any other.
const setMember = (o, k, v) => {
  Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
};

/** Deep JSON equality; key order does not matter (PROTOCOL.md §3.2). */
export function deepEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (!Object.prototype.hasOwnProperty.call(b, k) || !deepEqual(a[k], b[k])) return false;
  }
  return true;
}

/**
 * Request-id order of §6.7: length first, then byte by byte. Returns <0, 0, >0.
 * Used for the watermark rules, so it must match the server exactly.
 */
export function compareReqIds(a, b) {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---------------------------------------------------------------------------
// Patches: JSON Patch (RFC 6902) and JSON Merge Patch (RFC 7396), with the
// exact RFC semantics the server uses (§6.2), so that the client reaches the
// server's state by applying the same operations.

/** A patch that does not apply. `code` is the code the server would give. */
export class PatchError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "PatchError";
    this.code = code;
  }
}

const invalid = (m) => new PatchError("INVALID_ARGUMENT", m);
const precondition = (m) => new PatchError("FAILED_PRECONDITION", m);

/** Parses a JSON Pointer (RFC 6901) into its reference tokens. */
export function parsePointer(p) {
  if (typeof p !== "string") throw invalid("path: not a string");
  if (p === "") return [];
  if (p[0] !== "/") throw invalid(`path ${JSON.stringify(p)}: must start with /`);
  return p
    .slice(1)
    .split("/")
    .map((t) => {
      if (/~[^01]|~$/.test(t)) throw invalid(`path ${JSON.stringify(p)}: bad escape`);
      return t.replace(/~1/g, "/").replace(/~0/g, "~");
    });
}

// arrayIndex reads an array index token; "-" is allowed only where the caller
// says (add), and never leading zeros (RFC 6901 §4). A token that is no
// index ("01", "x") names no element of the array: FAILED_PRECONDITION, as
// on the server (a missing path, §6.2), not a malformed patch.
function arrayIndex(tok, len, allowEnd) {
  if (tok === "-") {
    if (allowEnd) return len;
    throw precondition(`"-" names no existing element`);
  }
  if (!/^(0|[1-9][0-9]*)$/.test(tok)) throw precondition(`bad array index ${JSON.stringify(tok)}`);
  const i = Number(tok);
  if (i > len || (!allowEnd && i === len)) throw precondition(`array index ${i} out of range`);
  return i;
}

function getAt(doc, tokens) {
  let cur = doc;
  for (const t of tokens) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(t, cur.length, false)];
    else if (isObject(cur) && Object.prototype.hasOwnProperty.call(cur, t)) cur = cur[t];
    else throw precondition(`path /${tokens.join("/")} does not exist`);
  }
  return cur;
}

// Each mutation takes the root and returns the new root, because an
// operation on path "" replaces the whole value.
function addAt(doc, tokens, value) {
  if (tokens.length === 0) return value;
  const parent = getAt(doc, tokens.slice(0, -1));
  const last = tokens[tokens.length - 1];
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, true), 0, value);
  else if (isObject(parent)) setMember(parent, last, value);
  else throw precondition(`parent of /${tokens.join("/")} is not a container`);
  return doc;
}

function removeAt(doc, tokens) {
  if (tokens.length === 0) throw invalid("cannot remove the root");
  const parent = getAt(doc, tokens.slice(0, -1));
  const last = tokens[tokens.length - 1];
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, false), 1);
  else if (isObject(parent) && Object.prototype.hasOwnProperty.call(parent, last)) delete parent[last];
  else throw precondition(`path /${tokens.join("/")} does not exist`);
  return doc;
}

// checkOps checks everything about a JSON Patch that does not depend on
// the document, for every operation before any applies, as the server's
// parser does: a malformed patch is INVALID_ARGUMENT even where an earlier
// operation would fail on the document. Returns the parsed operations.
const OPS = ["add", "remove", "replace", "move", "copy", "test"];
function checkOps(patch) {
  if (!Array.isArray(patch)) throw invalid("a JSON Patch is an array");
  return patch.map((op, i) => {
    if (!isObject(op)) throw invalid(`op ${i}: not an object`);
    if (!OPS.includes(op.op)) throw invalid(`op ${i}: unknown op ${JSON.stringify(op.op)}`);
    const path = parsePointer(op.path);
    const from = op.op === "move" || op.op === "copy" ? parsePointer(op.from) : undefined;
    if ((op.op === "add" || op.op === "replace" || op.op === "test") && !("value" in op)) throw invalid(`op ${i}: missing value`);
    if (op.op === "remove" && path.length === 0) throw invalid("cannot remove the root");
    if (op.op === "move" && from.length < path.length && from.every((t, j) => t === path[j])) {
      throw invalid(`op ${i}: cannot move a value into its own child`);
    }
    return { op: op.op, path, from, value: op.value };
  });
}

/** Applies a JSON Patch atomically: returns a new value, `doc` is untouched. */
export function applyJsonPatch(doc, patch) {
  const ops = checkOps(patch);
  let out = clone(doc);
  for (let i = 0; i < ops.length; i++) {
    const { op, path, from, value } = ops[i];
    switch (op) {
      case "add":
        out = addAt(out, path, clone(value));
        break;
      case "remove":
        out = removeAt(out, path);
        break;
      case "replace": {
        const v = clone(value);
        getAt(out, path); // must exist
        out = path.length === 0 ? v : addAt(removeAt(out, path), path, v);
        break;
      }
      case "move": {
        const v = getAt(out, from);
        if (from.length === path.length && from.every((t, j) => t === path[j])) break;
        out = addAt(removeAt(out, from), path, v);
        break;
      }
      case "copy":
        out = addAt(out, path, clone(getAt(out, from)));
        break;
      case "test":
        if (!deepEqual(getAt(out, path), value)) throw precondition(`op ${i}: test failed`);
        break;
    }
  }
  return out;
}

/** Applies a JSON Merge Patch (RFC 7396); returns a new value. */
export function applyMergePatch(doc, patch) {
  if (!isObject(patch)) return clone(patch);
  const out = isObject(doc) ? clone(doc) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else setMember(out, k, applyMergePatch(hasOwn(out, k) ? out[k] : undefined, v));
  }
  return out;
}

/**
 * Applies an edit as the server does: an array is a JSON Patch, an object a
 * Merge Patch; the result must be an object (§6.1).
 */
export function applyPatch(doc, patch) {
  let out;
  if (Array.isArray(patch)) out = applyJsonPatch(doc, patch);
  else if (isObject(patch)) out = applyMergePatch(doc, patch);
  else throw invalid("a patch is an array (JSON Patch) or an object (Merge Patch)");
  if (!isObject(out)) throw invalid("the document must stay an object");
  return out;
}

/** Applies an operation of SYNC.DELTAS by its `type` (§5.3). */
export function applyOperation(doc, op) {
  if (op.type === "merge") return applyPatch(doc, isObject(op.payload) ? op.payload : {});
  return applyPatch(doc, op.payload);
}

// ---------------------------------------------------------------------------
// Monotonic ULIDs (§9.7): request ids that strictly increase, also across a
// reload (the last one is persisted) and a clock stepping backwards.

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

function encodeTime(ms) {
  let s = "";
  for (let i = 0; i < 10; i++) {
    s = CROCKFORD[ms % 32] + s;
    ms = Math.floor(ms / 32);
  }
  return s;
}

// increment adds one to a ULID, carrying; null when it would overflow.
function increment(id) {
  const chars = id.split("");
  for (let i = chars.length - 1; i >= 0; i--) {
    const d = CROCKFORD.indexOf(chars[i]);
    if (d < 31) {
      chars[i] = CROCKFORD[d + 1];
      return chars.join("");
    }
    chars[i] = "0";
  }
  return null;
}

function defaultRandom(n) {
  const out = new Uint8Array(n);
  if (globalThis.crypto && globalThis.crypto.getRandomValues) globalThis.crypto.getRandomValues(out);
  else for (let i = 0; i < n; i++) out[i] = Math.floor(Math.random() * 256);
  return out;
}

/**
 * A monotonic ULID source. `last` is the last id issued (persisted by the
 * caller); every id returned is greater than it and than every earlier one.
 */
export function createUlid({ now = () => Date.now(), random = defaultRandom, last = "" } = {}) {
  let prev = typeof last === "string" && last.length === 26 ? last.toUpperCase() : "";
  const next = () => {
    const bytes = random(16);
    let rnd = "";
    for (let i = 0; i < 16; i++) rnd += CROCKFORD[bytes[i] % 32];
    let id = encodeTime(Math.max(0, Math.floor(now()))) + rnd;
    if (prev && compareReqIds(id, prev) <= 0) {
      // Same millisecond (or the clock went back): the previous id plus one.
      id = increment(prev);
      if (id === null) throw new Error("ulid: overflow");
    }
    prev = id;
    return id;
  };
  next.last = () => prev;
  /** Raises the floor: later ids are greater than `id` too. */
  next.observe = (id) => {
    if (typeof id === "string" && id.length === 26 && (!prev || compareReqIds(id.toUpperCase(), prev) > 0)) prev = id.toUpperCase();
  };
  return next;
}

// ---------------------------------------------------------------------------
// The state of one document (§9.1) and its reconciliation (§6.8, §9.5, §9.6),
// with no I/O: the client feeds it server messages and sends what it says.

// An edit re-issued under a new id (after a retryable refusal, or a
// reconnect that showed it was never applied) is applied after the edits
// its client made later and that went through meanwhile. Re-applied as it
// was, it would overwrite them (a title typed "a", "ab", "abc" ending as
// "ab"). So a merge patch to re-issue loses the members that a later edit
// of the same client set again (supersede), and one left with nothing is
// dropped and reported SUPERSEDED. A JSON Patch is re-issued as it is: its
// operations (an append, say) have no one meaning once reordered.

// writesOf lists what a patch sets: [tokens, obj] pairs, obj when a merge
// patch makes the member an object rather than setting it.
function writesOf(patch) {
  const out = [];
  if (Array.isArray(patch)) {
    for (const op of patch) {
      if (!op || typeof op !== "object") continue;
      if (["add", "replace", "remove", "copy", "move"].includes(op.op) && typeof op.path === "string") out.push([pointerTokens(op.path), false]);
      if (op.op === "move" && typeof op.from === "string") out.push([pointerTokens(op.from), false]);
    }
    return out;
  }
  const walk = (obj, prefix) => {
    for (const [k, v] of Object.entries(obj)) {
      const p = prefix.concat([k]);
      if (isObject(v)) {
        out.push([p, true]);
        walk(v, p);
      } else out.push([p, false]);
    }
  };
  if (isObject(patch)) walk(patch, []);
  return out;
}

function pointerTokens(ptr) {
  if (ptr === "") return [];
  return ptr.replace(/^\//, "").split("/").map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}

const startsWith = (p, prefix) => prefix.length <= p.length && prefix.every((t, i) => p[i] === t);

// supersede returns merge patch `patch` without the members later writes
// set again (or undefined when nothing is left): a member at or below a
// path set, replaced or removed later; a member that is not an object where
// a later write set something inside it or made it an object.
function supersede(patch, later) {
  if (later.length === 0) return patch;
  const at = (obj, prefix) => {
    const out = {};
    for (const [k, v] of Object.entries(obj)) {
      const p = prefix.concat([k]);
      let covered = false;
      let inside = false;
      for (const [w, wobj] of later) {
        if (!wobj && startsWith(p, w)) covered = true;
        if ((w.length > p.length && startsWith(w, p)) || (wobj && w.length === p.length && startsWith(w, p))) inside = true;
      }
      if (covered || (inside && !isObject(v))) continue;
      if (inside) {
        const sub = at(v, p);
        if (Object.keys(sub).length === 0 && Object.keys(v).length > 0) continue;
        setMember(out, k, sub);
      } else setMember(out, k, v);
    }
    return out;
  };
  const out = at(patch, []);
  return Object.keys(out).length === 0 ? undefined : out;
}

/**
 * One pending edit: `{clientReqId, patch, baseRev?, epoch?, sent, attempts}`.
 * `baseRev` and `epoch` are fixed when the edit is first sent (§9.1). The
 * client adds `resent` (sent again after a lost connection, §6.8) and
 * `resends` (same-id sends after a refusal that is not a decision).
 */
export class DocState {
  constructor(id, saved) {
    this.id = id;
    this.epoch = saved ? saved.epoch : undefined;
    this.rev = saved ? saved.rev : undefined;
    this.confirmed = saved && isObject(saved.confirmed) ? saved.confirmed : {};
    this.pending = saved && Array.isArray(saved.pending) ? saved.pending : [];
    // seq orders edits by creation, kept when one is re-issued; ownEdits
    // remembers this client's recent acknowledged edits (for supersede).
    this.seq = this.pending.reduce((m, p) => Math.max(m, p.seq || 0), 0);
    this.ownEdits = [];
    this.view = this.confirmed;
    this.recompute();
  }

  /** Records what an acknowledged edit of this client set, for supersede. */
  rememberOwn(edit) {
    // Only edits made after the oldest pending one can matter (an edit is
    // re-issued only while pending); the bound is for a very fast editor
    // while an old edit waits out a long backoff.
    const seq = edit.seq || 0;
    const oldest = Math.min(...this.pending.filter((p) => p !== edit).map((p) => p.seq || 0));
    if (seq < oldest) {
      this.ownEdits = [];
      return;
    }
    this.ownEdits = this.ownEdits.filter((o) => o.seq > oldest);
    if (this.ownEdits.length >= 1024) this.ownEdits.shift();
    this.ownEdits.push({ seq, patch: edit.patch });
  }

  /**
   * The patch to re-issue edit with: a merge patch without the members this
   * client's later edits (pending, or acknowledged) set again; undefined
   * when nothing is left. A JSON Patch as it is.
   */
  supersede(edit) {
    if (Array.isArray(edit.patch)) return edit.patch;
    const seq = edit.seq || 0;
    const later = [];
    for (const o of this.ownEdits) if (o.seq > seq) later.push(...writesOf(o.patch));
    for (const p of this.pending) if (p !== edit && (p.seq || 0) > seq) later.push(...writesOf(p.patch));
    return supersede(edit.patch, later);
  }

  /** True when the client has a position to resume from. */
  hasPosition() {
    return typeof this.epoch === "string" && typeof this.rev === "number";
  }

  /** Recomputes the view: confirmed, then every pending patch in order (§9.5). */
  recompute() {
    let v = this.confirmed;
    for (const p of this.pending) {
      try {
        v = applyPatch(v, p.patch);
      } catch (_) {
        // It no longer applies locally; the server will refuse it and the
        // refusal removes it (§9.5).
      }
    }
    this.view = v;
    return v;
  }

  /** Adds a local edit optimistically (§9.6 step 2). */
  addLocal(clientReqId, patch) {
    const edit = { clientReqId, patch: clone(patch), sent: false, attempts: 0, seq: ++this.seq };
    this.pending.push(edit);
    try {
      this.view = applyPatch(this.view, patch);
    } catch (_) {
      // Does not apply on top of the view: shown unchanged, the server decides.
    }
    return edit;
  }

  /** Fixes baseRev and epoch of an edit at its first send (§9.6 step 3). */
  markSent(edit) {
    if (!edit.sent) {
      edit.sent = true;
      if (this.hasPosition()) {
        edit.baseRev = this.rev;
        edit.epoch = this.epoch;
      }
    }
  }

  findPending(clientReqId) {
    return this.pending.find((p) => p.clientReqId === clientReqId);
  }

  /**
   * Applies SYNC.DELTAS. Returns {rejoin} when the client is out of step,
   * else {committed: [edits], changed}. authorId is this client's author id
   * (HELLO.authorId): its own operations carry it as their clientId.
   */
  applyDeltas(m, authorId) {
    if (!this.hasPosition() || m.epoch !== this.epoch || m.fromRev > this.rev) return { rejoin: true, committed: [] };
    const committed = [];
    let changed = false;
    for (const op of m.operations || []) {
      if (op.rev <= this.rev) continue; // a duplicate (§6.4)
      // A combined operation of a compacted catch-up (§5.3) stands for
      // revisions firstRev … rev; it applies only whole, right after ours.
      const first = typeof op.firstRev === "number" ? op.firstRev : op.rev;
      if (first !== this.rev + 1) return { rejoin: true, committed };
      try {
        this.confirmed = applyOperation(this.confirmed, op);
      } catch (_) {
        // The server applied it, so this cannot happen with equal semantics;
        // re-joining fetches the server's state.
        return { rejoin: true, committed };
      }
      this.rev = op.rev;
      changed = true;
      if (op.clientId === authorId && op.clientReqId) {
        const i = this.pending.findIndex((p) => p.clientReqId === op.clientReqId);
        if (i >= 0) {
          const e = this.pending.splice(i, 1)[0];
          this.rememberOwn(e);
          committed.push(e);
        }
      }
    }
    this.recompute();
    return { rejoin: false, committed, changed };
  }

  /** Applies SYNC.SNAPSHOT; returns whether the epoch changed. */
  applySnapshot(m) {
    const epochChanged = this.epoch !== undefined && m.epoch !== this.epoch;
    this.epoch = m.epoch;
    this.rev = m.rev;
    this.confirmed = isObject(m.state) ? m.state : {};
    this.recompute();
    return epochChanged;
  }

  /**
   * Settles pending edits after a JOIN answer (§6.8), given its ackedReqId W
   * and its outcomes (what became of the client's recent ids at or below W).
   * Edits committed in the answer were removed by applyDeltas already.
   * Returns what to do with the others, each list in id order:
   *   resend:    sent, above W: never decided; send again as they are;
   *   committed: sent, at or below W, an outcome says committed: acknowledged
   *              (removed here; their effect is in the state);
   *   refused:   sent, at or below W, an outcome says refused: [edit, code]
   *              pairs, to handle as if the ERROR had arrived;
   *   lost:      sent, at or below W, no outcome, and either above the oldest
   *              outcome (skipped over, never decided: step 4) or the answer
   *              was deltas (refused: step 5); re-issue under a new id;
   *   unknown:   sent, at or below W, no outcome, older than the outcomes,
   *              answer was a snapshot (step 5), or sent under another epoch
   *              (step 6): unknown;
   *   fresh:     never sent: send now, as new edits.
   * The caller removes lost/unknown edits it does not re-issue.
   */
  settle(ackedReqId, { snapshot = false, epochChanged = false, outcomes = [] } = {}) {
    const out = { resend: [], committed: [], refused: [], lost: [], unknown: [], fresh: [] };
    const byId = new Map();
    let oldest; // the outcomes are consecutive decisions: an id above the oldest and not among them was never decided
    for (const o of Array.isArray(outcomes) ? outcomes : []) {
      if (!o || typeof o.clientReqId !== "string") continue;
      byId.set(o.clientReqId, o);
      if (oldest === undefined || compareReqIds(o.clientReqId, oldest) < 0) oldest = o.clientReqId;
    }
    for (const p of this.pending) {
      if (!p.sent) out.fresh.push(p);
      else if (epochChanged || (p.epoch !== undefined && p.epoch !== this.epoch)) out.unknown.push(p);
      else if (ackedReqId !== undefined && compareReqIds(p.clientReqId, ackedReqId) <= 0) {
        const o = byId.get(p.clientReqId);
        if (o && typeof o.code === "string") out.refused.push([p, o.code]);
        else if (o) out.committed.push(p);
        else if (oldest !== undefined && compareReqIds(p.clientReqId, oldest) > 0) out.lost.push(p); // skipped over
        else (snapshot ? out.unknown : out.lost).push(p);
      } else out.resend.push(p);
    }
    if (out.committed.length > 0) {
      for (const p of out.committed) this.rememberOwn(p);
      this.pending = this.pending.filter((p) => !out.committed.includes(p));
      this.recompute();
    }
    return out;
  }

  /** Removes a pending edit (refused, or given up) and rolls it back. */
  remove(clientReqId) {
    const i = this.pending.findIndex((p) => p.clientReqId === clientReqId);
    if (i < 0) return undefined;
    const [edit] = this.pending.splice(i, 1);
    this.recompute();
    return edit;
  }

  /** What the outbox keeps: enough to resume and settle after a reload. */
  save() {
    return { epoch: this.epoch, rev: this.rev, confirmed: this.confirmed, pending: this.pending };
  }
}

// ---------------------------------------------------------------------------
// Reconnect policy (§8, §9.3)

const STOP_CODES = new Set([1000, 1002, 1003, 1007, 1008, 4401, 4403, 4409]);
const AT_ONCE_CODES = new Set([4408, 4503]);

/**
 * The most edits of one document sent and not yet answered. The JOIN answer
 * after a lost connection carries the outcomes of the server's last 32
 * decisions (PROTOCOL.md §6.8), so a client that never has more in flight
 * learns what became of every one.
 */
export const MAX_IN_FLIGHT = 32;

/**
 * Whether id is a document id (PROTOCOL.md §6.1): 1–128 characters of
 * letters, digits and : _ . / -. The server refuses a JOIN of any other.
 */
export function validDocId(id) {
  return typeof id === "string" && /^[A-Za-z0-9:_.\/-]{1,128}$/.test(id);
}

/** What a close code asks for: "stop", "now" or "backoff" (§8). */
/**
 * The exp claim (seconds) of a JWT, read without verifying it (only the
 * server can); undefined when there is none.
 */
export function tokenExp(token) {
  if (typeof token !== "string") return undefined;
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  try {
    const b64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(b64 + "===".slice((b64.length + 3) % 4)));
    return typeof claims.exp === "number" && claims.exp > 0 ? claims.exp : undefined;
  } catch (_) {
    return undefined;
  }
}

export function closeAction(code) {
  if (STOP_CODES.has(code)) return "stop";
  if (AT_ONCE_CODES.has(code)) return "now";
  return "backoff";
}

/**
 * The delay before the next attempt (§9.3): full jitter, random(0,
 * min(cap, base·2^attempt)); 0–1000 ms for 4408/4503; at least 5 s for 4429.
 */
export function reconnectDelay(code, attempt, { base = 500, cap = 30000, random = Math.random } = {}) {
  if (closeAction(code) === "now") return Math.floor(random() * 1000);
  const d = Math.floor(random() * Math.min(cap, base * Math.pow(2, attempt)));
  return code === 4429 ? Math.max(5000, d) : d;
}

/**
 * The endpoints a client tries (§9.3, "Several servers"): `url` first, then
 * `urls` in order, each once.
 */
export function endpoints(opts) {
  const list = [];
  for (const u of [opts.url, ...(Array.isArray(opts.urls) ? opts.urls : [])]) {
    if (typeof u === "string" && u !== "" && !list.includes(u)) list.push(u);
  }
  return list;
}

// Closes that are about this client (it read too slowly, sent too much or too
// big, went silent, its token expired) send it back to the same server after
// an established connection; anything else (a drop, a shutdown, an overloaded
// or cut-off server) starts at the next endpoint (§9.3, "Several servers").
const SAME_SERVER_CODES = new Set([1009, 4401, 4408, 4429, 4503]);

/**
 * The index of the endpoint to try next, of n: after an established
 * connection to `good` ended with `code`, the same one or the next; after a
 * failed attempt at `tried` (closed before HELLO), the next one.
 */
export function nextEndpoint({ n, good, tried, hadHello, code }) {
  if (hadHello) return SAME_SERVER_CODES.has(code) ? good : (good + 1) % n;
  return (tried + 1) % n;
}

// Codes the server answers with `retryable` (§7.1), for errors lacking it.
const RETRYABLE = new Set(["DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "UNAVAILABLE", "ABORTED"]);
const isRetryable = (e) => (typeof e.retryable === "boolean" ? e.retryable : RETRYABLE.has(e.code));
// Refusals of an UPDATE that leave its id undecided and may pass (§6.7,
// §7.2): tried again at least MAX_UNDECIDED_RETRIES times (the `retries`
// option if larger), backing off from 100 ms (doubled each time, at most
// 5 s; ~26 s in all), enough to ride out a cluster's stream election. An
// edit resent after a lost connection and refused so goes again under the
// same id, and its outcome is reported unknown if that never succeeds.
const UNDECIDED = new Set(["UNAVAILABLE", "DEADLINE_EXCEEDED"]);
const MAX_UNDECIDED_RETRIES = 10;
// undecidedWait is the wait before attempt n+1 (n from 0) after such a
// refusal: 100 ms doubled each time, at most 5 s, or the server's hint.
const undecidedWait = (n, p) => Math.max(p.retryAfterMs || 0, Math.min(100 * 2 ** Math.min(n, 10), 5000));

// ---------------------------------------------------------------------------
// Events

/** A tiny event emitter: on(name, fn) returns an unsubscribe function. */
export class Emitter {
  constructor() {
    this._handlers = new Map();
  }
  on(name, fn) {
    if (!this._handlers.has(name)) this._handlers.set(name, new Set());
    this._handlers.get(name).add(fn);
    return () => this.off(name, fn);
  }
  off(name, fn) {
    const s = this._handlers.get(name);
    if (s) s.delete(fn);
  }
  emit(name, ev) {
    const s = this._handlers.get(name);
    if (!s) return;
    for (const fn of [...s]) {
      try {
        fn(ev);
      } catch (e) {
        // A failing listener must not break the protocol state machine.
        if (typeof console !== "undefined") console.error("syncd: listener failed", e);
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Storage

function memoryStorage() {
  const m = new Map();
  return {
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem: (k, v) => void m.set(k, String(v)),
    removeItem: (k) => void m.delete(k),
  };
}

// storageOr returns the browser storage if usable (it throws in some private
// modes), else an in-memory one.
function storageOr(name) {
  try {
    const s = globalThis[name];
    if (s) {
      s.getItem("syncd.probe");
      return s;
    }
  } catch (_) {
    /* unusable */
  }
  return memoryStorage();
}

function readJSON(storage, key) {
  try {
    const s = storage.getItem(key);
    return s ? JSON.parse(s) : undefined;
  } catch (_) {
    return undefined;
  }
}

// The longest delay setTimeout keeps (2^31 - 1 ms, about 24.8 days).
const MAX_TIMER_MS = 2147483647;

const ULID_RE = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/i;

// ---------------------------------------------------------------------------
// The client

/** A document the application has open: its view, presence and edits. */
export class SyncDoc {
  constructor(client, id, state, presence) {
    this.client = client;
    this.id = id;
    this._s = state;
    this._presence = presence;
    /** The room: presence by client id. */
    this.room = new Map();
    this._fullPresenceDue = false;
    this._joinCorr = undefined; // correlationId of the JOIN in flight
    this._joined = false; // its catch-up answer arrived on this connection
    this._retryTimer = undefined;
  }
  /** What the application shows: confirmed state with pending edits applied. */
  get value() {
    return this._s.view;
  }
  get rev() {
    return this._s.rev;
  }
  get epoch() {
    return this._s.epoch;
  }
  /** The edits not yet settled, in id order. */
  get pending() {
    return this._s.pending.map((p) => ({ clientReqId: p.clientReqId, patch: p.patch, sent: p.sent }));
  }
  /** Edits the document optimistically; returns the edit's request id. */
  update(patch) {
    return this.client._update(this, patch);
  }
  /** Sets this client's presence in the room. */
  setPresence(state) {
    return this.client._setPresence(this, state);
  }
  /** Sends a room message to the other clients in the room. */
  publish(data) {
    return this.client._rpc("PUBLISH", { doc: this.id, data });
  }
  /** Leaves the document (and its room); forgets it locally. */
  leave() {
    return this.client._leave(this);
  }
}

/**
 * The syncd client. Options:
 *   url            ws:// or wss:// URL of /ws (required, unless urls is given)
 *   urls           more endpoints of the same service (the instances of one
 *                  syncd cluster): tried after url, in order; the client
 *                  stays with the one that answered and fails over to the
 *                  next when it drops, refuses or closes for its own reasons
 *   token          bearer token, or a function returning one (or a promise):
 *                  a function is also asked for a fresh token before the
 *                  current one's exp, sent with AUTH.REFRESH (§4.10), and a
 *                  4401 close (token expired) then reconnects instead of stopping
 *   tokenIn        "query" (access_token, default) or "subprotocol" (bearer.<token>)
 *   WebSocket      constructor (default globalThis.WebSocket; Node tests pass ws's)
 *   sessionStorage, localStorage   injectable storages (default the browser's)
 *   backoff        {base = 500, cap = 30000} ms
 *   requestTimeoutMs  RPC timeout (default 10000); also how long an attempt
 *                  waits for HELLO before the next endpoint is tried
 *   retries        re-issues of a refused retryable edit (default 3; at
 *                  least 10, backing off to 5 s, for UNAVAILABLE)
 *   reissue(edit, reason)  whether to re-issue an edit whose outcome is
 *                  unknown after a snapshot or epoch change (default: merge
 *                  patches only, which are harmless to apply twice, §6.8)
 *   autoConnect    connect at once (default true)
 */
export class SyncClient extends Emitter {
  constructor(opts) {
    super();
    if (!opts) throw new Error("syncd: url is required");
    this._urls = endpoints(opts);
    if (this._urls.length === 0) throw new Error("syncd: url (or urls) is required");
    this.options = opts;
    this._WS = opts.WebSocket || globalThis.WebSocket;
    if (!this._WS) throw new Error("syncd: no WebSocket constructor (pass options.WebSocket)");
    this._session = opts.sessionStorage || storageOr("sessionStorage");
    this._local = opts.localStorage || storageOr("localStorage");
    this._backoff = { base: 500, cap: 30000, ...(opts.backoff || {}) };
    this._random = opts.random || Math.random;
    this._retries = opts.retries === undefined ? 3 : opts.retries;
    this._reissue = opts.reissue || ((edit) => !Array.isArray(edit.patch));
    this._timeout = opts.requestTimeoutMs || 10000;

    // The endpoint that answered last (kept across a reload), where
    // connecting starts; the one being tried.
    const lastUrl = this._urls.indexOf(this._session.getItem("syncd.url"));
    this._good = lastUrl >= 0 ? lastUrl : 0;
    this._tried = this._good;
    /** The endpoint of the current (or last) connection attempt. */
    this.url = this._urls[this._tried];

    const id = this._session.getItem("syncd.clientId");
    /** This tab's client id (§2.2); undefined until the first HELLO if new. */
    this.clientId = id && ULID_RE.test(id) ? id.toUpperCase() : undefined;
    /**
     * This client's public name (HELLO.authorId, §2.2): what operations,
     * presence and room messages show for it. Show this one to others; the
     * clientId is this tab's private key. Undefined until the first HELLO.
     */
    this.authorId = undefined;
    this._ulid = createUlid({ now: opts.now, last: this._session.getItem("syncd.lastReqId") || "" });
    // The highest id sent for the first time (kept across a reload).
    this._maxSent = this._session.getItem("syncd.maxSentId") || "";

    /** "idle" | "connecting" | "connected" | "open" | "offline" | "stopped" */
    this.status = "idle";
    this.docs = new Map();
    this.topics = new Set();
    this.heartbeatMs = 10000;
    this.limits = {};
    this._ws = null;
    this._attempt = 0;
    this._failuresBeforeHello = 0;
    this._timer = undefined;
    this._hbTimer = undefined;
    this._lastSent = 0;
    this._lastHeard = 0;
    this._corr = 0;
    this._rpcs = new Map();
    this._editTimers = new Set();
    this._outq = [];
    this._flushTimer = undefined;
    this._resetBuckets();
    this._stopped = true;
    const detect = opts.detectDuplicateTab !== undefined ? opts.detectDuplicateTab : typeof globalThis.BroadcastChannel === "function" && typeof globalThis.document === "object";
    this._ready = detect ? this._claimTab(opts.tabCheckMs || 150) : Promise.resolve();
    if (opts.autoConnect !== false) this.connect();
  }

  // _claimTab guards against a duplicated tab (§2.2): it inherits a copy of
  // sessionStorage, hence our clientId, and two live connections with one id
  // would keep replacing each other (4409). At start-up a tab asks the others
  // over a BroadcastChannel whether its id is taken; if so it starts afresh
  // with a new id (and without the other tab's outbox).
  _claimTab(waitMs) {
    const ch = new globalThis.BroadcastChannel("syncd.tabs");
    if (typeof ch.unref === "function") ch.unref(); // never keeps Node alive
    this._tabs = ch;
    const nonce = Math.random().toString(36).slice(2) + Date.now().toString(36);
    let taken = false;
    ch.onmessage = (ev) => {
      const m = ev.data || {};
      // A stopped client (close(), or a close code that stops) holds no
      // connection with the id: a new client of this same tab (same
      // sessionStorage) must get it, and the outbox with it.
      if (m.type === "claim" && m.nonce !== nonce && this.clientId && m.id === this.clientId && !this._checking && !this._stopped) {
        ch.postMessage({ type: "taken", id: m.id, nonce: m.nonce });
      } else if (m.type === "taken" && m.nonce === nonce) taken = true;
    };
    if (!this.clientId) return Promise.resolve();
    this._checking = true;
    ch.postMessage({ type: "claim", id: this.clientId, nonce });
    return new Promise((resolve) => {
      setTimeout(() => {
        this._checking = false;
        // Not written during the check (the id may be another tab's, and so
        // its outbox): written now that it is ours.
        if (!taken) this._persist();
        if (taken) {
          this.clientId = undefined;
          try {
            this._session.removeItem("syncd.clientId");
          } catch (_) {
            /* best effort */
          }
          // Documents opened meanwhile restored the other tab's outbox: drop it.
          for (const d of this.docs.values()) {
            d._s = new DocState(d.id);
            this.emit("change", { doc: d.id, value: d.value, source: "snapshot" });
          }
        }
        resolve();
      }, waitMs);
    });
  }

  // --- lifecycle ----------------------------------------------------------

  /** Starts (or restarts after close()) connecting, keeping all local state. */
  connect() {
    if (!this._stopped) return;
    this._stopped = false;
    this._attempt = 0;
    this._ready.then(() => this._open());
  }

  /**
   * While offline (waiting retryInMs to reconnect), reconnects now instead.
   * Returns whether it did (false in any other status).
   */
  reconnectNow() {
    if (this._stopped || this._ws || this.status !== "offline") return false;
    clearTimeout(this._timer);
    this._open();
    return true;
  }

  /** Closes the connection (code 1000) and stops reconnecting; state is kept. */
  close() {
    this._stopped = true;
    clearTimeout(this._timer);
    // Held retries of refused edits: the next connection's JOIN answers
    // send every pending edit anyway (§6.8), so no timer outlives close().
    for (const t of this._editTimers) clearTimeout(t);
    this._editTimers.clear();
    for (const d of this.docs.values()) for (const e of d._s.pending) e.holdUntil = undefined;
    const ws = this._ws;
    this._ws = null;
    this._teardown(1000);
    if (ws) {
      try {
        ws.close(1000, "client closed");
      } catch (_) {
        /* already closed */
      }
    }
    this._setStatus("stopped", { code: 1000 });
  }

  _setStatus(status, extra) {
    this.status = status;
    this.emit("status", { status, ...(extra || {}) });
  }

  async _open() {
    // connect(), close(), connect() in a row (a React StrictMode effect)
    // queues two _open calls: the second must not open a second socket and
    // orphan the first (which nothing would ever close).
    if (this._stopped || this._ws) return;
    this._setStatus("connecting", { attempt: this._attempt });
    let token = this.options.token;
    try {
      if (typeof token === "function") token = await token();
    } catch (e) {
      token = undefined;
    }
    if (this._stopped || this._ws) return;
    this._token = token;
    this.url = this._urls[this._tried];
    const u = new URL(this.url, globalThis.location ? globalThis.location.href : undefined);
    if (this.clientId) u.searchParams.set("clientId", this.clientId);
    // Every attempt gets a value from the persisted monotonic source (§2.2),
    // so that an older attempt the network delayed cannot replace this one.
    u.searchParams.set("attempt", this._nextReqId());
    let protocols;
    if (token && this.options.tokenIn === "subprotocol") protocols = ["bearer." + token, "syncd"];
    else if (token) u.searchParams.set("access_token", token);
    let ws;
    try {
      ws = protocols ? new this._WS(u.toString(), protocols) : new this._WS(u.toString());
    } catch (e) {
      this._tried = nextEndpoint({ n: this._urls.length, good: this._good, tried: this._tried, hadHello: false, code: 1006 });
      this._scheduleReconnect(1006);
      return;
    }
    this._ws = ws;
    this._hello = false;
    // An attempt that never gets HELLO (a black hole, an instance stuck on
    // its store) has failed: give it up and try the next endpoint (§9.3,
    // "refused, dropped before HELLO, timed out").
    clearTimeout(this._helloTimer);
    this._helloTimer = setTimeout(() => {
      if (this._ws === ws && !this._hello) this._drop("no HELLO");
    }, this._timeout);
    ws.onmessage = (ev) => {
      if (this._ws !== ws) return;
      this._lastHeard = Date.now();
      let m;
      try {
        m = JSON.parse(typeof ev.data === "string" ? ev.data : String(ev.data));
      } catch (_) {
        return; // not ours to understand
      }
      if (isObject(m) && typeof m.type === "string") this._receive(m);
    };
    ws.onclose = (ev) => {
      if (this._ws !== ws) return;
      this._ws = null;
      this._closed(ev && typeof ev.code === "number" ? ev.code : 1006, ev && ev.reason);
    };
    ws.onerror = () => {
      /* onclose follows */
    };
  }

  // _drop gives the connection up from this side: the socket is closed
  // with 4000 and reason, and the client goes on as after a lost
  // connection (1006).
  _drop(reason) {
    const ws = this._ws;
    this._ws = null;
    try {
      if (ws) ws.close(4000, reason);
    } catch (_) {
      /* closed */
    }
    this._closed(1006, reason);
  }

  _closed(code, reason) {
    const hadHello = this._hello;
    this._teardown(code);
    if (!hadHello) this._failuresBeforeHello++;
    if (this._stopped) return;
    this._tried = nextEndpoint({ n: this._urls.length, good: this._good, tried: this._tried, hadHello, code });
    // With a token function, an expired token (4401) is not the end: the
    // next connection asks it for a fresh one.
    const renewable = code === 4401 && typeof this.options.token === "function";
    if (closeAction(code) === "stop" && !renewable) {
      this._stopped = true;
      this._setStatus("stopped", { code, reason });
      return;
    }
    this._scheduleReconnect(code, reason);
  }

  // _teardown ends what belongs to one connection: heartbeat, RPCs, joins.
  _teardown(code) {
    // What was not sent belongs to this connection: pending edits are
    // settled and resent after the next JOIN answer anyway (§6.8).
    this._outq = [];
    clearTimeout(this._flushTimer);
    clearTimeout(this._helloTimer);
    clearInterval(this._hbTimer);
    this._hbTimer = undefined;
    clearTimeout(this._refreshTimer);
    this._refreshTimer = undefined;
    this._hello = false;
    for (const [, r] of this._rpcs) {
      clearTimeout(r.timer);
      r.reject(Object.assign(new Error("connection closed"), { code: "UNAVAILABLE", closeCode: code }));
    }
    this._rpcs.clear();
    for (const d of this.docs.values()) {
      d._joined = false;
      d._joinCorr = undefined;
      clearTimeout(d._retryTimer);
    }
  }

  _scheduleReconnect(code, reason) {
    // With several endpoints the backoff grows once per pass over the list,
    // so each is tried once per backoff step (§9.3, "Several servers").
    const delay = reconnectDelay(code, Math.floor(this._attempt / this._urls.length), { ...this._backoff, random: this._random });
    this._attempt++;
    this._setStatus("offline", {
      code,
      reason,
      retryInMs: delay,
      // §2.4: a browser cannot see a refused upgrade; after several closes
      // before HELLO the credentials are the likely cause.
      suspectCredentials: this._failuresBeforeHello >= 5,
    });
    clearTimeout(this._timer);
    this._timer = setTimeout(() => this._open(), delay);
  }

  // --- sending ------------------------------------------------------------

  _send(type, payload, corr) {
    const ws = this._ws;
    if (!ws || !this._hello || ws.readyState !== 1) return false;
    const meta = { timestamp: Date.now() };
    if (corr !== undefined) meta.correlationId = corr;
    const msg = { type, meta };
    if (payload !== undefined) msg.payload = payload;
    const text = JSON.stringify(msg);
    const max = this.limits.maxMessageBytes;
    if (max && utf8Length(text) > max) {
      // Never send what the server would answer with 1009 (§8).
      throw Object.assign(new Error(`message of ${utf8Length(text)} bytes exceeds maxMessageBytes ${max}`), { code: "INVALID_ARGUMENT" });
    }
    this._outq.push({ text, update: type === "UPDATE" });
    this._flush();
    return true;
  }

  // _flush sends queued messages in order, within the rates HELLO announced
  // (§6.11), so that the flood guard never fires (it drops messages without
  // telling which) and the UPDATE rate limit is not hit. Two token buckets,
  // at 80% of each rate, with bursts of one second's worth.
  _flush() {
    clearTimeout(this._flushTimer);
    this._flushTimer = undefined;
    const ws = this._ws;
    if (!ws || ws.readyState !== 1) return;
    const now = Date.now();
    const buckets = this._buckets;
    for (const b of [buckets.msg, buckets.upd]) {
      b.tokens = Math.min(b.rate, b.tokens + ((now - b.at) / 1000) * b.rate);
      b.at = now;
    }
    while (this._outq.length) {
      const m = this._outq[0];
      if (buckets.msg.tokens < 1 || (m.update && buckets.upd.tokens < 1)) break;
      this._outq.shift();
      buckets.msg.tokens--;
      if (m.update) buckets.upd.tokens--;
      ws.send(m.text);
      this._lastSent = now;
    }
    if (this._outq.length) {
      const b = this._outq[0].update && buckets.upd.tokens < 1 ? buckets.upd : buckets.msg;
      const wait = Math.max(1, Math.ceil(((1 - b.tokens) / b.rate) * 1000));
      this._flushTimer = setTimeout(() => this._flush(), wait);
    }
  }

  _resetBuckets() {
    const rate = (n, dflt) => Math.max(1, 0.8 * (typeof n === "number" && n > 0 ? n : dflt));
    const msg = rate(this.limits.messagesPerSecond, 200);
    const upd = rate(this.limits.updatesPerSecond, 100);
    const now = Date.now();
    this._buckets = { msg: { rate: msg, tokens: msg, at: now }, upd: { rate: upd, tokens: upd, at: now } };
  }

  _rpc(type, payload) {
    return new Promise((resolve, reject) => {
      const corr = "c" + ++this._corr;
      let sent;
      try {
        sent = this._send(type, payload, corr);
      } catch (e) {
        reject(e);
        return;
      }
      if (!sent) {
        reject(Object.assign(new Error("not connected"), { code: "UNAVAILABLE" }));
        return;
      }
      const timer = setTimeout(() => {
        this._rpcs.delete(corr);
        reject(Object.assign(new Error(type + ": timed out"), { code: "DEADLINE_EXCEEDED" }));
      }, this._timeout);
      this._rpcs.set(corr, { type, resolve, reject, timer });
    });
  }

  /** An application-level HEARTBEAT RPC (§4.8); resolves on HEARTBEAT.OK. */
  heartbeat() {
    return this._rpc("HEARTBEAT", {});
  }

  /**
   * Replaces this connection's token (AUTH.REFRESH, §4.10); resolves with
   * AUTH.REFRESH.OK's payload, {exp} (seconds; absent if the token has no
   * exp). Rejects with UNAUTHENTICATED for an invalid token and
   * PERMISSION_DENIED for another user's; the old token then still holds.
   * For later connections, pass a token function as options.token.
   */
  refreshToken(token) {
    return this._rpc("AUTH.REFRESH", { token });
  }

  // _scheduleRefresh arranges, when options.token is a function, to send a
  // fresh token at three quarters of the current one's remaining life
  // (at least a second from now, so a failing source is not hammered).
  _scheduleRefresh(exp) {
    clearTimeout(this._refreshTimer);
    this._refreshTimer = undefined;
    if (!exp || typeof this.options.token !== "function") return;
    const wait = Math.max(1000, ((exp * 1000 - Date.now()) * 3) / 4);
    // A timer longer than 2^31 - 1 ms fires at once (browsers and Node):
    // for a token that far from its exp, look again later instead.
    if (wait > MAX_TIMER_MS) {
      this._refreshTimer = setTimeout(() => this._scheduleRefresh(exp), MAX_TIMER_MS);
      return;
    }
    this._refreshTimer = setTimeout(() => this._refresh(exp), wait);
  }

  async _refresh(exp) {
    const ws = this._ws;
    let next = exp;
    try {
      const token = await this.options.token();
      if (this._ws !== ws || !this._hello) return;
      if (!token) throw Object.assign(new Error("the token function returned none"), { code: "UNAUTHENTICATED" });
      const ok = await this.refreshToken(token);
      this._token = token;
      next = ok.exp;
    } catch (e) {
      if (this._ws !== ws) return;
      // The old token holds until exp: try again, closer to it. Past it the
      // server closes with 4401 and the reconnect asks for a fresh token.
      this.emit("error", { code: (e && e.code) || "UNAUTHENTICATED", message: "token refresh failed: " + (e && e.message) });
    }
    if (this._ws === ws && this._hello) this._scheduleRefresh(next);
  }

  // --- documents ----------------------------------------------------------

  /**
   * Opens (joins) a document; returns its handle at once. Its state, and
   * pending edits kept in the outbox from before a reload, are restored.
   */
  open(id, { presence } = {}) {
    // Refused here, at once: the server would refuse the JOIN, and edits
    // made meanwhile would wait forever.
    if (!validDocId(id)) throw Object.assign(new Error(`invalid document id ${JSON.stringify(id)}: 1–128 characters of letters, digits and : _ . / -`), { code: "INVALID_ARGUMENT" });
    let d = this.docs.get(id);
    if (d) return d;
    const box = this.clientId ? readJSON(this._local, this._outboxKey()) : undefined;
    const saved = isObject(box) && hasOwn(box, id) ? box[id] : undefined;
    d = new SyncDoc(this, id, new DocState(id, saved), presence);
    for (const p of d._s.pending) this._ulid.observe(p.clientReqId);
    this.docs.set(id, d);
    if (this._hello) this._join(d);
    return d;
  }

  _outboxKey() {
    return "syncd.outbox." + this.clientId;
  }

  // _persist writes the outbox: per document with pending edits, its position,
  // confirmed state and pending edits, so that a reload resumes and settles
  // them exactly once (§6.8) instead of resending blindly.
  _persist(forget) {
    // While a duplicated tab checks whether its id is taken (_claimTab), the
    // outbox under that id may be the other tab's: not ours to write.
    if (!this.clientId || this._checking) return;
    const out = {};
    let any = false;
    // Documents with pending edits that this client has not opened (yet,
    // after a reload) keep theirs; a document left (forget) loses them.
    const box = readJSON(this._local, this._outboxKey());
    if (isObject(box)) {
      for (const [id, saved] of Object.entries(box)) {
        if (id !== forget && !this.docs.has(id) && isObject(saved)) {
          setMember(out, id, saved);
          any = true;
        }
      }
    }
    for (const d of this.docs.values()) {
      if (d._s.pending.length) {
        setMember(out, d.id, d._s.save()); // "__proto__" is a valid id
        any = true;
      }
    }
    try {
      if (any) this._local.setItem(this._outboxKey(), JSON.stringify(out));
      else this._local.removeItem(this._outboxKey());
    } catch (e) {
      this.emit("error", { code: "OUTBOX", message: String(e) });
    }
  }

  _join(d) {
    const p = { doc: d.id };
    if (d._s.hasPosition()) {
      p.rev = d._s.rev;
      p.epoch = d._s.epoch;
    }
    // A value over maxPresenceBytes (given to open(), or set before HELLO
    // told the limit) would refuse the JOIN, on every connection (§4.4).
    const maxP = this.limits.maxPresenceBytes;
    if (d._presence !== undefined && maxP && utf8Length(JSON.stringify(d._presence)) > maxP) {
      d._presence = undefined;
      this.emit("error", { doc: d.id, code: "INVALID_ARGUMENT", message: `presence value exceeds maxPresenceBytes ${maxP}: not sent` });
    }
    if (d._presence !== undefined) p.presence = d._presence;
    d._joinPresence = d._presence; // what this JOIN tells the room
    d._fullPresenceDue = true;
    d._joined = false;
    d._joinRefused = false;
    // "open" means every document caught up: not while this one joins.
    if (this.status === "open") this._setStatus("connected", {});
    const corr = "j" + ++this._corr;
    d._joinCorr = corr;
    try {
      this._send("JOIN", p, corr);
    } catch (e) {
      this.emit("error", { doc: d.id, code: e.code, message: e.message });
    }
  }

  _leave(d) {
    this.docs.delete(d.id);
    clearTimeout(d._retryTimer);
    this._persist(d.id);
    if (!this._hello) return Promise.resolve();
    return this._rpc("LEAVE", { doc: d.id }).catch(() => {});
  }

  _setPresence(d, state) {
    // The value is sent again with every JOIN, which the server refuses
    // whole for a value it refuses (§4.4): one it refused for what it is
    // (too large, not allowed) must not stay, or the document could never
    // be joined again.
    const max = this.limits.maxPresenceBytes;
    if (max && state !== undefined && utf8Length(JSON.stringify(state)) > max) {
      return Promise.reject(Object.assign(new Error(`presence value exceeds maxPresenceBytes ${max}`), { code: "INVALID_ARGUMENT" }));
    }
    const prev = d._presence;
    d._presence = state;
    if (!d._joined) return Promise.resolve(); // sent with the next JOIN
    return this._rpc("PRESENCE.SET", { doc: d.id, state }).catch((e) => {
      if (!isRetryable(e) && d._presence === state) d._presence = prev;
      throw e;
    });
  }

  _nextReqId() {
    const id = this._ulid();
    try {
      this._session.setItem("syncd.lastReqId", id);
    } catch (_) {
      /* best effort */
    }
    return id;
  }

  _update(d, patch) {
    if (!Array.isArray(patch) && !isObject(patch)) throw new PatchError("INVALID_ARGUMENT", "a patch is an array or an object");
    const edit = d._s.addLocal(this._nextReqId(), patch);
    const superseded = this._supersedeHeld(d, edit);
    this._persist();
    this.emit("change", { doc: d.id, value: d.value, source: "local" });
    for (const e of superseded) this.emit("reject", { doc: d.id, clientReqId: e.clientReqId, patch: e.patch, code: "SUPERSEDED", message: "not applied, and not re-issued: this client's later edits of the document set again all it set", retryable: false });
    if (d._joined) this._sendEdit(d, edit);
    return edit.clientReqId;
  }

  // _supersedeHeld applies §9.6 step 6 to re-issued merge patches still
  // waiting to be sent (held for their backoff) when a newer edit is made:
  // sent after it, they must not set again what it sets. Returns the ones
  // left with nothing, removed.
  _supersedeHeld(d, edit) {
    const s = d._s;
    const dropped = [];
    let changed = false;
    for (const e of [...s.pending]) {
      if (e === edit || e.sent || !(e.attempts > 0) || Array.isArray(e.patch)) continue;
      const patch = s.supersede(e);
      if (patch === undefined) {
        s.pending.splice(s.pending.indexOf(e), 1);
        dropped.push(e);
        changed = true;
      } else if (!deepEqual(patch, e.patch)) {
        e.patch = patch;
        changed = true;
      }
    }
    if (changed) s.recompute();
    return dropped;
  }

  // _inFlight counts d's edits sent and not yet answered.
  _inFlight(d) {
    let n = 0;
    for (const p of d._s.pending) if (p.sent) n++;
    return n;
  }

  // _pump sends d's waiting edits, in order, while the window has room
  // (MAX_IN_FLIGHT), skipping retries held for their retryAfterMs.
  _pump(d) {
    if (!d._joined) return;
    const now = Date.now();
    for (const e of [...d._s.pending]) {
      if (e.resent && e.holdUntil && e.holdUntil > now) return; // later edits wait behind a held resend
      if (e.sent || (e.holdUntil && e.holdUntil > now)) continue;
      if (this._inFlight(d) >= MAX_IN_FLIGHT) return;
      this._sendEdit(d, e);
    }
  }

  _sendEdit(d, edit) {
    // A new edit waits while the window is full; _pump sends it when an
    // answer frees a place. (Resends, already counted, always go.)
    if (!edit.sent && this._inFlight(d) >= MAX_IN_FLIGHT) return;
    // Nor does it pass a resend held for its backoff (_refused): _pump sends
    // it after the resend.
    if (!edit.sent && d._s.pending.some((p) => p.resent && p.holdUntil !== undefined && p.holdUntil > Date.now())) return;
    if (!edit.sent) {
      // Ids must reach the server in increasing order (the watermark refuses
      // a smaller one as already decided, §6.7). An edit never sent may be
      // older than one sent since (a held retry): give it a fresh id and move
      // it to the end. Resends keep their id, as §6.8 requires.
      if (this._maxSent && compareReqIds(edit.clientReqId, this._maxSent) <= 0) {
        edit.clientReqId = this._nextReqId();
        const i = d._s.pending.indexOf(edit);
        if (i >= 0) d._s.pending.splice(i, 1);
        d._s.pending.push(edit);
        d._s.recompute();
      }
      this._maxSent = edit.clientReqId;
      try {
        this._session.setItem("syncd.maxSentId", edit.clientReqId);
      } catch (_) {
        /* best effort */
      }
    }
    d._s.markSent(edit);
    this._persist();
    const p = { doc: d.id, patch: edit.patch, clientReqId: edit.clientReqId };
    if (edit.baseRev !== undefined) {
      p.baseRev = edit.baseRev;
      p.epoch = edit.epoch;
    }
    try {
      this._send("UPDATE", p);
    } catch (e) {
      // Too big to send: refuse it locally, as the server would.
      this._refused(d, edit.clientReqId, { code: e.code || "INVALID_ARGUMENT", message: e.message, retryable: false });
    }
  }

  // --- topics -------------------------------------------------------------

  /** Subscribes to a topic (re-subscribed after every reconnect). */
  subscribe(topic) {
    this.topics.add(topic);
    return this._hello ? this._subscribe(topic) : Promise.resolve();
  }
  // _subscribe sends SUBSCRIBE; a refusal for good (not allowed, a bad name)
  // takes the topic out of the set, or every reconnect would send it again.
  _subscribe(topic) {
    return this._rpc("SUBSCRIBE", { topic }).catch((e) => {
      if (!isRetryable(e) && e.code !== undefined) this.topics.delete(topic);
      throw e;
    });
  }
  unsubscribe(topic) {
    this.topics.delete(topic);
    return this._hello ? this._rpc("UNSUBSCRIBE", { topic }) : Promise.resolve();
  }
  /** Publishes to a subscribed topic. */
  publish(topic, data) {
    return this._rpc("PUBLISH", { topic, data });
  }

  // --- receiving (§9.4) ---------------------------------------------------

  _receive(m) {
    const p = isObject(m.payload) ? m.payload : {};
    const corr = m.meta && m.meta.correlationId;
    switch (m.type) {
      case "HELLO":
        return this._onHello(p);
      case "SYNC.SNAPSHOT":
      case "SYNC.DELTAS":
        return this._onSync(m.type, p, corr);
      case "PRESENCE":
        return this._onPresence(p);
      case "MESSAGE":
        this.emit("message", { doc: p.doc, topic: p.topic, data: p.data, from: p.from });
        return;
      case "ERROR":
      case "RPC_ERROR":
        return this._onError(p, corr);
      default:
        if (corr && this._rpcs.has(corr) && m.type.endsWith(".OK")) {
          const r = this._rpcs.get(corr);
          this._rpcs.delete(corr);
          clearTimeout(r.timer);
          r.resolve(p);
        }
      // REVISION_GAP (a snapshot follows), __heartbeat_ack, unknown: nothing.
    }
  }

  _onHello(p) {
    if (p.protocol !== PROTOCOL) {
      // §5.1: do not speak a protocol we do not know; do not retry.
      this._stopped = true;
      const ws = this._ws;
      this._ws = null;
      this._teardown(1000);
      if (ws) ws.close(1000, "unsupported protocol");
      this._setStatus("stopped", { code: 1000, reason: "unsupported protocol " + p.protocol });
      return;
    }
    const previous = this.clientId;
    this.clientId = p.clientId;
    // A server from before author ids shows client ids themselves.
    this.authorId = typeof p.authorId === "string" && p.authorId ? p.authorId : p.clientId;
    try {
      this._session.setItem("syncd.clientId", p.clientId);
    } catch (_) {
      /* best effort */
    }
    if (previous !== p.clientId && previous === undefined) this._persist();
    this.heartbeatMs = p.heartbeatMs || 10000;
    this.limits = isObject(p.limits) ? p.limits : {};
    this._resetBuckets();
    this._hello = true;
    clearTimeout(this._helloTimer);
    this._failuresBeforeHello = 0;
    this._good = this._tried;
    try {
      this._session.setItem("syncd.url", this.url);
    } catch (_) {
      /* best effort */
    }
    this._setStatus("connected", {});
    this._startHeartbeat();
    this._scheduleRefresh(tokenExp(this._token));
    for (const t of this.topics) this._subscribe(t).catch((e) => this.emit("error", { topic: t, code: e.code, message: e.message }));
    for (const d of this.docs.values()) this._join(d);
    this._checkEstablished();
  }

  // §6.10: send __heartbeat when we have been quiet, and give the
  // connection up when the server has been silent for heartbeatTimeoutMs.
  _startHeartbeat() {
    clearInterval(this._hbTimer);
    const every = Math.max(50, this.heartbeatMs);
    const timeout = this.limits.heartbeatTimeoutMs || 3 * every;
    this._lastHeard = Date.now();
    this._hbTimer = setInterval(() => {
      const now = Date.now();
      if (now - this._lastHeard > timeout) {
        this._drop("server silent");
        return;
      }
      if (now - this._lastSent >= every * 0.9) {
        try {
          this._send("__heartbeat");
        } catch (_) {
          /* closed */
        }
      }
    }, every);
  }

  _checkEstablished() {
    if (!this._hello) return;
    let caughtUp = true;
    let answered = true;
    for (const d of this.docs.values()) {
      if (d._joined) continue;
      caughtUp = false;
      if (!d._joinRefused) answered = false;
    }
    // §9.2 step 5: HELLO and every JOIN answered (a refusal for good is an
    // answer too): the connection is established, reset the backoff.
    if (answered) this._attempt = 0;
    if (caughtUp && this.status !== "open") this._setStatus("open", {});
  }

  _onSync(type, p, corr) {
    const d = this.docs.get(p.doc);
    if (!d) return;
    const isJoinAnswer = corr !== undefined && corr === d._joinCorr;
    if (!isJoinAnswer && d._joinCorr !== undefined && !d._joined) return; // stale: a catch-up is coming
    const s = d._s;
    let committed = [];
    let epochChanged = false;
    if (type === "SYNC.SNAPSHOT") {
      epochChanged = s.applySnapshot(p);
    } else {
      const r = s.applyDeltas(p, this.authorId);
      committed = r.committed;
      if (r.rejoin) {
        this._join(d); // out of step (§9.5): start over from our position
        return;
      }
    }
    if (isJoinAnswer) {
      d._joined = true;
      d._joinRetries = 0;
      d._joinCorr = undefined;
      const acked = this._settle(d, p.ackedReqId, type === "SYNC.SNAPSHOT", epochChanged, p.outcomes);
      committed = committed.concat(acked);
      // Presence set while the JOIN was in flight (setPresence waits for
      // the answer) was not in it: send it now.
      if (d._presence !== d._joinPresence && d._presence !== undefined) {
        const state = d._presence;
        const prev = d._joinPresence;
        this._rpc("PRESENCE.SET", { doc: d.id, state }).catch((e) => {
          if (!isRetryable(e) && d._presence === state) d._presence = prev;
          this.emit("error", { doc: d.id, code: e.code, message: e.message });
        });
      }
    } else if (epochChanged) {
      // A new history while joined (§6.4): pending edits of the old one are
      // settled as after a snapshot, with no watermark (a new epoch has none).
      this._settle(d, undefined, true, true);
    }
    this._persist();
    this.emit("change", { doc: d.id, value: d.value, source: type === "SYNC.SNAPSHOT" ? "snapshot" : "remote", committed: committed.map((e) => e.clientReqId) });
    this._checkEstablished();
    if (committed.length > 0) this._pump(d); // answers free places in the window
  }

  // _settle applies §6.8 after a JOIN answer and sends what is due: resends
  // first, then re-issued and new edits, in id order. It returns the edits
  // the answer's outcomes acknowledged.
  _settle(d, ackedReqId, snapshot, epochChanged, outcomes) {
    const s = d._s;
    const r = s.settle(ackedReqId, { snapshot, epochChanged, outcomes });
    const reissued = [];
    for (const e of r.lost) {
      // Refused, the refusal lost with the connection, or never decided
      // (steps 4 and 5): re-issue.
      if (e.attempts < this._retries) reissued.push(e);
      else this._giveUp(d, e, { code: "REFUSED", message: "refused while disconnected", retryable: false });
    }
    for (const e of r.unknown) {
      // Maybe committed, maybe not (steps 5 and 6): re-issue only if harmless.
      if (this._reissue({ clientReqId: e.clientReqId, patch: e.patch }, epochChanged ? "epoch" : "snapshot")) reissued.push(e);
      else this._giveUp(d, e, { code: "UNKNOWN_OUTCOME", message: "the edit's outcome was lost; it was not re-applied", retryable: false });
    }
    for (const e of r.resend) {
      // The copy sent on the lost connection may still be decided by the
      // server the client left: a refusal that is not a decision does not
      // settle this one (_refused).
      e.resent = true;
      e.holdUntil = undefined;
      this._sendEdit(d, e);
    }
    for (const e of r.fresh) this._sendEdit(d, e);
    for (const e of reissued) this._reissueEdit(d, e);
    // Refused while disconnected (step 3): as if the ERROR had arrived, so a
    // retryable code re-issues the edit and any other rolls it back.
    for (const [e, code] of r.refused) this._refused(d, e.clientReqId, { code, message: "refused while disconnected (from the JOIN answer's outcomes)" });
    return r.committed;
  }

  _giveUp(d, edit, err) {
    d._s.remove(edit.clientReqId);
    this._persist();
    this.emit("reject", { doc: d.id, clientReqId: edit.clientReqId, patch: edit.patch, code: err.code, message: err.message, retryable: false });
    this._pump(d);
  }

  // _reissueEdit sends an edit again under a new id (§6.7: never the old one
  // after an answer), rebased: it is applied on the current view.
  // A merge patch loses what this client's later edits set again (supersede);
  // one left with nothing is dropped and reported SUPERSEDED, and
  // _reissueEdit returns undefined.
  _reissueEdit(d, edit, send = true) {
    const s = d._s;
    const patch = s.supersede(edit);
    if (patch === undefined) {
      this._giveUp(d, edit, { code: "SUPERSEDED", message: "not applied, and not re-issued: this client's later edits of the document set again all it set" });
      return undefined;
    }
    const i = s.pending.findIndex((p) => p.clientReqId === edit.clientReqId);
    if (i >= 0) s.pending.splice(i, 1);
    const next = { clientReqId: this._nextReqId(), patch, sent: false, attempts: edit.attempts + 1, seq: edit.seq };
    s.pending.push(next);
    s.recompute();
    this._persist();
    if (send && d._joined) this._sendEdit(d, next);
    return next;
  }

  _onPresence(p) {
    const d = this.docs.get(p.doc);
    if (!d) return;
    // Before a JOIN's answer, a PRESENCE is the old subscription's (the full
    // room comes after the answer, §6.4): taken for the full room, it would
    // make the real one merge as a change, missing who left meanwhile.
    if (d._joinCorr !== undefined && !d._joined) return;
    const list = Array.isArray(p.clients) ? p.clients : [];
    if (d._fullPresenceDue) {
      d.room = new Map();
      d._fullPresenceDue = false;
    }
    for (const c of list) if (c && c.clientId) d.room.set(c.clientId, c.state);
    for (const id of Array.isArray(p.left) ? p.left : []) d.room.delete(id);
    this.emit("presence", { doc: d.id, room: d.room, clients: list, left: p.left || [] });
  }

  _onError(p, corr) {
    const det = isObject(p.details) ? p.details : {};
    if (det.messagesPerSecond !== undefined && !det.clientReqId) {
      // The flood guard fired anyway (§9.4): send nothing for retryAfterMs.
      const b = this._buckets.msg;
      b.tokens = Math.min(b.tokens, -((p.retryAfterMs || 100) / 1000) * b.rate);
      // It does not say which message it dropped. If that was an edit, its
      // echo would never come: with edits awaiting theirs, start over on a
      // new connection, whose JOIN answers settle them (§6.8), as after
      // any lost connection.
      if ([...this.docs.values()].some((d) => d._s.pending.some((e) => e.sent))) {
        this._drop("flood guard");
        return;
      }
    }
    if (det.clientReqId && det.doc) {
      const d = this.docs.get(det.doc);
      if (d && d._s.findPending(det.clientReqId)) {
        this._refused(d, det.clientReqId, p);
        return;
      }
    }
    const rpc = corr !== undefined ? this._rpcs.get(corr) : undefined;
    if (rpc) {
      this._rpcs.delete(corr);
      clearTimeout(rpc.timer);
      rpc.reject(Object.assign(new Error(p.message || p.code), { code: p.code, details: p.details, retryable: p.retryable, retryAfterMs: p.retryAfterMs }));
      return;
    }
    // A refused JOIN: matched by its correlationId (or details.doc).
    for (const d of this.docs.values()) {
      if ((corr !== undefined && corr === d._joinCorr) || (corr === undefined && det.doc === d.id && d._joinCorr !== undefined && !("clientReqId" in det))) {
        d._joinCorr = undefined;
        this.emit("error", { doc: d.id, code: p.code, message: p.message });
        if (p.code === "INVALID_ARGUMENT" && d._joinPresence !== undefined && d._presence === d._joinPresence) {
          // Refused for its presence value (the only part of a JOIN of a
          // valid id the server can find invalid, §4.4): join without it.
          d._presence = undefined;
          this._join(d);
          return;
        }
        // §9.4: a retryable refusal is retried after retryAfterMs (except too
        // many documents, which needs a LEAVE first).
        // Backing off while the server cannot answer (a store election, say).
        // Only the per-connection document count (details.limit
        // "maxDocsPerConnection", §6.11) needs a LEAVE; the creation rate
        // and a full server pass with time.
        if (isRetryable(p) && p.details?.limit !== "maxDocsPerConnection") {
          const n = d._joinRetries || 0;
          d._joinRetries = n + 1;
          d._retryTimer = setTimeout(() => {
            if (this._hello && this.docs.get(d.id) === d) this._join(d);
          }, UNDECIDED.has(p.code) ? undecidedWait(n, p) : p.retryAfterMs || 100);
        } else {
          d._joinRefused = true; // answered, for good on this connection
          this._checkEstablished();
        }
        return;
      }
    }
    // A token refresh took a joined document away (§4.10): the server left
    // it. Its edits wait, unsent, for a re-join (the next connection's).
    const revoked = corr === undefined && p.code === "PERMISSION_DENIED" && det.doc && !("clientReqId" in det) && this.docs.get(det.doc);
    if (revoked && revoked._joined) {
      revoked._joined = false;
      this.emit("error", { doc: det.doc, code: p.code, message: p.message, revoked: true });
      return;
    }
    // ...or a subscribed topic (§4.10): left for good, not renewed at the
    // next connection only to be refused again.
    if (corr === undefined && p.code === "PERMISSION_DENIED" && typeof det.topic === "string" && this.topics.has(det.topic)) {
      this.topics.delete(det.topic);
      this.emit("error", { topic: det.topic, code: p.code, message: p.message, revoked: true });
      return;
    }
    this.emit("error", { code: p.code, message: p.message, details: p.details, retryAfterMs: p.retryAfterMs });
  }

  // _refused handles the refusal of a pending edit (§9.6 step 5): roll back,
  // then re-issue it under a new id if retryable, else report it.
  _refused(d, clientReqId, p) {
    const edit = d._s.findPending(clientReqId);
    if (!edit) return;
    if (edit.resent && UNDECIDED.has(p.code)) {
      // Not applied by this attempt, but the copy sent on the lost
      // connection may still be decided elsewhere: under a new id both could
      // be applied; under the same id only one can (§6.7).
      const n = edit.resends || 0;
      if (n < MAX_UNDECIDED_RETRIES) {
        const wait = undecidedWait(n, p);
        edit.resends = n + 1;
        edit.holdUntil = Date.now() + wait;
        const timer = setTimeout(() => {
          this._editTimers.delete(timer);
          if (this.docs.get(d.id) !== d || !d._s.pending.includes(edit) || edit.holdUntil === undefined || !d._joined) return;
          edit.holdUntil = undefined;
          this._sendEdit(d, edit); // same id, baseRev and epoch
          this._pump(d);
        }, wait);
        this._editTimers.add(timer);
        return;
      }
      this._giveUp(d, edit, { code: "UNKNOWN_OUTCOME", message: `the edit was resent after a lost connection and the server could not decide it (${p.code}): it may or may not have been applied` });
      this.emit("change", { doc: d.id, value: d.value, source: "rollback" });
      return;
    }
    if (p.code === "ALREADY_EXISTS" && edit.resent && edit.attempts < this._retries) {
      // Sent after the earlier decision's operation, if it committed (§6.7):
      // for a resent edit whose operation was not seen, no copy was applied
      // or ever can be, so a new id is safe.
      if (this._reissueEdit(d, edit) !== undefined) this.emit("change", { doc: d.id, value: d.value, source: "rebase" });
      return;
    }
    if (p.code === "ALREADY_EXISTS") {
      // Decided earlier and its operation not seen: treat it as refused.
      this._giveUp(d, edit, { code: p.code, message: p.message });
      this.emit("change", { doc: d.id, value: d.value, source: "rollback" });
      return;
    }
    // A refusal the server could not decide (a store election, say) is worth
    // more attempts, further apart, than a conflict.
    const undecided = UNDECIDED.has(p.code);
    const limit = undecided && this._retries >= 0 ? Math.max(this._retries, MAX_UNDECIDED_RETRIES) : this._retries;
    if (isRetryable(p) && edit.attempts < limit) {
      // Re-issue it under a new id, rebased on the current state (§9.6 step
      // 5): it goes to the end of pending at once (so it stays in the view
      // and the outbox) and is sent after retryAfterMs. _sendEdit gives it a
      // fresher id then if later edits went out meanwhile.
      const wait = undecided ? undecidedWait(edit.attempts, p) : p.retryAfterMs || 50;
      const next = this._reissueEdit(d, edit, false);
      if (next === undefined) return; // superseded by this client's later edits
      next.holdUntil = Date.now() + wait; // _pump leaves it until then
      this.emit("change", { doc: d.id, value: d.value, source: "rebase" });
      this._pump(d); // the refused edit's place in the window is free
      const timer = setTimeout(() => {
        this._editTimers.delete(timer);
        if (this.docs.get(d.id) !== d || next.sent || !d._s.pending.includes(next)) return;
        // ABORTED for an epoch mismatch: re-join first; the JOIN answer sends it.
        if (p.code === "ABORTED" && edit.epoch !== undefined && edit.epoch !== d._s.epoch && d._joined) this._join(d);
        else if (d._joined) this._sendEdit(d, next);
      }, wait);
      this._editTimers.add(timer);
      return;
    }
    d._s.remove(clientReqId);
    this._persist();
    this.emit("change", { doc: d.id, value: d.value, source: "rollback" });
    this.emit("reject", { doc: d.id, clientReqId, patch: edit.patch, code: p.code, message: p.message, retryable: !!p.retryable, details: p.details });
    this._pump(d);
  }
}

function utf8Length(s) {
  if (typeof TextEncoder !== "undefined") return new TextEncoder().encode(s).length;
  return unescape(encodeURIComponent(s)).length;
}
