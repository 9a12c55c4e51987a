// TypeScript declarations of syncd.js, the browser client of syncd
// (protocol syncd/1, PROTOCOL.md).

export declare const PROTOCOL: "syncd/1";

/** Any JSON value. */
export type JSONValue = null | boolean | number | string | JSONValue[] | { [key: string]: JSONValue };
export type JSONObject = { [key: string]: JSONValue };

/** One JSON Patch (RFC 6902) operation. */
export type JSONPatchOp =
  | { op: "add" | "replace" | "test"; path: string; value: JSONValue }
  | { op: "remove"; path: string }
  | { op: "move" | "copy"; from: string; path: string };

/** An edit: a JSON Patch (array) or a JSON Merge Patch (object). */
export type Patch = JSONPatchOp[] | JSONObject;

/** An error code of PROTOCOL.md §7, or one of an embedding application. */
export type ErrorCode =
  | "UNAUTHENTICATED" | "PERMISSION_DENIED" | "INVALID_ARGUMENT" | "FAILED_PRECONDITION"
  | "NOT_FOUND" | "ALREADY_EXISTS" | "UNIMPLEMENTED" | "CANCELLED" | "DEADLINE_EXCEEDED"
  | "RESOURCE_EXHAUSTED" | "UNAVAILABLE" | "ABORTED" | "INTERNAL"
  /** Client-side: the edit's outcome was lost (snapshot or new epoch) and it was not re-applied. */
  | "UNKNOWN_OUTCOME"
  /** Client-side: refused while disconnected, and the refusal was lost. */
  | "REFUSED"
  /** Client-side: not applied and not re-issued, because this client's later edits set again all it set. */
  | "SUPERSEDED"
  /** Client-side (the "error" event): the outbox could not be saved to localStorage. */
  | "OUTBOX"
  | (string & {});

export type Status = "idle" | "connecting" | "connected" | "open" | "offline" | "stopped";

export interface StatusEvent {
  status: Status;
  /** The close code that led here (offline, stopped). */
  code?: number;
  reason?: string;
  /** Milliseconds until the next attempt (offline). */
  retryInMs?: number;
  /** Several attempts in a row closed before HELLO: the token may be bad (§2.4). */
  suspectCredentials?: boolean;
  attempt?: number;
}

export interface ChangeEvent {
  doc: string;
  value: JSONObject;
  /** local: an own edit; remote: operations; snapshot; rollback: a refusal; rebase: a retried edit. */
  source: "local" | "remote" | "snapshot" | "rollback" | "rebase";
  /** Request ids of own edits this change acknowledged. */
  committed?: string[];
}

export interface RejectEvent {
  doc: string;
  clientReqId: string;
  patch: Patch;
  code: ErrorCode;
  message: string;
  retryable: boolean;
  details?: JSONObject;
}

export interface PresenceEvent {
  doc: string;
  /** The whole room after this change: presence by author id. */
  room: Map<string, JSONValue>;
  clients: { clientId: string; state: JSONValue }[];
  left: string[];
}

export interface MessageEvent {
  doc?: string;
  topic?: string;
  data: JSONValue;
  from: string;
}

export interface ErrorEvent {
  doc?: string;
  topic?: string;
  code?: ErrorCode;
  message?: string;
  details?: unknown;
  retryAfterMs?: number;
  /** A refreshed token took the document (doc) away, and it re-joins on the next connection; or the topic (topic), which is left for good (§4.10). */
  revoked?: boolean;
}

export interface EventMap {
  change: ChangeEvent;
  reject: RejectEvent;
  presence: PresenceEvent;
  message: MessageEvent;
  status: StatusEvent;
  error: ErrorEvent;
}

/** The subset of the Web Storage API the client uses. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** A constructor with the browser WebSocket API (the DOM's, or a compatible one such as ws's). */
export interface WebSocketConstructor {
  new (url: string, protocols?: string | string[]): WebSocketLike;
}
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => any) | null;
  onmessage: ((ev: { data: any }) => any) | null;
  onclose: ((ev: { code: number; reason: string }) => any) | null;
  onerror: ((ev: any) => any) | null;
}

/** What became of one request id, from a JOIN answer's outcomes (PROTOCOL.md §6.8). */
export interface Outcome {
  clientReqId: string;
  /** Committed as this revision. */
  rev?: number;
  /** Refused with this error code. */
  code?: string;
}

export interface PendingEdit {
  clientReqId: string;
  patch: Patch;
  baseRev?: number;
  epoch?: string;
  sent: boolean;
  attempts: number;
  /** Sent again after a lost connection (§6.8): a refusal that is not a decision does not settle it. */
  resent?: boolean;
  /** Sends of the same id after such refusals. */
  resends?: number;
  /** Creation order in the document, kept when re-issued. */
  seq?: number;
}

