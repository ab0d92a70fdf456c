package contactsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/webhook"
)

// Inbound brings changes made in the Contacts API back to GymFlow through a
// Sink: from webhooks (stored in a durable inbox before they are
// acknowledged, processed after) and from polling (an incremental contact
// scan, a full reconciliation, and targeted re-reads of tasks, notes and
// appointments). It keeps the activity read model fresh, ignores stale and
// repeated news, suppresses echoes of what the outbound Engine wrote, and
// lets the merge policies decide which CRM edits flow to GymFlow.
//
// Methods of one Inbound run one at a time (they share a lock); run one
// Inbound per location, each with its own stores (or its own SQLite
// file): cursors, the inbox, Seen records and the read model are not
// keyed by location.
type Inbound struct {
	client   *contacts.Client
	state    StateStore
	store    InboundStore
	activity ActivityStore
	mapping  *Mapping
	sink     Sink
	policies Policies
	unlinked bool
	overlap  time.Duration
	skew     time.Duration
	keep     time.Duration
	followUp time.Duration
	// deadAfter and park: WithDeadLetter; refused counts the Sink's
	// refusals of a change in a row, by record.
	deadAfter int
	park      func(context.Context, InboundChange, error) error
	refused   map[string]int
	logger    *slog.Logger
	now       func() time.Time

	mu    sync.Mutex
	calls atomic.Int64
	lease *leaseHold
}

// InboundOption configures an Inbound.
type InboundOption func(*Inbound)

// WithInboundPolicies sets the merge policies (use the Engine's): a CRM
// edit of a field flows to GymFlow under APIWins, under NewestWins when it
// is newer than the sync's last write, and under FillIfEmpty when GymFlow
// had no value; under GymFlowWins and NeverClear GymFlow's value stands
// and the member's contact is rewritten on its next outbound sync (under
// FillIfEmpty, refilled if the CRM cleared it).
func WithInboundPolicies(p Policies) InboundOption { return func(in *Inbound) { in.policies = p } }

// WithUnlinkedContacts also delivers changes of contacts no member is
// linked to (MemberID "").
func WithUnlinkedContacts() InboundOption { return func(in *Inbound) { in.unlinked = true } }

// WithPollOverlap sets how far back each incremental scan looks past its
// cursor (default 2 minutes), covering search's eventual consistency.
func WithPollOverlap(d time.Duration) InboundOption { return func(in *Inbound) { in.overlap = d } }

// WithClockSkew sets how far the API's clock may run ahead of this
// machine's (default 0). News about a record the outbound sync wrote that
// differs from what it wrote and is not clearly newer than the write —
// its time at most d after the write's — may predate the write (a webhook
// processed late, a search result read before it); such news is
// confirmed by a fresh read (a contact: one call at once; a task or note:
// its contact's next re-read) instead of undoing the sync's own write.
// Keep the machine's clock synchronised (NTP); a wider d costs a read for
// CRM edits made within d of a sync write.
func WithClockSkew(d time.Duration) InboundOption {
	return func(in *Inbound) { in.skew = max(d, 0) }
}

// WithTaskFollowUp sets when a contact's activity is re-read after a task
// event on it (default 30 minutes; 0: on the next refresh). Task edits
// fire no webhook: a re-read some time after the task was created or
// completed is what sees the edits made in the meantime, at three calls
// per active contact. A contact with more task events before its re-read
// is re-read d after the first and again d after the last. Edits made
// later still are caught by Reconcile with activities
// (Plan.ActivitiesEvery).
func WithTaskFollowUp(d time.Duration) InboundOption {
	return func(in *Inbound) { in.followUp = max(d, 0) }
}

// WithDeadLetter stops one change the Sink refuses from holding up the
// inbound side for good. Without it (the default) a refused change stops
// the pass — ProcessInbox keeps the webhook event at the head of the
// inbox, a scan keeps its cursor — and the next pass offers it again, in
// order, however long that takes. With it, once the Sink has refused the
// same record's change after times in a row (counted in this process),
// park is given the change and the Sink's error — to store it aside,
// alert, or apply it by hand — and, if park returns nil, the pass goes on
// (InboundReport.Parked counts it). A parked change is recorded as seen:
// no later pass, scan or reconciliation offers it again, so GymFlow holds
// what park made of it. Every error the Sink returns counts as a refusal,
// except while ctx is done; a failed API read or store write never parks
// anything. Refusals are counted per record (a contact, a task, a note,
// an appointment).
func WithDeadLetter(after int, park func(ctx context.Context, ch InboundChange, sinkErr error) error) InboundOption {
	return func(in *Inbound) {
		if after > 0 && park != nil {
			in.deadAfter, in.park = after, park
		}
	}
}

