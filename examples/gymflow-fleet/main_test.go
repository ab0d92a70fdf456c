package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gymflow/contacts-go/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

func noEnv(string) string { return "" }

// syncBuffer is an io.Writer read while it is written.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func checkRun(t *testing.T, out string, locations int) {
	t.Helper()
	rows := regexp.MustCompile(`(?m)^gym-\d{4} +(\d+) +(\d+) +(\d+) `).FindAllStringSubmatch(out, -1)
	if len(rows) != locations {
		t.Fatalf("%d rows in the table, want %d:\n%s", len(rows), locations, out)
	}
	for _, r := range rows {
		if r[1] != "30" || r[3] != "0" {
			t.Errorf("row %q: want 30 members and no 429", r[0])
		}
	}
	if !strings.Contains(out, "0 × 429") {
		t.Errorf("no summary:\n%s", out)
	}
}

func TestRunSQLite(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"-locations", "3", "-members", "30", "-data", t.TempDir()}, &out, io.Discard, noEnv)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	checkRun(t, out.String(), 3)
	if !strings.Contains(out.String(), "embedded SQLite") {
		t.Errorf("not on SQLite:\n%s", out.String())
	}
}

func TestRunPostgres(t *testing.T) {
	url := pgtest.URL(t)
	var out bytes.Buffer
	env := func(k string) string {
		if k == "DATABASE_URL" {
			return url
		}
		return ""
	}
	if err := run(context.Background(), []string{"-locations", "3", "-members", "30"}, &out, io.Discard, env); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	checkRun(t, out.String(), 3)
	if !strings.Contains(out.String(), "PostgreSQL") {
		t.Errorf("not on PostgreSQL:\n%s", out.String())
	}
}

// While it runs, /metrics has the fleet's per-location metrics and /jobs
// River's jobs.
func TestMetricsAndJobsPages(t *testing.T) {
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), []string{"-locations", "2", "-members", "90", "-http", "127.0.0.1:0", "-data", t.TempDir()}, out, io.Discard, noEnv)
	}()
	var base string
	for deadline := time.Now().Add(30 * time.Second); base == ""; time.Sleep(10 * time.Millisecond) {
		if m := regexp.MustCompile(`serving (http://[^/]+)/metrics`).FindStringSubmatch(out.String()); m != nil {
			base = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no address:\n%s", out.String())
		}
	}
	get := func(path string) string {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	var metrics string
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(metrics, `contactsync_fleet_api_calls_total{location="gym-0001",side="outbound"}`); time.Sleep(50 * time.Millisecond) {
		metrics = get("/metrics")
		if time.Now().After(deadline) {
			t.Fatalf("no per-location calls in /metrics:\n%s", metrics)
		}
	}
	for _, want := range []string{`contactsync_contacts_created_total{location="gym-0001"}`, `contactsync_fleet_queue_depth{location=`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if jobs := get("/jobs"); !strings.Contains(jobs, "contactsync_outbound") || !strings.Contains(jobs, `{&#34;location&#34;:&#34;gym-0001&#34;}`) {
		t.Errorf("/jobs:\n%s", jobs)
	}
	if err := <-done; err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
}

func TestFlagsRefused(t *testing.T) {
	for _, args := range [][]string{
		{"-locations", "0"}, {"-members", "-1"}, {"-per-tx", "0"}, {"-database", "mysql://x"}, {"extra"},
	} {
		if err := run(context.Background(), args, io.Discard, io.Discard, noEnv); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}
