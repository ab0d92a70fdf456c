package contacts

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// AppointmentsService reads a contact's appointments: client.Appointments.
// The contacts API only reads appointments; calendars own their lifecycle.
type AppointmentsService service

// Appointment is a calendar event booked for a contact. The API sends its
// times as "YYYY-MM-DD HH:MM:SS" without a zone; they are kept as sent —
// use Start and End to parse them in the calendar's time zone.
type Appointment struct {
	ID                string   `json:"id"`
	CalendarID        string   `json:"calendarId,omitempty"`
	Status            string   `json:"status,omitempty"`
	AppointmentStatus string   `json:"appointmentStatus,omitempty"`
	Title             string   `json:"title,omitempty"`
	AssignedUserID    string   `json:"assignedUserId,omitempty"`
	Notes             string   `json:"notes,omitempty"`
	StartTime         string   `json:"startTime,omitempty"`
	EndTime           string   `json:"endTime,omitempty"`
	Address           string   `json:"address,omitempty"`
	LocationID        string   `json:"locationId,omitempty"`
	ContactID         string   `json:"contactId,omitempty"`
	GroupID           string   `json:"groupId,omitempty"`
	Users             []string `json:"users,omitempty"`
	DateAdded         string   `json:"dateAdded,omitempty"`
	DateUpdated       string   `json:"dateUpdated,omitempty"`
	AssignedResources []string `json:"assignedResources,omitempty"`

	raw rawRef
}

// RawJSON returns the appointment's JSON as the API sent it (see
// Contact.RawJSON).
func (a *Appointment) RawJSON() json.RawMessage { return a.raw.json() }

type appointmentList struct {
	Events []Appointment `json:"events"`
}

func (l *appointmentList) attachRaw(body []byte) {
	attachAll(body, "events", l.Events, func(a *Appointment) *rawRef { return &a.raw })
}

// Start parses StartTime; times without a zone are read in loc (UTC if nil).
func (a *Appointment) Start(loc *time.Location) (time.Time, bool) { return parseIn(a.StartTime, loc) }

// End parses EndTime; times without a zone are read in loc (UTC if nil).
func (a *Appointment) End(loc *time.Location) (time.Time, bool) { return parseIn(a.EndTime, loc) }

func parseIn(s string, loc *time.Location) (time.Time, bool) {
	if loc == nil {
		loc = time.UTC
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, true
		}
	}
	return ParseTime(s)
}

// List returns the appointments of a contact.
//
// API: GET /contacts/{contactId}/appointments (get-appointments-for-contact).
func (s *AppointmentsService) List(ctx context.Context, contactID string, opts ...RequestOption) ([]Appointment, error) {
	p, err := pathOf("/contacts/%s/appointments", "contactId", contactID)
	if err != nil {
		return nil, err
	}
	var out appointmentList
	if err := s.client.do(ctx, request{method: http.MethodGet, path: p, out: &out}, opts); err != nil {
		return nil, err
	}
	return out.Events, nil
}
