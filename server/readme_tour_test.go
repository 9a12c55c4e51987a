package server_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/server"
)

// TestReadmeTour sends the README tour's WebSocket messages (the lines
// marked →) as they are, after the tour's HTTP edit, and checks the
// answers have the types the tour shows (←), the PRESENCE included: what a
// reader pastes must work.
func TestReadmeTour(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var sends []string
	var answers []string
	for _, line := range strings.Split(string(readme), "\n") {
		line = strings.TrimSpace(line)
		if m, ok := strings.CutPrefix(line, "→ "); ok {
			sends = append(sends, m)
			answers = append(answers, "|")
		} else if m, ok := strings.CutPrefix(line, "← "); ok && len(answers) > 0 {
			var env struct{ Type string }
			if err := json.Unmarshal([]byte(strings.ReplaceAll(strings.ReplaceAll(m, "{…}", "{}"), "…", "0")), &env); err != nil || env.Type == "" {
				// Elided payloads are not JSON; the type is what counts.
				env.Type = strings.SplitN(strings.TrimPrefix(m, `{"type":"`), `"`, 2)[0]
			}
			answers[len(answers)-1] += env.Type + "|"
		}
	}
	if len(sends) < 2 {
		t.Fatalf("found %d tour messages in README.md", len(sends))
	}
	ev := newEnv(t, syncd.Options{}, server.Options{})
	ev.commit("lists:home", map[string]any{"title": "Groceries", "items": map[string]any{"milk": false}})
	c := ev.dial("")
	for i, m := range sends {
		c.sendRaw(m)
		for _, want := range strings.Split(strings.Trim(answers[i], "|"), "|") {
			got := c.read()
			if got.Type == protocol.TypeError || got.Type != want {
				t.Fatalf("tour message %s answered %s, want %s", m, got, want)
			}
		}
	}
}
