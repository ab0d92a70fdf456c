package main

import (
	"net/http"
	"testing"
	"time"
)

// TestServerTimeouts: the server bounds every stage of a request
// (headers, body, answer, idle keep-alive), so that slow or idle clients
// cannot hold its connections.
func TestServerTimeouts(t *testing.T) {
	t.Parallel()
	srv := newServer(http.NotFoundHandler())
	for name, d := range map[string]time.Duration{
		"ReadHeaderTimeout": srv.ReadHeaderTimeout,
		"ReadTimeout":       srv.ReadTimeout,
		"WriteTimeout":      srv.WriteTimeout,
		"IdleTimeout":       srv.IdleTimeout,
	} {
		if d <= 0 {
			t.Errorf("%s is not set: a client can hold a connection open indefinitely", name)
		}
	}
	if srv.ReadTimeout <= srv.ReadHeaderTimeout {
		t.Errorf("ReadTimeout %v leaves no time for the body after ReadHeaderTimeout %v", srv.ReadTimeout, srv.ReadHeaderTimeout)
	}
	if srv.Handler == nil {
		t.Error("the server has no handler")
	}
}
