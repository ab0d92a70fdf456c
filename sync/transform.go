package contactsync

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"time"

	contacts "github.com/gymflow/contacts-go"
	"github.com/nyaruka/phonenumbers"
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

// SupportedRegions returns the region codes E164 accepts as its default
// region, sorted: the ISO 3166-1 alpha-2 codes of every numbering plan
// in libphonenumber's metadata (github.com/nyaruka/phonenumbers). The
// caller owns the slice.
func SupportedRegions() []string { return slices.Clone(supportedRegions()) }

var supportedRegions = sync.OnceValue(func() []string {
	return slices.Sorted(maps.Keys(phonenumbers.GetSupportedRegions()))
})

// E164 normalises a phone number to E.164 ("+", country code, national
// number), with libphonenumber's metadata (github.com/nyaruka/phonenumbers)
// for every numbering plan.
//
// A number written internationally — with a leading "+", or the default
// region's international prefix such as "00", "011" or Singapore's
// "001" — keeps its country code; a trunk prefix written after a country
// code whose plan has one ("+44 (0)20 …", "+44 020 …") is dropped, while
// a 0 that belongs to the number (Italy's "+39 06 …") is kept. Any other
// number is national to defaultRegion: its trunk prefix, if the plan has
// one (0 in most of Europe, 1 in North America; none in Singapore,
// Poland, Italy, …), is stripped and the region's calling code prepended.
// Spaces and punctuation are ignored, and letters of a number written
// with them ("1-800-FLOWERS") are read as on a phone keypad.
//
// The result must be a valid number of its plan, of any type (fixed
// line, mobile, toll free, VoIP, …). A number of the wrong length, one
// outside the plan's ranges (such as Ofcom's drama range 07700 900xxx or
// North America's area code 555), text, and a number with an extension
// ("x12", "ext. 12", ";ext=12", "#12": the contact's phone takes none,
// and dropping it would merge different people behind one switchboard)
// are errors that quote the number given and match ErrBadRecord
// (errors.Is), so Apply rejects the member.
//
// defaultRegion is an ISO 3166-1 alpha-2 code, case-insensitive, from
// SupportedRegions; "" accepts only international numbers. An
// unsupported region makes every call fail with an error wrapping
// ErrBadMapping, so Apply reports the mapping as broken instead of
// rejecting each member. Integer values are read as digit strings; an
// empty string stays empty.
func E164(defaultRegion string) TransformFunc {
	code := strings.ToUpper(strings.TrimSpace(defaultRegion))
	if _, ok := slices.BinarySearch(supportedRegions(), code); !ok && code != "" {
		err := fmt.Errorf("%w: E164: unsupported region %q (want an ISO 3166-1 alpha-2 code that SupportedRegions lists, such as \"GB\")",
			ErrBadMapping, defaultRegion)
		return func(any) (any, error) { return nil, err }
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
			return nil, badPhone("phone number must be a string, not %T", v)
		}
		if strings.TrimSpace(s) == "" {
			return "", nil
		}
		out, err := e164(s, code)
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}

// phoneError is an invalid phone number: E164's errors match ErrBadRecord
// without repeating its text in the member's failure reason.
type phoneError struct{ msg string }

func (e *phoneError) Error() string { return e.msg }

// Is reports whether target is ErrBadRecord.
func (e *phoneError) Is(target error) bool { return target == ErrBadRecord }

func badPhone(format string, args ...any) error {
	return &phoneError{msg: fmt.Sprintf(format, args...)}
}

// e164 parses in with region ("" none) as the default region.
func e164(in, region string) (string, error) {
	num, err := phonenumbers.Parse(in, region)
	if err != nil {
		var why string
		switch {
		case errors.Is(err, phonenumbers.ErrInvalidCountryCode) && region == "" && !strings.Contains(in, "+"):
			why = "no country code and no default region"
		case errors.Is(err, phonenumbers.ErrInvalidCountryCode):
			why = "unknown country calling code"
		case errors.Is(err, phonenumbers.ErrNotANumber):
			why = "not a phone number"
		case errors.Is(err, phonenumbers.ErrTooShortNSN), errors.Is(err, phonenumbers.ErrTooShortAfterIDD):
			why = "too short"
		case errors.Is(err, phonenumbers.ErrNumTooLong):
			why = "too long"
		default:
			why = err.Error()
		}
		return "", badPhone("invalid phone number %q: %s", in, why)
	}
	if ext := num.GetExtension(); ext != "" {
		return "", badPhone("invalid phone number %q: has an extension (%s); the API's phone field takes none", in, ext)
	}
	out := phonenumbers.Format(num, phonenumbers.E164)
	if phonenumbers.IsValidNumber(num) {
		return out, nil
	}
	cc := int(num.GetCountryCode())
	plan := fmt.Sprintf("+%d", cc)
	if r := phonenumbers.GetRegionCodeForCountryCode(cc); r != phonenumbers.UNKNOWN_REGION && r != phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY {
		plan = fmt.Sprintf("%s (+%d)", r, cc)
	}
	var why string
	switch phonenumbers.IsPossibleNumberWithReason(num) {
	case phonenumbers.IS_POSSIBLE_LOCAL_ONLY:
		why = "too short: a local number needs its area code"
	case phonenumbers.TOO_SHORT:
		why = "too short for " + plan
	case phonenumbers.TOO_LONG:
		why = "too long for " + plan
	case phonenumbers.INVALID_COUNTRY_CODE:
		why = "unknown country calling code"
	default: // IS_POSSIBLE, INVALID_LENGTH
		why = "not a valid number for " + plan
	}
	return "", badPhone("invalid phone number %q (read as %s): %s", in, out, why)
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
