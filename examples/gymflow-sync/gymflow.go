package main

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
)

// The demo data, written by ./gen (go generate): last night's export of
// GymFlow's members and the changes GymFlow recorded since.
var (
	//go:embed testdata/members.json
	membersJSON []byte
	//go:embed testdata/changes.json
	changesJSON []byte
)

// gymflowDate is GymFlow's date format: day first. The API reads
// "01/02/2006" as month first, so GymFlow dates must go through
// contactsync.DateFormat, never straight through.
const gymflowDate = "02/01/2006"

// The location's custom fields the mapping writes, by key. With the
// embedded fake they are created at start; in a real location, create them
// (Settings → Custom Fields, contact fields) with these keys first.
const (
	fieldPlan   = "contact.membership_plan"
	fieldClub   = "contact.home_club"
	fieldJoined = "contact.member_since"
)

// gfMember is a member record of GymFlow's export.
type gfMember struct {
	ID        string   `json:"id"`
	FirstName string   `json:"first_name"`
	LastName  string   `json:"last_name"`
	Email     string   `json:"email"`
	Phone     string   `json:"phone"`
	Birthday  string   `json:"birthday"` // gymflowDate
	Plan      string   `json:"plan"`
	Joined    string   `json:"joined"` // gymflowDate
	HomeClub  string   `json:"home_club"`
	Tags      []string `json:"tags"`
	Tasks     []gfTask `json:"tasks"`
	Notes     []gfNote `json:"notes"`
	UpdatedAt string   `json:"updated_at"` // RFC 3339
}

type gfTask struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Body  string `json:"body"`
	Due   string `json:"due"` // RFC 3339
	Done  bool   `json:"done"`
}

type gfNote struct {
	ID   string `json:"id"`
	Body string `json:"body"`
}

// gfChange is one event of GymFlow's change feed.
type gfChange struct {
	Seq      int       `json:"seq"`
	At       string    `json:"at"`
	Type     string    `json:"type"`
	MemberID string    `json:"member_id"`
	Member   *gfMember `json:"member"`
	Added    []string  `json:"added"`
	Removed  []string  `json:"removed"`
	Task     *gfTask   `json:"task"`
	Note     *gfNote   `json:"note"`
}

// gymflowMapping is how a GymFlow member becomes a contact. defaultRegion
// is the country of phone numbers written without a country code.
func gymflowMapping(defaultRegion string) (*contactsync.Mapping, error) {
	return contactsync.NewMapping(
		contactsync.Map("first_name", contactsync.TargetFirstName, contactsync.Transform(contactsync.Trim), contactsync.Required()),
		contactsync.Map("last_name", contactsync.TargetLastName, contactsync.Transform(contactsync.Trim)),
		contactsync.Map("email", contactsync.TargetEmail, contactsync.Transform(contactsync.Email)),
		contactsync.Map("phone", contactsync.TargetPhone, contactsync.Transform(contactsync.E164(defaultRegion))),
		contactsync.Map("birthday", contactsync.TargetDateOfBirth, contactsync.Transform(contactsync.DateFormat(gymflowDate))),
		contactsync.MapCustom("plan", contactsync.ByKey(fieldPlan), contactsync.Transform(contactsync.Trim)),
		contactsync.MapCustom("home_club", contactsync.ByKey(fieldClub), contactsync.Transform(contactsync.Trim)),
		contactsync.MapCustom("joined", contactsync.ByKey(fieldJoined), contactsync.Transform(contactsync.DateFormat(gymflowDate))),
		contactsync.Const(contactsync.TargetSource, "gymflow"),
	)
}

// welcomeTask is the task created for a lead who signs up.
func welcomeTask(lead contactsync.Member, now time.Time) contactsync.Task {
	name, _ := lead.Fields["first_name"].(string)
	club, _ := lead.Fields["home_club"].(string)
	if club == "" {
		club = "their club"
	}
	return contactsync.Task{
		Title: strings.TrimSpace("Welcome call " + strings.TrimSpace(name)),
		Body:  "New sign-up from the website: call within a day and book a free intro session at " + club + ".",
		Due:   now.Add(24 * time.Hour),
	}
}

