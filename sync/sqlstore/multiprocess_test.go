package sqlstore_test

// Several processes on one location's store, one of them killed with
// SIGKILL mid-run: TestPostgresMultiProcessKill and, on one SQLite file,
// TestSQLiteMultiProcessKill.
//
// The test binary runs itself as helper processes (TestMain calls
// runHelper, which runs mpChild when the environment names a database).
// Each helper opens its own DB handle on the parent's database (for
// PostgreSQL the URL of the parent's pgtest database: a helper never starts
// a server), prints "ready", waits for "go" on its standard input, and then
// runs four workloads at once, for one location:
//
//   - engine: the outbound engine's use of the store under the
//     LeaseEngine lease (see mpChild.engine);
//   - inbox: PutInbox of the same webhook IDs as every other process;
//   - done: MarkDone of the same idempotency keys as every other process;
//   - budget: SpendBudget of 1 at a time against a shared daily limit until
//     nothing is granted.
//
// It reports every outcome on standard output as it happens, one line a
// write (unbuffered, so a line printed is a line the parent reads even if
// the process is killed right after). Process 0 is the victim: the parent
// kills it with SIGKILL once it has made its third accepted API call, while
// it holds the lease with an intent recorded and its link not committed,
// and tells the survivors ("killed"), which then finish all the work. The
// parent then checks the invariants (mpCheck) against the processes'
// reports and the database.
//
// Two test-made tables stand for what the store does not see. mp_api is
// the Contacts API: a helper "calls" it (an INSERT, not through the store)
// only after its fenced PutIntent returned, and only if a lookup finds no
// accepted record of the member; the call records the lease's token at that
// moment (read with the row locked, FOR SHARE, as the store's fence does)
// and is accepted only if it is the caller's: an API that checks fencing
// tokens. mp_audit is filled by triggers on the store's intents and links
// tables: every intent and link write that commits, with the token it was
// made with (the intent's Data, the link's Hash: the helper's token) and
// the lease's token read in the same transaction.
//
// The invariants, which hold whatever the timing (the test asserts no
// timing; its waits are only for progress):
//
//  1. Tokens: no token is acquired by two processes, and each process's
//     tokens increase; the lease ends released, its token at least the
//     greatest acquired.
//  2. Fencing: every fenced write that committed carried the lease's token
//     of the moment it committed (audit: token == lease token), so in the
//     order they committed the tokens never decrease: no two holders'
//     fenced writes interleave.
//  3. A fenced write refused with ErrLeaseLost did not land. A PutIntent
//     (which waits for its commit) begun after its process saw the lease's
//     token pass on fails with ErrLeaseLost; a Commit (which may be written
//     behind, returning once queued) begun then, or after the API refused
//     the call as stale, never lands, and the term learns it when it
//     settles (waits for its pending writes) before releasing the lease.
//     The Commits of a term that landed are its first ones, and all of
//     them if the term settled without an error. Every reported PutIntent
//     landed exactly once; only the victim may have landed one write it
//     did not live to report.
//  4. Nothing lost, nothing done twice: every member is linked, no intent
//     is left, each member has exactly one accepted API record, and its
//     link names it — including the member the victim was killed working
//     on, whose intent a survivor resolved by finding the victim's record
//     rather than calling again. A refused call comes only from a caller
//     whose token was older than the lease's (a paused holder): with an
//     API that did not check tokens, that call would have made a second
//     contact. Fencing the store cannot prevent a stale holder's side
//     effect; it guarantees that the stale holder cannot record it.
//  5. PutInbox and MarkDone: each ID is reported first by at most one
//     process, every ID is stored once, and an ID first nowhere is the
//     victim's write in flight when it was killed.
//  6. Budget: the day's count ends at the limit exactly; each grant
//     reports a distinct count in 1…limit; the grants reported are the
//     limit, or one fewer when the victim was killed with a spend in
//     flight.

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gymflow/contacts-go/internal/pgtest"
	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/sqlstore"
)

// The environment of a helper process.
const (
	mpEnvDialect = "SQLSTORE_MP_DIALECT" // "sqlite" or "postgres": run mpChild
	mpEnvDSN     = "SQLSTORE_MP_DSN"     // the SQLite file or the PostgreSQL URL
	mpEnvProc    = "SQLSTORE_MP_PROC"    // the process's number; 0 is the victim
)

// The run's shape. Keep it small: the run takes a few seconds, most of it
// waiting for leases of killed or paused holders to expire.
const (
	mpProcs    = 4
	mpLocation = "gym-42"
	mpMembers  = 40 // the engine's work list: member m000 … m039
	mpInbox    = 150
	mpDone     = 150
	mpBudget   = 150 // the day's limit
	mpDay      = "2026-02-02"
	mpTTL      = 300 * time.Millisecond // the engine lease's time to live
	// mpKillAfter is how many accepted API calls the victim makes before
	// the parent kills it: it stops after that call, holding the lease with
	// its intent recorded and its link not committed.
	mpKillAfter = 3
	// The survivors pause, holding the lease without renewing it, after
	// recording the intent of each member i with i%mpPauseEvery ==
	// mpPauseAt, until the lease has passed to another process.
	mpPauseEvery, mpPauseAt = 10, 3
	// mpTimeout bounds a helper's run and the parent's waits.
	mpTimeout = 90 * time.Second
)

// runHelper runs a helper process if the environment asks for one: it
// returns the process's exit code and true, or false if the process is
// not a helper.
func runHelper() (code int, ok bool) {
	dialect := os.Getenv(mpEnvDialect)
	if dialect == "" {
		return 0, false
	}
	if err := runMPChild(dialect); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1, true
	}
	return 0, true
}

