package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestClusterFlagsRefusedClearly: -store nats flags that cannot work
// together are refused before anything starts, naming the flags.
func TestClusterFlagsRefusedClearly(t *testing.T) {
	both := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(both, []byte("a-secret-in-a-file-of-enough-bytes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	peers := []string{"-cluster-listen", "127.0.0.1:6222", "-cluster-peers", "127.0.0.1:6222,127.0.0.1:6223,127.0.0.1:6224"}
	// Clipped: each case's append makes its own copy.
	cluster := slices.Clip(append([]string{"-store", "nats", "-cluster-name", "c"}, peers...))
	for _, c := range []struct {
		args []string
		env  map[string]string
		want []string
	}{
		{args: []string{"-cluster-listen", "127.0.0.1:6222"}, want: []string{"-cluster-listen", "only with -store nats"}},
		{args: []string{"-store", "memory", "-nats-url", "nats://n1:4222"}, want: []string{"-nats-url", "only with -store nats", "memory"}},
		{args: []string{"-nats-replicas", "3"}, want: []string{"-nats-replicas", "only with -store nats"}},
		{args: []string{"-nats-cutoff", "5s"}, want: []string{"-nats-cutoff", "only with -store nats"}},
		{args: []string{"-store", "nats", "-nats-cutoff", "500ms"}, want: []string{"-nats-cutoff 500ms", "at least 1s"}},
		{env: map[string]string{"SYNCD_CLUSTER_PEERS": "127.0.0.1:6223"}, want: []string{"-cluster-peers", "only with -store nats"}},
		{args: []string{"-store", "nats", "-nats-url", "nats://n1:4222", "-nats-replicas", "3", "-cluster-listen", "127.0.0.1:6222"}, want: []string{"-nats-url", "-cluster-listen", "exclude each other"}},
		{args: append([]string{"-store", "nats"}, peers...), want: []string{"-cluster-peers needs -cluster-name"}},
		{args: []string{"-store", "nats", "-cluster-peers", "127.0.0.1:6223", "-cluster-name", "c"}, want: []string{"need -cluster-listen"}},
		{args: []string{"-store", "nats", "-cluster-name", "c", "-cluster-listen", "127.0.0.1:6222"}, want: []string{"-cluster-listen needs -cluster-peers"}},
		{args: []string{"-store", "nats", "-cluster-name", "c", "-cluster-listen", "127.0.0.1:6222", "-cluster-peers", "127.0.0.1:6222"}, want: []string{"-cluster-listen needs -cluster-peers"}},
		{args: []string{"-store", "nats", "-cluster-name", "c", "-cluster-listen", "0.0.0.0:6222", "-cluster-peers", "10.0.0.2:6222"}, want: []string{"-cluster-listen 0.0.0.0:6222 is beyond loopback", "-cluster-secret"}},
		{args: []string{"-store", "nats", "-cluster-name", "c", "-cluster-listen", "10.0.0.1:0", "-cluster-peers", "10.0.0.2:6222"}, want: []string{"-cluster-listen", `"10.0.0.1:0"`, "port from 1"}},
		{args: []string{"-store", "nats", "-cluster-name", "c", "-cluster-listen", "10.0.0.1:6222", "-cluster-peers", "10.0.0.2"}, want: []string{"-cluster-peers", `"10.0.0.2"`, "host:port"}},
		{args: append(cluster, "-cluster-secret", "short"), want: []string{"-cluster-secret", "5 bytes, not shown", "at least 16"}},
		{args: cluster, env: map[string]string{"SYNCD_CLUSTER_SECRET": "short"}, want: []string{"-cluster-secret", "SYNCD_CLUSTER_SECRET", "at least 16"}},
		{args: append(cluster, "-cluster-secret", "long-enough-secret-here", "-cluster-secret-file", both), want: []string{"give one"}},
		{args: append(cluster, "-cluster-secret-file", filepath.Join(t.TempDir(), "absent")), want: []string{"-cluster-secret-file", "absent"}},
		{args: append(cluster, "-cluster-tls-cert", "c.pem"), want: []string{"-cluster-tls-cert, -cluster-tls-key and -cluster-tls-ca go together"}},
		{args: append(cluster, "-cluster-node", "has space"), want: []string{"-cluster-node", `"has space"`, "letters, digits"}},
		{args: []string{"-store", "nats", "-cluster-name", "has space", "-cluster-listen", "127.0.0.1:6222", "-cluster-peers", "127.0.0.1:6223"}, want: []string{"-cluster-name"}},
		{args: []string{"-store", "nats", "-nats-replicas", "3"}, want: []string{"-nats-replicas 3", "1 node"}},
		{args: append(cluster, "-nats-replicas", "6"), want: []string{"-nats-replicas", "from 0 to 5"}},
		{args: []string{"-store", "nats", "-nats-user", "u"}, want: []string{"-nats-user", "only with -nats-url"}},
		{args: []string{"-store", "nats", "-nats-url", "nats://n1:4222"}, want: []string{"-nats-url needs -nats-replicas"}},
		{args: []string{"-store", "nats", "-nats-url", "n1:4222", "-nats-replicas", "1"}, want: []string{"-nats-url", "nats://host:4222"}},
		{env: map[string]string{"SYNCD_NATS_PREFIX": "a b"}, want: []string{"-nats-prefix", "SYNCD_NATS_PREFIX", "letters"}},
		{args: []string{"-store", "nats", "-nats-url", "nats://n1:4222", "-nats-replicas", "1", "-nats-user", "u"}, want: []string{"-nats-user and -nats-password go together"}},
		{args: []string{"-store", "nats", "-nats-url", "nats://n1:4222", "-nats-replicas", "1", "-nats-creds", "c.creds"}, env: map[string]string{"SYNCD_NATS_TOKEN": "t"}, want: []string{"one way to authenticate"}},
		{args: []string{"-store", "nats", "-nats-prefix", "a.b"}, want: []string{"-nats-prefix", `"a.b"`}},
		{args: []string{"-store", "nats", "-nats-start-timeout", "0s"}, want: []string{"-nats-start-timeout", "greater than 0"}},
		{args: []string{"-store", "nats", "-max-doc-bytes", "100000000"}, want: []string{"-max-doc-bytes", "at most"}},
		{args: []string{"-store", "redis"}, want: []string{"bolt, memory or nats"}},
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
}

// TestClusterFlagsAccepted: the combinations that work, the replica
// defaults, and the route secret from the environment or a file.
func TestClusterFlagsAccepted(t *testing.T) {
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte("  a-secret-in-a-file-of-enough-bytes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	public := slices.Clip([]string{"-store", "nats", "-cluster-name", "c", "-cluster-listen", "10.0.0.1:6222", "-cluster-peers", "10.0.0.1:6222,10.0.0.2:6222,10.0.0.3:6222"})
	for _, c := range []struct {
		args     []string
		env      map[string]string
		replicas int
		secret   string
	}{
		{args: []string{"-store", "nats"}, replicas: 1},
		{args: []string{"-store", "nats", "-cluster-node", "n1", "-nats-prefix", "docs_1"}, replicas: 1},
		{args: []string{"-store", "nats", "-cluster-name", "c", "-cluster-listen", "127.0.0.1:6222", "-cluster-peers", "127.0.0.1:6223"}, replicas: 2},
		{args: public, env: map[string]string{"SYNCD_CLUSTER_SECRET": "from-the-environment"}, replicas: 3, secret: "from-the-environment"},
		{args: append(public, "-cluster-secret-file", file, "-nats-replicas", "1"), replicas: 1, secret: "a-secret-in-a-file-of-enough-bytes"},
		{args: append(public, "-cluster-tls-cert", "c.pem", "-cluster-tls-key", "k.pem", "-cluster-tls-ca", "ca.pem"), replicas: 3},
		{args: []string{"-store", "nats", "-nats-url", "nats://n1:4222,tls://n2:4222", "-nats-replicas", "3"}, env: map[string]string{"SYNCD_NATS_TOKEN": "t"}, replicas: 3},
		{args: []string{"-store", "nats", "-nats-url", "nats://n1:4222", "-nats-replicas", "1", "-nats-user", "u", "-nats-password", "p", "-nats-tls-ca", "ca.pem"}, replicas: 1},
	} {
		m, err := parse(t, c.args, c.env)
		if err != nil {
			t.Errorf("%v %v: %v", c.args, c.env, err)
			continue
		}
		k := &m.Config.Cluster
		if got := k.replicas(); got != c.replicas {
			t.Errorf("%v: replicas %d, want %d", c.args, got, c.replicas)
		}
		if got, _ := k.routeSecret(); got != c.secret {
			t.Errorf("%v: secret %q, want %q", c.args, got, c.secret)
		}
	}
	// The defaults.
	m, err := parse(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if k := m.Config.Cluster; k.Prefix != "syncd" || k.Replicas != 0 || k.StartTimeout.String() != "1m0s" || k.URL != "" || k.Listen != "" {
		t.Fatalf("cluster defaults %+v", k)
	}
}
