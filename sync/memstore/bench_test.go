package memstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/memstore"
)

// BenchmarkInsights measures the insight views on the memory store (which
// computes them from Activities and Links) with the data of sqlstore's
// BenchmarkInsights: 100,000 members and 1,000,000 activities.
//
//	go test -run '^$' -bench BenchmarkInsights -benchtime 3x ./sync/memstore/
func BenchmarkInsights(b *testing.B) {
	const n, members = 1_000_000, 100_000
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := memstore.New()
	kinds := []contactsync.Kind{contactsync.KindTask, contactsync.KindNote, contactsync.KindAppointment}
	for i := range n { // as sqlstore's benchActivities
		const steps = 60 * 24 * 4
		id := fmt.Sprintf("%05d", i%(n/10))
		a := contactsync.Activity{Kind: kinds[i%3], RemoteID: fmt.Sprintf("r%07d", i), ContactID: "c" + id, MemberID: "m" + id,
			Title: "title", Body: "body", At: now.Add(time.Duration(i*7919%steps-steps/2) * 15 * time.Minute),
			Completed: i%4 != 0, Status: "booked"}
		if i%7 == 0 {
			a.Status = "cancelled"
		}
		if a.Kind == contactsync.KindTask && a.Completed && i%3 == 0 {
			a.CompletedAt = a.At.Add(time.Duration(i%97-40) * time.Hour)
		}
		if err := s.PutActivity(ctx, a); err != nil {
			b.Fatal(err)
		}
	}
	for i := range members {
		id := fmt.Sprintf("%05d", i)
		if err := s.PutLink(ctx, contactsync.Link{Kind: contactsync.KindMember, LocalID: "m" + id, RemoteID: "c" + id, Archived: i%50 == 0}); err != nil {
			b.Fatal(err)
		}
	}
	v := &contactsync.Views{State: s, Activity: s, Now: func() time.Time { return now }}
	for _, bc := range []struct {
		name string
		run  func(ctx context.Context) error
	}{
		{"FollowUps", func(ctx context.Context) error { _, err := v.FollowUps(ctx); return err }},
		{"OverdueMembers20", func(ctx context.Context) error { _, err := v.OverdueMembers(ctx, 20); return err }},
		{"Engagement", func(ctx context.Context) error { _, err := v.Engagement(ctx); return err }},
		{"QuietMembers20", func(ctx context.Context) error { _, err := v.QuietMembers(ctx, 20); return err }},
		{"AppointmentWeeks", func(ctx context.Context) error { _, err := v.AppointmentWeeks(ctx); return err }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if err := bc.run(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
