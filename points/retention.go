package points

import (
	"context"
	"time"
)

// Event retention: the event log grows with every write; a brand whose
// consumers keep up needs its events only for a while. Removing them is
// bounded by every consumer jifen knows of — each active webhook
// endpoint's cursor and pending deliveries, and each output that records
// its position here (a NATS stream) — and by time: only events older than
// the retention period go, from the start of the log, a contiguous
// prefix, and never the newest (positions go on after it). A pull
// consumer's cursor is not known: one that falls behind the horizon is
// told so (CheckCursor) rather than given a log with a hole.

// EventLog is what event retention asks of a store.
type EventLog interface {
	// EventHorizon is the highest position whose event was removed (0:
	// none was).
	EventHorizon(ctx context.Context) (int64, error)
	// NewestEvent is the highest position a read of events sees now: every
	// event up to it is committed and numbered, and none will be numbered
	// at or below it.
	NewestEvent(ctx context.Context) (int64, error)
	// RecordOutput notes that output name has published every event up
	// to pos, as of at (a lower position than recorded before is taken as
	// it is: a stream purged or made anew holds less).
	RecordOutput(ctx context.Context, name string, pos int64, at time.Time) error
	// PruneEvents removes, in one write, up to q.Limit events from the
	// start of the log, as q and the consumers allow, with the webhook
	// delivery records of their positions, and moves the horizon.
	PruneEvents(ctx context.Context, q PruneQuery) (Pruned, error)
}

// PruneQuery bounds a removal of events.
type PruneQuery struct {
	// Before: only events whose time is before it go, and none after the
	// first that is not.
	Before time.Time
	// OutputsSince: an output recorded at or after it holds back the
	// events it has not published; one recorded before it (no server runs
	// it any more) holds nothing back.
	OutputsSince time.Time
	Limit        int
}

// Pruned is what a removal did.
type Pruned struct {
	Removed int   // events removed
	Horizon int64 // the horizon after it
	Floor   int64 // the highest position the consumers allowed
}

// pruneBatch is how many events one removal takes: one short write.
const pruneBatch = 5000

// PruneEvents removes the events older than retention that every known
// consumer has passed, a batch at a time, and says how many went and the
// horizon after.
func (s *Service) PruneEvents(ctx context.Context, retention time.Duration) (Pruned, error) {
	now := s.Now()
	// An output recorded within the period holds events back — or within
	// the last minute, if the period is shorter: a server records its
	// stream's position only every few seconds (jifen events prune
	// --older-than 1s beside a server publishing to NATS).
	q := PruneQuery{Before: now.Add(-retention), OutputsSince: now.Add(-max(retention, time.Minute)), Limit: pruneBatch}
	var all Pruned
	for {
		p, err := s.store.PruneEvents(ctx, q)
		all.Removed += p.Removed
		all.Horizon, all.Floor = max(all.Horizon, p.Horizon), p.Floor
		if err != nil || p.Removed < q.Limit {
			return all, err
		}
	}
}

// RecordOutput notes how far an output has published (see EventLog).
func (s *Service) RecordOutput(ctx context.Context, name string, pos int64) error {
	return s.store.RecordOutput(ctx, name, pos, s.Now())
}

// NewestEvent is the highest position a read of events sees now (see
// EventLog).
func (s *Service) NewestEvent(ctx context.Context) (int64, error) { return s.store.NewestEvent(ctx) }

// EventHorizon is the highest position whose event was removed (0: none).
func (s *Service) EventHorizon(ctx context.Context) (int64, error) { return s.store.EventHorizon(ctx) }
