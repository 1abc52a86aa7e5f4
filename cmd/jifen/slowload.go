package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// slowloadCmd measures what slow clients cost a running jifen. It opens
// many connections and sends on each most of a large request body at once,
// then the rest a byte at a time, as a client on a bad link (or one that
// means harm) would. Meanwhile it samples the server's resident memory from
// its /metrics and checks that /healthz keeps answering; it reports when the
// server let each connection go and what it answered. It fails when the
// memory went over --max-rss or /healthz failed to answer.
type slowloadCmd struct {
	base, path, contentType, prefix string
	headers                         []string
	conns, size, short              int
	every, duration                 time.Duration
	maxRSS                          int64
}

func (c *slowloadCmd) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("slowload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.base, "url", "http://127.0.0.1:8080", "base URL of the running jifen")
	fs.StringVar(&c.path, "path", "/router/rest", "path to post the slow bodies to")
	fs.StringVar(&c.contentType, "content-type", "application/x-www-form-urlencoded", "Content-Type of the bodies")
	fs.StringVar(&c.prefix, "prefix", "format=json&x=", "what each body starts with; the rest is the letter a")
	fs.Func("header", `an extra request header, "Name: value" (repeatable)`, func(v string) error {
		if name, _, ok := strings.Cut(v, ":"); !ok || strings.TrimSpace(name) == "" {
			return errors.New(`want "Name: value"`)
		}
		c.headers = append(c.headers, v)
		return nil
	})
	fs.IntVar(&c.conns, "conns", 200, "connections, each with one slow body")
	fs.IntVar(&c.size, "size", 1<<20, "declared length of each body (Content-Length), in bytes")
	fs.IntVar(&c.short, "short", 100, "bytes of each body held back and then sent one at a time")
	fs.DurationVar(&c.every, "every", 5*time.Second, "how often one held-back byte is sent")
	fs.DurationVar(&c.duration, "duration", 60*time.Second, "how long to run")
	fs.Int64Var(&c.maxRSS, "max-rss", 200, "fail if the server's resident memory goes above this many MB (0: do not check)")
	if err := fs.Parse(args); err != nil {
		return exitError(2)
	}
	u, err := url.Parse(c.base)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("slowload: --url must be http://host:port, got %q", c.base)
	}
	if c.conns < 1 || c.size < 1 || c.short < 0 || c.short > c.size || c.every <= 0 || c.duration <= 0 {
		return errors.New("slowload: --conns, --size, --every and --duration must be positive, --short between 0 and --size")
	}
	if len(c.prefix) > c.size-c.short {
		return errors.New("slowload: --prefix is longer than what is sent at once")
	}

	ctx, cancel := context.WithTimeout(ctx, c.duration)
	defer cancel()
	probe := &http.Client{Timeout: 2 * time.Second}
	metricsURL := strings.TrimSuffix(c.base, "/") + "/metrics"
	before, err := serverRSS(ctx, probe, metricsURL)
	if err != nil {
		return fmt.Errorf("slowload: %w", err)
	}
	fmt.Fprintf(stdout, "server resident memory before: %d MB\n", before>>20)
	fmt.Fprintf(stdout, "%d connections to %s, each %d of %d bytes at once, then a byte every %s, for %s\n",
		c.conns, c.path, c.size-c.short, c.size, c.every, c.duration)

	start := time.Now()
	conns := make([]*slowConn, c.conns)
	var wg sync.WaitGroup
	for i := range conns {
		conns[i] = &slowConn{}
		wg.Go(func() { c.drive(ctx, u.Host, conns[i]) })
	}

	var (
		peak           = before
		checks, failed int
		slowest        time.Duration
		rssErr         error
	)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
sampling:
	for {
		select {
		case <-ctx.Done():
			break sampling
		case <-tick.C:
		}
		rss, err := serverRSS(ctx, probe, metricsURL)
		if err == nil {
			peak = max(peak, rss)
		} else if ctx.Err() == nil {
			rssErr = err
		}
		t0 := time.Now()
		ok := healthy(ctx, probe, strings.TrimSuffix(c.base, "/")+"/healthz")
		if ctx.Err() != nil {
			break sampling // the run ended during the check
		}
		checks++
		if d := time.Since(t0); ok {
			slowest = max(slowest, d)
		} else {
			failed++
		}
		open, answered := 0, 0
		for _, sc := range conns {
			st := sc.state()
			if !st.closed {
				open++
			}
			if st.answer != "" {
				answered++
			}
		}
		fmt.Fprintf(stdout, "%5.0fs  open %4d  answered %4d  server RSS %4d MB  /healthz %s\n",
			time.Since(start).Seconds(), open, answered, rss>>20, map[bool]string{true: "ok", false: "FAILED"}[ok])
	}
	wg.Wait()

	rep := slowReport(conns)
	fmt.Fprintf(stdout, "\nserver resident memory: %d MB before, peak %d MB", before>>20, peak>>20)
	if c.maxRSS > 0 {
		fmt.Fprintf(stdout, " (limit %d MB)", c.maxRSS)
	}
	fmt.Fprintln(stdout)
	if rssErr != nil {
		fmt.Fprintf(stdout, "  (some samples failed: %v)\n", rssErr)
	}
	fmt.Fprintf(stdout, "/healthz: %d of %d checks answered, slowest %s\n", checks-failed, checks, slowest.Round(time.Millisecond))
	fmt.Fprint(stdout, rep)
	if c.maxRSS > 0 && peak>>20 > c.maxRSS {
		fmt.Fprintf(stdout, "FAIL: the server's resident memory reached %d MB, over %d MB\n", peak>>20, c.maxRSS)
		return exitError(1)
	}
	if failed > 0 {
		fmt.Fprintf(stdout, "FAIL: /healthz did not answer %d times\n", failed)
		return exitError(1)
	}
	return nil
}

