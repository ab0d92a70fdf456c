package contactsync_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/webhook"
)

// pollCost simulates an hour of inbound work for one location of n linked
// members on a manual clock: a Cycle every minute (inbox, incremental
// scan, re-reads of contacts with recent activity) while activePerHour
// contacts are edited in the CRM (a field edit, a task created and later
// edited, a note), and returns the API calls spent in the hour.
func pollCost(t testing.TB, n, activePerHour int) int {
	clock := contactstest.NewManualClock(time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC))
	srv := contactstest.NewServer(contactstest.WithClock(clock), contactstest.WithoutRateLimits())
	defer srv.Close()
	ctx := context.Background()
	mem := contactsync.NewMemoryStore()
	ids := make([]string, n)
	joined := clock.Now().AddDate(0, -1, 0) // members exist for a while
	for i := range n {
		c := srv.SeedContact(contactstest.Contact{FirstName: fmt.Sprint("M", i), Email: fmt.Sprintf("m%d@example.com", i), Tags: []string{"member"},
			DateAdded: joined, DateUpdated: joined})
		ids[i] = c.ID
		if err := mem.PutLink(ctx, contactsync.Link{Kind: contactsync.KindMember, LocalID: fmt.Sprintf("m%06d", i), RemoteID: c.ID, Tags: []string{"member"}}); err != nil {
			t.Fatal(err)
		}
	}
	sink := &recordingSink{}
	client := srv.Client()
	in, err := contactsync.NewInbound(client, mem, mem, mem, engineMapping(t), sink, contactsync.WithInboundClock(clock.Now),
		contactsync.WithInboundPolicies(contactsync.Policies{Default: contactsync.NewestWins}))
	if err != nil {
		t.Fatal(err)
	}
	edKey, _ := srv.WebhookPublicKeys()
	v, _ := webhook.NewVerifier(webhook.WithEd25519PublicKey(edKey))
	h, _ := webhook.NewHandler(v, in.Receive, webhook.WithClock(clock.Now))
	hook := httptest.NewServer(h)
	defer hook.Close()
	srv.AddWebhook(hook.URL)

	// The scan state a location has after its daily reconciliation.
	if _, err := in.Reconcile(ctx, false); err != nil {
		t.Fatal(err)
	}
	before := srv.RequestCount()
	crm := srv.CRM()
	for minute := range 60 {
		clock.Advance(time.Minute)
		// Spread the hour's active contacts over its minutes.
		for k := minute * activePerHour / 60; k < (minute+1)*activePerHour/60; k++ {
			id := ids[(k*7919)%n]
			crm.UpdateContact(id, func(c *contactstest.Contact) { c.LastName = fmt.Sprint("edit", minute) })
			task, _ := crm.CreateTask(contactstest.Task{ContactID: id, Title: "Follow up", DueDate: clock.Now().Add(24 * time.Hour)})
			crm.UpdateTask(task.ID, func(t *contactstest.Task) { t.Title = "Follow up (moved)" })
			crm.CreateNote(contactstest.Note{ContactID: id, Body: "Called"})
		}
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		srv.FlushWebhooks(fctx)
		cancel()
		if _, err := in.Cycle(ctx, 500); err != nil {
			t.Fatal(err)
		}
	}
	return srv.RequestCount() - before
}

// TestPollingFitsTheBudget: for 10,000 members with 100 contacts active per
// hour, a day of polling (24 simulated hours plus one daily reconciliation)
// stays within 10% of the location's 200,000 daily calls.
func TestPollingFitsTheBudget(t *testing.T) {
	t.Parallel()
	const members, active = 10000, 100
	perHour := pollCost(t, members, active)
	reconcile := (members + 499) / 500 // one search call per 500 contacts
	perDay := 24*perHour + reconcile
	t.Logf("%d members, %d active/hour: %d calls/hour, %d calls/day = %.1f%% of 200,000", members, active, perHour, perDay, float64(perDay)/2000)
	if perDay > 20000 {
		t.Errorf("polling spends %d calls a day, more than 10%% of the daily budget", perDay)
	}
	// 60 scans, and three re-reads per active contact.
	if want := 60 + 3*active; perHour > want+10 {
		t.Errorf("%d calls in the hour, want about %d", perHour, want)
	}
}

// TestPollingCostTable prints the hourly cost for several sizes; it runs
// only with CONTACTSYNC_LONG=1 (see BENCHMARKS.md).
func TestPollingCostTable(t *testing.T) {
	if os.Getenv("CONTACTSYNC_LONG") == "" {
		return
	}
	for _, n := range []int{1000, 10000} {
		for _, active := range []int{0, 100, 500} {
			perHour := pollCost(t, n, active)
			perDay := 24*perHour + (n+499)/500
			t.Logf("members=%d active/hour=%d calls/hour=%d calls/day=%d (%.1f%% of 200,000); M locations: ×M, staggered", n, active, perHour, perDay, float64(perDay)/2000)
		}
	}
}

// TestScheduleStaggersLocations: Schedule polls every location on every
// tick, the locations' rounds spread across the interval in order. It runs
// in a synctest bubble over an in-memory transport, so the offsets are
// exact on the bubble's clock however loaded the machine is.
func TestScheduleStaggersLocations(t *testing.T) {
	t.Parallel()
	var srvs []*contactstest.Server
	for range 3 {
		srv := contactstest.NewServer(contactstest.WithoutRateLimits())
		defer srv.Close()
		srvs = append(srvs, srv)
	}
	synctest.Test(t, func(t *testing.T) {
		var ins []*contactsync.Inbound
		for _, srv := range srvs {
			client := srv.Client(contacts.WithHTTPClient(&http.Client{Transport: inMemory{srv}}))
			mem := contactsync.NewMemoryStore()
			in, err := contactsync.NewInbound(client, mem, mem, mem, engineMapping(t), &recordingSink{})
			if err != nil {
				t.Fatal(err)
			}
			ins = append(ins, in)
		}
		const interval = 60 * time.Second
		start := time.Now()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			contactsync.Schedule(ctx, contactsync.Plan{Interval: interval, RefreshLimit: 10, OnError: func(_ *contactsync.Inbound, err error) { t.Error(err) }}, ins...)
			close(done)
		}()
		time.Sleep(interval + interval*5/6) // every location has polled twice, none a third time
		cancel()
		<-done
		for i, srv := range srvs {
			var rounds []time.Duration
			for _, r := range srv.Requests() {
				if d := r.Time.Sub(start); !slices.Contains(rounds, d) {
					rounds = append(rounds, d)
				}
			}
			offset := time.Duration(i) * interval / 3
			want := []time.Duration{offset, offset + interval}
			if !slices.Equal(rounds, want) {
				t.Errorf("location %d polled at %v, want %v (staggered by a third of the interval)", i, rounds, want)
			}
		}
	})
}

// inMemory serves requests straight from a contactstest.Server's handler,
// with no network, so a synctest bubble can hold the whole exchange.
type inMemory struct{ srv *contactstest.Server }

func (m inMemory) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	m.srv.ServeHTTP(rec, req)
	return rec.Result(), nil
}
