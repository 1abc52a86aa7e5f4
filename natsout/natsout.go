// Package natsout publishes jifen's events to a NATS JetStream stream,
// at least once, in commit order.
//
// Each event is one message on <prefix>.<brand>.<type> (the brand id as
// BrandToken writes it), whose body is the event's structured-mode
// CloudEvent and whose headers carry Nats-Msg-Id <brand>:<event id>, so
// that the stream keeps one copy of an event sent twice within its
// duplicate window, and Jifen-Position, the event's position.
//
// # Where publishing resumes
//
// The stream itself records how far publishing got: jifen keeps no
// position of its own. On start, and after every failure, the publisher
// reads the last message under <prefix>.> and publishes the events after
// its Jifen-Position, in position order. Every message carries
// Nats-Expected-Last-Sequence, the stream sequence its predecessor was
// stored at: the stream stores a message only right after the one before
// it, so what it holds of jifen's is always a prefix of the events in
// position order — never one event without an earlier one — and the last
// of them is a safe place to resume, whatever failed in between (a
// connection lost with a window of publishes in flight, a leader change,
// a process killed). Several servers of one database publish the same
// events in the same order: the stream de-duplicates by message id before
// it checks the expected sequence, so a second copy is acknowledged as a
// duplicate; a publisher that finds the stream moved on (its expected
// sequence is refused) reads the stream's end again and carries on from
// there.
//
// A stream with no message of jifen's (new, or purged) is started from
// the first event when FromStart is set, else from the newest event at
// that moment. Either way the publisher first stores a start marker
// (<prefix>.$start, empty, with Jifen-Position), so that a restart before
// its first event resumes from the same place rather than from a newer
// one, which would skip the events between.
//
// A stream remembers message ids for its duplicate window even after a
// purge: an event it acknowledges as a duplicate of a message other than
// the one right after the publisher's last is not taken as published
// (the publisher reads the stream's end again and retries, until the
// window has passed).
package natsout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"jifen/points"
)

// Headers jifen sets beside the CloudEvents ones.
const (
	// PositionHeader is the event's position (points.Event.Pos).
	PositionHeader = "Jifen-Position"
)

// Defaults of Config.
const (
	DefaultStream     = "JIFEN"
	DefaultPrefix     = "jifen"
	DefaultPoll       = time.Second
	DefaultBatch      = 500
	DefaultAckTimeout = 5 * time.Second
	// DefaultDuplicates is the duplicate window of a stream jifen
	// creates, NATS's own default.
	DefaultDuplicates = 2 * time.Minute
)

// startToken is the subject token of the start marker, after the prefix.
// No brand token starts with '$' (see token).
const startToken = "$start"

// Source is where the events come from: a *points.Service.
type Source interface {
	Events(ctx context.Context, q points.EventQuery) ([]points.Event, error)
	EventsChanged() <-chan struct{}
	// EventHorizon is the highest position whose event was removed
	// after the retention period (0: none).
	EventHorizon(ctx context.Context) (int64, error)
}

// Config says where and how to publish.
type Config struct {
	URL    string // the NATS server(s), comma-separated
	Stream string // DefaultStream when empty
	Prefix string // DefaultPrefix when empty
	// FromStart starts a stream that holds no message of jifen's from
	// the first event rather than the newest.
	FromStart bool
	// Poll is how often the store is read for events committed by other
	// servers (this one's commits wake the publisher at once).
	Poll time.Duration
	// Batch is how many events one read takes and how many publishes are
	// in flight at most.
	Batch int
	// AckTimeout bounds the wait for the stream's acknowledgement.
	AckTimeout time.Duration
	// Backoff is the longest wait between attempts while publishing
	// fails (it starts at a tenth of a second and doubles); 5 s when 0.
	Backoff time.Duration
	Log     *slog.Logger
	// Observe, when set, is told of each batch the stream acknowledged
	// and each failed attempt.
	Observe func(Progress)
}

