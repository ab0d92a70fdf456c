package contactstest_test

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gymflow/contacts-go/contactstest"
)

// This file pins the shape of every answer the fake sends: for each
// operation of the contacts spec (api/apps/contacts.json, and the search
// model of contacts.2025-09-08.json) and of the OAuth spec, the status and
// the exact set of keys, with their JSON types, at every level. The
// expected shapes are written out by hand from the specs' response schemas;
// where the fake departs from a schema it is because API-NOTES documents
// the live API doing so, and the comments say which.

// A shape describes a JSON value: a jsKind, a jsObject (exactly these keys),
// a jsArray (every element matches; an empty Of wants an empty array) or a
// jsTuple (exactly these elements, in order).
type (
	jsKind   string
	jsObject map[string]any
	jsArray  struct{ Of any }
	jsTuple  []any
)

const (
	jsString jsKind = "string"
	jsNumber jsKind = "number"
	jsBool   jsKind = "boolean"
	jsNull   jsKind = "null"
)

// jsEmpty is an array that must be empty.
var jsEmpty = jsArray{}

func jsKindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// shapeDiff lists how got departs from want, one line per difference.
func shapeDiff(path string, got, want any) []string {
	mismatch := func(w string) []string {
		return []string{fmt.Sprintf("%s: %s, want %s", path, jsKindOf(got), w)}
	}
	switch w := want.(type) {
	case jsKind:
		if jsKindOf(got) != string(w) {
			return mismatch(string(w))
		}
		return nil
	case jsObject:
		m, ok := got.(map[string]any)
		if !ok {
			return mismatch("object")
		}
		var out []string
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if _, known := w[k]; !known {
				out = append(out, fmt.Sprintf("%s.%s: unexpected key (%s)", path, k, jsKindOf(m[k])))
			}
		}
		for _, k := range slices.Sorted(maps.Keys(w)) {
			v, ok := m[k]
			if !ok {
				out = append(out, fmt.Sprintf("%s.%s: missing", path, k))
				continue
			}
			out = append(out, shapeDiff(path+"."+k, v, w[k])...)
		}
		return out
	case jsArray:
		a, ok := got.([]any)
		switch {
		case !ok:
			return mismatch("array")
		case w.Of == nil && len(a) > 0:
			return []string{fmt.Sprintf("%s: %d elements, want an empty array", path, len(a))}
		case w.Of != nil && len(a) == 0:
			return []string{path + ": empty array, want elements to check"}
		}
		var out []string
		for i, e := range a {
			out = append(out, shapeDiff(fmt.Sprintf("%s[%d]", path, i), e, w.Of)...)
		}
		return out
	case jsTuple:
		a, ok := got.([]any)
		if !ok {
			return mismatch("array")
		}
		if len(a) != len(w) {
			return []string{fmt.Sprintf("%s: %d elements, want %d", path, len(a), len(w))}
		}
		var out []string
		for i, e := range a {
			out = append(out, shapeDiff(fmt.Sprintf("%s[%d]", path, i), e, w[i])...)
		}
		return out
	}
	panic(fmt.Sprintf("shapeDiff: bad shape %T", want))
}

func shapeCheck(t *testing.T, what string, body map[string]any, want jsObject) {
	t.Helper()
	for _, d := range shapeDiff("$", body, want) {
		t.Errorf("%s: %s", what, d)
	}
}

// jsBody is a top-level answer: fields plus the traceId every body of the
// live API carries (API-NOTES).
func jsBody(fields jsObject) jsObject {
	out := maps.Clone(fields)
	out["traceId"] = jsString
	return out
}

// jsWith returns base with extra keys added (or replaced).
func jsWith(base, extra jsObject) jsObject {
	out := maps.Clone(base)
	maps.Copy(out, extra)
	return out
}

// The error envelopes: BadRequestDTO, UnauthorizedDTO, UnprocessableDTO.
// 403 is undocumented; the fake sends 401's envelope.
var (
	jsError400 = jsBody(jsObject{"statusCode": jsNumber, "message": jsString})
	jsError401 = jsBody(jsObject{"statusCode": jsNumber, "message": jsString, "error": jsString})
	jsError403 = jsError401
	jsError422 = jsBody(jsObject{"statusCode": jsNumber, "message": jsArray{jsString}, "error": jsString})
)

