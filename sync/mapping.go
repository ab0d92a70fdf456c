package contactsync

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	contacts "github.com/gymflow/contacts-go"
)

// ErrBadMapping is matched (errors.Is) by every error NewMapping returns,
// and by errors of transforms that are misconfigured rather than fed a
// bad value.
var ErrBadMapping = errors.New("contactsync: invalid mapping")

// ErrBadRecord is matched (errors.Is) by *RecordError: a member that
// cannot become a contact. The engine reports and skips such members.
var ErrBadRecord = errors.New("contactsync: bad member record")

// RecordError reports a member that Apply cannot turn into a contact.
type RecordError struct {
	// MemberID is the member's GymFlow ID.
	MemberID string
	// Field is the GymFlow field at fault (the rule's source), or "" when
	// the problem is the whole record (no email and no phone).
	Field string
	// Reason says what is wrong, e.g. "required field is missing".
	Reason string
}

// Error implements error.
func (e *RecordError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("contactsync: member %q: %s", e.MemberID, e.Reason)
	}
	return fmt.Sprintf("contactsync: member %q: field %q: %s", e.MemberID, e.Field, e.Reason)
}

// Is reports whether target is ErrBadRecord.
func (e *RecordError) Is(target error) bool { return target == ErrBadRecord }

// Reasons of the RecordErrors Apply returns (other reasons are those of
// failed transforms and conversions).
const (
	ReasonRequired = "required field is missing"
	ReasonNoEmail  = "no email and no phone"
)

// Contact field targets, by their API names.
const (
	TargetFirstName   = "firstName"
	TargetLastName    = "lastName"
	TargetName        = "name"
	TargetEmail       = "email"
	TargetPhone       = "phone"
	TargetAddress1    = "address1"
	TargetCity        = "city"
	TargetState       = "state"
	TargetPostalCode  = "postalCode"
	TargetCountry     = "country"
	TargetWebsite     = "website"
	TargetTimezone    = "timezone"
	TargetCompanyName = "companyName"
	TargetGender      = "gender"
	TargetSource      = "source"
	TargetDateOfBirth = "dateOfBirth"
	TargetAssignedTo  = "assignedTo"
)

// targetField describes a contact field the mapping can write.
type targetField struct {
	create func(*contacts.ContactCreate, string)
	// update sets the field in an update body; "" clears it. nil marks a
	// create-only field that the update endpoint refuses.
	update func(*contacts.ContactUpdate, string)
	// read returns the field's value from a contact as the API reads it.
	read func(*contacts.Contact) string
}

// nullable returns v, or JSON null to clear the field when v is "".
func nullable(v string) contacts.Nullable[string] {
	if v == "" {
		return contacts.Null[string]()
	}
	return contacts.Value(v)
}

// targetNames lists the contact field targets in a fixed order.
var targetNames = []string{
	TargetFirstName, TargetLastName, TargetName, TargetEmail, TargetPhone,
	TargetAddress1, TargetCity, TargetState, TargetPostalCode, TargetCountry,
	TargetWebsite, TargetTimezone, TargetCompanyName, TargetGender,
	TargetSource, TargetDateOfBirth, TargetAssignedTo,
}