// Client returns the client the inbound side reads and writes through.
func (in *Inbound) Client() *contacts.Client { return in.client }

// deliver hands a change to the Sink, counting it in delivered, or under
// WithDeadLetter to park once the Sink has refused that record's change
// often enough, counting it in rep.Parked.
func (in *Inbound) deliver(ctx context.Context, ch InboundChange, rep *InboundReport, delivered *int) error {
	err := in.sink.Receive(ctx, ch)
	if err == nil {
		if len(in.refused) > 0 {
			delete(in.refused, changeKey(ch))
		}
		*delivered++
		return nil
	}
	if in.deadAfter == 0 || ctx.Err() != nil { // a run ending is no refusal
		return err
	}
	key := changeKey(ch)
	if in.refused == nil || len(in.refused) > 1000 {
		in.refused = map[string]int{} // bounded: refusals stop the pass
	}
	in.refused[key]++
	if in.refused[key] < in.deadAfter {
		return err
	}
	if perr := in.park(ctx, ch, err); perr != nil {
		return errors.Join(err, fmt.Errorf("contactsync: parking a refused change: %w", perr))
	}
	in.logger.Warn("contactsync: parked a change the sink refused", "record", key, "refusals", in.refused[key], "error", err)
	delete(in.refused, key)
	rep.Parked++
	return nil
}

// changeKey names the record a change is about.
func changeKey(ch InboundChange) string {
	switch c := ch.(type) {
	case ContactChanged:
		return "contact/" + c.Contact.ID
	case ContactDeleted:
		return "contact/" + c.ContactID
	case ActivityChanged:
		return string(c.Activity.Kind) + "/" + c.Activity.RemoteID
	case ActivityDeleted:
		return string(c.Activity.Kind) + "/" + c.Activity.RemoteID
	}
	return fmt.Sprintf("%T", ch)
}

// WithInboxRetention sets how long processed webhook IDs stay in the inbox
// so a redelivery is recognised (default 7 days); ProcessInbox forgets
// older ones.
func WithInboxRetention(d time.Duration) InboundOption {
	return func(in *Inbound) { in.keep = max(d, time.Hour) }
}

// WithInboundLogger sends records of inbound work to l.
func WithInboundLogger(l *slog.Logger) InboundOption {
	return func(in *Inbound) {
		if l != nil {
			in.logger = l
		}
	}
}

// WithInboundClock sets the clock (default time.Now).
func WithInboundClock(now func() time.Time) InboundOption { return func(in *Inbound) { in.now = now } }

// NewInbound returns the inbound side for client's location. state is the
// outbound Engine's store (for links and echo detection), store the
// inbound state, activity the read model; one store of memstore or
// sqlstore serves as all three.
func NewInbound(client *contacts.Client, state StateStore, store InboundStore, activity ActivityStore, mapping *Mapping, sink Sink, opts ...InboundOption) (*Inbound, error) {
	if client == nil || state == nil || store == nil || activity == nil || mapping == nil || sink == nil {
		return nil, errors.New("contactsync: NewInbound needs a client, three stores, a mapping and a sink")
	}
	if err := sameLocation(client, state, store, activity); err != nil {
		return nil, err
	}
	in := &Inbound{client: client, state: state, store: store, activity: activity, mapping: mapping, sink: sink,
		overlap: 2 * time.Minute, keep: 7 * 24 * time.Hour, followUp: 30 * time.Minute, logger: slog.New(slog.DiscardHandler), now: time.Now,
		lease: &leaseHold{name: LeaseInbound, owner: newOwner("inbound"), ttl: DefaultLeaseTTL}}
	for _, o := range opts {
		o(in)
	}
	in.lease.store, _ = store.(LeaseStore)
	in.lease.logger = in.logger
	return in, nil
}

// WithInboundLeaseTTL sets how long the lease of a pass lasts unless
// renewed (default DefaultLeaseTTL). When the InboundStore is a LeaseStore
// (the stores of memstore and sqlstore are), every pass — ProcessInbox,
// PollContacts, Reconcile, RefreshDirty, RefreshActivity, Cycle — holds
// the location's LeaseInbound lease, so only one Inbound works a location
// at a time whatever the number of processes; Receive needs none.
func WithInboundLeaseTTL(d time.Duration) InboundOption {
	return func(in *Inbound) {
		if d > 0 {
			in.lease.ttl = d
		}
	}
}

// WithInboundLeaseWait makes a pass whose location's lease another
// Inbound holds wait for it up to d, instead of failing at once with an
// error matching ErrLeaseHeld (the default).
func WithInboundLeaseWait(d time.Duration) InboundOption {
	return func(in *Inbound) { in.lease.wait = max(d, 0) }
}

