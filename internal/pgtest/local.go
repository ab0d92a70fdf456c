package pgtest

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Binaries are the PostgreSQL server programs the package runs.
type Binaries struct {
	Dir      string // the directory holding them
	InitDB   string // initdb
	Postgres string // postgres, the server
	PgCtl    string // pg_ctl, if beside them; the package does not need it
}

// binGlob is where Debian and Ubuntu install each version's programs.
const binGlob = "/usr/lib/postgresql/*/bin"

// FindBinaries looks for initdb and postgres on PATH (in the directory
// initdb links to, or beside it), then in /usr/lib/postgresql/<version>/bin,
// the newest version first.
func FindBinaries() (Binaries, error) {
	var dirs []string
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			dirs = append(dirs, filepath.Dir(real)) // a link to a version's bin
		}
		dirs = append(dirs, filepath.Dir(p))
	}
	versioned, _ := filepath.Glob(binGlob)
	dirs = append(dirs, newestFirst(versioned)...)
	for _, dir := range dirs {
		b := Binaries{Dir: dir, InitDB: filepath.Join(dir, "initdb"), Postgres: filepath.Join(dir, "postgres")}
		if !executable(b.InitDB) || !executable(b.Postgres) {
			continue
		}
		if pgctl := filepath.Join(dir, "pg_ctl"); executable(pgctl) {
			b.PgCtl = pgctl
		}
		return b, nil
	}
	return Binaries{}, errors.New("no PostgreSQL server binaries (initdb and postgres) on PATH or in " + binGlob)
}

// newestFirst sorts /usr/lib/postgresql/<version>/bin directories by
// version, newest first (16 before 9.6 before 9.5).
func newestFirst(dirs []string) []string {
	version := func(dir string) []int {
		var v []int
		for _, part := range strings.Split(filepath.Base(filepath.Dir(dir)), ".") {
			n, err := strconv.Atoi(part)
			if err != nil {
				return nil
			}
			v = append(v, n)
		}
		return v
	}
	dirs = slices.Clone(dirs)
	slices.SortStableFunc(dirs, func(a, b string) int { return slices.Compare(version(b), version(a)) })
	return dirs
}

func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// localServer is a postgres process the package started.
type localServer struct {
	dir    string // holds data/, the socket and the log
	pid    int
	exited chan struct{} // closed when postgres has exited
	signal func(os.Signal) error
}

// port names the server's socket file (.s.PGSQL.5432); it opens no TCP
// port.
const port = "5432"

// ownerFile, in a server's directory, holds the test binary's process ID,
// so that a later binary can tell a directory whose owner died.
const ownerFile = "owner.pid"

// dirPrefix starts the name of a server's directory in /tmp.
const dirPrefix = "pgtest"

// url returns the URL of database name on the server, through its socket.
func (l *localServer) url(name string) string {
	q := url.Values{"host": {l.dir}, "port": {port}, "sslmode": {"disable"}}
	return (&url.URL{Scheme: "postgres", User: url.User("postgres"), Path: "/" + name, RawQuery: q.Encode()}).String()
}

// startLocal initializes a cluster in a fresh directory and starts
// postgres on it, and returns once the server accepts connections.
func startLocal(bin Binaries, fsync bool) (_ *localServer, err error) {
	removeStale()
	// Unix socket paths are limited to about 107 bytes: keep the directory
	// short, in /tmp rather than TMPDIR or a test's temporary directory.
	// /tmp is also one that the postgres user can reach when we are root.
	dir, err := os.MkdirTemp("/tmp", dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("creating the server's directory: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, err
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, fmt.Errorf("giving the server's directory to the postgres user: %w", err)
		}
	}
	data := filepath.Join(dir, "data")

	initdb := exec.Command(bin.InitDB, "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-locale",
		"--no-sync", "--no-instructions")
	initdb.Dir = dir
	initdb.Env = serverEnv()
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s failed: %v\n%s", bin.InitDB, err, tail(out, 2000))
	}

	logPath := filepath.Join(dir, "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	args := []string{"-D", data, "-k", dir, "-p", port,
		"-c", "listen_addresses=", "-c", "max_connections=200", "-c", "lc_messages=C"}
	if !fsync {
		args = append(args, "-c", "fsync=off")
	}
	cmd := exec.Command(bin.Postgres, args...)
	cmd.Dir = dir
	cmd.Env = serverEnv()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: cred,
		// If the test binary dies without stopping the server, the
		// kernel kills it. The signal follows the thread that started
		// the child, not the process, hence the locked thread below.
		Pdeathsig: syscall.SIGKILL,
	}

	l := &localServer{dir: dir, exited: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// This goroutine keeps its thread until postgres has exited, so
		// that the parent-death signal fires only when the process dies.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return // the thread ends with the goroutine, nothing started
		}
		started <- nil
		_ = cmd.Wait()
		close(l.exited)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin.Postgres, err)
	}
	l.pid = cmd.Process.Pid
	l.signal = cmd.Process.Signal
	if err := l.waitReady(60 * time.Second); err != nil {
		l.stop()
		log, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("PostgreSQL (%s) did not start: %v\n%s", bin.Postgres, err, tail(log, 2000))
	}
	return l, nil
}

// waitReady connects until the server answers, it exits or limit passes.
func (l *localServer) waitReady(limit time.Duration) error {
	db, err := sql.Open(Driver, l.url("postgres"))
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-l.exited:
			return errors.New("postgres exited")
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no connection after %s: %w", limit, err)
		}
	}
}

// stop shuts the server down at once (SIGQUIT: immediate shutdown, no
// checkpoint, since the data is thrown away), waits for it and its
// processes to exit, and removes its directory.
func (l *localServer) stop() {
	_ = l.signal(syscall.SIGQUIT)
	select {
	case <-l.exited:
	case <-time.After(15 * time.Second):
		_ = l.signal(syscall.SIGKILL)
		<-l.exited
	}
	os.RemoveAll(l.dir)
}

// serverCredential returns the user to run initdb and postgres as: nil,
// the current user, unless that is root, which PostgreSQL refuses to run
// as; then the user "postgres".
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("the tests run as root, which PostgreSQL refuses to run as, and there is no postgres user to run it as: %v", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("the postgres user has IDs %s:%s", u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// serverEnv is the environment of initdb and postgres: the tests', less
// the libpq settings (PGDATA, PGHOST, …) that would steer them elsewhere.
func serverEnv() []string {
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_") || strings.HasPrefix(kv, "LANG=")
	})
	return append(env, "LC_ALL=C")
}

// removeStale removes the directories of servers whose test binary died
// without removing them (its server was killed with it).
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join("/tmp", dirPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue // not ours, or not written yet
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if alive(pid) {
			continue
		}
		if pm, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid")); err == nil {
			// The server is killed with its test binary; leave the
			// directory to a later run while it lives on.
			if spid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(pm), "\n", 2)[0])); err == nil && alive(spid) {
				continue
			}
		}
		if fi, err := os.Lstat(dir); err == nil && fi.IsDir() && fi.Mode()&fs.ModeSymlink == 0 {
			os.RemoveAll(dir)
		}
	}
}

// alive reports whether process pid runs: it exists and, where /proc
// tells, is not a zombie waiting to be reaped.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
		// pid (comm) state …; comm may hold spaces and parentheses.
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) {
			return b[i+2] != 'Z' && b[i+2] != 'X'
		}
		return true
	}
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// tail returns the end of b, at most n bytes.
func tail(b []byte, n int) []byte {
	b = bytes.TrimSpace(b)
	if len(b) > n {
		b = append([]byte("…"), b[len(b)-n:]...)
	}
	return b
}
