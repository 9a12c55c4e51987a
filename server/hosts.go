package server

import (
	"fmt"
	"net/http"

	"github.com/deltasync/syncd/router"
)

// The Host check (router/hosts.go says why) guards every route, not only
// the WebSocket: the HTTP API, the metrics and the demo page are as
// reachable by a DNS-rebinding page. Only the health routes are exempt:
// load balancers and Kubernetes probes address an instance by its IP
// address, which no allow-list of names can foresee, and "ok" and "ready"
// tell a rebinding page nothing.

// healthRoutes answer whatever the Host.
var healthRoutes = map[string]bool{"/healthz": true, "/readyz": true}

// accessPolicy is the parsed AllowedHosts and TrustedProxies.
type accessPolicy struct {
	hosts   router.HostList
	proxies router.TrustedProxies
}

func parseAccessPolicy(o Options) (accessPolicy, error) {
	hosts, err := router.ParseHostList(o.AllowedHosts)
	if err != nil {
		return accessPolicy{}, fmt.Errorf("server: AllowedHosts: %w", err)
	}
	proxies, err := router.ParseTrustedProxies(o.TrustedProxies)
	if err != nil {
		return accessPolicy{}, fmt.Errorf("server: TrustedProxies: %w", err)
	}
	return accessPolicy{hosts: hosts, proxies: proxies}, nil
}

// guardHosts refuses, with 421, a request for a host the server does not
// answer to, except on the health routes.
func (p accessPolicy) guardHosts(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthRoutes[r.URL.Path] && !router.AllowedHost(r, p.hosts, p.proxies) {
			// A refused request's body is never read (httpbounds.go).
			refuseBody(w, r)
			router.RefuseHost(w, r, p.proxies)
			return
		}
		next.ServeHTTP(w, r)
	})
}
