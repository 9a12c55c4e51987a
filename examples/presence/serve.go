package presence

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Serve runs a meeting with opts on ln until ctx ends, then shuts it down:
// what cmd/presence runs, and what its test runs. It returns nil after a
// clean shutdown.
func Serve(ctx context.Context, ln net.Listener, opts Options) error {
	app, err := New(opts)
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{Handler: app.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case <-ctx.Done():
	case err = <-served:
		served <- err // for the wait below
	}
	// Stop accepting first. http.Server does not track the WebSocket
	// connections (they are hijacked): the App closes those, with "going
	// away", so that clients reconnect elsewhere.
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = errors.Join(srv.Shutdown(sctx), app.Shutdown(sctx))
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(serr, err)
	}
	return err
}
