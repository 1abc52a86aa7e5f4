package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readmeVerify is the README's Go example, as it is printed there.
func readmeVerify(secret string, h http.Header, body []byte) bool {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return false
	}
	id, ts := h.Get("webhook-id"), h.Get("webhook-timestamp")
	sent, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sent, 0)).Abs() > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return true
		}
	}
	return false
}

// TestREADME_VerifyExamples: the README's Go and Node examples accept what
// jifen signs and refuse a tampered body, a wrong secret and a stale
// timestamp.
func TestREADME_VerifyExamples(t *testing.T) {
	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	other := "whsec_" + base64.StdEncoding.EncodeToString([]byte("fedcba9876543210fedcba9876543210"))
	body := []byte(`{"specversion":"1.0","id":"01J","type":"point.flow.created","data":{"change_point":40}}`)
	now := time.Now().Unix()
	sig, err := Sign(secret, "01J", now, body)
	if err != nil {
		t.Fatal(err)
	}
	stale, err := Sign(secret, "01J", now-3600, body)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, secret, ts, sig string
		body                  []byte
		want                  bool
	}{
		{"signed", secret, strconv.FormatInt(now, 10), sig, body, true},
		{"one of several signatures", secret, strconv.FormatInt(now, 10), "v1,AAAA " + sig, body, true},
		{"tampered body", secret, strconv.FormatInt(now, 10), sig, []byte(strings.Replace(string(body), "40", "41", 1)), false},
		{"wrong secret", other, strconv.FormatInt(now, 10), sig, body, false},
		{"stale", secret, strconv.FormatInt(now-3600, 10), stale, body, false},
	}
	node, nodeErr := exec.LookPath("node")
	for _, c := range cases {
		h := http.Header{}
		h.Set("webhook-id", "01J")
		h.Set("webhook-timestamp", c.ts)
		h.Set("webhook-signature", c.sig)
		if got := readmeVerify(c.secret, h, c.body); got != c.want {
			t.Errorf("Go example, %s: %v, want %v", c.name, got, c.want)
		}
		if nodeErr != nil {
			continue
		}
		out, err := exec.Command(node, "testdata/verify.js", c.secret, "01J", c.ts, c.sig, base64.StdEncoding.EncodeToString(c.body)).Output()
		if err != nil {
			t.Fatalf("node: %v", err)
		}
		if got := string(out) == "valid"; got != c.want {
			t.Errorf("Node example, %s: %s, want %v (signature %q)", c.name, out, c.want, c.sig)
		}
	}
	if nodeErr != nil {
		t.Log("node not found: the Node example was not run")
	}
}
