package pgtest

import (
	"bufio"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestMain(m *testing.M) { os.Exit(Run(m)) }

func TestPostgresServer(t *testing.T) {
	t.Parallel()
	db := DB(t)
	var version, fsync, name string
	if err := db.QueryRowContext(t.Context(), `SELECT current_setting('server_version'), current_setting('fsync'), current_database()`).
		Scan(&version, &fsync, &name); err != nil {
		t.Fatal(err)
	}
	t.Logf("PostgreSQL %s, fsync %s, database %s", version, fsync, name)
	if !strings.HasPrefix(name, DatabasePrefix) {
		t.Errorf("database %q, want a fresh one named %s…", name, DatabasePrefix)
	}
	if os.Getenv(EnvURL) == "" && fsyncOn(os.Getenv(EnvFsync)) && fsync != "on" {
		t.Errorf("fsync = %s, want on by default", fsync)
	}
	var enc string
	if err := db.QueryRowContext(t.Context(), `SHOW server_encoding`).Scan(&enc); err != nil || enc != "UTF8" {
		t.Errorf("server_encoding = %q (%v), want UTF8", enc, err)
	}
}

// TestPostgresDatabasesIsolated: two tests' databases share nothing, not
// even database-wide advisory locks, while each database is the same
// through every pool opened on it.
func TestPostgresDatabasesIsolated(t *testing.T) {
	t.Parallel()
	urlA := URL(t)
	a, a2, b := Open(t, urlA), Open(t, urlA), DB(t)
	ctx := t.Context()
	for _, db := range []*sql.DB{a, b} {
		if _, err := db.ExecContext(ctx, `CREATE TABLE t (v TEXT)`); err != nil { // the same name in both
			t.Fatal(err)
		}
	}
	if _, err := a.ExecContext(ctx, `INSERT INTO t VALUES ('a')`); err != nil {
		t.Fatal(err)
	}
	count := func(db *sql.DB) (n int) {
		t.Helper()
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if na, na2, nb := count(a), count(a2), count(b); na != 1 || na2 != 1 || nb != 0 {
		t.Errorf("rows: %d and %d through two pools on A, %d in B; want 1, 1, 0", na, na2, nb)
	}

	// An advisory lock is per database.
	ca, err := a.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	if _, err := ca.ExecContext(ctx, `SELECT pg_advisory_lock(42)`); err != nil {
		t.Fatal(err)
	}
	var got bool
	if err := b.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(42)`).Scan(&got); err != nil || !got {
		t.Errorf("B could not take the advisory lock A holds (%v): the databases are not isolated", err)
	}
	if err := a2.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(42)`).Scan(&got); err != nil || got {
		t.Errorf("another session of A took the advisory lock A holds (%v)", err)
	}
}

// TestPostgresDatabaseDropped: a test's database is gone once it ends,
// even with a connection still open to it.
func TestPostgresDatabaseDropped(t *testing.T) {
	var name string
	t.Run("inner", func(t *testing.T) {
		db := DB(t)
		conn, err := db.Conn(t.Context()) // left open on purpose
		if err != nil {
			t.Fatal(err)
		}
		_ = conn
		if err := db.QueryRowContext(t.Context(), `SELECT current_database()`).Scan(&name); err != nil {
			t.Fatal(err)
		}
	})
	if t.Failed() || name == "" {
		t.FailNow()
	}
	s := get(t)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) { // dropped in the background
		var n int
		if err := s.admin.QueryRowContext(t.Context(), `SELECT count(*) FROM pg_database WHERE datname = $1`, name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("database %s is still there 30 s after its test ended", name)
		}
	}
}

// BenchmarkPostgresCreateDatabase measures what a test's database costs
// the server: CREATE DATABASE and DROP DATABASE.
func BenchmarkPostgresCreateDatabase(b *testing.B) {
	s := get(b)
	for b.Loop() {
		name, err := s.create()
		if err != nil {
			b.Fatal(err)
		}
		if err := s.drop(name); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPostgresParallel: many tests asking at once each get a database.
func TestPostgresParallel(t *testing.T) {
	var (
		mu    sync.Mutex
		names = map[string]bool{}
	)
	t.Run("group", func(t *testing.T) {
		for i := range 6 {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				t.Parallel()
				var name string
				if err := DB(t).QueryRowContext(t.Context(), `SELECT current_database()`).Scan(&name); err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				names[name] = true
				mu.Unlock()
			})
		}
	})
	if len(names) != 6 {
		t.Errorf("6 parallel tests got %d databases: %v", len(names), names)
	}
}

