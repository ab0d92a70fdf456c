package webhook_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gymflow/contacts-go/webhook"
)

// The fuzz targets' seed corpus is in testdata/fuzz/<target>/: a realistic
// body for every event type plus malformed ones. It runs as part of
// go test; to fuzz, e.g.:
//
//	go test -run '^$' -fuzz FuzzParse -fuzztime 30s ./webhook/

// fuzzKey is the fuzz targets' fixed Ed25519 key pair, from a fixed seed,
// so that the committed corpus holds valid signatures.
var fuzzKey = ed25519.NewKeyFromSeed(func() []byte {
	s := sha256.Sum256([]byte("contacts-go webhook fuzz key"))
	return s[:]
}())

func fuzzPublic() ed25519.PublicKey { return fuzzKey.Public().(ed25519.PublicKey) }

// fuzzSign returns the x-ghl-signature of body under fuzzKey.
func fuzzSign(body []byte) string {
	return base64.StdEncoding.EncodeToString(ed25519.Sign(fuzzKey, body))
}

// fuzzNow is the fuzz handler's clock; the seed bodies' timestamps are
// within a minute of it.
var fuzzNow = time.Date(2025, 6, 2, 14, 30, 0, 0, time.UTC)

// fuzzVerifier trusts fuzzKey and the published RSA key, whose private
// key nobody here has: a forged x-wh-signature must never pass.
func fuzzVerifier(t testing.TB) *webhook.Verifier {
	t.Helper()
	v, err := webhook.NewVerifier(webhook.WithEd25519PublicKey(fuzzPublic()))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// eventGoType is the Go type Parse must return for each known type.
var eventGoType = map[string]string{
	webhook.TypeContactCreate:     "*webhook.ContactCreate",
	webhook.TypeContactUpdate:     "*webhook.ContactUpdate",
	webhook.TypeContactDelete:     "*webhook.ContactDelete",
	webhook.TypeContactTagUpdate:  "*webhook.ContactTagUpdate",
	webhook.TypeContactDndUpdate:  "*webhook.ContactDndUpdate",
	webhook.TypeTaskCreate:        "*webhook.TaskCreate",
	webhook.TypeTaskComplete:      "*webhook.TaskComplete",
	webhook.TypeTaskDelete:        "*webhook.TaskDelete",
	webhook.TypeNoteCreate:        "*webhook.NoteCreate",
	webhook.TypeNoteUpdate:        "*webhook.NoteUpdate",
	webhook.TypeNoteDelete:        "*webhook.NoteDelete",
	webhook.TypeAppointmentCreate: "*webhook.AppointmentCreate",
	webhook.TypeAppointmentUpdate: "*webhook.AppointmentUpdate",
	webhook.TypeAppointmentDelete: "*webhook.AppointmentDelete",
	webhook.TypeInstall:           "*webhook.Install",
	webhook.TypeUninstall:         "*webhook.Uninstall",
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		``,
		`null`,
		`{"type":"ContactCreate","locationId":"loc1","id":"c1","email":"ana@example.com","timestamp":"2025-06-02T14:29:58.120Z","webhookId":"w1"}`,
		`{"type":"TaskComplete","id":"t1","contactId":"c1","title":"Call","dueDate":1748874600000}`,
		`{"type":"SomethingNew","x":[1,2,3]}`,
		`{"type":"INSTALL","appId":"a","trial":{"trialDuration":1e400}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		in := bytes.Clone(body)
		ev, err := webhook.Parse(in)
		if err != nil {
			if ev != nil {
				t.Errorf("Parse returned an event (%T) with the error %v", ev, err)
			}
			if !errors.Is(err, webhook.ErrMalformed) {
				t.Errorf("Parse error %v is not ErrMalformed", err)
			}
			return
		}
		if ev == nil {
			t.Fatal("Parse returned neither an event nor an error")
		}
		m := ev.Info()
		if m == nil || m.Type == "" {
			t.Fatalf("Parse returned %T with no type", ev)
		}
		if !bytes.Equal(m.Raw, body) {
			t.Fatalf("Raw = %q, want the input %q", m.Raw, body)
		}
		if !json.Valid(body) {
			t.Errorf("Parse accepted invalid JSON %q", body)
		}
		want, known := eventGoType[m.Type]
		if !known {
			want = "*webhook.Unknown"
		}
		if got := fmt.Sprintf("%T", ev); got != want {
			t.Errorf("type %q parsed as %s, want %s", m.Type, got, want)
		}
		if len(in) > 0 { // Raw is a copy, not the caller's buffer
			in[0] ^= 0xff
			if !bytes.Equal(m.Raw, body) {
				t.Error("Raw aliases the input buffer")
			}
		}
	})
}

// acceptable reports whether header is an encoding of the one signature
// fuzzKey makes for body (Ed25519 signatures are deterministic, and the
// verifier accepts standard or URL base64, padded or not).
func acceptable(header string, body []byte) bool {
	want := ed25519.Sign(fuzzKey, body)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if got, err := enc.DecodeString(strings.TrimSpace(header)); err == nil && bytes.Equal(got, want) {
			return true
		}
	}
	return false
}

func FuzzVerify(f *testing.F) {
	body := []byte(`{"type":"NoteCreate","locationId":"loc1","id":"n1","body":"Prefers evening classes","contactId":"c1","timestamp":"2025-06-02T14:29:58.120Z","webhookId":"w2"}`)
	f.Add(body, fuzzSign(body), "")
	f.Add(body, fuzzSign(body[1:]), "")
	f.Add(body, "", "")
	f.Add(body, "", base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 512)))
	f.Add([]byte{}, fuzzSign(nil), "")
	f.Add(body, strings.TrimRight(base64.URLEncoding.EncodeToString(ed25519.Sign(fuzzKey, body)), "="), "")
	f.Add(body, " "+fuzzSign(body)+"\t", "x")

	v := fuzzVerifier(f)
	// rsaKey signs the legacy scheme's half of the property; rsaOnly
	// trusts it alone. RSA PKCS#1 v1.5 signatures are deterministic too.
	rsaKey := testRSAKeys()[0]
	rsaOnly, err := webhook.NewVerifier(webhook.WithoutPublishedRSAKey(), webhook.WithRSAPublicKey(&rsaKey.PublicKey))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, sig, legacy string) {
		h := http.Header{}
		if sig != "" {
			h[webhook.SignatureHeader] = []string{sig}
		}
		if legacy != "" {
			h[webhook.LegacySignatureHeader] = []string{legacy}
		}
		err := v.Verify(h, body)
		if err == nil && !acceptable(h.Get(webhook.SignatureHeader), body) {
			t.Fatalf("accepted body %q with x-ghl-signature %q and x-wh-signature %q, not signed by the key", body, sig, legacy)
		}
		if err != nil && !errors.Is(err, webhook.ErrInvalidSignature) && !errors.Is(err, webhook.ErrMissingSignature) {
			t.Fatalf("Verify error %v is neither ErrInvalidSignature nor ErrMissingSignature", err)
		}

		// The genuine signature passes, whatever the legacy header says,
		// and does not verify another body.
		h.Set(webhook.SignatureHeader, fuzzSign(body))
		if err := v.Verify(h, body); err != nil {
			t.Fatalf("the genuine signature of %q was rejected: %v", body, err)
		}
		other := append(bytes.Clone(body), ' ')
		if err := v.Verify(h, other); err == nil {
			t.Fatalf("the signature of %q verified %q", body, other)
		}

		// The legacy scheme alone (no x-ghl-signature): the x-wh-signature
		// covers the raw bytes too. Only the genuine signature passes, and
		// it verifies no other body, not even one differing by whitespace.
		rsaSig := rsaSign(t, rsaKey, body)
		lh := http.Header{}
		if legacy != "" {
			lh[webhook.LegacySignatureHeader] = []string{legacy}
		}
		if err := rsaOnly.Verify(lh, body); err == nil && !acceptableRSA(legacy, rsaSig) {
			t.Fatalf("accepted body %q with x-wh-signature %q, not signed by the key", body, legacy)
		}
		lh.Set(webhook.LegacySignatureHeader, rsaSig)
		if err := rsaOnly.Verify(lh, body); err != nil {
			t.Fatalf("the genuine x-wh-signature of %q was rejected: %v", body, err)
		}
		for _, other := range [][]byte{append(bytes.Clone(body), ' '), append([]byte{'\n'}, body...)} {
			if err := rsaOnly.Verify(lh, other); !errors.Is(err, webhook.ErrInvalidSignature) {
				t.Fatalf("the x-wh-signature of %q verified %q: %v", body, other, err)
			}
		}
	})
}

// acceptableRSA reports whether header is an encoding of the x-wh-signature
// want.
func acceptableRSA(header, want string) bool {
	w, err := base64.StdEncoding.DecodeString(want)
	if err != nil {
		return false
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if got, err := enc.DecodeString(strings.TrimSpace(header)); err == nil && bytes.Equal(got, w) {
			return true
		}
	}
	return false
}

// handlerStatuses are the answers a Handler may give.
var handlerStatuses = map[int]bool{200: true, 400: true, 401: true, 405: true, 413: true, 429: true}

// FuzzHandler posts arbitrary bodies, signed with fuzzKey when sign is
// true and under the signature header sig otherwise, to a Handler whose
// clock is fuzzNow: it must answer one of its documented statuses and call
// the application only with verified, well-formed, fresh events.
func FuzzHandler(f *testing.F) {
	f.Add([]byte(`{"type":"ContactDelete","locationId":"loc1","id":"c1","timestamp":"2025-06-02T14:29:58.120Z","webhookId":"w3"}`), "", true)
	f.Add([]byte(`{"type":"ContactDelete","locationId":"loc1","id":"c1","timestamp":"2025-06-02T13:00:00Z","webhookId":"w3"}`), "", true)
	f.Add([]byte(`{"type":"ContactDelete","locationId":"loc1","id":"c1","timestamp":"2025-06-02T14:29:58.120Z"}`), "", true)
	f.Add([]byte(`{"type":"ContactDelete","timestamp":"2025-06-02T14:29:58.120Z","webhookId":"w3"}`), "AAAA", false)
	f.Add([]byte(`{"type":`), "", true)

	v := fuzzVerifier(f)
	f.Fuzz(func(t *testing.T, body []byte, sig string, sign bool) {
		if sign {
			sig = fuzzSign(body)
		}
		calls := 0
		h, err := webhook.NewHandler(v, func(_ context.Context, ev webhook.Event) error {
			calls++
			m := ev.Info()
			if !acceptable(sig, body) {
				t.Errorf("the application got an event with a forged signature %q", sig)
			}
			if !bytes.Equal(m.Raw, body) || m.WebhookID == "" {
				t.Errorf("the application got %T %+v", ev, m)
			}
			if d := m.Timestamp.Sub(fuzzNow).Abs(); d > webhook.DefaultReplayWindow || m.Timestamp.IsZero() {
				t.Errorf("the application got a stale event (%s)", m.Timestamp)
			}
			return nil
		}, webhook.WithClock(func() time.Time { return fuzzNow }), webhook.WithMaxBodyBytes(64<<10))
		if err != nil {
			t.Fatal(err)
		}
		for attempt := range 2 { // a redelivery is acknowledged without a second call
			req := httptest.NewRequest(http.MethodPost, "/webhooks", bytes.NewReader(body))
			if sig != "" {
				req.Header[webhook.SignatureHeader] = []string{sig}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if !handlerStatuses[rec.Code] {
				t.Fatalf("status %d", rec.Code)
			}
			if rec.Code == http.StatusOK && calls != 1 {
				t.Fatalf("attempt %d: 200 after %d application calls", attempt, calls)
			}
			if rec.Code != http.StatusOK && calls != 0 {
				t.Fatalf("attempt %d: status %d after the application handled the event", attempt, rec.Code)
			}
		}
	})
}
