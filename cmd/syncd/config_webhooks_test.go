package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWebhookFlags: webhooks are off by default; the endpoint flags, their
// SYNCD_ forms and the endpoints file; and the checks.
func TestWebhookFlags(t *testing.T) {
	m, err := parse(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := m.Config.Webhooks
	if eps, err := w.endpoints(); err != nil || len(eps) != 0 {
		t.Fatalf("default endpoints %v, %v", eps, err)
	}
	if w.Debounce != time.Second || w.OutboxMax != 100000 || w.Timeout != 10*time.Second || w.RetryMin != time.Second || w.RetryMax != 5*time.Minute {
		t.Fatalf("defaults %+v", w)
	}

	file := filepath.Join(t.TempDir(), "hooks.json")
	os.WriteFile(file, []byte(`[{"name":"search","url":"https://search.internal/h","secret":"s1","events":["document.changed"]}]`), 0o600)
	m, err = parse(t, []string{"-webhook-debounce", "250ms"}, map[string]string{
		"SYNCD_WEBHOOK": "http://127.0.0.1:9/h", "SYNCD_WEBHOOK_SECRET": "s2", "SYNCD_WEBHOOK_EVENTS": "presence.joined, presence.left",
		"SYNCD_WEBHOOKS": file,
	})
	if err != nil {
		t.Fatal(err)
	}
	eps, err := m.Config.Webhooks.endpoints()
	if err != nil || len(eps) != 2 || m.Config.Webhooks.Debounce != 250*time.Millisecond {
		t.Fatalf("endpoints %+v, %v", eps, err)
	}
	if eps[0].Name != "search" || eps[0].Secret != "s1" || eps[1].Name != "http://127.0.0.1:9/h" || eps[1].Secret != "s2" ||
		strings.Join(eps[1].Events, ",") != "presence.joined,presence.left" {
		t.Fatalf("endpoints %+v", eps)
	}

	// A default name leaves out what may hold credentials: it shows on
	// /metrics, which needs no key.
	m, err = parse(t, []string{"-webhook", "https://user:pw@hooks.example/in?token=t0p#frag", "-webhook-secret", "s"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if eps, err := m.Config.Webhooks.endpoints(); err != nil || len(eps) != 1 || eps[0].Name != "https://hooks.example/in" {
		t.Fatalf("endpoint %+v, %v: want the name https://hooks.example/in", eps, err)
	}

	for _, bad := range [][]string{
		{"-webhook", "http://127.0.0.1:9/h"},                                                 // no secret
		{"-webhook", "ftp://x/h", "-webhook-secret", "s"},                                    // not http
		{"-webhook", "http://x/h", "-webhook-secret", "s", "-webhook-events", "doc.touched"}, // unknown type
		{"-webhook-secret", "s"},                                                             // no URL
		{"-webhooks", filepath.Join(t.TempDir(), "absent.json")},
		{"-webhook-debounce", "0s"},
		{"-webhook-outbox-max", "0"},
		{"-webhook-retry-min", "2m", "-webhook-retry-max", "1m"},
	} {
		if _, err := parse(t, bad, nil); err == nil || !strings.Contains(err.Error(), "webhook") {
			t.Errorf("%v: accepted (%v)", bad, err)
		}
	}
}
