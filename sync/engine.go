package contactsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"iter"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	contacts "github.com/gymflow/contacts-go"
)

// Errors that stop a run.
var (
	// ErrBudgetExhausted: the engine's daily budget of API calls for the
	// location is spent (or the server's daily remaining fell to the
	// reserve). The run stops; what was not processed is processed by the
	// next run.
	ErrBudgetExhausted = errors.New("contactsync: daily API budget exhausted")
)

// DeletePolicy says what happens to a contact when its member is deleted
// in GymFlow. Only contacts the sync created or linked are ever touched.
type DeletePolicy struct {
	op    string
	tag   string
	field contacts.CustomFieldInput
}

// ArchiveWithTag archives by adding a tag (the default, with tag
// "gymflow-archived").
func ArchiveWithTag(tag string) DeletePolicy { return DeletePolicy{op: "tag", tag: tag} }

// ArchiveWithDND archives by switching the contact's DND on.
func ArchiveWithDND() DeletePolicy { return DeletePolicy{op: "dnd"} }

// ArchiveWithField archives by writing a custom field, e.g.
// contacts.FieldByKey("member_status", "archived").
func ArchiveWithField(f contacts.CustomFieldInput) DeletePolicy {
	return DeletePolicy{op: "field", field: f}
}

// DeleteContacts deletes the contact (with its tasks and notes) — only on
// this explicit policy.
func DeleteContacts() DeletePolicy { return DeletePolicy{op: "delete"} }

// DefaultArchiveTag is the tag of the default delete policy.
const DefaultArchiveTag = "gymflow-archived"

// Metrics receives the engine's counters and gauges, so they can be wired
// to Prometheus or OpenTelemetry without this package depending on either.
// Names are prefixed "contactsync_".
type Metrics interface {
	Counter(name string, delta int64, labels map[string]string)
	Gauge(name string, value float64, labels map[string]string)
}

// Progress is reported after every change the engine finishes.
type Progress struct {
	Processed int
	Failed    int
	APICalls  int64
}

// Engine syncs GymFlow members into one location of the Contacts API. Run
// one Apply or SyncMembers at a time per state store: the engine
// serializes the changes of a member within a run, not across processes.
type Engine struct {
	client      *contacts.Client
	store       StateStore
	mapping     *Mapping
	policies    Policies
	own         Ownership
	deletion    DeletePolicy
	welcome     func(lead Member, now time.Time) Task
	concurrency int
	budget      int
	reserve     int
	refresh     bool
	dryRun      bool
	grace       time.Duration
	attempts    int
	rounds      int
	roundPause  time.Duration
	logger      *slog.Logger
	metrics     Metrics
	progress    func(Progress)
	now         func() time.Time

	leaseTTL  time.Duration
	leaseWait time.Duration

	budgetMu sync.Mutex
	day      string
	used     int
	// With a BudgetStore, the calls of the day are counted in the store
	// for every process: the engine draws them in chunks into allow (the
	// calls it may still make) and gives back what it did not use.
	shared BudgetStore
	allow  int
	chunk  int
}

// Option configures an Engine.
type Option func(*Engine)

// WithPolicies sets the per-field merge policies (default GymFlowWins).
// The engine does not read a contact before each update (that would
// double the calls): it knows the CRM's values when it links a member to
// an existing contact (it reads it then, if FillIfEmpty or NewestWins is
// in use) and through an Inbound sharing the store, which records CRM
// edits as the values last written. Otherwise a contact's values and time
// are unknown, and the policies decide as documented for that case.
func WithPolicies(p Policies) Option { return func(e *Engine) { e.policies = p } }

// WithTagOwnership sets which contact tags the sync owns and may remove
// (default: the tags it wrote). With a Prefix, linking a member to an
// existing contact reads its tags and removes prefixed tags GymFlow does
// not have; afterwards the engine removes the prefixed tags it knows of
// (those it wrote). A prefixed tag added in the CRM later reaches GymFlow
// through Inbound as a TagsAdded change, for GymFlow to keep or drop.
func WithTagOwnership(o Ownership) Option { return func(e *Engine) { e.own = o } }

// WithDeletePolicy sets what a GymFlow delete does (default
// ArchiveWithTag(DefaultArchiveTag)).
func WithDeletePolicy(p DeletePolicy) Option { return func(e *Engine) { e.deletion = p } }

// WithWelcomeTask sets the task created for a new lead (default: "Welcome
// <first name>", due a day after the signup).
func WithWelcomeTask(f func(lead Member, now time.Time) Task) Option {
	return func(e *Engine) { e.welcome = f }
}

// DefaultConcurrency is how many members an engine processes at once
// unless WithConcurrency says otherwise. The API's limit (100 requests per
// 10 s) needs only a few calls in flight; the rest hide the state store's
// latency: a SQL store commits the intents of the members in flight
// together, one disk sync for all of them, so it keeps up with the memory
// store only with enough members in flight (see BENCHMARKS.md). The
// client's limiter paces the calls whatever the number.
const DefaultConcurrency = 16

// WithConcurrency sets how many members are processed at once (default
// DefaultConcurrency). Changes of one member are always processed in
// order by one worker; a member's tasks and notes are written together.
func WithConcurrency(n int) Option { return func(e *Engine) { e.concurrency = max(n, 1) } }

// WithDailyBudget caps the API calls the engine makes per UTC day for the
// location (0: no cap of its own), and keeps reserve calls of the
// server-reported daily remaining for other integrations (default 1,000).
// The day's count survives restarts: a new process starts from the calls
// of today's runs in the store's run log.
func WithDailyBudget(calls, reserve int) Option {
	return func(e *Engine) { e.budget, e.reserve = max(calls, 0), max(reserve, 0) }
}

// WithRefreshRelated makes every member upsert re-read the contact's tasks
// and notes from the API (two calls) and reconcile them with GymFlow's:
// records deleted in the CRM are recreated, records edited in the CRM are
// rewritten to GymFlow's version.
func WithRefreshRelated(on bool) Option { return func(e *Engine) { e.refresh = on } }

// WithResolveGrace makes the engine wait, before it looks up a create left
// pending by an earlier run that crashed (or lost its connection), until
// the create is at least d old (default contacts.DefaultTimeout, the SDK's
// per-attempt timeout); a create the API answered is looked up at once.
// The API cannot deduplicate a repeated create of a task or note (or of a
// contact where duplicates are allowed), and a request sent just before a
// crash may still reach the API after a quick restart. Set it to your HTTP
// client's timeout if you changed that; 0 only where nothing can still be
// in flight (a test that waited for its server).
func WithResolveGrace(d time.Duration) Option { return func(e *Engine) { e.grace = max(d, 0) } }