export interface SyncClientOptions {
  /** ws:// or wss:// URL of the server's /ws (required unless urls is given). */
  url?: string;
  /**
   * More endpoints of the same service (the instances of one syncd cluster,
   * which share every document's epoch and revisions), tried after url, in
   * order. The client stays with the one that answered (remembered in
   * sessionStorage across a reload) and fails over to the next when it
   * drops, refuses, or closes for its own reasons (PROTOCOL.md §9.3).
   */
  urls?: string[];
  /**
   * A bearer token, or a function returning one: called before each
   * connection and, while connected, before the token's exp, to send a fresh
   * one with AUTH.REFRESH (§4.10). With a function, a 4401 close (token
   * expired) reconnects instead of stopping.
   */
  token?: string | (() => string | undefined | Promise<string | undefined>);
  /** Where the token goes: the access_token query (default) or a bearer.<token> subprotocol. */
  tokenIn?: "query" | "subprotocol";
  /** The WebSocket constructor (default globalThis.WebSocket). */
  WebSocket?: WebSocketConstructor | (new (url: string, protocols?: string | string[]) => any);
  /** Where the clientId and the last request id are kept (default sessionStorage). */
  sessionStorage?: StorageLike;
  /** Where the outbox of pending edits is kept (default localStorage). */
  localStorage?: StorageLike;
  /** Reconnect backoff, in milliseconds (defaults 500 and 30000). */
  backoff?: { base?: number; cap?: number };
  /** RPC timeout in milliseconds (default 10000); also how long a connection attempt waits for HELLO before it is given up (§9.3). */
  requestTimeoutMs?: number;
  /** How many times a refused retryable edit is re-issued (default 3). */
  retries?: number;
  /**
   * Whether to re-issue an edit whose outcome was lost (after a snapshot or
   * a new epoch). Default: merge patches only (harmless to apply twice).
   */
  reissue?: (edit: { clientReqId: string; patch: Patch }, reason: "snapshot" | "epoch") => boolean;
  /**
   * Detect a duplicated tab (which inherits sessionStorage, hence the client
   * id) with a BroadcastChannel handshake, and take a fresh id then. Default:
   * on in browsers.
   */
  detectDuplicateTab?: boolean;
  /** How long the handshake waits for an answer, in milliseconds (default 150). */
  tabCheckMs?: number;
  /** Connect at once (default true). */
  autoConnect?: boolean;
  /** Clock for request ids (tests). */
  now?: () => number;
  /** Random source for the backoff jitter, in [0, 1) (tests). */
  random?: () => number;
}

export declare class Emitter {
  on<K extends keyof EventMap>(name: K, fn: (ev: EventMap[K]) => void): () => void;
  off<K extends keyof EventMap>(name: K, fn: (ev: EventMap[K]) => void): void;
  emit<K extends keyof EventMap>(name: K, ev: EventMap[K]): void;
}

/** A document the application has open. */
export declare class SyncDoc {
  readonly client: SyncClient;
  readonly id: string;
  /** The confirmed state with the pending edits applied: what to show. */
  readonly value: JSONObject;
  readonly rev: number | undefined;
  readonly epoch: string | undefined;
  /** Edits not settled yet, in id order. */
  readonly pending: { clientReqId: string; patch: Patch; sent: boolean }[];
  /** Presence by client id (this client's own included). */
  room: Map<string, JSONValue>;
  /**
   * Edits optimistically; returns the request id. A held retry may go out
   * under a newer id: reject events carry the id actually used.
   */
  update(patch: Patch): string;
  /** Sets this client's presence (sent with the next JOIN if not joined now). */
  setPresence(state: JSONValue): Promise<unknown>;
  /** Sends a room message to the other clients in the room. */
  publish(data: JSONValue): Promise<unknown>;
  /** Leaves the document and forgets it locally. */
  leave(): Promise<void>;
}

export declare class SyncClient extends Emitter {
  constructor(options: SyncClientOptions);
  readonly options: SyncClientOptions;
  /** This tab's client id, its private key; undefined until the first HELLO if the tab has none. */
  readonly clientId: string | undefined;
  /**
   * This client's public name (HELLO.authorId): what operations, presence and
   * room messages show as its clientId. Undefined until the first HELLO.
   */
  readonly authorId: string | undefined;
  readonly status: Status;
  /** The endpoint of the current (or last) connection attempt: one of url and urls. */
  readonly url: string;
  readonly docs: Map<string, SyncDoc>;
  readonly topics: Set<string>;
  /** From HELLO. */
  readonly heartbeatMs: number;
  readonly limits: Record<string, number>;
  /** Starts connecting (again, after close()); local state is kept. */
  connect(): void;
  /** While offline (waiting retryInMs), reconnects now; false in any other status. */
  reconnectNow(): boolean;
  /** Closes the connection (1000) and stops reconnecting; local state is kept. */
  close(): void;
  /** Opens (joins) a document, restoring pending edits from the outbox. Throws (code INVALID_ARGUMENT) for an invalid document id. */
  open(id: string, options?: { presence?: JSONValue }): SyncDoc;
  subscribe(topic: string): Promise<unknown>;
  unsubscribe(topic: string): Promise<unknown>;
  /** Publishes to a subscribed topic. */
  publish(topic: string, data: JSONValue): Promise<unknown>;
  /** A HEARTBEAT RPC; resolves on HEARTBEAT.OK. */
  heartbeat(): Promise<unknown>;
  /**
   * Replaces this connection's token (AUTH.REFRESH, §4.10); resolves with
   * its exp (seconds; absent if none). Rejects with code UNAUTHENTICATED
   * (invalid token) or PERMISSION_DENIED (another user's token).
   */
  refreshToken(token: string): Promise<{ exp?: number }>;
}

