package contactsync_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	contactsync "github.com/gymflow/contacts-go/sync"
)

// The numbers below are fictional where a reserved range exists that
// libphonenumber accepts (555-01xx in North America, Ofcom's drama
// ranges for UK landlines, ACMA's for Australian mobiles); the others are
// arbitrary numbers of a valid shape.

func TestE164(t *testing.T) {
	tests := []struct {
		region, in, want string
	}{
		// Singapore: no trunk prefix, 8-digit numbers, international
		// prefixes 000, 001, … (not 00).
		{"SG", "6123 4567", "+6561234567"},        // fixed line
		{"SG", "9123 4567", "+6591234567"},        // mobile
		{"SG", "8123-4567", "+6581234567"},        // mobile, dash
		{"SG", "3123 4567", "+6531234567"},        // VoIP
		{"SG", "1800 123 4567", "+6518001234567"}, // toll free
		{"SG", "+65 9123 4567", "+6591234567"},
		{"SG", "(+65) 9123-4567", "+6591234567"},
		{"sg", "001 65 6123 4567", "+6561234567"}, // SG's international prefix
		{"SG", "001 1 212 555 0123", "+12125550123"},
		{"SG", "+44 20 7946 0958", "+442079460958"},
		{"", "+65 8123 4567", "+6581234567"},
		// Poland: no trunk prefix, 9 digits; mobiles start 45, 5, 6, 7, 8.
		{"PL", "601 234 567", "+48601234567"},
		{"PL", "512-345-678", "+48512345678"},
		{"PL", "691234567", "+48691234567"},
		{"PL", "+48 791 234 567", "+48791234567"},
		{"PL", "0048 881 234 567", "+48881234567"}, // 00 international prefix
		{"PL", "(+48) 601 234 567", "+48601234567"},
		{"PL", "48 601 234 567", "+48601234567"}, // country code without +
		{"PL", "22 123 45 67", "+48221234567"},   // Warsaw landline
		{"DE", "0048 601 234 567", "+48601234567"},
		{"GB", "+48 601 234 567", "+48601234567"},
		// United States and Canada: trunk 1, international prefix 011.
		{"US", "(212) 555-0123", "+12125550123"},
		{"US", "1-212-555-0123", "+12125550123"},
		{"US", "212.555.0123", "+12125550123"},
		{"US", "2125550123", "+12125550123"},
		{"US", "+1 212 555 0123", "+12125550123"},
		{"US", "011 44 20 7946 0958", "+442079460958"},
		{"us", " 212 555 0123 ", "+12125550123"},
		{"US", "1-800-555-0199", "+18005550199"}, // toll free
		{"US", "1-800-FLOWERS", "+18003569377"},  // letters as on a keypad
		{"CA", "416 555 0199", "+14165550199"},
		// United Kingdom: trunk 0, international prefix 00; "(0)" after
		// the country code is the trunk prefix, dropped.
		{"GB", "020 7946 0958", "+442079460958"},
		{"GB", "(020) 7946-0958", "+442079460958"},
		{"GB", "0113 496 0123", "+441134960123"},
		{"GB", "+44 (0)20 7946 0958", "+442079460958"},
		{"GB", "+44 020 7946 0958", "+442079460958"},
		{"GB", "0044 20 7946 0958", "+442079460958"},
		{"GB", "+1 (212) 555-0123", "+12125550123"},
		// Germany: trunk 0, 00.
		{"DE", "030 12345678", "+493012345678"},
		{"DE", "0151/23456789", "+4915123456789"},
		{"DE", "+49 (0)30 12345678", "+493012345678"},
		{"DE", "0049 30 12345678", "+493012345678"},
		// France: trunk 0, 00.
		{"FR", "01 23 45 67 89", "+33123456789"},
		{"FR", "06.12.34.56.78", "+33612345678"},
		{"FR", "+33 (0)6 12 34 56 78", "+33612345678"},
		{"FR", "00 33 6 12 34 56 78", "+33612345678"},
		// Australia: trunk 0, international prefix 0011.
		{"AU", "(02) 9876 5432", "+61298765432"},
		{"AU", "0491 570 156", "+61491570156"},
		{"AU", "0412 345 678", "+61412345678"},
		{"AU", "+61 (0)491 570 156", "+61491570156"},
		{"AU", "0011 44 20 7946 0958", "+442079460958"},
		// India: trunk 0, 00.
		{"IN", "098765 43210", "+919876543210"},
		{"IN", "98765-43210", "+919876543210"},
		{"IN", "0091 98765 43210", "+919876543210"},
		// Brazil: trunk 0 with an optional carrier code.
		{"BR", "(11) 91234-5678", "+5511912345678"},
		{"BR", "011 91234 5678", "+5511912345678"},
		{"BR", "0xx11 91234-5678", "+5511912345678"},
		{"BR", "+55 (11) 91234-5678", "+5511912345678"},
		// Japan: trunk 0, international prefix 010.
		{"JP", "03-1234-5678", "+81312345678"},
		{"JP", "090-1234-5678", "+819012345678"},
		{"JP", "+81 (0)90 1234 5678", "+819012345678"},
		{"JP", "010 1 212 555 0123", "+12125550123"},
		// More plans, and the 0 that is part of an Italian number.
		{"IE", "087 123 4567", "+353871234567"},
		{"IE", "(01) 234 5678", "+35312345678"},
		{"NL", "020-123 4567", "+31201234567"},
		{"NL", "06 12345678", "+31612345678"},
		{"BE", "0470 12 34 56", "+32470123456"},
		{"CH", "044 668 18 00", "+41446681800"},
		{"AT", "01 234 5678", "+4312345678"},
		{"SE", "08-123 456 78", "+46812345678"},
		{"AR", "011 4123-4567", "+541141234567"},
		{"NZ", "021 123 4567", "+64211234567"},
		{"ZA", "021 123 4567", "+27211234567"},
		{"MX", "55 1234 5678", "+525512345678"},
		{"NO", "22 12 34 56", "+4722123456"},
		{"DK", "32 12 34 56", "+4532123456"},
		{"ES", "612 34 56 78", "+34612345678"},
		{"PT", "912 345 678", "+351912345678"},
		{"IT", "06 1234 5678", "+390612345678"},
		{"IT", "+39 06 1234 5678", "+390612345678"},
		{"IT", "+39 (0)6 1234 5678", "+390612345678"},
		{"IT", "312 345 6789", "+393123456789"},
		{"KE", "0712 345678", "+254712345678"},
		{"AE", "050 123 4567", "+971501234567"},
		// Already E.164, with or without a default region.
		{"", "+442079460958", "+442079460958"},
		{"", "+6591234567", "+6591234567"},
		{"", "+49 30 123456", "+4930123456"},
		{"US", "+48601234567", "+48601234567"},
		{"JP", "+12125550123", "+12125550123"},
		// Empty stays empty.
		{"", "", ""},
		{"GB", "   ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.region+"/"+tt.in, func(t *testing.T) {
			got, err := contactsync.E164(tt.region)(tt.in)
			if err != nil {
				t.Fatalf("error %v", err)
			}
			if got != tt.want {
				t.Fatalf("got %#v, want %q", got, tt.want)
			}
		})
	}
}

