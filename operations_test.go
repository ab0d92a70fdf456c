package contacts_test

// operations_test.go covers every operation of the Contacts API spec
// (api/apps/contacts.json, 32 operationIds) with httpmock: for each one it
// checks the exact request the SDK sends (method, escaped path, query,
// headers, JSON body) and what the SDK decodes from a fixture under
// testdata/operations. It also covers the API's documented quirks and the
// SDK's refusal of invalid input before any I/O.

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"

	contacts "github.com/gymflow/contacts-go"
)

const (
	opBaseURL    = "https://api.test"
	opToken      = "pit-test-token"
	opLocationID = "loc123"

	opContactID  = "yL9kQ2mV7xR4pT1nB6cW"
	opTaskID     = "tK3pW8nR2qL5vX9mC1zY"
	opNoteID     = "nH7rT2kP9wQ4mL6vB3xZ"
	opBusinessID = "64b1f0c2e4a9d3b7c8e1f2a3"
	opCampaignID = "cP4xN8qW2rT6kL9mV3bY"
	opWorkflowID = "wF2kR7nP4qX9mT3vL6cB"
	opUserA      = "uA1bC2dE3fG4hI5jK6lM"
	opUserB      = "uN7oP8qR9sT0uV1wX2yZ"
	opUserC      = "uB3nM5qW7eR9tY1uI3oP"
)

// opSpecOperations lists every operationId of the current contacts spec.
var opSpecOperations = []string{
	"search-contacts-advanced", "get-duplicate-contact",
	"get-all-tasks", "create-task", "get-task", "update-task", "delete-task", "update-task-completed",
	"get-appointments-for-contact",
	"add-tags", "remove-tags",
	"get-all-notes", "create-note", "get-note", "update-note", "delete-note",
	"create-association", "add-remove-contact-from-business",
	"get-contact", "update-contact", "delete-contact", "upsert-contact",
	"get-contacts-by-businessId",
	"add-followers-contact", "remove-followers-contact",
	"add-contact-to-campaign", "remove-contact-from-campaign", "remove-contact-from-every-campaign",
	"add-contact-to-workflow", "delete-contact-from-workflow",
	"create-contact", "get-contacts",
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

// opClient returns a client on a fresh, per-test mock transport. With
// withLocation false the client has no default location ID.
func opClient(t *testing.T, withLocation bool) (*contacts.Client, *httpmock.MockTransport) {
	t.Helper()
	mt := httpmock.NewMockTransport()
	opts := []contacts.Option{
		contacts.WithBaseURL(opBaseURL),
		contacts.WithToken(opToken),
		contacts.WithRateLimiter(nil),
		contacts.WithHTTPClient(&http.Client{Transport: mt}),
	}
	if withLocation {
		opts = append(opts, contacts.WithLocationID(opLocationID))
	}
	c, err := contacts.NewClient(opts...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c, mt
}

// opCall is one request as the mock transport saw it.
type opCall struct {
	method   string
	path     string // escaped
	rawQuery string
	header   http.Header
	body     []byte
}

// opRecorder is an httpmock responder that records every request and
// answers with a fixed status and body.
type opRecorder struct {
	status int
	body   []byte

	mu    sync.Mutex
	calls []opCall
}

func (r *opRecorder) respond(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		body = b
	}
	r.mu.Lock()
	r.calls = append(r.calls, opCall{
		method:   req.Method,
		path:     req.URL.EscapedPath(),
		rawQuery: req.URL.RawQuery,
		header:   req.Header.Clone(),
		body:     body,
	})
	r.mu.Unlock()
	resp := httpmock.NewBytesResponse(r.status, r.body)
	resp.Header.Set("Content-Type", "application/json")
	return resp, nil
}

func (r *opRecorder) recorded() []opCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]opCall(nil), r.calls...)
}

// opRecord installs a recorder answering every request on mt.
func opRecord(mt *httpmock.MockTransport, status int, body []byte) *opRecorder {
	r := &opRecorder{status: status, body: body}
	mt.RegisterNoResponder(r.respond)
	return r
}

// opFixture reads testdata/operations/name.
func opFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "operations", name))
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return b
}

// opTraceID returns a fixture's top-level traceId.
func opTraceID(t *testing.T, fixture []byte) string {
	t.Helper()
	var v struct {
		TraceID string `json:"traceId"`
	}
	if err := json.Unmarshal(fixture, &v); err != nil {
		t.Fatalf("fixture is not JSON: %v", err)
	}
	return v.TraceID
}

// opJSONEqual compares two JSON documents semantically.
func opJSONEqual(t *testing.T, what string, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("%s: sent body is not JSON: %v\n%s", what, err, got)
		return
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: expected JSON literal is invalid: %v", what, err)
	}
	if !reflect.DeepEqual(g, w) {
		gj, _ := json.MarshalIndent(g, "", "  ")
		wj, _ := json.MarshalIndent(w, "", "  ")
		t.Errorf("%s mismatch\n got: %s\nwant: %s", what, gj, wj)
	}
}

func opNoErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func opEq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func opDeepEq(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func opRaw(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("RawJSON is not an object: %v (%s)", err, raw)
	}
	return m
}

var opUserAgent = regexp.MustCompile(`^contacts-go/v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?( |$)`)

// opCheckHeaders asserts the headers every request must carry.
func opCheckHeaders(t *testing.T, call opCall, hasBody bool) {
	t.Helper()
	opEq(t, "Authorization", call.header.Get("Authorization"), "Bearer "+opToken)
	opEq(t, "Version", call.header.Get("Version"), "2021-07-28")
	opEq(t, "Version header count", len(call.header.Values("Version")), 1)
	if ua := call.header.Get("User-Agent"); !opUserAgent.MatchString(ua) {
		t.Errorf("User-Agent = %q, want a leading versioned contacts-go/ token", ua)
	}
	ct := call.header.Get("Content-Type")
	if hasBody {
		opEq(t, "Content-Type", ct, "application/json")
	} else if ct != "" {
		t.Errorf("Content-Type = %q on a request without a body", ct)
	}
}

// opCheckQuery compares a raw query string with the exact expected set.
func opCheckQuery(t *testing.T, rawQuery string, want url.Values) {
	t.Helper()
	got, err := url.ParseQuery(rawQuery)
	if err != nil {
		t.Fatalf("query %q: %v", rawQuery, err)
	}
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("query = %v, want %v (raw %q)", got, want, rawQuery)
	}
}

// ---------------------------------------------------------------------------
// The operations table
// ---------------------------------------------------------------------------

// opCase is one call of one operation.
type opCase struct {
	name    string // subtest name suffix, for operations with several rows
	op      string // the spec's operationId
	fixture string // response body, under testdata/operations
	status  int    // response status, as the spec documents it

	method string
	path   string     // exact escaped path
	query  url.Values // exact query; nil for none
	// rawQueryHas are substrings the raw query must contain (encoding checks).
	rawQueryHas []string
	body        string // expected JSON body; "" when no body may be sent

	// run calls the SDK, forwarding meta, and asserts on what it returns.
	run func(t *testing.T, c *contacts.Client, meta contacts.RequestOption)
}

func (tc opCase) title() string {
	if tc.name == "" {
		return tc.op
	}
	return tc.op + "/" + tc.name
}

