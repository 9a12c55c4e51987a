// Package browser holds the browser client of syncd, syncd.js (a
// dependency-free ES module) and its TypeScript declarations, and the demo
// page (a shared todo list over syncd.js), embedded so that the server can
// serve them from its own binary.
package browser

import "embed"

// Files holds syncd.js and syncd.d.ts at the root of the file system, and
// the demo page under demo/.
//
//go:embed syncd.js syncd.d.ts demo/index.html demo/demo.js demo/demo.css demo/listid.js demo/favicon.svg
var Files embed.FS
