package webhook

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
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
		resp, err := newClient(time.Second, false).Post(u, "text/plain", nil)
		var ae *AddressError
		if err == nil {
			resp.Body.Close()
		}
		if !errors.As(err, &ae) || ae.Kind != "loopback" {
			t.Errorf("POST %s: %v, want a refused loopback address", u, err)
		}
	}
	resp, err := newClient(time.Second, true).Post(srv.URL, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
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
