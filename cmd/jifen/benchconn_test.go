package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"jifen/top"
)

// rawRequest is a request as it reached the server: the request line, the
// headers as "name: value" lines sorted by name (the order is the
// client's own), the body.
type rawRequest struct {
	line    string
	headers []string
	body    []byte
}

// readRawRequest reads one HTTP/1.1 request with a Content-Length body.
func readRawRequest(br *bufio.Reader) (rawRequest, error) {
	var r rawRequest
	n := -1
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return r, err
		}
		line = strings.TrimSuffix(line, "\r\n")
		if line == "" {
			break
		}
		if r.line == "" {
			r.line = line
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		if strings.EqualFold(name, "Content-Length") {
			n, _ = strconv.Atoi(strings.TrimSpace(value))
		}
		r.headers = append(r.headers, strings.ToLower(name)+":"+strings.TrimSpace(value))
	}
	if n < 0 {
		return r, errors.New("no Content-Length")
	}
	slices.Sort(r.headers)
	r.body = make([]byte, n)
	_, err := io.ReadFull(br, r.body)
	return r, err
}

// withoutUserAgent is r's headers but the User-Agent, the one header in
// which the bench's requests differ from Call's.
func (r rawRequest) withoutUserAgent() []string {
	return slices.DeleteFunc(slices.Clone(r.headers), func(h string) bool { return strings.HasPrefix(h, "user-agent:") })
}

// captureServer answers every request with a small JSON success and sends
// what it received on the returned channel.
func captureServer(t *testing.T) (addr string, received <-chan rawRequest) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan rawRequest, 1)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				for {
					r, err := readRawRequest(br)
					if err != nil {
						return
					}
					ch <- r
					body := `{"result":{"biz_success":true},"request_id":"w"}`
					fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json;charset=UTF-8\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
				}
			}()
		}
	}()
	return ln.Addr().String(), ch
}

// TestGatewayConn_SendsWhatCallSends: the bench's fasthttp path sends what
// top.Client.Call sends over net/http — request line, Host, Content-Type,
// Content-Length, Accept-Encoding, the signed form byte for byte, no other
// header — for every sign method, format and simplify and for other URL
// shapes; only the User-Agent differs.
func TestGatewayConn_SendsWhatCallSends(t *testing.T) {
	addr, received := captureServer(t)
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	now := func() time.Time { return time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC) }
	obj := map[string]any{"biz_channel": "KRY", "customer_id": "c-1", "change_point": 100, "operator_name": "压测 <&> +%",
		"request_id": "r-1"}
	ctx := context.Background()
	compare := func(name string, c *top.Client, method string, params map[string]any) {
		t.Helper()
		if _, err := c.Call(ctx, method, params); err != nil {
			t.Fatal(err)
		}
		want := <-received
		k, err := newGatewayConn(c)
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close()
		for _, step := range []string{"new connection", "kept-alive connection"} {
			if _, err := k.Call(ctx, method, params); err != nil {
				t.Fatal(err)
			}
			got := <-received
			if got.line != want.line || !bytes.Equal(got.body, want.body) ||
				!slices.Equal(got.withoutUserAgent(), want.withoutUserAgent()) {
				t.Fatalf("%s, %s: the server received\n%q %q\n%s\nwant\n%q %q\n%s",
					name, step, got.line, got.headers, got.body, want.line, want.headers, want.body)
			}
		}
	}
	for _, sm := range []string{top.SignMD5, top.SignHMAC, top.SignHMACSHA256} {
		for _, format := range []string{top.FormatJSON, top.FormatXML} {
			for _, simplify := range []bool{false, true} {
				c := &top.Client{URL: "http://" + addr + "/router/rest", AppKey: "app key&1", Secret: "s3cr3t 秘密",
					SignMethod: sm, Format: format, Simplify: simplify, HTTP: hc, Now: now}
				name := fmt.Sprintf("%s/%s/%v", sm, format, simplify)
				compare(name, c, top.MethodConsumePoint, map[string]any{"param_consume_point_open_req": obj})
				compare(name, c, top.MethodCal, map[string]any{"q": "a b+c&d=e", "n": 3, "nothing": nil})
			}
		}
	}
	for _, u := range []string{"http://" + addr, "http://" + addr + "/", "http://" + addr + "/router/rest?a=1&b=%20c",
		"HTTP://" + addr + "/r%2Fx/../y", "http://localhost:" + strings.Split(addr, ":")[1] + "/router/rest"} {
		c := &top.Client{URL: u, AppKey: "k", Secret: "s", HTTP: hc, Now: now}
		compare(u, c, "m", nil)
	}
}

