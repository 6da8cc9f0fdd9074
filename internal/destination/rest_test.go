package destination_test

import (
	"net/url"
	"testing"

	"github.com/switchyardhq/switchyard/internal/destination"
)

// The provider API URL keeps the base's own path, and the values escaped into a path stay
// escaped once (a contact id with a slash or a percent sign is one segment, not two, and is not
// escaped twice).
func TestRESTURL(t *testing.T) {
	in := &destination.Integration{Type: "x", APIBase: "https://api.example.com"}
	for _, tt := range []struct {
		base, path string
		query      url.Values
		want       string
	}{
		{"", "/contacts", nil, "https://api.example.com/contacts"},
		{"http://127.0.0.1:9999/prefix/", "/contacts/" + url.PathEscape("a/b c%d") + "/tags", nil,
			"http://127.0.0.1:9999/prefix/contacts/a%2Fb%20c%25d/tags"},
		{"http://127.0.0.1:9999", "/search", url.Values{"q": {"a&b"}}, "http://127.0.0.1:9999/search?q=a%26b"},
		{"not a url", "/contacts", nil, "https://api.example.com/contacts"}, // unusable: the documented base
	} {
		opts := destination.Options{Apps: map[string]destination.OAuthApp{"x": {APIBase: tt.base}}}
		r := destination.NewREST(opts, in, "UA/1", 0)
		if got := r.URL(tt.path, tt.query); got != tt.want {
			t.Errorf("base %q, path %q: URL = %q, want %q", tt.base, tt.path, got, tt.want)
		}
		r.Cleanup()
	}
}
