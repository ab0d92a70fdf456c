package oauth_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/oauth"
)

// Environment of a refresh helper process (kind "refresh").
const (
	refreshURLEnv     = "OAUTH_REFRESH_BASE_URL"
	refreshClientEnv  = "OAUTH_REFRESH_CLIENT"
	refreshSecretEnv  = "OAUTH_REFRESH_SECRET"
	refreshLocEnv     = "OAUTH_REFRESH_LOCATION"
	refreshBarrierEnv = "OAUTH_REFRESH_BARRIER"
)

// refreshHelper is one process of TestTwoProcessesRefreshOnce: it opens the
// shared SQLite store, waits for the barrier file so both processes start
// together, makes an API call (which needs a refresh) and prints the access
// token it used.
func refreshHelper(path string) error {
	store, err := openSQLite(path)
	if err != nil {
		return err
	}
	cfg := &oauth.Config{ClientID: os.Getenv(refreshClientEnv), ClientSecret: os.Getenv(refreshSecretEnv), BaseURL: os.Getenv(refreshURLEnv)}
	loc := os.Getenv(refreshLocEnv)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	src := oauth.NewSource(ctx, cfg, store, oauth.LocationKey(cfg.App(), loc))
	client, err := contacts.NewClient(contacts.WithBaseURL(cfg.BaseURL), contacts.WithTokenSource(src), contacts.WithLocationID(loc))
	if err != nil {
		return err
	}
	for {
		if _, err := os.Stat(os.Getenv(refreshBarrierEnv)); err == nil {
			break
		}
		if ctx.Err() != nil {
			return errors.New("the barrier never opened")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if _, err := client.Contacts.Search(ctx, contacts.SearchParams{PageLimit: 1}); err != nil {
		return fmt.Errorf("API call: %w", err)
	}
	tok, err := src.Current(ctx)
	if err != nil {
		return err
	}
	fmt.Print("TOKEN " + tok.AccessToken)
	return nil
}

// TestTwoProcessesRefreshOnce: two processes with their own in-process
// state share one SQLite token store and find the same expired token at
// the same moment. Exactly one refresh reaches the API, no request is
// refused with invalid_grant, and both go on working with the new token.
func TestTwoProcessesRefreshOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.db")
	store, err := openSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, store)
	// Age the stored token: both processes must refresh before calling.
	tok := e.stored(t)
	tok.Expiry = time.Now().Add(-time.Minute)
	if _, err := store.Save(t.Context(), e.key, tok); err != nil {
		t.Fatal(err)
	}
	before := e.srv.TokenRequests("refresh_token")

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	barrier := filepath.Join(t.TempDir(), "go")
	type result struct {
		out bytes.Buffer
		err error
	}
	results := make([]*result, 2)
	done := make(chan int, 2)
	for i := range results {
		r := &result{}
		results[i] = r
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), helperKindEnv+"=refresh", helperPathEnv+"="+path,
			refreshURLEnv+"="+e.srv.URL, refreshClientEnv+"="+e.cfg.ClientID, refreshSecretEnv+"="+e.cfg.ClientSecret,
			refreshLocEnv+"="+e.key.LocationID, refreshBarrierEnv+"="+barrier)
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &r.out, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			if err := cmd.Wait(); err != nil {
				r.err = fmt.Errorf("%v: %s", err, stderr.String())
			}
			done <- i
		}()
	}
	if err := os.WriteFile(barrier, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for range results {
		<-done
	}
	var tokens []string
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("process %d: %v", i, r.err)
		}
		tokens = append(tokens, strings.TrimPrefix(r.out.String(), "TOKEN "))
	}
	if n := e.srv.TokenRequests("refresh_token") - before; n != 1 {
		t.Errorf("refresh requests = %d, want exactly 1 (so none was refused with invalid_grant)", n)
	}
	if tokens[0] == "" || tokens[0] != tokens[1] {
		t.Errorf("the processes used different tokens: %q", tokens)
	}
	after := e.stored(t)
	if after.AccessToken != tokens[0] || after.RefreshToken == tok.RefreshToken {
		t.Errorf("the store does not hold the refreshed token: %v", after)
	}
	if _, err := e.cfg.Refresh(t.Context(), after.RefreshToken, oauth.Location); err != nil {
		t.Errorf("the stored refresh token is not the newest: %v", err)
	}
}

// gatedStore holds every Lock until the test lets it through: it reports
// each caller on arrived, then waits for a value on release.
type gatedStore struct {
	oauth.TokenStore
	arrived chan struct{}
	release chan struct{}
}

func (g *gatedStore) Lock(ctx context.Context, key oauth.Key, ttl time.Duration) (func(), error) {
	g.arrived <- struct{}{}
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.TokenStore.Lock(ctx, key, ttl)
}

// TestSourcesSharingAStoreRefreshOnce is TestTwoProcessesRefreshOnce made
// deterministic: two Sources with their own state (two processes) share
// one store, and both have found its token expired before either takes
// the refresh lock. The second to get the lock must re-read the store
// under it and use the token the first refreshed, instead of spending the
// same refresh token again.
func TestSourcesSharingAStoreRefreshOnce(t *testing.T) {
	t.Parallel()
	gs := &gatedStore{TokenStore: oauth.NewMemoryStore(), arrived: make(chan struct{}, 2), release: make(chan struct{})}
	e := newEnv(t, gs)
	before := e.stored(t)
	e.clock.Advance(25 * time.Hour)
	type result struct {
		tok oauth.Token
		err error
	}
	results := make(chan result, 2)
	t.Cleanup(func() { close(gs.release) }) // frees a source left waiting when the test fails
	for range 2 {
		src := e.source()
		go func() {
			tok, err := src.Current(context.Background())
			results <- result{tok, err}
		}()
	}
	// Both have loaded the expired token and wait for the lock.
	for range 2 {
		select {
		case <-gs.arrived:
		case r := <-results:
			t.Fatalf("a source returned without taking the refresh lock: %v, %v", r.tok, r.err)
		}
	}
	var got [2]result
	for i := range got {
		gs.release <- struct{}{} // one at a time
		got[i] = <-results
		if got[i].err != nil {
			t.Fatalf("source %d to get the lock: %v", i+1, got[i].err)
		}
	}
	if n := e.srv.TokenRequests("refresh_token"); n != 1 {
		t.Errorf("refresh requests = %d, want exactly 1", n)
	}
	after := e.stored(t)
	if got[0].tok.AccessToken != got[1].tok.AccessToken || got[1].tok.AccessToken != after.AccessToken ||
		after.RefreshToken == before.RefreshToken || after.Version != before.Version+1 {
		t.Errorf("the sources hold different tokens or the store does not hold the refreshed one: %v", after)
	}
}
