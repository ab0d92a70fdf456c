package contactsync_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
	"github.com/gymflow/contacts-go/internal/pgtest"
	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/memstore"
	"github.com/gymflow/contacts-go/sync/sqlstore"
	"golang.org/x/time/rate"
)

// The benchmarks and the long tests of this file measure the engine; see
// BENCHMARKS.md ("contactsync") for the commands and the figures. The long
// tests run only with CONTACTSYNC_LONG=1.

const longEnv = "CONTACTSYNC_LONG"

func skipUnlessLong(t *testing.T) {
	t.Helper()
	if os.Getenv(longEnv) != "1" {
		t.Skip("a long measurement: set " + longEnv + "=1 to run it")
	}
}

// generated yields n members made on the fly, so that a batch of any size
// costs no memory of its own. withChildren gives every member a task and a
// note.
func generated(n int, withChildren bool) iter.Seq2[contactsync.Member, error] {
	due := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	return func(yield func(contactsync.Member, error) bool) {
		for i := range n {
			m := contactsync.Member{
				ID: fmt.Sprintf("m%07d", i),
				Fields: map[string]any{
					"first_name": "Member" + strconv.Itoa(i), "last_name": "Test",
					"email": "member" + strconv.Itoa(i) + "@example.com", "plan": "basic",
				},
				Tags: []string{"member"},
			}
			if withChildren {
				m.Tasks = []contactsync.Task{{ID: "t" + m.ID, Title: "Intro", Due: due}}
				m.Notes = []contactsync.Note{{ID: "n" + m.ID, Body: "Joined online"}}
			}
			if !yield(m, nil) {
				return
			}
		}
	}
}

// benchStore opens a fresh store of the kind named.
func benchStore(b testing.TB, kind, location string) contactsync.StateStore {
	b.Helper()
	switch kind {
	case "memory":
		return memstore.New()
	case "postgres":
		db, err := sqlstore.New(pgtest.DB(b), sqlstore.Postgres)
		if err == nil {
			err = db.Migrate(context.Background())
		}
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		s, err := db.Location(location)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	return openSQLite(b, filepath.Join(b.TempDir(), "sync.db"), location)
}

// benchStores are the stores the benchmarks compare.
var benchStores = []string{"memory", "sqlite", "postgres"}

// benchFake starts a fake with its limits off and a small request log.
func benchFake(b testing.TB) *contactstest.Server {
	b.Helper()
	srv := contactstest.NewServer(contactstest.WithoutRateLimits(), contactstest.WithRequestLogLimit(1000))
	b.Cleanup(srv.Close)
	if _, err := srv.AddCustomField(srv.LocationID(), "membership_plan"); err != nil {
		b.Fatal(err)
	}
	return srv
}

func benchEngine(b testing.TB, srv *contactstest.Server, store contactsync.StateStore) *contactsync.Engine {
	b.Helper()
	eng, err := contactsync.NewEngine(srv.Client(), store, engineMapping(b))
	if err != nil {
		b.Fatal(err)
	}
	return eng
}

// BenchmarkSyncFirstRun syncs 1,000 new members per op (4 workers, the
// fake's limits and the client's limiter off) into a fresh fake and store;
// it reports members/s and API calls per member. Setup is not timed.
func BenchmarkSyncFirstRun(b *testing.B) {
	const n = 1000
	for _, children := range []bool{false, true} {
		for _, kind := range benchStores {
			name := kind
			if children {
				name += "/task+note"
			}
			b.Run(name, func(b *testing.B) {
				var elapsed time.Duration
				var calls int64
				for range b.N {
					b.StopTimer()
					srv := benchFake(b)
					eng := benchEngine(b, srv, benchStore(b, kind, srv.LocationID()))
					b.StartTimer()
					start := time.Now()
					rep, err := eng.SyncMembers(context.Background(), generated(n, children))
					elapsed += time.Since(start)
					b.StopTimer()
					if err != nil || rep.Created != n || rep.Failed != 0 {
						b.Fatalf("%v\n%s", err, rep)
					}
					calls += rep.APICalls
					srv.Close()
					b.StartTimer()
				}
				b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "members/s")
				b.ReportMetric(float64(calls)/float64(n*b.N), "calls/member")
			})
		}
	}
}

