package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/gymflow/contacts-go/webhook"
)

// TestServerTimeouts: the receiver's server bounds every stage of a
// request (headers, body, answer, idle keep-alive) and the size of the
// headers, and its WriteTimeout leaves the application time to handle an
// event after the handler's body read timeout.
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
	if srv.WriteTimeout <= webhook.DefaultReadTimeout {
		t.Errorf("WriteTimeout %v leaves the application no time after the handler's read timeout %v", srv.WriteTimeout, webhook.DefaultReadTimeout)
	}
	if srv.MaxHeaderBytes <= 0 || srv.MaxHeaderBytes > 1<<20 {
		t.Errorf("MaxHeaderBytes %d, want a cap below net/http's 1 MiB default", srv.MaxHeaderBytes)
	}
}