// Progress is what the publisher did since it last said.
type Progress struct {
	Stored     int   // events the stream stored
	Duplicates int   // events it already held (acknowledged, not stored again)
	Position   int64 // the last event the stream holds (0: none yet)
	Newest     int64 // the newest event the publisher has read
	Failed     bool  // an attempt failed (the stream was unreachable, refused, or the store failed)
}

// Publisher publishes a Source's events to one stream.
type Publisher struct {
	src Source
	c   Config
	log *slog.Logger

	position, newest int64
	acked            uint64    // acknowledgements received, ever
	started          bool      // a session has started once
	down             time.Time // when the current outage began; zero when publishing works
	refused          bool      // the current outage's refusal of another database's stream was logged
	gapLogged        int64     // the horizon whose gap in the stream was logged
}

// New returns a publisher of src's events; Run starts it.
func New(src Source, c Config) (*Publisher, error) {
	if err := checkURL(c.URL); err != nil {
		return nil, fmt.Errorf("natsout: server URL: %w", err)
	}
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if err := CheckStream(c.Stream); err != nil {
		return nil, fmt.Errorf("natsout: stream name: %w", err)
	}
	if err := CheckPrefix(c.Prefix); err != nil {
		return nil, fmt.Errorf("natsout: subject prefix: %w", err)
	}
	if c.Poll <= 0 {
		c.Poll = DefaultPoll
	}
	if c.Batch <= 0 || c.Batch > points.MaxEventsPerRead {
		c.Batch = DefaultBatch
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = DefaultAckTimeout
	}
	if c.Backoff <= 0 {
		c.Backoff = 5 * time.Second
	}
	log := c.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Publisher{src: src, c: c, log: log.With("stream", c.Stream)}, nil
}

// checkURL refuses a server list nats.Connect would not read: URLs
// separated by commas, each nats://, tls://, ws:// or wss:// (or a bare
// host:port, read as nats://) with a host.
func checkURL(list string) error {
	if strings.TrimSpace(list) == "" {
		return errors.New("empty")
	}
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if !strings.Contains(s, "://") {
			s = "nats://" + s
		}
		u, err := url.Parse(s)
		if err != nil {
			return err
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return fmt.Errorf("%q: scheme %q, want nats, tls, ws or wss", s, u.Scheme)
		}
		if u.Hostname() == "" {
			return fmt.Errorf("%q: no host", s)
		}
	}
	return nil
}