func TestSetDefaultPostgres(t *testing.T) {
	t.Parallel()
	url := URL(t)
	SetDefault(t, url, "default_transaction_isolation", "serializable")
	SetDefault(t, url, "application_name", "it's a test")
	var iso, app string
	if err := Open(t, url).QueryRowContext(t.Context(), `SELECT current_setting('transaction_isolation'), current_setting('application_name')`).Scan(&iso, &app); err != nil {
		t.Fatal(err)
	}
	if iso != "serializable" || app != "it's a test" {
		t.Errorf("a new session has isolation %q and application_name %q", iso, app)
	}
	var other string
	if err := DB(t).QueryRowContext(t.Context(), `SELECT current_setting('transaction_isolation')`).Scan(&other); err != nil || other != "read committed" {
		t.Errorf("another database has isolation %q (%v), want read committed", other, err)
	}
}

func TestDatabaseURL(t *testing.T) {
	for _, tc := range []struct{ base, want string }{
		{"postgres://u:p%40ss@db.example:5433/app?sslmode=require", "postgres://u:p%40ss@db.example:5433/x?sslmode=require"},
		{"postgresql://u@localhost", "postgresql://u@localhost/x"},
		{"postgres://u@/postgres?host=/var/run/postgresql&port=5432", "postgres://u@/x?host=/var/run/postgresql&port=5432"},
		{"postgres://u@h/app?dbname=other&sslmode=disable", "postgres://u@h/x?sslmode=disable"},
		{"host=/tmp port=5432 user=postgres dbname=postgres", "host=/tmp port=5432 user=postgres dbname=postgres dbname=x"},
		{"  host=db user=u  ", "host=db user=u dbname=x"},
	} {
		got, err := databaseURL(tc.base, "x")
		if err != nil || got != tc.want {
			t.Errorf("databaseURL(%q) = %q, %v; want %q", tc.base, got, err, tc.want)
		}
	}
	for _, bad := range []string{"db.example:5432", "mysql://u@h/db", "postgres://u:secret@h:port/db"} {
		got, err := databaseURL(bad, "x")
		if err == nil {
			t.Errorf("databaseURL(%q) = %q, want an error", bad, got)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("databaseURL's error quotes the password: %v", err)
		}
	}
}