func TestE164Invalid(t *testing.T) {
	tests := []struct {
		name   string
		region string
		in     any
		want   string // substring of the error, after the quoted input
	}{
		// Too short or too long for the plan.
		{"too short", "SG", "9123 456", "too short"},
		{"too short", "PL", "601 234 56", "not a valid number for PL (+48)"},
		{"too short", "GB", "+123", "too short"},
		{"too short", "GB", "020 7946", "not a valid number for GB (+44)"},
		{"too short", "FR", "01 23 45 67", "too short for FR (+33)"},
		{"local number", "US", "555-0123", "too short: a local number needs its area code"},
		{"too long", "US", "212 555 01234", "too long for US (+1)"},
		{"too long", "SG", "91234 5678", "not a valid number for SG (+65)"},
		{"too long", "GB", "+1234567890123456", "too long for US (+1)"},
		// The right length, but not a number of the region's plan.
		{"invalid for region", "SG", "2123 4567", "not a valid number for SG (+65)"},
		{"invalid for region", "SG", "+65 1234 5678", "not a valid number for SG (+65)"},
		{"invalid for region", "PL", "111 234 567", "not a valid number for PL (+48)"},
		{"invalid for region", "PL", "+48 (0) 601 234 567", "not a valid number for PL (+48)"},
		{"invalid for region", "US", "555-555-0123", "not a valid number for US (+1)"}, // no area code 555
		{"Ofcom drama mobile", "GB", "07700 900123", "not a valid number for GB (+44)"},
		{"invalid for region", "BE", "02 123 45 67", "not a valid number for BE (+32)"}, // Brussels: 02 2… to 02 8…
		{"invalid for region", "NZ", "09 123 4567", "not a valid number for NZ (+64)"},
		{"SG has no 00 prefix", "SG", "0065 9123 4567", "read as +591234567"},
		// Extensions are refused: the contact's phone has no room for one,
		// and dropping it would merge the people behind one switchboard.
		{"extension", "US", "+1 212 555 0123 ext 4", "has an extension (4)"},
		{"extension", "US", "(212) 555-0123 x12", "has an extension (12)"},
		{"extension", "SG", "+65 6123 4567;ext=89", "has an extension (89)"},
		{"extension", "GB", "020 7946 0958 #3", "has an extension (3)"},
		// Not a number at all.
		{"text", "US", "call me", "not a phone number"},
		{"text", "US", "n/a", "not a phone number"},
		{"misplaced +", "US", "12+34", "not a phone number"},
		{"unknown country code", "US", "+999 1234 5678", "unknown country calling code"},
		{"no region", "", "030 123456", "no country code and no default region"},
		{"float", "US", 3.5, "must be a string"},
		{"list", "US", []string{"2125550123"}, "must be a string"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.name, "/", tt.region, "/", tt.in), func(t *testing.T) {
			got, err := contactsync.E164(tt.region)(tt.in)
			if err == nil {
				t.Fatalf("got %#v, want an error", got)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want it to contain %q", err, tt.want)
			}
			if errors.Is(err, contactsync.ErrBadMapping) {
				t.Fatalf("a bad number must not be a mapping error: %v", err)
			}
			if !errors.Is(err, contactsync.ErrBadRecord) {
				t.Errorf("error %v does not match ErrBadRecord", err)
			}
			// The error says what was given.
			if s, ok := tt.in.(string); ok && !strings.HasPrefix(err.Error(), fmt.Sprintf("invalid phone number %q", s)) {
				t.Errorf("error %q does not start with the number given", err)
			}
		})
	}
}

