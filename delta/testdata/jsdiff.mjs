// jsdiff.mjs: the JavaScript half of TestJSDifferential (../jsdiff_test.go).
// It reads cases, one JSON object a line, {raw?, doc, patches}, applies each
// case's patches in order with the browser client's functions (skipping the
// ones that fail, as DocState.recompute does) and prints, a line per case,
// {steps: [{ok, doc} | {ok: false, code}]}.
//
// raw cases use applyJsonPatch (arrays) and applyMergePatch (anything
// else), with no rule on the root; the others use applyPatch, the client's
// equivalent of an UPDATE on the server.
import { readFileSync } from "node:fs";
import { applyPatch, applyJsonPatch, applyMergePatch, PatchError } from "../../client/browser/syncd.js";

const lines = readFileSync(process.argv[2], "utf8").split("\n").filter((l) => l !== "");
const out = [];
for (const line of lines) {
  const c = JSON.parse(line);
  let doc = c.doc;
  const steps = [];
  for (const p of c.patches) {
    const before = JSON.stringify(doc);
    let step;
    try {
      let next;
      if (c.raw) next = Array.isArray(p) ? applyJsonPatch(doc, p) : applyMergePatch(doc, p);
      else next = applyPatch(doc, p);
      step = { ok: true, doc: next };
    } catch (e) {
      step = { ok: false, code: e instanceof PatchError ? e.code : "THROWN " + String(e && e.message) };
    }
    if (JSON.stringify(doc) !== before) step = { ok: false, code: "MUTATED its input" };
    if (step.ok) doc = step.doc;
    steps.push(step);
  }
  out.push(JSON.stringify({ steps }));
}
process.stdout.write(out.join("\n") + "\n");
