package contactstest_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
)

// reportRPS adds the requests per second the fake served.
func reportRPS(b *testing.B, start time.Time) {
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// BenchmarkServer measures what the fake serves on loopback with the SDK as
// client, sequentially and with parallel clients.
func BenchmarkServer(b *testing.B) {
	srv := contactstest.NewServer(contactstest.WithoutRateLimits())
	defer srv.Close()
	c := srv.Client()
	ctx := context.Background()
	seeded := make([]string, 1000)
	for i := range seeded {
		seeded[i] = srv.SeedContact(contactstest.Contact{FirstName: "Member", Email: fmt.Sprintf("m%d@example.com", i), Tags: []string{"member"}}).ID
	}

	b.Run("get", func(b *testing.B) {
		b.ReportAllocs()
		start := time.Now()
		i := 0
		for b.Loop() {
			if _, err := c.Contacts.Get(ctx, seeded[i%len(seeded)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
		reportRPS(b, start)
	})
	b.Run("get-parallel", func(b *testing.B) {
		b.ReportAllocs()
		var n atomic.Int64
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.Contacts.Get(ctx, seeded[n.Add(1)%int64(len(seeded))]); err != nil {
					b.Fatal(err)
				}
			}
		})
		reportRPS(b, start)
	})
	var created atomic.Int64 // unique e-mails across benchmark rounds
	b.Run("create", func(b *testing.B) {
		b.ReportAllocs()
		start := time.Now()
		for b.Loop() {
			_, err := c.Contacts.Create(ctx, contacts.ContactCreate{FirstName: "New", Email: fmt.Sprintf("new%d@example.com", created.Add(1)), Tags: []string{"lead"}})
			if err != nil {
				b.Fatal(err)
			}
		}
		reportRPS(b, start)
	})
	b.Run("update", func(b *testing.B) {
		b.ReportAllocs()
		start := time.Now()
		i := 0
		for b.Loop() {
			_, err := c.Contacts.Update(ctx, seeded[i%len(seeded)], contacts.ContactUpdate{City: contacts.Value(fmt.Sprint("City ", i))})
			if err != nil {
				b.Fatal(err)
			}
			i++
		}
		reportRPS(b, start)
	})
	b.Run("search-100", func(b *testing.B) {
		b.ReportAllocs()
		start := time.Now()
		for b.Loop() {
			if _, err := c.Contacts.Search(ctx, contacts.SearchParams{PageLimit: 100, Filters: []contacts.Filter{contacts.Where("tags", contacts.OpEq, "member")}}); err != nil {
				b.Fatal(err)
			}
		}
		reportRPS(b, start)
	})
}