// Run publishes until ctx ends, and returns nil then. While the server
// is unreachable or publishing fails, it tries again with backoff,
// logging once per outage; stopping at any moment loses nothing, since
// the next run resumes after what the stream holds.
func (p *Publisher) Run(ctx context.Context) error {
	reconnected := make(chan struct{}, 1)
	nc, err := nats.Connect(p.c.URL,
		nats.Name("jifen"),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(500*time.Millisecond),
		// A publish while disconnected fails at once rather than waiting
		// in a buffer: the publisher resumes from the stream's end.
		nats.ReconnectBufSize(-1),
		nats.ConnectHandler(func(*nats.Conn) { wake(reconnected) }),
		nats.ReconnectHandler(func(*nats.Conn) { wake(reconnected) }),
		nats.NoCallbacksAfterClientClose(),
	)
	if err != nil {
		return fmt.Errorf("natsout: connect %s: %w", p.c.URL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(2*p.c.Batch),
		jetstream.WithPublishAsyncTimeout(p.c.AckTimeout),
		jetstream.WithDefaultTimeout(p.c.AckTimeout))
	if err != nil {
		return fmt.Errorf("natsout: %w", err)
	}
	var pause time.Duration
	stuck := 0 // sessions in a row that published nothing
	for {
		acked := p.acked
		err := p.session(ctx, js)
		if ctx.Err() != nil {
			return nil
		}
		if p.acked != acked {
			pause, stuck = 0, 0 // it worked for a while: this is a new failure
		}
		stuck++
		if movedOn(err) && stuck <= 8 {
			// The stream moved on under us (another server published,
			// another publisher's message came between ours, or one of
			// ours was stored without its answer reaching us): read its
			// end again, at once the first time. Only when this goes on
			// is it a failure to tell of.
			p.log.Debug("nats: the stream moved on; reading its end again", "error", err)
			if pause == 0 {
				pause = time.Millisecond
				continue
			}
			pause = min(2*pause, p.c.Backoff)
		} else {
			p.failed(ctx, err)
			pause = min(max(2*pause, 100*time.Millisecond), p.c.Backoff)
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		case <-reconnected:
			t.Stop()
			pause = 0
		}
	}
}

func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// session publishes from the stream's end until something fails.
func (p *Publisher) session(ctx context.Context, js jetstream.JetStream) error {
	s, err := p.stream(ctx, js)
	if err != nil {
		return err
	}
	pos, seq, last, found, err := p.end(ctx, s)
	if err != nil {
		return err
	}
	if !found {
		if err := p.start(ctx, js, seq); err != nil {
			return err
		}
		// Read the end again: another server may have started the stream
		// first (then the marker stored is its).
		if pos, seq, last, found, err = p.end(ctx, s); err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("natsout: stream %s: the start marker is not there after it was stored", p.c.Stream)
		}
	}
	if err := p.follows(ctx, pos, last); err != nil {
		return err
	}
	p.position = pos
	from := pos
	p.observe(Progress{Position: pos, Newest: max(p.newest, pos)})
	poll := time.NewTicker(p.c.Poll)
	defer poll.Stop()
	for {
		changed := p.src.EventsChanged()
		evs, err := p.src.Events(ctx, points.EventQuery{After: pos, Limit: p.c.Batch})
		if err != nil {
			return fmt.Errorf("natsout: reading events after %d: %w", pos, err)
		}
		if len(evs) == 0 {
			p.resumed(from)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-changed:
			case <-poll.C:
			}
			continue
		}
		p.newest = max(p.newest, evs[len(evs)-1].Pos)
		if pos, seq, err = p.publish(ctx, js, evs, pos, seq); err != nil {
			return err
		}
		p.resumed(from)
	}
}

// stream is the stream to publish to, created (file storage, subjects
// <prefix>.>) if absent. One that exists is used as it is, provided it
// takes jifen's subjects: it may be the operator's.
func (p *Publisher) stream(ctx context.Context, js jetstream.JetStream) (jetstream.Stream, error) {
	s, err := js.Stream(ctx, p.c.Stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = js.CreateStream(ctx, jetstream.StreamConfig{
			Name:        p.c.Stream,
			Description: "jifen's events",
			Subjects:    []string{p.c.Prefix + ".>"},
			Storage:     jetstream.FileStorage,
			Duplicates:  DefaultDuplicates,
		})
		if err == nil {
			p.log.Info("nats: stream created", "subjects", p.c.Prefix+".>")
		} else if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			s, err = js.Stream(ctx, p.c.Stream) // another server created it meanwhile
		}
	}
	if err != nil {
		return nil, fmt.Errorf("natsout: stream %s: %w", p.c.Stream, err)
	}
	for _, f := range s.CachedInfo().Config.Subjects {
		if covers(f, p.c.Prefix) {
			return s, nil
		}
	}
	return nil, fmt.Errorf("natsout: stream %s takes subjects %q, not jifen's %s.>", p.c.Stream, s.CachedInfo().Config.Subjects, p.c.Prefix)
}

// end reads the stream's end: the position of its last message under the
// prefix (found false when there is none), that message, and the stream's
// last sequence, which the next message must expect.
func (p *Publisher) end(ctx context.Context, s jetstream.Stream) (pos int64, seq uint64, last *jetstream.RawStreamMsg, found bool, err error) {
	info, err := s.Info(ctx)
	if err != nil {
		return 0, 0, nil, false, fmt.Errorf("natsout: stream %s: %w", p.c.Stream, err)
	}
	seq = info.State.LastSeq
	m, err := s.GetLastMsgForSubject(ctx, p.c.Prefix+".>")
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, seq, nil, false, nil
	}
	if err != nil {
		return 0, 0, nil, false, fmt.Errorf("natsout: stream %s: last message under %s.>: %w", p.c.Stream, p.c.Prefix, err)
	}
	v := m.Header.Get(PositionHeader)
	pos, err = strconv.ParseInt(v, 10, 64)
	if err != nil || pos < 0 {
		return 0, 0, nil, false, fmt.Errorf("natsout: stream %s: its last message under %s.> (%s, sequence %d) has %s %q, not a position: "+
			"is another publisher using jifen's subjects?", p.c.Stream, p.c.Prefix, m.Subject, m.Sequence, PositionHeader, v)
	}
	return pos, max(seq, m.Sequence), m, true, nil
}

