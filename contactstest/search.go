package contactstest

// This file serves the three ways of reading many contacts:
//
//   - POST /contacts/search: filters, free-text query, sort, page numbers
//     inside a 10,000-record window and searchAfter cursors beyond it;
//   - the deprecated GET /contacts/: dateAdded order with a
//     startAfter/startAfterId cursor and a meta object;
//   - GET /contacts/business/{businessId}: skip/limit over a business's
//     contacts.
//
// Each request filters the location's contacts once and sorts the matches
// once, so a request costs O(n log n) in the location's size.

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Paging limits of the read endpoints.
const (
	searchMaxPageLimit   = 500
	searchWindow         = 10000 // records page-number paging can reach
	listDefaultLimit     = 20
	listMaxLimit         = 100
	businessDefaultLimit = 25
	businessMaxLimit     = 100
)

// searchBodyFields are the properties the search DTO accepts.
var searchBodyFields = []string{"locationId", "pageLimit", "page", "searchAfter", "filters", "sort", "query"}

// Filter operators.
const (
	opEq          = "eq"
	opNotEq       = "not_eq"
	opContains    = "contains"
	opNotContains = "not_contains"
	opExists      = "exists"
	opNotExists   = "not_exists"
	opRange       = "range"
)

var searchOperators = []string{opEq, opNotEq, opContains, opNotContains, opExists, opNotExists, opRange}

// contactMatch reports whether a contact passes a filter.
type contactMatch func(*Contact) bool

// searchContacts serves POST /contacts/search.
//
// The body is validated as a whole (422 with every message) before the
// location access check (403). Without sort, results are ordered by
// dateAdded descending; every order ends with id ascending, so it is
// total and a searchAfter cursor (the sort values of a contact followed by
// its id) names one position exactly.
func (c *call) searchContacts() {
	f, ok := c.decodeBody(searchBodyFields...)
	if !ok {
		return
	}
	v := &validator{f: f}
	locID := v.required("locationId")

	limit, limitOK := 0, false
	if !v.has("pageLimit") {
		v.add("pageLimit should not be empty")
	} else if n, isInt := v.integer("pageLimit"); isInt {
		switch {
		case n > searchMaxPageLimit:
			v.add("pageLimit must not be greater than %d", searchMaxPageLimit)
		case n < 1:
			v.add("pageLimit must not be less than 1")
		default:
			limit, limitOK = n, true
		}
	}
	page := 1
	if n, isInt := v.integer("page"); isInt {
		if n < 1 {
			v.add("page must not be less than 1")
		} else {
			page = n
		}
	}
	query := v.str("query")
	specs, sortOK := parseSearchSort(v)
	match := compileSearchFilters(v)

	var after *searchCursor
	if sortOK && v.has("searchAfter") {
		after = parseSearchCursor(v, specs)
	}
	// page > searchWindow/limit is page*limit > searchWindow without overflow.
	if after == nil && limitOK && page > searchWindow/limit {
		v.add("page * pageLimit must not be greater than %d: page numbers only reach the first %d records; pass the last contact's searchAfter as searchAfter to read further",
			searchWindow, searchWindow)
	}
	if !v.ok(c) || !c.access(locID) {
		return
	}

	if q := queryMatch(query); q != nil {
		match = append(match, q)
	}
	hits := c.s.searchHitsLocked(locID, match, specs)
	start := (page - 1) * limit
	if after != nil {
		start = sort.Search(len(hits), func(i int) bool { return after.before(specs, &hits[i]) })
	}
	start = min(start, len(hits))
	end := min(start+limit, len(hits))

	out := make([]map[string]any, 0, end-start)
	for i := range hits[start:end] {
		out = append(out, hits[start+i].searchWire(specs))
	}
	c.writeJSON(http.StatusOK, map[string]any{"contacts": out, "total": len(hits)})
}

