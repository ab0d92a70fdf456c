package contacts_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
)

// Example is the README's Quick start, run against the fake API from
// package contactstest (with the real API, drop the base URL and HTTP
// client and pass your token and location).
func Example() {
	srv := contactstest.NewServer()
	defer srv.Close()

	client, err := contacts.NewClient(
		contacts.WithBaseURL(srv.URL),
		contacts.WithHTTPClient(srv.HTTPClient()),
		contacts.WithToken(srv.Token()),           // sub-account Private Integration Token
		contacts.WithLocationID(srv.LocationID()), // default locationId for every call
	)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	c, err := client.Contacts.Create(ctx, contacts.ContactCreate{
		FirstName: "Ana", Email: "ana@example.com", Tags: []string{"member"},
	})
	if err != nil {
		log.Fatal(err)
	}
	task, err := client.Tasks.Create(ctx, c.ID, contacts.TaskCreate{
		Title: "Welcome call", DueDate: time.Now().Add(48 * time.Hour),
	})
	if err != nil {
		log.Fatal(err)
	}
	tags, err := client.Tags.Add(ctx, c.ID, []string{"gold"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(c.FirstName, c.Email)
	fmt.Println(task.Title)
	fmt.Println(tags)
	// Output:
	// Ana ana@example.com
	// Welcome call
	// [member gold]
}

// ExampleNewStaticToken rotates a Private Integration Token without
// rebuilding the client, as in the README's Authentication section.
func ExampleNewStaticToken() {
	srv := contactstest.NewServer()
	defer srv.Close()
	c := srv.SeedContact(contactstest.Contact{FirstName: "Ana", Email: "ana@example.com"})

	src, err := contacts.NewStaticToken(srv.Token())
	if err != nil {
		log.Fatal(err)
	}
	client, err := contacts.NewClient(contacts.WithTokenSource(src),
		contacts.WithBaseURL(srv.URL), contacts.WithHTTPClient(srv.HTTPClient()))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	// The old token is revoked in the CRM: calls fail until the new one is set.
	newPIT := srv.IssueToken(contactstest.TokenSpec{LocationID: srv.LocationID()})
	srv.RevokeToken(srv.Token())
	_, err = client.Contacts.Get(ctx, c.ID)
	fmt.Println("old token:", errors.Is(err, contacts.ErrUnauthorized))

	if err := src.Set(newPIT); err != nil {
		log.Fatal(err)
	}
	got, err := client.Contacts.Get(ctx, c.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("new token:", got.FirstName)
	fmt.Println(src) // never prints the token
	// Output:
	// old token: true
	// new token: Ana
	// contacts.StaticToken{token: [redacted]}
}
