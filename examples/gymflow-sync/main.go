// Command gymflow-sync is the main job of this repository: it syncs
// GymFlow's gym members — contacts, tags, follow-up tasks and notes — into
// a location of the Contacts API with package contactsync, then applies
// the changes GymFlow recorded since, incrementally.
//
// It streams the 1,000 members of GymFlow's export (testdata/members.json,
// embedded) through Engine.SyncMembers with a progress bar, prints the
// report, applies the change feed (testdata/changes.json: edits, tags,
// tasks, notes, lead sign-ups, deletions) through Engine.Apply, prints
// that report, and ends with the API calls each part used. Six records of
// the export are deliberately bad and are reported, not synced.
//
// By default it runs against the embedded fake API (contactstest) with the
// fake's rate limits off, so it finishes in seconds:
//
//	go run ./examples/gymflow-sync
//	go run ./examples/gymflow-sync -real-limits      # the live API's 100 requests / 10 s
//	go run ./examples/gymflow-sync -json             # both reports as one JSON document
//	go run ./examples/gymflow-sync -state sync.db    # keep the state in SQLite; run twice
//
// With CONTACTS_API_TOKEN (a sub-account Private Integration Token with
// the contacts.write scope) and CONTACTS_LOCATION_ID set, it syncs into
// that location of the real API instead, with the client's default rate
// limiter, keeping its state in a SQLite file (-state, default
// gymflow-sync.db) so that a second run costs nothing for unchanged
// members. The location needs three custom contact fields, written by key:
// contact.membership_plan, contact.home_club and contact.member_since
// (text fields, or a date field for the last: it is written YYYY-MM-DD).
// A state file is bound to the location it was first used with. The token
// is never printed. CONTACTS_API_BASE_URL, if set, replaces the API's base
// URL (for a proxy or a sandbox). Try -dry-run first: it plans every write
// and sends none.
//
// The data is generated: go generate ./examples/gymflow-sync rewrites it,
// byte for byte the same.
package main

//go:generate go run ./gen -out testdata

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"log"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/memstore"
	"github.com/gymflow/contacts-go/sync/sqlstore"
)

// The environment variables that select the real API.
const (
	envToken    = "CONTACTS_API_TOKEN"
	envLocation = "CONTACTS_LOCATION_ID"
	envBaseURL  = "CONTACTS_API_BASE_URL"
)

// defaultRealState is the state file used with the real API.
const defaultRealState = "gymflow-sync.db"

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

// run syncs, writing the output to out and logs to stderr. It reads the
// environment (here, not in the SDK) to choose the fake or the real API.
func run(ctx context.Context, args []string, out io.Writer) error {
	return runWith(ctx, args, out, os.Stderr, os.Getenv)
}

type config struct {
	json, verbose, realLimits, dryRun bool
	state, region                     string
	concurrency                       int
}

func parseFlags(args []string, errOut io.Writer) (config, error) {
	fs := flag.NewFlagSet("gymflow-sync", flag.ContinueOnError)
	fs.SetOutput(errOut)
	var cfg config
	fs.BoolVar(&cfg.json, "json", false, "print both reports as one JSON document instead of text")
	fs.BoolVar(&cfg.verbose, "v", false, "log the engine's runs (info level) to stderr, not only warnings")
	fs.BoolVar(&cfg.realLimits, "real-limits", false, "keep the live API's rate limits (100 requests / 10 s) on the embedded fake")
	fs.BoolVar(&cfg.dryRun, "dry-run", false, "plan the writes without sending any (and without changing the state)")
	fs.StringVar(&cfg.state, "state", "", "SQLite state file (default: in memory with the fake, "+defaultRealState+" with the real API)")
	fs.StringVar(&cfg.region, "region", "US", "country of phone numbers written without a country code (ISO 3166 code, e.g. US, GB, SG, PL)")
	fs.IntVar(&cfg.concurrency, "concurrency", contactsync.DefaultConcurrency, "members synced at once")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if !slices.Contains(contactsync.SupportedRegions(), strings.ToUpper(cfg.region)) {
		return cfg, fmt.Errorf("-region %q: not a region with a numbering plan; want an ISO 3166 code such as US, GB, SG or PL", cfg.region)
	}
	return cfg, nil
}

