//lint:file-ignore SA1019 the deprecated list endpoint is still one of the spec's operations and is tested here.

package contactstest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
)

// searchT0 is the base time of the search fixtures.
var searchT0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func searchMS(d time.Duration) int64 { return searchT0.Add(d).UnixMilli() }

// searchFixture starts a server holding five varied contacts (IDs sort as
// c1ana < c2bob < c3cleo < c4dan < c5eve; cleo and dan share a dateAdded)
// and one contact of another location, "other".
func searchFixture(t *testing.T) *contactstest.Server {
	t.Helper()
	srv := contactstest.NewServer(contactstest.WithClock(contactstest.NewManualClock(searchT0.Add(100*time.Hour))), contactstest.WithoutRateLimits())
	t.Cleanup(srv.Close)
	seed := []contactstest.Contact{
		{ID: "c1ana", FirstName: "Ana", LastName: "Lima", Email: "ana.lima@example.com", Phone: "+5511987654321",
			CompanyName: "Lima Fitness", Tags: []string{"member", "yoga"}, Source: "website", Address1: "Rua A, 1",
			City: "São Paulo", State: "SP", Country: "BR", PostalCode: "01000", BusinessID: "biz1", AssignedTo: "u1",
			Type: "customer", DateAdded: searchT0.Add(1 * time.Hour), DateUpdated: searchT0.Add(10 * time.Hour),
			CustomFields: []contactstest.CustomField{{ID: "cfVisits", Value: 3.0}, {ID: "cfGoals", Value: []any{"strength", "cardio"}}}},
		{ID: "c2bob", FirstName: "Bob", LastName: "Stone", Email: "bob@example.com", Phone: "(415) 555-0123",
			CompanyName: "Stone Gym", Tags: []string{"Member"}, Source: "referral", City: "Austin", State: "TX",
			Country: "US", BusinessID: "biz2", DND: true, DateAdded: searchT0.Add(2 * time.Hour), DateUpdated: searchT0.Add(20 * time.Hour),
			CustomFields: []contactstest.CustomField{{ID: "cfVisits", Value: 5.0}, {ID: "cfJoined", Value: "2024-06-01"}}},
		{ID: "c3cleo", FirstName: "Cleo", Email: "CLEO@Example.org", Source: "Website",
			DateAdded: searchT0.Add(3 * time.Hour), DateUpdated: searchT0.Add(3 * time.Hour)},
		{ID: "c4dan", LastName: "Adams", Phone: "+442071838750", CompanyName: "Adams & Co", Tags: []string{"vip", "yoga"},
			BusinessID: "biz1", DateAdded: searchT0.Add(3 * time.Hour), DateUpdated: searchT0.Add(30 * time.Hour)},
		{ID: "c5eve", FirstName: "Eve", LastName: "Zed", Email: "eve@sample.net", Tags: []string{"trial"}, Country: "US",
			PostalCode: "78701", DateAdded: searchT0.Add(5 * time.Hour), DateUpdated: searchT0.Add(5 * time.Hour),
			CustomFields: []contactstest.CustomField{{ID: "cfVisits", Value: "12"}}},
	}
	for _, c := range seed {
		srv.SeedContact(c)
	}
	srv.AddLocation("other", "", contactstest.LocationSettings{})
	srv.SeedContact(contactstest.Contact{ID: "c0other", LocationID: "other", FirstName: "Ana", Tags: []string{"member"},
		BusinessID: "biz1", DateAdded: searchT0})
	return srv
}

// searchCall sends a request with the default token and returns the status
// and decoded body. target is a path or an absolute URL; body is sent as
// is if it is a string, else as JSON.
func searchCall(t *testing.T, srv *contactstest.Server, method, target string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	if strings.HasPrefix(target, "/") {
		target = srv.URL + target
	}
	req, err := http.NewRequestWithContext(t.Context(), method, target, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+srv.Token())
	req.Header.Set("Version", "2021-07-28")
	if r != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := srv.HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: decoding body: %v", method, target, err)
	}
	if _, ok := out["traceId"].(string); !ok {
		t.Errorf("%s %s: no traceId in %v", method, target, out)
	}
	return resp.StatusCode, out
}

// searchWireIDs returns the ids of a raw response's contacts.
func searchWireIDs(body map[string]any) []string {
	ids := []string{}
	list, _ := body["contacts"].([]any)
	for _, c := range list {
		ids = append(ids, c.(map[string]any)["id"].(string))
	}
	return ids
}

func searchIDs(cs []contacts.Contact) []string {
	ids := make([]string, 0, len(cs))
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids
}

func searchMessages(body map[string]any) []string {
	var out []string
	switch m := body["message"].(type) {
	case string:
		out = append(out, m)
	case []any:
		for _, s := range m {
			out = append(out, fmt.Sprint(s))
		}
	}
	return out
}

