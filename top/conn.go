package top

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
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Conn is one keep-alive HTTP/1.1 connection to a gateway, for a caller
// that makes many calls one after another from one goroutine — a load
// generator's worker. Its Call sends the bytes Client.Call sends (request
// line, headers, the signed form) and reads the answer on the calling
// goroutine. net/http's transport hands every request to a writer
// goroutine and every answer back from a reader goroutine, through its
// connection pool; for a load generator, whose CPU is taken from the
// server it measures, that cost as much as the rest of a call.
//
// A Conn speaks plain http:// only. It is not safe for concurrent use. It
// dials on its first call and again after the server closed the connection
// (said so, or did while the connection sat idle) or a call failed; a
// failed call is not sent again.
type Conn struct {
	client *Client
	// Timeout bounds each call, dial included, like http.Client.Timeout;
	// zero means no bound but the context's.
	Timeout time.Duration

	addr string // host:port to dial
	head string // the request line and the headers before Content-Length
	conn net.Conn
	br   *bufio.Reader
	zr   *gzip.Reader
	form []byte    // the signed form of the call under way
	buf  []byte    // the request under way
	used time.Time // when the connection last finished a call
}

// connIdleCheck is how long a connection may sit idle before a call checks
// that the server has not closed it. Transport's reader goroutine notices
// such a close at once; a Conn has none, and would otherwise send its next
// request into a closed connection and fail it.
const connIdleCheck = time.Second

// What net/http's transport sends after the Host header: its default
// User-Agent, then Content-Length (written here), Content-Type (Call's),
// and Accept-Encoding, which the transport adds when it will decompress.
const (
	connUserAgent = "User-Agent: Go-http-client/1.1\r\n"
	connTail      = "Content-Type: application/x-www-form-urlencoded;charset=UTF-8\r\nAccept-Encoding: gzip\r\n\r\n"
)

