package webhook_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/webhook"
)

// corpusBody returns the body of a FuzzParse seed: the seeds named after
// event types are our own payloads modelled on the API's documented
// samples, so they double as fixtures for TestParseDocumentedPayloads.
func corpusBody(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "fuzz", "FuzzParse", name))
	if err != nil {
		t.Fatal(err)
	}
	header, rest, _ := strings.Cut(string(b), "\n")
	lit, ok := strings.CutPrefix(strings.TrimSpace(rest), "[]byte(")
	lit, ok2 := strings.CutSuffix(lit, ")")
	if header != "go test fuzz v1" || !ok || !ok2 {
		t.Fatalf("%s is not a one-value []byte fuzz corpus file", name)
	}
	s, err := strconv.Unquote(lit)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return []byte(s)
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func ct(s string) contacts.Time { return contacts.Time{Time: at(s)} }

func meta(typ, locationID, webhookID, ts string) webhook.Meta {
	return webhook.Meta{Type: typ, LocationID: locationID, WebhookID: webhookID, Timestamp: at(ts)}
}

func cf(id, value string) contacts.CustomField {
	return contacts.CustomField{ID: id, Value: contacts.RawValue(json.RawMessage(value))}
}

func dnd(status contacts.DNDStatus, message, code string) *contacts.DNDSetting {
	return &contacts.DNDSetting{Status: status, Message: message, Code: code}
}

// IDs shared by the fixtures.
const (
	gymLocation = "Gf7kR2pLq9XwT4bN8cVd"
	marta       = "pQ3mZ8rT1vLx6NcW2kBa"
	joao        = "Mn4bV7cX1zL8kJ5hG2fD"
	rui         = "Hk8sD2fG5jL1zX9cV4bN"
	coach       = "Uh5cY7nE2sJ9wQ4tK1xR"
	sofia       = "Us9eR6tY3uI0oP7aS4dF"
	calendar    = "Ca7lE4nD1rX8vB5nM2qW"
	appID       = "66b1c2d3e4f5a6b7c8d9e0f1"
	companyID   = "Co5mP8aN1yX4zQ7wE0rT"
	planID      = "67a8b9c0d1e2f3a4b5c6d7e8"
)

var welcomeCall = webhook.Task{ID: "Tk9wE3rT6yU1iO4pA7sD", ContactID: marta, Title: "Welcome call",
	Body: "Book the induction session and send the app link.", AssignedTo: coach,
	DueDate: ct("2025-06-04T10:00:00.000Z"), DateAdded: ct("2025-06-02T14:29:54.210Z")}