// api is the Contacts API the run writes to.
type api struct {
	client *contacts.Client
	fake   *contactstest.Server // nil for the real API
	desc   string
}

// openAPI returns the real API when the environment names a location,
// otherwise the embedded fake (close it).
func openAPI(cfg *config, getenv func(string) string) (*api, error) {
	token, location := getenv(envToken), getenv(envLocation)
	switch {
	case token != "" && location != "":
		opts := []contacts.Option{contacts.WithToken(token), contacts.WithLocationID(location), contacts.WithUserAgent("gymflow-sync")}
		base := contacts.DefaultBaseURL
		if u := getenv(envBaseURL); u != "" {
			opts, base = append(opts, contacts.WithBaseURL(u)), u
		}
		client, err := contacts.NewClient(opts...) // with the default rate limiter
		if err != nil {
			return nil, err
		}
		if cfg.state == "" {
			cfg.state = defaultRealState
		}
		return &api{client: client, desc: "REAL API at " + base + " (token from $" + envToken + ", not shown)"}, nil
	case token != "" || location != "":
		return nil, errHalfConfigured
	}

	var srvOpts []contactstest.Option
	var clientOpts []contacts.Option
	desc := "embedded fake, rate limits off (-real-limits keeps the live 100 requests / 10 s)"
	if cfg.realLimits {
		// The fake enforces the live limits; the client paces itself with
		// its default limiter, as it does against the real API.
		clientOpts = append(clientOpts, contacts.WithRateLimiter(contacts.DefaultRateLimiter()))
		desc = "embedded fake, with the live API's rate limits (100 requests / 10 s)"
	} else {
		srvOpts = append(srvOpts, contactstest.WithoutRateLimits())
	}
	fake := contactstest.NewServer(srvOpts...)
	// The custom fields the mapping writes. The fake, like the API,
	// accepts keys with or without the "contact." prefix.
	for _, key := range []string{fieldPlan, fieldClub, fieldJoined} {
		if _, err := fake.AddCustomField(fake.LocationID(), strings.TrimPrefix(key, "contact.")); err != nil {
			fake.Close()
			return nil, err
		}
	}
	return &api{client: fake.Client(clientOpts...), fake: fake, desc: desc}, nil
}

func (a *api) close() {
	if a.fake != nil {
		a.fake.Close()
	}
}

// requests returns the fake's request log from mark on (nil without the
// fake); mark is the log's length before a run.
func (a *api) requests(mark int) []contactstest.Request {
	if a.fake == nil {
		return nil
	}
	return a.fake.Requests()[mark:]
}

func (a *api) mark() int {
	if a.fake == nil {
		return 0
	}
	return len(a.fake.Requests())
}

// openState returns the state store: SQLite when path names a file, else
// in memory. A state file may hold the state of several locations, each
// apart from the others.
func openState(ctx context.Context, path, location string) (store contactsync.StateStore, desc string, closeStore func() error, err error) {
	if path == "" {
		return memstore.New(), "in memory (-state FILE keeps it in SQLite)", func() error { return nil }, nil
	}
	db, err := sqlstore.OpenSQLite(path)
	if err != nil {
		return nil, "", nil, err
	}
	defer func() {
		if err != nil {
			db.Close()
		}
	}()
	s, err := db.Location(location)
	if err != nil {
		return nil, "", nil, err
	}
	linked, _, err := s.Stats(ctx)
	if err != nil {
		return nil, "", nil, err
	}
	desc = "SQLite " + path + ": new"
	if n := linked[contactsync.KindMember]; n > 0 {
		desc = fmt.Sprintf("SQLite %s: %s members, %s tasks, %s notes linked by earlier runs", path,
			thousands(n), thousands(linked[contactsync.KindTask]), thousands(linked[contactsync.KindNote]))
	}
	return s, desc, db.Close, nil
}

