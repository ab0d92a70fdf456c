package contactstest

import (
	"maps"
	"slices"
	"strings"
	"time"
)

// Contact is a contact held by the fake server. Seed contacts with
// Server.SeedContact and read them back with Server.Contact; the server
// renders them to JSON with the API's field names.
type Contact struct {
	ID          string
	LocationID  string
	FirstName   string
	LastName    string
	Name        string // derived from FirstName and LastName when empty
	Email       string
	Phone       string // stored in E.164, as the API reads it back
	CompanyName string
	Gender      string
	Address1    string
	City        string
	State       string
	PostalCode  string
	Country     string
	Website     string
	Timezone    string
	Source      string
	Type        string // "lead" or "customer"
	AssignedTo  string
	DateOfBirth string // as rendered, e.g. "1990-09-25T00:00:00.000Z"
	BusinessID  string
	DND         bool
	// DNDSettings is keyed by channel: Call, Email, SMS, WhatsApp, GMB, FB.
	DNDSettings      map[string]DNDSetting
	InboundDND       *DNDSetting
	Tags             []string
	CustomFields     []CustomField
	Followers        []string
	AdditionalEmails []string
	Campaigns        []string
	Workflows        []string
	DateAdded        time.Time
	DateUpdated      time.Time
}

// DNDSetting is one channel's do-not-disturb state.
type DNDSetting struct {
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
	Code    string `json:"code,omitempty"`
}

// CustomField is a custom field value on a contact, by field ID.
type CustomField struct {
	ID    string `json:"id"`
	Value any    `json:"value"`
}

// Task is a contact's task.
type Task struct {
	ID         string
	ContactID  string
	Title      string
	Body       string
	AssignedTo string
	DueDate    time.Time
	Completed  bool
	DateAdded  time.Time
}

// Note is a note on a contact.
type Note struct {
	ID        string
	ContactID string
	Body      string
	UserID    string
	Title     string
	Color     string
	Pinned    bool
	DateAdded time.Time
}

// Appointment is a calendar event of a contact. The contacts API only
// reads appointments, so the fake's are seeded (Server.SeedAppointment).
type Appointment struct {
	ID                string
	ContactID         string
	LocationID        string
	CalendarID        string
	Title             string
	Status            string
	AppointmentStatus string
	AssignedUserID    string
	Notes             string
	Address           string
	GroupID           string
	Source            string // e.g. "booking_widget"
	Users             []string
	AssignedResources []string // resource (room, equipment) IDs
	StartTime         time.Time
	EndTime           time.Time
	DateAdded         time.Time
	DateUpdated       time.Time
}

func (c *Contact) clone() Contact {
	out := *c
	out.DNDSettings = maps.Clone(c.DNDSettings)
	if c.InboundDND != nil {
		d := *c.InboundDND
		out.InboundDND = &d
	}
	out.Tags = slices.Clone(c.Tags)
	out.CustomFields = slices.Clone(c.CustomFields)
	out.Followers = slices.Clone(c.Followers)
	out.AdditionalEmails = slices.Clone(c.AdditionalEmails)
	out.Campaigns = slices.Clone(c.Campaigns)
	out.Workflows = slices.Clone(c.Workflows)
	return out
}

func (c *Contact) displayName() string {
	if c.Name != "" {
		return c.Name
	}
	return strings.TrimSpace(c.FirstName + " " + c.LastName)
}

// isoMillis is the API's timestamp format.
const isoMillis = "2006-01-02T15:04:05.000Z07:00"

func iso(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(isoMillis)
}

func omitEmpty(m map[string]any, key, v string) {
	if v != "" {
		m[key] = v
	}
}

