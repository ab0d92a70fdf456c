package contacts_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"golang.org/x/oauth2"

	contacts "github.com/gymflow/contacts-go"
)

// tinyBackoff keeps retry tests fast.
var tinyBackoff = contacts.WithRetryPolicy(contacts.RetryPolicy{MaxRetries: 2, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})

// hangOnceServer answers the first request by hanging until the client gives
// up on it (or the test ends), and every later one with code and body.
func hangOnceServer(t *testing.T, code int, body string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var hits atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			select {
			case <-r.Context().Done(): // the client closed the connection
			case <-release:
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)                 // runs second: waits for handlers
	t.Cleanup(func() { close(release) }) // runs first: frees a hung handler
	return srv, &hits
}

// TestPerAttemptTimeoutIsRetriedOnlyForIdempotentCalls: an attempt that
// exceeds the HTTP client's Timeout (the attempt's deadline, not the
// caller's context) is a transient transport error: a GET is sent again and
// succeeds, a POST is never repeated because the server may have acted on it.
func TestPerAttemptTimeoutIsRetriedOnlyForIdempotentCalls(t *testing.T) {
	t.Parallel()
	newClient := func(t *testing.T, url string) *contacts.Client {
		t.Helper()
		c, err := contacts.NewClient(
			contacts.WithBaseURL(url),
			contacts.WithHTTPClient(&http.Client{Timeout: 250 * time.Millisecond}),
			contacts.WithToken(testToken),
			contacts.WithLocationID("loc1"),
			contacts.WithRateLimiter(nil),
			tinyBackoff,
		)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	t.Run("GET is retried", func(t *testing.T) {
		t.Parallel()
		srv, hits := hangOnceServer(t, http.StatusOK, contactBody)
		c := newClient(t, srv.URL)
		var resp contacts.Response
		got, err := c.Contacts.Get(context.Background(), "c1", contacts.WithResponse(&resp))
		if err != nil {
			t.Fatalf("GET after a timed-out attempt: %v", err)
		}
		if got.ID != "c1" || resp.Attempts != 2 || hits.Load() != 2 {
			t.Errorf("contact %q after %d attempts, %d server hits; want c1 after 2 and 2", got.ID, resp.Attempts, hits.Load())
		}
	})

	t.Run("POST is not retried", func(t *testing.T) {
		t.Parallel()
		srv, hits := hangOnceServer(t, http.StatusCreated, contactBody)
		c := newClient(t, srv.URL)
		ctx := context.Background()
		_, err := c.Contacts.Create(ctx, contacts.ContactCreate{Email: "ana@example.com"})
		if err == nil {
			t.Fatal("POST whose only attempt timed out succeeded")
		}
		var te *contacts.TransportError
		if !errors.As(err, &te) {
			t.Fatalf("err = %T %v, want *TransportError", err, err)
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Errorf("err = %v, want a timeout net.Error underneath", err)
		}
		if te.Attempts != 1 || hits.Load() > 1 {
			t.Errorf("POST made %d attempts (%d server hits), want 1", te.Attempts, hits.Load())
		}
		if ctx.Err() != nil {
			t.Fatal("the caller's context must not be the one that expired")
		}
	})
}

// TestAttemptDeadlineErrorIsRetriedOnlyForIdempotentCalls covers the same
// rule for a transport that reports the attempt's own deadline
// (context.DeadlineExceeded, a timeout net.Error) while the caller's context
// is still live.
func TestAttemptDeadlineErrorIsRetriedOnlyForIdempotentCalls(t *testing.T) {
	t.Parallel()
	attemptDeadline := fmt.Errorf("attempt: %w", context.DeadlineExceeded)
	for _, method := range []string{"GET", "PUT", "DELETE", "POST"} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			c, mt := newTestClient(t, tinyBackoff)
			ok := status(200, contactBody)
			if method == "POST" {
				ok = status(201, contactBody)
			}
			if method == "DELETE" {
				ok = status(200, `{"succeded":true}`)
			}
			r, calls := sequence(httpmock.NewErrorResponder(attemptDeadline), ok)
			ctx := context.Background()
			var err error
			switch method {
			case "GET":
				mt.RegisterResponder(method, "https://api.test/contacts/c1", r)
				_, err = c.Contacts.Get(ctx, "c1")
			case "PUT":
				mt.RegisterResponder(method, "https://api.test/contacts/c1", r)
				_, err = c.Contacts.Update(ctx, "c1", contacts.ContactUpdate{FirstName: contacts.Value("Ana")})
			case "DELETE":
				mt.RegisterResponder(method, "https://api.test/contacts/c1", r)
				err = c.Contacts.Delete(ctx, "c1")
			case "POST":
				mt.RegisterResponder(method, "https://api.test/contacts/", r)
				_, err = c.Contacts.Create(ctx, contacts.ContactCreate{Email: "ana@example.com"})
			}
			if method == "POST" {
				var te *contacts.TransportError
				if !errors.As(err, &te) || calls.Load() != 1 {
					t.Errorf("POST: err = %v after %d calls, want a TransportError after 1", err, calls.Load())
				}
				return
			}
			if err != nil || calls.Load() != 2 {
				t.Errorf("%s: err = %v after %d calls, want success after 2", method, err, calls.Load())
			}
		})
	}
}

