package contacts

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"golang.org/x/oauth2"
	"golang.org/x/time/rate"

	"github.com/gymflow/contacts-go/internal/ratelimit"
)

// limiterOf digs the client-side limiter out of the transport chain
// NewClient builds: originGuard → oauth2.Transport → tokenRecorder →
// ratelimit.Transport.
func limiterOf(t *testing.T, c *Client) *ratelimit.Transport {
	t.Helper()
	g, ok := c.http.HTTPClient.Transport.(originGuard)
	if !ok {
		t.Fatalf("outer transport is %T, want originGuard", c.http.HTTPClient.Transport)
	}
	ot, ok := g.next.(*oauth2.Transport)
	if !ok {
		t.Fatalf("below the origin guard is %T, want *oauth2.Transport", g.next)
	}
	tr, ok := ot.Base.(tokenRecorder)
	if !ok {
		t.Fatalf("below auth is %T, want tokenRecorder", ot.Base)
	}
	rl, ok := tr.base.(*ratelimit.Transport)
	if !ok {
		t.Fatalf("below tokenRecorder is %T, want *ratelimit.Transport", tr.base)
	}
	return rl
}

// TestNewClientDefaults: with no base URL, limiter, retry or HTTP client
// options the client talks to the production host, limits itself to the
// API's burst budget (100 requests per 10 s, i.e. 10/s refill with a burst
// of 100), uses DefaultRetryPolicy and bounds each attempt by DefaultTimeout.
func TestNewClientDefaults(t *testing.T) {
	t.Parallel()
	if DefaultBaseURL != "https://services.leadconnectorhq.com" {
		t.Errorf("DefaultBaseURL = %q", DefaultBaseURL)
	}

	mt := httpmock.NewMockTransport()
	mt.RegisterResponder("GET", "https://services.leadconnectorhq.com/contacts/c1",
		httpmock.NewStringResponder(200, `{"contact":{"id":"c1"},"traceId":"t"}`))
	c, err := NewClient(WithToken("pit-defaults"), WithHTTPClient(&http.Client{Transport: mt}))
	if err != nil {
		t.Fatal(err)
	}
	if c.baseURL != "https://services.leadconnectorhq.com" {
		t.Errorf("baseURL = %q", c.baseURL)
	}

	lt := limiterOf(t, c)
	l := lt.Limiter
	if l == nil {
		t.Fatal("no default rate limiter")
	}
	if l.Limit() != rate.Every(100*time.Millisecond) || l.Limit() != rate.Limit(10) || l.Burst() != 100 {
		t.Errorf("default limiter: limit %v/s burst %d, want 10/s (100 per 10 s) burst 100", l.Limit(), l.Burst())
	}
	if got := l.Tokens(); got != 100 {
		t.Errorf("a new client's bucket holds %v tokens, want a full burst of 100", got)
	}
	if lt.MaxPause != DefaultRetryPolicy().MaxRetryAfter {
		t.Errorf("limiter MaxPause = %v, want DefaultRetryPolicy().MaxRetryAfter", lt.MaxPause)
	}
	if c.policy.MaxRetries != 3 || c.http.RetryWaitMin != 500*time.Millisecond || c.http.RetryWaitMax != 10*time.Second || c.policy.MaxRetryAfter != time.Minute {
		t.Errorf("retry policy = %+v (wait %v..%v), want DefaultRetryPolicy", c.policy, c.http.RetryWaitMin, c.http.RetryWaitMax)
	}

	// Each client gets its own bucket: clients never share a budget by accident.
	c2, err := NewClient(WithToken("pit-defaults"))
	if err != nil {
		t.Fatal(err)
	}
	if limiterOf(t, c2).Limiter == l {
		t.Error("two clients share the default limiter")
	}
	// Without WithHTTPClient each attempt is bounded by DefaultTimeout on a
	// pooled cleanhttp transport.
	if c2.http.HTTPClient.Timeout != DefaultTimeout || DefaultTimeout != 30*time.Second {
		t.Errorf("default per-attempt timeout = %v, want 30s", c2.http.HTTPClient.Timeout)
	}
	if _, ok := limiterOf(t, c2).Base.(*http.Transport); !ok {
		t.Errorf("default base transport is %T, want a cleanhttp *http.Transport", limiterOf(t, c2).Base)
	}

	// The request goes to the production host (the only URL registered).
	if _, err := c.Contacts.Get(context.Background(), "c1"); err != nil {
		t.Fatalf("GET on the default base URL: %v", err)
	}
	if info := mt.GetCallCountInfo(); info["GET https://services.leadconnectorhq.com/contacts/c1"] != 1 {
		t.Errorf("calls = %v, want one GET to https://services.leadconnectorhq.com/contacts/c1", info)
	}
}
