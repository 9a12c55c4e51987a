package natsnode

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRouteTLS: two nodes whose routes use certificates from one CA form a
// cluster; a node whose certificate another CA signed does not join.
func TestRouteTLS(t *testing.T) {
	dir := t.TempDir()
	good := writeTestCA(t, dir, "good")
	stranger := writeTestCA(t, dir, "stranger")
	var logs logBuffer
	peersOf := func(ports []int) []string { return []string{loopback(ports[0]), loopback(ports[1])} }
	ports, nodes, errs := startOnFreePorts(t, 3, func(ports []int, data string) []Options {
		opts := make([]Options, 2)
		for i := range opts {
			opts[i] = Options{
				Name: fmt.Sprintf("tls%d", i), DataDir: filepath.Join(data, fmt.Sprintf("tls%d", i)),
				ClusterName: "tls", ClusterListen: peersOf(ports)[i], Peers: peersOf(ports),
				RouteTLS: good, StartTimeout: 30 * time.Second, Logger: logs.logger(),
			}
		}
		return opts
	})
	peers := peersOf(ports)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v\nlogs:\n%s", i, err, logs.String())
		}
	}
	for _, n := range nodes {
		if got := n.connectedPeers(); got != 1 {
			t.Fatalf("%s connected to %d peers", n.Name(), got)
		}
	}
	_, errs = startNodes(t, []Options{{
		Name: "intruder", DataDir: filepath.Join(dir, "intruder"),
		ClusterName: "tls", ClusterListen: loopback(ports[2]), Peers: peers,
		RouteTLS: stranger, StartTimeout: 2 * time.Second, Logger: logs.logger(),
	}})
	if errs[0] == nil {
		t.Fatal("a node with a certificate of another CA joined")
	}
	for _, n := range nodes {
		if got := n.connectedPeers(); got != 1 {
			t.Errorf("%s connected to %d peers after the intruder", n.Name(), got)
		}
	}
}

// writeTestCA writes a CA and a certificate it signs for 127.0.0.1, usable
// on both sides of a route, and returns the files.
func writeTestCA(t *testing.T, dir, name string) *TLSFiles {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name + " node"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	files := &TLSFiles{
		CertFile: filepath.Join(dir, name+"-cert.pem"),
		KeyFile:  filepath.Join(dir, name+"-key.pem"),
		CAFile:   filepath.Join(dir, name+"-ca.pem"),
	}
	for path, block := range map[string]*pem.Block{
		files.CertFile: {Type: "CERTIFICATE", Bytes: der},
		files.KeyFile:  {Type: "EC PRIVATE KEY", Bytes: keyDER},
		files.CAFile:   {Type: "CERTIFICATE", Bytes: caDER},
	} {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return files
}