// WithCreateAttempts sets how many times one run sends the create of a
// contact, task or note that failed without a clear answer (a 5xx, a lost
// connection, a 422 from a create that may have happened), looking the
// record up before each new attempt so that a create that did happen is
// linked, never repeated (default 3, at least 1). Tag adds, idempotent,
// are repeated as many times. A 429 is not: the SDK has waited and
// retried it already, and the retry rounds come back to it after a pause. A create still failing after that waits for
// the run's retry rounds (WithRetryRounds), then for the next run. Each
// attempt after the first costs a look-up and a create; raise it where
// the network or the API is known to fail often.
func WithCreateAttempts(n int) Option { return func(e *Engine) { e.attempts = max(n, 1) } }

// WithRetryRounds sets how many times a run goes back, after its pass over
// the changes (once the sequence given to Apply ends), to the changes that
// failed for a passing reason (a 5xx, a lost connection, a 429 the SDK's
// retries did not outlast), waiting pause times the round before each
// (default 2 rounds, 2 s). The changes of a member are applied in order:
// once one of them fails that way, the member's later changes wait with
// it. Up to 10,000 members and 100,000 changes wait; past that, a failure
// is reported at once, and a change that would overtake its member's
// waiting one is failed instead. A change still failing after the last
// round, or when the run stops, is a failure of the run, left to the
// next. 0 rounds: failures are reported at once.
func WithRetryRounds(n int, pause time.Duration) Option {
	return func(e *Engine) { e.rounds, e.roundPause = max(n, 0), max(pause, 0) }
}

// WithDryRun makes runs plan their writes without sending any
// (Report.Planned lists them) and without changing the store.
func WithDryRun(on bool) Option { return func(e *Engine) { e.dryRun = on } }

// WithLeaseTTL sets how long the lease of a run lasts unless renewed
// (default DefaultLeaseTTL); a run renews it every third of that. When the
// store is a LeaseStore (the stores of memstore and sqlstore are), every
// run holds the location's LeaseEngine lease, so only one engine runs for
// a location at a time whatever the number of processes, and its intent
// writes are fenced: a run whose lease passed to another (it could not
// renew it in time) stops with ErrLeaseLost before it writes anything more.
func WithLeaseTTL(d time.Duration) Option {
	return func(e *Engine) {
		if d > 0 {
			e.leaseTTL = d
		}
	}
}

// WithLeaseWait makes a run whose location's lease another runner holds
// wait for it up to d, instead of failing at once with an error matching
// ErrLeaseHeld (the default).
func WithLeaseWait(d time.Duration) Option { return func(e *Engine) { e.leaseWait = max(d, 0) } }

// WithLogger sends structured records per run and per failure to l.
func WithLogger(l *slog.Logger) Option {
	return func(e *Engine) {
		if l != nil {
			e.logger = l
		}
	}
}

// WithMetrics sends the engine's counters and gauges to m.
func WithMetrics(m Metrics) Option { return func(e *Engine) { e.metrics = m } }

// WithProgress calls f after every change processed (from worker
// goroutines; keep it quick).
func WithProgress(f func(Progress)) Option { return func(e *Engine) { e.progress = f } }

// WithClock sets the engine's clock (default time.Now).
func WithClock(now func() time.Time) Option { return func(e *Engine) { e.now = now } }

// NewEngine returns an engine writing through client (whose rate limiter
// and retries it relies on) into client's default location.
func NewEngine(client *contacts.Client, store StateStore, mapping *Mapping, opts ...Option) (*Engine, error) {
	if client == nil || store == nil || mapping == nil {
		return nil, errors.New("contactsync: NewEngine needs a client, a state store and a mapping")
	}
	if client.LocationID() == "" {
		return nil, errors.New("contactsync: the client needs a default location (contacts.WithLocationID)")
	}
	if err := sameLocation(client, store); err != nil {
		return nil, err
	}
	e := &Engine{client: client, store: store, mapping: mapping, deletion: ArchiveWithTag(DefaultArchiveTag),
		welcome: defaultWelcome, concurrency: DefaultConcurrency, grace: contacts.DefaultTimeout, attempts: 3, rounds: 2, roundPause: 2 * time.Second, reserve: 1000, logger: slog.New(slog.DiscardHandler), now: time.Now,
		leaseTTL: DefaultLeaseTTL}
	e.shared, _ = store.(BudgetStore)
	e.own = Ownership{Written: true}
	for _, o := range opts {
		o(e)
	}
	if e.deletion.op == "tag" && strings.TrimSpace(e.deletion.tag) == "" {
		return nil, errors.New("contactsync: the archive tag is empty")
	}
	return e, nil
}

func defaultWelcome(lead Member, now time.Time) Task {
	name, _ := lead.Fields["first_name"].(string)
	title := "Welcome"
	if name = strings.TrimSpace(name); name != "" {
		title += " " + name
	}
	return Task{Title: title, Body: "Say hello and book the first visit.", Due: now.Add(24 * time.Hour)}
}

// sameLocation refuses a store of another location than the client's (a
// store that says which location it holds).
func sameLocation(client *contacts.Client, stores ...any) error {
	for _, st := range stores {
		if l, ok := st.(interface{ LocationID() string }); ok && l.LocationID() != client.LocationID() {
			return fmt.Errorf("contactsync: the store holds location %q, the client writes to %q", l.LocationID(), client.LocationID())
		}
	}
	return nil
}

// Client returns the client the engine writes through.
func (e *Engine) Client() *contacts.Client { return e.client }

// SyncMembers syncs every member of the sequence (a batch run): new
// members are created, changed ones updated, unchanged ones cost nothing.
// The sequence is consumed once, with bounded memory.
func (e *Engine) SyncMembers(ctx context.Context, members iter.Seq2[Member, error]) (*Report, error) {
	return e.Apply(ctx, func(yield func(Change, error) bool) {
		for m, err := range members {
			if !yield(MemberUpserted{Member: m}, err) {
				return
			}
		}
	})
}

