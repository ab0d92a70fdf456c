package contactsync_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/memstore"
	"github.com/gymflow/contacts-go/webhook"
)

// pollCostResult is what pollCost measured.
type pollCostResult struct {
	perHour   []int // calls in the measured hour, per location
	reconcile int   // calls of one location's daily Reconcile (contacts only)
	full      int   // calls of one location's Reconcile with activities
}

// pollCost simulates inbound work for m locations of n linked members each
// on one fake API and a manual clock: a Cycle a minute per location
// (inbox, incremental scan, re-reads of contacts with recent activity)
// while activePerHour contacts of each location are edited in the CRM (a
// field edit, a task created and then edited — task edits fire no webhook
// — and a note). The app's one webhook URL gets every location's events
// (Route dispatches them). It runs a warm-up hour, so that the measured
// second hour is in the steady state (re-reads follow task events by
// WithTaskFollowUp), and checks that every task edit of the warm-up hour
// reached the read model. It also measures the reconciliations.
func pollCost(t testing.TB, n, activePerHour, m int) pollCostResult {
	clock := contactstest.NewManualClock(time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC))
	srv := contactstest.NewServer(contactstest.WithClock(clock), contactstest.WithoutRateLimits())
	defer srv.Close()
	ctx := context.Background()
	joined := clock.Now().AddDate(0, -1, 0) // members exist for a while
	type location struct {
		id   string
		ids  []string
		mem  *memstore.Store
		in   *contactsync.Inbound
		edit []string // tasks created in the warm-up hour
	}
	locs := make([]*location, m)
	var ins []*contactsync.Inbound
	for j := range locs {
		l := &location{id: srv.LocationID(), mem: memstore.New()}
		token := srv.Token()
		if j > 0 {
			l.id = srv.AddLocation("", "", contactstest.LocationSettings{})
			token = srv.IssueToken(contactstest.TokenSpec{LocationID: l.id})
		}
		for i := range n {
			c := srv.SeedContact(contactstest.Contact{LocationID: l.id, FirstName: fmt.Sprint("M", i), Email: fmt.Sprintf("m%d@example.com", i),
				Tags: []string{"member"}, DateAdded: joined, DateUpdated: joined})
			l.ids = append(l.ids, c.ID)
			if err := l.mem.PutLink(ctx, contactsync.Link{Kind: contactsync.KindMember, LocalID: fmt.Sprintf("m%06d", i), RemoteID: c.ID, Tags: []string{"member"}}); err != nil {
				t.Fatal(err)
			}
		}
		client := srv.Client(contacts.WithToken(token), contacts.WithLocationID(l.id))
		in, err := contactsync.NewInbound(client, l.mem, l.mem, l.mem, engineMapping(t), &recordingSink{}, contactsync.WithInboundClock(clock.Now),
			contactsync.WithInboundPolicies(contactsync.Policies{Default: contactsync.NewestWins}))
		if err != nil {
			t.Fatal(err)
		}
		l.in, locs[j] = in, l
		ins = append(ins, in)
	}
	edKey, _ := srv.WebhookPublicKeys()
	v, _ := webhook.NewVerifier(webhook.WithEd25519PublicKey(edKey))
	h, _ := webhook.NewHandler(v, contactsync.Route(ins...), webhook.WithClock(clock.Now))
	hook := httptest.NewServer(h)
	defer hook.Close()
	srv.AddWebhook(hook.URL)

	var res pollCostResult
	// The scan state a location has after its daily reconciliation.
	for j, l := range locs {
		before := srv.RequestCount()
		if _, err := l.in.Reconcile(ctx, false); err != nil {
			t.Fatal(err)
		}
		if j == 0 {
			res.reconcile = srv.RequestCount() - before
		}
	}
	crm := srv.CRM()
	mark := 0
	for minute := range 120 {
		if minute == 60 {
			mark = len(srv.Requests())
		}
		clock.Advance(time.Minute)
		for _, l := range locs {
			// Spread the hour's active contacts over its minutes.
			for k := minute * activePerHour / 60; k < (minute+1)*activePerHour/60; k++ {
				id := l.ids[(k*7919)%n]
				crm.UpdateContact(id, func(c *contactstest.Contact) { c.LastName = fmt.Sprint("edit", minute) })
				task, _ := crm.CreateTask(contactstest.Task{ContactID: id, Title: "Follow up", DueDate: clock.Now().Add(24 * time.Hour)})
				crm.UpdateTask(task.ID, func(t *contactstest.Task) { t.Title = "Follow up (moved)" })
				crm.CreateNote(contactstest.Note{ContactID: id, Body: "Called"})
				if minute < 60 {
					l.edit = append(l.edit, task.ID)
				}
			}
		}
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		srv.FlushWebhooks(fctx)
		cancel()
		for _, l := range locs {
			if _, err := l.in.Cycle(ctx, 500); err != nil {
				t.Fatal(err)
			}
		}
	}
	byLocation := map[string]int{}
	for _, r := range srv.Requests()[mark:] {
		byLocation[r.Location]++
	}
	for _, l := range locs {
		res.perHour = append(res.perHour, byLocation[l.id])
		for _, id := range l.edit {
			if a, err := l.mem.Activity(ctx, contactsync.KindTask, id); err != nil || a.Title != "Follow up (moved)" {
				t.Fatalf("location %s: the edit of task %s never reached the read model: %+v, %v", l.id, id, a, err)
			}
		}
	}
	before := srv.RequestCount()
	if _, err := locs[0].in.Reconcile(ctx, true); err != nil {
		t.Fatal(err)
	}
	res.full = srv.RequestCount() - before
	return res
}

