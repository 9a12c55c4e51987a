// Tests of the demo page's pure parts (the page itself runs under the
// Chromium end-to-end tests in e2e/).
import { test } from "node:test";
import assert from "node:assert/strict";
import { validDocId } from "../syncd.js";
import { listDocId } from "../demo/listid.js";

test("every list name becomes a valid document id, the same name always the same one", () => {
  const cases = {
    demo: "todos:demo",
    "my groceries": "todos:my-groceries",
    "  spaced  out  ": "todos:spaced-out",
    "épicerie du coin": "todos:epicerie-du-coin",
    "team:7/notes": "todos:team:7/notes",
    "a?b&c=d": "todos:a-b-c-d",
  };
  for (const [name, want] of Object.entries(cases)) assert.equal(listDocId(name), want, name);
  for (const name of ["买菜", "🛒🛒", "???", "x".repeat(500), "Ünïcödé + spaces", "a\u0000b"]) {
    const id = listDocId(name);
    assert.ok(validDocId(id), `${JSON.stringify(name)} → ${id}`);
    assert.equal(listDocId(name), id, "stable");
  }
  assert.notEqual(listDocId("买菜"), listDocId("🛒🛒"), "distinct names with nothing left get distinct ids");
});