// NewConn returns a connection to c's gateway, which must be an http://
// URL without user information; it dials on the first call.
func (c *Client) NewConn() (*Conn, error) {
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, fmt.Errorf("top: NewConn: %w", err)
	}
	if u.Scheme != "http" || u.Host == "" || u.User != nil {
		return nil, fmt.Errorf("top: NewConn: %q: an http://host URL without user information is needed; Client.Call speaks the rest", c.URL)
	}
	for i := 0; i < len(u.Host); i++ {
		if b := u.Host[i]; b >= 0x80 || b == '%' {
			return nil, fmt.Errorf("top: NewConn: %q: the host must be ASCII without a zone; Client.Call speaks the rest", c.URL)
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
	addr := net.JoinHostPort(u.Hostname(), port)
	head := "POST " + u.RequestURI() + " HTTP/1.1\r\nHost: " + host + "\r\n" + connUserAgent
	return &Conn{client: c, addr: addr, head: head}, nil
}

// Call invokes method with params, as Client.Call does, over this
// connection.
func (k *Conn) Call(ctx context.Context, method string, params map[string]any) (*Response, error) {
	form, err := k.client.appendBody(k.form[:0], method, params)
	if err != nil {
		return nil, err
	}
	k.form = form
	h, answer, err := k.roundTrip(ctx, form)
	if err != nil {
		k.Close() // its state is unknown: the next call dials afresh
		return nil, fmt.Errorf("top: %s: %w", method, err)
	}
	return readAnswer(method, h.status, h.statusCode, h.contentType, answer)
}

// Close closes the connection, if one is open; a later Call dials again.
func (k *Conn) Close() error {
	if k.conn == nil {
		return nil
	}
	err := k.conn.Close()
	k.conn = nil
	return err
}

// open reports whether the idle connection is still open: the server has
// neither closed it nor sent anything unasked. It waits a millisecond at
// most: a deadline already past would fail the read before it is tried.
func (k *Conn) open() bool {
	if k.br.Buffered() > 0 || k.conn.SetReadDeadline(time.Now().Add(time.Millisecond)) != nil {
		return false
	}
	_, err := k.br.Peek(1)
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// roundTrip writes one request with body form and reads its answer to the
// end.
func (k *Conn) roundTrip(ctx context.Context, form []byte) (h head, answer []byte, err error) {
	if err := ctx.Err(); err != nil {
		return head{}, nil, err
	}
	// Timeout is the connection's deadline; the context's end, deadline or
	// cancellation, comes through the AfterFunc below, so that the error
	// says which.
	now := time.Now()
	var deadline time.Time
	if k.Timeout > 0 {
		deadline = now.Add(k.Timeout)
	}
	if k.conn != nil && now.Sub(k.used) > connIdleCheck && !k.open() {
		k.Close()
	}
	if k.conn == nil {
		d := net.Dialer{Deadline: deadline}
		conn, err := d.DialContext(ctx, "tcp", k.addr)
		if err != nil {
			return head{}, nil, err
		}
		k.conn = conn
		if k.br == nil {
			k.br = bufio.NewReader(conn)
		} else {
			k.br.Reset(conn)
		}
	}
	if err := k.conn.SetDeadline(deadline); err != nil {
		return head{}, nil, err
	}
	// The context's end interrupts a blocked write or read. When it has
	// ended, the deadline it set may land after the next call's: the call
	// fails, so that Call closes the connection.
	conn := k.conn
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		if !stop() && err == nil {
			err = ctx.Err()
		}
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
	}()

	k.buf = append(k.buf[:0], k.head...)
	k.buf = append(k.buf, "Content-Length: "...)
	k.buf = strconv.AppendInt(k.buf, int64(len(form)), 10)
	k.buf = append(k.buf, "\r\n"...)
	k.buf = append(k.buf, connTail...)
	k.buf = append(k.buf, form...)
	if _, err := k.conn.Write(k.buf); err != nil {
		return head{}, nil, err
	}
	if h, err = k.readHead(); err != nil {
		return head{}, nil, err
	}
	if answer, err = k.readBody(h); err != nil {
		return head{}, nil, fmt.Errorf("reading answer: %w", err)
	}
	if h.close {
		k.Close()
	}
	k.used = time.Now()
	return h, answer, nil
}

// head is what a Conn reads of an answer's status line and headers.
type head struct {
	status      string // "200 OK"
	statusCode  int
	contentType string
	length      int64 // Content-Length; -1 when absent
	chunked     bool
	gzip        bool // Content-Encoding: gzip, which the Conn asked for
	close       bool // the server closes the connection after the answer
}

// readHead reads an answer's status line and headers, skipping 1xx
// answers, as net/http reads them for the fields a Conn uses; the rest
// are read and dropped. Parsing only those, into no header map, is what
// makes it cheaper than http.ReadResponse.
func (k *Conn) readHead() (head, error) {
	for {
		line, err := k.line()
		if err != nil {
			return head{}, err
		}
		proto, status, ok := bytes.Cut(line, []byte(" "))
		status = bytes.TrimLeft(status, " ")
		code, _, _ := bytes.Cut(status, []byte(" "))
		h := head{status: string(status), length: -1}
		if !ok || (string(proto) != "HTTP/1.1" && string(proto) != "HTTP/1.0") || len(code) != 3 {
			return head{}, fmt.Errorf("malformed HTTP status line %.100q", line)
		}
		if h.statusCode, err = strconv.Atoi(string(code)); err != nil || h.statusCode < 100 || h.statusCode == http.StatusSwitchingProtocols {
			return head{}, fmt.Errorf("unexpected HTTP status %q", status)
		}
		keepAlive := string(proto) == "HTTP/1.1"
		for {
			line, err := k.line()
			if err != nil {
				return head{}, err
			}
			if len(line) == 0 {
				break
			}
			name, value, ok := bytes.Cut(line, []byte(":"))
			if !ok || len(name) == 0 || bytes.ContainsAny(name, " \t") {
				return head{}, fmt.Errorf("malformed HTTP header %.100q", line)
			}
			value = bytes.Trim(value, " \t")
			switch {
			case bytes.EqualFold(name, []byte("Content-Type")):
				switch string(value) {
				case ContentTypeJSON:
					h.contentType = ContentTypeJSON
				case ContentTypeXML:
					h.contentType = ContentTypeXML
				default:
					h.contentType = string(value)
				}
			case bytes.EqualFold(name, []byte("Content-Length")):
				n, err := strconv.ParseUint(string(value), 10, 63)
				if err != nil || (h.length >= 0 && int64(n) != h.length) {
					return head{}, fmt.Errorf("bad Content-Length %q", value)
				}
				h.length = int64(n)
			case bytes.EqualFold(name, []byte("Transfer-Encoding")):
				if !bytes.EqualFold(value, []byte("chunked")) {
					return head{}, fmt.Errorf("unsupported Transfer-Encoding %q", value)
				}
				h.chunked = true
			case bytes.EqualFold(name, []byte("Content-Encoding")):
				h.gzip = bytes.EqualFold(value, []byte("gzip"))
			case bytes.EqualFold(name, []byte("Connection")):
				for token := range bytes.SplitSeq(value, []byte(",")) {
					switch token = bytes.TrimSpace(token); {
					case bytes.EqualFold(token, []byte("close")):
						h.close = true
					case bytes.EqualFold(token, []byte("keep-alive")):
						keepAlive = true
					}
				}
			}
		}
		if h.statusCode < 200 {
			continue // 100 Continue, 103 Early Hints: the answer follows
		}
		if h.chunked {
			h.length = -1 // Transfer-Encoding decides
		}
		if !keepAlive || (!h.chunked && h.length < 0 && bodyAllowed(h.statusCode)) {
			h.close = true // the body, if any, ends where the connection does
		}
		return h, nil
	}
}

// bodyAllowed reports whether an answer of status code may have a body.
func bodyAllowed(code int) bool {
	return code != http.StatusNoContent && code != http.StatusNotModified
}

// line reads one line of the status line or headers, without its line
// ending, valid until the next read; a line too long for the reader's
// buffer is an error.
func (k *Conn) line() ([]byte, error) {
	b, err := k.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, errors.New("HTTP header line too long")
	}
	if err == io.EOF && len(b) > 0 {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b[:len(b)-1], []byte("\r")), nil
}

