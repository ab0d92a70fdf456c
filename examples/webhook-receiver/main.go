// Command webhook-receiver receives the Contacts API's webhooks with
// package webhook and prints one line per typed event.
//
// By default it runs a demonstration against the embedded fake API
// (contactstest): it starts its receiver on -listen, registers it as the
// fake's webhook URL, trusts the fake's Ed25519 key, then creates, tags,
// updates and deletes a contact, with a task, a note and an appointment,
// so that every kind of event is delivered — each one twice, as an
// at-least-once sender may, to show duplicates being acknowledged without
// reaching the application:
//
//	go run ./examples/webhook-receiver
//
// With -serve, or when CONTACTS_WEBHOOK_ED25519_KEY is set, it only serves
// real deliveries on -listen at /webhooks until interrupted, verifying
// x-ghl-signature with the Ed25519 key from the app's settings and the
// legacy x-wh-signature with the published RSA key. Expose it through a
// tunnel or reverse proxy with TLS and set the app's webhook URL to it:
//
//	CONTACTS_WEBHOOK_ED25519_KEY="$(cat ed25519.pem)" go run ./examples/webhook-receiver -listen 127.0.0.1:8788
//
// -dedup-db keeps the record of processed webhookIds in a SQLite file
// (webhook.NewSQLDedup), shared by every receiver process using the file,
// instead of in memory.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"time"

	_ "modernc.org/sqlite"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
	"github.com/gymflow/contacts-go/webhook"
)

// keyEnv names the environment variable holding the app's Ed25519 key.
const keyEnv = "CONTACTS_WEBHOOK_ED25519_KEY"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("webhook-receiver", flag.ContinueOnError)
	fs.SetOutput(out)
	listen := fs.String("listen", "127.0.0.1:8788", "receiver address (the demonstration picks a free port if this one is taken)")
	serve := fs.Bool("serve", false, "serve real deliveries until interrupted instead of running the demonstration")
	edKey := fs.String("ed25519-key", os.Getenv(keyEnv), "the app's Ed25519 public key (PEM, base64 or hex); implies -serve (default $"+keyEnv+")")
	dedupDB := fs.String("dedup-db", "", "SQLite file recording processed webhookIds (default: in memory)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	out = &syncWriter{w: out}
	var dedup webhook.DedupStore // nil: the handler's in-memory default
	if *dedupDB != "" {
		store, closeDB, err := openSQLDedup(ctx, *dedupDB)
		if err != nil {
			return err
		}
		defer closeDB()
		dedup = store
	}
	if *serve || *edKey != "" {
		return serveDeliveries(ctx, out, *listen, *edKey, dedup)
	}
	return demonstrate(ctx, out, *listen, dedup)
}

// handle is the application: it prints one line per event.
func handle(out io.Writer) webhook.HandlerFunc {
	return func(_ context.Context, ev webhook.Event) error {
		fmt.Fprintln(out, describe(ev))
		return nil
	}
}

// describe renders an event as one line: its kind, then its details.
func describe(ev webhook.Event) string {
	line := func(kind, format string, args ...any) string {
		return fmt.Sprintf("%-18s "+format, append([]any{kind}, args...)...)
	}
	contact := func(c contacts.Contact) string {
		return fmt.Sprintf("contact %s %q <%s> tags=%v dnd=%t", c.ID, c.Name, c.Email, c.Tags, c.DND)
	}
	task := func(t webhook.Task) string {
		return fmt.Sprintf("task %s %q of contact %s", t.ID, t.Title, t.ContactID)
	}
	note := func(n webhook.Note) string { return fmt.Sprintf("note %s %q of contact %s", n.ID, n.Body, n.ContactID) }
	appt := func(a webhook.Appointment) string {
		return fmt.Sprintf("appointment %s %q of contact %s at %s (%s)", a.ID, a.Title, a.ContactID,
			a.StartTime.Format(time.RFC3339), a.AppointmentStatus)
	}

	switch e := ev.(type) {
	case *webhook.ContactCreate:
		return line("ContactCreate", "%s", contact(e.Contact))
	case *webhook.ContactUpdate:
		return line("ContactUpdate", "%s", contact(e.Contact))
	case *webhook.ContactTagUpdate:
		return line("ContactTagUpdate", "%s", contact(e.Contact))
	case *webhook.ContactDndUpdate:
		return line("ContactDndUpdate", "%s", contact(e.Contact))
	case *webhook.ContactDelete:
		return line("ContactDelete", "%s", contact(e.Contact))
	case *webhook.TaskCreate:
		return line("TaskCreate", "%s due %s", task(e.Task), e.Task.DueDate.Format(time.DateOnly))
	case *webhook.TaskComplete:
		return line("TaskComplete", "%s", task(e.Task))
	case *webhook.TaskDelete:
		return line("TaskDelete", "%s", task(e.Task))
	case *webhook.NoteCreate:
		return line("NoteCreate", "%s", note(e.Note))
	case *webhook.NoteUpdate:
		return line("NoteUpdate", "%s", note(e.Note))
	case *webhook.NoteDelete:
		return line("NoteDelete", "%s", note(e.Note))
	case *webhook.AppointmentCreate:
		// The live API also sends updates and deletions with this type.
		return line("AppointmentCreate", "%s", appt(e.Appointment))
	case *webhook.AppointmentUpdate:
		return line("AppointmentUpdate", "%s", appt(e.Appointment))
	case *webhook.AppointmentDelete:
		return line("AppointmentDelete", "%s", appt(e.Appointment))
	case *webhook.Install:
		return line("INSTALL", "app %s on location %q of company %q (plan %s)", e.AppID, e.LocationID, e.CompanyID, e.PlanID)
	case *webhook.Uninstall:
		return line("UNINSTALL", "app %s from location %q of company %q", e.AppID, e.LocationID, e.CompanyID)
	case *webhook.Unknown:
		return line("Unknown", "%s (%d bytes)", e.Type, len(e.Raw))
	}
	return line("Unexpected", "%T", ev)
}