// documentedPayloads are the fixtures of every documented event type, and
// what Parse must make of them.
var documentedPayloads = []struct {
	fixture string
	want    webhook.Event
}{
	{"ContactCreate", &webhook.ContactCreate{ContactEvent: webhook.ContactEvent{
		Meta: meta("ContactCreate", gymLocation, "0f6b2c1e-7a4d-4e8b-9c3f-2d5a6b7c8e91", "2025-06-02T14:29:52.118Z"),
		Contact: contacts.Contact{ID: marta, LocationID: gymLocation, Name: "Marta Oliveira", FirstName: "Marta", LastName: "Oliveira",
			Email: "marta.oliveira@example.pt", Phone: "+351912345678", Source: "trial-class form", AssignedTo: coach,
			Address1: "Rua de Santa Catarina 112", City: "Porto", State: "Porto", Country: "PT", PostalCode: "4000-447",
			Tags: []string{"lead", "trial-week"}, DateOfBirth: "1991-04-17T00:00:00.000Z", DateAdded: ct("2025-06-02T14:29:51.407Z"),
			CustomFields: []contacts.CustomField{cf("Cf1goalXy7Tq2LmN8pZr", `"strength"`), cf("Cf2hhtZa9Wq3KnM1vBxs", `172`)}},
	}}},
	{"ContactUpdate", &webhook.ContactUpdate{ContactEvent: webhook.ContactEvent{
		Meta: meta("ContactUpdate", gymLocation, "5e1d9a44-03bb-4c57-8f2e-a1c0d39b7e62", "2025-06-02T14:29:55.031Z"),
		Contact: contacts.Contact{ID: marta, LocationID: gymLocation, Name: "Marta Oliveira Santos", FirstName: "Marta", LastName: "Oliveira Santos",
			Email: "marta.oliveira@example.pt", Phone: "+351912345678", Source: "trial-class form", AssignedTo: coach,
			Address1: "Rua de Santa Catarina 112, 3º Esq.", City: "Porto", State: "Porto", Country: "PT", PostalCode: "4000-447",
			Tags: []string{"member", "trial-week"}, DateOfBirth: "1991-04-17T00:00:00.000Z", DateAdded: ct("2025-06-02T14:29:51.407Z"),
			Attachments: contacts.StringList{"https://files.example.com/waiver-marta.pdf"},
			CustomFields: []contacts.CustomField{cf("Cf1goalXy7Tq2LmN8pZr", `["strength","mobility"]`),
				cf("Cf3plnQw8Er5TyU2iOpA", `{"plan":"annual","price":39.9}`)}},
	}}},
	{"ContactDelete", &webhook.ContactDelete{ContactEvent: webhook.ContactEvent{
		Meta: meta("ContactDelete", gymLocation, "b7f0c2d3-1e4a-4b6c-8d9e-0f1a2b3c4d5e", "2025-06-02T14:29:40.000Z"),
		Contact: contacts.Contact{ID: rui, LocationID: gymLocation, Name: "Rui Costa", FirstName: "Rui", LastName: "Costa",
			Email: "rui.costa@example.pt", Phone: "+351933000111", CompanyName: "Oficina do Rui", DND: true, Source: "import",
			City: "Braga", Country: "PT", Tags: []string{"former-member"}, DateAdded: ct("2023-01-09T08:12:44.000Z")},
	}}},
	{"ContactTagUpdate", &webhook.ContactTagUpdate{ContactEvent: webhook.ContactEvent{
		Meta: meta("ContactTagUpdate", gymLocation, "c3a8e1f9-6b2d-4f70-a5c4-9e8d7b6a5f43", "2025-06-02T14:29:53.640Z"),
		Contact: contacts.Contact{ID: marta, LocationID: gymLocation, Name: "Marta Oliveira", FirstName: "Marta", LastName: "Oliveira",
			Email: "marta.oliveira@example.pt", Phone: "+351912345678", AssignedTo: coach, City: "Porto", Country: "PT",
			Tags: []string{"lead", "trial-week", "yoga-waitlist"}, DateAdded: ct("2025-06-02T14:29:51.407Z")},
	}}},
	{"ContactDndUpdate", &webhook.ContactDndUpdate{ContactEvent: webhook.ContactEvent{
		Meta: meta("ContactDndUpdate", gymLocation, "1d2e3f40-5a6b-4c7d-8e9f-a0b1c2d3e4f5", "2025-06-02T14:29:57.902Z"),
		Contact: contacts.Contact{ID: joao, LocationID: gymLocation, Name: "João Pereira", FirstName: "João", LastName: "Pereira",
			Email: "joao.pereira@example.pt", Phone: "+351961234567", Source: "front desk", City: "Lisboa", Country: "PT",
			PostalCode: "1100-148", Tags: []string{"member"}, DateAdded: ct("2024-11-20T18:03:12.550Z"), DND: true,
			DNDSettings: &contacts.DNDSettings{
				Call:     dnd(contacts.DNDActive, "Asked not to be called", "101"),
				SMS:      dnd(contacts.DNDActive, "Replied STOP", "103"),
				Email:    dnd(contacts.DNDInactive, "", ""),
				WhatsApp: dnd(contacts.DNDInactive, "", ""),
				GMB:      dnd(contacts.DNDInactive, "", ""),
				FB:       dnd(contacts.DNDPermanent, "Blocked the page", ""),
			},
			CustomFields: []contacts.CustomField{cf("Cf2hhtZa9Wq3KnM1vBxs", `"181"`)}},
	}}},
	{"TaskCreate", &webhook.TaskCreate{TaskEvent: webhook.TaskEvent{
		Meta: meta("TaskCreate", gymLocation, "9a8b7c6d-5e4f-4a3b-8c1d-0e9f8a7b6c5d", "2025-06-02T14:29:54.300Z"),
		Task: welcomeCall,
	}}},
	{"TaskComplete", &webhook.TaskComplete{TaskEvent: webhook.TaskEvent{
		Meta: meta("TaskComplete", gymLocation, "2b3c4d5e-6f70-4a81-9b2c-3d4e5f607182", "2025-06-02T14:29:58.777Z"),
		Task: welcomeCall,
	}}},
	{"TaskDelete", &webhook.TaskDelete{TaskEvent: webhook.TaskEvent{
		Meta: meta("TaskDelete", gymLocation, "3c4d5e6f-7081-4a92-8b3c-4d5e6f708192", "2025-06-02T14:29:41.050Z"),
		Task: webhook.Task{ID: "Tk2qW5eR8tY1uI4oP7aS", ContactID: rui, Title: "Renewal reminder",
			DueDate: ct("2025-06-01T09:00:00.000Z"), DateAdded: ct("2025-05-28T09:15:00.000Z")},
	}}},
	{"NoteCreate", &webhook.NoteCreate{NoteEvent: webhook.NoteEvent{
		Meta: meta("NoteCreate", gymLocation, "4d5e6f70-8192-4aa3-9c4d-5e6f708192a3", "2025-06-02T14:29:56.090Z"),
		Note: webhook.Note{ID: "Nt6yH9jK2lZ5xC8vB1nM", ContactID: marta, DateAdded: ct("2025-06-02T14:29:56.001Z"),
			Body: "Knee injury in 2023 — no deep squats for now. Prefers evening classes."},
	}}},
	{"NoteUpdate", &webhook.NoteUpdate{NoteEvent: webhook.NoteEvent{
		Meta: meta("NoteUpdate", gymLocation, "5e6f7081-92a3-4bb4-8d5e-6f708192a3b4", "2025-06-02T14:29:59.500Z"),
		Note: webhook.Note{ID: "Nt6yH9jK2lZ5xC8vB1nM", ContactID: marta, DateAdded: ct("2025-06-02T14:29:56.001Z"),
			Body: "Knee injury in 2023, cleared by physio on 2025-06-01. Prefers evening classes."},
	}}},
	{"NoteDelete", &webhook.NoteDelete{NoteEvent: webhook.NoteEvent{
		Meta: meta("NoteDelete", gymLocation, "6f708192-a3b4-4cc5-9e6f-708192a3b4c5", "2025-06-02T14:29:43.400Z"),
		Note: webhook.Note{ID: "Nt1aS4dF7gH0jK3lZ6xC", ContactID: joao, Body: "Duplicate note", DateAdded: ct("2025-04-02T12:00:00.000Z")},
	}}},
	{"AppointmentCreate", &webhook.AppointmentCreate{AppointmentEvent: webhook.AppointmentEvent{
		Meta: meta("AppointmentCreate", gymLocation, "708192a3-b4c5-4dd6-8f70-8192a3b4c5d6", "2025-06-02T14:29:57.300Z"),
		Appointment: webhook.Appointment{ID: "Ap3sD6fG9hJ2kL5zX8cV", CalendarID: calendar, ContactID: marta, GroupID: "Gr2oU5pS8tZ1xC4vB7nM",
			Title: "Induction with Sofia", Address: "Studio 2, Rua de Santa Catarina 300", AppointmentStatus: "confirmed",
			AssignedUserID: sofia, Users: []string{sofia}, Notes: "First session: mobility assessment.", Source: "booking_widget",
			StartTime: ct("2025-06-04T18:30:00+01:00"), EndTime: ct("2025-06-04T19:15:00+01:00"),
			DateAdded: ct("2025-06-02T15:29:57+01:00"), DateUpdated: ct("2025-06-02T15:29:57+01:00")},
	}}},
	{"AppointmentUpdate", &webhook.AppointmentUpdate{AppointmentEvent: webhook.AppointmentEvent{
		Meta: meta("AppointmentUpdate", gymLocation, "92a3b4c5-d6e7-4ff8-80a1-92a3b4c5d6e8", "2025-06-02T14:29:59.800Z"),
		Appointment: webhook.Appointment{ID: "Ap3sD6fG9hJ2kL5zX8cV", CalendarID: calendar, ContactID: marta,
			Title: "Induction with Sofia (moved)", Address: "Studio 1", AppointmentStatus: "confirmed",
			AssignedUserID: sofia, Users: []string{sofia},
			StartTime: ct("2025-06-05T07:00:00Z"), EndTime: ct("2025-06-05T07:45:00Z"),
			DateAdded: ct("2025-06-02T14:29:57Z"), DateUpdated: ct("2025-06-02T14:29:59Z")},
	}}},
	{"AppointmentDelete", &webhook.AppointmentDelete{AppointmentEvent: webhook.AppointmentEvent{
		Meta: meta("AppointmentDelete", gymLocation, "a3b4c5d6-e7f8-4a09-9b1c-a3b4c5d6e7f9", "2025-06-02T14:29:44.600Z"),
		Appointment: webhook.Appointment{ID: "Ap8kL1zX4cV7bN0mQ3wE", CalendarID: calendar, ContactID: joao,
			Title: "PT session", AppointmentStatus: "cancelled", Users: []string{},
			StartTime: ct("2025-06-03T08:00:00+01:00"), EndTime: ct("2025-06-03T09:00:00+01:00"),
			DateAdded: ct("2025-05-30T10:11:12+01:00"), DateUpdated: ct("2025-06-02T15:29:44+01:00")},
	}}},
	// The API's documented AppointmentUpdate and AppointmentDelete samples
	// say "AppointmentCreate".
	{"AppointmentCreate-as-update", &webhook.AppointmentCreate{AppointmentEvent: webhook.AppointmentEvent{
		Meta: meta("AppointmentCreate", gymLocation, "8192a3b4-c5d6-4ee7-9081-92a3b4c5d6e7", "2025-06-02T14:29:59.100Z"),
		Appointment: webhook.Appointment{ID: "Ap3sD6fG9hJ2kL5zX8cV", CalendarID: calendar, ContactID: marta,
			Title: "Induction with Sofia", AppointmentStatus: "showed", AssignedUserID: sofia,
			Users: []string{sofia, "Us1qA4zW7sX0eD3cR6fV"}, Source: "booking_widget",
			StartTime: ct("2025-06-04T18:30:00+01:00"), EndTime: ct("2025-06-04T19:15:00+01:00"),
			DateAdded: ct("2025-06-02T15:29:57+01:00"), DateUpdated: ct("2025-06-02T15:29:59+01:00")},
	}}},
	{"INSTALL-location", &webhook.Install{
		Meta:  meta("INSTALL", gymLocation, "b4c5d6e7-f809-4b1a-8c2d-b4c5d6e7f80a", "2025-06-02T14:28:01.000Z"),
		AppID: appID, CompanyID: companyID, UserID: coach, PlanID: planID, CompanyName: "GymFlow Studios Lda",
		IsWhitelabelCompany: true,
		WhitelabelDetails:   map[string]any{"domain": "app.gymflow.example", "logoUrl": "https://cdn.gymflow.example/logo.svg"},
		Trial:               &webhook.Trial{OnTrial: true, TrialDuration: 14, TrialStartDate: ct("2025-06-02T14:28:00.000Z")},
	}},
	{"INSTALL-not-whitelabel", &webhook.Install{
		Meta:  meta("INSTALL", "Hq2wE5rT8yU1iO4pA7sD", "f8091a2b-3c4d-4e5f-8a6b-f8091a2b3c4e", "2025-06-02T14:29:20.250Z"),
		AppID: appID, CompanyID: companyID, UserID: coach, PlanID: planID, CompanyName: "Box Norte",
		WhitelabelDetails: map[string]any{},
		Trial:             &webhook.Trial{OnTrial: true, TrialDuration: 7, TrialStartDate: ct("2025-06-02T14:20:00.000Z")},
	}},
	{"INSTALL-agency", &webhook.Install{
		Meta:  meta("INSTALL", "", "c5d6e7f8-091a-4c2b-9d3e-c5d6e7f8091b", "2025-06-02T14:28:30.000Z"),
		AppID: appID, CompanyID: companyID, PlanID: planID, Trial: &webhook.Trial{},
	}},
	{"UNINSTALL-location", &webhook.Uninstall{
		Meta:  meta("UNINSTALL", gymLocation, "d6e7f809-1a2b-4d3c-8e4f-d6e7f8091a2c", "2025-06-02T14:29:59.999Z"),
		AppID: appID,
	}},
	{"UNINSTALL-agency", &webhook.Uninstall{
		Meta:  meta("UNINSTALL", "", "e7f8091a-2b3c-4e4d-9f50-e7f8091a2b3d", "2025-06-02T14:29:30.500Z"),
		AppID: appID, CompanyID: companyID,
	}},
}