// member converts an export record to the sync's Member. Fields keep
// GymFlow's names and raw values: the mapping cleans them.
func (r *gfMember) member() (contactsync.Member, error) {
	m := contactsync.Member{ID: r.ID, Tags: slices.Clone(r.Tags), Fields: map[string]any{
		"first_name": r.FirstName, "last_name": r.LastName, "email": r.Email, "phone": r.Phone,
		"birthday": r.Birthday, "plan": r.Plan, "joined": r.Joined, "home_club": r.HomeClub,
	}}
	var err error
	if r.UpdatedAt != "" {
		if m.UpdatedAt, err = time.Parse(time.RFC3339, r.UpdatedAt); err != nil {
			return m, fmt.Errorf("member %s: updated_at: %w", r.ID, err)
		}
	}
	for _, t := range r.Tasks {
		task, err := t.task()
		if err != nil {
			return m, fmt.Errorf("member %s: %w", r.ID, err)
		}
		m.Tasks = append(m.Tasks, task)
	}
	for _, n := range r.Notes {
		m.Notes = append(m.Notes, contactsync.Note{ID: n.ID, Body: n.Body})
	}
	return m, nil
}

func (t *gfTask) task() (contactsync.Task, error) {
	out := contactsync.Task{ID: t.ID, Title: t.Title, Body: t.Body, Done: t.Done}
	if t.Due != "" {
		due, err := time.Parse(time.RFC3339, t.Due)
		if err != nil {
			return out, fmt.Errorf("task %s: due: %w", t.ID, err)
		}
		out.Due = due
	}
	return out, nil
}

// change converts a feed event to the sync's Change.
func (c *gfChange) change() (contactsync.Change, error) {
	needMember := func() (contactsync.Member, error) {
		if c.Member == nil {
			return contactsync.Member{}, fmt.Errorf("change %d (%s) has no member", c.Seq, c.Type)
		}
		return c.Member.member()
	}
	switch c.Type {
	case "member.updated":
		m, err := needMember()
		return contactsync.MemberUpserted{Member: m}, err
	case "lead.signed_up":
		m, err := needMember()
		return contactsync.LeadSignedUp{Lead: m}, err
	case "member.tags_changed":
		return contactsync.TagsChanged{Member: c.MemberID, Added: c.Added, Removed: c.Removed}, nil
	case "task.upserted":
		if c.Task == nil {
			return nil, fmt.Errorf("change %d (%s) has no task", c.Seq, c.Type)
		}
		t, err := c.Task.task()
		return contactsync.TaskUpserted{Member: c.MemberID, Task: t}, err
	case "note.upserted":
		if c.Note == nil {
			return nil, fmt.Errorf("change %d (%s) has no note", c.Seq, c.Type)
		}
		return contactsync.NoteUpserted{Member: c.MemberID, Note: contactsync.Note{ID: c.Note.ID, Body: c.Note.Body}}, nil
	case "member.deleted":
		return contactsync.MemberDeleted{Member: c.MemberID}, nil
	}
	return nil, fmt.Errorf("change %d: unknown type %q", c.Seq, c.Type)
}

// readMembers streams the members of an export — a JSON array of member
// records — one record at a time, so memory stays bounded however large
// the export.
func readMembers(r io.Reader) iter.Seq2[contactsync.Member, error] {
	return func(yield func(contactsync.Member, error) bool) {
		dec := json.NewDecoder(r)
		if err := expectDelim(dec, '['); err != nil {
			yield(contactsync.Member{}, err)
			return
		}
		for dec.More() {
			var rec gfMember
			if err := dec.Decode(&rec); err != nil {
				yield(contactsync.Member{}, fmt.Errorf("reading the export: %w", err))
				return
			}
			m, err := rec.member()
			if !yield(m, err) || err != nil {
				return
			}
		}
		if err := expectDelim(dec, ']'); err != nil {
			yield(contactsync.Member{}, err)
		}
	}
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("reading the export: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("reading the export: want %q, found %v", want, tok)
	}
	return nil
}

