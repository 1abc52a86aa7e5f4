package bodylimit_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"jifen/bodylimit"
)

// serve runs h behind l on a real listener: deadlines are the
// connection's, so they need one.
func serve(t *testing.T, l *bodylimit.Limiter, h http.HandlerFunc) string {
	t.Helper()
	ts := httptest.NewServer(l.Wrap(h))
	t.Cleanup(ts.Close)
	return ts.Listener.Addr().String()
}

// post opens a connection and sends the head of a POST declaring a body of
// declared bytes, then the first sent of them.
func post(t *testing.T, addr string, declared, sent int) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	head := fmt.Sprintf("POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", addr, declared)
	if _, err := io.WriteString(conn, head+strings.Repeat("a", sent)); err != nil {
		t.Fatal(err)
	}
	return conn
}

// readAnswer reads the server's answer on conn and then expects the
// server to close it.
func readAnswer(t *testing.T, conn net.Conn) int {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if _, err := br.ReadByte(); err == nil || errors.Is(err, net.ErrClosed) || isTimeout(err) {
		t.Errorf("after the answer: %v, want the server to close the connection", err)
	}
	return resp.StatusCode
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// A body that stops arriving, or trickles in, is cut off at the deadline:
// the handler's read fails with ErrTimeout and the connection is closed.
func TestLimiter_Timeout(t *testing.T) {
	const bound = 300 * time.Millisecond
	for _, trickle := range []bool{false, true} {
		t.Run(map[bool]string{false: "Silent", true: "Trickle"}[trickle], func(t *testing.T) {
			errc := make(chan error, 1)
			addr := serve(t, bodylimit.New(bound, 0), func(w http.ResponseWriter, r *http.Request) {
				_, err := io.ReadAll(r.Body)
				errc <- err
				w.WriteHeader(http.StatusRequestTimeout)
			})
			start := time.Now()
			// 1,000 bytes short: a byte every 20 ms would take 20 s.
			conn := post(t, addr, 2000, 1000)
			if trickle {
				go func() {
					for range 1000 {
						time.Sleep(20 * time.Millisecond)
						if _, err := conn.Write([]byte("a")); err != nil {
							return
						}
					}
				}()
			}
			select {
			case err := <-errc:
				if !errors.Is(err, bodylimit.ErrTimeout) {
					t.Errorf("the handler's read: %v, want ErrTimeout", err)
				}
				if d := time.Since(start); d < bound || d > bound+3*time.Second {
					t.Errorf("cut off after %s, want soon after %s", d, bound)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("the body was still being read after 5 s (deadline %s)", bound)
			}
			if got := readAnswer(t, conn); got != http.StatusRequestTimeout {
				t.Errorf("status %d, want the handler's 408", got)
			}
		})
	}
}

// A handler that works longer than the deadline after its body arrived
// keeps its request's context: the deadline is for the body only.
func TestLimiter_LongHandlerKeepsContext(t *testing.T) {
	const bound = 200 * time.Millisecond
	errc := make(chan error, 1)
	addr := serve(t, bodylimit.New(bound, 0), func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			errc <- err
			return
		}
		time.Sleep(3 * bound)
		errc <- r.Context().Err()
	})
	post(t, addr, 100, 100)
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("after working %s past a complete body: %v, want a live context", 3*bound, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the handler did not finish")
	}
}

// Bodies in flight share one budget beyond each one's allowance: a large
// body that would overdraw it is refused with ErrBusy, a small one is not,
// and what a request held is given back when its handler returns.
func TestLimiter_Budget(t *testing.T) {
	const budget = 64 << 10
	l := bodylimit.New(time.Minute, budget)
	addr := serve(t, l, func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			if errors.Is(err, bodylimit.ErrBusy) {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusBadRequest)
		}
	})
	send := func(n int) int {
		t.Helper()
		resp, err := http.Post("http://"+addr, "application/octet-stream", strings.NewReader(strings.Repeat("b", n)))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	waitInFlight := func(want int64) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); l.InFlight() != want; {
			if time.Now().After(deadline) {
				t.Fatalf("in flight: %d bytes, want %d", l.InFlight(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	// A slow client holds 60 KiB of a 70 KiB body: 52 KiB of the budget
	// (60 KiB less its allowance of 8), leaving 12.
	slow := post(t, addr, 70<<10, 60<<10)
	waitInFlight(60<<10 - bodylimit.Allowance)
	if got := send(40 << 10); got != http.StatusServiceUnavailable {
		t.Errorf("a 40 KiB body with 12 KiB of the budget left: %d, want 503", got)
	}
	if got := send(bodylimit.Allowance); got != http.StatusOK {
		t.Errorf("a body within the allowance: %d, want 200", got)
	}
	// Refused with its last bytes still to come (a slow client): answered
	// at once and let go, not kept until the rest arrives (the deadline is
	// a minute away).
	start := time.Now()
	if got := readAnswer(t, post(t, addr, 50<<10, 40<<10)); got != http.StatusServiceUnavailable {
		t.Errorf("a 40 KiB start of a body with 12 KiB of the budget left: %d, want 503", got)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the refused slow body was answered and closed after %s, want at once", d)
	}
	waitInFlight(60<<10 - bodylimit.Allowance) // the refused and the small one gave theirs back

	// The slow body arrives; its handler returns and gives back its share.
	if _, err := io.WriteString(slow, strings.Repeat("a", 10<<10)); err != nil {
		t.Fatal(err)
	}
	slow.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(slow), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the slow body, complete: %d, want 200", resp.StatusCode)
	}
	waitInFlight(0)
	if got := send(40 << 10); got != http.StatusOK {
		t.Errorf("a 40 KiB body with the budget free: %d, want 200", got)
	}
}
