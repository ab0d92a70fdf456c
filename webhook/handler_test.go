package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gymflow/contacts-go/webhook"
)

// noteBody returns a NoteCreate delivery with the given webhookId and
// timestamp (milliseconds, UTC, as the API writes it), padded with spaces
// before the closing brace to size bytes if size is larger.
func noteBody(id string, ts time.Time, size int) []byte {
	body := fmt.Appendf(nil, `{"type":"NoteCreate","locationId":"Gf7kR2pLq9XwT4bN8cVd","id":"Nt6yH9jK2lZ5xC8vB1nM","body":"Prefers evening classes.","contactId":"pQ3mZ8rT1vLx6NcW2kBa","dateAdded":"2025-06-02T14:29:56.001Z","timestamp":%q,"webhookId":%q`,
		ts.UTC().Format("2006-01-02T15:04:05.000Z07:00"), id)
	if pad := size - len(body) - 1; pad > 0 {
		body = append(body, bytes.Repeat([]byte(" "), pad)...)
	}
	return append(body, '}')
}

// signedNote returns a POST of noteBody(id, ts) signed with fuzzKey.
func signedNote(t testing.TB, id string, ts time.Time) *http.Request {
	t.Helper()
	return signedRequest(noteBody(id, ts, 0))
}

func signedRequest(body []byte) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/webhooks/contacts", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhook.SignatureHeader, fuzzSign(body))
	return req
}

// countingHandler returns a Handler trusting fuzzKey with its clock at
// fuzzNow, and the number of times it called the application.
func countingHandler(t *testing.T, opts ...webhook.HandlerOption) (*webhook.Handler, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	h, err := webhook.NewHandler(fuzzVerifier(t), func(context.Context, webhook.Event) error {
		calls.Add(1)
		return nil
	}, append([]webhook.HandlerOption{webhook.WithClock(func() time.Time { return fuzzNow })}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return h, &calls
}

// wantCalls is how many times the application is called for a delivery
// answered with status.
func wantCalls(status int) int32 {
	if status == http.StatusOK {
		return 1
	}
	return 0
}

func TestReplayWindow(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		window time.Duration // 0: the default
		age    time.Duration // now - timestamp; negative: from the future
		want   int
	}{
		{"1-minute window, 2 minutes old", time.Minute, 2 * time.Minute, http.StatusUnauthorized},
		{"1-minute window, 2 minutes ahead", time.Minute, -2 * time.Minute, http.StatusUnauthorized},
		{"1-minute window, 59 s old", time.Minute, 59 * time.Second, http.StatusOK},
		{"10-minute window, 2 minutes old", 10 * time.Minute, 2 * time.Minute, http.StatusOK},
		{"10-minute window, 9 minutes old", 10 * time.Minute, 9 * time.Minute, http.StatusOK},
		{"10-minute window, 11 minutes old", 10 * time.Minute, 11 * time.Minute, http.StatusUnauthorized},
		{"default, just inside 5 minutes", 0, 5*time.Minute - time.Millisecond, http.StatusOK},
		{"default, just past 5 minutes", 0, 5*time.Minute + time.Millisecond, http.StatusUnauthorized},
		{"default, just inside 5 minutes ahead", 0, -5*time.Minute + time.Millisecond, http.StatusOK},
		{"default, just past 5 minutes ahead", 0, -5*time.Minute - time.Millisecond, http.StatusUnauthorized},
		{"default, 2 minutes old", 0, 2 * time.Minute, http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var opts []webhook.HandlerOption
			if tc.window != 0 {
				opts = append(opts, webhook.WithReplayWindow(tc.window))
			}
			h, calls := countingHandler(t, opts...)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, signedNote(t, "wh-window", fuzzNow.Add(-tc.age)))
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d (%s)", rec.Code, tc.want, strings.TrimSpace(rec.Body.String()))
			}
			if got, want := calls.Load(), wantCalls(tc.want); got != want {
				t.Errorf("application called %d times, want %d", got, want)
			}
		})
	}
	if webhook.DefaultReplayWindow != 5*time.Minute {
		t.Errorf("DefaultReplayWindow = %s, want 5m", webhook.DefaultReplayWindow)
	}
}

