package contactstest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"time"
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

// normalizePhone returns the E.164 form of a phone number, or "" if it is
// not one. Numbers without a country code are read as North American.
func normalizePhone(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	plus := strings.HasPrefix(s, "+")
	var digits strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits.WriteRune(r)
		case r == ' ' || r == '-' || r == '(' || r == ')' || r == '.' || r == '+' && digits.Len() == 0:
		default:
			return ""
		}
	}
	d := digits.String()
	switch {
	case plus && len(d) >= 8 && len(d) <= 15:
		return "+" + d
	case !plus && len(d) == 10:
		return "+1" + d
	case !plus && len(d) == 11 && d[0] == '1':
		return "+" + d
	}
	return ""
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
