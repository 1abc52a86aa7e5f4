package natsout_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"jifen/ledger"
	"jifen/natsout"
	"jifen/points"
	"jifen/postgres"
	"jifen/sqlite"
	"jifen/storetest"
)

// stores are the stores every publishing test runs on.
var stores = []struct {
	name string
	open storetest.Opener
}{
	{"sqlite", func(t testing.TB) storetest.Store {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "jifen.db"))
		if err != nil {
			t.Fatalf("sqlite.Open: %v", err)
		}
		return s
	}},
	{"postgres", func(t testing.TB) storetest.Store { return postgres.OpenTest(t) }},
}

// fixture is one test's stream on a NATS server, and a client of it.
type fixture struct {
	t              *testing.T
	url            string
	stream, prefix string
	nc             *nats.Conn
	js             jetstream.JetStream
	logs           *storetest.LockedBuffer
}

// newFixture names a stream and prefix of the test's own on the server
// at url, and deletes the stream when the test ends.
func newFixture(t *testing.T, url string) *fixture {
	t.Helper()
	f := &fixture{t: t, url: url, logs: &storetest.LockedBuffer{}}
	f.stream, f.prefix = natsout.TestNames(t)
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	f.nc = nc
	if f.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := f.js.DeleteStream(ctx, f.stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Logf("delete stream %s: %v", f.stream, err)
		}
		nc.Close()
		if t.Failed() {
			t.Logf("publisher logs:\n%s", f.logs)
		}
	})
	return f
}

// config is the publisher's configuration for this fixture.
func (f *fixture) config() natsout.Config {
	return natsout.Config{URL: f.url, Stream: f.stream, Prefix: f.prefix, Poll: 50 * time.Millisecond, AckTimeout: 2 * time.Second,
		Backoff: 200 * time.Millisecond, Log: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
}

// run starts a publisher of src; the returned func stops it and waits
// until it returned.
func (f *fixture) run(src natsout.Source, c natsout.Config) (stop func()) {
	f.t.Helper()
	p, err := natsout.New(src, c)
	if err != nil {
		f.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					f.t.Errorf("Run: %v", err)
				}
			case <-time.After(10 * time.Second):
				f.t.Errorf("the publisher did not stop within 10 s of its context's end")
			}
		})
	}
	f.t.Cleanup(stop)
	return stop
}

// position is the Jifen-Position of the stream's last message of the
// test's (-1: none yet, or the stream is unreachable).
func (f *fixture) position() int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := f.js.Stream(ctx, f.stream)
	if err != nil {
		return -1
	}
	m, err := s.GetLastMsgForSubject(ctx, f.prefix+".>")
	if err != nil {
		return -1
	}
	n, err := strconv.ParseInt(m.Header.Get(natsout.PositionHeader), 10, 64)
	if err != nil {
		f.t.Fatalf("last message %s: %s %q", m.Subject, natsout.PositionHeader, m.Header.Get(natsout.PositionHeader))
	}
	return n
}

