package contactsync_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	contacts "github.com/gymflow/contacts-go"
	contactsync "github.com/gymflow/contacts-go/sync"
)

// mustMapping builds a mapping or fails the test.
func mustMapping(t *testing.T, rules ...contactsync.Rule) *contactsync.Mapping {
	t.Helper()
	mp, err := contactsync.NewMapping(rules...)
	if err != nil {
		t.Fatalf("NewMapping: %v", err)
	}
	return mp
}

// gymMapping is a realistic mapping of a GymFlow export.
func gymMapping(t *testing.T) *contactsync.Mapping {
	return mustMapping(t,
		contactsync.Map("first_name", "firstName", contactsync.Transform(contactsync.Trim), contactsync.Required()),
		contactsync.Map("last_name", "lastName", contactsync.Transform(contactsync.Trim)),
		contactsync.Map("email", "email", contactsync.Transform(contactsync.Email)),
		contactsync.Map("mobile", "phone", contactsync.Transform(contactsync.E164("GB"))),
		contactsync.Map("birthday", "dateOfBirth", contactsync.Transform(contactsync.DateFormat("02/01/2006"))),
		contactsync.Map("city", "city", contactsync.Transform(contactsync.Trim), contactsync.Fallback("London")),
		contactsync.Map("company", "companyName"),
		contactsync.Const("source", "gymflow"),
		contactsync.MapCustom("plan", contactsync.ByKey("contact.plan"), contactsync.Transform(contactsync.Trim, contactsync.Lower)),
		contactsync.MapCustom("visits", contactsync.ByID("fVisits")),
		contactsync.MapCustom("classes", contactsync.ByID("fClasses")),
		contactsync.ConstCustom(contactsync.ByKey("contact.synced_by"), "gymflow"),
	)
}

