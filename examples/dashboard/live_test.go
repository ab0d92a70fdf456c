package main

import (
	"bufio"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gymflow/contacts-go/contactstest"
	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/sqlstore"
)

// liveState writes a state file as gymflow-sync leaves it for a location:
// member links of the location whose snapshots name the members.
func liveState(t *testing.T, location string, links map[string]contactstest.Contact) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gymflow-sync.db")
	db, err := sqlstore.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := db.Location(location)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for id, c := range links {
		state, err := contactsync.Mapped{Fields: map[string]string{
			contactsync.TargetFirstName: c.FirstName, contactsync.TargetLastName: c.LastName, contactsync.TargetEmail: c.Email,
		}}.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.PutLink(ctx, contactsync.Link{Kind: contactsync.KindMember, LocalID: id, RemoteID: c.ID, State: state}); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// TestLiveMode runs the dashboard against an API named by the environment
// (the fake, standing in for the real one at CONTACTS_API_BASE_URL): it
// lists the members of gymflow-sync's state file with their activity,
// keeps polling, and leaves the state file as it was.
func TestLiveMode(t *testing.T) {
	api := contactstest.NewServer()
	defer api.Close()
	ana := api.SeedContact(contactstest.Contact{FirstName: "Ana", LastName: "Lima", Email: "ana@example.com"})
	ben := api.SeedContact(contactstest.Contact{FirstName: "Ben", LastName: "Carter", Email: "ben@example.com"})
	if _, err := api.SeedTask(contactstest.Task{ContactID: ana.ID, Title: "Renewal call", DueDate: time.Now().Add(-48 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	path := liveState(t, api.LocationID(), map[string]contactstest.Contact{"m1": ana, "m2": ben})
	env := map[string]string{envToken: api.Token(), envLocation: api.LocationID(), envBaseURL: api.URL}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	log := &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- runWith(ctx, []string{"-listen", "127.0.0.1:0", "-state", path, "-poll", "20ms", "-reread", "20ms"},
			io.MultiWriter(pw, log), func(k string) string { return env[k] })
		pw.Close()
	}()
	var url string
	sc := bufio.NewScanner(pr)
	for url == "" && sc.Scan() {
		if _, rest, ok := strings.Cut(sc.Text(), " at http://"); ok {
			url = "http://" + rest
		}
	}
	go io.Copy(io.Discard, pr)
	if url == "" {
		t.Fatalf("no URL printed:\n%s", log.String())
	}
	wantIn(t, "the front page", page(t, url), "Ana Lima", "Ben Carter", "Renewal call")

	// A task created in the CRM shows up once polling re-reads it.
	if _, err := api.CRM().CreateTask(contactstest.Task{ContactID: ben.ID, Title: "Book an induction", DueDate: time.Now().Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(page(t, url+"members/m2"), "Book an induction") {
		if time.Now().After(deadline) {
			t.Fatalf("the new task never reached the member page\n%s", log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	out := log.String()
	wantIn(t, "the output", out, "Dashboard of 2 gym members", "REAL API at "+api.URL, "not shown")
	wantNotIn(t, "the output", out, api.Token(), "polling:")

	// The dashboard's inbound state lives in memory: the sync's file
	// still holds only the links it wrote.
	db, err := sqlstore.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, _ := db.Location(api.LocationID())
	if acts, err := s.Activities(t.Context(), contactsync.ActivityQuery{}); err != nil || len(acts) != 0 {
		t.Errorf("the state file gained %d activities (%v)", len(acts), err)
	}
}

func TestLiveModeRefusesAStateFileItCannotUse(t *testing.T) {
	api := contactstest.NewServer()
	defer api.Close()
	ana := api.SeedContact(contactstest.Contact{FirstName: "Ana", Email: "ana@example.com"})
	other := liveState(t, "another-location", map[string]contactstest.Contact{"m1": ana})
	empty := liveState(t, api.LocationID(), nil)
	env := map[string]string{envToken: api.Token(), envLocation: api.LocationID(), envBaseURL: api.URL}
	getenv := func(k string) string { return env[k] }
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"missing file":   {[]string{"-state", filepath.Join(t.TempDir(), "none.db")}, "run go run ./examples/gymflow-sync"},
		"other location": {[]string{"-state", other}, "holds no members of location"},
		"no members":     {[]string{"-state", empty}, "holds no members of location"},
	} {
		var out strings.Builder
		err := runWith(t.Context(), append([]string{"-listen", "127.0.0.1:0"}, tc.args...), &out, getenv)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
	var out strings.Builder
	half := func(k string) string {
		if k == envToken {
			return "pit-x"
		}
		return ""
	}
	if err := runWith(t.Context(), nil, &out, half); err != errHalfConfigured {
		t.Errorf("token without location: err = %v", err)
	}
	if api.RequestCount() != 0 {
		t.Errorf("%d API calls for refused configurations", api.RequestCount())
	}
}
