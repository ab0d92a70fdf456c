package contacts_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	contacts "github.com/gymflow/contacts-go"
)

// elsewhere is a host an API answer redirects to; it records what reached it.
type elsewhere struct {
	mu       sync.Mutex
	requests []string // "METHOD auth=… body=…"
}

func (e *elsewhere) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	e.mu.Lock()
	e.requests = append(e.requests, r.Method+" auth="+r.Header.Get("Authorization")+" body="+string(body))
	e.mu.Unlock()
	// An answer that would decode as a contact, so a followed redirect
	// would look like a success.
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"contact":{"id":"attacker-1","firstName":"Eve"},"traceId":"t-evil"}`)
}

func (e *elsewhere) seen() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.requests...)
}

// TestRedirectsAreNeverFollowed: an API host that answers with a redirect to
// another host must not get the bearer token or the body sent there, and a
// redirected write must be an error, never a success (the audit's HIGH
// finding: Create became a GET to the other host and returned its answer).
func TestRedirectsAreNeverFollowed(t *testing.T) {
	t.Parallel()
	other := &elsewhere{}
	otherSrv := httptest.NewServer(other)
	t.Cleanup(otherSrv.Close)

	var apiCalls sync.Map
	codes := []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect}
	for _, code := range codes {
		for _, own := range []bool{false, true} {
			name := http.StatusText(code)
			if own {
				name += "/caller's client follows redirects"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					apiCalls.Store(r.URL.Path, true)
					http.Redirect(w, r, otherSrv.URL+"/steal?email=ana%40example.com", code)
				}))
				t.Cleanup(api.Close)
				opts := []contacts.Option{
					contacts.WithBaseURL(api.URL), contacts.WithToken(testToken),
					contacts.WithLocationID("loc1"), contacts.WithRateLimiter(nil),
				}
				if own {
					// A caller's client that follows every redirect must
					// not reopen the hole.
					opts = append(opts, contacts.WithHTTPClient(&http.Client{
						CheckRedirect: func(*http.Request, []*http.Request) error { return nil },
					}))
				}
				c, err := contacts.NewClient(opts...)
				if err != nil {
					t.Fatal(err)
				}
				ctx := context.Background()

				ct, err := c.Contacts.Create(ctx, contacts.ContactCreate{Email: "ana@example.com", FirstName: "Ana"})
				if err == nil {
					t.Fatalf("redirected Create succeeded with %+v", ct)
				}
				if !errors.Is(err, contacts.ErrRedirect) {
					t.Errorf("Create err = %v, want ErrRedirect", err)
				}
				var apiErr *contacts.APIError
				if !errors.As(err, &apiErr) || apiErr.StatusCode != code {
					t.Fatalf("Create err = %#v, want an APIError with status %d", err, code)
				}
				if want := otherSrv.URL + "/steal"; apiErr.Location != want {
					t.Errorf("Location = %q, want %q (no query string)", apiErr.Location, want)
				}
				if s := err.Error(); strings.Contains(s, "ana%40example.com") || strings.Contains(s, testToken) {
					t.Errorf("error text leaks the query or token: %s", s)
				}

				if _, err := c.Contacts.Get(ctx, "c1"); !errors.Is(err, contacts.ErrRedirect) {
					t.Errorf("Get err = %v, want ErrRedirect", err)
				}
				if _, err := c.Tags.Remove(ctx, "c1", []string{"vip"}); !errors.Is(err, contacts.ErrRedirect) {
					t.Errorf("Tags.Remove err = %v, want ErrRedirect", err)
				}
			})
		}
	}
	t.Cleanup(func() {
		if got := other.seen(); len(got) != 0 {
			t.Errorf("the other host received %d request(s), e.g. %q", len(got), got[0])
		}
		if _, ok := apiCalls.Load("/contacts/"); !ok {
			t.Error("the API server was never called: the test proves nothing")
		}
	})
}

// TestCredentialsGoOnlyToTheBaseURL: the layer above auth refuses a request
// for another origin, so no bearer token is attached to it.
func TestCredentialsGoOnlyToTheBaseURL(t *testing.T) {
	t.Parallel()
	c, err := contacts.NewClient(contacts.WithBaseURL("https://api.test"), contacts.WithToken(testToken))
	if err != nil {
		t.Fatal(err)
	}
	rt := contacts.ClientTransportForTest(c)
	for _, target := range []string{"https://evil.test/contacts/", "http://api.test/contacts/", "https://api.test:444/contacts/"} {
		req, _ := http.NewRequest("GET", target, nil)
		resp, err := rt.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
			t.Errorf("RoundTrip(%s) was sent", target)
			continue
		}
		if strings.Contains(err.Error(), testToken) {
			t.Errorf("error leaks the token: %v", err)
		}
		if req.Header.Get("Authorization") != "" {
			t.Errorf("RoundTrip(%s) set Authorization on the caller's request", target)
		}
	}
}