// readChanges decodes the change feed (small: a day of events).
func readChanges(data []byte) ([]contactsync.Change, error) {
	var feed []gfChange
	if err := json.Unmarshal(data, &feed); err != nil {
		return nil, fmt.Errorf("reading the change feed: %w", err)
	}
	out := make([]contactsync.Change, 0, len(feed))
	for i := range feed {
		c, err := feed[i].change()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// withChanges returns the members of the export as GymFlow holds them
// after the changes: edited, retagged, with new tasks and notes, without
// the deleted members, and with the leads who signed up at the end. It is
// what a new export would contain, and what a run syncs once its state
// store already holds the changes — syncing the old export instead would
// undo them in the CRM only for the feed to redo them.
func withChanges(members iter.Seq2[contactsync.Member, error], changes []contactsync.Change) iter.Seq2[contactsync.Member, error] {
	byMember := map[string][]contactsync.Change{}
	var order []string // members first seen in the feed, in feed order
	for _, c := range changes {
		id := c.MemberID()
		if _, ok := byMember[id]; !ok {
			order = append(order, id)
		}
		byMember[id] = append(byMember[id], c)
	}
	return func(yield func(contactsync.Member, error) bool) {
		seen := map[string]bool{}
		for m, err := range members {
			if err != nil {
				yield(m, err)
				return
			}
			seen[m.ID] = true
			if m, ok := applyChanges(&m, byMember[m.ID]); ok && !yield(*m, nil) {
				return
			}
		}
		for _, id := range order {
			if !seen[id] {
				if m, ok := applyChanges(nil, byMember[id]); ok && !yield(*m, nil) {
					return
				}
			}
		}
	}
}

// applyChanges applies a member's changes, in order, to its record (nil
// if the export does not have it). It returns false when there is no
// member afterwards.
func applyChanges(m *contactsync.Member, changes []contactsync.Change) (*contactsync.Member, bool) {
	for _, c := range changes {
		switch c := c.(type) {
		case contactsync.MemberUpserted:
			m = &c.Member
		case contactsync.LeadSignedUp:
			if m == nil {
				m = &c.Lead
			}
		case contactsync.MemberDeleted:
			m = nil
		case contactsync.TagsChanged:
			if m != nil {
				tags := slices.DeleteFunc(slices.Clone(m.Tags), func(t string) bool { return slices.Contains(c.Removed, t) })
				for _, t := range c.Added {
					if !slices.Contains(tags, t) {
						tags = append(tags, t)
					}
				}
				m.Tags = tags
			}
		case contactsync.TaskUpserted:
			if m != nil {
				m.Tasks = upsert(m.Tasks, c.Task, func(t contactsync.Task) string { return t.ID })
			}
		case contactsync.NoteUpserted:
			if m != nil {
				m.Notes = upsert(m.Notes, c.Note, func(n contactsync.Note) string { return n.ID })
			}
		}
	}
	return m, m != nil
}

func upsert[T any](list []T, v T, id func(T) string) []T {
	list = slices.Clone(list)
	if i := slices.IndexFunc(list, func(x T) bool { return id(x) == id(v) }); i >= 0 {
		list[i] = v
		return list
	}
	return append(list, v)
}

// seqOf returns changes as the sequence Apply takes.
func seqOf(changes []contactsync.Change) iter.Seq2[contactsync.Change, error] {
	return func(yield func(contactsync.Change, error) bool) {
		for _, c := range changes {
			if !yield(c, nil) {
				return
			}
		}
	}
}

// describeChanges summarises a feed for people: "51 changes: 16 member
// edits, 8 tag changes, …".
func describeChanges(changes []contactsync.Change) string {
	var edits, tags, tasks, notes, leads, deletes int
	for _, c := range changes {
		switch c.(type) {
		case contactsync.MemberUpserted:
			edits++
		case contactsync.TagsChanged:
			tags++
		case contactsync.TaskUpserted:
			tasks++
		case contactsync.NoteUpserted:
			notes++
		case contactsync.LeadSignedUp:
			leads++
		case contactsync.MemberDeleted:
			deletes++
		}
	}
	return fmt.Sprintf("%d changes: %d member edits, %d tag changes, %d tasks, %d notes, %d lead sign-ups, %d deletions",
		len(changes), edits, tags, tasks, notes, leads, deletes)
}

var errHalfConfigured = errors.New("set both " + envToken + " and " + envLocation + " to sync with the real API, or neither to use the embedded fake")
