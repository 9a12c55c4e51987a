package server_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/deltasync/syncd"
	"github.com/deltasync/syncd/server"
	"github.com/deltasync/syncd/store/memstore"
)

// JWT verification: the 32-byte minimum secret, aud, iss, leeway, and
// RS256, ES256 and EdDSA keys from PEM and JWKS, each key verifying only
// its own algorithm.

// testKeys are generated once: RSA generation is slow under -race.
var testKeys = sync.OnceValue(func() (k struct {
	rsa, rsa2 *rsa.PrivateKey
	ec        *ecdsa.PrivateKey
	ed        ed25519.PrivateKey
}) {
	k.rsa, _ = rsa.GenerateKey(rand.Reader, 2048)
	k.rsa2, _ = rsa.GenerateKey(rand.Reader, 2048)
	k.ec, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, k.ed, _ = ed25519.GenerateKey(rand.Reader)
	return k
})

// signed signs claims with method and key, with kid in the header if set.
func signed(t testing.TB, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func claimsFor(sub string, ttl time.Duration) jwt.MapClaims {
	return jwt.MapClaims{"sub": sub, "exp": time.Now().Add(ttl).Unix()}
}

func pemOf(t testing.TB, pub any) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func TestJWTSecretMinimum(t *testing.T) {
	eng, err := syncd.Open(memstore.New(memstore.Options{}), syncd.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	_, err = server.New(eng, server.Options{JWTSecret: []byte(strings.Repeat("s", 31))})
	if err == nil || !strings.Contains(err.Error(), "at least 32") {
		t.Fatalf("31-byte secret: %v", err)
	}
}

func TestJWTAudienceIssuerLeeway(t *testing.T) {
	ev := newEnv(t, syncd.Options{}, server.Options{
		JWTSecret: []byte(jwtSecret), JWTAudience: "syncd", JWTIssuer: "https://id.example", JWTLeeway: time.Minute,
	})
	now := time.Now()
	base := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": "ann", "aud": "syncd", "iss": "https://id.example", "exp": now.Add(time.Hour).Unix()}
	}
	with := func(k string, v any) string {
		c := base()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return signed(t, jwt.SigningMethodHS256, []byte(jwtSecret), "", c)
	}
	for name, tok := range map[string]string{
		"all good":                 with("sub", "ann"),
		"aud among several":        with("aud", []string{"other", "syncd"}),
		"expired within leeway":    with("exp", now.Add(-20*time.Second).Unix()),
		"not yet valid but within": with("nbf", now.Add(20*time.Second).Unix()),
	} {
		t.Run("accepts "+name, func(t *testing.T) {
			c := ev.dialWith(dialOpts{token: tok})
			c.alive()
			c.ws.Close()
		})
	}
	for name, tok := range map[string]string{
		"wrong aud":           with("aud", "other"),
		"no aud":              with("aud", nil),
		"wrong iss":           with("iss", "https://evil.example"),
		"no iss":              with("iss", nil),
		"expired past leeway": with("exp", now.Add(-2*time.Minute).Unix()),
		"nbf past leeway":     with("nbf", now.Add(2*time.Minute).Unix()),
	} {
		t.Run("refuses "+name, func(t *testing.T) { refusedUpgrade(t, ev, dialOpts{token: tok}, http.StatusUnauthorized) })
	}
}

// TestJWTPublicKeys: RS256, ES256 and EdDSA accepted with their keys, and
// every way of getting a token past the wrong key refused — above all an
// HS256 token "signed" with a public key's bytes, the classic algorithm
// confusion.
func TestJWTPublicKeys(t *testing.T) {
	k := testKeys()
	rsaKey, err := server.ParsePublicKeyPEM(pemOf(t, &k.rsa.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := server.ParsePublicKeyPEM(pemOf(t, &k.ec.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	ecKey.ID = "ec-1"
	edKey, err := server.ParsePublicKeyPEM(pemOf(t, k.ed.Public()))
	if err != nil {
		t.Fatal(err)
	}
	edKey.ID = "ed-1"
	ev := newEnv(t, syncd.Options{}, server.Options{JWTKeys: []server.JWTKey{rsaKey, ecKey, edKey}})

	for name, tok := range map[string]string{
		"RS256":              signed(t, jwt.SigningMethodRS256, k.rsa, "", claimsFor("ann", time.Hour)),
		"RS256 with any kid": signed(t, jwt.SigningMethodRS256, k.rsa, "whatever", claimsFor("ann", time.Hour)),
		"ES256 with its kid": signed(t, jwt.SigningMethodES256, k.ec, "ec-1", claimsFor("ann", time.Hour)),
		"ES256 without kid":  signed(t, jwt.SigningMethodES256, k.ec, "", claimsFor("ann", time.Hour)),
		"EdDSA with its kid": signed(t, jwt.SigningMethodEdDSA, k.ed, "ed-1", claimsFor("ann", time.Hour)),
	} {
		t.Run("accepts "+name, func(t *testing.T) {
			c := ev.dialWith(dialOpts{token: tok})
			c.alive()
			c.ws.Close()
		})
	}
	rsaPEM := pemOf(t, &k.rsa.PublicKey)
	edPub := []byte(k.ed.Public().(ed25519.PublicKey))
	unsigned := signed(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", jwt.MapClaims{"sub": "eve"})
	for name, tok := range map[string]string{
		"RS256 by another key":         signed(t, jwt.SigningMethodRS256, k.rsa2, "", claimsFor("eve", time.Hour)),
		"RS512":                        signed(t, jwt.SigningMethodRS512, k.rsa, "", claimsFor("eve", time.Hour)),
		"PS256":                        signed(t, jwt.SigningMethodPS256, k.rsa, "", claimsFor("eve", time.Hour)),
		"ES256 naming the EdDSA kid":   signed(t, jwt.SigningMethodES256, k.ec, "ed-1", claimsFor("eve", time.Hour)),
		"HS256 with the RSA PEM":       signed(t, jwt.SigningMethodHS256, rsaPEM, "", claimsFor("eve", time.Hour)),
		"HS256 with the Ed25519 bytes": signed(t, jwt.SigningMethodHS256, edPub, "ed-1", claimsFor("eve", time.Hour)),
		"alg none":                     unsigned,
		"expired RS256":                signed(t, jwt.SigningMethodRS256, k.rsa, "", claimsFor("eve", -time.Hour)),
	} {
		t.Run("refuses "+name, func(t *testing.T) { refusedUpgrade(t, ev, dialOpts{token: tok}, http.StatusUnauthorized) })
	}

	// A secret and keys together: both kinds verify, each with its own.
	both := newEnv(t, syncd.Options{}, server.Options{JWTSecret: []byte(jwtSecret), JWTKeys: []server.JWTKey{rsaKey}})
	both.dialWith(dialOpts{token: token(t, jwtSecret, "ann", nil, time.Hour)}).alive()
	both.dialWith(dialOpts{token: signed(t, jwt.SigningMethodRS256, k.rsa, "", claimsFor("bob", time.Hour))}).alive()
	refusedUpgrade(t, both, dialOpts{token: signed(t, jwt.SigningMethodHS256, rsaPEM, "", claimsFor("eve", time.Hour))}, http.StatusUnauthorized)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwksOf writes a JWKS document for keys by kid.
func jwksOf(t testing.TB, keys map[string]any, extra ...map[string]any) []byte {
	var out []map[string]any
	for kid, pub := range keys {
		switch p := pub.(type) {
		case *rsa.PublicKey:
			out = append(out, map[string]any{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": b64(p.N.Bytes()), "e": b64(big.NewInt(int64(p.E)).Bytes())})
		case *ecdsa.PublicKey:
			raw, _ := p.Bytes()
			out = append(out, map[string]any{"kty": "EC", "kid": kid, "crv": "P-256", "x": b64(raw[1:33]), "y": b64(raw[33:])})
		case ed25519.PublicKey:
			out = append(out, map[string]any{"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b64(p)})
		}
	}
	out = append(out, extra...)
	data, err := json.Marshal(map[string]any{"keys": out})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestJWTJWKS(t *testing.T) {
	k := testKeys()
	data := jwksOf(t, map[string]any{"r1": &k.rsa.PublicKey, "r2": &k.rsa2.PublicKey, "e1": &k.ec.PublicKey, "d1": k.ed.Public()},
		map[string]any{"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"}, // skipped: encryption
		map[string]any{"kty": "EC", "kid": "p384", "crv": "P-384", "x": "AA", "y": "AA"},   // skipped: not ES256
	)
	keys, err := server.ParseJWKS(data)
	if err != nil || len(keys) != 4 {
		t.Fatalf("ParseJWKS: %d keys, %v", len(keys), err)
	}
	ev := newEnv(t, syncd.Options{}, server.Options{JWTKeys: keys})
	for _, tok := range []string{
		signed(t, jwt.SigningMethodRS256, k.rsa, "r1", claimsFor("ann", time.Hour)),
		signed(t, jwt.SigningMethodRS256, k.rsa2, "r2", claimsFor("ann", time.Hour)),
		signed(t, jwt.SigningMethodES256, k.ec, "e1", claimsFor("ann", time.Hour)),
		signed(t, jwt.SigningMethodEdDSA, k.ed, "d1", claimsFor("ann", time.Hour)),
	} {
		c := ev.dialWith(dialOpts{token: tok})
		c.alive()
		c.ws.Close()
	}
	for name, tok := range map[string]string{
		"kid of another key": signed(t, jwt.SigningMethodRS256, k.rsa, "r2", claimsFor("eve", time.Hour)),
		"unknown kid":        signed(t, jwt.SigningMethodRS256, k.rsa, "nope", claimsFor("eve", time.Hour)),
		"HS256 with n bytes": signed(t, jwt.SigningMethodHS256, k.rsa.PublicKey.N.Bytes(), "r1", claimsFor("eve", time.Hour)),
	} {
		t.Run("refuses "+name, func(t *testing.T) { refusedUpgrade(t, ev, dialOpts{token: tok}, http.StatusUnauthorized) })
	}

	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	for name, doc := range map[string]string{
		"not JSON":      `{"keys":`,
		"no keys":       `{"keys":[]}`,
		"only enc keys": `{"keys":[{"kty":"OKP","crv":"Ed25519","use":"enc","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`,
		"bad base64":    `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"***"}]}`,
		"short Ed25519": `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]}`,
		"EC off curve":  `{"keys":[{"kty":"EC","crv":"P-256","x":"` + b64(make([]byte, 32)) + `","y":"` + b64(append(make([]byte, 31), 1)) + `"}]}`,
		"small RSA":     string(jwksOf(t, map[string]any{"s": &small.PublicKey})),
	} {
		if _, err := server.ParseJWKS([]byte(doc)); err == nil {
			t.Errorf("ParseJWKS(%s): no error", name)
		}
	}
	privDER, _ := x509.MarshalPKCS8PrivateKey(k.ec)
	for name, data := range map[string][]byte{
		"private key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}),
		"nothing":     []byte("not pem"),
		"small RSA":   pemOf(t, &small.PublicKey),
	} {
		if _, err := server.ParsePublicKeyPEM(data); err == nil {
			t.Errorf("ParsePublicKeyPEM(%s): no error", name)
		}
	}
}
