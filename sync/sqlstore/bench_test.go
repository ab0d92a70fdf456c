package sqlstore_test

// The store benchmarks of the single-location contactsync.SQLiteStore
// (BenchmarkSQLiteStoreCommit, …Link, …Links, …Stats and BenchmarkViews),
// each with sub-benchmarks sqlite and postgres. PostgreSQL's server runs
// with fsync on (see package pgtest), so that its commits are durable as
// in production.

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/sqlstore"
	"github.com/gymflow/contacts-go/sync/statetest"
)

// benchTargets are the databases the benchmarks run on.
var benchTargets = []struct {
	name string
	new  func(b testing.TB) *target
}{
	{"sqlite", sqliteTarget},
	{"postgres", postgresTarget},
}

// benchLocation is the location the benchmarks' stores are of.
const benchLocation = "loc1"

// insertRows inserts rows into table of tg's database in one transaction,
// a thousand rows a statement: much faster than a store's transaction a
// row.
func insertRows(b testing.TB, tg *target, table string, columns []string, rows [][]any) {
	b.Helper()
	tx, err := tg.raw.Begin()
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	one := "(?" + strings.Repeat(", ?", len(columns)-1) + ")"
	for start := 0; start < len(rows); start += 1000 {
		chunk := rows[start:min(start+1000, len(rows))]
		query := "INSERT INTO contactsync_" + table + " (" + strings.Join(columns, ", ") + ") VALUES " +
			strings.TrimSuffix(strings.Repeat(one+", ", len(chunk)), ", ")
		var args []any
		for _, r := range chunk {
			args = append(args, r...)
		}
		if _, err := tx.Exec(tg.rebind(query), args...); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	if tg.dialect == sqlstore.Postgres { // statistics for the planner, as autovacuum would gather
		if _, err := tg.raw.Exec("ANALYZE contactsync_" + table); err != nil {
			b.Fatal(err)
		}
	}
}

// preload fills tg's database with n member links of benchLocation,
// m0000000 …, and returns the location's store in a new handle.
func preload(b *testing.B, tg *target, n int) *sqlstore.Store {
	b.Helper()
	state := bytes.Repeat([]byte("x"), 300)
	now := time.Now().UnixMilli()
	rows := make([][]any, n)
	for i := range n {
		id := fmt.Sprintf("m%07d", i)
		rows[i] = []any{benchLocation, "member", id, "c" + id, "", "", "hash", state, `["gymflow"]`, false, now}
	}
	insertRows(b, tg, "links", []string{"location_id", "kind", "local_id", "remote_id", "member_id", "contact_id",
		"hash", "state", "tags", "archived", "updated_at"}, rows)
	return loc(b, tg.open(b), benchLocation)
}

// BenchmarkStoreCommit measures what the engine's store costs per written
// record: PutIntent before the API call and Commit after it, on an empty
// store and on one with 100,000 links, one write at a time (so no group
// commit helps).
func BenchmarkStoreCommit(b *testing.B) {
	for _, tc := range benchTargets {
		b.Run(tc.name, func(b *testing.B) {
			for _, n := range []int{0, 100_000} {
				b.Run(fmt.Sprintf("links=%d", n), func(b *testing.B) {
					s := preload(b, tc.new(b), n)
					ctx := b.Context()
					state := bytes.Repeat([]byte("x"), 300)
					now := time.Now()
					b.ReportAllocs()
					i := 0
					for b.Loop() {
						id := fmt.Sprintf("n%07d", i) // new members, between the preloaded ones
						i++
						key := "create/member/" + id
						in := contactsync.Intent{Key: key, Kind: contactsync.KindMember, LocalID: id, Op: "create", Data: state[:100], CreatedAt: now}
						if err := s.PutIntent(ctx, in); err != nil {
							b.Fatal(err)
						}
						l := contactsync.Link{Kind: contactsync.KindMember, LocalID: id, RemoteID: "c" + id, Hash: "hash",
							State: state, Tags: []string{"gymflow", "vip"}, UpdatedAt: now}
						if err := s.Commit(ctx, l, key); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// BenchmarkStoreLink measures a lookup by local ID (what the engine does
// for every member it sees) among 100,000 links.
func BenchmarkStoreLink(b *testing.B) {
	const n = 100_000
	for _, tc := range benchTargets {
		b.Run(tc.name, func(b *testing.B) {
			s := preload(b, tc.new(b), n)
			ctx := b.Context()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				id := fmt.Sprintf("m%07d", (i*7919)%n)
				i++
				if _, err := s.Link(ctx, contactsync.KindMember, id); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStoreLinks measures paging through 100,000 links, 500 at a
// time, per link.
func BenchmarkStoreLinks(b *testing.B) {
	const n = 100_000
	for _, tc := range benchTargets {
		b.Run(tc.name, func(b *testing.B) {
			s := preload(b, tc.new(b), n)
			ctx := b.Context()
			b.ReportAllocs()
			after := ""
			for b.Loop() {
				page, err := s.Links(ctx, contactsync.KindMember, after, 500)
				if err != nil {
					b.Fatal(err)
				}
				if len(page) < 500 {
					after = ""
				} else {
					after = page[len(page)-1].LocalID
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/500, "ns/link")
		})
	}
}

// BenchmarkStoreStats measures Stats on 100,000 links.
func BenchmarkStoreStats(b *testing.B) {
	for _, tc := range benchTargets {
		b.Run(tc.name, func(b *testing.B) {
			s := preload(b, tc.new(b), 100_000)
			for b.Loop() {
				links, _, err := s.Stats(b.Context())
				if err != nil || links[contactsync.KindMember] != 100_000 {
					b.Fatalf("Stats = %v, %v", links, err)
				}
			}
		})
	}
}

// preloadActivities inserts acts as benchLocation's.
func preloadActivities(b *testing.B, tg *target, acts []contactsync.Activity) {
	b.Helper()
	rows := make([][]any, len(acts))
	for i, a := range acts {
		var done any
		if !a.CompletedAt.IsZero() {
			done = a.CompletedAt.UnixMilli()
		}
		rows[i] = []any{benchLocation, a.Kind, a.RemoteID, a.ContactID, a.MemberID, []byte(a.Title), []byte(a.Body),
			a.At.UnixMilli(), a.Completed, a.Status, done}
	}
	insertRows(b, tg, "activities", []string{"location_id", "kind", "remote_id", "contact_id", "member_id",
		"title", "body", "at", "completed", "status", "completed_at"}, rows)
}

// BenchmarkViews measures the views on a read model of 100,000
// activities, and a write to it.
func BenchmarkViews(b *testing.B) {
	const n = 100_000
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	acts := statetest.BenchActivities(n, now)
	for _, tc := range benchTargets {
		b.Run(tc.name, func(b *testing.B) {
			ctx := b.Context()
			tg := tc.new(b)
			preloadActivities(b, tg, acts)
			s := loc(b, tg.open(b), benchLocation)
			for i := range 100 { // Timeline needs only the members it asks for
				id := fmt.Sprintf("%05d", i)
				if err := s.PutLink(ctx, contactsync.Link{Kind: contactsync.KindMember, LocalID: "m" + id, RemoteID: "c" + id}); err != nil {
					b.Fatal(err)
				}
			}
			benchViews(b, &contactsync.Views{State: s, Activity: s, Now: func() time.Time { return now }})
			b.Run("PutActivity", func(b *testing.B) {
				i := 0
				for b.Loop() {
					a := contactsync.Activity{Kind: contactsync.KindTask, RemoteID: fmt.Sprintf("new%07d", i), ContactID: "c00001", MemberID: "m00001", At: now}
					i++
					if err := s.PutActivity(b.Context(), a); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// benchViews measures each view of v.
func benchViews(b *testing.B, v *contactsync.Views) {
	week := 7 * 24 * time.Hour
	for _, bc := range []struct {
		name string
		view func(ctx context.Context) ([]contactsync.Activity, error)
	}{
		{"Timeline", func(ctx context.Context) ([]contactsync.Activity, error) { return v.Timeline(ctx, "m00042") }},
		{"OpenTasks", func(ctx context.Context) ([]contactsync.Activity, error) { return v.OpenTasks(ctx, 20) }},
		{"OverdueTasks", func(ctx context.Context) ([]contactsync.Activity, error) { return v.OverdueTasks(ctx, 20) }},
		{"UpcomingAppointments", func(ctx context.Context) ([]contactsync.Activity, error) {
			return v.UpcomingAppointments(ctx, week, 20)
		}},
		{"RecentNotes", func(ctx context.Context) ([]contactsync.Activity, error) { return v.RecentNotes(ctx, week, 20) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				as, err := bc.view(b.Context())
				if err != nil || len(as) == 0 {
					b.Fatalf("%d activities, %v", len(as), err)
				}
			}
		})
	}
}

// BenchmarkInsights measures the insight views with 100,000 members and
// 1,000,000 activities, on each SQL store (in SQL, contactsync.InsightStore)
// and on the views' own computation over the same store's Activities
// (plain): the cost a store without InsightStore would have.
//
//	go test -run '^$' -bench BenchmarkInsights -benchtime 3x -timeout 30m ./sync/sqlstore/
func BenchmarkInsights(b *testing.B) {
	const n, members = 1_000_000, 100_000
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	acts := statetest.BenchActivities(n, now)
	var links [][]any
	for _, l := range statetest.BenchMemberLinks(members) {
		links = append(links, []any{benchLocation, string(l.Kind), l.LocalID, l.RemoteID, "", "", "", l.Archived})
	}
	for _, tc := range benchTargets {
		b.Run(tc.name, func(b *testing.B) {
			tg := tc.new(b)
			s := loc(b, tg.open(b), benchLocation)
			preloadActivities(b, tg, acts)
			insertRows(b, tg, "links", []string{"location_id", "kind", "local_id", "remote_id", "member_id", "contact_id", "hash", "archived"}, links)
			for _, plain := range []bool{false, true} {
				name := "sql"
				var a contactsync.ActivityStore = s
				if plain {
					name, a = "plain", statetest.Plain(s)
				}
				b.Run(name, func(b *testing.B) {
					statetest.BenchInsights(b, &contactsync.Views{State: s, Activity: a, Now: func() time.Time { return now }})
				})
			}
		})
	}
}
