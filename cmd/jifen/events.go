package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"jifen/points"
)

type eventsCmd struct{}

// run is "jifen events tail": print events as they are committed, one
// CloudEvent (JSON) a line, from the admin API (--url) or the database
// (--db).
func (eventsCmd) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "prune" {
		return pruneCmd(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "tail" {
		fmt.Fprintln(stderr, "usage: jifen events tail [--after N] [--brand B] [--type T,…] [--no-follow] [--url http://…/admin/v1/events --admin-token T | --db …]")
		fmt.Fprintln(stderr, "       jifen events prune --older-than DURATION [--db …]")
		return exitError(2)
	}
	fs := flag.NewFlagSet("events tail", flag.ContinueOnError)
	fs.SetOutput(stderr)
	after := fs.Int64("after", 0, "print the events after this cursor (a position; 0: from the first)")
	brand := fs.String("brand", "", "only this brand's events")
	types := fs.String("type", "", "only events of these types, comma-separated")
	noFollow := fs.Bool("no-follow", false, "stop at the newest event instead of waiting for more")
	apiURL := fs.String("url", "", "read through a running server's admin API, e.g. http://127.0.0.1:8080/admin/v1/events (else --db)")
	token := fs.String("admin-token", os.Getenv("JIFEN_ADMIN_TOKEN"), "the server's admin token, with --url (or JIFEN_ADMIN_TOKEN)")
	var sf storeFlags
	sf.register(fs)
	if err := fs.Parse(args[1:]); err != nil {
		return exitError(2)
	}
	q := points.EventQuery{After: *after, BrandID: *brand, Limit: points.MaxEventsPerRead}
	for t := range strings.SplitSeq(*types, ",") {
		if t = strings.TrimSpace(t); t == "" {
			continue
		}
		if !slices.Contains(points.EventTypes(), t) {
			return fmt.Errorf("events tail: --type: unknown event type %q (one of %s)", t, strings.Join(points.EventTypes(), ", "))
		}
		q.Types = append(q.Types, t)
	}
	var next func(ctx context.Context, q points.EventQuery, wait time.Duration) ([]json.RawMessage, int64, error)
	if *apiURL != "" {
		if *token == "" {
			return errors.New("events tail: --url needs --admin-token (or JIFEN_ADMIN_TOKEN)")
		}
		next = apiEvents(*apiURL, *token)
	} else {
		store, err := sf.open(ctx, false)
		if err != nil {
			return err
		}
		defer store.Close()
		next = dbEvents(points.New(store, nil, nil))
	}
	for {
		wait := 30 * time.Second
		if *noFollow {
			wait = 0
		}
		evs, last, err := next(ctx, q, wait)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		for _, e := range evs {
			if _, err := fmt.Fprintf(stdout, "%s\n", e); err != nil {
				return err
			}
		}
		q.After = last
		if len(evs) == 0 && *noFollow {
			return nil
		}
	}
}

// apiEvents reads events by long polls of the admin API at u.
func apiEvents(u, token string) func(context.Context, points.EventQuery, time.Duration) ([]json.RawMessage, int64, error) {
	client := &http.Client{Timeout: 90 * time.Second}
	return func(ctx context.Context, q points.EventQuery, wait time.Duration) ([]json.RawMessage, int64, error) {
		v := url.Values{"after": {strconv.FormatInt(q.After, 10)}, "limit": {strconv.Itoa(q.Limit)}, "wait": {wait.String()}}
		if q.BrandID != "" {
			v.Set("brand_id", q.BrandID)
		}
		if len(q.Types) > 0 {
			v.Set("type", strings.Join(q.Types, ","))
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+"?"+v.Encode(), nil)
		if err != nil {
			return nil, 0, err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			return nil, 0, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		if err != nil {
			return nil, 0, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, 0, fmt.Errorf("events: %s: %s", resp.Status, strings.TrimSpace(string(body)))
		}
		var page struct {
			Events []json.RawMessage `json:"events"`
			Next   string            `json:"next"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, 0, fmt.Errorf("events: the answer is not a page of events: %w", err)
		}
		next, err := strconv.ParseInt(page.Next, 10, 64)
		if err != nil {
			return nil, 0, fmt.Errorf("events: the answer's cursor %q is not a position", page.Next)
		}
		return page.Events, next, nil
	}
}

// dbEvents reads events from the database, polling while none is new.
func dbEvents(svc *points.Service) func(context.Context, points.EventQuery, time.Duration) ([]json.RawMessage, int64, error) {
	return func(ctx context.Context, q points.EventQuery, wait time.Duration) ([]json.RawMessage, int64, error) {
		deadline := time.Now().Add(wait)
		for {
			evs, next, err := svc.Pull(ctx, q)
			if err != nil {
				return nil, 0, fmt.Errorf("events tail: %w", err)
			}
			if len(evs) > 0 || !time.Now().Before(deadline) {
				out := make([]json.RawMessage, 0, len(evs))
				for _, e := range evs {
					b, err := e.CloudEvent()
					if err != nil {
						return nil, 0, err
					}
					out = append(out, b)
				}
				return out, next, nil
			}
			select {
			case <-ctx.Done():
				return nil, 0, ctx.Err()
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
}

// pruneCmd is "jifen events prune": remove, once, the events older than
// --older-than that every known consumer has got, as jifen serve
// --event-retention does every minute.
func pruneCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("events prune", flag.ContinueOnError)
	fs.SetOutput(stderr)
	older := fs.Duration("older-than", 0, "remove events older than this, e.g. 720h (required)")
	var sf storeFlags
	sf.register(fs)
	if err := fs.Parse(args); err != nil {
		return exitError(2)
	}
	if *older <= 0 {
		return errors.New("events prune: --older-than must be a positive duration, e.g. 720h")
	}
	store, err := sf.open(ctx, false)
	if err != nil {
		return err
	}
	defer store.Close()
	p, err := points.New(store, nil, nil).PruneEvents(ctx, *older)
	if err != nil {
		return fmt.Errorf("events prune: %w", err)
	}
	fmt.Fprintf(stdout, "removed %d events; events through position %d are gone (the consumers allow up to %d)\n",
		p.Removed, p.Horizon, p.Floor)
	return nil
}
