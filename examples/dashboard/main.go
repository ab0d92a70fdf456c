// Command dashboard serves a small local web site over contactsync's
// unified activity views: the gym's members with their open and overdue
// tasks and next appointment, the location's overdue tasks, upcoming
// appointments and recent notes, each member's timeline of tasks, notes
// and appointments, and Insights: charts of follow-ups, engagement and
// appointments over twelve weeks, with CSV downloads.
//
// It starts the embedded fake API (contactstest), seeds it with 292
// fictional gym members and twelve weeks of their tasks, notes and
// appointments, links them as the outbound sync would, fills the activity
// read model with three API calls per member, and plays the past task
// completions through TaskComplete webhooks. From then on, serving the
// pages makes no API call at all: the views only read the stores.
//
//	go run ./examples/dashboard                      # http://127.0.0.1:8080/
//	go run ./examples/dashboard -listen 127.0.0.1:0  # any free port
//
// With CONTACTS_API_TOKEN and CONTACTS_LOCATION_ID set it shows a location
// of the real API instead: the members examples/gymflow-sync linked there
// (its state file, -state, default gymflow-sync.db, is only read), their
// activity loaded by one full reconciliation (one call per 500 contacts and
// three per member) and kept fresh by polling (Inbound.Cycle every -poll,
// a full re-read every -reread). CONTACTS_API_BASE_URL, if set, replaces
// the API's base URL. The token is never printed.
//
// The page is built with html/template, which escapes everything it shows,
// and needs no JavaScript.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"strings"
	"time"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/memstore"
	"github.com/gymflow/contacts-go/webhook"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		log.Fatal(err)
	}
}

// run starts the demonstration and serves the dashboard on -listen until
// ctx ends.
func run(ctx context.Context, args []string, out io.Writer) error {
	return runWith(ctx, args, out, os.Getenv)
}