func TestNewGatewayConn_LeavesToCallWhatItDoesNotSpeak(t *testing.T) {
	for _, u := range []string{"https://127.0.0.1/router/rest", "http://user:pw@127.0.0.1/", "http:///router/rest", "http://例子.测试/", "::"} {
		if _, err := newGatewayConn(&top.Client{URL: u}); err == nil {
			t.Errorf("newGatewayConn(%q): got no error", u)
		}
	}
	k, err := newGatewayConn(&top.Client{URL: "http://localhost/router/rest"})
	if err != nil || k.hc.Addr != "localhost:80" || k.host != "localhost" {
		t.Fatalf("without a port: %v %+v", err, k)
	}
}

// TestGatewayConn_ReadsAnswersAsCall: for the framings an answer may have
// — Content-Length, chunked, gzip over either, until the connection
// closes — and for error statuses, the bench reads what Call reads through
// net/http's transport, and fails where it fails.
func TestGatewayConn_ReadsAnswersAsCall(t *testing.T) {
	body := `{"result":{"biz_success":true,"result_code":"200"},"request_id":"canned"}`
	gz := func(s string) string {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(s))
		zw.Close()
		return b.String()
	}
	chunked := func(s string) string {
		h := len(s) / 2
		return fmt.Sprintf("%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n", h, s[:h], len(s)-h, s[h:])
	}
	const ctJSON = "Content-Type: application/json;charset=UTF-8\r\n"
	const xmlBody = `<?xml version="1.0" encoding="utf-8" ?><error_response><code>25</code><msg>Invalid signature</msg><request_id>q</request_id></error_response>`
	canned := []struct{ name, raw string }{
		{"content-length", "HTTP/1.1 200 OK\r\n" + ctJSON + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + body},
		{"chunked", "HTTP/1.1 200 OK\r\n" + ctJSON + "Transfer-Encoding: chunked\r\n\r\n" + chunked(body)},
		{"gzip, content-length", "HTTP/1.1 200 OK\r\n" + ctJSON + "Content-Encoding: gzip\r\n" + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(gz(body))) + gz(body)},
		{"gzip, chunked", "HTTP/1.1 200 OK\r\n" + ctJSON + "Content-Encoding: GZIP\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(gz(body))},
		{"XML error_response", "HTTP/1.1 200 OK\r\nContent-Type: text/xml;charset=UTF-8\r\n" + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(xmlBody)) + xmlBody},
		{"404", "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nnot found"},
		{"connection close", "HTTP/1.1 200 OK\r\n" + ctJSON + "Connection: close\r\n" + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + body},
		{"until close", "HTTP/1.0 200 OK\r\n" + ctJSON + "\r\n" + body},
		{"not JSON", "HTTP/1.1 200 OK\r\n" + ctJSON + "Content-Length: 3\r\n\r\n{x}"},
		{"bad gzip", "HTTP/1.1 200 OK\r\n" + ctJSON + "Content-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc"},
		{"after errors", "HTTP/1.1 200 OK\r\n" + ctJSON + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + body},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var current atomic.Int64
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				for {
					if _, err := readRawRequest(br); err != nil {
						return
					}
					raw := canned[current.Load()].raw
					conn.Write([]byte(raw))
					if strings.Contains(raw, "Connection: close") || strings.HasPrefix(raw, "HTTP/1.0") {
						return
					}
				}
			}()
		}
	}()
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	c := &top.Client{URL: "http://" + ln.Addr().String() + "/router/rest", AppKey: "k", Secret: "s", HTTP: hc}
	k, err := newGatewayConn(c)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	k.timeout = 5 * time.Second // a misread framing waits for bytes that never come
	for i, tc := range canned {
		current.Store(int64(i))
		want, werr := c.Call(context.Background(), "x", nil)
		got, gerr := k.Call(context.Background(), "x", nil)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("%s: transport error %v, fasthttp error %v", tc.name, werr, gerr)
		}
		if werr != nil {
			if strings.Contains(werr.Error(), "HTTP 404") && !strings.Contains(gerr.Error(), "HTTP 404 Not Found: not found") {
				t.Fatalf("%s: %v, want %v", tc.name, gerr, werr)
			}
			continue
		}
		if got.Format != want.Format || !bytes.Equal(got.Body, want.Body) || !bytes.Equal(got.Result, want.Result) ||
			got.RequestID != want.RequestID || !reflect.DeepEqual(got.Err, want.Err) {
			t.Fatalf("%s:\n got %s %q %+v\nwant %s %q %+v", tc.name, got.Format, got.Body, got.Err, want.Format, want.Body, want.Err)
		}
	}
}

