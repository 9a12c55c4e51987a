// Package browser holds the browser client of syncd, syncd.js (a
// dependency-free ES module) and its TypeScript declarations, embedded so
// that the server can serve them from its own binary.
package browser

import "embed"

// Files holds syncd.js and syncd.d.ts, at the root of the file system.
//
//go:embed syncd.js syncd.d.ts
var Files embed.FS
