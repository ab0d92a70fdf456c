package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gymflow/contacts-go/contactstest"
	contactsync "github.com/gymflow/contacts-go/sync"
)

// member is a GymFlow member as the dashboard knows it: GymFlow's own
// record, not the API's.
type member struct {
	ID, Name, Email string
}

// The sample members' names: fictional people.
var (
	firstNames = []string{"Ana", "Ben", "Carla", "Dev", "Elif", "Farid", "Grace", "Hugo", "Imani", "Jonas",
		"Kira", "Luis", "Maya", "Noah", "Olga", "Pedro", "Quinn", "Rosa", "Sami", "Tara",
		"Umar", "Vera", "Wes", "Xenia", "Yusuf", "Zoë", "Aiko", "Bruno", "Chidi", "Dana"}
	lastNames = []string{"Lima", "Carter", "Souza", "Patel", "Yilmaz", "Haddad", "Okafor", "Martin", "Njoroge", "Berg",
		"Tanaka", "Ortega", "Cohen", "Fischer", "Petrova", "Alves", "Reyes", "Marino", "Kallio", "Singh",
		"Farouk", "Novak", "Brooks", "Ivanova", "Demir", "O'Brien", "Sato", "Ferreira", "Eze", "Whitfield"}
	noteTexts = []string{
		"Prefers early morning classes.",
		"Asked about freezing the membership over the summer.",
		"Knee injury: no high-impact <HIIT> for four weeks.",
		"Interested in the family plan & the pool.",
		"Wants a progress check every month.",
	}
	callTitles        = []string{"Renewal call: membership ends soon", "Chase the failed card payment", "Offer the annual upgrade"}
	appointmentTitles = []string{"PT session", "Spin class", "Induction", "Body scan"}
)

// seed creates the sample members as contacts of the fake API, with their
// tasks, notes and appointments around now, and links each member to its
// contact in state, as the outbound sync would.
func seed(ctx context.Context, api *contactstest.Server, state contactsync.StateStore, now time.Time) ([]member, error) {
	now = now.Truncate(time.Minute)
	day := 24 * time.Hour
	var members []member
	for i, first := range firstNames {
		last := lastNames[i]
		m := member{ID: fmt.Sprintf("m%03d", i+1), Name: first + " " + last, Email: emailOf(first, last)}
		c := api.SeedContact(contactstest.Contact{FirstName: first, LastName: last, Email: m.Email,
			Tags: []string{"member"}, Source: "gymflow", Type: "customer"})
		if err := state.PutLink(ctx, contactsync.Link{Kind: contactsync.KindMember, LocalID: m.ID, RemoteID: c.ID, UpdatedAt: api.Now().Add(-time.Hour)}); err != nil {
			return nil, err
		}
		members = append(members, m)

		var tasks []contactstest.Task
		task := func(title string, due time.Time, done bool) {
			tasks = append(tasks, contactstest.Task{ContactID: c.ID, Title: title, DueDate: due, Completed: done})
		}
		task("Send the welcome pack", now.Add(-14*day), true)
		if i%3 == 0 {
			task(callTitles[i/3%len(callTitles)], now.Add(-time.Duration(1+i%4)*day), false)
		}
		if i%5 == 1 {
			task("Follow up on missed classes", now.Add(-3*time.Hour), false)
		}
		if i%2 == 0 {
			task("Book a PT intro session", now.Add(time.Duration(1+i%5)*day+2*time.Hour), false)
		}
		for _, t := range tasks {
			if _, err := api.SeedTask(t); err != nil {
				return nil, err
			}
		}

		notes := []contactstest.Note{{ContactID: c.ID, Body: noteTexts[i%len(noteTexts)],
			DateAdded: now.Add(-time.Duration(i%10)*day - time.Hour)}}
		if i%4 == 0 {
			notes = append(notes, contactstest.Note{ContactID: c.ID, Body: "Joined with a friend; both on the annual plan.",
				DateAdded: now.Add(-20 * day)})
		}
		for _, n := range notes {
			if _, err := api.SeedNote(n); err != nil {
				return nil, err
			}
		}

		start := now.Add(time.Duration(i%6)*day + time.Duration(1+i%10)*time.Hour)
		appts := []contactstest.Appointment{{ContactID: c.ID, Title: appointmentTitles[i%len(appointmentTitles)],
			StartTime: start, EndTime: start.Add(time.Hour), AppointmentStatus: "confirmed", Notes: "Studio " + fmt.Sprint(1+i%3)}}
		if i%7 == 3 {
			appts[0].Status, appts[0].AppointmentStatus = "cancelled", "cancelled"
		}
		if i%2 == 1 {
			past := now.Add(-time.Duration(1+i%5) * day).Truncate(day).Add(18 * time.Hour)
			appts = append(appts, contactstest.Appointment{ContactID: c.ID, Title: "Spin class",
				StartTime: past, EndTime: past.Add(45 * time.Minute), AppointmentStatus: "showed"})
		}
		for _, a := range appts {
			if _, err := api.SeedAppointment(a); err != nil {
				return nil, err
			}
		}
	}
	return members, nil
}

// emailOf makes a member's example.com address of the ASCII letters of the
// name.
func emailOf(first, last string) string {
	ascii := func(s string) string {
		return strings.Map(func(r rune) rune {
			switch {
			case r >= 'a' && r <= 'z':
				return r
			case r == 'ë':
				return 'e'
			}
			return -1
		}, strings.ToLower(s))
	}
	return ascii(first) + "." + ascii(last) + "@example.com"
}

