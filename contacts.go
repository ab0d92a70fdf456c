package contacts

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gymflow/contacts-go/internal/paging"
)

// ContactsService manages contacts: client.Contacts.
type ContactsService service

// Contact is a contact as the API returns it. Every read endpoint returns
// a subset of these fields; fields the spec omits but the live API sends
// (additionalEmails, followers, …) are decoded where known and all of the
// original JSON is kept in RawJSON.
type Contact struct {
	ID                 string              `json:"id"`
	LocationID         string              `json:"locationId,omitempty"`
	Name               string              `json:"name,omitempty"`
	FirstName          string              `json:"firstName,omitempty"`
	LastName           string              `json:"lastName,omitempty"`
	FirstNameLowerCase string              `json:"firstNameLowerCase,omitempty"`
	LastNameLowerCase  string              `json:"lastNameLowerCase,omitempty"`
	FullNameLowerCase  string              `json:"fullNameLowerCase,omitempty"`
	Email              string              `json:"email,omitempty"`
	EmailLowerCase     string              `json:"emailLowerCase,omitempty"`
	AdditionalEmails   StringList          `json:"additionalEmails,omitempty"`
	Phone              string              `json:"phone,omitempty"`
	AdditionalPhones   StringList          `json:"additionalPhones,omitempty"`
	CompanyName        string              `json:"companyName,omitempty"`
	BusinessName       string              `json:"businessName,omitempty"`
	BusinessID         string              `json:"businessId,omitempty"`
	Timezone           string              `json:"timezone,omitempty"`
	DND                bool                `json:"dnd"`
	DNDSettings        *DNDSettings        `json:"dndSettings,omitempty"`
	Type               string              `json:"type,omitempty"`
	Source             string              `json:"source,omitempty"`
	AssignedTo         string              `json:"assignedTo,omitempty"`
	Followers          StringList          `json:"followers,omitempty"`
	Address1           string              `json:"address1,omitempty"`
	City               string              `json:"city,omitempty"`
	State              string              `json:"state,omitempty"`
	Country            string              `json:"country,omitempty"`
	PostalCode         string              `json:"postalCode,omitempty"`
	Website            string              `json:"website,omitempty"`
	Tags               []string            `json:"tags,omitempty"`
	DateOfBirth        string              `json:"dateOfBirth,omitempty"`
	DateAdded          Time                `json:"dateAdded,omitzero"`
	DateUpdated        Time                `json:"dateUpdated,omitzero"`
	LastActivity       Time                `json:"lastActivity,omitzero"`
	Attachments        StringList          `json:"attachments,omitempty"`
	SSN                string              `json:"ssn,omitempty"`
	Keyword            string              `json:"keyword,omitempty"`
	CustomFields       []CustomField       `json:"customFields,omitempty"`
	AttributionSource  *AttributionSource  `json:"attributionSource,omitempty"`
	LastAttribution    *AttributionSource  `json:"lastAttributionSource,omitempty"`
	Attributions       []AttributionSource `json:"attributions,omitempty"`
	VisitorID          string              `json:"visitorId,omitempty"`
	Deleted            bool                `json:"deleted,omitempty"`
	ValidEmail         *bool               `json:"validEmail,omitempty"`
	// BirthDay and BirthMonth (1–12) are the day and month of birth the
	// create-contact response carries beside DateOfBirth; 0 when absent.
	BirthDay   int `json:"birthDay,omitempty"`
	BirthMonth int `json:"birthMonth,omitempty"`
	// BounceEmail reports that mail to Email bounced; UnsubscribeEmail
	// that the contact unsubscribed from e-mail.
	BounceEmail      bool `json:"bounceEmail,omitempty"`
	UnsubscribeEmail bool `json:"unsubscribeEmail,omitempty"`
	// LastSessionActivityAt is the contact's last session activity.
	LastSessionActivityAt Time `json:"lastSessionActivityAt,omitzero"`
	// Offers and Products are the IDs of the contact's offers and
	// products.
	Offers   StringList `json:"offers,omitempty"`
	Products StringList `json:"products,omitempty"`
	// SearchAfter is the cursor of this contact in a search result; pass
	// the last one as SearchParams.SearchAfter to read further.
	SearchAfter Cursor `json:"searchAfter,omitempty"`

	raw rawRef
}

