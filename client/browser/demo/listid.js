// The demo's list names: any name a person types in ?list= becomes a
// document id, so that no list is left "connected" with nothing working.

// listDocId turns any list name into a document id (PROTOCOL.md §6.1:
// letters, digits and : _ . / -, at most 128): accents are dropped, any other
// run of characters becomes "-". A name with nothing left (say, only CJK
// characters) gets a stable id from a hash of it, so that every name has a
// list of its own and the same name always the same one.
export function listDocId(listName) {
  const prefix = "todos:";
  const slug = listName
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/[^A-Za-z0-9:_./-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 128 - prefix.length);
  if (slug) return prefix + slug;
  let h = 0x811c9dc5; // FNV-1a over the UTF-16 code units
  for (let i = 0; i < listName.length; i++) h = Math.imul(h ^ listName.charCodeAt(i), 0x01000193) >>> 0;
  return prefix + "list-" + h.toString(36);
}
