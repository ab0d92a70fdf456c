package contacts

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// NotesService manages a contact's notes: client.Notes.
type NotesService service

// Note is a note on a contact.
type Note struct {
	ID        string `json:"id"`
	Body      string `json:"body,omitempty"`
	UserID    string `json:"userId,omitempty"`
	DateAdded Time   `json:"dateAdded,omitzero"`
	ContactID string `json:"contactId,omitempty"`
	Title     string `json:"title,omitempty"`
	Color     string `json:"color,omitempty"`
	Pinned    bool   `json:"pinned,omitempty"`

	raw rawRef
}

// RawJSON returns the note's JSON as the API sent it (see Contact.RawJSON).
func (n *Note) RawJSON() json.RawMessage { return n.raw.json() }

// NoteCreate is the body of Notes.Create; Body is required.
type NoteCreate struct {
	Body   string `json:"body"`
	UserID string `json:"userId,omitempty"`
	Title  string `json:"title,omitempty"`
	// Color is a hex colour such as "#FFAA00".
	Color  string `json:"color,omitempty"`
	Pinned *bool  `json:"pinned,omitempty"`
}

// NoteUpdate is the body of Notes.Update; nil fields are left unchanged.
type NoteUpdate struct {
	Body   *string `json:"body,omitempty"`
	UserID *string `json:"userId,omitempty"`
	Title  *string `json:"title,omitempty"`
	Color  *string `json:"color,omitempty"`
	Pinned *bool   `json:"pinned,omitempty"`
}

type noteEnvelope struct {
	Note *Note `json:"note"`
}

func (e *noteEnvelope) attachRaw(body []byte) {
	if e.Note != nil {
		attachOne(body, "note", &e.Note.raw)
	}
}

type noteList struct {
	Notes []Note `json:"notes"`
}

func (l *noteList) attachRaw(body []byte) {
	attachAll(body, "notes", l.Notes, func(n *Note) *rawRef { return &n.raw })
}

// List returns every note of a contact (the API does not paginate them).
//
// API: GET /contacts/{contactId}/notes (get-all-notes).
func (s *NotesService) List(ctx context.Context, contactID string, opts ...RequestOption) ([]Note, error) {
	p, err := pathOf("/contacts/%s/notes", "contactId", contactID)
	if err != nil {
		return nil, err
	}
	var out noteList
	if err := s.client.do(ctx, request{method: http.MethodGet, path: p, out: &out}, opts); err != nil {
		return nil, err
	}
	return out.Notes, nil
}

// Get returns one note.
//
// API: GET /contacts/{contactId}/notes/{id} (get-note).
func (s *NotesService) Get(ctx context.Context, contactID, noteID string, opts ...RequestOption) (*Note, error) {
	return s.noteCall(ctx, http.MethodGet, contactID, noteID, nil, opts)
}

// Create adds a note to a contact.
//
// API: POST /contacts/{contactId}/notes (create-note).
func (s *NotesService) Create(ctx context.Context, contactID string, in NoteCreate, opts ...RequestOption) (*Note, error) {
	p, err := pathOf("/contacts/%s/notes", "contactId", contactID)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(in.Body) == "" {
		return nil, fmt.Errorf("%w: a note needs a body", ErrInvalidArgument)
	}
	var env noteEnvelope
	if err := s.client.do(ctx, request{method: http.MethodPost, path: p, body: in, out: &env}, opts); err != nil {
		return nil, err
	}
	return noteOf(env, http.MethodPost, p)
}

// Update changes a note.
//
// API: PUT /contacts/{contactId}/notes/{id} (update-note).
func (s *NotesService) Update(ctx context.Context, contactID, noteID string, in NoteUpdate, opts ...RequestOption) (*Note, error) {
	if in.Body != nil && strings.TrimSpace(*in.Body) == "" {
		return nil, fmt.Errorf("%w: a note's body cannot be empty", ErrInvalidArgument)
	}
	return s.noteCall(ctx, http.MethodPut, contactID, noteID, in, opts)
}

// Delete deletes a note.
//
// API: DELETE /contacts/{contactId}/notes/{id} (delete-note).
func (s *NotesService) Delete(ctx context.Context, contactID, noteID string, opts ...RequestOption) error {
	p, err := pathOf("/contacts/%s/notes/%s", "contactId", contactID, "id", noteID)
	if err != nil {
		return err
	}
	var env succeeded
	if err := s.client.do(ctx, request{method: http.MethodDelete, path: p, out: &env}, opts); err != nil {
		return err
	}
	return env.check(http.MethodDelete, p)
}

func (s *NotesService) noteCall(ctx context.Context, method, contactID, noteID string, body any, opts []RequestOption) (*Note, error) {
	p, err := pathOf("/contacts/%s/notes/%s", "contactId", contactID, "id", noteID)
	if err != nil {
		return nil, err
	}
	var env noteEnvelope
	if err := s.client.do(ctx, request{method: method, path: p, body: body, out: &env}, opts); err != nil {
		return nil, err
	}
	return noteOf(env, method, p)
}

func noteOf(env noteEnvelope, method, path string) (*Note, error) {
	if env.Note == nil {
		return nil, &DecodeError{Method: method, Path: path, StatusCode: http.StatusOK, Err: fmt.Errorf("response has no note")}
	}
	return env.Note, nil
}