// listContacts serves the deprecated GET /contacts/: the location's
// contacts in dateAdded order (id breaks ties), limit at a time, after the
// cursor startAfter (epoch ms) + startAfterId of the previous page's last
// contact. startAfter alone continues after that millisecond; startAfterId
// alone continues after that contact.
//
// meta.startAfter/startAfterId name the last contact returned (null on an
// empty page); nextPageUrl and nextPage are null on the last page.
func (c *call) listContacts() {
	q := c.r.URL.Query()
	var msgs []string
	locID := q.Get("locationId")
	if strings.TrimSpace(locID) == "" {
		msgs = append(msgs, "locationId should not be empty")
	}
	limit := queryInt(q, "limit", listDefaultLimit, 1, listMaxLimit, &msgs)
	var startAfter int64
	hasStartAfter := q.Get("startAfter") != ""
	if hasStartAfter {
		n, err := strconv.ParseInt(strings.TrimSpace(q.Get("startAfter")), 10, 64)
		if err != nil {
			msgs = append(msgs, "startAfter must be a number (epoch milliseconds)")
		}
		startAfter = n
	}
	startAfterID := q.Get("startAfterId")
	if len(msgs) > 0 {
		c.fail(http.StatusUnprocessableEntity, msgs...)
		return
	}
	if !c.access(locID) {
		return
	}

	var match []contactMatch
	if m := queryMatch(q.Get("query")); m != nil {
		match = append(match, m)
	}
	list := c.s.byDateAddedLocked(locID, match)

	start := 0
	if hasStartAfter || startAfterID != "" {
		if !hasStartAfter {
			startAfter = math.MinInt64
			if ct := c.s.contacts[startAfterID]; ct != nil && ct.LocationID == locID {
				startAfter = ct.DateAdded.UnixMilli()
			}
		}
		start = sort.Search(len(list), func(i int) bool {
			ms := list[i].DateAdded.UnixMilli()
			return ms > startAfter || ms == startAfter && startAfterID != "" && list[i].ID > startAfterID
		})
	}
	end := min(start+limit, len(list))
	page := list[start:end]

	out := make([]map[string]any, 0, len(page))
	for _, ct := range page {
		out = append(out, ct.wire())
	}
	current := start/limit + 1
	meta := map[string]any{
		"total": len(list), "currentPage": current, "nextPage": nil, "prevPage": nil,
		"nextPageUrl": nil, "startAfter": nil, "startAfterId": nil,
	}
	if current > 1 {
		meta["prevPage"] = current - 1
	}
	if len(page) > 0 {
		last := page[len(page)-1]
		meta["startAfter"] = last.DateAdded.UnixMilli()
		meta["startAfterId"] = last.ID
		if end < len(list) {
			next := url.Values{"locationId": {locID}, "limit": {strconv.Itoa(limit)},
				"startAfter": {strconv.FormatInt(last.DateAdded.UnixMilli(), 10)}, "startAfterId": {last.ID}}
			if qs := q.Get("query"); qs != "" {
				next.Set("query", qs)
			}
			meta["nextPage"] = current + 1
			meta["nextPageUrl"] = c.s.URL + "/contacts/?" + next.Encode()
		}
	}
	c.writeJSON(http.StatusOK, map[string]any{"contacts": out, "count": len(list), "meta": meta})
}

// listByBusiness serves GET /contacts/business/{businessId}: the
// location's contacts linked to the business, in dateAdded order (id
// breaks ties), skip and limit being decimal strings. count is the number
// of matching contacts, not the page size.
func (c *call) listByBusiness() {
	businessID := c.r.PathValue("businessId")
	q := c.r.URL.Query()
	var msgs []string
	locID := q.Get("locationId")
	if strings.TrimSpace(locID) == "" {
		msgs = append(msgs, "locationId should not be empty")
	}
	limit := queryInt(q, "limit", businessDefaultLimit, 1, businessMaxLimit, &msgs)
	skip := queryInt(q, "skip", 0, 0, math.MaxInt, &msgs)
	if len(msgs) > 0 {
		c.fail(http.StatusUnprocessableEntity, msgs...)
		return
	}
	if !c.access(locID) {
		return
	}
	match := []contactMatch{func(ct *Contact) bool { return ct.BusinessID == businessID }}
	if m := queryMatch(q.Get("query")); m != nil {
		match = append(match, m)
	}
	list := c.s.byDateAddedLocked(locID, match)
	start := min(skip, len(list))
	end := min(start+limit, len(list))
	out := make([]map[string]any, 0, end-start)
	for _, ct := range list[start:end] {
		out = append(out, ct.wire())
	}
	c.writeJSON(http.StatusOK, map[string]any{"contacts": out, "count": len(list)})
}

