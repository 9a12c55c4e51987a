package server

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MinJWTSecretBytes is the shortest HS256 secret accepted: RFC 7518 §3.2
// requires a key of at least the hash's size, 256 bits. A shorter secret
// can be guessed offline from any one token.
const MinJWTSecretBytes = 32

// MinRSAKeyBits is the smallest RSA key accepted for RS256 (RFC 7518 §3.3).
const MinRSAKeyBits = 2048

// DefaultJWTLeeway is the clock skew allowed on exp and nbf by default.
const DefaultJWTLeeway = 30 * time.Second

// The algorithms syncd verifies, one per kind of key.
const (
	algHS256 = "HS256"
	algRS256 = "RS256"
	algES256 = "ES256"
	algEdDSA = "EdDSA"
)

// JWTKey is a public key that verifies tokens: an *rsa.PublicKey (RS256,
// at least 2048 bits), an *ecdsa.PublicKey on P-256 (ES256) or an
// ed25519.PublicKey (EdDSA). Each key verifies only its own algorithm, so
// a token can never choose how its signature is checked (an HS256 token
// "signed" with a public key's bytes is refused).
type JWTKey struct {
	// ID is the key's kid. A token whose header names a kid is checked
	// against the keys with that ID and the keys without one; a token
	// without kid against all keys of its algorithm.
	ID  string
	Key crypto.PublicKey
}

// keyAlg returns the one algorithm k verifies.
func keyAlg(k crypto.PublicKey) (string, error) {
	switch k := k.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < MinRSAKeyBits {
			return "", fmt.Errorf("an RSA key of %d bits; at least %d are required", k.N.BitLen(), MinRSAKeyBits)
		}
		return algRS256, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", fmt.Errorf("an ECDSA key on %s; ES256 needs P-256", k.Curve.Params().Name)
		}
		return algES256, nil
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return "", errors.New("an Ed25519 key of the wrong size")
		}
		return algEdDSA, nil
	}
	return "", fmt.Errorf("unsupported key type %T (want RSA, ECDSA P-256 or Ed25519)", k)
}

// tokenVerifier checks tokens against the configured secret and keys and
// the audience, issuer and leeway.
type tokenVerifier struct {
	secret []byte
	keys   []verifyKey
	parser *jwt.Parser
}

type verifyKey struct {
	id, alg string
	key     crypto.PublicKey
}

// newTokenVerifier returns nil when o turns authentication off.
func newTokenVerifier(o Options) (*tokenVerifier, error) {
	if len(o.JWTSecret) == 0 && len(o.JWTKeys) == 0 {
		return nil, nil
	}
	v := &tokenVerifier{}
	var algs []string
	if len(o.JWTSecret) > 0 {
		if len(o.JWTSecret) < MinJWTSecretBytes {
			return nil, fmt.Errorf("server: JWTSecret has %d bytes; HS256 needs at least %d (RFC 7518 §3.2)", len(o.JWTSecret), MinJWTSecretBytes)
		}
		v.secret = o.JWTSecret
		algs = append(algs, algHS256)
	}
	for i, k := range o.JWTKeys {
		alg, err := keyAlg(k.Key)
		if err != nil {
			return nil, fmt.Errorf("server: JWTKeys[%d] (kid %q): %w", i, k.ID, err)
		}
		v.keys = append(v.keys, verifyKey{id: k.ID, alg: alg, key: k.Key})
		if !slices.Contains(algs, alg) {
			algs = append(algs, alg)
		}
	}
	leeway := o.JWTLeeway
	if leeway < 0 {
		leeway = 0
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods(algs), jwt.WithLeeway(leeway)}
	if o.JWTAudience != "" {
		opts = append(opts, jwt.WithAudience(o.JWTAudience))
	}
	if o.JWTIssuer != "" {
		opts = append(opts, jwt.WithIssuer(o.JWTIssuer))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// keyFor chooses the keys a token may be verified with, by its alg header
// and kid: only keys of that algorithm, so the token's header cannot make
// a public key serve as an HMAC secret or an RSA key check an ECDSA
// signature.
func (v *tokenVerifier) keyFor(t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	if alg == algHS256 {
		if v.secret == nil {
			return nil, errors.New("HS256 is not accepted")
		}
		return v.secret, nil
	}
	kid, _ := t.Header["kid"].(string)
	var set jwt.VerificationKeySet
	for _, k := range v.keys {
		if k.alg == alg && (k.id == "" || kid == "" || k.id == kid) {
			set.Keys = append(set.Keys, k.key)
		}
	}
	if len(set.Keys) == 0 {
		return nil, fmt.Errorf("no %s key with kid %q", alg, kid)
	}
	return set, nil
}

type claims struct {
	jwt.RegisteredClaims
	Docs   docsGrant    `json:"docs"`
	Topics *topicsClaim `json:"topics,omitempty"` // permissions.go
}

// docsGrant is the docs claim. set tells a claim that is there, even as
// null, from one that is absent: only an absent claim grants every
// document, and {"docs": null} grants none, like {"docs": {}}.
type docsGrant struct {
	set         bool
	Read, Write []string
}

func (d *docsGrant) UnmarshalJSON(b []byte) error {
	d.set = true
	var v struct {
		Read  []string `json:"read"`
		Write []string `json:"write"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	d.Read, d.Write = v.Read, v.Write
	return nil
}

// verify checks token and returns its user.
func (v *tokenVerifier) verify(token string) (*User, error) {
	var c claims
	if _, err := v.parser.ParseWithClaims(token, &c, v.keyFor); err != nil {
		return nil, fmt.Errorf("invalid token: %w", err)
	}
	if c.Subject == "" {
		return nil, errors.New("invalid token: no sub claim")
	}
	var read, write []string
	if c.Docs.set {
		read, write = nonNil(c.Docs.Read), nonNil(c.Docs.Write)
	}
	var exp time.Time
	if c.ExpiresAt != nil {
		exp = c.ExpiresAt.Time
	}
	u := newUser(c.Subject, read, write, exp)
	c.Topics.grant(u)
	return u, nil
}