// BenchmarkSyncNoChange re-syncs 1,000 unchanged members per op: no API
// call, only the store's reads, the mapping and the hashes.
func BenchmarkSyncNoChange(b *testing.B) {
	const n = 1000
	for _, kind := range benchStores {
		b.Run(kind, func(b *testing.B) {
			srv := benchFake(b)
			eng := benchEngine(b, srv, benchStore(b, kind, srv.LocationID()))
			if rep, err := eng.SyncMembers(context.Background(), generated(n, true)); err != nil || rep.Created != n {
				b.Fatalf("%v\n%s", err, rep)
			}
			before := srv.RequestCount()
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				rep, err := eng.SyncMembers(context.Background(), generated(n, true))
				if err != nil || rep.Unchanged != n {
					b.Fatalf("%v\n%s", err, rep)
				}
			}
			b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "members/s")
			if calls := srv.RequestCount() - before; calls != 0 {
				b.Fatalf("%d API calls for unchanged members", calls)
			}
		})
	}
}

// TestLongRateLimitUse syncs for 60 s of wall time against the fake's
// default limits (100 requests per 10 s, real clock) and measures how much
// of that budget the sync used — requests served over 60 s × 10/s — and
// how many 429s it drew. The client's limiter is the SDK's default, which
// must use ≥ 95% with no 429, or a smooth limiter to compare (only
// reported); the retry policy is the default. A run may end a little
// early: the limiter refuses a wait that would outlast the deadline.
//
//	CONTACTSYNC_LONG=1 go test -run TestLongRateLimitUse -v -parallel 3 -timeout 10m ./sync/
func TestLongRateLimitUse(t *testing.T) {
	skipUnlessLong(t)
	dur := 60 * time.Second
	if s := os.Getenv("CONTACTSYNC_LONG_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		dur = d
	}
	for _, tc := range []struct {
		name    string
		limiter func() *rate.Limiter
		target  bool // held to ≥ 95% and no 429
	}{
		{"default limiter", contacts.DefaultRateLimiter, true},
		{"10 per s, burst 1", func() *rate.Limiter { return rate.NewLimiter(10, 1) }, false},
		{"9.9 per s, burst 1", func() *rate.Limiter { return rate.NewLimiter(9.9, 1) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := contactstest.NewServer()
			defer srv.Close()
			if _, err := srv.AddCustomField(srv.LocationID(), "membership_plan"); err != nil {
				t.Fatal(err)
			}
			store := openSQLite(t, filepath.Join(t.TempDir(), "sync.db"), srv.LocationID())
			eng, err := contactsync.NewEngine(srv.Client(contacts.WithRateLimiter(tc.limiter())), store, engineMapping(t))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), dur)
			defer cancel()
			start := time.Now()
			rep, err := eng.SyncMembers(ctx, generated(100_000, false))
			elapsed := time.Since(start)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("the sync ended before the deadline: %v", err)
			}
			statuses := map[int]int{}
			served := 0
			var tooMany []string // when the 429s came, by second of the run
			perSecond := map[int]int{}
			for _, r := range srv.Requests() {
				statuses[r.Status]++
				if r.Status != http.StatusTooManyRequests {
					served++
				} else {
					perSecond[int(r.Time.Sub(start).Seconds())]++
				}
			}
			for sec := range int(dur.Seconds()) + 1 {
				if n := perSecond[sec]; n > 0 {
					tooMany = append(tooMany, fmt.Sprintf("%ds:%d", sec, n))
				}
			}
			// The share of the budget: requests served over what the
			// fixed 10 s windows the run touched allow (100 each; a
			// duration that is not a multiple of 10 s still opens its
			// last window in full).
			budget := math.Ceil(dur.Seconds()/10) * 100
			t.Logf("%s, %s (ran %s): %d requests served = %.1f%% of %.0f; %d × 429 (by second: %s); statuses %v; %d created, %d failed",
				tc.name, dur, elapsed.Round(time.Millisecond), served, 100*float64(served)/budget, budget,
				statuses[http.StatusTooManyRequests], strings.Join(tooMany, " "), statuses, rep.Created, rep.Failed)
			for i, f := range rep.Failures {
				if i == 3 {
					break
				}
				t.Logf("failure: %s: %s", f.MemberID, f.Reason)
			}
			if tc.target && (float64(served) < 0.95*budget || statuses[http.StatusTooManyRequests] > 0) {
				t.Errorf("target missed: ≥ 95%% of the budget and no 429")
			}
		})
	}
}

