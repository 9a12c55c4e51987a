package main

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// -hosts and -trusted-proxies: parsing, the start-up warnings, and the Host
// check of the running program.

func TestAccessFlags(t *testing.T) {
	m, err := parse(t, []string{"-hosts", "sync.example.com, *.example.org,10.0.0.0/8"}, map[string]string{
		"SYNCD_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7",
		"SYNCD_HOSTS":           "ignored.example", // the flag wins
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := splitList(m.Config.Hosts); len(got) != 3 || got[1] != "*.example.org" {
		t.Fatalf("hosts %q", got)
	}
	if got := splitList(m.Config.TrustedProxies); len(got) != 2 || got[1] != "192.0.2.7" {
		t.Fatalf("trusted proxies %q", got)
	}
	if m, err := parse(t, nil, map[string]string{"SYNCD_HOSTS": "*"}); err != nil || m.Config.Hosts != "*" {
		t.Fatalf("SYNCD_HOSTS: %v %q", err, m.Config.Hosts)
	}
	for name, args := range map[string][]string{
		"host with a bad port":   {"-hosts", "example.com:http"},
		"host with a path":       {"-hosts", "example.com/x"},
		"host with a wild port":  {"-hosts", "*.example.com:8x"},
		"bad CIDR":               {"-hosts", "10.0.0.0/40"},
		"proxy not an address":   {"-trusted-proxies", "proxy.example.com"},
		"proxy CIDR too long":    {"-trusted-proxies", "10.0.0.0/33"},
		"proxy a half address":   {"-trusted-proxies", "10.0.0"},
		"an empty name pattern":  {"-hosts", "*."},
		"a wildcard inside name": {"-hosts", "sync.*.example.com"},
	} {
		if _, err := parse(t, args, nil); err == nil {
			t.Errorf("%s: %q accepted", name, args)
		}
	}
}

// fakeListener reports an address without listening on it.
type fakeListener struct {
	net.Listener
	addr net.Addr
}

func (l fakeListener) Addr() net.Addr { return l.addr }

func TestHostsWarnings(t *testing.T) {
	for _, tc := range []struct {
		name, addr, hosts, proxies string
		want                       []string
	}{
		{name: "loopback, default hosts", addr: "127.0.0.1:8080"},
		{name: "public, default hosts", addr: "192.0.2.10:8080", want: []string{"-hosts is not set"}},
		{name: "wildcard, default hosts", addr: "0.0.0.0:8080", want: []string{"-hosts is not set"}},
		{name: "public, hosts set", addr: "192.0.2.10:8080", hosts: "sync.example.com"},
		{name: "loopback behind a proxy", addr: "127.0.0.1:8080", proxies: "127.0.0.1", want: []string{"-trusted-proxies is set without -hosts"}},
		{name: "proxy and hosts", addr: "127.0.0.1:8080", hosts: "sync.example.com", proxies: "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			m := NewMain()
			m.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			m.Config.Hosts, m.Config.TrustedProxies = tc.hosts, tc.proxies
			tcp, err := net.ResolveTCPAddr("tcp", tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			m.ln = fakeListener{addr: tcp}
			m.warnOpenHosts()
			out := logs.String()
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("log lacks %q:\n%s", w, out)
				}
			}
			if len(tc.want) == 0 && out != "" {
				t.Errorf("unexpected warning:\n%s", out)
			}
		})
	}
}

// TestHostsFlagServes boots syncd with -hosts naming a host that resolves
// nowhere: requests naming it are served (through 127.0.0.1), requests
// naming the address itself are refused with 421, and the health routes
// answer any host.
func TestHostsFlagServes(t *testing.T) {
	m := boot(t, t.TempDir(), "-store", "memory", "-hosts", "sync.example.test")
	get := func(path, host string) int {
		t.Helper()
		req, err := http.NewRequest("GET", "http://"+m.Addr()+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		path, host string
		want       int
	}{
		{"/", "sync.example.test", http.StatusOK},
		{"/", "SYNC.example.test.:80", http.StatusOK},
		{"/", m.Addr(), http.StatusMisdirectedRequest},
		{"/", "localhost", http.StatusMisdirectedRequest},
		{"/metrics", "evil.example", http.StatusMisdirectedRequest},
		{"/healthz", "evil.example", http.StatusOK},
		{"/readyz", m.Addr(), http.StatusOK},
	} {
		if got := get(tc.path, tc.host); got != tc.want {
			t.Errorf("GET %s Host %s: HTTP %d, want %d", tc.path, tc.host, got, tc.want)
		}
	}
}

// TestPprofRefusesOtherHosts: the profiler listens on loopback only, and a
// DNS-rebinding page calling it by another name is refused, so that it
// cannot read /debug/pprof/cmdline (the flags, secrets included).
func TestPprofRefusesOtherHosts(t *testing.T) {
	m := boot(t, t.TempDir(), "-store", "memory", "-pprof-addr", "127.0.0.1:0", "-jwt-secret", "a-secret-in-the-command-line-0123456789")
	_, port, _ := net.SplitHostPort(m.pprofAddr)
	get := func(host string) (int, string) {
		t.Helper()
		req, err := http.NewRequest("GET", "http://"+m.pprofAddr+"/debug/pprof/cmdline", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		return resp.StatusCode, string(b)
	}
	if status, body := get("evil.com:" + port); status != http.StatusMisdirectedRequest || strings.Contains(body, "a-secret") {
		t.Fatalf("Host evil.com: HTTP %d %q, want 421 without the command line", status, body)
	}
	if status, _ := get("localhost:" + port); status != http.StatusOK {
		t.Fatalf("Host localhost: HTTP %d, want 200", status)
	}
}
