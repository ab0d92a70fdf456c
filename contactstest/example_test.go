package contactstest_test

import (
	"context"
	"fmt"
	"log"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
)

// tagLeads is "your code": it tags every contact that has no tags yet.
func tagLeads(ctx context.Context, c *contacts.Client) (int, error) {
	n := 0
	for ct, err := range c.Contacts.SearchAll(ctx, contacts.SearchParams{
		Filters: []contacts.Filter{contacts.NotExists("tags")},
	}) {
		if err != nil {
			return n, err
		}
		if _, err := c.Tags.Add(ctx, ct.ID, []string{"lead"}); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Test user code against the fake: seed, run, inspect state and count calls.
func Example() {
	srv := contactstest.NewServer()
	defer srv.Close()
	ana := srv.SeedContact(contactstest.Contact{FirstName: "Ana", Email: "ana@example.com"})
	srv.SeedContact(contactstest.Contact{FirstName: "Bea", Email: "bea@example.com", Tags: []string{"member"}})

	n, err := tagLeads(context.Background(), srv.Client())
	if err != nil {
		log.Fatal(err)
	}
	got, _ := srv.Contact(ana.ID)
	fmt.Println("tagged:", n, got.Tags)
	fmt.Println("API calls:", srv.RequestCount())
	// Output:
	// tagged: 1 [lead]
	// API calls: 2
}
