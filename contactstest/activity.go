package contactstest

import (
	"fmt"
	"net/http"
	"slices"
)

// task loads the path's task of the path's contact.
func (c *call) task() (*Contact, *Task, bool) {
	ct, ok := c.contact()
	if !ok {
		return nil, nil, false
	}
	id := c.r.PathValue("taskId")
	t := c.s.tasks[id]
	if t == nil || t.ContactID != ct.ID {
		c.fail(http.StatusBadRequest, fmt.Sprintf("Task with id %s not found", id))
		return nil, nil, false
	}
	return ct, t, true
}

func (c *call) listTasks() {
	ct, ok := c.contact()
	if !ok {
		return
	}
	out := []map[string]any{}
	for _, t := range c.s.tasksOfLocked(ct.ID) {
		out = append(out, t.wire())
	}
	c.writeJSON(http.StatusOK, map[string]any{"tasks": out})
}

func (c *call) getTask() {
	if _, t, ok := c.task(); ok {
		c.writeJSON(http.StatusOK, map[string]any{"task": t.wire()})
	}
}

var taskFields = []string{"title", "body", "dueDate", "completed", "assignedTo"}

func (c *call) createTask() {
	ct, ok := c.contact()
	if !ok {
		return
	}
	f, ok := c.decodeBody(taskFields...)
	if !ok {
		return
	}
	v := &validator{f: f}
	t := &Task{ContactID: ct.ID, DateAdded: c.s.clock.Now()}
	t.Title = v.required("title")
	t.Body = v.str("body")
	t.AssignedTo = v.str("assignedTo")
	due, hasDue := v.isoDate("dueDate")
	if !hasDue && !v.has("dueDate") {
		v.add("dueDate must be a valid ISO 8601 date string")
	}
	t.DueDate = due
	completed, hasCompleted := v.boolean("completed")
	if !hasCompleted && !v.has("completed") {
		v.add("completed must be a boolean value")
	}
	t.Completed = completed
	if !v.ok(c) {
		return
	}
	t.ID = c.s.newID()
	c.s.tasks[t.ID] = t
	c.s.emitTaskLocked("TaskCreate", ct, t)
	c.writeJSON(http.StatusCreated, map[string]any{"task": t.wire()})
}

func (c *call) updateTask() {
	ct, old, ok := c.task()
	if !ok {
		return
	}
	f, ok := c.decodeBody(taskFields...)
	if !ok {
		return
	}
	v := &validator{f: f}
	upd := *old
	if v.has("title") {
		upd.Title = v.required("title")
	}
	if v.has("body") {
		upd.Body = v.str("body")
	}
	if v.has("assignedTo") {
		upd.AssignedTo = v.str("assignedTo")
	}
	if due, ok := v.isoDate("dueDate"); ok {
		upd.DueDate = due
	}
	if b, ok := v.boolean("completed"); ok {
		upd.Completed = b
	}
	if !v.ok(c) {
		return
	}
	was := old.Completed
	*old = upd
	// The API has no TaskUpdate event; only completing a task fires one.
	if upd.Completed && !was {
		c.s.emitTaskLocked("TaskComplete", ct, old)
	}
	c.writeJSON(http.StatusOK, map[string]any{"task": old.wire()})
}

func (c *call) completeTask() {
	ct, t, ok := c.task()
	if !ok {
		return
	}
	f, ok := c.decodeBody("completed")
	if !ok {
		return
	}
	v := &validator{f: f}
	completed, has := v.boolean("completed")
	if !has && !v.has("completed") {
		v.add("completed must be a boolean value")
	}
	if !v.ok(c) {
		return
	}
	was := t.Completed
	t.Completed = completed
	if completed && !was {
		c.s.emitTaskLocked("TaskComplete", ct, t)
	}
	c.writeJSON(http.StatusOK, map[string]any{"task": t.wire()})
}

func (c *call) deleteTask() {
	ct, t, ok := c.task()
	if !ok {
		return
	}
	delete(c.s.tasks, t.ID)
	c.s.emitTaskLocked("TaskDelete", ct, t)
	c.writeJSON(http.StatusOK, map[string]any{"succeded": true})
}

// note loads the path's note of the path's contact.
func (c *call) note() (*Contact, *Note, bool) {
	ct, ok := c.contact()
	if !ok {
		return nil, nil, false
	}
	id := c.r.PathValue("id")
	n := c.s.notes[id]
	if n == nil || n.ContactID != ct.ID {
		c.fail(http.StatusBadRequest, fmt.Sprintf("Note with id %s not found", id))
		return nil, nil, false
	}
	return ct, n, true
}

var noteFields = []string{"userId", "body", "title", "color", "pinned"}

func (c *call) listNotes() {
	ct, ok := c.contact()
	if !ok {
		return
	}
	out := []map[string]any{}
	for _, n := range c.s.notesOfLocked(ct.ID) {
		out = append(out, n.wire())
	}
	c.writeJSON(http.StatusOK, map[string]any{"notes": out})
}

func (c *call) getNote() {
	if _, n, ok := c.note(); ok {
		c.writeJSON(http.StatusOK, map[string]any{"note": n.wire()})
	}
}

func (c *call) applyNote(v *validator, n *Note) {
	if v.has("body") {
		n.Body = v.required("body")
	}
	if v.has("userId") {
		n.UserID = v.str("userId")
	}
	if v.has("title") {
		n.Title = v.str("title")
	}
	if v.has("color") {
		n.Color = v.str("color")
	}
	if b, ok := v.boolean("pinned"); ok {
		n.Pinned = b
	}
}