// holdLease holds the location's inbound lease for a pass; nested passes
// (Cycle's) share it.
func (in *Inbound) holdLease(ctx context.Context) (context.Context, func(), error) {
	ctx, _, release, err := in.lease.hold(ctx)
	if err != nil {
		return ctx, nil, fmt.Errorf("contactsync: taking the location's inbound lease: %w", err)
	}
	return ctx, release, nil
}

// InboundReport is what an inbound pass did.
type InboundReport struct {
	Events            int `json:"events"`
	ContactsChanged   int `json:"contactsChanged"`
	ContactsDeleted   int `json:"contactsDeleted"`
	ActivitiesChanged int `json:"activitiesChanged"`
	ActivitiesDeleted int `json:"activitiesDeleted"`
	Echoes            int `json:"echoes"`
	Stale             int `json:"stale"`
	Unchanged         int `json:"unchanged"`
	// Rechecked counts news that may have predated the sync's own last
	// write to the record and was confirmed by a fresh read (a contact:
	// one call at once; a task or note: its contact's next re-read).
	Rechecked int `json:"rechecked"`
	// Parked counts changes given to WithDeadLetter's park function.
	Parked   int   `json:"parked,omitempty"`
	APICalls int64 `json:"apiCalls"`
}

func (r *InboundReport) add(o InboundReport) {
	r.Events += o.Events
	r.ContactsChanged += o.ContactsChanged
	r.ContactsDeleted += o.ContactsDeleted
	r.ActivitiesChanged += o.ActivitiesChanged
	r.ActivitiesDeleted += o.ActivitiesDeleted
	r.Echoes += o.Echoes
	r.Stale += o.Stale
	r.Unchanged += o.Unchanged
	r.Rechecked += o.Rechecked
	r.Parked += o.Parked
	r.APICalls += o.APICalls
}

// Receive stores a verified webhook event in the durable inbox. Use it as
// the webhook.Handler's function: the delivery is acknowledged only once
// the event is stored, and ProcessInbox handles it afterwards, so a crash
// in between loses nothing and a redelivery is not stored twice.
//
// An app's webhook URL receives the events of every location it is
// installed in: events of a location other than the client's are ignored
// (acknowledged, not stored). With several locations, give the handler
// Route(inbounds...) instead.
func (in *Inbound) Receive(ctx context.Context, ev webhook.Event) error {
	m := ev.Info()
	if m.WebhookID == "" {
		return errors.New("contactsync: webhook event without a webhookId")
	}
	if loc := in.client.LocationID(); loc != "" && m.LocationID != "" && m.LocationID != loc {
		return nil
	}
	_, err := in.store.PutInbox(ctx, InboxEntry{ID: m.WebhookID, Received: in.now(), Timestamp: m.Timestamp, Body: m.Raw})
	return err
}

// Route returns a webhook.Handler function that hands each event to the
// Inbound of its location (by the client's location ID); events of other
// locations, and app-level events without one, are acknowledged and
// dropped. It panics if two Inbounds share a location.
func Route(locations ...*Inbound) func(context.Context, webhook.Event) error {
	by := make(map[string]*Inbound, len(locations))
	for _, in := range locations {
		loc := in.client.LocationID()
		if _, dup := by[loc]; dup || loc == "" {
			panic(fmt.Sprintf("contactsync: Route needs one Inbound per location, each client with its location ID (got %q twice or empty)", loc))
		}
		by[loc] = in
	}
	return func(ctx context.Context, ev webhook.Event) error {
		if in := by[ev.Info().LocationID]; in != nil {
			return in.Receive(ctx, ev)
		}
		return nil
	}
}

// ProcessInbox handles every stored webhook event, oldest first. An event
// whose sink delivery fails stays in the inbox and stops the pass (see
// WithDeadLetter).
func (in *Inbound) ProcessInbox(ctx context.Context) (rep InboundReport, err error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	ctx, release, err := in.holdLease(ctx)
	if err != nil {
		return rep, err
	}
	defer release()
	start := in.calls.Load()
	defer func() { rep.APICalls = in.calls.Load() - start }()
	for {
		entries, err := in.store.PendingInbox(ctx, 100)
		if err != nil {
			return rep, err
		}
		if len(entries) == 0 {
			return rep, in.store.PurgeInbox(ctx, in.now().Add(-in.keep))
		}
		for _, e := range entries {
			ev, err := webhook.Parse(e.Body)
			if err == nil {
				err = in.handleEvent(ctx, ev, &rep)
			} else {
				in.logger.Warn("contactsync: dropping a malformed inbox entry", "webhookId", e.ID, "error", err)
			}
			if err != nil {
				return rep, fmt.Errorf("contactsync: webhook %s: %w", e.ID, err)
			}
			if err := in.store.DoneInbox(ctx, e.ID); err != nil {
				return rep, err
			}
			rep.Events++
		}
	}
}