// ErrOtherDatabase is a stream whose last message is not of this
// database's events: publishing after its position would skip events.
var ErrOtherDatabase = errors.New("the stream does not follow this database")

// follows checks that the stream's last message, at pos, is this
// database's: the event at pos is there, with the message's id (the start
// marker names only a position). A stream filled from another database —
// one moved without its event log, a copy restored from an older backup,
// a standby promoted without the primary's last events — numbers its
// events otherwise: publishing after pos would skip this database's
// events up to it and carry the others as though already published. So
// nothing is published until the stream is one that follows this
// database (a new one, or this one purged, with --nats-from-start).
//
// A stream whose last event is at or below the horizon cannot be checked:
// its event is gone. One below it missed the events removed in between
// (no server published to it for longer than the retention period): that
// is logged as an error, once, and publishing goes on after the horizon.
func (p *Publisher) follows(ctx context.Context, pos int64, last *jetstream.RawStreamMsg) error {
	if pos == 0 {
		return nil
	}
	h, err := p.src.EventHorizon(ctx)
	if err != nil {
		return fmt.Errorf("natsout: the events' horizon: %w", err)
	}
	if pos < h && p.gapLogged < h {
		p.gapLogged = h
		p.log.Error("nats: the stream missed events removed after the retention period; publishing goes on after them",
			"position", pos, "removed_through", h)
	}
	if pos <= h {
		return nil
	}
	evs, err := p.src.Events(ctx, points.EventQuery{After: pos - 1, Limit: 1})
	if err != nil {
		return fmt.Errorf("natsout: reading the event at %d: %w", pos, err)
	}
	marker := last.Subject == p.c.Prefix+"."+startToken
	id := last.Header.Get(jetstream.MsgIDHeader)
	switch {
	case len(evs) == 0 || evs[0].Pos != pos:
		return fmt.Errorf("natsout: stream %s: %w: its last message (%s, sequence %d) is at position %d, "+
			"and this database holds no event there; publish to another stream (--nats-stream) with --nats-from-start",
			p.c.Stream, ErrOtherDatabase, last.Subject, last.Sequence, pos)
	case !marker && id != token(evs[0].BrandID)+":"+evs[0].ID:
		return fmt.Errorf("natsout: stream %s: %w: its last message (%s, sequence %d) is event %s at position %d, "+
			"where this database holds %s:%s; publish to another stream (--nats-stream) with --nats-from-start",
			p.c.Stream, ErrOtherDatabase, last.Subject, last.Sequence, id, pos, evs[0].BrandID, evs[0].ID)
	}
	return nil
}

// start stores the start marker in a stream that holds nothing of
// jifen's, at position 0 with FromStart, else at the newest event now.
// Its message id is tied to the stream's last sequence, so that servers
// starting the same stream at once store one marker between them.
func (p *Publisher) start(ctx context.Context, js jetstream.JetStream, seq uint64) error {
	var pos int64
	var err error
	if p.c.FromStart {
		// The first event kept: those through the horizon were removed
		// after the retention period, and the marker says where it starts.
		if pos, err = p.src.EventHorizon(ctx); err != nil {
			return fmt.Errorf("natsout: the events' horizon: %w", err)
		}
	} else if pos, err = newest(ctx, p.src, 0); err != nil {
		return fmt.Errorf("natsout: the newest event: %w", err)
	}
	m := nats.NewMsg(p.c.Prefix + "." + startToken)
	m.Header.Set(PositionHeader, strconv.FormatInt(pos, 10))
	m.Header.Set(jetstream.MsgIDHeader, startToken+":"+strconv.FormatUint(seq, 10))
	m.Header.Set(jetstream.ExpectedLastSeqHeader, strconv.FormatUint(seq, 10))
	if _, err := js.PublishMsg(ctx, m, jetstream.WithRetryAttempts(0)); err != nil {
		return fmt.Errorf("natsout: stream %s: start marker: %w", p.c.Stream, err)
	}
	p.log.Info("nats: stream started", "from_position", pos, "from_start", p.c.FromStart)
	return nil
}