func runWith(ctx context.Context, args []string, out, errOut io.Writer, getenv func(string) string) (err error) {
	cfg, err := parseFlags(args, errOut)
	if err != nil {
		return err
	}
	api, err := openAPI(&cfg, getenv)
	if err != nil {
		return err
	}
	defer api.close()
	store, stateDesc, closeStore, err := openState(ctx, cfg.state, api.client.LocationID())
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, closeStore()) }()

	mapping, err := gymflowMapping(cfg.region)
	if err != nil {
		return err
	}
	changes, err := readChanges(changesJSON)
	if err != nil {
		return err
	}
	exported, err := countMembers(readMembers(bytes.NewReader(membersJSON)))
	if err != nil {
		return err
	}

	// The change feed is applied once per state: a later run syncs the
	// export as GymFlow holds it after the changes (see withChanges).
	feedKey := "gymflow-sync/feed/" + digest(changesJSON)
	applied, err := store.Done(ctx, feedKey)
	if err != nil {
		return err
	}
	export := func() iter.Seq2[contactsync.Member, error] {
		members := readMembers(bytes.NewReader(membersJSON))
		if applied {
			members = withChanges(members, changes)
		}
		return members
	}
	total, err := countMembers(export())
	if err != nil {
		return err
	}

	// Progress on out (text) or, with -json, on stderr if it is a terminal.
	progressOut, tty := out, isTerminal(out)
	if cfg.json {
		progressOut, tty = io.Discard, isTerminal(errOut)
		if tty {
			progressOut = errOut
		}
	}
	bar := newProgressBar(progressOut, tty, total)
	level := slog.LevelWarn
	if cfg.verbose {
		level = slog.LevelInfo
	}
	logger := slog.New(slog.NewTextHandler(bar.logWriter(errOut), &slog.HandlerOptions{Level: level}))

	eng, err := contactsync.NewEngine(api.client, store, mapping,
		contactsync.WithConcurrency(cfg.concurrency),
		contactsync.WithLogger(logger),
		contactsync.WithProgress(bar.update),
		contactsync.WithWelcomeTask(welcomeTask),
		contactsync.WithDryRun(cfg.dryRun),
	)
	if err != nil {
		return err
	}

	text := func(format string, args ...any) {
		if !cfg.json {
			fmt.Fprintf(out, format, args...)
		}
	}
	text("GymFlow → Contacts API sync\n")
	text("  API       %s\n", api.desc)
	text("  location  %s\n", api.client.LocationID())
	text("  state     %s\n", stateDesc)
	text("  GymFlow   %s members exported, %d changes since\n", thousands(exported), len(changes))
	if cfg.dryRun {
		text("  dry run   every write is planned, none is sent\n")
	}
	if applied {
		text("  note      this state already holds the changes: the export is synced with them applied\n")
		if api.fake != nil {
			text("            (the embedded fake starts empty on every run; the state store decides what is written)\n")
		}
	}

	res := result{API: "real", Location: api.client.LocationID(), Exported: exported, Changes: len(changes)}
	if api.fake != nil {
		res.API = "fake"
		res.APICalls = &apiCalls{}
	}
	finish := func(err error) error {
		if err != nil {
			res.Error = err.Error()
		}
		if !cfg.json {
			return err
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return errors.Join(err, enc.Encode(res))
	}

	// 1. The whole export.
	text("\nFirst sync: %s members\n", thousands(total))
	mark := api.mark()
	res.FirstSync, err = eng.SyncMembers(ctx, export())
	bar.finish()
	firstLog := api.requests(mark)
	text("%s", res.FirstSync)
	if err != nil {
		return finish(err)
	}

	// 2. The changes since.
	text("\nIncremental: %s\n", describeChanges(changes))
	mark = api.mark()
	res.Incremental, err = eng.Apply(ctx, seqOf(changes))
	incrLog := api.requests(mark)
	text("%s", res.Incremental)
	if err == nil && !cfg.dryRun {
		_, err = store.MarkDone(ctx, feedKey)
	}
	if res.APICalls != nil {
		res.APICalls.FirstSync, res.APICalls.Incremental = breakdown(firstLog), breakdown(incrLog)
	}
	if err != nil {
		return finish(err)
	}
	text("\n%s\n", callSummary(res, len(changes)))
	return finish(nil)
}

