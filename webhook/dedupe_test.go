package webhook_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/gymflow/contacts-go/webhook"
)

// dedupTTL is the TTL every store under test is built with.
const dedupTTL = time.Hour

// dedupT0 is the start of the conformance scenarios' clock.
var dedupT0 = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// openDedupDB opens the SQLite file database at path the way SQLDedup's
// documentation asks: WAL mode and a busy timeout.
func openDedupDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(path)+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// openSQLDedup returns a migrated store in the SQLite database at path.
func openSQLDedup(t testing.TB, path string, opts ...webhook.SQLDedupOption) *webhook.SQLDedup {
	t.Helper()
	s, err := webhook.NewSQLDedup(openDedupDB(t, path), webhook.SQLite, append([]webhook.SQLDedupOption{webhook.WithDedupTTL(dedupTTL)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

// alternatingDedup spreads calls over several stores sharing one
// database, as several instances of a receiver would.
type alternatingDedup struct {
	mu     sync.Mutex
	n      int
	stores []webhook.DedupStore
}

func (a *alternatingDedup) next() webhook.DedupStore {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	return a.stores[a.n%len(a.stores)]
}

func (a *alternatingDedup) Begin(ctx context.Context, id string, now time.Time) (webhook.Claim, error) {
	return a.next().Begin(ctx, id, now)
}

func (a *alternatingDedup) End(ctx context.Context, id string, o webhook.Outcome, now time.Time) error {
	return a.next().End(ctx, id, o, now)
}

// dedupStores are the stores the conformance test runs against, each with
// a TTL of dedupTTL and the default claim TTL.
var dedupStores = []dedupStore{
	{"Memory", each(func(*testing.T) webhook.DedupStore { return webhook.NewMemoryDedup(dedupTTL, 0) })},
	{"SQLite", each(func(t *testing.T) webhook.DedupStore {
		return openSQLDedup(t, filepath.Join(t.TempDir(), "dedup.db"))
	})},
	{"SQLite/3 instances", each(func(t *testing.T) webhook.DedupStore {
		path := filepath.Join(t.TempDir(), "dedup.db")
		return &alternatingDedup{stores: []webhook.DedupStore{openSQLDedup(t, path), openSQLDedup(t, path), openSQLDedup(t, path)}}
	})},
}

// dedupStep is one call of a scenario, at dedupT0+at: Begin (want is the
// claim), End (outcome) or race (many concurrent Begins: exactly one gets
// want, the others InProgress).
type dedupStep struct {
	op      string // "begin", "end" or "race"
	id      string
	at      time.Duration
	want    webhook.Claim
	outcome webhook.Outcome
}

func beginStep(id string, at time.Duration, want webhook.Claim) dedupStep {
	return dedupStep{op: "begin", id: id, at: at, want: want}
}

func endStep(id string, at time.Duration, o webhook.Outcome) dedupStep {
	return dedupStep{op: "end", id: id, at: at, outcome: o}
}

func raceStep(id string, at time.Duration, want webhook.Claim) dedupStep {
	return dedupStep{op: "race", id: id, at: at, want: want}
}

// dedupRes is the stores' time resolution.
const dedupRes = time.Millisecond

var dedupClaimTTL = webhook.DefaultClaimTTL

// TestDedupStoreConformance runs the same scenarios against every store:
// they must agree with MemoryDedup's semantics call for call.
// TestDedupStoreConformancePostgres runs them on PostgreSQL.
func TestDedupStoreConformance(t *testing.T) {
	runDedupConformance(t, dedupStores)
}

// dedupStore is a kind of store the conformance scenarios run on.
type dedupStore struct {
	name string
	// start runs in the kind's subtest, before its scenarios, and returns
	// what opens a store for each scenario.
	start func(t *testing.T) func(t *testing.T) webhook.DedupStore
}

// each is the start of a kind whose scenarios need nothing in common.
func each(open func(t *testing.T) webhook.DedupStore) func(*testing.T) func(*testing.T) webhook.DedupStore {
	return func(*testing.T) func(*testing.T) webhook.DedupStore { return open }
}

// runDedupConformance runs the scenarios against stores, in parallel,
// each scenario on a store of its own.
func runDedupConformance(t *testing.T, stores []dedupStore) {
	scenarios := []struct {
		name  string
		steps []dedupStep
	}{
		{"processed is a duplicate", []dedupStep{
			beginStep("a", 0, webhook.Fresh),
			endStep("a", time.Second, webhook.Processed),
			beginStep("a", 2*time.Second, webhook.Duplicate),
			beginStep("a", 30*time.Minute, webhook.Duplicate),
		}},
		{"failed is retried", []dedupStep{
			beginStep("a", 0, webhook.Fresh),
			endStep("a", time.Second, webhook.Failed),
			beginStep("a", 10*time.Minute, webhook.Retry),
			beginStep("a", 10*time.Minute+time.Second, webhook.InProgress),
			endStep("a", 11*time.Minute, webhook.Processed),
			beginStep("a", 12*time.Minute, webhook.Duplicate),
		}},
		{"failed twice", []dedupStep{
			beginStep("a", 0, webhook.Fresh),
			endStep("a", time.Second, webhook.Failed),
			beginStep("a", 2*time.Second, webhook.Retry),
			endStep("a", 3*time.Second, webhook.Failed),
			beginStep("a", 4*time.Second, webhook.Retry),
		}},
		{"abandoned is forgotten", []dedupStep{
			beginStep("a", 0, webhook.Fresh),
			endStep("a", time.Second, webhook.Abandoned),
			beginStep("a", 2*time.Second, webhook.Fresh),
			beginStep("a", 3*time.Second, webhook.InProgress),
		}},
		{"in progress while claimed", []dedupStep{
			beginStep("a", 0, webhook.Fresh),
			beginStep("a", 0, webhook.InProgress),
			beginStep("a", time.Second, webhook.InProgress),
			beginStep("a", dedupClaimTTL-dedupRes, webhook.InProgress),
		}},
		{"a lapsed claim is retried", []dedupStep{
			beginStep("a", 0, webhook.Fresh),
			beginStep("a", dedupClaimTTL, webhook.Retry),
			beginStep("a", dedupClaimTTL+time.Second, webhook.InProgress),
			endStep("a", dedupClaimTTL+2*time.Second, webhook.Processed),
			beginStep("a", dedupClaimTTL+3*time.Second, webhook.Duplicate),
		}},
		{"a claim lapsed long ago is still a retry", []dedupStep{
			beginStep("a", 0, webhook.Fresh),
			beginStep("a", 3*time.Hour, webhook.Retry),
		}},
		{"processed expires after the TTL", []dedupStep{
			beginStep("a", 0, webhook.Fresh),
			endStep("a", time.Second, webhook.Processed),
			beginStep("a", time.Second+dedupTTL-dedupRes, webhook.Duplicate),
			beginStep("a", time.Second+dedupTTL, webhook.Fresh),
			beginStep("a", time.Second+dedupTTL+dedupRes, webhook.InProgress),
		}},
		{"failed expires after the TTL", []dedupStep{
			beginStep("a", 0, webhook.Fresh),
			endStep("a", time.Second, webhook.Failed),
			beginStep("a", time.Second+dedupTTL-dedupRes, webhook.Retry),
			endStep("a", time.Second+dedupTTL, webhook.Failed),
			beginStep("a", 2*time.Second+2*dedupTTL, webhook.Fresh),
		}},
		{"a duplicate does not extend the TTL", []dedupStep{
			beginStep("a", 0, webhook.Fresh),
			endStep("a", 0, webhook.Processed),
			beginStep("a", dedupTTL-time.Second, webhook.Duplicate),
			beginStep("a", dedupTTL, webhook.Fresh),
		}},
		{"ids are independent", []dedupStep{
			beginStep("a", 0, webhook.Fresh),
			beginStep("b", 0, webhook.Fresh),
			endStep("a", time.Second, webhook.Processed),
			beginStep("b", 2*time.Second, webhook.InProgress),
			endStep("b", 3*time.Second, webhook.Failed),
			beginStep("a", 4*time.Second, webhook.Duplicate),
			beginStep("b", 4*time.Second, webhook.Retry),
			beginStep("c", 4*time.Second, webhook.Fresh),
			beginStep("", 4*time.Second, webhook.Fresh),
		}},
		{"ids are bytes", []dedupStep{ // PostgreSQL's TEXT holds neither NUL nor invalid UTF-8
			beginStep("a\x00b", 0, webhook.Fresh),
			beginStep("a", 0, webhook.Fresh),
			beginStep("\xff", 0, webhook.Fresh),
			beginStep("\xfe", 0, webhook.Fresh),
			beginStep("\x01\xff", 0, webhook.Fresh),
			beginStep("\x01", 0, webhook.Fresh),
			beginStep("\x0161", 0, webhook.Fresh),
			endStep("a\x00b", time.Second, webhook.Processed),
			endStep("\xff", time.Second, webhook.Failed),
			beginStep("a\x00b", 2*time.Second, webhook.Duplicate),
			beginStep("a", 2*time.Second, webhook.InProgress),
			beginStep("\xff", 2*time.Second, webhook.Retry),
			beginStep("\xfe", 2*time.Second, webhook.InProgress),
			endStep("\x01", 3*time.Second, webhook.Abandoned),
			beginStep("\x01\xff", 4*time.Second, webhook.InProgress),
			beginStep("\x01", 4*time.Second, webhook.Fresh),
			beginStep("\x0161", 4*time.Second, webhook.InProgress),
		}},
		{"concurrent begins of a new id", []dedupStep{
			raceStep("a", 0, webhook.Fresh),
		}},
		{"concurrent begins of a failed id", []dedupStep{
			beginStep("a", 0, webhook.Fresh),
			endStep("a", time.Second, webhook.Failed),
			raceStep("a", 2*time.Second, webhook.Retry),
		}},
		{"concurrent begins of a lapsed claim", []dedupStep{
			beginStep("a", 0, webhook.Fresh),
			raceStep("a", dedupClaimTTL+time.Second, webhook.Retry),
		}},
		{"concurrent begins of an expired id", []dedupStep{
			beginStep("a", 0, webhook.Fresh),
			endStep("a", 0, webhook.Processed),
			raceStep("a", dedupTTL, webhook.Fresh),
		}},
	}
	for _, store := range stores {
		t.Run(store.name, func(t *testing.T) {
			t.Parallel()
			open := store.start(t)
			for _, sc := range scenarios {
				t.Run(sc.name, func(t *testing.T) {
					s := open(t)
					ctx := t.Context()
					for i, st := range sc.steps {
						now := dedupT0.Add(st.at)
						switch st.op {
						case "begin":
							got, err := s.Begin(ctx, st.id, now)
							if err != nil {
								t.Fatalf("step %d: Begin(%q, +%s): %v", i, st.id, st.at, err)
							}
							if got != st.want {
								t.Fatalf("step %d: Begin(%q, +%s) = %s, want %s", i, st.id, st.at, claimName(got), claimName(st.want))
							}
						case "end":
							if err := s.End(ctx, st.id, st.outcome, now); err != nil {
								t.Fatalf("step %d: End(%q, %d, +%s): %v", i, st.id, st.outcome, st.at, err)
							}
						case "race":
							counts := raceBegins(t, s, st.id, now, 16)
							if counts[st.want] != 1 || counts[webhook.InProgress] != 15 {
								t.Fatalf("step %d: 16 concurrent Begin(%q) = %v, want one %s and 15 InProgress", i, st.id, counts, claimName(st.want))
							}
						}
					}
				})
			}
		})
	}
}

// raceBegins runs n Begins of id at once and counts their claims.
func raceBegins(t *testing.T, s webhook.DedupStore, id string, now time.Time, n int) map[webhook.Claim]int {
	t.Helper()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		counts = map[webhook.Claim]int{}
		start  = make(chan struct{})
	)
	for range n {
		wg.Go(func() {
			<-start
			c, err := s.Begin(t.Context(), id, now)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			counts[c]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	return counts
}

func claimName(c webhook.Claim) string {
	switch c {
	case webhook.Fresh:
		return "Fresh"
	case webhook.Retry:
		return "Retry"
	case webhook.Duplicate:
		return "Duplicate"
	case webhook.InProgress:
		return "InProgress"
	}
	return "Claim(" + strconv.Itoa(int(c)) + ")"
}

func TestMemoryDedupIsBounded(t *testing.T) {
	m := webhook.NewMemoryDedup(time.Hour, 100)
	ctx := t.Context()
	maxLen := 0
	// One ID every 2 s, a third of them left as claims that lapse after
	// DefaultClaimTTL: at most 20 claims are in progress at any time.
	const step = 2 * time.Second
	var now time.Time
	for i := range 10_000 {
		now = dedupT0.Add(time.Duration(i) * step)
		id := "id-" + strconv.Itoa(i)
		if c, err := m.Begin(ctx, id, now); err != nil || c != webhook.Fresh {
			t.Fatalf("Begin(%s) = %s, %v", id, claimName(c), err)
		}
		maxLen = max(maxLen, m.Len())
		if i%3 != 0 { // leave a third as claims
			if err := m.End(ctx, id, webhook.Processed, now); err != nil {
				t.Fatal(err)
			}
		}
		maxLen = max(maxLen, m.Len())
	}
	if maxLen > 100 {
		t.Errorf("the store held %d ids, want at most 100", maxLen)
	}
	// The newest IDs are still known, the claims among them still held.
	if c, _ := m.Begin(ctx, "id-9998", now.Add(time.Second)); c != webhook.Duplicate {
		t.Errorf("Begin(id-9998) = %s, want Duplicate", claimName(c))
	}
	if c, _ := m.Begin(ctx, "id-9999", now.Add(time.Second)); c != webhook.InProgress {
		t.Errorf("Begin(id-9999) = %s, want InProgress", claimName(c))
	}
}

// TestMemoryDedupFullKeepsClaimsInProgress fills a MemoryDedup with
// processed IDs while a few deliveries are being processed: redeliveries
// of those must stay InProgress however many IDs pass through the store.
func TestMemoryDedupFullKeepsClaimsInProgress(t *testing.T) {
	ctx := t.Context()
	m := webhook.NewMemoryDedup(time.Hour, 10)
	claims := []string{"claim-0", "claim-1", "claim-2"}
	for _, id := range claims {
		if c, err := m.Begin(ctx, id, dedupT0); err != nil || c != webhook.Fresh {
			t.Fatalf("Begin(%s) = %s, %v", id, claimName(c), err)
		}
	}
	// 50 deliveries processed while the three are in progress (within the
	// claim TTL): the store is full from the 8th on.
	for i := range 50 {
		now := dedupT0.Add(time.Duration(i+1) * time.Second)
		id := "done-" + strconv.Itoa(i)
		if c, err := m.Begin(ctx, id, now); err != nil || c != webhook.Fresh {
			t.Fatalf("Begin(%s) = %s, %v", id, claimName(c), err)
		}
		if err := m.End(ctx, id, webhook.Processed, now); err != nil {
			t.Fatal(err)
		}
		if m.Len() > 10 {
			t.Fatalf("the store holds %d ids, want at most 10", m.Len())
		}
		for _, claim := range claims {
			if c, err := m.Begin(ctx, claim, now); err != nil || c != webhook.InProgress {
				t.Fatalf("after %s: a redelivery of %s = %s, %v; want InProgress (the claim was evicted)", id, claim, claimName(c), err)
			}
		}
	}
	// The newest processed IDs are still known.
	for i := 44; i < 50; i++ {
		id := "done-" + strconv.Itoa(i)
		if c, _ := m.Begin(ctx, id, dedupT0.Add(time.Minute)); c != webhook.Duplicate {
			t.Errorf("Begin(%s) = %s, want Duplicate", id, claimName(c))
		}
	}
}

// TestMemoryDedupEvictionOrder checks which IDs a full MemoryDedup drops:
// expired ones, then the oldest processed, then the oldest failed, never a
// claim in progress.
func TestMemoryDedupEvictionOrder(t *testing.T) {
	ctx := t.Context()
	begin := func(t *testing.T, m *webhook.MemoryDedup, id string, at time.Duration, want webhook.Claim) {
		t.Helper()
		if c, err := m.Begin(ctx, id, dedupT0.Add(at)); err != nil || c != want {
			t.Fatalf("Begin(%s, +%s) = %s, %v; want %s", id, at, claimName(c), err, claimName(want))
		}
	}
	end := func(t *testing.T, m *webhook.MemoryDedup, id string, at time.Duration, o webhook.Outcome) {
		t.Helper()
		if err := m.End(ctx, id, o, dedupT0.Add(at)); err != nil {
			t.Fatalf("End(%s, +%s): %v", id, at, err)
		}
	}

	t.Run("expired, then oldest processed", func(t *testing.T) {
		m := webhook.NewMemoryDedup(time.Hour, 10)
		begin(t, m, "old", 0, webhook.Fresh)
		end(t, m, "old", 0, webhook.Processed) // expires at +1h
		begin(t, m, "failed", 30*time.Minute, webhook.Fresh)
		end(t, m, "failed", 30*time.Minute, webhook.Failed)
		for i := range 8 {
			at := 40*time.Minute + time.Duration(i)*time.Second
			id := "p" + strconv.Itoa(i)
			begin(t, m, id, at, webhook.Fresh)
			end(t, m, id, at, webhook.Processed)
		}
		// Full, with "old" expired: dropping it is enough.
		begin(t, m, "n1", time.Hour+time.Second, webhook.Fresh)
		if m.Len() != 10 {
			t.Fatalf("Len = %d after dropping the expired id, want 10", m.Len())
		}
		for i := range 8 {
			begin(t, m, "p"+strconv.Itoa(i), time.Hour+time.Second, webhook.Duplicate)
		}
		// Full, nothing expired: the oldest processed ID (p0) goes, not
		// the older failed one nor the claim n1.
		begin(t, m, "n2", time.Hour+2*time.Second, webhook.Fresh)
		for i := 1; i < 8; i++ {
			begin(t, m, "p"+strconv.Itoa(i), time.Hour+2*time.Second, webhook.Duplicate)
		}
		begin(t, m, "n1", time.Hour+2*time.Second, webhook.InProgress)
		begin(t, m, "failed", time.Hour+2*time.Second, webhook.Retry)
		if m.Len() != 10 {
			t.Fatalf("Len = %d, want 10", m.Len())
		}
		begin(t, m, "p0", time.Hour+3*time.Second, webhook.Fresh) // forgotten
	})

	t.Run("failed after processed, claims never", func(t *testing.T) {
		m := webhook.NewMemoryDedup(time.Hour, 4)
		begin(t, m, "f", 0, webhook.Fresh)
		end(t, m, "f", 0, webhook.Failed)
		begin(t, m, "p", time.Second, webhook.Fresh)
		end(t, m, "p", time.Second, webhook.Processed)
		begin(t, m, "c1", 2*time.Second, webhook.Fresh)
		begin(t, m, "c2", 2*time.Second, webhook.Fresh)
		begin(t, m, "n1", 3*time.Second, webhook.Fresh) // drops p, though f is older
		begin(t, m, "f", 3*time.Second, webhook.Retry)  // f is still known…
		end(t, m, "f", 3*time.Second, webhook.Failed)   // …and failed again
		begin(t, m, "n2", 4*time.Second, webhook.Fresh) // drops f, the only settled id
		for _, id := range []string{"c1", "c2", "n1", "n2"} {
			begin(t, m, id, 5*time.Second, webhook.InProgress)
		}
		// Full of claims in progress: a new delivery is refused, the
		// claims stay.
		c, err := m.Begin(ctx, "n3", dedupT0.Add(5*time.Second))
		if !errors.Is(err, webhook.ErrDedupFull) || c != webhook.InProgress {
			t.Fatalf("Begin(n3) on a store full of claims = %s, %v; want InProgress, ErrDedupFull", claimName(c), err)
		}
		if m.Len() != 4 {
			t.Fatalf("Len = %d, want 4", m.Len())
		}
		for _, id := range []string{"c1", "c2", "n1", "n2"} {
			begin(t, m, id, 5*time.Second, webhook.InProgress)
		}
		// Once a claim settles, there is room again.
		end(t, m, "c1", 6*time.Second, webhook.Processed)
		begin(t, m, "n3", 7*time.Second, webhook.Fresh)
		for _, id := range []string{"c2", "n1", "n2", "n3"} {
			begin(t, m, id, 7*time.Second, webhook.InProgress)
		}
		// Once the claims lapse, they go like any expired id: a lapsed
		// claim dropped meanwhile cannot be settled while the store is
		// full of live claims.
		lapsed := 7*time.Second + webhook.DefaultClaimTTL
		begin(t, m, "x1", lapsed, webhook.Fresh) // drops c2, n1, n2, n3
		begin(t, m, "x2", lapsed, webhook.Fresh)
		begin(t, m, "x3", lapsed, webhook.Fresh)
		begin(t, m, "x4", lapsed, webhook.Fresh)
		if err := m.End(ctx, "n3", webhook.Processed, dedupT0.Add(lapsed)); !errors.Is(err, webhook.ErrDedupFull) {
			t.Fatalf("End of a dropped claim in a store full of claims: %v, want ErrDedupFull", err)
		}
		if m.Len() != 4 {
			t.Fatalf("Len = %d, want 4", m.Len())
		}
	})
}

// TestHandlerWithFullDedupStore is the race a full MemoryDedup must not
// lose: while delivery A is being handled, delivery B finds the store
// full, then A is redelivered. B must be refused with 429 (so the API
// redelivers it later) and A's redelivery too: A is handled once.
func TestHandlerWithFullDedupStore(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	calls := map[string]int{}
	h, err := webhook.NewHandler(fuzzVerifier(t), func(_ context.Context, ev webhook.Event) error {
		mu.Lock()
		calls[ev.Info().WebhookID]++
		first := ev.Info().WebhookID == "wh-a" && calls["wh-a"] == 1
		mu.Unlock()
		if first { // only A's first delivery blocks: the bug must fail the test, not hang it
			close(entered)
			<-release
		}
		return nil
	}, webhook.WithClock(func() time.Time { return fuzzNow }), webhook.WithDedupStore(webhook.NewMemoryDedup(0, 1)))
	if err != nil {
		t.Fatal(err)
	}
	serve := func(id string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, signedNote(t, id, fuzzNow))
		return rec
	}
	first := make(chan int)
	go func() { first <- serve("wh-a").Code }()
	<-entered // A is being handled
	if rec := serve("wh-b"); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Errorf("B with the store full of A's claim: %d (Retry-After %q), want 429 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	if rec := serve("wh-a"); rec.Code != http.StatusTooManyRequests {
		t.Errorf("A redelivered while A is processed: %d, want 429", rec.Code)
	}
	close(release)
	if code := <-first; code != http.StatusOK {
		t.Fatalf("A: %d", code)
	}
	if rec := serve("wh-b"); rec.Code != http.StatusOK { // A processed: room again
		t.Errorf("B redelivered: %d, want 200", rec.Code)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls["wh-a"] != 1 || calls["wh-b"] != 1 {
		t.Errorf("handler calls %v, want each id once", calls)
	}
}

// countDedupRows returns how many rows the store's table holds.
func countDedupRows(t *testing.T, db *sql.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSQLDedupPurge(t *testing.T) {
	testSQLDedupPurge(t, openDedupDB(t, filepath.Join(t.TempDir(), "dedup.db")), webhook.SQLite)
}

// testSQLDedupPurge checks Purge on a store in db, of dialect d.
func testSQLDedupPurge(t *testing.T, db *sql.DB, d webhook.Dialect) {
	ctx := t.Context()
	s, err := webhook.NewSQLDedup(db, d, webhook.WithDedupTTL(dedupTTL), webhook.WithAutoPurge(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil { // idempotent
		t.Fatal(err)
	}
	mustBegin := func(id string, at time.Duration, want webhook.Claim) {
		t.Helper()
		if c, err := s.Begin(ctx, id, dedupT0.Add(at)); err != nil || c != want {
			t.Fatalf("Begin(%s, +%s) = %s, %v; want %s", id, at, claimName(c), err, claimName(want))
		}
	}
	mustEnd := func(id string, at time.Duration, o webhook.Outcome) {
		t.Helper()
		if err := s.End(ctx, id, o, dedupT0.Add(at)); err != nil {
			t.Fatal(err)
		}
	}
	// 1,200 processed IDs (more than one purge batch), one failed, one
	// claim held, one claim lapsed.
	for i := range 1200 {
		id := "done-" + strconv.Itoa(i)
		mustBegin(id, 0, webhook.Fresh)
		mustEnd(id, 0, webhook.Processed)
	}
	mustBegin("failed", 0, webhook.Fresh)
	mustEnd("failed", time.Minute, webhook.Failed)
	mustBegin("lapsed", 0, webhook.Fresh)
	mustBegin("held", dedupTTL, webhook.Fresh)
	if n := countDedupRows(t, db, "contacts_webhook_ids"); n != 1203 {
		t.Fatalf("%d rows, want 1203", n)
	}

	n, err := s.Purge(ctx, dedupT0.Add(dedupTTL-dedupRes))
	if err != nil || n != 0 {
		t.Fatalf("Purge before the TTL = %d, %v; want 0", n, err)
	}
	n, err = s.Purge(ctx, dedupT0.Add(dedupTTL))
	if err != nil || n != 1200 {
		t.Fatalf("Purge at the TTL = %d, %v; want the 1200 processed ids", n, err)
	}
	mustBegin("done-7", dedupTTL, webhook.Fresh) // forgotten
	// The lapsed claim is kept for a TTL after it lapsed, so that it is
	// still a Retry; the failed ID until its TTL.
	n, err = s.Purge(ctx, dedupT0.Add(dedupTTL+time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("Purge = %d, %v; want the failed id", n, err)
	}
	n, err = s.Purge(ctx, dedupT0.Add(dedupClaimTTL+dedupTTL))
	if err != nil || n != 1 {
		t.Fatalf("Purge = %d, %v; want the lapsed claim", n, err)
	}
	if got := countDedupRows(t, db, "contacts_webhook_ids"); got != 2 {
		t.Fatalf("%d rows left, want held and done-7", got)
	}
	mustBegin("held", dedupTTL+time.Minute, webhook.InProgress)
	mustBegin("lapsed", dedupClaimTTL+dedupTTL, webhook.Fresh)
}

func TestSQLDedupAutoPurge(t *testing.T) {
	testSQLDedupAutoPurge(t, openDedupDB(t, filepath.Join(t.TempDir(), "dedup.db")), webhook.SQLite)
}

// testSQLDedupAutoPurge checks Begin's purge on a store in db, of dialect
// d.
func testSQLDedupAutoPurge(t *testing.T, db *sql.DB, d webhook.Dialect) {
	ctx := t.Context()
	s, err := webhook.NewSQLDedup(db, d, webhook.WithDedupTTL(30*time.Second), webhook.WithAutoPurge(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// One new ID a second for ten minutes, each processed: with a purge at
	// every new ID the table holds the last 30 seconds of IDs.
	for i := range 600 {
		now := dedupT0.Add(time.Duration(i) * time.Second)
		id := strconv.Itoa(i)
		if c, err := s.Begin(ctx, id, now); err != nil || c != webhook.Fresh {
			t.Fatalf("Begin(%s) = %s, %v", id, claimName(c), err)
		}
		if err := s.End(ctx, id, webhook.Processed, now); err != nil {
			t.Fatal(err)
		}
	}
	if n := countDedupRows(t, db, "contacts_webhook_ids"); n > 31 {
		t.Errorf("%d rows, want at most 31", n)
	}
}

func TestSQLDedupTablePrefix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dedup.db")
	a := openSQLDedup(t, path, webhook.WithTablePrefix("a_"))
	b := openSQLDedup(t, path, webhook.WithTablePrefix("b_"))
	ctx := t.Context()
	for _, s := range []*webhook.SQLDedup{a, b} {
		if c, err := s.Begin(ctx, "x", dedupT0); err != nil || c != webhook.Fresh {
			t.Fatalf("%v: Begin = %s, %v; want Fresh in its own table", s, claimName(c), err)
		}
	}
	if n := countDedupRows(t, openDedupDB(t, path), "a_ids"); n != 1 {
		t.Errorf("a_ids has %d rows", n)
	}
}

func TestNewSQLDedupValidates(t *testing.T) {
	db := openDedupDB(t, filepath.Join(t.TempDir(), "dedup.db"))
	for name, tc := range map[string]struct {
		db   *sql.DB
		d    webhook.Dialect
		opts []webhook.SQLDedupOption
	}{
		"no database":   {nil, webhook.SQLite, nil},
		"no dialect":    {db, 0, nil},
		"bad prefix":    {db, webhook.SQLite, []webhook.SQLDedupOption{webhook.WithTablePrefix("x; DROP TABLE y")}},
		"empty prefix":  {db, webhook.SQLite, []webhook.SQLDedupOption{webhook.WithTablePrefix("")}},
		"zero TTL":      {db, webhook.SQLite, []webhook.SQLDedupOption{webhook.WithDedupTTL(0)}},
		"zero claim":    {db, webhook.SQLite, []webhook.SQLDedupOption{webhook.WithClaimTTL(-time.Second)}},
		"chance over 1": {db, webhook.Postgres, []webhook.SQLDedupOption{webhook.WithAutoPurge(1.5)}},
	} {
		if _, err := webhook.NewSQLDedup(tc.db, tc.d, tc.opts...); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := webhook.NewSQLDedup(db, webhook.Postgres, webhook.WithClaimTTL(time.Minute)); err != nil {
		t.Errorf("Postgres store: %v", err)
	}
}

func TestSQLDedupMigrateCreatesSchema(t *testing.T) {
	s, err := webhook.NewSQLDedup(openDedupDB(t, filepath.Join(t.TempDir(), "dedup.db")), webhook.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	schema := strings.Join(s.Schema(), "\n")
	for _, want := range []string{"CREATE TABLE IF NOT EXISTS contacts_webhook_ids", "id TEXT NOT NULL PRIMARY KEY", "expires_at BIGINT NOT NULL", "CREATE INDEX IF NOT EXISTS"} {
		if !strings.Contains(schema, want) {
			t.Errorf("schema lacks %q:\n%s", want, schema)
		}
	}
}

// TestSQLDedupSharedByProcesses starts several processes that each try to
// claim the same IDs in one database: every ID must be claimed exactly
// once.
func TestSQLDedupSharedByProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	path := filepath.Join(t.TempDir(), "dedup.db")
	openSQLDedup(t, path) // migrate once
	testSQLDedupSharedByProcesses(t, path)
}

// testSQLDedupSharedByProcesses runs the claimer processes on the migrated
// database at path: a SQLite file or a PostgreSQL URL.
func testSQLDedupSharedByProcesses(t *testing.T, path string) {
	const procs, ids = 4, 150
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	outs := make([][]byte, procs)
	var wg sync.WaitGroup
	for p := range procs {
		wg.Go(func() {
			cmd := exec.CommandContext(t.Context(), exe, "-test.run=^TestSQLDedupClaimerProcess$")
			cmd.Env = append(os.Environ(), "WEBHOOK_DEDUP_CLAIMER_DB="+path, "WEBHOOK_DEDUP_CLAIMER_IDS="+strconv.Itoa(ids))
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("process %d: %v\n%s", p, err, out)
			}
			outs[p] = out
		})
	}
	wg.Wait()
	claimed := map[string]int{}
	for _, out := range outs {
		for line := range strings.Lines(string(out)) {
			if id, ok := strings.CutPrefix(strings.TrimSpace(line), "claimed "); ok {
				claimed[id]++
			}
		}
	}
	var wrong []string
	for i := range ids {
		id := "event-" + strconv.Itoa(i)
		if claimed[id] != 1 {
			wrong = append(wrong, fmt.Sprintf("%s claimed %d times", id, claimed[id]))
		}
	}
	if len(claimed) != ids || len(wrong) > 0 {
		slices.Sort(wrong)
		t.Errorf("%d ids claimed, want %d each once: %v", len(claimed), ids, wrong)
	}
}

// TestSQLDedupClaimerProcess is the child of TestSQLDedupSharedByProcesses
// and TestSQLDedupSharedByProcessesPostgres.
func TestSQLDedupClaimerProcess(t *testing.T) {
	path := os.Getenv("WEBHOOK_DEDUP_CLAIMER_DB")
	if path == "" {
		t.Skip("run by TestSQLDedupSharedByProcesses")
	}
	ids, _ := strconv.Atoi(os.Getenv("WEBHOOK_DEDUP_CLAIMER_IDS"))
	var s *webhook.SQLDedup
	if isPostgresURL(path) {
		s = openPostgresDedup(t, path)
	} else {
		s = openSQLDedup(t, path)
	}
	for i := range ids {
		id := "event-" + strconv.Itoa(i)
		c, err := s.Begin(t.Context(), id, dedupT0)
		if err != nil {
			t.Fatal(err)
		}
		if c == webhook.Fresh || c == webhook.Retry {
			fmt.Printf("claimed %s\n", id)
		}
	}
}
