package webhook

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"jifen/points"
)

// The acknowledged events of a batch are kept as one record: after a
// version byte, per event in position order, four unsigned varints — the
// position's step from the one before (from the batch's From for the
// first), the HTTP status, the latency in microseconds, and the attempt's
// time in microseconds after the batch's Start.

const itemsVersion = 1

// EncodeItems is the record of items, acknowledged in a batch after from
// that started at start.
func EncodeItems(from int64, start time.Time, items []BatchItem) []byte {
	b := make([]byte, 0, 1+len(items)*8)
	b = append(b, itemsVersion)
	prev := from
	for _, it := range items {
		b = binary.AppendUvarint(b, uint64(it.Pos-prev))
		b = binary.AppendUvarint(b, uint64(max(it.Status, 0)))
		b = binary.AppendUvarint(b, uint64(max(it.Latency.Microseconds(), 0)))
		b = binary.AppendUvarint(b, uint64(max(it.At.Sub(start).Microseconds(), 0)))
		prev = it.Pos
	}
	return b
}

var errItems = errors.New("malformed record of a batch's deliveries")

// DecodeItems reads a record EncodeItems made.
func DecodeItems(from int64, start time.Time, b []byte) ([]BatchItem, error) {
	if len(b) == 0 || b[0] != itemsVersion {
		return nil, errItems
	}
	b = b[1:]
	var items []BatchItem
	prev := from
	for len(b) > 0 {
		var v [4]uint64
		for i := range v {
			x, n := binary.Uvarint(b)
			if n <= 0 {
				return nil, errItems
			}
			v[i], b = x, b[n:]
		}
		prev += int64(v[0])
		items = append(items, BatchItem{Pos: prev, Status: int(v[1]), Latency: time.Duration(v[2]) * time.Microsecond,
			At: start.Add(time.Duration(v[3]) * time.Microsecond)})
	}
	return items, nil
}

// BatchRecord is a batch's record as a store keeps it.
type BatchRecord struct {
	WebhookID string
	From, To  int64
	Start     time.Time
	Items     []byte // EncodeItems
}

// Batched lists the events r's batches delivered, at positions below
// before (0: no bound), newest first, as deliveries without their event's
// id, type, brand and subject (the store fills those in).
func Batched(rs []BatchRecord, before int64) ([]Delivery, error) {
	var ds []Delivery
	for _, r := range rs {
		items, err := DecodeItems(r.From, r.Start, r.Items)
		if err != nil {
			return nil, fmt.Errorf("batch %s/%d: %w", r.WebhookID, r.To, err)
		}
		for _, it := range items {
			if before > 0 && it.Pos >= before {
				continue
			}
			ds = append(ds, Delivery{WebhookID: r.WebhookID, Pos: it.Pos, State: Delivered, Attempts: 1, Since: it.At,
				DoneAt: it.At, LastStatus: it.Status, LastLatency: it.Latency, Batched: true,
				Log: []Attempt{{N: 1, At: it.At, Status: it.Status, Latency: it.Latency}}})
		}
	}
	slices.SortFunc(ds, func(a, b Delivery) int { return cmp.Compare(b.Pos, a.Pos) })
	return ds, nil
}

// Newest merges two lists of one endpoint's deliveries, each newest
// first, and keeps the newest limit (0: all). No position is in both: an
// event delivered in a batch that is redelivered leaves the batch's
// record for a row of its own (Without).
func Newest(rows, batched []Delivery, limit int) []Delivery {
	out := make([]Delivery, 0, len(rows)+len(batched))
	i, j := 0, 0
	for (i < len(rows) || j < len(batched)) && (limit <= 0 || len(out) < limit) {
		if j == len(batched) || i < len(rows) && rows[i].Pos > batched[j].Pos {
			out = append(out, rows[i])
			i++
		} else {
			out = append(out, batched[j])
			j++
		}
	}
	return out
}

// EventBatched adds to ds, ev's delivery rows (by endpoint), its
// deliveries in the batch records rs (each endpoint's record that holds
// ev's position), and sorts them by endpoint.
func EventBatched(ev points.Event, ds []Delivery, rs []BatchRecord) ([]Delivery, error) {
	for _, r := range rs {
		got, err := Batched([]BatchRecord{r}, ev.Pos+1)
		if err != nil {
			return nil, err
		}
		if len(got) > 0 && got[0].Pos == ev.Pos {
			d := got[0]
			d.BrandID, d.Subject, d.EventID, d.EventType = ev.BrandID, ev.Subject, ev.ID, ev.Type
			ds = append(ds, d)
		}
	}
	slices.SortFunc(ds, func(a, b Delivery) int { return cmp.Compare(a.WebhookID, b.WebhookID) })
	return ds, nil
}

// Without is r's record without the event at pos (redelivered, it has a
// delivery row of its own now) and how many events it still holds.
func Without(r BatchRecord, pos int64) (items []byte, left int, err error) {
	all, err := DecodeItems(r.From, r.Start, r.Items)
	if err != nil {
		return nil, 0, fmt.Errorf("batch %s/%d: %w", r.WebhookID, r.To, err)
	}
	kept := slices.DeleteFunc(all, func(it BatchItem) bool { return it.Pos == pos })
	return EncodeItems(r.From, r.Start, kept), len(kept), nil
}
