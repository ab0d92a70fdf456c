package webhook_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gymflow/contacts-go/webhook"
)

// safetyNet bounds how long a test waits for the server, so that a
// regression fails instead of hanging. No assertion is about time: with
// the fix the answer comes after the (short) read timeout.
const safetyNet = 30 * time.Second

// TestSlowBodyIsCutOff: clients that declare a 1 MiB body and then
// dribble it a byte at a time are answered 408 and disconnected after the
// handler's read timeout, long before they could finish — although the
// server itself (httptest's) sets no timeout at all. The application is
// never called.
func TestSlowBodyIsCutOff(t *testing.T) {
	t.Parallel()
	h, calls := countingHandler(t, webhook.WithReadTimeout(200*time.Millisecond))
	srv := httptest.NewServer(h)
	defer srv.Close()

	const clients, declared = 10, 1 << 20
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			if sent, err := slowClient(srv.Listener.Addr().String(), declared); err != nil {
				t.Errorf("client %d (%d of %d body bytes sent): %v", i, sent, declared, err)
			} else if sent >= declared {
				t.Errorf("client %d sent its whole body: the server never cut it off", i)
			}
		})
	}
	wg.Wait()
	if n := calls.Load(); n != 0 {
		t.Errorf("the application was called %d times", n)
	}
}

// slowClient sends a POST declaring a body of declared bytes, then
// dribbles it a byte every 10 ms until the server answers or closes the
// connection. It returns how many body bytes it sent, and an error unless
// the server answered 408 and closed the connection, or just closed it.
func slowClient(addr string, declared int) (int64, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(safetyNet))
	head := fmt.Sprintf("POST /webhooks/contacts HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s: %s\r\n\r\n",
		addr, declared, webhook.SignatureHeader, fuzzSign([]byte("{}")))
	if _, err := io.WriteString(conn, head); err != nil {
		return 0, err
	}

	var sent atomic.Int64
	stop, dribbled := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(dribbled)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for sent.Load() < int64(declared) {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if _, err := conn.Write([]byte(" ")); err != nil {
				return
			}
			sent.Add(1)
		}
	}()
	defer func() { close(stop); <-dribbled }()

	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return sent.Load(), closedOrFailed("before any answer", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		return sent.Load(), fmt.Errorf("status %d, want 408", resp.StatusCode)
	}
	if !resp.Close {
		return sent.Load(), errors.New("the 408 does not close the connection")
	}
	_, err = br.ReadByte()
	return sent.Load(), closedOrFailed("after the 408", err)
}

// closedOrFailed returns nil if err says the server closed the connection
// (EOF or reset), else an error saying what happened.
func closedOrFailed(when string, err error) error {
	switch {
	case err == nil:
		return fmt.Errorf("%s: the connection is still open", when)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%s: the server neither answered nor closed the connection: %w", when, err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed), strings.Contains(err.Error(), "connection reset"):
		return nil
	}
	return fmt.Errorf("%s: %w", when, err)
}

// TestReadDeadlineIsLiftedForTheApplication: the read deadline bounds the
// body only. An application that runs past it (or past the server's
// ReadTimeout) keeps its request context: a read deadline still set when
// it passes would fail the server's background read of the connection and
// cancel the context mid-processing (net/http lifts it when the body is
// read to its end, which the handler must keep doing).
func TestReadDeadlineIsLiftedForTheApplication(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name        string
		opts        []webhook.HandlerOption
		readTimeout time.Duration // the server's
	}{
		{"handler read timeout", []webhook.HandlerOption{webhook.WithReadTimeout(100 * time.Millisecond)}, 0},
		{"server ReadTimeout", nil, 100 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctxErr := make(chan error, 1)
			h, err := webhook.NewHandler(fuzzVerifier(t), func(ctx context.Context, _ webhook.Event) error {
				// Run well past the read deadline; a cancellation ends the wait.
				timer := time.NewTimer(time.Second)
				defer timer.Stop()
				select {
				case <-ctx.Done():
				case <-timer.C:
				}
				ctxErr <- ctx.Err()
				return ctx.Err()
			}, append([]webhook.HandlerOption{webhook.WithClock(func() time.Time { return fuzzNow })}, tc.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewUnstartedServer(h)
			srv.Config.ReadTimeout = tc.readTimeout
			srv.Start()
			defer srv.Close()

			body := noteBody("wh-lifted-"+tc.name, fuzzNow, 0)
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, bytes.NewReader(body))
			req.Header.Set(webhook.SignatureHeader, fuzzSign(body))
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if err := <-ctxErr; err != nil {
				t.Errorf("the application's context ended while it ran: %v", err)
			}
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status %d, want 200", resp.StatusCode)
			}
		})
	}
}