var targets = map[string]targetField{
	TargetFirstName: {
		func(c *contacts.ContactCreate, v string) { c.FirstName = v },
		func(u *contacts.ContactUpdate, v string) { u.FirstName = nullable(v) },
		func(c *contacts.Contact) string { return c.FirstName },
	},
	TargetLastName: {
		func(c *contacts.ContactCreate, v string) { c.LastName = v },
		func(u *contacts.ContactUpdate, v string) { u.LastName = nullable(v) },
		func(c *contacts.Contact) string { return c.LastName },
	},
	TargetName: {
		func(c *contacts.ContactCreate, v string) { c.Name = v },
		func(u *contacts.ContactUpdate, v string) { u.Name = nullable(v) },
		func(c *contacts.Contact) string { return c.Name },
	},
	TargetEmail: {
		func(c *contacts.ContactCreate, v string) { c.Email = v },
		func(u *contacts.ContactUpdate, v string) { u.Email = nullable(v) },
		func(c *contacts.Contact) string { return c.Email },
	},
	TargetPhone: {
		func(c *contacts.ContactCreate, v string) { c.Phone = v },
		func(u *contacts.ContactUpdate, v string) { u.Phone = nullable(v) },
		func(c *contacts.Contact) string { return c.Phone },
	},
	TargetAddress1: {
		func(c *contacts.ContactCreate, v string) { c.Address1 = v },
		func(u *contacts.ContactUpdate, v string) { u.Address1 = nullable(v) },
		func(c *contacts.Contact) string { return c.Address1 },
	},
	TargetCity: {
		func(c *contacts.ContactCreate, v string) { c.City = v },
		func(u *contacts.ContactUpdate, v string) { u.City = nullable(v) },
		func(c *contacts.Contact) string { return c.City },
	},
	TargetState: {
		func(c *contacts.ContactCreate, v string) { c.State = v },
		func(u *contacts.ContactUpdate, v string) { u.State = nullable(v) },
		func(c *contacts.Contact) string { return c.State },
	},
	// postalCode and country are plain *string in ContactUpdate (the
	// spec does not mark them nullable): they are cleared with "".
	TargetPostalCode: {
		func(c *contacts.ContactCreate, v string) { c.PostalCode = v },
		func(u *contacts.ContactUpdate, v string) { u.PostalCode = contacts.Ptr(v) },
		func(c *contacts.Contact) string { return c.PostalCode },
	},
	TargetCountry: {
		func(c *contacts.ContactCreate, v string) { c.Country = v },
		func(u *contacts.ContactUpdate, v string) { u.Country = contacts.Ptr(v) },
		func(c *contacts.Contact) string { return c.Country },
	},
	TargetWebsite: {
		func(c *contacts.ContactCreate, v string) { c.Website = v },
		func(u *contacts.ContactUpdate, v string) { u.Website = nullable(v) },
		func(c *contacts.Contact) string { return c.Website },
	},
	TargetTimezone: {
		func(c *contacts.ContactCreate, v string) { c.Timezone = v },
		func(u *contacts.ContactUpdate, v string) { u.Timezone = nullable(v) },
		func(c *contacts.Contact) string { return c.Timezone },
	},
	TargetCompanyName: {
		func(c *contacts.ContactCreate, v string) { c.CompanyName = v },
		nil, // create-only
		func(c *contacts.Contact) string { return c.CompanyName },
	},
	TargetGender: {
		func(c *contacts.ContactCreate, v string) { c.Gender = v },
		nil, // create-only; not in the read model either
		nil,
	},
	TargetSource: {
		func(c *contacts.ContactCreate, v string) { c.Source = v },
		func(u *contacts.ContactUpdate, v string) { u.Source = nullable(v) },
		func(c *contacts.Contact) string { return c.Source },
	},
	TargetDateOfBirth: {
		func(c *contacts.ContactCreate, v string) { c.DateOfBirth = v },
		func(u *contacts.ContactUpdate, v string) { u.DateOfBirth = nullable(v) },
		func(c *contacts.Contact) string {
			if d, err := normalizeDate(c.DateOfBirth); err == nil {
				return d
			}
			return c.DateOfBirth
		},
	},
	TargetAssignedTo: {
		func(c *contacts.ContactCreate, v string) { c.AssignedTo = v },
		func(u *contacts.ContactUpdate, v string) { u.AssignedTo = nullable(v) },
		func(c *contacts.Contact) string { return c.AssignedTo },
	},
}

// AllTargets returns the API names of every contact field a rule can
// target, in a fixed order.
func AllTargets() []string { return slices.Clone(targetNames) }

// CreateOnly reports whether a contact field can only be written when the
// contact is created: companyName and gender, which the update endpoint
// refuses. Changes to them are never propagated by PlanUpdate.
func CreateOnly(target string) bool {
	t, ok := targets[target]
	return ok && t.update == nil
}

// CustomField names a contact custom field, by ID or by key; build it
// with ByID or ByKey. The zero value names no field and is rejected by
// NewMapping.
type CustomField struct {
	id, key string
}

