package contactsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	contacts "github.com/gymflow/contacts-go"
)

// Report is what a run did.
type Report struct {
	RunID    string    `json:"runId"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	DryRun   bool      `json:"dryRun,omitempty"`

	// Changes is how many changes (member records or events) the run
	// processed; Members how many of them were member records that mapped
	// (their outcome: Created, Linked, Updated or Unchanged — creates
	// resolved from a crashed run count as Created or Linked too, see
	// Resolved).
	Changes   int `json:"changes"`
	Members   int `json:"members"`
	Created   int `json:"created"`
	Linked    int `json:"linked"` // linked to a contact that already existed
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`

	TagsAdded    int `json:"tagsAdded"`
	TagsRemoved  int `json:"tagsRemoved"`
	TasksCreated int `json:"tasksCreated"`
	TasksUpdated int `json:"tasksUpdated"`
	NotesCreated int `json:"notesCreated"`
	NotesUpdated int `json:"notesUpdated"`
	WelcomeTasks int `json:"welcomeTasks"`
	Archived     int `json:"archived"`
	Deleted      int `json:"deleted"`
	Refreshed    int `json:"refreshed,omitempty"`
	// Resolved counts writes left pending by a crashed run and resolved
	// at the start of this one.
	Resolved int `json:"resolved,omitempty"`

	// Failed counts the failed records; Failures describes the first
	// MaxFailures of them.
	Failed   int       `json:"failed"`
	Failures []Failure `json:"failures,omitempty"`

	// APICalls counts HTTP attempts, retries included; CallsPerMember
	// divides them by Members (by Changes when no member record was
	// processed).
	APICalls       int64   `json:"apiCalls"`
	CallsPerMember float64 `json:"callsPerMember"`
	// RateLimit is the last budget the API reported.
	RateLimit contacts.RateLimit `json:"rateLimit"`

	// Planned lists the writes a dry run would have sent: the first
	// MaxPlanned of them; PlannedOmitted counts the rest, so that a dry
	// run of any size keeps bounded memory.
	Planned        []PlannedWrite `json:"planned,omitempty"`
	PlannedOmitted int            `json:"plannedOmitted,omitempty"`
	// Stopped is why the run ended early, if it did.
	Stopped string `json:"stopped,omitempty"`
}

// Failure is a record the run could not sync.
type Failure struct {
	MemberID string `json:"memberId"`
	Reason   string `json:"reason"`
	// BadRecord is true when the GymFlow record itself is at fault
	// (ErrBadRecord), not the API.
	BadRecord bool `json:"badRecord,omitempty"`
}

// MaxPlanned and MaxFailures bound Report.Planned and Report.Failures, so
// that a report of any run stays small in memory and in the run log.
const (
	MaxPlanned  = 10_000
	MaxFailures = 10_000
)

// PlannedWrite is a write a dry run would have sent.
type PlannedWrite struct {
	MemberID string `json:"memberId"`
	Op       string `json:"op"`
	Body     any    `json:"body,omitempty"`
}

