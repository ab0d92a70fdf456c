package fleet

import (
	"reflect"
	"strings"
	"testing"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
)

func TestChangeRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 7, 9, 30, 0, 123456789, time.FixedZone("CET", 3600))
	full := contactsync.Member{
		ID: "m1",
		Fields: map[string]any{
			"s": "text", "b": true, "i": int64(-1 << 60), "u": uint64(1 << 63), "f": 2.5, "t": at,
			"l": []string{"a", "b"}, "empty": []string{}, "nil": nil,
		},
		Tags:      []string{"vip"},
		Tasks:     []contactsync.Task{{ID: "t1", Title: "Call", Body: "b", Due: at, Done: true, AssignedTo: "u1", UpdatedAt: at}},
		Notes:     []contactsync.Note{},
		UpdatedAt: at,
	}
	for _, ch := range []contactsync.Change{
		contactsync.MemberUpserted{Member: full},
		contactsync.MemberUpserted{Member: contactsync.Member{ID: "m2"}}, // nil tasks and notes stay nil
		contactsync.LeadSignedUp{Lead: contactsync.Member{ID: "lead1", Fields: map[string]any{"email": "a@example.com"}}},
		contactsync.TagsChanged{Member: "m1", Added: []string{"a"}, Removed: []string{"b"}},
		contactsync.TaskUpserted{Member: "m1", Task: contactsync.Task{ID: "t2", Due: at}},
		contactsync.NoteUpserted{Member: "m1", Note: contactsync.Note{ID: "n1", Body: "hi", UpdatedAt: at}},
		contactsync.MemberDeleted{Member: "m1"},
	} {
		b, err := encodeChange(ch)
		if err != nil {
			t.Fatalf("%T: %v", ch, err)
		}
		got, err := decodeChange(b)
		if err != nil {
			t.Fatalf("%T: %v", ch, err)
		}
		// Times come back equal as instants, in their zone's offset.
		if !reflect.DeepEqual(normalize(got), normalize(ch)) {
			t.Errorf("round trip of %T:\n got %#v\nwant %#v", ch, got, ch)
		}
	}
	// Integers of every size come back as int64 (unsigned as uint64),
	// which the mapping reads alike.
	for _, v := range []any{int(7), int8(7), int16(7), int32(7)} {
		w, err := wireValueOf(v)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := w.value(); got != int64(7) {
			t.Errorf("%T: got %#v", v, got)
		}
	}
}

func normalize(ch contactsync.Change) contactsync.Change {
	fix := func(t time.Time) time.Time { return t.UTC() }
	switch c := ch.(type) {
	case contactsync.MemberUpserted:
		m := c.Member
		m.UpdatedAt = fix(m.UpdatedAt)
		if v, ok := m.Fields["t"].(time.Time); ok {
			m.Fields["t"] = fix(v)
		}
		for i := range m.Tasks {
			m.Tasks[i].Due, m.Tasks[i].UpdatedAt = fix(m.Tasks[i].Due), fix(m.Tasks[i].UpdatedAt)
		}
		return contactsync.MemberUpserted{Member: m}
	case contactsync.TaskUpserted:
		c.Task.Due = fix(c.Task.Due)
		return c
	case contactsync.NoteUpserted:
		c.Note.UpdatedAt = fix(c.Note.UpdatedAt)
		return c
	}
	return ch
}

func TestChangeRefused(t *testing.T) {
	for name, ch := range map[string]contactsync.Change{
		"nil":             nil,
		"no member ID":    contactsync.MemberDeleted{},
		"a struct field":  contactsync.MemberUpserted{Member: contactsync.Member{ID: "m", Fields: map[string]any{"x": struct{}{}}}},
		"a list of ints":  contactsync.MemberUpserted{Member: contactsync.Member{ID: "m", Fields: map[string]any{"x": []any{1}}}},
		"over the limit":  contactsync.NoteUpserted{Member: "m", Note: contactsync.Note{ID: "n", Body: strings.Repeat("x", maxChangeBytes)}},
		"a foreign type":  foreign{},
		"lead without ID": contactsync.LeadSignedUp{},
	} {
		if _, err := encodeChange(ch); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
	for _, b := range []string{`{`, `{"type":"member"}`, `{"type":"x"}`, `{"type":"task","id":"m"}`, `{"type":"member","member":{"id":"m","fields":{"x":{}}}}`} {
		if _, err := decodeChange([]byte(b)); err == nil {
			t.Errorf("%s: decoded", b)
		}
	}
}

type foreign struct{}

func (foreign) MemberID() string { return "m" }
