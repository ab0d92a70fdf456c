package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	contacts "github.com/gymflow/contacts-go"
)

// Event types, as the payloads' "type" field names them.
const (
	TypeContactCreate     = "ContactCreate"
	TypeContactUpdate     = "ContactUpdate"
	TypeContactDelete     = "ContactDelete"
	TypeContactTagUpdate  = "ContactTagUpdate"
	TypeContactDndUpdate  = "ContactDndUpdate"
	TypeTaskCreate        = "TaskCreate"
	TypeTaskComplete      = "TaskComplete"
	TypeTaskDelete        = "TaskDelete"
	TypeNoteCreate        = "NoteCreate"
	TypeNoteUpdate        = "NoteUpdate"
	TypeNoteDelete        = "NoteDelete"
	TypeAppointmentCreate = "AppointmentCreate"
	TypeAppointmentUpdate = "AppointmentUpdate"
	TypeAppointmentDelete = "AppointmentDelete"
	TypeInstall           = "INSTALL"
	TypeUninstall         = "UNINSTALL"
)

// Event is a parsed webhook event: one of the pointer types of this
// package (*ContactCreate, *TaskComplete, …) or *Unknown. Switch on it:
//
//	switch e := ev.(type) {
//	case *webhook.ContactCreate:
//		fmt.Println(e.Contact.Email)
//	case *webhook.Unknown:
//		log.Printf("event %s not handled", e.Type)
//	}
type Event interface {
	// Info returns what every event carries: type, location, webhookId,
	// timestamp and the raw body.
	Info() *Meta
}

// Meta is what every event carries.
type Meta struct {
	// Type is the payload's "type".
	Type string `json:"type"`
	// LocationID is the sub-account the event belongs to ("" for an
	// agency-level app event).
	LocationID string `json:"locationId"`
	// WebhookID identifies the delivery; redeliveries repeat it.
	WebhookID string `json:"webhookId"`
	// Timestamp is when the API sent the event.
	Timestamp time.Time `json:"-"`
	// Raw is the whole body as received.
	Raw json.RawMessage `json:"-"`
}

// Info implements Event.
func (m *Meta) Info() *Meta { return m }

// ContactEvent is the payload of the contact events: a full snapshot of the
// contact (without dateUpdated, which the API leaves out).
type ContactEvent struct {
	Meta
	Contact contacts.Contact
}

// Contact events.
type (
	ContactCreate    struct{ ContactEvent }
	ContactUpdate    struct{ ContactEvent }
	ContactDelete    struct{ ContactEvent }
	ContactTagUpdate struct{ ContactEvent }
	ContactDndUpdate struct{ ContactEvent }
)

// Task is a task as task events carry it. TaskCreate payloads lack some
// fields (e.g. completed); absent fields are zero.
type Task struct {
	ID         string        `json:"id"`
	ContactID  string        `json:"contactId"`
	Title      string        `json:"title"`
	Body       string        `json:"body"`
	AssignedTo string        `json:"assignedTo"`
	DueDate    contacts.Time `json:"dueDate"`
	DateAdded  contacts.Time `json:"dateAdded"`
	Completed  *bool         `json:"completed"`
}

// TaskEvent is the payload of the task events. There is no TaskUpdate
// event: the API does not report task edits.
type TaskEvent struct {
	Meta
	Task Task
}

// Task events.
type (
	TaskCreate   struct{ TaskEvent }
	TaskComplete struct{ TaskEvent }
	TaskDelete   struct{ TaskEvent }
)

// Note is a note as note events carry it.
type Note struct {
	ID        string        `json:"id"`
	ContactID string        `json:"contactId"`
	Body      string        `json:"body"`
	DateAdded contacts.Time `json:"dateAdded"`
}

// NoteEvent is the payload of the note events.
type NoteEvent struct {
	Meta
	Note Note
}

// Note events.
type (
	NoteCreate struct{ NoteEvent }
	NoteUpdate struct{ NoteEvent }
	NoteDelete struct{ NoteEvent }
)

// Appointment is the appointment object of appointment events.
type Appointment struct {
	ID                string        `json:"id"`
	CalendarID        string        `json:"calendarId"`
	ContactID         string        `json:"contactId"`
	GroupID           string        `json:"groupId"`
	Title             string        `json:"title"`
	Address           string        `json:"address"`
	AppointmentStatus string        `json:"appointmentStatus"`
	AssignedUserID    string        `json:"assignedUserId"`
	Users             []string      `json:"users"`
	Notes             string        `json:"notes"`
	Source            string        `json:"source"`
	StartTime         contacts.Time `json:"startTime"`
	EndTime           contacts.Time `json:"endTime"`
	DateAdded         contacts.Time `json:"dateAdded"`
	DateUpdated       contacts.Time `json:"dateUpdated"`
}

// AppointmentEvent is the payload of the appointment events.
//
// The API's documented AppointmentUpdate and AppointmentDelete samples say
// "type": "AppointmentCreate"; such a delivery parses as *AppointmentCreate
// with the full appointment. If an update matters to you, compare
// DateUpdated with DateAdded, or re-read the contact's appointments.
type AppointmentEvent struct {
	Meta
	Appointment Appointment `json:"appointment"`
}

// Appointment events.
type (
	AppointmentCreate struct{ AppointmentEvent }
	AppointmentUpdate struct{ AppointmentEvent }
	AppointmentDelete struct{ AppointmentEvent }
)

