package router_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/deltasync/syncd/internal/testenv"
	"github.com/deltasync/syncd/protocol"
	"github.com/deltasync/syncd/router"
)

// TestShutdown: every connection is closed with 1001, Shutdown returns
// after every OnClose, and later upgrades are refused with 503.
func TestShutdown(t *testing.T) {
	rec := newRecorder()
	r := router.New(router.Options{
		OnClose: func(c *router.Conn, code int, _ string) { rec.add("close " + strconv.Itoa(code)) },
	})
	router.HandleRPC(r, "ECHO", "ECHOED", func(x *router.Ctx, p echo) (echo, error) { return p, nil })
	url := testenv.Serve(t, r).URL

	var clients []*websocket.Conn
	codes := make(chan int, 10)
	for range 5 {
		c, _, err := testenv.DialWS(t, url, testenv.WSOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ws := c.WS
		clients = append(clients, ws)
		go func() {
			for {
				_, _, err := ws.ReadMessage()
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					codes <- ce.Code
					return
				}
				if err != nil {
					codes <- -1
					return
				}
			}
		}()
	}
	for r.Len() < 5 {
		time.Sleep(time.Millisecond)
	}
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.all()); n != 5 {
		t.Fatalf("Shutdown returned after %d of 5 OnClose", n)
	}
	for range clients {
		if code := <-codes; code != protocol.CloseGoingAway {
			t.Fatalf("client saw close %d", code)
		}
	}
	for _, e := range rec.all() {
		if e != "close 1001" {
			t.Fatal(e)
		}
	}
	_, resp, err := testenv.DialWS(t, url, testenv.WSOptions{})
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after shutdown: %v", err)
	}
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
}

// TestShutdownDeadline: a client that never answers the close frame
// cannot hold Shutdown past its context.
func TestShutdownDeadline(t *testing.T) {
	r := router.New(router.Options{CloseTimeout: time.Minute})
	// It never reads, so never answers the close.
	_, _, err := testenv.DialWS(t, testenv.Serve(t, r).URL, testenv.WSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for r.Len() < 1 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	if err := r.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Fatalf("Shutdown took %v", d)
	}
}
