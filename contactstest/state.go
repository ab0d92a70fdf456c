package contactstest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// User types of tokens.
const (
	UserTypeLocation = "Location"
	UserTypeCompany  = "Company"
)

// LocationSettings are a location's contact settings.
type LocationSettings struct {
	// AllowDuplicateContact is the location's "Allow Duplicate Contact"
	// setting. Off (the default): creating a contact whose email or phone
	// matches an existing one fails with the duplicate error.
	AllowDuplicateContact bool
	// DuplicateMatch lists the fields that identify a contact, in priority
	// order: "email", "phone". Empty means email, then phone. It drives
	// create, upsert and the duplicate finder.
	DuplicateMatch []string
}

func (l LocationSettings) matchFields() []string {
	if len(l.DuplicateMatch) == 0 {
		return []string{"email", "phone"}
	}
	return l.DuplicateMatch
}

type location struct {
	id           string
	companyID    string
	settings     LocationSettings
	fieldsByKey  map[string]string // custom field key → id
	fieldKeyByID map[string]string
}

type token struct {
	value      string
	appID      string
	locationID string
	companyID  string
	userType   string
	scopes     map[string]bool
	expires    time.Time // zero: never (Private Integration Tokens)
	revoked    bool
}

// TokenSpec describes a token to issue.
type TokenSpec struct {
	// LocationID is the sub-account the token acts for. Required for a
	// Location token.
	LocationID string
	// CompanyID is the agency; set UserType to UserTypeCompany for an
	// agency token.
	CompanyID string
	UserType  string
	// Scopes granted; nil means contacts.readonly and contacts.write.
	Scopes []string
	// TTL is the token's lifetime; 0 makes a Private Integration Token
	// ("pit-…") that never expires.
	TTL time.Duration
	// AppID groups tokens for rate limiting (per app, per location);
	// tokens of the same app share a budget. Empty: the token is its own app.
	AppID string
}

// AddLocation adds a sub-account and returns its ID; an empty id is
// generated. companyID may be empty.
func (s *Server) AddLocation(id, companyID string, settings LocationSettings) string {
	if id == "" {
		id = s.newID()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.locations[id] = &location{id: id, companyID: companyID, settings: settings,
		fieldsByKey: map[string]string{}, fieldKeyByID: map[string]string{}}
	return id
}

// SetLocationSettings changes a location's contact settings.
func (s *Server) SetLocationSettings(locationID string, settings LocationSettings) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	loc := s.locations[locationID]
	if loc == nil {
		return fmt.Errorf("contactstest: no location %q", locationID)
	}
	loc.settings = settings
	return nil
}

// AddCustomField defines a custom field on a location and returns its ID.
// Contacts may then be written with {key, field_value} or {id,
// field_value}; unknown keys and IDs are rejected as the API does.
func (s *Server) AddCustomField(locationID, key string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	loc := s.locations[locationID]
	if loc == nil {
		return "", fmt.Errorf("contactstest: no location %q", locationID)
	}
	if id, ok := loc.fieldsByKey[key]; ok {
		return id, nil
	}
	id := s.newID()
	loc.fieldsByKey[key] = id
	loc.fieldKeyByID[id] = key
	return id, nil
}

// IssueToken mints an access token (or a Private Integration Token when
// TTL is 0) and returns it.
func (s *Server) IssueToken(spec TokenSpec) string {
	prefix := "pit-"
	if spec.TTL > 0 {
		prefix = "at-"
	}
	value := prefix + strings.ToLower(s.newID()) + s.newID()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addTokenLocked(value, spec)
	return value
}

func (s *Server) addTokenLocked(value string, spec TokenSpec) *token {
	scopes := spec.Scopes
	if scopes == nil {
		scopes = []string{ScopeContactsRead, ScopeContactsWrite}
	}
	t := &token{value: value, appID: spec.AppID, locationID: spec.LocationID, companyID: spec.CompanyID,
		userType: cmp.Or(spec.UserType, UserTypeLocation), scopes: map[string]bool{}}
	if t.appID == "" {
		t.appID = value
	}
	for _, sc := range scopes {
		t.scopes[sc] = true
	}
	if spec.TTL > 0 {
		t.expires = s.clock.Now().Add(spec.TTL)
	}
	s.tokens[value] = t
	return t
}

