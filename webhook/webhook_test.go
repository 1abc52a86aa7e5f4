package webhook

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"jifen/points"
)

// TestSign checks the signature against the Standard Webhooks
// specification's example.
func TestSign(t *testing.T) {
	got, err := Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
		[]byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; err != nil || got != want {
		t.Fatalf("Sign = %q, %v; want %q", got, err, want)
	}
	for _, bad := range []string{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_!!", "whsec_c2hvcnQ="} {
		if _, err := Sign(bad, "id", 1, nil); err == nil {
			t.Errorf("Sign with secret %q: no error", bad)
		}
	}
}

func TestForbidden(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1":        "loopback",
		"127.8.9.10":       "loopback",
		"::1":              "loopback",
		"::ffff:127.0.0.1": "loopback",
		"169.254.169.254":  "link-local",
		"fe80::1":          "link-local",
		"10.1.2.3":         "private",
		"172.16.0.1":       "private",
		"192.168.1.1":      "private",
		"fd00:ec2::254":    "private",
		"0.0.0.0":          "unspecified",
		"0.1.2.3":          "unspecified",
		"::":               "unspecified",
		"100.100.100.200":  "shared (carrier-grade NAT)",
		"239.1.2.3":        "multicast",
		"8.8.8.8":          "",
		"2001:4860::8888":  "",
		"172.32.0.1":       "",
	} {
		if got := forbidden(netip.MustParseAddr(addr)); got != want {
			t.Errorf("forbidden(%s) = %q, want %q", addr, got, want)
		}
	}
}

// TestClient_Guard: the guard refuses the dialled address, whatever the
// URL named; allowed, the same request goes through.
func TestClient_Guard(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	port := srv.URL[strings.LastIndexByte(srv.URL, ':'):]
	for _, u := range []string{srv.URL, "http://localhost" + port} {
		resp, err := newClient(time.Second, false, 1).Post(u, "text/plain", nil)
		var ae *AddressError
		if err == nil {
			resp.Body.Close()
		}
		if !errors.As(err, &ae) || ae.Kind != "loopback" {
			t.Errorf("POST %s: %v, want a refused loopback address", u, err)
		}
	}
	resp, err := newClient(time.Second, true, 1).Post(srv.URL, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// TestClient_KeepsConnections: a dispatcher's attempts in flight at once
// (its Workers) reuse their connections to a busy endpoint rather than
// closing all but a few after each wave and dialling again.
func TestClient_KeepsConnections(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	d := NewDispatcher(nil, nil, Options{AllowPrivate: true})
	workers := d.opts.Workers
	for range 10 { // waves of attempts, as a batch's members make them
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				resp, err := d.client.Post(srv.URL, "text/plain", nil)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
			})
		}
		wg.Wait()
	}
	if n := conns.Load(); n > int64(workers) {
		t.Errorf("%d connections for %d waves of %d requests, want at most %d", n, 10, workers, workers)
	}
}