// waitFor waits until the stream holds the event at pos.
func (f *fixture) waitFor(pos int64, within time.Duration) {
	f.t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := f.position()
		if got >= pos {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("the stream holds events up to position %d after %s, want %d", got, within, pos)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// check proves what a consumer of the stream gets (natsout.TestCheck)
// and that every flow stored whose event came after from is there. It
// returns the flow events' data.
func (f *fixture) check(st storetest.Store, svc *points.Service, from int64) []points.FlowEventData {
	f.t.Helper()
	t := f.t
	want := storetest.AllEvents(t, context.Background(), svc, points.EventQuery{After: from})
	flows := natsout.TestCheck(t, f.prefix, natsout.TestConsume(t, f.js, f.stream, f.prefix), want, from)
	published := map[string]bool{}
	for _, d := range flows {
		published[d.BrandID+"/"+d.FlowID] = true
	}
	pos := map[string]int64{}
	for _, ev := range storetest.AllEvents(t, context.Background(), svc, points.EventQuery{Types: []string{points.EventFlowCreated}}) {
		pos[ev.BrandID+"/"+ev.ID] = ev.Pos
	}
	err := st.EachAccount(context.Background(), func(r points.AccountRows) error {
		for _, fl := range r.Flows {
			k := fl.BrandID + "/" + fl.ID
			if pos[k] == 0 {
				return fmt.Errorf("flow %s (%s #%d of %s) has no event", fl.ID, fl.Type, fl.Seq, fl.CustomerID)
			}
			if pos[k] > from && !published[k] {
				return fmt.Errorf("flow %s (%s #%d of %s) was not published", fl.ID, fl.Type, fl.Seq, fl.CustomerID)
			}
			delete(published, k)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for k := range published {
		t.Errorf("published flow event %s has no stored flow", k)
	}
	return flows
}

// oddBrand is a brand id holding what a subject token may not.
const oddBrand = "门店.A >1*"

// world adds to the standard test world a brand whose id needs escaping,
// with customer Z1, and an app "odd" for it; and callers for B2 and it.
func world(t *testing.T, e *storetest.Env) (b2, odd points.Caller) {
	t.Helper()
	_, err := e.Svc.Apply(e.Ctx, points.Tenant{
		Apps: []ledger.App{{Key: "odd", Secret: "odd-secret", Name: "Odd", Active: true, Channels: []string{"KRY"}, Brands: []string{oddBrand}}},
		Brands: []points.TenantBrand{{Brand: ledger.Brand{ID: oddBrand, Name: "Odd", Settings: ledger.DefaultSettings()},
			Shops: []ledger.Shop{{ID: "OS1", Name: "Odd shop"}}}},
		Customers: []ledger.Customer{{ID: "Z1", BrandID: oddBrand, Name: "Odd one"}},
	})
	if err != nil {
		t.Fatalf("provision %q: %v", oddBrand, err)
	}
	for key, c := range map[string]*points.Caller{"other": &b2, "odd": &odd} {
		a, err := e.Store.App(e.Ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		*c = points.Caller{App: a}
	}
	return b2, odd
}

// load is a mix of writes from several goroutines: payments, partial
// refunds, charges, on brands B1, B2 and the odd brand; payments refused
// for want of points, bad input, and replays of a request, none of which
// may have an event. It returns the orders of the refused writes.
type load struct {
	e        *storetest.Env
	b2, odd  points.Caller
	mu       sync.Mutex
	refused  []string
	failures []error
}

func newLoad(t *testing.T, e *storetest.Env) *load {
	b2, odd := world(t, e)
	l := &load{e: e, b2: b2, odd: odd}
	for _, m := range []string{"C1", "C2", "C3"} {
		e.MustCharge(m, "seed-"+m, 1_000_000)
	}
	return l
}

func (l *load) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures = append(l.failures, err)
}

// run sends workers × n operations of the mix; tag keeps each run's
// orders apart.
func (l *load) run(t *testing.T, tag string, workers, n int) {
	t.Helper()
	e := l.e
	members := []string{"C1", "C2", "C3"}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range n {
				member := members[(w+i)%len(members)]
				order := fmt.Sprintf("%s-w%d-%d", tag, w, i)
				r := e.Order(order, 5)
				r.CustomerID = member
				if _, err := e.Svc.Consume(e.Ctx, e.Caller, r); err != nil {
					l.fail(fmt.Errorf("consume %s: %w", order, err))
					return
				}
				if _, err := e.Svc.Consume(e.Ctx, e.Caller, r); err != nil { // a replay: no new flow
					l.fail(fmt.Errorf("replay %s: %w", order, err))
					return
				}
				two := int64(2)
				rv := e.Reverse(order, order+"-r", &two)
				rv.CustomerID = member
				if _, err := e.Svc.Reverse(e.Ctx, e.Caller, rv); err != nil {
					l.fail(fmt.Errorf("reverse %s: %w", order, err))
					return
				}
				switch i % 4 {
				case 0: // a payment refused: not enough points
					r := e.Order(order+"-refused", 1_000_000_000_000)
					r.CustomerID = member
					if _, err := e.Svc.Consume(e.Ctx, e.Caller, r); !ledger.IsCode(err, ledger.CodePointNotEnough) {
						l.fail(fmt.Errorf("payment of too many points: %v, want %s", err, ledger.CodePointNotEnough))
						return
					}
					bad := e.Order(order+"-bad", -3) // bad input: refused before writing
					bad.CustomerID = member
					if _, err := e.Svc.ExtraCharge(e.Ctx, e.Caller, bad); err == nil {
						l.fail(fmt.Errorf("charge of -3 points accepted"))
						return
					}
					l.mu.Lock()
					l.refused = append(l.refused, order+"-refused", order+"-bad")
					l.mu.Unlock()
				case 1:
					r := e.Order(order+"-b2", 7)
					r.Target, r.CustomerID, r.RequestID = points.Target{BrandID: "B2", ShopID: "S9", Channel: "CS"}, "X1", e.ReqID()
					if _, err := e.Svc.ExtraCharge(e.Ctx, l.b2, r); err != nil {
						l.fail(fmt.Errorf("charge X1: %w", err))
						return
					}
				case 2:
					r := e.Order(order+"-odd", 9)
					r.Target, r.CustomerID, r.RequestID = points.Target{BrandID: oddBrand, ShopID: "OS1", Channel: "KRY"}, "Z1", e.ReqID()
					if _, err := e.Svc.ExtraCharge(e.Ctx, l.odd, r); err != nil {
						l.fail(fmt.Errorf("charge Z1: %w", err))
						return
					}
				}
			}
		})
	}
	wg.Wait()
	for _, err := range l.failures {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
}

// checkRefused proves no published flow belongs to a refused write.
func (l *load) checkRefused(t *testing.T, flows []points.FlowEventData) {
	t.Helper()
	refused := map[string]bool{}
	for _, o := range l.refused {
		refused[o] = true
	}
	if len(refused) == 0 {
		t.Fatal("the load refused nothing")
	}
	for _, d := range flows {
		if refused[d.OutBizID] {
			t.Errorf("flow %s of refused order %s published", d.FlowID, d.OutBizID)
		}
	}
}

// newest is the position of the store's newest event.
func newest(t *testing.T, svc *points.Service) int64 {
	t.Helper()
	all := storetest.AllEvents(t, context.Background(), svc, points.EventQuery{})
	if len(all) == 0 {
		return 0
	}
	return all[len(all)-1].Pos
}

// reports collects a publisher's progress reports.
type reports struct {
	mu  sync.Mutex
	all []natsout.Progress
}

func (r *reports) observe(p natsout.Progress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.all = append(r.all, p)
}

// until waits until a report says the stream holds the event at pos, and
// returns the reports so far.
func (r *reports) until(t *testing.T, pos int64) []natsout.Progress {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.mu.Lock()
		all := slices.Clone(r.all)
		r.mu.Unlock()
		if len(all) > 0 && all[len(all)-1].Position >= pos {
			return all
		}
		if time.Now().After(deadline) {
			t.Fatalf("no report of position %d within 10 s: %+v", pos, all)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sum adds reports up: what was stored and found duplicate in all, the
// positions of the last.
func sum(all []natsout.Progress) natsout.Progress {
	var s natsout.Progress
	for _, p := range all {
		s.Stored += p.Stored
		s.Duplicates += p.Duplicates
		s.Position, s.Newest = p.Position, p.Newest
		s.Failed = s.Failed || p.Failed
	}
	return s
}

// TestPublisher_MixedWrites: with the publisher running from the start,
// a mix of writes from several goroutines reaches a consumer exactly
// once, in order, on each store.
func TestPublisher_MixedWrites(t *testing.T) {
	url := natsout.TestURL(t)
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := storetest.NewEnv(t, st.open)
			f := newFixture(t, url)
			l := newLoad(t, e)
			c := f.config()
			c.FromStart = true
			r := &reports{}
			c.Observe = r.observe
			f.run(e.Svc, c)
			l.run(t, "mix", 6, 20)
			last := newest(t, e.Svc)
			f.waitFor(last, 30*time.Second)
			flows := f.check(e.Store, e.Svc, 0)
			l.checkRefused(t, flows)
			odd := 0
			for _, d := range flows {
				if d.BrandID == oddBrand {
					odd++
				}
			}
			if odd == 0 {
				t.Errorf("no flow of brand %q published", oddBrand)
			}
			if total := sum(r.until(t, last)); total.Stored != int(last) || total.Duplicates != 0 || total.Position != last || total.Newest != last {
				t.Errorf("progress %+v; want %d stored, none duplicate, at position %d", total, last, last)
			}
		})
	}
}

// TestPublisher_TwoServers: two servers of one database publish the same
// events to one stream at once; the stream holds each once, in order.
func TestPublisher_TwoServers(t *testing.T) {
	url := natsout.TestURL(t)
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := storetest.NewEnv(t, st.open)
			f := newFixture(t, url)
			l := newLoad(t, e)
			other := points.New(e.Store, e.Clock, nil) // the second server: its commits do not wake the first
			c := f.config()
			c.FromStart = true
			c.Batch = 37
			f.run(e.Svc, c)
			f.run(other, c)
			l.run(t, "two", 6, 15)
			f.waitFor(newest(t, e.Svc), 30*time.Second)
			l.checkRefused(t, f.check(e.Store, e.Svc, 0))
		})
	}
}