// RevokeToken makes a token invalid, as uninstalling an app does.
func (s *Server) RevokeToken(value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.tokens[value]; t != nil {
		t.revoked = true
	}
}

// SeedContact stores a contact as if it had been created in the CRM,
// without a request or a webhook, and returns it with its ID and dates
// filled in. An empty LocationID means the default location.
func (s *Server) SeedContact(c Contact) Contact {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.LocationID == "" {
		c.LocationID = s.defaultLocation
	}
	if c.ID == "" {
		c.ID = s.newID()
	}
	now := s.clock.Now()
	if c.DateAdded.IsZero() {
		c.DateAdded = now
	}
	if c.DateUpdated.IsZero() {
		c.DateUpdated = c.DateAdded
	}
	c.Phone = normalizePhone(c.Phone)
	stored := c.clone()
	s.putContactLocked(&stored)
	return stored.clone()
}

// putContactLocked stores c (replacing any contact with its ID) and keeps
// the duplicate indexes current. Callers mutate a clone, never the stored
// contact, so the old index entries can be removed.
func (s *Server) putContactLocked(c *Contact) {
	if _, ok := s.contactSeq[c.ID]; !ok {
		s.seq++
		s.contactSeq[c.ID] = s.seq
	}
	if old := s.contacts[c.ID]; old != nil {
		s.indexLocked(old, false)
	}
	s.contacts[c.ID] = c
	s.indexLocked(c, true)
}

func indexKey(locationID, field, value string) string {
	return locationID + "\x00" + field + "\x00" + value
}

func (s *Server) indexLocked(c *Contact, add bool) {
	for _, kv := range [][2]string{{"email", strings.ToLower(c.Email)}, {"phone", c.Phone}} {
		if kv[1] == "" {
			continue
		}
		k := indexKey(c.LocationID, kv[0], kv[1])
		if add {
			if s.index[k] == nil {
				s.index[k] = map[string]bool{}
			}
			s.index[k][c.ID] = true
		} else if ids := s.index[k]; ids != nil {
			delete(ids, c.ID)
			if len(ids) == 0 {
				delete(s.index, k)
			}
		}
	}
}

// Contact returns a stored contact; ok is false if it does not exist or
// was deleted.
func (s *Server) Contact(id string) (Contact, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.contacts[id]
	if c == nil {
		return Contact{}, false
	}
	return c.clone(), true
}

// Contacts returns the contacts of a location ("" for the default one) in
// creation order.
func (s *Server) Contacts(locationID string) []Contact {
	s.mu.Lock()
	defer s.mu.Unlock()
	if locationID == "" {
		locationID = s.defaultLocation
	}
	var out []Contact
	for _, c := range s.contactsOfLocked(locationID) {
		out = append(out, c.clone())
	}
	return out
}

// contactsOfLocked returns a location's contacts in creation order.
func (s *Server) contactsOfLocked(locationID string) []*Contact {
	type entry struct {
		seq int64
		c   *Contact
	}
	var entries []entry
	for _, c := range s.contacts {
		if c.LocationID == locationID {
			entries = append(entries, entry{s.contactSeq[c.ID], c})
		}
	}
	slices.SortFunc(entries, func(a, b entry) int { return cmp.Compare(a.seq, b.seq) })
	out := make([]*Contact, len(entries))
	for i, e := range entries {
		out[i] = e.c
	}
	return out
}

// SeedTask stores a task on a contact without a request or a webhook.
func (s *Server) SeedTask(t Task) (Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.contacts[t.ContactID] == nil {
		return Task{}, fmt.Errorf("contactstest: no contact %q", t.ContactID)
	}
	if t.ID == "" {
		t.ID = s.newID()
	}
	if t.DateAdded.IsZero() {
		t.DateAdded = s.clock.Now()
	}
	stored := t
	s.tasks[t.ID] = &stored
	return t, nil
}

// SeedNote stores a note on a contact without a request or a webhook.
func (s *Server) SeedNote(n Note) (Note, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.contacts[n.ContactID] == nil {
		return Note{}, fmt.Errorf("contactstest: no contact %q", n.ContactID)
	}
	if n.ID == "" {
		n.ID = s.newID()
	}
	if n.DateAdded.IsZero() {
		n.DateAdded = s.clock.Now()
	}
	stored := n
	s.notes[n.ID] = &stored
	return n, nil
}

