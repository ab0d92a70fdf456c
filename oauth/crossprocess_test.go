package oauth_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/internal/pgtest"
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
// shared SQLite (or PostgreSQL) store, waits for the barrier file so both processes start
// together, makes an API call (which needs a refresh) and prints the access
// token it used.
func refreshHelper(path string) error {
	store, err := openShared(path)
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
	testTwoProcessesRefreshOnce(t, path, store)
}

// TestTwoProcessesRefreshOncePostgres is TestTwoProcessesRefreshOnce with
// the store in PostgreSQL.
func TestTwoProcessesRefreshOncePostgres(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	testTwoProcessesRefreshOnce(t, url, openPostgresStore(t, url))
}

// testTwoProcessesRefreshOnce runs two refresh helper processes on the
// store at path (a SQLite file or a PostgreSQL URL), which store is.
func testTwoProcessesRefreshOnce(t *testing.T, path string, store *oauth.SQLStore) {
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

// Environment of a hold helper process (kind "hold"), besides the refresh
// helper's URL, client, secret and location.
const (
	holdStoreEnv = "OAUTH_HOLD_STORE" // "file", "sqlite" or "Postgres"
	holdLeaseEnv = "OAUTH_HOLD_LEASE" // the Source's lock TTL
)

// holdHelper is the process TestKilledRefresherDoesNotBlockTheNextCaller
// kills: it opens the shared store, finds the token expired and refreshes
// it through a token endpoint that never answers, so that it holds the
// key's refresh lease (taken with the lock TTL in the environment) when it
// is killed.
func holdHelper(path string) error {
	var (
		store oauth.TokenStore
		err   error
	)
	switch kind := os.Getenv(holdStoreEnv); kind {
	case "file":
		store, err = oauth.NewFileStore(path)
	case "sqlite":
		store, err = openSQLite(path)
	case "Postgres":
		store, _, err = openPostgres(path)
	default:
		err = fmt.Errorf("unknown store kind %q", kind)
	}
	if err != nil {
		return err
	}
	lease, err := time.ParseDuration(os.Getenv(holdLeaseEnv))
	if err != nil {
		return err
	}
	cfg := &oauth.Config{ClientID: os.Getenv(refreshClientEnv), ClientSecret: os.Getenv(refreshSecretEnv), BaseURL: os.Getenv(refreshURLEnv)}
	key := oauth.LocationKey(cfg.App(), os.Getenv(refreshLocEnv))
	_, err = oauth.NewSource(context.Background(), cfg, store, key, oauth.WithLockTTL(lease)).Current(context.Background())
	return fmt.Errorf("the refresh returned (error %v) before the process was killed", err)
}

// TestKilledRefresherDoesNotBlockTheNextCaller: a process is killed (kill
// -9) while it refreshes a location's token, inside the token endpoint, so
// its refresh lease stays in the store, live, with no one to release it.
// The next caller, in another process, must wait the lease out and
// refresh, not fail.
//
// It runs the default configuration scaled down, so as not to wait
// DefaultLockTTL: the lease is 2 s and the refresh timeout is scaled by the
// same factor as the lock TTL (2 s × DefaultRefreshTimeout/DefaultLockTTL).
// TestDefaultsOutwaitACrashedHolder checks the defaults themselves. Its
// subtest Postgres keeps the lease in PostgreSQL.
func TestKilledRefresherDoesNotBlockTheNextCaller(t *testing.T) {
	t.Parallel()
	const lease = 2 * time.Second
	timeout := lease * (oauth.DefaultRefreshTimeout / time.Millisecond) / (oauth.DefaultLockTTL / time.Millisecond)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"file", "sqlite", "Postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			var (
				path  string
				store oauth.TokenStore
				// leases lists the refresh leases stored for key.
				leases func(key oauth.Key) []string
			)
			switch kind {
			case "file":
				path = filepath.Join(t.TempDir(), "tokens.json")
				store = newFileStore(t, path)
				leases = func(key oauth.Key) []string { return fileLeases(t, path, key) }
			case "sqlite":
				path = filepath.Join(t.TempDir(), "tokens.db")
				store = openSQLiteStore(t, path)
				db := openSQLiteDB(t, path)
				leases = func(key oauth.Key) []string { return sqlLeases(t, db, oauth.SQLite, key) }
			case "Postgres":
				path = pgtest.URL(t)
				store = openPostgresStore(t, path)
				db := pgtest.Open(t, path)
				leases = func(key oauth.Key) []string { return sqlLeases(t, db, oauth.Postgres, key) }
			}
			e := newEnv(t, store)
			tok := e.stored(t)
			tok.Expiry = time.Now().Add(-time.Minute) // every process must refresh
			tok, err := store.Save(t.Context(), e.key, tok)
			if err != nil {
				t.Fatal(err)
			}
			before := e.srv.TokenRequests("refresh_token")

			// A token endpoint that takes the request and never answers.
			arrived, stop := make(chan struct{}, 1), make(chan struct{})
			hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case arrived <- struct{}{}:
				default:
				}
				select {
				case <-r.Context().Done(): // the process was killed
				case <-stop:
				}
			}))
			t.Cleanup(hang.Close)
			t.Cleanup(func() { close(stop) })

			cmd := exec.Command(exe)
			cmd.Env = append(os.Environ(), helperKindEnv+"=hold", helperPathEnv+"="+path,
				holdStoreEnv+"="+kind, holdLeaseEnv+"="+lease.String(), refreshURLEnv+"="+hang.URL,
				refreshClientEnv+"="+e.cfg.ClientID, refreshSecretEnv+"="+e.cfg.ClientSecret, refreshLocEnv+"="+e.key.LocationID)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			t.Cleanup(func() { _ = cmd.Process.Kill() }) // if the test fails first
			select {
			case <-arrived: // it holds the lease and waits for the answer
			case err := <-exited:
				t.Fatalf("the refreshing process ended before it reached the token endpoint: %v\n%s", err, out.Bytes())
			case <-time.After(time.Minute):
				t.Fatal("the refreshing process never reached the token endpoint")
			}
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			if err := <-exited; err == nil {
				t.Fatalf("the refreshing process exited normally instead of being killed:\n%s", out.Bytes())
			}
			if got := leases(e.key); len(got) != 1 {
				t.Fatalf("after the kill, the store holds leases %q, want the killed process's one", got)
			}

			// The next caller, with the (scaled) default settings.
			src := oauth.NewSource(context.Background(), e.cfg, store, e.key, oauth.WithLockTTL(lease), oauth.WithRefreshTimeout(timeout))
			got, err := src.Current(t.Context())
			if err != nil {
				t.Fatalf("the next caller after the lease holder was killed: %v", err)
			}
			if n := e.srv.TokenRequests("refresh_token") - before; n != 1 {
				t.Errorf("refresh requests = %d, want 1", n)
			}
			after := e.stored(t)
			if after.AccessToken != got.AccessToken || after.RefreshToken == tok.RefreshToken || after.Version != tok.Version+1 {
				t.Errorf("the store does not hold the refreshed token: %v", after)
			}
			if got := leases(e.key); len(got) != 0 {
				t.Errorf("after the refresh, the store holds leases %q, want none", got)
			}
		})
	}
}

