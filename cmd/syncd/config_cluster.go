package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/deltasync/syncd/internal/natsnode"
)

// ClusterConfig is what the flags set about -store nats (docs/cluster.md):
// an embedded NATS node (the -cluster-* flags) or external NATS servers
// (-nats-url and the -nats-* flags that go with it), and what both share
// (-nats-prefix, -nats-replicas, -nats-start-timeout).
type ClusterConfig struct {
	// Embedded node.
	Name       string // -cluster-name
	Listen     string // -cluster-listen
	Peers      string // -cluster-peers, comma-separated
	Node       string // -cluster-node
	Secret     string // -cluster-secret
	SecretFile string // -cluster-secret-file
	TLSCert    string // -cluster-tls-cert
	TLSKey     string // -cluster-tls-key
	TLSCA      string // -cluster-tls-ca

	// External NATS.
	URL      string // -nats-url, comma-separated
	Creds    string // -nats-creds
	User     string // -nats-user
	Password string // -nats-password
	Token    string // -nats-token
	NATSTLS  string // -nats-tls-ca

	// Both.
	Prefix       string        // -nats-prefix
	Replicas     int           // -nats-replicas; 0: see replicas()
	StartTimeout time.Duration // -nats-start-timeout
	Cutoff       time.Duration // -nats-cutoff
}

// maxReplicas is JetStream's most replicas of a stream.
const maxReplicas = 5

func (k *ClusterConfig) clusterFlags(fs *flag.FlagSet) {
	fs.StringVar(&k.Name, "cluster-name", "", "-store nats, embedded: the cluster's name, the same on every node (required with -cluster-peers)")
	fs.StringVar(&k.Listen, "cluster-listen", "", "-store nats, embedded: host:port this node listens on for routes from the other nodes; beyond loopback it needs -cluster-secret or -cluster-tls-*. Empty: a single node")
	fs.StringVar(&k.Peers, "cluster-peers", "", "-store nats, embedded: comma-separated cluster addresses (host:port) of the other nodes; this node's own may be listed too, so every node can be given the same list")
	fs.StringVar(&k.Node, "cluster-node", "", "-store nats, embedded: this node's name, unique in the cluster and never changed (default: generated on the first start and kept in <data>/nats/node-name)")
	fs.StringVar(&k.Secret, "cluster-secret", "", "-store nats, embedded: shared secret (16 bytes or more) every node presents on its routes. Prefer SYNCD_CLUSTER_SECRET or -cluster-secret-file: a flag's value shows in the process list")
	fs.StringVar(&k.SecretFile, "cluster-secret-file", "", "-store nats, embedded: file holding the route secret (surrounding white space ignored)")
	fs.StringVar(&k.TLSCert, "cluster-tls-cert", "", "-store nats, embedded: PEM certificate this node presents on its routes (with -cluster-tls-key and -cluster-tls-ca)")
	fs.StringVar(&k.TLSKey, "cluster-tls-key", "", "-store nats, embedded: PEM key of -cluster-tls-cert")
	fs.StringVar(&k.TLSCA, "cluster-tls-ca", "", "-store nats, embedded: PEM CA that must sign the other nodes' route certificates")
	fs.StringVar(&k.URL, "nats-url", "", "-store nats, external: comma-separated URLs of existing NATS servers with JetStream, e.g. nats://n1:4222,nats://n2:4222 (instead of an embedded node)")
	fs.StringVar(&k.Creds, "nats-creds", "", "-store nats, external: NATS credentials file (user JWT and NKey seed)")
	fs.StringVar(&k.User, "nats-user", "", "-store nats, external: NATS user (with -nats-password)")
	fs.StringVar(&k.Password, "nats-password", "", "-store nats, external: NATS password. Prefer SYNCD_NATS_PASSWORD: a flag's value shows in the process list")
	fs.StringVar(&k.Token, "nats-token", "", "-store nats, external: NATS token. Prefer SYNCD_NATS_TOKEN: a flag's value shows in the process list")
	fs.StringVar(&k.NATSTLS, "nats-tls-ca", "", "-store nats, external: PEM CA that signs the NATS servers' certificates (for tls:// URLs)")
	fs.StringVar(&k.Prefix, "nats-prefix", "syncd", "-store nats: prefix of the JetStream stream and subjects syncd uses (letters, digits, '-', '_'); instances sharing documents use the same")
	fs.IntVar(&k.Replicas, "nats-replicas", 0, fmt.Sprintf("-store nats: copies JetStream keeps of each record, 1 to %d (default: embedded, 3 with -cluster-peers, at most the number of nodes, and 1 without; external: required)", maxReplicas))
	fs.DurationVar(&k.Cutoff, "nats-cutoff", DefaultNATSCutoff, "-store nats: when NATS has not answered for this long (the connection is down, or the stream has no leader), close every WebSocket with 1013 so that clients resume on another instance, and refuse new ones until NATS answers again (/readyz answers 503 from the first failed probe)")
	fs.DurationVar(&k.StartTimeout, "nats-start-timeout", natsnode.DefaultStartTimeout, "-store nats: bound on starting the embedded node (a new cluster waits for most of its nodes and an election) or on reaching external NATS")
}

