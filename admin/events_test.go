package admin

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"jifen/points"
)

func TestAPI_Events(t *testing.T) {
	e := newAPIEnv(t)
	for _, c := range []struct{ query, field string }{
		{"after=-1", "after"}, {"after=x", "after"}, {"limit=0", "limit"}, {"limit=1001", "limit"},
		{"type=point.nope", "type"}, {"wait=61s", "wait"}, {"wait=-1s", "wait"}, {"wait=soon", "wait"},
		{"brand_id=%00", "brand_id"},
	} {
		if got := e.do("GET", "/admin/v1/events?"+c.query, nil).wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")["field"]; got != c.field {
			t.Errorf("%s: field %v, want %s", c.query, got, c.field)
		}
	}
	// The world's four customers were created: four events, then a page of
	// two by cursor.
	a := e.do("GET", "/admin/v1/events", nil).want(t, http.StatusOK)
	if n := len(a.get(t, "events").([]any)); n != 4 {
		t.Fatalf("%d events at the start: %s", n, a.body)
	}
	if a.get(t, "events.0.specversion") != "1.0" || a.get(t, "events.0.type") != points.EventCustomerCreated ||
		a.get(t, "events.0.source") != "jifen/B1" {
		t.Fatalf("not a CloudEvent: %s", a.body)
	}
	next := a.get(t, "next").(string)
	if next != strconv.FormatInt(a.num(t, "events.3.jifenposition"), 10) {
		t.Fatalf("next %s is not the last event's position: %s", next, a.body)
	}
	a = e.do("GET", "/admin/v1/events?limit=2&brand_id=B1&type=customer.created", nil).want(t, http.StatusOK)
	if n := len(a.get(t, "events").([]any)); n != 2 {
		t.Fatalf("limit 2: %s", a.body)
	}
	// A filtered read that finds nothing has still looked at every event
	// up to the newest: its cursor moves there (a quiet brand's consumer
	// does not stay behind).
	a = e.do("GET", "/admin/v1/events?type=point.expiring", nil).want(t, http.StatusOK)
	if len(a.get(t, "events").([]any)) != 0 || a.get(t, "next") != next {
		t.Fatalf("a filtered read of nothing: %s, want next %s", a.body, next)
	}
	// Nothing new: with no wait the answer comes at once, empty, and the
	// cursor stays.
	a = e.do("GET", "/admin/v1/events?after="+next, nil).want(t, http.StatusOK)
	if len(a.get(t, "events").([]any)) != 0 || a.get(t, "next") != next {
		t.Fatalf("nothing new: %s", a.body)
	}
	// A cursor beyond the newest event is another database's: refused,
	// rather than waited on.
	beyond, _ := strconv.ParseInt(next, 10, 64)
	for _, q := range []string{"", "&wait=5s", "&brand_id=B1"} {
		a = e.do("GET", "/admin/v1/events?after="+strconv.FormatInt(beyond+1, 10)+q, nil)
		if a.wantError(t, http.StatusBadRequest, "INVALID_PARAMETER")["field"] != "after" {
			t.Fatalf("a cursor beyond the newest event%s: %s", q, a.body)
		}
	}
	// A long poll is answered as soon as a payment commits.
	got := make(chan answer, 1)
	start := time.Now()
	go func() { got <- e.do("GET", "/admin/v1/events?wait=20s&after="+next, nil) }()
	time.Sleep(200 * time.Millisecond)
	flow := e.MustCharge("C1", "g1", 100)
	a = (<-got).want(t, http.StatusOK)
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("the long poll took %v", took)
	}
	if a.get(t, "events.0.id") != flow.FlowID || a.get(t, "events.0.data.change_point") != float64(100) ||
		a.get(t, "events.0.subject") != "C1" {
		t.Fatalf("the charge's event: %s", a.body)
	}
	// Without anything new, a long poll waits its time, then answers empty.
	start = time.Now()
	a = e.do("GET", "/admin/v1/events?wait=1s&after="+a.get(t, "next").(string), nil).want(t, http.StatusOK)
	if took := time.Since(start); took < time.Second || len(a.get(t, "events").([]any)) != 0 {
		t.Fatalf("waited %v for nothing: %s", took, a.body)
	}
}

// TestAPI_EventsDrain: a server that stops answers its long polls at once.
func TestAPI_EventsDrain(t *testing.T) {
	e := newAPIEnv(t)
	api := New(e.Admin(), e.ops, nil, nil)
	ts := httptest.NewServer(api)
	defer ts.Close()
	e.url = ts.URL
	got := make(chan answer, 1)
	start := time.Now()
	a := e.do("GET", "/admin/v1/events", nil).want(t, http.StatusOK)
	go func() { got <- e.do("GET", "/admin/v1/events?wait=30s&after="+a.get(t, "next").(string), nil) }()
	time.Sleep(200 * time.Millisecond)
	api.Drain()
	a = (<-got).want(t, http.StatusOK)
	if took := time.Since(start); took > 10*time.Second || len(a.get(t, "events").([]any)) != 0 {
		t.Fatalf("drained after %v: %s", took, a.body)
	}
}
