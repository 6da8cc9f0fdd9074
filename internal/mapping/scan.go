package mapping

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrInvalidPayload is returned (wrapped) when a payload is not a JSON object. An empty payload
// and `null` count as an empty object.
var ErrInvalidPayload = errors.New("mapping: the payload is not a JSON object")

// maxDepth bounds the nesting of a payload, as encoding/json does.
const maxDepth = 10000

// A pathTrie holds the payload paths a mapping or a template reads, split once into segments
// that share prefixes, so that one pass over the payload finds all of them. Each distinct path
// has a slot; a scan records where each slot's value lies in the payload.
type pathTrie struct {
	root  node
	slots int
}

type node struct {
	seg string
	// index is the array index the segment denotes (a canonical decimal), or -1.
	index    int
	slot     int // -1 when no path ends here
	children []*node
}

// span is where a value lies in the payload; end 0 means missing (no value starts at offset 0:
// offset 0 is the payload's opening brace or white space).
type span struct{ start, end int }

// add registers a valid path and returns its slot.
func (t *pathTrie) add(path string) int {
	n := &t.root
	for path != "" {
		seg, rest, _ := strings.Cut(path, ".")
		path = rest
		var c *node
		for _, ch := range n.children {
			if ch.seg == seg {
				c = ch
				break
			}
		}
		if c == nil {
			c = &node{seg: seg, index: arrayIndex(seg), slot: -1}
			n.children = append(n.children, c)
		}
		n = c
	}
	if n.slot < 0 {
		n.slot = t.slots
		t.slots++
	}
	return n.slot
}

// arrayIndex reads a canonical non-negative decimal of at most 9 digits, or returns -1.
func arrayIndex(seg string) int {
	if seg == "" || len(seg) > 9 || len(seg) > 1 && seg[0] == '0' {
		return -1
	}
	n := 0
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// validPath reports whether s is a payload path: what the schema's path pattern
// ^[a-zA-Z_][a-zA-Z0-9_]*(\.[a-zA-Z0-9_]+)*$ accepts.
func validPath(s string) bool {
	if s == "" || !(isLetter(s[0]) || s[0] == '_') {
		return false
	}
	prevDot := false
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if prevDot {
				return false
			}
			prevDot = true
		case isLetter(c) || c == '_' || c >= '0' && c <= '9':
			prevDot = false
		default:
			return false
		}
	}
	return !prevDot
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// scan validates payload as a JSON object and records in spans (one per slot, zeroed by the
// caller) where each of the trie's paths has its value. Duplicate keys behave as in
// encoding/json: the last one wins.
func (t *pathTrie) scan(payload []byte, spans []span) error {
	s := scanner{data: payload, spans: spans}
	s.ws()
	if s.pos == len(s.data) {
		return nil // empty: an empty object
	}
	if s.data[s.pos] == 'n' {
		if !s.lit("null") {
			return ErrInvalidPayload
		}
	} else if s.data[s.pos] != '{' || !s.object(&t.root) {
		return ErrInvalidPayload
	}
	s.ws()
	if s.pos != len(s.data) {
		return ErrInvalidPayload
	}
	return nil
}

type scanner struct {
	data  []byte
	pos   int
	depth int
	spans []span
	key   []byte // a reusable buffer for keys with escapes
}

