package natsnode

import (
	"context"
	"strings"
	"testing"
)

// TestOptionsRefusedClearly: cluster options that cannot work are refused
// before anything starts, with an error saying why.
func TestOptionsRefusedClearly(t *testing.T) {
	dir := t.TempDir()
	const secret = "sixteen-bytes-at-least"
	for _, c := range []struct {
		name string
		o    Options
		want string
	}{
		{"no data dir", Options{}, "data directory"},
		{"every interface without auth", Options{ClusterName: "c", ClusterListen: "0.0.0.0:6222", Peers: []string{"10.0.0.2:6222"}}, "refusing to listen for routes on 0.0.0.0:6222"},
		{"empty host without auth", Options{ClusterName: "c", ClusterListen: ":6222", Peers: []string{"10.0.0.2:6222"}}, "beyond loopback"},
		{"public address without auth", Options{ClusterName: "c", ClusterListen: "192.0.2.1:6222", Peers: []string{"192.0.2.2:6222"}}, "route secret, route TLS"},
		{"host name without auth", Options{ClusterName: "c", ClusterListen: "node1:6222", Peers: []string{"node2:6222"}}, "beyond loopback"},
		{"short secret", Options{ClusterName: "c", ClusterListen: "0.0.0.0:6222", Peers: []string{"10.0.0.2:6222"}, RouteSecret: "short"}, "at least 16"},
		{"partial TLS", Options{ClusterName: "c", ClusterListen: "0.0.0.0:6222", Peers: []string{"10.0.0.2:6222"}, RouteTLS: &TLSFiles{CertFile: "c.pem"}}, "route TLS needs"},
		{"no cluster name", Options{ClusterListen: "127.0.0.1:6222", Peers: []string{"127.0.0.1:6223"}}, "needs a name"},
		{"no peers", Options{ClusterName: "c", ClusterListen: "127.0.0.1:6222"}, "other nodes"},
		{"only itself", Options{ClusterName: "c", ClusterListen: "127.0.0.1:6222", Peers: []string{"127.0.0.1:6222"}}, "name only this node"},
		{"peers without listen", Options{Peers: []string{"127.0.0.1:6223"}}, "without a cluster address"},
		{"cluster name without listen", Options{ClusterName: "c"}, "without a cluster address"},
		{"secret without listen", Options{RouteSecret: secret}, "without a cluster address"},
		{"port 0", Options{ClusterName: "c", ClusterListen: "127.0.0.1:0", Peers: []string{"127.0.0.1:6223"}}, "port from 1"},
		{"bad peer", Options{ClusterName: "c", ClusterListen: "127.0.0.1:6222", Peers: []string{"127.0.0.1"}}, `peer "127.0.0.1"`},
		{"huge documents", Options{MaxDocBytes: 100 << 20}, "largest document"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.o.DataDir == "" && c.name != "no data dir" {
				c.o.DataDir = dir
			}
			n, err := Start(context.Background(), c.o)
			if err == nil {
				n.Close()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q lacks %q", err, c.want)
			}
		})
	}
	// With a secret or TLS, any address is allowed.
	for _, o := range []Options{
		{DataDir: dir, ClusterName: "c", ClusterListen: "0.0.0.0:6222", Peers: []string{"10.0.0.2:6222"}, RouteSecret: secret},
		{DataDir: dir, ClusterName: "c", ClusterListen: ":6222", Peers: []string{"10.0.0.2:6222"}, RouteTLS: &TLSFiles{"c.pem", "k.pem", "ca.pem"}},
		{DataDir: dir, ClusterName: "c", ClusterListen: "localhost:6222", Peers: []string{"localhost:6223"}},
	} {
		if _, err := o.withDefaults(); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

func TestVersionAtLeast(t *testing.T) {
	for _, c := range []struct {
		v    string
		want bool
	}{
		{"2.11.0", true}, {"2.15.3", true}, {"3.0.0", true}, {"v2.11.1", true}, {"2.11.0-beta.2", true},
		{"2.10.29", false}, {"2.9.25", false}, {"1.99.99", false}, {"", false}, {"2.x.0", false}, {"2.11", false},
	} {
		if got := versionAtLeast(c.v, MinServerVersion); got != c.want {
			t.Errorf("versionAtLeast(%q, %q) = %v", c.v, MinServerVersion, got)
		}
	}
}