// TestPublisher_Restart: a publisher started after another stopped
// continues after the stream's last event: nothing sent twice, nothing
// missed.
func TestPublisher_Restart(t *testing.T) {
	url := natsout.TestURL(t)
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			e := storetest.NewEnv(t, st.open)
			f := newFixture(t, url)
			l := newLoad(t, e)
			c := f.config()
			c.FromStart = true
			stop := f.run(e.Svc, c)
			l.run(t, "first", 3, 10)
			first := newest(t, e.Svc)
			f.waitFor(first, 30*time.Second)
			stop()
			l.run(t, "between", 3, 10) // nothing publishes these now
			if got := f.position(); got != first {
				t.Fatalf("stream at position %d with no publisher running, want %d", got, first)
			}
			r := &reports{}
			c.FromStart = false // the stream is not empty: no matter
			c.Observe = r.observe
			f.run(e.Svc, c)
			l.run(t, "after", 3, 10)
			last := newest(t, e.Svc)
			f.waitFor(last, 30*time.Second)
			l.checkRefused(t, f.check(e.Store, e.Svc, 0))
			all := r.until(t, last)
			if total := sum(all); all[0].Position != first || total.Stored != int(last-first) || total.Duplicates != 0 {
				t.Errorf("second publisher: first report %+v, then %+v; want it to start at %d and store %d, no duplicates",
					all[0], total, first, last-first)
			}
		})
	}
}

