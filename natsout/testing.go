package natsout

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"jifen/points"
)

// defaultTestURL is the NATS server tests use when JIFEN_TEST_NATS is not
// set and it answers.
const defaultTestURL = "nats://127.0.0.1:4222"

var probe struct {
	once sync.Once
	err  error
}

// TestURL is the NATS server (with JetStream) for tests: $JIFEN_TEST_NATS,
// else defaultTestURL if it answers within 2 seconds. Without one the
// test is skipped, or fails when JIFEN_REQUIRE_NATS=1 (as in CI). Tests
// share it: each publishes to a stream and subjects of its own
// (TestNames).
func TestURL(tb testing.TB) string {
	tb.Helper()
	if u := os.Getenv("JIFEN_TEST_NATS"); u != "" {
		return u
	}
	probe.once.Do(func() { probe.err = Answers(strings.TrimPrefix(defaultTestURL, "nats://"), 2*time.Second) })
	if probe.err != nil {
		msg := "NATS not reachable at " + defaultTestURL + ": set JIFEN_TEST_NATS (" + probe.err.Error() + ")"
		if os.Getenv("JIFEN_REQUIRE_NATS") == "1" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return defaultTestURL
}

// Answers tells whether a NATS server at addr (host:port) greets a new
// connection within the time given.
func Answers(addr string, within time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, within)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(within)); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("%s: no greeting: %w", addr, err)
	}
	if !strings.HasPrefix(line, "INFO ") {
		return fmt.Errorf("%s: greets with %.40q, not a NATS INFO", addr, line)
	}
	return nil
}

// TestNames makes a stream name and a subject prefix that no other test,
// of this process or another, uses; the test deletes its stream when it
// ends.
func TestNames(tb testing.TB) (stream, prefix string) {
	tb.Helper()
	id := strings.ToLower(rand.Text()[:12])
	return "JIFENTEST_" + strings.ToUpper(id), "jifentest_" + id
}

// TestMsg is a message as a consumer of the stream got it.
type TestMsg struct {
	Subject string
	Header  nats.Header
	Data    []byte
	Seq     uint64 // the stream's sequence
}

// TestConsume reads every message of stream under prefix.>, in stream
// order, as a subscriber would: with an ordered consumer.
func TestConsume(tb testing.TB, js jetstream.JetStream, stream, prefix string) []TestMsg {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		tb.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(prefix+".>"))
	if err != nil {
		tb.Fatal(err)
	}
	var want uint64
	for _, n := range info.State.Subjects {
		want += n
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{prefix + ".>"}})
	if err != nil {
		tb.Fatal(err)
	}
	var got []TestMsg
	for uint64(len(got)) < want {
		batch, err := c.Fetch(500, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			tb.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			md, err := m.Metadata()
			if err != nil {
				tb.Fatal(err)
			}
			got = append(got, TestMsg{m.Subject(), m.Headers(), m.Data(), md.Sequence.Stream})
			n++
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			tb.Fatal(err)
		}
		if n == 0 {
			tb.Fatalf("the consumer read %d of %d messages, then nothing", len(got), want)
		}
	}
	return got
}

