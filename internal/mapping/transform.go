package mapping

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // time zones resolve the same on every host, with or without a zoneinfo database
	"unicode/utf8"
)

// opKind is a compiled transform.
type opKind uint8

const (
	opToString opKind = iota + 1
	opToNumber
	opToBoolean
	opToDate
	opToDatetime
	opDefault
	opTrim
	opLower
	opUpper
	opSubstring
)

var opKinds = map[string]opKind{
	"to_string": opToString, "to_number": opToNumber, "to_boolean": opToBoolean,
	"to_date": opToDate, "to_datetime": opToDatetime, "default": opDefault,
	"trim": opTrim, "lower": opLower, "upper": opUpper, "substring": opSubstring,
}

// op is a transform with its parameters resolved once.
type op struct {
	kind opKind
	name string
	// loc is the time zone of to_date and to_datetime; when it is nil, tzErr says why.
	loc   *time.Location
	tzErr string
	def   val // default's value
	start int // substring
	count int // substring's length; -1 for the rest of the string
}

func compileOp(t Transform) (op, error) {
	k, ok := opKinds[t.Type]
	if !ok {
		return op{}, fmt.Errorf("unknown transform %q", t.Type)
	}
	o := op{kind: k, name: t.Type, count: -1}
	switch k {
	case opToDate, opToDatetime:
		o.loc, o.tzErr = loadZone(t.Timezone)
	case opDefault:
		if o.def, ok = literal(t.Value); !ok {
			return op{}, fmt.Errorf("default: the value must be a string, number, boolean or null")
		}
	case opSubstring:
		if t.Start < 0 || t.Length != nil && *t.Length < 1 {
			return op{}, fmt.Errorf("substring: start must be at least 0 and length at least 1")
		}
		o.start = t.Start
		if t.Length != nil {
			o.count = *t.Length
		}
	}
	return o, nil
}

// loadZone resolves a transform's time zone: empty means UTC; otherwise an IANA name ("UTC",
// "Europe/Paris"). "Local" is refused: a mapping must not depend on the server's zone.
func loadZone(name string) (*time.Location, string) {
	switch name {
	case "", "UTC":
		return time.UTC, ""
	case "Local":
		return nil, `unknown time zone "Local"`
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Sprintf("unknown time zone %q", name)
	}
	return loc, ""
}

// apply runs one transform. A value it cannot convert is a failure, with a reason.
func (o *op) apply(v val) (val, string) {
	if o.kind == opDefault {
		if v.k == kMissing || v.k == kNull || v.k == kString && v.s == "" {
			return o.def, ""
		}
		return v, ""
	}
	if v.k == kMissing || v.k == kNull {
		return v, "" // every other transform passes missing and null through
	}
	switch o.kind {
	case opToString:
		if v.k != kString {
			return val{k: kString, s: v.text()}, ""
		}
	case opToNumber:
		return toNumber(o, v)
	case opToBoolean:
		return toBoolean(o, v)
	case opToDate, opToDatetime:
		return toTime(o, v)
	case opTrim:
		if v.k == kString {
			v.s = strings.TrimSpace(v.s)
		}
	case opLower:
		if v.k == kString {
			v.s = strings.ToLower(v.s)
		}
	case opUpper:
		if v.k == kString {
			v.s = strings.ToUpper(v.s)
		}
	case opSubstring:
		if v.k == kString {
			v.s = substring(v.s, o.start, o.count)
		}
	}
	return v, ""
}

func (o *op) fail(v val, format string) (val, string) {
	return val{}, o.name + ": " + fmt.Sprintf(format, v.describe())
}

func toNumber(o *op, v val) (val, string) {
	switch v.k {
	case kNumber:
		return v, ""
	case kBool:
		if v.b {
			return val{k: kNumber, s: "1"}, ""
		}
		return val{k: kNumber, s: "0"}, ""
	case kString:
		if s, ok := numberText(v.s); ok {
			return val{k: kNumber, s: s}, ""
		}
	}
	return o.fail(v, "%s is not a number")
}

