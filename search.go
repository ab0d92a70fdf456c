package contacts

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"

	"github.com/gymflow/contacts-go/internal/paging"
)

// Search limits of the API.
const (
	// MaxSearchPageLimit is the largest pageLimit the API accepts.
	MaxSearchPageLimit = 500
	// MaxSearchPageWindow is how many records page-number paging can reach;
	// beyond it, page with SearchAfter.
	MaxSearchPageWindow = 10000
	// DefaultSearchPageLimit is the page size used when PageLimit is 0.
	DefaultSearchPageLimit = 100
)

// Operator is a search filter operator.
type Operator string

// Search filter operators.
const (
	OpEq          Operator = "eq"
	OpNotEq       Operator = "not_eq"
	OpContains    Operator = "contains"
	OpNotContains Operator = "not_contains"
	OpExists      Operator = "exists"
	OpNotExists   Operator = "not_exists"
	OpRange       Operator = "range"
)

// Filter is a search condition: a field test built with Where, Exists or
// NotExists, or a group built with And or Or.
type Filter struct {
	Field    string
	Operator Operator
	Value    any
	// Group is "AND" or "OR" for a group of Filters.
	Group   string
	Filters []Filter
}

// Where tests a field: Where("email", OpEq, "ana@example.com"). Fields
// include id, email, phone, firstNameLowerCase, lastNameLowerCase, tags,
// dateAdded, dateUpdated and customFields.
func Where(field string, op Operator, value any) Filter {
	return Filter{Field: field, Operator: op, Value: value}
}

// Exists matches contacts where field has a value.
func Exists(field string) Filter { return Filter{Field: field, Operator: OpExists} }

// NotExists matches contacts where field has no value.
func NotExists(field string) Filter { return Filter{Field: field, Operator: OpNotExists} }

// And matches contacts that pass every filter.
func And(filters ...Filter) Filter { return Filter{Group: "AND", Filters: filters} }

// Or matches contacts that pass any filter.
func Or(filters ...Filter) Filter { return Filter{Group: "OR", Filters: filters} }

// Range is the value of an OpRange filter; set the bounds you need, e.g.
// Where("dateUpdated", OpRange, Range{GTE: since}). Bounds are numbers,
// strings or time.Time values.
type Range struct {
	GT  any `json:"gt,omitempty"`
	GTE any `json:"gte,omitempty"`
	LT  any `json:"lt,omitempty"`
	LTE any `json:"lte,omitempty"`
}

// MarshalJSON writes {field, operator, value} or {group, filters}.
func (f Filter) MarshalJSON() ([]byte, error) {
	if f.Group != "" {
		return json.Marshal(struct {
			Group   string   `json:"group"`
			Filters []Filter `json:"filters"`
		}{f.Group, f.Filters})
	}
	return json.Marshal(struct {
		Field    string   `json:"field"`
		Operator Operator `json:"operator"`
		Value    any      `json:"value,omitempty"`
	}{f.Field, f.Operator, f.Value})
}