// Records of the contacts spec, as the fake sends them for a record whose
// every modelled field is set.
var (
	// TaskSchema, every property.
	jsTask = jsObject{
		"id": jsString, "title": jsString, "body": jsString, "assignedTo": jsString,
		"dueDate": jsString, "completed": jsBool, "contactId": jsString,
	}
	// GetNoteSchema, every property.
	jsNote = jsObject{
		"id": jsString, "body": jsString, "userId": jsString, "dateAdded": jsString,
		"contactId": jsString, "title": jsString, "color": jsString, "pinned": jsBool,
	}
	// GetEventSchema, every property.
	jsEvent = jsObject{
		"id": jsString, "calendarId": jsString, "status": jsString, "title": jsString,
		"assignedUserId": jsString, "notes": jsString, "startTime": jsString, "endTime": jsString,
		"address": jsString, "locationId": jsString, "contactId": jsString, "groupId": jsString,
		"appointmentStatus": jsString, "users": jsArray{jsString}, "dateAdded": jsString,
		"dateUpdated": jsString, "assignedResources": jsArray{jsString},
	}
	// GetContectByIdSchema (sic) for a contact whose seeded dndSettings
	// hold one channel, SMS. The fake does not model ssn, keyword,
	// lastActivity, attributionSource, lastAttributionSource or visitorId
	// (all optional), so it never sends them. additionalEmails ([{email}])
	// and followers are outside the schema: the live API sends them
	// (API-NOTES; followers is in ContactsSearchSchema).
	jsContact = jsObject{
		"id": jsString, "name": jsString, "locationId": jsString, "firstName": jsString,
		"lastName": jsString, "email": jsString, "emailLowerCase": jsString, "timezone": jsString,
		"companyName": jsString, "phone": jsString, "dnd": jsBool,
		"dndSettings": jsObject{"SMS": jsObject{"status": jsString, "message": jsString, "code": jsString}},
		"type":        jsString, "source": jsString, "assignedTo": jsString, "address1": jsString,
		"city": jsString, "state": jsString, "country": jsString, "postalCode": jsString,
		"website": jsString, "tags": jsArray{jsString}, "dateOfBirth": jsString,
		"dateAdded": jsString, "dateUpdated": jsString, "attachments": jsString,
		"firstNameLowerCase": jsString, "fullNameLowerCase": jsString, "lastNameLowerCase": jsString,
		"customFields":     jsArray{jsObject{"id": jsString, "value": jsString}},
		"businessId":       jsString,
		"additionalEmails": jsArray{jsObject{"email": jsString}},
		"followers":        jsArray{jsString},
	}
	// The search response's Contact model (contacts.2025-09-08.json): the
	// read model plus address (address1 under the model's name), the
	// searchAfter cursor (the default sort's dateAdded in epoch ms, as the
	// model's example has it, then the id) and additionalEmails as the
	// model's plain strings. phoneLabel, businessName, additionalPhones,
	// validEmail and opportunities are not modelled by the fake.
	jsSearchContact = jsWith(jsContact, jsObject{
		"address":          jsString,
		"searchAfter":      jsTuple{jsNumber, jsString},
		"additionalEmails": jsArray{jsString},
	})
	// CreateContactSchema for a contact created with every CreateContactDto
	// property (its dndSettings hold Email): birthMonth and birthDay come
	// from dateOfBirth; offers and products are empty. businessId cannot be
	// set on create and lastSessionActivityAt is not modelled. name,
	// timezone, attachments, followers and additionalEmails come from the
	// read model; bounceEmail and unsubscribeEmail are live fields outside
	// the schema.
	jsCreatedContact = jsObject{
		"id": jsString, "dateAdded": jsString, "dateUpdated": jsString, "deleted": jsBool,
		"tags": jsArray{jsString}, "type": jsString,
		"customFields": jsArray{jsObject{"id": jsString, "value": jsString}},
		"locationId":   jsString, "firstName": jsString, "firstNameLowerCase": jsString,
		"fullNameLowerCase": jsString, "lastName": jsString, "lastNameLowerCase": jsString,
		"email": jsString, "emailLowerCase": jsString, "dnd": jsBool,
		"dndSettings": jsObject{"Email": jsObject{"status": jsString, "message": jsString, "code": jsString}},
		"phone":       jsString, "address1": jsString, "city": jsString, "state": jsString,
		"country": jsString, "postalCode": jsString, "website": jsString, "source": jsString,
		"companyName": jsString, "dateOfBirth": jsString, "birthMonth": jsNumber, "birthDay": jsNumber,
		"offers": jsEmpty, "products": jsEmpty, "assignedTo": jsString,
		"name": jsString, "timezone": jsString, "attachments": jsString,
		"followers": jsEmpty, "additionalEmails": jsEmpty,
		"bounceEmail": jsBool, "unsubscribeEmail": jsBool,
	}
	// ContactsSearchSchema lists a subset of the read model (its
	// attributions are not modelled); the list endpoints send the whole
	// read model, as the live API sends fields the schema omits.
	jsListedContact = jsContact
	jsSucceded      = jsBody(jsObject{"succeded": jsBool})
)

// shapeFullContact is a contact with every field the fake models set.
func shapeFullContact(first, email, phone, business, fieldID string) contactstest.Contact {
	return contactstest.Contact{
		FirstName: first, LastName: "Lima", Email: email, Phone: phone,
		CompanyName: "Lima Fitness", Address1: "500 Market St", City: "San Francisco", State: "CA",
		PostalCode: "94105", Country: "US", Website: "https://lima.example.com",
		Timezone: "America/Los_Angeles", Source: "public api", AssignedTo: "user-1",
		DateOfBirth: "1990-09-25T00:00:00.000Z", BusinessID: business, DND: true,
		DNDSettings:      map[string]contactstest.DNDSetting{"SMS": {Status: "active", Message: "Opted out", Code: "103"}},
		Tags:             []string{"member"},
		CustomFields:     []contactstest.CustomField{{ID: fieldID, Value: "gold"}},
		Followers:        []string{"user-1"},
		AdditionalEmails: []string{"work." + email},
	}
}

