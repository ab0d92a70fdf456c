package contacts

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// TagsService adds and removes tags: client.Tags. Prefer it to sending
// tags in Contacts.Update or Upsert bodies, which REPLACE every tag.
type TagsService service

func checkTags(tags []string) error {
	if len(tags) == 0 {
		return fmt.Errorf("%w: no tags given", ErrInvalidArgument)
	}
	for i, t := range tags {
		if strings.TrimSpace(t) == "" {
			return fmt.Errorf("%w: tags[%d] is empty", ErrInvalidArgument, i)
		}
	}
	return nil
}

type tagsBody struct {
	Tags []string `json:"tags"`
}

// Add adds tags to a contact and returns the tags the API reports.
//
// API: POST /contacts/{contactId}/tags (add-tags).
func (s *TagsService) Add(ctx context.Context, contactID string, tags []string, opts ...RequestOption) ([]string, error) {
	return s.change(ctx, http.MethodPost, contactID, tags, opts)
}

// Remove removes tags from a contact and returns the tags the API reports.
//
// API: DELETE /contacts/{contactId}/tags (remove-tags), with a JSON body.
func (s *TagsService) Remove(ctx context.Context, contactID string, tags []string, opts ...RequestOption) ([]string, error) {
	return s.change(ctx, http.MethodDelete, contactID, tags, opts)
}

func (s *TagsService) change(ctx context.Context, method, contactID string, tags []string, opts []RequestOption) ([]string, error) {
	p, err := pathOf("/contacts/%s/tags", "contactId", contactID)
	if err != nil {
		return nil, err
	}
	if err := checkTags(tags); err != nil {
		return nil, err
	}
	var out tagsBody
	if err := s.client.do(ctx, request{method: method, path: p, body: tagsBody{tags}, out: &out}, opts); err != nil {
		return nil, err
	}
	return out.Tags, nil
}

// BulkTags is the body of BulkAdd and BulkRemove.
type BulkTags struct {
	// LocationID defaults to the client's.
	LocationID string   `json:"locationId"`
	ContactIDs []string `json:"contacts"`
	Tags       []string `json:"tags"`
	// RemoveAllTags, on BulkRemove, removes every tag of the contacts.
	RemoveAllTags bool `json:"removeAllTags,omitempty"`
}

// BulkTagsResult is the outcome of a bulk tag update.
type BulkTagsResult struct {
	// Succeeded is the API's succeded (sic) flag.
	Succeeded  bool
	ErrorCount int
	Responses  []BulkTagsResponse
	TraceID    string
}

// UnmarshalJSON accepts both spellings of the success flag.
func (r *BulkTagsResult) UnmarshalJSON(b []byte) error {
	var v struct {
		succeeded
		ErrorCount float64            `json:"errorCount"`
		Responses  []BulkTagsResponse `json:"responses"`
		TraceID    string             `json:"traceId"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = BulkTagsResult{Succeeded: v.ok(), ErrorCount: int(v.ErrorCount), Responses: v.Responses, TraceID: v.TraceID}
	return nil
}

// BulkTagsResponse is one contact's result in a bulk tag update.
type BulkTagsResponse struct {
	ContactID   string   `json:"contactId"`
	Message     string   `json:"message"`
	Type        string   `json:"type"` // "success" or "error"
	OldTags     []string `json:"oldTags,omitempty"`
	TagsAdded   []string `json:"tagsAdded,omitempty"`
	TagsRemoved []string `json:"tagsRemoved,omitempty"`
}

// UnmarshalJSON accepts an object or, as the spec declares, a plain string
// (kept as Message).
func (r *BulkTagsResponse) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*r = BulkTagsResponse{Message: s}
		return nil
	}
	type plain BulkTagsResponse
	return json.Unmarshal(b, (*plain)(r))
}

// BulkAdd adds tags to many contacts in one call.
//
// API: POST /contacts/bulk/tags/update/add (create-association).
func (s *TagsService) BulkAdd(ctx context.Context, in BulkTags, opts ...RequestOption) (*BulkTagsResult, error) {
	if in.RemoveAllTags {
		return nil, fmt.Errorf("%w: RemoveAllTags only applies to BulkRemove", ErrInvalidArgument)
	}
	return s.bulk(ctx, "add", in, opts)
}

// BulkRemove removes tags from many contacts in one call.
//
// API: POST /contacts/bulk/tags/update/remove (create-association).
func (s *TagsService) BulkRemove(ctx context.Context, in BulkTags, opts ...RequestOption) (*BulkTagsResult, error) {
	return s.bulk(ctx, "remove", in, opts)
}

func (s *TagsService) bulk(ctx context.Context, op string, in BulkTags, opts []RequestOption) (*BulkTagsResult, error) {
	loc, err := s.client.location(in.LocationID)
	if err != nil {
		return nil, err
	}
	in.LocationID = loc
	if len(in.ContactIDs) == 0 {
		return nil, fmt.Errorf("%w: no contacts given", ErrInvalidArgument)
	}
	if in.RemoveAllTags {
		if in.Tags == nil {
			in.Tags = []string{} // the API requires the tags field
		}
	} else if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	// The current spec lost the {type} path parameter (the 2025-09-08
	// version declares it: add | remove); the live API needs it.
	var out BulkTagsResult
	if err := s.client.do(ctx, request{method: http.MethodPost, path: "/contacts/bulk/tags/update/" + op, body: in, out: &out}, opts); err != nil {
		return nil, err
	}
	return &out, nil
}