// RawJSON returns the contact's JSON exactly as the API sent it, for
// contacts returned by the client (nil otherwise). Use it to read fields
// this type does not model. It is extracted on first use, so decoding
// stays as fast as decoding into a plain struct.
func (c *Contact) RawJSON() json.RawMessage { return c.raw.json() }

func contactRaw(c *Contact) *rawRef { return &c.raw }

// CustomField returns the value of the custom field with the given ID.
func (c *Contact) CustomField(id string) (CustomValue, bool) {
	for _, f := range c.CustomFields {
		if f.ID == id {
			return f.Value, true
		}
	}
	return CustomValue{}, false
}

// ContactCreate is the body of Contacts.Create. Empty fields are left out.
// LocationID defaults to the client's (WithLocationID).
type ContactCreate struct {
	LocationID         string              `json:"locationId"`
	FirstName          string              `json:"firstName,omitempty"`
	LastName           string              `json:"lastName,omitempty"`
	Name               string              `json:"name,omitempty"`
	Email              string              `json:"email,omitempty"`
	Gender             string              `json:"gender,omitempty"`
	Phone              string              `json:"phone,omitempty"`
	Address1           string              `json:"address1,omitempty"`
	City               string              `json:"city,omitempty"`
	State              string              `json:"state,omitempty"`
	PostalCode         string              `json:"postalCode,omitempty"`
	Website            string              `json:"website,omitempty"`
	Timezone           string              `json:"timezone,omitempty"`
	DND                *bool               `json:"dnd,omitempty"`
	DNDSettings        *DNDSettings        `json:"dndSettings,omitempty"`
	InboundDNDSettings *InboundDNDSettings `json:"inboundDndSettings,omitempty"`
	// Tags become the contact's tags.
	Tags         []string           `json:"tags,omitempty"`
	CustomFields []CustomFieldInput `json:"customFields,omitempty"`
	Source       string             `json:"source,omitempty"`
	// DateOfBirth accepts YYYY-MM-DD, YYYY/MM/DD, MM/DD/YYYY, MM-DD-YYYY,
	// YYYY.MM.DD, MM.DD.YYYY, YYYY_MM_DD or MM_DD_YYYY.
	DateOfBirth string `json:"dateOfBirth,omitempty"`
	Country     string `json:"country,omitempty"`
	CompanyName string `json:"companyName,omitempty"`
	AssignedTo  string `json:"assignedTo,omitempty"`
}

// ContactUpsert is the body of Contacts.Upsert: ContactCreate's fields plus
// CreateNewIfDuplicateAllowed. Tags, if set, REPLACE the contact's tags.
type ContactUpsert struct {
	LocationID         string              `json:"locationId"`
	FirstName          string              `json:"firstName,omitempty"`
	LastName           string              `json:"lastName,omitempty"`
	Name               string              `json:"name,omitempty"`
	Email              string              `json:"email,omitempty"`
	Gender             string              `json:"gender,omitempty"`
	Phone              string              `json:"phone,omitempty"`
	Address1           string              `json:"address1,omitempty"`
	City               string              `json:"city,omitempty"`
	State              string              `json:"state,omitempty"`
	PostalCode         string              `json:"postalCode,omitempty"`
	Website            string              `json:"website,omitempty"`
	Timezone           string              `json:"timezone,omitempty"`
	DND                *bool               `json:"dnd,omitempty"`
	DNDSettings        *DNDSettings        `json:"dndSettings,omitempty"`
	InboundDNDSettings *InboundDNDSettings `json:"inboundDndSettings,omitempty"`
	Tags               []string            `json:"tags,omitempty"`
	CustomFields       []CustomFieldInput  `json:"customFields,omitempty"`
	Source             string              `json:"source,omitempty"`
	DateOfBirth        string              `json:"dateOfBirth,omitempty"`
	Country            string              `json:"country,omitempty"`
	CompanyName        string              `json:"companyName,omitempty"`
	AssignedTo         string              `json:"assignedTo,omitempty"`
	// CreateNewIfDuplicateAllowed creates a new contact without looking
	// for a duplicate when the location allows duplicates.
	CreateNewIfDuplicateAllowed bool `json:"createNewIfDuplicateAllowed,omitempty"`
}

