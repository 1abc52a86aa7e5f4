package webhook

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
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

// newClient is the HTTP client of deliveries: timeout for the whole
// exchange, no redirects followed (a 3xx is an answer, and not a 2xx), no
// proxy from the environment (the guard must see the endpoint's address),
// the address guard unless allowPrivate, and up to conns connections kept
// open per endpoint host: as many as attempts may be in flight at once, so
// that a busy endpoint's connections are reused rather than dialled and
// closed for every event (docs/benchmarks.md).
func newClient(timeout time.Duration, allowPrivate bool, conns int) *http.Client {
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = guard
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   timeout,
		MaxIdleConns:          max(100, conns),
		MaxIdleConnsPerHost:   conns,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
