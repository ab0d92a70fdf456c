package contacts_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	contacts "github.com/gymflow/contacts-go"
)

func ExampleNewClient() {
	client, err := contacts.NewClient(
		contacts.WithToken(os.Getenv("CONTACTS_API_TOKEN")),
		contacts.WithLocationID(os.Getenv("CONTACTS_LOCATION_ID")),
		contacts.WithUserAgent("gymflow-sync/1.0"),
	)
	if err != nil {
		log.Fatal(err)
	}
	_ = client
}

func ExampleContactsService_Create() {
	client, err := contacts.NewClient(contacts.WithToken("pit-…"), contacts.WithLocationID("ve9EPM428h8vShlRW1KT"))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	c, err := client.Contacts.Create(ctx, contacts.ContactCreate{
		FirstName: "Ana",
		LastName:  "Silva",
		Email:     "ana@example.com",
		Phone:     "+15555550123",
		Tags:      []string{"member", "gold"},
		CustomFields: []contacts.CustomFieldInput{
			contacts.FieldByKey("contact.membership_level", "Gold"),
		},
	})
	var apiErr *contacts.APIError
	switch {
	case errors.Is(err, contacts.ErrDuplicateContact) && errors.As(err, &apiErr):
		fmt.Println("already there:", apiErr.DuplicateContactID)
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Println("created", c.ID)
	}
}

func ExampleContactsService_Update() {
	client, _ := contacts.NewClient(contacts.WithToken("pit-…"))
	// Set the first name, clear the website, leave everything else alone.
	_, err := client.Contacts.Update(context.Background(), "seD4PfOuKoVMLkEZqohJ", contacts.ContactUpdate{
		FirstName: contacts.Value("Ana"),
		Website:   contacts.Null[string](),
	})
	if err != nil {
		log.Fatal(err)
	}
}

func ExampleContactsService_SearchAll() {
	client, _ := contacts.NewClient(contacts.WithToken("pit-…"), contacts.WithLocationID("ve9EPM428h8vShlRW1KT"))
	since := time.Now().Add(-24 * time.Hour)
	params := contacts.SearchParams{
		PageLimit: 500,
		Filters: []contacts.Filter{
			contacts.Where("tags", contacts.OpEq, "member"),
			contacts.Where("dateUpdated", contacts.OpRange, contacts.Range{GTE: since}),
		},
		Sort: []contacts.Sort{{Field: "dateUpdated", Direction: contacts.Desc}},
	}
	for c, err := range client.Contacts.SearchAll(context.Background(), params) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(c.ID, c.Email)
	}
}

func ExampleTagsService_Add() {
	client, _ := contacts.NewClient(contacts.WithToken("pit-…"))
	tags, err := client.Tags.Add(context.Background(), "seD4PfOuKoVMLkEZqohJ", []string{"vip"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tags)
}

func ExampleTasksService_Create() {
	client, _ := contacts.NewClient(contacts.WithToken("pit-…"))
	task, err := client.Tasks.Create(context.Background(), "seD4PfOuKoVMLkEZqohJ", contacts.TaskCreate{
		Title:   "Welcome call",
		Body:    "Book the first personal-training session",
		DueDate: time.Now().Add(48 * time.Hour),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(task.ID)
}

func ExampleWithResponse() {
	client, _ := contacts.NewClient(contacts.WithToken("pit-…"))
	var meta contacts.Response
	if _, err := client.Contacts.Get(context.Background(), "seD4PfOuKoVMLkEZqohJ", contacts.WithResponse(&meta)); err != nil {
		log.Printf("trace %s: %v", meta.TraceID, err)
	}
	fmt.Println(meta.RateLimit.Remaining, "requests left in this window")
}