// queryInt reads an optional integer query parameter within [lo, hi],
// returning def when it is absent or invalid (invalid adds a message).
func queryInt(q url.Values, name string, def, lo, hi int, msgs *[]string) int {
	s := strings.TrimSpace(q.Get(name))
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	switch {
	case err != nil:
		*msgs = append(*msgs, name+" must be an integer number")
	case n < lo:
		*msgs = append(*msgs, fmt.Sprintf("%s must not be less than %d", name, lo))
	case n > hi:
		*msgs = append(*msgs, fmt.Sprintf("%s must not be greater than %d", name, hi))
	default:
		return n
	}
	return def
}

// matchesAll reports whether ct passes every filter.
func matchesAll(match []contactMatch, ct *Contact) bool {
	for _, m := range match {
		if !m(ct) {
			return false
		}
	}
	return true
}

// byDateAddedLocked returns the location's contacts passing match, by
// dateAdded (to the millisecond, as cursors carry it) and then id.
func (s *Server) byDateAddedLocked(locID string, match []contactMatch) []*Contact {
	all := s.contactsOfLocked(locID)
	out := all[:0]
	for _, ct := range all {
		if matchesAll(match, ct) {
			out = append(out, ct)
		}
	}
	slices.SortFunc(out, func(a, b *Contact) int {
		return cmp.Or(cmp.Compare(a.DateAdded.UnixMilli(), b.DateAdded.UnixMilli()), strings.Compare(a.ID, b.ID))
	})
	return out
}

// queryMatch returns the free-text match of query, or nil for an empty
// query: a case-insensitive substring of the name, first or last name,
// email or company name, or — for a query made of phone characters — a
// run of digits of the phone number (see phoneQueries).
func queryMatch(query string) contactMatch {
	q := strings.ToLower(strings.TrimSpace(query))
	if q == "" {
		return nil
	}
	digits := phoneQueries(q)
	return func(ct *Contact) bool {
		for _, s := range [...]string{ct.displayName(), ct.FirstName + " " + ct.LastName, ct.Email, ct.CompanyName} {
			if strings.Contains(strings.ToLower(s), q) {
				return true
			}
		}
		for _, d := range digits {
			if strings.Contains(ct.Phone, d) {
				return true
			}
		}
		return strings.Contains(ct.Phone, q)
	}
}

// phoneQueryDigits returns the digits of s if s looks like (part of) a
// phone number — digits with optional +, spaces, dashes, dots and
// parentheses — and "" otherwise.
func phoneQueryDigits(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case strings.ContainsRune("+ -.()", r):
		default:
			return ""
		}
	}
	return b.String()
}

// phoneQueries returns the runs of digits a phone query looks for in the
// stored E.164 numbers, or nil if s does not look like (part of) a phone
// number: its digits (phoneQueryDigits), and, when s is a whole number
// written another way, the digits of its E.164 form as normalizePhone
// reads it, so that "+44 (0)20 7946 0958" and "011 44 20 7946 0958"
// find +442079460958 as "+44 20 7946 0958" does.
func phoneQueries(s string) []string {
	d := phoneQueryDigits(s)
	if d == "" {
		return nil
	}
	if n := normalizePhone(s); n != "" && n[1:] != d {
		return []string{d, n[1:]}
	}
	return []string{d}
}

// ---- Sorting -------------------------------------------------------------

// sortValue is one sort key of a contact: epoch milliseconds for a date
// field, a lower-cased string (empty when missing) otherwise.
type sortValue struct {
	n int64
	s string
}

// sortField is a sortable field.
type sortField struct {
	date func(*Contact) time.Time // set for date fields
	str  func(*Contact) string    // set for string fields
}

func (f sortField) value(ct *Contact) sortValue {
	if f.date != nil {
		return sortValue{n: f.date(ct).UnixMilli()}
	}
	return sortValue{s: strings.ToLower(strings.TrimSpace(f.str(ct)))}
}

var sortFields = map[string]sortField{
	"dateAdded":          {date: func(ct *Contact) time.Time { return ct.DateAdded }},
	"dateUpdated":        {date: func(ct *Contact) time.Time { return ct.DateUpdated }},
	"firstNameLowerCase": {str: func(ct *Contact) string { return ct.FirstName }},
	"lastNameLowerCase":  {str: func(ct *Contact) string { return ct.LastName }},
	"fullNameLowerCase":  {str: (*Contact).displayName},
	"email":              {str: func(ct *Contact) string { return ct.Email }},
	"companyName":        {str: func(ct *Contact) string { return ct.CompanyName }},
}

