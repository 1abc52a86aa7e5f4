package console

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"jifen/backoffice"
	"jifen/ledger"
)

// primarySpy is a Reader that records whether each Customer read was
// marked for the primary (backoffice.ReadPrimary).
type primarySpy struct {
	backoffice.Reader
	mu      sync.Mutex
	primary []bool
}

func (s *primarySpy) Customer(ctx context.Context, id string) (ledger.Customer, error) {
	s.mu.Lock()
	s.primary = append(s.primary, backoffice.ReadsPrimary(ctx))
	s.mu.Unlock()
	return s.Reader.Customer(ctx, id)
}

func (s *primarySpy) take() []bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.primary
	s.primary = nil
	return p
}

// TestConsole_PageAfterWriteReadsPrimary: a customer's page reads through
// the reader (a replica may serve it), but the page a write redirects to
// (?ok=) reads the primary, so the operator sees what they just did.
func TestConsole_PageAfterWriteReadsPrimary(t *testing.T) {
	e := newConsoleEnv(t)
	spy := &primarySpy{Reader: e.Admin().Reader()}
	ts := httptest.NewServer(New(backoffice.New(e.Svc, spy), e.ops, nil, nil))
	t.Cleanup(ts.Close)
	e.url = ts.URL
	e.signIn()
	spy.take()
	e.get("/console/customers/C1").want(t, http.StatusOK)
	for _, p := range spy.take() {
		if p {
			t.Error("a customer's page read the primary, want the reader's choice")
		}
	}
	e.get("/console/customers/C1?ok=updated").want(t, http.StatusOK)
	got := spy.take()
	if len(got) == 0 {
		t.Fatal("the page after a write read no customer")
	}
	for _, p := range got {
		if !p {
			t.Error("the page after a write read a customer not marked for the primary")
		}
	}
}