func opCases() []opCase {
	return []opCase{
		// ---- Contacts -------------------------------------------------
		{
			op: "get-contact", fixture: "contact_get.json", status: http.StatusOK,
			method: http.MethodGet, path: "/contacts/" + opContactID,
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				got, err := c.Contacts.Get(t.Context(), opContactID, meta)
				opNoErr(t, err)
				opCheckRichContact(t, got)
			},
		},
		{
			op: "get-contact", name: "escaped-id", fixture: "contact_get.json", status: http.StatusOK,
			method: http.MethodGet, path: "/contacts/Ana%20Lima%3Fx%231%25",
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				got, err := c.Contacts.Get(t.Context(), "Ana Lima?x#1%", meta)
				opNoErr(t, err)
				opEq(t, "ID", got.ID, opContactID)
			},
		},
		{
			op: "create-contact", fixture: "contact_create.json", status: http.StatusCreated,
			method: http.MethodPost, path: "/contacts/",
			body: `{
				"locationId": "loc123",
				"firstName": "Bruno", "lastName": "Costa", "name": "Bruno Costa",
				"email": "bruno.costa@example.com", "gender": "male", "phone": "+14155550123",
				"address1": "500 Market St", "city": "San Francisco", "state": "CA",
				"postalCode": "94105", "website": "https://bruno.example.com",
				"timezone": "America/Los_Angeles", "dnd": false,
				"dndSettings": {"SMS": {"status": "active", "message": "Opted out by keyword", "code": "103"}},
				"inboundDndSettings": {"all": {"status": "inactive"}},
				"tags": ["trial", "crossfit"],
				"customFields": [
					{"id": "cfMembershipLevel0001", "field_value": "silver"},
					{"key": "contact.visits_per_week", "field_value": 2},
					{"id": "cfClassesInterested3", "field_value": ["crossfit", "spin"]}
				],
				"source": "gymflow signup", "dateOfBirth": "1992-06-14", "country": "US",
				"companyName": "Costa Labs", "assignedTo": "uA1bC2dE3fG4hI5jK6lM"
			}`,
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				got, err := c.Contacts.Create(t.Context(), contacts.ContactCreate{
					FirstName: "Bruno", LastName: "Costa", Name: "Bruno Costa",
					Email: "bruno.costa@example.com", Gender: "male", Phone: "+14155550123",
					Address1: "500 Market St", City: "San Francisco", State: "CA",
					PostalCode: "94105", Website: "https://bruno.example.com",
					Timezone: "America/Los_Angeles", DND: contacts.Ptr(false),
					DNDSettings: &contacts.DNDSettings{
						SMS: &contacts.DNDSetting{Status: contacts.DNDActive, Message: "Opted out by keyword", Code: "103"},
					},
					InboundDNDSettings: &contacts.InboundDNDSettings{
						All: &contacts.InboundDNDSetting{Status: contacts.DNDInactive},
					},
					Tags: []string{"trial", "crossfit"},
					CustomFields: []contacts.CustomFieldInput{
						contacts.FieldByID("cfMembershipLevel0001", "silver"),
						contacts.FieldByKey("contact.visits_per_week", 2),
						contacts.FieldByID("cfClassesInterested3", []string{"crossfit", "spin"}),
					},
					Source: "gymflow signup", DateOfBirth: "1992-06-14", Country: "US",
					CompanyName: "Costa Labs", AssignedTo: opUserA,
				}, meta)
				opNoErr(t, err)
				opEq(t, "ID", got.ID, "bC7nM2qR9tW4xK1pL6vZ")
				opEq(t, "LocationID", got.LocationID, opLocationID)
				opEq(t, "Deleted", got.Deleted, false)
				opDeepEq(t, "Tags", got.Tags, []string{"trial", "crossfit"})
				opEq(t, "DateOfBirth", got.DateOfBirth, "1992-06-14T00:00:00.000Z")
				opEq(t, "DateAdded", got.DateAdded.Time, time.Date(2025, 2, 10, 14, 3, 11, 402e6, time.UTC))
				// The seven fields the create-contact response has beyond the read model.
				opEq(t, "BirthDay", got.BirthDay, 14)
				opEq(t, "BirthMonth", got.BirthMonth, 5)
				opEq(t, "BounceEmail", got.BounceEmail, true)
				opEq(t, "UnsubscribeEmail", got.UnsubscribeEmail, true)
				opEq(t, "LastSessionActivityAt", got.LastSessionActivityAt.Time, time.Date(2025, 2, 10, 14, 3, 11, 402e6, time.UTC))
				opDeepEq(t, "Offers", got.Offers, contacts.StringList{"offSummerPass01"})
				opDeepEq(t, "Products", got.Products, contacts.StringList{"prodPersonalTraining"})
				if got.DNDSettings == nil || got.DNDSettings.SMS == nil {
					t.Fatalf("DNDSettings.SMS missing: %+v", got.DNDSettings)
				}
				opEq(t, "DNDSettings.SMS.Code", got.DNDSettings.SMS.Code, "103")
				v, ok := got.CustomField("cfVisitsPerWeek00002")
				n, isNum := v.Number()
				opEq(t, "custom field found", ok, true)
				opEq(t, "custom number", n, 2.0)
				opEq(t, "custom is number", isNum, true)
				raw := opRaw(t, got.RawJSON())
				opEq(t, "RawJSON birthMonth", raw["birthMonth"], any(5.0))
				opEq(t, "RawJSON bounceEmail", raw["bounceEmail"], any(true))
			},
		},
		{
			op: "update-contact", name: "nullable-fields", fixture: "contact_update.json", status: http.StatusOK,
			method: http.MethodPut, path: "/contacts/" + opContactID,
			// Unset fields are absent, Value fields carry the value, Null
			// fields are JSON null; nil Tags is absent (tags untouched).
			body: `{
				"firstName": "Ana Maria",
				"lastName": null,
				"email": "ana.maria@example.com",
				"dateOfBirth": null,
				"assignedTo": null,
				"source": "front desk",
				"postalCode": "01310-100",
				"country": "BR",
				"dnd": true,
				"dndSettings": {"Email": {"status": "active"}},
				"customFields": [{"id": "cfVisitsPerWeek00002", "field_value": "4"}]
			}`,
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				got, err := c.Contacts.Update(t.Context(), opContactID, contacts.ContactUpdate{
					FirstName:   contacts.Value("Ana Maria"),
					LastName:    contacts.Null[string](),
					Email:       contacts.Value("ana.maria@example.com"),
					DateOfBirth: contacts.Null[string](),
					AssignedTo:  contacts.Null[string](),
					Source:      contacts.Value("front desk"),
					PostalCode:  contacts.Ptr("01310-100"),
					Country:     contacts.Ptr("BR"),
					DND:         contacts.Ptr(true),
					DNDSettings: &contacts.DNDSettings{Email: &contacts.DNDSetting{Status: contacts.DNDActive}},
					CustomFields: []contacts.CustomFieldInput{
						contacts.FieldByID("cfVisitsPerWeek00002", "4"),
					},
				}, meta)
				opNoErr(t, err)
				opEq(t, "ID", got.ID, opContactID)
				opEq(t, "FirstName", got.FirstName, "Ana Maria")
				opEq(t, "LastName", got.LastName, "")
				opEq(t, "DND", got.DND, true)
				// attachments as an array of URLs.
				opDeepEq(t, "Attachments", []string(got.Attachments), []string{
					"https://files.example.com/waiver-ana.pdf",
					"https://files.example.com/medical-clearance-ana.jpg",
				})
				v, _ := got.CustomField("cfVisitsPerWeek00002")
				n, ok := v.Number()
				opEq(t, "custom field as number from string", ok, true)
				opEq(t, "custom field value", n, 4.0)
			},
		},
		{
			op: "update-contact", name: "empty-tags-clear-all", fixture: "contact_update.json", status: http.StatusOK,
			method: http.MethodPut, path: "/contacts/" + opContactID,
			// A non-nil empty slice is sent as [] (removes every tag).
			body: `{"tags": []}`,
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				got, err := c.Contacts.Update(t.Context(), opContactID, contacts.ContactUpdate{Tags: []string{}}, meta)
				opNoErr(t, err)
				opEq(t, "len(Tags)", len(got.Tags), 0)
				opEq(t, "Email", got.Email, "ana.maria@example.com")
			},
		},
		{
			op: "update-contact", name: "replace-tags", fixture: "contact_update.json", status: http.StatusOK,
			method: http.MethodPut, path: "/contacts/" + opContactID,
			body: `{"tags": ["member", "vip"], "city": "Campinas"}`,
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				got, err := c.Contacts.Update(t.Context(), opContactID, contacts.ContactUpdate{
					Tags: []string{"member", "vip"},
					City: contacts.Value("Campinas"),
				}, meta)
				opNoErr(t, err)
				opEq(t, "ID", got.ID, opContactID)
			},
		},
		{
			op: "upsert-contact", name: "created", fixture: "contact_upsert_new.json", status: http.StatusOK,
			method: http.MethodPost, path: "/contacts/upsert",
			body: `{
				"locationId": "loc999",
				"firstName": "Carla",
				"email": "carla.mendes@example.com",
				"phone": "+5521998877665",
				"tags": ["lead"],
				"customFields": [{
					"id": "cfWaiverFile00000004",
					"field_value": {
						"6f1c2a9e-0b7d-4c53-9a8e-2d4f1b3c5e70": {
							"meta": {"originalname": "waiver-carla.pdf", "mimetype": "application/pdf", "size": 48213},
							"url": "https://files.example.com/waiver-carla.pdf"
						}
					}
				}],
				"createNewIfDuplicateAllowed": true
			}`,
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				got, err := c.Contacts.Upsert(t.Context(), contacts.ContactUpsert{
					LocationID: "loc999", // overrides the client's default
					FirstName:  "Carla",
					Email:      "carla.mendes@example.com",
					Phone:      "+5521998877665",
					Tags:       []string{"lead"},
					CustomFields: []contacts.CustomFieldInput{contacts.FieldByID("cfWaiverFile00000004", map[string]any{
						"6f1c2a9e-0b7d-4c53-9a8e-2d4f1b3c5e70": map[string]any{
							"meta": map[string]any{"originalname": "waiver-carla.pdf", "mimetype": "application/pdf", "size": 48213},
							"url":  "https://files.example.com/waiver-carla.pdf",
						},
					})},
					CreateNewIfDuplicateAllowed: true,
				}, meta)
				opNoErr(t, err)
				opEq(t, "Created", got.Created, true)
				opEq(t, "Contact.ID", got.Contact.ID, "dR4tY7uI1oP3aS6dF9gH")
				opEq(t, "Contact.LocationID", got.Contact.LocationID, "loc999")
				opEq(t, "TraceID", got.TraceID, "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")
			},
		},
		{
			op: "upsert-contact", name: "matched-existing", fixture: "contact_upsert_existing.json", status: http.StatusOK,
			method: http.MethodPost, path: "/contacts/upsert",
			body: `{"locationId": "loc123", "email": "carla.mendes@example.com"}`,
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				got, err := c.Contacts.Upsert(t.Context(), contacts.ContactUpsert{Email: "carla.mendes@example.com"}, meta)
				opNoErr(t, err)
				opEq(t, "Created", got.Created, false)
				opEq(t, "Contact.ID", got.Contact.ID, opContactID)
				opDeepEq(t, "Contact.Tags", got.Contact.Tags, []string{"member", "yoga"})
			},
		},
		{
			op: "delete-contact", fixture: "contact_delete.json", status: http.StatusOK,
			method: http.MethodDelete, path: "/contacts/" + opContactID,
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				opNoErr(t, c.Contacts.Delete(t.Context(), opContactID, meta))
			},
		},
		{
			op: "get-duplicate-contact", name: "found", fixture: "duplicate_found.json", status: http.StatusOK,
			method: http.MethodGet, path: "/contacts/search/duplicate",
			query: url.Values{
				"locationId": {opLocationID},
				"email":      {"ana+gym@example.com"},
				"number":     {"+5511987654321"},
			},
			// The spec asks for "+" and "@" to be percent-encoded.
			rawQueryHas: []string{"email=ana%2Bgym%40example.com", "number=%2B5511987654321"},
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				got, err := c.Contacts.FindDuplicate(t.Context(), contacts.DuplicateQuery{
					Email: "ana+gym@example.com", Phone: "+5511987654321",
				}, meta)
				opNoErr(t, err)
				if got.Contact == nil {
					t.Fatal("FindDuplicate returned no contact for a match")
				}
				opEq(t, "ID", got.Contact.ID, opContactID)
				opEq(t, "Email", got.Contact.Email, "ana+gym@example.com")
				opEq(t, "TraceID", got.TraceID, "f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9")
			},
		},
		{
			op: "get-duplicate-contact", name: "none", fixture: "duplicate_none.json", status: http.StatusOK,
			method: http.MethodGet, path: "/contacts/search/duplicate",
			query: url.Values{"locationId": {"locOther"}, "number": {"+14155550123"}},
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				got, err := c.Contacts.FindDuplicate(t.Context(), contacts.DuplicateQuery{
					LocationID: "locOther", Phone: "+14155550123",
				}, meta)
				opNoErr(t, err)
				if got.Contact != nil {
					t.Errorf(`{"contact": null} gave %+v, want nil`, got.Contact)
				}
				opEq(t, "TraceID", got.TraceID, "a9b8c7d6-e5f4-4321-9876-543210fedcba")
			},
		},
		{
			op: "get-contacts", fixture: "contacts_list.json", status: http.StatusOK,
			method: http.MethodGet, path: "/contacts/",
			query: url.Values{
				"locationId":   {opLocationID},
				"limit":        {"2"},
				"query":        {"lima fitness"},
				"startAfter":   {"1717000000000"},
				"startAfterId": {"xQ1wE2rT3yU4iO5pA6sD"},
			},
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				got, err := c.Contacts.List(t.Context(), contacts.ListParams{
					Limit: 2, Query: "lima fitness", StartAfter: 1717000000000, StartAfterID: "xQ1wE2rT3yU4iO5pA6sD",
				}, meta)
				opNoErr(t, err)
				opEq(t, "len(Contacts)", len(got.Contacts), 2)
				opEq(t, "Count", got.Count, 2)
				opEq(t, "TraceID", got.TraceID, "7c6b5a49-3827-4165-9f0e-dcba98765432")
				opEq(t, "Meta.Total", got.Meta.Total, 137)
				opEq(t, "Meta.StartAfter", got.Meta.StartAfter, int64(1739196191402))
				opEq(t, "Meta.StartAfterID", got.Meta.StartAfterID, "bC7nM2qR9tW4xK1pL6vZ")
				opEq(t, "Meta.CurrentPage", got.Meta.CurrentPage, 2)
				opEq(t, "Meta.NextPage", got.Meta.NextPage, 3)
				if got.Meta.PrevPage == nil || *got.Meta.PrevPage != 1 {
					t.Errorf("Meta.PrevPage = %v, want 1", got.Meta.PrevPage)
				}
				if !strings.Contains(got.Meta.NextPageURL, "startAfterId=bC7nM2qR9tW4xK1pL6vZ") {
					t.Errorf("Meta.NextPageURL = %q", got.Meta.NextPageURL)
				}
				first, second := got.Contacts[0], got.Contacts[1]
				opDeepEq(t, "Followers (array)", []string(first.Followers), []string{opUserA, opUserB})
				opDeepEq(t, "Followers (string)", []string(second.Followers), []string{opUserA})
				if len(first.Attributions) != 1 || first.Attributions[0].UTMSource != "google" {
					t.Errorf("Attributions = %+v", first.Attributions)
				}
			},
		},
		{
			op: "get-contacts-by-businessId", fixture: "contacts_business.json", status: http.StatusOK,
			method: http.MethodGet, path: "/contacts/business/" + opBusinessID,
			query: url.Values{
				"locationId": {opLocationID},
				"limit":      {"10"},
				"skip":       {"20"},
				"query":      {"lima"},
			},
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				got, err := c.Contacts.ListByBusiness(t.Context(), opBusinessID, contacts.BusinessListParams{
					Limit: 10, Skip: 20, Query: "lima",
				}, meta)
				opNoErr(t, err)
				opEq(t, "Count", got.Count, 2)
				opEq(t, "len(Contacts)", len(got.Contacts), 2)
				opEq(t, "Contacts[1].ID", got.Contacts[1].ID, "gH5jK8lQ3wE6rT9yU2iO")
				opEq(t, "Contacts[1].BusinessID", got.Contacts[1].BusinessID, opBusinessID)
			},
		},
		{
			op: "add-remove-contact-from-business", name: "link", fixture: "business_update.json", status: http.StatusOK,
			method: http.MethodPost, path: "/contacts/bulk/business",
			body: `{"locationId": "loc123", "ids": ["yL9kQ2mV7xR4pT1nB6cW", "gH5jK8lQ3wE6rT9yU2iO"], "businessId": "64b1f0c2e4a9d3b7c8e1f2a3"}`,
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				got, err := c.Contacts.SetBusiness(t.Context(), contacts.BusinessUpdate{
					ContactIDs: []string{opContactID, "gH5jK8lQ3wE6rT9yU2iO"},
					BusinessID: contacts.Ptr(opBusinessID),
				}, meta)
				opNoErr(t, err)
				opEq(t, "Success", got.Success, true)
				opDeepEq(t, "IDs", got.IDs, []string{opContactID, "gH5jK8lQ3wE6rT9yU2iO"})
				opEq(t, "TraceID", got.TraceID, "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9")
			},
		},
		{
			op: "add-remove-contact-from-business", name: "unlink-null", fixture: "business_update.json", status: http.StatusOK,
			method: http.MethodPost, path: "/contacts/bulk/business",
			// businessId is required by the spec; null unlinks.
			body: `{"locationId": "loc123", "ids": ["yL9kQ2mV7xR4pT1nB6cW"], "businessId": null}`,
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				got, err := c.Contacts.SetBusiness(t.Context(), contacts.BusinessUpdate{
					ContactIDs: []string{opContactID},
				}, meta)
				opNoErr(t, err)
				opEq(t, "Success", got.Success, true)
			},
		},
		{
			op: "search-contacts-advanced", name: "filters-and-page", fixture: "search_page.json", status: http.StatusOK,
			method: http.MethodPost, path: "/contacts/search",
			body: `{
				"locationId": "loc123",
				"query": "ana",
				"pageLimit": 2,
				"page": 3,
				"filters": [
					{"group": "AND", "filters": [
						{"field": "tags", "operator": "contains", "value": "member"},
						{"group": "OR", "filters": [
							{"field": "email", "operator": "eq", "value": "ana.lima@example.com"},
							{"field": "phone", "operator": "exists"}
						]}
					]},
					{"field": "dateUpdated", "operator": "range", "value": {"gte": "2025-01-01T00:00:00Z", "lt": "2025-02-01T00:00:00Z"}},
					{"field": "dnd", "operator": "eq", "value": false}
				],
				"sort": [{"field": "dateAdded", "direction": "desc"}]
			}`,
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				got, err := c.Contacts.Search(t.Context(), contacts.SearchParams{
					Query: "ana", PageLimit: 2, Page: 3,
					Filters: []contacts.Filter{
						contacts.And(
							contacts.Where("tags", contacts.OpContains, "member"),
							contacts.Or(
								contacts.Where("email", contacts.OpEq, "ana.lima@example.com"),
								contacts.Exists("phone"),
							),
						),
						contacts.Where("dateUpdated", contacts.OpRange, contacts.Range{
							GTE: "2025-01-01T00:00:00Z", LT: "2025-02-01T00:00:00Z",
						}),
						contacts.Where("dnd", contacts.OpEq, false),
					},
					Sort: []contacts.Sort{{Field: "dateAdded", Direction: contacts.Desc}},
				}, meta)
				opNoErr(t, err)
				opEq(t, "Total", got.Total, 1342)
				opEq(t, "TraceID", got.TraceID, "9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d")
				opEq(t, "len(Contacts)", len(got.Contacts), 2)
				first := got.Contacts[0]
				opEq(t, "BusinessName", first.BusinessName, "Lima Fitness")
				opDeepEq(t, "AdditionalEmails", []string(first.AdditionalEmails), []string{"ana@work.example.com"})
				if first.ValidEmail == nil || !*first.ValidEmail {
					t.Errorf("ValidEmail = %v, want true", first.ValidEmail)
				}
				cursor, _ := json.Marshal(got.Contacts[1].SearchAfter)
				opJSONEqual(t, "last SearchAfter", cursor, `[1739196191402, "bC7nM2qR9tW4xK1pL6vZ"]`)
				// Fields outside the model (opportunities) stay in RawJSON.
				raw := opRaw(t, first.RawJSON())
				if opps, _ := raw["opportunities"].([]any); len(opps) != 1 {
					t.Errorf("RawJSON opportunities = %v", raw["opportunities"])
				}
			},
		},
		{
			op: "search-contacts-advanced", name: "search-after-cursor", fixture: "search_page.json", status: http.StatusOK,
			method: http.MethodPost, path: "/contacts/search",
			body: `{
				"locationId": "locOther",
				"pageLimit": 500,
				"searchAfter": [1737360000000, "yL9kQ2mV7xR4pT1nB6cW"],
				"sort": [{"field": "dateAdded", "direction": "asc"}]
			}`,
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				got, err := c.Contacts.Search(t.Context(), contacts.SearchParams{
					LocationID:  "locOther",
					PageLimit:   contacts.MaxSearchPageLimit,
					SearchAfter: contacts.Cursor{json.RawMessage(`1737360000000`), json.RawMessage(`"yL9kQ2mV7xR4pT1nB6cW"`)},
					Sort:        []contacts.Sort{{Field: "dateAdded", Direction: contacts.Asc}},
				}, meta)
				opNoErr(t, err)
				opEq(t, "Total", got.Total, 1342)
				opEq(t, "Contacts[1].ID", got.Contacts[1].ID, "bC7nM2qR9tW4xK1pL6vZ")
			},
		},

		// ---- Tasks ----------------------------------------------------
		{
			op: "get-all-tasks", fixture: "tasks_list.json", status: http.StatusOK,
			method: http.MethodGet, path: "/contacts/" + opContactID + "/tasks",
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				got, err := c.Tasks.List(t.Context(), opContactID, meta)
				opNoErr(t, err)
				opEq(t, "len", len(got), 2)
				opEq(t, "[0].Title", got[0].Title, "Call about membership renewal")
				opEq(t, "[0].DueDate", got[0].DueDate.Time, time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC))
				opEq(t, "[0].Completed", got[0].Completed, false)
				opEq(t, "[1].Completed", got[1].Completed, true)
				opEq(t, "[1].AssignedTo", got[1].AssignedTo, opUserB)
				opEq(t, "[1] RawJSON isLocked", opRaw(t, got[1].RawJSON())["isLocked"], any(false))
			},
		},
		{
			op: "create-task", fixture: "task.json", status: http.StatusCreated,
			method: http.MethodPost, path: "/contacts/" + opContactID + "/tasks",
			// title, dueDate and completed are required; completed is sent even when false.
			body: `{
				"title": "Call about membership renewal",
				"body": "Offer the annual plan with 10% off.",
				"dueDate": "2025-03-14T09:30:00Z",
				"completed": false,
				"assignedTo": "uA1bC2dE3fG4hI5jK6lM"
			}`,
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				got, err := c.Tasks.Create(t.Context(), opContactID, contacts.TaskCreate{
					Title:      "Call about membership renewal",
					Body:       "Offer the annual plan with 10% off.",
					DueDate:    time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC),
					AssignedTo: opUserA,
				}, meta)
				opNoErr(t, err)
				opEq(t, "ID", got.ID, opTaskID)
				opEq(t, "ContactID", got.ContactID, opContactID)
				opEq(t, "DueDate", got.DueDate.Time, time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC))
			},
		},
		{
			op: "get-task", fixture: "task.json", status: http.StatusOK,
			method: http.MethodGet, path: "/contacts/" + opContactID + "/tasks/" + opTaskID,
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				got, err := c.Tasks.Get(t.Context(), opContactID, opTaskID, meta)
				opNoErr(t, err)
				opEq(t, "ID", got.ID, opTaskID)
				opEq(t, "Body", got.Body, "Offer the annual plan with 10% off.")
				opEq(t, "AssignedTo", got.AssignedTo, opUserA)
			},
		},
		{
			op: "update-task", fixture: "task.json", status: http.StatusOK,
			method: http.MethodPut, path: "/contacts/" + opContactID + "/tasks/" + opTaskID,
			body: `{"title": "Call about membership renewal", "dueDate": "2025-03-14T06:30:00-03:00", "completed": false}`,
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				due := time.Date(2025, 3, 14, 6, 30, 0, 0, time.FixedZone("BRT", -3*3600))
				got, err := c.Tasks.Update(t.Context(), opContactID, opTaskID, contacts.TaskUpdate{
					Title:     contacts.Ptr("Call about membership renewal"),
					DueDate:   &due,
					Completed: contacts.Ptr(false),
				}, meta)
				opNoErr(t, err)
				opEq(t, "ID", got.ID, opTaskID)
				if !got.DueDate.Equal(due) {
					t.Errorf("DueDate = %v, want %v", got.DueDate, due)
				}
			},
		},
		{
			op: "update-task-completed", fixture: "task_completed.json", status: http.StatusOK,
			method: http.MethodPut, path: "/contacts/" + opContactID + "/tasks/" + opTaskID + "/completed",
			body: `{"completed": true}`,
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				got, err := c.Tasks.Complete(t.Context(), opContactID, opTaskID, true, meta)
				opNoErr(t, err)
				opEq(t, "Completed", got.Completed, true)
				opEq(t, "ID", got.ID, opTaskID)
			},
		},
		{
			op: "delete-task", fixture: "task_delete.json", status: http.StatusOK,
			method: http.MethodDelete, path: "/contacts/" + opContactID + "/tasks/" + opTaskID,
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				opNoErr(t, c.Tasks.Delete(t.Context(), opContactID, opTaskID, meta))
			},
		},

		// ---- Appointments -------------------------------------------
		{
			op: "get-appointments-for-contact", fixture: "appointments.json", status: http.StatusOK,
			method: http.MethodGet, path: "/contacts/" + opContactID + "/appointments",
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				got, err := c.Appointments.List(t.Context(), opContactID, meta)
				opNoErr(t, err)
				opEq(t, "len", len(got), 1)
				a := got[0]
				opEq(t, "ID", a.ID, "evT5yU7iO9pA2sD4fG6h")
				opEq(t, "CalendarID", a.CalendarID, "caJ8kL0zX1cV3bN5mQ7w")
				opEq(t, "AppointmentStatus", a.AppointmentStatus, "confirmed")
				opEq(t, "StartTime", a.StartTime, "2025-03-20 07:00:00")
				opDeepEq(t, "Users", a.Users, []string{opUserA, opUserB})
				start, ok := a.Start(time.FixedZone("BRT", -3*3600))
				opEq(t, "Start ok", ok, true)
				opEq(t, "Start", start.UTC(), time.Date(2025, 3, 20, 10, 0, 0, 0, time.UTC))
				end, _ := a.End(nil)
				opEq(t, "End (UTC)", end, time.Date(2025, 3, 20, 8, 0, 0, 0, time.UTC))
				opEq(t, "RawJSON isRecurring", opRaw(t, a.RawJSON())["isRecurring"], any(false))
			},
		},

		// ---- Tags -----------------------------------------------------
		{
			op: "add-tags", fixture: "tags_add.json", status: http.StatusCreated,
			method: http.MethodPost, path: "/contacts/" + opContactID + "/tags",
			body: `{"tags": ["vip", "early-bird"]}`,
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				got, err := c.Tags.Add(t.Context(), opContactID, []string{"vip", "early-bird"}, meta)
				opNoErr(t, err)
				opDeepEq(t, "tags", got, []string{"member", "yoga", "vip", "early-bird"})
			},
		},
		{
			op: "remove-tags", fixture: "tags_remove.json", status: http.StatusOK,
			method: http.MethodDelete, path: "/contacts/" + opContactID + "/tags",
			body: `{"tags": ["vip", "early-bird"]}`,
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				got, err := c.Tags.Remove(t.Context(), opContactID, []string{"vip", "early-bird"}, meta)
				opNoErr(t, err)
				opDeepEq(t, "tags", got, []string{"member", "yoga"})
			},
		},
		{
			op: "create-association", name: "bulk-add", fixture: "bulk_tags_add.json", status: http.StatusCreated,
			method: http.MethodPost, path: "/contacts/bulk/tags/update/add",
			body: `{"locationId": "loc123", "contacts": ["yL9kQ2mV7xR4pT1nB6cW", "zZ0xX9cC8vV7bB6nN5mM"], "tags": ["spring-challenge"]}`,
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				got, err := c.Tags.BulkAdd(t.Context(), contacts.BulkTags{
					ContactIDs: []string{opContactID, "zZ0xX9cC8vV7bB6nN5mM"},
					Tags:       []string{"spring-challenge"},
				}, meta)
				opNoErr(t, err)
				opEq(t, "Succeeded", got.Succeeded, true)
				opEq(t, "ErrorCount", got.ErrorCount, 1)
				opEq(t, "TraceID", got.TraceID, "f1a2b3c4-d5e6-4f7a-8b8c-adbecfd0e1f8")
				opDeepEq(t, "Responses", got.Responses, []contacts.BulkTagsResponse{
					{ContactID: opContactID, Message: "Tags updated", Type: "success",
						OldTags: []string{"member", "yoga"}, TagsAdded: []string{"spring-challenge"}, TagsRemoved: []string{}},
					{ContactID: "zZ0xX9cC8vV7bB6nN5mM", Message: "Contact not found", Type: "error"},
				})
			},
		},
		{
			op: "create-association", name: "bulk-remove-all", fixture: "bulk_tags_remove.json", status: http.StatusCreated,
			method: http.MethodPost, path: "/contacts/bulk/tags/update/remove",
			// tags is required by the spec even when removing all.
			body: `{"locationId": "loc123", "contacts": ["yL9kQ2mV7xR4pT1nB6cW", "bC7nM2qR9tW4xK1pL6vZ"], "tags": [], "removeAllTags": true}`,
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				got, err := c.Tags.BulkRemove(t.Context(), contacts.BulkTags{
					ContactIDs:    []string{opContactID, "bC7nM2qR9tW4xK1pL6vZ"},
					RemoveAllTags: true,
				}, meta)
				opNoErr(t, err)
				opEq(t, "Succeeded (succeeded spelling)", got.Succeeded, true)
				opEq(t, "ErrorCount", got.ErrorCount, 0)
				opEq(t, "len(Responses)", len(got.Responses), 2)
				opDeepEq(t, "Responses[0].TagsRemoved", got.Responses[0].TagsRemoved, []string{"member", "yoga", "spring-challenge"})
				// The spec types responses as strings: kept as Message.
				opDeepEq(t, "Responses[1]", got.Responses[1], contacts.BulkTagsResponse{Message: "bC7nM2qR9tW4xK1pL6vZ: no tags to remove"})
			},
		},

		// ---- Notes ----------------------------------------------------
		{
			op: "get-all-notes", fixture: "notes_list.json", status: http.StatusOK,
			method: http.MethodGet, path: "/contacts/" + opContactID + "/notes",
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				got, err := c.Notes.List(t.Context(), opContactID, meta)
				opNoErr(t, err)
				opEq(t, "len", len(got), 2)
				opEq(t, "[0].Pinned", got[0].Pinned, true)
				opEq(t, "[0].Color", got[0].Color, "#FFAA00")
				opEq(t, "[1].Title", got[1].Title, "")
				opEq(t, "[1].DateAdded", got[1].DateAdded.Time, time.Date(2025, 1, 15, 18, 2, 11, 285e6, time.UTC))
			},
		},
		{
			op: "create-note", fixture: "note.json", status: http.StatusCreated,
			method: http.MethodPost, path: "/contacts/" + opContactID + "/notes",
			body: `{
				"body": "Prefers early-morning classes; knee injury in 2023.",
				"userId": "uA1bC2dE3fG4hI5jK6lM",
				"title": "Intake",
				"color": "#FFAA00",
				"pinned": true
			}`,
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				got, err := c.Notes.Create(t.Context(), opContactID, contacts.NoteCreate{
					Body: "Prefers early-morning classes; knee injury in 2023.", UserID: opUserA,
					Title: "Intake", Color: "#FFAA00", Pinned: contacts.Ptr(true),
				}, meta)
				opNoErr(t, err)
				opEq(t, "ID", got.ID, opNoteID)
				opEq(t, "Title", got.Title, "Intake")
				opEq(t, "ContactID", got.ContactID, opContactID)
			},
		},
		{
			op: "get-note", fixture: "note.json", status: http.StatusOK,
			method: http.MethodGet, path: "/contacts/" + opContactID + "/notes/" + opNoteID,
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				got, err := c.Notes.Get(t.Context(), opContactID, opNoteID, meta)
				opNoErr(t, err)
				opEq(t, "ID", got.ID, opNoteID)
				opEq(t, "UserID", got.UserID, opUserA)
				opEq(t, "DateAdded", got.DateAdded.Time, time.Date(2024, 3, 4, 10, 20, 0, 0, time.UTC))
			},
		},
		{
			op: "update-note", fixture: "note.json", status: http.StatusOK,
			method: http.MethodPut, path: "/contacts/" + opContactID + "/notes/" + opNoteID,
			body: `{"body": "Prefers early-morning classes; knee injury in 2023.", "pinned": false}`,
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				got, err := c.Notes.Update(t.Context(), opContactID, opNoteID, contacts.NoteUpdate{
					Body:   contacts.Ptr("Prefers early-morning classes; knee injury in 2023."),
					Pinned: contacts.Ptr(false),
				}, meta)
				opNoErr(t, err)
				opEq(t, "ID", got.ID, opNoteID)
				opEq(t, "Body", got.Body, "Prefers early-morning classes; knee injury in 2023.")
			},
		},
		{
			op: "delete-note", fixture: "note_delete.json", status: http.StatusOK,
			method: http.MethodDelete, path: "/contacts/" + opContactID + "/notes/" + opNoteID,
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				opNoErr(t, c.Notes.Delete(t.Context(), opContactID, opNoteID, meta))
			},
		},

		// ---- Followers ------------------------------------------------
		{
			op: "add-followers-contact", fixture: "followers_add.json", status: http.StatusCreated,
			method: http.MethodPost, path: "/contacts/" + opContactID + "/followers",
			body: `{"followers": ["uN7oP8qR9sT0uV1wX2yZ", "uB3nM5qW7eR9tY1uI3oP"]}`,
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				got, err := c.Followers.Add(t.Context(), opContactID, []string{opUserB, opUserC}, meta)
				opNoErr(t, err)
				opDeepEq(t, "Followers", got.Followers, []string{opUserA, opUserB, opUserC})
				opDeepEq(t, "Added", got.Added, []string{opUserB, opUserC})
				opEq(t, "len(Removed)", len(got.Removed), 0)
			},
		},
		{
			op: "remove-followers-contact", fixture: "followers_remove.json", status: http.StatusOK,
			method: http.MethodDelete, path: "/contacts/" + opContactID + "/followers",
			body: `{"followers": ["uN7oP8qR9sT0uV1wX2yZ", "uB3nM5qW7eR9tY1uI3oP"]}`,
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				got, err := c.Followers.Remove(t.Context(), opContactID, []string{opUserB, opUserC}, meta)
				opNoErr(t, err)
				opDeepEq(t, "Followers", got.Followers, []string{opUserA})
				opDeepEq(t, "Removed", got.Removed, []string{opUserB, opUserC})
			},
		},

		// ---- Campaigns ------------------------------------------------
		{
			op: "add-contact-to-campaign", fixture: "campaign.json", status: http.StatusCreated,
			method: http.MethodPost, path: "/contacts/" + opContactID + "/campaigns/" + opCampaignID,
			// The spec requires a body (AddContactToCampaignDto, no fields).
			body: `{}`,
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				opNoErr(t, c.Campaigns.Add(t.Context(), opContactID, opCampaignID, meta))
			},
		},
		{
			op: "remove-contact-from-campaign", fixture: "campaign.json", status: http.StatusOK,
			method: http.MethodDelete, path: "/contacts/" + opContactID + "/campaigns/" + opCampaignID,
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				opNoErr(t, c.Campaigns.Remove(t.Context(), opContactID, opCampaignID, meta))
			},
		},
		{
			op: "remove-contact-from-every-campaign", fixture: "campaign.json", status: http.StatusOK,
			method: http.MethodDelete, path: "/contacts/" + opContactID + "/campaigns/removeAll",
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				opNoErr(t, c.Campaigns.RemoveAll(t.Context(), opContactID, meta))
			},
		},

		// ---- Workflows ------------------------------------------------
		{
			op: "add-contact-to-workflow", fixture: "workflow.json", status: http.StatusOK,
			method: http.MethodPost, path: "/contacts/" + opContactID + "/workflow/" + opWorkflowID,
			body: `{"eventStartTime": "2025-04-01T07:00:00+01:00"}`,
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				start := time.Date(2025, 4, 1, 7, 0, 0, 0, time.FixedZone("WEST", 3600))
				opNoErr(t, c.Workflows.Add(t.Context(), opContactID, opWorkflowID, contacts.WorkflowEnrollment{EventStartTime: start}, meta))
			},
		},
		{
			op: "delete-contact-from-workflow", fixture: "workflow.json", status: http.StatusOK,
			method: http.MethodDelete, path: "/contacts/" + opContactID + "/workflow/" + opWorkflowID,
			// The spec requires a body; with no start time it is empty.
			body: `{}`,
			run: func(t *testing.T, c *contacts.Client, meta contacts.RequestOption) {
				opNoErr(t, c.Workflows.Remove(t.Context(), opContactID, opWorkflowID, contacts.WorkflowEnrollment{}, meta))
			},
		},
	}
}