// SeedAppointment stores an appointment for a contact. The contacts API
// only reads appointments, so seeding is the only way to create one.
func (s *Server) SeedAppointment(a Appointment) (Appointment, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.contacts[a.ContactID]
	if c == nil {
		return Appointment{}, fmt.Errorf("contactstest: no contact %q", a.ContactID)
	}
	if a.ID == "" {
		a.ID = s.newID()
	}
	a.LocationID = c.LocationID
	now := s.clock.Now()
	if a.DateAdded.IsZero() {
		a.DateAdded = now
	}
	if a.DateUpdated.IsZero() {
		a.DateUpdated = a.DateAdded
	}
	if a.Status == "" {
		a.Status = "booked"
	}
	if a.AppointmentStatus == "" {
		a.AppointmentStatus = "confirmed"
	}
	stored := a
	s.appointments[a.ID] = &stored
	return a, nil
}

// Tasks returns a contact's tasks in creation order.
func (s *Server) Tasks(contactID string) []Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Task
	for _, t := range s.tasksOfLocked(contactID) {
		out = append(out, *t)
	}
	return out
}

// Notes returns a contact's notes in creation order.
func (s *Server) Notes(contactID string) []Note {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Note
	for _, n := range s.notesOfLocked(contactID) {
		out = append(out, *n)
	}
	return out
}

// Appointments returns a contact's appointments by start time.
func (s *Server) Appointments(contactID string) []Appointment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Appointment
	for _, a := range s.appointmentsOfLocked(contactID) {
		out = append(out, *a)
	}
	return out
}

// childrenOf returns the records of one contact, ordered by less.
func childrenOf[T any](all map[string]*T, contactID string, owner func(*T) string, less func(a, b *T) int) []*T {
	var out []*T
	for _, r := range all {
		if owner(r) == contactID {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, less)
	return out
}

func (s *Server) tasksOfLocked(contactID string) []*Task {
	return childrenOf(s.tasks, contactID, func(t *Task) string { return t.ContactID }, func(a, b *Task) int {
		return cmp.Or(a.DateAdded.Compare(b.DateAdded), cmp.Compare(a.ID, b.ID))
	})
}

func (s *Server) notesOfLocked(contactID string) []*Note {
	return childrenOf(s.notes, contactID, func(n *Note) string { return n.ContactID }, func(a, b *Note) int {
		return cmp.Or(a.DateAdded.Compare(b.DateAdded), cmp.Compare(a.ID, b.ID))
	})
}

func (s *Server) appointmentsOfLocked(contactID string) []*Appointment {
	return childrenOf(s.appointments, contactID, func(a *Appointment) string { return a.ContactID }, func(a, b *Appointment) int {
		return cmp.Or(a.StartTime.Compare(b.StartTime), cmp.Compare(a.ID, b.ID))
	})
}

// deleteContactLocked removes a contact with its tasks, notes and
// appointments.
func (s *Server) deleteContactLocked(id string) {
	if c := s.contacts[id]; c != nil {
		s.indexLocked(c, false)
	}
	delete(s.contacts, id)
	for tid, t := range s.tasks {
		if t.ContactID == id {
			delete(s.tasks, tid)
		}
	}
	for nid, n := range s.notes {
		if n.ContactID == id {
			delete(s.notes, nid)
		}
	}
	for aid, a := range s.appointments {
		if a.ContactID == id {
			delete(s.appointments, aid)
		}
	}
}

// findDuplicateLocked returns the first contact of the location matching
// c by the location's duplicate fields, and the field that matched.
func (s *Server) findDuplicateLocked(locationID, email, phone, excludeID string) (*Contact, string) {
	loc := s.locations[locationID]
	if loc == nil {
		return nil, ""
	}
	for _, field := range loc.settings.matchFields() {
		var want string
		switch field {
		case "email":
			want = strings.ToLower(strings.TrimSpace(email))
		case "phone":
			want = normalizePhone(phone)
		}
		if want == "" {
			continue
		}
		var best *Contact
		for id := range s.index[indexKey(locationID, field, want)] {
			if id == excludeID {
				continue
			}
			if c := s.contacts[id]; best == nil || s.contactSeq[id] < s.contactSeq[best.ID] {
				best = c
			}
		}
		if best != nil {
			return best, field
		}
	}
	return nil, ""
}
