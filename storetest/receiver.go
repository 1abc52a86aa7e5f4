package storetest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"jifen/points"
)

// Receiver is a webhook consumer for tests: an HTTP server on 127.0.0.1
// that checks every request's signature as the Standard Webhooks
// description says (VerifySignature, written from the description, not
// with jifen's code), records what arrives and when it is acknowledged,
// and answers as Answer says.
type Receiver struct {
	t    testing.TB
	addr string

	mu       sync.Mutex
	srv      *http.Server
	secret   string
	answer   func(n int, a Arrival) (status int, delay time.Duration)
	clock    int64 // orders arrivals and acknowledgements
	n        int
	arrivals []Arrival
	inFlight map[string][]context.Context
	problems []string
	rawHead  http.Header
	rawBody  []byte
}

// Arrival is one request the receiver got.
type Arrival struct {
	Seq     int64 // when it arrived, on the receiver's clock
	AckSeq  int64 // when it was answered 2xx; 0 if it was not
	Status  int
	ID      string // webhook-id, the event id
	Type    string
	BrandID string
	Subject string
	Pos     int64 // the event's position (jifenposition)
	FlowSeq int64 // data.seq of a flow's event
}

// NewReceiver starts a receiver that acknowledges everything (204) and
// checks signatures against secret (set later with SetSecret if not yet
// known). It stops when the test ends.
func NewReceiver(t testing.TB, secret string) *Receiver {
	t.Helper()
	r := &Receiver{t: t, secret: secret, inFlight: map[string][]context.Context{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = ln.Addr().String()
	r.serve(ln)
	t.Cleanup(r.Down)
	return r
}

// URL is where the receiver listens.
func (r *Receiver) URL() string { return "http://" + r.addr + "/hooks" }

// SetSecret sets the secret signatures are checked against.
func (r *Receiver) SetSecret(s string) { r.mu.Lock(); r.secret = s; r.mu.Unlock() }

// SetAnswer decides the answer to each request from now on: n counts
// every request since the receiver started, from 1. nil acknowledges
// everything.
func (r *Receiver) SetAnswer(f func(n int, a Arrival) (status int, delay time.Duration)) {
	r.mu.Lock()
	r.answer = f
	r.mu.Unlock()
}

func (r *Receiver) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(r.handle), ReadHeaderTimeout: 10 * time.Second}
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
	go srv.Serve(ln)
}

// Down stops the receiver: it refuses connections and drops those open.
func (r *Receiver) Down() {
	r.mu.Lock()
	srv := r.srv
	r.srv = nil
	r.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

// Up starts the receiver again on the same address.
func (r *Receiver) Up() {
	r.t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port may take a moment to be free again
		if ln, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatalf("receiver up again on %s: %v", r.addr, err)
	}
	r.serve(ln)
}

func (r *Receiver) handle(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return
	}
	r.mu.Lock()
	secret := r.secret
	r.rawHead, r.rawBody = req.Header.Clone(), body
	r.mu.Unlock()
	if err := VerifySignature(secret, req.Header, body, time.Now()); err != nil {
		r.problem("request %s: %v", req.Header.Get("webhook-id"), err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var ce struct {
		SpecVersion string          `json:"specversion"`
		ID          string          `json:"id"`
		Type        string          `json:"type"`
		Source      string          `json:"source"`
		Subject     string          `json:"subject"`
		Position    int64           `json:"jifenposition"`
		Data        json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &ce); err != nil || ce.SpecVersion != "1.0" || ce.ID != req.Header.Get("webhook-id") {
		r.problem("request %s: not the CloudEvent of its webhook-id: %v %s", req.Header.Get("webhook-id"), err, body)
		http.Error(w, "bad event", http.StatusBadRequest)
		return
	}
	a := Arrival{ID: ce.ID, Type: ce.Type, BrandID: strings.TrimPrefix(ce.Source, "jifen/"), Subject: ce.Subject, Pos: ce.Position}
	if ce.Type == points.EventFlowCreated {
		var d points.FlowEventData
		if err := json.Unmarshal(ce.Data, &d); err != nil {
			r.problem("event %s: %v", ce.ID, err)
		}
		a.FlowSeq = d.Seq
	}
	r.mu.Lock()
	earlier := append([]context.Context(nil), r.inFlight[a.ID]...)
	r.inFlight[a.ID] = append(r.inFlight[a.ID], req.Context())
	r.mu.Unlock()
	// An earlier request of this event still in flight is a duplicate
	// sent at once — unless its sender gave up on it (a timeout), which
	// the server notices a moment after the connection closes.
	for _, c := range earlier {
		select {
		case <-c.Done():
		case <-time.After(500 * time.Millisecond):
			r.problem("event %s arrived while an earlier request of it was in flight", a.ID)
		}
	}
	r.mu.Lock()
	r.clock++
	r.n++
	a.Seq = r.clock
	status, delay := http.StatusNoContent, time.Duration(0)
	if r.answer != nil {
		status, delay = r.answer(r.n, a)
	}
	r.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-req.Context().Done():
		}
	}
	r.mu.Lock()
	for i, c := range r.inFlight[a.ID] {
		if c == req.Context() {
			r.inFlight[a.ID] = append(r.inFlight[a.ID][:i], r.inFlight[a.ID][i+1:]...)
			break
		}
	}
	a.Status = status
	if status/100 == 2 && req.Context().Err() == nil {
		r.clock++
		a.AckSeq = r.clock
	}
	r.arrivals = append(r.arrivals, a)
	r.mu.Unlock()
	w.WriteHeader(status)
}