// TestCursor_Width: a batch attempts enough members at once to make its
// attempts within batchTime at the endpoint's latency — few against an
// endpoint that answers at once, more for a bigger batch or a slower
// endpoint — never fewer than four, nor more than the workers.
func TestCursor_Width(t *testing.T) {
	var c cursor
	if w := c.width(1000, 64); w != minWidth {
		t.Fatalf("width before any answer: %d, want %d", w, minWidth)
	}
	for _, tt := range []struct {
		latency time.Duration
		n, most int
		want    int
	}{
		{time.Millisecond, 100, 64, 4},
		{time.Millisecond, 1000, 64, 11},
		{10 * time.Millisecond, 100, 64, 11},
		{100 * time.Millisecond, 100, 64, 64},
		{100 * time.Millisecond, 100, 2, 2},
		{time.Millisecond, 10, 2, 2},
	} {
		var c cursor
		for range 100 {
			c.observe(tt.latency)
		}
		if w := c.width(tt.n, tt.most); w < tt.want-1 || w > tt.want {
			t.Errorf("%d events, answers in %s, up to %d: width %d, want %d", tt.n, tt.latency, tt.most, w, tt.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	d := &Dispatcher{opts: Options{BackoffBase: 5 * time.Second, BackoffMax: time.Hour}.withDefaults()}
	for n, ceiling := range map[int]time.Duration{1: 5 * time.Second, 2: 10 * time.Second, 5: 80 * time.Second, 12: time.Hour, 1000: time.Hour} {
		for range 100 {
			if b := d.backoff(n); b <= 0 || b > ceiling {
				t.Fatalf("backoff(%d) = %s, want in (0, %s]", n, b, ceiling)
			}
		}
	}
}

func TestClip(t *testing.T) {
	if got := clip("a\x00b\nc"); got != "a b c" {
		t.Errorf("clip = %q", got)
	}
	long := strings.Repeat("积", 200)
	got := clip(long)
	if len(got) > maxErrorBytes+len("…") || !strings.HasSuffix(got, "…") || !strings.HasPrefix(got, "积积") {
		t.Errorf("clip of %d bytes: %d bytes", len(long), len(got))
	}
}

// TestAttempt_Answers: what an attempt makes of the answers an endpoint
// may give, over http and https — an acknowledgement however long its
// body, a refusal with its reason, a redirect not followed, no answer in
// time — and that the request is the signed event.
func TestAttempt_Answers(t *testing.T) {
	secret := points.NewWebhookSecret()
	ev := points.Event{ID: "ev-1", BrandID: "B1", Type: points.EventFlowCreated, Subject: "C1",
		Time: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), Pos: 7, Data: []byte(`{"flow_id":"f1"}`)}
	want, err := ev.CloudEvent()
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	var got atomic.Value
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got.Store([]string{r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"),
			r.Header.Get("Content-Type"), string(body)})
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/long", func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("x"), 1<<20)) // chunked, a megabyte
	})
	mux.HandleFunc("/refuse", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "  no such tenant ", http.StatusUnprocessableEntity)
	})
	mux.HandleFunc("/move", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://elsewhere.example/x", http.StatusFound)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Second)
	})
	for _, tls := range []bool{false, true} {
		var srv *httptest.Server
		if tls {
			srv = httptest.NewTLSServer(mux)
		} else {
			srv = httptest.NewServer(mux)
		}
		defer srv.Close()
		d := NewDispatcher(nil, nil, Options{AllowPrivate: true, Timeout: 300 * time.Millisecond})
		if tls {
			d.client.Transport.(*http.Transport).TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
		}
		at := time.Now()
		try := func(path string) Attempt {
			return d.attempt(context.Background(), Claimed{URL: srv.URL + path, Secret: secret, Event: ev}, at)
		}
		if a := try("/ok"); a.Error != "" || a.Status != http.StatusNoContent || a.N != 1 {
			t.Errorf("tls=%v: acknowledged: %+v", tls, a)
		}
		sig, err := Sign(secret, ev.ID, at.Unix(), want)
		if err != nil {
			t.Fatal(err)
		}
		h := got.Load().([]string)
		if h[0] != ev.ID || h[1] != strconv.FormatInt(at.Unix(), 10) || h[2] != sig ||
			h[3] != "application/cloudevents+json; charset=utf-8" || h[4] != string(want) {
			t.Errorf("tls=%v: the request: %q", tls, h)
		}
		if a := try("/long"); a.Error != "" || a.Status != http.StatusOK {
			t.Errorf("tls=%v: acknowledged with a long body: %+v", tls, a)
		}
		if a := try("/refuse"); a.Status != http.StatusUnprocessableEntity || a.Error != "HTTP 422: no such tenant" {
			t.Errorf("tls=%v: refused: %+v", tls, a)
		}
		if a := try("/move"); a.Status != http.StatusFound ||
			a.Error != `HTTP 302: redirect to "http://elsewhere.example/x" not followed` {
			t.Errorf("tls=%v: redirected: %+v", tls, a)
		}
		if a := try("/slow"); a.Status != 0 || a.Error != "no answer within the timeout (300ms)" ||
			a.Latency < 300*time.Millisecond || a.Latency > time.Second {
			t.Errorf("tls=%v: no answer in time: %+v", tls, a)
		}
		// The connection cut short by the long body is not reused
		// broken: the next attempt is acknowledged.
		if a := try("/ok"); a.Error != "" {
			t.Errorf("tls=%v: after the others: %+v", tls, a)
		}
	}
}
