package contactsync

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"time"

	contacts "github.com/gymflow/contacts-go"
)

// Retry rounds: a change that fails for a passing reason is set aside and
// processed again after the run's pass over its changes (WithRetryRounds),
// the later changes of its member waiting behind it so that a member's
// changes apply in order.

// item is a change on its way to a worker; prev is set when it comes back
// in a retry round.
type item struct {
	ch   Change
	prev *deferred
}

// deferred is a change set aside for a retry round: the error that failed
// it (nil for a change that only waits behind an earlier one of its
// member), and what its attempts so far counted in the report.
type deferred struct {
	ch      Change
	err     error
	counted bool // it counted its member in Report.Members
	outcome bool // it counted the member's outcome (created, linked, updated, unchanged)
}

// attempt is what one processing of a change counted, with what the
// earlier attempts counted (prev, never nil); it travels in the context.
type attempt struct {
	prev             *deferred
	counted, outcome bool
}

type attemptKey struct{}

// attemptOf returns the context's attempt, or nil outside a change (the
// resolution of pending writes at the start of a run).
func attemptOf(ctx context.Context) *attempt {
	a, _ := ctx.Value(attemptKey{}).(*attempt)
	return a
}

// outcome counts a member's outcome in field.
func (r *run) outcome(ctx context.Context, field *int) {
	r.add(field, 1)
	if a := attemptOf(ctx); a != nil {
		a.outcome = true
	}
}

// maxDeferred bounds the members whose changes wait for a retry round;
// maxHeld the changes waiting.
const (
	maxDeferred = 10_000
	maxHeld     = 100_000
)

// errHeldBack fails a change that cannot wait behind its member's failed
// change (the run holds maxHeld changes already) and must not overtake it.
var errHeldBack = errors.New("contactsync: not applied: an earlier change of the member failed")

// passing reports whether err may pass by itself: a 5xx, a lost
// connection or a timeout, a 429.
func passing(err error) bool {
	var te *contacts.TransportError
	return errors.Is(err, contacts.ErrServer) || errors.Is(err, contacts.ErrRateLimited) || errors.As(err, &te)
}

// hold sets a change aside for the next retry round if it failed for a
// passing reason (err), or if an earlier change of its member waits (err
// nil); it reports whether it took the change out of the caller's hands.
// A change that must wait but cannot is failed with errHeldBack.
func (r *run) hold(it item, err error, a *attempt) bool {
	if !r.retrying {
		return false
	}
	id := it.ch.MemberID()
	d := deferred{ch: it.ch, err: err, counted: a.counted || a.prev.counted, outcome: a.outcome || a.prev.outcome}
	if err == nil {
		d.err = a.prev.err // waiting (again): still failed for that, if it did
	}
	r.mu.Lock()
	waiting := r.waiting[id]
	switch {
	case waiting && len(r.later) >= maxHeld:
		r.mu.Unlock()
		r.fail(id, fmt.Errorf("%w (the run holds %d changes already)", errHeldBack, maxHeld))
		r.done()
		return true
	case waiting:
	case err == nil || !passing(err) || len(r.waiting) >= maxDeferred || len(r.later) >= maxHeld:
		r.mu.Unlock()
		return false
	}
	if r.waiting == nil {
		r.waiting = map[string]bool{}
	}
	r.waiting[id] = true
	r.later = append(r.later, d)
	r.mu.Unlock()
	return true
}