// mpSQL are the statements of the test's own tables in a dialect: the
// "API" a helper's engine calls, and the audit the triggers write.
type mpSQL struct {
	setup      []string
	leaseToken string // the location's engine lease token
	lookup     string // the accepted API record of a member
	call       string // the API call: a record of it, accepted if the caller holds the lease
}

func mpStatements(d sqlstore.Dialect) mpSQL {
	if d == sqlstore.Postgres {
		audit := func(table, item, token string) []string {
			return []string{
				`CREATE FUNCTION mp_audit_` + table + `() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO mp_audit (tbl, item, token, lease_token) VALUES ('` + table + `', ` + item + `, ` + token + `,
		(SELECT token FROM contactsync_leases WHERE location_id = NEW.location_id AND name = 'engine'));
	RETURN NULL;
END $$`,
				`CREATE TRIGGER mp_audit_` + table + ` AFTER INSERT OR UPDATE ON contactsync_` + table + `
	FOR EACH ROW EXECUTE FUNCTION mp_audit_` + table + `()`,
			}
		}
		return mpSQL{
			setup: slices.Concat([]string{
				`CREATE TABLE mp_api (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, member TEXT NOT NULL,
	proc INT NOT NULL, token BIGINT NOT NULL, lease_token BIGINT NOT NULL, accepted BOOLEAN NOT NULL)`,
				`CREATE TABLE mp_audit (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, tbl TEXT NOT NULL,
	item TEXT NOT NULL, token BIGINT NOT NULL, lease_token BIGINT)`,
			},
				audit("intents", "NEW.local_id", "convert_from(NEW.data, 'UTF8')::bigint"),
				audit("links", "NEW.local_id", "NEW.hash::bigint")),
			leaseToken: `SELECT token FROM contactsync_leases WHERE location_id = $1 AND name = 'engine'`,
			lookup:     `SELECT id FROM mp_api WHERE member = $1 AND accepted ORDER BY id LIMIT 1`,
			// FOR SHARE: an acquisition of the lease waits for the call to
			// commit, so the token the call saw stays current until then,
			// as with the store's fenced writes.
			call: `INSERT INTO mp_api (member, proc, token, lease_token, accepted)
	SELECT $1, $2, $3::bigint, token, token = $3::bigint FROM contactsync_leases
	WHERE location_id = $4 AND name = 'engine' FOR SHARE
	RETURNING id, lease_token, accepted`,
		}
	}
	audit := func(table, item, token string) []string {
		var out []string
		for _, ev := range []string{"INSERT", "UPDATE"} {
			out = append(out, `CREATE TRIGGER mp_audit_`+table+`_`+strings.ToLower(ev)+` AFTER `+ev+` ON contactsync_`+table+`
BEGIN
	INSERT INTO mp_audit (tbl, item, token, lease_token) VALUES ('`+table+`', `+item+`, `+token+`,
		(SELECT token FROM contactsync_leases WHERE location_id = NEW.location_id AND name = 'engine'));
END`)
		}
		return out
	}
	return mpSQL{
		setup: slices.Concat([]string{
			`CREATE TABLE mp_api (id INTEGER PRIMARY KEY AUTOINCREMENT, member TEXT NOT NULL, proc INT NOT NULL,
	token INTEGER NOT NULL, lease_token INTEGER NOT NULL, accepted BOOLEAN NOT NULL)`,
			`CREATE TABLE mp_audit (id INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL, item TEXT NOT NULL,
	token INTEGER NOT NULL, lease_token INTEGER)`,
		},
			audit("intents", "NEW.local_id", "CAST(CAST(NEW.data AS TEXT) AS INTEGER)"),
			audit("links", "NEW.local_id", "CAST(NEW.hash AS INTEGER)")),
		leaseToken: `SELECT token FROM contactsync_leases WHERE location_id = ? AND name = 'engine'`,
		lookup:     `SELECT id FROM mp_api WHERE member = ? AND accepted ORDER BY id LIMIT 1`,
		// One statement: SQLite's write lock keeps the token current
		// until it commits.
		call: `INSERT INTO mp_api (member, proc, token, lease_token, accepted)
	SELECT ?1, ?2, ?3, token, token = ?3 FROM contactsync_leases WHERE location_id = ?4 AND name = 'engine'
	RETURNING id, lease_token, accepted`,
	}
}

func mpMember(i int) string { return fmt.Sprintf("m%03d", i) }

// ---------------------------------------------------------------------
// The helper process.

// mpChild is a helper process's state.
type mpChild struct {
	proc    int
	victim  bool
	owner   string
	s       *sqlstore.Store
	raw     *sql.DB
	q       mpSQL
	outMu   sync.Mutex
	gone    atomic.Bool // the victim has been killed
	started chan struct{}
	// killPoint is closed when the victim's engine stops, holding the
	// lease with an intent and an accepted API call but no link: its
	// other workloads start then, and the parent kills it soon after.
	killPoint chan struct{}
	rng       *rand.Rand // the engine's
	calls     int        // the victim's accepted API calls
}

// say prints one line of the process's report, at once.
func (c *mpChild) say(format string, args ...any) {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	fmt.Fprintf(os.Stdout, format+"\n", args...)
}

