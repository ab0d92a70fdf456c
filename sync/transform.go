package contactsync

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	contacts "github.com/gymflow/contacts-go"
)

// TransformFunc turns a GymFlow value into the value written to the
// contact. Transforms run in order on a present, non-empty source value;
// an error rejects the member (Apply reports a *RecordError), unless the
// error wraps ErrBadMapping, which marks the mapping itself as broken
// (e.g. E164 with an unsupported region) and is returned as is.
//
// A TransformFunc must not modify its argument (Apply hands it copies of
// list values, but a custom transform should not rely on that) and must
// be safe for concurrent use: a Mapping is shared by concurrent Apply
// calls. The built-in transforms are.
type TransformFunc func(any) (any, error)

// apiDate is the layout of dateOfBirth values as the sync writes them.
const apiDate = "2006-01-02"

// Trim removes leading and trailing white space from a string, or from
// every element of a list of strings. Other values pass through.
func Trim(v any) (any, error) { return mapStrings(v, strings.TrimSpace), nil }

// Lower lowercases a string, or every element of a list of strings.
// Other values pass through.
func Lower(v any) (any, error) { return mapStrings(v, strings.ToLower), nil }

// Upper uppercases a string, or every element of a list of strings.
// Other values pass through.
func Upper(v any) (any, error) { return mapStrings(v, strings.ToUpper), nil }

// mapStrings applies f to a string or to each element of a []string (or
// a []any holding only strings), returning a new list. Other values are
// returned unchanged.
func mapStrings(v any, f func(string) string) any {
	switch x := v.(type) {
	case string:
		return f(x)
	case []string:
		out := make([]string, len(x))
		for i, s := range x {
			out[i] = f(s)
		}
		return out
	case []any:
		if l, ok := stringList(x); ok {
			for i, s := range l {
				l[i] = f(s)
			}
			return l
		}
	}
	return v
}

// stringList converts a []any holding only strings into a new []string.
func stringList(l []any) ([]string, bool) {
	out := make([]string, len(l))
	for i, e := range l {
		s, ok := e.(string)
		if !ok {
			return nil, false
		}
		out[i] = s
	}
	return out, true
}

// Email trims and lowercases an email address and checks that it is a
// plain address (local@domain, no display name) that the API will take:
// it must parse as an RFC 5322 address, and its domain must have at
// least two labels, a top-level label of two or more characters, and no
// address literal. An empty string stays empty.
func Email(v any) (any, error) {
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("email must be a string, not %T", v)
	}
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", nil
	}
	if !validEmail(s) {
		return nil, fmt.Errorf("invalid email address %q", s)
	}
	return s, nil
}

func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 {
		return false
	}
	domain := s[at+1:]
	if strings.ContainsAny(domain, "[]") {
		return false
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return false
		}
	}
	return len(labels[len(labels)-1]) >= 2
}

// region holds what E164 needs to know about a country's numbering plan.
type region struct {
	code  string // country calling code
	trunk string // national trunk prefix, stripped from national numbers
	idd   string // international call prefix, read like "+" ("" none)
	// min and max bound the national significant number's length.
	min, max int
}

// regions are the numbering plans E164 supports, by ISO 3166-1 alpha-2
// code. Lengths are those of the national significant number (without
// trunk prefix and country code).
var regions = map[string]region{
	"US": {"1", "1", "011", 10, 10},
	"CA": {"1", "1", "011", 10, 10},
	"GB": {"44", "0", "00", 7, 10},
	"IE": {"353", "0", "00", 7, 9},
	"DE": {"49", "0", "00", 5, 13},
	"FR": {"33", "0", "00", 9, 9},
	"ES": {"34", "", "00", 9, 9},
	"IT": {"39", "", "00", 6, 11},
	"PT": {"351", "", "00", 9, 9},
	"NL": {"31", "0", "00", 9, 9},
	"BE": {"32", "0", "00", 8, 9},
	"CH": {"41", "0", "00", 9, 9},
	"AT": {"43", "0", "00", 4, 13},
	"SE": {"46", "0", "00", 6, 10},
	"NO": {"47", "", "00", 8, 8},
	"DK": {"45", "", "00", 8, 8},
	"PL": {"48", "", "00", 9, 9},
	"BR": {"55", "0", "", 10, 11},
	"MX": {"52", "", "00", 10, 10},
	"AR": {"54", "0", "00", 10, 11},
	"AU": {"61", "0", "0011", 9, 9},
	"NZ": {"64", "0", "00", 8, 10},
	"IN": {"91", "0", "00", 10, 10},
	"ZA": {"27", "0", "00", 9, 9},
	"JP": {"81", "0", "010", 9, 10},
}