// specScopes is the scope each operation of the contacts spec needs, from
// its security requirement (api/apps/contacts.json). The two bulk
// operations declare none there; as writes they need contacts.write
// (API-NOTES: contacts.write for every write).
var specScopes = map[string]string{
	"search-contacts-advanced":           contactstest.ScopeContactsRead,
	"get-duplicate-contact":              contactstest.ScopeContactsRead,
	"get-all-tasks":                      contactstest.ScopeContactsRead,
	"create-task":                        contactstest.ScopeContactsWrite,
	"get-task":                           contactstest.ScopeContactsRead,
	"update-task":                        contactstest.ScopeContactsWrite,
	"delete-task":                        contactstest.ScopeContactsWrite,
	"update-task-completed":              contactstest.ScopeContactsWrite,
	"get-appointments-for-contact":       contactstest.ScopeContactsRead,
	"add-tags":                           contactstest.ScopeContactsWrite,
	"remove-tags":                        contactstest.ScopeContactsWrite,
	"get-all-notes":                      contactstest.ScopeContactsRead,
	"create-note":                        contactstest.ScopeContactsWrite,
	"get-note":                           contactstest.ScopeContactsRead,
	"update-note":                        contactstest.ScopeContactsWrite,
	"delete-note":                        contactstest.ScopeContactsWrite,
	"create-association":                 contactstest.ScopeContactsWrite,
	"add-remove-contact-from-business":   contactstest.ScopeContactsWrite,
	"get-contact":                        contactstest.ScopeContactsRead,
	"update-contact":                     contactstest.ScopeContactsWrite,
	"delete-contact":                     contactstest.ScopeContactsWrite,
	"upsert-contact":                     contactstest.ScopeContactsWrite,
	"get-contacts-by-businessId":         contactstest.ScopeContactsRead,
	"add-followers-contact":              contactstest.ScopeContactsWrite,
	"remove-followers-contact":           contactstest.ScopeContactsWrite,
	"add-contact-to-campaign":            contactstest.ScopeContactsWrite,
	"remove-contact-from-campaign":       contactstest.ScopeContactsWrite,
	"remove-contact-from-every-campaign": contactstest.ScopeContactsWrite,
	"add-contact-to-workflow":            contactstest.ScopeContactsWrite,
	"delete-contact-from-workflow":       contactstest.ScopeContactsWrite,
	"create-contact":                     contactstest.ScopeContactsWrite,
	"get-contacts":                       contactstest.ScopeContactsRead,
}

// shapeCase is one request and the answer's expected status and shape.
type shapeCase struct {
	op     string // the spec's operationId
	method string
	path   string
	body   map[string]any // nil: no body
	status int
	want   jsObject
	// whitelisted: the body is a DTO whose unknown properties answer 422.
	whitelisted bool
	check       func(t *testing.T, body map[string]any) // extra value checks
}

