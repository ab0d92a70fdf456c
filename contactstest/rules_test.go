package contactstest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
)

// raw sends one request to the fake and decodes the JSON answer.
type raw struct {
	t   *testing.T
	srv *contactstest.Server
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func (r raw) do(method, path, token string, body any, headers ...string) answer {
	r.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, r.srv.URL+path, rd)
	if err != nil {
		r.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Version", contactstest.APIVersion)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := r.srv.HTTPClient().Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header}
	if err := json.Unmarshal(data, &a.body); err != nil {
		r.t.Fatalf("%s %s: non-JSON answer %d %q", method, path, resp.StatusCode, data)
	}
	return a
}

func messages(a answer) []string {
	switch m := a.body["message"].(type) {
	case string:
		return []string{m}
	case []any:
		var out []string
		for _, x := range m {
			out = append(out, x.(string))
		}
		return out
	}
	return nil
}

func TestAuthAndHeaders(t *testing.T) {
	t.Parallel()
	clock := contactstest.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv := contactstest.NewServer(contactstest.WithClock(clock))
	defer srv.Close()
	r := raw{t, srv}
	ct := srv.SeedContact(contactstest.Contact{FirstName: "Ana"})
	expiring := srv.IssueToken(contactstest.TokenSpec{LocationID: srv.LocationID(), TTL: time.Hour})
	agency := srv.IssueToken(contactstest.TokenSpec{CompanyID: "co1", UserType: contactstest.UserTypeCompany, TTL: 24 * time.Hour})
	revoked := srv.IssueToken(contactstest.TokenSpec{LocationID: srv.LocationID()})
	srv.RevokeToken(revoked)
	clock.Advance(2 * time.Hour)

	cases := []struct {
		name    string
		token   string
		headers []string
		status  int
		msg     string
	}{
		{"no token", "", nil, 401, "Invalid token"},
		{"unknown token", "pit-nope", nil, 401, "Invalid token"},
		{"revoked token", revoked, nil, 401, "Invalid token"},
		{"expired token", expiring, nil, 401, "expired"},
		{"agency token", agency, nil, 401, "agency"},
		{"no Version header", srv.Token(), []string{"Version", ""}, 400, "version"},
		{"wrong Version header", srv.Token(), []string{"Version", "2099-01-01"}, 400, "version"},
		{"ok", srv.Token(), nil, 200, ""},
	}
	for _, tc := range cases {
		a := r.do("GET", "/contacts/"+ct.ID, tc.token, nil, tc.headers...)
		if a.status != tc.status {
			t.Errorf("%s: status %d, want %d (%v)", tc.name, a.status, tc.status, a.body)
			continue
		}
		if a.body["traceId"] == nil || a.body["traceId"] == "" {
			t.Errorf("%s: no traceId in %v", tc.name, a.body)
		}
		if tc.msg != "" && !strings.Contains(strings.ToLower(strings.Join(messages(a), " ")), strings.ToLower(tc.msg)) {
			t.Errorf("%s: message %v, want it to mention %q", tc.name, messages(a), tc.msg)
		}
		if tc.status == 401 && (a.body["error"] != "Unauthorized" || a.body["statusCode"] != 401.0) {
			t.Errorf("%s: 401 body %v is not the documented {statusCode, message, error}", tc.name, a.body)
		}
	}
	// Unknown routes answer like the API's framework.
	a := r.do("GET", "/contacts/x/unknown", srv.Token(), nil)
	if a.status != 404 || !strings.HasPrefix(messages(a)[0], "Cannot GET") {
		t.Errorf("unknown route: %d %v", a.status, a.body)
	}
}

func TestScopesPerOperation(t *testing.T) {
	t.Parallel()
	srv := contactstest.NewServer()
	defer srv.Close()
	ctx := context.Background()
	ct := srv.SeedContact(contactstest.Contact{FirstName: "Ana", Email: "ana@example.com"})
	readOnly := srv.Client(contacts.WithToken(srv.IssueToken(contactstest.TokenSpec{LocationID: srv.LocationID(), Scopes: []string{contactstest.ScopeContactsRead}})))
	writeOnly := srv.Client(contacts.WithToken(srv.IssueToken(contactstest.TokenSpec{LocationID: srv.LocationID(), Scopes: []string{contactstest.ScopeContactsWrite}})))

	reads := map[string]func(c *contacts.Client) error{
		"get":    func(c *contacts.Client) error { _, err := c.Contacts.Get(ctx, ct.ID); return err },
		"search": func(c *contacts.Client) error { _, err := c.Contacts.Search(ctx, contacts.SearchParams{}); return err },
		"duplicate": func(c *contacts.Client) error {
			_, err := c.Contacts.FindDuplicate(ctx, contacts.DuplicateQuery{Email: "x@y.co"})
			return err
		},
		"tasks": func(c *contacts.Client) error { _, err := c.Tasks.List(ctx, ct.ID); return err },
		"notes": func(c *contacts.Client) error { _, err := c.Notes.List(ctx, ct.ID); return err },
		"appts": func(c *contacts.Client) error { _, err := c.Appointments.List(ctx, ct.ID); return err },
	}
	writes := map[string]func(c *contacts.Client) error{
		"create": func(c *contacts.Client) error {
			_, err := c.Contacts.Create(ctx, contacts.ContactCreate{Email: "new@example.com"})
			return err
		},
		"update": func(c *contacts.Client) error {
			_, err := c.Contacts.Update(ctx, ct.ID, contacts.ContactUpdate{City: contacts.Value("Porto")})
			return err
		},
		"tags": func(c *contacts.Client) error { _, err := c.Tags.Add(ctx, ct.ID, []string{"x"}); return err },
		"task": func(c *contacts.Client) error {
			_, err := c.Tasks.Create(ctx, ct.ID, contacts.TaskCreate{Title: "t", DueDate: time.Now()})
			return err
		},
		"note": func(c *contacts.Client) error {
			_, err := c.Notes.Create(ctx, ct.ID, contacts.NoteCreate{Body: "n"})
			return err
		},
	}
	for name, f := range reads {
		if err := f(readOnly); err != nil {
			t.Errorf("read %s with contacts.readonly: %v", name, err)
		}
		if err := f(writeOnly); !errors.Is(err, contacts.ErrUnauthorized) || !strings.Contains(err.Error(), "scope") {
			t.Errorf("read %s with contacts.write only: %v, want 401 for the scope", name, err)
		}
	}
	for name, f := range writes {
		if err := f(readOnly); !errors.Is(err, contacts.ErrUnauthorized) || !strings.Contains(err.Error(), "scope") {
			t.Errorf("write %s with contacts.readonly: %v, want 401 for the scope", name, err)
		}
		if err := f(writeOnly); err != nil {
			t.Errorf("write %s with contacts.write: %v", name, err)
		}
	}
}

func TestLocationOwnership(t *testing.T) {
	t.Parallel()
	srv := contactstest.NewServer()
	defer srv.Close()
	ctx := context.Background()
	other := srv.AddLocation("", "", contactstest.LocationSettings{})
	theirs := srv.SeedContact(contactstest.Contact{LocationID: other, FirstName: "Zoe"})
	c := srv.Client()
	if _, err := c.Contacts.Get(ctx, theirs.ID); !errors.Is(err, contacts.ErrForbidden) {
		t.Errorf("reading another location's contact: %v", err)
	}
	if err := c.Contacts.Delete(ctx, theirs.ID); !errors.Is(err, contacts.ErrForbidden) {
		t.Errorf("deleting another location's contact: %v", err)
	}
	if _, ok := srv.Contact(theirs.ID); !ok {
		t.Fatal("the other location's contact was deleted")
	}
	if _, err := c.Contacts.Create(ctx, contacts.ContactCreate{LocationID: other, Email: "a@b.co"}); !errors.Is(err, contacts.ErrForbidden) {
		t.Errorf("creating in another location: %v", err)
	}
	if _, err := c.Contacts.Search(ctx, contacts.SearchParams{LocationID: other}); !errors.Is(err, contacts.ErrForbidden) {
		t.Errorf("searching another location: %v", err)
	}
	if len(srv.Contacts(other)) != 1 {
		t.Error("a contact was created in the other location")
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	srv := contactstest.NewServer()
	defer srv.Close()
	r := raw{t, srv}
	ct := srv.SeedContact(contactstest.Contact{FirstName: "Ana"})
	loc := srv.LocationID()
	cases := []struct {
		name         string
		method, path string
		body         any
		status       int
		want         string
	}{
		{"create without locationId", "POST", "/contacts/", map[string]any{"firstName": "A"}, 422, "locationId should not be empty"},
		{"create with bad email", "POST", "/contacts/", map[string]any{"locationId": loc, "email": "not-an-email"}, 422, "email must be an email"},
		{"create with bad phone", "POST", "/contacts/", map[string]any{"locationId": loc, "phone": "12ab"}, 422, "phone must be a valid phone number"},
		{"create with unknown property", "POST", "/contacts/", map[string]any{"locationId": loc, "additionalEmails": []string{"x@y.co"}}, 422, "property additionalEmails should not exist"},
		{"create with bad date of birth", "POST", "/contacts/", map[string]any{"locationId": loc, "dateOfBirth": "25th of May"}, 422, "dateOfBirth"},
		{"create with unknown custom field", "POST", "/contacts/", map[string]any{"locationId": loc, "customFields": []any{map[string]any{"key": "nope", "field_value": "x"}}}, 422, "no custom field"},
		{"create with tags not a list", "POST", "/contacts/", map[string]any{"locationId": loc, "tags": "vip"}, 422, "tags must be an array"},
		{"update with locationId", "PUT", "/contacts/" + ct.ID, map[string]any{"locationId": loc}, 422, "property locationId should not exist"},
		{"update with companyName", "PUT", "/contacts/" + ct.ID, map[string]any{"companyName": "X"}, 422, "property companyName should not exist"},
		{"malformed JSON", "POST", "/contacts/", "{not json", 400, "JSON"},
		{"task without title", "POST", "/contacts/" + ct.ID + "/tasks", map[string]any{"dueDate": "2026-01-01T00:00:00Z", "completed": false}, 422, "title should not be empty"},
		{"task without dueDate", "POST", "/contacts/" + ct.ID + "/tasks", map[string]any{"title": "t", "completed": false}, 422, "dueDate must be a valid ISO 8601 date string"},
		{"task without completed", "POST", "/contacts/" + ct.ID + "/tasks", map[string]any{"title": "t", "dueDate": "2026-01-01T00:00:00Z"}, 422, "completed must be a boolean value"},
		{"task with bad dueDate", "POST", "/contacts/" + ct.ID + "/tasks", map[string]any{"title": "t", "dueDate": "tomorrow", "completed": false}, 422, "dueDate must be a valid ISO 8601 date string"},
		{"note without body", "POST", "/contacts/" + ct.ID + "/notes", map[string]any{"title": "x"}, 422, "body should not be empty"},
		{"tags empty", "POST", "/contacts/" + ct.ID + "/tags", map[string]any{"tags": []string{}}, 422, "tags should not be empty"},
		{"tags missing", "DELETE", "/contacts/" + ct.ID + "/tags", map[string]any{}, 422, "tags must be an array"},
		{"bulk tags bad type", "POST", "/contacts/bulk/tags/update/toggle", map[string]any{}, 422, "type must be one of"},
		{"search without pageLimit", "POST", "/contacts/search", map[string]any{"locationId": loc}, 422, "pageLimit"},
		{"search with pageLimit 501", "POST", "/contacts/search", map[string]any{"locationId": loc, "pageLimit": 501}, 422, "pageLimit"},
		{"search without locationId", "POST", "/contacts/search", map[string]any{"pageLimit": 10}, 422, "locationId"},
		{"unknown contact", "GET", "/contacts/aaaaaaaaaaaaaaaaaaaa", nil, 400, "Contact with id aaaaaaaaaaaaaaaaaaaa not found"},
		{"unknown task", "GET", "/contacts/" + ct.ID + "/tasks/bbbbbbbbbbbbbbbbbbbb", nil, 400, "Task with id bbbbbbbbbbbbbbbbbbbb not found"},
		{"unknown note", "PUT", "/contacts/" + ct.ID + "/notes/cccccccccccccccccccc", map[string]any{"body": "x"}, 400, "Note with id cccccccccccccccccccc not found"},
		{"duplicate finder without email or number", "GET", "/contacts/search/duplicate?locationId=" + loc, nil, 400, "Pass at least one of number, email"},
	}
	for _, tc := range cases {
		a := r.do(tc.method, tc.path, srv.Token(), tc.body)
		if a.status != tc.status {
			t.Errorf("%s: status %d, want %d (%v)", tc.name, a.status, tc.status, a.body)
			continue
		}
		msgs := messages(a)
		if !slices.ContainsFunc(msgs, func(m string) bool { return strings.Contains(m, tc.want) }) {
			t.Errorf("%s: messages %q, want one containing %q", tc.name, msgs, tc.want)
		}
		if tc.status == 422 {
			if _, isList := a.body["message"].([]any); !isList || a.body["error"] != "Unprocessable Entity" {
				t.Errorf("%s: 422 body %v is not {statusCode, message: [...], error}", tc.name, a.body)
			}
		}
		if tc.status == 400 {
			if _, isString := a.body["message"].(string); !isString {
				t.Errorf("%s: 400 body %v does not carry a string message", tc.name, a.body)
			}
		}
	}
	if n := len(srv.Contacts("")); n != 1 {
		t.Errorf("rejected requests created contacts: %d stored", n)
	}
}

func TestDuplicateRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("create is refused with the existing contact's id", func(t *testing.T) {
		srv := contactstest.NewServer()
		defer srv.Close()
		c := srv.Client()
		first, err := c.Contacts.Create(ctx, contacts.ContactCreate{Email: "ana@example.com", Phone: "+15555550100"})
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range []contacts.ContactCreate{{Email: "ANA@example.com"}, {Phone: "(555) 555-0100"}} {
			_, err := c.Contacts.Create(ctx, in)
			var apiErr *contacts.APIError
			if !errors.Is(err, contacts.ErrDuplicateContact) || !errors.As(err, &apiErr) || apiErr.DuplicateContactID != first.ID {
				t.Errorf("duplicate %+v: %v", in, err)
			}
		}
		if n := len(srv.Contacts("")); n != 1 {
			t.Errorf("%d contacts stored", n)
		}
	})

	t.Run("allowed duplicates are created", func(t *testing.T) {
		srv := contactstest.NewServer()
		defer srv.Close()
		srv.SetLocationSettings(srv.LocationID(), contactstest.LocationSettings{AllowDuplicateContact: true})
		c := srv.Client()
		for range 2 {
			if _, err := c.Contacts.Create(ctx, contacts.ContactCreate{Email: "ana@example.com"}); err != nil {
				t.Fatal(err)
			}
		}
		// createNewIfDuplicateAllowed creates even when one matches.
		up, err := c.Contacts.Upsert(ctx, contacts.ContactUpsert{Email: "ana@example.com", CreateNewIfDuplicateAllowed: true})
		if err != nil || !up.Created || len(srv.Contacts("")) != 3 {
			t.Errorf("upsert with createNewIfDuplicateAllowed: %+v %v", up, err)
		}
		// Without it, upsert updates the first match.
		up, err = c.Contacts.Upsert(ctx, contacts.ContactUpsert{Email: "ana@example.com", City: "Faro"})
		if err != nil || up.Created {
			t.Errorf("plain upsert: %+v %v", up, err)
		}
	})

	t.Run("upsert: first field in priority wins, second is ignored", func(t *testing.T) {
		for _, order := range [][]string{{"email", "phone"}, {"phone", "email"}} {
			srv := contactstest.NewServer()
			srv.SetLocationSettings(srv.LocationID(), contactstest.LocationSettings{DuplicateMatch: order})
			byEmail := srv.SeedContact(contactstest.Contact{Email: "ana@example.com"})
			byPhone := srv.SeedContact(contactstest.Contact{Phone: "+15555550100"})
			up, err := srv.Client().Contacts.Upsert(ctx, contacts.ContactUpsert{Email: "ana@example.com", Phone: "+15555550100", FirstName: "Ana"})
			srv.Close()
			if err != nil || up.Created {
				t.Fatalf("%v: %+v %v", order, up, err)
			}
			want, other := byEmail, byPhone
			if order[0] == "phone" {
				want, other = byPhone, byEmail
			}
			if up.Contact.ID != want.ID || up.Contact.FirstName != "Ana" {
				t.Errorf("%v: updated %s, want %s", order, up.Contact.ID, want.ID)
			}
			if order[0] == "email" && up.Contact.Phone != "" || order[0] == "phone" && up.Contact.Email != "" {
				t.Errorf("%v: the second field was written onto the match: %+v (other contact %s)", order, up.Contact, other.ID)
			}
		}
	})

	t.Run("create matches only the configured fields", func(t *testing.T) {
		// API-NOTES: duplicates are matched "by email and/or phone"; a
		// location matching by phone alone takes a second contact with
		// the same email, and still refuses the same phone.
		srv := contactstest.NewServer()
		defer srv.Close()
		if err := srv.SetLocationSettings(srv.LocationID(), contactstest.LocationSettings{DuplicateMatch: []string{"phone"}}); err != nil {
			t.Fatal(err)
		}
		ana := srv.SeedContact(contactstest.Contact{Email: "ana@example.com", Phone: "+15555550100"})
		c := srv.Client()
		twin, err := c.Contacts.Create(ctx, contacts.ContactCreate{Email: "ana@example.com", Phone: "+15555550199"})
		if err != nil || twin.ID == ana.ID || twin.Email != "ana@example.com" {
			t.Fatalf("same email, other phone: %+v %v; want a new contact", twin, err)
		}
		_, err = c.Contacts.Create(ctx, contacts.ContactCreate{Email: "other@example.com", Phone: "(555) 555-0100"})
		var apiErr *contacts.APIError
		if !errors.Is(err, contacts.ErrDuplicateContact) || !errors.As(err, &apiErr) || apiErr.DuplicateContactID != ana.ID {
			t.Errorf("same phone: %v; want the duplicate error naming %s", err, ana.ID)
		}
		if n := len(srv.Contacts("")); n != 2 {
			t.Errorf("%d contacts stored, want Ana and her same-email twin", n)
		}
	})

	t.Run("duplicate finder follows the priority", func(t *testing.T) {
		srv := contactstest.NewServer()
		defer srv.Close()
		srv.SetLocationSettings(srv.LocationID(), contactstest.LocationSettings{DuplicateMatch: []string{"phone"}})
		srv.SeedContact(contactstest.Contact{Email: "ana@example.com"})
		p := srv.SeedContact(contactstest.Contact{Phone: "+15555550100"})
		c := srv.Client()
		got, err := c.Contacts.FindDuplicate(ctx, contacts.DuplicateQuery{Email: "ana@example.com"})
		if err != nil || got.Contact != nil {
			t.Errorf("email is not a duplicate field here: %+v %v", got, err)
		}
		got, err = c.Contacts.FindDuplicate(ctx, contacts.DuplicateQuery{Email: "ana@example.com", Phone: "5555550100"})
		if err != nil || got.Contact == nil || got.Contact.ID != p.ID {
			t.Errorf("by phone: %+v %v", got, err)
		}
	})
}

func TestTagsReplaceInBodies(t *testing.T) {
	t.Parallel()
	srv := contactstest.NewServer()
	defer srv.Close()
	c := srv.Client()
	ctx := context.Background()
	ct := srv.SeedContact(contactstest.Contact{Email: "ana@example.com", Tags: []string{"member", "crm-automation"}})
	if _, err := c.Contacts.Update(ctx, ct.ID, contacts.ContactUpdate{Tags: []string{"gold"}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := srv.Contact(ct.ID); !slices.Equal(got.Tags, []string{"gold"}) {
		t.Errorf("tags after update = %v, want them replaced", got.Tags)
	}
	if _, err := c.Contacts.Upsert(ctx, contacts.ContactUpsert{Email: "ana@example.com", Tags: []string{"silver"}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := srv.Contact(ct.ID); !slices.Equal(got.Tags, []string{"silver"}) {
		t.Errorf("tags after upsert = %v, want them replaced", got.Tags)
	}
	if _, err := c.Contacts.Update(ctx, ct.ID, contacts.ContactUpdate{Tags: []string{}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := srv.Contact(ct.ID); len(got.Tags) != 0 {
		t.Errorf("tags after update with [] = %v", got.Tags)
	}
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	clock := contactstest.NewManualClock(time.Date(2026, 3, 1, 23, 59, 0, 0, time.UTC))
	srv := contactstest.NewServer(contactstest.WithClock(clock),
		contactstest.WithRateLimits(contactstest.RateLimits{Burst: 3, Interval: 10 * time.Second, Daily: 5, RetryAfter: true}))
	defer srv.Close()
	r := raw{t, srv}
	ct := srv.SeedContact(contactstest.Contact{FirstName: "Ana"})
	get := func() answer { return r.do("GET", "/contacts/"+ct.ID, srv.Token(), nil) }
	for i, want := range []string{"2", "1", "0"} {
		a := get()
		if a.status != 200 || a.header.Get("X-RateLimit-Remaining") != want || a.header.Get("X-RateLimit-Max") != "3" ||
			a.header.Get("X-RateLimit-Interval-Milliseconds") != "10000" || a.header.Get("X-RateLimit-Limit-Daily") != "5" {
			t.Fatalf("request %d: %d %v", i, a.status, a.header)
		}
	}
	a := get()
	if a.status != 429 || a.header.Get("Retry-After") == "" || a.header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("4th request in the window: %d %v", a.status, a.header)
	}
	// Another token of another app has its own budget.
	other := srv.IssueToken(contactstest.TokenSpec{LocationID: srv.LocationID()})
	if a := r.do("GET", "/contacts/"+ct.ID, other, nil); a.status != 200 {
		t.Errorf("other app's token: %d", a.status)
	}
	clock.Advance(10 * time.Second)
	if a := get(); a.status != 200 || a.header.Get("X-RateLimit-Daily-Remaining") != "1" {
		t.Fatalf("new window: %d %v", a.status, a.header)
	}
	get()
	a = get()
	if a.status != 429 || a.header.Get("X-RateLimit-Daily-Remaining") != "0" {
		t.Fatalf("daily budget: %d %v", a.status, a.header)
	}
	// The SDK turns the exhausted daily budget into its typed error at once.
	_, err := srv.Client().Contacts.Get(context.Background(), ct.ID)
	if !errors.Is(err, contacts.ErrDailyLimitExceeded) {
		t.Errorf("SDK error = %v", err)
	}
	clock.Advance(time.Minute) // past midnight UTC
	if a := get(); a.status != 200 {
		t.Errorf("next day: %d", a.status)
	}

	srv.SetRateLimits(contactstest.RateLimits{Disabled: true, Burst: 1})
	for range 5 {
		if a := get(); a.status != 200 || a.header.Get("X-RateLimit-Max") != "1" {
			t.Fatalf("limits off: %d %v", a.status, a.header)
		}
	}

	t.Run("one app, two locations: a budget per location", func(t *testing.T) {
		clock := contactstest.NewManualClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
		srv := contactstest.NewServer(contactstest.WithClock(clock),
			contactstest.WithRateLimits(contactstest.RateLimits{Burst: 3, Interval: 10 * time.Second, Daily: 100}))
		defer srv.Close()
		r := raw{t, srv}
		loc1, loc2 := srv.LocationID(), srv.AddLocation("", "", contactstest.LocationSettings{})
		ct1 := srv.SeedContact(contactstest.Contact{FirstName: "Ana", LocationID: loc1})
		ct2 := srv.SeedContact(contactstest.Contact{FirstName: "Bo", LocationID: loc2})
		tok1 := srv.IssueToken(contactstest.TokenSpec{AppID: "app-1", LocationID: loc1})
		tok1b := srv.IssueToken(contactstest.TokenSpec{AppID: "app-1", LocationID: loc1})
		tok2 := srv.IssueToken(contactstest.TokenSpec{AppID: "app-1", LocationID: loc2})
		get := func(tok, id string) answer { return r.do("GET", "/contacts/"+id, tok, nil) }

		for i, want := range []string{"2", "1", "0"} {
			if a := get(tok1, ct1.ID); a.status != 200 || a.header.Get("X-RateLimit-Remaining") != want {
				t.Fatalf("app-1 on location 1, request %d: %d remaining %q, want 200 and %s", i, a.status, a.header.Get("X-RateLimit-Remaining"), want)
			}
		}
		// Another token of the same app on the same location shares the
		// spent budget…
		if a := get(tok1b, ct1.ID); a.status != 429 {
			t.Errorf("app-1's second token on location 1: %d, want 429 (one budget per app and location)", a.status)
		}
		// …while the same app on the other location has a budget of its own.
		for i, want := range []string{"2", "1", "0"} {
			a := get(tok2, ct2.ID)
			if a.status != 200 || a.header.Get("X-RateLimit-Remaining") != want || a.header.Get("X-RateLimit-Daily-Remaining") != fmt.Sprint(99-i) {
				t.Fatalf("app-1 on location 2, request %d: %d %v; want 200 with %s left in the window and %d today",
					i, a.status, a.header, want, 99-i)
			}
		}
		if a := get(tok2, ct2.ID); a.status != 429 {
			t.Errorf("app-1 on location 2, 4th request: %d, want 429", a.status)
		}
	})
}

// TestRateLimitHeadersOnEveryAnswer checks which answers carry the
// X-RateLimit-* headers although the limiter did not count them (see
// RateLimits): every answer attributable to a location's budget does, and
// shows that budget as it stands; answers that cannot be attributed carry
// none.
func TestRateLimitHeadersOnEveryAnswer(t *testing.T) {
	t.Parallel()
	rateHeaders := []string{"X-RateLimit-Max", "X-RateLimit-Remaining", "X-RateLimit-Interval-Milliseconds",
		"X-RateLimit-Limit-Daily", "X-RateLimit-Daily-Remaining"}
	// budget checks the headers against a budget of max per 10 s and
	// daily per day with remaining and dailyRemaining left.
	budget := func(t *testing.T, what string, h http.Header, max, remaining, daily, dailyRemaining int) {
		t.Helper()
		want := []string{fmt.Sprint(max), fmt.Sprint(remaining), "10000", fmt.Sprint(daily), fmt.Sprint(dailyRemaining)}
		for i, name := range rateHeaders {
			if got := h.Get(name); got != want[i] {
				t.Errorf("%s: %s = %q, want %q", what, name, got, want[i])
			}
		}
	}
	none := func(t *testing.T, what string, h http.Header) {
		t.Helper()
		for _, name := range rateHeaders {
			if v, ok := h[http.CanonicalHeaderKey(name)]; ok {
				t.Errorf("%s: %s = %q, want no rate-limit headers (not attributable)", what, name, v)
			}
		}
	}

	t.Run("contacts endpoints", func(t *testing.T) {
		clock := contactstest.NewManualClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
		srv := contactstest.NewServer(contactstest.WithClock(clock),
			contactstest.WithRateLimits(contactstest.RateLimits{Burst: 5, Interval: 10 * time.Second, Daily: 100}))
		defer srv.Close()
		r := raw{t, srv}
		loc := srv.LocationID()
		ct := srv.SeedContact(contactstest.Contact{FirstName: "Ana"})
		path := "/contacts/" + ct.ID
		valid := srv.IssueToken(contactstest.TokenSpec{AppID: "app-1", LocationID: loc})
		expiring := srv.IssueToken(contactstest.TokenSpec{AppID: "app-1", LocationID: loc, TTL: time.Minute})
		revoked := srv.IssueToken(contactstest.TokenSpec{AppID: "app-1", LocationID: loc})
		srv.RevokeToken(revoked)
		readOnly := srv.IssueToken(contactstest.TokenSpec{AppID: "app-1", LocationID: loc, Scopes: []string{contactstest.ScopeContactsRead}})
		agency := srv.IssueToken(contactstest.TokenSpec{CompanyID: "co-1", UserType: contactstest.UserTypeCompany, TTL: time.Hour})
		clock.Advance(2 * time.Minute) // expiring has expired

		a := r.do("GET", path, valid, nil)
		if a.status != 200 {
			t.Fatalf("valid token: %d %v", a.status, a.body)
		}
		budget(t, "200", a.header, 5, 4, 100, 99)

		// Attributable to app-1 on the location, yet not counted.
		for _, tc := range []struct {
			name   string
			do     func() answer
			status int
		}{
			{"expired token", func() answer { return r.do("GET", path, expiring, nil) }, 401},
			{"revoked token", func() answer { return r.do("GET", path, revoked, nil) }, 401},
			{"body too large", func() answer {
				return r.do("POST", "/contacts/", valid, strings.Repeat(" ", 1<<20+1))
			}, 413},
			{"scripted 503", func() answer {
				srv.Script("GET", path, contactstest.Scripted{Status: 503})
				return r.do("GET", path, valid, nil)
			}, 503},
			{"scripted 200 with a body", func() answer {
				srv.Script("GET", path, contactstest.Scripted{Status: 200, Body: `{"contact":{},"traceId":"t"}`})
				return r.do("GET", path, valid, nil)
			}, 200},
			{"injected 5xx", func() answer {
				srv.SetFaults(contactstest.Faults{ServerErrorRate: 1})
				defer srv.SetFaults(contactstest.Faults{})
				return r.do("GET", path, valid, nil)
			}, 0},
		} {
			a := tc.do()
			if tc.status == 0 && a.status < 500 || tc.status != 0 && a.status != tc.status {
				t.Errorf("%s: status %d, want %d: %v", tc.name, a.status, tc.status, a.body)
				continue
			}
			budget(t, tc.name, a.header, 5, 4, 100, 99)
		}

		// A script's own headers win, and "" sends none.
		srv.Script("GET", path,
			contactstest.Scripted{Status: 429, Headers: map[string]string{"X-RateLimit-Remaining": "0", "Retry-After": "7"}},
			contactstest.Scripted{Status: 429, Headers: map[string]string{"X-RateLimit-Max": "", "X-RateLimit-Remaining": "",
				"X-RateLimit-Interval-Milliseconds": "", "X-RateLimit-Limit-Daily": "", "X-RateLimit-Daily-Remaining": ""}})
		a = r.do("GET", path, valid, nil)
		if a.status != 429 || a.header.Get("Retry-After") != "7" {
			t.Errorf("scripted 429: %d %v", a.status, a.header)
		}
		budget(t, "scripted 429 with X-RateLimit-Remaining", a.header, 5, 0, 100, 99)
		a = r.do("GET", path, valid, nil)
		if a.status != 429 {
			t.Errorf("scripted bare 429: %d", a.status)
		}
		none(t, "scripted 429 without rate-limit headers", a.header)

		// A missing scope is found by the route, after the limiter counted
		// the request.
		if a := r.do("DELETE", path, readOnly, nil); a.status != 401 {
			t.Errorf("write with a read-only token: %d", a.status)
		} else {
			budget(t, "401 for the scope", a.header, 5, 3, 100, 98)
		}

		// Not attributable to any location's budget.
		for name, tok := range map[string]string{"no token": "", "unknown token": "pit-unknown", "agency token": agency} {
			a := r.do("GET", path, tok, nil)
			if a.status != 401 {
				t.Errorf("%s: %d", name, a.status)
			}
			none(t, name, a.header)
		}

		// Only the two counted requests were spent.
		budget(t, "next 200", r.do("GET", path, valid, nil).header, 5, 2, 100, 97)
	})

	t.Run("OAuth endpoints", func(t *testing.T) {
		srv, _ := oauthManualServer(t) // default limits: 100 per 10 s, 200,000 a day
		ct := srv.SeedContact(contactstest.Contact{FirstName: "Ana"})
		app := srv.RegisterApp(contactstest.App{})

		// A sub-account grant's answers show the budget of the app on the
		// location, which the tokens issued for it draw on.
		first := oauthInstall(t, srv, app, contactstest.Grant{})
		budget(t, "code exchange", first.header, 100, 100, 200000, 200000)
		for range 2 {
			if a := oauthGetContact(t, srv, first.str("access_token"), ct.ID); a.status != 200 {
				t.Fatalf("issued token: %d %s", a.status, a.raw)
			}
		}
		refreshed := oauthPostToken(t, srv, oauthRefreshForm(app, first.str("refresh_token")))
		if refreshed.status != 200 {
			t.Fatalf("refresh: %d %s", refreshed.status, refreshed.raw)
		}
		budget(t, "refresh", refreshed.header, 100, 98, 200000, 199998)
		// A refresh token the server no longer knows names no grant.
		reused := oauthPostToken(t, srv, oauthRefreshForm(app, first.str("refresh_token")))
		if reused.status != 400 {
			t.Fatalf("reused refresh token: %d %s", reused.status, reused.raw)
		}
		none(t, "reused refresh token", reused.header)

		// Agency grants and agency routes belong to no location; the
		// location token an agency token is exchanged for does.
		a := newOAuthAgency(t)
		none(t, "agency code exchange", a.agency.header)
		lt := a.locationToken(t, a.agencyToken, "co-1", a.loc1)
		if lt.status != 200 {
			t.Fatalf("location token: %d %s", lt.status, lt.raw)
		}
		budget(t, "location token", lt.header, 100, 100, 200000, 200000)
		onLoc1 := a.srv.SeedContact(contactstest.Contact{FirstName: "Bo", LocationID: a.loc1})
		if got := oauthGetContact(t, a.srv, lt.str("access_token"), onLoc1.ID); got.status != 200 {
			t.Fatalf("location token on its location: %d %s", got.status, got.raw)
		}
		budget(t, "second location token", a.locationToken(t, a.agencyToken, "co-1", a.loc1).header, 100, 99, 200000, 199999)
		none(t, "location token refused", a.locationToken(t, a.agencyToken, "co-1", a.foreign).header)
		installed := oauthDo(t, a.srv, http.MethodGet, "/oauth/installedLocations?companyId=co-1&appId="+a.app.ClientID, "", "",
			map[string]string{"Authorization": "Bearer " + a.agencyToken, "Version": contactstest.APIVersion})
		if installed.status != 200 {
			t.Fatalf("installedLocations: %d %s", installed.status, installed.raw)
		}
		none(t, "installedLocations", installed.header)
	})
}

func TestSDKRespectsServerBudget(t *testing.T) {
	t.Parallel()
	// With the SDK's limiter adapting to the fake's headers, a burst of
	// sequential calls never draws a 429 even though the server's fixed
	// window is stricter than the client's token bucket.
	clock := contactstest.NewManualClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	srv := contactstest.NewServer(contactstest.WithClock(clock))
	defer srv.Close()
	ct := srv.SeedContact(contactstest.Contact{FirstName: "Ana"})
	var meta contacts.Response
	c := srv.Client(contacts.WithRetryPolicy(contacts.RetryPolicy{}))
	for i := range 100 {
		if _, err := c.Contacts.Get(context.Background(), ct.ID, contacts.WithResponse(&meta)); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if meta.RateLimit.Remaining != 0 {
		t.Errorf("remaining after 100 calls = %d", meta.RateLimit.Remaining)
	}
	_, err := c.Contacts.Get(context.Background(), ct.ID)
	var apiErr *contacts.APIError
	if !errors.Is(err, contacts.ErrRateLimited) || !errors.As(err, &apiErr) || apiErr.RateLimit == nil {
		t.Fatalf("101st call: %v", err)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("5xx before the API: GET retried, POST not", func(t *testing.T) {
		srv := contactstest.NewServer()
		defer srv.Close()
		ct := srv.SeedContact(contactstest.Contact{FirstName: "Ana"})
		srv.Script("GET", "/contacts/"+ct.ID, contactstest.Scripted{Status: 503}, contactstest.Scripted{Status: 502})
		srv.Script("POST", "/contacts/", contactstest.Scripted{Status: 500})
		c := srv.Client(contacts.WithRetryPolicy(contacts.RetryPolicy{MaxRetries: 3, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond}))
		var meta contacts.Response
		if _, err := c.Contacts.Get(ctx, ct.ID, contacts.WithResponse(&meta)); err != nil || meta.Attempts != 3 {
			t.Errorf("GET through two scripted 5xx: %v after %d attempts", err, meta.Attempts)
		}
		if _, err := c.Contacts.Create(ctx, contacts.ContactCreate{Email: "b@example.com"}); !errors.Is(err, contacts.ErrServer) {
			t.Errorf("POST: %v", err)
		}
		if n := len(srv.Contacts("")); n != 1 {
			t.Errorf("contacts = %d, want the seeded one only", n)
		}
	})

	t.Run("connection resets", func(t *testing.T) {
		srv := contactstest.NewServer()
		defer srv.Close()
		ct := srv.SeedContact(contactstest.Contact{FirstName: "Ana"})
		srv.Script("GET", "/contacts/"+ct.ID, contactstest.Scripted{Reset: true})
		c := srv.Client(contacts.WithRetryPolicy(contacts.RetryPolicy{MaxRetries: 0}))
		_, err := c.Contacts.Get(ctx, ct.ID)
		var te *contacts.TransportError
		if !errors.As(err, &te) {
			t.Fatalf("reset: %v", err)
		}
		if _, err := c.Contacts.Get(ctx, ct.ID); err != nil {
			t.Errorf("after the scripted reset: %v", err)
		}
	})

	t.Run("422 but created", func(t *testing.T) {
		srv := contactstest.NewServer()
		defer srv.Close()
		srv.SetFaults(contactstest.Faults{CreatedButFailedRate: 1})
		c := srv.Client()
		_, err := c.Contacts.Create(ctx, contacts.ContactCreate{Email: "quirk@example.com"})
		if !errors.Is(err, contacts.ErrValidation) {
			t.Fatalf("create: %v", err)
		}
		dup, err := c.Contacts.FindDuplicate(ctx, contacts.DuplicateQuery{Email: "quirk@example.com"})
		if err != nil || dup.Contact == nil {
			t.Fatalf("the contact should exist despite the 422: %+v %v", dup, err)
		}
	})

	t.Run("random resets and latency", func(t *testing.T) {
		srv := contactstest.NewServer()
		defer srv.Close()
		ct := srv.SeedContact(contactstest.Contact{FirstName: "Ana"})
		srv.SetFaults(contactstest.Faults{ResetRate: 1})
		c := srv.Client(contacts.WithRetryPolicy(contacts.RetryPolicy{MaxRetries: 1, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond}))
		var te *contacts.TransportError
		if _, err := c.Contacts.Get(ctx, ct.ID); !errors.As(err, &te) || te.Attempts != 2 {
			t.Errorf("every connection reset: %v", err)
		}
		srv.SetFaults(contactstest.Faults{Latency: 5 * time.Millisecond})
		if got, err := c.Contacts.Get(ctx, ct.ID); err != nil || got.ID != ct.ID {
			t.Errorf("with latency: %v", err)
		}
		if n := srv.RequestCount(); n != 3 {
			t.Errorf("request log counted %d, want 3 (resets are logged)", n)
		}
	})

	t.Run("latency delays the answer before the API", func(t *testing.T) {
		// No timing is measured: with an hour of latency a request whose
		// deadline is far shorter can only fail with its deadline, and
		// nothing reaches the API; without latency the same call succeeds.
		srv := contactstest.NewServer()
		defer srv.Close()
		c := srv.Client(contacts.WithRetryPolicy(contacts.RetryPolicy{MaxRetries: 0}))
		srv.SetFaults(contactstest.Faults{Latency: time.Hour})
		short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if _, err := c.Contacts.Create(short, contacts.ContactCreate{Email: "late@example.com"}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("create with an hour of latency and a 100ms deadline: %v, want context.DeadlineExceeded", err)
		}
		if n := len(srv.Contacts("")); n != 0 {
			t.Errorf("%d contacts stored: the delayed request reached the API", n)
		}
		srv.SetFaults(contactstest.Faults{})
		long, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if _, err := c.Contacts.Create(long, contacts.ContactCreate{Email: "late@example.com"}); err != nil {
			t.Fatalf("create without latency: %v", err)
		}
		if n := len(srv.Contacts("")); n != 1 {
			t.Errorf("%d contacts stored, want 1", n)
		}
	})

	t.Run("random 5xx rate is seeded and reproducible", func(t *testing.T) {
		count := func() int {
			srv := contactstest.NewServer(contactstest.WithSeed(42))
			defer srv.Close()
			ct := srv.SeedContact(contactstest.Contact{FirstName: "Ana"})
			srv.SetFaults(contactstest.Faults{ServerErrorRate: 0.3})
			r := raw{t, srv}
			n := 0
			for range 200 {
				if r.do("GET", "/contacts/"+ct.ID, srv.Token(), nil).status >= 500 {
					n++
				}
			}
			return n
		}
		a, b := count(), count()
		if a != b || a < 30 || a > 90 {
			t.Errorf("5xx counts %d and %d, want equal and near 60", a, b)
		}
	})
}

func TestRequestLog(t *testing.T) {
	t.Parallel()
	srv := contactstest.NewServer()
	defer srv.Close()
	c := srv.Client()
	ctx := context.Background()
	ct, _ := c.Contacts.Create(ctx, contacts.ContactCreate{Email: "a@example.com"})
	c.Contacts.Get(ctx, ct.ID)
	c.Contacts.Get(ctx, "aaaaaaaaaaaaaaaaaaaa")
	reqs := srv.Requests()
	if len(reqs) != 3 || srv.RequestCount() != 3 {
		t.Fatalf("log = %+v", reqs)
	}
	want := []contactstest.Request{
		{Method: "POST", Path: "/contacts/", Status: 201, Location: srv.LocationID()},
		{Method: "GET", Path: "/contacts/" + ct.ID, Status: 200, Location: srv.LocationID()},
		{Method: "GET", Path: "/contacts/aaaaaaaaaaaaaaaaaaaa", Status: 400, Location: srv.LocationID()},
	}
	for i := range want {
		got := reqs[i]
		got.Time, got.Query = time.Time{}, ""
		if got != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, got, want[i])
		}
	}
	srv.ResetRequests()
	if srv.RequestCount() != 0 {
		t.Error("ResetRequests kept entries")
	}
}

func TestConcurrentClients(t *testing.T) {
	t.Parallel()
	srv := contactstest.NewServer(contactstest.WithoutRateLimits())
	defer srv.Close()
	c := srv.Client()
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := range 50 {
		wg.Go(func() {
			_, err := c.Contacts.Upsert(context.Background(), contacts.ContactUpsert{Email: "same@example.com", FirstName: string(rune('A' + i%26))})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := len(srv.Contacts("")); n != 1 {
		t.Errorf("50 concurrent upserts of one email made %d contacts", n)
	}
}

func TestRequestLogIsBounded(t *testing.T) {
	t.Parallel()
	srv := contactstest.NewServer(contactstest.WithRequestLogLimit(4))
	defer srv.Close()
	r := raw{t, srv}
	for i := range 10 {
		r.do("GET", fmt.Sprintf("/contacts/missing%015d", i), srv.Token(), nil)
	}
	reqs := srv.Requests()
	if srv.RequestCount() != 10 || len(reqs) > 4 || reqs[len(reqs)-1].Path != "/contacts/missing000000000000009" {
		t.Errorf("count %d, log %+v", srv.RequestCount(), reqs)
	}
}