// opCheckRichContact asserts the decoding of contact_get.json: several
// custom field value types, capitalised dndSettings keys, attachments as a
// string, additionalEmails as objects and unknown fields in RawJSON.
func opCheckRichContact(t *testing.T, got *contacts.Contact) {
	t.Helper()
	if got == nil {
		t.Fatal("contact is nil")
	}
	opEq(t, "ID", got.ID, opContactID)
	opEq(t, "Name", got.Name, "ana lima")
	opEq(t, "Email", got.Email, "ana.lima@example.com")
	opEq(t, "Phone", got.Phone, "+5511987654321")
	opEq(t, "City", got.City, "São Paulo")
	opEq(t, "DND", got.DND, false)
	opEq(t, "BusinessID", got.BusinessID, opBusinessID)
	opDeepEq(t, "Tags", got.Tags, []string{"member", "yoga"})
	opEq(t, "DateAdded", got.DateAdded.Time, time.Date(2024, 3, 4, 10, 15, 30, 123e6, time.UTC))
	opEq(t, "LastActivity", got.LastActivity.Time, time.Date(2025, 1, 19, 21, 45, 0, 0, time.UTC))

	// additionalEmails / additionalPhones arrive as [{email}] / [{phone}].
	opDeepEq(t, "AdditionalEmails", []string(got.AdditionalEmails), []string{"ana@work.example.com", "ana.l@home.example.com"})
	opDeepEq(t, "AdditionalPhones", []string(got.AdditionalPhones), []string{"+5511912345678"})
	// attachments as a single string.
	opDeepEq(t, "Attachments", []string(got.Attachments), []string{"https://files.example.com/waiver-ana.pdf"})

	// dndSettings with capitalised keys.
	d := got.DNDSettings
	if d == nil || d.Call == nil || d.Email == nil || d.SMS == nil || d.WhatsApp == nil || d.GMB == nil || d.FB == nil {
		t.Fatalf("DNDSettings not fully decoded: %+v", d)
	}
	opEq(t, "DND Call", *d.Call, contacts.DNDSetting{Status: contacts.DNDInactive})
	opEq(t, "DND Email", *d.Email, contacts.DNDSetting{Status: contacts.DNDActive, Message: "Unsubscribed from newsletter", Code: "UNSUB"})
	opEq(t, "DND SMS", *d.SMS, contacts.DNDSetting{Status: contacts.DNDPermanent, Message: "STOP received", Code: "21610"})
	opEq(t, "DND FB", d.FB.Status, contacts.DNDActive)

	// customFields with string, number, array and object values.
	opEq(t, "len(CustomFields)", len(got.CustomFields), 4)
	s, ok := got.CustomFields[0].Value.Text()
	opEq(t, "string field ok", ok, true)
	opEq(t, "string field", s, "gold")
	n, ok := got.CustomFields[1].Value.Number()
	opEq(t, "number field ok", ok, true)
	opEq(t, "number field", n, 3.0)
	if _, ok := got.CustomFields[1].Value.Text(); ok {
		t.Error("number field decoded as text")
	}
	l, ok := got.CustomFields[2].Value.Strings()
	opEq(t, "array field ok", ok, true)
	opDeepEq(t, "array field", l, []string{"yoga", "pilates"})
	var file map[string]struct {
		Meta struct {
			OriginalName string `json:"originalname"`
			Size         int    `json:"size"`
		} `json:"meta"`
		URL string `json:"url"`
	}
	opNoErr(t, got.CustomFields[3].Value.Decode(&file))
	f := file["6f1c2a9e-0b7d-4c53-9a8e-2d4f1b3c5e70"]
	opEq(t, "file field name", f.Meta.OriginalName, "waiver-ana.pdf")
	opEq(t, "file field size", f.Meta.Size, 48213)
	opEq(t, "file field url", f.URL, "https://files.example.com/waiver-ana.pdf")
	if v, ok := got.CustomField("cfClassesInterested3"); !ok || v.String() != "yoga, pilates" {
		t.Errorf("CustomField(cfClassesInterested3).String() = %q, %v", v.String(), ok)
	}

	if got.AttributionSource == nil || got.AttributionSource.UTMMedium != "cpc" || got.AttributionSource.MediumID != "fM3kL8pQ2wR7nT4vX9zA" {
		t.Errorf("AttributionSource = %+v", got.AttributionSource)
	}
	if got.LastAttribution == nil || got.LastAttribution.Medium != "email" {
		t.Errorf("LastAttribution = %+v", got.LastAttribution)
	}

	// Fields the SDK does not model are kept in RawJSON.
	raw := opRaw(t, got.RawJSON())
	createdBy, _ := raw["createdBy"].(map[string]any)
	opEq(t, "RawJSON createdBy.source", createdBy["source"], any("INTEGRATION"))
	opEq(t, "RawJSON loyaltyPoints", raw["loyaltyPoints"], any(1250.0))
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

// TestOperations runs every row: it checks the request on the wire, the
// decoded result, and the status and trace ID reported through
// WithResponse.
func TestOperations(t *testing.T) {
	t.Parallel()
	for _, tc := range opCases() {
		t.Run(tc.title(), func(t *testing.T) {
			t.Parallel()
			c, mt := opClient(t, true)
			fixture := opFixture(t, tc.fixture)
			rec := opRecord(mt, tc.status, fixture)

			var meta contacts.Response
			tc.run(t, c, contacts.WithResponse(&meta))

			calls := rec.recorded()
			if len(calls) != 1 {
				t.Fatalf("made %d requests, want exactly 1", len(calls))
			}
			call := calls[0]
			opEq(t, "method", call.method, tc.method)
			opEq(t, "path", call.path, tc.path)
			opCheckQuery(t, call.rawQuery, tc.query)
			for _, sub := range tc.rawQueryHas {
				if !strings.Contains(call.rawQuery, sub) {
					t.Errorf("raw query %q does not contain %q", call.rawQuery, sub)
				}
			}
			opCheckHeaders(t, call, tc.body != "")
			if tc.body == "" {
				if len(call.body) != 0 {
					t.Errorf("sent a body %s, want none", call.body)
				}
			} else {
				opJSONEqual(t, "request body", call.body, tc.body)
			}

			opEq(t, "Response.StatusCode", meta.StatusCode, tc.status)
			opEq(t, "Response.TraceID", meta.TraceID, opTraceID(t, fixture))
			opEq(t, "Response.Attempts", meta.Attempts, 1)
		})
	}
}

// TestOpTableCoversEverySpecOperation fails when a spec operation has no
// row or a row names an operationId the spec does not have.
func TestOpTableCoversEverySpecOperation(t *testing.T) {
	t.Parallel()
	if len(opSpecOperations) != 32 {
		t.Fatalf("opSpecOperations has %d entries, the spec has 32", len(opSpecOperations))
	}
	spec := map[string]bool{}
	for _, op := range opSpecOperations {
		if spec[op] {
			t.Errorf("operationId %q listed twice", op)
		}
		spec[op] = true
	}
	covered := map[string]bool{}
	names := map[string]bool{}
	for _, tc := range opCases() {
		if !spec[tc.op] {
			t.Errorf("row %q names operationId %q, which is not in the spec", tc.title(), tc.op)
		}
		if names[tc.title()] {
			t.Errorf("duplicate row name %q", tc.title())
		}
		names[tc.title()] = true
		covered[tc.op] = true
	}
	for _, op := range opSpecOperations {
		if !covered[op] {
			t.Errorf("operation %q has no row", op)
		}
	}
}

// TestOpSuccessFlagSpellings checks that every operation whose response
// carries the API's success flag accepts both spellings, "succeded" (sic,
// the spec) and "succeeded", and reports false as ErrNotSucceeded.
func TestOpSuccessFlagSpellings(t *testing.T) {
	t.Parallel()
	calls := map[string]func(t *testing.T, c *contacts.Client) error{
		"delete-contact": func(t *testing.T, c *contacts.Client) error {
			return c.Contacts.Delete(t.Context(), opContactID)
		},
		"update-contact": func(t *testing.T, c *contacts.Client) error {
			_, err := c.Contacts.Update(t.Context(), opContactID, contacts.ContactUpdate{City: contacts.Value("Santos")})
			return err
		},
		"delete-task": func(t *testing.T, c *contacts.Client) error {
			return c.Tasks.Delete(t.Context(), opContactID, opTaskID)
		},
		"delete-note": func(t *testing.T, c *contacts.Client) error {
			return c.Notes.Delete(t.Context(), opContactID, opNoteID)
		},
		"add-contact-to-campaign": func(t *testing.T, c *contacts.Client) error {
			return c.Campaigns.Add(t.Context(), opContactID, opCampaignID)
		},
		"remove-contact-from-campaign": func(t *testing.T, c *contacts.Client) error {
			return c.Campaigns.Remove(t.Context(), opContactID, opCampaignID)
		},
		"remove-contact-from-every-campaign": func(t *testing.T, c *contacts.Client) error {
			return c.Campaigns.RemoveAll(t.Context(), opContactID)
		},
		"add-contact-to-workflow": func(t *testing.T, c *contacts.Client) error {
			return c.Workflows.Add(t.Context(), opContactID, opWorkflowID, contacts.WorkflowEnrollment{})
		},
		"delete-contact-from-workflow": func(t *testing.T, c *contacts.Client) error {
			return c.Workflows.Remove(t.Context(), opContactID, opWorkflowID, contacts.WorkflowEnrollment{})
		},
	}
	bodies := []struct {
		flag string
		ok   bool
	}{
		{`"succeded": true`, true},
		{`"succeeded": true`, true},
		{`"succeded": false`, false},
		{`"succeeded": false`, false},
	}
	for op, call := range calls {
		for _, b := range bodies {
			t.Run(op+"/"+b.flag, func(t *testing.T) {
				t.Parallel()
				c, mt := opClient(t, true)
				rec := opRecord(mt, http.StatusOK, []byte(`{`+b.flag+`, "contact": {"id": "`+opContactID+`"}, "traceId": "t"}`))
				err := call(t, c)
				if n := len(rec.recorded()); n != 1 {
					t.Fatalf("made %d requests, want 1", n)
				}
				if b.ok && err != nil {
					t.Errorf("error = %v, want nil", err)
				}
				if !b.ok && !errors.Is(err, contacts.ErrNotSucceeded) {
					t.Errorf("error = %v, want ErrNotSucceeded", err)
				}
			})
		}
	}

	// Bulk tags reports the flag on its result instead of failing.
	for _, b := range bodies {
		t.Run("create-association/"+b.flag, func(t *testing.T) {
			t.Parallel()
			c, mt := opClient(t, true)
			opRecord(mt, http.StatusCreated, []byte(`{`+b.flag+`, "errorCount": 0, "responses": []}`))
			got, err := c.Tags.BulkAdd(t.Context(), contacts.BulkTags{ContactIDs: []string{opContactID}, Tags: []string{"vip"}})
			opNoErr(t, err)
			opEq(t, "Succeeded", got.Succeeded, b.ok)
		})
	}
}

// TestOpErrorBodies checks the documented error envelopes: 422 with message
// as an array, 400 with message as a string.
func TestOpErrorBodies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		fixture   string
		status    int
		call      func(t *testing.T, c *contacts.Client) error
		messages  []string
		errorText string
		is        []error
		isNot     []error
	}{
		{
			name: "create-contact/422-message-array", fixture: "error_422.json", status: http.StatusUnprocessableEntity,
			call: func(t *testing.T, c *contacts.Client) error {
				_, err := c.Contacts.Create(t.Context(), contacts.ContactCreate{Email: "not-an-email", Phone: "12"})
				return err
			},
			messages:  []string{"email must be an email", "phone must be a valid phone number"},
			errorText: "Unprocessable Entity",
			is:        []error{contacts.ErrValidation},
			isNot:     []error{contacts.ErrNotFound, contacts.ErrServer, contacts.ErrDuplicateContact},
		},
		{
			name: "create-task/400-message-string", fixture: "error_400.json", status: http.StatusBadRequest,
			call: func(t *testing.T, c *contacts.Client) error {
				_, err := c.Tasks.Create(t.Context(), opContactID, contacts.TaskCreate{Title: "x", DueDate: time.Now()})
				return err
			},
			messages: []string{"dueDate must be a valid ISO 8601 date string"},
			is:       []error{contacts.ErrValidation},
			isNot:    []error{contacts.ErrNotFound, contacts.ErrUnauthorized},
		},
		{
			name: "get-contact/400-not-found", fixture: "error_400_not_found.json", status: http.StatusBadRequest,
			call: func(t *testing.T, c *contacts.Client) error {
				_, err := c.Contacts.Get(t.Context(), opContactID)
				return err
			},
			messages: []string{"Contact not found"},
			is:       []error{contacts.ErrValidation, contacts.ErrNotFound},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, mt := opClient(t, true)
			fixture := opFixture(t, tt.fixture)
			rec := opRecord(mt, tt.status, fixture)
			err := tt.call(t, c)
			if n := len(rec.recorded()); n != 1 {
				t.Errorf("made %d requests, want 1 (4xx is not retried)", n)
			}
			var apiErr *contacts.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("error %v (%T) is not an *APIError", err, err)
			}
			opEq(t, "StatusCode", apiErr.StatusCode, tt.status)
			opDeepEq(t, "Messages", apiErr.Messages, tt.messages)
			opEq(t, "ErrorText", apiErr.ErrorText, tt.errorText)
			opEq(t, "TraceID", apiErr.TraceID, opTraceID(t, fixture))
			for _, want := range tt.is {
				if !errors.Is(err, want) {
					t.Errorf("errors.Is(err, %v) = false", want)
				}
			}
			for _, not := range tt.isNot {
				if errors.Is(err, not) {
					t.Errorf("errors.Is(err, %v) = true", not)
				}
			}
			for _, m := range tt.messages {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("Error() = %q, does not mention %q", err.Error(), m)
				}
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Invalid input: refused before any I/O
// ---------------------------------------------------------------------------

// opBadIDs are path parameter values the SDK must refuse.
var opBadIDs = []string{"", ".", "..", "a/b", "../x"}

// opPathCall is an SDK method with path parameters, called with ids in
// the order of params and otherwise valid input.
type opPathCall struct {
	name   string
	params []string
	call   func(t *testing.T, c *contacts.Client, ids []string) error
}

func opPathCalls() []opPathCall {
	due := time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)
	return []opPathCall{
		{"Contacts.Get", []string{"contactId"}, func(t *testing.T, c *contacts.Client, id []string) error {
			_, err := c.Contacts.Get(t.Context(), id[0])
			return err
		}},
		{"Contacts.Update", []string{"contactId"}, func(t *testing.T, c *contacts.Client, id []string) error {
			_, err := c.Contacts.Update(t.Context(), id[0], contacts.ContactUpdate{City: contacts.Value("Santos")})
			return err
		}},
		{"Contacts.Delete", []string{"contactId"}, func(t *testing.T, c *contacts.Client, id []string) error {
			return c.Contacts.Delete(t.Context(), id[0])
		}},
		{"Contacts.ListByBusiness", []string{"businessId"}, func(t *testing.T, c *contacts.Client, id []string) error {
			_, err := c.Contacts.ListByBusiness(t.Context(), id[0], contacts.BusinessListParams{})
			return err
		}},
		{"Tasks.List", []string{"contactId"}, func(t *testing.T, c *contacts.Client, id []string) error {
			_, err := c.Tasks.List(t.Context(), id[0])
			return err
		}},
		{"Tasks.Create", []string{"contactId"}, func(t *testing.T, c *contacts.Client, id []string) error {
			_, err := c.Tasks.Create(t.Context(), id[0], contacts.TaskCreate{Title: "Call", DueDate: due})
			return err
		}},
		{"Tasks.Get", []string{"contactId", "taskId"}, func(t *testing.T, c *contacts.Client, id []string) error {
			_, err := c.Tasks.Get(t.Context(), id[0], id[1])
			return err
		}},
		{"Tasks.Update", []string{"contactId", "taskId"}, func(t *testing.T, c *contacts.Client, id []string) error {
			_, err := c.Tasks.Update(t.Context(), id[0], id[1], contacts.TaskUpdate{Completed: contacts.Ptr(true)})
			return err
		}},
		{"Tasks.Complete", []string{"contactId", "taskId"}, func(t *testing.T, c *contacts.Client, id []string) error {
			_, err := c.Tasks.Complete(t.Context(), id[0], id[1], true)
			return err
		}},
		{"Tasks.Delete", []string{"contactId", "taskId"}, func(t *testing.T, c *contacts.Client, id []string) error {
			return c.Tasks.Delete(t.Context(), id[0], id[1])
		}},
		{"Notes.List", []string{"contactId"}, func(t *testing.T, c *contacts.Client, id []string) error {
			_, err := c.Notes.List(t.Context(), id[0])
			return err
		}},
		{"Notes.Create", []string{"contactId"}, func(t *testing.T, c *contacts.Client, id []string) error {
			_, err := c.Notes.Create(t.Context(), id[0], contacts.NoteCreate{Body: "hello"})
			return err
		}},
		{"Notes.Get", []string{"contactId", "id"}, func(t *testing.T, c *contacts.Client, id []string) error {
			_, err := c.Notes.Get(t.Context(), id[0], id[1])
			return err
		}},
		{"Notes.Update", []string{"contactId", "id"}, func(t *testing.T, c *contacts.Client, id []string) error {
			_, err := c.Notes.Update(t.Context(), id[0], id[1], contacts.NoteUpdate{Pinned: contacts.Ptr(true)})
			return err
		}},
		{"Notes.Delete", []string{"contactId", "id"}, func(t *testing.T, c *contacts.Client, id []string) error {
			return c.Notes.Delete(t.Context(), id[0], id[1])
		}},
		{"Appointments.List", []string{"contactId"}, func(t *testing.T, c *contacts.Client, id []string) error {
			_, err := c.Appointments.List(t.Context(), id[0])
			return err
		}},
		{"Tags.Add", []string{"contactId"}, func(t *testing.T, c *contacts.Client, id []string) error {
			_, err := c.Tags.Add(t.Context(), id[0], []string{"vip"})
			return err
		}},
		{"Tags.Remove", []string{"contactId"}, func(t *testing.T, c *contacts.Client, id []string) error {
			_, err := c.Tags.Remove(t.Context(), id[0], []string{"vip"})
			return err
		}},
		{"Followers.Add", []string{"contactId"}, func(t *testing.T, c *contacts.Client, id []string) error {
			_, err := c.Followers.Add(t.Context(), id[0], []string{opUserA})
			return err
		}},
		{"Followers.Remove", []string{"contactId"}, func(t *testing.T, c *contacts.Client, id []string) error {
			_, err := c.Followers.Remove(t.Context(), id[0], []string{opUserA})
			return err
		}},
		{"Campaigns.Add", []string{"contactId", "campaignId"}, func(t *testing.T, c *contacts.Client, id []string) error {
			return c.Campaigns.Add(t.Context(), id[0], id[1])
		}},
		{"Campaigns.Remove", []string{"contactId", "campaignId"}, func(t *testing.T, c *contacts.Client, id []string) error {
			return c.Campaigns.Remove(t.Context(), id[0], id[1])
		}},
		{"Campaigns.RemoveAll", []string{"contactId"}, func(t *testing.T, c *contacts.Client, id []string) error {
			return c.Campaigns.RemoveAll(t.Context(), id[0])
		}},
		{"Workflows.Add", []string{"contactId", "workflowId"}, func(t *testing.T, c *contacts.Client, id []string) error {
			return c.Workflows.Add(t.Context(), id[0], id[1], contacts.WorkflowEnrollment{})
		}},
		{"Workflows.Remove", []string{"contactId", "workflowId"}, func(t *testing.T, c *contacts.Client, id []string) error {
			return c.Workflows.Remove(t.Context(), id[0], id[1], contacts.WorkflowEnrollment{})
		}},
	}
}