// result is what a run did; the -json document.
type result struct {
	API         string              `json:"api"` // "fake" or "real"
	Location    string              `json:"location"`
	Exported    int                 `json:"exported"`
	Changes     int                 `json:"changes"`
	FirstSync   *contactsync.Report `json:"firstSync"`
	Incremental *contactsync.Report `json:"incremental"`
	// APICalls are the fake's request log, cut per run (absent against
	// the real API: see the reports' apiCalls).
	APICalls *apiCalls `json:"apiCalls,omitempty"`
	Error    string    `json:"error,omitempty"`
}

type apiCalls struct {
	FirstSync   callBreakdown `json:"firstSync"`
	Incremental callBreakdown `json:"incremental"`
}

// digest names a change feed by its content.
func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// countMembers counts a member sequence (for the progress bar).
func countMembers(members iter.Seq2[contactsync.Member, error]) (int, error) {
	n := 0
	for _, err := range members {
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// callBreakdown counts a request log by what the requests did. Refused
// requests (any answer but 2xx) are counted apart, not by what they tried.
type callBreakdown struct {
	Total          int `json:"total"`
	ContactCreates int `json:"contactCreates"`
	ContactUpdates int `json:"contactUpdates"`
	TaskCreates    int `json:"taskCreates"`
	TaskUpdates    int `json:"taskUpdates"`
	NoteCreates    int `json:"noteCreates"`
	NoteUpdates    int `json:"noteUpdates"`
	TagWrites      int `json:"tagWrites"`
	Other          int `json:"other"`
	Refused        int `json:"refused"`
	RateLimited    int `json:"rateLimited"` // of Refused: 429
}

func breakdown(reqs []contactstest.Request) callBreakdown {
	var b callBreakdown
	for _, r := range reqs {
		b.Total++
		if r.Status < 200 || r.Status > 299 {
			b.Refused++
			if r.Status == http.StatusTooManyRequests {
				b.RateLimited++
			}
			continue
		}
		parts := strings.Split(strings.Trim(r.Path, "/"), "/") // contacts/{id}/tasks/{taskId}
		switch {
		case r.Method == "POST" && len(parts) == 1 && parts[0] == "contacts":
			b.ContactCreates++
		case r.Method == "PUT" && len(parts) == 2 && parts[0] == "contacts":
			b.ContactUpdates++
		case r.Method == "POST" && len(parts) == 3 && parts[2] == "tasks":
			b.TaskCreates++
		case r.Method == "PUT" && len(parts) >= 4 && parts[2] == "tasks":
			b.TaskUpdates++
		case r.Method == "POST" && len(parts) == 3 && parts[2] == "notes":
			b.NoteCreates++
		case r.Method == "PUT" && len(parts) == 4 && parts[2] == "notes":
			b.NoteUpdates++
		case len(parts) == 3 && parts[2] == "tags":
			b.TagWrites++
		default:
			b.Other++
		}
	}
	return b
}

// callSummary is the closing line: the calls of each run, from the fake's
// request log when there is one, else from the engine's count.
func callSummary(res result, changes int) string {
	if res.APICalls == nil {
		return fmt.Sprintf("API calls (counted by the engine): first sync %s (%.2f per member), incremental %s for %d changes.",
			thousands(res.FirstSync.APICalls), res.FirstSync.CallsPerMember, thousands(res.Incremental.APICalls), changes)
	}
	f, i := res.APICalls.FirstSync, res.APICalls.Incremental
	s := fmt.Sprintf("API calls (the fake's request log): first sync %s = %s contacts + %s tasks + %s notes created",
		thousands(f.Total), thousands(f.ContactCreates), thousands(f.TaskCreates), thousands(f.NoteCreates))
	if rest := f.Total - f.ContactCreates - f.TaskCreates - f.NoteCreates - f.Refused; rest > 0 {
		s += fmt.Sprintf(" + %s other", thousands(rest))
	}
	s += refused(f)
	return s + fmt.Sprintf("; incremental %d for %d changes%s.", i.Total, changes, refused(i))
}

func refused(b callBreakdown) string {
	switch {
	case b.Refused == 0:
		return ""
	case b.Refused == b.RateLimited:
		return fmt.Sprintf(" + %s refused with 429", thousands(b.Refused))
	}
	return fmt.Sprintf(" + %s refused (%s with 429)", thousands(b.Refused), thousands(b.RateLimited))
}