// TestResponseShapes sends every operation of the spec four ways: with an
// unknown token (401), with a token holding only the other contacts scope
// (401 for the scope), with a property its body's DTO does not declare
// (422; operations with a body), and then for real with a token holding
// only the operation's own scope; it pins each answer's status and shape.
func TestResponseShapes(t *testing.T) {
	clock := contactstest.NewManualClock(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	srv := contactstest.NewServer(contactstest.WithClock(clock), contactstest.WithoutRateLimits())
	defer srv.Close()
	r := raw{t, srv}
	loc := srv.LocationID()
	fieldID, err := srv.AddCustomField(loc, "membership_level")
	if err != nil {
		t.Fatal(err)
	}
	ana := srv.SeedContact(shapeFullContact("Ana", "ana@example.com", "+14155550100", "biz1", fieldID))
	clock.Advance(time.Minute)
	bo := srv.SeedContact(shapeFullContact("Bo", "bo@example.com", "+14155550101", "biz2", fieldID))
	var tasks []contactstest.Task
	var notes []contactstest.Note
	for i := range 2 {
		task, err := srv.SeedTask(contactstest.Task{ContactID: ana.ID, Title: fmt.Sprint("Task ", i), Body: "Renewal",
			AssignedTo: "user-1", DueDate: clock.Now().Add(24 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, task)
		note, err := srv.SeedNote(contactstest.Note{ContactID: ana.ID, Body: "Intake", UserID: "user-1",
			Title: fmt.Sprint("Note ", i), Color: "#FFAA00", Pinned: true})
		if err != nil {
			t.Fatal(err)
		}
		notes = append(notes, note)
	}
	if _, err := srv.SeedAppointment(contactstest.Appointment{ContactID: ana.ID, CalendarID: "cal-1",
		Title: "Personal training", AssignedUserID: "user-1", Notes: "Bring a towel", Address: "Studio B",
		GroupID: "group-1", Users: []string{"user-1"}, AssignedResources: []string{"room-b"},
		StartTime: clock.Now().Add(48 * time.Hour), EndTime: clock.Now().Add(49 * time.Hour)}); err != nil {
		t.Fatal(err)
	}

	contact := "/contacts/" + ana.ID
	task := contact + "/tasks/" + tasks[0].ID
	note := contact + "/notes/" + notes[0].ID
	dndSMS := map[string]any{"SMS": map[string]any{"status": "active", "message": "Opted out", "code": "103"}}
	// Every property of UpdateContactDto; CreateContactDto and
	// UpsertContactDto add locationId, gender and companyName.
	updateBody := map[string]any{
		"firstName": "Ana", "lastName": "Lima", "name": "Ana Lima", "email": "ana@example.com",
		"phone": "+1 415-555-0100", "address1": "1 Broadway", "city": "Oakland", "state": "CA",
		"postalCode": "94607", "website": "https://ana.example.com", "timezone": "America/Los_Angeles",
		"dnd": true, "dndSettings": dndSMS, "inboundDndSettings": map[string]any{"all": map[string]any{"status": "inactive", "message": "ok"}},
		"tags": []string{"member"}, "customFields": []map[string]any{{"id": fieldID, "field_value": "gold"}},
		"source": "public api", "dateOfBirth": "1990-09-25", "country": "US", "assignedTo": "user-1",
	}
	upsertBody := maps.Clone(updateBody)
	maps.Copy(upsertBody, map[string]any{"locationId": loc, "gender": "female", "companyName": "Lima Fitness", "createNewIfDuplicateAllowed": false})
	createBody := map[string]any{
		"locationId": loc, "firstName": "Cleo", "lastName": "Park", "name": "Cleo Park", "email": "cleo@example.com",
		"gender": "female", "phone": "+1 415 555 0199", "address1": "1 Main St", "city": "Oakland", "state": "CA",
		"postalCode": "94607", "website": "https://cleo.example.com", "timezone": "America/Los_Angeles", "dnd": false,
		"dndSettings":        map[string]any{"Email": map[string]any{"status": "inactive", "message": "ok", "code": "1"}},
		"inboundDndSettings": map[string]any{"all": map[string]any{"status": "active", "message": "ok"}},
		"tags":               []string{"trial"}, "customFields": []map[string]any{{"key": "membership_level", "field_value": "silver"}},
		"source": "public api", "dateOfBirth": "1990-09-25", "country": "US", "companyName": "Park Co", "assignedTo": "user-1",
	}
	taskBody := map[string]any{"title": "Call", "body": "About renewal", "dueDate": "2025-03-14T09:30:00Z", "completed": false, "assignedTo": "user-1"}
	noteBody := map[string]any{"userId": "user-1", "body": "Intake", "title": "Intake", "color": "#FFAA00", "pinned": true}
	// The bulk tags results: per API-NOTES objects with both tag lists (the
	// spec types them as strings), or {contactId, message, type} for a
	// contact that was not found.
	bulkResult := func(added, removed any) jsObject {
		return jsObject{"contactId": jsString, "message": jsString, "type": jsString,
			"oldTags": jsArray{jsString}, "tagsAdded": added, "tagsRemoved": removed}
	}
	bulkError := jsObject{"contactId": jsString, "message": jsString, "type": jsString}
	wantTrue := func(key string) func(*testing.T, map[string]any) {
		return func(t *testing.T, body map[string]any) {
			if body[key] != true {
				t.Errorf("%s = %v, want true", key, body[key])
			}
		}
	}

	cases := []shapeCase{
		{op: "search-contacts-advanced", method: "POST", path: "/contacts/search", whitelisted: true,
			body: map[string]any{"locationId": loc, "pageLimit": 10, "page": 1, "query": "ana",
				"filters": []map[string]any{{"field": "id", "operator": "eq", "value": ana.ID}},
				"sort":    []map[string]any{{"field": "dateAdded", "direction": "desc"}}},
			status: 200, want: jsBody(jsObject{"contacts": jsArray{jsSearchContact}, "total": jsNumber})},
		{op: "get-duplicate-contact", method: "GET", status: 200,
			path: "/contacts/search/duplicate?" + url.Values{"locationId": {loc}, "email": {ana.Email}, "number": {ana.Phone}}.Encode(),
			want: jsBody(jsObject{"contact": jsContact})},
		{op: "get-duplicate-contact (none)", method: "GET", status: 200,
			path: "/contacts/search/duplicate?" + url.Values{"locationId": {loc}, "email": {"nobody@example.com"}}.Encode(),
			want: jsBody(jsObject{"contact": jsNull})},
		{op: "get-all-tasks", method: "GET", path: contact + "/tasks", status: 200,
			want: jsBody(jsObject{"tasks": jsArray{jsTask}})},
		{op: "create-task", method: "POST", path: contact + "/tasks", body: taskBody, whitelisted: true, status: 201,
			want: jsBody(jsObject{"task": jsTask})},
		{op: "get-task", method: "GET", path: task, status: 200, want: jsBody(jsObject{"task": jsTask})},
		{op: "update-task", method: "PUT", path: task, body: taskBody, whitelisted: true, status: 200,
			want: jsBody(jsObject{"task": jsTask})},
		{op: "update-task-completed", method: "PUT", path: task + "/completed", body: map[string]any{"completed": true},
			whitelisted: true, status: 200, want: jsBody(jsObject{"task": jsTask})},
		{op: "delete-task", method: "DELETE", path: contact + "/tasks/" + tasks[1].ID, status: 200, want: jsSucceded,
			check: wantTrue("succeded")},
		{op: "get-appointments-for-contact", method: "GET", path: contact + "/appointments", status: 200,
			want: jsBody(jsObject{"events": jsArray{jsEvent}})},
		{op: "add-tags", method: "POST", path: contact + "/tags", body: map[string]any{"tags": []string{"vip"}},
			whitelisted: true, status: 201, want: jsBody(jsObject{"tags": jsArray{jsString}})},
		{op: "remove-tags", method: "DELETE", path: contact + "/tags", body: map[string]any{"tags": []string{"vip"}},
			whitelisted: true, status: 200, want: jsBody(jsObject{"tags": jsArray{jsString}})},
		{op: "get-all-notes", method: "GET", path: contact + "/notes", status: 200,
			want: jsBody(jsObject{"notes": jsArray{jsNote}})},
		{op: "create-note", method: "POST", path: contact + "/notes", body: noteBody, whitelisted: true, status: 201,
			want: jsBody(jsObject{"note": jsNote})},
		{op: "get-note", method: "GET", path: note, status: 200, want: jsBody(jsObject{"note": jsNote})},
		{op: "update-note", method: "PUT", path: note, body: noteBody, whitelisted: true, status: 200,
			want: jsBody(jsObject{"note": jsNote})},
		{op: "delete-note", method: "DELETE", path: contact + "/notes/" + notes[1].ID, status: 200, want: jsSucceded,
			check: wantTrue("succeded")},
		{op: "create-association (add)", method: "POST", path: "/contacts/bulk/tags/update/add", whitelisted: true,
			body:   map[string]any{"contacts": []string{ana.ID, "unknownContactId0001"}, "tags": []string{"promo"}, "locationId": loc, "removeAllTags": false},
			status: 201,
			want: jsBody(jsObject{"succeded": jsBool, "errorCount": jsNumber,
				"responses": jsTuple{bulkResult(jsArray{jsString}, jsEmpty), bulkError}})},
		{op: "create-association (remove)", method: "POST", path: "/contacts/bulk/tags/update/remove", whitelisted: true,
			body:   map[string]any{"contacts": []string{ana.ID}, "tags": []string{"promo"}, "locationId": loc, "removeAllTags": false},
			status: 201,
			want: jsBody(jsObject{"succeded": jsBool, "errorCount": jsNumber,
				"responses": jsTuple{bulkResult(jsEmpty, jsArray{jsString})}}),
			check: wantTrue("succeded")},
		{op: "add-remove-contact-from-business", method: "POST", path: "/contacts/bulk/business", whitelisted: true,
			body:   map[string]any{"locationId": loc, "ids": []string{bo.ID}, "businessId": "biz1"},
			status: 200, want: jsBody(jsObject{"success": jsBool, "ids": jsArray{jsString}}), check: wantTrue("success")},
		{op: "get-contact", method: "GET", path: contact, status: 200, want: jsBody(jsObject{"contact": jsContact})},
		{op: "update-contact", method: "PUT", path: contact, body: updateBody, whitelisted: true, status: 200,
			want: jsBody(jsObject{"succeded": jsBool, "contact": jsContact}), check: wantTrue("succeded")},
		{op: "upsert-contact", method: "POST", path: "/contacts/upsert", body: upsertBody, whitelisted: true, status: 200,
			want: jsBody(jsObject{"new": jsBool, "contact": jsContact}),
			check: func(t *testing.T, body map[string]any) {
				if body["new"] != false {
					t.Errorf("new = %v, want false (the email matches Ana)", body["new"])
				}
			}},
		{op: "get-contacts-by-businessId", method: "GET", path: "/contacts/business/biz1?locationId=" + loc + "&limit=10&skip=0",
			status: 200, want: jsBody(jsObject{"contacts": jsArray{jsListedContact}, "count": jsNumber})},
		{op: "add-followers-contact", method: "POST", path: contact + "/followers", whitelisted: true,
			body: map[string]any{"followers": []string{"user-2"}}, status: 201,
			want: jsBody(jsObject{"followers": jsArray{jsString}, "followersAdded": jsArray{jsString}})},
		{op: "remove-followers-contact", method: "DELETE", path: contact + "/followers", whitelisted: true,
			body: map[string]any{"followers": []string{"user-2"}}, status: 200,
			want: jsBody(jsObject{"followers": jsArray{jsString}, "followersRemoved": jsArray{jsString}})},
		{op: "add-contact-to-campaign", method: "POST", path: contact + "/campaigns/campaign-1", body: map[string]any{},
			whitelisted: true, status: 201, want: jsSucceded, check: wantTrue("succeded")},
		{op: "remove-contact-from-campaign", method: "DELETE", path: contact + "/campaigns/campaign-1", status: 200,
			want: jsSucceded, check: wantTrue("succeded")},
		{op: "remove-contact-from-every-campaign", method: "DELETE", path: contact + "/campaigns/removeAll", status: 200,
			want: jsSucceded, check: wantTrue("succeded")},
		{op: "add-contact-to-workflow", method: "POST", path: contact + "/workflow/workflow-1", whitelisted: true,
			body: map[string]any{"eventStartTime": "2021-06-23T03:30:00+01:00"}, status: 200, want: jsSucceded,
			check: wantTrue("succeded")},
		{op: "delete-contact-from-workflow", method: "DELETE", path: contact + "/workflow/workflow-1", whitelisted: true,
			body: map[string]any{"eventStartTime": "2021-06-23T03:30:00+01:00"}, status: 200, want: jsSucceded,
			check: wantTrue("succeded")},
		{op: "create-contact", method: "POST", path: "/contacts/", body: createBody, whitelisted: true, status: 201,
			want: jsBody(jsObject{"contact": jsCreatedContact}),
			check: func(t *testing.T, body map[string]any) {
				c, _ := body["contact"].(map[string]any)
				// 1990-09-25: birthMonth is zero-based, as in the spec's example.
				if c["birthMonth"] != 8.0 || c["birthDay"] != 25.0 || c["deleted"] != false {
					t.Errorf("birthMonth, birthDay, deleted = %v, %v, %v; want 8, 25, false", c["birthMonth"], c["birthDay"], c["deleted"])
				}
			}},
		// The deprecated list: meta is not in the spec but the live API
		// sends it (API-NOTES). On a first page with a next one, prevPage is
		// null and the rest is set.
		{op: "get-contacts", method: "GET", path: "/contacts/?locationId=" + loc + "&limit=1", status: 200,
			want: jsBody(jsObject{"contacts": jsArray{jsListedContact}, "count": jsNumber, "meta": jsObject{
				"total": jsNumber, "currentPage": jsNumber, "nextPage": jsNumber, "prevPage": jsNull,
				"nextPageUrl": jsString, "startAfter": jsNumber, "startAfterId": jsString,
			}})},
		{op: "delete-contact", method: "DELETE", path: "/contacts/" + bo.ID, status: 200, want: jsSucceded,
			check: wantTrue("succeded")},
	}

	// Tokens holding one contacts scope each: every operation is refused
	// with the other one's and answered with its own.
	scoped := map[string]string{}
	for _, sc := range []string{contactstest.ScopeContactsRead, contactstest.ScopeContactsWrite} {
		scoped[sc] = srv.IssueToken(contactstest.TokenSpec{LocationID: loc, Scopes: []string{sc}})
	}
	ops := map[string]bool{}
	for _, tc := range cases {
		op := strings.Fields(tc.op)[0]
		ops[op] = true
		t.Run(tc.op, func(t *testing.T) {
			var body any
			if tc.body != nil {
				body = tc.body
			}
			need := specScopes[op]
			if need == "" {
				t.Fatalf("%s is not an operation of the spec", op)
			}
			other := contactstest.ScopeContactsRead
			if need == other {
				other = contactstest.ScopeContactsWrite
			}
			// Documented 401: a token the API does not know.
			if a := r.do(tc.method, tc.path, "pit-unknown", body); a.status != http.StatusUnauthorized {
				t.Errorf("unknown token: status %d, want 401", a.status)
			} else {
				shapeCheck(t, "401", a.body, jsError401)
			}
			// Documented 401: a token without the operation's scope. It
			// changes nothing: the same request succeeds below.
			if a := r.do(tc.method, tc.path, scoped[other], body); a.status != http.StatusUnauthorized ||
				!slices.Equal(messages(a), []string{"The token is not authorized for this scope."}) {
				t.Errorf("token with only %s: %d %v, want 401 for the scope", other, a.status, a.body)
			} else {
				shapeCheck(t, "401 (scope)", a.body, jsError401)
			}
			// Documented 422: a property the DTO does not declare.
			if tc.whitelisted {
				bad := maps.Clone(tc.body)
				bad["notInTheSpec"] = true
				a := r.do(tc.method, tc.path, scoped[need], bad)
				if a.status != http.StatusUnprocessableEntity || !slices.Contains(messages(a), "property notInTheSpec should not exist") {
					t.Errorf("unknown property: %d %v, want 422 naming it", a.status, a.body)
				} else {
					shapeCheck(t, "422", a.body, jsError422)
				}
			}
			// Success with a token holding only the operation's scope.
			a := r.do(tc.method, tc.path, scoped[need], body)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %v", a.status, tc.status, a.body)
			}
			shapeCheck(t, fmt.Sprint(a.status), a.body, tc.want)
			if tc.check != nil {
				tc.check(t, a.body)
			}
		})
	}
	if len(ops) != 32 || len(specScopes) != 32 {
		t.Errorf("covered %d operations (scopes known for %d), want the spec's 32: %v", len(ops), len(specScopes), slices.Sorted(maps.Keys(ops)))
	}
}

// TestErrorShapes pins the error envelopes the spec documents (400, 401,
// 422) and the undocumented 403, across the operations' error paths.
func TestErrorShapes(t *testing.T) {
	srv := contactstest.NewServer(contactstest.WithoutRateLimits())
	defer srv.Close()
	r := raw{t, srv}
	tok, loc := srv.Token(), srv.LocationID()
	ana := srv.SeedContact(contactstest.Contact{FirstName: "Ana", Email: "ana@example.com"})
	other := srv.AddLocation("", "", contactstest.LocationSettings{})
	foreign := srv.SeedContact(contactstest.Contact{FirstName: "Eve", LocationID: other})
	contact := "/contacts/" + ana.ID
	task, err := srv.SeedTask(contactstest.Task{ContactID: ana.ID, Title: "Call"})
	if err != nil {
		t.Fatal(err)
	}

	// The duplicate error is a 400 with a meta object naming the existing
	// contact: the live API's answer, outside BadRequestDTO.
	jsDuplicate := jsWith(jsError400, jsObject{"meta": jsObject{"contactName": jsString, "contactId": jsString, "matchingField": jsString}})

	cases := []struct {
		name, method, path string
		body               any
		status             int
		want               jsObject
		message            string // a message the answer must carry
	}{
		{"get-contact: unknown contact", "GET", "/contacts/unknownContactId0001", nil, 400, jsError400, "not found"},
		{"get-task: unknown task", "GET", contact + "/tasks/unknownTaskId00001", nil, 400, jsError400, "not found"},
		{"get-note: unknown note", "GET", contact + "/notes/unknownNoteId00001", nil, 400, jsError400, "not found"},
		{"add-tags: unknown contact", "POST", "/contacts/unknownContactId0001/tags", map[string]any{"tags": []string{"a"}}, 400, jsError400, "not found"},
		{"get-duplicate-contact: neither email nor number", "GET", "/contacts/search/duplicate?locationId=" + loc, nil, 400, jsError400, "number, email"},
		{"create-association: not JSON", "POST", "/contacts/bulk/tags/update/add", "{", 400, jsError400, "JSON"},
		{"create-contact: duplicate", "POST", "/contacts/", map[string]any{"locationId": loc, "email": ana.Email}, 400, jsDuplicate, "duplicated"},

		{"create-task: required fields", "POST", contact + "/tasks", map[string]any{"body": "x"}, 422, jsError422, "title should not be empty"},
		{"update-task-completed: required completed", "PUT", contact + "/tasks/" + task.ID + "/completed", map[string]any{}, 422, jsError422, "completed must be a boolean value"},
		{"create-note: required body", "POST", contact + "/notes", map[string]any{"title": "x"}, 422, jsError422, "body should not be empty"},
		{"add-followers-contact: required followers", "POST", contact + "/followers", map[string]any{}, 422, jsError422, "followers must be an array of strings"},
		{"create-association: bad type", "POST", "/contacts/bulk/tags/update/toggle", map[string]any{}, 422, jsError422, "type must be one of the following values: add, remove"},
		{"create-association: required fields", "POST", "/contacts/bulk/tags/update/add", map[string]any{"tags": []string{"a"}}, 422, jsError422, "locationId should not be empty"},
		{"add-remove-contact-from-business: id too long", "POST", "/contacts/bulk/business",
			map[string]any{"locationId": loc, "ids": []string{strings.Repeat("x", 51)}, "businessId": nil}, 422, jsError422, "ids.0 must be shorter than or equal to 50 characters"},
		{"create-contact: required locationId", "POST", "/contacts/", map[string]any{"firstName": "x"}, 422, jsError422, "locationId should not be empty"},
		{"upsert-contact: required locationId", "POST", "/contacts/upsert", map[string]any{"email": "x@example.com"}, 422, jsError422, "locationId should not be empty"},
		{"update-contact: inbound DND cannot be permanent", "PUT", contact,
			map[string]any{"inboundDndSettings": map[string]any{"all": map[string]any{"status": "permanent"}}}, 422, jsError422,
			"inboundDndSettings.all.status must be one of the following values: active, inactive"},
		{"update-contact: inbound DND has only all", "PUT", contact,
			map[string]any{"inboundDndSettings": map[string]any{"SMS": map[string]any{"status": "active"}}}, 422, jsError422,
			"property inboundDndSettings.SMS should not exist"},
		{"update-contact: dndSettings status enum", "PUT", contact,
			map[string]any{"dndSettings": map[string]any{"SMS": map[string]any{"status": "on"}}}, 422, jsError422, "dndSettings.SMS.status"},
		{"update-contact: locationId is not updatable", "PUT", contact, map[string]any{"locationId": loc}, 422, jsError422, "property locationId should not exist"},
		{"get-contacts: required locationId", "GET", "/contacts/", nil, 422, jsError422, "locationId should not be empty"},
		{"get-contacts-by-businessId: required locationId", "GET", "/contacts/business/biz1", nil, 422, jsError422, "locationId should not be empty"},
		{"search-contacts-advanced: required pageLimit", "POST", "/contacts/search", map[string]any{"locationId": loc}, 422, jsError422, "pageLimit should not be empty"},

		{"get-contact: token without the scope", "GET", contact, nil, 401, jsError401, "scope"},
		{"get-contact: another location", "GET", "/contacts/" + foreign.ID, nil, 403, jsError403, "location"},
	}
	// A token without contacts.readonly: its reads answer 401.
	writeOnly := srv.IssueToken(contactstest.TokenSpec{LocationID: loc, Scopes: []string{contactstest.ScopeContactsWrite}})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bearer := tok
			if tc.status == http.StatusUnauthorized {
				bearer = writeOnly
			}
			a := r.do(tc.method, tc.path, bearer, tc.body)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %v", a.status, tc.status, a.body)
			}
			shapeCheck(t, fmt.Sprint(a.status), a.body, tc.want)
			if got := strings.Join(messages(a), "; "); !strings.Contains(got, tc.message) {
				t.Errorf("message %q does not mention %q", got, tc.message)
			}
		})
	}
}