// ContactUpdate is the body of Contacts.Update. Unset fields are left
// unchanged; Null clears a field. The API does not accept locationId,
// companyName or gender on update.
type ContactUpdate struct {
	FirstName          Nullable[string]    `json:"firstName,omitzero"`
	LastName           Nullable[string]    `json:"lastName,omitzero"`
	Name               Nullable[string]    `json:"name,omitzero"`
	Email              Nullable[string]    `json:"email,omitzero"`
	Phone              Nullable[string]    `json:"phone,omitzero"`
	Address1           Nullable[string]    `json:"address1,omitzero"`
	City               Nullable[string]    `json:"city,omitzero"`
	State              Nullable[string]    `json:"state,omitzero"`
	PostalCode         *string             `json:"postalCode,omitempty"`
	Website            Nullable[string]    `json:"website,omitzero"`
	Timezone           Nullable[string]    `json:"timezone,omitzero"`
	DND                *bool               `json:"dnd,omitempty"`
	DNDSettings        *DNDSettings        `json:"dndSettings,omitempty"`
	InboundDNDSettings *InboundDNDSettings `json:"inboundDndSettings,omitempty"`
	// Tags, when non-nil, REPLACES every tag of the contact; an empty
	// non-nil slice removes them all. Leave nil and use client.Tags to
	// add or remove individual tags.
	Tags         []string           `json:"tags,omitzero"`
	CustomFields []CustomFieldInput `json:"customFields,omitempty"`
	Source       Nullable[string]   `json:"source,omitzero"`
	DateOfBirth  Nullable[string]   `json:"dateOfBirth,omitzero"`
	Country      *string            `json:"country,omitempty"`
	AssignedTo   Nullable[string]   `json:"assignedTo,omitzero"`
}

// UpsertResult is the outcome of Contacts.Upsert.
type UpsertResult struct {
	// Created is true when the upsert created a new contact ("new").
	Created bool    `json:"new"`
	Contact Contact `json:"contact"`
	TraceID string  `json:"traceId"`
}

type contactEnvelope struct {
	Contact *Contact `json:"contact"`
	TraceID string   `json:"traceId"`
	succeeded
}

// DuplicateResult is the outcome of Contacts.FindDuplicate.
type DuplicateResult struct {
	// Contact is the existing contact the location's duplicate rules
	// match, nil when there is none.
	Contact *Contact
	// TraceID is the response's traceId.
	TraceID string
}

func (e *contactEnvelope) attachRaw(body []byte) {
	if e.Contact != nil {
		attachOne(body, "contact", &e.Contact.raw)
	}
}

func (r *UpsertResult) attachRaw(body []byte) { attachOne(body, "contact", &r.Contact.raw) }

func (l *ContactList) attachRaw(body []byte) { attachAll(body, "contacts", l.Contacts, contactRaw) }

// Get returns a contact.
//
// API: GET /contacts/{contactId} (get-contact).
func (s *ContactsService) Get(ctx context.Context, contactID string, opts ...RequestOption) (*Contact, error) {
	p, err := pathOf("/contacts/%s", "contactId", contactID)
	if err != nil {
		return nil, err
	}
	var env contactEnvelope
	if err := s.client.do(ctx, request{method: http.MethodGet, path: p, out: &env}, opts); err != nil {
		return nil, err
	}
	return contactOf(env, http.MethodGet, p)
}