// demonstrate runs the scenario against the embedded fake.
func demonstrate(ctx context.Context, out io.Writer, listen string, dedup webhook.DedupStore) error {
	srv := contactstest.NewServer()
	defer srv.Close()
	fmt.Fprintf(out, "Using the embedded fake API at %s\n", srv.URL)

	// 1. The receiver: a verifier trusting the key the app's settings show
	// (here the fake's), and a handler for the application.
	edPEM, _ := srv.WebhookPublicKeysPEM()
	v, err := webhook.NewVerifier(webhook.WithEd25519Key(edPEM))
	if err != nil {
		return err
	}
	url, stop, err := startReceiver(out, listen, true, v, dedup)
	if err != nil {
		return err
	}
	defer stop()
	if err := srv.AddWebhook(url); err != nil {
		return err
	}
	// Every delivery is sent twice, as an at-least-once sender may.
	srv.SetWebhookOptions(contactstest.WebhookOptions{DuplicateRate: 1})
	fmt.Fprintf(out, "Receiving at %s\n\n", url)

	// 2. Changes through the API and in the CRM, each firing webhooks.
	if err := scenario(ctx, srv); err != nil {
		return err
	}

	// 3. Wait for every delivery and account for them.
	flushCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := srv.FlushWebhooks(flushCtx); err != nil {
		return err
	}
	deliveries := srv.WebhookDeliveries()
	delivered, duplicates := 0, 0
	for _, d := range deliveries {
		if !d.Delivered {
			return fmt.Errorf("the %s delivery %s was not acknowledged: status %d %s", d.Event, d.WebhookID, d.Status, d.Err)
		}
		delivered++
		if d.Duplicate {
			duplicates++
		}
	}
	fmt.Fprintf(out, "\n%d deliveries verified and acknowledged; %d were duplicates, acknowledged without reaching the application.\n",
		delivered, duplicates)
	return nil
}

