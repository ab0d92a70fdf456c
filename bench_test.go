package contacts_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"golang.org/x/time/rate"

	contacts "github.com/gymflow/contacts-go"
)

// benchContactJSON is a realistic contact as GET /contacts/{id} returns it.
const benchContactJSON = `{"contact":{"id":"seD4PfOuKoVMLkEZqohJ","name":"rubika deo","locationId":"ve9EPM428h8vShlRW1KT",` +
	`"firstName":"rubika","lastName":"Deo","email":"rubika@deos.com","emailLowerCase":"rubika@deos.com","timezone":"Asia/Calcutta",` +
	`"companyName":"DGS VolMAX","phone":"+18832327657","dnd":true,"dndSettings":{"Call":{"status":"active","message":"x","code":"y"},` +
	`"Email":{"status":"inactive"},"SMS":{"status":"permanent"}},"type":"read","source":"public api","assignedTo":"ve9EPM428h8vShlRW1KT",` +
	`"address1":"3535 1st St N","city":"Dolomite","state":"AL","country":"US","postalCode":"35061","website":"https://www.tesla.com",` +
	`"tags":["member","gold","yoga"],"dateOfBirth":"1990-09-25","dateAdded":"2021-07-02T05:18:26.704Z","dateUpdated":"2021-07-02T05:18:26.704Z",` +
	`"firstNameLowerCase":"rubika","fullNameLowerCase":"rubika deo","lastNameLowerCase":"deo","lastActivity":"2021-07-16T11:39:30.564Z",` +
	`"customFields":[{"id":"MgobCB14YMVKuE4Ka8p1","value":"Gold"},{"id":"n1","value":12},{"id":"l1","value":["a","b"]}],` +
	`"businessId":"641c094001436dbc2081e642","attributionSource":{"url":"Trigger Link","medium":"survey"},"visitorId":"ve9EPM428h8vShlRW1KT"},` +
	`"traceId":"8a3c5f0e-6b1a-4c7e-9d2f-1b2c3d4e5f60"}`

// baselineContact is what a hand-written client would decode into.
type baselineContact struct {
	ID                 string   `json:"id"`
	Name               string   `json:"name"`
	LocationID         string   `json:"locationId"`
	FirstName          string   `json:"firstName"`
	LastName           string   `json:"lastName"`
	Email              string   `json:"email"`
	EmailLowerCase     string   `json:"emailLowerCase"`
	Timezone           string   `json:"timezone"`
	CompanyName        string   `json:"companyName"`
	Phone              string   `json:"phone"`
	DND                bool     `json:"dnd"`
	DNDSettings        any      `json:"dndSettings"`
	Type               string   `json:"type"`
	Source             string   `json:"source"`
	AssignedTo         string   `json:"assignedTo"`
	Address1           string   `json:"address1"`
	City               string   `json:"city"`
	State              string   `json:"state"`
	Country            string   `json:"country"`
	PostalCode         string   `json:"postalCode"`
	Website            string   `json:"website"`
	Tags               []string `json:"tags"`
	DateOfBirth        string   `json:"dateOfBirth"`
	DateAdded          string   `json:"dateAdded"`
	DateUpdated        string   `json:"dateUpdated"`
	FirstNameLowerCase string   `json:"firstNameLowerCase"`
	FullNameLowerCase  string   `json:"fullNameLowerCase"`
	LastNameLowerCase  string   `json:"lastNameLowerCase"`
	LastActivity       string   `json:"lastActivity"`
	CustomFields       []struct {
		ID    string `json:"id"`
		Value any    `json:"value"`
	} `json:"customFields"`
	BusinessID        string         `json:"businessId"`
	AttributionSource map[string]any `json:"attributionSource"`
	VisitorID         string         `json:"visitorId"`
}

func benchServer(b *testing.B) *httptest.Server {
	b.Helper()
	body := []byte(benchContactJSON)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("X-RateLimit-Max", "100")
		h.Set("X-RateLimit-Remaining", "99")
		h.Set("X-RateLimit-Interval-Milliseconds", "10000")
		h.Set("X-RateLimit-Limit-Daily", "200000")
		h.Set("X-RateLimit-Daily-Remaining", "199999")
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
		}
		w.Write(body)
	}))
	b.Cleanup(srv.Close)
	return srv
}

func benchClient(b *testing.B, srv *httptest.Server) *contacts.Client {
	b.Helper()
	// An unlimited limiter keeps the limiter layer on the path without
	// throttling the benchmark.
	c, err := contacts.NewClient(contacts.WithBaseURL(srv.URL), contacts.WithHTTPClient(srv.Client()),
		contacts.WithToken("pit-bench"), contacts.WithLocationID("ve9EPM428h8vShlRW1KT"),
		contacts.WithRateLimiter(rate.NewLimiter(rate.Inf, 0)))
	if err != nil {
		b.Fatal(err)
	}
	return c
}

func BenchmarkContactsGet(b *testing.B) {
	srv := benchServer(b)
	b.Run("sdk", func(b *testing.B) {
		c := benchClient(b, srv)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			ct, err := c.Contacts.Get(ctx, "seD4PfOuKoVMLkEZqohJ")
			if err != nil || ct.ID == "" {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline", func(b *testing.B) {
		hc := srv.Client()
		b.ReportAllocs()
		for b.Loop() {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/contacts/seD4PfOuKoVMLkEZqohJ", nil)
			req.Header.Set("Authorization", "Bearer pit-bench")
			req.Header.Set("Version", "2021-07-28")
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var out struct {
				Contact baselineContact `json:"contact"`
				TraceID string          `json:"traceId"`
			}
			err = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if err != nil || out.Contact.ID == "" {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkContactsCreate(b *testing.B) {
	srv := benchServer(b)
	in := contacts.ContactCreate{
		FirstName: "Rosan", LastName: "Deo", Email: "rosan@deos.com", Phone: "+18888888888",
		Address1: "3535 1st St N", City: "Dolomite", State: "AL", PostalCode: "35061", Country: "US",
		Tags: []string{"member", "gold"}, Source: "gymflow",
		CustomFields: []contacts.CustomFieldInput{contacts.FieldByKey("contact.membership", "Gold")},
	}
	b.Run("sdk", func(b *testing.B) {
		c := benchClient(b, srv)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			ct, err := c.Contacts.Create(ctx, in)
			if err != nil || ct.ID == "" {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline", func(b *testing.B) {
		hc := srv.Client()
		in := in
		in.LocationID = "ve9EPM428h8vShlRW1KT"
		b.ReportAllocs()
		for b.Loop() {
			payload, err := json.Marshal(in)
			if err != nil {
				b.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/contacts/", bytes.NewReader(payload))
			req.Header.Set("Authorization", "Bearer pit-bench")
			req.Header.Set("Version", "2021-07-28")
			req.Header.Set("Content-Type", "application/json")
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var out struct {
				Contact baselineContact `json:"contact"`
			}
			err = json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if err != nil || out.Contact.ID == "" {
				b.Fatal(err)
			}
		}
	})
}
