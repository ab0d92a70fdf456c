package contactstest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// fields is a decoded JSON object body.
type fields map[string]json.RawMessage

// decodeBody parses the body as a JSON object and rejects properties the
// DTO does not declare, as the live API's whitelist validation does
// ("property X should not exist"). It answers 400/422 itself.
func (c *call) decodeBody(allowed ...string) (fields, bool) {
	var f fields
	body := strings.TrimSpace(string(c.body))
	if body == "" {
		body = "{}"
	}
	if err := json.Unmarshal([]byte(body), &f); err != nil || f == nil {
		c.fail(http.StatusBadRequest, "Unexpected token in JSON body")
		return nil, false
	}
	var msgs []string
	for k := range f {
		if !slices.Contains(allowed, k) {
			msgs = append(msgs, "property "+k+" should not exist")
		}
	}
	if len(msgs) > 0 {
		slices.Sort(msgs)
		c.fail(http.StatusUnprocessableEntity, msgs...)
		return nil, false
	}
	return f, true
}

// validator collects class-validator style messages.
type validator struct {
	f    fields
	msgs []string
}

func (v *validator) add(format string, args ...any) {
	v.msgs = append(v.msgs, fmt.Sprintf(format, args...))
}

func (v *validator) has(name string) bool {
	raw, ok := v.f[name]
	return ok && string(raw) != "null"
}

func (v *validator) isNull(name string) bool {
	raw, ok := v.f[name]
	return ok && string(raw) == "null"
}

// str reads an optional string; null and absent read as "".
func (v *validator) str(name string) string {
	if !v.has(name) {
		return ""
	}
	var s string
	if json.Unmarshal(v.f[name], &s) != nil {
		v.add("%s must be a string", name)
	}
	return s
}

// required reads a string that must be present and non-empty.
func (v *validator) required(name string) string {
	s := v.str(name)
	if strings.TrimSpace(s) == "" {
		v.add("%s should not be empty", name)
	}
	return s
}

func (v *validator) boolean(name string) (bool, bool) {
	if !v.has(name) {
		return false, false
	}
	var b bool
	if json.Unmarshal(v.f[name], &b) != nil {
		v.add("%s must be a boolean value", name)
		return false, false
	}
	return b, true
}

func (v *validator) strings(name string) ([]string, bool) {
	if !v.has(name) {
		return nil, false
	}
	var l []string
	if json.Unmarshal(v.f[name], &l) != nil {
		v.add("%s must be an array of strings", name)
		return nil, false
	}
	return l, true
}

func (v *validator) integer(name string) (int, bool) {
	if !v.has(name) {
		return 0, false
	}
	var n float64
	if json.Unmarshal(v.f[name], &n) != nil || n != float64(int(n)) {
		v.add("%s must be an integer number", name)
		return 0, false
	}
	return int(n), true
}

// isoDate reads an optional ISO-8601 timestamp.
func (v *validator) isoDate(name string) (time.Time, bool) {
	s := v.str(name)
	if s == "" {
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	v.add("%s must be a valid ISO 8601 date string", name)
	return time.Time{}, false
}

func (v *validator) email(name string) string {
	s := strings.TrimSpace(v.str(name))
	if s != "" && !validEmail(s) {
		v.add("%s must be an email", name)
	}
	return s
}

func (v *validator) phone(name string) string {
	s := v.str(name)
	if s != "" && normalizePhone(s) == "" {
		v.add("%s must be a valid phone number", name)
	}
	return normalizePhone(s)
}

// ok answers 422 with the collected messages if there are any.
func (v *validator) ok(c *call) bool {
	if len(v.msgs) == 0 {
		return true
	}
	c.fail(http.StatusUnprocessableEntity, v.msgs...)
	return false
}

func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	return at > 0 && strings.Contains(s[at+1:], ".") && !strings.HasSuffix(s, ".")
}

// phoneRegion is the region of phone numbers written without a country
// code: the fake reads them as North American.
const phoneRegion = "US"

// normalizePhone returns the E.164 form of a phone number, or "" if it is
// not one. Like contactsync.E164, it reads the number with
// libphonenumber's metadata (github.com/nyaruka/phonenumbers), so that
// both write any number E164 accepts the same way: "(212) 555-0123",
// "+1 212 555 0123" and "011 1 212 555 0123" are all +12125550123, and
// "+44 (0)20 7946 0958" is +442079460958. Numbers without a country code
// are read as North American (phoneRegion).
//
// It is more lenient than E164, which refuses numbers outside their plan
// before they are sent: any number of a possible length for its
// country's plan is taken, valid or not (+1 555 555 0100 has no real area
// code). It refuses what is not a number (letters count only in a number
// written with them, "1-800-FLOWERS"), numbers too short or too long for
// their plan (including local numbers without an area code), unknown
// country codes and extensions.
func normalizePhone(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	num, err := phonenumbers.Parse(s, phoneRegion)
	if err != nil || num.GetExtension() != "" || phonenumbers.IsPossibleNumberWithReason(num) != phonenumbers.IS_POSSIBLE {
		return ""
	}
	return phonenumbers.Format(num, phonenumbers.E164)
}

// dateOfBirthLayouts are the formats the API accepts for dateOfBirth.
var dateOfBirthLayouts = []string{
	"2006/01/02", "01/02/2006", "2006-01-02", "01-02-2006",
	"2006.01.02", "01.02.2006", "2006_01_02", "01_02_2006",
	time.RFC3339Nano,
}

// dateOfBirth parses a dateOfBirth and renders it as the API reads it back.
func (v *validator) dateOfBirth(name string) (string, bool) {
	s := v.str(name)
	if s == "" {
		return "", v.isNull(name)
	}
	for _, layout := range dateOfBirthLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			y, m, d := t.Date()
			return iso(time.Date(y, m, d, 0, 0, 0, 0, time.UTC)), true
		}
	}
	v.add("%s must be a valid date (YYYY-MM-DD, MM/DD/YYYY, …)", name)
	return "", false
}