// ByID names a custom field by its ID (written as contacts.FieldByID).
func ByID(id string) CustomField { return CustomField{id: strings.TrimSpace(id)} }

// ByKey names a custom field by its key, e.g. "contact.membership_level"
// (written as contacts.FieldByKey). Keys are compared as given: "level"
// and "contact.level" name different targets to the mapping.
func ByKey(key string) CustomField { return CustomField{key: strings.TrimSpace(key)} }

// ID returns the field's ID ("" if named by key).
func (f CustomField) ID() string { return f.id }

// Key returns the field's key ("" if named by ID).
func (f CustomField) Key() string { return f.key }

// String returns the field's target name: "id:<id>" or "key:<key>", the
// key of Mapped.Custom, Policies.Fields and Current.Custom.
func (f CustomField) String() string {
	switch {
	case f.id != "":
		return "id:" + f.id
	case f.key != "":
		return "key:" + f.key
	}
	return ""
}

// Input returns the custom field input that writes value to the field.
func (f CustomField) Input(value any) contacts.CustomFieldInput {
	if f.id != "" {
		return contacts.FieldByID(f.id, value)
	}
	return contacts.FieldByKey(f.key, value)
}

// parseCustomName is String's inverse.
func parseCustomName(name string) (CustomField, bool) {
	if id, ok := strings.CutPrefix(name, "id:"); ok && id != "" {
		return CustomField{id: id}, true
	}
	if key, ok := strings.CutPrefix(name, "key:"); ok && key != "" {
		return CustomField{key: key}, true
	}
	return CustomField{}, false
}

// Rule is one entry of a Mapping: a GymFlow field (or a constant) written
// to a contact field or custom field. Build rules with Map, MapCustom,
// Const and ConstCustom; NewMapping validates them.
type Rule struct {
	source     string
	target     string      // contact field API name; "" for custom
	field      CustomField // the custom field, if custom
	custom     bool
	constant   bool
	value      any // the constant
	required   bool
	fallback   any
	hasFB      bool
	transforms []TransformFunc
}

// RuleOption refines a Map or MapCustom rule.
type RuleOption func(*Rule)

// Required marks the source as required: a member whose value is missing
// or empty after transforms (and without a Fallback) is rejected with a
// *RecordError naming the source field.
func Required() RuleOption { return func(r *Rule) { r.required = true } }

// Fallback sets the value written when the source is missing or empty,
// before or after transforms. The fallback is a target value: it is not
// transformed, and NewMapping checks its type against the target.
func Fallback(v any) RuleOption {
	return func(r *Rule) { r.fallback, r.hasFB = v, true }
}

// Transform appends transforms, applied in order to the source value.
func Transform(fns ...TransformFunc) RuleOption {
	return func(r *Rule) { r.transforms = append(r.transforms, fns...) }
}

// Map writes the GymFlow field source (a key of Member.Fields) to the
// contact field target, by its API name: firstName, lastName, name,
// email, phone, address1, city, state, postalCode, country, website,
// timezone, companyName, gender, source, dateOfBirth or assignedTo.
// companyName and gender are create-only (see CreateOnly).
func Map(source, target string, opts ...RuleOption) Rule {
	return newRule(Rule{source: source, target: target}, opts)
}

// MapCustom writes the GymFlow field source to a custom field. Custom
// values may be strings, numbers or lists of strings.
func MapCustom(source string, field CustomField, opts ...RuleOption) Rule {
	return newRule(Rule{source: source, field: field, custom: true}, opts)
}

// Const writes a constant to a contact field on every member, e.g.
// Const("source", "gymflow").
func Const(target string, value any) Rule {
	return Rule{target: target, constant: true, value: value}
}

// ConstCustom writes a constant to a custom field on every member.
func ConstCustom(field CustomField, value any) Rule {
	return Rule{field: field, custom: true, constant: true, value: value}
}

func newRule(r Rule, opts []RuleOption) Rule {
	for _, o := range opts {
		if o != nil {
			o(&r)
		}
	}
	return r
}

// name is the rule's target name: a contact field or "id:…"/"key:…".
func (r *Rule) name() string {
	if r.custom {
		return r.field.String()
	}
	return r.target
}

