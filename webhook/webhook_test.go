package webhook_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
	"github.com/gymflow/contacts-go/webhook"
)

// receiver is a webhook.Handler behind an httptest server that records
// the events its application handler saw.
type receiver struct {
	mu     sync.Mutex
	events []webhook.Event
	fail   func(webhook.Event) error
	srv    *httptest.Server
	h      *webhook.Handler
}

func (r *receiver) handle(_ context.Context, ev webhook.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		if err := r.fail(ev); err != nil {
			return err
		}
	}
	r.events = append(r.events, ev)
	return nil
}

func (r *receiver) seen() []webhook.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]webhook.Event(nil), r.events...)
}

func newReceiver(t *testing.T, v *webhook.Verifier, opts ...webhook.HandlerOption) *receiver {
	t.Helper()
	r := &receiver{}
	h, err := webhook.NewHandler(v, r.handle, opts...)
	if err != nil {
		t.Fatal(err)
	}
	r.h = h
	r.srv = httptest.NewServer(h)
	t.Cleanup(r.srv.Close)
	return r
}

// fakeVerifier trusts the fake's Ed25519 key (and, with rsa, its RSA key).
func fakeVerifier(t *testing.T, srv *contactstest.Server, ed, rsa bool) *webhook.Verifier {
	t.Helper()
	edKey, rsaKey := srv.WebhookPublicKeys()
	opts := []webhook.Option{webhook.WithoutPublishedRSAKey()}
	if ed {
		opts = append(opts, webhook.WithEd25519PublicKey(edKey))
	}
	if rsa {
		opts = append(opts, webhook.WithRSAPublicKey(rsaKey))
	}
	v, err := webhook.NewVerifier(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func flush(t *testing.T, srv *contactstest.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.FlushWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestEveryEventTypeArrivesTyped(t *testing.T) {
	t.Parallel()
	for _, scheme := range []string{"ed25519", "rsa"} {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			srv := contactstest.NewServer()
			defer srv.Close()
			rcv := newReceiver(t, fakeVerifier(t, srv, scheme == "ed25519", scheme == "rsa"))
			if err := srv.AddWebhook(rcv.srv.URL); err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			c := srv.Client()
			fid, _ := srv.AddCustomField(srv.LocationID(), "visits")
			ct, err := c.Contacts.Create(ctx, contacts.ContactCreate{FirstName: "Ana", Email: "ana@example.com", Tags: []string{"lead"},
				CustomFields: []contacts.CustomFieldInput{contacts.FieldByID(fid, 12)}})
			if err != nil {
				t.Fatal(err)
			}
			steps := []func() error{
				func() error {
					_, err := c.Contacts.Update(ctx, ct.ID, contacts.ContactUpdate{City: contacts.Value("Porto")})
					return err
				},
				func() error { _, err := c.Tags.Add(ctx, ct.ID, []string{"member"}); return err },
				func() error {
					_, err := c.Contacts.Update(ctx, ct.ID, contacts.ContactUpdate{DND: contacts.Ptr(true)})
					return err
				},
			}
			for _, s := range steps {
				if err := s(); err != nil {
					t.Fatal(err)
				}
			}
			task, err := c.Tasks.Create(ctx, ct.ID, contacts.TaskCreate{Title: "Call", DueDate: time.Now().Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			c.Tasks.Complete(ctx, ct.ID, task.ID, true)
			c.Tasks.Delete(ctx, ct.ID, task.ID)
			note, _ := c.Notes.Create(ctx, ct.ID, contacts.NoteCreate{Body: "hi"})
			c.Notes.Update(ctx, ct.ID, note.ID, contacts.NoteUpdate{Body: contacts.Ptr("hello")})
			c.Notes.Delete(ctx, ct.ID, note.ID)
			crm := srv.CRM()
			appt, err := crm.CreateAppointment(contactstest.Appointment{ContactID: ct.ID, Title: "Intro", StartTime: time.Now(), EndTime: time.Now().Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			crm.UpdateAppointment(appt.ID, func(a *contactstest.Appointment) { a.Title = "Intro (moved)" })
			crm.DeleteAppointment(appt.ID)
			c.Contacts.Delete(ctx, ct.ID)
			srv.SimulateInstall(contactstest.AppInstall{AppID: "app1", LocationID: srv.LocationID(), CompanyID: "co1"})
			srv.SimulateUninstall("app1", srv.LocationID(), "")
			flush(t, srv)

			var got []string
			for _, ev := range rcv.seen() {
				got = append(got, ev.Info().Type)
				if ev.Info().WebhookID == "" || ev.Info().Timestamp.IsZero() || len(ev.Info().Raw) == 0 {
					t.Errorf("%s: incomplete meta %+v", ev.Info().Type, ev.Info())
				}
				switch e := ev.(type) {
				case *webhook.ContactCreate:
					if e.Contact.ID != ct.ID || e.Contact.Email != "ana@example.com" || e.Contact.Type != "" || e.LocationID != srv.LocationID() {
						t.Errorf("ContactCreate = %+v", e.Contact)
					}
					if v, ok := e.Contact.CustomField(fid); !ok || v.String() != "12" {
						t.Errorf("custom field value of a number: %v", v)
					}
				case *webhook.ContactTagUpdate:
					if strings.Join(e.Contact.Tags, ",") != "lead,member" {
						t.Errorf("tags = %v", e.Contact.Tags)
					}
				case *webhook.ContactDndUpdate:
					if !e.Contact.DND {
						t.Error("DND not set")
					}
				case *webhook.TaskCreate:
					if e.Task.ID != task.ID || e.Task.Title != "Call" || e.Task.ContactID != ct.ID || e.Task.DueDate.IsZero() {
						t.Errorf("TaskCreate = %+v", e.Task)
					}
				case *webhook.NoteUpdate:
					if e.Note.Body != "hello" {
						t.Errorf("NoteUpdate = %+v", e.Note)
					}
				case *webhook.AppointmentCreate:
					if e.Appointment.ContactID != ct.ID || e.Appointment.StartTime.IsZero() {
						t.Errorf("appointment = %+v", e.Appointment)
					}
				case *webhook.Install:
					if e.AppID != "app1" || e.CompanyID != "co1" {
						t.Errorf("install = %+v", e)
					}
				case *webhook.Uninstall:
					if e.AppID != "app1" {
						t.Errorf("uninstall = %+v", e)
					}
				}
			}
			// The fake reproduces the documented quirk: appointment updates
			// and deletes say AppointmentCreate.
			want := []string{"ContactCreate", "ContactUpdate", "ContactTagUpdate", "ContactUpdate", "ContactDndUpdate",
				"TaskCreate", "TaskComplete", "TaskDelete", "NoteCreate", "NoteUpdate", "NoteDelete",
				"AppointmentCreate", "AppointmentCreate", "AppointmentCreate", "ContactDelete", "INSTALL", "UNINSTALL"}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("events\n got %v\nwant %v", got, want)
			}
		})
	}
}

// signed returns a delivery body with the given timestamp and id, and the
// fake's signature headers for it.
func signed(t *testing.T, srv *contactstest.Server, ts time.Time, id string) ([]byte, http.Header) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"type": "NoteCreate", "locationId": "loc1", "id": "n1", "body": "x", "contactId": "c1",
		"dateAdded": "2026-01-01T00:00:00.000Z", "timestamp": ts.UTC().Format("2006-01-02T15:04:05.000Z07:00"), "webhookId": id})
	return body, srv.SignWebhook(body)
}

func post(t *testing.T, url, method string, body []byte, h http.Header) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	for k, vs := range h {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestRejectionsNeverReachTheHandler(t *testing.T) {
	t.Parallel()
	srv := contactstest.NewServer()
	defer srv.Close()
	now := time.Now()
	other, _, _ := ed25519.GenerateKey(nil)
	wrongKey, err := webhook.NewVerifier(webhook.WithoutPublishedRSAKey(), webhook.WithEd25519PublicKey(other))
	if err != nil {
		t.Fatal(err)
	}
	rcv := newReceiver(t, fakeVerifier(t, srv, true, false), webhook.WithMaxBodyBytes(4096))
	wrong := newReceiver(t, wrongKey)

	body, h := signed(t, srv, now, "wh-ok")
	tampered := bytes.Replace(body, []byte(`"body":"x"`), []byte(`"body":"y"`), 1)
	badSig := h.Clone()
	sig, _ := base64.StdEncoding.DecodeString(badSig.Get(webhook.SignatureHeader))
	sig[0] ^= 1
	badSig.Set(webhook.SignatureHeader, base64.StdEncoding.EncodeToString(sig))
	noSig := h.Clone()
	noSig.Del(webhook.SignatureHeader)
	noSig.Del(webhook.LegacySignatureHeader)
	stale, staleH := signed(t, srv, now.Add(-10*time.Minute), "wh-stale")
	future, futureH := signed(t, srv, now.Add(10*time.Minute), "wh-future")
	junk := []byte(`{"no":"type"}`)
	huge := append([]byte(`{"type":"NoteCreate","pad":"`), bytes.Repeat([]byte("a"), 5000)...)
	huge = append(huge, `"}`...)

	cases := []struct {
		name   string
		url    string
		method string
		body   []byte
		h      http.Header
		want   int
	}{
		{"tampered body", rcv.srv.URL, "POST", tampered, h, 401},
		{"tampered signature", rcv.srv.URL, "POST", body, badSig, 401},
		{"wrong key", wrong.srv.URL, "POST", body, h, 401},
		{"missing signature", rcv.srv.URL, "POST", body, noSig, 401},
		{"stale timestamp", rcv.srv.URL, "POST", stale, staleH, 401},
		{"timestamp from the future", rcv.srv.URL, "POST", future, futureH, 401},
		{"malformed body", rcv.srv.URL, "POST", junk, srv.SignWebhook(junk), 400},
		{"oversize body", rcv.srv.URL, "POST", huge, srv.SignWebhook(huge), 413},
		{"wrong method", rcv.srv.URL, "GET", nil, h, 405},
		{"PUT", rcv.srv.URL, "PUT", body, h, 405},
	}
	for _, tc := range cases {
		if got := post(t, tc.url, tc.method, tc.body, tc.h); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
	if n := len(rcv.seen()) + len(wrong.seen()); n != 0 {
		t.Fatalf("%d rejected deliveries reached the handler", n)
	}
	// The valid one passes once; its replay is acknowledged without a second call.
	if got := post(t, rcv.srv.URL, "POST", body, h); got != 200 {
		t.Fatalf("valid delivery: %d", got)
	}
	if got := post(t, rcv.srv.URL, "POST", body, h); got != 200 || len(rcv.seen()) != 1 {
		t.Errorf("replayed id: status %d, handler calls %d", got, len(rcv.seen()))
	}
	// A stale delivery was abandoned, not remembered: a fresh delivery of
	// the same id later is processed.
	fresh, freshH := signed(t, srv, time.Now(), "wh-stale")
	if got := post(t, rcv.srv.URL, "POST", fresh, freshH); got != 200 || len(rcv.seen()) != 2 {
		t.Errorf("fresh delivery of a once-stale id: %d, calls %d", got, len(rcv.seen()))
	}
}

func TestFailureIsNotAcknowledgedAndRetryIsProcessedOnce(t *testing.T) {
	t.Parallel()
	srv := contactstest.NewServer()
	defer srv.Close()
	clock := time.Now()
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	rcv := newReceiver(t, fakeVerifier(t, srv, true, false), webhook.WithClock(now))
	failing := true
	rcv.fail = func(webhook.Event) error {
		if failing {
			return errors.New("database down")
		}
		return nil
	}
	body, h := signed(t, srv, now(), "wh-1")
	if got := post(t, rcv.srv.URL, "POST", body, h); got != http.StatusTooManyRequests {
		t.Fatalf("failing handler: %d, want 429 so the API redelivers", got)
	}
	// The API retries ten minutes later with the same bytes: the timestamp
	// is stale now, but this is the retry we asked for.
	mu.Lock()
	clock = clock.Add(10 * time.Minute)
	mu.Unlock()
	failing = false
	if got := post(t, rcv.srv.URL, "POST", body, h); got != 200 {
		t.Fatalf("retry: %d", got)
	}
	if got := post(t, rcv.srv.URL, "POST", body, h); got != 200 {
		t.Fatalf("duplicate of the retry: %d", got)
	}
	if n := len(rcv.seen()); n != 1 {
		t.Errorf("handler succeeded %d times, want once", n)
	}
}

func TestConcurrentDuplicatesProcessOnce(t *testing.T) {
	t.Parallel()
	srv := contactstest.NewServer()
	defer srv.Close()
	release := make(chan struct{})
	var calls sync.WaitGroup
	calls.Add(1)
	first := true
	rcv := newReceiver(t, fakeVerifier(t, srv, true, false))
	rcv.fail = func(webhook.Event) error {
		if first {
			first = false
			calls.Done()
			rcv.mu.Unlock()
			<-release
			rcv.mu.Lock()
		}
		return nil
	}
	body, h := signed(t, srv, time.Now(), "wh-race")
	done := make(chan int)
	go func() { done <- post(t, rcv.srv.URL, "POST", body, h) }()
	calls.Wait() // the first delivery is inside the handler
	if got := post(t, rcv.srv.URL, "POST", body, h); got != http.StatusTooManyRequests {
		t.Errorf("duplicate while the first is processing: %d, want 429", got)
	}
	close(release)
	if got := <-done; got != 200 {
		t.Errorf("first delivery: %d", got)
	}
	if n := len(rcv.seen()); n != 1 {
		t.Errorf("processed %d times", n)
	}
}

func TestUnknownEventsReachTheApplication(t *testing.T) {
	t.Parallel()
	srv := contactstest.NewServer()
	defer srv.Close()
	rcv := newReceiver(t, fakeVerifier(t, srv, true, false))
	body := []byte(`{"type":"OpportunityCreate","locationId":"l1","webhookId":"wh-x","timestamp":"` + time.Now().UTC().Format(time.RFC3339) + `","id":"o1"}`)
	if got := post(t, rcv.srv.URL, "POST", body, srv.SignWebhook(body)); got != 200 {
		t.Fatalf("status %d", got)
	}
	evs := rcv.seen()
	if len(evs) != 1 {
		t.Fatalf("events %v", evs)
	}
	u, ok := evs[0].(*webhook.Unknown)
	if !ok || u.Type != "OpportunityCreate" || !bytes.Equal(u.Raw, body) {
		t.Errorf("unknown event = %#v", evs[0])
	}
}

func TestUnsignedOnlyWithTheLoudOption(t *testing.T) {
	t.Parallel()
	body := []byte(`{"type":"NoteCreate","webhookId":"w","timestamp":"` + time.Now().UTC().Format(time.RFC3339) + `"}`)
	strict, _ := webhook.NewVerifier()
	if err := strict.Verify(http.Header{}, body); !errors.Is(err, webhook.ErrMissingSignature) {
		t.Errorf("default verifier on an unsigned body: %v", err)
	}
	dev, _ := webhook.NewVerifier(webhook.InsecureAcceptUnsignedForLocalDevelopment())
	if err := dev.Verify(http.Header{}, body); err != nil {
		t.Errorf("dev verifier on an unsigned body: %v", err)
	}
	bad := http.Header{}
	bad.Set(webhook.LegacySignatureHeader, base64.StdEncoding.EncodeToString([]byte("nope")))
	if err := dev.Verify(bad, body); !errors.Is(err, webhook.ErrInvalidSignature) {
		t.Errorf("dev verifier with a bad signature: %v", err)
	}
	var zero *webhook.Verifier
	if err := zero.Verify(http.Header{}, body); err == nil {
		t.Error("nil verifier accepted a body")
	}
}

func TestKeyFormats(t *testing.T) {
	t.Parallel()
	pub, priv, _ := ed25519.GenerateKey(nil)
	der, _ := x509.MarshalPKIXPublicKey(pub)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	body := []byte(`{"type":"x"}`)
	h := http.Header{}
	h.Set(webhook.SignatureHeader, base64.StdEncoding.EncodeToString(ed25519.Sign(priv, body)))
	for name, k := range map[string]string{
		"pem":         pemKey,
		"base64 raw":  base64.StdEncoding.EncodeToString(pub),
		"hex raw":     hex.EncodeToString(pub),
		"base64 der":  base64.StdEncoding.EncodeToString(der),
		"hex der":     hex.EncodeToString(der),
		"spaced pem":  "\n  " + pemKey + "  \n",
		"url base64":  base64.RawURLEncoding.EncodeToString(pub),
		"upper hex":   strings.ToUpper(hex.EncodeToString(pub)),
		"wrapped b64": base64.StdEncoding.EncodeToString(der)[:20] + "\n" + base64.StdEncoding.EncodeToString(der)[20:],
	} {
		v, err := webhook.NewVerifier(webhook.WithEd25519Key(k))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if err := v.Verify(h, body); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, k := range map[string]string{"empty": "", "garbage": "not a key!", "rsa as ed25519": webhook.PublishedRSAKey} {
		if _, err := webhook.NewVerifier(webhook.WithEd25519Key(k)); err == nil {
			t.Errorf("%s accepted as an Ed25519 key", name)
		}
	}
	if _, err := webhook.ParseRSAKey(webhook.PublishedRSAKey); err != nil {
		t.Errorf("published key: %v", err)
	}

	// RSA keys for the legacy x-wh-signature, PKIX or PKCS#1, each as PEM,
	// base64 DER or hex DER.
	rsaKey := testRSAKeys()[0]
	pkix, err := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)
	legacy := http.Header{}
	legacy.Set(webhook.LegacySignatureHeader, rsaSign(t, rsaKey, body))
	for name, k := range map[string]string{
		"rsa pem pkix":        string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})),
		"rsa pem pkcs1":       string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pkcs1})),
		"rsa base64 pkix":     base64.StdEncoding.EncodeToString(pkix),
		"rsa base64 pkcs1":    base64.StdEncoding.EncodeToString(pkcs1),
		"rsa hex pkix":        hex.EncodeToString(pkix),
		"rsa hex pkcs1":       hex.EncodeToString(pkcs1),
		"rsa url base64 pkix": base64.RawURLEncoding.EncodeToString(pkix),
		"rsa wrapped base64":  base64.StdEncoding.EncodeToString(pkix)[:64] + "\n" + base64.StdEncoding.EncodeToString(pkix)[64:],
	} {
		parsed, err := webhook.ParseRSAKey(k)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !parsed.Equal(&rsaKey.PublicKey) {
			t.Errorf("%s: parsed to another key", name)
		}
		v, err := webhook.NewVerifier(webhook.WithoutPublishedRSAKey(), webhook.WithRSAKey(k))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if err := v.Verify(legacy, body); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, k := range map[string]string{"empty": "", "garbage": "not a key!", "ed25519 as rsa": pemKey, "raw ed25519 as rsa": hex.EncodeToString(pub)} {
		if _, err := webhook.NewVerifier(webhook.WithRSAKey(k)); err == nil {
			t.Errorf("%s accepted as an RSA key", name)
		}
	}
}