func (in *Inbound) handleEvent(ctx context.Context, ev webhook.Event, rep *InboundReport) error {
	at := ev.Info().Timestamp
	switch e := ev.(type) {
	case *webhook.ContactCreate:
		return in.handleContact(ctx, e.Contact, at, false, rep)
	case *webhook.ContactUpdate:
		return in.handleContact(ctx, e.Contact, at, false, rep)
	case *webhook.ContactTagUpdate:
		return in.handleContact(ctx, e.Contact, at, false, rep)
	case *webhook.ContactDndUpdate:
		return in.handleContact(ctx, e.Contact, at, false, rep)
	case *webhook.ContactDelete:
		return in.handleContactDeleted(ctx, e.Contact.ID, at, rep)
	case *webhook.TaskCreate:
		return in.taskEvent(ctx, e.Task, false, at, time.Time{}, rep)
	case *webhook.TaskComplete:
		done := true
		e.Task.Completed = &done
		return in.taskEvent(ctx, e.Task, false, at, at, rep)
	case *webhook.TaskDelete:
		return in.taskEvent(ctx, e.Task, true, at, time.Time{}, rep)
	case *webhook.NoteCreate:
		return in.noteEvent(ctx, e.Note, false, at, rep)
	case *webhook.NoteUpdate:
		return in.noteEvent(ctx, e.Note, false, at, rep)
	case *webhook.NoteDelete:
		return in.noteEvent(ctx, e.Note, true, at, rep)
	case *webhook.AppointmentCreate:
		return in.appointmentEvent(ctx, e.Appointment, false, at, rep)
	case *webhook.AppointmentUpdate:
		return in.appointmentEvent(ctx, e.Appointment, false, at, rep)
	case *webhook.AppointmentDelete:
		return in.appointmentEvent(ctx, e.Appointment, true, at, rep)
	}
	return nil // INSTALL, UNINSTALL and unknown events are not about members
}

// contactSeen is the state kept in Seen for a contact: its relevant hash
// inputs and the tag sets the next sighting is compared with.
type contactSeen struct {
	CRMTags     []string `json:"crmTags,omitempty"`     // tags the sync did not write
	MissingOurs []string `json:"missingOurs,omitempty"` // tags the sync wrote that the CRM removed
}