// readCounter counts the bytes read from it.
type readCounter struct {
	r io.Reader
	n atomic.Int64
}

func (c *readCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func TestBodyCap(t *testing.T) {
	t.Parallel()
	const mib = 1 << 20
	if webhook.DefaultMaxBodyBytes != mib {
		t.Errorf("DefaultMaxBodyBytes = %d, want 1 MiB", webhook.DefaultMaxBodyBytes)
	}
	atCap, overCap := noteBody("wh-big", fuzzNow, mib), noteBody("wh-big", fuzzNow, mib+1)
	if len(atCap) != mib || len(overCap) != mib+1 {
		t.Fatalf("bodies of %d and %d bytes", len(atCap), len(overCap))
	}
	// Bodies over the cap are signed, so that only the cap can refuse them.
	// Bodies of 1 MiB carry a wrong signature: 401 shows they passed the
	// cap and reached the signature check (decoding 1 MiB under -race
	// would slow the suite); the custom cap shows a body at the cap
	// handled end to end.
	wrongSig := fuzzSign([]byte("another body"))
	cases := []struct {
		name          string
		body          []byte
		sig           string // "": a valid signature
		contentLength int64  // -1: unknown, as with chunked encoding
		opts          []webhook.HandlerOption
		want          int
	}{
		{"1 MiB with Content-Length", atCap, wrongSig, mib, nil, http.StatusUnauthorized},
		{"1 MiB without Content-Length", atCap, wrongSig, -1, nil, http.StatusUnauthorized},
		{"1 MiB + 1 with Content-Length", overCap, "", mib + 1, nil, http.StatusRequestEntityTooLarge},
		{"1 MiB + 1 without Content-Length", overCap, "", -1, nil, http.StatusRequestEntityTooLarge},
		{"custom cap, 1 byte over, no Content-Length", noteBody("wh-small", fuzzNow, 1001), "", -1,
			[]webhook.HandlerOption{webhook.WithMaxBodyBytes(1000)}, http.StatusRequestEntityTooLarge},
		{"custom cap, 1 byte over", noteBody("wh-small", fuzzNow, 1001), "", 1001,
			[]webhook.HandlerOption{webhook.WithMaxBodyBytes(1000)}, http.StatusRequestEntityTooLarge},
		{"custom cap, at the cap, no Content-Length", noteBody("wh-small", fuzzNow, 1000), "", -1,
			[]webhook.HandlerOption{webhook.WithMaxBodyBytes(1000)}, http.StatusOK},
		{"custom cap, at the cap", noteBody("wh-small", fuzzNow, 1000), "", 1000,
			[]webhook.HandlerOption{webhook.WithMaxBodyBytes(1000)}, http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, calls := countingHandler(t, tc.opts...)
			req := signedRequest(tc.body)
			if tc.sig != "" {
				req.Header.Set(webhook.SignatureHeader, tc.sig)
			}
			req.ContentLength = tc.contentLength
			if tc.contentLength < 0 {
				req.Body = io.NopCloser(struct{ io.Reader }{bytes.NewReader(tc.body)}) // no length to peek at
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d (%s)", rec.Code, tc.want, strings.TrimSpace(rec.Body.String()))
			}
			if got, want := calls.Load(), wantCalls(tc.want); got != want {
				t.Errorf("application called %d times, want %d", got, want)
			}
		})
	}

	t.Run("declared too large, not read", func(t *testing.T) {
		t.Parallel()
		h, calls := countingHandler(t)
		body := &readCounter{r: bytes.NewReader(overCap)}
		req := signedRequest(overCap)
		req.Body = io.NopCloser(body)
		req.ContentLength = mib + 1
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusRequestEntityTooLarge || body.n.Load() != 0 || calls.Load() != 0 {
			t.Errorf("status %d after reading %d bytes and %d calls, want 413 without reading", rec.Code, body.n.Load(), calls.Load())
		}
	})

	t.Run("chunked over the wire", func(t *testing.T) {
		t.Parallel()
		h, calls := countingHandler(t)
		var declared atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			declared.Store(r.ContentLength)
			h.ServeHTTP(w, r)
		}))
		defer srv.Close()
		// A reader of unknown length: the client sends it chunked.
		req, err := http.NewRequest(http.MethodPost, srv.URL, io.MultiReader(bytes.NewReader(overCap)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(webhook.SignatureHeader, fuzzSign(overCap))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if declared.Load() != -1 {
			t.Fatalf("the server saw Content-Length %d, want none (chunked)", declared.Load())
		}
		if resp.StatusCode != http.StatusRequestEntityTooLarge || calls.Load() != 0 {
			t.Errorf("status %d, %d calls; want 413", resp.StatusCode, calls.Load())
		}
	})
}

