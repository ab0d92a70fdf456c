// Command fake-server serves the contactstest fake of the Contacts API on a
// local address, seeded with sample gym members, so curl or a client in any
// language can be pointed at it.
//
//	go run ./examples/fake-server -addr 127.0.0.1:8080
//
// With -locations it also serves that many empty locations (gyms), each with
// its own token and the live API's rate limit, and writes them with their
// tokens to -locations-file (readable by its owner only) for the worker and
// enqueue processes of examples/gymflow-fleet:
//
//	go run ./examples/fake-server -locations 50 -locations-file /tmp/gyms.json
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/gymflow/contacts-go/contactstest"
	"github.com/gymflow/contacts-go/internal/demoloc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run serves until ctx is done.
func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("fake-server", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	members := fs.Int("members", 25, "number of sample gym members to seed")
	noLimits := fs.Bool("no-rate-limits", false, "switch the API's rate limits off")
	nLocs := fs.Int("locations", 0, "also serve this many empty locations (gyms), written with their tokens to -locations-file")
	locFile := fs.String("locations-file", "", "where -locations writes the locations and their tokens (mode 0600)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	case *nLocs < 0 || *nLocs > demoloc.MaxLocations:
		return fmt.Errorf("-locations %d: want 0 to %d", *nLocs, demoloc.MaxLocations)
	case (*nLocs > 0) != (*locFile != ""):
		return errors.New("-locations and -locations-file go together")
	}
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	opts := []contactstest.Option{contactstest.WithListener(l)}
	if *noLimits {
		opts = append(opts, contactstest.WithoutRateLimits())
	}
	srv := contactstest.NewServer(opts...)
	defer srv.Close()
	if err := seed(srv, *members); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if *nLocs > 0 {
		// One app's tokens: the processes that use a location share its
		// budget, as on the live API (per app, per location).
		locs := make([]demoloc.Location, *nLocs)
		for i := range locs {
			id := srv.AddLocation(fmt.Sprintf("gym-%04d", i+1), "", contactstest.LocationSettings{})
			locs[i] = demoloc.Location{ID: id, Token: srv.IssueToken(contactstest.TokenSpec{LocationID: id, AppID: "gymflow"})}
		}
		if err := demoloc.Write(*locFile, locs); err != nil {
			return fmt.Errorf("-locations-file: %w", err)
		}
	}

	fmt.Fprintf(out, "Contacts API fake with %d sample gym members\n\n", *members)
	fmt.Fprintf(out, "  base URL     %s\n", srv.URL)
	fmt.Fprintf(out, "  token        %s\n", srv.Token())
	fmt.Fprintf(out, "  location ID  %s\n", srv.LocationID())
	if *nLocs > 0 {
		fmt.Fprintf(out, "  locations    %d more, with their tokens in %s\n", *nLocs, *locFile)
	}
	fmt.Fprintln(out)
	fmt.Fprintf(out, "Try:\n  curl -s -H 'Authorization: Bearer %s' -H 'Version: 2021-07-28' \\\n    -H 'Content-Type: application/json' -d '{\"locationId\":\"%s\",\"pageLimit\":5}' %s/contacts/search\n\n",
		srv.Token(), srv.LocationID(), srv.URL)
	fmt.Fprintln(out, "Ctrl-C to stop.")
	<-ctx.Done()
	return nil
}

var (
	firstNames = []string{"Ana", "Bruno", "Carla", "Diego", "Elena", "Farah", "Gustavo", "Hana", "Ivan", "Julia", "Kofi", "Lena"}
	lastNames  = []string{"Silva", "Okafor", "Nguyen", "Müller", "Rossi", "Kowalski", "Haddad", "Tanaka", "Larsen", "Moreau"}
	plans      = []string{"basic", "plus", "premium"}
	classes    = []string{"yoga", "spin", "crossfit", "pilates", "boxing"}
)

// seed adds deterministic sample members with tags, a follow-up task, a
// note and, for some, an upcoming class booking.
func seed(srv *contactstest.Server, n int) error {
	planField, err := srv.AddCustomField(srv.LocationID(), "membership_plan")
	if err != nil {
		return err
	}
	now := srv.Now()
	for i := range n {
		first, last := firstNames[i%len(firstNames)], lastNames[(i*7)%len(lastNames)]
		c := srv.SeedContact(contactstest.Contact{
			FirstName:    first,
			LastName:     last,
			Email:        fmt.Sprintf("%s.%s%d@example.com", strings.ToLower(first), strings.ToLower(last), i),
			Phone:        fmt.Sprintf("+1555%07d", 1000+i),
			Source:       "gymflow",
			Tags:         []string{"member", "plan:" + plans[i%len(plans)], "class:" + classes[i%len(classes)]},
			CustomFields: []contactstest.CustomField{{ID: planField, Value: plans[i%len(plans)]}},
			DateAdded:    now.Add(-time.Duration(n-i) * 24 * time.Hour),
		})
		if _, err := srv.SeedTask(contactstest.Task{ContactID: c.ID, Title: "Check in on training goals", DueDate: now.Add(time.Duration(i%7+1) * 24 * time.Hour)}); err != nil {
			return err
		}
		if _, err := srv.SeedNote(contactstest.Note{ContactID: c.ID, Body: "Joined through the front desk; prefers " + classes[i%len(classes)] + " classes."}); err != nil {
			return err
		}
		if i%3 == 0 {
			start := now.Add(time.Duration(i%5+1) * 24 * time.Hour).Truncate(time.Hour)
			if _, err := srv.SeedAppointment(contactstest.Appointment{ContactID: c.ID, CalendarID: "classes", Title: classes[i%len(classes)] + " class", StartTime: start, EndTime: start.Add(time.Hour)}); err != nil {
				return err
			}
		}
	}
	return nil
}
