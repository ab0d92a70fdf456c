package contactsync_test

import (
	"context"
	"errors"
	"testing"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
	contactsync "github.com/gymflow/contacts-go/sync"
)

// TestE164AgreesWithFake: contactsync.E164 and the fake API server
// (contactstest, which stores phones in E.164 and matches duplicates by
// them) read a phone number the same way, so a member synced with E164
// is the contact the fake finds for the number in any format.
func TestE164AgreesWithFake(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := contactstest.NewServer()
	defer srv.Close()
	if err := srv.SetLocationSettings(srv.LocationID(), contactstest.LocationSettings{AllowDuplicateContact: true}); err != nil {
		t.Fatal(err)
	}
	c := srv.Client()
	// stored creates a contact with the phone and returns the phone the
	// fake stored, or its error (a 422 for a phone it refuses).
	stored := func(phone string) (string, error) {
		ct, err := c.Contacts.Create(ctx, contacts.ContactCreate{FirstName: "Ana", Phone: phone})
		if err != nil {
			return "", err
		}
		return ct.Phone, nil
	}

	// The fake reads a number without a country code as North American:
	// it must store whatever E164("US") makes of the same input.
	us := contactsync.E164("US")
	for _, tt := range []struct {
		in string
		// fakeKeeps is what the fake stores for a number E164 refuses
		// but the API takes (a possible number not in service); ""
		// when the fake refuses it too.
		fakeKeeps string
	}{
		{in: "(212) 555-0123"},
		{in: "212.555.0123"},
		{in: "1-212-555-0123"},
		{in: "12125550123"},
		{in: "+1 (212) 555-0123"},
		{in: "1-800-FLOWERS"},
		{in: "416 555 0199"},
		{in: "011 44 20 7946 0958"},
		{in: "+44 (0)20 7946 0958"},
		{in: "+44 020 7946 0958"},
		{in: "+4402079460958"},
		{in: "+49 (0)30 12345678"},
		{in: "+33 (0)6 12 34 56 78"},
		{in: "+39 (0)6 1234 5678"},
		{in: "+61 491 570 156"},
		{in: "+91 98765-43210"},
		{in: "+55 (11) 91234-5678"},
		{in: "+81 (0)90 1234 5678"},
		{in: "+65 9123 4567"},
		{in: "011 65 6123 4567"},
		{in: "+48 601 234 567"},
		{in: "(+48) 601-234-567"},
		{in: "555-555-0123", fakeKeeps: "+15555550123"},
		{in: "+1 555 555 0100", fakeKeeps: "+15555550100"},
		{in: "+44 7700 900123", fakeKeeps: "+447700900123"},
		{in: "555-0123"},
		{in: "212 555 01234"},
		{in: "+65 (0) 9123 4567"},
		{in: "+999 1234 5678"},
		{in: "+1 212 555 0123 ext 4"},
		{in: "call me"},
		{in: "12+34"},
	} {
		want, err := us(tt.in)
		got, fakeErr := stored(tt.in)
		switch {
		case err == nil && (fakeErr != nil || got != want):
			t.Errorf("%q: E164(US) gives %v, the fake %q, %v", tt.in, want, got, fakeErr)
		case err != nil && tt.fakeKeeps != "" && got != tt.fakeKeeps:
			t.Errorf("%q: E164(US) refuses it (%v); the fake stores %q, %v; want %q", tt.in, err, got, fakeErr, tt.fakeKeeps)
		case err != nil && tt.fakeKeeps == "" && !errors.Is(fakeErr, contacts.ErrValidation):
			t.Errorf("%q: E164(US) refuses it (%v); the fake stores %q, %v; want a 422", tt.in, err, got, fakeErr)
		}
	}

	// Whatever E164's default region, its output is E.164, which the
	// fake stores unchanged; the number written internationally gives
	// the same contact phone.
	for _, tt := range []struct{ region, national, intl string }{
		{"SG", "9123 4567", "+65 9123-4567"},
		{"PL", "601 234 567", "+48 601 234 567"},
		{"GB", "020 7946 0958", "+44 (0)20 7946 0958"},
		{"DE", "0151 23456789", "+49 (0)151 23456789"},
		{"FR", "06 12 34 56 78", "+33 6 12 34 56 78"},
		{"AU", "0491 570 156", "+61 (0)491 570 156"},
		{"IN", "098765 43210", "+91 98765 43210"},
		{"BR", "(11) 91234-5678", "+55 11 91234 5678"},
		{"JP", "090-1234-5678", "+81 90 1234 5678"},
		{"IT", "06 1234 5678", "+39 06 1234 5678"},
		{"US", "(212) 555-0123", "011 1 212 555 0123"},
	} {
		want, err := contactsync.E164(tt.region)(tt.national)
		if err != nil {
			t.Errorf("E164(%s)(%q): %v", tt.region, tt.national, err)
			continue
		}
		for _, in := range []string{want.(string), tt.intl} {
			if got, err := stored(in); err != nil || got != want {
				t.Errorf("%s %q: E164 gives %v, the fake stores %q, %v", tt.region, in, want, got, err)
			}
		}
		if got, err := contactsync.E164("")(tt.intl); tt.region != "US" && (err != nil || got != want) {
			t.Errorf(`E164("")(%q) = %v, %v; want %v`, tt.intl, got, err, want)
		}
	}
}

// TestE164DuplicateAcrossFormats: a contact written with E164's output is
// the duplicate the fake finds for the number in another format.
func TestE164DuplicateAcrossFormats(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := contactstest.NewServer()
	defer srv.Close()
	if err := srv.SetLocationSettings(srv.LocationID(), contactstest.LocationSettings{DuplicateMatch: []string{"phone"}}); err != nil {
		t.Fatal(err)
	}
	c := srv.Client()
	for _, tt := range []struct {
		region, member string
		others         []string
	}{
		{"SG", "9123 4567", []string{"+65 9123 4567", "+6591234567", "011 65 9123 4567"}},
		{"PL", "601 234 567", []string{"+48 601-234-567", "(+48) 601 234 567"}},
		{"GB", "020 7946 0958", []string{"+44 (0)20 7946 0958", "+44 020 7946 0958", "011 44 20 7946 0958"}},
		{"US", "(212) 555-0123", []string{"212.555.0123", "1 212 555 0123", "+1 212-555-0123"}},
	} {
		phone, err := contactsync.E164(tt.region)(tt.member)
		if err != nil {
			t.Fatal(err)
		}
		ct, err := c.Contacts.Create(ctx, contacts.ContactCreate{FirstName: "Ana", Phone: phone.(string)})
		if err != nil {
			t.Fatalf("create with %v: %v", phone, err)
		}
		for _, other := range tt.others {
			dup, err := c.Contacts.FindDuplicate(ctx, contacts.DuplicateQuery{Phone: other})
			if err != nil || dup.Contact == nil || dup.Contact.ID != ct.ID {
				t.Errorf("duplicate of %q (%s %q → %v): %+v, %v; want %s", other, tt.region, tt.member, phone, dup, err, ct.ID)
			}
			_, err = c.Contacts.Create(ctx, contacts.ContactCreate{FirstName: "Twin", Phone: other})
			if !errors.Is(err, contacts.ErrDuplicateContact) {
				t.Errorf("create with %q: %v; want the duplicate of %v", other, err, phone)
			}
		}
	}
}
