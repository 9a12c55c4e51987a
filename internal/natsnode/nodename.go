package natsnode

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// NameFile is the file in the data directory that keeps the node's name.
// JetStream's Raft groups know a node by its name: a node that came back
// under another one would be a stranger to its own groups, and the old
// name a member that never returns.
const NameFile = "node-name"

// resolveName returns the node's name: the one kept in dataDir, or given
// (and then kept), or generated on the first start (and then kept).
func resolveName(dataDir, given string) (name string, generated bool, err error) {
	path := filepath.Join(dataDir, NameFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		kept := strings.TrimSpace(string(b))
		if err := CheckNodeName(kept); err != nil {
			return "", false, fmt.Errorf("%s: %w", path, err)
		}
		if given != "" && given != kept {
			return "", false, fmt.Errorf("the node name %q differs from %q, the name of the node whose data is in %s (kept in %s): a node keeps its name for life; give %q, or another data directory for a new node",
				given, kept, dataDir, path, kept)
		}
		return kept, false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", false, err
	}
	name = given
	if name == "" {
		if name, err = generateName(); err != nil {
			return "", false, err
		}
		generated = true
	}
	if err := writeFileSynced(path, []byte(name+"\n")); err != nil {
		return "", false, fmt.Errorf("keeping the node name: %w", err)
	}
	return name, generated, nil
}

// generateName makes a name unique in practice that still says where the
// node runs: the host name (what a name may not hold replaced by '-') and
// 48 random bits.
func generateName() (string, error) {
	host, _ := os.Hostname()
	host = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '-'
	}, host)
	host = strings.Trim(host, "-_")
	if len(host) > 40 {
		host = host[:40]
	}
	if host == "" {
		host = "syncd"
	}
	var random [6]byte
	if _, err := rand.Read(random[:]); err != nil {
		return "", err
	}
	return host + "-" + hex.EncodeToString(random[:]), nil
}

// writeFileSynced writes path whole or not at all, and makes it durable: a
// crash must not leave an empty name file, nor lose the name of a node that
// went on to write data under it.
func writeFileSynced(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename, nothing to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}