func (s *scanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// value reads one value; n is the trie node it stands for (nil when no path goes through it).
func (s *scanner) value(n *node) bool {
	s.ws()
	if s.pos >= len(s.data) {
		return false
	}
	start := s.pos
	var ok bool
	switch c := s.data[s.pos]; c {
	case '{':
		ok = s.object(n)
	case '[':
		ok = s.array(n)
	case '"':
		_, ok = s.str()
	case 't':
		ok = s.lit("true")
	case 'f':
		ok = s.lit("false")
	case 'n':
		ok = s.lit("null")
	default:
		ok = s.number()
	}
	if ok && n != nil && n.slot >= 0 {
		s.spans[n.slot] = span{start, s.pos}
	}
	return ok
}

func (s *scanner) lit(word string) bool {
	if len(s.data)-s.pos < len(word) || string(s.data[s.pos:s.pos+len(word)]) != word {
		return false
	}
	s.pos += len(word)
	return true
}

func (s *scanner) object(n *node) bool {
	if s.depth++; s.depth > maxDepth {
		return false
	}
	s.pos++ // {
	s.ws()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		s.depth--
		return true
	}
	for {
		s.ws()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return false
		}
		kstart := s.pos
		esc, ok := s.str()
		if !ok {
			return false
		}
		var child *node
		if n != nil && len(n.children) > 0 {
			key := s.data[kstart+1 : s.pos-1]
			if esc {
				s.key = unquote(s.key[:0], key)
				key = s.key
			}
			for _, c := range n.children {
				if c.seg == string(key) {
					child = c
					break
				}
			}
		}
		s.ws()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return false
		}
		s.pos++
		if child != nil {
			s.clear(child) // a repeated key replaces what the earlier one held
		}
		if !s.value(child) {
			return false
		}
		s.ws()
		if s.pos >= len(s.data) {
			return false
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case '}':
			s.pos++
			s.depth--
			return true
		default:
			return false
		}
	}
}

func (s *scanner) clear(n *node) {
	if n.slot >= 0 {
		s.spans[n.slot] = span{}
	}
	for _, c := range n.children {
		s.clear(c)
	}
}

func (s *scanner) array(n *node) bool {
	if s.depth++; s.depth > maxDepth {
		return false
	}
	s.pos++ // [
	s.ws()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		s.depth--
		return true
	}
	for i := 0; ; i++ {
		var child *node
		if n != nil {
			for _, c := range n.children {
				if c.index == i {
					child = c
					break
				}
			}
		}
		if !s.value(child) {
			return false
		}
		s.ws()
		if s.pos >= len(s.data) {
			return false
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case ']':
			s.pos++
			s.depth--
			return true
		default:
			return false
		}
	}
}

// str reads a string (s.pos at its opening quote) and reports whether it holds escapes.
func (s *scanner) str() (esc, ok bool) {
	d := s.data
	i := s.pos + 1
	for i < len(d) {
		c := d[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return esc, true
		case c == '\\':
			esc = true
			if i+1 >= len(d) {
				return esc, false
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(d) || !isHex(d[i+2]) || !isHex(d[i+3]) || !isHex(d[i+4]) || !isHex(d[i+5]) {
					return esc, false
				}
				i += 6
			default:
				return esc, false
			}
		case c < 0x20:
			return esc, false
		default:
			i++
		}
	}
	return esc, false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'f'
}

// number reads a number of the JSON grammar.
func (s *scanner) number() bool {
	n := numberLen(s.data[s.pos:])
	if n == 0 {
		return false
	}
	s.pos += n
	return true
}

// numberLen returns the length of the JSON number at the start of b, or 0.
func numberLen[T string | []byte](b T) int {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return 0
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return 0
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return 0
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	return i
}

// isJSONNumber reports whether s is exactly one number of the JSON grammar.
func isJSONNumber(s string) bool {
	return s != "" && numberLen(s) == len(s)
}

// unquote appends the text of a validated string's contents (without its quotes) to dst, as
// encoding/json decodes it: invalid UTF-8 and lone surrogates become U+FFFD.
func unquote(dst, b []byte) []byte {
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '\\':
			switch b[i+1] {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := getu4(b[i:])
				i += 6
				if utf16.IsSurrogate(r) {
					if r1 := getu4(b[i:]); r1 >= 0 {
						if dec := utf16.DecodeRune(r, r1); dec != unicode.ReplacementChar {
							dst = utf8.AppendRune(dst, dec)
							i += 6
							continue
						}
					}
					r = unicode.ReplacementChar
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default: // " \ /
				dst = append(dst, b[i+1])
			}
			i += 2
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			dst = utf8.AppendRune(dst, r)
			i += size
		}
	}
	return dst
}

// getu4 decodes \uXXXX at the start of b, or returns -1.
func getu4(b []byte) rune {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range b[2:6] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}
