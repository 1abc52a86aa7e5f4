package top

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingServer serves h and counts the connections clients opened.
func countingServer(t *testing.T, h http.Handler) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

// TestConn_AnswersAsClient: a Conn reads every kind of answer — success,
// business failure, error_response, JSON, simplified, XML, gzipped — as
// Client.Call does, over one kept-alive connection.
func TestConn_AnswersAsClient(t *testing.T) {
	g, _, _ := newTestGateway(t)
	srv := httptest.NewServer(g) // Client's
	defer srv.Close()
	var gzipped atomic.Int64
	connSrv, conns := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.ServeHTTP(w, r)
		if w.Header().Get("Content-Encoding") == "gzip" {
			gzipped.Add(1)
		}
	}))
	ctx := context.Background()
	obj := map[string]any{"biz_type": "POINT_REVERSE", "request_id": "r-1", "out_biz_id": "O1", "change_point": 10}
	calls := []struct {
		method string
		params map[string]any
	}{
		{testMethod, map[string]any{"param_reverse_consume_point_open_req": obj}},
		// An answer over gzipMinBytes, which the gateway compresses.
		{"jifen.test.echo", map[string]any{"big": strings.Repeat("积分 ", 400)}},
		{"jifen.test.business", nil},
		{"jifen.test.invalid", nil},
		{"alibaba.alsc.crm.point.querypointflow", nil},
	}
	for _, signMethod := range []string{SignMD5, SignHMAC, SignHMACSHA256} {
		for _, format := range []string{FormatJSON, FormatXML} {
			for _, simplify := range []bool{false, true} {
				c := &Client{URL: srv.URL + "/router/rest", AppKey: testKey, Secret: testSecret,
					SignMethod: signMethod, Format: format, Simplify: simplify, HTTP: srv.Client(),
					Now: func() time.Time { return testNow }}
				kc := *c
				kc.URL = connSrv.URL + "/router/rest"
				k, err := kc.NewConn()
				if err != nil {
					t.Fatal(err)
				}
				before := conns.Load()
				for _, call := range calls {
					want, err := c.Call(ctx, call.method, call.params)
					if err != nil {
						t.Fatal(err)
					}
					got, err := k.Call(ctx, call.method, call.params)
					if err != nil {
						t.Fatal(err)
					}
					name := signMethod + "/" + format + "/" + call.method
					if got.RequestID == "" || got.RequestID == want.RequestID {
						t.Errorf("%s: request ids %q and %q", name, got.RequestID, want.RequestID)
					}
					if want.Err != nil {
						want.Err.RequestID = got.RequestID
					}
					// Everything else is the same, but for the request id.
					id := func(b []byte) []byte { return bytes.ReplaceAll(b, []byte(want.RequestID), []byte(got.RequestID)) }
					if got.Format != want.Format || !reflect.DeepEqual(got.Err, want.Err) ||
						!bytes.Equal(got.Result, id(want.Result)) || (got.Result == nil) != (want.Result == nil) || !bytes.Equal(got.Body, id(want.Body)) {
						t.Errorf("%s:\n got %s %+v %s\nwant %s %+v %s", name, got.Format, got.Err, got.Body, want.Format, want.Err, want.Body)
					}
				}
				if n := conns.Load() - before; n != 1 {
					t.Errorf("%d calls over a Conn opened %d connections, want 1", len(calls), n)
				}
				k.Close()
			}
		}
	}
	if gzipped.Load() == 0 {
		t.Error("no answer was gzipped")
	}
}

// TestConn_Redials: a Conn dials again after the server said it closes the
// connection, after the server closed it while idle, and after a failed
// call; an HTTP error answer leaves the connection in use.
func TestConn_Redials(t *testing.T) {
	g, _, _ := newTestGateway(t)
	var closeNext atomic.Bool
	srv, conns := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		if closeNext.Swap(false) {
			w.Header().Set("Connection", "close")
		}
		g.ServeHTTP(w, r)
	}))
	ctx := context.Background()
	c := &Client{URL: srv.URL + "/router/rest", AppKey: testKey, Secret: testSecret, Now: func() time.Time { return testNow }}
	k, err := c.NewConn()
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	call := func(step string, wantConns int64) {
		t.Helper()
		resp, err := k.Call(ctx, "jifen.test.echo", nil)
		if err != nil || resp.Err != nil {
			t.Fatalf("%s: %v %v", step, err, resp)
		}
		if n := conns.Load(); n != wantConns {
			t.Fatalf("%s: %d connections opened, want %d", step, n, wantConns)
		}
	}
	call("first call", 1)
	call("kept alive", 1)
	closeNext.Store(true)
	call("answered with Connection: close", 1)
	call("after Connection: close", 2)

	srv.CloseClientConnections()
	time.Sleep(connIdleCheck + 100*time.Millisecond)
	call("after the server closed the idle connection", 3)

	missing := *c
	missing.URL = srv.URL + "/missing"
	km, err := missing.NewConn()
	if err != nil {
		t.Fatal(err)
	}
	defer km.Close()
	for range 2 {
		if _, err := km.Call(ctx, "jifen.test.echo", nil); err == nil || !strings.Contains(err.Error(), "HTTP 404") {
			t.Fatalf("404: got %v", err)
		}
	}
	if n := conns.Load(); n != 4 {
		t.Fatalf("two 404 answers opened %d connections, want 1", n-3)
	}
}

