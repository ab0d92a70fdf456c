package contacts

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// TasksService manages a contact's tasks: client.Tasks.
type TasksService service

// Task is a contact's task.
type Task struct {
	ID         string `json:"id"`
	Title      string `json:"title,omitempty"`
	Body       string `json:"body,omitempty"`
	AssignedTo string `json:"assignedTo,omitempty"`
	DueDate    Time   `json:"dueDate,omitzero"`
	Completed  bool   `json:"completed"`
	ContactID  string `json:"contactId,omitempty"`

	raw rawRef
}

// RawJSON returns the task's JSON as the API sent it (see Contact.RawJSON).
func (t *Task) RawJSON() json.RawMessage { return t.raw.json() }

// TaskCreate is the body of Tasks.Create. Title and DueDate are required;
// Completed is always sent.
type TaskCreate struct {
	Title      string    `json:"title"`
	Body       string    `json:"body,omitempty"`
	DueDate    time.Time `json:"dueDate"`
	Completed  bool      `json:"completed"`
	AssignedTo string    `json:"assignedTo,omitempty"`
}

// TaskUpdate is the body of Tasks.Update; nil fields are left unchanged.
type TaskUpdate struct {
	Title      *string    `json:"title,omitempty"`
	Body       *string    `json:"body,omitempty"`
	DueDate    *time.Time `json:"dueDate,omitempty"`
	Completed  *bool      `json:"completed,omitempty"`
	AssignedTo *string    `json:"assignedTo,omitempty"`
}

type taskEnvelope struct {
	Task *Task `json:"task"`
}

func (e *taskEnvelope) attachRaw(body []byte) {
	if e.Task != nil {
		attachOne(body, "task", &e.Task.raw)
	}
}

type taskList struct {
	Tasks []Task `json:"tasks"`
}

func (l *taskList) attachRaw(body []byte) {
	attachAll(body, "tasks", l.Tasks, func(t *Task) *rawRef { return &t.raw })
}

func taskOf(env taskEnvelope, method, path string) (*Task, error) {
	if env.Task == nil {
		return nil, &DecodeError{Method: method, Path: path, StatusCode: http.StatusOK, Err: fmt.Errorf("response has no task")}
	}
	return env.Task, nil
}

// List returns every task of a contact (the API does not paginate them).
//
// API: GET /contacts/{contactId}/tasks (get-all-tasks).
func (s *TasksService) List(ctx context.Context, contactID string, opts ...RequestOption) ([]Task, error) {
	p, err := pathOf("/contacts/%s/tasks", "contactId", contactID)
	if err != nil {
		return nil, err
	}
	var out taskList
	if err := s.client.do(ctx, request{method: http.MethodGet, path: p, out: &out}, opts); err != nil {
		return nil, err
	}
	return out.Tasks, nil
}

// Get returns one task.
//
// API: GET /contacts/{contactId}/tasks/{taskId} (get-task).
func (s *TasksService) Get(ctx context.Context, contactID, taskID string, opts ...RequestOption) (*Task, error) {
	return s.taskCall(ctx, http.MethodGet, contactID, taskID, "", nil, opts)
}

// Create adds a task to a contact.
//
// API: POST /contacts/{contactId}/tasks (create-task).
func (s *TasksService) Create(ctx context.Context, contactID string, in TaskCreate, opts ...RequestOption) (*Task, error) {
	p, err := pathOf("/contacts/%s/tasks", "contactId", contactID)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(in.Title) == "" {
		return nil, fmt.Errorf("%w: a task needs a title", ErrInvalidArgument)
	}
	if in.DueDate.IsZero() {
		return nil, fmt.Errorf("%w: a task needs a due date", ErrInvalidArgument)
	}
	var env taskEnvelope
	if err := s.client.do(ctx, request{method: http.MethodPost, path: p, body: in, out: &env}, opts); err != nil {
		return nil, err
	}
	return taskOf(env, http.MethodPost, p)
}

// Update changes a task.
//
// API: PUT /contacts/{contactId}/tasks/{taskId} (update-task).
func (s *TasksService) Update(ctx context.Context, contactID, taskID string, in TaskUpdate, opts ...RequestOption) (*Task, error) {
	if in.Title != nil && strings.TrimSpace(*in.Title) == "" {
		return nil, fmt.Errorf("%w: a task's title cannot be empty", ErrInvalidArgument)
	}
	return s.taskCall(ctx, http.MethodPut, contactID, taskID, "", in, opts)
}

// Complete marks a task completed (or not completed).
//
// API: PUT /contacts/{contactId}/tasks/{taskId}/completed (update-task-completed).
func (s *TasksService) Complete(ctx context.Context, contactID, taskID string, completed bool, opts ...RequestOption) (*Task, error) {
	body := struct {
		Completed bool `json:"completed"`
	}{completed}
	return s.taskCall(ctx, http.MethodPut, contactID, taskID, "/completed", body, opts)
}

// Delete deletes a task.
//
// API: DELETE /contacts/{contactId}/tasks/{taskId} (delete-task).
func (s *TasksService) Delete(ctx context.Context, contactID, taskID string, opts ...RequestOption) error {
	p, err := pathOf("/contacts/%s/tasks/%s", "contactId", contactID, "taskId", taskID)
	if err != nil {
		return err
	}
	var env succeeded
	if err := s.client.do(ctx, request{method: http.MethodDelete, path: p, out: &env}, opts); err != nil {
		return err
	}
	return env.check(http.MethodDelete, p)
}

func (s *TasksService) taskCall(ctx context.Context, method, contactID, taskID, suffix string, body any, opts []RequestOption) (*Task, error) {
	p, err := pathOf("/contacts/%s/tasks/%s", "contactId", contactID, "taskId", taskID)
	if err != nil {
		return nil, err
	}
	p += suffix
	var env taskEnvelope
	if err := s.client.do(ctx, request{method: method, path: p, body: body, out: &env}, opts); err != nil {
		return nil, err
	}
	return taskOf(env, method, p)
}