func (r *Receiver) problem(format string, args ...any) {
	r.mu.Lock()
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

// InFlight counts the requests being answered now.
func (r *Receiver) InFlight() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, cs := range r.inFlight {
		for _, c := range cs {
			if c.Err() == nil {
				n++
			}
		}
	}
	return n
}

// Arrivals are the requests answered so far, in the order they were
// answered.
func (r *Receiver) Arrivals() []Arrival {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Arrival(nil), r.arrivals...)
}

// Last is the last request's headers and body, as received.
func (r *Receiver) Last() (http.Header, []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rawHead.Clone(), append([]byte(nil), r.rawBody...)
}

// Acked is the set of event ids acknowledged.
func (r *Receiver) Acked() map[string]bool {
	ids := map[string]bool{}
	for _, a := range r.Arrivals() {
		if a.AckSeq > 0 {
			ids[a.ID] = true
		}
	}
	return ids
}

// WaitAcked waits until every id of want is acknowledged.
func (r *Receiver) WaitAcked(t testing.TB, want []points.Event, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		acked := r.Acked()
		missing := 0
		var first string
		for _, ev := range want {
			if !acked[ev.ID] {
				if missing == 0 {
					first = fmt.Sprintf("%s (%s of %q at %d)", ev.ID, ev.Type, ev.Subject, ev.Pos)
				}
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, %d of %d events not acknowledged, the first %s; %d requests arrived; problems: %v",
				within, missing, len(want), first, len(r.Arrivals()), r.Problems())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Problems are what the receiver found wrong: bad signatures, bodies that
// are not the event of their webhook-id, an event arriving while a
// request of it was still in flight.
func (r *Receiver) Problems() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.problems...)
}

// Check checks what arrived against want, the events the endpoint
// subscribes to: every one acknowledged, nothing else acknowledged, no
// problem; and a member's events in order — none arrives before the one
// before it (of its brand and subject, by position) was acknowledged, and
// flows' data.seq grows.
func (r *Receiver) Check(t testing.TB, want []points.Event) {
	t.Helper()
	if ps := r.Problems(); len(ps) > 0 {
		t.Fatalf("receiver problems: %v", ps)
	}
	arr := r.Arrivals()
	firstSeen := map[string]int64{}
	firstAck := map[string]int64{}
	for _, a := range arr {
		if s, ok := firstSeen[a.ID]; !ok || a.Seq < s {
			firstSeen[a.ID] = a.Seq
		}
		if a.AckSeq > 0 {
			if s, ok := firstAck[a.ID]; !ok || a.AckSeq < s {
				firstAck[a.ID] = a.AckSeq
			}
		}
	}
	wanted := map[string]bool{}
	type queue struct{ brand, subject string }
	queues := map[queue][]points.Event{}
	for _, ev := range want {
		wanted[ev.ID] = true
		if _, ok := firstAck[ev.ID]; !ok {
			t.Fatalf("event %s (%s of %q at %d) never acknowledged", ev.ID, ev.Type, ev.Subject, ev.Pos)
		}
		q := queue{ev.BrandID, ev.Subject}
		queues[q] = append(queues[q], ev)
	}
	for id := range firstAck {
		if !wanted[id] {
			t.Fatalf("event %s acknowledged, but it is not one the endpoint should get", id)
		}
	}
	for q, evs := range queues {
		sort.Slice(evs, func(i, j int) bool { return evs[i].Pos < evs[j].Pos })
		for i := 1; i < len(evs); i++ {
			prev, cur := evs[i-1], evs[i]
			if firstSeen[cur.ID] < firstAck[prev.ID] {
				t.Fatalf("member %s/%q: event at %d arrived (at %d) before the one at %d was acknowledged (at %d)",
					q.brand, q.subject, cur.Pos, firstSeen[cur.ID], prev.Pos, firstAck[prev.ID])
			}
		}
	}
	lastSeq := map[string]int64{}
	for _, a := range arr {
		if a.Type != points.EventFlowCreated || a.AckSeq == 0 {
			continue
		}
		k := a.BrandID + "/" + a.Subject
		if a.FlowSeq < lastSeq[k] {
			t.Fatalf("member %s: flow #%d acknowledged after #%d", k, a.FlowSeq, lastSeq[k])
		}
		lastSeq[k] = a.FlowSeq
	}
}

// VerifySignature checks a Standard Webhooks request as its description
// says: webhook-signature holds space-separated "v1,<base64>" signatures,
// one of which must be the HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>"
// keyed by the base64-decoded part of the secret after "whsec_"; the
// timestamp must be within five minutes of now.
func VerifySignature(secret string, h http.Header, body []byte, now time.Time) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || !strings.HasPrefix(secret, "whsec_") {
		return fmt.Errorf("secret %q is not whsec_ and base64", secret)
	}
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return errors.New("webhook-id, webhook-timestamp or webhook-signature missing")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp %q is not unix seconds", ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("webhook-timestamp %s is %s from now", ts, d)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := mac.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		version, b64, ok := strings.Cut(s, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no signature matches")
}

// waitFor polls cond until it holds or within passes.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