// sortableFields lists sortFields' names for messages.
const sortableFields = "dateAdded, dateUpdated, firstNameLowerCase, lastNameLowerCase, fullNameLowerCase, email, companyName"

// sortSpec is one level of a search's order.
type sortSpec struct {
	field sortField
	desc  bool
}

var defaultSearchSort = []sortSpec{{field: sortFields["dateAdded"], desc: true}}

// parseSearchSort reads the body's sort, defaulting to dateAdded
// descending. ok is false if it was invalid.
func parseSearchSort(v *validator) ([]sortSpec, bool) {
	if !v.has("sort") {
		return defaultSearchSort, true
	}
	var in []struct {
		Field     string `json:"field"`
		Direction string `json:"direction"`
	}
	if json.Unmarshal(v.f["sort"], &in) != nil {
		v.add("sort must be an array of {field, direction} objects")
		return nil, false
	}
	if len(in) == 0 {
		return defaultSearchSort, true
	}
	specs := make([]sortSpec, 0, len(in))
	ok := true
	for i, s := range in {
		f, known := sortFields[s.Field]
		if !known {
			v.add("sort.%d.field %q is not sortable; use one of %s", i, s.Field, sortableFields)
			ok = false
		}
		dir := strings.ToLower(s.Direction)
		if dir != "asc" && dir != "desc" {
			v.add("sort.%d.direction must be one of the following values: asc, desc", i)
			ok = false
		}
		specs = append(specs, sortSpec{field: f, desc: dir == "desc"})
	}
	return specs, ok
}

// searchHit is a matching contact with its sort keys.
type searchHit struct {
	ct   *Contact
	keys []sortValue
}

// compareSortKeys orders two rows of sort keys. Missing (empty) string
// values sort last in either direction, as Elasticsearch puts them.
func compareSortKeys(specs []sortSpec, a, b []sortValue) int {
	for i, sp := range specs {
		var r int
		if sp.field.date != nil {
			r = cmp.Compare(a[i].n, b[i].n)
		} else {
			as, bs := a[i].s, b[i].s
			switch {
			case as == bs:
			case as == "":
				return 1
			case bs == "":
				return -1
			default:
				r = strings.Compare(as, bs)
			}
		}
		if sp.desc {
			r = -r
		}
		if r != 0 {
			return r
		}
	}
	return 0
}

// searchHitsLocked returns the location's contacts passing every filter,
// sorted by specs and then id.
func (s *Server) searchHitsLocked(locID string, match []contactMatch, specs []sortSpec) []searchHit {
	all := s.contactsOfLocked(locID)
	hits := make([]searchHit, 0, len(all))
	// One backing array for every hit's keys: no reallocation, one allocation.
	keys := make([]sortValue, 0, len(all)*len(specs))
	for _, ct := range all {
		if !matchesAll(match, ct) {
			continue
		}
		from := len(keys)
		for _, sp := range specs {
			keys = append(keys, sp.field.value(ct))
		}
		hits = append(hits, searchHit{ct: ct, keys: keys[from:len(keys):len(keys)]})
	}
	slices.SortFunc(hits, func(a, b searchHit) int {
		return cmp.Or(compareSortKeys(specs, a.keys, b.keys), strings.Compare(a.ct.ID, b.ct.ID))
	})
	return hits
}

// searchWire renders a hit as the search response's Contact model (the
// 2025-09-08 spec's; the current one leaves the response empty): the
// contact's fields, address (the model's name for address1),
// additionalEmails as plain strings (the model's type; the read model
// sends objects) and its searchAfter cursor. The model types the cursor's
// items as strings, but its example carries the date sort value as an
// epoch-millisecond number, and so does the fake.
func (h *searchHit) searchWire(specs []sortSpec) map[string]any {
	m := h.ct.wire()
	omitEmpty(m, "address", h.ct.Address1)
	m["additionalEmails"] = nonNil(h.ct.AdditionalEmails)
	cursor := make([]any, 0, len(specs)+1)
	for i, sp := range specs {
		if sp.field.date != nil {
			cursor = append(cursor, h.keys[i].n)
		} else {
			cursor = append(cursor, h.keys[i].s)
		}
	}
	m["searchAfter"] = append(cursor, h.ct.ID)
	return m
}