// TestEchoedTokenIsRedacted: a server that echoes the request's bearer token
// in its error body must not leak it through the APIError's text, fields,
// formatted output, raw body or the client's logs.
func TestEchoedTokenIsRedacted(t *testing.T) {
	t.Parallel()
	const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJsb2NhdGlvbklkIjoibG9jMSJ9.c2lnbmF0dXJl"
	bodies := map[string]struct {
		code int
		body string
	}{
		"401 string message": {401, `{"statusCode":401,"message":"bad token Bearer TOKEN","error":"Unauthorized: TOKEN","traceId":"tr-TOKEN"}`},
		"400 string message": {400, `{"statusCode":400,"message":"token TOKEN may not act on loc1 (TOKEN)"}`},
		"422 message array":  {422, `{"statusCode":422,"message":["ok","Authorization Bearer TOKEN rejected"],"error":"Unprocessable Entity"}`},
		"403 meta":           {403, `{"statusCode":403,"message":"no","meta":{"contactId":"TOKEN","matchingField":"TOKEN"}}`},
		"not json":           {400, `<html>Bearer TOKEN</html>`},
	}
	for _, tok := range []struct{ name, value string }{{"static", testToken}, {"oauth", jwt}} {
		for name, tt := range bodies {
			t.Run(tok.name+"/"+name, func(t *testing.T) {
				t.Parallel()
				var logs bytes.Buffer
				logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				opts := []contacts.Option{contacts.WithLogger(logger), tinyBackoff}
				if tok.name == "oauth" {
					opts = append(opts, contacts.WithTokenSource(tokenFunc(func() (*oauth2.Token, error) {
						return &oauth2.Token{AccessToken: jwt, TokenType: "bearer"}, nil
					})))
				}
				c, mt := newTestClient(t, opts...)
				body := strings.ReplaceAll(tt.body, "TOKEN", tok.value)
				mt.RegisterResponder("GET", "https://api.test/contacts/c1", status(tt.code, body))
				_, err := c.Contacts.Get(context.Background(), "c1")
				var apiErr *contacts.APIError
				if !errors.As(err, &apiErr) || apiErr.StatusCode != tt.code {
					t.Fatalf("err = %v, want an APIError with status %d", err, tt.code)
				}
				text := fmt.Sprintf("%s\n%v\n%+v\n%#v\n%s\n%+v\n%s\n%s\n%s\n%s\n%s",
					err.Error(), err, err, err, apiErr.Body, apiErr, apiErr.Message(), apiErr.ErrorText,
					apiErr.TraceID, apiErr.DuplicateContactID, apiErr.MatchingField)
				for what, s := range map[string]string{"error": text, "logs": logs.String()} {
					if strings.Contains(s, tok.value) {
						t.Errorf("%s contain the token:\n%s", what, s)
					}
				}
				if !bytes.Contains(apiErr.Body, []byte("[redacted]")) {
					t.Errorf("Body = %s, want the token replaced by [redacted]", apiErr.Body)
				}
				if !strings.Contains(text, "[redacted]") {
					t.Errorf("error text = %s, want [redacted] in place of the token", text)
				}
			})
		}
	}

	// Bodies are cut at 64 KiB: a token straddling the cut leaves no prefix.
	t.Run("token cut by the body bound", func(t *testing.T) {
		t.Parallel()
		c, mt := newTestClient(t)
		prefix := `{"message":"`
		body := prefix + strings.Repeat("x", 64<<10-len(prefix)-12) + testToken + `"}`
		mt.RegisterResponder("GET", "https://api.test/contacts/c1", status(400, body))
		_, err := c.Contacts.Get(context.Background(), "c1")
		var apiErr *contacts.APIError
		if !errors.As(err, &apiErr) {
			t.Fatalf("err = %v", err)
		}
		if !bytes.HasSuffix(apiErr.Body, []byte("x[redacted]")) || bytes.Contains(apiErr.Body, []byte(testToken[:12])) {
			t.Errorf("truncated body ends with %q, want the partial token redacted", apiErr.Body[len(apiErr.Body)-32:])
		}
	})

	// The token is found even when the response does not carry its request.
	t.Run("response without request", func(t *testing.T) {
		t.Parallel()
		c, mt := newTestClient(t)
		mt.RegisterResponder("GET", "https://api.test/contacts/c1", func(req *http.Request) (*http.Response, error) {
			resp := httpmock.NewStringResponse(401, `{"message":"bad token `+testToken+`"}`)
			resp.Request = nil
			return resp, nil
		})
		_, err := c.Contacts.Get(context.Background(), "c1")
		if err == nil || strings.Contains(fmt.Sprintf("%v %+v", err, err), testToken) {
			t.Errorf("err = %v, want an error without the token", err)
		}
	})
}
