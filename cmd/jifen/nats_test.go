package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"jifen/natsout"
	"jifen/points"
	"jifen/storetest"
)

// TestNATS_KillWhilePublishing: `jifen serve --nats` is SIGKILLed at
// random moments while it takes order life cycles and publishes their
// events, and started again on the same database: in the end the stream
// holds every event of the database exactly once, in order, and a
// SIGTERM ends the server cleanly.
func TestNATS_KillWhilePublishing(t *testing.T) {
	url := natsout.TestURL(t)
	kills := crashKills(t)
	for name, newDB := range storeKinds {
		t.Run(name, func(t *testing.T) {
			js, stream, prefix, flags := testStream(t, url)

			db := newDB(t)
			app, secret := provision(t, db, 20, 1_000_000)
			seed := uint64(time.Now().UnixNano())
			t.Logf("seed %d, %d kills", seed, kills)
			rng := rand.New(rand.NewPCG(seed, 0))
			l := &crashLoad{t: t, run: strconv.FormatUint(seed, 36)}
			for k := range kills {
				srv := startChild(t, db, flags...)
				l.client = srv.client(app, secret)
				l.settle(t)
				ctx, cancel := context.WithCancel(context.Background())
				go func() {
					defer cancel()
					time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond)
					srv.kill()
				}()
				l.load(ctx, 8, 20, seed+uint64(k))
				<-ctx.Done()
				if t.Failed() {
					return
				}
				t.Logf("kill %d: %s", k+1, publishingLog(srv.logs.String()))
			}
			srv := startChild(t, db, flags...)
			l.client = srv.client(app, secret)
			l.settle(t)

			store, err := openStore(context.Background(), db)
			if err != nil {
				t.Fatal(err)
			}
			defer store.Close()
			svc := points.New(store, nil, nil)
			want := storetest.AllEvents(t, context.Background(), svc, points.EventQuery{})
			last := want[len(want)-1].Pos
			waitPublished(t, js, stream, prefix, last, srv)
			// Its metrics say so too (the gauges follow each batch).
			deadline := time.Now().Add(10 * time.Second)
			for {
				fams := scrapeMetrics(t, srv.url)
				pos, _ := metricValue(fams, "jifen_nats_published_position", nil)
				lag, _ := metricValue(fams, "jifen_nats_lag_events", nil)
				if pos == float64(last) && lag == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("/metrics: published position %v, lag %v; want %d, 0", pos, lag, last)
				}
				time.Sleep(50 * time.Millisecond)
			}
			srv.stop()
			flows := natsout.TestCheck(t, prefix, natsout.TestConsume(t, js, stream, prefix), want, 0)
			storetest.CheckFlowEvents(t, context.Background(), store, svc)
			l.check(t, db)
			t.Logf("%d events published, %d of them flows", len(want), len(flows))
		})
	}
}

// testStream names a stream and prefix of the test's own on the NATS
// server at url, deleted when the test ends, and the serve flags that
// publish to it from the first event.
func testStream(t *testing.T, url string) (js jetstream.JetStream, stream, prefix string, flags []string) {
	t.Helper()
	stream, prefix = natsout.TestNames(t)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	if js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := js.DeleteStream(context.Background(), stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Logf("delete stream %s: %v", stream, err)
		}
		nc.Close()
	})
	return js, stream, prefix, []string{"--nats", url, "--nats-stream", stream, "--nats-subject-prefix", prefix, "--nats-from-start",
		"--nats-poll-interval", "100ms"}
}

// waitPublished waits until the stream holds the event at last, which
// srv publishes.
func waitPublished(t *testing.T, js jetstream.JetStream, stream, prefix string, last int64, srv *child) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for published(t, js, stream, prefix) < last {
		if time.Now().After(deadline) {
			t.Fatalf("the stream holds events up to %d after 30 s, want %d\n%s", published(t, js, stream, prefix), last, srv.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// published is the position of the stream's last message under prefix
// (-1: none).
func published(t *testing.T, js jetstream.JetStream, stream, prefix string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return -1
	}
	m, err := s.GetLastMsgForSubject(ctx, prefix+".>")
	if err != nil {
		return -1
	}
	n, err := strconv.ParseInt(m.Header.Get(natsout.PositionHeader), 10, 64)
	if err != nil {
		t.Fatalf("last message %s: %s %q", m.Subject, natsout.PositionHeader, m.Header.Get(natsout.PositionHeader))
	}
	return n
}

// publishingLog is what a server's log says of where its publishing
// started.
func publishingLog(logs string) string {
	var out []string
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `"msg":"nats: `) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "; ")
}

