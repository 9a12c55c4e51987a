package server

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
)

// Reading the public keys that verify tokens: a PEM file (one key) or a
// JWKS document (RFC 7517, many keys told apart by kid). The JWKS reader
// is written here on crypto/*: it is a few dozen lines, and golang-jwt
// (which we use for tokens) has no JWKS reader, while the libraries that
// do also fetch over HTTP, cache and refresh — more than a file needs.

// ParsePublicKeyPEM reads the first public key in PEM data: a "PUBLIC
// KEY" block (PKIX: RSA, ECDSA or Ed25519), an "RSA PUBLIC KEY" block
// (PKCS #1) or a "CERTIFICATE" (its key). The key gets no ID.
func ParsePublicKeyPEM(data []byte) (JWTKey, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return JWTKey{}, errors.New("no PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE block in the PEM data")
		}
		var k crypto.PublicKey
		var err error
		switch b.Type {
		case "PUBLIC KEY":
			k, err = x509.ParsePKIXPublicKey(b.Bytes)
		case "RSA PUBLIC KEY":
			k, err = x509.ParsePKCS1PublicKey(b.Bytes)
		case "CERTIFICATE":
			var c *x509.Certificate
			if c, err = x509.ParseCertificate(b.Bytes); err == nil {
				k = c.PublicKey
			}
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			return JWTKey{}, fmt.Errorf("a %s block: give syncd the public key only", b.Type)
		default:
			continue
		}
		if err != nil {
			return JWTKey{}, fmt.Errorf("%s block: %w", b.Type, err)
		}
		if _, err := keyAlg(k); err != nil {
			return JWTKey{}, err
		}
		return JWTKey{Key: k}, nil
	}
}

// jwk is the part of a JSON Web Key (RFC 7517 §4, RFC 7518 §6) syncd reads.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	// RSA
	N string `json:"n"`
	E string `json:"e"`
	// EC and OKP
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// ParseJWKS reads the signature keys of a JWKS document ({"keys": [...]}):
// RSA (RS256), EC P-256 (ES256) and OKP Ed25519 (EdDSA). Keys meant for
// encryption ("use": "enc") or for another algorithm ("alg" naming one
// syncd does not verify) are skipped, as an identity provider's JWKS may
// hold them; a malformed key of a kind syncd reads is an error, and so is
// a document with no usable key.
func ParseJWKS(data []byte) ([]JWTKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	var keys []JWTKey
	for i, raw := range doc.Keys {
		var k jwk
		if err := json.Unmarshal(raw, &k); err != nil {
			return nil, fmt.Errorf("JWKS key %d: %w", i, err)
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		pub, err := k.publicKey()
		if errors.Is(err, errSkipKey) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("JWKS key %d (kid %q): %w", i, k.Kid, err)
		}
		alg, err := keyAlg(pub)
		if err != nil {
			return nil, fmt.Errorf("JWKS key %d (kid %q): %w", i, k.Kid, err)
		}
		if k.Alg != "" && k.Alg != alg {
			continue
		}
		keys = append(keys, JWTKey{ID: k.Kid, Key: pub})
	}
	if len(keys) == 0 {
		return nil, errors.New("JWKS: no RSA, EC P-256 or Ed25519 signature key")
	}
	return keys, nil
}

var errSkipKey = errors.New("a kind of key syncd does not verify with")

func (k *jwk) publicKey() (crypto.PublicKey, error) {
	switch k.Kty {
	case "RSA":
		n, err := b64Field("n", k.N)
		if err != nil {
			return nil, err
		}
		e, err := b64Field("e", k.E)
		if err != nil {
			return nil, err
		}
		if len(e) > 4 {
			return nil, errors.New("e: too large")
		}
		exp := int(new(big.Int).SetBytes(e).Int64())
		if exp < 3 || exp%2 == 0 {
			return nil, errors.New("e: not a valid RSA exponent")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}, nil
	case "EC":
		if k.Crv != "P-256" {
			return nil, errSkipKey
		}
		x, err := b64Field("x", k.X)
		if err != nil {
			return nil, err
		}
		y, err := b64Field("y", k.Y)
		if err != nil {
			return nil, err
		}
		if len(x) != 32 || len(y) != 32 {
			return nil, errors.New("x and y must be 32 bytes each for P-256")
		}
		// Checks that the point is on the curve.
		return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	case "OKP":
		if k.Crv != "Ed25519" {
			return nil, errSkipKey
		}
		x, err := b64Field("x", k.X)
		if err != nil {
			return nil, err
		}
		if len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("x must be %d bytes for Ed25519", ed25519.PublicKeySize)
		}
		return ed25519.PublicKey(x), nil
	}
	return nil, errSkipKey
}

func b64Field(name, s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("%s: required", name)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%s: not base64url without padding: %w", name, err)
	}
	return b, nil
}
