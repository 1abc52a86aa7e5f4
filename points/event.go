package points

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"jifen/ledger"
)

// Event types: what a brand's other systems are told.
const (
	EventFlowCreated     = "point.flow.created"
	EventPointExpiring   = "point.expiring"
	EventCustomerCreated = "customer.created"
	EventCustomerUpdated = "customer.updated"
	EventRuleChanged     = "rule.changed"
)

// EventTypes lists every event type.
func EventTypes() []string {
	return []string{EventFlowCreated, EventPointExpiring, EventCustomerCreated, EventCustomerUpdated, EventRuleChanged}
}

// Event is one thing that happened to a brand's ledger, recorded in the
// transaction that made it happen: a write that commits has its events, one
// that does not has none. A flow's event has the flow's id as its own, so
// an event id is unique and stable across every delivery of it.
type Event struct {
	// Pos is the event's place in commit order, given by the store
	// (1, 2, …, per database); 0 for an event not yet read back. Events
	// of one member are in the order of their writes.
	Pos     int64
	ID      string
	BrandID string
	Type    string
	// Subject is the customer id ("" for a brand's events).
	Subject string
	Time    time.Time
	// Data is the event's payload, JSON.
	Data json.RawMessage
}

// EventQuery selects events. Empty fields do not filter.
type EventQuery struct {
	After   int64 // events with Pos > After
	Limit   int   // at most this many (stores cap it)
	BrandID string
	Types   []string
}

// MaxEventsPerRead caps EventQuery.Limit.
const MaxEventsPerRead = 1000

// Capped is how many events q asks for: its Limit, or MaxEventsPerRead
// when that is unset or more.
func (q EventQuery) Capped() int {
	if q.Limit <= 0 || q.Limit > MaxEventsPerRead {
		return MaxEventsPerRead
	}
	return q.Limit
}

// CloudEvent is the structured-mode CloudEvents 1.0 JSON form of e.
func (e Event) CloudEvent() ([]byte, error) {
	ce := struct {
		SpecVersion     string          `json:"specversion"`
		ID              string          `json:"id"`
		Source          string          `json:"source"`
		Type            string          `json:"type"`
		Subject         string          `json:"subject,omitempty"`
		Time            string          `json:"time"`
		DataContentType string          `json:"datacontenttype"`
		Position        int64           `json:"jifenposition,omitempty"`
		Data            json.RawMessage `json:"data"`
	}{"1.0", e.ID, "jifen/" + e.BrandID, e.Type, e.Subject, e.Time.UTC().Format(time.RFC3339Nano), "application/json", e.Pos, e.Data}
	return json.Marshal(ce)
}

// FlowEventData is a point.flow.created event's data: the flow as
// querypointflow shows it, with what identifies it and the member's and
// the order's positions right after it.
type FlowEventData struct {
	FlowID             string `json:"flow_id"`
	BrandID            string `json:"brand_id"`
	CustomerID         string `json:"customer_id"`
	Seq                int64  `json:"seq"`
	BizType            string `json:"biz_type"`
	BizTypeDescription string `json:"biz_type_description"`
	ChangePoint        int64  `json:"change_point"`
	RemainPoint        int64  `json:"remain_point"`
	OutBizID           string `json:"out_biz_id,omitempty"`
	ReverseOrderID     string `json:"reverse_order_id,omitempty"`
	ShopID             string `json:"shop_id,omitempty"`
	ShopName           string `json:"shop_name,omitempty"`
	Channel            string `json:"channel,omitempty"`
	OperatorID         string `json:"operator_id,omitempty"`
	OperatorName       string `json:"operator_name,omitempty"`
	Reason             string `json:"reason,omitempty"`
	Time               string `json:"time"`
	// The member's points right after this flow.
	AvailablePoint int64 `json:"available_point"`
	FrozenPoint    int64 `json:"frozen_point"`
	DebtPoint      int64 `json:"debt_point"`
	// Order is the member's position in the flow's order right after it,
	// for payments, grants and their reversals.
	Order *OrderTotals `json:"order,omitempty"`
}

// OrderTotals is one member's position in one order.
type OrderTotals struct {
	OutBizID   string `json:"out_biz_id"`
	Spent      int64  `json:"spent"`
	Reversed   int64  `json:"reversed"`
	Granted    int64  `json:"granted"`
	ClawedBack int64  `json:"clawed_back"`
}

