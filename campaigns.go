package contacts

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// CampaignsService enrols contacts in campaigns: client.Campaigns.
type CampaignsService service

// Add adds a contact to a campaign.
//
// API: POST /contacts/{contactId}/campaigns/{campaignId} (add-contact-to-campaign).
func (s *CampaignsService) Add(ctx context.Context, contactID, campaignID string, opts ...RequestOption) error {
	return s.call(ctx, http.MethodPost, contactID, campaignID, struct{}{}, opts)
}

// Remove removes a contact from a campaign.
//
// API: DELETE /contacts/{contactId}/campaigns/{campaignId} (remove-contact-from-campaign).
func (s *CampaignsService) Remove(ctx context.Context, contactID, campaignID string, opts ...RequestOption) error {
	return s.call(ctx, http.MethodDelete, contactID, campaignID, nil, opts)
}

// RemoveAll removes a contact from every campaign.
//
// API: DELETE /contacts/{contactId}/campaigns/removeAll (remove-contact-from-every-campaign).
func (s *CampaignsService) RemoveAll(ctx context.Context, contactID string, opts ...RequestOption) error {
	p, err := pathOf("/contacts/%s/campaigns/removeAll", "contactId", contactID)
	if err != nil {
		return err
	}
	return s.send(ctx, http.MethodDelete, p, nil, opts)
}

func (s *CampaignsService) call(ctx context.Context, method, contactID, campaignID string, body any, opts []RequestOption) error {
	if strings.EqualFold(campaignID, "removeAll") {
		// The path would be RemoveAll's: refuse rather than act on every campaign.
		return fmt.Errorf("%w: campaign ID %q is reserved; use RemoveAll", ErrInvalidArgument, campaignID)
	}
	p, err := pathOf("/contacts/%s/campaigns/%s", "contactId", contactID, "campaignId", campaignID)
	if err != nil {
		return err
	}
	return s.send(ctx, method, p, body, opts)
}

func (s *CampaignsService) send(ctx context.Context, method, p string, body any, opts []RequestOption) error {
	var env succeeded
	if err := s.client.do(ctx, request{method: method, path: p, body: body, out: &env}, opts); err != nil {
		return err
	}
	return env.check(method, p)
}