func TestVerifyAndParse(t *testing.T) {
	t.Parallel()
	v := fuzzVerifier(t)
	body := noteBody("wh-vp", fuzzNow, 0)
	good := http.Header{}
	good.Set(webhook.SignatureHeader, fuzzSign(body))
	other := http.Header{}
	other.Set(webhook.SignatureHeader, fuzzSign(append(bytes.Clone(body), ' ')))
	garbage := http.Header{}
	garbage.Set(webhook.SignatureHeader, "bm90IGEgc2lnbmF0dXJl")
	forgedLegacy := http.Header{} // the published RSA key's signature cannot be forged
	forgedLegacy.Set(webhook.LegacySignatureHeader, fuzzSign(body))

	for _, tc := range []struct {
		name string
		h    http.Header
		want error
	}{
		{"missing", http.Header{}, webhook.ErrMissingSignature},
		{"signature of another body", other, webhook.ErrInvalidSignature},
		{"garbage signature", garbage, webhook.ErrInvalidSignature},
		{"forged legacy signature", forgedLegacy, webhook.ErrInvalidSignature},
	} {
		ev, err := webhook.VerifyAndParse(v, tc.h, body)
		if !errors.Is(err, tc.want) || ev != nil {
			t.Errorf("%s: %T, %v; want no event and %v", tc.name, ev, err, tc.want)
		}
	}
	// A valid signature over a body that is not an event.
	junk := []byte(`{"no":"type"}`)
	jh := http.Header{}
	jh.Set(webhook.SignatureHeader, fuzzSign(junk))
	if ev, err := webhook.VerifyAndParse(v, jh, junk); !errors.Is(err, webhook.ErrMalformed) || ev != nil {
		t.Errorf("signed junk: %T, %v; want no event and ErrMalformed", ev, err)
	}

	ev, err := webhook.VerifyAndParse(v, good, body)
	if err != nil {
		t.Fatal(err)
	}
	n, ok := ev.(*webhook.NoteCreate)
	if !ok {
		t.Fatalf("event %T, want *webhook.NoteCreate", ev)
	}
	if n.WebhookID != "wh-vp" || !n.Timestamp.Equal(fuzzNow) || n.LocationID != "Gf7kR2pLq9XwT4bN8cVd" ||
		n.Note.ID != "Nt6yH9jK2lZ5xC8vB1nM" || n.Note.ContactID != "pQ3mZ8rT1vLx6NcW2kBa" || n.Note.Body != "Prefers evening classes." ||
		!bytes.Equal(n.Raw, body) {
		t.Errorf("parsed %+v", n)
	}
	// No replay or duplicate check: a stale delivery, twice, still parses.
	stale := noteBody("wh-vp", fuzzNow.Add(-time.Hour), 0)
	sh := http.Header{}
	sh.Set(webhook.SignatureHeader, fuzzSign(stale))
	for range 2 {
		if _, err := webhook.VerifyAndParse(v, sh, stale); err != nil {
			t.Errorf("stale delivery: %v", err)
		}
	}
}

// rsaOnlyRequest returns a POST of body carrying only the legacy
// x-wh-signature sig.
func rsaOnlyRequest(body []byte, sig string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/webhooks/contacts", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhook.LegacySignatureHeader, sig)
	return req
}

