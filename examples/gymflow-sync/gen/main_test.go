package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestCommittedDataIsTheGeneratorsOutput keeps testdata from drifting:
// after changing the generator, run go generate ./examples/gymflow-sync.
func TestCommittedDataIsTheGeneratorsOutput(t *testing.T) {
	members, changes, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	again, againChanges, _ := Generate()
	if !bytes.Equal(members, again) || !bytes.Equal(changes, againChanges) {
		t.Fatal("two runs of the generator differ")
	}
	for name, want := range map[string][]byte{"members.json": members, "changes.json": changes} {
		got, err := os.ReadFile(filepath.Join("..", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("testdata/%s differs from the generator's output: run go generate ./examples/gymflow-sync", name)
		}
	}
	if len(members) > 1_500_000 {
		t.Errorf("members.json is %d bytes; keep it under 1.5 MB", len(members))
	}
}

func TestGeneratedCounts(t *testing.T) {
	data, feedData, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	var members []Member
	if err := json.Unmarshal(data, &members); err != nil {
		t.Fatal(err)
	}
	var feed []Change
	if err := json.Unmarshal(feedData, &feed); err != nil {
		t.Fatal(err)
	}
	if len(members) != NumMembers {
		t.Fatalf("%d members", len(members))
	}
	var leads, tasks, notes, intl, noEmail, noPhone int
	ids := map[string]bool{}
	for i, m := range members {
		if ids[m.ID] {
			t.Errorf("duplicate ID %s", m.ID)
		}
		ids[m.ID] = true
		if m.isLead() {
			leads++
		}
		tasks += len(m.Tasks)
		notes += len(m.Notes)
		if strings.HasPrefix(m.Phone, "+") && !strings.HasPrefix(m.Phone, "+1") || strings.HasPrefix(m.Phone, "011") {
			intl++
		}
		if m.Email == "" {
			noEmail++
		}
		if m.Phone == "" {
			noPhone++
		}
		if _, bad := badRecords[i+1]; bad {
			continue
		}
		if _, err := time.Parse(DateLayout, m.Birthday); m.Birthday != "" && err != nil {
			t.Errorf("%s: birthday %q", m.ID, m.Birthday)
		}
		if m.FirstName == "" || m.Email == "" && m.Phone == "" || m.HomeClub == "" {
			t.Errorf("%s is incomplete: %+v", m.ID, m)
		}
	}
	// Pinned, so that a change of the data is a deliberate one.
	want := map[string]int{"leads": 42, "tasks": 547, "notes": 331, "international phones": 140, "without email": 39, "without phone": 143}
	got := map[string]int{"leads": leads, "tasks": tasks, "notes": notes, "international phones": intl, "without email": noEmail, "without phone": noPhone}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %d, want %d", k, got[k], w)
		}
	}
	if len(badRecords) != 6 {
		t.Errorf("%d bad records", len(badRecords))
	}

	types := map[string]int{}
	for i, c := range feed {
		types[c.Type]++
		if c.Seq != i+1 || c.MemberID == "" {
			t.Errorf("change %d: %+v", i, c)
		}
	}
	wantTypes := map[string]int{MemberUpdated: 16, TagsChanged: 8, TaskUpserted: 12, NoteUpserted: 5, LeadSignedUp: 6, MemberDeleted: 4}
	for k, w := range wantTypes {
		if types[k] != w {
			t.Errorf("%d %s changes, want %d", types[k], k, w)
		}
	}
	if len(feed) != 51 {
		t.Errorf("%d changes", len(feed))
	}
}

func TestSlugFoldsEveryName(t *testing.T) {
	for _, c := range cultures {
		for _, n := range slices.Concat(c.first, c.last) {
			s := slug(n) // panics on a letter without folding
			if s == "" || strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
				t.Errorf("slug(%q) = %q", n, s)
			}
		}
	}
}