// TestGatewayConn_KeepsTheAnswer: a Response stays as read after the
// next call, which reuses the fasthttp.Response.
func TestGatewayConn_KeepsTheAnswer(t *testing.T) {
	s := startServer(t)
	k, err := newGatewayConn(s.client)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	ctx := context.Background()
	first, err := k.Call(ctx, top.MethodCustomerGet, map[string]any{"param_customer_get_open_req": map[string]any{"customer_id": "nobody"}})
	if err != nil {
		t.Fatal(err)
	}
	body := string(first.Body)
	if _, err := k.Call(ctx, "alibaba.alsc.crm.nothing", nil); err != nil {
		t.Fatal(err)
	}
	if string(first.Body) != body {
		t.Fatalf("the first answer changed under the second call:\n%s\nwas\n%s", first.Body, body)
	}
}

// TestGatewayConn_ContextAndTimeoutEndACall: the context's end, deadline
// or cancellation, or the timeout interrupts a call the server does not
// answer, and says which; the next call goes out on a new connection.
func TestGatewayConn_ContextAndTimeoutEndACall(t *testing.T) {
	var hang atomic.Bool
	var conns atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hang.Load() {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.Header().Set("Content-Type", top.ContentTypeJSON)
		io.WriteString(w, `{"result":{"biz_success":true},"request_id":"ok"}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	defer close(release) // before the server's Close, which waits for its handlers
	k, err := newGatewayConn(&top.Client{URL: srv.URL + "/router/rest", AppKey: "k", Secret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if _, err := k.Call(context.Background(), "m", nil); err != nil {
		t.Fatal(err)
	}
	hang.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := k.Call(ctx, "m", nil); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("a call past its context's deadline: %v after %s", err, time.Since(start))
	}
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start = time.Now()
	if _, err := k.Call(ctx, "m", nil); !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second {
		t.Fatalf("a call whose context was cancelled: %v after %s", err, time.Since(start))
	}
	if _, err := k.Call(ctx, "m", nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("a call with a context already ended: %v", err)
	}
	k.timeout = 100 * time.Millisecond
	start = time.Now()
	if _, err := k.Call(context.Background(), "m", nil); !errors.Is(err, fasthttp.ErrTimeout) || time.Since(start) > 5*time.Second {
		t.Fatalf("a call past the timeout: %v after %s", err, time.Since(start))
	}
	hang.Store(false)
	before := conns.Load()
	if resp, err := k.Call(context.Background(), "m", nil); err != nil || resp.RequestID != "ok" {
		t.Fatalf("after failed calls: %v %+v", err, resp)
	}
	if n := conns.Load() - before; n != 1 {
		t.Fatalf("the call after a failed one opened %d connections, want 1", n)
	}
}

// TestGatewayConn_LateInterruptionIsCleared: a context that ends just
// after its call was answered leaves no deadline on the kept connection
// for the next call.
func TestGatewayConn_LateInterruptionIsCleared(t *testing.T) {
	s := startServer(t)
	k, err := newGatewayConn(s.client)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	for i := range 200 {
		ctx, cancel := context.WithCancel(context.Background())
		go cancel() // races the answer
		k.Call(ctx, "alibaba.alsc.crm.nothing", nil)
		if _, err := k.Call(context.Background(), "alibaba.alsc.crm.nothing", nil); err != nil {
			t.Fatalf("round %d: the call after a late interruption: %v", i, err)
		}
	}
}
