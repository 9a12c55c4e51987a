package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/server"
)

// Flags and SYNCD_* environment variables.

func parse(t *testing.T, args []string, env map[string]string) (*Main, error) {
	t.Helper()
	m := NewMain()
	var stderr bytes.Buffer
	m.Stderr = &stderr
	err := m.ParseFlags(args, func(k string) string { return env[k] })
	return m, err
}

func TestFlagDefaults(t *testing.T) {
	m, err := parse(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Config
	if c.Addr != "127.0.0.1:8080" || c.DataDir != "./data" || c.Store != "bolt" || c.RingSize != 1024 ||
		c.SnapshotInterval != 1000 || c.Retention != 100000 || c.HeartbeatInterval != 10*time.Second ||
		c.HeartbeatTimeout != 25*time.Second || c.APIKey != "" || c.JWTSecret != "" || c.LogFormat != "text" {
		t.Fatalf("defaults %+v", c)
	}
	if c.HTTPIdleTimeout != 60*time.Second || c.HTTPReadTimeout != 30*time.Second || c.HTTPWriteTimeout != 30*time.Second ||
		c.Drain != 5*time.Second || c.ShutdownTimeout != 10*time.Second || c.shutdownBound() != 20*time.Second {
		t.Fatalf("HTTP and shutdown defaults %+v", c)
	}
	// NewMain already holds the defaults, for a program built in Go.
	if NewMain().Config != c {
		t.Fatal("NewMain's config differs from the parsed defaults")
	}
}

func TestFlagsAndEnvironment(t *testing.T) {
	env := map[string]string{
		"SYNCD_ADDR":              "127.0.0.1:9999",
		"SYNCD_RING_SIZE":         "64",
		"SYNCD_JWT_SECRET":        "from-env-from-env-from-env-from-env",
		"SYNCD_HEARTBEAT":         "5s",
		"SYNCD_HEARTBEAT_TIMEOUT": "20s",
		"SYNCD_RATE":              "12.5",
		"SYNCD_API_KEY":           "env-key",
		"SYNCD_STORE":             "memory",
		"SYNCD_POLICY":            "scores/=lww,ledger/=strict",
		"SYNCD_ORIGINS":           "https://a.example, https://*.b.example",
		"SYNCD_MAX_DOCS_PER_CONN": "7",
		"SYNCD_LOG_FORMAT":        "json",
	}
	m, err := parse(t, []string{"-ring-size", "128", "-api-key=flag-key", "-store", "bolt"}, env)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Config
	// A flag on the command line wins over the environment.
	if c.RingSize != 128 || c.APIKey != "flag-key" || c.Store != "bolt" {
		t.Fatalf("flags lost to env: %+v", c)
	}
	// The environment fills in the rest.
	if c.Addr != "127.0.0.1:9999" || c.JWTSecret != "from-env-from-env-from-env-from-env" || c.HeartbeatInterval != 5*time.Second ||
		c.HeartbeatTimeout != 20*time.Second || c.MessagesPerSecond != 12.5 || c.MaxDocsPerConn != 7 || c.LogFormat != "json" {
		t.Fatalf("env not applied: %+v", c)
	}
	pol, err := c.policies()
	if err != nil || pol["scores/"] != syncd.PolicyLWW || pol["ledger/"] != syncd.PolicyStrict {
		t.Fatalf("policies %v %v", pol, err)
	}
	if o := c.origins(); len(o) != 2 || o[0] != "https://a.example" || o[1] != "https://*.b.example" {
		t.Fatalf("origins %q", o)
	}
}

func TestBadFlagValuesRejected(t *testing.T) {
	for name, c := range map[string]struct {
		args []string
		env  map[string]string
	}{
		"ring size not a number":    {args: []string{"-ring-size", "many"}},
		"ring size too small":       {args: []string{"-ring-size", "1"}},
		"env ring size":             {env: map[string]string{"SYNCD_RING_SIZE": "abc"}},
		"env duration without unit": {env: map[string]string{"SYNCD_HEARTBEAT": "15"}},
		"env rate":                  {env: map[string]string{"SYNCD_RATE": "fast"}},
		"unknown store":             {args: []string{"-store", "redis"}},
		"env unknown store":         {env: map[string]string{"SYNCD_STORE": "sqlite"}},
		"tls cert without key":      {args: []string{"-tls-cert", "c.pem"}},
		"tls key without cert":      {env: map[string]string{"SYNCD_TLS_KEY": "k.pem"}},
		"bad policy":                {args: []string{"-policy", "scores/=fastest"}},
		"policy without =":          {args: []string{"-policy", "scores"}},
		"bad log format":            {args: []string{"-log-format", "xml"}},
		"bad log level":             {args: []string{"-log-level", "loud"}},
		"env bad log level":         {env: map[string]string{"SYNCD_LOG_LEVEL": "verbose"}},
		"unknown flag":              {args: []string{"-frobnicate"}},
		"stray argument":            {args: []string{"serve"}},
		"bad duration":              {args: []string{"-heartbeat-timeout", "soon"}},
		"negative drain":            {args: []string{"-drain", "-1s"}},
		"zero idle timeout":         {args: []string{"-http-idle-timeout", "0"}},
		"zero read timeout":         {env: map[string]string{"SYNCD_HTTP_READ_TIMEOUT": "0s"}},
		"negative write timeout":    {args: []string{"-http-write-timeout", "-5s"}},
		"zero shutdown timeout":     {args: []string{"-shutdown-timeout", "0"}},
		"no loaded documents":       {args: []string{"-max-loaded-docs", "0"}},
		"loaded bytes too few":      {env: map[string]string{"SYNCD_MAX_LOADED_BYTES": "4096"}},
		"env no document creation":  {env: map[string]string{"SYNCD_DOCS_PER_MINUTE": "0"}},
		"negative user creation":    {args: []string{"-user-docs-per-minute", "-5"}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := parse(t, c.args, c.env); err == nil {
				t.Fatalf("accepted %v %v", c.args, c.env)
			}
		})
	}
	// A bad value in the environment is not an error when the flag is
	// given: the flag wins, the variable is not read.
	if _, err := parse(t, []string{"-ring-size", "64"}, map[string]string{"SYNCD_RING_SIZE": "abc"}); err != nil {
		t.Fatalf("env consulted for a flag on the command line: %v", err)
	}
}

