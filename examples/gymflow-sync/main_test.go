package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gymflow/contacts-go/contactstest"
	contactsync "github.com/gymflow/contacts-go/sync"
)

// noEnv keeps the tests on the embedded fake whatever the developer's
// environment holds: run itself would sync into a real location when
// CONTACTS_API_TOKEN and CONTACTS_LOCATION_ID are set.
func noEnv(string) string { return "" }

// The deliberately bad records of the export (see gen).
var badRecords = []string{"mbr-00137", "mbr-00274", "mbr-00411", "mbr-00548", "mbr-00685", "mbr-00822"}

// lockedBuffer is a bytes.Buffer safe for the engine's logging goroutines.
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

func runExample(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errOut lockedBuffer
	if err := runWith(ctx, args, &out, &errOut, noEnv); err != nil {
		t.Fatalf("run %q: %v\nstdout:\n%s\nstderr:\n%s", args, err, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

// exportTotals counts what the export holds for the members the mapping
// accepts.
type exportTotals struct {
	records, valid, tasks, notes int
}

func totals(t *testing.T) exportTotals {
	t.Helper()
	mapping, err := gymflowMapping("US")
	if err != nil {
		t.Fatal(err)
	}
	var tot exportTotals
	for m, err := range readMembers(bytes.NewReader(membersJSON)) {
		if err != nil {
			t.Fatal(err)
		}
		tot.records++
		if _, err := mapping.Apply(m); err != nil {
			continue
		}
		tot.valid++
		tot.tasks += len(m.Tasks)
		tot.notes += len(m.Notes)
	}
	return tot
}

// sections splits the text output at the two reports.
func sections(t *testing.T, out string) (header, first, incremental, summary string) {
	t.Helper()
	i := strings.Index(out, "\nFirst sync:")
	j := strings.Index(out, "\nIncremental:")
	k := strings.Index(out, "\nAPI calls (the fake's request log)")
	if i < 0 || j < i || k < j {
		t.Fatalf("output lacks its sections:\n%s", out)
	}
	return out[:i], out[i:j], out[j:k], out[k:]
}

// reportNumber reads "  <label> <n>" from a Report.String.
func reportNumber(t *testing.T, report, pattern string) int {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(report)
	if m == nil {
		t.Fatalf("report lacks %q:\n%s", pattern, report)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func TestDefaultRunOnTheFake(t *testing.T) {
	t.Parallel()
	tot := totals(t)
	if tot.records != 1000 || tot.valid != 1000-len(badRecords) {
		t.Fatalf("export: %+v", tot)
	}
	out, errOut := runExample(t)
	header, first, incr, summary := sections(t, out)

	if !strings.Contains(header, "embedded fake, rate limits off") || !strings.Contains(header, "1,000 members exported, 51 changes since") {
		t.Errorf("header:\n%s", header)
	}
	// Progress: plain lines (the output is not a terminal), up to 100%.
	if !strings.Contains(first, "  10%  100/1000 members") || !strings.Contains(first, " 100%  1000/1000 members") || strings.Contains(out, "\r") {
		t.Errorf("progress:\n%s", first)
	}

	// The first sync creates every valid member with its tasks and notes,
	// one call each, and fails only the deliberately bad records.
	created := reportNumber(t, first, `members +\d+: (\d+) created`)
	tasks := reportNumber(t, first, `tasks +(\d+) created`)
	notes := reportNumber(t, first, `notes +(\d+) created`)
	calls := reportNumber(t, first, `API calls +(\d+) `)
	if created != tot.valid || tasks != tot.tasks || notes != tot.notes {
		t.Errorf("first sync created %d contacts, %d tasks, %d notes; the export has %+v", created, tasks, notes, tot)
	}
	if calls != created+tasks+notes {
		t.Errorf("first sync: %d API calls for %d contacts + %d tasks + %d notes", calls, created, tasks, notes)
	}
	if n := reportNumber(t, first, `failed +(\d+)`); n != len(badRecords) {
		t.Errorf("first sync: %d failed, want the %d bad records", n, len(badRecords))
	}
	for _, id := range badRecords {
		if !strings.Contains(first, "    "+id+": ") {
			t.Errorf("first sync report lacks bad record %s", id)
		}
	}
	wantSummary := "first sync " + thousands(calls) + " = " + thousands(created) + " contacts + " + thousands(tasks) + " tasks + " + thousands(notes) + " notes created"
	if !strings.Contains(summary, wantSummary) {
		t.Errorf("summary %q lacks %q", summary, wantSummary)
	}

	// The incremental run: every change applied, few calls.
	if n := reportNumber(t, incr, `failed +(\d+)`); n != 0 {
		t.Errorf("incremental failures:\n%s", incr)
	}
	icalls := reportNumber(t, incr, `API calls +(\d+) `)
	if icalls == 0 || icalls > 100 {
		t.Errorf("incremental: %d API calls for 51 changes", icalls)
	}
	for _, want := range []string{"members    21: 6 created", "(5 welcome)", "deletions  4 archived"} {
		if !strings.Contains(incr, want) {
			t.Errorf("incremental report lacks %q:\n%s", want, incr)
		}
	}
	if !strings.Contains(summary, "incremental "+strconv.Itoa(icalls)+" for 51 changes") {
		t.Errorf("summary: %s", summary)
	}

	// Warnings on stderr: the bad records, nothing else.
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if len(lines) != len(badRecords) {
		t.Errorf("stderr has %d lines, want %d:\n%s", len(lines), len(badRecords), errOut)
	}
	for _, l := range lines {
		if !strings.Contains(l, "level=WARN") || !strings.Contains(l, "record failed") {
			t.Errorf("unexpected log line: %s", l)
		}
	}
}

func TestJSON(t *testing.T) {
	t.Parallel()
	out, _ := runExample(t, "-json")
	var doc result
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if dec.More() {
		t.Error("more than one JSON document")
	}
	if doc.API != "fake" || doc.Location == "" || doc.Exported != 1000 || doc.Changes != 51 || doc.FirstSync == nil || doc.Incremental == nil || doc.APICalls == nil {
		t.Fatalf("document: %+v", doc)
	}
	f, i := doc.FirstSync, doc.Incremental
	if f.APICalls != int64(f.Created+f.TasksCreated+f.NotesCreated) || int64(doc.APICalls.FirstSync.Total) != f.APICalls {
		t.Errorf("first sync: report %d calls, request log %+v, created %d/%d/%d", f.APICalls, doc.APICalls.FirstSync, f.Created, f.TasksCreated, f.NotesCreated)
	}
	if doc.APICalls.FirstSync.ContactCreates != f.Created || doc.APICalls.FirstSync.Refused != 0 {
		t.Errorf("first sync request log: %+v", doc.APICalls.FirstSync)
	}
	if f.Failed != len(badRecords) || len(f.Failures) != len(badRecords) {
		t.Errorf("first sync failures: %+v", f.Failures)
	}
	for _, fl := range f.Failures {
		if !fl.BadRecord {
			t.Errorf("failure not marked as a bad record: %+v", fl)
		}
	}
	if i.Failed != 0 || i.APICalls != int64(doc.APICalls.Incremental.Total) || i.APICalls > 100 || doc.APICalls.Incremental.Refused != 0 {
		t.Errorf("incremental: %d calls, %+v, failures %+v", i.APICalls, doc.APICalls.Incremental, i.Failures)
	}
	if i.WelcomeTasks != 5 || i.Archived != 4 {
		t.Errorf("incremental: %d welcome tasks, %d archived", i.WelcomeTasks, i.Archived)
	}
}

func TestSecondRunWithTheSameStateCostsNothing(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "state.db")
	out1, _ := runExample(t, "-json", "-state", state)
	var run1 result
	if err := json.Unmarshal([]byte(out1), &run1); err != nil {
		t.Fatal(err)
	}
	if run1.FirstSync.Created != 1000-len(badRecords) {
		t.Fatalf("first run created %d", run1.FirstSync.Created)
	}

	out2, _ := runExample(t, "-json", "-state", state)
	var run2 result
	if err := json.Unmarshal([]byte(out2), &run2); err != nil {
		t.Fatal(err)
	}
	f, i := run2.FirstSync, run2.Incremental
	// The export, as GymFlow holds it after the changes: unchanged for the
	// state, so not one call; the bad records are still bad, except the
	// one the change feed corrected.
	if f.APICalls != 0 || run2.APICalls.FirstSync.Total != 0 || f.Created+f.Updated+f.Linked != 0 || f.Failed != len(badRecords)-1 {
		t.Errorf("second run, first sync: %d calls\n%s", f.APICalls, f)
	}
	if want := run1.FirstSync.Created + 6 - 4; f.Unchanged != want { // + 5 leads and the corrected record, − 4 deleted
		t.Errorf("second run: %d members unchanged, want %d\n%s", f.Unchanged, want, f)
	}
	// The change feed again: everything already applied, exactly once.
	if i.APICalls != 0 || i.Failed != 0 {
		t.Errorf("second run, incremental: %d calls\n%s", i.APICalls, i)
	}

	// The file keeps each location apart: another location starts new,
	// and the fake's is still there.
	for loc, want := range map[string]string{"another-location": ": new", run1.Location: "members, "} {
		_, desc, closeStore, err := openState(context.Background(), state, loc)
		if err != nil {
			t.Fatal(err)
		}
		if err := closeStore(); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(desc, want) {
			t.Errorf("state of location %s: %q, want %q in it", loc, desc, want)
		}
	}

	// The text mode says why nothing happened.
	out3, _ := runExample(t, "-state", state)
	for _, want := range []string{"notes linked by earlier runs", "this state already holds the changes", "first sync 0 ", "incremental 0 for 51 changes"} {
		if !strings.Contains(out3, want) {
			t.Errorf("third run's output lacks %q:\n%s", want, out3)
		}
	}
}

func TestRealAPIModeFromTheEnvironment(t *testing.T) {
	t.Parallel()
	const token = "pit-secret-token-never-printed"
	// A fake stands in for the real API; a dry run sends nothing anyway.
	srv := contactstest.NewServer()
	defer srv.Close()
	env := map[string]string{envToken: token, envLocation: "loc-real-123", envBaseURL: srv.URL}
	state := filepath.Join(t.TempDir(), "real.db")
	var out, errOut lockedBuffer
	err := runWith(context.Background(), []string{"-dry-run", "-state", state}, &out, &errOut, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("%v\n%s\n%s", err, out.String(), errOut.String())
	}
	text := out.String()
	for _, want := range []string{"REAL API at " + srv.URL, "loc-real-123", "SQLite " + state, "dry run", "API calls (counted by the engine): first sync 0"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text+errOut.String(), token) {
		t.Error("the token was printed")
	}
	if n := srv.RequestCount(); n != 0 {
		t.Errorf("a dry run sent %d requests", n)
	}
	if !strings.Contains(text, "planned    ") {
		t.Errorf("the dry run planned nothing:\n%s", text)
	}

	// Half a configuration is refused, not silently run on the fake.
	delete(env, envLocation)
	err = runWith(context.Background(), nil, &out, &errOut, func(k string) string { return env[k] })
	if err != errHalfConfigured {
		t.Errorf("token without location: %v", err)
	}
}

func TestWithChangesIsTheExportAfterTheFeed(t *testing.T) {
	t.Parallel()
	changes, err := readChanges(changesJSON)
	if err != nil {
		t.Fatal(err)
	}
	after := map[string]contactsync.Member{}
	for m, err := range withChanges(readMembers(bytes.NewReader(membersJSON)), changes) {
		if err != nil {
			t.Fatal(err)
		}
		after[m.ID] = m
	}
	for _, c := range changes {
		switch c := c.(type) {
		case contactsync.MemberDeleted:
			if _, ok := after[c.Member]; ok {
				t.Errorf("deleted member %s still there", c.Member)
			}
		case contactsync.LeadSignedUp:
			if _, ok := after[c.Lead.ID]; !ok {
				t.Errorf("lead %s missing", c.Lead.ID)
			}
		case contactsync.TagsChanged:
			for _, tag := range c.Added {
				if !contains(after[c.Member].Tags, tag) {
					t.Errorf("%s lacks added tag %s", c.Member, tag)
				}
			}
			for _, tag := range c.Removed {
				if contains(after[c.Member].Tags, tag) {
					t.Errorf("%s keeps removed tag %s", c.Member, tag)
				}
			}
		case contactsync.TaskUpserted:
			found := false
			for _, task := range after[c.Member].Tasks {
				found = found || task == c.Task
			}
			if !found {
				t.Errorf("%s lacks task %+v", c.Member, c.Task)
			}
		}
	}
	if len(after) != 1000-4+5 {
		t.Errorf("%d members after the feed", len(after))
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestProgressBarOnATerminal(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	p := newProgressBar(&b, true, 200)
	for i := 1; i <= 200; i++ {
		p.update(contactsync.Progress{Processed: i, APICalls: int64(2 * i)})
	}
	p.update(contactsync.Progress{Processed: 150}) // late report from a worker
	p.finish()
	s := b.String()
	if !strings.HasPrefix(s, "\r  ") || !strings.HasSuffix(s, "200/200 members  400 API calls  0 failed \n") || strings.Count(s, "\n") != 1 {
		t.Errorf("bar output %q", s)
	}
	if !strings.Contains(s, strings.Repeat("█", barWidth)) {
		t.Errorf("bar never full: %q", s)
	}
}

func TestThousands(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1868: "1,868", 1234567: "1,234,567", -1500: "-1,500"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestBadFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"-region", "XX"}, {"extra"}, {"-no-such-flag"}} {
		var out, errOut lockedBuffer
		if err := runWith(context.Background(), args, &out, &errOut, noEnv); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}