// flowEvents are the events of the flows c records: one per flow, in the
// flows' order. Each carries the member's balances right after its flow,
// counted back from the account's values after the whole write.
func flowEvents(c ledger.Changes) []Event {
	if len(c.Flows) == 0 {
		return nil
	}
	evs := make([]Event, len(c.Flows))
	avail, frozen, debt := c.Account.Available, c.Account.Frozen, c.Account.Debt
	for i := len(c.Flows) - 1; i >= 0; i-- {
		f := c.Flows[i]
		d := FlowEventData{FlowID: f.ID, BrandID: f.BrandID, CustomerID: f.CustomerID, Seq: f.Seq,
			BizType: string(f.Type), BizTypeDescription: f.Type.Description(), ChangePoint: f.ChangePoint(),
			RemainPoint: f.RemainPoint, OutBizID: f.OutBizID, ReverseOrderID: f.ReverseOrderID, ShopID: f.ShopID,
			ShopName: f.ShopName, Channel: f.Channel, OperatorID: f.OperatorID, OperatorName: f.OperatorName,
			Reason: f.Reason, Time: f.CreatedAt.UTC().Format(time.RFC3339Nano),
			AvailablePoint: avail, FrozenPoint: frozen, DebtPoint: debt}
		if o := c.Order; o != nil && f.OutBizID != "" && o.OutBizID == f.OutBizID && o.CustomerID == f.CustomerID && orderFlow(f.Type) {
			// The order's values after the write are those after its
			// last flow; a write has at most one flow of its order.
			d.Order = &OrderTotals{OutBizID: o.OutBizID, Spent: o.Spent, Reversed: o.Reversed, Granted: o.Granted, ClawedBack: o.ClawedBack}
		}
		evs[i] = Event{ID: f.ID, BrandID: f.BrandID, Type: EventFlowCreated, Subject: f.CustomerID, Time: f.CreatedAt,
			Data: mustJSON(d)}
		avail -= f.DeltaAvailable
		frozen -= f.DeltaFrozen
		debt -= f.DeltaDebt
	}
	return evs
}

// orderFlow reports whether a flow of type t moves an order's totals.
func orderFlow(t ledger.FlowType) bool {
	switch t {
	case ledger.DeductFromConsume, ledger.ExtraConsume, ledger.DeductReverse, ledger.ExtraCharge, ledger.ExtraChargeReverse:
		return true
	}
	return false
}

// CustomerEventData is a customer.created or customer.updated event's
// data: the customer's record as stored by the write (a field cleared is
// absent).
type CustomerEventData struct {
	CustomerID   string `json:"customer_id"`
	BrandID      string `json:"brand_id"`
	Mobile       string `json:"mobile,omitempty"`
	Name         string `json:"name,omitempty"`
	LevelID      string `json:"level_id,omitempty"`
	CustomerType int    `json:"customer_type"`
	Channel      string `json:"channel,omitempty"`
	OuterType    string `json:"outer_type,omitempty"`
	OuterID      string `json:"outer_id,omitempty"`
	ShopID       string `json:"shop_id,omitempty"`
	Gender       string `json:"gender,omitempty"` // "0" female, "1" male
	Email        string `json:"email,omitempty"`
	Birthday     string `json:"birthday,omitempty"` // YYYY-MM-DD
	Address      string `json:"address,omitempty"`
	Remark       string `json:"remark,omitempty"`
	CreatedAt    string `json:"created_at"`
}

// customerEvent is the event of storing c at now (created or updated).
func (s *Service) customerEvent(typ string, c ledger.Customer, now time.Time) Event {
	d := CustomerEventData{CustomerID: c.ID, BrandID: c.BrandID, Mobile: c.Mobile, Name: c.Name, LevelID: c.LevelID,
		CustomerType: c.CustomerType, Channel: c.Channel, OuterType: c.OuterType, OuterID: c.OuterID, ShopID: c.ShopID,
		Gender: c.Gender, Email: c.Email, Birthday: c.Birthday, Address: c.Address, Remark: c.Remark,
		CreatedAt: c.CreatedAt.UTC().Format(time.RFC3339Nano)}
	return Event{ID: s.NewID(), BrandID: c.BrandID, Type: typ, Subject: c.ID, Time: now, Data: mustJSON(d)}
}

// RuleEventData is a rule.changed event's data: the version now in force.
type RuleEventData struct {
	BrandID string      `json:"brand_id"`
	RuleID  string      `json:"rule_id"`
	Version int64       `json:"version"`
	Rule    ledger.Rule `json:"rule"`
}

func (s *Service) ruleEvent(r ledger.Rule, now time.Time) Event {
	return Event{ID: s.NewID(), BrandID: r.BrandID, Type: EventRuleChanged, Time: now,
		Data: mustJSON(RuleEventData{BrandID: r.BrandID, RuleID: r.RuleID, Version: r.Version, Rule: r})}
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		// Event data are plain structs of strings and numbers.
		panic(fmt.Sprintf("points: event data: %v", err))
	}
	return b
}

