package contactstest

import (
	"fmt"
	"reflect"
	"slices"
)

// CRM changes the server's data the way a user of the HighLevel web app
// does: without an API request, so nothing enters the request log and no
// rate limit applies, yet every change fires the webhooks the live API
// sends for it. Use it to test that an integration notices changes made
// outside it, through webhooks or by polling.
//
// Edit functions passed to the Update methods run with the server locked:
// they must only change their argument, never call the Server.
type CRM struct{ s *Server }

// CRM returns the server's CRM-side helpers.
func (s *Server) CRM() CRM { return CRM{s: s} }

func noContact(id string) error { return fmt.Errorf("contactstest: no contact %q", id) }

// CreateContact stores a new contact, like SeedContact, and emits
// ContactCreate. The duplicate rules are not applied.
func (m CRM) CreateContact(c Contact) (Contact, error) {
	s := m.s
	s.mu.Lock()
	switch {
	case c.LocationID != "" && s.locations[c.LocationID] == nil:
		s.mu.Unlock()
		return Contact{}, fmt.Errorf("contactstest: no location %q", c.LocationID)
	case c.ID != "" && s.contacts[c.ID] != nil:
		s.mu.Unlock()
		return Contact{}, fmt.Errorf("contactstest: contact %q exists", c.ID)
	}
	s.mu.Unlock()
	stored := s.SeedContact(c)
	s.mu.Lock()
	s.emitContactLocked(EventContactCreate, &stored)
	s.mu.Unlock()
	return stored, nil
}

// UpdateContact applies edit to a copy of the contact and stores it with a
// new dateUpdated, emitting ContactUpdate, then ContactTagUpdate if the
// tags changed and ContactDndUpdate if DND changed. The ID, location and
// dateAdded cannot be edited, the phone is normalised to E.164, and the
// duplicate rules are not applied. An edit that changes nothing stores
// and emits nothing.
func (m CRM) UpdateContact(id string, edit func(*Contact)) (Contact, error) {
	s := m.s
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.contacts[id]
	if old == nil {
		return Contact{}, noContact(id)
	}
	upd := old.clone()
	edit(&upd)
	upd.ID, upd.LocationID, upd.DateAdded, upd.DateUpdated = old.ID, old.LocationID, old.DateAdded, old.DateUpdated
	upd.Phone = normalizePhone(upd.Phone)
	if reflect.DeepEqual(old.clone(), upd) {
		return upd, nil
	}
	upd.DateUpdated = s.clock.Now()
	s.putContactLocked(&upd)
	s.emitContactChangesLocked(old, &upd)
	return upd.clone(), nil
}

// DeleteContact deletes a contact with its tasks, notes and appointments
// and emits ContactDelete with the last snapshot (the live API sends no
// task, note or appointment events for them).
func (m CRM) DeleteContact(id string) error {
	s := m.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.contacts[id]
	if c == nil {
		return noContact(id)
	}
	s.deleteContactLocked(id)
	s.emitContactLocked(EventContactDelete, c)
	return nil
}

// AddTags adds tags to a contact and emits ContactTagUpdate if any was
// new, as the tags endpoint does. It returns the updated contact.
func (m CRM) AddTags(id string, tags ...string) (Contact, error) { return m.changeTags(id, tags, true) }

// RemoveTags removes tags from a contact and emits ContactTagUpdate if any
// was there. It returns the updated contact.
func (m CRM) RemoveTags(id string, tags ...string) (Contact, error) {
	return m.changeTags(id, tags, false)
}

func (m CRM) changeTags(id string, tags []string, add bool) (Contact, error) {
	s := m.s
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.contacts[id]
	if old == nil {
		return Contact{}, noContact(id)
	}
	upd, _ := s.changeTagsLocked(old, dedupe(tags), add)
	return upd.clone(), nil
}

// SetDND sets a contact's global DND flag and merges settings (keyed by
// channel: Call, Email, SMS, WhatsApp, GMB, FB; status active, inactive or
// permanent) into its per-channel settings; nil settings leaves them. Like
// any contact edit it emits ContactUpdate, plus ContactDndUpdate when
// something changed.
func (m CRM) SetDND(id string, dnd bool, settings map[string]DNDSetting) (Contact, error) {
	for ch, st := range settings {
		if !slices.Contains(dndChannels, ch) {
			return Contact{}, fmt.Errorf("contactstest: unknown DND channel %q", ch)
		}
		if st.Status != "active" && st.Status != "inactive" && st.Status != "permanent" {
			return Contact{}, fmt.Errorf("contactstest: DND status %q of %s is not active, inactive or permanent", st.Status, ch)
		}
	}
	return m.UpdateContact(id, func(c *Contact) {
		c.DND = dnd
		if len(settings) > 0 && c.DNDSettings == nil {
			c.DNDSettings = map[string]DNDSetting{}
		}
		for ch, st := range settings {
			c.DNDSettings[ch] = st
		}
	})
}

