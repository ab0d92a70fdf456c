package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
)

// The outbox holds each change as JSON: a type name and the change's
// fields. A member's Fields keep their kind through the round trip (a
// time.Time stays a time.Time, not a string; a signed integer of any size
// comes back an int64, an unsigned one a uint64, a float64 a float64, a
// []any of strings a []string), so that the engine maps a change read
// back as it would have mapped it in memory.

// maxChangeBytes bounds one encoded change.
const maxChangeBytes = 1 << 20

type wireChange struct {
	Type    string      `json:"type"`
	Member  *wireMember `json:"member,omitempty"`
	ID      string      `json:"id,omitempty"` // the member of a TagsChanged, TaskUpserted, NoteUpserted, MemberDeleted
	Added   []string    `json:"added,omitempty"`
	Removed []string    `json:"removed,omitempty"`
	Task    *wireTask   `json:"task,omitempty"`
	Note    *wireNote   `json:"note,omitempty"`
}

type wireMember struct {
	ID        string               `json:"id"`
	Fields    map[string]wireValue `json:"fields,omitempty"`
	Tags      []string             `json:"tags,omitempty"`
	Tasks     []wireTask           `json:"tasks"` // null (nil: leave them alone) differs from []
	Notes     []wireNote           `json:"notes"`
	UpdatedAt time.Time            `json:"updatedAt,omitzero"`
}

type wireTask struct {
	ID         string    `json:"id"`
	Title      string    `json:"title,omitempty"`
	Body       string    `json:"body,omitempty"`
	Due        time.Time `json:"due,omitzero"`
	Done       bool      `json:"done,omitempty"`
	AssignedTo string    `json:"assignedTo,omitempty"`
	UpdatedAt  time.Time `json:"updatedAt,omitzero"`
}