func TestHelp(t *testing.T) {
	m := NewMain()
	var stderr bytes.Buffer
	m.Stderr = &stderr
	if err := m.ParseFlags([]string{"-h"}, func(string) string { return "" }); err != errHelp {
		t.Fatalf("-h: %v, want errHelp", err)
	}
	out := stderr.String()
	for _, want := range []string{"Usage: syncd", "SYNCD_", "-addr", "-data", "-jwt-secret", "-api-key", "-store", "-retention", "-heartbeat", "127.0.0.1:8080", "(default 10s)"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
	// flag asks a zero value of each flag's type for its String, to tell
	// a default worth printing: a wrapper must survive being zero.
	if strings.Contains(out, "panic") {
		t.Errorf("help reports a panic:\n%s", out)
	}
}

// -group-commit-wait reaches the engine: 0 (adaptive) by default, and a
// negative value turns the wait off.
func TestGroupCommitWaitFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want time.Duration
	}{
		{nil, 0},
		{[]string{"-group-commit-wait", "-1ns"}, -1},
		{[]string{"-group-commit-wait", "300us"}, 300 * time.Microsecond},
	} {
		m, err := parse(t, c.args, nil)
		if err != nil {
			t.Fatal(err)
		}
		opts, err := m.engineOptions(server.NewMetrics(), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if opts.GroupCommitWait != c.want {
			t.Errorf("%v: GroupCommitWait %v, want %v", c.args, opts.GroupCommitWait, c.want)
		}
	}
}