// Apply processes incremental GymFlow changes. Changes of one member are
// processed in order; members in parallel. Writes pending from a crashed
// run are resolved first. A run stops early on a cancelled context, an
// exhausted budget, a store failure or an authorization error, returning
// the report so far and the error; a bad record or a refused write is only
// a failure in the report.
func (e *Engine) Apply(ctx context.Context, changes iter.Seq2[Change, error]) (*Report, error) {
	r := &run{e: e, report: &Report{RunID: newRunID(e.now()), Started: e.now(), DryRun: e.dryRun}}
	e.logger.Info("contactsync: run started", "run", r.report.RunID, "dryRun", e.dryRun)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r.cancel = cancel
	r.store, r.ctx = e.store, ctx

	// The location's lease, for every run that writes; a dry run writes
	// nothing and needs none.
	if ls, ok := e.store.(LeaseStore); ok && !e.dryRun {
		h := &leaseHold{store: ls, name: LeaseEngine, owner: newOwner("engine/" + r.report.RunID), ttl: e.leaseTTL, wait: e.leaseWait, logger: e.logger}
		lctx, lease, release, err := h.hold(ctx)
		if err != nil {
			err = fmt.Errorf("contactsync: taking the location's lease: %w", err)
			r.finish(err)
			return r.report, err
		}
		defer release()
		ctx, r.ctx, r.store, r.leased = lctx, lctx, ls.Fenced(lease), true
	}
	defer e.giveBack()

	if err := e.loadSpent(ctx); err != nil {
		cancel(err)
	} else if !e.dryRun {
		if err := r.resolvePending(ctx); err != nil {
			cancel(err)
		}
	}

	r.retrying = e.rounds > 0 && !e.dryRun
	inputErr := r.pass(ctx, func(yield func(item, error) bool) {
		for ch, err := range changes {
			if !yield(item{ch: ch}, err) {
				return
			}
		}
	})
	if inputErr == nil {
		r.retryRounds(ctx)
	}
	r.abandonDeferred()

	err := inputErr
	if err == nil && ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	if err == nil && r.halting.Load() {
		r.mu.Lock()
		err = r.halted
		r.mu.Unlock()
	}
	// Writes the store made behind (a fenced view's Commits) must have
	// landed for the run to succeed: the refusal of the last one has no
	// later call to report it.
	if s, ok := r.store.(interface{ Settle(context.Context) error }); ok {
		sctx, cancelSettle := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		if serr := s.Settle(sctx); serr != nil && err == nil {
			err = storeErr(serr)
		}
		cancelSettle()
	}
	r.finish(err)
	return r.report, err
}

func shard(id string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(n))
}

// run is the state of one Apply.
type run struct {
	e      *Engine
	cancel context.CancelCauseFunc
	report *Report
	// store is the engine's store, fenced by the run's lease if it has
	// one; ctx is the run's context, for the budget's store.
	store StateStore
	ctx   context.Context
	// known holds, in a run under the location's lease (the only writer
	// of its intents), the keys of the intents that may be in the store:
	// those found when the run began and those it recorded since; a key
	// outside it needs no read. nil without a lease: every lookup reads.
	known *keySet
	// leased reports that the run holds the location's lease.
	leased bool

	// halting is set (and halted holds why) once a spent budget stops
	// the run's new work; see stop.
	halting atomic.Bool
	halted  error

	mu        sync.Mutex // guards report's slices and counters below
	processed int
	settled   map[string]bool // members created or linked this run by resolving an intent
	retrying  bool            // failures for passing reasons wait for a retry round
	waiting   map[string]bool // members with changes set aside
	later     []deferred      // changes set aside, in order
	apiCalls  atomic.Int64
}

// settle notes a member whose pending create this run resolved: it is
// counted as created or linked, and not again as unchanged when the
// member itself comes by.
func (r *run) settle(memberID string) {
	r.mu.Lock()
	if r.settled == nil {
		r.settled = map[string]bool{}
	}
	r.settled[memberID] = true
	r.mu.Unlock()
}

func (r *run) wasSettled(memberID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.settled[memberID]
}

// stop ends the run early with err. A spent daily budget (the engine's
// or the server's) only stops new work: calls already in flight finish
// and are recorded, for they are spent either way, and cutting them off
// would leave their intents to resolve. Anything else cancels the run.
func (r *run) stop(err error) {
	if budgetRefused(err) {
		r.mu.Lock()
		first := r.halted == nil
		if first {
			r.halted = err
		}
		r.mu.Unlock()
		if first {
			r.e.logger.Error("contactsync: run stopping once the calls in flight finish", "run", r.report.RunID, "error", err)
			r.halting.Store(true)
		}
		return
	}
	r.e.logger.Error("contactsync: run stopping", "run", r.report.RunID, "error", err)
	r.cancel(err)
}

// budgetRefused reports a call that a spent daily budget refused: the
// engine's before sending it, or the API's (a 429 it did not process).
func budgetRefused(err error) bool {
	return errors.Is(err, ErrBudgetExhausted) || errors.Is(err, contacts.ErrDailyLimitExceeded)
}

// stopped reports whether the run takes no new work: its context is done
// or a spent budget halted it.
func (r *run) stopped(ctx context.Context) bool { return ctx.Err() != nil || r.halting.Load() }

// fatal reports whether err must stop the run rather than fail one record.
func fatal(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, ErrBudgetExhausted) || errors.Is(err, contacts.ErrUnauthorized) ||
		errors.Is(err, contacts.ErrForbidden) || errors.Is(err, contacts.ErrReadOnly) ||
		errors.Is(err, contacts.ErrDailyLimitExceeded) || errors.Is(err, errStore) || errors.Is(err, ErrBadMapping) ||
		errors.Is(err, ErrLeaseLost)
}

// errStore marks state store failures, which stop a run: without the
// store the engine cannot keep its exactly-once promise.
var errStore = errors.New("contactsync: state store failure")

func storeErr(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", errStore, err)
}

func (r *run) process(ctx context.Context, it item) {
	ch := it.ch
	a := &attempt{prev: it.prev}
	if a.prev == nil {
		a.prev = &deferred{}
	}
	if r.hold(it, nil, a) {
		return // an earlier change of the member waits for a retry round
	}
	ctx = context.WithValue(ctx, attemptKey{}, a)
	var err error
	switch c := ch.(type) {
	case MemberUpserted:
		err = r.upsertMember(ctx, c.Member)
	case TagsChanged:
		err = r.changeTags(ctx, c)
	case TaskUpserted:
		err = r.upsertChild(ctx, c.Member, KindTask, c.Task.ID, taskPayload(c.Task, r.e.now()))
	case NoteUpserted:
		err = r.upsertChild(ctx, c.Member, KindNote, c.Note.ID, notePayload(c.Note))
	case MemberDeleted:
		err = r.deleteMember(ctx, c.Member)
	case LeadSignedUp:
		err = r.leadSignup(ctx, c.Lead)
	default:
		err = fmt.Errorf("contactsync: unknown change %T", ch)
	}
	if err != nil {
		switch {
		case fatal(err):
			r.stop(err)
		case r.hold(it, err, a):
			return
		default:
			r.fail(ch.MemberID(), err)
		}
	}
	r.done()
}

// done counts a change as processed and reports progress.
func (r *run) done() {
	r.mu.Lock()
	r.processed++
	r.report.Changes++
	p := Progress{Processed: r.processed, Failed: r.report.Failed, APICalls: r.apiCalls.Load()}
	r.mu.Unlock()
	if r.e.progress != nil {
		r.e.progress(p)
	}
}

