package destination

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()

	now := time.Date(2026, 3, 22, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30", 30 * time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{"0", 0, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{"Sunday, 22-Mar-26 12:01:00 GMT", time.Minute, true}, // RFC 850
		{"Sun Mar 22 12:02:00 2026", 2 * time.Minute, true},   // ANSI C asctime
		{now.Format(http.TimeFormat), 0, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, false}, // in the past
		{"", 0, false},
		{"-5", 0, false},
		{"+5", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"99999999999999999999", 0, false}, // overflows
		{strconv.FormatInt(int64(maxRetryAfter/time.Second)+1, 10), 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseRetryAfter(%q) = %s, %v; want %s, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2026, 3, 22, 12, 0, 0, 0, time.UTC)
	for _, seed := range []string{"30", "0", "-1", "Sun, 22 Mar 2026 12:01:00 GMT", "Sunday, 22-Mar-26 12:01:00 GMT", "Sun Mar 22 12:02:00 2026", "1e3", "  7  ", "18446744073709551616"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := ParseRetryAfter(v, now)
		if !ok && d != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %s with ok false", v, d)
		}
		if d < 0 || d > maxRetryAfter {
			t.Fatalf("ParseRetryAfter(%q) = %s, out of range", v, d)
		}
		if n, err := strconv.ParseUint(v, 10, 63); err == nil && ok && d != time.Duration(n)*time.Second {
			t.Fatalf("ParseRetryAfter(%q) = %s, want %d seconds", v, d, n)
		}
	})
}