func (c *call) createNote() {
	ct, ok := c.contact()
	if !ok {
		return
	}
	f, ok := c.decodeBody(noteFields...)
	if !ok {
		return
	}
	v := &validator{f: f}
	n := &Note{ContactID: ct.ID, DateAdded: c.s.clock.Now()}
	if !v.has("body") {
		v.add("body should not be empty")
	}
	c.applyNote(v, n)
	if !v.ok(c) {
		return
	}
	n.ID = c.s.newID()
	c.s.notes[n.ID] = n
	c.s.emitNoteLocked("NoteCreate", ct, n)
	c.writeJSON(http.StatusCreated, map[string]any{"note": n.wire()})
}

func (c *call) updateNote() {
	ct, n, ok := c.note()
	if !ok {
		return
	}
	f, ok := c.decodeBody(noteFields...)
	if !ok {
		return
	}
	v := &validator{f: f}
	upd := *n
	c.applyNote(v, &upd)
	if !v.ok(c) {
		return
	}
	*n = upd
	c.s.emitNoteLocked("NoteUpdate", ct, n)
	c.writeJSON(http.StatusOK, map[string]any{"note": n.wire()})
}

func (c *call) deleteNote() {
	ct, n, ok := c.note()
	if !ok {
		return
	}
	delete(c.s.notes, n.ID)
	c.s.emitNoteLocked("NoteDelete", ct, n)
	c.writeJSON(http.StatusOK, map[string]any{"succeded": true})
}

func (c *call) listAppointments() {
	ct, ok := c.contact()
	if !ok {
		return
	}
	out := []map[string]any{}
	for _, a := range c.s.appointmentsOfLocked(ct.ID) {
		out = append(out, a.wire())
	}
	c.writeJSON(http.StatusOK, map[string]any{"events": out})
}

// tagBody reads a TagsDTO.
func (c *call) tagBody() ([]string, bool) {
	f, ok := c.decodeBody("tags")
	if !ok {
		return nil, false
	}
	v := &validator{f: f}
	tags, has := v.strings("tags")
	if !has && !v.has("tags") {
		v.add("tags must be an array of strings")
	}
	tags = dedupe(tags)
	if has && len(tags) == 0 {
		v.add("tags should not be empty")
	}
	return tags, v.ok(c)
}

// changeTags adds or removes tags on a stored contact and returns the
// tags actually added or removed.
func (s *Server) changeTagsLocked(old *Contact, tags []string, add bool) (*Contact, []string) {
	upd := old.clone()
	var diff []string
	for _, t := range tags {
		has := slices.Contains(upd.Tags, t)
		switch {
		case add && !has:
			upd.Tags = append(upd.Tags, t)
			diff = append(diff, t)
		case !add && has:
			upd.Tags = slices.DeleteFunc(upd.Tags, func(x string) bool { return x == t })
			diff = append(diff, t)
		}
	}
	if len(diff) == 0 {
		return old, nil
	}
	upd.DateUpdated = s.clock.Now()
	s.putContactLocked(&upd)
	s.emitContactLocked("ContactTagUpdate", &upd)
	return &upd, diff
}

func (c *call) addTags() {
	ct, ok := c.contact()
	if !ok {
		return
	}
	tags, ok := c.tagBody()
	if !ok {
		return
	}
	upd, _ := c.s.changeTagsLocked(ct, tags, true)
	c.writeJSON(http.StatusCreated, map[string]any{"tags": nonNil(upd.Tags)})
}

func (c *call) removeTags() {
	ct, ok := c.contact()
	if !ok {
		return
	}
	tags, ok := c.tagBody()
	if !ok {
		return
	}
	upd, _ := c.s.changeTagsLocked(ct, tags, false)
	c.writeJSON(http.StatusOK, map[string]any{"tags": nonNil(upd.Tags)})
}

func (c *call) bulkTags() {
	op := c.r.PathValue("type")
	if op != "add" && op != "remove" {
		c.fail(http.StatusUnprocessableEntity, "type must be one of the following values: add, remove")
		return
	}
	f, ok := c.decodeBody("contacts", "tags", "locationId", "removeAllTags")
	if !ok {
		return
	}
	v := &validator{f: f}
	ids, hasIDs := v.strings("contacts")
	if !hasIDs {
		v.add("contacts must be an array of strings")
	}
	tags, hasTags := v.strings("tags")
	if !hasTags {
		v.add("tags must be an array of strings")
	}
	removeAll, _ := v.boolean("removeAllTags")
	locID, ok := c.bodyLocation(v)
	if !ok {
		return
	}
	tags = dedupe(tags)
	responses := []map[string]any{}
	errorCount := 0
	for _, id := range ids {
		old := c.s.contacts[id]
		if old == nil || old.LocationID != locID {
			errorCount++
			responses = append(responses, map[string]any{"contactId": id, "message": "Contact not found", "type": "error"})
			continue
		}
		oldTags := nonNil(slices.Clone(old.Tags))
		apply := tags
		if op == "remove" && removeAll {
			apply = slices.Clone(old.Tags)
		}
		_, diff := c.s.changeTagsLocked(old, apply, op == "add")
		// Every success entry carries both lists; the one the operation
		// does not touch is empty.
		added, removed := []string{}, []string{}
		if op == "add" {
			added = nonNil(diff)
		} else {
			removed = nonNil(diff)
		}
		responses = append(responses, map[string]any{"contactId": id, "message": "Tags updated", "type": "success",
			"oldTags": oldTags, "tagsAdded": added, "tagsRemoved": removed})
	}
	// The spec (UpdateTagsResponseDTO) types responses as an array of
	// strings; the live API sends one object per contact (API-NOTES), so the
	// fake follows it.
	c.writeJSON(http.StatusCreated, map[string]any{"succeded": errorCount == 0, "errorCount": errorCount, "responses": responses})
}