// handleContact compares a contact with what is known and delivers what
// changed in the CRM. fresh says c was read after the sync's last write
// to it (a GET made after the write); a webhook payload or a search
// result may predate that write.
func (in *Inbound) handleContact(ctx context.Context, c contacts.Contact, at time.Time, fresh bool, rep *InboundReport) error {
	if c.ID == "" {
		return nil
	}
	link, err := in.state.LinkByRemote(ctx, KindMember, c.ID)
	linked := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	seen, err := in.store.Seen(ctx, KindMember, c.ID)
	known := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	// Older news is stale; news as old as the last (equal timestamps: two
	// edits in one millisecond, a scan's dateUpdated equal to a webhook's
	// time) is compared by content below, which tells a repeat from news.
	if known && (at.Before(seen.At) || seen.Deleted && !at.After(seen.At)) {
		rep.Stale++
		return nil
	}
	cur := CurrentOf(&c)
	var last Mapped
	if linked {
		if last, err = UnmarshalMapped(link.State); err != nil {
			last = Mapped{}
		}
	}
	now := contactSeen{CRMTags: minus(c.Tags, link.Tags), MissingOurs: minus(link.Tags, c.Tags)}
	var prev contactSeen
	if known {
		_ = json.Unmarshal(seen.State, &prev)
	}
	// The hash covers what the sync last wrote too: a contact that looks
	// as it did at the last sighting is still a CRM edit if the sync has
	// written something else since (e.g. a CRM user undoing its write).
	hash := hashOf("contact", in.relevant(cur), now.CRMTags, now.MissingOurs, last.Hash())
	state, _ := json.Marshal(now)
	seenRec := Seen{Kind: KindMember, RemoteID: c.ID, At: at, Hash: hash, State: state}
	if known && seen.Hash == hash && !seen.Deleted {
		rep.Unchanged++
		return in.store.PutSeen(ctx, seenRec)
	}

	// Field by field: what differs from the sync's last write is a CRM
	// edit; the policies decide whether it flows to GymFlow.
	fields := map[string]string{}
	record := map[string]string{} // CRM values to record as last written
	conflict := false
	for _, t := range in.mapping.Targets() {
		crm, wrote, ok := compareTarget(t, cur, last)
		if !ok || crm == wrote {
			continue
		}
		p := in.policies.For(t)
		switch {
		case !linked || in.inboundWins(p, wrote, at, link.UpdatedAt):
			fields[t], record[t] = crm, crm
		case p != NewestWins:
			// GymFlow's value stands: with the CRM's value recorded as
			// last written, the next outbound sync sees GymFlow's value
			// as changed and rewrites it. (Under NewestWins the news is
			// older than the sync's last write and is not recorded.)
			record[t] = crm
			conflict = true
		default:
			conflict = true
		}
	}
	// Added: CRM tags new since the last sighting, and tags of the sync's
	// that the CRM had removed and has put back.
	added := minus(append(minus(now.CRMTags, prev.CRMTags), minus(prev.MissingOurs, now.MissingOurs)...), nil)
	added = slices.DeleteFunc(added, func(t string) bool { return !slices.Contains(c.Tags, t) })
	// A CRM tag that became the sync's (the engine linked the contact, or
	// committed a tag add, after the last sighting) is still on the
	// contact: only tags gone from it were removed.
	removed := minus(append(minus(prev.CRMTags, now.CRMTags), minus(now.MissingOurs, prev.MissingOurs)...), c.Tags)
	// A snapshot that differs from what the sync last wrote and is not
	// clearly newer than that write may simply predate it (a webhook
	// processed late, a search result read before the write or served
	// from a lagging index): read as it is, it would undo the sync's own
	// write (a tag just added reported removed, a field reported changed
	// back) and start a loop. A fresh read settles it. Webhook and
	// dateUpdated times are the API's clock and the write's time is ours:
	// WithClockSkew widens the window. The sync's own echoes match what it
	// wrote and cost nothing.
	if !fresh && linked && (len(fields) > 0 || len(added) > 0 || len(removed) > 0 || conflict) &&
		!at.After(link.UpdatedAt.Add(in.skew)) {
		return in.recheckContact(ctx, c.ID, at, rep)
	}
	if len(fields) == 0 && len(added) == 0 && len(removed) == 0 {
		if linked && conflict {
			if err := in.recordWritten(ctx, link.LocalID, c.ID, record, true); err != nil {
				return err
			}
		}
		rep.Echoes++ // what the sync wrote, or nothing GymFlow cares about
		return in.store.PutSeen(ctx, seenRec)
	}
	if !linked && (!in.unlinked || in.pendingCreateOf(ctx, c)) {
		return in.store.PutSeen(ctx, seenRec)
	}
	ch := ContactChanged{MemberID: link.LocalID, Contact: c, Fields: fields, Tags: slices.Clone(c.Tags), TagsAdded: added, TagsRemoved: removed, At: at}
	if err := in.deliver(ctx, ch, rep, &rep.ContactsChanged); err != nil {
		return err
	}
	if linked && (len(fields) > 0 || conflict) {
		// GymFlow now holds the CRM's values for the delivered fields:
		// record them as written, so the outbound sync of the updated
		// member sends nothing back; a conflict GymFlow won is rewritten.
		if err := in.recordWritten(ctx, link.LocalID, c.ID, record, conflict); err != nil {
			return err
		}
	}
	return in.store.PutSeen(ctx, seenRec)
}

// recheckContact reads a contact afresh (one call) and handles what it
// holds now.
func (in *Inbound) recheckContact(ctx context.Context, contactID string, at time.Time, rep *InboundReport) error {
	readAt := in.now()
	var c *contacts.Contact
	err := in.call(func(o ...contacts.RequestOption) (err error) {
		c, err = in.client.Contacts.Get(ctx, contactID, o...)
		return err
	})
	if errors.Is(err, contacts.ErrNotFound) || err == nil && c.Deleted {
		rep.Rechecked++
		return in.handleContactDeleted(ctx, contactID, readAt, rep)
	}
	if err != nil {
		return err
	}
	rep.Rechecked++
	if !c.DateUpdated.IsZero() {
		at = c.DateUpdated.Time
	}
	return in.handleContact(ctx, *c, at, true, rep)
}

