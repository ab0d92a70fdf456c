package contactsync_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	contacts "github.com/gymflow/contacts-go"
	contactsync "github.com/gymflow/contacts-go/sync"
)

var (
	mergeT0 = time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)
	mergeT1 = mergeT0.Add(time.Hour)
)

func strPtr(s string) *string { return &s }

func TestMergeValue(t *testing.T) {
	const no = "-" // no write; "" clears
	tests := []struct {
		name                   string
		gymflow, last          string
		current                *string
		gymAt, curAt           time.Time
		gw, api, nw, fie, nclr string
	}{
		{"unchanged, current unknown", "a", "a", nil, mergeT1, mergeT0, no, no, no, no, no},
		{"unchanged, current differs (CRM edit)", "a", "a", strPtr("crm"), mergeT1, mergeT0, no, no, no, no, no},
		{"unchanged, current emptied in the CRM", "a", "a", strPtr(""), mergeT1, mergeT0, no, no, no, "a", no},
		{"changed, nothing known", "b", "a", nil, time.Time{}, time.Time{}, "b", no, "b", no, "b"},
		{"changed, member newer", "b", "a", strPtr("a"), mergeT1, mergeT0, "b", no, "b", no, "b"},
		{"changed, contact newer", "b", "a", strPtr("c"), mergeT0, mergeT1, "b", no, no, no, "b"},
		{"changed, same time", "b", "a", nil, mergeT1, mergeT1, "b", no, no, no, "b"},
		{"changed, member time unknown", "b", "a", nil, time.Time{}, mergeT0, "b", no, no, no, "b"},
		{"changed, contact time unknown", "b", "a", nil, mergeT0, time.Time{}, "b", no, "b", no, "b"},
		{"changed, contact already has it", "b", "a", strPtr("b"), mergeT1, mergeT0, no, no, no, no, no},
		{"cleared, current unknown", "", "a", nil, mergeT1, mergeT0, "", no, "", no, no},
		{"cleared, current set", "", "a", strPtr("a"), mergeT1, mergeT0, "", no, "", no, no},
		{"cleared, contact newer", "", "a", strPtr("a"), mergeT0, mergeT1, "", no, no, no, no},
		{"cleared, current already empty", "", "a", strPtr(""), mergeT1, mergeT0, no, no, no, no, no},
		{"never written, current unknown", "b", "", nil, mergeT1, time.Time{}, "b", no, "b", "b", "b"},
		{"never written, current set", "b", "", strPtr("x"), mergeT1, mergeT0, "b", no, "b", no, "b"},
		{"never written, current empty", "b", "", strPtr(""), mergeT0, mergeT1, "b", no, no, "b", "b"},
		{"nothing anywhere", "", "", nil, mergeT1, mergeT0, no, no, no, no, no},
		{"nothing in GymFlow, current set", "", "", strPtr("x"), mergeT1, mergeT0, no, no, no, no, no},
	}
	for _, tt := range tests {
		for _, c := range []struct {
			p    contactsync.Policy
			want string
		}{
			{contactsync.GymFlowWins, tt.gw},
			{contactsync.APIWins, tt.api},
			{contactsync.NewestWins, tt.nw},
			{contactsync.FillIfEmpty, tt.fie},
			{contactsync.NeverClear, tt.nclr},
			{contactsync.Policy(99), no},
		} {
			t.Run(tt.name+"/"+c.p.String(), func(t *testing.T) {
				v, write := contactsync.MergeValue(c.p, tt.gymflow, tt.last, tt.current, tt.gymAt, tt.curAt)
				got := no
				if write {
					got = v
				} else if v != "" {
					t.Fatalf("value %q without a write", v)
				}
				if got != c.want {
					t.Fatalf("MergeValue = %q, %v; want %q (%q means no write)", v, write, c.want, no)
				}
			})
		}
	}
}

func TestMergePolicies(t *testing.T) {
	var zero contactsync.Policies
	if zero.For("email") != contactsync.GymFlowWins {
		t.Error("zero Policies is not GymFlowWins")
	}
	p := contactsync.Policies{Default: contactsync.NeverClear, Fields: map[string]contactsync.Policy{
		"email": contactsync.APIWins, "id:plan": contactsync.FillIfEmpty,
	}}
	for target, want := range map[string]contactsync.Policy{
		"email": contactsync.APIWins, "id:plan": contactsync.FillIfEmpty, "phone": contactsync.NeverClear, "key:plan": contactsync.NeverClear,
	} {
		if got := p.For(target); got != want {
			t.Errorf("For(%q) = %v, want %v", target, got, want)
		}
	}
	names := map[contactsync.Policy]string{
		contactsync.GymFlowWins: "GymFlowWins", contactsync.APIWins: "APIWins", contactsync.NewestWins: "NewestWins",
		contactsync.FillIfEmpty: "FillIfEmpty", contactsync.NeverClear: "NeverClear", contactsync.Policy(-1): "Policy(-1)",
	}
	for p, want := range names {
		if p.String() != want {
			t.Errorf("String() = %q, want %q", p.String(), want)
		}
	}
}

