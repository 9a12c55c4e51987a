package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/deltasync/syncd/protocol"
)

// TestAttackPathologicalTokenPatterns is the pattern attack
// against a real syncd: tokens whose docs patterns are runs of stars that
// cannot match, and JOINs of 128-character ids that make a backtracking
// matcher try every split (C(128, 8) ≈ 1.4·10¹² for eight stars: days of
// CPU per JOIN). Four attackers pipeline 100 JOINs each; every one must be
// refused (PERMISSION_DENIED) within the read timeout, and meanwhile the
// server stays up, small and responsive to an unrelated client.
func TestAttackPathologicalTokenPatterns(t *testing.T) {
	p := startSyncd(t, "-store", "memory", "-jwt-secret", jwtSecret)
	var patterns []string
	for stars := 4; stars <= 8; stars++ {
		patterns = append(patterns, strings.Repeat("*a", stars)+"*b", strings.Repeat("?*", stars)+"c")
	}
	evil := token(t, jwtSecret, "mallory", &docsClaim{Read: patterns, Write: patterns}, time.Hour)
	ids := []string{strings.Repeat("a", 128), strings.Repeat("a", 127) + "d", "a/" + strings.Repeat("a", 126)}

	const attackers, joins = 4, 100
	var conns []*client
	for range attackers {
		c := dialProc(t, p, dialOpts{token: evil})
		defer c.ws.Close()
		conns = append(conns, c)
	}
	for _, c := range conns {
		for i := range joins {
			c.send(protocol.TypeJoin, map[string]any{"doc": ids[i%len(ids)]})
		}
	}
	// While the server works through them, everyone else is served.
	requireServes(t, p, dialOpts{token: token(t, jwtSecret, "bystander", nil, time.Hour)})

	for _, c := range conns {
		for range joins {
			c.expectError(protocol.CodePermissionDenied)
		}
	}
	requireServes(t, p, dialOpts{token: token(t, jwtSecret, "bystander", nil, time.Hour)})
	p.RequireRSSBelow(200 << 20)
}
