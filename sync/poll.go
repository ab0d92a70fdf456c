package contactsync

import (
	"context"
	"errors"
	"fmt"
	"time"

	contacts "github.com/gymflow/contacts-go"
)

// Cursor names in the InboundStore.
const (
	cursorContacts = "contacts.dateUpdated"
)

// PollContacts is the incremental scan: it searches the contacts updated
// since the last scan (less the overlap, for search's eventual
// consistency), oldest first, delivers what changed, and advances the
// persisted cursor. The first scan, with no cursor yet, reads every
// contact (Reconcile does the same and more). Activities are not re-read
// here: task events schedule those re-reads (see WithTaskFollowUp).
func (in *Inbound) PollContacts(ctx context.Context) (InboundReport, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	ctx, release, err := in.holdLease(ctx)
	if err != nil {
		return InboundReport{}, err
	}
	defer release()
	return in.pollContacts(ctx)
}

func (in *Inbound) pollContacts(ctx context.Context) (rep InboundReport, err error) {
	start := in.calls.Load()
	defer func() { rep.APICalls = in.calls.Load() - start }()

	raw, err := in.store.Cursor(ctx, cursorContacts)
	if err != nil {
		return rep, err
	}
	params := contacts.SearchParams{PageLimit: contacts.MaxSearchPageLimit, Sort: []contacts.Sort{{Field: "dateUpdated", Direction: contacts.Asc}}}
	var since time.Time
	if raw != "" {
		if since, err = time.Parse(time.RFC3339Nano, raw); err != nil {
			return rep, fmt.Errorf("contactsync: bad contacts cursor %q: %w", raw, err)
		}
		from := since.Add(-in.overlap)
		params.Filters = []contacts.Filter{contacts.Where("dateUpdated", contacts.OpRange, contacts.Range{GTE: from.UTC().Format("2006-01-02T15:04:05.000Z")})}
	}
	newest := since
	for c, err := range in.searchAll(ctx, params) {
		if err != nil {
			return rep, err
		}
		if err := in.handleContact(ctx, c, c.DateUpdated.Time, false, &rep); err != nil {
			return rep, err
		}
		if c.DateUpdated.After(newest) {
			newest = c.DateUpdated.Time
		}
	}
	if newest.After(since) {
		if err := in.store.SetCursor(ctx, cursorContacts, newest.UTC().Format(time.RFC3339Nano)); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// searchAll iterates a search page by page with searchAfter cursors,
// counting each page's call. It stops once it has read the total the
// first page reported, saving the empty page after a full last one (a
// contact added during the scan is the incremental scan's to find).
func (in *Inbound) searchAll(ctx context.Context, p contacts.SearchParams) func(func(contacts.Contact, error) bool) {
	return func(yield func(contacts.Contact, error) bool) {
		read, total := 0, -1
		for {
			var page *contacts.SearchResult
			err := in.call(func(o ...contacts.RequestOption) (err error) {
				page, err = in.client.Contacts.Search(ctx, p, o...)
				return err
			})
			if err != nil {
				yield(contacts.Contact{}, err)
				return
			}
			for _, c := range page.Contacts {
				if !yield(c, nil) {
					return
				}
			}
			n := len(page.Contacts)
			if total < 0 {
				total = page.Total
			}
			read += n
			if n < p.PageLimit || n == 0 || len(page.Contacts[n-1].SearchAfter) == 0 || total > 0 && read >= total {
				return
			}
			p.SearchAfter = page.Contacts[n-1].SearchAfter
		}
	}
}

// Reconcile is the scheduled full reconciliation, catching what webhooks
// lost: it reads every contact of the location (one call per 500),
// delivers what changed, reports linked contacts that are gone as deleted
// (a linked contact the scan missed is read to confirm it: one call),
// and — with activities — re-reads every linked contact's tasks, notes and
// appointments (three calls per contact; plan for it in the budget).
func (in *Inbound) Reconcile(ctx context.Context, activities bool) (rep InboundReport, err error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	ctx, release, err := in.holdLease(ctx)
	if err != nil {
		return rep, err
	}
	defer release()
	start := in.calls.Load()
	defer func() { rep.APICalls = in.calls.Load() - start }()

	present := map[string]bool{}
	scanStart := in.now()
	for c, err := range in.searchAll(ctx, contacts.SearchParams{PageLimit: contacts.MaxSearchPageLimit}) {
		if err != nil {
			return rep, err
		}
		present[c.ID] = true
		at := c.DateUpdated.Time
		if at.IsZero() {
			at = scanStart
		}
		if err := in.handleContact(ctx, c, at, false, &rep); err != nil {
			return rep, err
		}
	}

	var linked []Link
	for after := ""; ; {
		page, err := in.state.Links(ctx, KindMember, after, 500)
		if err != nil {
			return rep, err
		}
		if len(page) == 0 {
			break
		}
		linked = append(linked, page...)
		after = page[len(page)-1].LocalID
	}
	for _, l := range linked {
		if l.RemoteID == "" {
			continue
		}
		if !present[l.RemoteID] {
			gone, err := in.confirmGone(ctx, l.RemoteID, scanStart, &rep)
			if err != nil {
				return rep, err
			}
			if gone {
				continue
			}
		}
		if activities {
			if err := in.refreshActivity(ctx, l.RemoteID, &rep); err != nil {
				return rep, err
			}
		}
	}
	// The scan saw every contact as of its start: the incremental scan
	// goes on from there (less its overlap), not from the newest
	// dateUpdated, which after a bulk import would re-read it all.
	raw, err := in.store.Cursor(ctx, cursorContacts)
	if err != nil {
		return rep, err
	}
	if cur, perr := time.Parse(time.RFC3339Nano, raw); raw == "" || perr == nil && scanStart.After(cur) {
		if err := in.store.SetCursor(ctx, cursorContacts, scanStart.UTC().Format(time.RFC3339Nano)); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// confirmGone handles a linked contact the scan did not see. Search is
// eventually consistent and the engine may have linked the contact during
// the scan, so absence is confirmed with a read (one call, not repeated
// for a deletion already known): a contact that is gone is reported
// deleted, one that is there is handled like a scanned one.
func (in *Inbound) confirmGone(ctx context.Context, contactID string, scanStart time.Time, rep *InboundReport) (gone bool, err error) {
	seen, err := in.store.Seen(ctx, KindMember, contactID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return false, err
	}
	if err == nil && seen.Deleted {
		return true, in.handleContactDeleted(ctx, contactID, scanStart, rep)
	}
	var c *contacts.Contact
	err = in.call(func(o ...contacts.RequestOption) (err error) {
		c, err = in.client.Contacts.Get(ctx, contactID, o...)
		return err
	})
	if errors.Is(err, contacts.ErrNotFound) || err == nil && c.Deleted {
		return true, in.handleContactDeleted(ctx, contactID, scanStart, rep)
	}
	if err != nil {
		return false, err
	}
	at := c.DateUpdated.Time
	if at.IsZero() {
		at = scanStart
	}
	return false, in.handleContact(ctx, *c, at, true, rep)
}

// RefreshDirty re-reads the tasks, notes and appointments of up to limit
// contacts with recent activity whose re-read is due, three calls each —
// the only way to see task edits, which fire no webhook. Task events make
// a contact due WithTaskFollowUp after them; appointment events at once
// (their payloads may mislabel updates and deletes).
func (in *Inbound) RefreshDirty(ctx context.Context, limit int) (rep InboundReport, err error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	ctx, release, err := in.holdLease(ctx)
	if err != nil {
		return rep, err
	}
	defer release()
	start := in.calls.Load()
	defer func() { rep.APICalls = in.calls.Load() - start }()
	ids, err := in.store.Dirty(ctx, in.now(), limit)
	if err != nil {
		return rep, err
	}
	for _, id := range ids {
		if err := in.refreshActivity(ctx, id, &rep); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// RefreshActivity re-reads one contact's tasks, notes and appointments.
func (in *Inbound) RefreshActivity(ctx context.Context, contactID string) (InboundReport, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	ctx, release, err := in.holdLease(ctx)
	if err != nil {
		return InboundReport{}, err
	}
	defer release()
	var rep InboundReport
	start := in.calls.Load()
	err = in.refreshActivity(ctx, contactID, &rep)
	rep.APICalls = in.calls.Load() - start
	return rep, err
}

func (in *Inbound) refreshActivity(ctx context.Context, contactID string, rep *InboundReport) error {
	readAt := in.now()
	var tasks []contacts.Task
	var notes []contacts.Note
	var appts []contacts.Appointment
	err := in.call(func(o ...contacts.RequestOption) (err error) {
		tasks, err = in.client.Tasks.List(ctx, contactID, o...)
		return err
	})
	if errors.Is(err, contacts.ErrNotFound) {
		if err := in.handleContactDeleted(ctx, contactID, readAt, rep); err != nil {
			return err
		}
		return in.store.ClearDirty(ctx, contactID, farFuture)
	}
	if err != nil {
		return err
	}
	if err := in.call(func(o ...contacts.RequestOption) (err error) {
		notes, err = in.client.Notes.List(ctx, contactID, o...)
		return err
	}); err != nil {
		return err
	}
	if err := in.call(func(o ...contacts.RequestOption) (err error) {
		appts, err = in.client.Appointments.List(ctx, contactID, o...)
		return err
	}); err != nil {
		return err
	}
	fresh := map[Kind]map[string]Activity{KindTask: {}, KindNote: {}, KindAppointment: {}}
	for _, t := range tasks {
		fresh[KindTask][t.ID] = Activity{Kind: KindTask, RemoteID: t.ID, ContactID: contactID, Title: t.Title, Body: t.Body,
			At: t.DueDate.Time, Completed: t.Completed, UpdatedAt: readAt}
	}
	for _, n := range notes {
		fresh[KindNote][n.ID] = Activity{Kind: KindNote, RemoteID: n.ID, ContactID: contactID, Title: n.Title, Body: n.Body,
			At: n.DateAdded.Time, UpdatedAt: readAt}
	}
	for _, a := range appts {
		start, _ := a.Start(time.UTC)
		end, _ := a.End(time.UTC)
		status := a.AppointmentStatus
		if status == "" {
			status = a.Status
		}
		fresh[KindAppointment][a.ID] = Activity{Kind: KindAppointment, RemoteID: a.ID, ContactID: contactID, Title: a.Title,
			Body: a.Notes, At: start, End: end, Status: status, UpdatedAt: readAt}
	}
	known, err := in.activity.Activities(ctx, ActivityQuery{ContactID: contactID})
	if err != nil {
		return err
	}
	for _, k := range known {
		if _, still := fresh[k.Kind][k.RemoteID]; !still {
			if err := in.applyActivity(ctx, Activity{Kind: k.Kind, RemoteID: k.RemoteID, ContactID: contactID, UpdatedAt: readAt}, true, true, rep); err != nil {
				return err
			}
		}
	}
	for _, kind := range []Kind{KindTask, KindNote, KindAppointment} {
		for _, a := range fresh[kind] {
			if err := in.applyActivity(ctx, a, false, true, rep); err != nil {
				return err
			}
		}
	}
	if err := in.store.ClearDirty(ctx, contactID, readAt); err != nil {
		return err
	}
	// A task follow-up still ahead stays due (the mark just cleared may
	// have been an earlier, immediate one).
	switch f, err := in.store.Seen(ctx, kindFollowUp, contactID); {
	case err == nil && f.At.After(readAt):
		return in.store.MarkDirty(ctx, contactID, f.At)
	case err != nil && !errors.Is(err, ErrNotFound):
		return err
	}
	return nil
}

// farFuture clears any dirty mark.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// Cycle is one polling round: process the inbox, scan changed contacts,
// re-read up to refreshLimit contacts with recent activity.
func (in *Inbound) Cycle(ctx context.Context, refreshLimit int) (InboundReport, error) {
	ctx, release, err := in.holdLease(ctx)
	if err != nil {
		return InboundReport{}, err
	}
	defer release()
	var total InboundReport
	for _, step := range []func(context.Context) (InboundReport, error){
		in.ProcessInbox,
		in.PollContacts,
		func(ctx context.Context) (InboundReport, error) { return in.RefreshDirty(ctx, refreshLimit) },
	} {
		rep, err := step(ctx)
		total.add(rep)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// Plan says how Schedule polls each location.
type Plan struct {
	// Interval is how often Cycle runs (required).
	Interval time.Duration
	// RefreshLimit caps the contacts whose activity one Cycle re-reads
	// (three calls each); 0 or less means no cap.
	RefreshLimit int
	// ReconcileEvery runs Reconcile without activities (one call per 500
	// contacts, plus a read per linked contact the scan missed): it
	// catches lost contact webhooks and deletions. 0: never.
	ReconcileEvery time.Duration
	// ActivitiesEvery runs Reconcile with activities instead (three more
	// calls per linked member): it catches lost task, note and appointment
	// webhooks and task edits made long after the last event. 0: never.
	ActivitiesEvery time.Duration
	// OnError, if set, hears of every failed round (retried next tick).
	OnError func(*Inbound, error)
}

// Schedule runs each location's Inbound by the plan until ctx ends: Cycle
// every Interval, the locations' rounds staggered evenly across the
// interval so they do not poll at once, and the reconciliations when due
// (the first after a full period).
func Schedule(ctx context.Context, p Plan, locations ...*Inbound) {
	if p.Interval <= 0 {
		panic("contactsync: Schedule needs a positive Plan.Interval")
	}
	done := make(chan struct{})
	for i, in := range locations {
		offset := time.Duration(i) * p.Interval / time.Duration(max(len(locations), 1))
		go func() {
			defer func() { done <- struct{}{} }()
			select {
			case <-ctx.Done():
				return
			case <-time.After(offset):
			}
			tick := time.NewTicker(p.Interval)
			defer tick.Stop()
			lastContacts, lastFull := in.now(), in.now()
			for {
				_, err := in.Cycle(ctx, p.RefreshLimit)
				now := in.now()
				switch {
				case err != nil:
				case p.ActivitiesEvery > 0 && now.Sub(lastFull) >= p.ActivitiesEvery:
					_, err = in.Reconcile(ctx, true)
					lastFull, lastContacts = in.now(), in.now()
				case p.ReconcileEvery > 0 && now.Sub(lastContacts) >= p.ReconcileEvery:
					_, err = in.Reconcile(ctx, false)
					lastContacts = in.now()
				}
				if err != nil && p.OnError != nil && ctx.Err() == nil {
					p.OnError(in, err)
				}
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		}()
	}
	for range locations {
		<-done
	}
}