// TestLegacyRSAVerifiesTheRawBody: a delivery signed only with the legacy
// x-wh-signature is verified over the exact bytes received. A changed
// byte, and a change of whitespace alone (the same JSON value, re-indented
// or compacted), are refused with 401 and never reach the application.
func TestLegacyRSAVerifiesTheRawBody(t *testing.T) {
	t.Parallel()
	key := testRSAKeys()[0]
	compact := noteBody("wh-rsa-compact", fuzzNow, 0) // as the API sends it
	compactSig := rsaSign(t, key, compact)
	var buf bytes.Buffer
	if err := json.Indent(&buf, noteBody("wh-rsa-indented", fuzzNow, 0), "", "  "); err != nil {
		t.Fatal(err)
	}
	indented := buf.Bytes() // a body signed as sent, whitespace and all
	indentedSig := rsaSign(t, key, indented)

	reindented := func(b []byte) []byte {
		var out bytes.Buffer
		if err := json.Indent(&out, b, "", "\t"); err != nil {
			t.Fatal(err)
		}
		return out.Bytes()
	}
	compacted := func(b []byte) []byte {
		var out bytes.Buffer
		if err := json.Compact(&out, b); err != nil {
			t.Fatal(err)
		}
		return out.Bytes()
	}
	tampered := bytes.Replace(compact, []byte("evening"), []byte("Evening"), 1)
	cases := []struct {
		name       string
		body       []byte
		sig        string
		whitespace bool // the same JSON value as the signed body
	}{
		{"a tampered byte", tampered, compactSig, false},
		{"the signed compact body re-indented", reindented(compact), compactSig, true},
		{"the signed compact body with a trailing newline", append(bytes.Clone(compact), '\n'), compactSig, true},
		{"the signed compact body with a space after a colon", bytes.Replace(compact, []byte(`"type":`), []byte(`"type": `), 1), compactSig, true},
		{"the signed indented body compacted", compacted(indented), indentedSig, true},
		{"the signed indented body re-indented", reindented(indented), indentedSig, true},
	}
	for _, tc := range cases {
		signed := compact
		if tc.sig == indentedSig {
			signed = indented
		}
		if bytes.Equal(tc.body, signed) {
			t.Fatalf("%s: the body is the signed one: the case proves nothing", tc.name)
		}
		if same := bytes.Equal(compacted(tc.body), compacted(signed)); same != tc.whitespace {
			t.Fatalf("%s: same JSON value as the signed body: %t, want %t", tc.name, same, tc.whitespace)
		}
	}

	rsaOnly, err := webhook.NewVerifier(webhook.WithoutPublishedRSAKey(), webhook.WithRSAPublicKey(&key.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	both, err := webhook.NewVerifier(webhook.WithEd25519PublicKey(fuzzPublic()), webhook.WithRSAPublicKey(&key.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]*webhook.Verifier{"RSA key only": rsaOnly, "Ed25519 and RSA keys": both} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			h, err := webhook.NewHandler(v, func(context.Context, webhook.Event) error {
				calls.Add(1)
				return nil
			}, webhook.WithClock(func() time.Time { return fuzzNow }))
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range cases {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, rsaOnlyRequest(tc.body, tc.sig))
				if rec.Code != http.StatusUnauthorized {
					t.Errorf("%s: status %d, want 401 (%s)", tc.name, rec.Code, strings.TrimSpace(rec.Body.String()))
				}
				if err := v.Verify(rsaOnlyRequest(tc.body, tc.sig).Header, tc.body); !errors.Is(err, webhook.ErrInvalidSignature) {
					t.Errorf("%s: Verify = %v, want ErrInvalidSignature", tc.name, err)
				}
			}
			if n := calls.Load(); n != 0 {
				t.Fatalf("%d rejected deliveries reached the application", n)
			}
			// The genuine deliveries, byte for byte as signed, pass.
			for i, d := range []struct {
				body []byte
				sig  string
			}{{compact, compactSig}, {indented, indentedSig}} {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, rsaOnlyRequest(d.body, d.sig))
				if rec.Code != http.StatusOK || calls.Load() != int32(i+1) {
					t.Errorf("genuine delivery %d: status %d after %d calls, want 200 and %d", i, rec.Code, calls.Load(), i+1)
				}
			}
		})
	}
}