// fail records a failed record and goes on.
func (r *run) fail(memberID string, err error) {
	reason := err.Error()
	r.mu.Lock()
	if len(r.report.Failures) < MaxFailures {
		r.report.Failures = append(r.report.Failures, Failure{MemberID: memberID, Reason: reason, BadRecord: errors.Is(err, ErrBadRecord)})
	}
	r.report.Failed++
	r.mu.Unlock()
	r.e.logger.Warn("contactsync: record failed", "run", r.report.RunID, "member", memberID, "error", reason)
	r.e.count("records_failed_total", 1)
}

func (r *run) add(field *int, n int) {
	r.mu.Lock()
	*field += n
	r.mu.Unlock()
}

func (r *run) plan(memberID, op string, body any) {
	r.mu.Lock()
	if len(r.report.Planned) < MaxPlanned {
		r.report.Planned = append(r.report.Planned, PlannedWrite{MemberID: memberID, Op: op, Body: body})
	} else {
		r.report.PlannedOmitted++
	}
	r.mu.Unlock()
}

// call makes one SDK call, counting its HTTP attempts, watching the rate
// limit and spending the budget.
func (r *run) call(f func(opts ...contacts.RequestOption) error) error {
	if err := r.e.spend(r.ctx); err != nil {
		return err
	}
	var meta contacts.Response
	err := f(contacts.WithResponse(&meta))
	n := int64(meta.Attempts)
	var te *contacts.TransportError
	if errors.As(err, &te) {
		n = int64(max(te.Attempts, 1))
	} else if n == 0 && err != nil && !errors.Is(err, contacts.ErrInvalidArgument) {
		n = 1
	}
	r.apiCalls.Add(n)
	r.e.spendMore(int(n) - 1)
	if meta.HasRateLimit {
		r.mu.Lock()
		r.report.RateLimit = meta.RateLimit
		r.mu.Unlock()
		if meta.RateLimit.DailyRemaining >= 0 && meta.RateLimit.DailyRemaining <= r.e.reserve {
			r.e.exhaust()
		}
	}
	return err
}

// loadSpent starts the engine's count of today's calls from the run log
// when it has none for today yet — a new process, or a new day — so a job
// started afresh every hour keeps one budget per day rather than one per
// run. Runs of other engines sharing the store count too. A run killed
// before it finished recorded nothing; the server's daily remaining (the
// reserve) still bounds what it spent.
func (e *Engine) loadSpent(ctx context.Context) error {
	if e.budget <= 0 || e.shared != nil {
		return nil // no budget, or one the store counts
	}
	now := e.now().UTC()
	day := now.Format(time.DateOnly)
	e.budgetMu.Lock()
	known := e.day == day
	e.budgetMu.Unlock()
	if known {
		return nil
	}
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	spent := 0
	for limit := 64; ; limit *= 4 {
		runs, err := e.store.Runs(ctx, limit)
		if err != nil {
			return storeErr(err)
		}
		spent = 0
		older := false
		for _, rec := range runs {
			if rec.Started.Before(midnight) {
				older = true
				continue
			}
			var rep struct {
				APICalls int64 `json:"apiCalls"`
			}
			if json.Unmarshal(rec.Report, &rep) == nil && rep.APICalls > 0 {
				spent += int(rep.APICalls)
			}
		}
		if older || len(runs) < limit {
			break
		}
	}
	e.budgetMu.Lock()
	if e.day != day {
		e.day, e.used = day, spent
	}
	e.budgetMu.Unlock()
	return nil
}

// spend takes one call from the day's budget.
func (e *Engine) spend(ctx context.Context) error {
	e.budgetMu.Lock()
	defer e.budgetMu.Unlock()
	if day := e.now().UTC().Format(time.DateOnly); day != e.day {
		e.giveBackLocked(ctx) // to the day it was drawn for
		e.day, e.used, e.allow, e.chunk = day, 0, 0, 0
	}
	if e.used < 0 {
		return ErrBudgetExhausted
	}
	if e.budget > 0 && e.shared != nil {
		if e.allow <= 0 {
			if err := e.draw(ctx); err != nil {
				return err
			}
		}
		e.allow--
		e.used++
		return nil
	}
	if e.budget > 0 && e.used >= e.budget {
		return ErrBudgetExhausted
	}
	e.used++
	return nil
}

// draw takes the next chunk of calls from the store's count of the day:
// chunks double from 8 up to 256, so a busy engine asks the store rarely
// and a quiet one holds back little of a budget other processes share;
// a deficit (retries spent past the allowance) is paid first.
func (e *Engine) draw(ctx context.Context) error {
	e.chunk = min(max(e.chunk*2, 8), 256)
	want := e.chunk - e.allow // allow <= 0: the deficit is paid too
	granted, _, err := e.shared.SpendBudget(ctx, e.day, want, e.budget)
	if err != nil {
		return storeErr(fmt.Errorf("drawing from the daily budget: %w", err))
	}
	e.allow += granted
	if e.allow <= 0 {
		return ErrBudgetExhausted
	}
	return nil
}

func (e *Engine) spendMore(n int) {
	if n <= 0 {
		return
	}
	e.budgetMu.Lock()
	if e.used >= 0 { // -1 marks the day exhausted: keep it so
		e.used += n
		e.allow -= n
	}
	e.budgetMu.Unlock()
}

// exhaust marks today's budget spent (the server's reserve was reached),
// for every process sharing the store's count too.
func (e *Engine) exhaust() {
	e.budgetMu.Lock()
	defer e.budgetMu.Unlock()
	e.used, e.allow = -1, 0
	if e.shared != nil && e.budget > 0 && e.day != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, _, err := e.shared.SpendBudget(ctx, e.day, e.budget, e.budget); err != nil {
			e.logger.Warn("contactsync: could not mark the shared daily budget spent", "error", err)
		}
	}
}

// giveBack returns the calls drawn from the store and not made.
func (e *Engine) giveBack() {
	e.budgetMu.Lock()
	defer e.budgetMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e.giveBackLocked(ctx)
}

func (e *Engine) giveBackLocked(ctx context.Context) {
	// allow > 0: calls drawn and not made go back; allow < 0: calls
	// retried past the allowance (a deficit) are paid.
	if e.shared == nil || e.budget <= 0 || e.allow == 0 || e.day == "" {
		return
	}
	if _, _, err := e.shared.SpendBudget(ctx, e.day, -e.allow, e.budget); err != nil {
		e.logger.Warn("contactsync: could not give unused calls back to the daily budget", "error", err)
		return
	}
	e.allow, e.chunk = 0, 0
}

func (e *Engine) count(name string, delta int64) {
	if e.metrics != nil && delta != 0 {
		e.metrics.Counter("contactsync_"+name, delta, nil)
	}
}

// --- members ---------------------------------------------------------------