func contactOf(env contactEnvelope, method, path string) (*Contact, error) {
	if err := env.check(method, path); err != nil {
		return nil, err
	}
	if env.Contact == nil {
		return nil, &DecodeError{Method: method, Path: path, StatusCode: http.StatusOK, Err: fmt.Errorf("response has no contact")}
	}
	return env.Contact, nil
}

// Create creates a contact and returns it. Tags in the body become its
// tags. If the location does not allow duplicates and one exists, the
// error matches ErrDuplicateContact and its APIError.DuplicateContactID
// names the existing contact. Create is never retried after a 5xx or a
// transport error: the API can create the contact and still fail the
// call, so look the contact up (FindDuplicate) before trying again.
//
// API: POST /contacts/ (create-contact).
func (s *ContactsService) Create(ctx context.Context, in ContactCreate, opts ...RequestOption) (*Contact, error) {
	loc, err := s.client.location(in.LocationID)
	if err != nil {
		return nil, err
	}
	in.LocationID = loc
	if err := checkCustomFields(in.CustomFields); err != nil {
		return nil, err
	}
	const p = "/contacts/"
	var env contactEnvelope
	if err := s.client.do(ctx, request{method: http.MethodPost, path: p, body: in, out: &env}, opts); err != nil {
		return nil, err
	}
	return contactOf(env, http.MethodPost, p)
}

// Update changes a contact and returns it as updated.
//
// API: PUT /contacts/{contactId} (update-contact).
func (s *ContactsService) Update(ctx context.Context, contactID string, in ContactUpdate, opts ...RequestOption) (*Contact, error) {
	p, err := pathOf("/contacts/%s", "contactId", contactID)
	if err != nil {
		return nil, err
	}
	if err := checkCustomFields(in.CustomFields); err != nil {
		return nil, err
	}
	var env contactEnvelope
	if err := s.client.do(ctx, request{method: http.MethodPut, path: p, body: in, out: &env}, opts); err != nil {
		return nil, err
	}
	return contactOf(env, http.MethodPut, p)
}