// TestLateRedeliveryRule: a delivery whose timestamp is outside the
// replay window is processed only when it is the redelivery of a webhookId
// whose earlier delivery failed here (the API redelivers only after our
// 429, with the original body and timestamp, and the event was never
// applied), and then exactly once. A late delivery of an ID never seen is
// refused as stale; a late repeat of a processed one is acknowledged
// without calling the application.
func TestLateRedeliveryRule(t *testing.T) {
	t.Parallel()
	for name, newStore := range map[string]func(t *testing.T) webhook.DedupStore{
		"memory": func(*testing.T) webhook.DedupStore { return webhook.NewMemoryDedup(0, 0) },
		"sql":    func(t *testing.T) webhook.DedupStore { return openSQLDedup(t, t.TempDir()+"/dedup.db") },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			now := fuzzNow
			calls, handled := map[string]int{}, map[string]int{}
			failing := map[string]bool{"wh-failed": true}
			h, err := webhook.NewHandler(fuzzVerifier(t), func(_ context.Context, ev webhook.Event) error {
				mu.Lock()
				defer mu.Unlock()
				id := ev.Info().WebhookID
				calls[id]++
				if failing[id] {
					return errors.New("database down")
				}
				handled[id]++
				return nil
			}, webhook.WithClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now }), webhook.WithDedupStore(newStore(t)))
			if err != nil {
				t.Fatal(err)
			}
			at := func(d time.Duration) {
				mu.Lock()
				now = fuzzNow.Add(d)
				mu.Unlock()
			}
			late := 10 * time.Minute // twice the default replay window
			failed := noteBody("wh-failed", fuzzNow, 0)
			processed := noteBody("wh-processed", fuzzNow, 0)
			unknown := noteBody("wh-unknown", fuzzNow, 0)
			steps := []struct {
				name  string
				at    time.Duration
				body  []byte
				fix   bool // the application recovers before this delivery
				want  int
				calls map[string]int
			}{
				{"failing delivery, in time", 0, failed, false, http.StatusTooManyRequests, map[string]int{"wh-failed": 1}},
				{"processed delivery, in time", 0, processed, false, http.StatusOK, map[string]int{"wh-failed": 1, "wh-processed": 1}},
				{"late redelivery of the failed id", late, failed, true, http.StatusOK, map[string]int{"wh-failed": 2, "wh-processed": 1}},
				{"late repeat of the failed id, now processed", 2 * late, failed, false, http.StatusOK, map[string]int{"wh-failed": 2, "wh-processed": 1}},
				{"late repeat of the processed id", late, processed, false, http.StatusOK, map[string]int{"wh-failed": 2, "wh-processed": 1}},
				{"late delivery of an unknown id", late, unknown, false, http.StatusUnauthorized, map[string]int{"wh-failed": 2, "wh-processed": 1}},
				{"late delivery of the unknown id again", 2 * late, unknown, false, http.StatusUnauthorized, map[string]int{"wh-failed": 2, "wh-processed": 1}},
			}
			for _, s := range steps {
				at(s.at)
				if s.fix {
					mu.Lock()
					failing["wh-failed"] = false
					mu.Unlock()
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, signedRequest(s.body))
				if rec.Code != s.want {
					t.Errorf("%s: status %d, want %d (%s)", s.name, rec.Code, s.want, strings.TrimSpace(rec.Body.String()))
				}
				mu.Lock()
				got := fmt.Sprint(calls)
				mu.Unlock()
				if want := fmt.Sprint(s.calls); got != want {
					t.Fatalf("%s: application calls %s, want %s", s.name, got, want)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if handled["wh-failed"] != 1 || handled["wh-processed"] != 1 || handled["wh-unknown"] != 0 {
				t.Errorf("events applied %v, want wh-failed and wh-processed once each", handled)
			}
		})
	}
}