// numberText reads a string as a finite number: JSON number text (kept as written, for
// precision), or after trimming white space a decimal that is not quite JSON (+5, 007, .5, 5.),
// which is rewritten in the shortest form that round-trips through float64.
func numberText(s string) (string, bool) {
	t := strings.TrimSpace(s)
	if t == "" || strings.Trim(t, "0123456789+-.eE") != "" {
		return "", false // no hex, underscores, Inf or NaN
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil && !isRangeErr(err) || math.IsInf(f, 0) || math.IsNaN(f) {
		return "", false
	}
	if isJSONNumber(t) {
		return t, true
	}
	return strconv.FormatFloat(f, 'g', -1, 64), true
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

func toBoolean(o *op, v val) (val, string) {
	switch v.k {
	case kBool:
		return v, ""
	case kNumber:
		if f, err := strconv.ParseFloat(v.s, 64); err == nil {
			switch f {
			case 0:
				return val{k: kBool}, ""
			case 1:
				return val{k: kBool, b: true}, ""
			}
		}
	case kString:
		t := strings.TrimSpace(v.s)
		for _, w := range trueWords {
			if strings.EqualFold(t, w) {
				return val{k: kBool, b: true}, ""
			}
		}
		for _, w := range falseWords {
			if strings.EqualFold(t, w) {
				return val{k: kBool}, ""
			}
		}
	}
	return o.fail(v, "%s is not a boolean")
}

// The strings to_boolean understands, compared without regard to case after trimming.
var (
	trueWords  = []string{"true", "t", "yes", "y", "on", "1"}
	falseWords = []string{"false", "f", "no", "n", "off", "0"}
)

// substring takes count runes (all the rest when count < 0) from rune start on.
func substring(s string, start, count int) string {
	i := 0
	for n := 0; n < start; n++ {
		if i >= len(s) {
			return ""
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	if count < 0 {
		return s[i:]
	}
	j := i
	for n := 0; n < count && j < len(s); n++ {
		_, size := utf8.DecodeRuneInString(s[j:])
		j += size
	}
	return s[i:j]
}

// The time layouts to_date and to_datetime read from strings, besides RFC 3339.
const (
	layoutDate      = "2006-01-02"
	layoutLocalTime = "2006-01-02T15:04:05" // fractional seconds are accepted too
)

// epochMillisFrom is where numbers stop being epoch seconds and start being milliseconds:
// 1e11 seconds is in the year 5138, 1e11 milliseconds in 1973.
const epochMillisFrom = 1e11

func toTime(o *op, v val) (val, string) {
	if o.loc == nil {
		return val{}, o.name + ": " + o.tzErr
	}
	var t time.Time
	switch v.k {
	case kString:
		s := strings.TrimSpace(v.s)
		if len(s) == len(layoutDate) {
			d, err := time.ParseInLocation(layoutDate, s, o.loc)
			if err != nil {
				return o.fail(v, "%s is not a date")
			}
			if o.kind == opToDate {
				return val{k: kString, s: d.Format(layoutDate)}, "" // a date has no zone to convert from
			}
			t = d
			break
		}
		if len(s) > len(layoutDate) && s[len(layoutDate)] == ' ' {
			s = s[:len(layoutDate)] + "T" + s[len(layoutDate)+1:]
		}
		var err error
		if t, err = time.Parse(time.RFC3339, s); err != nil {
			if t, err = time.ParseInLocation(layoutLocalTime, s, o.loc); err != nil {
				return o.fail(v, "%s is not a date and time")
			}
		}
	case kNumber:
		var ok bool
		if t, ok = epoch(v.s); !ok {
			return o.fail(v, "%s is not a time in epoch seconds or milliseconds")
		}
	default:
		return o.fail(v, "%s is not a date or time")
	}
	t = t.In(o.loc)
	if y := t.Year(); y < 1 || y > 9999 {
		return o.fail(v, "%s is outside the years 1 to 9999")
	}
	if o.kind == opToDate {
		return val{k: kString, s: t.Format(layoutDate)}, ""
	}
	return val{k: kString, s: t.Format(time.RFC3339Nano)}, ""
}

// epoch reads JSON number text as a Unix time: seconds below 1e11 in absolute value,
// milliseconds from there on. Decimal fractions are exact to the nanosecond; exponents go
// through float64.
func epoch(s string) (time.Time, bool) {
	neg := strings.HasPrefix(s, "-")
	digits := strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(digits, ".")
	if strings.ContainsAny(s, "eE") || len(whole) > 18 {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.Abs(f) >= 1e17 {
			return time.Time{}, false
		}
		if math.Abs(f) >= epochMillisFrom {
			f /= 1000
		}
		sec, fr := math.Modf(f)
		return time.Unix(int64(sec), int64(fr*1e9)).UTC(), true
	}
	n, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	scale := 9 // digits of the fraction that make nanoseconds
	var sec, nsec int64
	if n >= epochMillisFrom {
		sec, nsec = n/1000, n%1000*1e6
		scale = 6
	} else {
		sec = n
	}
	if len(frac) > scale {
		frac = frac[:scale]
	}
	if frac != "" {
		f, _ := strconv.ParseInt(frac+strings.Repeat("0", scale-len(frac)), 10, 64)
		nsec += f
	}
	if neg {
		sec, nsec = -sec, -nsec
	}
	return time.Unix(sec, nsec).UTC(), true
}