// TestPublisher_StartsFromNewest: on a new stream without FromStart,
// publishing starts after the newest event; a restart before the first
// event is published still starts there (the start marker), not after a
// newer one.
func TestPublisher_StartsFromNewest(t *testing.T) {
	url := natsout.TestURL(t)
	e := storetest.NewEnv(t, stores[0].open)
	f := newFixture(t, url)
	l := newLoad(t, e)
	l.run(t, "old", 2, 4)
	from := newest(t, e.Svc)
	stop := f.run(e.Svc, f.config())
	f.waitFor(from, 10*time.Second) // the marker
	stop()
	l.run(t, "new", 2, 4) // while no publisher runs
	f.run(e.Svc, f.config())
	l.run(t, "newer", 2, 4)
	f.waitFor(newest(t, e.Svc), 30*time.Second)
	flows := f.check(e.Store, e.Svc, from)
	for _, d := range flows {
		if strings.HasPrefix(d.OutBizID, "old-") {
			t.Errorf("flow %s of order %s, from before the stream started, published", d.FlowID, d.OutBizID)
		}
	}
	if len(flows) == 0 {
		t.Fatal("nothing published")
	}
}

// TestPublisher_OperatorsStream: a stream that exists is used as it is,
// with its own settings; one that does not take jifen's subjects is
// refused with the reason, and nothing is published.
func TestPublisher_OperatorsStream(t *testing.T) {
	url := natsout.TestURL(t)
	e := storetest.NewEnv(t, stores[0].open)
	f := newFixture(t, url)
	ctx := t.Context()
	cfg := jetstream.StreamConfig{Name: f.stream, Subjects: []string{f.prefix + ".>", f.prefix + "_other"},
		Storage: jetstream.MemoryStorage, Duplicates: 10 * time.Minute, MaxMsgs: 100_000}
	s, err := f.js.CreateStream(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.js.Publish(ctx, f.prefix+"_other", []byte("not jifen's")); err != nil {
		t.Fatal(err)
	}
	before := s.CachedInfo().Config
	c := f.config()
	c.FromStart = true
	stop := f.run(e.Svc, c)
	e.MustCharge("C1", "g1", 10)
	f.waitFor(newest(t, e.Svc), 10*time.Second)
	stop()
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.Config; got.Storage != before.Storage || got.Duplicates != before.Duplicates || got.MaxMsgs != before.MaxMsgs ||
		fmt.Sprint(got.Subjects) != fmt.Sprint(before.Subjects) {
		t.Errorf("stream settings changed: %+v, were %+v", got, before)
	}
	if info.State.Msgs != uint64(newest(t, e.Svc))+2 { // the marker, every event, the other message
		t.Errorf("%d messages in the stream, want %d", info.State.Msgs, newest(t, e.Svc)+2)
	}

	// A stream that does not take jifen's subjects.
	g := newFixture(t, url)
	if _, err := g.js.CreateStream(ctx, jetstream.StreamConfig{Name: g.stream, Subjects: []string{g.prefix + ".only.this"}}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	failed := 0
	c = g.config()
	c.Observe = func(p natsout.Progress) {
		mu.Lock()
		defer mu.Unlock()
		if p.Failed {
			failed++
		}
	}
	stop = g.run(e.Svc, c)
	time.Sleep(time.Second)
	stop()
	mu.Lock()
	defer mu.Unlock()
	logs := g.logs.String()
	if failed < 2 || strings.Count(logs, "publishing stopped") != 1 || !strings.Contains(logs, "not jifen's "+g.prefix+".>") {
		t.Errorf("%d failed attempts; logs:\n%s\nwant several, one warning naming the stream's subjects", failed, logs)
	}
	if g.position() != -1 {
		t.Error("published to a stream that does not take jifen's subjects")
	}
}

// TestPublisher_Refuses: a stream name or prefix NATS would read
// otherwise is refused, naming it.
func TestPublisher_Refuses(t *testing.T) {
	for _, c := range []natsout.Config{
		{URL: "nats://127.0.0.1:1", Stream: "a.b"},
		{URL: "nats://127.0.0.1:1", Stream: "a b"},
		{URL: "nats://127.0.0.1:1", Prefix: "a.*"},
		{URL: "nats://127.0.0.1:1", Prefix: "a..b"},
		{URL: "nats://127.0.0.1:1", Prefix: "a.>"},
		{URL: "nats://127.0.0.1:1", Prefix: "jifen "},
		{},
		{URL: "http://127.0.0.1:4222"},
		{URL: "nats://"},
		{URL: "nats://127.0.0.1:4222, nats://a b"},
	} {
		if _, err := natsout.New(nil, c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
	if _, err := natsout.New(nil, natsout.Config{URL: "nats://127.0.0.1:1,127.0.0.1:2, tls://127.0.0.1:4223", Stream: "JIFEN-prod_2", Prefix: "acme.jifen"}); err != nil {
		t.Errorf("New: %v", err)
	}
}

func TestBrandToken(t *testing.T) {
	for in, want := range map[string]string{
		"12332":      "12332",
		"kry-demo_1": "kry-demo_1",
		"kry.demo":   "kry%2Edemo",
		"a b\tc":     "a%20b%09c",
		"*>":         "%2A%3E",
		"100%":       "100%25",
		"$SYS":       "%24SYS",
		"品":          "%E5%93%81",
		"a:b":        "a%3Ab",
	} {
		if got := natsout.BrandToken(in); got != want {
			t.Errorf("BrandToken(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPublisher_Purged: a stream purged, then published to from the
// start again, gets every event back, though it still remembers their
// message ids for its duplicate window (here the operator's 1 s):
// acknowledgements of messages it no longer holds are not taken for
// publishing.
func TestPublisher_Purged(t *testing.T) {
	url := natsout.TestURL(t)
	e := storetest.NewEnv(t, stores[0].open)
	f := newFixture(t, url)
	s, err := f.js.CreateStream(t.Context(), jetstream.StreamConfig{Name: f.stream, Subjects: []string{f.prefix + ".>"},
		Duplicates: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	l := newLoad(t, e)
	c := f.config()
	c.FromStart = true
	stop := f.run(e.Svc, c)
	l.run(t, "first", 2, 5)
	f.waitFor(newest(t, e.Svc), 30*time.Second)
	stop()
	if err := s.Purge(t.Context()); err != nil {
		t.Fatal(err)
	}
	f.run(e.Svc, c)
	f.waitFor(newest(t, e.Svc), 30*time.Second)
	l.checkRefused(t, f.check(e.Store, e.Svc, 0))
	if logs := f.logs.String(); !strings.Contains(logs, "purged within the duplicate window") {
		t.Errorf("no stale duplicate seen; logs:\n%s", logs)
	}
}

// TestPublisher_AnotherDatabase: a stream filled from one database is
// not continued from another whose events are numbered otherwise (one
// moved without its event log, or restored from an older copy): nothing
// is published, whether the other database has no event at the
// stream's position yet or another event there, and the log says why.
func TestPublisher_AnotherDatabase(t *testing.T) {
	url := natsout.TestURL(t)
	f := newFixture(t, url)
	c := f.config()
	c.FromStart = true
	first := storetest.NewEnv(t, stores[0].open)
	newLoad(t, first).run(t, "first", 2, 5)
	end := newest(t, first.Svc)
	stop := f.run(first.Svc, c)
	f.waitFor(end, 30*time.Second)
	stop()

	other := storetest.NewEnv(t, stores[0].open)
	l := newLoad(t, other)
	l.run(t, "behind", 1, 2)
	if newest(t, other.Svc) >= end {
		t.Fatalf("the other database has %d events, want fewer than %d", newest(t, other.Svc), end)
	}
	f.run(other.Svc, c)
	refused := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(f.logs.String(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("no refusal containing %q; logs:\n%s", want, f.logs)
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond) // a few retries
		if got := f.position(); got != end {
			t.Fatalf("the stream's position moved from %d to %d", end, got)
		}
	}
	refused("this database holds no event there")
	if !strings.Contains(f.logs.String(), "level=ERROR") {
		t.Errorf("the refusal is not logged as an error; logs:\n%s", f.logs)
	}
	l.run(t, "past", 2, 5)
	if newest(t, other.Svc) <= end {
		t.Fatalf("the other database has %d events, want more than %d", newest(t, other.Svc), end)
	}
	refused("where this database holds")
}

// TestPublisher_AfterRetention: events removed after the retention period
// (by a server whose output record no longer held them back) are not
// there to publish: a publisher started on a stream whose last message
// is at or below the horizon carries on after the horizon, saying as an
// error what the stream missed, rather than refusing the stream.
func TestPublisher_AfterRetention(t *testing.T) {
	url := natsout.TestURL(t)
	e := storetest.NewEnv(t, stores[0].open)
	f := newFixture(t, url)
	c := f.config()
	c.FromStart = true
	l := newLoad(t, e)
	stop := f.run(e.Svc, c)
	l.run(t, "published", 2, 3)
	published := newest(t, e.Svc)
	f.waitFor(published, 30*time.Second)
	stop()
	l.run(t, "missed", 2, 3) // while no publisher runs
	e.Clock.Advance(48 * time.Hour)
	l.run(t, "later", 2, 3)
	p, err := e.Svc.PruneEvents(t.Context(), 24*time.Hour)
	if err != nil || p.Horizon <= published {
		t.Fatalf("prune: %+v, %v; want events after %d removed", p, err, published)
	}
	f.run(e.Svc, c)
	f.waitFor(newest(t, e.Svc), 30*time.Second)
	logs := f.logs.String()
	if strings.Contains(logs, "does not follow this database") || !strings.Contains(logs, "the stream missed events removed") {
		t.Fatalf("after the horizon moved past the stream: logs\n%s", logs)
	}
	msgs := natsout.TestConsume(t, f.js, f.stream, f.prefix)
	want := storetest.AllEvents(t, t.Context(), e.Svc, points.EventQuery{})
	var gotPos []int64
	for _, m := range msgs[1:] {
		n, _ := strconv.ParseInt(m.Header.Get(natsout.PositionHeader), 10, 64)
		gotPos = append(gotPos, n)
	}
	if len(gotPos) != int(published)+len(want) || gotPos[published-1] != published || gotPos[published] != want[0].Pos {
		t.Fatalf("the stream holds positions %v; want 1–%d, then %d–%d", gotPos, published, want[0].Pos, want[len(want)-1].Pos)
	}
	for _, line := range strings.Split(logs, "\n") {
		if strings.Count(line, " stream=") > 1 {
			t.Errorf("a log line names the stream twice: %s", line)
		}
	}

	// A stream started from the start now starts at the horizon: its
	// marker says so, and the first event kept follows it.
	fresh := newFixture(t, url)
	fc := fresh.config()
	fc.FromStart = true
	fresh.run(e.Svc, fc)
	fresh.waitFor(newest(t, e.Svc), 30*time.Second)
	natsout.TestCheck(t, fresh.prefix, natsout.TestConsume(t, fresh.js, fresh.stream, fresh.prefix), want, p.Horizon)
	if strings.Contains(fresh.logs.String(), "level=ERROR") {
		t.Errorf("a stream started after the horizon logged an error:\n%s", fresh.logs)
	}
}
