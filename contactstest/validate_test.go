package contactstest_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
)

// TestPhoneNormalisation: the fake stores phones in E.164 as
// libphonenumber reads them (numbers without a country code are North
// American), takes numbers of a possible length even if no such number is
// in service, and refuses the rest with the API's 422.
func TestPhoneNormalisation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string // "" for a 422
	}{
		{"(212) 555-0123", "+12125550123"},
		{"212.555.0123", "+12125550123"},
		{"1-212-555-0123", "+12125550123"},
		{"12125550123", "+12125550123"},
		{" +1 212 555 0123 ", "+12125550123"},
		{"011 44 20 7946 0958", "+442079460958"}, // dialled from North America
		{"+44 (0)20 7946 0958", "+442079460958"}, // trunk 0 after the country code
		{"+44 020 7946 0958", "+442079460958"},
		{"+4402079460958", "+442079460958"},
		{"+39 06 1234 5678", "+390612345678"}, // Italy's 0 is part of the number
		{"+65 9123 4567", "+6591234567"},
		{"+48 601-234-567", "+48601234567"},
		{"+55 (11) 98765-4321", "+5511987654321"},
		// Possible but not valid: stored as given.
		{"555-555-0123", "+15555550123"},
		{"+15555550100", "+15555550100"},
		{"+44 7700 900123", "+447700900123"},
		// Refused.
		{"555-0123", ""},           // local number without its area code
		{"+12345678", ""},          // the same, after +1
		{"+44 20 7946", ""},        // too short for the UK
		{"020 7946 0958", ""},      // a UK number without its country code
		{"212 555 01234", ""},      // too long
		{"+999 1234 5678", ""},     // no country 999
		{"12ab", ""},               // text
		{"call me", ""},            // text
		{"+1 212 555 0123 x4", ""}, // extension
		{"(212) 555-0123 ext. 4", ""},
	}
	srv := contactstest.NewServer()
	defer srv.Close()
	if err := srv.SetLocationSettings(srv.LocationID(), contactstest.LocationSettings{AllowDuplicateContact: true}); err != nil {
		t.Fatal(err)
	}
	c := srv.Client()
	ctx := context.Background()
	for _, tt := range tests {
		got, err := c.Contacts.Create(ctx, contacts.ContactCreate{FirstName: "Ana", Phone: tt.in})
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("create with phone %q: stored %q, want a 422", tt.in, got.Phone)
		case tt.want == "" && (!errors.Is(err, contacts.ErrValidation) || !strings.Contains(err.Error(), "phone must be a valid phone number")):
			t.Errorf("create with phone %q: %v, want the 422 of an invalid phone", tt.in, err)
		case tt.want != "" && err != nil:
			t.Errorf("create with phone %q: %v", tt.in, err)
		case tt.want != "" && got.Phone != tt.want:
			t.Errorf("create with phone %q: stored %q, want %q", tt.in, got.Phone, tt.want)
		}
		// Seeding normalises the same way (and drops what it refuses).
		if seeded := srv.SeedContact(contactstest.Contact{Phone: tt.in}); seeded.Phone != tt.want {
			t.Errorf("seed with phone %q: stored %q, want %q", tt.in, seeded.Phone, tt.want)
		}
	}
}

// TestPhoneMatchingAcrossFormats: duplicate detection, the duplicate
// finder and search compare phones in E.164, whatever the format given.
func TestPhoneMatchingAcrossFormats(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := contactstest.NewServer()
	defer srv.Close()
	if err := srv.SetLocationSettings(srv.LocationID(), contactstest.LocationSettings{DuplicateMatch: []string{"phone"}}); err != nil {
		t.Fatal(err)
	}
	c := srv.Client()
	london, err := c.Contacts.Create(ctx, contacts.ContactCreate{FirstName: "Ana", Phone: "+44 20 7946 0958"})
	if err != nil {
		t.Fatal(err)
	}
	ny := srv.SeedContact(contactstest.Contact{FirstName: "Bo", Phone: "(212) 555-0123"})

	for _, tt := range []struct {
		phone, wantID string
	}{
		{"+44 (0)20 7946 0958", london.ID},
		{"+44 020 7946 0958", london.ID},
		{"011 44 20 7946 0958", london.ID},
		{"+442079460958", london.ID},
		{"212-555-0123", ny.ID},
		{"+1 (212) 555 0123", ny.ID},
		{"1 212 555 0123", ny.ID},
	} {
		_, err := c.Contacts.Create(ctx, contacts.ContactCreate{FirstName: "Twin", Phone: tt.phone})
		var apiErr *contacts.APIError
		if !errors.Is(err, contacts.ErrDuplicateContact) || !errors.As(err, &apiErr) || apiErr.DuplicateContactID != tt.wantID {
			t.Errorf("create with %q: %v; want the duplicate error naming %s", tt.phone, err, tt.wantID)
		}
		dup, err := c.Contacts.FindDuplicate(ctx, contacts.DuplicateQuery{Phone: tt.phone})
		if err != nil || dup.Contact == nil || dup.Contact.ID != tt.wantID {
			t.Errorf("duplicate finder with %q: %+v %v; want %s", tt.phone, dup, err, tt.wantID)
		}
		for _, op := range []contacts.Operator{contacts.OpEq, contacts.OpContains} {
			res, err := c.Contacts.Search(ctx, contacts.SearchParams{Filters: []contacts.Filter{contacts.Where("phone", op, tt.phone)}})
			if err != nil || len(res.Contacts) != 1 || res.Contacts[0].ID != tt.wantID {
				t.Errorf("search phone %s %q: %+v %v; want %s", op, tt.phone, res, err, tt.wantID)
			}
		}
		res, err := c.Contacts.Search(ctx, contacts.SearchParams{Query: tt.phone})
		if err != nil || len(res.Contacts) != 1 || res.Contacts[0].ID != tt.wantID {
			t.Errorf("search query %q: %+v %v; want %s", tt.phone, res, err, tt.wantID)
		}
	}
	if n := len(srv.Contacts("")); n != 2 {
		t.Errorf("%d contacts stored, want 2", n)
	}
}
