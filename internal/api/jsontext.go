package api

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/switchyardhq/switchyard/internal/switchyard"
)

// escapedNUL is how a NUL character appears in JSON text (it cannot appear raw: control
// characters must be escaped).
var escapedNUL = []byte(`\u0000`)

// checkJSONText enforces the one rule for text that every request body follows on both stores:
// JSON text must be UTF-8 (RFC 8259 §8.1), and no string — key or value — may hold a NUL
// character, which PostgreSQL's text and jsonb cannot store and no destination needs. A body that
// breaks it gets a 400 naming the first offending field (dotted path, [i] for array elements);
// Go's decoder would otherwise replace invalid bytes with U+FFFD without a word.
//
// The common case costs two linear scans; only a body that fails them is walked to find the field.
func checkJSONText(body []byte) error {
	if utf8.Valid(body) && !bytes.Contains(body, escapedNUL) {
		return nil
	}
	path, msg, ok := findBadText(body)
	if !ok {
		return nil // `\\u0000` is an escaped backslash, not a NUL
	}
	return invalid(switchyard.FieldError{Param: path, Msg: msg})
}

// findBadText walks JSON text token by token and reports the path of the first string (or key)
// that is not valid UTF-8 or holds a NUL. ok is false when every string is fine. Text that is not
// JSON at all ends the walk quietly: the decoder reports that.
func findBadText(body []byte) (path, msg string, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	// One frame per open object or array: for objects the key of the current member (and
	// whether the next string is a key), for arrays the index of the current element.
	type frame struct {
		object    bool
		expectKey bool
		key       string
		index     int
	}
	var stack []frame
	pathOf := func(frames []frame) string {
		var b strings.Builder
		for _, f := range frames {
			if f.object {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			} else {
				b.WriteString("[" + strconv.Itoa(f.index) + "]")
			}
		}
		if b.Len() == 0 {
			return "body"
		}
		return b.String()
	}
	// afterValue moves the innermost container past a finished value.
	afterValue := func() {
		if n := len(stack); n > 0 {
			if stack[n-1].object {
				stack[n-1].expectKey = true
			} else {
				stack[n-1].index++
			}
		}
	}
	prev := dec.InputOffset()
	for {
		tok, err := dec.Token()
		if err != nil { // io.EOF, or not JSON: the decoder reports that
			return "", "", false
		}
		raw := body[prev:dec.InputOffset()]
		prev = dec.InputOffset()
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, frame{object: true, expectKey: true})
			case '[':
				stack = append(stack, frame{})
			default:
				stack = stack[:len(stack)-1]
				afterValue()
			}
		case string:
			isKey := len(stack) > 0 && stack[len(stack)-1].object && stack[len(stack)-1].expectKey
			bad := ""
			switch {
			case !utf8.Valid(raw):
				bad = "invalid UTF-8"
			case strings.ContainsRune(t, 0):
				bad = "NUL characters"
			}
			if isKey {
				if bad != "" {
					// Name the object holding the key; the key itself may not print.
					return pathOf(stack[:len(stack)-1]), "must not have keys with " + bad, true
				}
				stack[len(stack)-1].key, stack[len(stack)-1].expectKey = t, false
				continue
			}
			switch bad {
			case "invalid UTF-8":
				return pathOf(stack), "must be valid UTF-8 (JSON text must be UTF-8)", true
			case "NUL characters":
				return pathOf(stack), "must not contain NUL characters", true
			}
			afterValue()
		default:
			afterValue()
		}
	}
}
