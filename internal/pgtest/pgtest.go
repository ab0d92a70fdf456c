// Package pgtest gives tests a real PostgreSQL database: a throwaway
// server of their own, or a server they are pointed at.
//
// A package whose tests use it runs them through Run, so that the server
// is stopped when they end:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }
//
// and each test that needs a database asks for one, fresh and its own:
//
//	func TestThingPostgres(t *testing.T) {
//		db := pgtest.DB(t) // *sql.DB through github.com/jackc/pgx/v5/stdlib
//		…
//	}
//
// Tests that run on PostgreSQL carry "Postgres" in their names, so that
// `go test -run Postgres ./...` runs them all.
//
// # Which server
//
// With CONTACTS_TEST_POSTGRES_URL set (a postgres:// URL, or key=value
// connection string, of a role that may create databases), the tests use
// that server. Otherwise the first test to ask starts one for the whole
// test binary: it looks for initdb and postgres on PATH, then in
// /usr/lib/postgresql/<version>/bin (the newest version), runs initdb in a
// fresh directory under /tmp and starts postgres on a Unix socket in it (no
// TCP port), as the user "postgres" when the tests run as root, since the
// server refuses to run as root. Starting takes one to three seconds,
// mostly initdb's.
//
// The server runs with fsync on, PostgreSQL's default, so that timings
// taken against it (the stores' benchmarks) include the cost of durable
// commits; CONTACTS_TEST_POSTGRES_FSYNC=off starts it with fsync=off
// instead, for speed where durability costs are not measured.
//
// postgres runs as a direct child of the test binary, not daemonized by
// pg_ctl, with the kernel's parent-death signal set to SIGKILL: if the
// test binary dies without stopping it (killed, a panic, a test timeout),
// the kernel kills the server, and its own processes exit when they see
// it gone. Its directory is then left behind and removed by the next test
// binary that starts a server. Run stops the server (immediate shutdown:
// the data is thrown away) and removes its directory.
//
// # Isolation
//
// Each call of DB or URL creates a database of its own (CREATE DATABASE
// … TEMPLATE template0) and drops it when the test ends, so tests are
// isolated as separate applications would be, including in what is
// database-wide (advisory locks, LISTEN/NOTIFY, extensions, settings), and
// may run in parallel. A schema for each test would be cheaper (about a
// millisecond, against 0.1 to 0.3 s for CREATE DATABASE on an idle
// machine, more under load), but not isolated so. To hide the cost, the
// package creates two databases ahead of the tests that will ask for them
// and drops them in the background; a suite of many small subtests that
// can share one database (keys of their own, or tables of their own by a
// prefix) should share one.
//
// # When PostgreSQL is missing
//
// With no server binaries and no URL, or when the server cannot be started
// or reached, DB and URL skip the test, saying why; with
// CONTACTS_REQUIRE_POSTGRES=1 (as in CI) they fail it instead, so that a
// run cannot pass by skipping the PostgreSQL tests.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// Environment variables that steer the package.
const (
	// EnvURL names an existing server to use instead of starting one: a
	// postgres:// URL or a key=value connection string, whose role may
	// create databases. Each test still gets a database of its own in it.
	EnvURL = "CONTACTS_TEST_POSTGRES_URL"
	// EnvRequire, set to 1 (or true), makes a test that would be skipped
	// for want of PostgreSQL fail instead.
	EnvRequire = "CONTACTS_REQUIRE_POSTGRES"
	// EnvFsync, set to off (or 0, false), starts the throwaway server with
	// fsync=off. It has no effect on a server named by EnvURL.
	EnvFsync = "CONTACTS_TEST_POSTGRES_FSYNC"
)

// Driver is the database/sql driver name DB opens its databases with.
const Driver = "pgx"

// DatabasePrefix starts the name of every database the package creates.
const DatabasePrefix = "contacts_test_"

// server is where the tests' databases are created.
type server struct {
	base  string  // the connection string of the admin database
	admin *sql.DB // connected to base, for CREATE and DROP DATABASE
	local *localServer
	// force is whether DROP DATABASE … WITH (FORCE) works (PostgreSQL 13+).
	force bool

	// spares are databases created ahead of the tests that will ask for
	// them, by one goroutine, so that a test seldom waits for CREATE
	// DATABASE; drops run in the background once a test ended.
	spares  chan spare
	quit    chan struct{} // closed by stop
	filling chan struct{} // closed when fill returns
	cancel  context.CancelFunc
	ctx     context.Context // ends with stop
	workers sync.WaitGroup  // the filler and the drops
}

// spare is a database the filler created, or its error.
type spare struct {
	name string
	err  error
}

// spareCount is how many databases wait ready for tests: the suites run
// their tests one after another, and creating a database (about 0.1 to
// 0.3 s) overlaps with the test before.
const spareCount = 2

