package natsnode

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// externalServer starts a NATS server with a client port on 127.0.0.1,
// standing for an operator's server; configure adjusts its options.
func externalServer(t *testing.T, configure func(*server.Options)) string {
	t.Helper()
	o := &server.Options{
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		NoSigs:     true,
		NoLog:      true,
		JetStream:  true,
		StoreDir:   t.TempDir(),
		MaxPayload: int32(MaxMessageBytes(DefaultMaxDocBytes)),
	}
	configure(o)
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("external server not ready")
	}
	return s.ClientURL()
}

// TestConnectExternal: Connect authenticates with a user and password or a
// token, refuses wrong credentials at once and clearly, and refuses a
// server that cannot hold syncd's messages or has no JetStream.
func TestConnectExternal(t *testing.T) {
	var logs logBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	connect := func(o ExternalOptions) error {
		o.Logger = logs.logger()
		nc, err := Connect(ctx, o)
		if err != nil {
			return err
		}
		defer nc.Close()
		// JetStream is usable on the connection.
		js, err := jetstream.New(nc)
		if err != nil {
			return err
		}
		_, err = js.AccountInfo(ctx)
		return err
	}
	wantErr := func(t *testing.T, err error, want ...string) {
		t.Helper()
		if err == nil {
			t.Fatal("connected")
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Fatalf("error %q lacks %q", err, w)
			}
		}
	}

	t.Run("user and password", func(t *testing.T) {
		url := externalServer(t, func(o *server.Options) { o.Username, o.Password = "syncd", "pass-word" })
		if err := connect(ExternalOptions{URLs: []string{url}, User: "syncd", Password: "pass-word"}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err := connect(ExternalOptions{URLs: []string{url}, User: "syncd", Password: "wrong"})
		wantErr(t, err, "refused syncd's credentials")
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("a refused password took %v: it must not be retried", d)
		}
	})
	t.Run("token", func(t *testing.T) {
		url := externalServer(t, func(o *server.Options) { o.Authorization = "the-token" })
		if err := connect(ExternalOptions{URLs: []string{url}, Token: "the-token"}); err != nil {
			t.Fatal(err)
		}
		wantErr(t, connect(ExternalOptions{URLs: []string{url}, Token: "not-the-token"}), "refused syncd's credentials", strings.TrimPrefix(url, "nats://"))
		wantErr(t, connect(ExternalOptions{URLs: []string{url}}), "refused syncd's credentials")
	})
	t.Run("max_payload too small", func(t *testing.T) {
		url := externalServer(t, func(o *server.Options) { o.MaxPayload = 0 }) // the server's default, 1 MB
		wantErr(t, connect(ExternalOptions{URLs: []string{url}}), "max_payload", "1048576", "set max_payload to at least "+strconv.Itoa(MaxMessageBytes(DefaultMaxDocBytes)))
		// Smaller documents fit.
		if err := connect(ExternalOptions{URLs: []string{url}, MaxDocBytes: 512 << 10}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("no JetStream", func(t *testing.T) {
		url := externalServer(t, func(o *server.Options) { o.JetStream = false })
		wantErr(t, connect(ExternalOptions{URLs: []string{url}}), "JetStream is not enabled")
	})
	t.Run("unreachable", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		_, err := Connect(ctx, ExternalOptions{URLs: []string{"nats://u:secret@127.0.0.1:1"}, Logger: logs.logger()})
		wantErr(t, err, "could not reach NATS at nats://REDACTED@127.0.0.1:1")
		if strings.Contains(err.Error(), "secret") {
			t.Fatalf("the password is in the error: %v", err)
		}
	})
	t.Run("options", func(t *testing.T) {
		for _, c := range []struct {
			o    ExternalOptions
			want string
		}{
			{ExternalOptions{}, "no NATS server URL"},
			{ExternalOptions{URLs: []string{"nats://x:4222"}, User: "u"}, "go together"},
			{ExternalOptions{URLs: []string{"nats://x:4222"}, User: "u", Password: "p", Token: "t"}, "one way to authenticate"},
			{ExternalOptions{URLs: []string{"nats://x:4222"}, Creds: "c.creds", Token: "t"}, "one way to authenticate"},
		} {
			_, err := Connect(ctx, c.o)
			wantErr(t, err, c.want)
		}
	})
}
