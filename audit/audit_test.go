package audit

import (
	"encoding/json"
	"testing"
	"time"
)

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		`{"b":1,"a":{"App_Secret":"x","list":[{"password":"p","name":"n"}]},"token":""}`: `{"a":{"App_Secret":"[redacted]","list":[{"name":"n","password":"[redacted]"}]},"b":1,"token":""}`,
		`{"n":12345678901234567890,"Authorization":"Bearer t"}`:                          `{"Authorization":"[redacted]","n":12345678901234567890}`,
		`null`:  ``,
		` `:     ``,
		`"<a>"`: `"<a>"`,
	} {
		got, err := Redact(json.RawMessage(in))
		if err != nil || string(got) != want {
			t.Errorf("Redact(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	if _, err := Redact(json.RawMessage(`{`)); err == nil {
		t.Error("Redact of broken JSON succeeded")
	}
}

func TestKnownAction(t *testing.T) {
	for a, want := range map[string]bool{SignIn: true, WebhookRedeliver: true, "operator.create": true, "operator.": false,
		"nope": false, "": false} {
		if KnownAction(a) != want {
			t.Errorf("KnownAction(%q) = %v", a, !want)
		}
	}
	for a, want := range map[string]bool{"webhook.*": true, "operator.*": true, "signin.*": true, "nope.*": false, "web*": false} {
		if actionFilter(a) != want {
			t.Errorf("actionFilter(%q) = %v", a, !want)
		}
	}
}

// TestChain: every field is covered by the hash; a chain checks link by
// link and against its head.
func TestChain(t *testing.T) {
	at := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	var head Head
	var es []Entry
	for i := range 3 {
		e := Seal(Entry{At: at, OperatorName: "a", Action: SignIn, Outcome: OK, Target: string(rune('x' + i))}, head)
		es = append(es, e)
		head = Head{e.Seq, e.Hash}
	}
	check := func(es []Entry, h Head) error {
		var c Chain
		for _, e := range es {
			c.Add(e)
		}
		c.End(h)
		return c.Err()
	}
	if err := check(es, head); err != nil {
		t.Fatal(err)
	}
	edited := append([]Entry(nil), es...)
	edited[1].Request = json.RawMessage(`{}`)
	if err := check(edited, head); err == nil || err.(*Break).Seq != 2 {
		t.Errorf("edited entry 2: %v", err)
	}
	if err := check(es[:2], head); err == nil || err.(*Break).Seq != 3 {
		t.Errorf("entry 3 cut off: %v", err)
	}
	if err := check([]Entry{es[0], es[2]}, head); err == nil || err.(*Break).Seq != 2 {
		t.Errorf("entry 2 removed: %v", err)
	}
	if err := check(es, Head{3, "other"}); err == nil || err.(*Break).Seq != 3 {
		t.Errorf("head hash changed: %v", err)
	}
}