// memberIntent is the data of a member create intent: enough to find the
// contact again, or to create it if the write never happened.
type memberIntent struct {
	Run      string                 `json:"run,omitempty"`      // the run that sent the create
	Answered bool                   `json:"answered,omitempty"` // the API answered it (nothing in flight)
	Email    string                 `json:"email,omitempty"`
	Phone    string                 `json:"phone,omitempty"`
	Body     contacts.ContactCreate `json:"body"`
	Hash     string                 `json:"hash"`
	Snapshot json.RawMessage        `json:"snapshot"`
	Tags     []string               `json:"tags,omitempty"`
	// UpdatedAt is the member's UpdatedAt, for NewestWins when the
	// contact turns out to exist already.
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

func memberKey(op, id string) string { return op + "/member/" + id }

func (r *run) upsertMember(ctx context.Context, m Member) error {
	if m.ID == "" {
		return fmt.Errorf("%w: member without an ID", ErrBadRecord)
	}
	mapped, err := r.e.mapping.Apply(m)
	if err != nil {
		return err
	}
	a := attemptOf(ctx)
	if a == nil || !a.prev.counted {
		r.add(&r.report.Members, 1)
	}
	if a != nil {
		a.counted = true
	}
	link, err := r.store.Link(ctx, KindMember, m.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		link, err = r.createContact(ctx, m, mapped)
	case err != nil:
		return storeErr(err)
	default:
		link, err = r.updateContact(ctx, m, mapped, link)
	}
	if err != nil {
		return err
	}
	if m.Tasks != nil || m.Notes != nil || r.e.refresh {
		return r.syncChildren(ctx, m, link)
	}
	return nil
}

func (r *run) createContact(ctx context.Context, m Member, mapped Mapped) (Link, error) {
	body := mapped.CreateBody()
	snapshot, err := mapped.Marshal()
	if err != nil {
		return Link{}, err
	}
	if r.e.dryRun {
		r.plan(m.ID, "create contact", body)
		r.outcome(ctx, &r.report.Created)
		r.add(&r.report.TagsAdded, len(mapped.Tags))
		return Link{Kind: KindMember, LocalID: m.ID}, nil
	}
	key := memberKey("create", m.ID)
	if done, err := r.resolveEarlier(ctx, key); err != nil {
		return Link{}, err
	} else if done {
		link, err := r.store.Link(ctx, KindMember, m.ID)
		if err != nil {
			return Link{}, storeErr(err)
		}
		return r.updateContact(ctx, m, mapped, link)
	}
	in := memberIntent{Run: r.report.RunID, Email: mapped.Fields["email"], Phone: mapped.Fields["phone"], Body: body, Hash: mapped.Hash(), Snapshot: snapshot, Tags: mapped.Tags, UpdatedAt: m.UpdatedAt}
	if err := r.putIntent(ctx, key, KindMember, m.ID, "create", in); err != nil {
		return Link{}, err
	}
	return r.create(ctx, m.ID, key, in, r.e.attempts)
}

// create sends a contact create recorded in intent key and links the
// result. attempts bounds the creates sent, this one included, while
// look-ups show that the earlier ones did not create it.
func (r *run) create(ctx context.Context, memberID, key string, in memberIntent, attempts int) (Link, error) {
	var c *contacts.Contact
	err := r.call(func(o ...contacts.RequestOption) (err error) {
		c, err = r.e.client.Contacts.Create(ctx, in.Body, o...)
		return err
	})
	link := Link{Kind: KindMember, LocalID: memberID, Hash: in.Hash, State: in.Snapshot, Tags: in.Tags, UpdatedAt: r.e.now()}
	var apiErr *contacts.APIError
	switch {
	case err == nil:
		link.RemoteID = c.ID
		if err := r.store.Commit(ctx, link, key); err != nil {
			return Link{}, storeErr(err)
		}
		r.outcome(ctx, &r.report.Created)
		r.add(&r.report.TagsAdded, len(in.Tags))
		r.e.count("contacts_created_total", 1)
		return link, nil
	case errors.As(err, &apiErr) && apiErr.DuplicateContactID != "":
		// The location refuses duplicates: link the existing contact and
		// bring it up to date.
		link, lerr := r.linkExisting(ctx, memberID, key, in, apiErr.DuplicateContactID)
		if errors.Is(lerr, errLinkedElsewhere) {
			// Nothing was created: nothing is pending.
			if derr := r.store.DeleteIntent(ctx, key); derr != nil {
				return Link{}, storeErr(derr)
			}
		}
		return link, lerr
	case budgetRefused(err):
		// Nothing was created: the budget refused the call before it was
		// sent, or the API refused it (429).
		if derr := r.store.DeleteIntent(ctx, key); derr != nil {
			return Link{}, storeErr(derr)
		}
		return Link{}, err
	case fatal(err) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded):
		return Link{}, err
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return Link{}, err // the intent stays: the next run resolves it
	case errors.Is(err, contacts.ErrRateLimited):
		// A 429 means the API did not process the create, and the SDK
		// already waited and retried: nothing is pending, and sending it
		// again at once would only add load (a retry round, after a
		// pause, will).
		if derr := r.store.DeleteIntent(ctx, key); derr != nil {
			return Link{}, storeErr(derr)
		}
		return Link{}, fmt.Errorf("creating the contact: %w", err)
	}
	// A 422, a 5xx or a lost connection: the API may have created the
	// contact anyway (it is known to answer 422 and create). Look it up
	// before trying again.
	mark := func() any { in.Answered = true; return in }
	found, lerr := r.lookup(ctx, in)
	if lerr != nil {
		return Link{}, errors.Join(err, lerr, r.answered(ctx, key, KindMember, memberID, err, mark))
	}
	if found != "" {
		return r.linkExisting(ctx, memberID, key, in, found)
	}
	if errors.Is(err, contacts.ErrValidation) {
		// Refused, and not created (the look-up found nothing): nothing
		// is pending.
		if derr := r.store.DeleteIntent(ctx, key); derr != nil {
			return Link{}, storeErr(derr)
		}
		return Link{}, fmt.Errorf("creating the contact: %w", err)
	}
	if attempts <= 1 {
		return Link{}, errors.Join(fmt.Errorf("creating the contact: %w", err), r.answered(ctx, key, KindMember, memberID, err, mark))
	}
	return r.create(ctx, memberID, key, in, attempts-1)
}

// resolveEarlier resolves the create intent key left by an earlier attempt
// (a crashed run, or a create that failed and whose lookup failed too)
// before the record is created again: that create may have happened, and
// sending another would duplicate the record. done reports that there was
// such an intent and the record is now linked.
func (r *run) resolveEarlier(ctx context.Context, key string) (done bool, err error) {
	if !r.known.has(key) {
		return false, nil
	}
	in, err := r.store.Intent(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, storeErr(err)
	}
	if err := r.resolve(ctx, in); err != nil {
		return false, fmt.Errorf("resolving a pending create: %w", err)
	}
	if run, _ := sentBy(in); run != r.report.RunID { // not a retry of this run's own
		r.add(&r.report.Resolved, 1)
	}
	return true, nil
}

