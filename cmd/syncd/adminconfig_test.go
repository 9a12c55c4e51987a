package main

import (
	"testing"
	"time"

	"github.com/deltasync/syncd/server"
)

func TestAdminFlags(t *testing.T) {
	m, err := parse(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.AdminKey != "" || m.Config.AdminSessionTTL != server.DefaultAdminSessionTTL {
		t.Fatalf("defaults: admin key %q, session TTL %v", m.Config.AdminKey, m.Config.AdminSessionTTL)
	}
	m, err = parse(t, []string{"-admin-session-ttl", "30m"}, map[string]string{"SYNCD_ADMIN_KEY": "from-env"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.AdminKey != "from-env" || m.Config.AdminSessionTTL != 30*time.Minute {
		t.Fatalf("admin key %q, session TTL %v", m.Config.AdminKey, m.Config.AdminSessionTTL)
	}
	m.Config.Store = "memory"
	if d := m.Config.storeDescription(""); d != "memory (nothing survives a restart)" {
		t.Errorf("store description %q", d)
	}
}
