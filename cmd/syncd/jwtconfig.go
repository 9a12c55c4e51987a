package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/deltasync/syncd/server"
)

// JWT flags: what verifies tokens (-jwt-secret, -jwt-public-key,
// -jwt-jwks) and what a token must say (-jwt-audience, -jwt-issuer,
// -jwt-leeway). Checked at start, so a short secret or an unreadable key
// file stops syncd with a flag error rather than a server that refuses
// every connection.

// validateJWT checks the JWT flags, reading the key files.
func (c *Config) validateJWT() error {
	if c.JWTSecret != "" && len(c.JWTSecret) < server.MinJWTSecretBytes {
		return fmt.Errorf("-jwt-secret: %d bytes is too short; HS256 needs at least %d (RFC 7518 §3.2), e.g. from `openssl rand -base64 32`", len(c.JWTSecret), server.MinJWTSecretBytes)
	}
	if _, err := c.jwtKeys(); err != nil {
		return err
	}
	if !c.jwtOn() && (c.JWTAudience != "" || c.JWTIssuer != "") {
		return errors.New("-jwt-audience and -jwt-issuer need -jwt-secret, -jwt-public-key or -jwt-jwks")
	}
	return nil
}

func (c *Config) jwtOn() bool {
	return c.JWTSecret != "" || c.JWTPublicKey != "" || c.JWTJWKS != ""
}

// jwtKeys reads -jwt-public-key and -jwt-jwks.
func (c *Config) jwtKeys() ([]server.JWTKey, error) {
	var keys []server.JWTKey
	if c.JWTPublicKey != "" {
		k, err := parseFlagFile("jwt-public-key", c.JWTPublicKey, server.ParsePublicKeyPEM)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	if c.JWTJWKS != "" {
		ks, err := parseFlagFile("jwt-jwks", c.JWTJWKS, server.ParseJWKS)
		if err != nil {
			return nil, err
		}
		keys = append(keys, ks...)
	}
	return keys, nil
}

// parseFlagFile reads the file that the flag name gives, path, and parses
// it; errors name the flag (and the file, once it was read).
func parseFlagFile[T any](name, path string, parse func([]byte) (T, error)) (T, error) {
	var v T
	data, err := os.ReadFile(path)
	if err != nil {
		return v, fmt.Errorf("-%s: %w", name, err)
	}
	if v, err = parse(data); err != nil {
		return v, fmt.Errorf("-%s %s: %w", name, path, err)
	}
	return v, nil
}

// jwtLeeway is the server option for -jwt-leeway: the flag's 0 means no
// leeway, which the option spells as a negative duration.
func (c *Config) jwtLeeway() time.Duration {
	if c.JWTLeeway == 0 {
		return -1
	}
	return c.JWTLeeway
}