// hiddenWriter hides the ResponseWriter's connection controls (no Unwrap),
// as some middleware wrappers do.
type hiddenWriter struct{ rec *httptest.ResponseRecorder }

func (h hiddenWriter) Header() http.Header         { return h.rec.Header() }
func (h hiddenWriter) Write(b []byte) (int, error) { return h.rec.Write(b) }
func (h hiddenWriter) WriteHeader(code int)        { h.rec.WriteHeader(code) }

// TestReadTimeoutWithoutDeadlineSupport: when the ResponseWriter cannot set
// a read deadline, a body that never arrives is still given up on: the
// handler closes it, answers 408 and returns, leaving no reader behind.
func TestReadTimeoutWithoutDeadlineSupport(t *testing.T) {
	t.Parallel()
	h, calls := countingHandler(t, webhook.WithReadTimeout(100*time.Millisecond))
	pr, pw := io.Pipe()
	defer pw.Close()
	req := httptest.NewRequest(http.MethodPost, "/webhooks/contacts", pr)
	req.ContentLength = 1 << 10
	req.Header.Set(webhook.SignatureHeader, fuzzSign([]byte("{}")))
	rec := httptest.NewRecorder()
	if err := http.NewResponseController(hiddenWriter{rec}).SetReadDeadline(time.Time{}); !errors.Is(err, http.ErrNotSupported) {
		t.Fatalf("SetReadDeadline through the wrapper: %v, want ErrNotSupported", err)
	}
	go pw.Write([]byte(`{"type":`)) // a start, then nothing

	done := make(chan struct{})
	go func() { h.ServeHTTP(hiddenWriter{rec}, req); close(done) }()
	select {
	case <-done:
	case <-time.After(safetyNet):
		pw.CloseWithError(errors.New("test gave up"))
		<-done
		t.Fatal("the handler waited for the body past its read timeout")
	}
	if rec.Code != http.StatusRequestTimeout || rec.Header().Get("Connection") != "close" {
		t.Errorf("status %d, Connection %q; want 408 and close", rec.Code, rec.Header().Get("Connection"))
	}
	// The body was closed and nothing reads it any more.
	if _, err := pw.Write([]byte(`"NoteCreate"}`)); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("writing the rest of the body: %v, want io.ErrClosedPipe", err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the application was called %d times", n)
	}
}

// TestReadTimeoutOption: the read timeout must be positive, and a body
// that arrives in time is unaffected by it.
func TestReadTimeoutOption(t *testing.T) {
	t.Parallel()
	for _, d := range []time.Duration{0, -time.Second} {
		if _, err := webhook.NewHandler(fuzzVerifier(t), func(context.Context, webhook.Event) error { return nil }, webhook.WithReadTimeout(d)); err == nil {
			t.Errorf("WithReadTimeout(%v): no error", d)
		}
	}
	h, calls := countingHandler(t, webhook.WithReadTimeout(time.Hour))
	srv := httptest.NewServer(h)
	defer srv.Close()
	body := noteBody("wh-in-time", fuzzNow, 0)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, bytes.NewReader(body))
	req.Header.Set(webhook.SignatureHeader, fuzzSign(body))
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || calls.Load() != 1 {
		t.Errorf("status %d after %d calls, want 200 after 1", resp.StatusCode, calls.Load())
	}
}
