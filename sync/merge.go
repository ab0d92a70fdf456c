package contactsync

import (
	"fmt"
	"slices"
	"strings"
	"time"

	contacts "github.com/gymflow/contacts-go"
)

// Policy decides, per field, whether GymFlow's value overwrites the
// contact's when the contact is updated. Creating a contact always writes
// every mapped value.
type Policy int

// Policies. "Changed" means different from the value in the snapshot of
// the last sync (the last argument of PlanUpdate); an empty value is a
// change too, which clears the field. Whatever the policy, nothing is
// written when the caller knows the contact already holds the value.
const (
	// GymFlowWins writes GymFlow's value whenever it changed since the
	// last sync, clearing the field when GymFlow's value was removed. A
	// value the CRM changed stays until GymFlow's changes. The default.
	GymFlowWins Policy = iota
	// APIWins writes the value on create only; afterwards the CRM's value
	// is never overwritten.
	APIWins
	// NewestWins is GymFlowWins, but a change is written only when the
	// member's UpdatedAt is after the contact's dateUpdated as known to
	// the caller; when the contact's time is unknown, GymFlow wins. An
	// unknown (zero) member time never beats a known contact time.
	NewestWins
	// FillIfEmpty writes GymFlow's value only when the contact's current
	// value is empty; when the current value is unknown, only if the
	// sync never wrote the field before (the snapshot has no value).
	// It never clears a field.
	FillIfEmpty
	// NeverClear is GymFlowWins, except that an empty or missing GymFlow
	// value never clears the CRM's.
	NeverClear
)

var policyNames = [...]string{"GymFlowWins", "APIWins", "NewestWins", "FillIfEmpty", "NeverClear"}

// String returns the policy's name.
func (p Policy) String() string {
	if p >= 0 && int(p) < len(policyNames) {
		return policyNames[p]
	}
	return fmt.Sprintf("Policy(%d)", int(p))
}

// Policies holds the merge policy of each target. The zero value applies
// GymFlowWins to every field.
type Policies struct {
	// Default applies to targets without an entry in Fields.
	Default Policy
	// Fields maps target names — contact field API names, and
	// "id:<id>"/"key:<key>" for custom fields — to their policies.
	Fields map[string]Policy
}

// For returns the policy of a target.
func (p Policies) For(target string) Policy {
	if pol, ok := p.Fields[target]; ok {
		return pol
	}
	return p.Default
}

// uses reports whether any target, or the default, has one of pols.
func (p Policies) uses(pols ...Policy) bool {
	if slices.Contains(pols, p.Default) {
		return true
	}
	for _, pol := range p.Fields {
		if slices.Contains(pols, pol) {
			return true
		}
	}
	return false
}

// Current is what the caller knows of a contact's current values. A nil
// *Current, or a nil map, means the values are unknown; within a non-nil
// map, a missing entry means the field is empty — except that custom
// fields keyed "key:<key>" are unknown when missing, since the API reads
// custom fields back by ID. A zero UpdatedAt means the contact's time is
// unknown.
type Current struct {
	// Fields are the contact's field values by API name.
	Fields map[string]string
	// Custom are its custom field values keyed "id:<id>" (or "key:<key>"
	// if the caller resolved them): string, number, []string or
	// contacts.CustomValue.
	Custom map[string]any
	// UpdatedAt is the contact's dateUpdated.
	UpdatedAt time.Time
}

// CurrentOf returns what a contact read from the API says of its current
// values: every field PlanUpdate can write (dateOfBirth normalised to
// "YYYY-MM-DD"), the custom fields by ID, and dateUpdated.
func CurrentOf(c *contacts.Contact) *Current {
	cur := &Current{Fields: map[string]string{}, Custom: map[string]any{}, UpdatedAt: c.DateUpdated.Time}
	for _, name := range targetNames {
		if read := targets[name].read; read != nil {
			if v := read(c); v != "" {
				cur.Fields[name] = v
			}
		}
	}
	for _, f := range c.CustomFields {
		if v := fromCustomValue(f.Value); f.ID != "" && !isEmpty(v) {
			cur.Custom["id:"+f.ID] = v
		}
	}
	return cur
}

// field returns the contact's value of a field, nil if unknown.
func (c *Current) field(name string) *string {
	if c == nil || c.Fields == nil {
		return nil
	}
	v := c.Fields[name]
	return &v
}

// custom returns the canonical form of the contact's value of a custom
// field, nil if unknown.
func (c *Current) custom(name string) *string {
	if c == nil || c.Custom == nil {
		return nil
	}
	v, ok := c.Custom[name]
	if !ok && !strings.HasPrefix(name, "id:") {
		return nil
	}
	s := canonicalCustom(v)
	return &s
}

func (c *Current) updatedAt() time.Time {
	if c == nil {
		return time.Time{}
	}
	return c.UpdatedAt
}