func (r *Rule) describe() string {
	t := r.name()
	if r.custom && t == "" {
		t = "custom field without id or key"
	}
	if r.constant {
		return "constant → " + t
	}
	return fmt.Sprintf("%q → %s", r.source, t)
}

// Mapping turns GymFlow members into contact values. It is immutable and
// safe for concurrent use once built by NewMapping.
type Mapping struct {
	rules []Rule
}

// NewMapping validates rules and returns the mapping they describe. It
// reports every problem at once (errors.Join), each matching
// ErrBadMapping: an unknown target (tags are not a target: Member.Tags
// are synced as tags), two rules for the same target, an empty source, a
// nil transform, a custom field with neither ID nor key, and a constant
// or fallback that is empty or of a type the target cannot take.
func NewMapping(rules ...Rule) (*Mapping, error) {
	var errs []error
	bad := func(i int, r *Rule, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: rule %d (%s): %s", ErrBadMapping, i, r.describe(), fmt.Sprintf(format, args...)))
	}
	seen := map[string]int{}
	out := make([]Rule, 0, len(rules))
	for i, r := range rules {
		r.transforms = slices.Clone(r.transforms)
		if r.custom {
			if r.field.String() == "" {
				bad(i, &r, "custom field has neither id nor key")
			}
		} else if _, ok := targets[r.target]; !ok {
			if r.target == "tags" {
				bad(i, &r, "tags are not a mapping target: Member.Tags are synced as tags")
			} else {
				bad(i, &r, "unknown target %q (want one of %s)", r.target, strings.Join(targetNames, ", "))
			}
		}
		if name := r.name(); name != "" {
			if j, dup := seen[name]; dup {
				bad(i, &r, "duplicate target %s (also rule %d)", name, j)
			} else {
				seen[name] = i
			}
		}
		if r.constant {
			if v, err := r.convert(r.value); err != nil {
				bad(i, &r, "constant: %v", err)
			} else if v == nil {
				bad(i, &r, "constant is empty")
			} else {
				r.value = v
			}
		} else if strings.TrimSpace(r.source) == "" {
			bad(i, &r, "empty source field")
		}
		for j, fn := range r.transforms {
			if fn == nil {
				bad(i, &r, "transform %d is nil", j)
			}
		}
		if r.hasFB {
			if v, err := r.convert(r.fallback); err != nil {
				bad(i, &r, "fallback: %v", err)
			} else if v == nil {
				bad(i, &r, "fallback is empty")
			} else {
				r.fallback = v
			}
		}
		out = append(out, r)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &Mapping{rules: out}, nil
}

// convert turns a value into what the rule's target takes: a string for
// contact fields, a string, float64 or []string for custom fields. It
// returns nil for an empty value.
func (r *Rule) convert(v any) (any, error) {
	if isEmpty(v) {
		return nil, nil
	}
	if r.custom {
		return customValue(v)
	}
	s, err := stringValue(r.target, v)
	if err != nil {
		return nil, err
	}
	if r.target == TargetDateOfBirth {
		if s, err = normalizeDate(s); err != nil {
			return nil, err
		}
	}
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	return s, nil
}

// Targets returns the target names of the mapping's rules, in rule
// order: contact field API names and "id:…"/"key:…" for custom fields.
func (mp *Mapping) Targets() []string {
	out := make([]string, len(mp.rules))
	for i := range mp.rules {
		out[i] = mp.rules[i].name()
	}
	return out
}

// Apply maps a member. Each rule reads its source from m.Fields; a
// missing or empty value (nil, a blank string, an empty list, the zero
// time) falls back to the rule's Fallback, is reported if Required, and
// is otherwise left out. Present values run through the rule's
// transforms, then become the target's type: contact fields take strings
// (numbers and booleans are formatted, a time.Time becomes RFC 3339, or
// "YYYY-MM-DD" for dateOfBirth, and a dateOfBirth string in any format
// the API accepts is normalised to "YYYY-MM-DD"); custom fields take
// strings, numbers (held as float64; integers beyond ±2^53 are rejected)
// and lists of strings.
//
// A member is rejected with a *RecordError when a required value is
// missing, a transform or conversion fails, or — whatever the rules —
// the result has neither email nor phone (the API could not match the
// contact). A transform error wrapping ErrBadMapping is returned as is.
// Apply does not modify m.
func (mp *Mapping) Apply(m Member) (Mapped, error) {
	out := Mapped{Fields: map[string]string{}, Custom: map[string]any{}}
	for i := range mp.rules {
		r := &mp.rules[i]
		v, err := r.apply(m)
		if err != nil {
			return Mapped{}, err
		}
		if v == nil {
			continue
		}
		if r.custom {
			out.Custom[r.name()] = v
		} else {
			out.Fields[r.target] = v.(string)
		}
	}
	if out.Fields[TargetEmail] == "" && out.Fields[TargetPhone] == "" {
		return Mapped{}, &RecordError{MemberID: m.ID, Reason: ReasonNoEmail}
	}
	if len(out.Custom) == 0 {
		out.Custom = nil
	}
	out.Tags = normalizeTags(m.Tags)
	return out, nil
}

// apply returns the rule's value for m, nil when there is none.
func (r *Rule) apply(m Member) (any, error) {
	if r.constant {
		return r.value, nil
	}
	fail := func(reason string) error {
		return &RecordError{MemberID: m.ID, Field: r.source, Reason: reason}
	}
	v := m.Fields[r.source]
	if !isEmpty(v) {
		v = cloneList(v)
		for _, fn := range r.transforms {
			var err error
			if v, err = fn(v); err != nil {
				if errors.Is(err, ErrBadMapping) {
					return nil, fmt.Errorf("rule %s: %w", r.describe(), err)
				}
				return nil, fail(err.Error())
			}
		}
		out, err := r.convert(v)
		if err != nil {
			return nil, fail(err.Error())
		}
		if out != nil {
			return out, nil
		}
	}
	switch {
	case r.hasFB:
		return r.fallback, nil
	case r.required:
		return nil, fail(ReasonRequired)
	}
	return nil, nil
}

// isEmpty reports whether v counts as a missing value.
func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(x) == ""
	case []string:
		return !slices.ContainsFunc(x, func(s string) bool { return strings.TrimSpace(s) != "" })
	case []any:
		return !slices.ContainsFunc(x, func(e any) bool { return !isEmpty(e) })
	case time.Time:
		return x.IsZero()
	case contacts.Time:
		return x.IsZero()
	}
	return false
}