func runMPChild(dialect string) error {
	proc, err := strconv.Atoi(os.Getenv(mpEnvProc))
	if err != nil {
		return err
	}
	dsn := os.Getenv(mpEnvDSN)
	c := &mpChild{proc: proc, victim: proc == 0, owner: "proc" + strconv.Itoa(proc), started: make(chan struct{}), killPoint: make(chan struct{}),
		rng: rand.New(rand.NewPCG(uint64(proc), 42))}
	ctx, cancel := context.WithTimeout(context.Background(), mpTimeout)
	defer cancel()

	var db *sqlstore.DB
	switch dialect {
	case "postgres":
		c.raw, err = sql.Open(pgtest.Driver, dsn)
		if err == nil {
			db, err = sqlstore.New(c.raw, sqlstore.Postgres)
		}
		if err == nil {
			err = db.Migrate(ctx)
		}
		c.q = mpStatements(sqlstore.Postgres)
	case "sqlite":
		db, err = sqlstore.OpenSQLite(dsn)
		if err == nil {
			c.raw, err = sql.Open("sqlite", sqliteURI(dsn))
		}
		c.q = mpStatements(sqlstore.SQLite)
	default:
		err = fmt.Errorf("unknown dialect %q", dialect)
	}
	if err != nil {
		return err
	}
	defer c.raw.Close()
	defer db.Close()
	if c.s, err = db.Location(mpLocation); err != nil {
		return err
	}

	// Standard input: "go" starts the run, "killed" says the victim is
	// gone; its end means the parent is gone.
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			switch sc.Text() {
			case "go":
				close(c.started)
			case "killed":
				c.gone.Store(true)
			}
		}
		fmt.Fprintln(os.Stderr, "helper: standard input closed, exiting")
		os.Exit(3)
	}()
	c.say("ready")
	select {
	case <-c.started:
	case <-ctx.Done():
		return ctx.Err()
	}

	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i, work := range []func(context.Context) error{c.engine, c.inbox, c.done, c.budget} {
		wg.Go(func() {
			if errs[i] = work(ctx); errs[i] != nil {
				cancel() // end the others
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	c.say("end")
	return nil
}

// pace slows the survivors' loops a little, so that the processes take
// turns: on SQLite a process writing without a pause keeps the write lock
// from the others, which wait in the busy handler.
func (c *mpChild) pace() {
	if !c.victim {
		time.Sleep(time.Millisecond)
	}
}

// ids returns the IDs of the inbox or done workload in the order the
// process writes them, calling wait between the halves. The victim writes
// the second half, once its engine has reached the point where it is
// killed, so that it is killed in the middle of it. The survivors write
// the first half together, each starting at another place, then wait for
// the victim's end and write the second half together.
func (c *mpChild) ids(ctx context.Context, format string, n int) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		half := n / 2
		if c.victim {
			select {
			case <-c.killPoint:
			case <-ctx.Done():
				return
			}
			for i := half; i < n; i++ {
				if !yield(fmt.Sprintf(format, i)) {
					return
				}
			}
			return
		}
		for j := range half {
			if !yield(fmt.Sprintf(format, (j+c.proc*half/mpProcs)%half)) {
				return
			}
		}
		for !c.gone.Load() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
		for j := range n - half {
			if !yield(fmt.Sprintf(format, half+(j+c.proc*(n-half)/mpProcs)%(n-half))) {
				return
			}
		}
	}
}

// engine runs the engine's work list as the outbound engine uses its
// store, in terms: it takes the LeaseEngine lease (again and again while
// another process holds it), does a term of work with the lease's fenced
// view of the store, and releases the lease, until every member is
// linked and no intent is left.
func (c *mpChild) engine(ctx context.Context) error {
	for {
		l, err := c.s.AcquireLease(ctx, contactsync.LeaseEngine, c.owner, mpTTL)
		if errors.Is(err, contactsync.ErrLeaseHeld) {
			time.Sleep(time.Duration(2+c.rng.IntN(6)) * time.Millisecond)
			continue
		}
		if err != nil {
			return err
		}
		c.say("acquire %d", l.Token)
		f := c.s.Fenced(l)
		finished, err := c.term(ctx, l, f)
		if err == nil {
			err = c.settle(ctx, l.Token, f)
		}
		if rerr := c.s.ReleaseLease(ctx, l); err == nil {
			err = rerr
		}
		if err != nil || finished {
			return err
		}
		time.Sleep(time.Duration(1+c.rng.IntN(5)) * time.Millisecond) // let the others in
	}
}

// settle waits until the fenced writes of the term of token tok through f
// are committed, and reports whether they all were. (A fenced Commit may
// be written behind: it returns once queued, and if it then fails, the
// view's later calls fail; Intents waits for the view's pending writes.)
func (c *mpChild) settle(ctx context.Context, tok int64, f contactsync.StateStore) error {
	_, err := f.Intents(ctx)
	switch {
	case err == nil:
		c.say("settled %d ok", tok)
	case errors.Is(err, contactsync.ErrLeaseLost):
		c.say("settled %d lost", tok)
	default:
		return fmt.Errorf("settling the writes of token %d: %w", tok, err)
	}
	return nil
}

// term is one holding of lease l (f is its fenced view): first it resolves
// the intents left by processes that lost the lease or were killed, as the
// engine does at the start of a run, then it creates up to three members
// not linked yet, renewing the lease after each. It returns when the lease
// is lost (a fenced write or a renewal fails with ErrLeaseLost), and
// reports whether all the work is done.
func (c *mpChild) term(ctx context.Context, l contactsync.Lease, f contactsync.StateStore) (finished bool, err error) {
	// Read through the fenced view, as the engine does: it sees the
	// term's own Commits, which may be pending (written behind), and
	// fails once one of them has failed.
	ins, err := f.Intents(ctx)
	if errors.Is(err, contactsync.ErrLeaseLost) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	for _, in := range ins {
		if lost, err := c.member(ctx, l, f, in.LocalID, true); err != nil || lost {
			return false, err
		}
	}
	links, err := f.Links(ctx, contactsync.KindMember, "", 0)
	if errors.Is(err, contactsync.ErrLeaseLost) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if len(links) == mpMembers {
		ins, err := f.Intents(ctx)
		if errors.Is(err, contactsync.ErrLeaseLost) {
			return false, nil
		}
		return len(ins) == 0, err
	}
	linked := map[string]bool{}
	for _, l := range links {
		linked[l.LocalID] = true
	}
	done, tok := 0, l.Token
	for i := 0; i < mpMembers && done < 3; i++ {
		id := mpMember(i)
		if linked[id] {
			continue
		}
		if !c.victim && i >= mpMembers/2 && !c.gone.Load() {
			break // the second half waits for the victim's end, so that it has work
		}
		if lost, err := c.member(ctx, l, f, id, false); err != nil || lost {
			return false, err
		}
		done++
		if l, err = c.s.RenewLease(ctx, l, mpTTL); errors.Is(err, contactsync.ErrLeaseLost) {
			c.say("renew-lost %d", tok)
			return false, nil
		} else if err != nil {
			return false, err
		}
	}
	return false, nil
}

// member creates member id's contact as the engine does, holding lease l
// (f is its fenced view): record the intent, look the contact up in the
// "API" (as the engine resolves an intent: a contact made by an earlier
// attempt is not made again), make it if there is none, and commit the
// link, which removes the intent. A survivor pauses after the intent of
// every tenth new member until the lease has passed to another process,
// which resolves the intent, and then goes on as a paused process would:
// its API call, if it makes one, is refused (the API checks the caller's
// token), and its Commit must not land. It returns lost if the lease was
// seen lost.
func (c *mpChild) member(ctx context.Context, l contactsync.Lease, f contactsync.StateStore, id string, resolving bool) (lost bool, err error) {
	key, tok := "create/member/"+id, l.Token
	in := contactsync.Intent{Key: key, Kind: contactsync.KindMember, LocalID: id, Op: "create",
		Data: []byte(strconv.FormatInt(tok, 10)), CreatedAt: time.Now()}
	if lost, err := c.fenced(ctx, tok, "PutIntent "+id, func() error { return f.PutIntent(ctx, in) }); err != nil {
		return false, err
	} else if lost {
		c.say("intent-lost %s %d", id, tok)
		return true, nil
	}
	c.say("intent %s %d", id, tok)

	if i, _ := strconv.Atoi(id[1:]); !resolving && !c.victim && i%mpPauseEvery == mpPauseAt {
		now, err := c.waitTakeover(ctx, tok)
		if err != nil {
			return false, err
		}
		c.say("pause %s %d %d", id, tok, now)
	}

	remote := ""
	var apiID, leaseTok int64
	switch err := c.raw.QueryRowContext(ctx, c.q.lookup, id).Scan(&apiID); {
	case err == nil:
		c.say("found %s %d %d", id, tok, apiID)
		remote = "api-" + strconv.FormatInt(apiID, 10)
	case errors.Is(err, sql.ErrNoRows):
		var accepted bool
		for {
			err := c.raw.QueryRowContext(ctx, c.q.call, id, c.proc, tok, mpLocation).Scan(&apiID, &leaseTok, &accepted)
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "40P01" {
				// Deadlock detected: the call waited for the lease's row
				// behind the store's transactions of other processes, which
				// deadlocked. It was rolled back: make it again.
				c.say("api-deadlock %s %d", id, tok)
				continue
			}
			if err != nil {
				return false, fmt.Errorf("API call for %s: %w", id, err)
			}
			break
		}
		c.say("api %s %d %d %d %t", id, tok, apiID, leaseTok, accepted)
		remote = "api-rejected"
		if accepted {
			remote = "api-" + strconv.FormatInt(apiID, 10)
			if c.victim {
				if c.calls++; c.calls == mpKillAfter {
					close(c.killPoint) // the other workloads start, and the parent kills the process
					<-ctx.Done()
					return false, ctx.Err()
				}
			}
		}
	default:
		return false, err
	}

	// The Commit may be written behind (returning once queued), so that a
	// Commit begun after the lease passed on need not fail at once, but it
	// must not land: the process reports what it saw before the Commit,
	// and the parent checks with the audit.
	link := contactsync.Link{Kind: contactsync.KindMember, LocalID: id, RemoteID: remote, Hash: strconv.FormatInt(tok, 10), UpdatedAt: time.Now()}
	before, err := c.leaseToken(ctx)
	if err != nil {
		return false, err
	}
	switch err := f.Commit(ctx, link, key); {
	case err == nil:
		c.say("commit-queued %s %d %s %t", id, tok, remote, before != tok)
		return false, nil
	case errors.Is(err, contactsync.ErrLeaseLost):
		c.say("commit-lost %s %d", id, tok)
		return true, nil
	default:
		return false, fmt.Errorf("Commit %s: %w", id, err)
	}
}

// fenced runs a fenced write of token tok that waits for its commit
// (PutIntent) and returns lost if it failed with ErrLeaseLost. If the
// lease's token had already passed on from tok before the write began, the
// write must fail: the process reports a violation if it did not.
func (c *mpChild) fenced(ctx context.Context, tok int64, what string, write func() error) (lost bool, err error) {
	before, err := c.leaseToken(ctx)
	if err != nil {
		return false, err
	}
	err = write()
	switch {
	case err == nil:
		if before != tok {
			c.say("violation %s with token %d landed after the lease passed to token %d", what, tok, before)
		}
		return false, nil
	case errors.Is(err, contactsync.ErrLeaseLost):
		return true, nil
	default:
		return false, fmt.Errorf("%s: %w", what, err)
	}
}

// leaseToken reads the engine lease's current token.
func (c *mpChild) leaseToken(ctx context.Context) (int64, error) {
	var tok int64
	err := c.raw.QueryRowContext(ctx, c.q.leaseToken, mpLocation).Scan(&tok)
	return tok, err
}

// waitTakeover waits, without renewing the lease of token tok, until
// another process has taken it, and returns the new token.
func (c *mpChild) waitTakeover(ctx context.Context, tok int64) (int64, error) {
	for {
		now, err := c.leaseToken(ctx)
		if err != nil || now != tok {
			return now, err
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// inbox stores every webhook ID (in the order of ids).
func (c *mpChild) inbox(ctx context.Context) error {
	for id := range c.ids(ctx, "w%04d", mpInbox) {
		c.say("inbox-try %s", id)
		first, err := c.s.PutInbox(ctx, contactsync.InboxEntry{ID: id, Body: []byte("from " + c.owner)})
		if err != nil {
			return err
		}
		if first {
			c.say("inbox-first %s", id)
		} else {
			c.say("inbox-again %s", id)
		}
		c.pace()
	}
	return ctx.Err()
}

// done marks every idempotency key done (in the order of ids).
func (c *mpChild) done(ctx context.Context) error {
	for key := range c.ids(ctx, "lead/%04d", mpDone) {
		c.say("done-try %s", key)
		first, err := c.s.MarkDone(ctx, key)
		if err != nil {
			return err
		}
		if first {
			c.say("done-first %s", key)
		} else {
			c.say("done-again %s", key)
		}
		c.pace()
	}
	return ctx.Err()
}

// budget spends the day's budget a call at a time until none is granted.
// Until the victim's end, the survivors spend only up to half the limit,
// and the victim starts spending when its engine has reached the point
// where it is killed, so that it is killed in the middle of spending.
func (c *mpChild) budget(ctx context.Context) error {
	if c.victim {
		select {
		case <-c.killPoint:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for {
		limit := mpBudget
		if !c.victim && !c.gone.Load() {
			limit = mpBudget / 2
		}
		c.say("spend-try")
		granted, used, err := c.s.SpendBudget(ctx, mpDay, 1, limit)
		if err != nil {
			return err
		}
		switch {
		case granted == 1:
			c.say("grant %d", used)
		case granted == 0 && limit == mpBudget:
			c.say("spend-none %d", used)
			return nil
		case granted == 0: // wait for the victim's end
			c.say("spend-wait %d", used)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
			continue
		default:
			return fmt.Errorf("SpendBudget of 1 granted %d", granted)
		}
		c.pace()
	}
}

// ---------------------------------------------------------------------
// The parent.

// mpProc is a helper process as the parent sees it.
type mpProc struct {
	n      int
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr bytes.Buffer
	exited chan struct{}
	err    error // of Wait, once exited

	mu    sync.Mutex
	lines []string
}

func (p *mpProc) snapshot() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.lines)
}

func (p *mpProc) tell(line string) {
	io.WriteString(p.stdin, line+"\n") // a process that has ended reads nothing
}

// TestPostgresMultiProcessKill runs the helpers on one PostgreSQL
// database.
func TestPostgresMultiProcessKill(t *testing.T) {
	t.Parallel()
	u := pgtest.URL(t)
	runMultiProcessKill(t, sqlstore.Postgres, "postgres", u, pgtest.Open(t, u))
}

// TestSQLiteMultiProcessKill runs the helpers on one SQLite file.
func TestSQLiteMultiProcessKill(t *testing.T) {
	t.Parallel()
	tg := sqliteTarget(t)
	runMultiProcessKill(t, sqlstore.SQLite, "sqlite", tg.path, tg.raw)
}

func runMultiProcessKill(t *testing.T, d sqlstore.Dialect, dialect, dsn string, raw *sql.DB) {
	start := time.Now()
	db, err := sqlstore.New(raw, d)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, stmt := range mpStatements(d).setup {
		if _, err := raw.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}

	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	procs := make([]*mpProc, mpProcs)
	for n := range procs {
		p := &mpProc{n: n, exited: make(chan struct{})}
		p.cmd = exec.Command(exe)
		p.cmd.Env = append(os.Environ(), mpEnvDialect+"="+dialect, mpEnvDSN+"="+dsn, mpEnvProc+"="+strconv.Itoa(n))
		p.cmd.Stderr = &p.stderr
		stdout, err := p.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if p.stdin, err = p.cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs[n] = p
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				p.mu.Lock()
				p.lines = append(p.lines, sc.Text())
				p.mu.Unlock()
			}
			p.err = p.cmd.Wait()
			close(p.exited)
		}()
	}
	// Whatever happens, no helper outlives the test.
	t.Cleanup(func() {
		for _, p := range procs {
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
	deadline := time.Now().Add(mpTimeout)
	fail := func(format string, args ...any) {
		t.Helper()
		for _, p := range procs {
			p.cmd.Process.Kill()
			<-p.exited
			lines := p.snapshot()
			t.Logf("process %d (%v): last lines:\n%s\nstderr:\n%s", p.n, p.err,
				strings.Join(lines[max(0, len(lines)-30):], "\n"), p.stderr.Bytes())
		}
		t.Fatalf(format, args...)
	}
	// waitFor waits until cond holds of process p's report.
	waitFor := func(p *mpProc, what string, cond func([]string) bool) {
		t.Helper()
		for !cond(p.snapshot()) {
			select {
			case <-p.exited:
				if cond(p.snapshot()) {
					return
				}
				fail("process %d ended (%v) before %s", p.n, p.err, what)
			case <-time.After(5 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				fail("timed out waiting for process %d: %s", p.n, what)
			}
		}
	}

	for _, p := range procs {
		waitFor(p, "it was ready", func(lines []string) bool { return slices.Contains(lines, "ready") })
	}
	ready := time.Now()
	for _, p := range procs {
		p.tell("go")
	}
	// Kill the victim once it has stopped in its engine and done some of
	// each of its other workloads, which it starts then and which have
	// much more to do.
	victim := procs[0]
	waitFor(victim, "its API calls and some of its other work", func(lines []string) bool {
		n := map[string]int{}
		for _, l := range lines {
			f := strings.Fields(l)
			switch {
			case len(f) == 0:
			case f[0] == "api":
				if len(f) == 6 && f[5] == "true" {
					n["api"]++
				}
			default:
				n[strings.Split(f[0], "-")[0]]++
			}
		}
		return n["api"] >= mpKillAfter && n["inbox"] >= 20 && n["done"] >= 20 && n["grant"] >= 10
	})
	if err := victim.cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatal(err)
	}
	<-victim.exited
	killed := time.Now()
	for _, p := range procs[1:] {
		p.tell("killed")
	}
	for _, p := range procs[1:] {
		select {
		case <-p.exited:
		case <-time.After(time.Until(deadline)):
			fail("timed out waiting for process %d to end", p.n)
		}
		if p.err != nil || !slices.Contains(p.snapshot(), "end") {
			fail("process %d: %v\n%s", p.n, p.err, p.stderr.Bytes())
		}
	}
	t.Logf("helpers started in %v, killed the victim after %v, the survivors finished %v later",
		ready.Sub(start).Round(time.Millisecond), killed.Sub(ready).Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))

	reports := make([][]string, len(procs))
	for i, p := range procs {
		reports[i] = p.snapshot()
	}
	if dir := os.Getenv("SQLSTORE_MP_KEEP"); dir != "" { // keep the reports, to study a failure
		for i, r := range reports {
			os.WriteFile(fmt.Sprintf("%s/%s-proc%d.txt", dir, dialect, i), []byte(strings.Join(r, "\n")+"\n"), 0o644)
		}
	}
	mpCheck(t, d, raw, reports)
}

// mpLine is a line of a report, split into its fields.
type mpLine struct {
	proc int
	f    []string
}

func (l mpLine) int(i int) int64 {
	n, err := strconv.ParseInt(l.f[i], 10, 64)
	if err != nil {
		panic(fmt.Sprintf("process %d reported %q", l.proc, strings.Join(l.f, " ")))
	}
	return n
}

// mpCheck checks the invariants of a run against the processes' reports
// (reports[0] is the victim's, cut short by SIGKILL) and the database.
func mpCheck(t *testing.T, d sqlstore.Dialect, raw *sql.DB, reports [][]string) {
	ctx := t.Context()
	byKind := map[string][]mpLine{}
	for p, lines := range reports {
		for _, l := range lines {
			f := strings.Fields(l)
			if len(f) > 0 {
				byKind[f[0]] = append(byKind[f[0]], mpLine{p, f})
			}
		}
	}
	// lastOf returns the victim's last line of one of kinds.
	lastOf := func(kinds ...string) []string {
		for i := len(reports[0]) - 1; i >= 0; i-- {
			if f := strings.Fields(reports[0][i]); len(f) > 0 && slices.Contains(kinds, f[0]) {
				return f
			}
		}
		return nil
	}
	rebind := d.Rebind
	store, err := sqlstore.New(raw, d)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	s := loc(t, store, mpLocation)

	t.Run("Lease", func(t *testing.T) {
		// Each process reports the report lines of its own store calls;
		// the audit table holds, from the triggers, every write to the
		// intents and links tables that committed, with the token it was
		// made with (the intent's Data, the link's Hash) and the lease's
		// token at the time, read in the same transaction.
		for _, v := range byKind["violation"] {
			// A PutIntent began after its process had seen the lease pass
			// to a newer token, and still succeeded.
			t.Errorf("process %d: %s", v.proc, strings.Join(v.f[1:], " "))
		}

		// Tokens: a lease passes to a new owner with a new token, so no
		// token is ever handed to two processes, and each process's
		// tokens increase.
		owner := map[int64]int{}
		last := map[int]int64{}
		var maxTok int64
		for _, a := range byKind["acquire"] {
			tok := a.int(1)
			if p, ok := owner[tok]; ok && p != a.proc {
				t.Errorf("token %d was acquired by processes %d and %d", tok, p, a.proc)
			}
			owner[tok] = a.proc
			if tok <= last[a.proc] {
				t.Errorf("process %d acquired token %d after token %d", a.proc, tok, last[a.proc])
			}
			last[a.proc], maxTok = tok, max(maxTok, tok)
		}
		var dbTok int64
		var dbOwner string
		if err := raw.QueryRowContext(ctx, rebind(`SELECT token, owner FROM contactsync_leases WHERE location_id = ? AND name = 'engine'`), mpLocation).Scan(&dbTok, &dbOwner); err != nil {
			t.Fatal(err)
		}
		if dbTok < maxTok || dbOwner != "" {
			t.Errorf("the lease at the end: token %d, owner %q; want a token of at least %d, released", dbTok, dbOwner, maxTok)
		}

		// Fencing: every fenced write that landed carried the lease's
		// token of the moment it landed; so, in the order they landed,
		// the tokens of the writes never decrease: no two holders' writes
		// interleave.
		type audited struct {
			tbl, item string
			token     int64
		}
		landed := map[audited]int{}
		rows, err := raw.QueryContext(ctx, `SELECT tbl, item, token, lease_token FROM mp_audit ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		var prev int64
		n := 0
		for rows.Next() {
			var a audited
			var leaseTok sql.NullInt64
			if err := rows.Scan(&a.tbl, &a.item, &a.token, &leaseTok); err != nil {
				t.Fatal(err)
			}
			n++
			if !leaseTok.Valid || leaseTok.Int64 != a.token {
				t.Errorf("a write to %s of %s with token %d landed while the lease's token was %v", a.tbl, a.item, a.token, leaseTok)
			}
			if a.token < prev {
				t.Errorf("a write to %s of %s with token %d landed after a write with token %d", a.tbl, a.item, a.token, prev)
			}
			prev = max(prev, a.token)
			landed[a]++
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()

		// The PutIntents a process reported done landed, once; the fenced
		// writes refused with ErrLeaseLost did not land.
		reported := map[audited]bool{}
		for _, w := range byKind["intent"] {
			a := audited{"intents", w.f[1], w.int(2)}
			if landed[a] != 1 {
				t.Errorf("process %d reported %s, which landed %d times", w.proc, strings.Join(w.f, " "), landed[a])
			}
			reported[a] = true
		}
		for kind, tbl := range map[string]string{"intent-lost": "intents", "commit-lost": "links"} {
			for _, w := range byKind[kind] {
				if a := (audited{tbl, w.f[1], w.int(2)}); landed[a] != 0 {
					t.Errorf("process %d's %s was refused with ErrLeaseLost, but landed", w.proc, strings.Join(w.f, " "))
				}
			}
		}
		// A Commit may be written behind: it returns once queued, and its
		// term learns whether it landed when it settles (waits for its
		// pending writes) before releasing the lease. The Commits of a
		// term land in order, so those that landed are the first ones; if
		// the term settled without an error, all of them. A Commit begun
		// after its process had seen the lease pass on, or after the API
		// refused its call as stale, never lands.
		settled := map[int64]string{}
		for _, l := range byKind["settled"] {
			settled[l.int(1)] = l.f[2]
		}
		queued := map[int64][]mpLine{}
		for _, w := range byKind["commit-queued"] {
			tok := w.int(2)
			queued[tok] = append(queued[tok], w)
		}
		for tok, ws := range queued {
			gap := false
			for _, w := range ws {
				a := audited{"links", w.f[1], tok}
				reported[a] = true
				switch n := landed[a]; {
				case n > 1:
					t.Errorf("process %d's %s landed %d times", w.proc, strings.Join(w.f, " "), n)
				case n == 1 && gap:
					t.Errorf("process %d's %s landed after an earlier Commit of its term did not", w.proc, strings.Join(w.f, " "))
				case n == 1 && (w.f[4] == "true" || w.f[3] == "api-rejected"):
					t.Errorf("process %d's %s landed, begun after the lease passed on", w.proc, strings.Join(w.f, " "))
				case n == 0 && settled[tok] == "ok":
					t.Errorf("process %d's %s did not land, and its term settled without an error", w.proc, strings.Join(w.f, " "))
				case n == 0:
					gap = true
				}
			}
		}
		unreported := 0
		for a := range landed {
			if !reported[a] {
				unreported++
				if owner[a.token] != 0 {
					t.Errorf("a write to %s of %s with token %d of process %d landed unreported", a.tbl, a.item, a.token, owner[a.token])
				}
			}
		}
		if unreported > 1 {
			t.Errorf("%d writes of the victim landed unreported; it makes one at a time", unreported)
		}

		// A paused process learned that it lost the lease: its Commit
		// failed, or its term's settling did.
		for _, p := range byKind["pause"] {
			if !slices.ContainsFunc(byKind["commit-lost"], func(l mpLine) bool {
				return l.proc == p.proc && l.f[1] == p.f[1] && l.f[2] == p.f[2]
			}) && settled[p.int(2)] != "lost" {
				t.Errorf("process %d paused in %s with token %s, and neither its Commit nor its term's settling failed", p.proc, p.f[1], p.f[2])
			}
		}
		lostBehind := 0
		for _, st := range settled {
			if st == "lost" {
				lostBehind++
			}
		}
		t.Logf("%d lease terms (last token %d), %d fenced writes landed, %d refused at once with ErrLeaseLost, %d terms whose Commits behind failed, %d pauses ended by a takeover",
			len(byKind["acquire"]), dbTok, n, len(byKind["intent-lost"])+len(byKind["commit-lost"]), lostBehind, len(byKind["pause"]))
	})

	t.Run("Links", func(t *testing.T) {
		// The "API": every API call is recorded, accepted only if the
		// caller's token was the lease's current one when the call
		// happened (an API that checks fencing tokens); calls are made
		// only after the caller's fenced PutIntent landed, and only if no
		// accepted record of the member exists (the intent's resolution
		// by lookup).
		//
		// Nothing lost: every member is linked, no intent is left, and
		// each link names the accepted record of its member. Nothing done
		// twice: each member has exactly one accepted record, even the
		// one the victim was killed working on, whose intent a survivor
		// resolved by finding the victim's record. A refused call is one
		// a holder made after losing the lease (a paused process): with
		// an API that did not check tokens it would have made a second
		// contact, which the store's fencing cannot prevent; what it
		// guarantees is that such a process's Commit fails, so the
		// duplicate is never linked.
		type apiRow struct {
			id, token, leaseToken int64
			proc                  int
			accepted              bool
		}
		api := map[string][]apiRow{}
		rows, err := raw.QueryContext(ctx, `SELECT id, member, proc, token, lease_token, accepted FROM mp_api ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		calls, refused := 0, 0
		for rows.Next() {
			var r apiRow
			var member string
			if err := rows.Scan(&r.id, &member, &r.proc, &r.token, &r.leaseToken, &r.accepted); err != nil {
				t.Fatal(err)
			}
			api[member] = append(api[member], r)
			calls++
			if !r.accepted {
				refused++
				if r.token >= r.leaseToken {
					t.Errorf("an API call for %s with token %d was refused while the lease's token was %d", member, r.token, r.leaseToken)
				}
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		if reported := len(byKind["api"]); reported != calls {
			t.Errorf("%d API calls recorded, %d reported", calls, reported)
		}

		ins, err := s.Intents(ctx)
		if err != nil || len(ins) != 0 {
			t.Errorf("intents left: %+v, %v", ins, err)
		}
		links, err := s.Links(ctx, contactsync.KindMember, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		remote := map[string]string{}
		for _, l := range links {
			remote[l.LocalID] = l.RemoteID
		}
		if len(links) != mpMembers {
			t.Errorf("%d members linked, want %d", len(links), mpMembers)
		}
		for i := range mpMembers {
			id := mpMember(i)
			var accepted []apiRow
			for _, r := range api[id] {
				if r.accepted {
					accepted = append(accepted, r)
				}
			}
			if len(accepted) != 1 {
				t.Errorf("member %s has %d accepted API records, want 1: %+v", id, len(accepted), api[id])
				continue
			}
			if want := "api-" + strconv.FormatInt(accepted[0].id, 10); remote[id] != want {
				t.Errorf("member %s is linked to %q, want %q", id, remote[id], want)
			}
		}
		// The victim was killed after its last API call was accepted,
		// before its Commit: a survivor found the call's record.
		if f := lastOf("api", "commit-queued", "commit-lost"); len(f) != 6 || f[0] != "api" || f[5] != "true" {
			t.Errorf("the victim's last engine report is %q, want its accepted API call", f)
		} else if remote[f[1]] != "api-"+f[3] {
			t.Errorf("the victim's member %s is linked to %q, want the victim's record api-%s", f[1], remote[f[1]], f[3])
		} else {
			t.Logf("the victim was killed after its API call for %s (record %s, token %s); a survivor resolved it by lookup", f[1], f[3], f[2])
		}
		t.Logf("%d members, %d API calls (%d refused as stale), %d intents resolved by finding the record",
			mpMembers, calls, refused, len(byKind["found"]))
	})

	// firstOnce checks the reports of an operation that reports first
	// exactly once per ID across processes (PutInbox, MarkDone): no ID
	// is first twice, and an ID first nowhere is the victim's last try,
	// killed after its write and before its report.
	firstOnce := func(t *testing.T, op string, ids []string, stored func(id string) bool) {
		firsts := map[string]int{}
		perProc := make([]int, len(reports))
		for _, l := range byKind[op+"-first"] {
			firsts[l.f[1]]++
			perProc[l.proc]++
		}
		for id, n := range firsts {
			if n > 1 {
				t.Errorf("%s %s was first %d times", op, id, n)
			}
		}
		inFlight := ""
		if f := lastOf(op+"-try", op+"-first", op+"-again"); len(f) == 2 && f[0] == op+"-try" {
			inFlight = f[1]
		}
		for _, id := range ids {
			if !stored(id) {
				t.Errorf("%s %s is not stored", op, id)
			}
			if firsts[id] == 0 && id != inFlight {
				t.Errorf("%s %s was first nowhere (the victim's write in flight: %q)", op, id, inFlight)
			}
		}
		t.Logf("%d IDs first in processes 0 (victim) … %d: %v; in flight at the kill: %q", len(ids), len(reports)-1, perProc, inFlight)
	}

	t.Run("Inbox", func(t *testing.T) {
		pending, err := s.PendingInbox(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		stored := map[string]int{}
		for _, e := range pending {
			stored[e.ID]++
		}
		if len(pending) != mpInbox {
			t.Errorf("%d inbox entries, want %d", len(pending), mpInbox)
		}
		var ids []string
		for i := range mpInbox {
			ids = append(ids, fmt.Sprintf("w%04d", i))
		}
		firstOnce(t, "inbox", ids, func(id string) bool { return stored[id] == 1 })
	})

	t.Run("Done", func(t *testing.T) {
		var ids []string
		for i := range mpDone {
			ids = append(ids, fmt.Sprintf("lead/%04d", i))
		}
		firstOnce(t, "done", ids, func(id string) bool {
			done, err := s.Done(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return done
		})
		var n int
		if err := raw.QueryRowContext(ctx, rebind(`SELECT count(*) FROM contactsync_done WHERE location_id = ?`), mpLocation).Scan(&n); err != nil || n != mpDone {
			t.Errorf("%d keys done, %v; want %d", n, err, mpDone)
		}
	})

	t.Run("Budget", func(t *testing.T) {
		// Each grant takes the count from used-1 to used, atomically, so
		// the counts the grants report are distinct, and every count up
		// to the limit was granted: reported, or the victim's spend in
		// flight when it was killed.
		_, used, err := s.SpendBudget(ctx, mpDay, 0, mpBudget)
		if err != nil || used != mpBudget {
			t.Errorf("the day's budget: used %d, %v; want %d", used, err, mpBudget)
		}
		counts := map[int64]int{}
		perProc := make([]int, len(reports))
		for _, g := range byKind["grant"] {
			n := g.int(1)
			if n < 1 || n > mpBudget {
				t.Errorf("process %d was granted count %d, past the limit %d", g.proc, n, mpBudget)
			}
			if counts[n]++; counts[n] > 1 {
				t.Errorf("count %d was granted twice", n)
			}
			perProc[g.proc]++
		}
		inFlight := 0
		if f := lastOf("spend-try", "grant", "spend-none"); len(f) == 1 && f[0] == "spend-try" {
			inFlight = 1
		}
		total := len(byKind["grant"])
		if total > mpBudget || total < mpBudget-inFlight {
			t.Errorf("%d grants reported (victim's spend in flight: %d), want %d", total, inFlight, mpBudget)
		}
		for p := 1; p < len(reports); p++ {
			if f := lastOfProc(reports[p], "grant", "spend-none"); len(f) == 0 || f[0] != "spend-none" || f[1] != strconv.Itoa(mpBudget) {
				t.Errorf("process %d's last spend: %q, want none granted at the limit", p, f)
			}
		}
		t.Logf("%d grants in processes 0 (victim) … %d: %v; in flight at the kill: %d", total, len(reports)-1, perProc, inFlight)
	})
}

// lastOfProc returns the last line of lines of one of kinds, split.
func lastOfProc(lines []string, kinds ...string) []string {
	for i := len(lines) - 1; i >= 0; i-- {
		if f := strings.Fields(lines[i]); len(f) > 0 && slices.Contains(kinds, f[0]) {
			return f
		}
	}
	return nil
}