// MergeValue decides one field: whether to write GymFlow's value (""
// clears the field) given the policy, the value the sync wrote last time
// ("" if none), the contact's current value (nil if unknown), and when
// each side last changed (zero if unknown). value is "" when write is
// false. PlanUpdate uses it for every field; the inbound direction can
// use it with the roles of the two sides swapped.
func MergeValue(p Policy, gymflow, lastWritten string, current *string, gymflowAt, currentAt time.Time) (value string, write bool) {
	changed := gymflow != lastWritten
	switch p {
	case GymFlowWins:
		write = changed
	case NeverClear:
		write = changed && gymflow != ""
	case NewestWins:
		write = changed && (currentAt.IsZero() || gymflowAt.After(currentAt))
	case FillIfEmpty:
		if current != nil {
			write = gymflow != "" && *current == ""
		} else {
			write = gymflow != "" && lastWritten == ""
		}
	default: // APIWins, and unknown policies: never overwrite
		write = false
	}
	if !write || current != nil && *current == gymflow {
		return "", false
	}
	return gymflow, true
}

// PlanUpdate returns the update body that brings the contact in line with
// now under the policies, and whether there is anything to send. last is
// the snapshot the sync wrote last time (the zero Mapped if it never
// wrote, e.g. after linking to an existing contact: then every value
// GymFlow has counts as changed); cur is what the caller knows of the
// contact (nil if nothing); memberUpdated is the member's UpdatedAt.
//
// Values are set with contacts.Value and cleared with contacts.Null
// (postalCode and country, plain pointers in the SDK, with ""); custom
// fields are written by ID or key, and cleared with the value "". The
// body never carries tags (an update's tags replace all of them: use
// DiffTags) nor the create-only companyName and gender: changes to those
// are not propagated after the contact is created. A target that a
// mapping no longer has is absent from now, and so is cleared under
// GymFlowWins and NewestWins like a removed value.
func PlanUpdate(now, last Mapped, cur *Current, memberUpdated time.Time, p Policies) (contacts.ContactUpdate, bool) {
	var u contacts.ContactUpdate
	need := false
	curAt := cur.updatedAt()
	for _, name := range targetNames {
		t := targets[name]
		if t.update == nil {
			continue
		}
		if v, ok := MergeValue(p.For(name), now.Fields[name], last.Fields[name], cur.field(name), memberUpdated, curAt); ok {
			t.update(&u, v)
			need = true
		}
	}
	names := sortedKeys(now.Custom)
	for _, k := range sortedKeys(last.Custom) {
		if _, ok := now.Custom[k]; !ok {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		f, ok := parseCustomName(name)
		if !ok {
			continue
		}
		gym, lw := canonicalCustom(now.Custom[name]), canonicalCustom(last.Custom[name])
		if _, ok := MergeValue(p.For(name), gym, lw, cur.custom(name), memberUpdated, curAt); ok {
			var v any = ""
			if gym != "" {
				v = now.Custom[name]
			}
			u.CustomFields = append(u.CustomFields, f.Input(v))
			need = true
		}
	}
	return u, need
}

// Ownership says which of a contact's tags the sync owns and so may
// remove. Tags the sync does not own — those added in the CRM or by its
// automations — are never removed.
type Ownership struct {
	// Written: the sync owns the tags it wrote (DiffTags' written list).
	Written bool
	// Prefix: the sync owns every tag that starts with Prefix (compared
	// exactly), e.g. "gf:", whoever added it.
	Prefix string
}

// ownsWritten reports whether the tags the sync wrote are owned: when
// Written is set, and for the zero Ownership, which owns exactly the
// tags the sync wrote (the safe default).
func (o Ownership) ownsWritten() bool { return o.Written || o.Prefix == "" }

// DiffTags returns the tags to add to and remove from a contact so that
// it carries the desired tags, removing only tags the sync owns.
//
// written are the tags the sync wrote and still owns (Link.Tags);
// current are the contact's tags, or nil when unknown. add holds the
// desired tags not known to be on the contact: not in current when it is
// known, else not in written. remove holds owned tags that are not
// desired: those in written (if own owns written tags) and those with
// own.Prefix (from written, and from current when known) — and when
// current is known, only those actually on the contact.
//
// After the tag calls succeed, the tags the sync wrote and owns are
// written ∪ add − remove.
//
// Tags are trimmed and compared exactly (case-sensitive), as the API's
// tag endpoints and contactstest compare them; blank tags are ignored.
// Both lists are sorted and deduplicated, nil when empty.
func DiffTags(desired, written, current []string, own Ownership) (add, remove []string) {
	want := tagSet(desired)
	wrote := tagSet(written)
	known := current != nil
	have := tagSet(current)

	for t := range want {
		if known && !have[t] || !known && !wrote[t] {
			add = append(add, t)
		}
	}
	owned := map[string]bool{}
	if own.ownsWritten() {
		for t := range wrote {
			owned[t] = true
		}
	}
	if own.Prefix != "" {
		for t := range wrote {
			if strings.HasPrefix(t, own.Prefix) {
				owned[t] = true
			}
		}
		for t := range have {
			if strings.HasPrefix(t, own.Prefix) {
				owned[t] = true
			}
		}
	}
	for t := range owned {
		if !want[t] && (!known || have[t]) {
			remove = append(remove, t)
		}
	}
	slices.Sort(add)
	slices.Sort(remove)
	return add, remove
}

// tagSet returns the trimmed, non-blank tags as a set.
func tagSet(tags []string) map[string]bool {
	s := make(map[string]bool, len(tags))
	for _, t := range tags {
		if t = strings.TrimSpace(t); t != "" {
			s[t] = true
		}
	}
	return s
}