// TestOAuthResponseShapes pins the answers of the three operations of the
// OAuth spec: GetAccessCodeSuccessfulResponseDto for Location and Company
// grants, GetLocationAccessTokenSuccessfulResponseDto and
// GetInstalledLocationsSuccessfulResponseDto (versionId is not modelled by
// the fake), and their error envelopes.
func TestOAuthResponseShapes(t *testing.T) {
	// Location grant of a paid app: locationId and planId, no
	// approvedLocations or agency flags.
	srv, _ := oauthManualServer(t)
	app := srv.RegisterApp(contactstest.App{})
	loc := oauthInstall(t, srv, app, contactstest.Grant{PlanID: "plan-1"})
	shapeCheck(t, "token (Location)", loc.body, jsBody(jsObject{
		"access_token": jsString, "token_type": jsString, "expires_in": jsNumber, "refresh_token": jsString,
		"scope": jsString, "userType": jsString, "locationId": jsString, "companyId": jsString,
		"userId": jsString, "planId": jsString, "isBulkInstallation": jsBool,
	}))

	// Company grant installed agency-wide: every location is approved.
	a := newOAuthAgency(t)
	jsCompanyToken := jsBody(jsObject{
		"access_token": jsString, "token_type": jsString, "expires_in": jsNumber, "refresh_token": jsString,
		"scope": jsString, "userType": jsString, "companyId": jsString, "approvedLocations": jsArray{jsString},
		"userId": jsString, "isBulkInstallation": jsBool, "installToFutureLocations": jsBool, "approveAllLocations": jsBool,
	})
	shapeCheck(t, "token (Company)", a.agency.body, jsCompanyToken)
	if a.agency.body["approveAllLocations"] != true || a.agency.body["installToFutureLocations"] != true {
		t.Errorf("agency-wide install: %s", a.agency.raw)
	}
	// Once one location is uninstalled, not all are approved any more.
	if err := a.srv.Uninstall(a.app.ClientID, a.loc2); err != nil {
		t.Fatal(err)
	}
	refreshed := oauthPostToken(t, a.srv, oauthRefreshForm(a.app, a.agency.str("refresh_token")))
	shapeCheck(t, "refreshed token (Company)", refreshed.body, jsCompanyToken)
	if refreshed.body["approveAllLocations"] != false {
		t.Errorf("approveAllLocations after an uninstall = %v, want false", refreshed.body["approveAllLocations"])
	}

	// The location token carries no refresh_token.
	lt := a.locationToken(t, a.agencyToken, "co-1", a.loc1)
	shapeCheck(t, "locationToken", lt.body, jsBody(jsObject{
		"access_token": jsString, "token_type": jsString, "expires_in": jsNumber, "scope": jsString,
		"locationId": jsString, "userId": jsString, "appId": jsString,
	}))

	installed := func(q url.Values) oauthReply {
		return oauthDo(t, a.srv, http.MethodGet, "/oauth/installedLocations?"+q.Encode(), "", "",
			map[string]string{"Authorization": "Bearer " + a.agencyToken, "Version": contactstest.APIVersion})
	}
	jsLocations := func(loc jsObject) jsObject {
		return jsBody(jsObject{"locations": jsArray{loc}, "count": jsNumber, "installToFutureLocations": jsBool})
	}
	jsLocation := jsObject{"_id": jsString, "name": jsString, "address": jsString, "isInstalled": jsBool}
	q := url.Values{"companyId": {"co-1"}, "appId": {a.app.ClientID}}
	q.Set("isInstalled", "true")
	shapeCheck(t, "installedLocations (installed)", installed(q).body, jsLocations(jsWith(jsLocation, jsObject{"installedAt": jsString})))
	q.Set("isInstalled", "false")
	shapeCheck(t, "installedLocations (not installed)", installed(q).body, jsLocations(jsLocation))

	// Error envelopes. The token endpoint's errors add RFC 6749's error
	// and error_description to the API's envelope (oauth.go explains why).
	jsOAuthError := jsBody(jsObject{"statusCode": jsNumber, "message": jsString, "error": jsString, "error_description": jsString})
	for _, tc := range []struct {
		name   string
		reply  oauthReply
		status int
		want   jsObject
	}{
		{"token: used refresh token", oauthPostToken(t, a.srv, oauthRefreshForm(a.app, a.agency.str("refresh_token"))), 400, jsOAuthError},
		{"token: wrong secret", oauthPostToken(t, srv, url.Values{"client_id": {app.ClientID}, "client_secret": {"nope"},
			"grant_type": {"refresh_token"}, "refresh_token": {loc.str("refresh_token")}}), 401, jsOAuthError},
		{"token: required fields", oauthPostToken(t, srv, url.Values{"grant_type": {"refresh_token"}}), 422, jsError422},
		{"locationToken: required fields", a.locationToken(t, a.agencyToken, "", ""), 422, jsError422},
		{"locationToken: location token", a.locationToken(t, lt.str("access_token"), "co-1", a.loc1), 401, jsError401},
		{"installedLocations: required appId", installed(url.Values{"companyId": {"co-1"}}), 422, jsError422},
	} {
		if tc.reply.status != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, tc.reply.status, tc.status, tc.reply.raw)
			continue
		}
		shapeCheck(t, tc.name, tc.reply.body, tc.want)
	}
}