// healthy is whether url answers 200 within the client's timeout.
func healthy(ctx context.Context, client *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// slowConn is one slow client's connection as the load tool saw it.
type slowConn struct {
	mu     sync.Mutex
	st     slowState
	opened time.Time
}

type slowState struct {
	err      string        // a failure to connect
	answer   string        // the server's answer, summarized; "" none
	answerIn time.Duration // from the request's headers to the answer
	closed   bool          // the server closed the connection (or it failed)
	closedIn time.Duration // from the request's headers to the close
}

func (s *slowConn) state() slowState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

// drive sends one slow body and watches for the server's answer and close.
func (c *slowloadCmd) drive(ctx context.Context, host string, s *slowConn) {
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		s.mu.Lock()
		s.st = slowState{err: err.Error(), closed: true}
		s.mu.Unlock()
		return
	}
	defer conn.Close()
	var head strings.Builder
	fmt.Fprintf(&head, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n", c.path, host, c.contentType, c.size)
	for _, h := range c.headers {
		head.WriteString(h + "\r\n")
	}
	head.WriteString("\r\n")
	body := make([]byte, c.size-c.short)
	copy(body, c.prefix)
	for i := len(c.prefix); i < len(body); i++ {
		body[i] = 'a'
	}

	s.opened = time.Now()
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err == nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096)) // the summary needs the start only
			resp.Body.Close()
			s.mu.Lock()
			s.st.answer, s.st.answerIn = summarizeAnswer(resp.StatusCode, b), time.Since(s.opened)
			s.mu.Unlock()
			_, err = io.Copy(io.Discard, br) // until the server closes
		}
		if ctx.Err() != nil {
			return // we closed it at the end of the run
		}
		s.mu.Lock()
		if s.st.answer == "" {
			s.st.answer = "closed without an answer: " + err.Error()
		}
		s.st.closed, s.st.closedIn = true, time.Since(s.opened)
		s.mu.Unlock()
	}()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	if _, err := conn.Write(append([]byte(head.String()), body...)); err != nil {
		<-readDone // the server refused it while it was sent
		return
	}
	tick := time.NewTicker(c.every)
	defer tick.Stop()
	for sent := 0; sent < c.short; sent++ {
		select {
		case <-readDone:
			return
		case <-tick.C:
		}
		if _, err := conn.Write([]byte{'a'}); err != nil {
			break
		}
	}
	<-readDone
}

var (
	answerCode = regexp.MustCompile(`"code":\s*("[^"]*"|\d+)|<code>(\d+)</code>`)
	answerText = regexp.MustCompile(`"(?:sub_msg|message)":\s*"([^"]*)"|<sub_msg>([^<]*)</sub_msg>`)
)

// summarizeAnswer is an answer's status with the code and message of a
// TOP error_response or an admin API error, without the request id.
func summarizeAnswer(status int, body []byte) string {
	s := fmt.Sprintf("HTTP %d", status)
	if m := answerCode.FindSubmatch(body); m != nil {
		s += " code " + strings.Trim(string(m[1])+string(m[2]), `"`)
	}
	if m := answerText.FindSubmatch(body); m != nil {
		s += ": " + string(m[1]) + string(m[2])
	}
	return s
}

// slowReport says when the server let the connections go and what it
// answered.
func slowReport(conns []*slowConn) string {
	var b strings.Builder
	var closedIn, answerIn []time.Duration
	answers := map[string]int{}
	open, failed := 0, 0
	for _, sc := range conns {
		st := sc.state()
		switch {
		case st.err != "":
			failed++
			answers["could not connect: "+st.err]++
		case st.closed:
			closedIn = append(closedIn, st.closedIn)
			answers[st.answer]++
			if st.answerIn > 0 {
				answerIn = append(answerIn, st.answerIn)
			}
		default:
			open++
			if st.answer != "" {
				answers[st.answer+" (then kept open)"]++
			}
		}
	}
	fmt.Fprintf(&b, "connections: %d, closed by the server %d, still open at the end %d", len(conns), len(closedIn), open)
	if failed > 0 {
		fmt.Fprintf(&b, ", could not connect %d", failed)
	}
	b.WriteString("\n")
	spread := func(what string, ds []time.Duration) {
		if len(ds) == 0 {
			return
		}
		slices.Sort(ds)
		sec := func(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }
		fmt.Fprintf(&b, "%s after (from the headers): min %s, median %s, max %s\n",
			what, sec(ds[0]), sec(ds[len(ds)/2]), sec(ds[len(ds)-1]))
	}
	spread("answered", answerIn)
	spread("closed", closedIn)
	keys := make([]string, 0, len(answers))
	for k := range answers {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return answers[keys[i]] > answers[keys[j]] })
	for _, k := range keys {
		fmt.Fprintf(&b, "  %5d × %s\n", answers[k], k)
	}
	return b.String()
}
