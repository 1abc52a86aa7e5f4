package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"jifen/top"
)

// gatewayConn sends the bench's calls over fasthttp's client, which writes
// a request and reads its answer on the calling goroutine with pooled
// keep-alive connections. net/http's transport hands every request to a
// writer goroutine and every answer back from a reader goroutine; for a
// load generator, whose CPU is taken from the server it measures, that
// cost as much as the rest of a call. top.Client (net/http) stays the
// client of `jifen call` and of https or user-information URLs.
//
// It sends what top.Client.Call sends: POST to the same request URI with
// the same Host, the signed form (top.Client.AppendForm) with its
// Content-Type and Content-Length, and Accept-Encoding: gzip, which
// net/http's transport adds and which makes the gateway compress large
// answers, so the server does the same work. Only the User-Agent differs
// (fasthttp's own name instead of Go's), which the gateway ignores, and the
// order of the headers.
//
// A gatewayConn carries one call at a time: its HostClient keeps at most
// one connection, so that it knows the connection a call is on and the
// call's context can interrupt it — fasthttp takes a deadline but no
// context. The bench keeps one per call in flight.
type gatewayConn struct {
	client *top.Client
	// timeout bounds each call, dial included; zero means no bound but
	// the context's.
	timeout time.Duration

	hc   *fasthttp.HostClient
	uri  string // the full URL, as Call sends it
	host string // the Host header, as Call sends it
	req  fasthttp.Request
	resp fasthttp.Response
	form []byte

	mu   sync.Mutex
	ctx  context.Context // the call under way's, for its dial
	conn net.Conn        // the connection the client dialled last
}

// gatewayIdle is how long a connection may sit idle before the client
// closes it: well under the gateway's idle timeout (2 minutes), so that a
// call never goes out on a connection the server is closing. fasthttp does
// not send a POST again when its connection turns out closed.
const gatewayIdle = 10 * time.Second

// newGatewayConn returns a connection to c's gateway, which must be an
// http:// URL with an ASCII host and no user information; anything else
// is left to top.Client.Call, which speaks it.
func newGatewayConn(c *top.Client) (*gatewayConn, error) {
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("%q: an http://host URL without user information is needed", c.URL)
	}
	for i := 0; i < len(u.Host); i++ {
		if b := u.Host[i]; b >= 0x80 || b == '%' {
			return nil, fmt.Errorf("%q: the host must be ASCII without a zone", c.URL)
		}
	}
	// The Host header and the address net/http's transport uses: an empty
	// port dropped from the one, the scheme's default port added to the
	// other.
	host := strings.TrimSuffix(u.Host, ":")
	port := u.Port()
	if port == "" {
		port = "80"
	}
	k := &gatewayConn{client: c, host: host, uri: "http://" + host + u.RequestURI()}
	k.hc = &fasthttp.HostClient{
		Addr:                   net.JoinHostPort(u.Hostname(), port),
		Dial:                   k.dial,
		MaxConns:               1,
		MaxIdleConnDuration:    gatewayIdle,
		DisablePathNormalizing: true, // the path as given, as Call sends it
	}
	return k, nil
}

// dial opens the connection for the call under way, under its context and
// timeout, and notes it so that the context's end can interrupt it.
func (k *gatewayConn) dial(addr string) (net.Conn, error) {
	k.mu.Lock()
	ctx := k.ctx
	k.mu.Unlock()
	d := net.Dialer{Timeout: k.timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	k.conn = conn
	k.mu.Unlock()
	if err := ctx.Err(); err != nil { // ended before the connection was noted
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// Call invokes method with params, as top.Client.Call does.
func (k *gatewayConn) Call(ctx context.Context, method string, params map[string]any) (*top.Response, error) {
	form, err := k.client.AppendForm(k.form[:0], method, params)
	if err != nil {
		return nil, err
	}
	k.form = form
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("top: %s: %w", method, err)
	}
	k.req.Reset()
	k.req.Header.SetMethod(fasthttp.MethodPost)
	k.req.SetRequestURI(k.uri)
	k.req.Header.SetHost(k.host)
	k.req.Header.SetContentType(top.ContentTypeForm)
	k.req.Header.Set("Accept-Encoding", "gzip")
	k.req.SetBodyRaw(form)

	k.mu.Lock()
	k.ctx = ctx
	k.mu.Unlock()
	// The context's end, deadline or cancellation, interrupts a blocked
	// write or read through the connection's deadline, so that the error
	// says which; timeout is fasthttp's own deadline.
	interrupted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(interrupted)
		k.mu.Lock()
		defer k.mu.Unlock()
		if k.conn != nil {
			k.conn.SetDeadline(time.Unix(1, 0))
		}
	})
	if k.timeout > 0 {
		err = k.hc.DoTimeout(&k.req, &k.resp, k.timeout)
	} else {
		err = k.hc.Do(&k.req, &k.resp)
	}
	if !stop() {
		// The interruption may have come after the answer, onto a
		// connection fasthttp keeps; the next call must not inherit its
		// deadline. A connection the call failed on is closed already.
		<-interrupted
		k.mu.Lock()
		if k.conn != nil {
			k.conn.SetDeadline(time.Time{})
		}
		k.mu.Unlock()
		if err != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("top: %s: %w", method, err)
	}
	return k.answer(method)
}

// answer reads the answer to the call just made as Call reads it: gzip
// decompressed (the transport decompresses what it asked for; other
// encodings it leaves as they are), the body copied out of the
// fasthttp.Response, which the next call reuses.
func (k *gatewayConn) answer(method string) (*top.Response, error) {
	code := k.resp.StatusCode()
	status := strconv.Itoa(code)
	if msg := k.resp.Header.StatusMessage(); len(msg) > 0 {
		status += " " + string(msg)
	}
	var body []byte
	if strings.EqualFold(string(k.resp.Header.ContentEncoding()), "gzip") {
		var err error
		if body, err = k.resp.BodyGunzip(); err != nil {
			return nil, fmt.Errorf("top: %s: reading answer: %w", method, err)
		}
	} else {
		body = append([]byte{}, k.resp.Body()...)
	}
	return top.ReadAnswer(method, status, code, string(k.resp.Header.ContentType()), body)
}

// Close closes the idle connection, if any.
func (k *gatewayConn) Close() {
	k.hc.CloseIdleConnections()
}