// scenario changes data so that every kind of event but the appointment
// update and deletion (which the live API types as AppointmentCreate) is
// sent once.
func scenario(ctx context.Context, srv *contactstest.Server) error {
	const appID = "gymflow-sync"
	client := srv.Client()
	if err := srv.SimulateInstall(contactstest.AppInstall{AppID: appID, LocationID: srv.LocationID(), PlanID: "studio-monthly"}); err != nil {
		return err
	}
	c, err := client.Contacts.Create(ctx, contacts.ContactCreate{FirstName: "Ana", LastName: "Lima", Email: "ana.lima@example.com"})
	if err != nil {
		return err
	}
	if _, err := client.Tags.Add(ctx, c.ID, []string{"member"}); err != nil {
		return err
	}
	// An update that also sets DND: ContactUpdate, then ContactDndUpdate.
	if _, err := client.Contacts.Update(ctx, c.ID, contacts.ContactUpdate{
		LastName: contacts.Value("Lima Sousa"), DND: contacts.Ptr(true)}); err != nil {
		return err
	}
	task, err := client.Tasks.Create(ctx, c.ID, contacts.TaskCreate{Title: "Welcome call", DueDate: time.Now().Add(48 * time.Hour)})
	if err != nil {
		return err
	}
	if _, err := client.Tasks.Complete(ctx, c.ID, task.ID, true); err != nil {
		return err
	}
	if err := client.Tasks.Delete(ctx, c.ID, task.ID); err != nil {
		return err
	}
	note, err := client.Notes.Create(ctx, c.ID, contacts.NoteCreate{Body: "Prefers evening classes"})
	if err != nil {
		return err
	}
	if _, err := client.Notes.Update(ctx, c.ID, note.ID, contacts.NoteUpdate{Body: contacts.Ptr("Prefers evening classes; knee injury")}); err != nil {
		return err
	}
	if err := client.Notes.Delete(ctx, c.ID, note.ID); err != nil {
		return err
	}
	// The contacts API cannot book appointments: a user does, in the CRM.
	start := time.Now().Add(72 * time.Hour).Truncate(time.Hour)
	if _, err := srv.CRM().CreateAppointment(contactstest.Appointment{ContactID: c.ID, CalendarID: "induction",
		Title: "Induction", StartTime: start, EndTime: start.Add(45 * time.Minute)}); err != nil {
		return err
	}
	if err := client.Contacts.Delete(ctx, c.ID); err != nil {
		return err
	}
	return srv.SimulateUninstall(appID, srv.LocationID(), "")
}

// serveDeliveries serves real deliveries until ctx is done.
func serveDeliveries(ctx context.Context, out io.Writer, listen, edKey string, dedup webhook.DedupStore) error {
	var opts []webhook.Option
	if edKey != "" {
		opts = append(opts, webhook.WithEd25519Key(edKey))
	} else {
		fmt.Fprintf(out, "No Ed25519 key (-ed25519-key or $%s): only x-wh-signature (RSA) is verified.\n", keyEnv)
	}
	v, err := webhook.NewVerifier(opts...)
	if err != nil {
		return err
	}
	if s, ok := dedup.(*webhook.SQLDedup); ok {
		go purgeHourly(ctx, out, s)
	}
	url, stop, err := startReceiver(out, listen, false, v, dedup)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintf(out, "Listening on %s — Ctrl-C to stop.\n", url)
	<-ctx.Done()
	return nil
}

// startReceiver serves a webhook.Handler at /webhooks on listen; in the
// demonstration another port is taken if listen's is busy.
func startReceiver(out io.Writer, listen string, demo bool, v *webhook.Verifier, dedup webhook.DedupStore) (url string, stop func(), err error) {
	l, err := net.Listen("tcp", listen)
	if err != nil && demo {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return "", nil, fmt.Errorf("receiver: %w", err)
	}
	level := slog.LevelInfo
	if demo {
		level = slog.LevelWarn // only rejections
	}
	opts := []webhook.HandlerOption{webhook.WithLogger(slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level})))}
	if dedup != nil {
		opts = append(opts, webhook.WithDedupStore(dedup))
	}
	h, err := webhook.NewHandler(v, handle(out), opts...)
	if err != nil {
		l.Close()
		return "", nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/webhooks", h)
	server := newServer(mux)
	go server.Serve(l)
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		server.Shutdown(ctx)
	}
	return "http://" + l.Addr().String() + "/webhooks", stop, nil
}

// newServer returns the receiver's HTTP server, with every stage of a
// request bounded so that slow or idle clients cannot hold connections:
// the headers, the whole request (the webhook.Handler also gives a body
// 10 s from when it starts reading it), the answer — which includes the
// application's handling of the event, so it must leave time for that —
// and keep-alive connections between deliveries.
func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       20 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

// openSQLDedup opens (creating it if needed) a SQLite dedup record.
func openSQLDedup(ctx context.Context, path string) (*webhook.SQLDedup, func(), error) {
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(path)+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		return nil, nil, err
	}
	store, err := webhook.NewSQLDedup(db, webhook.SQLite)
	if err == nil {
		err = store.Migrate(ctx)
	}
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("dedup database: %w", err)
	}
	return store, func() { db.Close() }, nil
}

// purgeHourly deletes expired webhookIds from the dedup record every hour.
func purgeHourly(ctx context.Context, out io.Writer, s *webhook.SQLDedup) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if _, err := s.Purge(ctx, now); err != nil && !errors.Is(err, context.Canceled) {
				fmt.Fprintf(out, "purging the dedup record: %v\n", err)
			}
		}
	}
}

// syncWriter serializes writes: the handler runs on the server's
// goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
