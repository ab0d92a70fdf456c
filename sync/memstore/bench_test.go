package memstore_test

import (
	"context"
	"testing"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/memstore"
	"github.com/gymflow/contacts-go/sync/statetest"
)

// BenchmarkInsights measures the insight views on the memory store (which
// computes them from Activities and Links) with the data of sqlstore's
// BenchmarkInsights: 100,000 members and 1,000,000 activities.
//
//	go test -run '^$' -bench BenchmarkInsights -benchtime 3x ./sync/memstore/
func BenchmarkInsights(b *testing.B) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := memstore.New()
	for _, a := range statetest.BenchActivities(1_000_000, now) {
		if err := s.PutActivity(ctx, a); err != nil {
			b.Fatal(err)
		}
	}
	for _, l := range statetest.BenchMemberLinks(100_000) {
		if err := s.PutLink(ctx, l); err != nil {
			b.Fatal(err)
		}
	}
	statetest.BenchInsights(b, &contactsync.Views{State: s, Activity: s, Now: func() time.Time { return now }})
}
