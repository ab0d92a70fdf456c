package contacts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Nullable is an optional request field that can also be cleared. Its zero
// value is "not set" and is left out of the body (the field carries
// `json:",omitzero"`); Value sets it; Null sends JSON null, which clears the
// field on the server.
type Nullable[T any] struct {
	value T
	state uint8 // 0 unset, 1 value, 2 null
}

// Value returns a Nullable holding v.
func Value[T any](v T) Nullable[T] { return Nullable[T]{value: v, state: 1} }

// Null returns a Nullable that clears the field.
func Null[T any]() Nullable[T] { return Nullable[T]{state: 2} }

// IsZero reports whether n is unset; omitzero uses it.
func (n Nullable[T]) IsZero() bool { return n.state == 0 }

// IsNull reports whether n clears the field.
func (n Nullable[T]) IsNull() bool { return n.state == 2 }

// Get returns the value and whether one is set.
func (n Nullable[T]) Get() (T, bool) { return n.value, n.state == 1 }

// MarshalJSON implements json.Marshaler.
func (n Nullable[T]) MarshalJSON() ([]byte, error) {
	if n.state != 1 {
		return []byte("null"), nil
	}
	return json.Marshal(n.value)
}

// UnmarshalJSON implements json.Unmarshaler.
func (n *Nullable[T]) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		*n = Null[T]()
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*n = Value(v)
	return nil
}

// String formats n for debugging.
func (n Nullable[T]) String() string {
	switch n.state {
	case 1:
		return fmt.Sprint(n.value)
	case 2:
		return "null"
	}
	return "unset"
}

// Ptr returns a pointer to v, for optional request fields.
func Ptr[T any](v T) *T { return &v }

// Time is a timestamp decoded leniently: ISO-8601/RFC 3339 with or without
// fraction or zone, "YYYY-MM-DD HH:MM:SS", "YYYY-MM-DD", or epoch
// milliseconds. Empty, null and unrecognised values decode to the zero time
// rather than failing the whole response (the raw JSON keeps the original).
// Values without a zone are read as UTC.
type Time struct{ time.Time }

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// ParseTime parses s with Time's lenient rules.
func ParseTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), true
	}
	return time.Time{}, false
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	t.Time = time.Time{}
	if len(b) == 0 || b[0] == 'n' {
		return nil
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return nil
		}
		t.Time, _ = ParseTime(s)
		return nil
	}
	// Epoch milliseconds within ±10,000 years; anything else is not a time.
	if ms, err := strconv.ParseFloat(string(b), 64); err == nil && math.Abs(ms) < 3.2e14 {
		t.Time = time.UnixMilli(int64(ms)).UTC()
	}
	return nil
}

// MarshalJSON writes RFC 3339 with milliseconds, or null for the zero time.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return []byte(`"` + t.UTC().Format("2006-01-02T15:04:05.000Z07:00") + `"`), nil
}

// StringList decodes a list the API sends in several shapes: an array of
// strings, a single string, or an array of objects such as
// additionalEmails' [{"email": "…"}] (the first string property of each
// object is taken). Null decodes to nil.
type StringList []string

// UnmarshalJSON implements json.Unmarshaler.
func (l *StringList) UnmarshalJSON(b []byte) error {
	*l = nil
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] == 'n' {
		return nil
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s != "" {
			*l = StringList{s}
		}
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(b, &items); err != nil {
		return fmt.Errorf("contacts: want a string or a list, got %.40s", b)
	}
	out := make(StringList, 0, len(items))
	for _, it := range items {
		if s, ok := firstString(it); ok {
			out = append(out, s)
		}
	}
	*l = out
	return nil
}

var preferredKeys = []string{"email", "phone", "value", "id", "url", "name"}

func firstString(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false
	}
	switch raw[0] {
	case '"':
		var s string
		return s, json.Unmarshal(raw, &s) == nil
	case '{':
		var obj map[string]any
		if json.Unmarshal(raw, &obj) != nil {
			return "", false
		}
		for _, k := range preferredKeys {
			if s, ok := obj[k].(string); ok {
				return s, true
			}
		}
		return "", false
	case 'n':
		return "", false
	}
	return string(raw), true // a number or boolean: keep its text
}

// CustomField is a custom field as the API returns it: {id, value}, where
// the value may be any JSON type.
type CustomField struct {
	ID    string      `json:"id"`
	Value CustomValue `json:"value"`
}

// CustomValue holds a custom field's value in its raw JSON form, with
// accessors for the common shapes.
type CustomValue struct{ raw json.RawMessage }

// RawValue returns a CustomValue for an already-encoded JSON value.
func RawValue(raw json.RawMessage) CustomValue { return CustomValue{raw: bytes.Clone(raw)} }