// errLinkedElsewhere: the contact a member would be linked to is already
// another member's.
var errLinkedElsewhere = errors.New("contactsync: the matching contact is linked to another member")

// lookup finds the contact a create intent may have made.
func (r *run) lookup(ctx context.Context, in memberIntent) (string, error) {
	if in.Email == "" && in.Phone == "" {
		return "", nil
	}
	var dup *contacts.DuplicateResult
	err := r.call(func(o ...contacts.RequestOption) (err error) {
		dup, err = r.e.client.Contacts.FindDuplicate(ctx, contacts.DuplicateQuery{Email: in.Email, Phone: in.Phone}, o...)
		return err
	})
	if err != nil || dup.Contact == nil {
		return "", err
	}
	return dup.Contact.ID, nil
}

// linkExisting links a member to a contact that already exists and writes
// GymFlow's values and tags onto it. When a policy depends on the
// contact's values (FillIfEmpty, NewestWins) or tags are owned by a
// prefix, it first reads the contact (one call): the CRM's values then
// count under the policies, and prefixed tags GymFlow does not have are
// removed.
func (r *run) linkExisting(ctx context.Context, memberID, key string, in memberIntent, contactID string) (Link, error) {
	// A contact of another member (a shared e-mail or phone) is not
	// linked: two members would overwrite each other's values and tags on
	// it, and the inbound side would report one's values as CRM edits of
	// the other.
	switch other, err := r.store.LinkByRemote(ctx, KindMember, contactID); {
	case err == nil && other.LocalID != memberID:
		return Link{}, fmt.Errorf("%w: contact %s is member %s's (shared e-mail or phone?)", errLinkedElsewhere, contactID, other.LocalID)
	case err != nil && !errors.Is(err, ErrNotFound):
		return Link{}, storeErr(err)
	}
	last := Link{Kind: KindMember, LocalID: memberID, RemoteID: contactID}
	mapped, err := UnmarshalMapped(in.Snapshot)
	if err != nil {
		return Link{}, err
	}
	var cur *Current
	var curTags []string // nil: unknown
	if r.e.own.Prefix != "" || r.e.policies.uses(FillIfEmpty, NewestWins) {
		var c *contacts.Contact
		err := r.call(func(o ...contacts.RequestOption) (err error) {
			c, err = r.e.client.Contacts.Get(ctx, contactID, o...)
			return err
		})
		if err != nil {
			return Link{}, fmt.Errorf("reading the existing contact %s: %w", contactID, err)
		}
		cur, curTags = CurrentOf(c), append([]string{}, c.Tags...)
	}
	upd, need := PlanUpdate(mapped, Mapped{}, cur, in.UpdatedAt, r.e.policies)
	if need {
		err := r.call(func(o ...contacts.RequestOption) error {
			_, err := r.e.client.Contacts.Update(ctx, contactID, upd, o...)
			return err
		})
		if err != nil {
			return Link{}, fmt.Errorf("updating the existing contact %s: %w", contactID, err)
		}
	}
	add, remove := DiffTags(in.Tags, nil, curTags, r.e.own)
	if len(add) > 0 {
		if err := r.addTags(ctx, contactID, add); err != nil {
			return Link{}, err
		}
		r.add(&r.report.TagsAdded, len(add))
	}
	if len(remove) > 0 {
		if err := r.removeTags(ctx, contactID, remove); err != nil {
			return Link{}, err
		}
		r.add(&r.report.TagsRemoved, len(remove))
	}
	last.Hash, last.State, last.Tags, last.UpdatedAt = in.Hash, in.Snapshot, in.Tags, r.e.now()
	if err := r.store.Commit(ctx, last, key); err != nil {
		return Link{}, storeErr(err)
	}
	r.outcome(ctx, &r.report.Linked)
	r.e.count("contacts_linked_total", 1)
	return last, nil
}

// addTags adds tags to a contact. The SDK does not repeat a POST that
// failed without a clear answer; adding tags is idempotent, so the engine
// does, up to its create attempts.
func (r *run) addTags(ctx context.Context, contactID string, tags []string) error {
	var err error
	for range r.e.attempts {
		err = r.call(func(o ...contacts.RequestOption) error {
			_, err := r.e.client.Tags.Add(ctx, contactID, tags, o...)
			return err
		})
		if err == nil || !passing(err) || fatal(err) || errors.Is(err, contacts.ErrRateLimited) {
			return err
		}
	}
	return err
}

func (r *run) removeTags(ctx context.Context, contactID string, tags []string) error {
	return r.call(func(o ...contacts.RequestOption) error {
		_, err := r.e.client.Tags.Remove(ctx, contactID, tags, o...)
		return err
	})
}

func (r *run) updateContact(ctx context.Context, m Member, mapped Mapped, link Link) (Link, error) {
	hash := mapped.Hash()
	var upd contacts.ContactUpdate
	need := false
	var snapshot []byte
	if hash != link.Hash {
		last, err := UnmarshalMapped(link.State)
		if err != nil {
			last = Mapped{} // unknown: write everything
		}
		upd, need = PlanUpdate(mapped, last, nil, m.UpdatedAt, r.e.policies)
		if snapshot, err = mapped.Marshal(); err != nil {
			return Link{}, err
		}
	}
	add, remove := DiffTags(mapped.Tags, link.Tags, nil, r.e.own)
	if !link.Archived && !need && len(add) == 0 && len(remove) == 0 {
		if hash != link.Hash && !r.e.dryRun {
			// Mapped values changed, but the policies keep the CRM's: remember.
			link.Hash, link.State = hash, snapshot
			if err := r.store.PutLink(ctx, link); err != nil {
				return Link{}, storeErr(err)
			}
		}
		// Retried, the member's write may have been committed and counted
		// by the attempt that then failed on something else (a task).
		if a := attemptOf(ctx); !r.wasSettled(m.ID) && (a == nil || !a.prev.outcome) {
			r.outcome(ctx, &r.report.Unchanged)
		}
		return link, nil
	}

	key := memberKey("update", m.ID)
	if !r.e.dryRun {
		if err := r.putIntent(ctx, key, KindMember, m.ID, "update", tagsIntentOf(add)); err != nil {
			return Link{}, err
		}
	}
	if link.Archived {
		// The member is back: lift the archive first (which may drop the
		// archive tag from the tags the link owns: diff again).
		if err := r.unarchive(ctx, &link); err != nil {
			return Link{}, err
		}
		add, remove = DiffTags(mapped.Tags, link.Tags, nil, r.e.own)
	}
	if need {
		if r.e.dryRun {
			r.plan(m.ID, "update contact", upd)
		} else {
			err := r.call(func(o ...contacts.RequestOption) error {
				_, err := r.e.client.Contacts.Update(ctx, link.RemoteID, upd, o...)
				return err
			})
			if errors.Is(err, contacts.ErrNotFound) {
				return r.recreate(ctx, m, mapped, link, key)
			}
			if err != nil {
				return Link{}, fmt.Errorf("updating the contact: %w", err)
			}
		}
	}
	if snapshot != nil {
		link.Hash, link.State = hash, snapshot
	}
	if len(add) > 0 || len(remove) > 0 {
		if err := r.writeTags(ctx, m.ID, &link, add, remove); errors.Is(err, contacts.ErrNotFound) && !r.e.dryRun {
			return r.recreate(ctx, m, mapped, link, key)
		} else if err != nil {
			return Link{}, err
		}
	}
	r.outcome(ctx, &r.report.Updated)
	r.e.count("contacts_updated_total", 1)
	if r.e.dryRun {
		return link, nil
	}
	link.UpdatedAt = r.e.now()
	if err := r.store.Commit(ctx, link, key); err != nil {
		return Link{}, storeErr(err)
	}
	return link, nil
}

