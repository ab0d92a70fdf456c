package contacts_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	contacts "github.com/gymflow/contacts-go"
)

func TestNullableMarshalling(t *testing.T) {
	t.Parallel()
	in := contacts.ContactUpdate{
		FirstName: contacts.Value("Ana"),
		Website:   contacts.Null[string](),
		Tags:      []string{},
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"firstName":"Ana","website":null,"tags":[]}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	b, _ = json.Marshal(contacts.ContactUpdate{})
	if string(b) != `{}` {
		t.Errorf("empty update = %s, want {}", b)
	}

	var n contacts.Nullable[int]
	if err := json.Unmarshal([]byte(`null`), &n); err != nil || !n.IsNull() {
		t.Errorf("null: %v %v", n, err)
	}
	if err := json.Unmarshal([]byte(`7`), &n); err != nil {
		t.Fatal(err)
	}
	if v, ok := n.Get(); !ok || v != 7 {
		t.Errorf("Get = %v %v", v, ok)
	}
}

func TestTimeDecodesLeniently(t *testing.T) {
	t.Parallel()
	cases := map[string]time.Time{
		`"2021-07-02T05:18:26.704Z"`:       time.Date(2021, 7, 2, 5, 18, 26, 704e6, time.UTC),
		`"2021-07-02T05:18:26+02:00"`:      time.Date(2021, 7, 2, 3, 18, 26, 0, time.UTC),
		`"2021-07-16 11:00:00"`:            time.Date(2021, 7, 16, 11, 0, 0, 0, time.UTC),
		`"2021-07-16"`:                     time.Date(2021, 7, 16, 0, 0, 0, 0, time.UTC),
		`1631087949919`:                    time.UnixMilli(1631087949919),
		`"1631087949919"`:                  time.UnixMilli(1631087949919),
		`null`:                             {},
		`""`:                               {},
		`"Date format will be YYYY-MM-DD"`: {},
	}
	for in, want := range cases {
		var v struct {
			T contacts.Time `json:"t"`
		}
		if err := json.Unmarshal([]byte(`{"t":`+in+`}`), &v); err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if !v.T.Equal(want) {
			t.Errorf("%s: got %v, want %v", in, v.T.Time, want)
		}
	}
	b, _ := json.Marshal(contacts.Time{Time: time.Date(2021, 7, 2, 5, 18, 26, 704e6, time.UTC)})
	if string(b) != `"2021-07-02T05:18:26.704Z"` {
		t.Errorf("marshal = %s", b)
	}
}

func TestStringListShapes(t *testing.T) {
	t.Parallel()
	cases := map[string][]string{
		`["a","b"]`: {"a", "b"},
		`"single"`:  {"single"},
		`""`:        nil,
		`null`:      nil,
		`[{"email":"a@x.co"},{"email":"b@x.co"}]`:     {"a@x.co", "b@x.co"},
		`[{"phone":"+1555"},{"label":"x","id":"p2"}]`: {"+1555", "p2"},
		`[1, "two", null]`:                            {"1", "two"},
	}
	for in, want := range cases {
		var l contacts.StringList
		if err := json.Unmarshal([]byte(in), &l); err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if len(l) == 0 && len(want) == 0 {
			continue
		}
		if !reflect.DeepEqual([]string(l), want) {
			t.Errorf("%s: got %q, want %q", in, l, want)
		}
	}
	var l contacts.StringList
	if err := json.Unmarshal([]byte(`{"not":"a list"}`), &l); err == nil {
		t.Error("an object decoded as a StringList")
	}
}

func TestCustomValueAccessors(t *testing.T) {
	t.Parallel()
	var fields []contacts.CustomField
	raw := `[{"id":"s","value":"Gold"},{"id":"n","value":12.5},{"id":"ns","value":"42"},{"id":"l","value":["a","b"]},{"id":"f","value":{"file-1":{"meta":{"name":"x.png"}}}},{"id":"z","value":null}]`
	if err := json.Unmarshal([]byte(raw), &fields); err != nil {
		t.Fatal(err)
	}
	get := func(id string) contacts.CustomValue {
		for _, f := range fields {
			if f.ID == id {
				return f.Value
			}
		}
		t.Fatalf("no field %s", id)
		return contacts.CustomValue{}
	}
	if s, ok := get("s").Text(); !ok || s != "Gold" {
		t.Errorf("Text = %q %v", s, ok)
	}
	if f, ok := get("n").Number(); !ok || f != 12.5 {
		t.Errorf("Number = %v %v", f, ok)
	}
	if f, ok := get("ns").Number(); !ok || f != 42 {
		t.Errorf("Number of string = %v %v", f, ok)
	}
	if l, ok := get("l").Strings(); !ok || !reflect.DeepEqual(l, []string{"a", "b"}) {
		t.Errorf("Strings = %v %v", l, ok)
	}
	if got := get("l").String(); got != "a, b" {
		t.Errorf("String = %q", got)
	}
	var files map[string]map[string]map[string]string
	if err := get("f").Decode(&files); err != nil || files["file-1"]["meta"]["name"] != "x.png" {
		t.Errorf("Decode = %v %v", files, err)
	}
	if !get("z").IsNull() || get("z").String() != "" {
		t.Error("null value")
	}
	if _, ok := get("s").Number(); ok {
		t.Error("Gold parsed as a number")
	}
	// Round trip keeps the raw JSON.
	b, _ := json.Marshal(fields)
	if string(b) != raw {
		t.Errorf("round trip:\n%s\n%s", b, raw)
	}
}

func TestCustomFieldInputShapes(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal([]contacts.CustomFieldInput{
		contacts.FieldByID("f1", "Gold"),
		contacts.FieldByKey("contact.visits", 12),
		contacts.FieldByKey("contact.classes", []string{"yoga", "spin"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"id":"f1","field_value":"Gold"},{"key":"contact.visits","field_value":12},{"key":"contact.classes","field_value":["yoga","spin"]}]`
	if string(b) != want {
		t.Errorf("got %s\nwant %s", b, want)
	}
}

func TestFilterJSON(t *testing.T) {
	t.Parallel()
	f := contacts.And(
		contacts.Where("email", contacts.OpEq, "ana@example.com"),
		contacts.Or(contacts.Exists("phone"), contacts.Where("dateUpdated", contacts.OpRange, contacts.Range{GTE: "2026-01-01"})),
	)
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"group":"AND","filters":[{"field":"email","operator":"eq","value":"ana@example.com"},{"group":"OR","filters":[{"field":"phone","operator":"exists"},{"field":"dateUpdated","operator":"range","value":{"gte":"2026-01-01"}}]}]}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	var back contacts.Filter
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(back)
	if string(b2) != want {
		t.Errorf("round trip %s", b2)
	}
}
