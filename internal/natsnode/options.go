package natsnode

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"
)

// Options configure an embedded node ([Start]). The zero value, with a
// DataDir, is a single node with a generated name: every field documents
// its default.
type Options struct {
	// Name is the node's name: unique in the cluster and the same across
	// restarts, since JetStream's Raft groups know their members by it.
	// Default: the name kept in DataDir (NameFile), or, on the first
	// start, a generated one that is then kept there. A Name that differs
	// from the one kept is refused: the data under DataDir belongs to the
	// node named in the file.
	Name string

	// DataDir holds the node's files: the JetStream store, the name file
	// and a lock. Required.
	DataDir string

	// ClusterName names the cluster; every node of one cluster gives the
	// same. Required with ClusterListen.
	ClusterName string

	// ClusterListen is the host:port this node listens on for routes from
	// the other nodes. Empty: a single node, no cluster. A non-loopback
	// address needs RouteSecret or RouteTLS (routes carry every document).
	ClusterListen string

	// Peers are the cluster addresses (host:port) of the other nodes. An
	// entry equal to ClusterListen is dropped, so every node may be given
	// the same list; the server also ignores a route that reaches itself
	// under another name. Required with ClusterListen (a cluster node with
	// no one to talk to cannot elect a leader), refused without it.
	Peers []string

	// RouteSecret, when set, is a shared secret every node of the cluster
	// must present on its routes: a node with another secret is refused.
	// At least MinRouteSecretBytes bytes.
	RouteSecret string

	// RouteTLS, when set, encrypts and authenticates the routes with
	// certificates: each node presents CertFile/KeyFile and requires the
	// other's certificate to be signed by CAFile (mutual TLS). With
	// RouteSecret too, a route needs both.
	RouteTLS *TLSFiles

	// MaxDocBytes is the largest document syncd stores; the node's
	// max_payload is raised to MaxMessageBytes(MaxDocBytes) so that a
	// snapshot of such a document fits in one message. Default 1 MiB (the
	// engine's default MaxDocSize); at most MaxDocBytesCeiling.
	MaxDocBytes int

	// StartTimeout bounds Start: the server ready, and in a cluster the
	// meta leader elected (which needs a quorum of the nodes up). Default
	// DefaultStartTimeout. The context given to Start may end it sooner.
	StartTimeout time.Duration

	// Logger receives the node's logs, and the NATS server's: its notices
	// at debug level (they include a banner of some twenty lines at
	// every start), its warnings and errors as such. Default
	// slog.Default().
	Logger *slog.Logger
}

// TLSFiles are the PEM files of a TLS identity and the CA that signs the
// other side's.
type TLSFiles struct {
	CertFile string
	KeyFile  string
	CAFile   string
}

const (
	// DefaultStartTimeout is Options.StartTimeout's default: a new
	// cluster needs its peers up and an election (some seconds) within it.
	DefaultStartTimeout = time.Minute

	// DefaultMaxDocBytes is Options.MaxDocBytes's default, the engine's
	// default MaxDocSize.
	DefaultMaxDocBytes = 1 << 20

	// RecordOverhead is what a message adds to the largest document it
	// carries: NATS headers (revision, epoch, client and request ids, the
	// de-duplication id, JetStream's own) and the record's envelope. The
	// document travels as raw JSON, never escaped into a string, so the
	// envelope does not grow with it.
	RecordOverhead = 64 << 10

	// MaxDocBytesCeiling is the largest MaxDocBytes: NATS clients drop a
	// subscription's messages beyond 64 MiB of pending bytes (nats.go's
	// DefaultSubPendingBytesLimit), and the server warns beyond 8 MB of
	// max_payload already.
	MaxDocBytesCeiling = 64<<20 - RecordOverhead

	// MinRouteSecretBytes is the shortest RouteSecret: it is all that
	// stands between a stranger and every document of the cluster.
	MinRouteSecretBytes = 16
)

// MaxMessageBytes is the largest message syncd writes to NATS when its
// documents are at most maxDocBytes: the embedded node's max_payload, and
// what Connect requires of external servers.
func MaxMessageBytes(maxDocBytes int) int {
	if maxDocBytes <= 0 {
		maxDocBytes = DefaultMaxDocBytes
	}
	return maxDocBytes + RecordOverhead
}

// nodeNamePattern is what a node name may be: NATS refuses spaces, and a
// name also appears in subjects of the Raft groups, logs and file names.
var nodeNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// CheckNodeName returns an error saying what a node name may be, if name is
// not one.
func CheckNodeName(name string) error {
	if !nodeNamePattern.MatchString(name) {
		return fmt.Errorf("node name %q: want 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

// withDefaults checks o and fills in the defaults, except the name (which
// needs the data directory: nodename.go).
func (o Options) withDefaults() (Options, error) {
	if o.DataDir == "" {
		return o, errors.New("natsnode: a data directory is required")
	}
	if o.Name != "" {
		if err := CheckNodeName(o.Name); err != nil {
			return o, fmt.Errorf("natsnode: %w", err)
		}
	}
	if o.MaxDocBytes == 0 {
		o.MaxDocBytes = DefaultMaxDocBytes
	}
	if o.MaxDocBytes < 0 || o.MaxDocBytes > MaxDocBytesCeiling {
		return o, fmt.Errorf("natsnode: largest document %d bytes: want 1 to %d", o.MaxDocBytes, MaxDocBytesCeiling)
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if err := o.checkCluster(); err != nil {
		return o, fmt.Errorf("natsnode: %w", err)
	}
	return o, nil
}
