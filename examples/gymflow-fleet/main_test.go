package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gymflow/contacts-go/contactstest"
	"github.com/gymflow/contacts-go/internal/demoloc"
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

// While it runs, /metrics has the fleet's per-location metrics and
// /riverui/ River UI over the fleet's jobs.
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
	// Each metric appears once reported: the calls as they are made, the
	// gauges every second.
	wants := []string{`contactsync_fleet_api_calls_total{location="gym-0001",side="outbound"}`,
		`contactsync_contacts_created_total{location="gym-0001"}`, `contactsync_fleet_queue_depth{location=`}
	for _, want := range wants {
		for deadline, metrics := time.Now().Add(30*time.Second), ""; !strings.Contains(metrics, want); time.Sleep(50 * time.Millisecond) {
			metrics = get("/metrics")
			if time.Now().After(deadline) {
				t.Fatalf("/metrics lacks %s:\n%s", want, metrics)
			}
		}
	}
	// River UI: its page, and its API over the fleet's jobs.
	if page := get("/riverui/"); !strings.Contains(page, "<html") {
		t.Errorf("/riverui/:\n%.300s", page)
	}
	var jobs string
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(jobs, `"kind":"contactsync_outbound"`); time.Sleep(100 * time.Millisecond) {
		jobs = get("/riverui/api/jobs?state=running") + get("/riverui/api/jobs?state=completed") + get("/riverui/api/jobs?state=available")
		if time.Now().After(deadline) {
			t.Fatalf("no outbound job in River UI's API:\n%.2000s", jobs)
		}
	}
	if !strings.Contains(jobs, `"args":"{\"location\":\"gym-000`) { // River UI sends the args as a JSON string
		t.Errorf("River UI's jobs lack their location:\n%.2000s", jobs)
	}
	if err := <-done; err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
}

// Workers in two processes (two runs of the program, as on two machines)
// and GymFlow's enqueueing in a third, over one PostgreSQL database and one
// API serving many locations (the fake-server example's): every member
// reaches its location once, with no 429, and the workers stop cleanly.
func TestRolesOnPostgres(t *testing.T) {
	url := pgtest.URL(t)
	fake := contactstest.NewServer(contactstest.WithRequestLogLimit(1 << 16))
	t.Cleanup(fake.Close)
	var locs []demoloc.Location
	for i := range 3 {
		id := fake.AddLocation(fmt.Sprintf("gym-%04d", i+1), "", contactstest.LocationSettings{})
		locs = append(locs, demoloc.Location{ID: id, Token: fake.IssueToken(contactstest.TokenSpec{LocationID: id, AppID: "gymflow"})})
	}
	file := filepath.Join(t.TempDir(), "gyms.json")
	if err := demoloc.Write(file, locs); err != nil {
		t.Fatal(err)
	}
	common := []string{"-database", url, "-api", fake.URL, "-locations-file", file, "-timeout", "3m"}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	outs := make([]*syncBuffer, 2)
	for i := range outs {
		outs[i] = &syncBuffer{}
		wg.Go(func() {
			if err := run(ctx, append([]string{"-role", "worker", "-workers", "2"}, common...), outs[i], io.Discard, noEnv); err != nil {
				t.Errorf("worker %d: %v\n%s", i, err, outs[i])
			}
		})
	}
	var out bytes.Buffer
	err := run(context.Background(), append([]string{"-role", "enqueue", "-members", "40", "-per-tx", "7"}, common...), &out, io.Discard, noEnv)
	stop()
	wg.Wait()
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	rows := regexp.MustCompile(`(?m)^gym-\d{4} +(\d+) `).FindAllStringSubmatch(out.String(), -1)
	if len(rows) != 3 || !strings.Contains(out.String(), "checked through the API") {
		t.Fatalf("no table:\n%s", out.String())
	}
	for _, r := range rows {
		if r[1] != "40" {
			t.Errorf("row %q: want 40 members", r[0])
		}
	}
	tooMany := 0
	for _, r := range fake.Requests() {
		if r.Status == http.StatusTooManyRequests {
			tooMany++
		}
	}
	for _, l := range locs {
		emails := map[string]int{}
		for _, c := range fake.Contacts(l.ID) {
			emails[c.Email]++
		}
		for e, n := range emails {
			if n != 1 {
				t.Errorf("%s: %s is %d contacts", l.ID, e, n)
			}
		}
	}
	if tooMany != 0 {
		t.Errorf("%d × 429", tooMany)
	}
	t.Logf("enqueue:\n%s\nworkers:\n%s%s", out.String(), outs[0], outs[1])
	for i, o := range outs {
		if !strings.Contains(o.String(), "worker: stopped after") {
			t.Errorf("worker %d did not stop cleanly:\n%s", i, o)
		}
	}
}

func TestFlagsRefused(t *testing.T) {
	file := filepath.Join(t.TempDir(), "gyms.json")
	for _, args := range [][]string{
		{"-locations", "0"}, {"-members", "-1"}, {"-per-tx", "0"}, {"-database", "mysql://x"}, {"extra"},
		{"-role", "boss"},
		{"-role", "worker"}, // no database, no API
		{"-role", "enqueue", "-api", "http://127.0.0.1:1", "-locations-file", file}, // no database: SQLite serves one process
		{"-api", "http://127.0.0.1:1"},                                              // no locations
		{"-locations-file", file},                                                   // no API
		{"-api", "ftp://x", "-locations-file", file},
		{"-api", "http://127.0.0.1:1", "-locations-file", file, "-locations", "3"},
		{"-api", "http://127.0.0.1:1", "-locations-file", file}, // no such file
	} {
		if err := run(context.Background(), args, io.Discard, io.Discard, noEnv); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}