type wireNote struct {
	ID        string    `json:"id"`
	Body      string    `json:"body,omitempty"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// wireValue is one field value with its Go type: exactly one member is
// set (Null for nil).
type wireValue struct {
	S    *string    `json:"s,omitempty"`
	I    *int64     `json:"i,omitempty"`
	U    *uint64    `json:"u,omitempty"`
	F    *float64   `json:"f,omitempty"`
	B    *bool      `json:"b,omitempty"`
	T    *time.Time `json:"t,omitempty"`
	L    []string   `json:"l,omitempty"`
	List bool       `json:"list,omitempty"` // an empty []string
	Null bool       `json:"null,omitempty"`
}

// encodeChange returns ch as the outbox stores it.
func encodeChange(ch contactsync.Change) ([]byte, error) {
	var w wireChange
	switch c := ch.(type) {
	case contactsync.MemberUpserted:
		m, err := wireMemberOf(c.Member)
		if err != nil {
			return nil, err
		}
		w = wireChange{Type: "member", Member: m}
	case contactsync.LeadSignedUp:
		m, err := wireMemberOf(c.Lead)
		if err != nil {
			return nil, err
		}
		w = wireChange{Type: "lead", Member: m}
	case contactsync.TagsChanged:
		w = wireChange{Type: "tags", ID: c.Member, Added: c.Added, Removed: c.Removed}
	case contactsync.TaskUpserted:
		t := wireTaskOf(c.Task)
		w = wireChange{Type: "task", ID: c.Member, Task: &t}
	case contactsync.NoteUpserted:
		n := wireNote(c.Note)
		w = wireChange{Type: "note", ID: c.Member, Note: &n}
	case contactsync.MemberDeleted:
		w = wireChange{Type: "delete", ID: c.Member}
	case nil:
		return nil, errors.New("fleet: a nil change")
	default:
		return nil, fmt.Errorf("fleet: a change of type %T, which the fleet cannot store", ch)
	}
	if ch.MemberID() == "" {
		return nil, fmt.Errorf("fleet: a %s change without a member ID", w.Type)
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("fleet: encoding a %s change of member %q: %w", w.Type, ch.MemberID(), err)
	}
	if len(b) > maxChangeBytes {
		return nil, fmt.Errorf("fleet: a %s change of member %q is %d bytes, over the limit of %d", w.Type, ch.MemberID(), len(b), maxChangeBytes)
	}
	return b, nil
}

// decodeChange reads back what encodeChange wrote.
func decodeChange(b []byte) (contactsync.Change, error) {
	var w wireChange
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("fleet: decoding a change: %w", err)
	}
	switch w.Type {
	case "member", "lead":
		if w.Member == nil {
			return nil, fmt.Errorf("fleet: a %s change without its member", w.Type)
		}
		m, err := w.Member.member()
		if err != nil {
			return nil, err
		}
		if w.Type == "lead" {
			return contactsync.LeadSignedUp{Lead: m}, nil
		}
		return contactsync.MemberUpserted{Member: m}, nil
	case "tags":
		return contactsync.TagsChanged{Member: w.ID, Added: w.Added, Removed: w.Removed}, nil
	case "task":
		if w.Task == nil {
			return nil, errors.New("fleet: a task change without its task")
		}
		return contactsync.TaskUpserted{Member: w.ID, Task: contactsync.Task(*w.Task)}, nil
	case "note":
		if w.Note == nil {
			return nil, errors.New("fleet: a note change without its note")
		}
		return contactsync.NoteUpserted{Member: w.ID, Note: contactsync.Note(*w.Note)}, nil
	case "delete":
		return contactsync.MemberDeleted{Member: w.ID}, nil
	}
	return nil, fmt.Errorf("fleet: a change of unknown type %q", w.Type)
}

func wireTaskOf(t contactsync.Task) wireTask { return wireTask(t) }

func wireMemberOf(m contactsync.Member) (*wireMember, error) {
	w := &wireMember{ID: m.ID, Tags: m.Tags, UpdatedAt: m.UpdatedAt}
	if m.Tasks != nil {
		w.Tasks = make([]wireTask, len(m.Tasks))
		for i, t := range m.Tasks {
			w.Tasks[i] = wireTask(t)
		}
	}
	if m.Notes != nil {
		w.Notes = make([]wireNote, len(m.Notes))
		for i, n := range m.Notes {
			w.Notes[i] = wireNote(n)
		}
	}
	if len(m.Fields) > 0 {
		w.Fields = make(map[string]wireValue, len(m.Fields))
		for _, k := range slices.Sorted(maps.Keys(m.Fields)) {
			v, err := wireValueOf(m.Fields[k])
			if err != nil {
				return nil, fmt.Errorf("fleet: field %q of member %q: %w", k, m.ID, err)
			}
			w.Fields[k] = v
		}
	}
	return w, nil
}

func (w *wireMember) member() (contactsync.Member, error) {
	m := contactsync.Member{ID: w.ID, Tags: w.Tags, UpdatedAt: w.UpdatedAt}
	if w.Tasks != nil {
		m.Tasks = make([]contactsync.Task, len(w.Tasks))
		for i, t := range w.Tasks {
			m.Tasks[i] = contactsync.Task(t)
		}
	}
	if w.Notes != nil {
		m.Notes = make([]contactsync.Note, len(w.Notes))
		for i, n := range w.Notes {
			m.Notes[i] = contactsync.Note(n)
		}
	}
	if len(w.Fields) > 0 {
		m.Fields = make(map[string]any, len(w.Fields))
		for k, v := range w.Fields {
			x, err := v.value()
			if err != nil {
				return m, fmt.Errorf("fleet: field %q of member %q: %w", k, w.ID, err)
			}
			m.Fields[k] = x
		}
	}
	return m, nil
}

// wireValueOf accepts the types a Mapping reads (see contactsync.Member).
func wireValueOf(v any) (wireValue, error) {
	switch x := v.(type) {
	case nil:
		return wireValue{Null: true}, nil
	case string:
		return wireValue{S: &x}, nil
	case bool:
		return wireValue{B: &x}, nil
	case int:
		i := int64(x)
		return wireValue{I: &i}, nil
	case int8:
		i := int64(x)
		return wireValue{I: &i}, nil
	case int16:
		i := int64(x)
		return wireValue{I: &i}, nil
	case int32:
		i := int64(x)
		return wireValue{I: &i}, nil
	case int64:
		return wireValue{I: &x}, nil
	case uint:
		u := uint64(x)
		return wireValue{U: &u}, nil
	case uint8:
		u := uint64(x)
		return wireValue{U: &u}, nil
	case uint16:
		u := uint64(x)
		return wireValue{U: &u}, nil
	case uint32:
		u := uint64(x)
		return wireValue{U: &u}, nil
	case uint64:
		return wireValue{U: &x}, nil
	case float32:
		f := float64(x)
		return wireValue{F: &f}, nil
	case float64:
		return wireValue{F: &x}, nil
	case time.Time:
		return wireValue{T: &x}, nil
	case []string:
		return wireValue{L: x, List: len(x) == 0}, nil
	case []any:
		l := make([]string, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return wireValue{}, fmt.Errorf("a list holding a %T (only strings)", e)
			}
			l[i] = s
		}
		return wireValue{L: l, List: len(l) == 0}, nil
	}
	return wireValue{}, fmt.Errorf("a value of type %T (strings, numbers, booleans, time.Time or []string)", v)
}

func (w wireValue) value() (any, error) {
	switch {
	case w.Null:
		return nil, nil
	case w.S != nil:
		return *w.S, nil
	case w.B != nil:
		return *w.B, nil
	case w.I != nil:
		return *w.I, nil
	case w.U != nil:
		return *w.U, nil
	case w.F != nil:
		return *w.F, nil
	case w.T != nil:
		return *w.T, nil
	case w.L != nil || w.List:
		return append([]string{}, w.L...), nil
	}
	return nil, errors.New("a value of no known type")
}