// SupportedRegions returns the region codes E164 accepts, sorted.
func SupportedRegions() []string {
	out := make([]string, 0, len(regions))
	for r := range regions {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// E164 normalises a phone number to E.164 ("+" and 8–15 digits).
//
// A number written internationally — with a leading "+", or the default
// region's international prefix such as "00" or "011" — keeps its country
// code; "(0)" in it ("+44 (0)20 …") and a trunk 0 wrongly left after a
// country code whose plan has one ("+44 020 …") are dropped. Any other
// number is national to defaultRegion: its trunk prefix (0 in most of
// Europe, 1 in North America; none in ES, IT, PT, NO, DK, PL, MX) is
// stripped, its length is checked against the region's plan, and the
// region's calling code is prepended. Spaces and the punctuation
// - . / ( ) are ignored; letters (e.g. extensions) are an error.
//
// defaultRegion is an ISO 3166-1 alpha-2 code, case-insensitive, from
// SupportedRegions; "" accepts only international numbers. An
// unsupported region makes every call fail with an error wrapping
// ErrBadMapping, so Apply reports the mapping as broken instead of
// rejecting each member. Integer values are read as digit strings; an
// empty string stays empty.
func E164(defaultRegion string) TransformFunc {
	code := strings.ToUpper(strings.TrimSpace(defaultRegion))
	reg, ok := regions[code]
	if !ok && code != "" {
		err := fmt.Errorf("%w: E164: unsupported region %q (supported: %s)",
			ErrBadMapping, defaultRegion, strings.Join(SupportedRegions(), " "))
		return func(any) (any, error) { return nil, err }
	}
	var def *region
	if ok {
		def = &reg
	}
	return func(v any) (any, error) {
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case json.Number:
			s = x.String()
		default:
			if i, ok := integerText(v); ok {
				s = i
				break
			}
			return nil, fmt.Errorf("phone number must be a string, not %T", v)
		}
		if strings.TrimSpace(s) == "" {
			return "", nil
		}
		out, err := e164(s, def)
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}

func e164(in string, def *region) (string, error) {
	s := strings.TrimSpace(in)
	intl := strings.HasPrefix(s, "+")
	if intl {
		s = s[1:]
	}
	if strings.Contains(s, "+") {
		return "", fmt.Errorf("invalid phone number %q: misplaced +", in)
	}
	if intl || def != nil && def.idd != "" && strings.HasPrefix(s, def.idd) {
		s = strings.ReplaceAll(s, "(0)", "")
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case unicode.IsSpace(r) || strings.ContainsRune("-./()", r):
		default:
			return "", fmt.Errorf("invalid phone number %q: unexpected %q", in, r)
		}
	}
	d := b.String()
	if !intl && def != nil && def.idd != "" && strings.HasPrefix(d, def.idd) {
		d, intl = d[len(def.idd):], true
	}
	if intl {
		d = dropTrunkAfterCode(d)
	} else {
		if def == nil {
			return "", fmt.Errorf("invalid phone number %q: no country code and no default region", in)
		}
		d = strings.TrimPrefix(d, def.trunk)
		if len(d) < def.min || len(d) > def.max {
			return "", fmt.Errorf("invalid phone number %q: %d digits after the trunk prefix, want %s for +%s",
				in, len(d), lengths(def.min, def.max), def.code)
		}
		d = def.code + d
	}
	if len(d) < 8 || len(d) > 15 {
		return "", fmt.Errorf("invalid phone number %q: %d digits, want 8 to 15 with the country code", in, len(d))
	}
	return "+" + d, nil
}

// dropTrunkAfterCode removes a trunk 0 written after a country code whose
// plan uses one ("4402079460958" → "442079460958"); national significant
// numbers there never start with 0.
func dropTrunkAfterCode(d string) string {
	for _, r := range regions {
		if r.trunk == "0" && strings.HasPrefix(d, r.code+"0") {
			return r.code + d[len(r.code)+1:]
		}
	}
	return d
}

func lengths(lo, hi int) string {
	if lo == hi {
		return strconv.Itoa(lo)
	}
	return fmt.Sprintf("%d to %d", lo, hi)
}

// DateFormat parses a date written with the Go layout (e.g. "02/01/2006"
// for day-first dates) and returns it as the API's "YYYY-MM-DD". A
// time.Time (or contacts.Time) is accepted as is and formatted in its own
// location. An empty string stays empty. An empty layout makes every call
// fail with an error wrapping ErrBadMapping.
func DateFormat(layout string) TransformFunc {
	if layout == "" {
		err := fmt.Errorf("%w: DateFormat needs a layout", ErrBadMapping)
		return func(any) (any, error) { return nil, err }
	}
	return func(v any) (any, error) {
		switch x := v.(type) {
		case time.Time:
			return x.Format(apiDate), nil
		case contacts.Time:
			return x.Format(apiDate), nil
		case string:
			x = strings.TrimSpace(x)
			if x == "" {
				return "", nil
			}
			t, err := time.Parse(layout, x)
			if err != nil {
				return nil, fmt.Errorf("date %q does not match layout %q", x, layout)
			}
			return t.Format(apiDate), nil
		}
		return nil, fmt.Errorf("date must be a string or a time.Time, not %T", v)
	}
}

// Join joins a list of strings with sep, skipping empty elements, e.g.
// to write a GymFlow list into a text field. A string passes through
// unchanged; a list holding anything but strings is an error. Other
// values pass through.
func Join(sep string) TransformFunc {
	return func(v any) (any, error) {
		var l []string
		switch x := v.(type) {
		case []string:
			l = x
		case []any:
			var ok bool
			if l, ok = stringList(x); !ok {
				return nil, errors.New("join: the list holds values other than strings")
			}
		default:
			return v, nil
		}
		out := make([]string, 0, len(l))
		for _, s := range l {
			if s != "" {
				out = append(out, s)
			}
		}
		return strings.Join(out, sep), nil
	}
}
