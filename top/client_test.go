package top

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestClient_RoundTrip(t *testing.T) {
	g, logs, _ := newTestGateway(t)
	srv := httptest.NewServer(g)
	defer srv.Close()
	ctx := context.Background()
	obj := map[string]any{
		"biz_type": "POINT_REVERSE", "request_id": "r-1", "out_biz_id": "O1", "change_point": 10,
	}
	for _, signMethod := range []string{"", SignMD5, SignHMAC, SignHMACSHA256} {
		for _, format := range []string{"", FormatJSON, FormatXML} {
			for _, simplify := range []bool{false, true} {
				name := signMethod + "/" + format
				if simplify {
					name += "/simplify"
				}
				t.Run(name, func(t *testing.T) {
					c := &Client{
						URL: srv.URL + "/router/rest", AppKey: testKey, Secret: testSecret,
						SignMethod: signMethod, Format: format, Simplify: simplify,
						HTTP: srv.Client(),
						Now:  func() time.Time { return testNow.Add(3 * time.Second) },
					}
					logs.Reset()
					resp, err := c.Call(ctx, testMethod, map[string]any{
						"param_reverse_consume_point_open_req": obj,
						"nothing":                              nil,
					})
					if err != nil {
						t.Fatal(err)
					}
					if resp.Err != nil {
						t.Fatalf("error_response: %v", resp.Err)
					}
					wantFormat := format
					if wantFormat == "" {
						wantFormat = FormatJSON
					}
					if resp.Format != wantFormat {
						t.Errorf("Format = %q, want %q", resp.Format, wantFormat)
					}
					if line := oneLogLine(t, logs); resp.RequestID == "" || line["request_id"] != resp.RequestID {
						t.Errorf("RequestID = %q, log line %v", resp.RequestID, line["request_id"])
					}
					if wantFormat == FormatXML {
						if !strings.Contains(string(resp.Body), "<result>FLOW-O1</result>") {
							t.Errorf("body %s", resp.Body)
						}
						return
					}
					var got CommonResult
					if err := resp.Decode(&got); err != nil {
						t.Fatal(err)
					}
					if !got.BizSuccess || got.Result != "FLOW-O1" || got.ResultCode != "200" {
						t.Errorf("result = %+v", got)
					}
				})
			}
		}
	}
}

func TestClient_ErrorResponse(t *testing.T) {
	g, _, _ := newTestGateway(t)
	srv := httptest.NewServer(g)
	defer srv.Close()
	for _, format := range []string{FormatJSON, FormatXML} {
		c := &Client{URL: srv.URL, AppKey: testKey, Secret: "wrong", Format: format, Now: func() time.Time { return testNow }}
		resp, err := c.Call(context.Background(), "jifen.test.echo", nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Err == nil || resp.Err.Code != CodeInvalidSignature || resp.Err.Msg != "Invalid signature" {
			t.Fatalf("%s: Err = %v, want code 25", format, resp.Err)
		}
		if resp.RequestID == "" || resp.Err.RequestID != resp.RequestID {
			t.Errorf("%s: RequestID %q, Err.RequestID %q", format, resp.RequestID, resp.Err.RequestID)
		}
		if err := resp.Decode(&struct{}{}); err == nil {
			t.Errorf("%s: Decode of an error answer: got no error", format)
		}
	}
}

func TestClient_TransportErrors(t *testing.T) {
	c := &Client{URL: "http://127.0.0.1:1/router/rest", AppKey: "k", Secret: "s"}
	if _, err := c.Call(context.Background(), "m", nil); err == nil {
		t.Error("closed port: got no error")
	}
	c = &Client{URL: "http://x", AppKey: "k", Secret: "s", SignMethod: "sha1"}
	if _, err := c.Call(context.Background(), "m", nil); err == nil {
		t.Error("unknown sign method: got no error")
	}
	if _, err := (&Client{URL: "http://x"}).Call(context.Background(), "m", map[string]any{"f": func() {}}); err == nil {
		t.Error("unencodable parameter: got no error")
	}
}