// newest is the position of the newest event (0: none), given that of
// an event (from, or 0), found with a few one-event reads: there is an
// event after x for every x below it and none after it.
func newest(ctx context.Context, src Source, from int64) (int64, error) {
	first := func(after int64) (int64, bool, error) {
		evs, err := src.Events(ctx, points.EventQuery{After: after, Limit: 1})
		if err != nil || len(evs) == 0 {
			return 0, false, err
		}
		return evs[0].Pos, true, nil
	}
	lo := from // lo: a position that exists
	if lo <= 0 {
		var ok bool
		var err error
		if lo, ok, err = first(0); err != nil || !ok {
			return 0, err
		}
	}
	// Gallop to a hi with nothing after it, then halve [lo, hi].
	var hi int64
	for step := int64(1024); ; step *= 2 {
		p, ok, err := first(lo + step)
		if err != nil {
			return 0, err
		}
		if !ok {
			hi = lo + step
			break
		}
		lo = p
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		p, ok, err := first(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = p
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// publish sends evs (those after pos, in order) with their publishes in
// flight together, each expecting the sequence of the one before it, and
// waits for their acknowledgements in order. It returns the position and
// sequence of the last event the stream acknowledged.
func (p *Publisher) publish(ctx context.Context, js jetstream.JetStream, evs []points.Event, pos int64, seq uint64) (int64, uint64, error) {
	futures := make([]jetstream.PubAckFuture, 0, len(evs))
	var sendErr error
	for i, ev := range evs {
		m, err := p.message(ev)
		if err != nil {
			sendErr = err
			break
		}
		m.Header.Set(jetstream.ExpectedLastSeqHeader, strconv.FormatUint(seq+uint64(i), 10))
		f, err := js.PublishMsgAsync(m, jetstream.WithRetryAttempts(0))
		if err != nil {
			sendErr = fmt.Errorf("natsout: publish event %d: %w", ev.Pos, err)
			break
		}
		futures = append(futures, f)
	}
	var pr Progress
	defer func() {
		pr.Position, pr.Newest = pos, max(p.newest, pos)
		p.position = pos
		p.observe(pr)
	}()
	timeout := time.NewTimer(p.c.AckTimeout)
	defer timeout.Stop()
	for i, f := range futures {
		select {
		case ack := <-f.Ok():
			if ack.Duplicate && ack.Sequence != seq+1 {
				// Not the copy of ours that the stream holds right after
				// our last (another server's, in step with us), but one
				// it no longer holds (purged, deleted) or holds elsewhere:
				// the stream remembers message ids for its duplicate
				// window even after a purge. Resume from its end; an
				// event it will not store again is retried until the
				// window has passed.
				return pos, seq, &staleDuplicate{evs[i].Pos, ack.Sequence, seq}
			}
			p.acked++
			if ack.Duplicate {
				pr.Duplicates++
			} else {
				pr.Stored++
			}
			pos, seq = evs[i].Pos, ack.Sequence
		case err := <-f.Err():
			return pos, seq, fmt.Errorf("natsout: publish event %d: %w", evs[i].Pos, err)
		case <-timeout.C:
			return pos, seq, fmt.Errorf("natsout: publish event %d: no acknowledgement within %s", evs[i].Pos, p.c.AckTimeout)
		case <-ctx.Done():
			return pos, seq, ctx.Err()
		}
	}
	return pos, seq, sendErr
}

// message is ev's message: subject, CloudEvent body and headers.
func (p *Publisher) message(ev points.Event) (*nats.Msg, error) {
	if ev.BrandID == "" {
		return nil, fmt.Errorf("natsout: event %d (%s) has no brand", ev.Pos, ev.ID)
	}
	if err := checkSubject(ev.Type); err != nil {
		return nil, fmt.Errorf("natsout: event %d: type %w", ev.Pos, err)
	}
	body, err := ev.CloudEvent()
	if err != nil {
		return nil, fmt.Errorf("natsout: event %d: %w", ev.Pos, err)
	}
	brand := token(ev.BrandID)
	m := nats.NewMsg(p.c.Prefix + "." + brand + "." + ev.Type)
	m.Data = body
	h := m.Header
	h.Set(jetstream.MsgIDHeader, brand+":"+ev.ID)
	h.Set(PositionHeader, strconv.FormatInt(ev.Pos, 10))
	// The body is the whole event (structured mode); these copy its
	// attributes for consumers that route on headers without reading it.
	h.Set("Content-Type", "application/cloudevents+json")
	h.Set("ce-specversion", "1.0")
	h.Set("ce-id", ev.ID)
	h.Set("ce-type", ev.Type)
	headerText(h, "ce-source", "jifen/"+ev.BrandID)
	headerText(h, "ce-subject", ev.Subject)
	h.Set("ce-time", ev.Time.UTC().Format(time.RFC3339Nano))
	return m, nil
}

// headerText sets a header whose value holds caller-chosen text, unless
// it is empty or holds a control character, which a header cannot carry
// (jifen refuses those in ids; the body has the value anyway).
func headerText(h nats.Header, key, v string) {
	if v == "" {
		return
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] == 0x7f {
			return
		}
	}
	h.Set(key, v)
}

// staleDuplicate is an event the stream acknowledged as a duplicate of a
// message that is not the one right after the publisher's last.
type staleDuplicate struct {
	pos           int64
	original, did uint64
}

func (e *staleDuplicate) Error() string {
	return fmt.Sprintf("natsout: publish event %d: the stream took it for a duplicate of its message %d, not of one right after %d "+
		"(purged within the duplicate window?)", e.pos, e.original, e.did)
}

// movedOn reports whether err says that the stream's end is not where the
// publisher thought: a message refused because its expected last
// sequence was not the stream's, or a stale duplicate.
func movedOn(err error) bool {
	var apiErr *jetstream.APIError
	var stale *staleDuplicate
	return errors.As(err, &stale) || errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// failed notes a failed attempt, and logs the first of an outage. It
// reads how far the store has gone meanwhile, for the lag.
func (p *Publisher) failed(ctx context.Context, err error) {
	if n, err := newest(ctx, p.src, max(p.newest, p.position)); err == nil {
		p.newest = max(p.newest, n)
	}
	p.observe(Progress{Position: p.position, Newest: max(p.newest, p.position), Failed: true})
	if errors.Is(err, ErrOtherDatabase) {
		// Not an outage that passes by itself: said as an error, once
		// per outage, whatever failed before it.
		if !p.refused {
			p.refused = true
			if p.down.IsZero() {
				p.down = time.Now()
			}
			p.log.Error("nats: publishing stopped; retrying", "error", err, "position", p.position)
			return
		}
	}
	if !p.down.IsZero() {
		p.log.Debug("nats: publishing still failing", "error", err)
		return
	}
	p.down = time.Now()
	p.log.Warn("nats: publishing stopped; retrying", "error", err, "position", p.position)
}

// resumed logs, once publishing works (a batch acknowledged, or nothing
// left to publish), the first start and the end of an outage.
func (p *Publisher) resumed(from int64) {
	switch {
	case !p.down.IsZero():
		p.log.Info("nats: publishing resumed", "after_position", from, "outage", time.Since(p.down).Round(time.Millisecond))
	case !p.started:
		p.log.Info("nats: publishing", "subjects", p.c.Prefix+".>", "after_position", from)
	default:
		return
	}
	p.started, p.down, p.refused = true, time.Time{}, false
}

func (p *Publisher) observe(pr Progress) {
	if p.c.Observe != nil {
		p.c.Observe(pr)
	}
}
