package salesforce

import (
	"strings"
)

// Salesforce record IDs are 15 case-sensitive characters; the 18-character
// form adds a three-character suffix that encodes which of the first 15
// characters are upper case, so that the ID survives case-insensitive
// systems. The first three characters are the object's key prefix
// (003 Contact, 701 Campaign, 00v CampaignMember, 00D Organization, 005 User).
// Source: "Working with Record IDs" in the Salesforce help, and the
// keyPrefix property of the sObject Describe result.

const idAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newID builds an 18-character ID with the given key prefix from a sequence
// number. The middle is padded so every ID is well formed.
func newID(prefix string, seq int) string {
	var body [12]byte
	n := seq
	for i := len(body) - 1; i >= 0; i-- {
		body[i] = idAlphabet[n%len(idAlphabet)]
		n /= len(idAlphabet)
	}
	id15 := prefix + string(body[:])
	return id15 + idSuffix(id15)
}

// idSuffix computes the three-character case-safety suffix of a 15-character ID.
func idSuffix(id15 string) string {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
	var out strings.Builder
	for chunk := 0; chunk < 3; chunk++ {
		bits := 0
		for i := 0; i < 5; i++ {
			c := id15[chunk*5+i]
			if c >= 'A' && c <= 'Z' {
				bits |= 1 << i
			}
		}
		out.WriteByte(chars[bits])
	}
	return out.String()
}

// normalizeID checks that s is a well-formed 15- or 18-character ID and
// returns its 18-character form. An 18-character ID whose suffix does not
// match its first 15 characters is not well formed.
func normalizeID(s string) (string, bool) {
	if len(s) != 15 && len(s) != 18 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune(idAlphabet, rune(s[i])) {
			return "", false
		}
	}
	id15 := s[:15]
	full := id15 + idSuffix(id15)
	if len(s) == 18 && !strings.EqualFold(s[15:], full[15:]) {
		return "", false
	}
	return full, true
}

// idWithPrefix reports whether s is a well-formed ID of the given key prefix
// and returns its 18-character form.
func idWithPrefix(s, prefix string) (string, bool) {
	full, ok := normalizeID(s)
	if !ok || full[:3] != prefix {
		return "", false
	}
	return full, true
}