// cloneList copies list values so that transforms cannot modify the member.
func cloneList(v any) any {
	switch x := v.(type) {
	case []string:
		return slices.Clone(x)
	case []any:
		return slices.Clone(x)
	}
	return v
}

// integerText formats a value of an integer type.
func integerText(v any) (string, bool) {
	switch x := v.(type) {
	case int:
		return strconv.FormatInt(int64(x), 10), true
	case int8:
		return strconv.FormatInt(int64(x), 10), true
	case int16:
		return strconv.FormatInt(int64(x), 10), true
	case int32:
		return strconv.FormatInt(int64(x), 10), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint:
		return strconv.FormatUint(uint64(x), 10), true
	case uint8:
		return strconv.FormatUint(uint64(x), 10), true
	case uint16:
		return strconv.FormatUint(uint64(x), 10), true
	case uint32:
		return strconv.FormatUint(uint64(x), 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	}
	return "", false
}

// floatOf returns the float64 of a floating-point value.
func floatOf(v any) (float64, bool) {
	switch x := v.(type) {
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// stringValue converts a value for a contact field.
func stringValue(target string, v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case json.Number:
		return x.String(), nil
	case time.Time:
		return formatTime(target, x), nil
	case contacts.Time:
		return formatTime(target, x.Time), nil
	case []string, []any:
		return "", fmt.Errorf("a list (%T) cannot be written to %s; add a Join transform", v, target)
	}
	if s, ok := integerText(v); ok {
		return s, nil
	}
	if f, ok := floatOf(v); ok {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return "", fmt.Errorf("number %v cannot be written", f)
		}
		bits := 64
		if _, ok := v.(float32); ok {
			bits = 32
		}
		return strconv.FormatFloat(f, 'f', -1, bits), nil
	}
	return "", fmt.Errorf("a %T cannot be written to %s", v, target)
}

func formatTime(target string, t time.Time) string {
	if target == TargetDateOfBirth {
		return t.Format(apiDate)
	}
	return t.Format(time.RFC3339)
}

// maxExactInt is the largest integer magnitude a float64 holds exactly.
const maxExactInt = 1 << 53

// customValue converts a value for a custom field: string, float64 or
// []string.
func customValue(v any) (any, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case bool:
		return strconv.FormatBool(x), nil
	case time.Time:
		return x.Format(time.RFC3339), nil
	case contacts.Time:
		return x.Format(time.RFC3339), nil
	case json.Number:
		f, err := strconv.ParseFloat(x.String(), 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("number %s cannot be written", x)
		}
		if _, err := strconv.ParseInt(x.String(), 10, 64); err == nil && math.Abs(f) > maxExactInt {
			return nil, fmt.Errorf("integer %s is too large for a number field; write it as a string", x)
		}
		return f, nil
	case []string:
		return slices.Clone(x), nil
	case []any:
		l, ok := stringList(x)
		if !ok {
			return nil, errors.New("a list of values other than strings cannot be written to a custom field")
		}
		return l, nil
	}
	if s, ok := integerText(v); ok {
		f, _ := strconv.ParseFloat(s, 64)
		if math.Abs(f) > maxExactInt {
			return nil, fmt.Errorf("integer %s is too large for a number field; write it as a string", s)
		}
		return f, nil
	}
	if f, ok := floatOf(v); ok {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("number %v cannot be written", f)
		}
		return f, nil
	}
	return nil, fmt.Errorf("a %T cannot be written to a custom field", v)
}