// wire renders a contact as GET /contacts/{id} returns it.
func (c *Contact) wire() map[string]any {
	m := map[string]any{
		"id":                 c.ID,
		"locationId":         c.LocationID,
		"dnd":                c.DND,
		"tags":               nonNil(c.Tags),
		"customFields":       nonNilFields(c.CustomFields),
		"dateAdded":          iso(c.DateAdded),
		"dateUpdated":        iso(c.DateUpdated),
		"firstNameLowerCase": strings.ToLower(c.FirstName),
		"lastNameLowerCase":  strings.ToLower(c.LastName),
		"fullNameLowerCase":  strings.ToLower(c.displayName()),
		"emailLowerCase":     strings.ToLower(c.Email),
		"type":               c.contactType(),
		"followers":          nonNil(c.Followers),
		"additionalEmails":   additionalEmails(c.AdditionalEmails),
		"attachments":        "",
	}
	omitEmpty(m, "name", c.displayName())
	omitEmpty(m, "firstName", c.FirstName)
	omitEmpty(m, "lastName", c.LastName)
	omitEmpty(m, "email", c.Email)
	omitEmpty(m, "phone", c.Phone)
	omitEmpty(m, "companyName", c.CompanyName)
	omitEmpty(m, "address1", c.Address1)
	omitEmpty(m, "city", c.City)
	omitEmpty(m, "state", c.State)
	omitEmpty(m, "postalCode", c.PostalCode)
	omitEmpty(m, "country", c.Country)
	omitEmpty(m, "website", c.Website)
	omitEmpty(m, "timezone", c.Timezone)
	omitEmpty(m, "source", c.Source)
	omitEmpty(m, "assignedTo", c.AssignedTo)
	omitEmpty(m, "dateOfBirth", c.DateOfBirth)
	omitEmpty(m, "businessId", c.BusinessID)
	if len(c.DNDSettings) > 0 {
		m["dndSettings"] = c.DNDSettings
	}
	return m
}

func (c *Contact) contactType() string {
	if c.Type != "" {
		return c.Type
	}
	return "lead"
}

// webhookWire renders a contact as the contact webhooks carry it: a full
// snapshot without dateUpdated.
func (c *Contact) webhookWire(eventType string) map[string]any {
	m := c.wire()
	for _, k := range []string{"dateUpdated", "firstNameLowerCase", "lastNameLowerCase", "fullNameLowerCase", "emailLowerCase", "followers", "additionalEmails", "type"} {
		delete(m, k)
	}
	m["attachments"] = []string{}
	m["type"] = eventType
	return m
}

func additionalEmails(emails []string) []map[string]string {
	out := make([]map[string]string, 0, len(emails))
	for _, e := range emails {
		out = append(out, map[string]string{"email": e})
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNilFields(s []CustomField) []CustomField {
	if s == nil {
		return []CustomField{}
	}
	return s
}

func (t *Task) wire() map[string]any {
	m := map[string]any{
		"id":        t.ID,
		"title":     t.Title,
		"completed": t.Completed,
		"contactId": t.ContactID,
		"dueDate":   iso(t.DueDate),
	}
	omitEmpty(m, "body", t.Body)
	omitEmpty(m, "assignedTo", t.AssignedTo)
	return m
}

func (n *Note) wire() map[string]any {
	m := map[string]any{
		"id":        n.ID,
		"body":      n.Body,
		"contactId": n.ContactID,
		"dateAdded": iso(n.DateAdded),
		"pinned":    n.Pinned,
	}
	omitEmpty(m, "userId", n.UserID)
	omitEmpty(m, "title", n.Title)
	omitEmpty(m, "color", n.Color)
	return m
}

// appointmentTime is the zone-less format of the appointments endpoint.
const appointmentTime = "2006-01-02 15:04:05"

func (a *Appointment) wire() map[string]any {
	m := map[string]any{
		"id":                a.ID,
		"contactId":         a.ContactID,
		"locationId":        a.LocationID,
		"calendarId":        a.CalendarID,
		"status":            a.Status,
		"appointmentStatus": a.AppointmentStatus,
		"title":             a.Title,
		"startTime":         a.StartTime.UTC().Format(appointmentTime),
		"endTime":           a.EndTime.UTC().Format(appointmentTime),
		"dateAdded":         a.DateAdded.UTC().Format(appointmentTime),
		"dateUpdated":       a.DateUpdated.UTC().Format(appointmentTime),
		"users":             nonNil(a.Users),
		"assignedResources": nonNil(a.AssignedResources),
	}
	omitEmpty(m, "assignedUserId", a.AssignedUserID)
	omitEmpty(m, "notes", a.Notes)
	omitEmpty(m, "address", a.Address)
	omitEmpty(m, "groupId", a.GroupID)
	return m
}