// String renders the report for people.
func (r *Report) String() string {
	var b strings.Builder
	dur := r.Finished.Sub(r.Started).Round(time.Millisecond)
	fmt.Fprintf(&b, "run %s (%s)%s\n", r.RunID, dur, map[bool]string{true: " — dry run", false: ""}[r.DryRun])
	fmt.Fprintf(&b, "  changes    %d processed\n", r.Changes)
	fmt.Fprintf(&b, "  members    %d: %d created, %d linked to existing contacts, %d updated, %d unchanged\n",
		r.Members, r.Created, r.Linked, r.Updated, r.Unchanged)
	fmt.Fprintf(&b, "  tags       +%d −%d\n", r.TagsAdded, r.TagsRemoved)
	fmt.Fprintf(&b, "  tasks      %d created, %d updated (%d welcome)\n", r.TasksCreated, r.TasksUpdated, r.WelcomeTasks)
	fmt.Fprintf(&b, "  notes      %d created, %d updated\n", r.NotesCreated, r.NotesUpdated)
	fmt.Fprintf(&b, "  deletions  %d archived, %d deleted\n", r.Archived, r.Deleted)
	if r.Resolved > 0 {
		fmt.Fprintf(&b, "  recovered  %d writes left pending by an earlier run\n", r.Resolved)
	}
	fmt.Fprintf(&b, "  API calls  %d (%.2f per member)", r.APICalls, r.CallsPerMember)
	if r.RateLimit.Remaining >= 0 && r.RateLimit.Limit > 0 {
		fmt.Fprintf(&b, "; budget left %d/%d this window, %d today", r.RateLimit.Remaining, r.RateLimit.Limit, r.RateLimit.DailyRemaining)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "  failed     %d\n", r.Failed)
	for i, f := range r.Failures {
		if i == 10 {
			fmt.Fprintf(&b, "    … and %d more\n", r.Failed-10)
			break
		}
		fmt.Fprintf(&b, "    %s: %s\n", f.MemberID, f.Reason)
	}
	if n := len(r.Planned) + r.PlannedOmitted; n > 0 {
		fmt.Fprintf(&b, "  planned    %d writes\n", n)
	}
	if r.Stopped != "" {
		fmt.Fprintf(&b, "  stopped    %s\n", r.Stopped)
	}
	return b.String()
}

// finish closes the report, logs it, records it in the run log and emits
// the metrics.
func (r *run) finish(err error) {
	rep := r.report
	rep.Finished = r.e.now()
	rep.APICalls = r.apiCalls.Load()
	if n := max(rep.Members, 0); n > 0 {
		rep.CallsPerMember = float64(rep.APICalls) / float64(n)
	} else if rep.Changes > 0 {
		rep.CallsPerMember = float64(rep.APICalls) / float64(rep.Changes)
	}
	if err != nil {
		rep.Stopped = err.Error()
	}
	e := r.e
	e.logger.Info("contactsync: run finished", "run", rep.RunID, "members", rep.Members, "created", rep.Created,
		"linked", rep.Linked, "updated", rep.Updated, "unchanged", rep.Unchanged, "failed", rep.Failed,
		"apiCalls", rep.APICalls, "stopped", rep.Stopped)
	if m := e.metrics; m != nil {
		for name, v := range map[string]int{"created": rep.Created, "linked": rep.Linked, "updated": rep.Updated,
			"unchanged": rep.Unchanged, "failed": rep.Failed, "archived": rep.Archived, "deleted": rep.Deleted} {
			m.Counter("contactsync_members_total", int64(v), map[string]string{"result": name})
		}
		m.Counter("contactsync_api_calls_total", rep.APICalls, nil)
		m.Gauge("contactsync_calls_per_member", rep.CallsPerMember, nil)
		if rep.RateLimit.Limit > 0 {
			m.Gauge("contactsync_ratelimit_remaining", float64(rep.RateLimit.Remaining), nil)
			m.Gauge("contactsync_ratelimit_daily_remaining", float64(rep.RateLimit.DailyRemaining), nil)
		}
	}
	if e.dryRun {
		return
	}
	data, jerr := json.Marshal(rep)
	rec := RunRecord{ID: rep.RunID, Started: rep.Started, Finished: rep.Finished, Report: data, Err: rep.Stopped}
	if jerr == nil {
		// A cancelled run still records itself: use a fresh context.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if aerr := e.store.AppendRun(ctx, rec); aerr != nil {
			e.logger.Error("contactsync: could not record the run", "run", rep.RunID, "error", aerr)
		}
	}
}