func runWith(ctx context.Context, args []string, out io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("dashboard", flag.ContinueOnError)
	fs.SetOutput(out)
	listen := fs.String("listen", "127.0.0.1:8080", "address to serve the dashboard on")
	state := fs.String("state", "gymflow-sync.db", "real API: gymflow-sync's state file (read only)")
	poll := fs.Duration("poll", time.Minute, "real API: how often to poll for changes")
	reread := fs.Duration("reread", 6*time.Hour, "real API: how often to re-read every member's activity (3 calls per member)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if *poll <= 0 || *reread <= 0 {
		return errors.New("-poll and -reread must be positive")
	}

	var d *demo
	var err error
	switch token, location := getenv(envToken), getenv(envLocation); {
	case token != "" && location != "":
		d, err = openLive(ctx, getenv, liveConfig{state: *state, poll: *poll, reread: *reread, now: time.Now, loc: time.Local, out: out})
	case token != "" || location != "":
		err = errHalfConfigured
	default:
		d, err = newDemo(ctx, time.Now, time.Local)
	}
	if err != nil {
		return err
	}
	defer d.Close()

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := newServer(d.handler)
	fmt.Fprintf(out, "Dashboard of %d gym members at http://%s/\n", len(d.members), ln.Addr())
	fmt.Fprintln(out, d.about)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if d.keepFresh != nil {
		pollCtx, stopPolling := context.WithCancel(ctx)
		polled := make(chan struct{})
		go func() { d.keepFresh(pollCtx); close(polled) }()
		defer func() { stopPolling(); <-polled }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newServer returns the dashboard's HTTP server, with every stage of a
// request bounded so that slow or idle clients cannot hold connections.
// A WriteTimeout suits it: each page is rendered from the read model at
// once; nothing is streamed.
func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
}

// demo is the fake API with its seeded members, the stores and the
// dashboard's handler.
type demo struct {
	api       *contactstest.Server // nil on the real API
	store     *memstore.Store      // links and read model
	views     *contactsync.Views
	members   []member
	handler   http.Handler
	about     string                    // where the data comes from, for the output
	keepFresh func(ctx context.Context) // polls until ctx ends; nil: nothing to poll
	loadCalls int                       // the API calls that loaded the read model
	close     func()
}

// newDemo starts the fake API, seeds it around the time now returns,
// links the members and loads the read model. The views run on the clock
// now, and the pages show times in loc. Close the demo when done.
func newDemo(ctx context.Context, now func() time.Time, loc *time.Location) (*demo, error) {
	// The loader makes 877 calls at once; the fake's live limits would
	// slow it down for nothing. The fake's clock starts twelve weeks ago
	// and plays the history's task completions forward to now.
	start := now()
	clock := contactstest.NewManualClock(contactsync.WeekStart(start).AddDate(0, 0, -7*contactsync.InsightWeeks))
	api := contactstest.NewServer(contactstest.WithoutRateLimits(), contactstest.WithClock(clock))
	store := memstore.New()
	members, err := seed(ctx, api, store, start)
	var plan []completion
	if err == nil {
		var past []member
		past, plan, err = seedHistory(ctx, api, store, members, start)
		members = append(members, past...)
	}
	var in *contactsync.Inbound
	if err == nil {
		in, err = newInbound(api.Client(contacts.WithUserAgent("gymflow-dashboard")), store, store, contactsync.WithInboundClock(clock.Now))
	}
	if err == nil {
		_, err = in.Reconcile(ctx, true)
	}
	loadCalls := api.RequestCount()
	if err == nil {
		err = playCompletions(ctx, api, clock, in, store, plan, members, start)
	}
	if err != nil {
		api.Close()
		return nil, err
	}
	views := &contactsync.Views{State: store, Activity: store, Now: now}
	about := fmt.Sprintf("The read model was loaded with %d API calls to the embedded fake and %d webhooks (the sync's weekly runs made %d calls); the pages make none. Ctrl-C stops.",
		loadCalls, len(plan), api.RequestCount()-loadCalls)
	return &demo{api: api, store: store, views: views, members: members, handler: newHandler(views, members, loc),
		about: about, close: api.Close, loadCalls: loadCalls}, nil
}

// playCompletions completes the history's tasks in the fake's CRM, each at
// its time on the fake's clock, and hands the TaskComplete webhooks to the
// read model through a verifying receiver, as a live dashboard would get
// them. Between them, every Sunday night, GymFlow's sync runs (an Engine
// over the same store, on the same clock), syncing the members whose
// records changed that week, so that the run log has a history too. Then
// it moves the clock to now.
func playCompletions(ctx context.Context, api *contactstest.Server, clock *contactstest.ManualClock, in *contactsync.Inbound,
	state contactsync.StateStore, plan []completion, members []member, now time.Time) error {
	edKey, _ := api.WebhookPublicKeys()
	v, err := webhook.NewVerifier(webhook.WithEd25519PublicKey(edKey))
	if err != nil {
		return err
	}
	// The receiver's replay window is judged by the fake's clock: each
	// delivery arrives at the time of its completion.
	h, err := webhook.NewHandler(v, in.Receive, webhook.WithClock(clock.Now))
	if err != nil {
		return err
	}
	hook := httptest.NewServer(h)
	defer hook.Close()
	if err := api.AddWebhook(hook.URL); err != nil {
		return err
	}
	engine, err := newEngine(api.Client(contacts.WithUserAgent("gymflow-dashboard")), state, clock.Now)
	if err != nil {
		return err
	}
	advance := func(to time.Time) {
		if d := to.Sub(clock.Now()); d > 0 {
			clock.Advance(d)
		}
	}
	week := 0
	nextRun := contactsync.WeekStart(clock.Now()).AddDate(0, 0, 6).Add(2 * time.Hour) // Sunday 02:00
	runUntil := func(t time.Time) error {
		for ; !nextRun.After(t) && nextRun.Before(now); nextRun = nextRun.AddDate(0, 0, 7) {
			advance(nextRun)
			if _, err := engine.Apply(ctx, weeklyChanges(members, week)); err != nil {
				return err
			}
			week++
		}
		return nil
	}
	for _, c := range plan {
		if err := runUntil(c.at); err != nil {
			return err
		}
		advance(c.at)
		if _, err := api.CRM().CompleteTask(c.taskID, true); err != nil {
			return err
		}
		if err := api.FlushWebhooks(ctx); err != nil {
			return err
		}
	}
	if err := runUntil(now); err != nil {
		return err
	}
	if err := api.FlushWebhooks(ctx); err != nil {
		return err
	}
	advance(now)
	_, err = in.ProcessInbox(ctx)
	return err
}

// weeklyChanges are the member records GymFlow changed in week w of the
// history: ten members, in turn, whose email got a tag for the week (the
// dashboard shows the directory's emails; the contacts take the tagged
// ones).
func weeklyChanges(members []member, w int) iter.Seq2[contactsync.Change, error] {
	return func(yield func(contactsync.Change, error) bool) {
		for i := range 10 {
			m := members[(w*10+i)%len(members)]
			first, last, _ := strings.Cut(m.Name, " ")
			ch := contactsync.MemberUpserted{Member: contactsync.Member{ID: m.ID, Fields: map[string]any{
				"first_name": first, "last_name": last, "email": strings.Replace(m.Email, "@", fmt.Sprintf("+w%d@", w), 1)}}}
			if !yield(ch, nil) {
				return
			}
		}
	}
}

// Close stops the fake API, if any.
func (d *demo) Close() { d.close() }

// loadReadModel fills the activity read model with contactsync's inbound
// side: one full reconciliation reads every contact of the location (one
// call per 500) and the tasks, notes and appointments of every linked
// member's contact (three calls each). In a long-running dashboard the
// same Inbound then keeps the model fresh from webhooks (Inbound.Receive
// behind a webhook.Handler) and polling (Inbound.Cycle, or Schedule for
// many locations); the pages only read what it stored.
func loadReadModel(ctx context.Context, client *contacts.Client, state contactsync.StateStore, store interface {
	contactsync.ActivityStore
	contactsync.InboundStore
}) error {
	in, err := newInbound(client, state, store)
	if err != nil {
		return err
	}
	_, err = in.Reconcile(ctx, true)
	return err
}

// newEngine returns GymFlow's outbound sync over the inbound side's
// store, on the clock now: the demonstration's weekly runs.
func newEngine(client *contacts.Client, state contactsync.StateStore, now func() time.Time) (*contactsync.Engine, error) {
	mapping, err := dashboardMapping()
	if err != nil {
		return nil, err
	}
	return contactsync.NewEngine(client, state, mapping, contactsync.WithClock(now))
}

// dashboardMapping maps the member fields the dashboard knows.
func dashboardMapping() (*contactsync.Mapping, error) {
	return contactsync.NewMapping(
		contactsync.Map("first_name", contactsync.TargetFirstName),
		contactsync.Map("last_name", contactsync.TargetLastName),
		contactsync.Map("email", contactsync.TargetEmail),
	)
}

// newInbound returns the dashboard's Inbound: it only fills the read
// model, so its sink discards the changes (GymFlow is not written to).
func newInbound(client *contacts.Client, state contactsync.StateStore, store interface {
	contactsync.ActivityStore
	contactsync.InboundStore
}, opts ...contactsync.InboundOption) (*contactsync.Inbound, error) {
	mapping, err := dashboardMapping()
	if err != nil {
		return nil, err
	}
	discard := contactsync.SinkFunc(func(context.Context, contactsync.InboundChange) error { return nil })
	return contactsync.NewInbound(client, state, store, store, mapping, discard, opts...)
}
