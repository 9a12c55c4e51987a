// Type-checks syncd.d.ts against the way an application uses the module
// (`npx tsc --noEmit -p .`); never run.
import { SyncClient, applyPatch, createUlid, type ChangeEvent, type Patch, type RejectEvent } from "./syncd.js";

const client = new SyncClient({ url: "wss://sync.example.com/ws", token: () => "jwt", tokenIn: "subprotocol" });
const todos = client.open("todos:42", { presence: { name: "Ada" } });
const cluster = new SyncClient({ urls: ["wss://a.example.com/ws", "wss://b.example.com/ws"], autoConnect: false });
const where: string = cluster.url;
console.log(where);

client.on("change", (e: ChangeEvent) => {
  if (e.doc === todos.id) render(e.value.items);
});
client.on("reject", (e: RejectEvent) => console.warn(e.code, e.clientReqId, e.message));
client.on("presence", (e) => console.log([...e.room.keys()], e.left.length));
client.on("message", (m) => console.log(m.from, m.data, m.doc ?? m.topic));
const off = client.on("status", (s) => console.log(s.status, s.code, s.suspectCredentials));
off();

const add: Patch = [{ op: "add", path: "/items/-", value: { text: "milk", done: false } }];
const id: string = todos.update(add);
todos.update({ title: "Groceries" });
void todos.setPresence({ name: "Ada", typing: true });
void todos.publish({ chat: "hi" });
void client.subscribe("lobby").then(() => client.publish("lobby", "hello"));
void client.heartbeat();
void client.refreshToken("jwt").then((ok) => console.log(ok.exp ?? "no exp"));
const rev: number | undefined = todos.rev;
const ids: string[] = todos.pending.map((p) => p.clientReqId);
const next = createUlid();
const s: string = next();
const v = applyPatch({ a: 1 }, { b: 2 });
console.log(id, rev, ids, s, v.b, client.status, client.clientId);

function render(_items: unknown) {}

// @ts-expect-error: a patch is an array or an object, not a string
todos.update("nope");