func newServer(base string, admin *sql.DB, force bool) *server {
	ctx, cancel := context.WithCancel(context.Background())
	return &server{base: base, admin: admin, force: force,
		spares: make(chan spare, spareCount-1), quit: make(chan struct{}), filling: make(chan struct{}), ctx: ctx, cancel: cancel}
}

// fill creates databases ahead, until stop or an error. The one it
// holds while the channel is full makes spareCount.
func (s *server) fill() {
	defer s.workers.Done()
	defer close(s.filling)
	for {
		select {
		case <-s.quit:
			return
		default:
		}
		name, err := s.create()
		select {
		case s.spares <- spare{name, err}:
		case <-s.quit:
			if err == nil && s.local == nil {
				_ = s.drop(name)
			}
			return
		}
		if err != nil {
			return // URL creates its own from now on
		}
	}
}

// create creates a fresh database and returns its name.
func (s *server) create() (string, error) {
	name := namePrefix + strconv.FormatInt(dbSeq.Add(1), 10)
	ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
	defer cancel()
	if _, err := s.admin.ExecContext(ctx, `CREATE DATABASE `+name+` TEMPLATE template0 ENCODING 'UTF8'`); err != nil {
		return "", fmt.Errorf("creating a database: %w", err)
	}
	return name, nil
}

// take returns a fresh database: a spare, or one made now.
func (s *server) take() (string, error) {
	select {
	case sp := <-s.spares:
		if sp.err == nil {
			return sp.name, nil
		}
	case <-s.filling:
	case <-s.quit:
		return "", errors.New("the package's server was stopped")
	}
	return s.create()
}

// drop drops database name, with any connections still open to it.
func (s *server) drop(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	q := `DROP DATABASE IF EXISTS ` + name
	if s.force {
		q += ` WITH (FORCE)`
	}
	_, err := s.admin.ExecContext(ctx, q)
	return err
}

// dropLater drops database name in the background.
func (s *server) dropLater(name string) {
	s.workers.Add(1)
	go func() {
		defer s.workers.Done()
		if err := s.drop(name); err != nil && s.ctx.Err() == nil {
			fmt.Fprintf(os.Stderr, "pgtest: dropping database %s: %v\n", name, err)
		}
	}()
}

// stop waits for the drops and drops the spares, closes the admin pool
// and stops the package's own server.
func (s *server) stop() {
	close(s.quit)
	if s.local != nil {
		s.cancel() // the cluster goes, databases and all: cut work short
	}
	s.workers.Wait()
	if s.local == nil {
		for len(s.spares) > 0 {
			if sp := <-s.spares; sp.err == nil {
				_ = s.drop(sp.name)
			}
		}
	}
	s.cancel()
	s.admin.Close()
	if s.local != nil {
		s.local.stop()
	}
}

var (
	mu       sync.Mutex
	once     sync.Once
	srv      *server
	startErr error
	stopped  bool

	// namePrefix makes this process's database names unique on a shared
	// server; dbSeq numbers them.
	namePrefix = DatabasePrefix + randomHex(4) + "_"
	dbSeq      atomic.Int64
)

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Run runs the tests and then Stop, and returns m.Run's exit code:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }
func Run(m *testing.M) int {
	defer Stop()
	return m.Run()
}

// Stop stops the server the package started, if any, and removes its
// directory, or closes its connections to the server of EnvURL. Tests
// that ask for a database afterwards fail. Run calls it.
func Stop() {
	mu.Lock()
	defer mu.Unlock()
	stopped = true
	if srv == nil {
		return
	}
	srv.stop()
	srv = nil
}

// Required reports whether EnvRequire asks for PostgreSQL: 1, true, yes or
// on (any case).
func Required() bool { return parseRequire(os.Getenv(EnvRequire)) }

func parseRequire(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "t", "true", "yes", "y", "on":
		return true
	}
	return false
}

// verdict decides what a test that cannot have PostgreSQL, because of err,
// does: fail (fatal, when required) or skip, and with which message.
func verdict(err error, required bool) (fatal bool, msg string) {
	if required {
		return true, fmt.Sprintf("pgtest: PostgreSQL is required (%s=1) but %v", EnvRequire, err)
	}
	return false, fmt.Sprintf("pgtest: skipped: %v (install PostgreSQL's server binaries, or set %s to a server's URL; %s=1 makes this a failure)",
		err, EnvURL, EnvRequire)
}

// unavailable skips or fails t, as verdict decides.
func unavailable(t testing.TB, err error) {
	t.Helper()
	if fatal, msg := verdict(err, Required()); fatal {
		t.Fatal(msg)
	} else {
		t.Skip(msg)
	}
}

