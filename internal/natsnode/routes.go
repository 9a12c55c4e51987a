package natsnode

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
)

// Routes: the connections between the nodes of a cluster. They carry every
// document and every Raft vote, so a node listening for them beyond
// loopback must authenticate them: a shared secret (the route URL's
// password, checked by every node), TLS with certificates signed by one CA,
// or both.

// routeUser is the user name routes present with RouteSecret; only the
// secret matters.
const routeUser = "syncd"

// checkCluster checks the cluster options against each other.
func (o *Options) checkCluster() error {
	if o.ClusterListen == "" {
		switch {
		case len(o.Peers) > 0:
			return errors.New("peers are given without a cluster address to listen on for their routes")
		case o.ClusterName != "":
			return errors.New("a cluster name is given without a cluster address to listen on")
		case o.RouteSecret != "" || o.RouteTLS != nil:
			return errors.New("route authentication is given without a cluster address to listen on")
		}
		return nil
	}
	host, err := checkHostPort(o.ClusterListen)
	if err != nil {
		return fmt.Errorf("cluster address %q: %w", o.ClusterListen, err)
	}
	if o.ClusterName == "" {
		return errors.New("a cluster needs a name, the same on every node")
	}
	if !nodeNamePattern.MatchString(o.ClusterName) {
		return fmt.Errorf("cluster name %q: want 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", o.ClusterName)
	}
	for _, p := range o.Peers {
		if _, err := checkHostPort(p); err != nil {
			return fmt.Errorf("peer %q: %w", p, err)
		}
	}
	if len(o.otherPeers()) == 0 {
		return fmt.Errorf("a cluster node needs the cluster addresses of the other nodes; the peers given (%v) name only this node", o.Peers)
	}
	if o.RouteSecret != "" && len(o.RouteSecret) < MinRouteSecretBytes {
		return fmt.Errorf("the route secret is %d bytes: want at least %d", len(o.RouteSecret), MinRouteSecretBytes)
	}
	if t := o.RouteTLS; t != nil && (t.CertFile == "" || t.KeyFile == "" || t.CAFile == "") {
		return errors.New("route TLS needs a certificate, its key and the CA that signs the other nodes' certificates")
	}
	if !isLoopbackHost(host) && o.RouteSecret == "" && o.RouteTLS == nil {
		return fmt.Errorf("refusing to listen for routes on %s, beyond loopback, without authentication: anyone who reaches it could join the cluster and read every document; give a route secret, route TLS, or both", o.ClusterListen)
	}
	return nil
}

// checkHostPort checks a host:port with a fixed port (the other nodes must
// know it in advance) and returns the host.
func checkHostPort(hp string) (string, error) {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		return "", fmt.Errorf("want host:port: %w", err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("want a port from 1 to 65535, got %q", port)
	}
	return host, nil
}

// isLoopbackHost reports whether host names this machine's loopback
// interface only. An empty host or 0.0.0.0 is every interface; a host name
// other than localhost may resolve anywhere.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// otherPeers is Peers without this node's own address.
func (o *Options) otherPeers() []string {
	var out []string
	for _, p := range o.Peers {
		if p != o.ClusterListen {
			out = append(out, p)
		}
	}
	return out
}

// routeURLs are the URLs the node dials its peers at, carrying the secret.
func (o *Options) routeURLs() []*url.URL {
	var out []*url.URL
	for _, p := range o.otherPeers() {
		u := &url.URL{Scheme: "nats-route", Host: p}
		if o.RouteSecret != "" {
			u.User = url.UserPassword(routeUser, o.RouteSecret)
		}
		out = append(out, u)
	}
	return out
}

// routeTLSConfig loads the route TLS files: this node's identity for both
// sides of a route, and the CA that must sign the other node's.
func (t *TLSFiles) routeTLSConfig() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("route TLS: %w", err)
	}
	caPEM, err := os.ReadFile(t.CAFile)
	if err != nil {
		return nil, fmt.Errorf("route TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("route TLS CA: no PEM certificate in %s", t.CAFile)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool, // the routes this node dials
		ClientCAs:    pool, // the routes it accepts
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}, nil
}