// retryRounds runs the retry rounds, each after a pause, until nothing
// waits or the rounds are spent; what still waits then is abandoned by
// the caller.
func (r *run) retryRounds(ctx context.Context) {
	for round := 1; r.retrying && !r.stopped(ctx); round++ {
		r.mu.Lock()
		later := r.later
		r.later, r.waiting = nil, nil
		r.mu.Unlock()
		if len(later) == 0 {
			return
		}
		r.e.logger.Info("contactsync: retrying failed changes", "run", r.report.RunID, "round", round, "changes", len(later))
		if !sleepCtx(ctx, time.Duration(round)*r.e.roundPause) {
			r.mu.Lock()
			r.later = later // reported by abandonDeferred
			r.mu.Unlock()
			return
		}
		r.retrying = round < r.e.rounds
		_ = r.pass(ctx, func(yield func(item, error) bool) {
			for i := range later {
				if !yield(item{ch: later[i].ch, prev: &later[i]}, nil) {
					return
				}
			}
		})
	}
}

// abandon reports a change set aside that will not be processed again:
// failed for the reason it was set aside (a change that only waited is
// counted, its member's failure already says why).
func (r *run) abandon(d deferred) {
	if d.err != nil {
		r.fail(d.ch.MemberID(), d.err)
	}
	r.done()
}

// abandonDeferred abandons every change still set aside.
func (r *run) abandonDeferred() {
	r.mu.Lock()
	later := r.later
	r.later, r.waiting = nil, nil
	r.mu.Unlock()
	for _, d := range later {
		r.abandon(d)
	}
}

// pass processes items on the engine's workers, a member's changes in
// order on one worker. Once the run stops, queued items are drained: a
// retried one is abandoned (reported), a new one left for the next run.
func (r *run) pass(ctx context.Context, items iter.Seq2[item, error]) error {
	queues := make([]chan item, r.e.concurrency)
	var wg sync.WaitGroup
	for i := range queues {
		// A worker holds up to prefetchWindow changes taken from its
		// queue and queueDepth more wait in it: the run reads no further
		// ahead of its input than before the window (1 + 16).
		queues[i] = make(chan item, queueDepth)
		wg.Go(func() {
			var window []item
			for it := range queues[i] {
				// Take what else is queued for this worker (without
				// waiting for more) and read those records' links at once.
				window = append(window[:0], it)
			drain:
				for len(window) < prefetchWindow {
					select {
					case next, ok := <-queues[i]:
						if !ok {
							break drain
						}
						window = append(window, next)
					default:
						break drain
					}
				}
				r.prefetch(ctx, window)
				for _, it := range window {
					if r.stopped(ctx) {
						if it.prev != nil {
							r.abandon(*it.prev)
						}
						continue
					}
					r.process(ctx, it)
				}
			}
		})
	}
	var inputErr error
	for it, err := range items {
		if err != nil {
			inputErr = fmt.Errorf("contactsync: reading changes: %w", err)
			break
		}
		if r.stopped(ctx) {
			if it.prev == nil {
				break // the rest is the next run's
			}
			r.abandon(*it.prev)
			continue
		}
		queues[shard(it.ch.MemberID(), len(queues))] <- it
	}
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
	return inputErr
}

// prefetchWindow bounds the changes a worker takes from its queue at once;
// queueDepth is its queue's.
const (
	prefetchWindow = 33
	queueDepth     = 32
)

// prefetch reads at once the links of the members, tasks and notes of
// window's changes, if the store can (LinkPrefetcher). It is only a hint:
// an error is ignored, and each change reads what it needs as before.
func (r *run) prefetch(ctx context.Context, window []item) {
	pf, ok := r.store.(LinkPrefetcher)
	if !ok || len(window) < 2 || r.e.dryRun {
		return
	}
	var members, tasks, notes []string
	for _, it := range window {
		members = append(members, it.ch.MemberID())
		if mu, ok := it.ch.(MemberUpserted); ok {
			for _, t := range mu.Member.Tasks {
				tasks = append(tasks, t.ID)
			}
			for _, n := range mu.Member.Notes {
				notes = append(notes, n.ID)
			}
		}
	}
	for kind, ids := range map[Kind][]string{KindMember: members, KindTask: tasks, KindNote: notes} {
		if len(ids) > 0 {
			_ = pf.PrefetchLinks(ctx, kind, ids)
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
