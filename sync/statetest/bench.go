package statetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
)

// BenchActivities returns n activities for the stores' benchmarks — a
// third each tasks (three in four of them done, a third of those with a
// completion time), notes and appointments (one in seven cancelled) — of
// n/10 contacts c00000 …, of members m00000 …, at times scattered over the
// 60 days around now. Every store's benchmark reads the same data.
func BenchActivities(n int, now time.Time) []contactsync.Activity {
	kinds := []contactsync.Kind{contactsync.KindTask, contactsync.KindNote, contactsync.KindAppointment}
	out := make([]contactsync.Activity, n)
	for i := range n {
		const steps = 60 * 24 * 4 // quarter hours in 60 days
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
		out[i] = a
	}
	return out
}

// BenchMemberLinks returns the links of members m00000 … to contacts
// c00000 …, one in fifty archived: the members of BenchActivities.
func BenchMemberLinks(members int) []contactsync.Link {
	out := make([]contactsync.Link, members)
	for i := range out {
		id := fmt.Sprintf("%05d", i)
		out[i] = contactsync.Link{Kind: contactsync.KindMember, LocalID: "m" + id, RemoteID: "c" + id, Archived: i%50 == 0}
	}
	return out
}

// Plain hides a store's contactsync.InsightStore, so that views over it
// compute the insights from Activities: what a store without one costs.
func Plain(a contactsync.ActivityStore) contactsync.ActivityStore { return plainActivity{a} }

// BenchInsights measures each insight view of v.
func BenchInsights(b *testing.B, v *contactsync.Views) {
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