func TestE164Integers(t *testing.T) {
	for _, in := range []any{2125550123, int64(2125550123), uint64(12125550123), json.Number("2125550123")} {
		got, err := contactsync.E164("US")(in)
		if err != nil || got != "+12125550123" {
			t.Errorf("E164(US)(%#v) = %#v, %v", in, got, err)
		}
	}
	if got, err := contactsync.E164("SG")(91234567); err != nil || got != "+6591234567" {
		t.Errorf("E164(SG)(91234567) = %#v, %v", got, err)
	}
}

func TestE164UnsupportedRegion(t *testing.T) {
	for _, region := range []string{"XX", "UK", "USA", "001", "ZZ", "G"} {
		t.Run(region, func(t *testing.T) {
			fn := contactsync.E164(region)
			for _, in := range []any{"020 7946 0958", "+442079460958"} {
				_, err := fn(in)
				if !errors.Is(err, contactsync.ErrBadMapping) {
					t.Fatalf("E164(%q)(%q): error %v, want ErrBadMapping", region, in, err)
				}
				if want := fmt.Sprintf("E164: unsupported region %q", region); !strings.Contains(err.Error(), want) {
					t.Fatalf("error %q, want it to contain %q", err, want)
				}
			}
		})
	}
}

func TestSupportedRegions(t *testing.T) {
	got := contactsync.SupportedRegions()
	if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
		t.Fatalf("SupportedRegions() is not sorted and unique: %q", got)
	}
	if len(got) < 200 {
		t.Fatalf("SupportedRegions() has %d regions, want every numbering plan", len(got))
	}
	for _, r := range []string{"SG", "PL", "US", "GB", "DE", "FR", "AU", "IN", "BR", "JP", "KE", "AE", "VN"} {
		if !slices.Contains(got, r) {
			t.Errorf("SupportedRegions() lacks %s", r)
		}
	}
	for _, r := range []string{"001", "ZZ", "UK"} {
		if slices.Contains(got, r) {
			t.Errorf("SupportedRegions() has %s", r)
		}
	}
	// Every region listed is one E164 takes.
	for _, r := range got {
		if _, err := contactsync.E164(r)("+442079460958"); err != nil {
			t.Errorf("E164(%q): %v", r, err)
		}
	}
	// The caller owns the slice.
	got[0] = "mutated"
	if contactsync.SupportedRegions()[0] == "mutated" {
		t.Error("SupportedRegions returns a shared slice")
	}
}

// TestE164Concurrent runs one transform from several goroutines, as
// concurrent Apply calls do (run with -race).
func TestE164Concurrent(t *testing.T) {
	fn := contactsync.E164("SG")
	in := []string{"9123 4567", "+44 20 7946 0958", "001 1 212 555 0123", "2123 4567", "+48 601 234 567"}
	want := make([]any, len(in))
	for i, s := range in {
		want[i], _ = contactsync.E164("SG")(s)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				for i, s := range in {
					if got, _ := fn(s); got != want[i] {
						t.Errorf("E164(SG)(%q) = %#v, want %#v", s, got, want[i])
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkE164(b *testing.B) {
	for _, bm := range []struct{ name, region, in string }{
		{"US national", "US", "(212) 555-0123"},
		{"GB trunk 0", "GB", "020 7946 0958"},
		{"E.164 no region", "", "+442079460958"},
		{"international prefix", "US", "011 44 20 7946 0958"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			fn := contactsync.E164(bm.region)
			if _, err := fn(bm.in); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := fn(bm.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func ExampleE164() {
	sg := contactsync.E164("SG")
	for _, n := range []string{"9123 4567", "+65 6123-4567", "001 44 20 7946 0958", "2123 4567", "+1 212 555 0123 ext 4"} {
		v, err := sg(n)
		fmt.Println(v, err)
	}
	// Output:
	// +6591234567 <nil>
	// +6561234567 <nil>
	// +442079460958 <nil>
	// <nil> invalid phone number "2123 4567" (read as +6521234567): not a valid number for SG (+65)
	// <nil> invalid phone number "+1 212 555 0123 ext 4": has an extension (4); the API's phone field takes none
}
