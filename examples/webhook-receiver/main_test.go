package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gymflow/contacts-go/webhook"
)

// eventKinds are the kinds the demonstration must print, in order.
var eventKinds = []string{
	"INSTALL", "ContactCreate", "ContactTagUpdate", "ContactUpdate", "ContactDndUpdate",
	"TaskCreate", "TaskComplete", "TaskDelete", "NoteCreate", "NoteUpdate", "NoteDelete",
	"AppointmentCreate", "ContactDelete", "UNINSTALL",
}

// printedKinds returns the kinds of the event lines of out, in order.
func printedKinds(out string) []string {
	all := append([]string{"AppointmentUpdate", "AppointmentDelete", "Unknown", "Unexpected"}, eventKinds...)
	var kinds []string
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) > 0 && slices.Contains(all, f[0]) {
			kinds = append(kinds, f[0])
		}
	}
	return kinds
}

func TestDemonstrationPrintsEveryEventOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"memory dedup", nil},
		{"SQLite dedup", []string{"-dedup-db", filepath.Join(t.TempDir(), "webhooks.db")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(keyEnv, "")
			var out strings.Builder
			if err := run(t.Context(), append([]string{"-listen", "127.0.0.1:0"}, tc.args...), &out); err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			text := out.String()
			if got := printedKinds(text); !slices.Equal(got, eventKinds) {
				t.Errorf("printed events\n  %v\nwant\n  %v\noutput:\n%s", got, eventKinds, text)
			}
			if !strings.Contains(text, `ContactUpdate      contact `) || !strings.Contains(text, `"Ana Lima Sousa" <ana.lima@example.com> tags=[member] dnd=true`) {
				t.Errorf("the update's snapshot is not printed:\n%s", text)
			}
			want := fmt.Sprintf("%d deliveries verified and acknowledged; %d were duplicates", 2*len(eventKinds), len(eventKinds))
			if !strings.Contains(text, want) {
				t.Errorf("output lacks %q:\n%s", want, text)
			}
			if strings.Contains(text, "level=") {
				t.Errorf("the handler logged a rejection:\n%s", text)
			}
		})
	}
}

// lockedBuffer is an io.Writer the test can read while run writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestServeVerifiesRealDeliveries(t *testing.T) {
	seed := sha256.Sum256([]byte("webhook-receiver test key"))
	key := ed25519.NewKeyFromSeed(seed[:])
	pub := base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	t.Setenv(keyEnv, pub) // the environment alone switches to serving

	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	log := &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0"}, io.MultiWriter(pw, log))
		pw.Close()
	}()
	var url string
	sc := bufio.NewScanner(pr)
	for url == "" && sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Listening on "); ok {
			url = strings.Fields(rest)[0]
		}
	}
	go io.Copy(io.Discard, pr)
	if url == "" {
		t.Fatalf("no address printed:\n%s", log.String())
	}

	body := fmt.Appendf(nil, `{"type":"NoteCreate","locationId":"loc1","id":"n1","body":"Hello","contactId":"c1","timestamp":%q,"webhookId":"w-1"}`,
		time.Now().UTC().Format(time.RFC3339Nano))
	post := func(sig string) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if sig != "" {
			req.Header.Set(webhook.SignatureHeader, sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	forged := base64.StdEncoding.EncodeToString(ed25519.Sign(key, append(bytes.Clone(body), ' ')))
	genuine := base64.StdEncoding.EncodeToString(ed25519.Sign(key, body))
	for _, step := range []struct {
		name string
		sig  string
		want int
	}{
		{"unsigned", "", http.StatusUnauthorized},
		{"forged", forged, http.StatusUnauthorized},
		{"genuine", genuine, http.StatusOK},
		{"redelivered", genuine, http.StatusOK},
	} {
		if got := post(step.sig); got != step.want {
			t.Errorf("%s delivery: status %d, want %d", step.name, got, step.want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancellation")
	}
	if n := strings.Count(log.String(), "NoteCreate         note n1 \"Hello\" of contact c1"); n != 1 {
		t.Errorf("the note was printed %d times, want once:\n%s", n, log.String())
	}
}
