package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	contacts "github.com/gymflow/contacts-go"
	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/memstore"
	"github.com/gymflow/contacts-go/sync/sqlstore"
)

// The environment that selects the real API, as examples/gymflow-sync
// reads it.
const (
	envToken    = "CONTACTS_API_TOKEN"
	envLocation = "CONTACTS_LOCATION_ID"
	envBaseURL  = "CONTACTS_API_BASE_URL"
)

var errHalfConfigured = errors.New("set both " + envToken + " and " + envLocation + " for the real API, or neither for the embedded fake")

// liveConfig is what the live dashboard needs besides the environment.
type liveConfig struct {
	state  string        // gymflow-sync's SQLite state file
	poll   time.Duration // Inbound.Cycle interval
	reread time.Duration // full re-read of every member's activity
	now    func() time.Time
	loc    *time.Location
	out    io.Writer // where polling failures are reported
}

// openLive serves the dashboard over a location of the real API: the
// members gymflow-sync linked (read from its state file, which is not
// written to), their activity loaded by one full reconciliation and kept
// fresh by polling. The dashboard keeps its own read model in memory, so
// it never changes what the sync knows.
func openLive(ctx context.Context, getenv func(string) string, cfg liveConfig) (*demo, error) {
	token, location := getenv(envToken), getenv(envLocation)
	opts := []contacts.Option{contacts.WithToken(token), contacts.WithLocationID(location), contacts.WithUserAgent("gymflow-dashboard")}
	base := contacts.DefaultBaseURL
	if u := getenv(envBaseURL); u != "" {
		opts, base = append(opts, contacts.WithBaseURL(u)), u
	}
	client, err := contacts.NewClient(opts...) // with the default rate limiter
	if err != nil {
		return nil, err
	}
	store := memstore.New()
	members, err := copyLinks(ctx, cfg.state, location, store)
	if err != nil {
		return nil, err
	}
	in, err := newInbound(client, store, store)
	if err != nil {
		return nil, err
	}
	rep, err := in.Reconcile(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("loading the read model: %w", err)
	}
	views := &contactsync.Views{State: store, Activity: store, Now: cfg.now}
	d := &demo{store: store, views: views, members: members, handler: newHandler(views, members, cfg.loc), close: func() {}}
	d.about = fmt.Sprintf("REAL API at %s (token from $%s, not shown): the read model was loaded with %d API calls; "+
		"polling every %s (and re-reading every member's activity every %s) keeps it fresh; the pages make none. Ctrl-C stops.",
		base, envToken, rep.APICalls, cfg.poll, cfg.reread)
	d.keepFresh = func(ctx context.Context) {
		contactsync.Schedule(ctx, contactsync.Plan{
			Interval: cfg.poll, RefreshLimit: 20, ReconcileEvery: time.Hour, ActivitiesEvery: cfg.reread,
			OnError: func(_ *contactsync.Inbound, err error) { fmt.Fprintf(cfg.out, "polling: %v\n", err) },
		}, in)
	}
	return d, nil
}

// copyLinks copies the member links of gymflow-sync's state file into
// store and returns the members, named from the values the sync last
// wrote. Members whose contact is archived (deleted in GymFlow) are left
// out.
func copyLinks(ctx context.Context, path, location string, store contactsync.StateStore) ([]member, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no gymflow-sync state file %s (-state): run go run ./examples/gymflow-sync with the same credentials first: %w", path, err)
	}
	db, err := sqlstore.OpenSQLite(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	s, err := db.Location(location)
	if err != nil {
		return nil, err
	}
	switch linked, _, err := s.Stats(ctx); {
	case err != nil:
		return nil, err
	case linked[contactsync.KindMember] == 0:
		return nil, fmt.Errorf("the state file %s holds no members of location %s: run gymflow-sync for it first", path, location)
	}
	var members []member
	for after := ""; ; {
		page, err := s.Links(ctx, contactsync.KindMember, after, 500)
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].LocalID
		for _, l := range page {
			if l.Archived || l.RemoteID == "" {
				continue
			}
			if err := store.PutLink(ctx, l); err != nil {
				return nil, err
			}
			m := member{ID: l.LocalID, Name: l.LocalID}
			if mapped, err := contactsync.UnmarshalMapped(l.State); err == nil {
				name := strings.TrimSpace(mapped.Fields[contactsync.TargetFirstName] + " " + mapped.Fields[contactsync.TargetLastName])
				if name != "" {
					m.Name = name
				}
				m.Email = mapped.Fields[contactsync.TargetEmail]
			}
			members = append(members, m)
		}
	}
	if len(members) == 0 {
		return nil, fmt.Errorf("the state file %s links no members yet: run go run ./examples/gymflow-sync first", path)
	}
	return members, nil
}