// TestServe_NATSFlags: NATS flags that could not work are refused at
// start, naming the flag.
func TestServe_NATSFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		flag string
	}{
		{[]string{"--nats", "http://127.0.0.1:4222"}, "--nats"},
		{[]string{"--nats", "nats://127.0.0.1:4222", "--nats-stream", "jifen.events"}, "--nats-stream"},
		{[]string{"--nats", "nats://127.0.0.1:4222", "--nats-subject-prefix", "jifen.*"}, "--nats-subject-prefix"},
		{[]string{"--nats", "nats://127.0.0.1:4222", "--nats-subject-prefix", ""}, "--nats-subject-prefix"},
		{[]string{"--nats", "nats://127.0.0.1:4222", "--nats-poll-interval", "0s"}, "--nats-poll-interval"},
	} {
		var out, errb strings.Builder
		args := append([]string{"serve", "--db", filepath.Join(t.TempDir(), "x.db"), "--addr", "127.0.0.1:0"}, tt.args...)
		err := run(context.Background(), args, &out, &errb)
		if err == nil || !strings.HasPrefix(err.Error(), tt.flag+":") && !strings.HasPrefix(err.Error(), tt.flag+" ") {
			t.Errorf("serve %q: %v, want an error naming %s", tt.args, err, tt.flag)
		}
	}
}

// TestNATS_MoveBetweenStores: a server publishing to a stream is moved
// from SQLite to PostgreSQL with `jifen export` and `jifen import`; the
// server on the new store carries on in the same stream, after the last
// event the old one published: in the end the stream holds every event of
// the new store — those carried and its own — exactly once, in order.
func TestNATS_MoveBetweenStores(t *testing.T) {
	url := natsout.TestURL(t)
	js, stream, prefix, flags := testStream(t, url)
	newest := func(db string) int64 {
		t.Helper()
		store, err := openStore(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		evs := storetest.AllEvents(t, context.Background(), points.New(store, nil, nil), points.EventQuery{})
		return evs[len(evs)-1].Pos
	}
	// serve runs a server on db with a second of load, until the stream
	// holds its newest event.
	l := &crashLoad{t: t, run: "move"}
	serve := func(db, app, secret string, seed uint64) {
		t.Helper()
		srv := startChild(t, db, flags...)
		l.client = srv.client(app, secret)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		l.load(ctx, 4, 10, seed)
		cancel()
		l.settle(t)
		last := newest(db)
		waitPublished(t, js, stream, prefix, last, srv)
		srv.stop()
		if logs := srv.logs.String(); strings.Contains(logs, "does not follow this database") {
			t.Fatalf("the server refused the stream:\n%s", logs)
		}
	}
	from := storeKinds["sqlite"](t)
	app, secret := provision(t, from, 10, 1_000_000)
	serve(from, app, secret, 1)
	moved := newest(from)

	file := filepath.Join(t.TempDir(), "dump.jsonl")
	to := storeKinds["postgres"](t)
	for _, args := range [][]string{{"export", "--db", from, "-o", file}, {"import", "--db", to, "-f", file}} {
		var out strings.Builder
		if err := run(context.Background(), args, &out, &out); err != nil {
			t.Fatalf("jifen %s: %v\n%s", args[0], err, out.String())
		}
	}
	serve(to, app, secret, 2)
	if newest(to) <= moved {
		t.Fatalf("the new store wrote no event after the %d moved", moved)
	}

	store, err := openStore(context.Background(), to)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	svc := points.New(store, nil, nil)
	want := storetest.AllEvents(t, context.Background(), svc, points.EventQuery{})
	flows := natsout.TestCheck(t, prefix, natsout.TestConsume(t, js, stream, prefix), want, 0)
	storetest.CheckFlowEvents(t, context.Background(), store, svc)
	l.check(t, to)
	t.Logf("%d events moved, %d in all, %d of them flows", moved, len(want), len(flows))
}

// TestNATS_RetentionWaitsForTheStream: a server publishing to NATS that
// cannot reach it records its stream as having nothing yet, so
// --event-retention removes nothing the stream has not got.
func TestNATS_RetentionWaitsForTheStream(t *testing.T) {
	db := storeKinds["sqlite"](t)
	app, secret := provision(t, db, 3, 1000)
	s := startChild(t, db, "--nats", "nats://127.0.0.1:1", "--event-retention", "1s")
	client := s.client(app, secret)
	for i := range 3 {
		extraCharge(t, client, fmt.Sprintf("c%d", i), fmt.Sprintf("n-%d", i))
	}
	time.Sleep(3500 * time.Millisecond) // three removals, each of events over a second old
	fams := scrapeMetrics(t, s.url)
	removed, ok := metricValue(fams, "jifen_events_removed_total", nil)
	if !ok || removed != 0 {
		t.Fatalf("%v events removed (reported: %v) while the stream could get none\n%s", removed, ok, s.logs)
	}
}