// TestURLOverridePostgres: with EnvURL set, the package uses that server,
// here the package's own (or EnvURL's), reached through its URL, and
// refuses a malformed one.
func TestURLOverridePostgres(t *testing.T) {
	base := get(t).base // starts the package's server, or uses EnvURL's
	s, err := connect(base)
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	u, err := databaseURL(s.base, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	// What start does with EnvURL set.
	t.Setenv(EnvURL, u)
	over, err := start()
	if err != nil {
		t.Fatal(err)
	}
	defer over.stop()
	if over.local != nil || over.base != u || !over.force {
		t.Fatalf("start with %s: %+v", EnvURL, over)
	}
	t.Setenv(EnvURL, "db.example:5432")
	if _, err := start(); err == nil || !strings.Contains(err.Error(), EnvURL) {
		t.Errorf("start with a malformed %s = %v, want an error naming it", EnvURL, err)
	}
}

func TestParseEnv(t *testing.T) {
	for v, want := range map[string]bool{"1": true, "true": true, "TRUE": true, "yes": true, " on ": true,
		"": false, "0": false, "false": false, "no": false, "off": false} {
		if got := parseRequire(v); got != want {
			t.Errorf("parseRequire(%q) = %v", v, got)
		}
	}
	for v, want := range map[string]bool{"": true, "on": true, "1": true, "off": false, "OFF": false, "0": false, "false": false} {
		if got := fsyncOn(v); got != want {
			t.Errorf("fsyncOn(%q) = %v", v, got)
		}
	}
}

func TestVerdict(t *testing.T) {
	err := errors.New("no PostgreSQL server binaries")
	fatal, msg := verdict(err, false)
	if fatal || !strings.Contains(msg, "skipped") || !strings.Contains(msg, err.Error()) || !strings.Contains(msg, EnvURL) {
		t.Errorf("not required: fatal %v, %q; want a skip that says why and how", fatal, msg)
	}
	fatal, msg = verdict(err, true)
	if !fatal || !strings.Contains(msg, EnvRequire) || !strings.Contains(msg, err.Error()) {
		t.Errorf("required: fatal %v, %q; want a failure that says why", fatal, msg)
	}
}

// recorder is a testing.TB that records how unavailable ends it.
type recorder struct {
	testing.TB
	skipped, failed bool
	msg             string
}

func (r *recorder) Helper()           {}
func (r *recorder) Skip(args ...any)  { r.skipped, r.msg = true, fmt.Sprint(args...) }
func (r *recorder) Fatal(args ...any) { r.failed, r.msg = true, fmt.Sprint(args...) }

func TestUnavailableSkipsUnlessRequired(t *testing.T) {
	cause := errors.New("no binaries")
	for _, tc := range []struct {
		env        string
		skip, fail bool
	}{{"", true, false}, {"0", true, false}, {"1", false, true}, {"true", false, true}} {
		t.Setenv(EnvRequire, tc.env)
		r := &recorder{TB: t}
		unavailable(r, cause)
		if r.skipped != tc.skip || r.failed != tc.fail || !strings.Contains(r.msg, "no binaries") {
			t.Errorf("%s=%q: skipped %v, failed %v (%q); want skipped %v, failed %v",
				EnvRequire, tc.env, r.skipped, r.failed, r.msg, tc.skip, tc.fail)
		}
	}
}

func TestNewestFirst(t *testing.T) {
	got := newestFirst([]string{"/usr/lib/postgresql/9.6/bin", "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin",
		"/usr/lib/postgresql/9.5/bin", "/usr/lib/postgresql/x/bin"})
	want := []string{"/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/9.6/bin",
		"/usr/lib/postgresql/9.5/bin", "/usr/lib/postgresql/x/bin"}
	if !slices.Equal(got, want) {
		t.Errorf("newestFirst = %q, want %q", got, want)
	}
}

// TestFindBinariesOnPath: initdb and postgres on PATH come before
// /usr/lib/postgresql's.
func TestFindBinariesOnPath(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"initdb", "postgres"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir)
	b, err := FindBinaries()
	if err != nil || b.Dir != dir || b.InitDB != filepath.Join(dir, "initdb") || b.Postgres != filepath.Join(dir, "postgres") || b.PgCtl != "" {
		t.Errorf("FindBinaries = %+v, %v; want the ones in %s", b, err, dir)
	}
}

// Environment of TestServerDiesWithItsTestBinary's child.
const helperEnv = "PGTEST_HELPER"

// TestPostgresHelperProcess starts a server, prints its process ID and
// directory, and waits to be killed.
func TestPostgresHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) == "" {
		t.Skip("run by TestPostgresServerDiesWithItsTestBinary")
	}
	DB(t)
	mu.Lock()
	l := srv.local
	mu.Unlock()
	fmt.Printf("SERVER %d %s\n", l.pid, l.dir)
	time.Sleep(time.Minute)
}

// TestPostgresServerDiesWithItsTestBinary: a test binary killed with
// SIGKILL, which runs no cleanup, leaves no PostgreSQL process behind,
// and its directory is removed by the next binary to start a server.
func TestPostgresServerDiesWithItsTestBinary(t *testing.T) {
	if os.Getenv(EnvURL) != "" {
		t.Skip("no server of our own with " + EnvURL)
	}
	if _, err := FindBinaries(); err != nil {
		unavailable(t, err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestPostgresHelperProcess$", "-test.v", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var (
		pid int
		dir string
	)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "SERVER %d %s", &pid, &dir); err == nil {
			break
		}
	}
	if pid == 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("the helper process reported no server")
	}
	procs := append([]int{pid}, childrenOf(pid)...)
	if len(procs) < 3 {
		t.Fatalf("the server %d has processes %v, want its background workers too", pid, procs)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	deadline := time.Now().Add(20 * time.Second)
	for {
		left := slices.DeleteFunc(slices.Clone(procs), func(p int) bool { return !alive(p) })
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, p := range left {
				syscall.Kill(p, syscall.SIGKILL)
			}
			t.Fatalf("processes %v of the server outlived its killed test binary", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the killed binary's server directory: %v", err)
	}
	removeStale()
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		os.RemoveAll(dir)
		t.Fatalf("removeStale left %s: %v", dir, err)
	}
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []int {
	var kids []int
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(b[i+1:])) // state ppid …
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			if p, err := strconv.Atoi(filepath.Base(filepath.Dir(f))); err == nil {
				kids = append(kids, p)
			}
		}
	}
	return kids
}