func TestTransformCase(t *testing.T) {
	tests := []struct {
		name string
		fn   contactsync.TransformFunc
		in   any
		want any
	}{
		{"trim string", contactsync.Trim, "  Ana \t", "Ana"},
		{"trim list", contactsync.Trim, []string{" a", "b "}, []string{"a", "b"}},
		{"trim []any of strings", contactsync.Trim, []any{" a ", "b"}, []string{"a", "b"}},
		{"trim []any mixed passes", contactsync.Trim, []any{" a ", 1}, []any{" a ", 1}},
		{"trim number passes", contactsync.Trim, 42, 42},
		{"trim nil passes", contactsync.Trim, nil, nil},
		{"lower", contactsync.Lower, "ÄNA Gold", "äna gold"},
		{"lower list", contactsync.Lower, []string{"Yoga", "HIIT"}, []string{"yoga", "hiit"}},
		{"upper", contactsync.Upper, "gb", "GB"},
		{"upper bool passes", contactsync.Upper, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.fn(tt.in)
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestTransformDoesNotModifyInput(t *testing.T) {
	in := []string{" A ", "B"}
	for _, fn := range []contactsync.TransformFunc{contactsync.Trim, contactsync.Lower, contactsync.Upper} {
		if _, err := fn(in); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(in, []string{" A ", "B"}) {
		t.Fatalf("input modified: %q", in)
	}
}

func TestTransformEmail(t *testing.T) {
	valid := map[string]string{
		" Ana@Example.COM ":                  "ana@example.com",
		"ana.maria+gym@mail.example.co.uk":   "ana.maria+gym@mail.example.co.uk",
		"o'brien@example.ie":                 "o'brien@example.ie",
		"x@xn--80ak6aa92e.com":               "x@xn--80ak6aa92e.com",
		"first_last-1@sub-domain.example.de": "first_last-1@sub-domain.example.de",
		"":                                   "",
	}
	for in, want := range valid {
		got, err := contactsync.Email(in)
		if err != nil || got != want {
			t.Errorf("Email(%q) = %#v, %v; want %q", in, got, err, want)
		}
	}
	invalid := []any{
		"ana",
		"ana@",
		"@example.com",
		"ana@example",
		"ana@example.c",
		"Ana <ana@example.com>",
		"ana@@example.com",
		"ana maria@example.com",
		"ana@-example.com",
		"ana@example-.com",
		"ana@[127.0.0.1]",
		"ana@example..com",
		"ana@example.com.",
		"ana@example.com, bo@example.com",
		42,
		nil,
	}
	for _, in := range invalid {
		if got, err := contactsync.Email(in); err == nil {
			t.Errorf("Email(%#v) = %#v, want an error", in, got)
		}
	}
}

func TestTransformDateFormat(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	tests := []struct {
		layout string
		in     any
		want   any
		err    string
	}{
		{"02/01/2006", "25/09/1990", "1990-09-25", ""},
		{"02/01/2006", " 01/02/2003 ", "2003-02-01", ""},
		{"01/02/2006", "09/25/1990", "1990-09-25", ""},
		{"2006-01-02T15:04:05Z07:00", "1990-09-25T23:30:00+01:00", "1990-09-25", ""},
		{"Jan 2, 2006", "Sep 25, 1990", "1990-09-25", ""},
		{"02/01/2006", time.Date(1990, 9, 25, 0, 0, 0, 0, time.UTC), "1990-09-25", ""},
		{"02/01/2006", time.Date(1990, 9, 25, 0, 30, 0, 0, berlin), "1990-09-25", ""},
		{"02/01/2006", contacts.Time{Time: time.Date(1985, 1, 2, 0, 0, 0, 0, time.UTC)}, "1985-01-02", ""},
		{"02/01/2006", "", "", ""},
		{"02/01/2006", "1990-09-25", nil, `date "1990-09-25" does not match layout "02/01/2006"`},
		{"02/01/2006", "31/02/1990", nil, `date "31/02/1990" does not match layout`},
		{"02/01/2006", 19900925, nil, "date must be a string or a time.Time, not int"},
		{"", "1990-09-25", nil, "DateFormat needs a layout"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.layout, "/", tt.in), func(t *testing.T) {
			got, err := contactsync.DateFormat(tt.layout)(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %#v, %v; want error %q", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %#v, %v; want %#v", got, err, tt.want)
			}
		})
	}
	if _, err := contactsync.DateFormat("")("x"); !errors.Is(err, contactsync.ErrBadMapping) {
		t.Fatalf("empty layout: %v, want ErrBadMapping", err)
	}
}

func TestTransformJoin(t *testing.T) {
	tests := []struct {
		in   any
		want any
		err  bool
	}{
		{[]string{"yoga", "spin", "hiit"}, "yoga, spin, hiit", false},
		{[]string{"yoga", "", "hiit"}, "yoga, hiit", false},
		{[]string{}, "", false},
		{[]any{"yoga", "spin"}, "yoga, spin", false},
		{[]any{"yoga", 2}, nil, true},
		{"already text", "already text", false},
		{7, 7, false},
	}
	for _, tt := range tests {
		got, err := contactsync.Join(", ")(tt.in)
		if tt.err != (err != nil) || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Join(%#v) = %#v, %v; want %#v (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestMappingNewErrors(t *testing.T) {
	badTransform := contactsync.TransformFunc(nil)
	tests := []struct {
		name  string
		rules []contactsync.Rule
		want  string
	}{
		{"unknown target", []contactsync.Rule{contactsync.Map("email", "emailAddress")},
			`rule 0 ("email" → emailAddress): unknown target "emailAddress"`},
		{"tags are no target", []contactsync.Rule{contactsync.Map("labels", "tags")},
			`rule 0 ("labels" → tags): tags are not a mapping target`},
		{"unknown const target", []contactsync.Rule{contactsync.Const("type", "lead")},
			`rule 0 (constant → type): unknown target "type"`},
		{"duplicate target", []contactsync.Rule{contactsync.Map("email", "email"), contactsync.Map("work_email", "email")},
			`rule 1 ("work_email" → email): duplicate target email (also rule 0)`},
		{"duplicate const target", []contactsync.Rule{contactsync.Map("src", "source"), contactsync.Const("source", "gymflow")},
			`rule 1 (constant → source): duplicate target source (also rule 0)`},
		{"duplicate custom target", []contactsync.Rule{
			contactsync.MapCustom("plan", contactsync.ByKey("contact.plan")),
			contactsync.ConstCustom(contactsync.ByKey("contact.plan"), "basic")},
			`rule 1 (constant → key:contact.plan): duplicate target key:contact.plan (also rule 0)`},
		{"empty source", []contactsync.Rule{contactsync.Map("", "email")},
			`rule 0 ("" → email): empty source field`},
		{"blank source", []contactsync.Rule{contactsync.MapCustom("  ", contactsync.ByID("f1"))},
			`rule 0 ("  " → id:f1): empty source field`},
		{"nil transform", []contactsync.Rule{contactsync.Map("email", "email", contactsync.Transform(contactsync.Trim, badTransform))},
			`rule 0 ("email" → email): transform 1 is nil`},
		{"custom field without id or key", []contactsync.Rule{contactsync.MapCustom("plan", contactsync.CustomField{})},
			`rule 0 ("plan" → custom field without id or key): custom field has neither id nor key`},
		{"blank custom id", []contactsync.Rule{contactsync.MapCustom("plan", contactsync.ByID("  "))},
			`custom field has neither id nor key`},
		{"const custom without id or key", []contactsync.Rule{contactsync.ConstCustom(contactsync.ByKey(""), "x")},
			`rule 0 (constant → custom field without id or key): custom field has neither id nor key`},
		{"list fallback for a string target", []contactsync.Rule{contactsync.Map("city", "city", contactsync.Fallback([]string{"London"}))},
			`rule 0 ("city" → city): fallback: a list ([]string) cannot be written to city; add a Join transform`},
		{"map fallback for a string target", []contactsync.Rule{contactsync.Map("city", "city", contactsync.Fallback(map[string]string{}))},
			`fallback: a map[string]string cannot be written to city`},
		{"empty fallback", []contactsync.Rule{contactsync.Map("city", "city", contactsync.Fallback(""))},
			`rule 0 ("city" → city): fallback is empty`},
		{"bad date fallback", []contactsync.Rule{contactsync.Map("dob", "dateOfBirth", contactsync.Fallback("25/09/1990"))},
			`fallback: "25/09/1990" is not a date the API accepts`},
		{"struct fallback for a custom field", []contactsync.Rule{contactsync.MapCustom("plan", contactsync.ByID("f1"), contactsync.Fallback(struct{}{}))},
			`fallback: a struct {} cannot be written to a custom field`},
		{"mixed list fallback for a custom field", []contactsync.Rule{contactsync.MapCustom("plan", contactsync.ByID("f1"), contactsync.Fallback([]any{"a", 1}))},
			`fallback: a list of values other than strings cannot be written to a custom field`},
		{"list constant for a string target", []contactsync.Rule{contactsync.Const("source", []string{"gymflow"})},
			`rule 0 (constant → source): constant: a list ([]string) cannot be written to source`},
		{"empty constant", []contactsync.Rule{contactsync.Const("source", " ")},
			`rule 0 (constant → source): constant is empty`},
		{"nil constant", []contactsync.Rule{contactsync.ConstCustom(contactsync.ByID("f1"), nil)},
			`rule 0 (constant → id:f1): constant is empty`},
		{"huge integer constant for a custom field", []contactsync.Rule{contactsync.ConstCustom(contactsync.ByID("f1"), int64(1)<<60)},
			`integer 1152921504606846976 is too large for a number field`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mp, err := contactsync.NewMapping(tt.rules...)
			if err == nil {
				t.Fatalf("NewMapping = %v, want an error", mp)
			}
			if mp != nil {
				t.Fatalf("NewMapping returned a mapping with the error %v", err)
			}
			if !errors.Is(err, contactsync.ErrBadMapping) {
				t.Fatalf("error %v does not match ErrBadMapping", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q\nwant it to contain %q", err, tt.want)
			}
		})
	}
}

func TestMappingNewReportsEveryError(t *testing.T) {
	_, err := contactsync.NewMapping(
		contactsync.Map("email", "mail"),
		contactsync.Map("", "phone"),
		contactsync.MapCustom("x", contactsync.CustomField{}),
	)
	want := `contactsync: invalid mapping: rule 0 ("email" → mail): unknown target "mail" (want one of firstName, lastName, name, email, phone, address1, city, state, postalCode, country, website, timezone, companyName, gender, source, dateOfBirth, assignedTo)
contactsync: invalid mapping: rule 1 ("" → phone): empty source field
contactsync: invalid mapping: rule 2 ("x" → custom field without id or key): custom field has neither id nor key`
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n%v\nwant:\n%s", err, want)
	}
}

func TestMappingNewAcceptsValidRules(t *testing.T) {
	var rules []contactsync.Rule
	for i, target := range contactsync.AllTargets() {
		rules = append(rules, contactsync.Map(fmt.Sprintf("f%d", i), target))
	}
	rules = append(rules,
		contactsync.MapCustom("plan", contactsync.ByKey("contact.plan"), contactsync.Fallback("basic")),
		contactsync.MapCustom("visits", contactsync.ByID("fVisits"), contactsync.Fallback(0)),
		contactsync.MapCustom("classes", contactsync.ByID("fClasses"), contactsync.Fallback([]string{"none"})),
		contactsync.ConstCustom(contactsync.ByID("fOrigin"), "gymflow"),
	)
	mp := mustMapping(t, rules...)
	want := []string{"firstName", "lastName", "name", "email", "phone", "address1", "city", "state",
		"postalCode", "country", "website", "timezone", "companyName", "gender", "source", "dateOfBirth",
		"assignedTo", "key:contact.plan", "id:fVisits", "id:fClasses", "id:fOrigin"}
	if got := mp.Targets(); !slices.Equal(got, want) {
		t.Fatalf("Targets() = %q\nwant %q", got, want)
	}
	// Fallbacks of other types than string are fine for string targets.
	mustMapping(t,
		contactsync.Map("age", "name", contactsync.Fallback(0)),
		contactsync.Map("dob", "dateOfBirth", contactsync.Fallback(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))),
		contactsync.Map("vip", "website", contactsync.Fallback(false)),
	)
}

func TestMappingCreateOnly(t *testing.T) {
	for _, target := range contactsync.AllTargets() {
		want := target == "companyName" || target == "gender"
		if got := contactsync.CreateOnly(target); got != want {
			t.Errorf("CreateOnly(%q) = %v, want %v", target, got, want)
		}
	}
	if contactsync.CreateOnly("nope") {
		t.Error(`CreateOnly("nope") = true`)
	}
}

func TestMappingApply(t *testing.T) {
	mp := gymMapping(t)
	tests := []struct {
		name   string
		member contactsync.Member
		want   contactsync.Mapped
	}{
		{
			name: "full member",
			member: contactsync.Member{
				ID: "m1",
				Fields: map[string]any{
					"first_name": " Ana ",
					"last_name":  "Silva",
					"email":      "Ana.Silva@Example.com ",
					"mobile":     "020 7946 0958",
					"birthday":   "25/09/1990",
					"city":       "Bristol",
					"company":    "Acme Ltd",
					"plan":       " Gold ",
					"visits":     42,
					"classes":    []string{"yoga", "spin"},
					"unmapped":   "ignored",
				},
				Tags: []string{" vip", "member", "vip ", "", "Member"},
			},
			want: contactsync.Mapped{
				Fields: map[string]string{
					"firstName":   "Ana",
					"lastName":    "Silva",
					"email":       "ana.silva@example.com",
					"phone":       "+442079460958",
					"dateOfBirth": "1990-09-25",
					"city":        "Bristol",
					"companyName": "Acme Ltd",
					"source":      "gymflow",
				},
				Custom: map[string]any{
					"key:contact.plan":      "gold",
					"id:fVisits":            float64(42),
					"id:fClasses":           []string{"yoga", "spin"},
					"key:contact.synced_by": "gymflow",
				},
				Tags: []string{"Member", "member", "vip"},
			},
		},
		{
			name: "phone only, fallback city, optional fields absent",
			member: contactsync.Member{
				ID:     "m2",
				Fields: map[string]any{"first_name": "Bo", "mobile": "+44 20 7946 0958", "city": "  ", "last_name": nil, "classes": []string{}},
			},
			want: contactsync.Mapped{
				Fields: map[string]string{
					"firstName": "Bo",
					"phone":     "+442079460958",
					"city":      "London",
					"source":    "gymflow",
				},
				Custom: map[string]any{"key:contact.synced_by": "gymflow"},
			},
		},
		{
			name: "email only, time.Time birthday",
			member: contactsync.Member{
				ID: "m3",
				Fields: map[string]any{
					"first_name": "Cy", "email": "cy@example.org",
					"birthday": time.Date(1970, 1, 2, 0, 0, 0, 0, time.UTC),
					"visits":   json.Number("7.5"),
				},
			},
			want: contactsync.Mapped{
				Fields: map[string]string{
					"firstName": "Cy", "email": "cy@example.org", "dateOfBirth": "1970-01-02",
					"city": "London", "source": "gymflow",
				},
				Custom: map[string]any{"id:fVisits": 7.5, "key:contact.synced_by": "gymflow"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mp.Apply(tt.member)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Apply =\n%#v\nwant\n%#v", got, tt.want)
			}
		})
	}
}

func TestMappingApplyConversions(t *testing.T) {
	mp := mustMapping(t,
		contactsync.Map("v", "name"),
		contactsync.Map("dob", "dateOfBirth"),
		contactsync.MapCustom("v", contactsync.ByID("c")),
		contactsync.Const("email", "x@example.com"),
	)
	when := time.Date(2024, 3, 5, 6, 7, 8, 0, time.UTC)
	tests := []struct {
		in       any
		name     string
		custom   any
		noCustom bool
	}{
		{"text", "text", "text", false},
		{42, "42", float64(42), false},
		{int64(-7), "-7", float64(-7), false},
		{uint8(9), "9", float64(9), false},
		{3.25, "3.25", 3.25, false},
		{float32(0.5), "0.5", 0.5, false},
		{1e21, "1000000000000000000000", 1e21, false},
		{0, "0", float64(0), false},
		{true, "true", "true", false},
		{false, "false", "false", false},
		{json.Number("12"), "12", float64(12), false},
		{when, "2024-03-05T06:07:08Z", "2024-03-05T06:07:08Z", false},
		{[]any{"a", "b"}, "", []string{"a", "b"}, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%T/%v", tt.in, tt.in), func(t *testing.T) {
			got, err := mp.Apply(contactsync.Member{ID: "m", Fields: map[string]any{"v": tt.in}})
			if _, isList := tt.in.([]any); isList {
				var re *contactsync.RecordError
				if !errors.As(err, &re) || re.Field != "v" || !strings.Contains(re.Reason, "add a Join transform") {
					t.Fatalf("list into name: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Fields["name"] != tt.name {
				t.Errorf("name = %q, want %q", got.Fields["name"], tt.name)
			}
			if !reflect.DeepEqual(got.Custom["id:c"], tt.custom) {
				t.Errorf("custom = %#v, want %#v", got.Custom["id:c"], tt.custom)
			}
		})
	}
	dobs := map[any]string{
		"1990-09-25":           "1990-09-25",
		"09/25/1990":           "1990-09-25",
		"1990/09/25":           "1990-09-25",
		"09-25-1990":           "1990-09-25",
		"1990.09.25":           "1990-09-25",
		"1990_09_25":           "1990-09-25",
		"1990-09-25T00:00:00Z": "1990-09-25",
		when:                   "2024-03-05",
	}
	for in, want := range dobs {
		got, err := mp.Apply(contactsync.Member{ID: "m", Fields: map[string]any{"dob": in}})
		if err != nil || got.Fields["dateOfBirth"] != want {
			t.Errorf("dateOfBirth from %#v = %q, %v; want %q", in, got.Fields["dateOfBirth"], err, want)
		}
	}
}

func TestMappingApplyErrors(t *testing.T) {
	mp := gymMapping(t)
	tests := []struct {
		name   string
		fields map[string]any
		want   contactsync.RecordError
	}{
		{"missing required", map[string]any{"email": "a@example.com"},
			contactsync.RecordError{MemberID: "m9", Field: "first_name", Reason: "required field is missing"}},
		{"required blank after trim", map[string]any{"first_name": "   ", "email": "a@example.com"},
			contactsync.RecordError{MemberID: "m9", Field: "first_name", Reason: "required field is missing"}},
		{"malformed email", map[string]any{"first_name": "A", "email": "ana@example"},
			contactsync.RecordError{MemberID: "m9", Field: "email", Reason: `invalid email address "ana@example"`}},
		{"bad phone", map[string]any{"first_name": "A", "mobile": "12345"},
			contactsync.RecordError{MemberID: "m9", Field: "mobile", Reason: `invalid phone number "12345" (read as +4412345): too short: a local number needs its area code`}},
		{"bad date", map[string]any{"first_name": "A", "email": "a@example.com", "birthday": "1990-09-25"},
			contactsync.RecordError{MemberID: "m9", Field: "birthday", Reason: `date "1990-09-25" does not match layout "02/01/2006"`}},
		{"unsupported type", map[string]any{"first_name": "A", "email": "a@example.com", "visits": map[string]int{"a": 1}},
			contactsync.RecordError{MemberID: "m9", Field: "visits", Reason: "a map[string]int cannot be written to a custom field"}},
		{"huge integer for a number field", map[string]any{"first_name": "A", "email": "a@example.com", "visits": uint64(1) << 63},
			contactsync.RecordError{MemberID: "m9", Field: "visits", Reason: "integer 9223372036854775808 is too large for a number field; write it as a string"}},
		{"NaN", map[string]any{"first_name": "A", "email": "a@example.com", "visits": math.NaN()},
			contactsync.RecordError{MemberID: "m9", Field: "visits", Reason: "number NaN cannot be written"}},
		{"no email and no phone", map[string]any{"first_name": "A", "city": "Leeds"},
			contactsync.RecordError{MemberID: "m9", Reason: "no email and no phone"}},
		{"empty email and phone", map[string]any{"first_name": "A", "email": " ", "mobile": ""},
			contactsync.RecordError{MemberID: "m9", Reason: "no email and no phone"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mp.Apply(contactsync.Member{ID: "m9", Fields: tt.fields})
			var re *contactsync.RecordError
			if !errors.As(err, &re) {
				t.Fatalf("Apply = %v, %v; want a *RecordError", got, err)
			}
			if *re != tt.want {
				t.Fatalf("error %#v\nwant  %#v", *re, tt.want)
			}
			if !errors.Is(err, contactsync.ErrBadRecord) {
				t.Fatal("error does not match ErrBadRecord")
			}
			if !reflect.DeepEqual(got, contactsync.Mapped{}) {
				t.Fatalf("Apply returned %#v with an error", got)
			}
		})
	}
}

func TestMappingRecordErrorMessage(t *testing.T) {
	e := &contactsync.RecordError{MemberID: "m1", Field: "email", Reason: "bad"}
	if got, want := e.Error(), `contactsync: member "m1": field "email": bad`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	e = &contactsync.RecordError{MemberID: "m1", Reason: contactsync.ReasonNoEmail}
	if got, want := e.Error(), `contactsync: member "m1": no email and no phone`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if errors.Is(e, contactsync.ErrBadMapping) {
		t.Error("a RecordError matches ErrBadMapping")
	}
}

func TestMappingApplyNoRulesForEmail(t *testing.T) {
	// The contact-point check holds whatever the rules.
	mp := mustMapping(t, contactsync.Map("first_name", "firstName"))
	_, err := mp.Apply(contactsync.Member{ID: "m1", Fields: map[string]any{"first_name": "A", "email": "a@example.com"}})
	var re *contactsync.RecordError
	if !errors.As(err, &re) || re.Reason != contactsync.ReasonNoEmail {
		t.Fatalf("Apply = %v, want no email and no phone", err)
	}
}

func TestMappingApplyBrokenTransformIsMappingError(t *testing.T) {
	mp := mustMapping(t, contactsync.Map("mobile", "phone", contactsync.Transform(contactsync.E164("UK"))))
	_, err := mp.Apply(contactsync.Member{ID: "m1", Fields: map[string]any{"mobile": "020 7946 0958"}})
	if !errors.Is(err, contactsync.ErrBadMapping) || errors.Is(err, contactsync.ErrBadRecord) {
		t.Fatalf("Apply = %v; want ErrBadMapping, not ErrBadRecord", err)
	}
	if !strings.Contains(err.Error(), `rule "mobile" → phone: contactsync: invalid mapping: E164: unsupported region "UK"`) {
		t.Fatalf("error %q", err)
	}
}

func TestMappingApplyFallbackAfterTransform(t *testing.T) {
	// A value that transforms to empty gets the fallback; a required one
	// without fallback is reported.
	toEmpty := func(v any) (any, error) { // "-" means "none" in this export
		if v == "-" {
			return "", nil
		}
		return v, nil
	}
	mp := mustMapping(t,
		contactsync.Const("email", "a@example.com"),
		contactsync.Map("city", "city", contactsync.Transform(toEmpty), contactsync.Fallback("Leeds")),
		contactsync.Map("state", "state", contactsync.Transform(toEmpty), contactsync.Required()),
	)
	_, err := mp.Apply(contactsync.Member{ID: "m1", Fields: map[string]any{"city": "-", "state": "-"}})
	var re *contactsync.RecordError
	if !errors.As(err, &re) || *re != (contactsync.RecordError{MemberID: "m1", Field: "state", Reason: contactsync.ReasonRequired}) {
		t.Fatalf("Apply = %v", err)
	}
	got, err := mp.Apply(contactsync.Member{ID: "m1", Fields: map[string]any{"city": "-", "state": "Yorks"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"email": "a@example.com", "city": "Leeds", "state": "Yorks"}; !reflect.DeepEqual(got.Fields, want) {
		t.Fatalf("Fields = %v, want %v", got.Fields, want)
	}
	// Required and Fallback: the fallback satisfies the requirement.
	mp = mustMapping(t, contactsync.Const("email", "a@example.com"),
		contactsync.Map("tz", "timezone", contactsync.Required(), contactsync.Fallback("Europe/London")))
	got, err = mp.Apply(contactsync.Member{ID: "m1"})
	if err != nil || got.Fields["timezone"] != "Europe/London" {
		t.Fatalf("Apply = %v, %v", got, err)
	}
}

func TestMappingApplyDoesNotMutateMember(t *testing.T) {
	mutating := func(v any) (any, error) {
		if l, ok := v.([]string); ok {
			for i := range l {
				l[i] = strings.ToUpper(l[i])
			}
			return l, nil
		}
		return v, nil
	}
	mp := mustMapping(t,
		contactsync.Map("email", "email", contactsync.Transform(contactsync.Email)),
		contactsync.MapCustom("classes", contactsync.ByID("c"), contactsync.Transform(contactsync.Trim, mutating)),
		contactsync.MapCustom("raw", contactsync.ByID("r"), contactsync.Transform(mutating)),
	)
	classes := []string{" yoga ", "spin"}
	raw := []string{"a", "b"}
	tags := []string{"b ", "a"}
	m := contactsync.Member{ID: "m1", Fields: map[string]any{"email": " A@Example.com", "classes": classes, "raw": raw}, Tags: tags}
	got, err := mp.Apply(m)
	if err != nil {
		t.Fatal(err)
	}
	if m.Fields["email"] != " A@Example.com" || !slices.Equal(classes, []string{" yoga ", "spin"}) ||
		!slices.Equal(raw, []string{"a", "b"}) || !slices.Equal(tags, []string{"b ", "a"}) || len(m.Fields) != 3 {
		t.Fatalf("member modified: %#v", m)
	}
	if !reflect.DeepEqual(got.Custom, map[string]any{"id:c": []string{"YOGA", "SPIN"}, "id:r": []string{"A", "B"}}) {
		t.Fatalf("Custom = %#v", got.Custom)
	}
	// The result does not alias the member either.
	got.Tags[0] = "changed"
	if tags[1] != "a" {
		t.Fatal("Tags alias the member's")
	}
}

func TestMappingApplyConcurrent(t *testing.T) {
	mp := gymMapping(t)
	m := contactsync.Member{ID: "m1", Fields: map[string]any{"first_name": "A", "email": "a@example.com", "classes": []string{"x"}}}
	want, err := mp.Apply(m)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan contactsync.Mapped)
	for range 8 {
		go func() {
			got, _ := mp.Apply(m)
			done <- got
		}()
	}
	for range 8 {
		if got := <-done; !reflect.DeepEqual(got, want) {
			t.Errorf("concurrent Apply = %v", got)
		}
	}
}

func TestMappingHash(t *testing.T) {
	base := func() contactsync.Mapped {
		return contactsync.Mapped{
			Fields: map[string]string{"firstName": "Ana", "email": "ana@example.com", "phone": "+447700900123"},
			Custom: map[string]any{"id:a": "gold", "key:b": float64(3), "id:c": []string{"x", "y"}},
			Tags:   []string{"vip"},
		}
	}
	h := base().Hash()
	if len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
		t.Fatalf("Hash() = %q, want 64 hex digits", h)
	}
	for i := range 50 { // map iteration order varies from run to run
		if got := base().Hash(); got != h {
			t.Fatalf("iteration %d: hash %s != %s", i, got, h)
		}
	}

	same := map[string]func(*contactsync.Mapped){
		"tags differ":           func(m *contactsync.Mapped) { m.Tags = []string{"other"} },
		"no tags":               func(m *contactsync.Mapped) { m.Tags = nil },
		"int instead of float":  func(m *contactsync.Mapped) { m.Custom["key:b"] = 3 },
		"json.Number":           func(m *contactsync.Mapped) { m.Custom["key:b"] = json.Number("3") },
		"[]any list":            func(m *contactsync.Mapped) { m.Custom["id:c"] = []any{"x", "y"} },
		"empty field = absent":  func(m *contactsync.Mapped) { m.Fields["city"] = "" },
		"empty custom = absent": func(m *contactsync.Mapped) { m.Custom["id:z"] = "" },
		"nil custom = absent":   func(m *contactsync.Mapped) { m.Custom["id:z"] = nil },
		"rebuilt maps": func(m *contactsync.Mapped) {
			f := map[string]string{}
			for _, k := range []string{"phone", "email", "firstName"} {
				f[k] = m.Fields[k]
			}
			m.Fields = f
		},
	}
	for name, change := range same {
		m := base()
		change(&m)
		if got := m.Hash(); got != h {
			t.Errorf("%s: hash changed", name)
		}
	}

	differ := map[string]func(*contactsync.Mapped){
		"field value":   func(m *contactsync.Mapped) { m.Fields["firstName"] = "Anna" },
		"field added":   func(m *contactsync.Mapped) { m.Fields["city"] = "Leeds" },
		"field removed": func(m *contactsync.Mapped) { delete(m.Fields, "firstName") },
		"field renamed": func(m *contactsync.Mapped) {
			m.Fields["lastName"] = m.Fields["firstName"]
			delete(m.Fields, "firstName")
		},
		"custom value":           func(m *contactsync.Mapped) { m.Custom["id:a"] = "silver" },
		"custom number":          func(m *contactsync.Mapped) { m.Custom["key:b"] = 4.0 },
		"number vs string":       func(m *contactsync.Mapped) { m.Custom["key:b"] = "3" },
		"list order":             func(m *contactsync.Mapped) { m.Custom["id:c"] = []string{"y", "x"} },
		"list element":           func(m *contactsync.Mapped) { m.Custom["id:c"] = []string{"x", "yz"} },
		"list split":             func(m *contactsync.Mapped) { m.Custom["id:c"] = []string{"x", "y", ""} },
		"custom removed":         func(m *contactsync.Mapped) { delete(m.Custom, "id:a") },
		"custom id vs key":       func(m *contactsync.Mapped) { m.Custom["key:a"] = m.Custom["id:a"]; delete(m.Custom, "id:a") },
		"field moved to custom":  func(m *contactsync.Mapped) { m.Custom["firstName"] = "Ana"; delete(m.Fields, "firstName") },
		"value with separator":   func(m *contactsync.Mapped) { m.Fields["firstName"] = "Ana\"\nfx=\"y" },
		"custom list vs string":  func(m *contactsync.Mapped) { m.Custom["id:c"] = "xy" },
		"huge integers distinct": func(m *contactsync.Mapped) { m.Custom["key:b"] = int64(1)<<60 + 1 },
	}
	seen := map[string]string{}
	for name, change := range differ {
		m := base()
		change(&m)
		got := m.Hash()
		if got == h {
			t.Errorf("%s: hash unchanged", name)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("%s and %s hash alike", name, other)
		}
		seen[got] = name
	}
	a := contactsync.Mapped{Custom: map[string]any{"id:x": int64(1)<<60 + 1}}
	b := contactsync.Mapped{Custom: map[string]any{"id:x": int64(1)<<60 + 2}}
	if a.Hash() == b.Hash() {
		t.Error("distinct huge integers hash alike")
	}
	if (contactsync.Mapped{}).Hash() != (contactsync.Mapped{Fields: map[string]string{}, Custom: map[string]any{}}).Hash() {
		t.Error("nil and empty maps hash differently")
	}
}

func TestMappingHashOfApply(t *testing.T) {
	mp := gymMapping(t)
	m := contactsync.Member{ID: "m1", Fields: map[string]any{"first_name": "Ana", "email": "ana@example.com", "visits": 3}, Tags: []string{"a"}}
	a, _ := mp.Apply(m)
	m.Fields = map[string]any{"visits": 3.0, "email": " ANA@example.com", "first_name": " Ana"}
	m.Tags = []string{"b"}
	b, _ := mp.Apply(m)
	if a.Hash() != b.Hash() {
		t.Fatal("members that map alike hash differently")
	}
	m.Fields["visits"] = 4
	c, _ := mp.Apply(m)
	if c.Hash() == a.Hash() {
		t.Fatal("a changed member hashes alike")
	}
}

func TestMappingCreateBody(t *testing.T) {
	mp := gymMapping(t)
	got, err := mp.Apply(contactsync.Member{
		ID: "m1",
		Fields: map[string]any{
			"first_name": "Ana", "last_name": "Silva", "email": "ana@example.com",
			"mobile": "020 7946 0958", "birthday": "25/09/1990", "company": "Acme Ltd",
			"plan": "Gold", "visits": 42, "classes": []string{"yoga", "spin"},
		},
		Tags: []string{"vip", "member"},
	})
	if err != nil {
		t.Fatal(err)
	}
	body := got.CreateBody()
	want := contacts.ContactCreate{
		FirstName: "Ana", LastName: "Silva", Email: "ana@example.com", Phone: "+442079460958",
		City: "London", Source: "gymflow", DateOfBirth: "1990-09-25", CompanyName: "Acme Ltd",
		Tags: []string{"member", "vip"},
		CustomFields: []contacts.CustomFieldInput{
			contacts.FieldByID("fClasses", []string{"yoga", "spin"}),
			contacts.FieldByID("fVisits", float64(42)),
			contacts.FieldByKey("contact.plan", "gold"),
			contacts.FieldByKey("contact.synced_by", "gymflow"),
		},
	}
	if !reflect.DeepEqual(body, want) {
		t.Fatalf("CreateBody =\n%#v\nwant\n%#v", body, want)
	}
	js, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON := `{"locationId":"","firstName":"Ana","lastName":"Silva","email":"ana@example.com","phone":"+442079460958","city":"London",` +
		`"tags":["member","vip"],"customFields":[{"id":"fClasses","field_value":["yoga","spin"]},{"id":"fVisits","field_value":42},` +
		`{"key":"contact.plan","field_value":"gold"},{"key":"contact.synced_by","field_value":"gymflow"}],` +
		`"source":"gymflow","dateOfBirth":"1990-09-25","companyName":"Acme Ltd"}`
	if string(js) != wantJSON {
		t.Fatalf("JSON\n%s\nwant\n%s", js, wantJSON)
	}
	// The body does not alias the Mapped's tags.
	body.Tags[0] = "x"
	if got.Tags[0] != "member" {
		t.Fatal("CreateBody aliases Tags")
	}
}

func TestMappingCreateBodyEveryTarget(t *testing.T) {
	fields := map[string]string{}
	for _, target := range contactsync.AllTargets() {
		fields[target] = "v-" + target
	}
	fields["dateOfBirth"] = "2001-02-03"
	body := contactsync.Mapped{Fields: fields}.CreateBody()
	want := contacts.ContactCreate{
		FirstName: "v-firstName", LastName: "v-lastName", Name: "v-name", Email: "v-email", Phone: "v-phone",
		Address1: "v-address1", City: "v-city", State: "v-state", PostalCode: "v-postalCode", Country: "v-country",
		Website: "v-website", Timezone: "v-timezone", CompanyName: "v-companyName", Gender: "v-gender",
		Source: "v-source", DateOfBirth: "2001-02-03", AssignedTo: "v-assignedTo",
	}
	if !reflect.DeepEqual(body, want) {
		t.Fatalf("CreateBody =\n%#v\nwant\n%#v", body, want)
	}
}

func TestMappingMarshalRoundTrip(t *testing.T) {
	mp := gymMapping(t)
	members := []contactsync.Member{
		{ID: "m1", Fields: map[string]any{"first_name": "Ana", "email": "ana@example.com", "visits": 42, "classes": []string{"yoga"}, "plan": "Gold"}, Tags: []string{"vip", "a"}},
		{ID: "m2", Fields: map[string]any{"first_name": "Bo", "mobile": "+1 212 555 0123", "visits": 0.1}},
	}
	for _, m := range members {
		mapped, err := mp.Apply(m)
		if err != nil {
			t.Fatal(err)
		}
		data, err := mapped.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		back, err := contactsync.UnmarshalMapped(data)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, mapped) {
			t.Fatalf("round trip of %s:\n%#v\nwant\n%#v", data, back, mapped)
		}
		if back.Hash() != mapped.Hash() {
			t.Fatal("round trip changed the hash")
		}
	}
	m := contactsync.Mapped{Fields: map[string]string{"email": "a@example.com"}, Custom: map[string]any{"id:x": []string{"a"}, "id:y": 2.5}, Tags: []string{"t"}}
	data, _ := m.Marshal()
	if want := `{"v":1,"fields":{"email":"a@example.com"},"custom":{"id:x":["a"],"id:y":2.5},"tags":["t"]}`; string(data) != want {
		t.Fatalf("Marshal = %s, want %s", data, want)
	}
	// The zero Mapped (never written) round-trips too, and no snapshot at
	// all reads as the zero Mapped.
	data, _ = contactsync.Mapped{}.Marshal()
	if string(data) != `{"v":1}` {
		t.Fatalf("Marshal(zero) = %s", data)
	}
	for _, in := range [][]byte{data, nil, {}} {
		back, err := contactsync.UnmarshalMapped(in)
		if err != nil || !reflect.DeepEqual(back, contactsync.Mapped{}) {
			t.Fatalf("UnmarshalMapped(%q) = %#v, %v", in, back, err)
		}
	}
}

func TestMappingUnmarshalErrors(t *testing.T) {
	for in, want := range map[string]string{
		`{`:                             "decode mapped snapshot: unexpected end of JSON input",
		`{"v":2}`:                       "unknown version 2",
		`{"fields":{}}`:                 "unknown version 0",
		`{"v":1,"custom":{"id:x":{}}}`:  "custom id:x: a map[string]interface {} cannot be written to a custom field",
		`{"v":1,"custom":{"id:x":[1]}}`: "custom id:x: a list of values other than strings",
		`{"v":1,"fields":{"a":1}}`:      "cannot unmarshal number",
	} {
		_, err := contactsync.UnmarshalMapped([]byte(in))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("UnmarshalMapped(%s) = %v, want %q", in, err, want)
		}
	}
}

func TestMappingCustomField(t *testing.T) {
	id, key := contactsync.ByID(" f1 "), contactsync.ByKey("contact.plan")
	if id.ID() != "f1" || id.Key() != "" || id.String() != "id:f1" {
		t.Errorf("ByID = %q %q %q", id.ID(), id.Key(), id)
	}
	if key.ID() != "" || key.Key() != "contact.plan" || key.String() != "key:contact.plan" {
		t.Errorf("ByKey = %q %q %q", key.ID(), key.Key(), key)
	}
	if got := id.Input(3); !reflect.DeepEqual(got, contacts.FieldByID("f1", 3)) {
		t.Errorf("Input = %#v", got)
	}
	if got := key.Input("x"); !reflect.DeepEqual(got, contacts.FieldByKey("contact.plan", "x")) {
		t.Errorf("Input = %#v", got)
	}
	if (contactsync.CustomField{}).String() != "" {
		t.Error("zero CustomField has a name")
	}
}

func ExampleNewMapping() {
	mapping, err := contactsync.NewMapping(
		contactsync.Map("first_name", "firstName", contactsync.Transform(contactsync.Trim), contactsync.Required()),
		contactsync.Map("email", "email", contactsync.Transform(contactsync.Email)),
		contactsync.Map("mobile", "phone", contactsync.Transform(contactsync.E164("GB"))),
		contactsync.Map("birthday", "dateOfBirth", contactsync.Transform(contactsync.DateFormat("02/01/2006"))),
		contactsync.Const("source", "gymflow"),
		contactsync.MapCustom("plan", contactsync.ByKey("contact.membership_level"), contactsync.Fallback("basic")),
		contactsync.MapCustom("visits", contactsync.ByID("kXw2Jm9vGq1R")),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	mapped, err := mapping.Apply(contactsync.Member{
		ID: "gf-1001",
		Fields: map[string]any{
			"first_name": " Ana ",
			"email":      "Ana@Example.com",
			"mobile":     "020 7946 0958",
			"birthday":   "25/09/1990",
			"visits":     12,
		},
		Tags: []string{"member", "vip", "member"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(mapped.Fields)
	fmt.Println(mapped.Custom)
	fmt.Println(mapped.Tags)

	_, err = mapping.Apply(contactsync.Member{ID: "gf-1002", Fields: map[string]any{"email": "bo@example.com"}})
	fmt.Println(err, errors.Is(err, contactsync.ErrBadRecord))
	// Output:
	// map[dateOfBirth:1990-09-25 email:ana@example.com firstName:Ana phone:+442079460958 source:gymflow]
	// map[id:kXw2Jm9vGq1R:12 key:contact.membership_level:basic]
	// [member vip]
	// contactsync: member "gf-1002": field "first_name": required field is missing true
}

func ExampleNewMapping_errors() {
	_, err := contactsync.NewMapping(
		contactsync.Map("mail", "email"),
		contactsync.Map("work_mail", "email"),
		contactsync.Map("", "phone"),
	)
	fmt.Println(errors.Is(err, contactsync.ErrBadMapping))
	fmt.Println(err)
	// Output:
	// true
	// contactsync: invalid mapping: rule 1 ("work_mail" → email): duplicate target email (also rule 0)
	// contactsync: invalid mapping: rule 2 ("" → phone): empty source field
}

func ExampleMapped_CreateBody() {
	m := contactsync.Mapped{
		Fields: map[string]string{"email": "ana@example.com", "companyName": "Acme"},
		Custom: map[string]any{"key:contact.plan": "gold"},
		Tags:   []string{"member"},
	}
	body, _ := json.Marshal(m.CreateBody())
	fmt.Println(string(body))
	// Output:
	// {"locationId":"","email":"ana@example.com","tags":["member"],"customFields":[{"key":"contact.plan","field_value":"gold"}],"companyName":"Acme"}
}
