package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"jifen/ledger"
)

// Log records and lists the entries of a Store.
type Log struct {
	store Store
	now   func() time.Time
}

// New returns the log kept in s, timing entries by now (time.Now if nil).
func New(s Store, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{store: s, now: now}
}

// Record appends e, timed now, with its Request, Before and After
// redacted. An Outcome of "" is OK. It fails, appending nothing, for an
// action outside the vocabulary or JSON that does not parse, and when the
// store fails: the caller must then say that the action was not recorded.
func (l *Log) Record(ctx context.Context, e Entry) (Entry, error) {
	if !KnownAction(e.Action) {
		return e, fmt.Errorf("audit: unknown action %q", e.Action)
	}
	if e.Outcome == "" {
		e.Outcome = OK
	}
	var err error
	for _, f := range []struct {
		name string
		v    *json.RawMessage
	}{{"request", &e.Request}, {"before", &e.Before}, {"after", &e.After}} {
		if *f.v, err = Redact(*f.v); err != nil {
			return e, fmt.Errorf("audit: %s %s: %w", e.Action, f.name, err)
		}
	}
	// What a caller typed is recorded as typed, but storable: a NUL or
	// bad UTF-8 (which PostgreSQL refuses) becomes U+FFFD.
	for _, f := range []*string{&e.OperatorID, &e.OperatorName, &e.ClientAddr, &e.BrandID, &e.Target, &e.Message} {
		*f = storable(*f)
	}
	e.At = l.now().UTC().Truncate(time.Microsecond)
	stored, err := l.store.AppendAudit(ctx, e)
	if err != nil {
		return e, fmt.Errorf("audit: record %s: %w", e.Action, err)
	}
	return stored, nil
}

// storable is s with each NUL and each byte of bad UTF-8 replaced by
// U+FFFD.
func storable(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// List returns the entries q selects, newest first, and the cursor of the
// next page (0 when there is none). A limit of 0 is DefaultLimit.
func (l *Log) List(ctx context.Context, q Query) ([]Entry, int64, error) {
	switch {
	case q.Limit < 0 || q.Limit > MaxLimit:
		return nil, 0, ledger.Invalidf("limit", "must be between 1 and %d", MaxLimit)
	case q.Before < 0:
		return nil, 0, ledger.Invalid("before", "must be a positive sequence number")
	case !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To):
		return nil, 0, ledger.Invalid("to", "must be after from")
	case q.Action != "" && !actionFilter(q.Action):
		return nil, 0, ledger.Invalidf("action", "unknown action %q", q.Action)
	}
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	es, err := l.store.AuditEntries(ctx, q)
	if err != nil {
		return nil, 0, fmt.Errorf("audit: list: %w", err)
	}
	var next int64
	if len(es) == q.Limit && es[len(es)-1].Seq > 1 {
		next = es[len(es)-1].Seq
	}
	return es, next, nil
}

// actionFilter reports whether a Query.Action can match: an action of
// the vocabulary, or a prefix ending in ".*" that some action starts with.
func actionFilter(a string) bool {
	prefix, ok := strings.CutSuffix(a, "*")
	if !ok {
		return KnownAction(a)
	}
	if !strings.HasSuffix(prefix, ".") {
		return false
	}
	if prefix == OperatorPrefix {
		return true
	}
	for known := range actions {
		if strings.HasPrefix(known, prefix) {
			return true
		}
	}
	return false
}

// Redacted replaces the value of every secret key.
const Redacted = "[redacted]"

// secretWords mark a key whose value is a secret, wherever they appear in
// it (app_secret, new_password, csrf_token, Authorization, …).
var secretWords = []string{"secret", "password", "passwd", "token", "authorization", "signature", "cookie"}

// IsSecretKey reports whether a JSON key names a secret.
func IsSecretKey(key string) bool {
	k := strings.ToLower(key)
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// Redact returns raw with the value of every key that names a secret
// replaced by Redacted, at any depth, compacted with object keys sorted;
// nil for nil (or JSON null).
func Redact(raw json.RawMessage) (json.RawMessage, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if v == nil {
		return nil, nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(redact(v)); err != nil {
		return nil, err
	}
	return json.RawMessage(bytes.TrimSuffix(b.Bytes(), []byte("\n"))), nil
}

func redact(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if IsSecretKey(k) && x != nil && x != "" {
				v[k] = Redacted
			} else {
				v[k] = redact(x)
			}
		}
	case []any:
		for i, x := range v {
			v[i] = redact(x)
		}
	}
	return v
}

// JSON is v as JSON, for an entry's Request, Before or After; nil for
// nil. A value that cannot be encoded is recorded as a JSON string saying
// why, so the entry is still written and shows the failure.
func JSON(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal("unencodable: " + err.Error()) // a string always encodes
	}
	return b
}
