package mapping

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// kind is the type of a value on its way through a field's transforms.
type kind uint8

const (
	kMissing kind = iota // the source path is not in the payload
	kNull
	kString
	kNumber // s holds the number's JSON text, as written
	kBool
	kRaw    // an object or array: raw holds its JSON text, a slice of the payload
	kFailed // (in Apply only) a transform failed: s holds the reason
)

// val is a value on its way through a field's transforms. It is not boxed into an interface
// until the end, so that the transforms allocate only when they make new text.
type val struct {
	k   kind
	b   bool
	s   string
	raw []byte
}

// valueAt reads the value sp locates in payload. Strings without escapes and numbers are not
// copied: their text is a view of the payload (see view), valid while the payload is not
// modified, which Apply copies out of the payload before it returns (see owned).
func valueAt(payload []byte, sp span) val {
	if sp.end == 0 {
		return val{}
	}
	b := payload[sp.start:sp.end]
	switch b[0] {
	case '"':
		return val{k: kString, s: decodeString(b)}
	case 't':
		return val{k: kBool, b: true}
	case 'f':
		return val{k: kBool}
	case 'n':
		return val{k: kNull}
	case '{', '[':
		return val{k: kRaw, raw: b}
	}
	return val{k: kNumber, s: view(b)}
}

// view returns b as a string without copying it.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// isView reports whether s is a view of (part of) p.
func isView(p []byte, s string) bool {
	if len(s) == 0 || len(p) == 0 {
		return false
	}
	d, start := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(&p[0]))
	return d >= start && d < start+uintptr(len(p))
}

// decodeString decodes a validated JSON string, quotes included: a view of the payload when
// it has no escapes and is valid UTF-8, else a new string.
func decodeString(b []byte) string {
	b = b[1 : len(b)-1]
	if bytes.IndexByte(b, '\\') < 0 && utf8.Valid(b) {
		return view(b)
	}
	return string(unquote(make([]byte, 0, len(b)+8), b))
}

// literal converts a schema literal (string, json.Number, bool or nil) into a val.
func literal(v any) (val, bool) {
	switch v := v.(type) {
	case nil:
		return val{k: kNull}, true
	case string:
		return val{k: kString, s: v}, true
	case bool:
		return val{k: kBool, b: v}, true
	case json.Number:
		if !isJSONNumber(string(v)) {
			return val{}, false
		}
		return val{k: kNumber, s: string(v)}, true
	}
	return val{}, false
}

// box turns a value into what Result.Fields holds.
func (v val) box() any {
	switch v.k {
	case kString:
		return v.s
	case kNumber:
		return json.Number(v.s)
	case kBool:
		return v.b
	case kRaw:
		dec := json.NewDecoder(bytes.NewReader(v.raw))
		dec.UseNumber()
		var x any
		if dec.Decode(&x) != nil {
			return nil // not reached: the scanner validated the text
		}
		return x
	}
	return nil
}

// text renders a value as text: strings as they are, numbers as written, objects and arrays as
// compact JSON; null and missing as "".
func (v val) text() string {
	switch v.k {
	case kString, kNumber:
		return v.s
	case kBool:
		return strconv.FormatBool(v.b)
	case kRaw:
		var buf bytes.Buffer
		if json.Compact(&buf, v.raw) != nil {
			buf.Reset()
			buf.Write(v.raw) // not reached: the scanner validated the text
		}
		if !utf8.Valid(buf.Bytes()) {
			return strings.ToValidUTF8(buf.String(), "\uFFFD")
		}
		return buf.String()
	}
	return ""
}

// describe names a value in a warning: its type and, for scalars, a short excerpt.
func (v val) describe() string {
	switch v.k {
	case kString:
		s := v.s
		if utf8.RuneCountInString(s) > 32 {
			r := []rune(s)
			s = string(r[:32]) + "…"
		}
		return "the string " + strconv.Quote(s)
	case kNumber:
		s := v.s
		if len(s) > 32 {
			s = s[:32] + "…"
		}
		return "the number " + s
	case kBool:
		return "the boolean " + strconv.FormatBool(v.b)
	case kRaw:
		if v.raw[0] == '{' {
			return "an object"
		}
		return "an array"
	case kNull:
		return "null"
	}
	return "a missing value"
}