// TestConn_ContextAndTimeoutEndACall: the context's end, or Timeout,
// interrupts a call the server does not answer; the Conn then dials again.
func TestConn_ContextAndTimeoutEndACall(t *testing.T) {
	g, _, _ := newTestGateway(t)
	var hang atomic.Bool
	release := make(chan struct{})
	defer close(release)
	srv, conns := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hang.Load() {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		g.ServeHTTP(w, r)
	}))
	c := &Client{URL: srv.URL + "/router/rest", AppKey: testKey, Secret: testSecret, Now: func() time.Time { return testNow }}
	k, err := c.NewConn()
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if _, err := k.Call(context.Background(), "jifen.test.echo", nil); err != nil {
		t.Fatal(err)
	}
	hang.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := k.Call(ctx, "jifen.test.echo", nil); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("a call past its context's deadline: %v after %s", err, time.Since(start))
	}
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	if _, err := k.Call(ctx, "jifen.test.echo", nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("a call whose context was cancelled: %v", err)
	}
	k.Timeout = 100 * time.Millisecond
	start = time.Now()
	var ne net.Error
	if _, err := k.Call(context.Background(), "jifen.test.echo", nil); !errors.As(err, &ne) || !ne.Timeout() || time.Since(start) > 5*time.Second {
		t.Fatalf("a call past Timeout: %v after %s", err, time.Since(start))
	}
	if k.conn != nil {
		t.Fatal("a failed call left its connection open")
	}
	hang.Store(false)
	before := conns.Load()
	if resp, err := k.Call(context.Background(), "jifen.test.echo", nil); err != nil || resp.Err != nil {
		t.Fatalf("after failed calls: %v %v", err, resp)
	}
	if n := conns.Load() - before; n != 1 {
		t.Fatalf("the call after a failed one opened %d connections, want 1", n)
	}
}

func TestNewConn_RefusesWhatItDoesNotSpeak(t *testing.T) {
	for _, u := range []string{"https://127.0.0.1/router/rest", "http://user:pw@127.0.0.1/", "http:///router/rest", "http://例子.测试/", "::"} {
		if _, err := (&Client{URL: u}).NewConn(); err == nil {
			t.Errorf("NewConn(%q): got no error", u)
		}
	}
	k, err := (&Client{URL: "http://localhost/router/rest"}).NewConn()
	if err != nil || k.addr != "localhost:80" || !strings.HasPrefix(k.head, "POST /router/rest HTTP/1.1\r\nHost: localhost\r\n") {
		t.Fatalf("NewConn without a port: %v %q %q", err, k.addr, k.head)
	}
}