// searchCursor is a decoded searchAfter: a position in the sort order.
type searchCursor struct {
	keys []sortValue
	id   string
}

// before reports whether the cursor's position is strictly before h.
func (cur *searchCursor) before(specs []sortSpec, h *searchHit) bool {
	return cmp.Or(compareSortKeys(specs, cur.keys, h.keys), strings.Compare(cur.id, h.ct.ID)) < 0
}

// parseSearchCursor decodes the body's searchAfter against the sort: one
// value per sort field (epoch ms for dates, the lower-cased string or null
// for string fields) and the contact's id. An empty array means none.
func parseSearchCursor(v *validator, specs []sortSpec) *searchCursor {
	var raw []json.RawMessage
	if json.Unmarshal(v.f["searchAfter"], &raw) != nil {
		v.add("searchAfter must be an array")
		return nil
	}
	if len(raw) == 0 {
		return nil
	}
	if len(raw) != len(specs)+1 {
		v.add("searchAfter must hold %d values: the sort values of the last contact received followed by its id (pass back that contact's searchAfter unchanged)", len(specs)+1)
		return nil
	}
	cur := &searchCursor{keys: make([]sortValue, len(specs))}
	for i, sp := range specs {
		if sp.field.date != nil {
			ms, ok := cursorMillis(raw[i])
			if !ok {
				v.add("searchAfter.%d must be a date in epoch milliseconds", i)
				return nil
			}
			cur.keys[i].n = ms
			continue
		}
		if string(raw[i]) != "null" && json.Unmarshal(raw[i], &cur.keys[i].s) != nil {
			v.add("searchAfter.%d must be a string", i)
			return nil
		}
		cur.keys[i].s = strings.ToLower(cur.keys[i].s)
	}
	if json.Unmarshal(raw[len(specs)], &cur.id) != nil || cur.id == "" {
		v.add("searchAfter.%d must be a contact id", len(specs))
		return nil
	}
	return cur
}

// cursorMillis reads a date cursor value: epoch milliseconds as a number
// or a string, or an ISO-8601 string.
func cursorMillis(raw json.RawMessage) (int64, bool) {
	var n float64
	if json.Unmarshal(raw, &n) == nil {
		return int64(n), n == math.Trunc(n)
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return 0, false
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return ms, true
	}
	t, ok := parseSearchDate(s)
	return t.UnixMilli(), ok
}

// parseSearchDate parses the date strings filters and cursors accept.
func parseSearchDate(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// ---- Filters -------------------------------------------------------------

// searchStringFields are the string fields filters can test, by name.
var searchStringFields = map[string]func(*Contact) string{
	"id":                 func(ct *Contact) string { return ct.ID },
	"email":              func(ct *Contact) string { return ct.Email },
	"phone":              func(ct *Contact) string { return ct.Phone },
	"name":               (*Contact).displayName,
	"firstName":          func(ct *Contact) string { return ct.FirstName },
	"lastName":           func(ct *Contact) string { return ct.LastName },
	"firstNameLowerCase": func(ct *Contact) string { return ct.FirstName },
	"lastNameLowerCase":  func(ct *Contact) string { return ct.LastName },
	"fullNameLowerCase":  (*Contact).displayName,
	"companyName":        func(ct *Contact) string { return ct.CompanyName },
	"businessId":         func(ct *Contact) string { return ct.BusinessID },
	"assignedTo":         func(ct *Contact) string { return ct.AssignedTo },
	"source":             func(ct *Contact) string { return ct.Source },
	"type":               (*Contact).contactType,
	"address1":           func(ct *Contact) string { return ct.Address1 },
	"city":               func(ct *Contact) string { return ct.City },
	"state":              func(ct *Contact) string { return ct.State },
	"country":            func(ct *Contact) string { return ct.Country },
	"postalCode":         func(ct *Contact) string { return ct.PostalCode },
	"website":            func(ct *Contact) string { return ct.Website },
	"timezone":           func(ct *Contact) string { return ct.Timezone },
}

// searchDateFields are the date fields filters can test.
var searchDateFields = map[string]func(*Contact) time.Time{
	"dateAdded":   func(ct *Contact) time.Time { return ct.DateAdded },
	"dateUpdated": func(ct *Contact) time.Time { return ct.DateUpdated },
}

const customFieldPrefix = "customFields."

// filterCompiler turns the body's filters into matches, adding a message
// to v for each invalid filter.
type filterCompiler struct{ v *validator }

// compileSearchFilters compiles the body's filters; the result is ANDed.
func compileSearchFilters(v *validator) []contactMatch {
	if !v.has("filters") {
		return nil
	}
	var raw []json.RawMessage
	if json.Unmarshal(v.f["filters"], &raw) != nil {
		v.add("filters must be an array")
		return nil
	}
	fc := filterCompiler{v: v}
	out := make([]contactMatch, 0, len(raw))
	for i, r := range raw {
		if m := fc.compile(fmt.Sprintf("filters.%d", i), r); m != nil {
			out = append(out, m)
		}
	}
	return out
}

// compile compiles one filter or group; it returns nil if it is invalid.
func (fc filterCompiler) compile(path string, raw json.RawMessage) contactMatch {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		fc.v.add("%s must be an object: {field, operator, value} or {group, filters}", path)
		return nil
	}
	_, isGroup := obj["group"]
	_, hasFilters := obj["filters"]
	allowed := []string{"field", "operator", "value"}
	if isGroup || hasFilters {
		allowed = []string{"group", "filters"}
	}
	valid := true
	for k := range obj {
		if !slices.Contains(allowed, k) {
			fc.v.add("%s: property %s should not exist", path, k)
			valid = false
		}
	}
	if !valid {
		return nil
	}
	if isGroup || hasFilters {
		return fc.group(path, obj)
	}
	return fc.condition(path, obj)
}