// Environment of the fake server helper process (see TestMain).
const fakeHelperEnv = "CONTACTSYNC_FAKE_HELPER"

// runFakeHelper serves a fake (limits off, a short request log) until its
// standard input closes, after printing its URL, token and location.
func runFakeHelper() error {
	srv := contactstest.NewServer(contactstest.WithoutRateLimits(), contactstest.WithRequestLogLimit(1000))
	defer srv.Close()
	if _, err := srv.AddCustomField(srv.LocationID(), "membership_plan"); err != nil {
		return err
	}
	fmt.Printf("%s %s %s\n", srv.URL, srv.Token(), srv.LocationID())
	_, err := bufio.NewReader(os.Stdin).ReadString('\n') // EOF when the parent is done
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// fakeProcess is a fake server in a child process: the process measuring
// memory then holds only the engine, the SDK and the store.
type fakeProcess struct {
	cmd      *exec.Cmd
	url      string
	token    string
	location string
}

func startFakeProcess(t *testing.T) *fakeProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fakeHelperEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &fakeProcess{cmd: cmd}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("fake helper: %v", err)
	}
	f := strings.Fields(line)
	if len(f) != 3 {
		t.Fatalf("fake helper said %q", line)
	}
	p.url, p.token, p.location = f[0], f[1], f[2]
	return p
}

// procStatus returns a field of /proc/<pid>/status in KiB, e.g. "VmHWM".
func procStatus(t *testing.T, pid, field string) int64 {
	t.Helper()
	data, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb
		}
	}
	t.Fatalf("no %s in /proc/%s/status", field, pid)
	return 0
}

// memSampler records the peak of the Go heap in use and of the memory the
// runtime holds from the OS, sampling every 20 ms.
type memSampler struct {
	stop              chan struct{}
	done              sync.WaitGroup
	peakHeap, peakSys atomic.Uint64
}

func sampleMemory() *memSampler {
	s := &memSampler{stop: make(chan struct{})}
	s.done.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > s.peakHeap.Load() {
				s.peakHeap.Store(ms.HeapInuse)
			}
			if ms.Sys > s.peakSys.Load() {
				s.peakSys.Store(ms.Sys)
			}
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	})
	return s
}

func (s *memSampler) end() (heap, sys uint64) {
	close(s.stop)
	s.done.Wait()
	return s.peakHeap.Load(), s.peakSys.Load()
}

// resetPeakRSS resets VmHWM (Linux ≥ 4.0); false if it cannot.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

const mib = 1 << 20