// Upsert creates a contact or updates the one that matches it, following
// the location's "Allow Duplicate Contact" setting. Result.Created tells
// which happened.
//
// API: POST /contacts/upsert (upsert-contact).
func (s *ContactsService) Upsert(ctx context.Context, in ContactUpsert, opts ...RequestOption) (*UpsertResult, error) {
	loc, err := s.client.location(in.LocationID)
	if err != nil {
		return nil, err
	}
	in.LocationID = loc
	if in.Email == "" && in.Phone == "" {
		return nil, fmt.Errorf("%w: upsert needs an email or a phone to match on", ErrInvalidArgument)
	}
	if err := checkCustomFields(in.CustomFields); err != nil {
		return nil, err
	}
	var out UpsertResult
	if err := s.client.do(ctx, request{method: http.MethodPost, path: "/contacts/upsert", body: in, out: &out}, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// Delete deletes a contact.
//
// API: DELETE /contacts/{contactId} (delete-contact).
func (s *ContactsService) Delete(ctx context.Context, contactID string, opts ...RequestOption) error {
	p, err := pathOf("/contacts/%s", "contactId", contactID)
	if err != nil {
		return err
	}
	var env succeeded
	if err := s.client.do(ctx, request{method: http.MethodDelete, path: p, out: &env}, opts); err != nil {
		return err
	}
	return env.check(http.MethodDelete, p)
}

// DuplicateQuery is the input of FindDuplicate: an email, a phone, or both.
type DuplicateQuery struct {
	LocationID string
	Email      string
	Phone      string
}

// FindDuplicate returns the contact the location's duplicate rules match
// for an email and/or phone in the result's Contact, nil when there is
// none.
//
// API: GET /contacts/search/duplicate (get-duplicate-contact).
func (s *ContactsService) FindDuplicate(ctx context.Context, q DuplicateQuery, opts ...RequestOption) (*DuplicateResult, error) {
	loc, err := s.client.location(q.LocationID)
	if err != nil {
		return nil, err
	}
	if q.Email == "" && q.Phone == "" {
		return nil, fmt.Errorf("%w: FindDuplicate needs an email or a phone", ErrInvalidArgument)
	}
	v := url.Values{"locationId": {loc}}
	if q.Email != "" {
		v.Set("email", q.Email)
	}
	if q.Phone != "" {
		v.Set("number", q.Phone)
	}
	var env contactEnvelope
	if err := s.client.do(ctx, request{method: http.MethodGet, path: "/contacts/search/duplicate", query: v, out: &env}, opts); err != nil {
		return nil, err
	}
	return &DuplicateResult{Contact: env.Contact, TraceID: env.TraceID}, nil
}

// ListParams pages through the deprecated GET /contacts/ endpoint.
type ListParams struct {
	LocationID string
	// Query filters by a free-text match.
	Query string
	// Limit is the page size, at most 100 (the API's default is 20).
	Limit int
	// StartAfter and StartAfterID are the cursor from the previous page's
	// Meta; zero values start at the beginning.
	StartAfter   int64
	StartAfterID string
}

// ContactList is one page of contacts.
type ContactList struct {
	Contacts []Contact `json:"contacts"`
	// Count is the API's count field (the page size or total, as sent).
	Count   int      `json:"count"`
	Meta    ListMeta `json:"meta"`
	TraceID string   `json:"traceId"`
}

// ListMeta is the paging information of the deprecated list. The live API
// sends it although the spec does not wire it into the response.
type ListMeta struct {
	Total        int    `json:"total"`
	NextPageURL  string `json:"nextPageUrl"`
	StartAfterID string `json:"startAfterId"`
	StartAfter   int64  `json:"startAfter"`
	CurrentPage  int    `json:"currentPage"`
	NextPage     int    `json:"nextPage"`
	PrevPage     *int   `json:"prevPage"`
}

// List returns one page of contacts from the deprecated list endpoint.
// Prefer Search; List is kept for integrations that rely on its cursor.
//
// API: GET /contacts/ (get-contacts).
//
// Deprecated: the API deprecates GET /contacts/; use Search.
func (s *ContactsService) List(ctx context.Context, params ListParams, opts ...RequestOption) (*ContactList, error) {
	loc, err := s.client.location(params.LocationID)
	if err != nil {
		return nil, err
	}
	if params.Limit < 0 || params.Limit > 100 {
		return nil, fmt.Errorf("%w: limit %d is outside 1..100", ErrInvalidArgument, params.Limit)
	}
	v := url.Values{"locationId": {loc}}
	if params.Limit > 0 {
		v.Set("limit", strconv.Itoa(params.Limit))
	}
	if params.Query != "" {
		v.Set("query", params.Query)
	}
	if params.StartAfter != 0 {
		v.Set("startAfter", strconv.FormatInt(params.StartAfter, 10))
	}
	if params.StartAfterID != "" {
		v.Set("startAfterId", params.StartAfterID)
	}
	var out ContactList
	if err := s.client.do(ctx, request{method: http.MethodGet, path: "/contacts/", query: v, out: &out}, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListAll iterates over every contact of the deprecated list, following
// meta.startAfter/startAfterId. Nothing is fetched until the sequence is
// ranged over; params is copied, never modified.
//
// Deprecated: the API deprecates GET /contacts/; use SearchAll.
func (s *ContactsService) ListAll(ctx context.Context, params ListParams, opts ...RequestOption) iter.Seq2[Contact, error] {
	return paging.All(ctx, func(ctx context.Context) ([]Contact, bool, error) {
		page, err := s.List(ctx, params, opts...)
		if err != nil {
			return nil, false, err
		}
		m := page.Meta
		if m.StartAfterID == "" && m.StartAfter == 0 || params.Limit > 0 && len(page.Contacts) < params.Limit {
			return page.Contacts, false, nil
		}
		if m.StartAfterID == params.StartAfterID && m.StartAfter == params.StartAfter {
			return nil, false, fmt.Errorf("contacts: list cursor did not advance (startAfterId %q)", m.StartAfterID)
		}
		params.StartAfter, params.StartAfterID = m.StartAfter, m.StartAfterID
		return page.Contacts, true, nil
	})
}

// BusinessListParams pages through the contacts of a business.
type BusinessListParams struct {
	LocationID string
	Query      string
	// Limit is the page size; Skip the number of contacts to skip.
	Limit int
	Skip  int
}

// ListByBusiness returns one page of the contacts linked to a business.
//
// API: GET /contacts/business/{businessId} (get-contacts-by-businessId).
func (s *ContactsService) ListByBusiness(ctx context.Context, businessID string, params BusinessListParams, opts ...RequestOption) (*ContactList, error) {
	p, err := pathOf("/contacts/business/%s", "businessId", businessID)
	if err != nil {
		return nil, err
	}
	loc, err := s.client.location(params.LocationID)
	if err != nil {
		return nil, err
	}
	if params.Limit < 0 || params.Skip < 0 {
		return nil, fmt.Errorf("%w: limit and skip must not be negative", ErrInvalidArgument)
	}
	v := url.Values{"locationId": {loc}}
	if params.Limit > 0 {
		v.Set("limit", strconv.Itoa(params.Limit))
	}
	if params.Skip > 0 {
		v.Set("skip", strconv.Itoa(params.Skip))
	}
	if params.Query != "" {
		v.Set("query", params.Query)
	}
	var out ContactList
	if err := s.client.do(ctx, request{method: http.MethodGet, path: p, query: v, out: &out}, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListByBusinessAll iterates over every contact of a business, advancing
// skip by each page's size until a short or empty page.
func (s *ContactsService) ListByBusinessAll(ctx context.Context, businessID string, params BusinessListParams, opts ...RequestOption) iter.Seq2[Contact, error] {
	return paging.All(ctx, func(ctx context.Context) ([]Contact, bool, error) {
		page, err := s.ListByBusiness(ctx, businessID, params, opts...)
		if err != nil {
			return nil, false, err
		}
		n := len(page.Contacts)
		params.Skip += n
		more := n > 0 && (params.Limit == 0 || n >= params.Limit)
		return page.Contacts, more, nil
	})
}

// BusinessUpdate links contacts to a business, or unlinks them.
type BusinessUpdate struct {
	LocationID string `json:"locationId"`
	// ContactIDs are the contacts to change.
	ContactIDs []string `json:"ids"`
	// BusinessID is the business to link; nil unlinks the contacts (the
	// API takes a null businessId for that).
	BusinessID *string `json:"businessId"`
}

// BusinessUpdateResult is the outcome of SetBusiness.
type BusinessUpdateResult struct {
	Success bool     `json:"success"`
	IDs     []string `json:"ids"`
	TraceID string   `json:"traceId"`
}

// SetBusiness links contacts to a business (or unlinks them when
// BusinessID is nil).
//
// API: POST /contacts/bulk/business (add-remove-contact-from-business).
func (s *ContactsService) SetBusiness(ctx context.Context, in BusinessUpdate, opts ...RequestOption) (*BusinessUpdateResult, error) {
	loc, err := s.client.location(in.LocationID)
	if err != nil {
		return nil, err
	}
	in.LocationID = loc
	if len(in.ContactIDs) == 0 {
		return nil, fmt.Errorf("%w: SetBusiness needs at least one contact ID", ErrInvalidArgument)
	}
	for _, id := range in.ContactIDs {
		if id == "" || len(id) > 50 {
			return nil, fmt.Errorf("%w: contact ID %q must be 1..50 characters", ErrInvalidArgument, id)
		}
	}
	var out BusinessUpdateResult
	if err := s.client.do(ctx, request{method: http.MethodPost, path: "/contacts/bulk/business", body: in, out: &out}, opts); err != nil {
		return nil, err
	}
	return &out, nil
}