// TestPollingFitsTheBudget: for 10,000 members with 100 contacts active per
// hour, a day of polling (24 steady-state hours plus one daily
// reconciliation, both measured) stays within 10% of the location's
// 200,000 daily calls, and catches every task edit.
func TestPollingFitsTheBudget(t *testing.T) {
	t.Parallel()
	const members, active = 10000, 100
	res := pollCost(t, members, active, 1)
	perDay := 24*res.perHour[0] + res.reconcile
	t.Logf("%d members, %d active/hour: %d calls/hour, %d calls/day = %.1f%% of 200,000", members, active, res.perHour[0], perDay, float64(perDay)/2000)
	if perDay > 20000 {
		t.Errorf("polling spends %d calls a day, more than 10%% of the daily budget", perDay)
	}
	// 60 scans, and three re-reads per active contact; 20 search pages.
	if want := 60 + 3*active; res.perHour[0] < want-10 || res.perHour[0] > want+10 {
		t.Errorf("%d calls in the hour, want about %d", res.perHour[0], want)
	}
	if want := (members + 499) / 500; res.reconcile != want {
		t.Errorf("reconciliation: %d calls, want %d", res.reconcile, want)
	}
}

// TestPollingCostTable prints the cost for several sizes and numbers of
// locations; it runs only with CONTACTSYNC_LONG=1 (see BENCHMARKS.md).
func TestPollingCostTable(t *testing.T) {
	skipUnlessLong(t) // a measurement; TestPollingFitsTheBudget is its check
	for _, c := range []struct{ n, active, m int }{
		{1000, 0, 1}, {1000, 100, 1}, {1000, 500, 1},
		{10000, 0, 1}, {10000, 100, 1}, {10000, 250, 1}, {10000, 500, 1},
		{10000, 100, 3},
	} {
		res := pollCost(t, c.n, c.active, c.m)
		for j, perHour := range res.perHour {
			perDay := 24*perHour + res.reconcile
			t.Logf("members=%d active/hour=%d locations=%d location#%d calls/hour=%d calls/day=%d (%.1f%% of its 200,000); reconcile=%d, with activities=%d",
				c.n, c.active, c.m, j+1, perHour, perDay, float64(perDay)/2000, res.reconcile, res.full)
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
			mem := memstore.New()
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
