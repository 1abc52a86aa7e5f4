package admin

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"jifen/ledger"
	"jifen/points"
)

// MaxEventWait bounds a long poll's wait.
const MaxEventWait = 60 * time.Second

// eventPoll is how often a long poll reads again for events committed by
// other servers (this server's own commits wake it at once).
var eventPoll = 500 * time.Millisecond

// EventFilter is a pull of events: those after a cursor, of a brand and
// types, waiting up to Wait for one to come.
type EventFilter struct {
	Query points.EventQuery
	Wait  time.Duration
}

// ParseEventFilter reads after (the cursor: a position, 0 or absent for
// the start), limit (1–1000, default 100), brand_id, type (repeated or
// comma-separated) and wait (a Go duration up to 60s, or seconds).
func ParseEventFilter(q url.Values) (EventFilter, error) {
	f := EventFilter{Query: points.EventQuery{BrandID: strings.TrimSpace(q.Get("brand_id")), Limit: 100}}
	var err error
	if f.Query.After, err = intParam(q.Get("after"), "after"); err != nil {
		return f, err
	}
	if s := strings.TrimSpace(q.Get("limit")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > points.MaxEventsPerRead {
			return f, ledger.Invalidf("limit", "应为 1 到 %d 的整数, 收到 %q", points.MaxEventsPerRead, s)
		}
		f.Query.Limit = n
	}
	if err := points.CheckText("brand_id", f.Query.BrandID); err != nil {
		return f, err
	}
	for _, v := range q["type"] {
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.TrimSpace(t); t == "" {
				continue
			}
			if !slices.Contains(points.EventTypes(), t) {
				return f, ledger.Invalidf("type", "未知的事件类型 %q, 应为 %s 之一", t, strings.Join(points.EventTypes(), ", "))
			}
			f.Query.Types = append(f.Query.Types, t)
		}
	}
	if s := strings.TrimSpace(q.Get("wait")); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			if n, nerr := strconv.Atoi(s); nerr == nil {
				d, err = time.Duration(n)*time.Second, nil
			}
		}
		if err != nil || d < 0 || d > MaxEventWait {
			return f, ledger.Invalidf("wait", "应为不超过 %s 的时长如 30s, 收到 %q", MaxEventWait, s)
		}
		f.Wait = d
	}
	return f, nil
}

// eventsJSON is a page of events: each a CloudEvent, and the cursor to
// ask after next time: the last event's position, or — for a page that is
// not full — the newest position the read looked at, if that is later
// (a filtered read passes others' events), else the cursor asked after.
type eventsJSON struct {
	Events []json.RawMessage `json:"events"`
	Next   string            `json:"next"`
}

// GET /admin/v1/events?after=…&limit=…&brand_id=…&type=…&wait=30s: the
// events after the cursor in commit order; with wait, held open until one
// comes (or wait passes, or the server stops).
func (api *API) listEvents(w http.ResponseWriter, r *http.Request) {
	f, err := ParseEventFilter(r.URL.Query())
	if err == nil && f.Query.BrandID != "" {
		err = principal(r).NeedBrand(f.Query.BrandID)
	} else if err == nil {
		err = principal(r).NeedAllBrands() // name one of yours with brand_id
	}
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	svc := api.admin.Service()
	deadline := time.NewTimer(f.Wait)
	defer deadline.Stop()
	tick := time.NewTicker(eventPoll)
	defer tick.Stop()
	for {
		changed := svc.EventsChanged() // before the read: a commit after it wakes the wait below
		evs, next, err := svc.Pull(r.Context(), f.Query)
		if err != nil {
			api.failErr(w, r, err)
			return
		}
		if len(evs) > 0 || f.Wait == 0 {
			api.replyEvents(w, r, evs, next)
			return
		}
		select {
		case <-changed:
		case <-tick.C:
		case <-deadline.C:
			f.Wait = 0
		case <-api.draining:
			f.Wait = 0
		case <-r.Context().Done():
			return
		}
	}
}

func (api *API) replyEvents(w http.ResponseWriter, r *http.Request, evs []points.Event, next int64) {
	out := eventsJSON{Events: make([]json.RawMessage, 0, len(evs)), Next: strconv.FormatInt(next, 10)}
	for _, ev := range evs {
		b, err := ev.CloudEvent()
		if err != nil {
			api.failErr(w, r, err)
			return
		}
		out.Events = append(out.Events, b)
	}
	reply(w, http.StatusOK, out)
}

// Drain ends the long polls in progress (each answers what it has) and
// makes later ones answer at once: the server is stopping.
func (api *API) Drain() { api.drainOnce.Do(func() { close(api.draining) }) }