// group compiles {group: AND|OR, filters: [...]}.
func (fc filterCompiler) group(path string, obj map[string]json.RawMessage) contactMatch {
	var kind string
	_ = json.Unmarshal(obj["group"], &kind)
	kind = strings.ToUpper(kind)
	var raw []json.RawMessage
	ok := true
	if kind != "AND" && kind != "OR" {
		fc.v.add("%s.group must be one of the following values: AND, OR", path)
		ok = false
	}
	if json.Unmarshal(obj["filters"], &raw) != nil || len(raw) == 0 {
		fc.v.add("%s.filters must be a non-empty array", path)
		return nil
	}
	subs := make([]contactMatch, 0, len(raw))
	for i, r := range raw {
		m := fc.compile(fmt.Sprintf("%s.filters.%d", path, i), r)
		ok = ok && m != nil
		subs = append(subs, m)
	}
	if !ok {
		return nil
	}
	if kind == "AND" {
		return func(ct *Contact) bool { return matchesAll(subs, ct) }
	}
	return func(ct *Contact) bool {
		for _, m := range subs {
			if m(ct) {
				return true
			}
		}
		return false
	}
}

// condition compiles {field, operator, value}.
func (fc filterCompiler) condition(path string, obj map[string]json.RawMessage) contactMatch {
	var field, op string
	if json.Unmarshal(obj["field"], &field) != nil || field == "" {
		fc.v.add("%s.field should not be empty", path)
		return nil
	}
	if json.Unmarshal(obj["operator"], &op) != nil || !slices.Contains(searchOperators, op) {
		fc.v.add("%s.operator must be one of the following values: %s", path, strings.Join(searchOperators, ", "))
		return nil
	}
	var value any
	if raw, ok := obj["value"]; ok {
		_ = json.Unmarshal(raw, &value)
	}
	if op != opExists && op != opNotExists && (value == nil || value == "") {
		fc.v.add("%s.value should not be empty for operator %s", path, op)
		return nil
	}
	unsupported := func() contactMatch {
		fc.v.add("%s: operator %s is not supported on field %s", path, op, field)
		return nil
	}

	if get, ok := searchStringFields[field]; ok {
		if op == opRange {
			return unsupported()
		}
		wants, ok := fc.strings(path, value, op)
		if !ok {
			return nil
		}
		return stringMatch(field, get, op, wants)
	}
	if get, ok := searchDateFields[field]; ok {
		switch op {
		case opContains, opNotContains:
			return unsupported()
		case opExists, opNotExists:
			return existence(op, func(ct *Contact) bool { return !get(ct).IsZero() })
		case opRange:
			r, ok := fc.rangeBounds(path, value, true)
			if !ok {
				return nil
			}
			return func(ct *Contact) bool { return r.holds(float64(get(ct).UnixMilli())) }
		}
		want, ok := dateFilterValue(value)
		if !ok {
			fc.v.add("%s.value must be a date: an ISO-8601 string or epoch milliseconds", path)
			return nil
		}
		return negateIf(op == opNotEq, func(ct *Contact) bool { return get(ct).UnixMilli() == want })
	}
	switch {
	case field == "tags":
		if op == opRange {
			return unsupported()
		}
		if op == opExists || op == opNotExists {
			return existence(op, func(ct *Contact) bool { return len(ct.Tags) > 0 })
		}
		wants, ok := fc.strings(path, value, op)
		if !ok {
			return nil
		}
		// eq and contains test for a whole tag, as tags are keywords.
		return negateIf(op == opNotEq || op == opNotContains, func(ct *Contact) bool {
			for _, tag := range ct.Tags {
				for _, w := range wants {
					if strings.EqualFold(strings.TrimSpace(tag), w) {
						return true
					}
				}
			}
			return false
		})
	case field == "dnd":
		switch op {
		case opExists, opNotExists:
			return existence(op, func(*Contact) bool { return true })
		case opEq, opNotEq:
		default:
			return unsupported()
		}
		want, ok := value.(bool)
		if s, isStr := value.(string); isStr {
			want, ok = s == "true", s == "true" || s == "false"
		}
		if !ok {
			fc.v.add("%s.value must be a boolean value", path)
			return nil
		}
		return negateIf(op == opNotEq, func(ct *Contact) bool { return ct.DND == want })
	case strings.HasPrefix(field, customFieldPrefix) && len(field) > len(customFieldPrefix):
		return fc.customField(path, strings.TrimPrefix(field, customFieldPrefix), op, value)
	case field == "customFields" || field == customFieldPrefix:
		fc.v.add("%s.field must name the custom field: customFields.<fieldId>", path)
		return nil
	}
	fc.v.add("%s.field %q is not a searchable field", path, field)
	return nil
}