// TestParseDocumentedPayloads parses a fixture of every documented event
// type and compares every decoded field with what the fixture says.
func TestParseDocumentedPayloads(t *testing.T) {
	t.Parallel()
	covered := map[string]bool{}
	for _, tc := range documentedPayloads {
		t.Run(tc.fixture, func(t *testing.T) {
			body := corpusBody(t, tc.fixture)
			got, err := webhook.Parse(body)
			if err != nil {
				t.Fatal(err)
			}
			if reflect.TypeOf(got) != reflect.TypeOf(tc.want) {
				t.Fatalf("Parse returned %T, want %T", got, tc.want)
			}
			want := reflect.New(reflect.TypeOf(tc.want).Elem()) // a copy, to set Raw
			want.Elem().Set(reflect.ValueOf(tc.want).Elem())
			want.Interface().(webhook.Event).Info().Raw = body
			var diffs []string
			diffValues("", reflect.ValueOf(got), want, &diffs)
			for _, d := range diffs {
				t.Error(d)
			}
		})
		covered[tc.want.Info().Type] = true
		covered[strings.TrimPrefix(fmt.Sprintf("%T", tc.want), "*webhook.")] = true
	}
	for typ, goType := range eventGoType {
		if !covered[typ] || !covered[strings.TrimPrefix(goType, "*webhook.")] {
			t.Errorf("no fixture of %s (%s)", typ, goType)
		}
	}
}