func TestVerifierOptionsAndKeys(t *testing.T) {
	t.Parallel()
	srv := contactstest.NewServer()
	defer srv.Close()
	_, fakeRSA := srv.WebhookPublicKeys()
	// An RSA key given before WithoutPublishedRSAKey survives it.
	v, err := webhook.NewVerifier(webhook.WithRSAPublicKey(fakeRSA), webhook.WithoutPublishedRSAKey())
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"type":"x"}`)
	if err := v.Verify(srv.SignWebhook(body), body); err != nil {
		t.Errorf("RSA-only verifier: %v", err)
	}
	// A 1024-bit PKCS#1 key is refused like a PKIX one.
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&small.PublicKey)}))
	if _, err := webhook.ParseRSAKey(p1); err == nil {
		t.Error("a 1024-bit PKCS#1 key was accepted")
	}
	// A nil logger is ignored rather than crashing the handler later.
	h, err := webhook.NewHandler(v, func(context.Context, webhook.Event) error { return nil }, webhook.WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/", strings.NewReader(`{}`)))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("unsigned with a nil logger: %d", rec.Code)
	}
}

func TestLenientInstallNumbers(t *testing.T) {
	t.Parallel()
	ev, err := webhook.Parse([]byte(`{"type":"INSTALL","appId":"a","trial":{"onTrial":true,"trialDuration":7.5},"whitelabelDetails":{"domain":"x.com","enabled":true}}`))
	if err != nil {
		t.Fatal(err)
	}
	in := ev.(*webhook.Install)
	if in.Trial.TrialDuration != 7.5 || in.WhitelabelDetails["enabled"] != true {
		t.Errorf("install = %+v", in)
	}
}