// resolvePending resolves the writes a crashed run left behind: creates are
// looked up (and linked, or sent now if they never happened); deletes and
// archives are applied again; updates and tag changes are dropped, because
// the next sighting of the member redoes them (links change only after a
// write succeeds) — except that the tags they added and that are on the
// contact become the link's (one read), since a later sighting without
// them must still remove them.
func (r *run) resolvePending(ctx context.Context) error {
	intents, err := r.store.Intents(ctx)
	if err != nil {
		return storeErr(err)
	}
	if r.leased {
		r.known = &keySet{keys: make(map[string]struct{}, len(intents))}
		for _, in := range intents {
			r.known.keys[in.Key] = struct{}{}
		}
	}
	for _, in := range intents {
		if err := r.resolve(ctx, in); err != nil {
			if fatal(err) {
				return err
			}
			memberID := in.LocalID
			if in.Kind != KindMember {
				var ci childIntent
				if json.Unmarshal(in.Data, &ci) == nil && ci.MemberID != "" {
					memberID = ci.MemberID
				}
			}
			r.fail(memberID, fmt.Errorf("resolving a pending %s of %s %s: %w", in.Op, in.Kind, in.LocalID, err))
			continue
		}
		r.add(&r.report.Resolved, 1)
	}
	return nil
}

// sentBy returns the run that recorded a create intent ("" if unknown)
// and whether the API answered that create.
func sentBy(in Intent) (run string, answered bool) {
	var sent struct {
		Run      string `json:"run"`
		Answered bool   `json:"answered"`
	}
	_ = json.Unmarshal(in.Data, &sent)
	return sent.Run, sent.Answered
}

func (r *run) resolve(ctx context.Context, in Intent) error {
	if in.Op == "create" {
		// A create sent just before a crash may still be on its way to the
		// API: looking it up too early would miss it and create it again.
		// A create the API answered is not; this run's own failed creates
		// were answered, or timed out a retry round ago.
		run, answered := sentBy(in)
		if wait := r.e.grace - r.e.now().Sub(in.CreatedAt); run != r.report.RunID && !answered && wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
	}
	switch {
	case in.Op == "create" && in.Kind == KindMember:
		var mi memberIntent
		if err := json.Unmarshal(in.Data, &mi); err != nil {
			return errors.Join(err, storeErr(r.store.DeleteIntent(ctx, in.Key)))
		}
		found, err := r.lookup(ctx, mi)
		if err != nil {
			return err
		}
		if found != "" {
			_, err = r.linkExisting(ctx, in.LocalID, in.Key, mi, found)
		} else {
			// Sent again: by this run, and in flight until answered.
			mi.Run, mi.Answered = r.report.RunID, false
			if err := r.putIntent(ctx, in.Key, KindMember, in.LocalID, "create", mi); err != nil {
				return err
			}
			_, err = r.create(ctx, in.LocalID, in.Key, mi, r.e.attempts)
		}
		if err == nil {
			r.settle(in.LocalID)
		}
		return err
	case in.Op == "create":
		var ci childIntent
		if err := json.Unmarshal(in.Data, &ci); err != nil {
			return errors.Join(err, storeErr(r.store.DeleteIntent(ctx, in.Key)))
		}
		found, err := r.findChild(ctx, ci)
		if err != nil {
			return err
		}
		if found != "" {
			return r.commitChild(ctx, in.Key, in.LocalID, ci, found, true)
		}
		ci.Run, ci.Answered = r.report.RunID, false
		if err := r.putIntent(ctx, in.Key, in.Kind, in.LocalID, "create", ci); err != nil {
			return err
		}
		return r.createChild(ctx, in.Key, in.LocalID, ci, r.e.attempts)
	case in.Kind == KindMember && (in.Op == "update" || in.Op == "tags") && len(in.Data) > 0:
		return r.resolveTagAdds(ctx, in)
	case in.Kind == KindMember && (in.Op == "delete" || in.Op == "tag" || in.Op == "dnd" || in.Op == "field"):
		// Apply it again (it is idempotent); if the link is already gone,
		// only the intent is left to clear.
		if err := r.deleteMember(ctx, in.LocalID); err != nil {
			return err
		}
	}
	return storeErr(r.store.DeleteIntent(ctx, in.Key))
}