// UnmarshalJSON implements json.Unmarshaler.
func (v *CustomValue) UnmarshalJSON(b []byte) error {
	v.raw = bytes.Clone(b)
	return nil
}

// MarshalJSON implements json.Marshaler.
func (v CustomValue) MarshalJSON() ([]byte, error) {
	if len(v.raw) == 0 {
		return []byte("null"), nil
	}
	return v.raw, nil
}

// Raw returns the value's JSON.
func (v CustomValue) Raw() json.RawMessage { return v.raw }

// IsNull reports whether the value is absent or JSON null.
func (v CustomValue) IsNull() bool {
	t := bytes.TrimSpace(v.raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

// Text returns a string value.
func (v CustomValue) Text() (string, bool) {
	var s string
	if json.Unmarshal(v.raw, &s) != nil {
		return "", false
	}
	return s, true
}

// Number returns a numeric value; a string holding a number also counts.
func (v CustomValue) Number() (float64, bool) {
	var f float64
	if json.Unmarshal(v.raw, &f) == nil {
		return f, true
	}
	if s, ok := v.Text(); ok {
		if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
			return f, true
		}
	}
	return 0, false
}

// Strings returns a list value (checkbox, multi-select); a single string
// is returned as a one-element list.
func (v CustomValue) Strings() ([]string, bool) {
	var l StringList
	if v.IsNull() || l.UnmarshalJSON(v.raw) != nil {
		return nil, false
	}
	return l, true
}

// Decode unmarshals the value into dst.
func (v CustomValue) Decode(dst any) error { return json.Unmarshal(v.raw, dst) }

// String renders the value for display: strings as themselves, lists
// joined with ", ", anything else as its JSON.
func (v CustomValue) String() string {
	if v.IsNull() {
		return ""
	}
	if s, ok := v.Text(); ok {
		return s
	}
	if l, ok := v.Strings(); ok && bytes.HasPrefix(bytes.TrimSpace(v.raw), []byte("[")) {
		return strings.Join(l, ", ")
	}
	return string(v.raw)
}

// CustomFieldInput is a custom field value to write: identified by ID or
// by key, with a string, a number, a list of strings, a file map (an
// object), or nil to clear the field. The API writes {id|key, field_value}
// and reads {id, value}.
//
// This follows the live API, not the spec. The spec's input schemas
// require "id" on every item and type field_value as a string, an array
// of strings or an object only, so a numeric or monetary field would have
// to be sent as a string; the live API takes {key, field_value} without an
// id, and numbers as JSON numbers (API-NOTES). The SDK sends what the live
// API accepts: id or key, and the value as given. A boolean or a list of
// anything but strings is refused before any request.
type CustomFieldInput struct {
	ID    string `json:"id,omitempty"`
	Key   string `json:"key,omitempty"`
	Value any    `json:"field_value"`
}

// FieldByID returns a custom field input identified by the field's ID.
func FieldByID(id string, value any) CustomFieldInput {
	return CustomFieldInput{ID: id, Value: value}
}

// FieldByKey returns a custom field input identified by the field's key,
// e.g. "contact.membership_level".
func FieldByKey(key string, value any) CustomFieldInput {
	return CustomFieldInput{Key: key, Value: value}
}

func checkCustomFields(in []CustomFieldInput) error {
	for i, f := range in {
		if f.ID == "" && f.Key == "" {
			return fmt.Errorf("%w: customFields[%d] needs an id or a key", ErrInvalidArgument, i)
		}
		if !customValueAllowed(f.Value) {
			return fmt.Errorf("%w: customFields[%d] value of type %T: the API takes a string, a number, a list of strings or a file map", ErrInvalidArgument, i, f.Value)
		}
	}
	return nil
}

// customValueAllowed refuses the value types the live API rejects: a
// boolean, and a list of anything but strings. Other types (numbers,
// strings, maps, structs for a file map, json.RawMessage) go as given.
func customValueAllowed(v any) bool {
	switch x := v.(type) {
	case nil, string, []string, json.Number, json.RawMessage:
		return true
	case bool:
		return false
	case []any:
		for _, e := range x {
			if _, ok := e.(string); !ok {
				return false
			}
		}
		return true
	}
	switch k := reflect.TypeOf(v).Kind(); k {
	case reflect.Bool:
		return false
	case reflect.Slice, reflect.Array:
		return reflect.TypeOf(v).Elem().Kind() == reflect.String
	}
	return true
}

// DNDStatus is a channel's do-not-disturb state.
type DNDStatus string

// DND states.
const (
	DNDActive    DNDStatus = "active"
	DNDInactive  DNDStatus = "inactive"
	DNDPermanent DNDStatus = "permanent"
)

// DNDSetting is one channel's do-not-disturb setting.
type DNDSetting struct {
	Status  DNDStatus `json:"status"`
	Message string    `json:"message,omitempty"`
	Code    string    `json:"code,omitempty"`
}

// DNDSettings holds per-channel do-not-disturb settings. The API's keys are
// capitalised (Call, Email, SMS, WhatsApp, GMB, FB).
type DNDSettings struct {
	Call     *DNDSetting `json:"Call,omitempty"`
	Email    *DNDSetting `json:"Email,omitempty"`
	SMS      *DNDSetting `json:"SMS,omitempty"`
	WhatsApp *DNDSetting `json:"WhatsApp,omitempty"`
	GMB      *DNDSetting `json:"GMB,omitempty"`
	FB       *DNDSetting `json:"FB,omitempty"`
}

// InboundDNDSettings holds the inbound do-not-disturb setting.
type InboundDNDSettings struct {
	All *InboundDNDSetting `json:"all,omitempty"`
}

// InboundDNDSetting is the inbound DND state (active or inactive).
type InboundDNDSetting struct {
	Status  DNDStatus `json:"status"`
	Message string    `json:"message,omitempty"`
}

// AttributionSource describes where a contact came from.
type AttributionSource struct {
	URL        string `json:"url,omitempty"`
	Campaign   string `json:"campaign,omitempty"`
	UTMSource  string `json:"utmSource,omitempty"`
	UTMMedium  string `json:"utmMedium,omitempty"`
	UTMContent string `json:"utmContent,omitempty"`
	Referrer   string `json:"referrer,omitempty"`
	CampaignID string `json:"campaignId,omitempty"`
	FBCLID     string `json:"fbclid,omitempty"`
	GCLID      string `json:"gclid,omitempty"`
	MSCLKID    string `json:"msclikid,omitempty"`
	DCLID      string `json:"dclid,omitempty"`
	FBC        string `json:"fbc,omitempty"`
	FBP        string `json:"fbp,omitempty"`
	FBEventID  string `json:"fbEventId,omitempty"`
	UserAgent  string `json:"userAgent,omitempty"`
	IP         string `json:"ip,omitempty"`
	Medium     string `json:"medium,omitempty"`
	MediumID   string `json:"mediumId,omitempty"`
}

// succeeded reads the API's success flag, spelled "succeded" (sic) by the
// current API and "succeeded" by a later version; both are accepted.
type succeeded struct {
	Succeded  *bool `json:"succeded"`
	Succeeded *bool `json:"succeeded"`
}

// ok is false only when the body explicitly reports failure.
func (s succeeded) ok() bool {
	if s.Succeeded != nil {
		return *s.Succeeded
	}
	return s.Succeded == nil || *s.Succeded
}

func (s succeeded) check(method, path string) error {
	if !s.ok() {
		return fmt.Errorf("%w: %s %s", ErrNotSucceeded, method, path)
	}
	return nil
}

// rawSource lazily splits a retained response body so records can hand
// out their original JSON (RawJSON) without a second decode on the hot
// path. The body is the SDK's own buffer and is never modified.
type rawSource struct {
	once  sync.Once
	body  []byte
	key   string // top-level key holding the record(s)
	array bool   // the key holds an array of records
	items []json.RawMessage
}

func (s *rawSource) get(i int) json.RawMessage {
	s.once.Do(func() {
		var top map[string]json.RawMessage
		if json.Unmarshal(s.body, &top) != nil {
			return
		}
		v, ok := top[s.key]
		if !ok {
			return
		}
		if !s.array {
			s.items = []json.RawMessage{v}
			return
		}
		_ = json.Unmarshal(v, &s.items)
	})
	if i < 0 || i >= len(s.items) {
		return nil
	}
	return bytes.Clone(s.items[i])
}

// rawRef points at one record of a rawSource.
type rawRef struct {
	src *rawSource
	i   int
}

func (r rawRef) json() json.RawMessage {
	if r.src == nil {
		return nil
	}
	return r.src.get(r.i)
}

// rawAttacher is implemented by response envelopes whose records expose
// RawJSON; the client calls it with the body after a successful decode.
type rawAttacher interface{ attachRaw(body []byte) }

// attachOne and attachAll wire records to their place in body.
func attachOne(body []byte, key string, ref *rawRef) {
	*ref = rawRef{src: &rawSource{body: body, key: key}}
}

func attachAll[T any](body []byte, key string, items []T, ref func(*T) *rawRef) {
	if len(items) == 0 {
		return
	}
	src := &rawSource{body: body, key: key, array: true}
	for i := range items {
		*ref(&items[i]) = rawRef{src: src, i: i}
	}
}