// recordWritten records values (CRM values by target) in the snapshot of
// what the sync last wrote to a member's contact; rewrite clears the hash
// as well. The link is read afresh rather than reusing the copy read
// before the sink ran: the engine may have committed it meanwhile, and its
// tags, archive flag, contact and snapshot must survive.
func (in *Inbound) recordWritten(ctx context.Context, memberID, contactID string, values map[string]string, rewrite bool) error {
	link, err := in.state.Link(ctx, KindMember, memberID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if link.RemoteID != contactID {
		return nil // relinked meanwhile: the news is about another contact
	}
	last, err := UnmarshalMapped(link.State)
	if err != nil {
		last = Mapped{}
	}
	for t, v := range values {
		setTarget(&last, t, v)
	}
	snapshot, err := last.Marshal()
	if err != nil {
		return err
	}
	link.State, link.Hash = snapshot, last.Hash()
	if rewrite {
		link.Hash = ""
	}
	return in.state.PutLink(ctx, link)
}

// relevant is the part of a contact the mapping cares about.
func (in *Inbound) relevant(cur *Current) []string {
	var out []string
	for _, t := range in.mapping.Targets() {
		if v, _, ok := compareTarget(t, cur, Mapped{}); ok {
			out = append(out, t+"="+v)
		}
	}
	return out
}

// compareTarget returns a target's value on the contact and in the last
// write, canonicalised; ok is false for targets the API cannot read back
// (custom fields mapped by key: contacts carry custom fields by ID).
func compareTarget(t string, cur *Current, last Mapped) (crm, wrote string, ok bool) {
	if f, isCustom := parseCustomName(t); isCustom {
		if f.ID() == "" {
			return "", "", false
		}
		return canonicalCustom(cur.Custom[t]), canonicalCustom(last.Custom[t]), true
	}
	return cur.Fields[t], last.Fields[t], true
}

func setTarget(m *Mapped, t, v string) {
	if _, isCustom := parseCustomName(t); isCustom {
		if m.Custom == nil {
			m.Custom = map[string]any{}
		}
		if v == "" {
			delete(m.Custom, t)
		} else {
			m.Custom[t] = v
		}
		return
	}
	if m.Fields == nil {
		m.Fields = map[string]string{}
	}
	if v == "" {
		delete(m.Fields, t)
	} else {
		m.Fields[t] = v
	}
}

// inboundWins decides whether a CRM edit of a field flows to GymFlow.
func (in *Inbound) inboundWins(p Policy, wrote string, crmAt, syncAt time.Time) bool {
	switch p {
	case APIWins:
		return true
	case NewestWins:
		return syncAt.IsZero() || crmAt.After(syncAt)
	case FillIfEmpty:
		return wrote == ""
	}
	return false // GymFlowWins, NeverClear
}

// minus returns the elements of a not in b, sorted.
func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return out
}