// TestConn_ReadsAnswersAsTheTransport: for every framing an HTTP/1.x
// answer may have — Content-Length, chunked with extensions and a trailer,
// gzip over either, until the connection closes, after 1xx answers — and
// for broken ones, a Conn reads what Client.Call reads through net/http's
// transport, or fails where it fails, and goes on over the right
// connection afterwards.
func TestConn_ReadsAnswersAsTheTransport(t *testing.T) {
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
		return fmt.Sprintf("%x;ext=1\r\n%s\r\n%x\r\n%s\r\n0\r\nX-Trailer: v\r\n\r\n", h, s[:h], len(s)-h, s[h:])
	}
	const ctJSON = "Content-Type: application/json;charset=UTF-8\r\n"
	const xmlBody = `<?xml version="1.0" encoding="utf-8" ?><x_response><result>1</result><request_id>q</request_id></x_response>`
	// closeAfter: the server closes the connection after the answer, and
	// the Conn must have closed its side (it said so, or the framing broke).
	canned := []struct {
		name       string
		raw        string
		closeAfter bool
	}{
		{"content-length", "HTTP/1.1 200 OK\r\n" + ctJSON + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + body, false},
		{"header case and spaces", "HTTP/1.1 200 OK\r\ncontent-type:application/json\r\nCONTENT-LENGTH:  " + fmt.Sprint(len(body)) + " \r\nX-Other: a:b\r\n\r\n" + body, false},
		{"chunked", "HTTP/1.1 200 OK\r\n" + ctJSON + "Transfer-Encoding: chunked\r\n\r\n" + chunked(body), false},
		{"chunked and content-length", "HTTP/1.1 200 OK\r\n" + ctJSON + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n" + chunked(body), false},
		{"gzip, content-length", "HTTP/1.1 200 OK\r\n" + ctJSON + "Content-Encoding: gzip\r\n" + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(gz(body))) + gz(body), false},
		{"gzip, chunked", "HTTP/1.1 200 OK\r\n" + ctJSON + "Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(gz(body)), false},
		{"XML", "HTTP/1.1 200 OK\r\nContent-Type: text/xml;charset=UTF-8\r\n" + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(xmlBody)) + xmlBody, false},
		{"100 Continue first", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\n" + ctJSON + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + body, false},
		{"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\n" + ctJSON + "Connection: keep-alive\r\n" + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + body, false},
		{"404", "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nnot found", false},
		{"204", "HTTP/1.1 204 No Content\r\n\r\n", false},
		{"after 204", "HTTP/1.1 200 OK\r\n" + ctJSON + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + body, false},
		{"connection close", "HTTP/1.1 200 OK\r\n" + ctJSON + "Connection: keep-alive, Close\r\n" + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + body, true},
		{"HTTP/1.0 until close", "HTTP/1.0 200 OK\r\n" + ctJSON + "\r\n" + body, true},
		{"HTTP/1.1 until close", "HTTP/1.1 200 OK\r\n" + ctJSON + "\r\n" + gz(body)[:0] + body, true},
		{"empty gzip body", "HTTP/1.1 200 OK\r\n" + ctJSON + "Content-Encoding: gzip\r\nContent-Length: 0\r\n\r\n", false},
		{"short body", "HTTP/1.1 200 OK\r\n" + ctJSON + "Content-Length: 500\r\n\r\n" + body, true},
		{"short chunked body", "HTTP/1.1 200 OK\r\n" + ctJSON + "Transfer-Encoding: chunked\r\n\r\n100\r\n" + body, true},
		{"malformed status", "HTTP/1.1 abc OK\r\n\r\n", true},
		{"malformed header", "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", true},
		{"unknown transfer encoding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n" + chunked(gz(body)), true},
		{"two content-lengths", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", true},
		{"after errors", "HTTP/1.1 200 OK\r\n" + ctJSON + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body)) + body, false},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var current atomic.Int64
	var accepted atomic.Int64
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer conn.Close()
				reqs := make(chan []byte, 1)
				go captureRequests(nopAnswer{conn}, reqs)
				for range reqs {
					c := canned[current.Load()]
					conn.Write([]byte(c.raw))
					if c.closeAfter {
						return
					}
				}
			}()
		}
	}()
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	c := &Client{URL: "http://" + ln.Addr().String() + "/router/rest", AppKey: "k", Secret: "s", HTTP: hc}
	k, err := c.NewConn()
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	k.Timeout = 5 * time.Second // a misread framing waits for bytes that never come
	for i, tc := range canned {
		current.Store(int64(i))
		want, werr := c.Call(context.Background(), "x", nil)
		before := accepted.Load()
		reused := k.conn != nil
		got, gerr := k.Call(context.Background(), "x", nil)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("%s: transport error %v, Conn error %v", tc.name, werr, gerr)
		}
		if werr == nil && (got.Format != want.Format || !bytes.Equal(got.Body, want.Body) || !bytes.Equal(got.Result, want.Result) ||
			got.RequestID != want.RequestID || !reflect.DeepEqual(got.Err, want.Err)) {
			t.Fatalf("%s:\n got %s %q %+v\nwant %s %q %+v", tc.name, got.Format, got.Body, got.Err, want.Format, want.Body, want.Err)
		}
		// A connection the previous answer left open is used again; one it
		// closed is dialled again.
		if dialled := accepted.Load() > before; dialled == reused {
			t.Fatalf("%s: connection open before the call %v, dialled %v", tc.name, reused, dialled)
		}
		if closed := k.conn == nil; closed != tc.closeAfter {
			t.Fatalf("%s: connection closed after the answer %v, want %v (error %v)", tc.name, closed, !closed, gerr)
		}
	}
}

// nopAnswer is a connection whose writes are dropped, so that
// captureRequests reads requests and the test answers them itself.
type nopAnswer struct{ net.Conn }

func (nopAnswer) Write(p []byte) (int, error) { return len(p), nil }
