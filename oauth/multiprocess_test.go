package oauth_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gymflow/contacts-go/internal/pgtest"
	"github.com/gymflow/contacts-go/oauth"
)

// Environment of a helper process.
const (
	helperKindEnv   = "OAUTH_STORE_HELPER" // "file", "sqlite", "postgres", "refresh" or "hold"
	helperPathEnv   = "OAUTH_STORE_HELPER_PATH"
	helperRoundsEnv = "OAUTH_STORE_HELPER_ROUNDS"
)

// multiProcessKey is the key the helper processes increment.
var multiProcessKey = oauth.LocationKey("multiprocess-app", "loc-1")

// TestMain turns the test binary into a helper process when the
// environment asks for one: several of them share a store, as separate
// processes of an integration do. Otherwise it runs the tests, and stops
// the PostgreSQL server they may have started (internal/pgtest).
func TestMain(m *testing.M) {
	if kind := os.Getenv(helperKindEnv); kind != "" {
		if err := runHelperProcess(kind); err != nil {
			fmt.Fprintln(os.Stderr, "helper process:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(pgtest.Run(m))
}

func runHelperProcess(kind string) error {
	path := os.Getenv(helperPathEnv)
	switch kind {
	case "refresh":
		return refreshHelper(path)
	case "hold":
		return holdHelper(path)
	}
	rounds, err := strconv.Atoi(os.Getenv(helperRoundsEnv))
	if err != nil {
		return err
	}
	var store oauth.TokenStore
	switch kind {
	case "file":
		store, err = oauth.NewFileStore(path)
	case "sqlite":
		store, err = openSQLite(path)
	case "postgres":
		store, _, err = openPostgres(path)
	default:
		err = fmt.Errorf("unknown helper kind %q", kind)
	}
	if err != nil {
		return err
	}
	for range rounds {
		if err := lockedIncrement(store, multiProcessKey); err != nil {
			return err
		}
	}
	return nil
}

// openShared opens the store at path that the processes of a test share:
// the PostgreSQL database if path is a connection URL, else the SQLite
// file.
func openShared(path string) (*oauth.SQLStore, error) {
	if isPostgresURL(path) {
		s, _, err := openPostgres(path)
		return s, err
	}
	return openSQLite(path)
}

// openSQLite opens a migrated store in the SQLite file at path, made private
// by PrepareSQLiteFile, with WAL and a busy timeout, as the SQL store's
// documentation asks.
func openSQLite(path string) (*oauth.SQLStore, error) {
	if err := oauth.PrepareSQLiteFile(path); err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(path)+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		return nil, err
	}
	s, err := oauth.NewSQLStore(db, oauth.SQLite)
	if err != nil {
		return nil, err
	}
	return s, s.Migrate(context.Background())
}

// lockedIncrement adds one to the counter under key, creating it if
// missing, as a refresh does: Lock, Load, Save, unlock.
func lockedIncrement(store oauth.TokenStore, key oauth.Key) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	unlock, err := store.Lock(ctx, key, 30*time.Second)
	if err != nil {
		return fmt.Errorf("Lock: %w", err)
	}
	defer unlock()
	tok, err := store.Load(ctx, key)
	if errors.Is(err, oauth.ErrNoToken) {
		tok, err = oauth.Token{AccessToken: "0"}, nil
	}
	if err != nil {
		return fmt.Errorf("Load: %w", err)
	}
	n, err := strconv.Atoi(tok.AccessToken)
	if err != nil {
		return errors.New("the counter is not a number")
	}
	tok.AccessToken = strconv.Itoa(n + 1)
	if _, err := store.Save(ctx, key, tok); err != nil {
		return fmt.Errorf("Save (version %d): %w", tok.Version, err)
	}
	return nil
}

// runStoreProcesses runs procs helper processes at once, each making
// rounds locked increments through its own store of the given kind at
// path, and checks that no increment was lost: the counter and the
// version both end at procs*rounds.
func runStoreProcesses(t *testing.T, kind, path string, procs, rounds int, store oauth.TokenStore) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var failed atomic.Bool
	done := make(chan struct{}, procs)
	for i := range procs {
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(),
			helperKindEnv+"="+kind, helperPathEnv+"="+path, helperRoundsEnv+"="+strconv.Itoa(rounds))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			defer func() { done <- struct{}{} }()
			if err := cmd.Wait(); err != nil {
				failed.Store(true)
				t.Errorf("helper process %d: %v\n%s", i, err, out.Bytes())
			}
		}()
	}
	for range procs {
		<-done
	}
	if failed.Load() {
		return
	}
	got, err := store.Load(t.Context(), multiProcessKey)
	if err != nil {
		t.Fatal(err)
	}
	want := procs * rounds
	if got.AccessToken != strconv.Itoa(want) || got.Version != int64(want) {
		t.Fatalf("after %d processes made %d increments each, counter = %s and version = %d; want %d and %d",
			procs, rounds, got.AccessToken, got.Version, want, want)
	}
}