// TestCheck proves that msgs are what a consumer must get from a stream
// whose publishing started at from: the start marker at from, then each
// event of want (the store's events after from) exactly once — after
// de-duplicating by Nats-Msg-Id, and the stream holds no duplicate
// either — in position order, with its subject, headers and CloudEvent
// body; each member's flows in the order of their sequence numbers. It
// returns the flow events' data.
func TestCheck(tb testing.TB, prefix string, msgs []TestMsg, want []points.Event, from int64) []points.FlowEventData {
	tb.Helper()
	if len(msgs) == 0 || msgs[0].Subject != prefix+"."+startToken || msgs[0].Header.Get(PositionHeader) != strconv.FormatInt(from, 10) {
		tb.Fatalf("first of %d messages %+v, want the start marker at position %d", len(msgs), msgs[:min(1, len(msgs))], from)
	}
	seen := map[string]bool{}
	var events []TestMsg
	for _, m := range msgs[1:] {
		id := m.Header.Get(jetstream.MsgIDHeader)
		if seen[id] {
			tb.Errorf("message id %s twice in the stream", id)
			continue
		}
		seen[id] = true
		events = append(events, m)
	}
	for i := 0; i < max(len(events), len(want)); i++ {
		switch {
		case i >= len(events):
			tb.Fatalf("the stream ends after %d events; the store's event %d (%s) and %d more are missing",
				len(events), want[i].Pos, want[i].ID, len(want)-i-1)
		case i >= len(want):
			tb.Fatalf("the stream holds %d events after the store's %d: %s %s", len(events)-i, len(want), events[i].Subject, events[i].Header)
		case events[i].Header.Get(PositionHeader) != strconv.FormatInt(want[i].Pos, 10):
			tb.Fatalf("stream event %d (sequence %d) has position %s, want %d (%s %s); %d events in the stream, %d in the store",
				i+1, events[i].Seq, events[i].Header.Get(PositionHeader), want[i].Pos, want[i].Type, want[i].ID, len(events), len(want))
		}
	}
	lastSeq := map[string]int64{}
	var flows []points.FlowEventData
	for i, m := range events {
		ev := want[i]
		checkMessage(tb, prefix, m, ev)
		if ev.Type != points.EventFlowCreated {
			continue
		}
		var d points.FlowEventData
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			tb.Fatal(err)
		}
		member := ev.BrandID + "/" + ev.Subject
		if d.Seq <= lastSeq[member] {
			tb.Errorf("member %s: flow #%d after #%d", member, d.Seq, lastSeq[member])
		}
		lastSeq[member] = d.Seq
		flows = append(flows, d)
	}
	return flows
}

// checkMessage checks one message against the event it carries.
func checkMessage(tb testing.TB, prefix string, m TestMsg, ev points.Event) {
	tb.Helper()
	brand := BrandToken(ev.BrandID)
	if want := prefix + "." + brand + "." + ev.Type; m.Subject != want {
		tb.Errorf("event %d: subject %q, want %q", ev.Pos, m.Subject, want)
	}
	for k, want := range map[string]string{
		jetstream.MsgIDHeader:           brand + ":" + ev.ID,
		PositionHeader:                  strconv.FormatInt(ev.Pos, 10),
		jetstream.ExpectedLastSeqHeader: strconv.FormatUint(m.Seq-1, 10),
		"Content-Type":                  "application/cloudevents+json",
		"ce-specversion":                "1.0",
		"ce-id":                         ev.ID,
		"ce-type":                       ev.Type,
		"ce-source":                     "jifen/" + ev.BrandID,
		"ce-subject":                    ev.Subject,
		"ce-time":                       ev.Time.UTC().Format(time.RFC3339Nano),
	} {
		if got := m.Header.Get(k); got != want {
			tb.Errorf("event %d (%s): header %s = %q, want %q", ev.Pos, m.Subject, k, got, want)
		}
	}
	var ce struct {
		SpecVersion     string          `json:"specversion"`
		ID              string          `json:"id"`
		Source          string          `json:"source"`
		Type            string          `json:"type"`
		Subject         string          `json:"subject"`
		Time            time.Time       `json:"time"`
		DataContentType string          `json:"datacontenttype"`
		Position        int64           `json:"jifenposition"`
		Data            json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(m.Data, &ce); err != nil {
		tb.Fatalf("event %d: body %s: %v", ev.Pos, m.Data, err)
	}
	var data, wantData any
	if err := json.Unmarshal(ce.Data, &data); err != nil {
		tb.Fatalf("event %d: data %s: %v", ev.Pos, ce.Data, err)
	}
	if err := json.Unmarshal(ev.Data, &wantData); err != nil {
		tb.Fatal(err)
	}
	if ce.SpecVersion != "1.0" || ce.ID != ev.ID || ce.Source != "jifen/"+ev.BrandID || ce.Type != ev.Type || ce.Subject != ev.Subject ||
		!ce.Time.Equal(ev.Time) || ce.DataContentType != "application/json" || ce.Position != ev.Pos ||
		data == nil || !reflect.DeepEqual(data, wantData) {
		tb.Errorf("event %d: body %s\nwant the CloudEvent of %+v", ev.Pos, m.Data, ev)
	}
}