// tagsIntent is the data of an update or tags intent: the tags it adds.
// Should the link not be committed after the add call (a crash, or a
// failed remove call), the next run claims those of them that are on the
// contact, so that the sync still owns — and may remove — the tags it
// wrote.
type tagsIntent struct {
	Add []string `json:"add"`
}

// tagsIntentOf returns the intent data for tags to add (nil for none).
func tagsIntentOf(add []string) any {
	if len(add) == 0 {
		return nil
	}
	return tagsIntent{Add: add}
}

// resolveTagAdds resolves an update or tags intent that recorded tags to
// add: the tags of them found on the contact (one read) become the link's.
func (r *run) resolveTagAdds(ctx context.Context, in Intent) error {
	var ti tagsIntent
	if err := json.Unmarshal(in.Data, &ti); err != nil || len(ti.Add) == 0 {
		return storeErr(r.store.DeleteIntent(ctx, in.Key))
	}
	link, err := r.store.Link(ctx, KindMember, in.LocalID)
	if errors.Is(err, ErrNotFound) {
		return storeErr(r.store.DeleteIntent(ctx, in.Key))
	}
	if err != nil {
		return storeErr(err)
	}
	var c *contacts.Contact
	err = r.call(func(o ...contacts.RequestOption) (err error) {
		c, err = r.e.client.Contacts.Get(ctx, link.RemoteID, o...)
		return err
	})
	if errors.Is(err, contacts.ErrNotFound) {
		return storeErr(r.store.DeleteIntent(ctx, in.Key))
	}
	if err != nil {
		return fmt.Errorf("reading contact %s: %w", link.RemoteID, err)
	}
	have := tagSet(c.Tags)
	var added []string
	for _, t := range ti.Add {
		if have[t] {
			added = append(added, t)
		}
	}
	link.Tags = applyTagDiff(link.Tags, added, nil)
	return storeErr(r.store.Commit(ctx, link, in.Key))
}

// recreate handles a contact deleted in the CRM while GymFlow still has
// the member: the link goes and the contact is created again.
func (r *run) recreate(ctx context.Context, m Member, mapped Mapped, link Link, key string) (Link, error) {
	r.e.logger.Warn("contactsync: contact deleted in the CRM, creating it again", "member", m.ID, "contact", link.RemoteID)
	if err := r.store.DeleteLink(ctx, KindMember, m.ID); err != nil {
		return Link{}, storeErr(err)
	}
	if err := r.store.DeleteIntent(ctx, key); err != nil {
		return Link{}, storeErr(err)
	}
	return r.createContact(ctx, m, mapped)
}

// writeTags adds and removes tags (one call each) and updates the tags
// the link owns.
func (r *run) writeTags(ctx context.Context, memberID string, link *Link, add, remove []string) error {
	if r.e.dryRun {
		if len(add) > 0 {
			r.plan(memberID, "add tags", add)
		}
		if len(remove) > 0 {
			r.plan(memberID, "remove tags", remove)
		}
	} else {
		if len(add) > 0 {
			if err := r.addTags(ctx, link.RemoteID, add); err != nil {
				return fmt.Errorf("adding tags: %w", err)
			}
		}
		if len(remove) > 0 {
			if err := r.removeTags(ctx, link.RemoteID, remove); err != nil && !errors.Is(err, contacts.ErrNotFound) {
				return fmt.Errorf("removing tags: %w", err)
			}
		}
	}
	r.add(&r.report.TagsAdded, len(add))
	r.add(&r.report.TagsRemoved, len(remove))
	link.Tags = applyTagDiff(link.Tags, add, remove)
	return nil
}

