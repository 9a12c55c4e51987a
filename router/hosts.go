package router

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Allowed hosts, against DNS rebinding. A web page on evil.com can make
// its own name resolve to 127.0.0.1 (or any address the victim's browser
// reaches), and the browser then talks to the server as evil.com: it sends
// "Host: evil.com" and "Origin: http://evil.com", which look same-origin.
// An Origin check cannot tell that apart from a real page of the server;
// only the Host can: the server knows the names it answers to, and a
// request for any other name is refused before it reaches a handler.
//
// Without a configured list the default depends on the connection, so
// that it protects the common case and breaks no deployment: a connection
// made to a loopback address may name only a loopback host (localhost,
// 127.0.0.1 or [::1], any port), since nothing but a rebinding page calls
// a loopback server by another name; a connection made to any other
// address may name any host (the server cannot guess its public names;
// give them to be protected there too).

// HostList is a parsed allow-list of Host header values. The zero value is
// the default described above.
type HostList struct {
	set     bool // from a non-empty list; otherwise the default
	any     bool // "*"
	entries []hostEntry
}

// hostEntry is one allowed host: a name, a "*.suffix", or a range of IP
// addresses, with a port or any port.
type hostEntry struct {
	name   string       // lower case, no trailing dot; "" for addresses
	suffix bool         // "*.example.com": name is "example.com", subdomains only
	addrs  netip.Prefix // for IP literals and CIDRs
	port   string       // "" for any port
}

// loopbackHosts are the names a loopback server answers to by default.
var loopbackHosts = mustParseHostList("localhost", "127.0.0.1", "[::1]")

func mustParseHostList(list ...string) HostList {
	h, err := ParseHostList(list)
	if err != nil {
		panic(err)
	}
	return h
}

// ParseHostList parses an allow-list of Host values. Each entry is
//
//   - "*": any host (turns the check off);
//   - a name, "sync.example.com", or an IP address, "10.1.2.3" or "[::1]":
//     that host on any port; with a port, "sync.example.com:8443", on that
//     port only (a Host without a port means the scheme's default port);
//   - "*.example.com": any subdomain of example.com (not example.com);
//   - a CIDR, "10.0.0.0/8": any IP-address Host in that range (for
//     probes and scrapers that address the server by its IP).
//
// Names compare without regard to case or a trailing dot. An empty list
// gives the zero HostList, the default.
func ParseHostList(list []string) (HostList, error) {
	var h HostList
	for _, raw := range list {
		s := strings.TrimSpace(raw)
		if s == "" {
			continue
		}
		h.set = true
		if s == "*" {
			h.any = true
			continue
		}
		e, err := parseHostEntry(s)
		if err != nil {
			return HostList{}, fmt.Errorf("allowed host %q: %v", raw, err)
		}
		h.entries = append(h.entries, e)
	}
	return h, nil
}

func parseHostEntry(s string) (hostEntry, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return hostEntry{}, fmt.Errorf("not a CIDR")
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return hostEntry{addrs: p.Masked()}, nil
	}
	host, port := splitHost(s)
	if port != "" && port != "*" && !allDigits(port) {
		return hostEntry{}, fmt.Errorf("bad port %q", port)
	}
	if port == "*" {
		port = ""
	}
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		return hostEntry{addrs: netip.PrefixFrom(a, a.BitLen()), port: port}, nil
	}
	e := hostEntry{port: port}
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		e.suffix, host = true, rest
	}
	e.name = normalName(host)
	if e.name == "" || strings.ContainsAny(e.name, "*[]:@ \t") {
		return hostEntry{}, fmt.Errorf("want a name, an address, *.domain or a CIDR")
	}
	return e, nil
}

// IsSet reports whether the list was configured (not the default).
func (h HostList) IsSet() bool { return h.set }

// Allows reports whether host (a Host header value, "name[:port]") is in
// the list; scheme ("http" or "https") gives the port of a Host without
// one. The default list allows nothing here: it depends on the connection
// (see [AllowedHost]).
func (h HostList) Allows(host, scheme string) bool {
	if h.any {
		return true
	}
	name, port := splitHost(host)
	if name == "" {
		return false
	}
	if port == "" {
		port = defaultPort(scheme)
	}
	addr, err := netip.ParseAddr(name)
	isAddr := err == nil
	name = normalName(name)
	for _, e := range h.entries {
		if e.port != "" && e.port != port {
			continue
		}
		switch {
		case e.addrs.IsValid():
			if isAddr && e.addrs.Contains(addr.Unmap()) {
				return true
			}
		case isAddr:
		case e.suffix:
			if strings.HasSuffix(name, "."+e.name) {
				return true
			}
		case name == e.name:
			return true
		}
	}
	return false
}

// AllowedHost reports whether r may be served: its Host (as [RequestHost]
// gives it, so X-Forwarded-Host from a trusted proxy) is in hosts, or, when
// hosts is the default, is a loopback name if the connection was made to a
// loopback address.
func AllowedHost(r *http.Request, hosts HostList, trusted TrustedProxies) bool {
	host := RequestHost(r, trusted)
	if hosts.set {
		return hosts.Allows(host, RequestScheme(r, trusted))
	}
	if !arrivedOnLoopback(r.Context()) {
		return true
	}
	return loopbackHosts.Allows(host, RequestScheme(r, trusted))
}

// arrivedOnLoopback reports whether the request's connection was made to
// a loopback address of this machine (whatever the listener was bound
// to: a wildcard listener reached through 127.0.0.1 counts).
func arrivedOnLoopback(ctx context.Context) bool {
	local, ok := ctx.Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return false
	}
	tcp, ok := local.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// RefuseHost answers a request whose Host is not allowed: 421 Misdirected
// Request, with a body naming the host.
func RefuseHost(w http.ResponseWriter, r *http.Request, trusted TrustedProxies) {
	host := RequestHost(r, trusted)
	if len(host) > 100 {
		host = host[:100] + "…"
	}
	http.Error(w, fmt.Sprintf("misdirected request: host %q is not one this server answers to (syncd: see -hosts)", host), http.StatusMisdirectedRequest)
}

// splitHost splits "name:port", "[v6]:port", "[v6]", "name" or a bare IPv6
// address into host (brackets removed) and port ("" if none).
func splitHost(s string) (host, port string) {
	if _, err := netip.ParseAddr(s); err == nil {
		return s, "" // a bare address, IPv6 included
	}
	if h, p, err := net.SplitHostPort(s); err == nil {
		return h, p
	}
	if inner, ok := strings.CutPrefix(s, "["); ok && strings.HasSuffix(inner, "]") {
		return strings.TrimSuffix(inner, "]"), ""
	}
	return s, ""
}

func normalName(s string) string { return strings.TrimSuffix(strings.ToLower(s), ".") }

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
