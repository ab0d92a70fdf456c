package contacts_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	contacts "github.com/gymflow/contacts-go"
)

func TestReadOnlyClientRefusesWritesBeforeIO(t *testing.T) {
	t.Parallel()
	c, mt := newTestClient(t, contacts.WithReadOnly())
	mt.RegisterResponder("GET", "https://api.test/contacts/c1", status(200, contactBody))
	mt.RegisterResponder("POST", "https://api.test/contacts/search", status(200, `{"contacts":[],"total":0}`))
	ctx := context.Background()
	if _, err := c.Contacts.Get(ctx, "c1"); err != nil {
		t.Fatalf("read on a read-only client: %v", err)
	}
	if _, err := c.Contacts.Search(ctx, contacts.SearchParams{}); err != nil {
		t.Fatalf("search on a read-only client: %v", err)
	}
	writes := map[string]func() error{
		"create": func() error { _, err := c.Contacts.Create(ctx, contacts.ContactCreate{Email: "a@b.co"}); return err },
		"update": func() error {
			_, err := c.Contacts.Update(ctx, "c1", contacts.ContactUpdate{City: contacts.Value("x")})
			return err
		},
		"delete":    func() error { return c.Contacts.Delete(ctx, "c1") },
		"tags":      func() error { _, err := c.Tags.Add(ctx, "c1", []string{"x"}); return err },
		"campaigns": func() error { return c.Campaigns.RemoveAll(ctx, "c1") },
	}
	before := mt.GetTotalCallCount()
	for name, f := range writes {
		err := f()
		if !errors.Is(err, contacts.ErrReadOnly) || !errors.Is(err, contacts.ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrReadOnly", name, err)
		}
	}
	if mt.GetTotalCallCount() != before {
		t.Error("a write reached the transport")
	}
	if !c.ReadOnly() || !strings.Contains(c.String(), "readOnly: true") {
		t.Errorf("ReadOnly() = %v, String() = %s", c.ReadOnly(), c)
	}
}

func TestMissingScopeIsTyped(t *testing.T) {
	t.Parallel()
	c, mt := newTestClient(t)
	mt.RegisterResponder("POST", "https://api.test/contacts/", status(401, `{"statusCode":401,"message":"The token is not authorized for this scope.","error":"Unauthorized"}`))
	mt.RegisterResponder("GET", "https://api.test/contacts/c1", status(403, `{"statusCode":403,"message":"The token is not authorized for this scope."}`))
	mt.RegisterResponder("GET", "https://api.test/contacts/c2", status(403, `{"statusCode":403,"message":"The token does not have access to this location."}`))
	ctx := context.Background()
	_, err := c.Contacts.Create(ctx, contacts.ContactCreate{Email: "a@b.co"})
	var apiErr *contacts.APIError
	if !errors.Is(err, contacts.ErrMissingScope) || !errors.As(err, &apiErr) || apiErr.RequiredScope != contacts.ScopeContactsWrite ||
		!strings.Contains(err.Error(), "needs the contacts.write scope") {
		t.Errorf("write without scope: %v", err)
	}
	_, err = c.Contacts.Get(ctx, "c1")
	if !errors.As(err, &apiErr) || apiErr.RequiredScope != contacts.ScopeContactsReadonly || !errors.Is(err, contacts.ErrForbidden) {
		t.Errorf("read without scope: %v", err)
	}
	_, err = c.Contacts.Get(ctx, "c2")
	if errors.Is(err, contacts.ErrMissingScope) || !errors.Is(err, contacts.ErrForbidden) {
		t.Errorf("a location 403 is not a scope error: %v", err)
	}
}

func TestStaticTokenRotatesWithoutRebuild(t *testing.T) {
	t.Parallel()
	pit, err := contacts.NewStaticToken("pit-old-secret")
	if err != nil {
		t.Fatal(err)
	}
	c, mt := newTestClient(t, contacts.WithTokenSource(pit))
	var seen []string
	mt.RegisterResponder("GET", "https://api.test/contacts/c1", func(req *http.Request) (*http.Response, error) {
		seen = append(seen, req.Header.Get("Authorization"))
		return status(200, contactBody)(req)
	})
	c.Contacts.Get(context.Background(), "c1")
	if err := pit.Set("pit-new-secret"); err != nil {
		t.Fatal(err)
	}
	c.Contacts.Get(context.Background(), "c1")
	if len(seen) != 2 || seen[0] != "Bearer pit-old-secret" || seen[1] != "Bearer pit-new-secret" {
		t.Errorf("tokens sent = %v", seen)
	}
	if err := pit.Set("bad token"); err == nil {
		t.Error("Set accepted a token with a space")
	}
	if s := fmt.Sprintf("%v %+v %#v %s", pit, pit, pit, pit); strings.Contains(s, "secret") {
		t.Errorf("formatted StaticToken leaks: %s", s)
	}
}

// invalidatingSource hands out tok-1, then tok-2 once tok-1 is invalidated.
type invalidatingSource struct {
	mu          sync.Mutex
	current     int
	invalidated []string
}

func (s *invalidatingSource) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &oauth2.Token{AccessToken: fmt.Sprintf("tok-%d", s.current+1), TokenType: "Bearer"}, nil
}

func (s *invalidatingSource) InvalidateToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.invalidated = append(s.invalidated, tok)
	if tok == fmt.Sprintf("tok-%d", s.current+1) {
		s.current++
	}
}

func TestUnauthorizedInvalidatesTokenAndRetriesOnce(t *testing.T) {
	t.Parallel()
	src := &invalidatingSource{}
	c, mt := newTestClient(t, contacts.WithTokenSource(src))
	// POST too: a 401 means the API did not process the request.
	mt.RegisterResponder("POST", "https://api.test/contacts/", func(req *http.Request) (*http.Response, error) {
		if req.Header.Get("Authorization") != "Bearer tok-2" {
			return status(401, `{"statusCode":401,"message":"Invalid JWT","error":"Unauthorized"}`)(req)
		}
		return status(201, contactBody)(req)
	})
	if _, err := c.Contacts.Create(context.Background(), contacts.ContactCreate{Email: "a@b.co"}); err != nil {
		t.Fatalf("create after one 401: %v", err)
	}
	if len(src.invalidated) != 1 || src.invalidated[0] != "tok-1" || mt.GetTotalCallCount() != 2 {
		t.Errorf("invalidated %v after %d calls", src.invalidated, mt.GetTotalCallCount())
	}
	// A token that keeps failing is invalidated once, then the 401 is returned.
	mt.RegisterResponder("GET", "https://api.test/contacts/c1", status(401, `{"statusCode":401,"message":"Invalid JWT","error":"Unauthorized"}`))
	_, err := c.Contacts.Get(context.Background(), "c1")
	if !errors.Is(err, contacts.ErrUnauthorized) || len(src.invalidated) != 2 || mt.GetTotalCallCount() != 4 {
		t.Errorf("persistent 401: %v, invalidated %v, calls %d", err, src.invalidated, mt.GetTotalCallCount())
	}
}