// fileLeases lists the lease files of key's refresh lock in the lock
// directory of the FileStore at path, each with the process ID it holds.
func fileLeases(t *testing.T, path string, key oauth.Key) []string {
	t.Helper()
	entries, err := os.ReadDir(path + ".locks")
	if err != nil {
		t.Fatal(err)
	}
	var leases []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), keyLeaseName(key)+".") || !strings.HasSuffix(e.Name(), ".lease") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(path+".locks", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var rec struct {
			PID int `json:"pid"`
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatal(err)
		}
		leases = append(leases, fmt.Sprintf("%s (pid %d)", e.Name(), rec.PID))
	}
	return leases
}

// sqlLeases lists the holders of key's refresh lock in a SQLStore's
// database, of dialect d, with the default table prefix.
func sqlLeases(t *testing.T, db *sql.DB, d oauth.Dialect, key oauth.Key) []string {
	t.Helper()
	q := `SELECT holder FROM contacts_oauth_locks WHERE app_id = ? AND subject = ?`
	if d == oauth.Postgres {
		q = `SELECT holder FROM contacts_oauth_locks WHERE app_id = $1 AND subject = $2`
	}
	rows, err := db.QueryContext(t.Context(), q, key.AppID, key.Subject())
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var leases []string
	for rows.Next() {
		var holder string
		if err := rows.Scan(&holder); err != nil {
			t.Fatal(err)
		}
		leases = append(leases, holder)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return leases
}
