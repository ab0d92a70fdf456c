package contacts

import (
	"context"
	"net/http"
	"time"
)

// WorkflowsService enrols contacts in automation workflows: client.Workflows.
type WorkflowsService service

// WorkflowEnrollment is the body of Workflows.Add and Remove.
type WorkflowEnrollment struct {
	// EventStartTime, if set, is the time the workflow's event starts.
	EventStartTime time.Time `json:"eventStartTime,omitzero"`
}

// Add adds a contact to a workflow.
//
// API: POST /contacts/{contactId}/workflow/{workflowId} (add-contact-to-workflow).
func (s *WorkflowsService) Add(ctx context.Context, contactID, workflowID string, in WorkflowEnrollment, opts ...RequestOption) error {
	return s.call(ctx, http.MethodPost, contactID, workflowID, in, opts)
}

// Remove removes a contact from a workflow.
//
// API: DELETE /contacts/{contactId}/workflow/{workflowId} (delete-contact-from-workflow), with a JSON body.
func (s *WorkflowsService) Remove(ctx context.Context, contactID, workflowID string, in WorkflowEnrollment, opts ...RequestOption) error {
	return s.call(ctx, http.MethodDelete, contactID, workflowID, in, opts)
}

func (s *WorkflowsService) call(ctx context.Context, method, contactID, workflowID string, in WorkflowEnrollment, opts []RequestOption) error {
	p, err := pathOf("/contacts/%s/workflow/%s", "contactId", contactID, "workflowId", workflowID)
	if err != nil {
		return err
	}
	var env succeeded
	if err := s.client.do(ctx, request{method: method, path: p, body: in, out: &env}, opts); err != nil {
		return err
	}
	return env.check(method, p)
}
