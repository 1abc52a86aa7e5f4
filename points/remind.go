package points

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"jifen/ledger"
)

// MaxReminderDays bounds a brand's expiry_reminders.
const MaxReminderDays = 366

// ExpiringEventData is a point.expiring event's data: a lot whose points
// expire soon.
type ExpiringEventData struct {
	BrandID    string `json:"brand_id"`
	CustomerID string `json:"customer_id"`
	LotID      string `json:"lot_id"`
	Points     int64  `json:"points"`      // what remains in the lot now
	ExpiresAt  string `json:"expires_at"`  // the instant its points expire
	DaysBefore int    `json:"days_before"` // the reminder: this many days before the expiry's day
	OutBizID   string `json:"out_biz_id,omitempty"`
}

// reminders remembers, per brand and reminder, the expiry bound up to which
// lots were reminded: a sweep reads only the lots whose reminder day began
// since the last one (a day's worth at midnight, in the brand's time zone).
// It is this process's memory: after a restart the lots in the reminder
// window are read again, and an event id stored already is not stored
// twice.
type reminders struct {
	mu    sync.Mutex
	bound map[string]time.Time // brand id + "/" + days → expiry bound done
}

// remindBatch bounds the reminders recorded in one transaction.
const remindBatch = 500

// remind records a point.expiring event for each lot of a brand with
// expiry_reminders whose reminder day has begun (the calendar day, in the
// brand's time zone, that many days before the day the lot expires), if
// the lot still has points, has not expired and existed when its
// reminder day began. Each lot's reminder is one event (its id names the
// lot and the days), however often it is recorded.
func (s *Service) remind(ctx context.Context, now time.Time) (int, error) {
	brands, err := s.store.Brands(ctx)
	if err != nil {
		return 0, err
	}
	sent := 0
	for _, b := range brands {
		for _, days := range b.Settings.ExpiryReminders {
			n, err := s.remindBrand(ctx, b, days, now)
			sent += n
			if err != nil {
				return sent, fmt.Errorf("expiry reminders of brand %s (%d days): %w", b.ID, days, err)
			}
		}
	}
	return sent, nil
}

func (s *Service) remindBrand(ctx context.Context, b ledger.Brand, days int, now time.Time) (int, error) {
	loc := b.Location()
	y, m, d := now.In(loc).Date()
	// A lot expiring before the start of the day after today+days has its
	// reminder day today or earlier.
	to := time.Date(y, m, d+days+1, 0, 0, 0, 0, loc)
	key := b.ID + "/" + strconv.Itoa(days)
	s.reminded.mu.Lock()
	from, ok := s.reminded.bound[key]
	s.reminded.mu.Unlock()
	if !ok || from.Before(now) {
		from = now.Add(time.Microsecond) // expired lots get no reminder
	}
	if !from.Before(to) {
		return 0, nil
	}
	sent := 0
	var afterExp time.Time
	afterID := ""
	for {
		lots, err := s.store.ExpiringLots(ctx, b.ID, from, to, afterExp, afterID, remindBatch)
		if err != nil {
			return sent, err
		}
		var evs []Event
		for _, l := range lots {
			ey, em, ed := l.ExpiresAt.In(loc).Date()
			day := time.Date(ey, em, ed-days, 0, 0, 0, 0, loc)
			if l.EarnedAt.After(day) {
				continue // granted after its reminder day began
			}
			evs = append(evs, Event{ID: l.ID + ".expiring." + strconv.Itoa(days) + "d", BrandID: b.ID, Type: EventPointExpiring,
				Subject: l.CustomerID, Time: now, Data: mustJSON(ExpiringEventData{BrandID: b.ID, CustomerID: l.CustomerID,
					LotID: l.ID, Points: l.Remaining, ExpiresAt: l.ExpiresAt.UTC().Format(time.RFC3339Nano), DaysBefore: days,
					OutBizID: l.OutBizID})})
		}
		if len(evs) > 0 {
			if err := s.write(ctx, func(tx Tx) error { return tx.Emit(ctx, evs...) }); err != nil {
				return sent, err
			}
			sent += len(evs)
		}
		if len(lots) < remindBatch {
			break
		}
		afterExp, afterID = lots[len(lots)-1].ExpiresAt, lots[len(lots)-1].ID
	}
	s.reminded.mu.Lock()
	if s.reminded.bound == nil {
		s.reminded.bound = map[string]time.Time{}
	}
	s.reminded.bound[key] = to
	s.reminded.mu.Unlock()
	return sent, nil
}