// opGenericOK answers any operation well enough for control calls.
const opGenericOK = `{"succeded": true, "contact": {"id": "c"}, "task": {"id": "t"}, "note": {"id": "n"},
	"tags": [], "followers": [], "events": [], "contacts": [], "tasks": [], "notes": [], "traceId": "t"}`

// opExpectRefused asserts err is an ErrInvalidArgument and mt saw nothing.
func opExpectRefused(t *testing.T, mt *httpmock.MockTransport, err error) {
	t.Helper()
	if !errors.Is(err, contacts.ErrInvalidArgument) {
		t.Errorf("error = %v, want ErrInvalidArgument", err)
	}
	if n := mt.GetTotalCallCount(); n != 0 {
		t.Errorf("transport saw %d requests, want 0", n)
	}
}

// opExpectSent asserts the control call reached the transport, proving the
// refusals above were caused by the bad value alone.
func opExpectSent(t *testing.T, mt *httpmock.MockTransport, err error) {
	t.Helper()
	if errors.Is(err, contacts.ErrInvalidArgument) {
		t.Errorf("control call refused: %v", err)
	}
	if n := mt.GetTotalCallCount(); n != 1 {
		t.Errorf("control call made %d requests, want 1", n)
	}
}

// TestOpInvalidPathParametersFailBeforeIO tries every bad ID in every path
// parameter of every method.
func TestOpInvalidPathParametersFailBeforeIO(t *testing.T) {
	t.Parallel()
	good := map[string]string{
		"contactId": opContactID, "taskId": opTaskID, "id": opNoteID,
		"businessId": opBusinessID, "campaignId": opCampaignID, "workflowId": opWorkflowID,
	}
	for _, pc := range opPathCalls() {
		t.Run(pc.name, func(t *testing.T) {
			t.Parallel()
			ids := make([]string, len(pc.params))
			for i, p := range pc.params {
				ids[i] = good[p]
			}
			t.Run("control", func(t *testing.T) {
				c, mt := opClient(t, true)
				opRecord(mt, http.StatusOK, []byte(opGenericOK))
				opExpectSent(t, mt, pc.call(t, c, ids))
			})
			for i, p := range pc.params {
				for _, bad := range opBadIDs {
					t.Run(p+"="+strings.ReplaceAll(bad, "/", "∕"), func(t *testing.T) {
						c, mt := opClient(t, true)
						mt.RegisterNoResponder(func(*http.Request) (*http.Response, error) {
							t.Errorf("request sent with %s=%q", p, bad)
							return httpmock.NewStringResponse(http.StatusTeapot, `{}`), nil
						})
						args := append([]string(nil), ids...)
						args[i] = bad
						opExpectRefused(t, mt, pc.call(t, c, args))
					})
				}
			}
		})
	}
}

