package dump

import (
	"strings"
	"testing"
	"time"
)

func TestStamp(t *testing.T) {
	shanghai := time.FixedZone("GMT+8", 8*3600)
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{time.Time{}, ""},
		{time.Date(2026, 3, 1, 10, 0, 0, 123456000, shanghai), "2026-03-01T02:00:00.123456Z"},
		{time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC), "1969-12-31T23:59:59.999999Z"},
	} {
		got := stamp(tc.t)
		if got != tc.want {
			t.Errorf("stamp(%v) = %q, want %q", tc.t, got, tc.want)
		}
		back, err := parseStamp("t", got)
		if err != nil || !back.Equal(tc.t) || back.IsZero() != tc.t.IsZero() {
			t.Errorf("parseStamp(%q) = %v, %v; want %v", got, back, err, tc.t)
		}
		if !tc.t.IsZero() && back.Location() != time.UTC {
			t.Errorf("parseStamp(%q) is in %v, want UTC as the stores read times", got, back.Location())
		}
	}
	// Another offset names the same instant.
	if got, err := parseStamp("t", "2026-03-01T10:00:00.123456+08:00"); err != nil || stamp(got) != "2026-03-01T02:00:00.123456Z" {
		t.Errorf("an offset: %v %v", got, err)
	}
	for _, bad := range []string{"2026-03-01T02:00:00.1234567Z", "2026-03-01", "1970-01-01T00:00:00Z", "yesterday"} {
		if _, err := parseStamp("created_at", bad); err == nil || !strings.HasPrefix(err.Error(), "created_at: ") {
			t.Errorf("parseStamp(%q): %v, want an error naming the field", bad, err)
		}
	}
}
