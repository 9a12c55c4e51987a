package natsnode

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestSingleNode: one node starts with JetStream usable in process, syncs
// before acknowledging, accepts the largest document's message, keeps its
// generated name across a restart on the same data directory, and keeps
// what it acknowledged.
func TestSingleNode(t *testing.T) {
	dir := t.TempDir()
	var logs logBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n, err := Start(ctx, Options{DataDir: dir, Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	name := n.Name()
	if kept, err := os.ReadFile(filepath.Join(dir, NameFile)); err != nil || strings.TrimSpace(string(kept)) != name {
		t.Fatalf("name file %q (%v), node name %q", kept, err, name)
	}
	if cfg := n.srv.JetStreamConfig(); cfg == nil || !cfg.SyncAlways {
		t.Fatalf("JetStream config %+v: want sync always", cfg)
	}
	if err := n.Ready(); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	nc, err := n.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := nc.MaxPayload(), int64(MaxMessageBytes(DefaultMaxDocBytes)); got != want {
		t.Fatalf("max_payload %d, want %d", got, want)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Replicas: 1, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	// The largest document's snapshot plus headers fits in one message.
	big := make([]byte, DefaultMaxDocBytes)
	msg := &nats.Msg{Subject: "t.doc", Data: big, Header: nats.Header{"Syncd-Rev": []string{"1"}}}
	if ack, err := js.PublishMsg(ctx, msg); err != nil || ack.Sequence != 1 {
		t.Fatalf("publish: %+v %v", ack, err)
	}
	// A second node on the same data directory is refused while it runs.
	if _, err := Start(ctx, Options{DataDir: dir, Logger: logs.logger()}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second node on the same directory: %v, want ErrLocked", err)
	}
	nc.Close()
	n.Close()
	if !strings.Contains(logs.String(), "nats node started") || !strings.Contains(logs.String(), "name_generated=true") {
		t.Fatalf("logs:\n%s", logs.String())
	}

	// Restart: the kept name is reused, and the message is there.
	n, err = Start(ctx, Options{DataDir: dir, Logger: logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if n.Name() != name {
		t.Fatalf("restarted as %q, want %q", n.Name(), name)
	}
	nc, err = n.Connect("test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ = jetstream.New(nc)
	s, err := js.Stream(ctx, "T")
	if err != nil {
		t.Fatal(err)
	}
	if m, err := s.GetLastMsgForSubject(ctx, "t.doc"); err != nil || len(m.Data) != len(big) || m.Header.Get("Syncd-Rev") != "1" {
		t.Fatalf("after restart: %v", err)
	}
}

// TestNodeNameKept: a name given on the first start is kept; a different
// one on a later start is refused, naming both; an invalid one is refused.
func TestNodeNameKept(t *testing.T) {
	dir := t.TempDir()
	name, generated, err := resolveName(dir, "alpha")
	if err != nil || name != "alpha" || generated {
		t.Fatalf("first start: %q %v %v", name, generated, err)
	}
	if name, _, err := resolveName(dir, ""); err != nil || name != "alpha" {
		t.Fatalf("later start without a name: %q %v", name, err)
	}
	_, _, err = resolveName(dir, "beta")
	if err == nil || !strings.Contains(err.Error(), `"beta"`) || !strings.Contains(err.Error(), `"alpha"`) {
		t.Fatalf("another name: %v", err)
	}
	if _, err := (Options{DataDir: dir, Name: "has space"}).withDefaults(); err == nil || !strings.Contains(err.Error(), "node name") {
		t.Fatalf("invalid name: %v", err)
	}
	// Generated names are valid and differ.
	a, _ := generateName()
	b, _ := generateName()
	if CheckNodeName(a) != nil || a == b {
		t.Fatalf("generated %q and %q", a, b)
	}
}