// TestOpMissingLocationFailsBeforeIO calls every location-scoped operation
// on a client without WithLocationID (and without a per-call location).
func TestOpMissingLocationFailsBeforeIO(t *testing.T) {
	t.Parallel()
	calls := []struct {
		name string
		call func(t *testing.T, c *contacts.Client) error
	}{
		{"Contacts.Create", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Contacts.Create(t.Context(), contacts.ContactCreate{Email: "a@example.com"})
			return err
		}},
		{"Contacts.Upsert", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Contacts.Upsert(t.Context(), contacts.ContactUpsert{Email: "a@example.com"})
			return err
		}},
		{"Contacts.FindDuplicate", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Contacts.FindDuplicate(t.Context(), contacts.DuplicateQuery{Email: "a@example.com"})
			return err
		}},
		{"Contacts.List", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Contacts.List(t.Context(), contacts.ListParams{})
			return err
		}},
		{"Contacts.ListByBusiness", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Contacts.ListByBusiness(t.Context(), opBusinessID, contacts.BusinessListParams{})
			return err
		}},
		{"Contacts.SetBusiness", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Contacts.SetBusiness(t.Context(), contacts.BusinessUpdate{ContactIDs: []string{opContactID}})
			return err
		}},
		{"Contacts.Search", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Contacts.Search(t.Context(), contacts.SearchParams{})
			return err
		}},
		{"Tags.BulkAdd", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Tags.BulkAdd(t.Context(), contacts.BulkTags{ContactIDs: []string{opContactID}, Tags: []string{"vip"}})
			return err
		}},
		{"Tags.BulkRemove", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Tags.BulkRemove(t.Context(), contacts.BulkTags{ContactIDs: []string{opContactID}, Tags: []string{"vip"}})
			return err
		}},
	}
	for _, tc := range calls {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt := opClient(t, false)
			opExpectRefused(t, mt, tc.call(t, c))

			// The same call with a default location is sent.
			c, mt = opClient(t, true)
			opRecord(mt, http.StatusOK, []byte(opGenericOK))
			opExpectSent(t, mt, tc.call(t, c))
		})
	}
}