// largestNATSDoc is the largest body of a record syncd writes to NATS: a
// snapshot holds a whole document (-max-doc-bytes), an operation a patch
// that came in one message (-max-message-bytes).
func (c *Config) largestNATSDoc() int {
	return max(c.MaxDocBytes, int(min(c.MaxMessageBytes, int64(natsnode.MaxDocBytesCeiling)+1)))
}

// embedded reports whether -store nats runs its own node.
func (k *ClusterConfig) embedded() bool { return k.URL == "" }

// peers parses -cluster-peers.
func (k *ClusterConfig) peers() []string { return splitList(k.Peers) }

// otherPeers are the peers without this node's own address.
func (k *ClusterConfig) otherPeers() []string {
	var out []string
	for _, p := range k.peers() {
		if p != k.Listen {
			out = append(out, p)
		}
	}
	return out
}

// replicas is -nats-replicas, or its default (embedded only).
func (k *ClusterConfig) replicas() int {
	if k.Replicas != 0 || !k.embedded() {
		return k.Replicas
	}
	return min(3, 1+len(k.otherPeers()))
}

// routeSecret is -cluster-secret, or the content of -cluster-secret-file.
func (k *ClusterConfig) routeSecret() (string, error) {
	if k.SecretFile == "" {
		return k.Secret, nil
	}
	b, err := os.ReadFile(k.SecretFile)
	if err != nil {
		return "", fmt.Errorf("-cluster-secret-file: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("-cluster-secret-file: %s is empty", k.SecretFile)
	}
	return s, nil
}

// routeTLS is the route TLS files, nil without them.
func (k *ClusterConfig) routeTLS() *natsnode.TLSFiles {
	if k.TLSCert == "" {
		return nil
	}
	return &natsnode.TLSFiles{CertFile: k.TLSCert, KeyFile: k.TLSKey, CAFile: k.TLSCA}
}

// prefixPattern: the prefix names a stream and is a subject token.
var prefixPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// flagsSet lists, in order, the flags of ks whose value is not empty.
func flagsSet(ks ...[2]string) []string {
	var out []string
	for _, k := range ks {
		if k[1] != "" {
			out = append(out, "-"+k[0])
		}
	}
	return out
}

// clusterRules are the rows of Config.rules for the -store nats flags that
// can be checked one by one; validateCluster checks them against each
// other. An empty value is the default and passes.
func (k *ClusterConfig) clusterRules() []flagRule {
	allHostPorts := func(list string) bool {
		for _, p := range splitList(list) {
			if _, err := hostOfFixedPort(p); err != nil {
				return false
			}
		}
		return true
	}
	allURLs := func(list string) bool {
		for _, u := range splitList(list) {
			if !strings.Contains(u, "://") {
				return false
			}
		}
		return true
	}
	const nameWant = "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
	_, listenErr := hostOfFixedPort(k.Listen)
	return []flagRule{
		textRule("cluster-name", k.Name, natsnode.CheckNodeName(k.Name) == nil, nameWant),
		textRule("cluster-node", k.Node, natsnode.CheckNodeName(k.Node) == nil, nameWant),
		textRule("cluster-listen", k.Listen, listenErr == nil, "host:port with a port from 1 to 65535 (the other nodes must know it)"),
		textRule("cluster-peers", k.Peers, allHostPorts(k.Peers), "comma-separated host:port, each with a port from 1 to 65535"),
		{flag: "cluster-secret", value: fmt.Sprintf("(%d bytes, not shown)", len(k.Secret)), ok: k.Secret == "" || len(k.Secret) >= natsnode.MinRouteSecretBytes,
			want: fmt.Sprintf("at least %d bytes", natsnode.MinRouteSecretBytes)},
		textRule("nats-url", k.URL, allURLs(k.URL), "comma-separated URLs such as nats://host:4222 or tls://host:4222"),
		textRule("nats-prefix", k.Prefix, prefixPattern.MatchString(k.Prefix), "1 to 32 letters, digits, '-' or '_'"),
	}
}

// textRule: a string flag's value, empty or ok.
func textRule(flag, value string, ok bool, want string) flagRule {
	return flagRule{flag: flag, value: strconv.Quote(value), ok: value == "" || ok, want: want}
}

// validateCluster checks the -store nats flags against each other and the
// store.
func (c *Config) validateCluster() error {
	k := &c.Cluster
	embeddedFlags := flagsSet(
		[2]string{"cluster-name", k.Name}, [2]string{"cluster-listen", k.Listen}, [2]string{"cluster-peers", k.Peers},
		[2]string{"cluster-node", k.Node}, [2]string{"cluster-secret", k.Secret}, [2]string{"cluster-secret-file", k.SecretFile},
		[2]string{"cluster-tls-cert", k.TLSCert}, [2]string{"cluster-tls-key", k.TLSKey}, [2]string{"cluster-tls-ca", k.TLSCA})
	externalFlags := flagsSet(
		[2]string{"nats-creds", k.Creds}, [2]string{"nats-user", k.User}, [2]string{"nats-password", k.Password},
		[2]string{"nats-token", k.Token}, [2]string{"nats-tls-ca", k.NATSTLS})
	if c.Store != "nats" {
		shared := flagsSet([2]string{"nats-url", k.URL})
		if k.Prefix != "syncd" {
			shared = append(shared, "-nats-prefix")
		}
		if k.Replicas != 0 {
			shared = append(shared, "-nats-replicas")
		}
		if k.Cutoff != DefaultNATSCutoff {
			shared = append(shared, "-nats-cutoff")
		}
		if all := append(append(embeddedFlags, externalFlags...), shared...); len(all) > 0 {
			return fmt.Errorf("%s: only with -store nats (the store is %s)", strings.Join(all, ", "), c.Store)
		}
		return nil
	}
	if k.Cutoff < time.Second {
		return fmt.Errorf("-nats-cutoff %v: want at least 1s (a shorter one would close every connection on a routine hiccup)", k.Cutoff)
	}
	if m := c.largestNATSDoc(); m > natsnode.MaxDocBytesCeiling {
		return fmt.Errorf("-max-doc-bytes and -max-message-bytes: with -store nats, at most %d (a NATS message holds a whole document or message; got %d)", natsnode.MaxDocBytesCeiling, m)
	}
	if k.embedded() {
		if len(externalFlags) > 0 {
			return fmt.Errorf("%s: only with -nats-url (external NATS); without it syncd runs its own NATS node", strings.Join(externalFlags, ", "))
		}
		return c.validateEmbedded()
	}
	if len(embeddedFlags) > 0 {
		return fmt.Errorf("-nats-url (external NATS) and %s (an embedded node) exclude each other", strings.Join(embeddedFlags, ", "))
	}
	return c.validateExternal()
}

// validateEmbedded checks the flags of an embedded node.
func (c *Config) validateEmbedded() error {
	k := &c.Cluster
	if k.Secret != "" && k.SecretFile != "" {
		return errors.New("-cluster-secret and -cluster-secret-file: give one")
	}
	if (k.TLSCert != "" || k.TLSKey != "" || k.TLSCA != "") && (k.TLSCert == "" || k.TLSKey == "" || k.TLSCA == "") {
		return errors.New("-cluster-tls-cert, -cluster-tls-key and -cluster-tls-ca go together (each node presents a certificate and checks the others' against the CA)")
	}
	secret, err := k.routeSecret()
	if err != nil {
		return err
	}
	if secret != "" && len(secret) < natsnode.MinRouteSecretBytes {
		return fmt.Errorf("the route secret (-cluster-secret or -cluster-secret-file) is %d bytes: want at least %d", len(secret), natsnode.MinRouteSecretBytes)
	}
	nodes := 1
	if k.Listen == "" {
		if k.Peers != "" || k.Name != "" || secret != "" || k.TLSCert != "" {
			return errors.New("-cluster-peers, -cluster-name, -cluster-secret and -cluster-tls-* need -cluster-listen, this node's address for routes from the others (without them: a single node)")
		}
	} else {
		host, _ := hostOfFixedPort(k.Listen) // checked by clusterRules
		if len(k.otherPeers()) == 0 {
			return errors.New("-cluster-listen needs -cluster-peers, the cluster addresses of the other nodes (for a single node, give neither)")
		}
		if k.Name == "" {
			return errors.New("-cluster-peers needs -cluster-name, the same on every node")
		}
		if !loopbackHost(host) && secret == "" && k.TLSCert == "" {
			return fmt.Errorf("-cluster-listen %s is beyond loopback: routes there need -cluster-secret (or SYNCD_CLUSTER_SECRET, -cluster-secret-file) or -cluster-tls-*, or anyone who reaches the port could join the cluster and read every document", k.Listen)
		}
		nodes += len(k.otherPeers())
	}
	if r := k.replicas(); r > nodes {
		return fmt.Errorf("-nats-replicas %d: the cluster has %d node(s) (this one and -cluster-peers); a stream cannot have more replicas than nodes", r, nodes)
	}
	return nil
}

// validateExternal checks the flags of external NATS.
func (c *Config) validateExternal() error {
	k := &c.Cluster
	if k.Replicas == 0 {
		return errors.New("-nats-url needs -nats-replicas: syncd cannot tell the size of an external cluster (3 for a cluster of 3 or more, 1 for a single server)")
	}
	if (k.User == "") != (k.Password == "") {
		return errors.New("-nats-user and -nats-password go together")
	}
	if len(flagsSet([2]string{"nats-creds", k.Creds}, [2]string{"nats-user", k.User}, [2]string{"nats-token", k.Token})) > 1 {
		return errors.New("-nats-creds, -nats-user/-nats-password and -nats-token: give one way to authenticate to NATS")
	}
	return nil
}

// hostOfFixedPort checks a host:port whose port is fixed (the other nodes
// must know it) and returns the host.
func hostOfFixedPort(hp string) (string, error) {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		return "", errors.New("want host:port")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("want a port from 1 to 65535, got %q", port)
	}
	return host, nil
}

// loopbackHost reports whether host is this machine's loopback only.
func loopbackHost(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}
