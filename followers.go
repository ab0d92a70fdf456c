package contacts

import (
	"context"
	"fmt"
	"net/http"
)

// FollowersService manages the users following a contact: client.Followers.
type FollowersService service

// FollowersResult is the outcome of adding or removing followers.
type FollowersResult struct {
	// Followers are the contact's followers after the change.
	Followers []string `json:"followers"`
	// Added (on Add) and Removed (on Remove) are the users changed.
	Added   []string `json:"followersAdded,omitempty"`
	Removed []string `json:"followersRemoved,omitempty"`
}

type followersBody struct {
	Followers []string `json:"followers"`
}

// Add adds users as followers of a contact.
//
// API: POST /contacts/{contactId}/followers (add-followers-contact).
func (s *FollowersService) Add(ctx context.Context, contactID string, userIDs []string, opts ...RequestOption) (*FollowersResult, error) {
	return s.change(ctx, http.MethodPost, contactID, userIDs, opts)
}

// Remove removes users from a contact's followers.
//
// API: DELETE /contacts/{contactId}/followers (remove-followers-contact), with a JSON body.
func (s *FollowersService) Remove(ctx context.Context, contactID string, userIDs []string, opts ...RequestOption) (*FollowersResult, error) {
	return s.change(ctx, http.MethodDelete, contactID, userIDs, opts)
}

func (s *FollowersService) change(ctx context.Context, method, contactID string, userIDs []string, opts []RequestOption) (*FollowersResult, error) {
	p, err := pathOf("/contacts/%s/followers", "contactId", contactID)
	if err != nil {
		return nil, err
	}
	if len(userIDs) == 0 {
		return nil, fmt.Errorf("%w: no followers given", ErrInvalidArgument)
	}
	for i, id := range userIDs {
		if id == "" {
			return nil, fmt.Errorf("%w: followers[%d] is empty", ErrInvalidArgument, i)
		}
	}
	var out FollowersResult
	if err := s.client.do(ctx, request{method: method, path: p, body: followersBody{userIDs}, out: &out}, opts); err != nil {
		return nil, err
	}
	return &out, nil
}