/** A JWT's exp claim in seconds, read without verifying it; undefined if none. */
export declare function tokenExp(token: string | undefined): number | undefined;

// The reconciliation logic, exported for tests and tools.

export declare class PatchError extends Error {
  code: "INVALID_ARGUMENT" | "FAILED_PRECONDITION";
}
export declare function deepEqual(a: unknown, b: unknown): boolean;
/** Request-id order of §6.7: length first, then bytes. */
export declare function compareReqIds(a: string, b: string): number;
export declare function parsePointer(pointer: string): string[];
export declare function applyJsonPatch<T = JSONValue>(doc: T, patch: JSONPatchOp[]): JSONValue;
export declare function applyMergePatch(doc: JSONValue | undefined, patch: JSONValue): JSONValue;
/** Applies an edit as the server does; the result must be an object. */
export declare function applyPatch(doc: JSONObject, patch: Patch): JSONObject;
export declare function applyOperation(doc: JSONObject, op: { type: "patch" | "merge"; payload: Patch }): JSONObject;

/** An operation of SYNC.DELTAS (PROTOCOL.md §5.3). */
export interface Operation {
  rev: number;
  type: "patch" | "merge";
  payload: Patch;
  clientId?: string;
  clientReqId?: string;
  ts: number;
  /**
   * Only in a catch-up answer: the operation combines revisions firstRev … rev
   * of other clients (it then has no clientId or clientReqId). Absent: firstRev = rev.
   */
  firstRev?: number;
}

export interface UlidSource {
  (): string;
  last(): string;
  observe(id: string): void;
}
export declare function createUlid(options?: { now?: () => number; random?: (n: number) => Uint8Array; last?: string }): UlidSource;

/** The most edits of one document sent and not yet answered (the outcomes a JOIN answer carries, PROTOCOL.md §6.8). */
export declare const MAX_IN_FLIGHT: number;
/** Whether id is a document id (PROTOCOL.md §6.1). */
export declare function validDocId(id: string): boolean;
export declare function closeAction(code: number): "stop" | "now" | "backoff";
/** The endpoints a client tries: url first, then urls in order, each once. */
export declare function endpoints(options: { url?: string; urls?: string[] }): string[];
/**
 * The index (of n) of the endpoint to try next: after an established
 * connection to `good` ended with `code`, the same one (for closes about the
 * client itself: 1009, 4401, 4408, 4429, 4503) or the next; after a failed
 * attempt at `tried`, the next one.
 */
export declare function nextEndpoint(args: { n: number; good: number; tried: number; hadHello: boolean; code: number }): number;
export declare function reconnectDelay(code: number, attempt: number, options?: { base?: number; cap?: number; random?: () => number }): number;

export interface SavedDoc {
  epoch?: string;
  rev?: number;
  confirmed: JSONObject;
  pending: PendingEdit[];
}

export declare class DocState {
  constructor(id: string, saved?: SavedDoc);
  id: string;
  epoch: string | undefined;
  rev: number | undefined;
  confirmed: JSONObject;
  pending: PendingEdit[];
  view: JSONObject;
  hasPosition(): boolean;
  recompute(): JSONObject;
  addLocal(clientReqId: string, patch: Patch): PendingEdit;
  markSent(edit: PendingEdit): void;
  findPending(clientReqId: string): PendingEdit | undefined;
  applyDeltas(m: { epoch: string; fromRev: number; toRev: number; operations: Operation[] }, authorId: string | undefined): { rejoin: boolean; committed: PendingEdit[]; changed?: boolean };
  applySnapshot(m: { epoch: string; rev: number; state: JSONObject }): boolean;
  settle(
    ackedReqId: string | undefined,
    options?: { snapshot?: boolean; epochChanged?: boolean; outcomes?: Outcome[] },
  ): { resend: PendingEdit[]; committed: PendingEdit[]; refused: [PendingEdit, string][]; lost: PendingEdit[]; unknown: PendingEdit[]; fresh: PendingEdit[] };
  remove(clientReqId: string): PendingEdit | undefined;
  save(): SavedDoc;
  /** Records what an acknowledged edit of this client set (for supersede). */
  rememberOwn(edit: PendingEdit): void;
  /**
   * The patch to re-issue a refused edit with: a merge patch without the
   * members this client's later edits set again, undefined when nothing is
   * left; a JSON Patch as it is.
   */
  supersede(edit: PendingEdit): Patch | undefined;
}