// updateJSON renders an update body; the JSON is what goes on the wire.
func updateJSON(t *testing.T, u contacts.ContactUpdate) string {
	t.Helper()
	b, err := json.Marshal(u)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func planFixture() (now, last contactsync.Mapped) {
	last = contactsync.Mapped{
		Fields: map[string]string{
			"firstName": "Ana", "lastName": "Silva", "email": "ana@example.com", "city": "Leeds",
			"postalCode": "LS1 4AP", "country": "GB", "companyName": "Acme", "gender": "female",
			"source": "gymflow", "dateOfBirth": "1990-09-25",
		},
		Custom: map[string]any{"id:plan": "gold", "key:contact.visits": 3.0, "id:classes": []string{"yoga"}},
		Tags:   []string{"a"},
	}
	now = contactsync.Mapped{
		Fields: map[string]string{
			"firstName": "Anna", "lastName": "Silva", "email": "ana@example.com", "phone": "+447700900123",
			"city": "Leeds", "companyName": "Acme Group", "gender": "f", "source": "gymflow",
		},
		Custom: map[string]any{"id:plan": "silver", "key:contact.visits": 3, "id:new": "x"},
		Tags:   []string{"b", "c"},
	}
	return now, last
}

func TestPlanUpdatePolicies(t *testing.T) {
	now, last := planFixture()
	known := &contactsync.Current{
		Fields: map[string]string{"firstName": "Ana", "email": "ana@example.com", "companyName": "Acme", "postalCode": "LS1 4AP"},
		Custom: map[string]any{"id:plan": "gold", "id:classes": []string{"yoga"}},
	}
	tests := []struct {
		name     string
		policies contactsync.Policies
		cur      *contactsync.Current
		member   time.Time
		want     string // "" means nothing to send
	}{
		{"GymFlowWins, current unknown", contactsync.Policies{}, nil, mergeT1,
			`{"firstName":"Anna","phone":"+447700900123","postalCode":"","customFields":[{"id":"classes","field_value":""},{"id":"new","field_value":"x"},{"id":"plan","field_value":"silver"}],"dateOfBirth":null,"country":""}`},
		{"GymFlowWins, current known", contactsync.Policies{}, &contactsync.Current{
			Fields: map[string]string{"firstName": "Anna", "email": "ana@example.com", "city": "Leeds", "postalCode": "LS1 4AP"},
			Custom: map[string]any{"id:plan": "silver"},
		}, mergeT1,
			`{"phone":"+447700900123","postalCode":"","customFields":[{"id":"new","field_value":"x"}]}`},
		{"APIWins", contactsync.Policies{Default: contactsync.APIWins}, nil, mergeT1, ``},
		{"NeverClear", contactsync.Policies{Default: contactsync.NeverClear}, nil, mergeT1,
			`{"firstName":"Anna","phone":"+447700900123","customFields":[{"id":"new","field_value":"x"},{"id":"plan","field_value":"silver"}]}`},
		{"NewestWins, member newer", contactsync.Policies{Default: contactsync.NewestWins}, &contactsync.Current{UpdatedAt: mergeT0}, mergeT1,
			`{"firstName":"Anna","phone":"+447700900123","postalCode":"","customFields":[{"id":"classes","field_value":""},{"id":"new","field_value":"x"},{"id":"plan","field_value":"silver"}],"dateOfBirth":null,"country":""}`},
		{"NewestWins, contact newer", contactsync.Policies{Default: contactsync.NewestWins}, &contactsync.Current{UpdatedAt: mergeT1}, mergeT0, ``},
		{"NewestWins, contact time unknown", contactsync.Policies{Default: contactsync.NewestWins}, nil, time.Time{},
			`{"firstName":"Anna","phone":"+447700900123","postalCode":"","customFields":[{"id":"classes","field_value":""},{"id":"new","field_value":"x"},{"id":"plan","field_value":"silver"}],"dateOfBirth":null,"country":""}`},
		{"FillIfEmpty, current unknown", contactsync.Policies{Default: contactsync.FillIfEmpty}, nil, mergeT1,
			`{"phone":"+447700900123","customFields":[{"id":"new","field_value":"x"}]}`},
		{"FillIfEmpty, current known", contactsync.Policies{Default: contactsync.FillIfEmpty}, known, mergeT1,
			`{"lastName":"Silva","phone":"+447700900123","city":"Leeds","customFields":[{"id":"new","field_value":"x"}],"source":"gymflow"}`},
		{"per-field policies", contactsync.Policies{Fields: map[string]contactsync.Policy{
			"firstName": contactsync.APIWins, "dateOfBirth": contactsync.NeverClear, "id:plan": contactsync.FillIfEmpty,
		}}, nil, mergeT1,
			`{"phone":"+447700900123","postalCode":"","customFields":[{"id":"classes","field_value":""},{"id":"new","field_value":"x"}],"country":""}`},
		{"per-field default APIWins", contactsync.Policies{Default: contactsync.APIWins, Fields: map[string]contactsync.Policy{
			"phone": contactsync.GymFlowWins, "key:contact.visits": contactsync.GymFlowWins,
		}}, nil, mergeT1,
			`{"phone":"+447700900123"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, need := contactsync.PlanUpdate(now, last, tt.cur, tt.member, tt.policies)
			if tt.want == "" {
				if need || !reflect.DeepEqual(u, contacts.ContactUpdate{}) {
					t.Fatalf("PlanUpdate = %s, %v; want nothing", updateJSON(t, u), need)
				}
				return
			}
			if !need {
				t.Fatal("PlanUpdate reports nothing to send")
			}
			if got := updateJSON(t, u); got != tt.want {
				t.Fatalf("body\n%s\nwant\n%s", got, tt.want)
			}
			if u.Tags != nil {
				t.Fatal("update body carries tags")
			}
		})
	}
}

func TestPlanUpdateNeverTagsNorCreateOnly(t *testing.T) {
	last := contactsync.Mapped{
		Fields: map[string]string{"email": "a@example.com", "companyName": "Acme", "gender": "female"},
		Tags:   []string{"old"},
	}
	for _, now := range []contactsync.Mapped{
		{Fields: map[string]string{"email": "a@example.com", "companyName": "Acme Group", "gender": "f"}, Tags: []string{"new"}},
		{Fields: map[string]string{"email": "a@example.com"}, Tags: nil},
	} {
		for _, p := range []contactsync.Policy{contactsync.GymFlowWins, contactsync.NewestWins, contactsync.FillIfEmpty, contactsync.NeverClear} {
			u, need := contactsync.PlanUpdate(now, last, nil, mergeT1, contactsync.Policies{Default: p})
			if need || !reflect.DeepEqual(u, contacts.ContactUpdate{}) {
				t.Errorf("%v: PlanUpdate = %s, %v; want nothing", p, updateJSON(t, u), need)
			}
		}
	}
	// Linking: every value GymFlow has is written, except create-only ones.
	now := contactsync.Mapped{Fields: map[string]string{"email": "a@example.com", "companyName": "Acme", "gender": "f"}, Tags: []string{"t"}}
	u, need := contactsync.PlanUpdate(now, contactsync.Mapped{}, nil, mergeT1, contactsync.Policies{})
	if got, want := updateJSON(t, u), `{"email":"a@example.com"}`; !need || got != want {
		t.Fatalf("PlanUpdate = %s, %v; want %s", got, need, want)
	}
}

func TestPlanUpdateNothingChanged(t *testing.T) {
	now, _ := planFixture()
	same := contactsync.Mapped{Fields: map[string]string{}, Custom: map[string]any{}}
	for k, v := range now.Fields {
		same.Fields[k] = v
	}
	for k, v := range now.Custom {
		same.Custom[k] = v
	}
	same.Custom["key:contact.visits"] = float64(3) // int 3 in now: the same value
	same.Tags = []string{"other"}
	for _, p := range []contactsync.Policy{contactsync.GymFlowWins, contactsync.APIWins, contactsync.NewestWins, contactsync.FillIfEmpty, contactsync.NeverClear} {
		if u, need := contactsync.PlanUpdate(now, same, nil, mergeT1, contactsync.Policies{Default: p}); need {
			t.Errorf("%v: PlanUpdate = %s; want nothing", p, updateJSON(t, u))
		}
	}
}

func TestPlanUpdateLinkedContact(t *testing.T) {
	now := contactsync.Mapped{
		Fields: map[string]string{"firstName": "Ana", "email": "ana@example.com", "phone": "+447700900123", "city": "Leeds"},
		Custom: map[string]any{"id:plan": "gold", "key:contact.level": "2"},
	}
	cur := &contactsync.Current{
		Fields: map[string]string{"firstName": "Ana", "email": "ana@example.com", "lastName": "FromCRM", "city": "York"},
		Custom: map[string]any{"id:plan": "gold", "id:crmOnly": "kept"},
	}
	tests := []struct {
		policy contactsync.Policy
		want   string
	}{
		// CRM-only values (lastName, id:crmOnly) survive: GymFlow never had them.
		{contactsync.GymFlowWins, `{"phone":"+447700900123","city":"Leeds","customFields":[{"key":"contact.level","field_value":"2"}]}`},
		{contactsync.NeverClear, `{"phone":"+447700900123","city":"Leeds","customFields":[{"key":"contact.level","field_value":"2"}]}`},
		// Current values by key are unknown; never written before, so filled.
		{contactsync.FillIfEmpty, `{"phone":"+447700900123","customFields":[{"key":"contact.level","field_value":"2"}]}`},
		{contactsync.APIWins, ``},
	}
	for _, tt := range tests {
		u, need := contactsync.PlanUpdate(now, contactsync.Mapped{}, cur, mergeT1, contactsync.Policies{Default: tt.policy})
		got := ""
		if need {
			got = updateJSON(t, u)
		}
		if got != tt.want {
			t.Errorf("%v: body\n%s\nwant\n%s", tt.policy, got, tt.want)
		}
	}
}

func TestPlanUpdateClearsEveryField(t *testing.T) {
	last := contactsync.Mapped{Fields: map[string]string{}}
	for _, target := range contactsync.AllTargets() {
		last.Fields[target] = "v"
	}
	now := contactsync.Mapped{Fields: map[string]string{"email": "v"}}
	u, need := contactsync.PlanUpdate(now, last, nil, mergeT1, contactsync.Policies{})
	want := `{"firstName":null,"lastName":null,"name":null,"phone":null,"address1":null,"city":null,"state":null,` +
		`"postalCode":"","website":null,"timezone":null,"source":null,"dateOfBirth":null,"country":"","assignedTo":null}`
	if got := updateJSON(t, u); !need || got != want {
		t.Fatalf("body\n%s\nwant\n%s", got, want)
	}
	// And sets every updatable field.
	u, _ = contactsync.PlanUpdate(last, contactsync.Mapped{}, nil, mergeT1, contactsync.Policies{})
	want = `{"firstName":"v","lastName":"v","name":"v","email":"v","phone":"v","address1":"v","city":"v","state":"v",` +
		`"postalCode":"v","website":"v","timezone":"v","source":"v","dateOfBirth":"v","country":"v","assignedTo":"v"}`
	if got := updateJSON(t, u); got != want {
		t.Fatalf("body\n%s\nwant\n%s", got, want)
	}
}

func TestPlanUpdateCustomValues(t *testing.T) {
	last := contactsync.Mapped{Custom: map[string]any{
		"id:n": 3.0, "id:l": []string{"a", "b"}, "id:s": "x", "key:k": "old", "id:gone": "y",
	}}
	now := contactsync.Mapped{Custom: map[string]any{
		"id:n": 3, "id:l": []string{"b", "a"}, "id:s": "x", "key:k": "new", "id:add": []string{"z"}, "bogus": "ignored",
	}}
	u, need := contactsync.PlanUpdate(now, last, nil, mergeT1, contactsync.Policies{})
	want := []contacts.CustomFieldInput{
		contacts.FieldByID("add", []string{"z"}),
		contacts.FieldByID("gone", ""),
		contacts.FieldByID("l", []string{"b", "a"}),
		contacts.FieldByKey("k", "new"),
	}
	if !need || !reflect.DeepEqual(u.CustomFields, want) {
		t.Fatalf("CustomFields = %#v, %v\nwant %#v", u.CustomFields, need, want)
	}
	// Current values in the API's shapes compare by value.
	cur := &contactsync.Current{Fields: map[string]string{}, Custom: map[string]any{
		"id:add": contacts.RawValue(json.RawMessage(`["z"]`)),
		"id:l":   []any{"b", "a"},
		"key:k":  "new",
	}}
	u, need = contactsync.PlanUpdate(now, last, cur, mergeT1, contactsync.Policies{})
	if need {
		t.Fatalf("PlanUpdate = %s; want nothing (gone is already empty)", updateJSON(t, u))
	}
}

func TestMergeCurrentOf(t *testing.T) {
	var c contacts.Contact
	err := json.Unmarshal([]byte(`{
		"id": "c1", "firstName": "Ana", "email": "ana@example.com", "phone": "+447700900123",
		"companyName": "Acme", "dateOfBirth": "1990-09-25T00:00:00.000Z", "postalCode": "",
		"dateUpdated": "2024-05-01T10:00:00.000Z", "tags": ["vip"],
		"customFields": [
			{"id": "plan", "value": "gold"}, {"id": "visits", "value": 3},
			{"id": "classes", "value": ["yoga", "spin"]}, {"id": "none", "value": null},
			{"id": "blank", "value": ""}
		]}`), &c)
	if err != nil {
		t.Fatal(err)
	}
	got := contactsync.CurrentOf(&c)
	want := &contactsync.Current{
		Fields: map[string]string{
			"firstName": "Ana", "email": "ana@example.com", "phone": "+447700900123",
			"companyName": "Acme", "dateOfBirth": "1990-09-25",
		},
		Custom:    map[string]any{"id:plan": "gold", "id:visits": float64(3), "id:classes": []string{"yoga", "spin"}},
		UpdatedAt: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC),
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("CurrentOf =\n%#v\nwant\n%#v", got, want)
	}
	// A member mapped like the contact needs no update, even when linking.
	now := contactsync.Mapped{
		Fields: map[string]string{"firstName": "Ana", "email": "ana@example.com", "phone": "+447700900123", "dateOfBirth": "1990-09-25"},
		Custom: map[string]any{"id:plan": "gold", "id:visits": 3, "id:classes": []string{"yoga", "spin"}},
	}
	if u, need := contactsync.PlanUpdate(now, contactsync.Mapped{}, got, mergeT1, contactsync.Policies{}); need {
		t.Fatalf("PlanUpdate = %s; want nothing", updateJSON(t, u))
	}
}

func TestDiffTags(t *testing.T) {
	written := contactsync.Ownership{Written: true}
	prefix := contactsync.Ownership{Prefix: "gf:"}
	both := contactsync.Ownership{Written: true, Prefix: "gf:"}
	tests := []struct {
		name                      string
		desired, written, current []string
		own                       contactsync.Ownership
		add, remove               []string
	}{
		{"zero ownership owns written tags, current unknown",
			[]string{"a", "b"}, []string{"a", "c"}, nil, contactsync.Ownership{}, []string{"b"}, []string{"c"}},
		{"written ownership, current unknown",
			[]string{"a", "b"}, []string{"a", "c"}, nil, written, []string{"b"}, []string{"c"}},
		{"current known: CRM tags survive",
			[]string{"a", "b"}, []string{"a", "c"}, []string{"a", "c", "crm", "workflow-x"}, written, []string{"b"}, []string{"c"}},
		{"current known: tag removed in the CRM is added back",
			[]string{"a"}, []string{"a"}, []string{}, written, []string{"a"}, nil},
		{"current known: owned tag already gone is not removed",
			nil, []string{"c"}, []string{"x"}, written, nil, nil},
		{"current unknown: owned tag is removed",
			nil, []string{"c"}, nil, written, nil, []string{"c"}},
		{"desired tag added by the CRM: current known, nothing to add",
			[]string{"a"}, nil, []string{"a"}, written, nil, nil},
		{"desired tag added by the CRM: current unknown, added",
			[]string{"a"}, nil, nil, written, []string{"a"}, nil},
		{"prefix only, current unknown: written non-prefix tags are not owned",
			[]string{"gf:gold"}, []string{"gf:silver", "promo"}, nil, prefix, []string{"gf:gold"}, []string{"gf:silver"}},
		{"prefix only, current known: every prefixed tag is owned",
			[]string{"gf:gold"}, []string{"promo"}, []string{"gf:silver", "gf:old", "vip", "promo"}, prefix, []string{"gf:gold"}, []string{"gf:old", "gf:silver"}},
		{"prefix is case-sensitive",
			nil, nil, []string{"GF:x", "gf:y"}, prefix, nil, []string{"gf:y"}},
		{"written and prefix",
			[]string{"gf:gold"}, []string{"promo"}, []string{"gf:old", "promo", "vip"}, both, []string{"gf:gold"}, []string{"gf:old", "promo"}},
		{"written and prefix, current unknown",
			[]string{"gf:gold"}, []string{"promo", "gf:old"}, nil, both, []string{"gf:gold"}, []string{"gf:old", "promo"}},
		{"desired owned tags are kept",
			[]string{"gf:gold", "promo"}, []string{"promo"}, []string{"gf:gold", "promo"}, both, nil, nil},
		{"trimmed, deduplicated, blanks ignored",
			[]string{" a", "a ", "", "  "}, []string{" b", "b"}, nil, written, []string{"a"}, []string{"b"}},
		{"compared exactly: case differs",
			[]string{"VIP"}, []string{"vip"}, nil, written, []string{"VIP"}, []string{"vip"}},
		{"in sync",
			[]string{"a"}, []string{"a"}, []string{"a", "crm"}, written, nil, nil},
		{"sorted output",
			[]string{"z", "m", "a"}, []string{"y", "b"}, nil, written, []string{"a", "m", "z"}, []string{"b", "y"}},
		{"nothing at all", nil, nil, nil, contactsync.Ownership{}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			add, remove := contactsync.DiffTags(tt.desired, tt.written, tt.current, tt.own)
			if !slices.Equal(add, tt.add) || !slices.Equal(remove, tt.remove) {
				t.Fatalf("DiffTags = add %q remove %q; want add %q remove %q", add, remove, tt.add, tt.remove)
			}
			for _, r := range remove {
				if slices.Contains(tt.current, "crm") && r == "crm" {
					t.Fatal("removed a CRM tag")
				}
			}
		})
	}
}

func TestDiffTagsDoesNotModifyInput(t *testing.T) {
	desired, written, current := []string{"b ", "a"}, []string{"c", " a"}, []string{"c", "x"}
	contactsync.DiffTags(desired, written, current, contactsync.Ownership{Prefix: "x"})
	if !slices.Equal(desired, []string{"b ", "a"}) || !slices.Equal(written, []string{"c", " a"}) || !slices.Equal(current, []string{"c", "x"}) {
		t.Fatal("inputs modified")
	}
}

func ExamplePlanUpdate() {
	last := contactsync.Mapped{Fields: map[string]string{
		"firstName": "Ana", "email": "ana@example.com", "city": "Leeds", "companyName": "Acme",
	}}
	now := contactsync.Mapped{
		Fields: map[string]string{"firstName": "Anna", "email": "ana@example.com", "companyName": "Acme Group"},
		Custom: map[string]any{"key:contact.plan": "gold"},
		Tags:   []string{"vip"},
	}
	policies := contactsync.Policies{Fields: map[string]contactsync.Policy{"firstName": contactsync.APIWins}}

	// firstName is the CRM's; city was removed in GymFlow; companyName is
	// create-only; tags never travel in updates.
	update, need := contactsync.PlanUpdate(now, last, nil, time.Now(), policies)
	body, _ := json.Marshal(update)
	fmt.Println(need, string(body))
	// Output:
	// true {"city":null,"customFields":[{"key":"contact.plan","field_value":"gold"}]}
}

func ExampleDiffTags() {
	// The sync wrote "member" and "gf:trial"; the CRM's automations added
	// "hot-lead". GymFlow now says the member is "member" and "gf:gold".
	add, remove := contactsync.DiffTags(
		[]string{"member", "gf:gold"},
		[]string{"member", "gf:trial"},
		[]string{"member", "gf:trial", "hot-lead"},
		contactsync.Ownership{Written: true, Prefix: "gf:"},
	)
	fmt.Println("add", add, "remove", remove)
	// Output:
	// add [gf:gold] remove [gf:trial]
}

func ExampleMergeValue() {
	crmValue := "Anne"
	for _, p := range []contactsync.Policy{contactsync.GymFlowWins, contactsync.NewestWins, contactsync.FillIfEmpty, contactsync.APIWins} {
		// GymFlow changed "Ana" to "Anna" at 10:00; the CRM edited the
		// contact at 11:00.
		v, write := contactsync.MergeValue(p, "Anna", "Ana", &crmValue,
			time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC), time.Date(2024, 5, 1, 11, 0, 0, 0, time.UTC))
		fmt.Printf("%-11v write=%-5v %q\n", p, write, v)
	}
	// Output:
	// GymFlowWins write=true  "Anna"
	// NewestWins  write=false ""
	// FillIfEmpty write=false ""
	// APIWins     write=false ""
}