// strings reads a filter value as strings: a scalar, or an array of
// scalars meaning "any of" (eq, contains) or "none of" (not_eq,
// not_contains).
func (fc filterCompiler) strings(path string, value any, op string) ([]string, bool) {
	if op == opExists || op == opNotExists {
		return nil, true
	}
	items, isList := value.([]any)
	if !isList {
		items = []any{value}
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		s, ok := scalarString(it)
		if !ok || strings.TrimSpace(s) == "" {
			break
		}
		out = append(out, strings.TrimSpace(s))
	}
	if len(out) == 0 || len(out) < len(items) {
		fc.v.add("%s.value must be a non-empty string, number or boolean, or a non-empty array of them", path)
		return nil, false
	}
	return out, true
}

func scalarString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

// stringMatch tests a string field. Comparisons ignore case, except on
// id; email is compared trimmed and phone in E.164 (contains on phone
// looks for the value's digits, see phoneQueries).
func stringMatch(field string, get func(*Contact) string, op string, wants []string) contactMatch {
	if op == opExists || op == opNotExists {
		return existence(op, func(ct *Contact) bool { return strings.TrimSpace(get(ct)) != "" })
	}
	exact := op == opEq || op == opNotEq
	var test func(have, want string) bool
	switch {
	case field == "id" && exact:
		test = func(have, want string) bool { return have == want }
	case field == "id":
		test = strings.Contains
	case field == "phone" && exact:
		for i, w := range wants {
			if n := normalizePhone(w); n != "" {
				wants[i] = n
			}
		}
		test = func(have, want string) bool { return have == want }
	case field == "phone":
		var digits []string
		for _, w := range wants {
			if ds := phoneQueries(w); ds != nil {
				digits = append(digits, ds...)
			} else {
				digits = append(digits, w)
			}
		}
		wants = digits
		test = strings.Contains
	case exact:
		test = func(have, want string) bool { return strings.EqualFold(strings.TrimSpace(have), want) }
	default:
		for i, w := range wants {
			wants[i] = strings.ToLower(w)
		}
		test = func(have, want string) bool { return strings.Contains(strings.ToLower(have), want) }
	}
	return negateIf(op == opNotEq || op == opNotContains, func(ct *Contact) bool {
		have := get(ct)
		for _, w := range wants {
			if test(have, w) {
				return true
			}
		}
		return false
	})
}

