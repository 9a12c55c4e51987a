package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestJWTFlags(t *testing.T) {
	dir := t.TempDir()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(pub)
	pemFile := filepath.Join(dir, "key.pem")
	os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600)
	jwksFile := filepath.Join(dir, "jwks.json")
	os.WriteFile(jwksFile, []byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`), 0o600)
	secret := strings.Repeat("s", 32)

	m, err := parse(t, nil, map[string]string{
		"SYNCD_JWT_SECRET": secret, "SYNCD_JWT_PUBLIC_KEY": pemFile, "SYNCD_JWT_JWKS": jwksFile,
		"SYNCD_JWT_AUDIENCE": "syncd", "SYNCD_JWT_ISSUER": "https://id.example", "SYNCD_JWT_LEEWAY": "5s",
	})
	if err != nil {
		t.Fatal(err)
	}
	c := m.Config
	if c.JWTSecret != secret || c.JWTPublicKey != pemFile || c.JWTJWKS != jwksFile || c.JWTAudience != "syncd" ||
		c.JWTIssuer != "https://id.example" || c.JWTLeeway != 5*time.Second {
		t.Fatalf("config %+v", c)
	}
	if keys, err := c.jwtKeys(); err != nil || len(keys) != 2 || keys[1].ID != "k1" {
		t.Fatalf("keys %v %v", keys, err)
	}
	if m, _ := parse(t, nil, nil); m.Config.JWTLeeway != 30*time.Second {
		t.Fatalf("default leeway %v", m.Config.JWTLeeway)
	}
	if m, _ := parse(t, []string{"-jwt-secret", secret, "-jwt-leeway", "0"}, nil); m.Config.jwtLeeway() >= 0 {
		t.Fatal("-jwt-leeway 0 is not 'no leeway'")
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-jwt-secret", "x"}, "-jwt-secret: 1 bytes is too short"},
		{[]string{"-jwt-secret", strings.Repeat("s", 31)}, "at least 32"},
		{[]string{"-jwt-public-key", filepath.Join(dir, "missing.pem")}, "-jwt-public-key"},
		{[]string{"-jwt-public-key", jwksFile}, "-jwt-public-key"},
		{[]string{"-jwt-jwks", pemFile}, "-jwt-jwks"},
		{[]string{"-jwt-secret", secret, "-jwt-leeway", "-1s"}, "-jwt-leeway"},
		{[]string{"-jwt-audience", "syncd"}, "need -jwt-secret"},
	} {
		if _, err := parse(t, c.args, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error with %q", c.args, err, c.want)
		}
	}
}
