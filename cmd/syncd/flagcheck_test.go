package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFlagValuesRefusedClearly: a value that would silently become the
// default, a timeout no longer than the interval, a duration without a unit:
// each is refused with a message that names the flag, the value (and the
// variable it came from) and what is allowed.
func TestFlagValuesRefusedClearly(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  map[string]string
		want []string
	}{
		{args: []string{"-max-doc-bytes", "-5"}, want: []string{"-max-doc-bytes", "-5", "greater than 0"}},
		{args: []string{"-rate", "0"}, want: []string{"-rate", "0", "greater than 0"}},
		{args: []string{"-update-rate", "-1"}, want: []string{"-update-rate", "-1", "greater than 0"}},
		{args: []string{"-queue-bytes", "0"}, want: []string{"-queue-bytes", "greater than 0"}},
		{args: []string{"-max-message-bytes", "0"}, want: []string{"-max-message-bytes", "greater than 0"}},
		{args: []string{"-max-docs-per-conn", "0"}, want: []string{"-max-docs-per-conn", "greater than 0"}},
		{args: []string{"-snapshot-interval", "0"}, want: []string{"-snapshot-interval", "greater than 0"}},
		{args: []string{"-retention", "0"}, want: []string{"-retention", "0", "greater than 0"}},
		{args: []string{"-ring-size", "1"}, want: []string{"-ring-size", "1", "at least 2"}},
		{args: []string{"-group-commit-wait", "1s"}, want: []string{"-group-commit-wait", "1s", "at most 100ms"}},
		{args: []string{"-heartbeat-timeout", "1s"}, want: []string{"-heartbeat-timeout", "1s", "longer than -heartbeat (10s)"}},
		{args: []string{"-heartbeat", "30s"}, want: []string{"-heartbeat-timeout", "25s", "longer than -heartbeat (30s)"}},
		{args: []string{"-heartbeat", "0s"}, want: []string{"-heartbeat", "0s", "greater than 0"}},
		{args: []string{"-heartbeat", "5"}, want: []string{"-heartbeat", `"5"`, "use e.g. 5s"}},
		{args: []string{"-heartbeat-timeout", "soon"}, want: []string{"-heartbeat-timeout", `"soon"`, "e.g. 10s"}},
		{env: map[string]string{"SYNCD_HEARTBEAT": "5"}, want: []string{"SYNCD_HEARTBEAT", `"5"`, "-heartbeat", "use e.g. 5s"}},
		{env: map[string]string{"SYNCD_RING_SIZE": "abc"}, want: []string{"SYNCD_RING_SIZE", `"abc"`}},
		{env: map[string]string{"SYNCD_RATE": "0"}, want: []string{"-rate", "SYNCD_RATE", "greater than 0"}},
		// The transport, bus, webhook and JWT flags too (they once said
		// only "-max-conns must not be negative", without the value or
		// the variable).
		{env: map[string]string{"SYNCD_MAX_CONNS": "-1"}, want: []string{"-max-conns", "-1", "SYNCD_MAX_CONNS", "at least 0"}},
		{args: []string{"-max-conns-per-addr", "0"}, want: []string{"-max-conns-per-addr", "0", "greater than 0"}},
		{args: []string{"-write-timeout", "0s"}, want: []string{"-write-timeout", "0s", "greater than 0"}},
		{args: []string{"-max-publish-bytes", "0"}, want: []string{"-max-publish-bytes", "0", "greater than 0"}},
		{args: []string{"-room-queue-bytes", "-1"}, want: []string{"-room-queue-bytes", "-1", "at least 0"}},
		{args: []string{"-bus-peer-timeout", "1s"}, want: []string{"-bus-peer-timeout", "1s", "longer than -bus-heartbeat (2s)"}},
		{env: map[string]string{"SYNCD_BUS_ROOM_WAIT": "0s"}, want: []string{"-bus-room-wait", "0s", "SYNCD_BUS_ROOM_WAIT", "greater than 0"}},
		{args: []string{"-webhook-outbox-max", "0"}, want: []string{"-webhook-outbox-max", "0", "at least 1"}},
		{args: []string{"-webhook-retry-max", "500ms"}, want: []string{"-webhook-retry-max", "500ms", "at least -webhook-retry-min (1s)"}},
		{args: []string{"-jwt-leeway", "-1s"}, want: []string{"-jwt-leeway", "-1s", "from 0s to 1h0m0s"}},
		{args: []string{"-jwt-leeway", "2h"}, want: []string{"-jwt-leeway", "2h0m0s", "from 0s to 1h0m0s"}},
	} {
		_, err := parse(t, c.args, c.env)
		if err == nil {
			t.Errorf("%v %v accepted", c.args, c.env)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v %v: error %q lacks %q", c.args, c.env, err, w)
			}
		}
	}
	// Negative retention keeps every operation: allowed.
	if _, err := parse(t, []string{"-retention", "-1"}, nil); err != nil {
		t.Errorf("-retention -1: %v", err)
	}
}

// TestSecondSyncdOnSameData: a second syncd on a data directory in use says
// so, and, never having served, does not log "syncd stopped".
func TestSecondSyncdOnSameData(t *testing.T) {
	dir := t.TempDir()
	boot(t, dir)
	m := NewMain()
	var logs bytes.Buffer
	m.Stderr = io.Discard
	m.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	if err := m.ParseFlags([]string{"-data", dir, "-addr", "127.0.0.1:0"}, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := m.Run(ctx)
	if err == nil {
		m.Close()
		t.Fatal("a second syncd on the same data started")
	}
	if want := "the data directory " + dir + " is in use by another syncd"; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q, want it to say %q", err, want)
	}
	if strings.Contains(logs.String(), "syncd stopped") {
		t.Fatalf("a failed start logged:\n%s", logs.String())
	}
}

// TestUnusableDataDirNamedOnce: a data directory that cannot be used is
// named once in the error, not once per layer.
func TestUnusableDataDirNamedOnce(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := writeFile(file); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{file, filepath.Join(file, "sub")} {
		m := NewMain()
		m.Stderr = io.Discard
		m.Logger = slog.New(slog.DiscardHandler)
		if err := m.ParseFlags([]string{"-data", dir, "-addr", "127.0.0.1:0"}, func(string) string { return "" }); err != nil {
			t.Fatal(err)
		}
		err := m.Run(context.Background())
		if err == nil {
			m.Close()
			t.Fatalf("-data %s: started", dir)
		}
		if n := strings.Count(err.Error(), file); n != 1 {
			t.Errorf("-data %s: the path appears %d times in %q", dir, n, err)
		}
	}
}

// TestMemoryStoreLogsNoDataDir: -store memory does not log a data
// directory it never uses.
func TestMemoryStoreLogsNoDataDir(t *testing.T) {
	m := NewMain()
	var logs bytes.Buffer
	m.Stderr = io.Discard
	m.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	if err := m.ParseFlags([]string{"-store", "memory", "-addr", "127.0.0.1:0"}, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		t.Fatal(err)
	}
	m.Close()
	out := logs.String()
	if !strings.Contains(out, "store=memory") || strings.Contains(out, "data=") {
		t.Fatalf("logs:\n%s", out)
	}
}

func writeFile(path string) error { return os.WriteFile(path, []byte("x"), 0o600) }