var (
	timeType      = reflect.TypeFor[time.Time]()
	marshalerType = reflect.TypeFor[json.Marshaler]()
)

// diffValues appends to diffs every difference between got and want,
// walking structs, pointers, slices and maps. Times compare as instants;
// a struct without exported fields (contacts.CustomValue) compares by its
// JSON, compacted; other structs' unexported fields are skipped; nil and
// empty slices and maps are alike.
func diffValues(path string, got, want reflect.Value, diffs *[]string) {
	report := func() {
		*diffs = append(*diffs, fmt.Sprintf("%s: got %#v, want %#v", path, got.Interface(), want.Interface()))
	}
	if got.Type() != want.Type() {
		*diffs = append(*diffs, fmt.Sprintf("%s: got a %s, want a %s", path, got.Type(), want.Type()))
		return
	}
	t := got.Type()
	switch {
	case t == timeType:
		if !got.Interface().(time.Time).Equal(want.Interface().(time.Time)) {
			*diffs = append(*diffs, fmt.Sprintf("%s: got %s, want %s", path, got.Interface(), want.Interface()))
		}
		return
	case t.Kind() == reflect.Struct && !hasExportedField(t) && t.Implements(marshalerType):
		g, _ := json.Marshal(got.Interface())
		w, _ := json.Marshal(want.Interface())
		var gc, wc bytes.Buffer
		if json.Compact(&gc, g) != nil || json.Compact(&wc, w) != nil || !bytes.Equal(gc.Bytes(), wc.Bytes()) {
			*diffs = append(*diffs, fmt.Sprintf("%s: got %s, want %s", path, g, w))
		}
		return
	case t == reflect.TypeFor[json.RawMessage]():
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			*diffs = append(*diffs, fmt.Sprintf("%s: got %q, want %q", path, got.Bytes(), want.Bytes()))
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface:
		if got.IsNil() || want.IsNil() {
			if got.IsNil() != want.IsNil() {
				report()
			}
			return
		}
		diffValues(path, got.Elem(), want.Elem(), diffs)
	case reflect.Struct:
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() {
				diffValues(path+"."+f.Name, got.Field(i), want.Field(i), diffs)
			}
		}
	case reflect.Slice:
		if got.Len() != want.Len() {
			report()
			return
		}
		for i := range got.Len() {
			diffValues(fmt.Sprintf("%s[%d]", path, i), got.Index(i), want.Index(i), diffs)
		}
	case reflect.Map:
		if got.Len() != want.Len() {
			report()
			return
		}
		for _, k := range want.MapKeys() {
			g := got.MapIndex(k)
			if !g.IsValid() {
				*diffs = append(*diffs, fmt.Sprintf("%s[%v]: missing", path, k))
				continue
			}
			diffValues(fmt.Sprintf("%s[%v]", path, k), g, want.MapIndex(k), diffs)
		}
	default:
		if !got.Equal(want) {
			report()
		}
	}
}

func hasExportedField(t reflect.Type) bool {
	for i := range t.NumField() {
		if t.Field(i).IsExported() {
			return true
		}
	}
	return false
}
