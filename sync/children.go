package contactsync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	contacts "github.com/gymflow/contacts-go"
)

// childPayload is a task or note as the sync writes it.
type childPayload struct {
	Kind Kind                 `json:"kind"`
	Task *contacts.TaskCreate `json:"task,omitempty"`
	Note *contacts.NoteCreate `json:"note,omitempty"`
	Hash string               `json:"hash"`
}

// childIntent is the data of a task or note create intent.
type childIntent struct {
	Run       string       `json:"run,omitempty"`      // the run that sent the create
	Answered  bool         `json:"answered,omitempty"` // the API answered it (nothing in flight)
	MemberID  string       `json:"memberId"`
	ContactID string       `json:"contactId"`
	Payload   childPayload `json:"payload"`
}

func childKey(op string, kind Kind, id string) string { return op + "/" + string(kind) + "/" + id }

// taskPayload turns a GymFlow task into the API's. The API requires a due
// date: a task without one is due a day after it is first written.
func taskPayload(t Task, now time.Time) childPayload {
	due := t.Due
	if due.IsZero() {
		due = now.Add(24 * time.Hour)
	}
	tc := contacts.TaskCreate{Title: t.Title, Body: t.Body, DueDate: due.UTC().Truncate(time.Second), Completed: t.Done, AssignedTo: t.AssignedTo}
	// The hash covers what GymFlow said, so a defaulted due date does not
	// change it from run to run.
	return childPayload{Kind: KindTask, Task: &tc, Hash: hashOf("task", t.Title, t.Body, t.Due.UTC().Truncate(time.Second).Format(time.RFC3339), t.Done, t.AssignedTo)}
}

func notePayload(n Note) childPayload {
	nc := contacts.NoteCreate{Body: n.Body}
	return childPayload{Kind: KindNote, Note: &nc, Hash: hashOf("note", n.Body)}
}

func hashOf(parts ...any) string {
	b, _ := json.Marshal(parts)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// remoteTaskMatches reports whether a task read from the API holds what
// the sync wrote (p).
func remoteTaskMatches(p childPayload, t contacts.Task) bool {
	w := p.Task
	return w.Title == t.Title && w.Body == t.Body && w.Completed == t.Completed &&
		w.DueDate.Equal(t.DueDate.Truncate(time.Second)) && (w.AssignedTo == "" || w.AssignedTo == t.AssignedTo)
}

func remoteNoteMatches(p childPayload, n contacts.Note) bool { return p.Note.Body == n.Body }

// upsertChild writes a task or note of a synced member.
func (r *run) upsertChild(ctx context.Context, memberID string, kind Kind, localID string, p childPayload) error {
	if localID == "" {
		return fmt.Errorf("%w: a %s without an ID", ErrBadRecord, kind)
	}
	link, err := r.store.Link(ctx, KindMember, memberID)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%s %s of member %s, which is not synced yet", kind, localID, memberID)
	}
	if err != nil {
		return storeErr(err)
	}
	return r.upsertChildOf(ctx, memberID, link.RemoteID, kind, localID, p)
}

func (r *run) upsertChildOf(ctx context.Context, memberID, contactID string, kind Kind, localID string, p childPayload) error {
	link, err := r.store.Link(ctx, kind, localID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return storeErr(err)
	}
	if errors.Is(err, ErrNotFound) {
		if r.e.dryRun {
			r.plan(memberID, "create "+string(kind), p)
			r.countChild(kind, true)
			return nil
		}
		key := childKey("create", kind, localID)
		if done, err := r.resolveEarlier(ctx, key); err != nil {
			return err
		} else if done {
			return r.upsertChildOf(ctx, memberID, contactID, kind, localID, p)
		}
		in := childIntent{Run: r.report.RunID, MemberID: memberID, ContactID: contactID, Payload: p}
		if err := r.putIntent(ctx, key, kind, localID, "create", in); err != nil {
			return err
		}
		return r.createChild(ctx, key, localID, in, r.e.attempts)
	}
	if link.Hash == p.Hash && link.ContactID == contactID {
		return nil
	}
	if r.e.dryRun {
		r.plan(memberID, "update "+string(kind), p)
		r.countChild(kind, false)
		return nil
	}
	key := childKey("update", kind, localID)
	if err := r.putIntent(ctx, key, kind, localID, "update", nil); err != nil {
		return err
	}
	err = r.updateChild(ctx, link, p)
	if errors.Is(err, contacts.ErrNotFound) {
		// Deleted in the CRM: GymFlow still has it, so it is written again.
		if err := r.store.DeleteLink(ctx, kind, localID); err != nil {
			return storeErr(err)
		}
		if err := r.store.DeleteIntent(ctx, key); err != nil {
			return storeErr(err)
		}
		return r.upsertChildOf(ctx, memberID, contactID, kind, localID, p)
	}
	if err != nil {
		return fmt.Errorf("updating %s %s: %w", kind, localID, err)
	}
	state, err := json.Marshal(p)
	if err != nil {
		return err
	}
	link.Hash, link.State, link.UpdatedAt = p.Hash, state, r.e.now()
	if err := r.store.Commit(ctx, link, key); err != nil {
		return storeErr(err)
	}
	r.countChild(kind, false)
	return nil
}