func (in *Inbound) handleContactDeleted(ctx context.Context, contactID string, at time.Time, rep *InboundReport) error {
	seen, err := in.store.Seen(ctx, KindMember, contactID)
	if err == nil && (seen.Deleted || at.Before(seen.At)) {
		rep.Stale++
		return nil
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	link, err := in.state.LinkByRemote(ctx, KindMember, contactID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if link.LocalID != "" || in.unlinked {
		if err := in.deliver(ctx, ContactDeleted{MemberID: link.LocalID, ContactID: contactID, At: at}, rep, &rep.ContactsDeleted); err != nil {
			return err
		}
	}
	if err := in.activity.DeleteContactActivities(ctx, contactID); err != nil {
		return err
	}
	if err := in.store.ClearDirty(ctx, contactID, farFuture); err != nil {
		return err // nothing of a deleted contact is left to re-read
	}
	return in.store.PutSeen(ctx, Seen{Kind: KindMember, RemoteID: contactID, At: at, Deleted: true})
}

// --- activities --------------------------------------------------------------

// taskEvent applies a task webhook; completedAt is the time of a
// TaskComplete (zero for the others).
func (in *Inbound) taskEvent(ctx context.Context, t webhook.Task, deleted bool, at, completedAt time.Time, rep *InboundReport) error {
	a := Activity{Kind: KindTask, RemoteID: t.ID, ContactID: t.ContactID, Title: t.Title, Body: t.Body, At: t.DueDate.Time, UpdatedAt: at, CompletedAt: completedAt}
	if t.Completed != nil {
		a.Completed = *t.Completed
	} else if prev, err := in.activity.Activity(ctx, KindTask, t.ID); err == nil {
		a.Completed = prev.Completed // TaskCreate payloads lack completed
	}
	if err := in.scheduleFollowUp(ctx, t.ContactID, at.Add(in.followUp)); err != nil {
		return err
	}
	return in.applyActivity(ctx, a, deleted, false, rep)
}

// kindFollowUp keys the Seen record holding when a contact's task
// follow-up re-read is due: a dirty mark holds only the soonest re-read,
// which may be an appointment's immediate one.
const kindFollowUp Kind = "followup"

// scheduleFollowUp makes a contact's activity due for a re-read at due,
// keeping a later follow-up already scheduled.
func (in *Inbound) scheduleFollowUp(ctx context.Context, contactID string, due time.Time) error {
	if contactID == "" {
		return nil
	}
	prev, err := in.store.Seen(ctx, kindFollowUp, contactID)
	switch {
	case err != nil && !errors.Is(err, ErrNotFound):
		return err
	case err != nil || prev.At.Before(due):
		if err := in.store.PutSeen(ctx, Seen{Kind: kindFollowUp, RemoteID: contactID, At: due}); err != nil {
			return err
		}
	}
	return in.store.MarkDirty(ctx, contactID, due)
}

func (in *Inbound) noteEvent(ctx context.Context, n webhook.Note, deleted bool, at time.Time, rep *InboundReport) error {
	a := Activity{Kind: KindNote, RemoteID: n.ID, ContactID: n.ContactID, Body: n.Body, At: n.DateAdded.Time, UpdatedAt: at}
	if prev, err := in.activity.Activity(ctx, KindNote, n.ID); err == nil {
		a.Title = prev.Title // note payloads carry no title
	}
	return in.applyActivity(ctx, a, deleted, false, rep)
}

func (in *Inbound) appointmentEvent(ctx context.Context, ap webhook.Appointment, deleted bool, at time.Time, rep *InboundReport) error {
	a := Activity{Kind: KindAppointment, RemoteID: ap.ID, ContactID: ap.ContactID, Title: ap.Title, Body: ap.Notes,
		At: ap.StartTime.Time, End: ap.EndTime.Time, Status: ap.AppointmentStatus, UpdatedAt: at}
	// Update and delete payloads may claim to be creates (a documented
	// quirk): re-read the contact's appointments on the next refresh.
	if err := in.store.MarkDirty(ctx, ap.ContactID, at); err != nil {
		return err
	}
	return in.applyActivity(ctx, a, deleted, false, rep)
}

// applyActivity updates the read model and delivers the change, unless it
// is stale, a repeat, or an echo of what the outbound sync wrote. fresh
// says a was read after the sync's last write to it (a re-read); a webhook
// payload may predate that write.
func (in *Inbound) applyActivity(ctx context.Context, a Activity, deleted, fresh bool, rep *InboundReport) error {
	if a.RemoteID == "" || a.ContactID == "" {
		return nil
	}
	prev, err := in.activity.Activity(ctx, a.Kind, a.RemoteID)
	exists := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if exists && a.UpdatedAt.Before(prev.UpdatedAt) {
		rep.Stale++
		return nil
	}
	// News of a contact's activity from before the contact's deletion (a
	// late delivery) must not bring the activity back.
	if c, err := in.store.Seen(ctx, KindMember, a.ContactID); err == nil && c.Deleted && !a.UpdatedAt.After(c.At) {
		rep.Stale++
		return nil
	} else if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if !exists && !deleted {
		// Gone from the read model: news from before its deletion (a late
		// delivery) must not bring it back.
		if seen, err := in.store.Seen(ctx, a.Kind, a.RemoteID); err == nil && seen.Deleted && !a.UpdatedAt.After(seen.At) {
			rep.Stale++
			return nil
		} else if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	if link, err := in.state.LinkByRemote(ctx, KindMember, a.ContactID); err == nil {
		a.MemberID = link.LocalID
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	if deleted {
		if !exists {
			if seen, err := in.store.Seen(ctx, a.Kind, a.RemoteID); err == nil && seen.Deleted {
				rep.Stale++
				return nil
			}
		}
		// Delivered first, recorded after: a change the Sink refuses is
		// offered again by the next pass, not lost.
		if a.MemberID != "" || in.unlinked {
			d := a
			if exists {
				d = prevWith(prev, a)
			}
			if err := in.deliver(ctx, ActivityDeleted{Activity: d}, rep, &rep.ActivitiesDeleted); err != nil {
				return err
			}
		}
		if err := in.activity.DeleteActivity(ctx, a.Kind, a.RemoteID); err != nil {
			return err
		}
		return in.store.PutSeen(ctx, Seen{Kind: a.Kind, RemoteID: a.RemoteID, At: a.UpdatedAt, Deleted: true})
	}
	if a.Kind == KindTask {
		a.CompletedAt = completedAt(prev, exists, a)
	}
	same := exists && sameActivity(prev, a)
	echo := !same && in.isEcho(ctx, a)
	if !same && !echo && !fresh && in.mayPredateWrite(ctx, a) {
		// Not what the sync wrote, and not clearly newer than its write:
		// a late payload from before it would undo it. The contact's
		// re-read settles it (see handleContact).
		rep.Rechecked++
		return in.store.MarkDirty(ctx, a.ContactID, in.now())
	}
	switch {
	case same:
		rep.Unchanged++
	case echo:
		rep.Echoes++
	case a.MemberID == "" && !in.unlinked:
	default:
		// Delivered first, recorded after (see above).
		if err := in.deliver(ctx, ActivityChanged{Activity: a}, rep, &rep.ActivitiesChanged); err != nil {
			return err
		}
	}
	return in.activity.PutActivity(ctx, a)
}

// completedAt is when task a was done, as far as the read model knows
// (see Activity.CompletedAt): the earliest known of the news a and the
// model's prev; the time of a if it is the first news of the task done
// after it was seen open.
func completedAt(prev Activity, exists bool, a Activity) time.Time {
	switch {
	case !a.Completed:
		return time.Time{}
	case exists && prev.Completed && !prev.CompletedAt.IsZero():
		if !a.CompletedAt.IsZero() && a.CompletedAt.Before(prev.CompletedAt) {
			return a.CompletedAt
		}
		return prev.CompletedAt
	case exists && !prev.Completed && a.CompletedAt.IsZero():
		return a.UpdatedAt
	}
	return a.CompletedAt
}

func prevWith(prev, a Activity) Activity {
	prev.UpdatedAt, prev.MemberID = a.UpdatedAt, a.MemberID
	return prev
}

func sameActivity(a, b Activity) bool {
	return a.Title == b.Title && a.Body == b.Body && a.At.Equal(b.At) && a.End.Equal(b.End) &&
		a.Completed == b.Completed && a.Status == b.Status && a.ContactID == b.ContactID
}

// isEcho reports whether a task or note holds exactly what the outbound
// sync last wrote.
func (in *Inbound) isEcho(ctx context.Context, a Activity) bool {
	if a.Kind != KindTask && a.Kind != KindNote {
		return false
	}
	link, err := in.state.LinkByRemote(ctx, a.Kind, a.RemoteID)
	if err == nil {
		var written childPayload
		return json.Unmarshal(link.State, &written) == nil && payloadMatches(written, a)
	}
	// Not linked (yet): the outbound Engine may have sent the create and
	// not committed its link — the webhook can be processed in between, or
	// after a crash. Its pending create intent tells.
	intents, err := in.state.Intents(ctx)
	if err != nil {
		return false
	}
	for _, it := range intents {
		if it.Op != "create" || it.Kind != a.Kind {
			continue
		}
		var ci childIntent
		if json.Unmarshal(it.Data, &ci) == nil && ci.ContactID == a.ContactID && payloadMatches(ci.Payload, a) {
			return true
		}
	}
	return false
}

// mayPredateWrite reports whether news of a task or note the sync writes
// is not clearly newer than the sync's last write of it.
func (in *Inbound) mayPredateWrite(ctx context.Context, a Activity) bool {
	if a.Kind != KindTask && a.Kind != KindNote {
		return false
	}
	link, err := in.state.LinkByRemote(ctx, a.Kind, a.RemoteID)
	return err == nil && !a.UpdatedAt.After(link.UpdatedAt.Add(in.skew))
}

// payloadMatches reports whether an activity holds what the sync wrote.
func payloadMatches(written childPayload, a Activity) bool {
	if a.Kind == KindTask && written.Task != nil {
		w := written.Task
		return w.Title == a.Title && w.Body == a.Body && w.Completed == a.Completed && w.DueDate.Equal(a.At.Truncate(time.Second))
	}
	return a.Kind == KindNote && written.Note != nil && written.Note.Body == a.Body
}

// pendingCreateOf reports whether the outbound Engine has a create of a
// contact with this e-mail or phone in flight (sent, link not yet
// committed): such a contact is the sync's own, not an unlinked one.
func (in *Inbound) pendingCreateOf(ctx context.Context, c contacts.Contact) bool {
	intents, err := in.state.Intents(ctx)
	if err != nil {
		return false
	}
	for _, it := range intents {
		if it.Op != "create" || it.Kind != KindMember {
			continue
		}
		var mi memberIntent
		if json.Unmarshal(it.Data, &mi) != nil {
			continue
		}
		if mi.Email != "" && strings.EqualFold(mi.Email, c.Email) || mi.Phone != "" && mi.Phone == c.Phone {
			return true
		}
	}
	return false
}

// call makes one SDK call and counts it.
func (in *Inbound) call(f func(opts ...contacts.RequestOption) error) error {
	var meta contacts.Response
	err := f(contacts.WithResponse(&meta))
	in.calls.Add(int64(max(meta.Attempts, 1)))
	return err
}
