package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"jifen/top"
)

// sandboxCall sends a request to /sandbox/clock with the admin token and
// decodes the answer.
func (s *server) sandboxCall(method, body string) (int, map[string]any) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+"/sandbox/clock", strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		s.t.Fatalf("%s /sandbox/clock %s: %v", method, body, err)
	}
	return resp.StatusCode, out
}

// TestE2E_SandboxClockNeverGoesBack: advancing by the longest duration
// twice used to overflow the offset, so the clock jumped about 292 years
// back and new flows were dated before older ones. The second advance is
// refused, naming advance, and the clock stays where it was.
func TestE2E_SandboxClockNeverGoesBack(t *testing.T) {
	s := startServer(t)
	charge := func(order string) {
		s.call(top.MethodExtraCharge, map[string]any{"param_extra_charge_point_open_req": with(kry,
			"customer_id", "demo-c1", "change_point", 10, "out_biz_id", order, "operator_id", "op1", "request_id", "req-"+order)})
	}
	status, first := s.sandboxCall(http.MethodPost, `{"advance":"2562047h"}`)
	if status != http.StatusOK {
		t.Fatalf("first advance: %d %v", status, first)
	}
	firstNow, err := time.Parse(time.RFC3339, first["now"].(string))
	if err != nil || firstNow.Year() < 2300 {
		t.Fatalf("after 2562047h the clock shows %v (%v), want a year past 2300", first["now"], err)
	}
	charge("before")
	status, again := s.sandboxCall(http.MethodPost, `{"advance":"2562047h"}`)
	if status != http.StatusBadRequest || problemField(again) != "advance" || problemCode(again) != "INVALID_PARAMETER" {
		t.Fatalf("second advance: %d %v, want 400 INVALID_PARAMETER naming advance", status, again)
	}
	status, now := s.sandboxCall(http.MethodGet, "")
	if status != http.StatusOK || now["offset"] != first["offset"] {
		t.Fatalf("after the refused advance: %d %v, want the offset still %v", status, now, first["offset"])
	}
	if got, _ := time.Parse(time.RFC3339, now["now"].(string)); got.Before(firstNow) {
		t.Fatalf("the clock went back from %v to %v", firstNow, got)
	}
	charge("after")
	flows := s.call(top.MethodQueryPointFlow, map[string]any{"param_page_query_point_flow_open_req": map[string]any{
		"brand_id": "demo-brand", "customer_id": "demo-c1", "point_flow_type": "EXTRA_CHARGE"}})
	list := flows["result_list"].(map[string]any)["point_flow_open_info"].([]any)
	at := map[string]time.Time{}
	for _, f := range list {
		f := f.(map[string]any)
		when, err := time.Parse(time.DateTime, f["time"].(string))
		if err != nil {
			t.Fatalf("flow time %v: %v", f["time"], err)
		}
		at[f["out_biz_id"].(string)] = when
	}
	if at["after"].IsZero() || at["after"].Before(at["before"]) {
		t.Fatalf("flow times: before %v, after %v; want the later flow dated no earlier", at["before"], at["after"])
	}
}

// TestE2E_SandboxClockBadAdvance: what is not a positive duration the
// clock can take is refused with 400 INVALID_PARAMETER naming the field,
// and the clock does not move.
func TestE2E_SandboxClockBadAdvance(t *testing.T) {
	s := startServer(t)
	for _, c := range []struct{ body, field string }{
		{`{"advance":"-1h"}`, "advance"},
		{`{"advance":"0s"}`, "advance"},
		{`{"advance":"0"}`, "advance"},
		{`{"advance":"soon"}`, "advance"},
		{`{"advance":"3000000h"}`, "advance"}, // beyond any time.Duration
		{`{"advance":""}`, "advance"},
		{`{"advance":null}`, "advance"},
		{`{}`, "advance"},
		{`{"advance":720}`, "body"},
		{`{"advance":"1h","by":"me"}`, "body"},
		{`not json`, "body"},
	} {
		status, out := s.sandboxCall(http.MethodPost, c.body)
		if status != http.StatusBadRequest || problemCode(out) != "INVALID_PARAMETER" || problemField(out) != c.field {
			t.Errorf("%s: %d %v, want 400 INVALID_PARAMETER naming %s", c.body, status, out, c.field)
		}
	}
	if _, now := s.sandboxCall(http.MethodGet, ""); now["offset"] != "0s" {
		t.Fatalf("after refused advances the offset is %v, want 0s", now["offset"])
	}
}

func problemCode(out map[string]any) any {
	e, _ := out["error"].(map[string]any)
	return e["code"]
}

func problemField(out map[string]any) any {
	e, _ := out["error"].(map[string]any)
	return e["field"]
}
