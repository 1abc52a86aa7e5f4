package main

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// benchReceiver is the bench's webhook endpoint: it acknowledges every
// delivery and counts the distinct events. It is served by fasthttp's
// server, for the reason the bench's calls go over fasthttp's client: the
// receiver runs on the machine it measures, and what it costs is taken
// from the server's writes; net/http's server costs about twice as much
// per request (a goroutine, a header map and a response writer each).
type benchReceiver struct {
	url  string
	srv  *fasthttp.Server
	mu   sync.Mutex
	seen map[string]bool
	last time.Time
}

func startBenchReceiver(addr string) (*benchReceiver, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	r := &benchReceiver{url: "http://" + ln.Addr().String() + "/events", seen: map[string]bool{}}
	r.srv = &fasthttp.Server{ReadTimeout: 10 * time.Second, Handler: func(ctx *fasthttp.RequestCtx) {
		id := string(ctx.Request.Header.Peek("webhook-id"))
		r.mu.Lock()
		r.seen[id] = true
		r.last = time.Now()
		r.mu.Unlock()
		ctx.SetStatusCode(fasthttp.StatusNoContent)
	}}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

func (r *benchReceiver) count() (int, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen), r.last
}

// webhookReport is what the receiver got during the write mix, and after
// it until deliveries stopped.
type webhookReport struct {
	DuringMix    int     `json:"during_mix"`
	PerSecond    float64 `json:"per_second"`
	Total        int     `json:"total"`
	DrainSeconds float64 `json:"drain_seconds"`
}

// report is called as the mix ends: it waits until no event has come for
// two seconds (at most a minute).
func (r *benchReceiver) report(mixSeconds float64) *webhookReport {
	end := time.Now()
	during, _ := r.count()
	rep := &webhookReport{DuringMix: during}
	if mixSeconds > 0 {
		rep.PerSecond = float64(during) / mixSeconds
	}
	for time.Since(end) < time.Minute {
		time.Sleep(200 * time.Millisecond)
		n, last := r.count()
		if time.Since(last) >= 2*time.Second {
			rep.Total = n
			rep.DrainSeconds = max(0, last.Sub(end).Seconds())
			return rep
		}
	}
	rep.Total, _ = r.count()
	rep.DrainSeconds = time.Since(end).Seconds()
	return rep
}

func (r *benchReceiver) close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = r.srv.ShutdownWithContext(ctx)
}
