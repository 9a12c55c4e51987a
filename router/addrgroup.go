package router

import "net/netip"

// AddrGroup returns the address that per-address limits count a client
// under: an IPv4 address as it is, and an IPv6 address as the first
// address of its /64. An IPv6 subscriber is routed a /64 or more and may
// use as many addresses in it as it likes, one per connection if it wants,
// so a cap per exact IPv6 address caps nothing. (An IPv4-mapped IPv6
// address counts as its IPv4 address.)
func AddrGroup(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return a
}

// addrGroupKey is AddrGroup for the connection counter's keys, which are
// Options.ClientAddr's strings: an address, or whatever RemoteAddr held.
// The /64 is written with its length, so that an operator reading a
// refusal sees that a network was counted, not one address.
func addrGroupKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	a = a.Unmap()
	if a.Is6() {
		if p, err := a.Prefix(64); err == nil {
			return p.String()
		}
	}
	return a.String()
}