// customField compiles a filter on customFields.<id>. A multi-value field
// passes eq/contains if any of its values does; range compares numbers
// (numeric values and bounds) or dates (date strings).
func (fc filterCompiler) customField(path, id, op string, value any) contactMatch {
	get := func(ct *Contact) (any, bool) {
		for _, f := range ct.CustomFields {
			if f.ID == id {
				return f.Value, f.Value != nil && f.Value != ""
			}
		}
		return nil, false
	}
	switch op {
	case opExists, opNotExists:
		return existence(op, func(ct *Contact) bool { _, ok := get(ct); return ok })
	case opRange:
		r, ok := fc.rangeBounds(path, value, false)
		if !ok {
			return nil
		}
		return func(ct *Contact) bool {
			v, ok := get(ct)
			if !ok {
				return false
			}
			n, ok := customNumber(v)
			return ok && r.holds(n)
		}
	}
	wants, ok := fc.strings(path, value, op)
	if !ok {
		return nil
	}
	contains := op == opContains || op == opNotContains
	for i, w := range wants {
		wants[i] = strings.ToLower(w)
	}
	return negateIf(op == opNotEq || op == opNotContains, func(ct *Contact) bool {
		v, ok := get(ct)
		if !ok {
			return false
		}
		items, isList := v.([]any)
		if !isList {
			items = []any{v}
		}
		for _, it := range items {
			have, ok := scalarString(it)
			if !ok {
				continue
			}
			have = strings.ToLower(strings.TrimSpace(have))
			for _, w := range wants {
				if have == w || contains && strings.Contains(have, w) {
					return true
				}
			}
		}
		return false
	})
}

// customNumber reads a custom field value as a number for range: a
// number, a numeric string, or a date string (as epoch milliseconds).
func customNumber(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case string:
		if n, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
			return n, true
		}
		if t, ok := parseSearchDate(v); ok {
			return float64(t.UnixMilli()), true
		}
	}
	return 0, false
}

// dateFilterValue reads a date filter value as epoch milliseconds.
func dateFilterValue(v any) (int64, bool) {
	switch v := v.(type) {
	case float64:
		return int64(v), v == math.Trunc(v)
	case string:
		if ms, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			return ms, true
		}
		t, ok := parseSearchDate(v)
		return t.UnixMilli(), ok
	}
	return 0, false
}

// rangeBounds is the value of a range filter, every bound as a number
// (dates as epoch milliseconds).
type rangeBounds struct {
	gt, gte, lt, lte *float64
}

func (r rangeBounds) holds(x float64) bool {
	return (r.gt == nil || x > *r.gt) && (r.gte == nil || x >= *r.gte) &&
		(r.lt == nil || x < *r.lt) && (r.lte == nil || x <= *r.lte)
}

// rangeBounds reads {gt, gte, lt, lte}: at least one bound, each a number
// or a string. On a date field numbers are epoch milliseconds and strings
// ISO-8601 dates; on a custom field strings may also be numeric.
func (fc filterCompiler) rangeBounds(path string, value any, date bool) (rangeBounds, bool) {
	var r rangeBounds
	obj, ok := value.(map[string]any)
	if !ok || len(obj) == 0 {
		fc.v.add("%s.value must be an object with gt, gte, lt or lte", path)
		return r, false
	}
	dst := map[string]**float64{"gt": &r.gt, "gte": &r.gte, "lt": &r.lt, "lte": &r.lte}
	valid := true
	for k, b := range obj {
		p, known := dst[k]
		if !known {
			fc.v.add("%s.value: property %s should not exist (use gt, gte, lt, lte)", path, k)
			valid = false
			continue
		}
		var n float64
		var ok bool
		if date {
			var ms int64
			ms, ok = dateFilterValue(b)
			n = float64(ms)
		} else {
			n, ok = customNumber(b)
		}
		if !ok {
			if date {
				fc.v.add("%s.value.%s must be a date: an ISO-8601 string or epoch milliseconds", path, k)
			} else {
				fc.v.add("%s.value.%s must be a number or a date string", path, k)
			}
			valid = false
			continue
		}
		*p = &n
	}
	return r, valid
}

// existence returns the match for exists (has) or not_exists.
func existence(op string, has contactMatch) contactMatch {
	return negateIf(op == opNotExists, has)
}

// negateIf returns m, or its negation when neg is set.
func negateIf(neg bool, m contactMatch) contactMatch {
	if !neg {
		return m
	}
	return func(ct *Contact) bool { return !m(ct) }
}
