package contactstest_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
)

// received is one request a test receiver got.
type received struct {
	Body   []byte
	Header http.Header
}

// payload decodes the body.
func (r received) payload(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body %s: %v", r.Body, err)
	}
	return m
}

// hookReceiver is an httptest server that records every webhook request
// and answers with answer's status (200 when answer is nil).
type hookReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	answer func(n int, r received) int
}

func newReceiver(t *testing.T, answer func(n int, r received) int) *hookReceiver {
	t.Helper()
	h := &hookReceiver{answer: answer}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := new(bytes.Buffer)
		body.ReadFrom(r.Body)
		rec := received{Body: body.Bytes(), Header: r.Header.Clone()}
		h.mu.Lock()
		n := len(h.got)
		h.got = append(h.got, rec)
		h.mu.Unlock()
		status := http.StatusOK
		if h.answer != nil {
			status = h.answer(n, rec)
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookReceiver) all() []received {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

// types returns the payload types received, in order.
func (h *hookReceiver) types(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, r := range h.all() {
		out = append(out, r.payload(t)["type"].(string))
	}
	return out
}

// newHookServer starts a fake server whose webhooks go to a new receiver.
func newHookServer(t *testing.T, answer func(int, received) int, opts ...contactstest.Option) (*contactstest.Server, *hookReceiver) {
	t.Helper()
	h := newReceiver(t, answer)
	srv := contactstest.NewServer(opts...)
	t.Cleanup(srv.Close)
	if err := srv.AddWebhook(h.URL + "/hooks"); err != nil {
		t.Fatal(err)
	}
	return srv, h
}

func flush(t *testing.T, srv *contactstest.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.FlushWebhooks(ctx); err != nil {
		t.Fatal("FlushWebhooks:", err)
	}
}

func keysOf(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

func set(keys ...string) []string { return slices.Sorted(slices.Values(keys)) }

// The field sets of the documented payload examples, plus the timestamp
// and webhookId every delivered body carries.
var (
	contactKeys = set("type", "locationId", "id", "address1", "city", "state", "companyName", "country",
		"source", "dateAdded", "dateOfBirth", "dnd", "email", "name", "firstName", "lastName", "phone",
		"postalCode", "tags", "website", "attachments", "assignedTo", "customFields", "timestamp", "webhookId")
	contactDndKeys = set(append(slices.Clone(contactKeys), "dndSettings")...)
	taskKeys       = set("type", "locationId", "id", "assignedTo", "body", "contactId", "title", "dateAdded", "dueDate", "timestamp", "webhookId")
	noteKeys       = set("type", "locationId", "id", "body", "contactId", "dateAdded", "timestamp", "webhookId")
	apptTopKeys    = set("type", "locationId", "appointment", "timestamp", "webhookId")
	apptKeys       = set("id", "address", "title", "calendarId", "contactId", "groupId", "appointmentStatus",
		"assignedUserId", "users", "notes", "source", "startTime", "endTime", "dateAdded", "dateUpdated")
)

var (
	isoMillisRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	uuidRE      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

// verify checks both signatures of a delivery against the server's keys,
// and that they fail for a tampered body.
func verify(t *testing.T, srv *contactstest.Server, r received) {
	t.Helper()
	edPub, rsaPub := srv.WebhookPublicKeys()
	edSig, err := base64.StdEncoding.DecodeString(r.Header.Get("x-ghl-signature"))
	if err != nil || len(edSig) != ed25519.SignatureSize {
		t.Fatalf("x-ghl-signature %q: %v", r.Header.Get("x-ghl-signature"), err)
	}
	rsaSig, err := base64.StdEncoding.DecodeString(r.Header.Get("x-wh-signature"))
	if err != nil || len(rsaSig) != 256 {
		t.Fatalf("x-wh-signature %q: %v", r.Header.Get("x-wh-signature"), err)
	}
	verifyRSA := func(body []byte) error {
		sum := sha256.Sum256(body)
		return rsa.VerifyPKCS1v15(rsaPub, crypto.SHA256, sum[:], rsaSig)
	}
	if !ed25519.Verify(edPub, r.Body, edSig) {
		t.Errorf("Ed25519 signature does not verify over %s", r.Body)
	}
	if err := verifyRSA(r.Body); err != nil {
		t.Errorf("RSA signature does not verify over %s: %v", r.Body, err)
	}
	tampered := bytes.Replace(r.Body, []byte(`"type":"`), []byte(`"type":"X`), 1)
	if ed25519.Verify(edPub, tampered, edSig) || verifyRSA(tampered) == nil {
		t.Errorf("a signature verifies over a tampered body")
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
}

func TestWebhooksForAPIChanges(t *testing.T) {
	clock := contactstest.NewManualClock(time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC))
	srv, rcv := newHookServer(t, nil, contactstest.WithClock(clock))
	fieldID, err := srv.AddCustomField(srv.LocationID(), "company")
	if err != nil {
		t.Fatal(err)
	}
	c := srv.Client()
	ctx := context.Background()

	ct, err := c.Contacts.Create(ctx, contacts.ContactCreate{
		FirstName: "John", LastName: "Deo", Email: "john@example.com", Phone: "+919509597501",
		Address1: "3535 1st St N", City: "Springfield", State: "AL", PostalCode: "452001", Country: "DE",
		Website: "https://example.com/", Source: "xyz form", DateOfBirth: "2000-01-05", DND: contacts.Ptr(true),
		CompanyName: "Loram ipsum", AssignedTo: "user1", Tags: []string{"member"},
		CustomFields: []contacts.CustomFieldInput{contacts.FieldByID(fieldID, "XYZ Corp")},
	})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if _, err := c.Contacts.Update(ctx, ct.ID, contacts.ContactUpdate{City: contacts.Value("Shelbyville")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Contacts.Update(ctx, ct.ID, contacts.ContactUpdate{
		Tags:        []string{"member", "gold"},
		DNDSettings: &contacts.DNDSettings{SMS: &contacts.DNDSetting{Status: contacts.DNDActive}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Tags.Add(ctx, ct.ID, []string{"vip"}); err != nil {
		t.Fatal(err)
	}
	task, err := c.Tasks.Create(ctx, ct.ID, contacts.TaskCreate{
		Title: "Call", Body: "About the renewal", AssignedTo: "user1",
		DueDate: time.Date(2024, 5, 2, 9, 30, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Tasks.Update(ctx, ct.ID, task.ID, contacts.TaskUpdate{Title: contacts.Ptr("Call back")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Tasks.Complete(ctx, ct.ID, task.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := c.Tasks.Delete(ctx, ct.ID, task.ID); err != nil {
		t.Fatal(err)
	}
	note, err := c.Notes.Create(ctx, ct.ID, contacts.NoteCreate{Body: "Met at the gym", Title: "Visit"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Notes.Update(ctx, ct.ID, note.ID, contacts.NoteUpdate{Body: contacts.Ptr("Met twice")}); err != nil {
		t.Fatal(err)
	}
	if err := c.Notes.Delete(ctx, ct.ID, note.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.Contacts.Delete(ctx, ct.ID); err != nil {
		t.Fatal(err)
	}
	flush(t, srv)

	want := []string{
		"ContactCreate", "ContactUpdate", "ContactUpdate", "ContactTagUpdate", "ContactDndUpdate",
		"ContactTagUpdate", "TaskCreate", "TaskComplete", "TaskDelete", "NoteCreate", "NoteUpdate",
		"NoteDelete", "ContactDelete",
	}
	got := rcv.all()
	if types := rcv.types(t); !slices.Equal(types, want) {
		t.Fatalf("event types:\n got %v\nwant %v", types, want)
	}
	ids := map[string]bool{}
	for i, r := range got {
		verify(t, srv, r)
		p := r.payload(t)
		id, _ := p["webhookId"].(string)
		if !uuidRE.MatchString(id) || ids[id] {
			t.Errorf("%s: webhookId %q is not a fresh UUID", want[i], id)
		}
		ids[id] = true
		if ts := p["timestamp"]; ts != "2024-05-01T10:00:00.000Z" && ts != "2024-05-01T10:00:01.000Z" {
			t.Errorf("%s: timestamp %v is not the server clock's", want[i], ts)
		}
		if p["locationId"] != srv.LocationID() {
			t.Errorf("%s: locationId %v", want[i], p["locationId"])
		}
		var wantKeys []string
		switch typ := want[i]; {
		case typ == "ContactDndUpdate":
			wantKeys = contactDndKeys
		case typ == "ContactCreate" || typ == "ContactUpdate" && i == 1:
			wantKeys = contactKeys
		case typ[:4] == "Cont": // after the DND change the snapshot carries dndSettings too
			wantKeys = contactDndKeys
		case typ[:4] == "Task":
			wantKeys = taskKeys
		case typ[:4] == "Note":
			wantKeys = noteKeys
		}
		if k := keysOf(p); !slices.Equal(k, wantKeys) {
			t.Errorf("%s keys:\n got %v\nwant %v", want[i], k, wantKeys)
		}
		if _, ok := p["dateUpdated"]; ok {
			t.Errorf("%s carries dateUpdated", want[i])
		}
	}

	create := got[0].payload(t)
	if create["id"] != ct.ID || create["email"] != "john@example.com" || create["dnd"] != true ||
		!isoMillisRE.MatchString(create["dateAdded"].(string)) {
		t.Errorf("ContactCreate payload %s", got[0].Body)
	}
	if a, ok := create["attachments"].([]any); !ok || len(a) != 0 {
		t.Errorf("attachments = %v, want []", create["attachments"])
	}
	if cf := create["customFields"].([]any); len(cf) != 1 || cf[0].(map[string]any)["id"] != fieldID || cf[0].(map[string]any)["value"] != "XYZ Corp" {
		t.Errorf("customFields = %v", cf)
	}
	if got[1].payload(t)["city"] != "Shelbyville" {
		t.Errorf("ContactUpdate does not carry the new snapshot: %s", got[1].Body)
	}
	if tags := got[5].payload(t)["tags"]; len(tags.([]any)) != 3 {
		t.Errorf("ContactTagUpdate tags = %v", tags)
	}
	if dnd := got[4].payload(t)["dndSettings"].(map[string]any); dnd["SMS"].(map[string]any)["status"] != "active" {
		t.Errorf("ContactDndUpdate dndSettings = %v", dnd)
	}
	tc := got[6].payload(t)
	if tc["dueDate"] != "2024-05-02T09:30:00.000Z" || tc["title"] != "Call" || tc["body"] != "About the renewal" ||
		tc["assignedTo"] != "user1" || tc["contactId"] != ct.ID || tc["id"] != task.ID {
		t.Errorf("TaskCreate payload %s", got[6].Body)
	}
	if got[7].payload(t)["title"] != "Call back" {
		t.Errorf("TaskComplete payload %s", got[7].Body)
	}
	if nu := got[10].payload(t); nu["body"] != "Met twice" || nu["id"] != note.ID {
		t.Errorf("NoteUpdate payload %s", got[10].Body)
	}

	// The record matches what the receiver saw.
	recs := srv.WebhookDeliveries()
	if len(recs) != len(want) {
		t.Fatalf("%d delivery records, want %d", len(recs), len(want))
	}
	for i, d := range recs {
		if d.Event != want[i] || !d.Delivered || d.Status != 200 || d.Attempts != 1 || d.URL != rcv.URL+"/hooks" ||
			!bytes.Equal(d.Body, got[i].Body) || d.WebhookID == "" {
			t.Errorf("record %d = %+v", i, d)
		}
	}

	// Upsert (both branches), the bulk operations, followers and
	// enrolments; doc.go lists what each emits. Changes that change
	// nothing and enrolments emit nothing.
	up, err := c.Contacts.Upsert(ctx, contacts.ContactUpsert{Email: "jane@example.com", FirstName: "Jane"})
	if err != nil || !up.Created {
		t.Fatalf("upsert (create) = %+v, %v", up, err)
	}
	jane := up.Contact.ID
	up, err = c.Contacts.Upsert(ctx, contacts.ContactUpsert{Email: "jane@example.com", City: "Paris", Tags: []string{"lead"}})
	if err != nil || up.Created || up.Contact.ID != jane {
		t.Fatalf("upsert (update) = %+v, %v", up, err)
	}
	kimContact, err := c.Contacts.Create(ctx, contacts.ContactCreate{Email: "kim@example.com", FirstName: "Kim"})
	if err != nil {
		t.Fatal(err)
	}
	kim := kimContact.ID
	biz := "64b1f0c2e4a9d3b7c8e1f2a3"
	if _, err := c.Contacts.SetBusiness(ctx, contacts.BusinessUpdate{ContactIDs: []string{jane, kim}, BusinessID: &biz}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Tags.BulkAdd(ctx, contacts.BulkTags{ContactIDs: []string{jane, kim, "missingContact000000"}, Tags: []string{"promo"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Tags.BulkAdd(ctx, contacts.BulkTags{ContactIDs: []string{jane}, Tags: []string{"promo"}}); err != nil {
		t.Fatal(err) // jane has it: no event
	}
	if _, err := c.Tags.BulkRemove(ctx, contacts.BulkTags{ContactIDs: []string{kim}, Tags: []string{"promo"}}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []func() error{
		func() error { _, err := c.Followers.Add(ctx, jane, []string{"user1"}); return err },
		func() error { _, err := c.Followers.Add(ctx, jane, []string{"user1"}); return err }, // no change: no event
		func() error { _, err := c.Followers.Remove(ctx, jane, []string{"user1"}); return err },
		func() error { return c.Campaigns.Add(ctx, jane, "camp1") },
		func() error { return c.Campaigns.Remove(ctx, jane, "camp1") },
		func() error { return c.Campaigns.RemoveAll(ctx, jane) },
		func() error { return c.Workflows.Add(ctx, jane, "wf1", contacts.WorkflowEnrollment{}) },
		func() error { return c.Workflows.Remove(ctx, jane, "wf1", contacts.WorkflowEnrollment{}) },
	} {
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, srv)

	type event struct{ typ, id string }
	want2 := []event{
		{"ContactCreate", jane},                             // upsert, create branch
		{"ContactUpdate", jane}, {"ContactTagUpdate", jane}, // upsert, update branch (tags replaced)
		{"ContactCreate", kim},
		{"ContactUpdate", jane}, {"ContactUpdate", kim}, // bulk business
		{"ContactTagUpdate", jane}, {"ContactTagUpdate", kim}, // bulk tags add
		{"ContactTagUpdate", kim},                        // bulk tags remove
		{"ContactUpdate", jane}, {"ContactUpdate", jane}, // followers add, remove
	}
	got2 := rcv.all()[len(got):]
	var events []event
	for _, r := range got2 {
		verify(t, srv, r)
		p := r.payload(t)
		typ, _ := p["type"].(string)
		id, _ := p["id"].(string)
		events = append(events, event{typ, id})
	}
	if !slices.Equal(events, want2) {
		t.Fatalf("events of upserts, bulk operations, followers and enrolments:\n got %v\nwant %v", events, want2)
	}
	payload := func(i int) map[string]any { return got2[i].payload(t) }
	tagsOf := func(p map[string]any) []string {
		var out []string
		for _, v := range p["tags"].([]any) {
			out = append(out, v.(string))
		}
		return out
	}
	if p := payload(0); p["email"] != "jane@example.com" || p["firstName"] != "Jane" {
		t.Errorf("upsert ContactCreate payload %s", got2[0].Body)
	}
	if p := payload(1); p["city"] != "Paris" || p["firstName"] != "Jane" || !slices.Equal(tagsOf(p), []string{"lead"}) {
		t.Errorf("upsert ContactUpdate payload %s", got2[1].Body)
	}
	if p := payload(6); !slices.Equal(tagsOf(p), []string{"lead", "promo"}) {
		t.Errorf("bulk add ContactTagUpdate tags = %v", tagsOf(p))
	}
	if p := payload(8); len(tagsOf(p)) != 0 {
		t.Errorf("bulk remove ContactTagUpdate tags = %v", tagsOf(p))
	}
	for _, i := range []int{2, 4, 5, 9, 10} {
		if _, ok := payload(i)["dateUpdated"]; ok {
			t.Errorf("%s carries dateUpdated", want2[i].typ)
		}
	}
}

func TestWebhookTimestampAndIDsFollowTheServer(t *testing.T) {
	clock := contactstest.NewManualClock(time.Date(2024, 5, 1, 10, 0, 0, 123e6, time.FixedZone("X", 3600)))
	srv, rcv := newHookServer(t, nil, contactstest.WithClock(clock))
	ct := srv.SeedContact(contactstest.Contact{FirstName: "Ana"})
	if _, err := srv.CRM().AddTags(ct.ID, "a"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(90 * time.Minute)
	if _, err := srv.CRM().AddTags(ct.ID, "b"); err != nil {
		t.Fatal(err)
	}
	flush(t, srv)
	got := rcv.all()
	if len(got) != 2 {
		t.Fatalf("%d deliveries", len(got))
	}
	for i, want := range []string{"2024-05-01T09:00:00.123Z", "2024-05-01T10:30:00.123Z"} {
		if ts := got[i].payload(t)["timestamp"]; ts != want {
			t.Errorf("timestamp %d = %v, want %s", i, ts, want)
		}
	}
}

func TestWebhookKeys(t *testing.T) {
	srv := contactstest.NewServer()
	defer srv.Close()
	edPub, rsaPub := srv.WebhookPublicKeys()
	if rsaPub.N.BitLen() != 2048 {
		t.Errorf("RSA key has %d bits", rsaPub.N.BitLen())
	}
	edPEM, rsaPEM := srv.WebhookPublicKeysPEM()
	for _, tc := range []struct {
		pem  string
		want crypto.PublicKey
	}{{edPEM, edPub}, {rsaPEM, rsaPub}} {
		block, _ := pem.Decode([]byte(tc.pem))
		if block == nil || block.Type != "PUBLIC KEY" {
			t.Fatalf("not a PUBLIC KEY block: %q", tc.pem)
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if !k.(interface{ Equal(crypto.PublicKey) bool }).Equal(tc.want) {
			t.Errorf("PEM key %T differs from WebhookPublicKeys", k)
		}
	}
	other := contactstest.NewServer()
	defer other.Close()
	if otherEd, _ := other.WebhookPublicKeys(); otherEd.Equal(edPub) {
		t.Error("two servers share an Ed25519 key")
	}

	// SignWebhook signs hand-made bodies the same way.
	body := []byte(`{"type":"ContactCreate","timestamp":"2020-01-01T00:00:00.000Z","webhookId":"x"}`)
	verify(t, srv, received{Body: body, Header: srv.SignWebhook(body)})
}

func TestWebhookDuplicates(t *testing.T) {
	srv, rcv := newHookServer(t, nil)
	second := newReceiver(t, nil)
	if err := srv.AddWebhook(second.URL); err != nil {
		t.Fatal(err)
	}
	srv.SetWebhookOptions(contactstest.WebhookOptions{DuplicateRate: 1})
	ct := srv.SeedContact(contactstest.Contact{FirstName: "Ana"})
	for _, tag := range []string{"a", "b", "c"} {
		if _, err := srv.Client().Tags.Add(context.Background(), ct.ID, []string{tag}); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, srv)
	for _, h := range []*hookReceiver{rcv, second} {
		got := h.all()
		if len(got) != 6 {
			t.Fatalf("%d deliveries, want 3 events twice", len(got))
		}
		for i := 0; i < 6; i += 2 {
			if !bytes.Equal(got[i].Body, got[i+1].Body) || got[i].Header.Get("x-ghl-signature") != got[i+1].Header.Get("x-ghl-signature") {
				t.Errorf("duplicate %d differs:\n%s\n%s", i, got[i].Body, got[i+1].Body)
			}
			verify(t, srv, got[i+1])
		}
		if bytes.Equal(got[0].Body, got[2].Body) {
			t.Error("distinct events share a body")
		}
	}
	dups := 0
	for _, d := range srv.WebhookDeliveries() {
		if d.Duplicate {
			dups++
		}
	}
	if dups != 6 {
		t.Errorf("%d deliveries marked Duplicate, want 6", dups)
	}
}

// dropScenario makes 20 tag changes with half the deliveries dropped and
// returns which events arrived.
func dropScenario(t *testing.T, seed uint64) (arrived []string, dropped int) {
	srv, rcv := newHookServer(t, nil, contactstest.WithSeed(seed))
	srv.SetWebhookOptions(contactstest.WebhookOptions{DropRate: 0.5})
	ct := srv.SeedContact(contactstest.Contact{FirstName: "Ana"})
	for i := range 20 {
		if _, err := srv.CRM().AddTags(ct.ID, string(rune('a'+i))); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, srv)
	for _, r := range rcv.all() {
		arrived = append(arrived, r.payload(t)["webhookId"].(string))
	}
	for _, d := range srv.WebhookDeliveries() {
		if d.Dropped {
			dropped++
			if d.Attempts != 0 || d.Delivered {
				t.Errorf("dropped delivery %+v", d)
			}
		}
	}
	return arrived, dropped
}

func TestWebhookDrops(t *testing.T) {
	arrived, dropped := dropScenario(t, 7)
	if len(arrived)+dropped != 20 || dropped == 0 || len(arrived) == 0 {
		t.Fatalf("%d arrived, %d dropped; want 20 in all, some of each", len(arrived), dropped)
	}
	again, _ := dropScenario(t, 7)
	if !slices.Equal(arrived, again) {
		t.Errorf("drops differ between runs with the same seed:\n%v\n%v", arrived, again)
	}

	srv, rcv := newHookServer(t, nil)
	srv.SetWebhookOptions(contactstest.WebhookOptions{DropRate: 1})
	srv.CRM().CreateContact(contactstest.Contact{FirstName: "Lost"})
	flush(t, srv)
	if n := len(rcv.all()); n != 0 {
		t.Errorf("%d deliveries with DropRate 1", n)
	}
}

// reorderScenario creates 12 notes with Reorder on and returns the note
// bodies in the order the receiver got them.
func reorderScenario(t *testing.T, seed uint64) []string {
	srv, rcv := newHookServer(t, nil, contactstest.WithSeed(seed))
	srv.SetWebhookOptions(contactstest.WebhookOptions{Reorder: true})
	ct := srv.SeedContact(contactstest.Contact{FirstName: "Ana"})
	for i := range 12 {
		if _, err := srv.CRM().CreateNote(contactstest.Note{ContactID: ct.ID, Body: string(rune('a' + i))}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(20 * time.Millisecond) // held deliveries must not leave before the flush
	if n := len(rcv.all()); n != 0 {
		t.Fatalf("%d deliveries before FlushWebhooks", n)
	}
	flush(t, srv)
	var order []string
	for _, r := range rcv.all() {
		order = append(order, r.payload(t)["body"].(string))
	}
	return order
}

func TestWebhookReorder(t *testing.T) {
	order := reorderScenario(t, 3)
	sorted := slices.Sorted(slices.Values(order))
	if len(order) != 12 || slices.Equal(order, sorted) || sorted[0] != "a" || sorted[11] != "l" {
		t.Fatalf("order %v is not a shuffle of the 12 notes", order)
	}
	if again := reorderScenario(t, 3); !slices.Equal(order, again) {
		t.Errorf("shuffles differ between runs with the same seed: %v, %v", order, again)
	}
}

func TestWebhookHold(t *testing.T) {
	srv, rcv := newHookServer(t, nil)
	srv.SetWebhookOptions(contactstest.WebhookOptions{Hold: true})
	ct, _ := srv.CRM().CreateContact(contactstest.Contact{FirstName: "Ana"})
	srv.CRM().AddTags(ct.ID, "x")
	time.Sleep(20 * time.Millisecond)
	if n := len(rcv.all()); n != 0 {
		t.Fatalf("%d deliveries before the flush", n)
	}
	srv.SetWebhookOptions(contactstest.WebhookOptions{}) // releases them, in order
	flush(t, srv)
	if got := rcv.types(t); !slices.Equal(got, []string{"ContactCreate", "ContactTagUpdate"}) {
		t.Errorf("types %v", got)
	}
}

func TestWebhook429IsRetriedOtherFailuresLoseTheEvent(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	// The first event is refused with 429 twice, then accepted.
	retry := newReceiver(t, func(n int, r received) int {
		var p struct{ WebhookID, Body string }
		json.Unmarshal(r.Body, &p)
		mu.Lock()
		defer mu.Unlock()
		seen[p.WebhookID]++
		if p.Body == "first" && seen[p.WebhookID] <= 2 {
			return http.StatusTooManyRequests
		}
		return http.StatusNoContent
	})
	fail := newReceiver(t, func(int, received) int { return http.StatusInternalServerError })
	busy := newReceiver(t, func(int, received) int { return http.StatusTooManyRequests })
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()

	srv := contactstest.NewServer()
	defer srv.Close()
	for _, u := range []string{retry.URL, fail.URL, busy.URL, gone.URL} {
		if err := srv.AddWebhook(u); err != nil {
			t.Fatal(err)
		}
	}
	// Hold both events so the retried one is overtaken, as it is live.
	srv.SetWebhookOptions(contactstest.WebhookOptions{Hold: true, RetryWait: 20 * time.Millisecond, MaxRetries: 3})
	ct := srv.SeedContact(contactstest.Contact{FirstName: "Ana"})
	for _, body := range []string{"first", "second"} {
		if _, err := srv.CRM().CreateNote(contactstest.Note{ContactID: ct.ID, Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, srv)

	var bodies []string
	for _, r := range retry.all() {
		bodies = append(bodies, r.payload(t)["body"].(string))
	}
	if want := []string{"first", "second", "first", "first"}; !slices.Equal(bodies, want) {
		t.Errorf("429 receiver got %v, want %v", bodies, want)
	}
	if n := len(fail.all()); n != 2 {
		t.Errorf("500 receiver got %d requests, want 2 (no retry)", n)
	}
	if n := len(busy.all()); n != 8 {
		t.Errorf("always-429 receiver got %d requests, want 2 × (1 + MaxRetries 3)", n)
	}
	for _, d := range srv.WebhookDeliveries() {
		switch d.URL {
		case retry.URL:
			wantAttempts := 3 // 429, 429, 204
			if bytes.Contains(d.Body, []byte(`"second"`)) {
				wantAttempts = 1
			}
			if !d.Delivered || d.Status != http.StatusNoContent || d.Attempts != wantAttempts {
				t.Errorf("429 then 204: %+v", d)
			}
		case fail.URL:
			if d.Delivered || d.Status != 500 || d.Attempts != 1 {
				t.Errorf("500: %+v", d)
			}
		case busy.URL:
			if d.Delivered || d.Status != 429 || d.Attempts != 4 {
				t.Errorf("always 429: %+v", d)
			}
		case gone.URL:
			if d.Delivered || d.Status != 0 || d.Attempts != 1 || d.Err == "" {
				t.Errorf("connection refused: %+v", d)
			}
		}
	}
	if n := len(srv.WebhookDeliveries()); n != 8 {
		t.Errorf("%d records, want 2 events × 4 receivers", n)
	}
}

func TestWebhookNoEventsForReadsFailuresAndTaskEdits(t *testing.T) {
	srv, rcv := newHookServer(t, nil)
	c := srv.Client()
	ctx := context.Background()
	ct := srv.SeedContact(contactstest.Contact{FirstName: "Ana", Email: "ana@example.com", Tags: []string{"a"}})
	task, _ := srv.SeedTask(contactstest.Task{ContactID: ct.ID, Title: "Call", DueDate: time.Now()})
	note, _ := srv.SeedNote(contactstest.Note{ContactID: ct.ID, Body: "hi"})

	c.Contacts.Get(ctx, ct.ID)
	c.Contacts.FindDuplicate(ctx, contacts.DuplicateQuery{Email: "ana@example.com"})
	c.Tasks.List(ctx, ct.ID)
	c.Tasks.Get(ctx, ct.ID, task.ID)
	c.Notes.List(ctx, ct.ID)
	c.Notes.Get(ctx, ct.ID, note.ID)
	c.Appointments.List(ctx, ct.ID)
	if _, err := c.Tags.Add(ctx, ct.ID, []string{"a"}); err != nil { // already there: no change
		t.Fatal(err)
	}
	if _, err := c.Contacts.Update(ctx, ct.ID, contacts.ContactUpdate{Email: contacts.Value("not an email")}); err == nil {
		t.Error("invalid update accepted")
	}
	if _, err := c.Tasks.Update(ctx, ct.ID, task.ID, contacts.TaskUpdate{Title: contacts.Ptr("Call back"), Body: contacts.Ptr("x")}); err != nil {
		t.Fatal(err)
	}
	flush(t, srv)
	if got := rcv.types(t); len(got) != 0 {
		t.Fatalf("events for reads, no-ops, failures and task edits: %v", got)
	}

	// Completing through a task update is the one task edit with an event.
	if _, err := c.Tasks.Update(ctx, ct.ID, task.ID, contacts.TaskUpdate{Completed: contacts.Ptr(true)}); err != nil {
		t.Fatal(err)
	}
	flush(t, srv)
	if got := rcv.types(t); !slices.Equal(got, []string{"TaskComplete"}) {
		t.Errorf("types %v, want [TaskComplete]", got)
	}
}

func TestWebhookAppInstallEvents(t *testing.T) {
	srv, rcv := newHookServer(t, nil)
	start := time.Date(2024, 7, 23, 23, 54, 51, 264e6, time.UTC)
	trial := &contactstest.AppTrial{OnTrial: true, DurationDays: 10, StartDate: start}
	if err := srv.SimulateInstall(contactstest.AppInstall{
		AppID: "app1", LocationID: srv.LocationID(), UserID: "user1", PlanID: "plan1", Trial: trial,
		CompanyName: "Example Company", IsWhitelabelCompany: true, WhitelabelDomain: "example.com", WhitelabelLogoURL: "https://example.com/logo.png",
	}); err != nil {
		t.Fatal(err)
	}
	if err := srv.SimulateInstall(contactstest.AppInstall{AppID: "app1", CompanyID: "co1", PlanID: "plan1", Trial: trial}); err != nil {
		t.Fatal(err)
	}
	if err := srv.SimulateUninstall("app1", srv.LocationID(), ""); err != nil {
		t.Fatal(err)
	}
	if err := srv.SimulateUninstall("app1", "", "co1"); err != nil {
		t.Fatal(err)
	}
	if srv.SimulateInstall(contactstest.AppInstall{LocationID: "x"}) == nil || srv.SimulateUninstall("app1", "", "") == nil {
		t.Error("incomplete install events accepted")
	}
	flush(t, srv)
	got := rcv.all()
	if len(got) != 4 {
		t.Fatalf("%d deliveries", len(got))
	}
	wantKeys := [][]string{
		set("type", "appId", "locationId", "companyId", "userId", "planId", "trial", "isWhitelabelCompany", "whitelabelDetails", "companyName", "timestamp", "webhookId"),
		set("type", "appId", "companyId", "planId", "trial", "timestamp", "webhookId"),
		set("type", "appId", "locationId", "timestamp", "webhookId"),
		set("type", "appId", "companyId", "timestamp", "webhookId"),
	}
	for i, r := range got {
		verify(t, srv, r)
		if k := keysOf(r.payload(t)); !slices.Equal(k, wantKeys[i]) {
			t.Errorf("event %d keys:\n got %v\nwant %v", i, k, wantKeys[i])
		}
	}
	install := got[0].payload(t)
	if install["type"] != "INSTALL" || install["appId"] != "app1" || install["companyId"] == "" {
		t.Errorf("INSTALL %s", got[0].Body)
	}
	wantTrial := map[string]any{"onTrial": true, "trialDuration": 10.0, "trialStartDate": "2024-07-23T23:54:51.264Z"}
	if tr := install["trial"].(map[string]any); !maps.Equal(tr, wantTrial) {
		t.Errorf("trial = %v", tr)
	}
	if wl := install["whitelabelDetails"].(map[string]any); wl["domain"] != "example.com" || wl["logoUrl"] != "https://example.com/logo.png" {
		t.Errorf("whitelabelDetails = %v", wl)
	}
	if got[2].payload(t)["type"] != "UNINSTALL" {
		t.Errorf("UNINSTALL %s", got[2].Body)
	}
}

func TestWebhookTimeoutLosesTheEvent(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hang.Close()
	defer close(release)
	srv := contactstest.NewServer()
	defer srv.Close()
	srv.AddWebhook(hang.URL)
	srv.SetWebhookOptions(contactstest.WebhookOptions{Timeout: 50 * time.Millisecond})
	srv.CRM().CreateContact(contactstest.Contact{FirstName: "Ana"})
	flush(t, srv)
	d := srv.WebhookDeliveries()
	if len(d) != 1 || d[0].Delivered || d[0].Attempts != 1 || d[0].Err == "" {
		t.Errorf("deliveries %+v", d)
	}
}

func TestWebhookCloseDoesNotHang(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hang.Close()
	defer close(release)

	srv := contactstest.NewServer()
	srv.AddWebhook(hang.URL)
	srv.SetWebhookOptions(contactstest.WebhookOptions{RetryWait: time.Hour})
	ct, _ := srv.CRM().CreateContact(contactstest.Contact{FirstName: "Ana"})
	for i := range 5 {
		srv.CRM().AddTags(ct.ID, string(rune('a'+i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := srv.FlushWebhooks(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("FlushWebhooks on a hung receiver = %v, want the context's error", err)
	}

	done := make(chan struct{})
	go func() {
		srv.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs while a delivery is in flight")
	}
	if err := srv.FlushWebhooks(context.Background()); err != nil {
		t.Errorf("FlushWebhooks after Close = %v", err)
	}
	if srv.AddWebhook(hang.URL) == nil {
		t.Error("AddWebhook after Close succeeded")
	}
}

func TestAddWebhookRejectsBadURLs(t *testing.T) {
	srv := contactstest.NewServer()
	defer srv.Close()
	for _, u := range []string{"", "/hooks", "ftp://example.com/x", "http://"} {
		if srv.AddWebhook(u) == nil {
			t.Errorf("AddWebhook(%q) accepted", u)
		}
	}
}

func TestNoWebhookReceiverNoDeliveries(t *testing.T) {
	srv := contactstest.NewServer()
	defer srv.Close()
	srv.CRM().CreateContact(contactstest.Contact{FirstName: "Ana"})
	flush(t, srv)
	if d := srv.WebhookDeliveries(); len(d) != 0 {
		t.Errorf("deliveries without a receiver: %+v", d)
	}
}

func TestWebhookUnencodablePayloadIsDropped(t *testing.T) {
	srv, rcv := newHookServer(t, nil)
	srv.CRM().CreateContact(contactstest.Contact{CustomFields: []contactstest.CustomField{{ID: "f", Value: make(chan int)}}})
	flush(t, srv)
	d := srv.WebhookDeliveries()
	if len(d) != 1 || !d[0].Dropped || d[0].Event != "ContactCreate" || d[0].Err == "" || len(rcv.all()) != 0 {
		t.Errorf("deliveries %+v", d)
	}
}

// A receiver checks the Ed25519 signature over the raw body before it
// trusts the event; FlushWebhooks waits until every delivery was made.
func ExampleServer_AddWebhook() {
	srv := contactstest.NewServer()
	defer srv.Close()
	key, _ := srv.WebhookPublicKeys()

	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sig, _ := base64.StdEncoding.DecodeString(r.Header.Get("x-ghl-signature"))
		if !ed25519.Verify(key, body, sig) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var event struct{ Type, FirstName string }
		json.Unmarshal(body, &event)
		fmt.Println(event.Type, event.FirstName)
	}))
	defer receiver.Close()
	srv.AddWebhook(receiver.URL)

	// A change made in the CRM, then one through the API.
	ct, _ := srv.CRM().CreateContact(contactstest.Contact{FirstName: "Ana"})
	srv.Client().Tags.Add(context.Background(), ct.ID, []string{"vip"})
	srv.FlushWebhooks(context.Background())
	// Output:
	// ContactCreate Ana
	// ContactTagUpdate Ana
}