func applyTagDiff(written, add, remove []string) []string {
	out := make([]string, 0, len(written)+len(add))
	drop := map[string]bool{}
	for _, t := range remove {
		drop[t] = true
	}
	seen := map[string]bool{}
	for _, t := range append(append([]string(nil), written...), add...) {
		if !drop[t] && !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// changeTags applies a TagsChanged event: one add and/or one remove call.
func (r *run) changeTags(ctx context.Context, c TagsChanged) error {
	link, err := r.store.Link(ctx, KindMember, c.Member)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("tags changed for member %s, which is not synced yet", c.Member)
	}
	if err != nil {
		return storeErr(err)
	}
	desired := applyTagDiff(link.Tags, cleanTags(c.Added), cleanTags(c.Removed))
	add, remove := DiffTags(desired, link.Tags, nil, r.e.own)
	if len(add) == 0 && len(remove) == 0 {
		return nil
	}
	if !r.e.dryRun {
		if err := r.putIntent(ctx, memberKey("tags", c.Member), KindMember, c.Member, "tags", tagsIntentOf(add)); err != nil {
			return err
		}
	}
	if err := r.writeTags(ctx, c.Member, &link, add, remove); err != nil {
		return err
	}
	if r.e.dryRun {
		return nil
	}
	link.UpdatedAt = r.e.now()
	return storeErr(r.store.Commit(ctx, link, memberKey("tags", c.Member)))
}

func cleanTags(in []string) []string {
	var out []string
	for _, t := range in {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

// deleteMember archives (or deletes) the contact of a deleted member.
func (r *run) deleteMember(ctx context.Context, memberID string) error {
	link, err := r.store.Link(ctx, KindMember, memberID)
	if errors.Is(err, ErrNotFound) {
		return nil // never synced: nothing of ours to touch
	}
	if err != nil {
		return storeErr(err)
	}
	if link.Archived {
		return nil
	}
	p := r.e.deletion
	if r.e.dryRun {
		r.plan(memberID, "archive ("+p.op+")", link.RemoteID)
		return nil
	}
	key := memberKey("delete", memberID)
	if err := r.putIntent(ctx, key, KindMember, memberID, p.op, nil); err != nil {
		return err
	}
	switch p.op {
	case "delete":
		err := r.call(func(o ...contacts.RequestOption) error { return r.e.client.Contacts.Delete(ctx, link.RemoteID, o...) })
		if err != nil && !errors.Is(err, contacts.ErrNotFound) {
			return fmt.Errorf("deleting the contact: %w", err)
		}
		for _, kind := range []Kind{KindTask, KindNote} {
			children, err := r.store.MemberLinks(ctx, kind, memberID)
			if err != nil {
				return storeErr(err)
			}
			for _, c := range children {
				if err := r.store.DeleteLink(ctx, kind, c.LocalID); err != nil {
					return storeErr(err)
				}
			}
		}
		if err := r.store.DeleteLink(ctx, KindMember, memberID); err != nil {
			return storeErr(err)
		}
		r.add(&r.report.Deleted, 1)
		return storeErr(r.store.DeleteIntent(ctx, key))
	case "tag":
		err = r.addTags(ctx, link.RemoteID, []string{p.tag})
		// The sync wrote the tag: it is the sync's own, not a CRM tag (the
		// inbound side tells them apart by Link.Tags).
		link.Tags = applyTagDiff(link.Tags, []string{p.tag}, nil)
	case "dnd":
		err = r.call(func(o ...contacts.RequestOption) error {
			_, err := r.e.client.Contacts.Update(ctx, link.RemoteID, contacts.ContactUpdate{DND: contacts.Ptr(true)}, o...)
			return err
		})
	case "field":
		err = r.call(func(o ...contacts.RequestOption) error {
			_, err := r.e.client.Contacts.Update(ctx, link.RemoteID, contacts.ContactUpdate{CustomFields: []contacts.CustomFieldInput{p.field}}, o...)
			return err
		})
	}
	if err != nil && !errors.Is(err, contacts.ErrNotFound) {
		return fmt.Errorf("archiving the contact: %w", err)
	}
	link.Archived = true
	link.UpdatedAt = r.e.now()
	r.add(&r.report.Archived, 1)
	r.e.count("contacts_archived_total", 1)
	return storeErr(r.store.Commit(ctx, link, key))
}

// unarchive reverses an archive for a member that came back.
func (r *run) unarchive(ctx context.Context, link *Link) error {
	p := r.e.deletion
	if r.e.dryRun {
		r.plan(link.LocalID, "unarchive ("+p.op+")", link.RemoteID)
		link.Archived = false
		if p.op == "tag" {
			link.Tags = applyTagDiff(link.Tags, nil, []string{p.tag})
		}
		return nil
	}
	var err error
	switch p.op {
	case "tag":
		err = r.removeTags(ctx, link.RemoteID, []string{p.tag})
	case "dnd":
		err = r.call(func(o ...contacts.RequestOption) error {
			_, err := r.e.client.Contacts.Update(ctx, link.RemoteID, contacts.ContactUpdate{DND: contacts.Ptr(false)}, o...)
			return err
		})
	case "field":
		f := p.field
		f.Value = ""
		err = r.call(func(o ...contacts.RequestOption) error {
			_, err := r.e.client.Contacts.Update(ctx, link.RemoteID, contacts.ContactUpdate{CustomFields: []contacts.CustomFieldInput{f}}, o...)
			return err
		})
	}
	if err != nil && !errors.Is(err, contacts.ErrNotFound) {
		return fmt.Errorf("lifting the archive: %w", err)
	}
	link.Archived = false
	if p.op == "tag" {
		link.Tags = applyTagDiff(link.Tags, nil, []string{p.tag})
	}
	return nil
}

// leadSignup creates the lead's contact and one welcome task, once per lead.
func (r *run) leadSignup(ctx context.Context, lead Member) error {
	doneKey := "lead/" + lead.ID
	if done, err := r.store.Done(ctx, doneKey); err != nil {
		return storeErr(err)
	} else if done {
		return nil // a redelivery
	}
	if err := r.upsertMember(ctx, lead); err != nil {
		return err
	}
	link, err := r.store.Link(ctx, KindMember, lead.ID)
	if err != nil && !(r.e.dryRun && errors.Is(err, ErrNotFound)) {
		return storeErr(err)
	}
	task := r.e.welcome(lead, r.e.now())
	task.ID = "welcome/" + lead.ID
	// A welcome task is written once and never updated: its default due
	// date depends on when the signup is processed.
	_, err = r.store.Link(ctx, KindTask, task.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		if err := r.upsertChildOf(ctx, lead.ID, link.RemoteID, KindTask, task.ID, taskPayload(task, r.e.now())); err != nil {
			return err
		}
		r.add(&r.report.WelcomeTasks, 1)
	case err != nil:
		return storeErr(err)
	}
	if r.e.dryRun {
		return nil
	}
	_, err = r.store.MarkDone(ctx, doneKey)
	return storeErr(err)
}

// answered records, when a create the run gives up on was answered by the
// API (an HTTP error, not a lost connection), that nothing of it can still
// be in flight: a later run resolves it without waiting out the grace
// period. data returns the intent's data so marked.
func (r *run) answered(ctx context.Context, key string, kind Kind, localID string, err error, data func() any) error {
	// A 502, 503 or 504 may come from a gateway while the API itself
	// still works on the request: only a 500 or 501 proves it answered.
	var apiErr *contacts.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode >= http.StatusBadGateway {
		return nil
	}
	return r.putIntent(ctx, key, kind, localID, "create", data())
}

func (r *run) putIntent(ctx context.Context, key string, kind Kind, localID, op string, data any) error {
	var raw []byte
	if data != nil {
		var err error
		if raw, err = json.Marshal(data); err != nil {
			return err
		}
	}
	r.known.add(key)
	return storeErr(r.store.PutIntent(ctx, Intent{Key: key, Kind: kind, LocalID: localID, Op: op, Data: raw, CreatedAt: r.e.now()}))
}

// keySet is a set of intent keys, safe for concurrent use. A nil keySet
// holds every key.
type keySet struct {
	mu   sync.Mutex
	keys map[string]struct{}
}

func (k *keySet) has(key string) bool {
	if k == nil {
		return true
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	_, ok := k.keys[key]
	return ok
}

func (k *keySet) add(key string) {
	if k == nil {
		return
	}
	k.mu.Lock()
	k.keys[key] = struct{}{}
	k.mu.Unlock()
}

func newRunID(t time.Time) string { return t.UTC().Format("20060102T150405.000000000Z") }