// Members with a past only: they drifted away (their last activity weeks
// or months ago), or never came.
var (
	driftFirst = []string{"Abel", "Bea", "Cyrus", "Dina", "Emre", "Fiona", "Goran", "Hilde", "Ines", "Jamal", "Keiko", "Lars"}
	driftLast  = []string{"Moss", "Quint", "Vale", "Rowe", "Kaya", "Lund", "Pike", "Stone", "Brandt", "Adeyemi", "Mori", "Holm"}
)

// regulars is how many members seedHistory adds who come every week.
const regulars = 250

// completion is a task of the history to complete at a time, once the
// read model has seen it open: the TaskComplete webhook then tells when.
type completion struct {
	taskID string
	at     time.Time
}

// seedHistory adds the weeks before now: each member's weekly check-in
// calls (most done on time, some late, to be completed later by the CRM at
// the times returned) and classes (some cancelled, some no-shows); and
// members with a past only — drifted away or never active.
func seedHistory(ctx context.Context, api *contactstest.Server, state contactsync.StateStore, members []member, now time.Time) ([]member, []completion, error) {
	now = now.Truncate(time.Minute)
	day, week := 24*time.Hour, 7*24*time.Hour
	monday := contactsync.WeekStart(now)
	var plan []completion
	// More regulars, so that the charts count a gym's worth of members:
	// names paired differently from the first ones, a recent note each.
	var extra []member
	for i := range regulars {
		first, last := firstNames[(i+1)%len(firstNames)], lastNames[(i*7+3+i/len(lastNames))%len(lastNames)]
		m := member{ID: fmt.Sprintf("m%03d", len(members)+i+1), Name: first + " " + last, Email: fmt.Sprintf("%s.%d", strings.TrimSuffix(emailOf(first, last), "@example.com"), i+1) + "@example.com"}
		c := api.SeedContact(contactstest.Contact{FirstName: first, LastName: last, Email: m.Email, Tags: []string{"member"}, Source: "gymflow", Type: "customer"})
		if err := state.PutLink(ctx, contactsync.Link{Kind: contactsync.KindMember, LocalID: m.ID, RemoteID: c.ID, UpdatedAt: api.Now().Add(-time.Hour)}); err != nil {
			return nil, nil, err
		}
		extra = append(extra, m)
		if _, err := api.SeedNote(contactstest.Note{ContactID: c.ID, Body: noteTexts[i%len(noteTexts)], DateAdded: now.Add(-time.Duration(8+i%22)*day - 8*time.Hour)}); err != nil {
			return nil, nil, err
		}
	}
	for i, m := range append(slices.Clone(members), extra...) {
		l, err := state.Link(ctx, contactsync.KindMember, m.ID)
		if err != nil {
			return nil, nil, err
		}
		for w := 1; w <= 11; w++ {
			start := monday.Add(-time.Duration(w) * week)
			if (i+w)%3 != 1 {
				due := start.Add(time.Duration(i%5)*day + 10*time.Hour)
				t, err := api.SeedTask(contactstest.Task{ContactID: l.RemoteID, Title: "Weekly check-in call", DueDate: due, Completed: (i*7+w*3)%10 == 9})
				if err != nil {
					return nil, nil, err
				}
				switch h := (i*7 + w*3) % 10; {
				case h < 6:
					plan = append(plan, completion{t.ID, due.Add(-time.Duration(1+h) * time.Hour)})
				case h < 9: // late, but before now
					at := due.Add(time.Duration(h-5)*day + 3*time.Hour)
					if limit := now.Add(-time.Hour); at.After(limit) {
						at = limit
					}
					plan = append(plan, completion{t.ID, at})
				}
			}
			if (i+w)%2 == 0 {
				at := start.Add(time.Duration(i%5)*day + 18*time.Hour)
				status := "showed"
				switch (i + w*5) % 9 {
				case 0:
					status = "cancelled"
				case 1:
					status = "noshow"
				}
				if _, err := api.SeedAppointment(contactstest.Appointment{ContactID: l.RemoteID, Title: "Spin class", StartTime: at, EndTime: at.Add(45 * time.Minute), AppointmentStatus: status}); err != nil {
					return nil, nil, err
				}
			}
		}
	}
	for i, first := range driftFirst {
		last := driftLast[i]
		m := member{ID: fmt.Sprintf("m%03d", len(members)+regulars+i+1), Name: first + " " + last, Email: emailOf(first, last)}
		c := api.SeedContact(contactstest.Contact{FirstName: first, LastName: last, Email: m.Email, Tags: []string{"member"}, Source: "gymflow", Type: "customer"})
		if err := state.PutLink(ctx, contactsync.Link{Kind: contactsync.KindMember, LocalID: m.ID, RemoteID: c.ID, UpdatedAt: api.Now().Add(-time.Hour)}); err != nil {
			return nil, nil, err
		}
		extra = append(extra, m)
		if i >= 10 {
			continue // never active
		}
		gone := time.Duration(35+12*i) * day // last seen 35 to 143 days ago
		if _, err := api.SeedNote(contactstest.Note{ContactID: c.ID, Body: "Said work is busy; will be back after the holidays.", DateAdded: now.Add(-gone)}); err != nil {
			return nil, nil, err
		}
		at := now.Add(-gone - 3*day).Truncate(day).Add(18 * time.Hour)
		if _, err := api.SeedAppointment(contactstest.Appointment{ContactID: c.ID, Title: "Spin class", StartTime: at, EndTime: at.Add(45 * time.Minute), AppointmentStatus: "showed"}); err != nil {
			return nil, nil, err
		}
		if _, err := api.SeedTask(contactstest.Task{ContactID: c.ID, Title: "Weekly check-in call", DueDate: now.Add(-gone - 5*day), Completed: true}); err != nil {
			return nil, nil, err
		}
	}
	slices.SortFunc(plan, func(a, b completion) int { return a.at.Compare(b.at) })
	return extra, plan, nil
}