func (r *run) countChild(kind Kind, created bool) {
	switch {
	case kind == KindTask && created:
		r.add(&r.report.TasksCreated, 1)
	case kind == KindTask:
		r.add(&r.report.TasksUpdated, 1)
	case created:
		r.add(&r.report.NotesCreated, 1)
	default:
		r.add(&r.report.NotesUpdated, 1)
	}
}

func (r *run) updateChild(ctx context.Context, link Link, p childPayload) error {
	return r.call(func(o ...contacts.RequestOption) error {
		if p.Kind == KindTask {
			t := p.Task
			upd := contacts.TaskUpdate{Title: &t.Title, Body: &t.Body, DueDate: &t.DueDate, Completed: &t.Completed}
			if t.AssignedTo != "" {
				upd.AssignedTo = &t.AssignedTo
			}
			_, err := r.e.client.Tasks.Update(ctx, link.ContactID, link.RemoteID, upd, o...)
			return err
		}
		_, err := r.e.client.Notes.Update(ctx, link.ContactID, link.RemoteID, contacts.NoteUpdate{Body: &p.Note.Body}, o...)
		return err
	})
}

// createChild sends a task or note create recorded in intent key.
func (r *run) createChild(ctx context.Context, key, localID string, in childIntent, attempts int) error {
	var remoteID string
	err := r.call(func(o ...contacts.RequestOption) error {
		if in.Payload.Kind == KindTask {
			t, err := r.e.client.Tasks.Create(ctx, in.ContactID, *in.Payload.Task, o...)
			if err == nil {
				remoteID = t.ID
			}
			return err
		}
		n, err := r.e.client.Notes.Create(ctx, in.ContactID, *in.Payload.Note, o...)
		if err == nil {
			remoteID = n.ID
		}
		return err
	})
	switch {
	case err == nil:
		return r.commitChild(ctx, key, localID, in, remoteID, true)
	case budgetRefused(err):
		// Nothing was created: the budget refused the call before it was
		// sent, or the API refused it (429).
		if derr := r.store.DeleteIntent(ctx, key); derr != nil {
			return storeErr(derr)
		}
		return err
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || fatal(err):
		return err // the intent stays: the next run resolves it
	case errors.Is(err, contacts.ErrValidation) || errors.Is(err, contacts.ErrNotFound) || errors.Is(err, contacts.ErrRateLimited):
		// Refused (a 429 included): the API did not create it.
		if derr := r.store.DeleteIntent(ctx, key); derr != nil {
			return storeErr(derr)
		}
		return fmt.Errorf("creating %s %s: %w", in.Payload.Kind, localID, err)
	}
	// A 5xx or a lost connection: it may exist. Look before writing again.
	mark := func() any { in.Answered = true; return in }
	found, lerr := r.findChild(ctx, in)
	if lerr != nil {
		return errors.Join(err, lerr, r.answered(ctx, key, in.Payload.Kind, localID, err, mark))
	}
	if found != "" {
		return r.commitChild(ctx, key, localID, in, found, true)
	}
	if attempts <= 1 {
		return errors.Join(fmt.Errorf("creating %s %s: %w", in.Payload.Kind, localID, err),
			r.answered(ctx, key, in.Payload.Kind, localID, err, mark))
	}
	return r.createChild(ctx, key, localID, in, attempts-1)
}

func (r *run) commitChild(ctx context.Context, key, localID string, in childIntent, remoteID string, created bool) error {
	state, err := json.Marshal(in.Payload)
	if err != nil {
		return err
	}
	link := Link{Kind: in.Payload.Kind, LocalID: localID, RemoteID: remoteID, MemberID: in.MemberID, ContactID: in.ContactID,
		Hash: in.Payload.Hash, State: state, UpdatedAt: r.e.now()}
	if err := r.store.Commit(ctx, link, key); err != nil {
		return storeErr(err)
	}
	r.countChild(in.Payload.Kind, created)
	return nil
}

