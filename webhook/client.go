package webhook

import (
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// AddressError is a connection the client refused to make: the address
// it was about to dial is one a webhook may not reach.
type AddressError struct {
	Addr netip.Addr
	Kind string // loopback, link-local, private, …
}

func (e *AddressError) Error() string {
	return fmt.Sprintf("refused to connect to %s, a %s address (jifen serve --webhook-allow-private allows it)", e.Addr, e.Kind)
}

// sharedSpace is 100.64.0.0/10 (RFC 6598), carrier-grade NAT, where some
// clouds answer their metadata service (Alibaba Cloud at 100.100.100.200).
var sharedSpace = netip.MustParsePrefix("100.64.0.0/10")

// thisNetwork is 0.0.0.0/8, which some systems dial as the local host.
var thisNetwork = netip.MustParsePrefix("0.0.0.0/8")

// forbidden says why a webhook may not reach a, or "" if it may.
func forbidden(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case a.IsUnspecified() || thisNetwork.Contains(a):
		return "unspecified"
	case a.IsLoopback():
		return "loopback"
	case a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast():
		return "link-local"
	case a.IsPrivate():
		return "private"
	case sharedSpace.Contains(a):
		return "shared (carrier-grade NAT)"
	case a.IsMulticast() || a.IsInterfaceLocalMulticast():
		return "multicast"
	}
	return ""
}

// guard is a net.Dialer's Control: it sees the address about to be
// dialled, after DNS, so a name that resolves to a forbidden address is
// refused too.
func guard(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("refused to connect to %q: not an IP address and port", address)
	}
	if why := forbidden(ap.Addr()); why != "" {
		return &AddressError{Addr: ap.Addr().Unmap(), Kind: why}
	}
	return nil
}

// newClient is the HTTP client of deliveries: fasthttp's, which writes a
// request and reads its answer on the attempt's own goroutine over a
// kept-alive connection. net/http's transport hands every request to a
// writer goroutine and every answer back from a reader goroutine; with one
// request per event that cost more CPU than the rest of the attempt, taken
// from the ledger's writes on the same machine (docs/benchmarks.md).
//
// It follows no redirect (a 3xx is an answer, and not a 2xx), uses no
// proxy from the environment (the guard must see the endpoint's address),
// dials through the address guard unless allowPrivate, and keeps up to
// conns connections per endpoint host: as many as attempts may be in
// flight at once, so that a busy endpoint's connections are reused rather
// than dialled and closed for every event. An answer's body is streamed,
// so that a long one is read only as far as an attempt records. Each
// attempt sets its own deadline (DoDeadline): timeout for the whole
// exchange, waiting for a connection included.
func newClient(timeout time.Duration, allowPrivate bool, conns int) *fasthttp.Client {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = guard
	}
	return &fasthttp.Client{
		Name: "jifen-webhooks",
		// Dial resolves the name and tries each address, each through
		// the guard; fasthttp adds TLS for https:// URLs.
		Dial:                func(addr string) (net.Conn, error) { return d.Dial("tcp", addr) },
		MaxConnsPerHost:     conns,
		MaxConnWaitTimeout:  timeout,
		MaxIdleConnDuration: 90 * time.Second,
		ReadTimeout:         timeout,
		WriteTimeout:        timeout,
		StreamResponseBody:  true,
		// The URL is sent as it was configured.
		DisablePathNormalizing: true,
	}
}
