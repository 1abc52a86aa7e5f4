package natsout

import (
	"fmt"
	"strings"
)

// token is s as one subject token: letters, digits, '-' and '_' as they
// are, every other byte as '%' and its two upper-case hex digits. So a
// brand id that holds what a NATS token may not ('.', '*', '>',
// whitespace), or bytes that not every NATS client handles (anything not
// ASCII), still has one token of its own, the same one every time, and
// two brand ids never share one ('%' itself is escaped). '$' is escaped
// too, so no brand token starts with it: jifen's own subjects (the
// stream's start marker) do.
func token(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if plain(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func plain(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// BrandToken is how brandID appears in subjects and message ids: see
// token. Consumers that filter by brand build their subject with it.
func BrandToken(brandID string) string { return token(brandID) }

// checkSubject refuses s unless it is one or more dot-separated tokens of
// letters, digits, '-' and '_': a subject with no wildcard that every
// client reads the same way.
func checkSubject(s string) error {
	if s == "" {
		return fmt.Errorf("empty")
	}
	for _, t := range strings.Split(s, ".") {
		if t == "" {
			return fmt.Errorf("%q has an empty token (a leading, trailing or double '.')", s)
		}
		for i := 0; i < len(t); i++ {
			if !plain(t[i]) {
				return fmt.Errorf("%q holds %q: only letters, digits, '-', '_' and '.' between tokens", s, t[i])
			}
		}
	}
	return nil
}

// CheckPrefix tells whether p may prefix jifen's subjects
// (<prefix>.<brand>.<type>): dot-separated tokens of letters, digits, '-'
// and '_'.
func CheckPrefix(p string) error { return checkSubject(p) }

// CheckStream tells whether name may name a stream: letters, digits, '-'
// and '_', at most 255 bytes (NATS refuses '.', '*', '>', whitespace and
// path separators; jifen keeps to what every tool prints plainly).
func CheckStream(name string) error {
	if name == "" {
		return fmt.Errorf("empty")
	}
	if len(name) > 255 {
		return fmt.Errorf("%d bytes, at most 255", len(name))
	}
	for i := 0; i < len(name); i++ {
		if !plain(name[i]) {
			return fmt.Errorf("%q holds %q: only letters, digits, '-' and '_'", name, name[i])
		}
	}
	return nil
}

// covers reports whether the stream subject filter f takes every subject
// under prefix (prefix.>).
func covers(f, prefix string) bool {
	ft, pt := strings.Split(f, "."), append(strings.Split(prefix, "."), ">")
	for i, t := range ft {
		if t == ">" {
			return true
		}
		if i >= len(pt) || (t != "*" && t != pt[i]) || (t == "*" && pt[i] == ">") {
			return false
		}
	}
	return len(ft) == len(pt)
}

// OutputName is how event retention knows a stream and prefix among the
// outputs whose positions it keeps (points.EventLog).
func OutputName(stream, prefix string) string { return "nats:" + stream + ":" + prefix }