// TestLongPeakMemory100k streams 100,000 members generated on the fly into
// a SQLite store and a fake running in a child process (limits off), and
// reports the peak memory of the process running the engine: the Go heap
// in use, what the Go runtime holds from the OS, and the peak resident set
// (VmHWM, which also counts SQLite's own allocations), for a first sync and
// for an unchanged re-run; and the fake's own peak.
//
//	CONTACTSYNC_LONG=1 go test -run TestLongPeakMemory100k -v -timeout 30m ./sync/
func TestLongPeakMemory100k(t *testing.T) {
	skipUnlessLong(t)
	n := 100_000
	if s := os.Getenv("CONTACTSYNC_LONG_MEMBERS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	fake := startFakeProcess(t)
	client, err := contacts.NewClient(contacts.WithBaseURL(fake.url), contacts.WithToken(fake.token),
		contacts.WithLocationID(fake.location), contacts.WithRateLimiter(nil))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sync.db")
	store := openSQLite(t, path, fake.location)
	eng, err := contactsync.NewEngine(client, store, engineMapping(t))
	if err != nil {
		t.Fatal(err)
	}
	self := strconv.Itoa(os.Getpid())
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	t.Logf("before: heap in use %.1f MiB, runtime Sys %.1f MiB, RSS %.1f MiB",
		float64(base.HeapInuse)/mib, float64(base.Sys)/mib, float64(procStatus(t, self, "VmRSS"))/1024)

	for _, phase := range []string{"first sync", "unchanged re-run"} {
		if !resetPeakRSS() {
			t.Log("cannot reset VmHWM: it is the peak since the process started")
		}
		s := sampleMemory()
		start := time.Now()
		rep, err := eng.SyncMembers(context.Background(), generated(n, false))
		elapsed := time.Since(start)
		heap, sys := s.end()
		if err != nil || rep.Failed != 0 {
			t.Fatalf("%s: %v\n%s", phase, err, rep)
		}
		t.Logf("%s of %d members in %s (%.0f members/s, %d API calls): peak heap in use %.1f MiB, peak runtime Sys %.1f MiB, peak RSS (VmHWM) %.1f MiB",
			phase, n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), rep.APICalls,
			float64(heap)/mib, float64(sys)/mib, float64(procStatus(t, self, "VmHWM"))/1024)
	}
	t.Logf("the fake's process: peak RSS (VmHWM) %.1f MiB", float64(procStatus(t, strconv.Itoa(fake.cmd.Process.Pid), "VmHWM"))/1024)
	var size int64
	for _, suffix := range []string{"", "-wal"} {
		if fi, err := os.Stat(path + suffix); err == nil {
			size += fi.Size()
		}
	}
	t.Logf("the SQLite store: %.1f MiB on disk (with its WAL)", float64(size)/mib)
}

// TestRateLimitUseOnAFakeClock is TestLongRateLimitUse's target checked on
// every run: 60 s of a synctest bubble's clock, the fake's default limits
// (100 requests per 10 s) served over an in-memory transport, the SDK's
// default limiter. The sync must use ≥ 95% of the budget and draw no 429.
// The bubble's clock makes it exact and fast; the real-clock run (over
// HTTP, with its latencies) is the long test.
func TestRateLimitUseOnAFakeClock(t *testing.T) {
	t.Parallel()
	srv := contactstest.NewServer()
	defer srv.Close()
	if _, err := srv.AddCustomField(srv.LocationID(), "membership_plan"); err != nil {
		t.Fatal(err)
	}
	synctest.Test(t, func(t *testing.T) {
		client := srv.Client(contacts.WithRateLimiter(contacts.DefaultRateLimiter()),
			contacts.WithHTTPClient(&http.Client{Transport: inMemory{srv}}))
		eng, err := contactsync.NewEngine(client, memstore.New(), engineMapping(t))
		if err != nil {
			t.Fatal(err)
		}
		const dur = 60 * time.Second
		ctx, cancel := context.WithTimeout(context.Background(), dur)
		defer cancel()
		start := time.Now()
		rep, err := eng.SyncMembers(ctx, generated(100_000, false))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("the sync ended before the deadline: %v", err)
		}
		served, tooMany := 0, 0
		for _, r := range srv.Requests() {
			if r.Time.Sub(start) > dur {
				continue
			}
			if r.Status == http.StatusTooManyRequests {
				tooMany++
				t.Logf("429 at %v (%s %s)", r.Time.Sub(start), r.Method, r.Path)
			} else {
				served++
			}
		}
		const budget = 600 // six 10 s windows of 100
		t.Logf("%d requests served in %s of the bubble's clock = %.1f%% of %d; %d × 429; %d created, %d failed",
			served, dur, 100*float64(served)/budget, budget, tooMany, rep.Created, rep.Failed)
		if served < 0.95*budget || tooMany > 0 || rep.Failed > 0 {
			t.Errorf("target missed: ≥ 95%% of the budget, no 429 and no failure")
		}
	})
}
