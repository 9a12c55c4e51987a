package router

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Reverse proxies. A proxy in front of the server hides the client: the
// TCP peer is the proxy, the client's address travels in X-Forwarded-For,
// the scheme the browser used (https when the proxy terminates TLS) in
// X-Forwarded-Proto, and the Host it asked for, if the proxy rewrites
// Host, in X-Forwarded-Host. Anyone can send those headers, so they are
// believed only from the addresses listed as trusted proxies; from anyone
// else they are ignored and the request is taken as it arrived.
//
// A trusted proxy must set these headers itself (overwriting or appending
// to what the client sent), as nginx's proxy_set_header and
// $proxy_add_x_forwarded_for and the common load balancers do: a proxy
// that passes a client's X-Forwarded-Host through unchanged lets that
// client choose the Host the server checks.

// TrustedProxies are the networks whose X-Forwarded-For,
// X-Forwarded-Proto and X-Forwarded-Host headers are believed. The zero
// value trusts nobody.
type TrustedProxies []netip.Prefix

// ParseTrustedProxies parses CIDRs ("10.0.0.0/8", "fd00::/8") and single
// addresses ("10.1.2.3", a /32 or /128).
func ParseTrustedProxies(list []string) (TrustedProxies, error) {
	var out TrustedProxies
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: want a CIDR such as 10.0.0.0/8 or an address", s)
			}
			if p.Addr().Is4In6() {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: want a CIDR such as 10.0.0.0/8 or an address", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Contains reports whether a is a trusted proxy's address.
func (tp TrustedProxies) Contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range tp {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientAddr returns the address of the client that sent r: the TCP peer
// (r.RemoteAddr), or, when the peer is a trusted proxy, the address that
// proxy reports in X-Forwarded-For. Several proxies in a row each append
// the address they received from, so the list is read from the right,
// skipping trusted proxies: the first untrusted address is the client
// (everything left of it was written by the client and is not believed).
// If every address in the list is trusted, the leftmost is the client; if
// a proxy wrote something that is not an address, the last trusted hop is
// returned. IPv4-mapped IPv6 addresses are returned as IPv4, so that one
// client has one address. The zero Addr means r.RemoteAddr is not an
// address (not from a TCP listener).
//
// This is the one place that says who a request comes from: per-address
// limits and logs take it from here.
func ClientAddr(r *http.Request, trusted TrustedProxies) netip.Addr {
	peer := remoteAddr(r)
	if !peer.IsValid() || !trusted.Contains(peer) {
		return peer
	}
	hops := forwardedList(r.Header, "X-Forwarded-For")
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			return client
		}
		client = a
		if !trusted.Contains(a) {
			return a
		}
	}
	return client
}

// ClientAddr is [ClientAddr] with the router's Options.TrustedProxies.
func (r *Router) ClientAddr(req *http.Request) netip.Addr {
	return ClientAddr(req, r.opts.TrustedProxies)
}

// RequestScheme returns "https" or "http": the scheme the client used to
// reach the server, from X-Forwarded-Proto when the peer is a trusted
// proxy that sent it (ws and wss count as http and https), else from the
// connection itself (TLS or not).
func RequestScheme(r *http.Request, trusted TrustedProxies) string {
	if fromTrustedProxy(r, trusted) {
		if v := lastForwarded(r.Header, "X-Forwarded-Proto"); v != "" {
			switch strings.ToLower(v) {
			case "https", "wss":
				return "https"
			case "http", "ws":
				return "http"
			}
		}
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// RequestHost returns the Host the client asked for: X-Forwarded-Host when
// the peer is a trusted proxy that sent it, else the request's Host.
func RequestHost(r *http.Request, trusted TrustedProxies) string {
	if fromTrustedProxy(r, trusted) {
		if v := lastForwarded(r.Header, "X-Forwarded-Host"); v != "" {
			return v
		}
	}
	return r.Host
}

func fromTrustedProxy(r *http.Request, trusted TrustedProxies) bool {
	if len(trusted) == 0 {
		return false
	}
	peer := remoteAddr(r)
	return peer.IsValid() && trusted.Contains(peer)
}

// remoteAddr parses r.RemoteAddr ("ip:port"; a bare ip is accepted too).
func remoteAddr(r *http.Request) netip.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(r.RemoteAddr); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

// parseHop parses one X-Forwarded-For entry: an address, possibly with a
// port or in brackets (some proxies write them so).
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap(), true
	}
	return netip.Addr{}, false
}

// forwardedList returns the comma-separated entries of every line of a
// header, in order, trimmed.
func forwardedList(h http.Header, name string) []string {
	var out []string
	for _, line := range h.Values(name) {
		for _, v := range strings.Split(line, ",") {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

// lastForwarded returns the last entry of a header: the one the nearest
// proxy wrote. (X-Forwarded-Proto and -Host carry no hop addresses to
// match entries with, so only the nearest trusted proxy's word counts.)
func lastForwarded(h http.Header, name string) string {
	l := forwardedList(h, name)
	if len(l) == 0 {
		return ""
	}
	return l[len(l)-1]
}