// Trial describes an app's trial on INSTALL.
type Trial struct {
	OnTrial bool `json:"onTrial"`
	// TrialDuration is in days (a JSON number; fractions are kept).
	TrialDuration  float64       `json:"trialDuration"`
	TrialStartDate contacts.Time `json:"trialStartDate"`
}

// Install is an app installed on a location or (without LocationID) an
// agency.
type Install struct {
	Meta
	AppID               string         `json:"appId"`
	CompanyID           string         `json:"companyId"`
	UserID              string         `json:"userId"`
	PlanID              string         `json:"planId"`
	CompanyName         string         `json:"companyName"`
	IsWhitelabelCompany bool           `json:"isWhitelabelCompany"`
	WhitelabelDetails   map[string]any `json:"whitelabelDetails"`
	Trial               *Trial         `json:"trial"`
}

// Uninstall is an app removed from a location or (with CompanyID) an agency.
type Uninstall struct {
	Meta
	AppID     string `json:"appId"`
	CompanyID string `json:"companyId"`
}

// Unknown is an event type this package does not model; Raw holds it.
type Unknown struct{ Meta }

// ErrMalformed is returned (wrapped) for bodies that are not a webhook event.
var ErrMalformed = errors.New("webhook: malformed event")

// envelope is what every event shares.
type envelope struct {
	Type       string          `json:"type"`
	LocationID string          `json:"locationId"`
	WebhookID  string          `json:"webhookId"`
	Timestamp  json.RawMessage `json:"timestamp"`
}

// Parse decodes an event from its raw body. It does not verify it: use
// Verify first, or Handler, which does both. Decoding is lenient (custom
// field values of any type, missing fields); a body that is not a JSON
// object with a string "type" is ErrMalformed. Event types this package
// does not model come back as *Unknown, not as an error.
func Parse(body []byte) (Event, error) {
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if env.Type == "" {
		return nil, fmt.Errorf("%w: no type", ErrMalformed)
	}
	meta := Meta{Type: env.Type, LocationID: env.LocationID, WebhookID: env.WebhookID, Raw: bytes.Clone(body)}
	if len(env.Timestamp) > 0 {
		var ts contacts.Time
		if err := ts.UnmarshalJSON(env.Timestamp); err == nil {
			meta.Timestamp = ts.Time
		}
	}

	switch env.Type {
	case TypeContactCreate, TypeContactUpdate, TypeContactDelete, TypeContactTagUpdate, TypeContactDndUpdate:
		ce := ContactEvent{Meta: meta}
		if err := json.Unmarshal(body, &ce.Contact); err != nil {
			return nil, fmt.Errorf("%w: %s contact: %v", ErrMalformed, env.Type, err)
		}
		ce.Contact.Type = "" // "type" is the event's, not the contact's
		switch env.Type {
		case TypeContactCreate:
			return &ContactCreate{ce}, nil
		case TypeContactUpdate:
			return &ContactUpdate{ce}, nil
		case TypeContactDelete:
			return &ContactDelete{ce}, nil
		case TypeContactTagUpdate:
			return &ContactTagUpdate{ce}, nil
		default:
			return &ContactDndUpdate{ce}, nil
		}
	case TypeTaskCreate, TypeTaskComplete, TypeTaskDelete:
		te := TaskEvent{Meta: meta}
		if err := json.Unmarshal(body, &te.Task); err != nil {
			return nil, fmt.Errorf("%w: %s task: %v", ErrMalformed, env.Type, err)
		}
		switch env.Type {
		case TypeTaskCreate:
			return &TaskCreate{te}, nil
		case TypeTaskComplete:
			return &TaskComplete{te}, nil
		default:
			return &TaskDelete{te}, nil
		}
	case TypeNoteCreate, TypeNoteUpdate, TypeNoteDelete:
		ne := NoteEvent{Meta: meta}
		if err := json.Unmarshal(body, &ne.Note); err != nil {
			return nil, fmt.Errorf("%w: %s note: %v", ErrMalformed, env.Type, err)
		}
		switch env.Type {
		case TypeNoteCreate:
			return &NoteCreate{ne}, nil
		case TypeNoteUpdate:
			return &NoteUpdate{ne}, nil
		default:
			return &NoteDelete{ne}, nil
		}
	case TypeAppointmentCreate, TypeAppointmentUpdate, TypeAppointmentDelete:
		ae := AppointmentEvent{Meta: meta}
		var p struct {
			Appointment Appointment `json:"appointment"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			return nil, fmt.Errorf("%w: %s appointment: %v", ErrMalformed, env.Type, err)
		}
		ae.Appointment = p.Appointment
		switch env.Type {
		case TypeAppointmentCreate:
			return &AppointmentCreate{ae}, nil
		case TypeAppointmentUpdate:
			return &AppointmentUpdate{ae}, nil
		default:
			return &AppointmentDelete{ae}, nil
		}
	case TypeInstall:
		ev := &Install{Meta: meta}
		if err := json.Unmarshal(body, ev); err != nil {
			return nil, fmt.Errorf("%w: INSTALL: %v", ErrMalformed, err)
		}
		ev.Meta = meta
		return ev, nil
	case TypeUninstall:
		ev := &Uninstall{Meta: meta}
		if err := json.Unmarshal(body, ev); err != nil {
			return nil, fmt.Errorf("%w: UNINSTALL: %v", ErrMalformed, err)
		}
		ev.Meta = meta
		return ev, nil
	}
	return &Unknown{meta}, nil
}