// apply writes a decision's changes with the request's record (nil for
// none) and the events of its flows: every ledger write goes through here.
func (s *Service) apply(ctx context.Context, tx Tx, c ledger.Changes, rec *ledger.Idempotency) error {
	if err := tx.Apply(ctx, c, rec); err != nil {
		return err
	}
	if evs := flowEvents(c); len(evs) > 0 {
		return tx.Emit(ctx, evs...)
	}
	return nil
}

// write runs fn in a store's write transaction and, once it committed,
// wakes those waiting for events.
func (s *Service) write(ctx context.Context, fn func(Tx) error) error {
	err := s.store.Write(ctx, fn)
	if err == nil {
		s.events.note()
	}
	return err
}

// Events lists the events q selects, in commit order.
func (s *Service) Events(ctx context.Context, q EventQuery) ([]Event, error) {
	q.Limit = q.Capped()
	evs, err := s.store.Events(ctx, q)
	if n := len(evs); n > 0 {
		last := evs[n-1].Pos
		for {
			cur := s.seenEvent.Load()
			if last <= cur || s.seenEvent.CompareAndSwap(cur, last) {
				break
			}
		}
	}
	return evs, err
}

// EventsChanged returns a channel closed at the next commit of events by
// this service (events committed by another server are found by reading
// again after a while).
func (s *Service) EventsChanged() <-chan struct{} { return s.events.wait() }

// Pull reads, for a consumer at cursor q.After, the events q selects and
// the cursor to ask after next: the last event's position or — for a
// page that is not full — the newest position the read looked at (a read
// filtered by brand or type passes others' events, so a quiet brand's
// cursor keeps up with the log, and event retention does not leave it
// behind), else q.After. A cursor whose next events are not all there to
// read is refused (CheckCursor, after the read); an unfiltered page that
// starts right after the cursor has no hole, whatever was removed since.
func (s *Service) Pull(ctx context.Context, q EventQuery) (evs []Event, next int64, err error) {
	q.Limit = q.Capped()
	filtered := q.BrandID != "" || len(q.Types) > 0
	var newest int64
	if filtered {
		// Before the read: every event up to it is in the read's range.
		if newest, err = s.NewestEvent(ctx); err != nil {
			return nil, 0, err
		}
	}
	if evs, err = s.Events(ctx, q); err != nil {
		return nil, 0, err
	}
	if filtered || len(evs) == 0 || evs[0].Pos != q.After+1 {
		if err := s.CheckCursor(ctx, q.After); err != nil {
			return nil, 0, err
		}
	}
	next = q.After
	if len(evs) < q.Limit {
		next = max(next, newest)
	}
	if n := len(evs); n > 0 {
		next = max(next, evs[n-1].Pos)
	}
	return evs, next, nil
}

// CheckCursor refuses a cursor (an event position to read after) whose
// next events are not all there to read. One below the horizon asks for
// events removed after the retention period (see PruneEvents): a reader
// must start again from the horizon, knowing what it missed. And
// positions are given without gaps and a cursor is always one of them (or
// 0), so one beyond the newest event is from another database, or this
// one was restored from an older copy: waiting for the events after it
// would skip this database's events up to it.
//
// Check after reading the events after the cursor, not before: the
// horizon only moves on, so a cursor at or above it after the read had
// none of its next events removed before the read.
func (s *Service) CheckCursor(ctx context.Context, after int64) error {
	h, err := s.store.EventHorizon(ctx)
	if err != nil {
		return err
	}
	if after < h {
		return ledger.Invalidf("after", "位置 %d 及之前的事件已超过保留期被删除, 游标 %d 之后的部分事件已无法读取; "+
			"请从 %d 起读取", h, after, h)
	}
	if after == h || after <= s.seenEvent.Load() {
		return nil // a position read before: a consumer polling at the newest event costs no read
	}
	evs, err := s.Events(ctx, EventQuery{After: after - 1, Limit: 1})
	if err != nil {
		return err
	}
	if len(evs) == 0 || evs[0].Pos != after {
		return ledger.Invalidf("after", "本库没有位置 %d 的事件: 游标来自另一个数据库, 或本库已恢复为更早的副本; "+
			"请从 0 或本库给出的游标重新读取", after)
	}
	return nil
}

// eventBell tells waiters that events were written.
type eventBell struct {
	mu sync.Mutex
	ch chan struct{}
}

func (b *eventBell) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = make(chan struct{})
	}
	return b.ch
}

// note rings the bell, after a commit.
func (b *eventBell) note() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch != nil {
		close(b.ch)
		b.ch = nil
	}
}