func TestSearchFilters(t *testing.T) {
	t.Parallel()
	srv := searchFixture(t)
	c := srv.Client()
	W := contacts.Where
	tests := []struct {
		name    string
		filters []contacts.Filter
		want    []string // in id order
	}{
		{"no filters", nil, []string{"c1ana", "c2bob", "c3cleo", "c4dan", "c5eve"}},
		// id is exact, every other string comparison ignores case.
		{"id eq", []contacts.Filter{W("id", contacts.OpEq, "c2bob")}, []string{"c2bob"}},
		{"id eq is case-sensitive", []contacts.Filter{W("id", contacts.OpEq, "C2BOB")}, nil},
		{"id not_eq", []contacts.Filter{W("id", contacts.OpNotEq, "c2bob")}, []string{"c1ana", "c3cleo", "c4dan", "c5eve"}},
		{"email eq normalised", []contacts.Filter{W("email", contacts.OpEq, " ANA.LIMA@example.com ")}, []string{"c1ana"}},
		{"email eq stored upper case", []contacts.Filter{W("email", contacts.OpEq, "cleo@example.org")}, []string{"c3cleo"}},
		{"email not_eq keeps contacts without email", []contacts.Filter{W("email", contacts.OpNotEq, "bob@example.com")}, []string{"c1ana", "c3cleo", "c4dan", "c5eve"}},
		{"email contains", []contacts.Filter{W("email", contacts.OpContains, "EXAMPLE")}, []string{"c1ana", "c2bob", "c3cleo"}},
		{"email not_contains", []contacts.Filter{W("email", contacts.OpNotContains, "example")}, []string{"c4dan", "c5eve"}},
		{"email exists", []contacts.Filter{contacts.Exists("email")}, []string{"c1ana", "c2bob", "c3cleo", "c5eve"}},
		{"email not_exists", []contacts.Filter{contacts.NotExists("email")}, []string{"c4dan"}},
		{"phone eq national format", []contacts.Filter{W("phone", contacts.OpEq, "415-555-0123")}, []string{"c2bob"}},
		{"phone eq E.164 with spaces", []contacts.Filter{W("phone", contacts.OpEq, "+1 (415) 555 0123")}, []string{"c2bob"}},
		{"phone not_eq", []contacts.Filter{W("phone", contacts.OpNotEq, "+14155550123")}, []string{"c1ana", "c3cleo", "c4dan", "c5eve"}},
		{"phone contains digits", []contacts.Filter{W("phone", contacts.OpContains, "555-01")}, []string{"c2bob"}},
		{"phone not_contains", []contacts.Filter{W("phone", contacts.OpNotContains, "44")}, []string{"c1ana", "c2bob", "c3cleo", "c5eve"}},
		{"phone exists", []contacts.Filter{contacts.Exists("phone")}, []string{"c1ana", "c2bob", "c4dan"}},
		{"phone not_exists", []contacts.Filter{contacts.NotExists("phone")}, []string{"c3cleo", "c5eve"}},
		{"firstName eq", []contacts.Filter{W("firstName", contacts.OpEq, "ANA")}, []string{"c1ana"}},
		{"lastName contains", []contacts.Filter{W("lastName", contacts.OpContains, "a")}, []string{"c1ana", "c4dan"}},
		{"firstNameLowerCase eq", []contacts.Filter{W("firstNameLowerCase", contacts.OpEq, "cleo")}, []string{"c3cleo"}},
		{"firstNameLowerCase not_exists", []contacts.Filter{contacts.NotExists("firstNameLowerCase")}, []string{"c4dan"}},
		{"lastNameLowerCase contains", []contacts.Filter{W("lastNameLowerCase", contacts.OpContains, "ST")}, []string{"c2bob"}},
		{"fullNameLowerCase eq", []contacts.Filter{W("fullNameLowerCase", contacts.OpEq, "Eve Zed")}, []string{"c5eve"}},
		{"fullNameLowerCase contains", []contacts.Filter{W("fullNameLowerCase", contacts.OpContains, "o")}, []string{"c2bob", "c3cleo"}},
		{"tags eq is case-insensitive", []contacts.Filter{W("tags", contacts.OpEq, "member")}, []string{"c1ana", "c2bob"}},
		{"tags contains whole tag", []contacts.Filter{W("tags", contacts.OpContains, "YOGA")}, []string{"c1ana", "c4dan"}},
		{"tags contains no partial tag", []contacts.Filter{W("tags", contacts.OpContains, "mem")}, nil},
		{"tags eq any of", []contacts.Filter{W("tags", contacts.OpEq, []string{"vip", "trial"})}, []string{"c4dan", "c5eve"}},
		{"tags not_eq", []contacts.Filter{W("tags", contacts.OpNotEq, "yoga")}, []string{"c2bob", "c3cleo", "c5eve"}},
		{"tags not_contains", []contacts.Filter{W("tags", contacts.OpNotContains, "Member")}, []string{"c3cleo", "c4dan", "c5eve"}},
		{"tags exists", []contacts.Filter{contacts.Exists("tags")}, []string{"c1ana", "c2bob", "c4dan", "c5eve"}},
		{"tags not_exists", []contacts.Filter{contacts.NotExists("tags")}, []string{"c3cleo"}},
		{"dateAdded range ISO", []contacts.Filter{W("dateAdded", contacts.OpRange, contacts.Range{
			GTE: "2025-01-01T02:00:00Z", LT: "2025-01-01T05:00:00.000Z"})}, []string{"c2bob", "c3cleo", "c4dan"}},
		{"dateAdded range epoch ms", []contacts.Filter{W("dateAdded", contacts.OpRange, contacts.Range{GT: searchMS(3 * time.Hour)})}, []string{"c5eve"}},
		{"dateAdded range time.Time", []contacts.Filter{W("dateAdded", contacts.OpRange, contacts.Range{
			LTE: searchT0.Add(2 * time.Hour).In(time.FixedZone("BRT", -3*3600))})}, []string{"c1ana", "c2bob"}},
		{"dateAdded eq", []contacts.Filter{W("dateAdded", contacts.OpEq, searchMS(time.Hour))}, []string{"c1ana"}},
		{"dateAdded not_eq", []contacts.Filter{W("dateAdded", contacts.OpNotEq, "2025-01-01T03:00:00Z")}, []string{"c1ana", "c2bob", "c5eve"}},
		{"dateAdded exists", []contacts.Filter{contacts.Exists("dateAdded")}, []string{"c1ana", "c2bob", "c3cleo", "c4dan", "c5eve"}},
		{"dateUpdated range lte", []contacts.Filter{W("dateUpdated", contacts.OpRange, contacts.Range{LTE: "2025-01-01T10:00:00.000Z"})}, []string{"c1ana", "c3cleo", "c5eve"}},
		{"dateUpdated range date only", []contacts.Filter{W("dateUpdated", contacts.OpRange, contacts.Range{GTE: "2025-01-02"})}, []string{"c4dan"}},
		{"dateUpdated not_exists", []contacts.Filter{contacts.NotExists("dateUpdated")}, nil},
		{"source eq", []contacts.Filter{W("source", contacts.OpEq, "WEBSITE")}, []string{"c1ana", "c3cleo"}},
		{"companyName contains", []contacts.Filter{W("companyName", contacts.OpContains, "gym")}, []string{"c2bob"}},
		{"companyName not_exists", []contacts.Filter{contacts.NotExists("companyName")}, []string{"c3cleo", "c5eve"}},
		{"businessId eq", []contacts.Filter{W("businessId", contacts.OpEq, "biz1")}, []string{"c1ana", "c4dan"}},
		{"assignedTo exists", []contacts.Filter{contacts.Exists("assignedTo")}, []string{"c1ana"}},
		{"dnd eq true", []contacts.Filter{W("dnd", contacts.OpEq, true)}, []string{"c2bob"}},
		{"dnd eq false", []contacts.Filter{W("dnd", contacts.OpEq, false)}, []string{"c1ana", "c3cleo", "c4dan", "c5eve"}},
		{"dnd not_eq true", []contacts.Filter{W("dnd", contacts.OpNotEq, "true")}, []string{"c1ana", "c3cleo", "c4dan", "c5eve"}},
		{"type eq customer", []contacts.Filter{W("type", contacts.OpEq, "customer")}, []string{"c1ana"}},
		{"type defaults to lead", []contacts.Filter{W("type", contacts.OpEq, "lead")}, []string{"c2bob", "c3cleo", "c4dan", "c5eve"}},
		{"city eq", []contacts.Filter{W("city", contacts.OpEq, "austin")}, []string{"c2bob"}},
		{"city contains accent", []contacts.Filter{W("city", contacts.OpContains, "SÃO")}, []string{"c1ana"}},
		{"state eq", []contacts.Filter{W("state", contacts.OpEq, "tx")}, []string{"c2bob"}},
		{"country eq", []contacts.Filter{W("country", contacts.OpEq, "us")}, []string{"c2bob", "c5eve"}},
		{"postalCode eq number", []contacts.Filter{W("postalCode", contacts.OpEq, 78701)}, []string{"c5eve"}},
		{"custom eq number", []contacts.Filter{W("customFields.cfVisits", contacts.OpEq, 3)}, []string{"c1ana"}},
		{"custom eq numeric string", []contacts.Filter{W("customFields.cfVisits", contacts.OpEq, "12")}, []string{"c5eve"}},
		{"custom range numbers", []contacts.Filter{W("customFields.cfVisits", contacts.OpRange, contacts.Range{GTE: 4})}, []string{"c2bob", "c5eve"}},
		{"custom range upper bound", []contacts.Filter{W("customFields.cfVisits", contacts.OpRange, contacts.Range{LT: "4"})}, []string{"c1ana"}},
		{"custom range dates", []contacts.Filter{W("customFields.cfJoined", contacts.OpRange, contacts.Range{GTE: "2024-01-01", LT: "2025-01-01"})}, []string{"c2bob"}},
		{"custom multi-value contains", []contacts.Filter{W("customFields.cfGoals", contacts.OpContains, "CARD")}, []string{"c1ana"}},
		{"custom multi-value eq", []contacts.Filter{W("customFields.cfGoals", contacts.OpEq, "Strength")}, []string{"c1ana"}},
		{"custom not_eq", []contacts.Filter{W("customFields.cfGoals", contacts.OpNotEq, "cardio")}, []string{"c2bob", "c3cleo", "c4dan", "c5eve"}},
		{"custom not_contains", []contacts.Filter{W("customFields.cfVisits", contacts.OpNotContains, "1")}, []string{"c1ana", "c2bob", "c3cleo", "c4dan"}},
		{"custom exists", []contacts.Filter{contacts.Exists("customFields.cfVisits")}, []string{"c1ana", "c2bob", "c5eve"}},
		{"custom not_exists", []contacts.Filter{contacts.NotExists("customFields.cfVisits")}, []string{"c3cleo", "c4dan"}},
		{"custom unknown field", []contacts.Filter{contacts.Exists("customFields.nope")}, nil},

		{"top level is AND", []contacts.Filter{W("tags", contacts.OpEq, "member"), W("country", contacts.OpEq, "BR")}, []string{"c1ana"}},
		{"OR group", []contacts.Filter{contacts.Or(W("email", contacts.OpEq, "ana.lima@example.com"), W("tags", contacts.OpEq, "vip"))}, []string{"c1ana", "c4dan"}},
		{"AND group", []contacts.Filter{contacts.And(W("tags", contacts.OpEq, "yoga"), W("phone", contacts.OpContains, "44"))}, []string{"c4dan"}},
		{"OR of ANDs", []contacts.Filter{contacts.Or(
			contacts.And(W("tags", contacts.OpEq, "member"), W("dnd", contacts.OpEq, true)),
			contacts.And(W("tags", contacts.OpEq, "yoga"), contacts.NotExists("email")),
		)}, []string{"c2bob", "c4dan"}},
		{"deep nesting", []contacts.Filter{contacts.And(
			contacts.Or(W("country", contacts.OpEq, "US"), contacts.And(contacts.Exists("phone"), contacts.Or(W("tags", contacts.OpEq, "vip"), W("source", contacts.OpEq, "website")))),
			contacts.Exists("email"),
		)}, []string{"c1ana", "c2bob", "c5eve"}},
		{"group AND top-level filter", []contacts.Filter{
			contacts.Or(W("tags", contacts.OpEq, "member"), W("tags", contacts.OpEq, "trial")),
			W("dateAdded", contacts.OpRange, contacts.Range{GTE: searchMS(2 * time.Hour)}),
		}, []string{"c2bob", "c5eve"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := c.Contacts.Search(t.Context(), contacts.SearchParams{PageLimit: 100, Filters: tt.filters})
			if err != nil {
				t.Fatal(err)
			}
			got := searchIDs(res.Contacts)
			slices.Sort(got)
			if !slices.Equal(got, tt.want) && len(got)+len(tt.want) > 0 {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if res.Total != len(tt.want) {
				t.Errorf("total = %d, want %d", res.Total, len(tt.want))
			}
		})
	}
}

// TestSearchGroupJSON sends groups and operators the way other clients
// may: lower-case group names and raw values.
func TestSearchGroupJSON(t *testing.T) {
	t.Parallel()
	srv := searchFixture(t)
	status, body := searchCall(t, srv, http.MethodPost, "/contacts/search", `{
		"locationId": "`+srv.LocationID()+`", "pageLimit": 10,
		"filters": [{"group": "or", "filters": [
			{"field": "tags", "operator": "eq", "value": "trial"},
			{"field": "dateAdded", "operator": "range", "value": {"lt": `+strconv.FormatInt(searchMS(2*time.Hour), 10)+`}}
		]}]
	}`)
	if status != http.StatusOK {
		t.Fatalf("status %d: %v", status, body)
	}
	if got := searchWireIDs(body); !slices.Equal(got, []string{"c5eve", "c1ana"}) {
		t.Errorf("got %v", got)
	}
}

func TestSearchQuery(t *testing.T) {
	t.Parallel()
	srv := searchFixture(t)
	c := srv.Client()
	tests := []struct {
		query string
		want  []string
	}{
		{"lima", []string{"c1ana"}},
		{"ANA LIMA", []string{"c1ana"}},
		{"example.org", []string{"c3cleo"}},
		{"stone gym", []string{"c2bob"}},
		{"(415) 555-0123", []string{"c2bob"}},
		{"+44", []string{"c4dan"}},
		{"adams", []string{"c4dan"}},
		{"a", []string{"c1ana", "c2bob", "c3cleo", "c4dan", "c5eve"}},
		{"e", []string{"c1ana", "c2bob", "c3cleo", "c5eve"}},
		{"zzz", nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			t.Parallel()
			res, err := c.Contacts.Search(t.Context(), contacts.SearchParams{PageLimit: 10, Query: tt.query})
			if err != nil {
				t.Fatal(err)
			}
			got := searchIDs(res.Contacts)
			slices.Sort(got)
			if len(got)+len(tt.want) > 0 && !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	// A query combines with filters.
	res, err := c.Contacts.Search(t.Context(), contacts.SearchParams{PageLimit: 10, Query: "example",
		Filters: []contacts.Filter{contacts.Where("tags", contacts.OpEq, "member")}})
	if err != nil {
		t.Fatal(err)
	}
	if got := searchIDs(res.Contacts); !slices.Equal(got, []string{"c2bob", "c1ana"}) || res.Total != 2 {
		t.Errorf("query + filter: %v total %d", got, res.Total)
	}
}

// TestSearchSort checks each sort field and direction, the searchAfter
// values, and that paging by page number and by searchAfter both walk the
// same order.
func TestSearchSort(t *testing.T) {
	t.Parallel()
	srv := searchFixture(t)
	c := srv.Client()
	type S = []contacts.Sort
	by := func(field string, dir contacts.SortDirection) contacts.Sort {
		return contacts.Sort{Field: field, Direction: dir}
	}
	tests := []struct {
		name string
		sort []contacts.Sort
		want []string
		// firstCursor is the JSON of the first contact's searchAfter.
		firstCursor string
	}{
		{"default dateAdded desc", nil, []string{"c5eve", "c3cleo", "c4dan", "c2bob", "c1ana"},
			fmt.Sprintf(`[%d,"c5eve"]`, searchMS(5*time.Hour))},
		{"dateAdded asc", S{by("dateAdded", contacts.Asc)}, []string{"c1ana", "c2bob", "c3cleo", "c4dan", "c5eve"},
			fmt.Sprintf(`[%d,"c1ana"]`, searchMS(time.Hour))},
		{"dateAdded desc", S{by("dateAdded", contacts.Desc)}, []string{"c5eve", "c3cleo", "c4dan", "c2bob", "c1ana"}, ""},
		{"dateUpdated asc", S{by("dateUpdated", contacts.Asc)}, []string{"c3cleo", "c5eve", "c1ana", "c2bob", "c4dan"},
			fmt.Sprintf(`[%d,"c3cleo"]`, searchMS(3*time.Hour))},
		{"dateUpdated desc", S{by("dateUpdated", contacts.Desc)}, []string{"c4dan", "c2bob", "c1ana", "c5eve", "c3cleo"}, ""},
		// Missing values sort last in both directions.
		{"firstNameLowerCase asc", S{by("firstNameLowerCase", contacts.Asc)}, []string{"c1ana", "c2bob", "c3cleo", "c5eve", "c4dan"}, `["ana","c1ana"]`},
		{"firstNameLowerCase desc", S{by("firstNameLowerCase", contacts.Desc)}, []string{"c5eve", "c3cleo", "c2bob", "c1ana", "c4dan"}, `["eve","c5eve"]`},
		{"lastNameLowerCase asc", S{by("lastNameLowerCase", contacts.Asc)}, []string{"c4dan", "c1ana", "c2bob", "c5eve", "c3cleo"}, `["adams","c4dan"]`},
		{"lastNameLowerCase desc", S{by("lastNameLowerCase", contacts.Desc)}, []string{"c5eve", "c2bob", "c1ana", "c4dan", "c3cleo"}, ""},
		{"fullNameLowerCase asc", S{by("fullNameLowerCase", contacts.Asc)}, []string{"c4dan", "c1ana", "c2bob", "c3cleo", "c5eve"}, `["adams","c4dan"]`},
		{"fullNameLowerCase desc", S{by("fullNameLowerCase", contacts.Desc)}, []string{"c5eve", "c3cleo", "c2bob", "c1ana", "c4dan"}, ""},
		{"email asc", S{by("email", contacts.Asc)}, []string{"c1ana", "c2bob", "c3cleo", "c5eve", "c4dan"}, `["ana.lima@example.com","c1ana"]`},
		{"email desc", S{by("email", contacts.Desc)}, []string{"c5eve", "c3cleo", "c2bob", "c1ana", "c4dan"}, ""},
		{"companyName asc", S{by("companyName", contacts.Asc)}, []string{"c4dan", "c1ana", "c2bob", "c3cleo", "c5eve"}, ""},
		{"companyName desc then dateAdded desc", S{by("companyName", contacts.Desc), by("dateAdded", contacts.Desc)},
			[]string{"c2bob", "c1ana", "c4dan", "c5eve", "c3cleo"}, fmt.Sprintf(`["stone gym",%d,"c2bob"]`, searchMS(2*time.Hour))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := c.Contacts.Search(t.Context(), contacts.SearchParams{PageLimit: 10, Sort: tt.sort})
			if err != nil {
				t.Fatal(err)
			}
			if got := searchIDs(res.Contacts); !slices.Equal(got, tt.want) {
				t.Fatalf("order %v, want %v", got, tt.want)
			}
			if tt.firstCursor != "" {
				got, _ := json.Marshal(res.Contacts[0].SearchAfter)
				if string(got) != tt.firstCursor {
					t.Errorf("searchAfter %s, want %s", got, tt.firstCursor)
				}
			}
			// Two at a time by searchAfter, one at a time by page.
			var byCursor, byPage []string
			p := contacts.SearchParams{PageLimit: 2, Sort: tt.sort}
			for range 5 {
				res, err := c.Contacts.Search(t.Context(), p)
				if err != nil {
					t.Fatal(err)
				}
				byCursor = append(byCursor, searchIDs(res.Contacts)...)
				if len(res.Contacts) < 2 {
					break
				}
				p.SearchAfter = res.Contacts[len(res.Contacts)-1].SearchAfter
			}
			for page := 1; page <= 6; page++ {
				res, err := c.Contacts.Search(t.Context(), contacts.SearchParams{PageLimit: 1, Page: page, Sort: tt.sort})
				if err != nil {
					t.Fatal(err)
				}
				if res.Total != 5 {
					t.Errorf("page %d total = %d", page, res.Total)
				}
				byPage = append(byPage, searchIDs(res.Contacts)...)
			}
			if !slices.Equal(byCursor, tt.want) || !slices.Equal(byPage, tt.want) {
				t.Errorf("by cursor %v, by page %v, want %v", byCursor, byPage, tt.want)
			}
		})
	}
}

func TestSearchPagesAndResponseShape(t *testing.T) {
	t.Parallel()
	srv := searchFixture(t)
	loc := srv.LocationID()
	for _, tt := range []struct {
		page int
		want []string
	}{
		{1, []string{"c5eve", "c3cleo"}},
		{2, []string{"c4dan", "c2bob"}},
		{3, []string{"c1ana"}},
		{4, []string{}},
	} {
		status, body := searchCall(t, srv, http.MethodPost, "/contacts/search", map[string]any{"locationId": loc, "pageLimit": 2, "page": tt.page})
		if status != http.StatusOK {
			t.Fatalf("page %d: status %d %v", tt.page, status, body)
		}
		if got := searchWireIDs(body); !slices.Equal(got, tt.want) {
			t.Errorf("page %d = %v, want %v", tt.page, got, tt.want)
		}
		if body["total"] != 5.0 {
			t.Errorf("page %d total = %v", tt.page, body["total"])
		}
	}

	// searchAfter continues strictly after the position, whatever page says.
	status, body := searchCall(t, srv, http.MethodPost, "/contacts/search", map[string]any{
		"locationId": loc, "pageLimit": 10, "page": 3, "searchAfter": []any{searchMS(3 * time.Hour), "c3cleo"}})
	if got := searchWireIDs(body); status != http.StatusOK || !slices.Equal(got, []string{"c4dan", "c2bob", "c1ana"}) {
		t.Errorf("searchAfter: %d %v", status, got)
	}
	// A cursor between contacts (no contact has it) works too.
	_, body = searchCall(t, srv, http.MethodPost, "/contacts/search", map[string]any{
		"locationId": loc, "pageLimit": 10, "searchAfter": []any{searchMS(4 * time.Hour), "zzz"}})
	if got := searchWireIDs(body); !slices.Equal(got, []string{"c3cleo", "c4dan", "c2bob", "c1ana"}) {
		t.Errorf("searchAfter between contacts: %v", got)
	}
	// An empty searchAfter starts at the beginning.
	_, body = searchCall(t, srv, http.MethodPost, "/contacts/search", map[string]any{
		"locationId": loc, "pageLimit": 1, "searchAfter": []any{}})
	if got := searchWireIDs(body); !slices.Equal(got, []string{"c5eve"}) {
		t.Errorf("empty searchAfter: %v", got)
	}

	// The search Contact model: the read fields plus address and searchAfter.
	_, body = searchCall(t, srv, http.MethodPost, "/contacts/search", map[string]any{
		"locationId": loc, "pageLimit": 1, "filters": []any{map[string]any{"field": "id", "operator": "eq", "value": "c1ana"}}})
	ana := body["contacts"].([]any)[0].(map[string]any)
	want := map[string]any{
		"id": "c1ana", "locationId": loc, "firstName": "Ana", "lastName": "Lima", "firstNameLowerCase": "ana",
		"email": "ana.lima@example.com", "phone": "+5511987654321", "companyName": "Lima Fitness",
		"address": "Rua A, 1", "address1": "Rua A, 1", "businessId": "biz1", "type": "customer", "dnd": false,
		"dateAdded": "2025-01-01T01:00:00.000Z", "dateUpdated": "2025-01-01T10:00:00.000Z",
		"searchAfter": []any{float64(searchMS(time.Hour)), "c1ana"},
	}
	for k, v := range want {
		if got, _ := json.Marshal(ana[k]); string(got) != string(searchMust(json.Marshal(v))) {
			t.Errorf("%s = %s, want %s", k, got, searchMust(json.Marshal(v)))
		}
	}
	if tags, _ := json.Marshal(ana["tags"]); string(tags) != `["member","yoga"]` {
		t.Errorf("tags = %s", tags)
	}
}

func searchMust[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestSearchValidation(t *testing.T) {
	t.Parallel()
	srv := searchFixture(t)
	loc := srv.LocationID()
	body := func(extra string) string {
		return `{"locationId": "` + loc + `", "pageLimit": 10` + extra + `}`
	}
	tests := []struct {
		name   string
		body   string
		status int
		want   []string // substrings of the messages, one per message
	}{
		{"no pageLimit", `{"locationId": "` + loc + `"}`, 422, []string{"pageLimit should not be empty"}},
		{"no locationId nor pageLimit", `{}`, 422, []string{"locationId should not be empty", "pageLimit should not be empty"}},
		{"pageLimit too large", `{"locationId": "` + loc + `", "pageLimit": 501}`, 422, []string{"pageLimit must not be greater than 500"}},
		{"pageLimit zero", `{"locationId": "` + loc + `", "pageLimit": 0}`, 422, []string{"pageLimit must not be less than 1"}},
		{"pageLimit string", `{"locationId": "` + loc + `", "pageLimit": "10"}`, 422, []string{"pageLimit must be an integer number"}},
		{"page zero", body(`, "page": 0`), 422, []string{"page must not be less than 1"}},
		{"page window 21x500", `{"locationId": "` + loc + `", "pageLimit": 500, "page": 21}`, 422, []string{"must not be greater than 10000"}},
		{"page window 101x100", `{"locationId": "` + loc + `", "pageLimit": 100, "page": 101}`, 422, []string{"pass the last contact's searchAfter"}},
		{"page window 3334x3", `{"locationId": "` + loc + `", "pageLimit": 3, "page": 3334}`, 422, []string{"must not be greater than 10000"}},
		{"page window edge 3333x3", `{"locationId": "` + loc + `", "pageLimit": 3, "page": 3333}`, 200, nil},
		{"page huge", `{"locationId": "` + loc + `", "pageLimit": 500, "page": 4611686018427387904}`, 422, []string{"must not be greater than 10000"}},
		{"page window edge 20x500", `{"locationId": "` + loc + `", "pageLimit": 500, "page": 20}`, 200, nil},
		{"window ignored with searchAfter", `{"locationId": "` + loc + `", "pageLimit": 500, "page": 21, "searchAfter": [1, "a"]}`, 200, nil},
		{"unknown property", body(`, "limit": 3`), 422, []string{"property limit should not exist"}},
		{"filters not an array", body(`, "filters": {"field": "id"}`), 422, []string{"filters must be an array"}},
		{"filter not an object", body(`, "filters": ["id"]`), 422, []string{"filters.0 must be an object"}},
		{"unknown field", body(`, "filters": [{"field": "favouriteColour", "operator": "eq", "value": "red"}]`), 422,
			[]string{`filters.0.field "favouriteColour" is not a searchable field`}},
		{"unknown operator", body(`, "filters": [{"field": "email", "operator": "gt", "value": "a"}]`), 422,
			[]string{"filters.0.operator must be one of the following values: eq, not_eq, contains, not_contains, exists, not_exists, range"}},
		{"missing value", body(`, "filters": [{"field": "email", "operator": "eq"}]`), 422, []string{"filters.0.value should not be empty"}},
		{"object value", body(`, "filters": [{"field": "email", "operator": "eq", "value": {"a": 1}}]`), 422, []string{"filters.0.value must be"}},
		{"range on a string field", body(`, "filters": [{"field": "email", "operator": "range", "value": {"gt": "a"}}]`), 422,
			[]string{"filters.0: operator range is not supported on field email"}},
		{"contains on dnd", body(`, "filters": [{"field": "dnd", "operator": "contains", "value": "t"}]`), 422,
			[]string{"operator contains is not supported on field dnd"}},
		{"contains on a date", body(`, "filters": [{"field": "dateAdded", "operator": "contains", "value": "2025"}]`), 422,
			[]string{"operator contains is not supported on field dateAdded"}},
		{"dnd not a boolean", body(`, "filters": [{"field": "dnd", "operator": "eq", "value": "yes"}]`), 422, []string{"filters.0.value must be a boolean value"}},
		{"range bound name", body(`, "filters": [{"field": "dateAdded", "operator": "range", "value": {"from": 1}}]`), 422,
			[]string{"filters.0.value: property from should not exist"}},
		{"range bad date", body(`, "filters": [{"field": "dateAdded", "operator": "range", "value": {"gte": "yesterday"}}]`), 422,
			[]string{"filters.0.value.gte must be a date"}},
		{"range not an object", body(`, "filters": [{"field": "dateUpdated", "operator": "range", "value": 5}]`), 422,
			[]string{"filters.0.value must be an object with gt, gte, lt or lte"}},
		{"eq bad date", body(`, "filters": [{"field": "dateAdded", "operator": "eq", "value": "soon"}]`), 422, []string{"filters.0.value must be a date"}},
		{"custom range not a number", body(`, "filters": [{"field": "customFields.cfVisits", "operator": "range", "value": {"gt": "many"}}]`), 422,
			[]string{"filters.0.value.gt must be a number or a date string"}},
		{"bare customFields", body(`, "filters": [{"field": "customFields", "operator": "exists"}]`), 422,
			[]string{"filters.0.field must name the custom field: customFields.<fieldId>"}},
		{"bad group", body(`, "filters": [{"group": "XOR", "filters": [{"field": "id", "operator": "exists"}]}]`), 422,
			[]string{"filters.0.group must be one of the following values: AND, OR"}},
		{"empty group", body(`, "filters": [{"group": "AND", "filters": []}]`), 422, []string{"filters.0.filters must be a non-empty array"}},
		{"field and group mixed", body(`, "filters": [{"group": "AND", "field": "id", "filters": [{"field": "id", "operator": "exists"}]}]`), 422,
			[]string{"filters.0: property field should not exist"}},
		{"nested error path", body(`, "filters": [{"group": "OR", "filters": [{"field": "id", "operator": "exists"}, {"group": "AND", "filters": [{"field": "nope", "operator": "exists"}]}]}]`), 422,
			[]string{`filters.0.filters.1.filters.0.field "nope" is not a searchable field`}},
		{"every bad filter reported", body(`, "filters": [{"field": "a", "operator": "exists"}, {"field": "email", "operator": "is"}]`), 422,
			[]string{`filters.0.field "a"`, "filters.1.operator"}},
		{"sort unknown field", body(`, "sort": [{"field": "tags", "direction": "asc"}]`), 422, []string{`sort.0.field "tags" is not sortable`}},
		{"sort bad direction", body(`, "sort": [{"field": "email", "direction": "up"}]`), 422, []string{"sort.0.direction must be one of the following values: asc, desc"}},
		{"sort not an array", body(`, "sort": "email"`), 422, []string{"sort must be an array"}},
		{"searchAfter wrong length", body(`, "searchAfter": ["c1ana"]`), 422, []string{"searchAfter must hold 2 values"}},
		{"searchAfter wrong length for sort", body(`, "sort": [{"field": "email", "direction": "asc"}, {"field": "dateAdded", "direction": "asc"}], "searchAfter": ["a", "b"]`), 422,
			[]string{"searchAfter must hold 3 values"}},
		{"searchAfter bad date", body(`, "searchAfter": ["soon", "c1ana"]`), 422, []string{"searchAfter.0 must be a date in epoch milliseconds"}},
		{"searchAfter bad string", body(`, "sort": [{"field": "email", "direction": "asc"}], "searchAfter": [5, "c1ana"]`), 422, []string{"searchAfter.0 must be a string"}},
		{"searchAfter no id", body(`, "searchAfter": [5, ""]`), 422, []string{"searchAfter.1 must be a contact id"}},
		{"searchAfter not an array", body(`, "searchAfter": "x"`), 422, []string{"searchAfter must be an array"}},
		{"bad JSON", `{"locationId": `, 400, []string{"Unexpected token"}},
		{"another location", `{"locationId": "other", "pageLimit": 10}`, 403, []string{"does not have access"}},
		{"unknown location", `{"locationId": "nowhere", "pageLimit": 10}`, 403, []string{"does not have access"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, resp := searchCall(t, srv, http.MethodPost, "/contacts/search", tt.body)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %v", status, tt.status, resp)
			}
			msgs := searchMessages(resp)
			if len(msgs) != len(tt.want) {
				t.Fatalf("messages %q, want %d like %q", msgs, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(msgs[i], w) {
					t.Errorf("message %d = %q, want it to contain %q", i, msgs[i], w)
				}
			}
		})
	}
}

func TestSearchForbiddenViaSDK(t *testing.T) {
	t.Parallel()
	srv := searchFixture(t)
	_, err := srv.Client().Contacts.Search(t.Context(), contacts.SearchParams{LocationID: "other", PageLimit: 10})
	var apiErr *contacts.APIError
	if !errors.Is(err, contacts.ErrForbidden) || !errors.As(err, &apiErr) || apiErr.StatusCode != 403 {
		t.Fatalf("err = %v", err)
	}
}

// TestSearchAllPastWindow seeds more contacts than page numbers reach and
// checks that SearchAll returns each once, in order, switching to
// searchAfter after page 20; that the server rejects page 21; and that a
// searchAfter taken at the window's edge continues an ascending order.
func TestSearchAllPastWindow(t *testing.T) {
	t.Parallel()
	const n = 10050
	clock := contactstest.NewManualClock(searchT0)
	srv := contactstest.NewServer(contactstest.WithClock(clock), contactstest.WithoutRateLimits())
	defer srv.Close()
	for i := range n {
		if i%7 == 0 {
			clock.Advance(time.Second) // groups of seven share a dateAdded
		}
		srv.SeedContact(contactstest.Contact{ID: fmt.Sprintf("k%05d", (i*7919)%n), FirstName: "Member"})
	}

	status, body := searchCall(t, srv, http.MethodPost, "/contacts/search",
		map[string]any{"locationId": srv.LocationID(), "pageLimit": 500, "page": 21})
	if status != http.StatusUnprocessableEntity || !strings.Contains(strings.Join(searchMessages(body), " "), "searchAfter") {
		t.Fatalf("page 21: %d %v", status, body)
	}

	// 20 pages of 500 fill the window; the last 50 come by cursor.
	seen := map[string]bool{}
	var prev contacts.Contact
	params := contacts.SearchParams{PageLimit: 500, Filters: []contacts.Filter{contacts.Where("firstName", contacts.OpEq, "member")}}
	for ct, err := range srv.Client().Contacts.SearchAll(t.Context(), params) {
		if err != nil {
			t.Fatal(err)
		}
		if seen[ct.ID] {
			t.Fatalf("%s returned twice", ct.ID)
		}
		if len(seen) > 0 && (ct.DateAdded.After(prev.DateAdded.Time) || ct.DateAdded.Equal(prev.DateAdded.Time) && ct.ID < prev.ID) {
			t.Fatalf("%s (%v) before %s (%v)", prev.ID, prev.DateAdded, ct.ID, ct.DateAdded)
		}
		seen[ct.ID], prev = true, ct
	}
	if len(seen) != n {
		t.Errorf("got %d contacts, want %d", len(seen), n)
	}
	var searches int
	for _, r := range srv.Requests() {
		if r.Path == "/contacts/search" {
			searches++
		}
	}
	if searches != 1+21 {
		t.Errorf("%d search requests, want 1 + 20 pages + 1 cursor page", searches)
	}

	// Ascending: the last page inside the window, then the rest by cursor.
	want := searchByDateAdded(srv, nil)
	asc := []map[string]any{{"field": "dateAdded", "direction": "asc"}}
	_, body = searchCall(t, srv, http.MethodPost, "/contacts/search",
		map[string]any{"locationId": srv.LocationID(), "pageLimit": 400, "page": 25, "sort": asc})
	got := searchWireIDs(body)
	last := body["contacts"].([]any)[len(got)-1].(map[string]any)["searchAfter"]
	_, body = searchCall(t, srv, http.MethodPost, "/contacts/search",
		map[string]any{"locationId": srv.LocationID(), "pageLimit": 400, "searchAfter": last, "sort": asc})
	got = append(got, searchWireIDs(body)...)
	if !slices.Equal(got, want[9600:]) || body["total"] != float64(n) {
		t.Errorf("ascending past the window: %d contacts, total %v", len(got), body["total"])
	}
}

// searchListFixture seeds count contacts, one second apart except that every
// fourth shares the previous one's dateAdded; every third is linked to
// business "gym 1" and every fifth is named "Zoe".
func searchListFixture(t *testing.T, count int) *contactstest.Server {
	t.Helper()
	clock := contactstest.NewManualClock(searchT0)
	srv := contactstest.NewServer(contactstest.WithClock(clock), contactstest.WithoutRateLimits())
	t.Cleanup(srv.Close)
	for i := range count {
		if i%4 != 3 {
			clock.Advance(time.Second)
		}
		ct := contactstest.Contact{ID: fmt.Sprintf("L%03d", (i*37)%1000), FirstName: "Member"}
		if i%3 == 0 {
			ct.BusinessID = "gym 1"
		}
		if i%5 == 0 {
			ct.FirstName = "Zoe"
		}
		srv.SeedContact(ct)
	}
	return srv
}

// searchByDateAdded returns the IDs of the default location's contacts
// that keep (nil: all), by dateAdded and then id.
func searchByDateAdded(srv *contactstest.Server, keep func(contactstest.Contact) bool) []string {
	var cs []contactstest.Contact
	for _, c := range srv.Contacts("") {
		if keep == nil || keep(c) {
			cs = append(cs, c)
		}
	}
	slices.SortFunc(cs, func(a, b contactstest.Contact) int {
		if c := a.DateAdded.Compare(b.DateAdded); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids
}

func TestListContactsRaw(t *testing.T) {
	t.Parallel()
	srv := searchFixture(t)
	loc := srv.LocationID()

	// Follow nextPageUrl to the end.
	status, body := searchCall(t, srv, http.MethodGet, "/contacts/?locationId="+loc+"&limit=2", nil)
	pages := []struct {
		ids          []string
		current      float64
		next, prev   any
		startAfterID string
		startAfter   int64
	}{
		{[]string{"c1ana", "c2bob"}, 1, 2.0, nil, "c2bob", searchMS(2 * time.Hour)},
		{[]string{"c3cleo", "c4dan"}, 2, 3.0, 1.0, "c4dan", searchMS(3 * time.Hour)},
		{[]string{"c5eve"}, 3, nil, 2.0, "c5eve", searchMS(5 * time.Hour)},
	}
	for i, p := range pages {
		if status != http.StatusOK {
			t.Fatalf("page %d: status %d %v", i+1, status, body)
		}
		meta := body["meta"].(map[string]any)
		if got := searchWireIDs(body); !slices.Equal(got, p.ids) {
			t.Errorf("page %d = %v, want %v", i+1, got, p.ids)
		}
		if body["count"] != 5.0 || meta["total"] != 5.0 || meta["currentPage"] != p.current ||
			meta["nextPage"] != p.next || meta["prevPage"] != p.prev ||
			meta["startAfterId"] != p.startAfterID || meta["startAfter"] != float64(p.startAfter) {
			t.Errorf("page %d: count %v meta %v", i+1, body["count"], meta)
		}
		next, _ := meta["nextPageUrl"].(string)
		if i == len(pages)-1 {
			if meta["nextPageUrl"] != nil {
				t.Errorf("last page nextPageUrl = %v", meta["nextPageUrl"])
			}
			break
		}
		u, err := url.Parse(next)
		if err != nil || !strings.HasPrefix(next, srv.URL+"/contacts/?") || u.Query().Get("startAfterId") != p.startAfterID ||
			u.Query().Get("startAfter") != strconv.FormatInt(p.startAfter, 10) || u.Query().Get("limit") != "2" || u.Query().Get("locationId") != loc {
			t.Fatalf("page %d nextPageUrl = %q", i+1, next)
		}
		status, body = searchCall(t, srv, http.MethodGet, next, nil)
	}

	cursor := func(q string) []string {
		t.Helper()
		status, body := searchCall(t, srv, http.MethodGet, "/contacts/?locationId="+loc+q, nil)
		if status != http.StatusOK {
			t.Fatalf("%s: %d %v", q, status, body)
		}
		return searchWireIDs(body)
	}
	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"", []string{"c1ana", "c2bob", "c3cleo", "c4dan", "c5eve"}},
		{"&startAfter=" + strconv.FormatInt(searchMS(3*time.Hour), 10), []string{"c5eve"}},
		{"&startAfter=" + strconv.FormatInt(searchMS(3*time.Hour), 10) + "&startAfterId=c3cleo", []string{"c4dan", "c5eve"}},
		{"&startAfterId=c3cleo", []string{"c4dan", "c5eve"}},
		{"&startAfterId=unknown", []string{"c1ana", "c2bob", "c3cleo", "c4dan", "c5eve"}},
		{"&query=EXAMPLE", []string{"c1ana", "c2bob", "c3cleo"}},
		{"&query=example&limit=1&startAfter=" + strconv.FormatInt(searchMS(time.Hour), 10) + "&startAfterId=c1ana", []string{"c2bob"}},
	} {
		if got := cursor(tt.query); !slices.Equal(got, tt.want) {
			t.Errorf("%q: %v, want %v", tt.query, got, tt.want)
		}
	}

	// A page past the end is empty and carries no cursor.
	_, body = searchCall(t, srv, http.MethodGet, "/contacts/?locationId="+loc+"&startAfterId=c5eve&startAfter="+strconv.FormatInt(searchMS(5*time.Hour), 10), nil)
	if meta := body["meta"].(map[string]any); len(searchWireIDs(body)) != 0 || meta["startAfterId"] != nil || meta["startAfter"] != nil || meta["nextPageUrl"] != nil {
		t.Errorf("past the end: %v", body)
	}
}

func TestListValidation(t *testing.T) {
	t.Parallel()
	srv := searchFixture(t)
	loc := srv.LocationID()
	tests := []struct {
		name   string
		target string
		status int
		want   []string
	}{
		{"list without location", "/contacts/", 422, []string{"locationId should not be empty"}},
		{"list limit too large", "/contacts/?locationId=" + loc + "&limit=101", 422, []string{"limit must not be greater than 100"}},
		{"list limit 100", "/contacts/?locationId=" + loc + "&limit=100", 200, nil},
		{"list limit zero", "/contacts/?locationId=" + loc + "&limit=0", 422, []string{"limit must not be less than 1"}},
		{"list limit not a number", "/contacts/?locationId=" + loc + "&limit=ten", 422, []string{"limit must be an integer number"}},
		{"list bad startAfter", "/contacts/?locationId=" + loc + "&startAfter=yesterday", 422, []string{"startAfter must be a number"}},
		{"list every message", "/contacts/?limit=500&startAfter=x", 422, []string{"locationId should not be empty", "limit must not be greater than 100", "startAfter must be a number"}},
		{"list another location", "/contacts/?locationId=other", 403, []string{"does not have access"}},
		{"business without location", "/contacts/business/biz1", 422, []string{"locationId should not be empty"}},
		{"business negative skip", "/contacts/business/biz1?locationId=" + loc + "&skip=-1", 422, []string{"skip must not be less than 0"}},
		{"business fractional skip", "/contacts/business/biz1?locationId=" + loc + "&skip=1.5", 422, []string{"skip must be an integer number"}},
		{"business limit too large", "/contacts/business/biz1?locationId=" + loc + "&limit=101", 422, []string{"limit must not be greater than 100"}},
		{"business negative limit", "/contacts/business/biz1?locationId=" + loc + "&limit=-5", 422, []string{"limit must not be less than 1"}},
		{"business limit not a number", "/contacts/business/biz1?locationId=" + loc + "&limit=x&skip=y", 422, []string{"limit must be an integer number", "skip must be an integer number"}},
		{"business another location", "/contacts/business/biz1?locationId=other", 403, []string{"does not have access"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, resp := searchCall(t, srv, http.MethodGet, tt.target, nil)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %v", status, tt.status, resp)
			}
			msgs := searchMessages(resp)
			if len(msgs) != len(tt.want) {
				t.Fatalf("messages %q, want %q", msgs, tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(msgs[i], w) {
					t.Errorf("message %d = %q, want %q", i, msgs[i], w)
				}
			}
		})
	}
}

func TestListByBusinessRaw(t *testing.T) {
	t.Parallel()
	srv := searchFixture(t)
	loc := srv.LocationID()
	for _, tt := range []struct {
		query string
		want  []string
		count float64
	}{
		{"", []string{"c1ana", "c4dan"}, 2},
		{"&limit=1", []string{"c1ana"}, 2},
		{"&limit=1&skip=1", []string{"c4dan"}, 2},
		{"&skip=2", []string{}, 2},
		{"&skip=99", []string{}, 2},
		{"&query=LIMA", []string{"c1ana"}, 1},
	} {
		status, body := searchCall(t, srv, http.MethodGet, "/contacts/business/biz1?locationId="+loc+tt.query, nil)
		if status != http.StatusOK {
			t.Fatalf("%q: %d %v", tt.query, status, body)
		}
		if got := searchWireIDs(body); !slices.Equal(got, tt.want) || body["count"] != tt.count {
			t.Errorf("%q: %v count %v, want %v count %v", tt.query, got, body["count"], tt.want, tt.count)
		}
	}
	// The other location's contact of biz1 stays out, as do other businesses.
	_, body := searchCall(t, srv, http.MethodGet, "/contacts/business/biz2?locationId="+loc, nil)
	if got := searchWireIDs(body); !slices.Equal(got, []string{"c2bob"}) {
		t.Errorf("biz2: %v", got)
	}
	_, body = searchCall(t, srv, http.MethodGet, "/contacts/business/none?locationId="+loc, nil)
	if got := searchWireIDs(body); len(got) != 0 || body["count"] != 0.0 {
		t.Errorf("unknown business: %v", body)
	}
}

// TestListIterators checks that ListAll and ListByBusinessAll return every
// contact exactly once, in dateAdded order, with the number of requests
// the paging implies, for page sizes that divide the total and that don't.
func TestListIterators(t *testing.T) {
	t.Parallel()
	srv := searchListFixture(t, 95)
	all := searchByDateAdded(srv, nil)
	zoes := searchByDateAdded(srv, func(c contactstest.Contact) bool { return c.FirstName == "Zoe" })
	gym := searchByDateAdded(srv, func(c contactstest.Contact) bool { return c.BusinessID == "gym 1" })
	gymZoes := searchByDateAdded(srv, func(c contactstest.Contact) bool { return c.BusinessID == "gym 1" && c.FirstName == "Zoe" })
	if len(all) != 95 || len(gym) != 32 || len(zoes) != 19 || len(gymZoes) != 7 {
		t.Fatalf("fixture: %d contacts, %d of gym 1, %d Zoes, %d both", len(all), len(gym), len(zoes), len(gymZoes))
	}
	c := srv.Client()
	for _, tt := range []struct {
		name string
		seq  func() iter.Seq2[contacts.Contact, error]
		want []string
		reqs int
	}{
		// The default limit is 20: four full pages, a short one, and (as
		// the SDK does not know the server's default) one empty page.
		{"ListAll default limit", func() iter.Seq2[contacts.Contact, error] {
			return c.Contacts.ListAll(t.Context(), contacts.ListParams{})
		}, all, 6},
		{"ListAll limit 100", func() iter.Seq2[contacts.Contact, error] {
			return c.Contacts.ListAll(t.Context(), contacts.ListParams{Limit: 100})
		}, all, 1},
		{"ListAll limit 7 (short last page)", func() iter.Seq2[contacts.Contact, error] {
			return c.Contacts.ListAll(t.Context(), contacts.ListParams{Limit: 7})
		}, all, 14},
		{"ListAll limit 19 (exact pages)", func() iter.Seq2[contacts.Contact, error] {
			return c.Contacts.ListAll(t.Context(), contacts.ListParams{Limit: 19})
		}, all, 6},
		{"ListAll query", func() iter.Seq2[contacts.Contact, error] {
			return c.Contacts.ListAll(t.Context(), contacts.ListParams{Limit: 5, Query: "zoe"})
		}, zoes, 4},
		{"ListByBusinessAll default limit", func() iter.Seq2[contacts.Contact, error] {
			return c.Contacts.ListByBusinessAll(t.Context(), "gym 1", contacts.BusinessListParams{})
		}, gym, 3},
		{"ListByBusinessAll limit 5", func() iter.Seq2[contacts.Contact, error] {
			return c.Contacts.ListByBusinessAll(t.Context(), "gym 1", contacts.BusinessListParams{Limit: 5})
		}, gym, 7},
		{"ListByBusinessAll limit 8 (exact pages)", func() iter.Seq2[contacts.Contact, error] {
			return c.Contacts.ListByBusinessAll(t.Context(), "gym 1", contacts.BusinessListParams{Limit: 8})
		}, gym, 5},
		{"ListByBusinessAll query", func() iter.Seq2[contacts.Contact, error] {
			return c.Contacts.ListByBusinessAll(t.Context(), "gym 1", contacts.BusinessListParams{Limit: 3, Query: "ZOE"})
		}, gymZoes, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(srv.Requests())
			var got []string
			for ct, err := range tt.seq() {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, ct.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %d contacts %v,\nwant %d %v", len(got), got, len(tt.want), tt.want)
			}
			if reqs := len(srv.Requests()) - before; reqs != tt.reqs {
				t.Errorf("%d requests, want %d", reqs, tt.reqs)
			}
		})
	}
}