// UnmarshalJSON reads either shape.
func (f *Filter) UnmarshalJSON(b []byte) error {
	var v struct {
		Field    string          `json:"field"`
		Operator Operator        `json:"operator"`
		Value    json.RawMessage `json:"value"`
		Group    string          `json:"group"`
		Filters  []Filter        `json:"filters"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = Filter{Field: v.Field, Operator: v.Operator, Group: v.Group, Filters: v.Filters}
	if len(v.Value) > 0 {
		var val any
		if err := json.Unmarshal(v.Value, &val); err != nil {
			return err
		}
		f.Value = val
	}
	return nil
}

func (f Filter) validate() error {
	if f.Group != "" {
		if f.Group != "AND" && f.Group != "OR" {
			return fmt.Errorf("filter group %q is not AND or OR", f.Group)
		}
		if len(f.Filters) == 0 {
			return fmt.Errorf("filter group %s is empty", f.Group)
		}
		for _, sub := range f.Filters {
			if err := sub.validate(); err != nil {
				return err
			}
		}
		return nil
	}
	if f.Field == "" {
		return fmt.Errorf("filter has no field")
	}
	switch f.Operator {
	case OpEq, OpNotEq, OpContains, OpNotContains, OpRange:
		if f.Value == nil {
			return fmt.Errorf("filter on %s with %s needs a value", f.Field, f.Operator)
		}
	case OpExists, OpNotExists:
	default:
		return fmt.Errorf("filter on %s: unknown operator %q", f.Field, f.Operator)
	}
	return nil
}

// SortDirection orders search results.
type SortDirection string

// Sort directions.
const (
	Asc  SortDirection = "asc"
	Desc SortDirection = "desc"
)

// Sort orders search results by a field.
type Sort struct {
	Field     string        `json:"field"`
	Direction SortDirection `json:"direction"`
}

// Cursor is a searchAfter position: the SearchAfter of the last contact of
// a page. It is opaque; pass it back unchanged.
type Cursor []json.RawMessage

// SearchParams is the body of Contacts.Search. The spec leaves it
// undocumented; these are the fields the live API accepts.
type SearchParams struct {
	// LocationID defaults to the client's.
	LocationID string `json:"locationId"`
	// Query is a free-text query.
	Query string `json:"query,omitempty"`
	// PageLimit is the page size, 1..500; 0 means DefaultSearchPageLimit.
	PageLimit int `json:"pageLimit"`
	// Page is the 1-based page number. Page*PageLimit may not exceed
	// 10,000; use SearchAfter beyond that.
	Page int `json:"page,omitempty"`
	// SearchAfter continues after the given cursor.
	SearchAfter Cursor   `json:"searchAfter,omitempty"`
	Filters     []Filter `json:"filters,omitempty"`
	Sort        []Sort   `json:"sort,omitempty"`
}

// SearchResult is one page of search results.
type SearchResult struct {
	Contacts []Contact `json:"contacts"`
	// Total is the number of contacts matching the search.
	Total   int    `json:"total"`
	TraceID string `json:"traceId"`
}

func (r *SearchResult) attachRaw(body []byte) { attachAll(body, "contacts", r.Contacts, contactRaw) }

func (s *ContactsService) searchBody(p SearchParams) (SearchParams, error) {
	loc, err := s.client.location(p.LocationID)
	if err != nil {
		return p, err
	}
	p.LocationID = loc
	if p.PageLimit == 0 {
		p.PageLimit = DefaultSearchPageLimit
	}
	if p.PageLimit < 1 || p.PageLimit > MaxSearchPageLimit {
		return p, fmt.Errorf("%w: pageLimit %d is outside 1..%d", ErrInvalidArgument, p.PageLimit, MaxSearchPageLimit)
	}
	if p.Page < 0 {
		return p, fmt.Errorf("%w: page %d is negative", ErrInvalidArgument, p.Page)
	}
	if p.Page*p.PageLimit > MaxSearchPageWindow {
		return p, fmt.Errorf("%w: page %d × pageLimit %d passes the API's %d-record window; page with SearchAfter",
			ErrInvalidArgument, p.Page, p.PageLimit, MaxSearchPageWindow)
	}
	if p.Page > 0 && len(p.SearchAfter) > 0 {
		return p, fmt.Errorf("%w: use Page or SearchAfter, not both", ErrInvalidArgument)
	}
	for _, f := range p.Filters {
		if err := f.validate(); err != nil {
			return p, fmt.Errorf("%w: %v", ErrInvalidArgument, err)
		}
	}
	return p, nil
}

// Search returns one page of contacts matching params. Search is
// eventually consistent: a contact written a moment ago may not match yet.
//
// API: POST /contacts/search (search-contacts-advanced).
func (s *ContactsService) Search(ctx context.Context, params SearchParams, opts ...RequestOption) (*SearchResult, error) {
	body, err := s.searchBody(params)
	if err != nil {
		return nil, err
	}
	var out SearchResult
	if err := s.client.do(ctx, request{method: http.MethodPost, path: "/contacts/search", body: body, out: &out}, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// SearchAll iterates over every contact matching params. It pages by page
// number while within the API's 10,000-record window and continues with
// the searchAfter cursor of the last contact beyond it (or from the start
// when params.SearchAfter is set). Nothing is fetched until the sequence is
// ranged; params is copied, never modified.
func (s *ContactsService) SearchAll(ctx context.Context, params SearchParams, opts ...RequestOption) iter.Seq2[Contact, error] {
	params.Filters = append([]Filter(nil), params.Filters...)
	params.Sort = append([]Sort(nil), params.Sort...)
	params.SearchAfter = append(Cursor(nil), params.SearchAfter...)
	if params.PageLimit == 0 {
		params.PageLimit = DefaultSearchPageLimit
	}
	useCursor := len(params.SearchAfter) > 0
	if !useCursor && params.Page == 0 {
		params.Page = 1
	}
	seen := 0
	var pending error // reported on the fetch after the page that caused it
	return paging.All(ctx, func(ctx context.Context) ([]Contact, bool, error) {
		if pending != nil {
			return nil, false, pending
		}
		page, err := s.Search(ctx, params, opts...)
		if err != nil {
			return nil, false, err
		}
		n := len(page.Contacts)
		seen += n
		if n < params.PageLimit || page.Total > 0 && seen >= page.Total && !useCursor {
			return page.Contacts, false, nil
		}
		if !useCursor && (params.Page+1)*params.PageLimit <= MaxSearchPageWindow {
			params.Page++
			return page.Contacts, true, nil
		}
		last := page.Contacts[n-1].SearchAfter
		if len(last) == 0 {
			pending = fmt.Errorf("contacts: search needs a searchAfter cursor to read past %d records, and the last contact has none", MaxSearchPageWindow)
			return page.Contacts, true, nil
		}
		useCursor = true
		params.Page = 0
		params.SearchAfter = last
		return page.Contacts, true, nil
	})
}