// readBody reads an answer's body to its end, decompressed.
func (k *Conn) readBody(h head) ([]byte, error) {
	if !bodyAllowed(h.statusCode) {
		return []byte{}, nil
	}
	if h.length >= 0 && !h.gzip {
		answer := make([]byte, h.length)
		if _, err := io.ReadFull(k.br, answer); err != nil {
			return nil, io.ErrUnexpectedEOF
		}
		return answer, nil
	}
	var body io.Reader = k.br // to the connection's end
	var limited *io.LimitedReader
	if h.chunked {
		body = httputil.NewChunkedReader(k.br)
	} else if h.length >= 0 {
		limited = &io.LimitedReader{R: k.br, N: h.length}
		body = limited
	}
	var answer []byte
	var err error
	if h.gzip {
		// As the transport: it asked for gzip, so it decompresses.
		if k.zr == nil {
			k.zr = new(gzip.Reader)
		}
		switch err := k.zr.Reset(body); err {
		case nil:
			if answer, err = io.ReadAll(k.zr); err != nil {
				return nil, err
			}
		case io.EOF: // an empty body, as the transport reads it
			answer = []byte{}
		default:
			return nil, err
		}
		// What the gzip stream left of the body is read, so that the
		// next answer starts where the connection is.
		if _, err := io.Copy(io.Discard, body); err != nil {
			return nil, err
		}
	} else if answer, err = io.ReadAll(body); err != nil {
		return nil, err
	}
	if limited != nil && limited.N > 0 {
		return nil, io.ErrUnexpectedEOF
	}
	if h.chunked { // the trailer, up to its empty line
		for {
			line, err := k.line()
			if err != nil {
				return nil, err
			}
			if len(line) == 0 {
				break
			}
		}
	}
	return answer, nil
}