// findChild looks for a task or note a create intent may have made: one
// of the contact's records with the written content and no link yet.
func (r *run) findChild(ctx context.Context, in childIntent) (string, error) {
	unlinked := func(id string) (bool, error) {
		_, err := r.store.LinkByRemote(ctx, in.Payload.Kind, id)
		if errors.Is(err, ErrNotFound) {
			return true, nil
		}
		return false, storeErr(err)
	}
	if in.Payload.Kind == KindTask {
		var tasks []contacts.Task
		if err := r.call(func(o ...contacts.RequestOption) (err error) {
			tasks, err = r.e.client.Tasks.List(ctx, in.ContactID, o...)
			return err
		}); err != nil {
			return "", err
		}
		for _, t := range tasks {
			if remoteTaskMatches(in.Payload, t) {
				if ok, err := unlinked(t.ID); err != nil || ok {
					return t.ID, err
				}
			}
		}
		return "", nil
	}
	var notes []contacts.Note
	if err := r.call(func(o ...contacts.RequestOption) (err error) {
		notes, err = r.e.client.Notes.List(ctx, in.ContactID, o...)
		return err
	}); err != nil {
		return "", err
	}
	for _, n := range notes {
		if remoteNoteMatches(in.Payload, n) {
			if ok, err := unlinked(n.ID); err != nil || ok {
				return n.ID, err
			}
		}
	}
	return "", nil
}

// syncChildren writes a member's tasks and notes, first reconciling with
// the API's copies when WithRefreshRelated is on.
func (r *run) syncChildren(ctx context.Context, m Member, link Link) error {
	if r.e.refresh && !r.e.dryRun && link.RemoteID != "" {
		if err := r.refreshRelated(ctx, m.ID, link.RemoteID); err != nil {
			return err
		}
	}
	now := r.e.now()
	jobs := make([]func() error, 0, len(m.Tasks)+len(m.Notes))
	for _, t := range m.Tasks {
		jobs = append(jobs, func() error { return r.upsertChildOf(ctx, m.ID, link.RemoteID, KindTask, t.ID, taskPayload(t, now)) })
	}
	for _, n := range m.Notes {
		jobs = append(jobs, func() error { return r.upsertChildOf(ctx, m.ID, link.RemoteID, KindNote, n.ID, notePayload(n)) })
	}
	return runChildren(jobs)
}

// childConcurrency bounds the tasks and notes of one member written at
// once. They are separate records, so their writes need no order; written
// together, their intents share a commit of the state store and their
// calls overlap (the client's limiter still paces them).
const childConcurrency = 4

// runChildren runs jobs, up to childConcurrency at a time, and returns the
// error of the first job (in their order) that failed.
func runChildren(jobs []func() error) error {
	if len(jobs) == 1 {
		return jobs[0]()
	}
	errs := make([]error, len(jobs))
	sem := make(chan struct{}, childConcurrency)
	var wg sync.WaitGroup
	for i, job := range jobs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = job()
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// refreshRelated re-reads a contact's tasks and notes (two calls) and
// forgets the link of every record deleted in the CRM and the hash of
// every record edited there, so that the upserts that follow write
// GymFlow's version again — and only those.
func (r *run) refreshRelated(ctx context.Context, memberID, contactID string) error {
	var tasks []contacts.Task
	var notes []contacts.Note
	if err := r.call(func(o ...contacts.RequestOption) (err error) {
		tasks, err = r.e.client.Tasks.List(ctx, contactID, o...)
		return err
	}); err != nil {
		return fmt.Errorf("refreshing tasks: %w", err)
	}
	if err := r.call(func(o ...contacts.RequestOption) (err error) {
		notes, err = r.e.client.Notes.List(ctx, contactID, o...)
		return err
	}); err != nil {
		return fmt.Errorf("refreshing notes: %w", err)
	}
	remoteTasks := map[string]contacts.Task{}
	for _, t := range tasks {
		remoteTasks[t.ID] = t
	}
	remoteNotes := map[string]contacts.Note{}
	for _, n := range notes {
		remoteNotes[n.ID] = n
	}
	for _, kind := range []Kind{KindTask, KindNote} {
		links, err := r.store.MemberLinks(ctx, kind, memberID)
		if err != nil {
			return storeErr(err)
		}
		for _, l := range links {
			var written childPayload
			_ = json.Unmarshal(l.State, &written)
			var present, same bool
			if kind == KindTask {
				t, ok := remoteTasks[l.RemoteID]
				present, same = ok, ok && written.Task != nil && remoteTaskMatches(written, t)
			} else {
				n, ok := remoteNotes[l.RemoteID]
				present, same = ok, ok && written.Note != nil && remoteNoteMatches(written, n)
			}
			switch {
			case !present:
				// Deleted in the CRM: unlink, so the upsert creates it again.
				if err := r.store.DeleteLink(ctx, kind, l.LocalID); err != nil {
					return storeErr(err)
				}
			case !same:
				// Edited in the CRM: the upsert writes GymFlow's version.
				l.Hash = ""
				if err := r.store.PutLink(ctx, l); err != nil {
					return storeErr(err)
				}
			}
		}
	}
	r.add(&r.report.Refreshed, 1)
	return nil
}