// TestOpInvalidInputFailsBeforeIO covers the remaining client-side checks.
func TestOpInvalidInputFailsBeforeIO(t *testing.T) {
	t.Parallel()
	due := time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)
	calls := []struct {
		name string
		call func(t *testing.T, c *contacts.Client) error
	}{
		{"task without title", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Tasks.Create(t.Context(), opContactID, contacts.TaskCreate{DueDate: due})
			return err
		}},
		{"task with blank title", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Tasks.Create(t.Context(), opContactID, contacts.TaskCreate{Title: "  ", DueDate: due})
			return err
		}},
		{"task without due date", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Tasks.Create(t.Context(), opContactID, contacts.TaskCreate{Title: "Call"})
			return err
		}},
		{"task update to blank title", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Tasks.Update(t.Context(), opContactID, opTaskID, contacts.TaskUpdate{Title: contacts.Ptr("")})
			return err
		}},
		{"note without body", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Notes.Create(t.Context(), opContactID, contacts.NoteCreate{Title: "x"})
			return err
		}},
		{"Tags.Add nil tags", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Tags.Add(t.Context(), opContactID, nil)
			return err
		}},
		{"Tags.Add empty tags", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Tags.Add(t.Context(), opContactID, []string{})
			return err
		}},
		{"Tags.Add blank tag", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Tags.Add(t.Context(), opContactID, []string{"vip", " "})
			return err
		}},
		{"Tags.Remove empty tags", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Tags.Remove(t.Context(), opContactID, []string{})
			return err
		}},
		{"Tags.BulkAdd no tags", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Tags.BulkAdd(t.Context(), contacts.BulkTags{ContactIDs: []string{opContactID}})
			return err
		}},
		{"Tags.BulkAdd no contacts", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Tags.BulkAdd(t.Context(), contacts.BulkTags{Tags: []string{"vip"}})
			return err
		}},
		{"Tags.BulkAdd removeAllTags", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Tags.BulkAdd(t.Context(), contacts.BulkTags{ContactIDs: []string{opContactID}, RemoveAllTags: true})
			return err
		}},
		{"Campaigns.Remove removeAll", func(t *testing.T, c *contacts.Client) error {
			return c.Campaigns.Remove(t.Context(), opContactID, "removeAll")
		}},
		{"Campaigns.Add removeAll", func(t *testing.T, c *contacts.Client) error {
			return c.Campaigns.Add(t.Context(), opContactID, "removeAll")
		}},
		{"Followers.Add none", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Followers.Add(t.Context(), opContactID, nil)
			return err
		}},
		{"Followers.Remove empty ID", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Followers.Remove(t.Context(), opContactID, []string{""})
			return err
		}},
		{"Upsert without email or phone", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Contacts.Upsert(t.Context(), contacts.ContactUpsert{FirstName: "Ana"})
			return err
		}},
		{"FindDuplicate without email or phone", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Contacts.FindDuplicate(t.Context(), contacts.DuplicateQuery{})
			return err
		}},
		{"Create with a path-like locationId", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Contacts.Create(t.Context(), contacts.ContactCreate{LocationID: "../x", Email: "a@example.com"})
			return err
		}},
		{"Create custom field without id or key", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Contacts.Create(t.Context(), contacts.ContactCreate{
				Email: "a@example.com", CustomFields: []contacts.CustomFieldInput{{Value: "x"}},
			})
			return err
		}},
		{"Search pageLimit over 500", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Contacts.Search(t.Context(), contacts.SearchParams{PageLimit: 501})
			return err
		}},
		{"Search past the 10,000 window", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Contacts.Search(t.Context(), contacts.SearchParams{PageLimit: 500, Page: 21})
			return err
		}},
		{"Search page and searchAfter", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Contacts.Search(t.Context(), contacts.SearchParams{
				Page: 2, SearchAfter: contacts.Cursor{json.RawMessage(`1`), json.RawMessage(`"x"`)},
			})
			return err
		}},
		{"Search filter without value", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Contacts.Search(t.Context(), contacts.SearchParams{
				Filters: []contacts.Filter{contacts.Where("email", contacts.OpEq, nil)},
			})
			return err
		}},
		{"List limit over 100", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Contacts.List(t.Context(), contacts.ListParams{Limit: 101})
			return err
		}},
		{"SetBusiness without contacts", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Contacts.SetBusiness(t.Context(), contacts.BusinessUpdate{BusinessID: contacts.Ptr(opBusinessID)})
			return err
		}},
		{"SetBusiness with an ID over 50 characters", func(t *testing.T, c *contacts.Client) error {
			_, err := c.Contacts.SetBusiness(t.Context(), contacts.BusinessUpdate{ContactIDs: []string{strings.Repeat("x", 51)}})
			return err
		}},
	}
	for _, tc := range calls {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, mt := opClient(t, true)
			opExpectRefused(t, mt, tc.call(t, c))
		})
	}
}