// dobLayouts are the dateOfBirth formats the API accepts.
var dobLayouts = []string{
	"2006-01-02", "2006/01/02", "01/02/2006", "01-02-2006",
	"2006.01.02", "01.02.2006", "2006_01_02", "01_02_2006",
	time.RFC3339Nano,
}

// normalizeDate rewrites a date in any format the API accepts as
// "YYYY-MM-DD".
func normalizeDate(s string) (string, error) {
	s = strings.TrimSpace(s)
	for _, l := range dobLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.Format(apiDate), nil
		}
	}
	return "", fmt.Errorf("%q is not a date the API accepts (YYYY-MM-DD, MM/DD/YYYY, …); add a DateFormat transform", s)
}

// normalizeTags trims tags, drops empty ones, and returns the rest
// deduplicated and sorted (nil if none).
func normalizeTags(in []string) []string {
	var out []string
	for _, t := range in {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Mapped is a member as mapped to contact values. Empty collections are
// nil; a field without a value is absent rather than "".
type Mapped struct {
	// Fields are contact field values by API name ("firstName", …).
	Fields map[string]string
	// Custom are custom field values keyed "id:<id>" or "key:<key>":
	// string, float64 or []string.
	Custom map[string]any
	// Tags are the member's tags, trimmed, deduplicated and sorted.
	Tags []string
}

// Hash returns a stable hex SHA-256 of Fields and Custom. Equal content
// has an equal hash whatever the maps' order; empty values count as
// absent; numbers compare by value (int 3 and float64 3 are equal). Tags
// are not hashed: they are diffed separately (DiffTags).
func (m Mapped) Hash() string {
	h := sha256.New()
	h.Write([]byte("contactsync.Mapped/v1\n"))
	for _, k := range sortedKeys(m.Fields) {
		if v := m.Fields[k]; v != "" {
			fmt.Fprintf(h, "f%s=%s\n", strconv.Quote(k), strconv.Quote(v))
		}
	}
	for _, k := range sortedKeys(m.Custom) {
		if v := canonicalCustom(m.Custom[k]); v != "" {
			fmt.Fprintf(h, "c%s=%s\n", strconv.Quote(k), v)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// canonicalCustom encodes a custom field value so that equal values, in
// whatever Go type, encode equally, different values differently, and
// empty values as "".
func canonicalCustom(v any) string {
	if cv, ok := v.(contacts.CustomValue); ok {
		v = fromCustomValue(cv)
	}
	if isEmpty(v) {
		return ""
	}
	if n, ok := v.(json.Number); ok {
		if i, err := n.Int64(); err == nil {
			v = i
		} else if f, err := n.Float64(); err == nil {
			v = f
		}
	}
	if s, ok := integerText(v); ok {
		if f, err := strconv.ParseFloat(s, 64); err == nil && math.Abs(f) <= maxExactInt {
			return "n" + strconv.FormatFloat(f, 'g', -1, 64)
		}
		return "n" + s
	}
	if f, ok := floatOf(v); ok {
		return "n" + strconv.FormatFloat(f, 'g', -1, 64)
	}
	c, err := customValue(v)
	if err != nil {
		return fmt.Sprintf("?%T:%#v", v, v)
	}
	switch x := c.(type) {
	case string:
		return "s" + strconv.Quote(x)
	case []string:
		var b strings.Builder
		b.WriteString("l")
		for _, s := range x {
			b.WriteString(strconv.Quote(s))
		}
		return b.String()
	}
	return fmt.Sprintf("?%T:%#v", v, v)
}

// fromCustomValue converts a custom field value as the API reads it.
func fromCustomValue(cv contacts.CustomValue) any {
	raw := strings.TrimSpace(string(cv.Raw()))
	switch {
	case cv.IsNull():
		return nil
	case strings.HasPrefix(raw, `"`):
		s, _ := cv.Text()
		return s
	case strings.HasPrefix(raw, "["):
		l, _ := cv.Strings()
		return []string(l)
	}
	if f, ok := cv.Number(); ok {
		return f
	}
	return cv.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// CreateBody returns the body that creates the contact: every field and
// custom field, and the tags (tags are written only on create; later
// changes go through DiffTags and the tags endpoints). LocationID is left
// for the client to fill in. Custom fields are ordered by target name.
func (m Mapped) CreateBody() contacts.ContactCreate {
	var c contacts.ContactCreate
	for _, k := range targetNames {
		if v := m.Fields[k]; v != "" {
			targets[k].create(&c, v)
		}
	}
	for _, k := range sortedKeys(m.Custom) {
		f, ok := parseCustomName(k)
		if v := m.Custom[k]; ok && !isEmpty(v) {
			c.CustomFields = append(c.CustomFields, f.Input(v))
		}
	}
	c.Tags = slices.Clone(m.Tags)
	return c
}

// mappedJSON is Mapped's stored form.
type mappedJSON struct {
	V      int               `json:"v"`
	Fields map[string]string `json:"fields,omitempty"`
	Custom map[string]any    `json:"custom,omitempty"`
	Tags   []string          `json:"tags,omitempty"`
}

// Marshal encodes m as JSON, to store as the snapshot of what the sync
// wrote (Link.State). UnmarshalMapped reads it back.
func (m Mapped) Marshal() ([]byte, error) {
	return json.Marshal(mappedJSON{V: 1, Fields: m.Fields, Custom: m.Custom, Tags: m.Tags})
}

// UnmarshalMapped decodes a snapshot written by Mapped.Marshal. Custom
// values come back as string, float64 or []string, so a Mapped from Apply
// survives the round trip unchanged. Empty data (no snapshot) gives the
// zero Mapped.
func UnmarshalMapped(data []byte) (Mapped, error) {
	if len(data) == 0 {
		return Mapped{}, nil
	}
	var j mappedJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return Mapped{}, fmt.Errorf("contactsync: decode mapped snapshot: %w", err)
	}
	if j.V != 1 {
		return Mapped{}, fmt.Errorf("contactsync: decode mapped snapshot: unknown version %d", j.V)
	}
	m := Mapped{Fields: j.Fields, Tags: j.Tags}
	if len(m.Fields) == 0 {
		m.Fields = nil
	}
	if len(j.Custom) > 0 {
		m.Custom = make(map[string]any, len(j.Custom))
		for k, v := range j.Custom {
			c, err := customValue(v)
			if err != nil {
				return Mapped{}, fmt.Errorf("contactsync: decode mapped snapshot: custom %s: %w", k, err)
			}
			m.Custom[k] = c
		}
	}
	return m, nil
}