// get returns the server, starting it on first use, or ends t as
// unavailable says.
func get(t testing.TB) *server {
	t.Helper()
	once.Do(func() {
		s, err := start()
		mu.Lock()
		defer mu.Unlock()
		if err == nil && stopped { // Stop ran meanwhile
			s.stop()
			s, err = nil, errors.New("the package's server was stopped")
		}
		if err == nil {
			s.workers.Add(1)
			go s.fill()
		}
		srv, startErr = s, err
	})
	mu.Lock()
	s, err := srv, startErr
	if err == nil && s == nil {
		err = errors.New("the package's server was stopped")
	}
	mu.Unlock()
	if err != nil {
		unavailable(t, err)
	}
	return s
}

// start connects to EnvURL's server, or starts one.
func start() (*server, error) {
	if base := os.Getenv(EnvURL); base != "" {
		if _, err := databaseURL(base, "postgres"); err != nil {
			return nil, fmt.Errorf("%s: %w", EnvURL, err)
		}
		s, err := connect(base)
		if err != nil {
			return nil, fmt.Errorf("cannot use the server of %s: %w", EnvURL, err)
		}
		return s, nil
	}
	bin, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	local, err := startLocal(bin, fsyncOn(os.Getenv(EnvFsync)))
	if err != nil {
		return nil, err
	}
	s, err := connect(local.url("postgres"))
	if err != nil {
		local.stop()
		return nil, err
	}
	s.local = local
	return s, nil
}

// fsyncOn reports whether EnvFsync's value v leaves fsync on.
func fsyncOn(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "off", "0", "false", "no", "n", "f":
		return false
	}
	return true
}

// connect opens the admin connection to the server at base and checks it.
func connect(base string) (*server, error) {
	admin, err := sql.Open(Driver, base)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var version int
	if err := admin.QueryRowContext(ctx, `SELECT current_setting('server_version_num')::int`).Scan(&version); err != nil {
		admin.Close()
		return nil, err
	}
	return newServer(base, admin, version >= 130000), nil
}

// URL creates a database for t alone and returns its connection string,
// in the form of the server's (a postgres:// URL for the package's own
// server), for sql.Open with the "pgx" driver or for another process. The
// database is dropped when t ends, with any connections still open to it.
// Each call creates another database.
func URL(t testing.TB) string {
	t.Helper()
	s := get(t)
	name, err := s.take()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	u, err := databaseURL(s.base, name)
	if err != nil {
		s.dropLater(name)
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { s.dropLater(name) })
	return u
}

// DB creates a database for t alone (as URL does) and returns a pool of
// connections to it, which is closed when t ends.
func DB(t testing.TB) *sql.DB {
	t.Helper()
	return Open(t, URL(t))
}

// Open opens a pool of connections to the database at url (from URL), for
// a test that needs several pools on one database, as several processes
// would have, and closes it when t ends.
func Open(t testing.TB, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open(Driver, url)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	// Keep connections, as a service does: database/sql keeps only 2 idle
	// by default, and a PostgreSQL connection costs a server process to
	// open, so concurrent tests (and benchmarks) would spend their time
	// connecting.
	db.SetMaxIdleConns(MaxIdleConns)
	t.Cleanup(func() { db.Close() })
	return db
}

// MaxIdleConns is the idle connections a pool of Open keeps.
const MaxIdleConns = 32

var settingName = regexp.MustCompile(`^[a-z_][a-z0-9_.]*$`)

// SetDefault makes setting default to value in every session that opens
// on the database at url (from URL) from now on, as ALTER DATABASE … SET
// does: e.g. default_transaction_isolation to serializable, to test a
// store under the isolation level a deployment may impose.
func SetDefault(t testing.TB, url, setting, value string) {
	t.Helper()
	if !settingName.MatchString(setting) {
		t.Fatalf("pgtest: %q is not a setting's name", setting)
	}
	db, err := sql.Open(Driver, url)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var name string
	if err := db.QueryRowContext(ctx, `SELECT current_database()`).Scan(&name); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	q := `ALTER DATABASE "` + strings.ReplaceAll(name, `"`, `""`) + `" SET ` + setting + ` = '` + strings.ReplaceAll(value, `'`, `''`) + `'`
	if _, err := db.ExecContext(ctx, q); err != nil {
		t.Fatalf("pgtest: setting %s: %v", setting, err)
	}
}

// databaseURL returns the connection string base (a postgres:// or
// postgresql:// URL, or key=value pairs) with its database replaced by
// name.
func databaseURL(base, name string) (string, error) {
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u, err := url.Parse(base)
		if err != nil {
			return "", fmt.Errorf("not a valid URL: %w", redact(err, base))
		}
		q := u.Query()
		if q.Has("dbname") {
			q.Del("dbname")
			u.RawQuery = q.Encode()
		}
		u.Path, u.RawPath = "/"+name, ""
		return u.String(), nil
	}
	if !strings.Contains(base, "=") {
		return "", errors.New("want a postgres:// URL or key=value pairs")
	}
	// In key=value form, the last setting of a key wins.
	return strings.TrimSpace(base) + " dbname=" + name, nil
}

// redact keeps a URL's password out of err.
func redact(err error, raw string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