// CreateTask adds a task to t.ContactID, like SeedTask, and emits
// TaskCreate.
func (m CRM) CreateTask(t Task) (Task, error) {
	s := m.s
	stored, err := s.SeedTask(t)
	if err != nil {
		return Task{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.contacts[stored.ContactID]; c != nil {
		s.emitTaskLocked(EventTaskCreate, c, &stored)
	}
	return stored, nil
}

// crmTaskLocked returns a stored task and its contact.
func (s *Server) crmTaskLocked(id string) (*Contact, *Task, error) {
	t := s.tasks[id]
	if t == nil {
		return nil, nil, fmt.Errorf("contactstest: no task %q", id)
	}
	return s.contacts[t.ContactID], t, nil
}

// UpdateTask applies edit to a task (its ID and contact cannot change).
// The live API has no TaskUpdate event, so it emits nothing, except
// TaskComplete when the edit completes the task, as the API's PUT does.
func (m CRM) UpdateTask(id string, edit func(*Task)) (Task, error) {
	s := m.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c, t, err := s.crmTaskLocked(id)
	if err != nil {
		return Task{}, err
	}
	upd := *t
	edit(&upd)
	upd.ID, upd.ContactID = t.ID, t.ContactID
	was := t.Completed
	*t = upd
	if upd.Completed && !was {
		s.emitTaskLocked(EventTaskComplete, c, t)
	}
	return upd, nil
}

// CompleteTask marks a task completed or not; completing an open task
// emits TaskComplete (reopening one emits nothing).
func (m CRM) CompleteTask(id string, completed bool) (Task, error) {
	return m.UpdateTask(id, func(t *Task) { t.Completed = completed })
}

// DeleteTask deletes a task and emits TaskDelete.
func (m CRM) DeleteTask(id string) error {
	s := m.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c, t, err := s.crmTaskLocked(id)
	if err != nil {
		return err
	}
	delete(s.tasks, id)
	s.emitTaskLocked(EventTaskDelete, c, t)
	return nil
}

// CreateNote adds a note to n.ContactID, like SeedNote, and emits
// NoteCreate.
func (m CRM) CreateNote(n Note) (Note, error) {
	s := m.s
	stored, err := s.SeedNote(n)
	if err != nil {
		return Note{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.contacts[stored.ContactID]; c != nil {
		s.emitNoteLocked(EventNoteCreate, c, &stored)
	}
	return stored, nil
}

func (s *Server) crmNoteLocked(id string) (*Contact, *Note, error) {
	n := s.notes[id]
	if n == nil {
		return nil, nil, fmt.Errorf("contactstest: no note %q", id)
	}
	return s.contacts[n.ContactID], n, nil
}

// UpdateNote applies edit to a note (its ID and contact cannot change) and
// emits NoteUpdate.
func (m CRM) UpdateNote(id string, edit func(*Note)) (Note, error) {
	s := m.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c, n, err := s.crmNoteLocked(id)
	if err != nil {
		return Note{}, err
	}
	upd := *n
	edit(&upd)
	upd.ID, upd.ContactID = n.ID, n.ContactID
	*n = upd
	s.emitNoteLocked(EventNoteUpdate, c, n)
	return upd, nil
}

// DeleteNote deletes a note and emits NoteDelete.
func (m CRM) DeleteNote(id string) error {
	s := m.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c, n, err := s.crmNoteLocked(id)
	if err != nil {
		return err
	}
	delete(s.notes, id)
	s.emitNoteLocked(EventNoteDelete, c, n)
	return nil
}

// CreateAppointment books an appointment for a.ContactID, like
// SeedAppointment, and emits AppointmentCreate.
func (m CRM) CreateAppointment(a Appointment) (Appointment, error) {
	s := m.s
	stored, err := s.SeedAppointment(a)
	if err != nil {
		return Appointment{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.emitAppointmentLocked(EventAppointmentCreate, &stored)
	return stored, nil
}

func (s *Server) crmAppointmentLocked(id string) (*Appointment, error) {
	a := s.appointments[id]
	if a == nil {
		return nil, fmt.Errorf("contactstest: no appointment %q", id)
	}
	return a, nil
}

// UpdateAppointment applies edit to an appointment (its ID, contact,
// location and dateAdded cannot change), sets dateUpdated and emits
// AppointmentUpdate — whose payload says "AppointmentCreate" unless
// WebhookOptions.ExactAppointmentTypes is set, as documented.
func (m CRM) UpdateAppointment(id string, edit func(*Appointment)) (Appointment, error) {
	s := m.s
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.crmAppointmentLocked(id)
	if err != nil {
		return Appointment{}, err
	}
	upd := *a
	upd.Users = slices.Clone(a.Users)
	upd.AssignedResources = slices.Clone(a.AssignedResources)
	edit(&upd)
	upd.ID, upd.ContactID, upd.LocationID, upd.DateAdded = a.ID, a.ContactID, a.LocationID, a.DateAdded
	upd.DateUpdated = s.clock.Now()
	*a = upd
	s.emitAppointmentLocked(EventAppointmentUpdate, a)
	return upd, nil
}

// DeleteAppointment deletes an appointment and emits AppointmentDelete
// (payload type "AppointmentCreate" unless ExactAppointmentTypes is set).
func (m CRM) DeleteAppointment(id string) error {
	s := m.s
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.crmAppointmentLocked(id)
	if err != nil {
		return err
	}
	delete(s.appointments, id)
	s.emitAppointmentLocked(EventAppointmentDelete, a)
	return nil
}
