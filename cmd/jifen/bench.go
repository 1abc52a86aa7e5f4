package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"jifen/ledger"
	"jifen/points"
	"jifen/top"
)

// benchCmd is the load tool: it talks to a running jifen exactly as a POS
// does (signed TOP requests over keep-alive HTTP), runs order life cycles
// for a while, reports throughput and latency, and ends by checking every
// invariant on the server's database.
type benchCmd struct {
	url, db, signMethod, format string
	duration, ceiling           time.Duration
	workers, customers, hot     int
	rate                        float64
	jsonOut, cpuProfile         string
	seed                        uint64
	noVerify                    bool
	webhook                     string
}

func (c *benchCmd) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.url, "url", "http://127.0.0.1:8080/router/rest", "gateway URL of the running jifen")
	fs.StringVar(&c.db, "db", defaultDB, "the server's database, to provision the bench tenant and verify at the end")
	fs.DurationVar(&c.duration, "duration", 30*time.Second, "how long to run the write mix")
	fs.DurationVar(&c.ceiling, "ceiling", 10*time.Second, "how long to run the no-write ceiling (point.cal) first; 0 to skip")
	fs.IntVar(&c.workers, "workers", 64, "concurrent connections (closed loop)")
	fs.Float64Var(&c.rate, "rate", 0, "operations/s to offer (open loop); 0 = closed loop")
	fs.IntVar(&c.customers, "customers", 2000, "customers the bench provisions")
	fs.IntVar(&c.hot, "hot", 0, "hot-spot mode: all traffic on this many customers (0 = uniform)")
	fs.StringVar(&c.signMethod, "sign-method", "md5", "md5, hmac or hmac-sha256")
	fs.StringVar(&c.format, "format", "json", "json or xml")
	fs.StringVar(&c.jsonOut, "json", "", "also write the results as JSON to this file")
	fs.StringVar(&c.webhook, "webhook", "", "receive the bench brand's events as a webhook on this address (e.g. 127.0.0.1:0; the server needs --webhook-allow-private) and report what arrived")
	fs.BoolVar(&c.noVerify, "no-verify", false, "skip the invariant check of the whole database at the end (a big one takes long: run jifen verify on its own)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the load tool itself, over the ceiling and the write mix, to this file")
	fs.Uint64Var(&c.seed, "seed", uint64(time.Now().UnixNano()), "random seed")
	if err := fs.Parse(args); err != nil {
		return exitError(2)
	}
	if c.workers < 1 || c.customers < 1 || c.duration <= 0 {
		return errors.New("bench: --workers, --customers and --duration must be positive")
	}
	if c.hot > c.customers {
		c.hot = c.customers
	}
	// Garbage is collected less often than Go's default, as in serve: the
	// live heap is small (the latency samples) and the default collected
	// often enough to cost the load tool CPU the server needs. No heap
	// limit: the samples of a long run may need more than serve's.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	run := strconv.FormatInt(time.Now().UnixMilli(), 36)
	var recv *benchReceiver
	if c.webhook != "" {
		var err error
		if recv, err = startBenchReceiver(c.webhook); err != nil {
			return fmt.Errorf("bench: --webhook: %w", err)
		}
		defer recv.close()
		c.webhook = recv.url
	}
	fmt.Fprintf(stdout, "provisioning bench tenant %s: %d customers\n", run, c.customers)
	appKey, secret, err := c.provision(ctx, run)
	if err != nil {
		return fmt.Errorf("bench: provision: %w", err)
	}
	transport := &http.Transport{MaxIdleConns: c.workers * 2, MaxIdleConnsPerHost: c.workers * 2, IdleConnTimeout: time.Minute}
	client := &top.Client{URL: c.url, AppKey: appKey, Secret: secret, SignMethod: c.signMethod, Format: c.format,
		HTTP: &http.Client{Transport: transport, Timeout: benchCallTimeout}}
	b := newBench(c, client, run)
	defer b.closeConns()
	if err := b.charge(ctx); err != nil {
		return fmt.Errorf("bench: charging customers: %w", err)
	}
	res := benchReport{Machine: machine(), Workers: c.workers, Rate: c.rate, Hot: c.hot, Customers: c.customers,
		SignMethod: c.signMethod, Format: c.format}
	// The profile covers the phases only: provisioning and the final
	// verify are not what the load tool costs per operation.
	stopProfile, err := startCPUProfile(c.cpuProfile)
	if err != nil {
		return fmt.Errorf("bench: --cpuprofile: %w", err)
	}
	if c.ceiling > 0 {
		fmt.Fprintf(stdout, "ceiling: point.cal (writes nothing) for %s\n", c.ceiling)
		ph := b.phase(ctx, stdout, c.ceiling, true)
		res.Ceiling = &ph
	}
	sizeBefore, sizeErr := c.dbSize(ctx)
	cpuBefore, cpuErr := serverCPU(ctx, b.http, b.metricsURL)
	fmt.Fprintf(stdout, "write mix: pay → partial reversal → reverse the rest; charges; flow queries, for %s\n", c.duration)
	mix := b.phase(ctx, stdout, c.duration, false)
	res.Mix = mix
	if cpuAfter, err := serverCPU(ctx, b.http, b.metricsURL); err == nil && cpuErr == nil && mix.WritesPerSec > 0 {
		res.ServerCPUSeconds = cpuAfter - cpuBefore
		res.ServerCPUPerWriteUs = 1e6 * res.ServerCPUSeconds / (mix.WritesPerSec * mix.Seconds)
	}
	if err := stopProfile(); err != nil {
		return fmt.Errorf("bench: --cpuprofile: %w", err)
	}
	if recv != nil {
		res.Webhook = recv.report(mix.Seconds)
	}
	if sizeAfter, err := c.dbSize(ctx); err == nil && sizeErr == nil {
		g := growth{BytesBefore: sizeBefore, BytesAfter: sizeAfter, Writes: int64(mix.WritesPerSec*mix.Seconds + 0.5)}
		if g.Writes > 0 {
			g.BytesPerWrite = float64(sizeAfter-sizeBefore) / float64(g.Writes)
		}
		res.Growth = &g
	}
	if res.Ceiling != nil && res.Ceiling.OpsPerSec > 0 {
		res.WriteShareOfCeiling = mix.WritesPerSec / res.Ceiling.OpsPerSec
	}
	res.ServerPeakRSSMB, res.ServerMemory = b.peakRSS.Load()/(1<<20), b.memoryNote()
	res.Verify = "not checked (--no-verify)"
	if !c.noVerify {
		res.Verify = c.verify(ctx)
	}
	res.print(stdout)
	if c.jsonOut != "" {
		data, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(c.jsonOut, data, 0o644); err != nil {
			return err
		}
	}
	if !c.noVerify && res.Verify != "all invariants hold" {
		return exitError(1)
	}
	return nil
}

// provision creates the bench's own app, brand, shop and customers.
func (c *benchCmd) provision(ctx context.Context, run string) (string, string, error) {
	store, err := openStore(ctx, c.db)
	if err != nil {
		return "", "", err
	}
	defer store.Close()
	brand := "bench-" + run
	t := points.Tenant{
		Apps: []ledger.App{{Key: "bench-" + run, Name: "jifen bench", Active: true, Channels: []string{"KRY"}, Brands: []string{brand}}},
		Brands: []points.TenantBrand{{Brand: ledger.Brand{ID: brand, Name: "Bench brand", TimeZone: "Asia/Shanghai",
			OutIDs: map[string]string{"KRY": "kry-" + brand}, Settings: ledger.DefaultSettings()},
			Shops: []ledger.Shop{{ID: brand + "-shop", Name: "压测门店", OutIDs: map[string]string{"KRY": "kry-" + brand + "-shop"}}}}},
	}
	for i := range c.customers {
		t.Customers = append(t.Customers, ledger.Customer{ID: fmt.Sprintf("%s-c%d", brand, i), BrandID: brand, LevelID: "L1"})
	}
	if c.webhook != "" {
		t.Webhooks = []points.Webhook{{ID: brand, URL: c.webhook, Brands: []string{brand}}}
	}
	rep, err := points.New(store, nil, nil).Apply(ctx, t)
	if err != nil {
		return "", "", err
	}
	return "bench-" + run, rep.Secrets["bench-"+run], nil
}

func (c *benchCmd) verify(ctx context.Context) string {
	store, err := openStore(ctx, c.db)
	if err != nil {
		return "verify failed to open the database: " + err.Error()
	}
	defer store.Close()
	rep, err := points.Verify(ctx, store)
	if err != nil {
		return "verify failed: " + err.Error()
	}
	if !rep.OK() {
		return fmt.Sprintf("%d VIOLATIONS, first: %s", len(rep.Violations), rep.Violations[0])
	}
	return "all invariants hold"
}

type bench struct {
	cmd    *benchCmd
	client *top.Client
	run    string
	seq    atomic.Int64
	mu     sync.Mutex
	rng    *rand.Rand

	// The tenant's names as the requests carry them, made once.
	outBrand, outShop, customerPrefix string
	// conns holds the idle gatewayConns calls go over (fasthttp), one per
	// call in flight; nil when the URL is not plain http, and calls go
	// through client.Call (net/http).
	conns chan *gatewayConn

	// The server's resident memory, sampled each second from its
	// /metrics (process_resident_memory_bytes).
	metricsURL string
	http       *http.Client
	peakRSS    atomic.Int64
	rssErr     atomic.Pointer[string]
}

// sampleRSS reads the server's resident memory from its /metrics and keeps
// the peak.
func (b *bench) sampleRSS(ctx context.Context) {
	rss, err := b.rss(ctx)
	if err != nil {
		msg := err.Error()
		b.rssErr.Store(&msg)
		return
	}
	for {
		old := b.peakRSS.Load()
		if rss <= old || b.peakRSS.CompareAndSwap(old, rss) {
			return
		}
	}
}

func (b *bench) rss(ctx context.Context) (int64, error) {
	return serverRSS(ctx, b.http, b.metricsURL)
}

// serverRSS reads a server's resident memory, in bytes, from its /metrics
// at metricsURL (process_resident_memory_bytes).
func serverRSS(ctx context.Context, client *http.Client, metricsURL string) (int64, error) {
	v, err := serverMetric(ctx, client, metricsURL, "process_resident_memory_bytes")
	return int64(v), err
}

// serverCPU reads the CPU time a server's process has used, in seconds
// (process_cpu_seconds_total, user and system), from its /metrics.
func serverCPU(ctx context.Context, client *http.Client, metricsURL string) (float64, error) {
	return serverMetric(ctx, client, metricsURL, "process_cpu_seconds_total")
}

// serverMetric reads the value of a gauge or counter without labels from
// a server's /metrics at metricsURL.
func serverMetric(ctx context.Context, client *http.Client, metricsURL, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", metricsURL, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", metricsURL, err)
	}
	f, ok := fams[name]
	if !ok || len(f.GetMetric()) == 0 {
		return 0, fmt.Errorf("%s has no %s", metricsURL, name)
	}
	m := f.GetMetric()[0]
	if m.GetCounter() != nil {
		return m.GetCounter().GetValue(), nil
	}
	return m.GetGauge().GetValue(), nil
}

func (b *bench) memoryNote() string {
	if p := b.rssErr.Load(); p != nil && b.peakRSS.Load() == 0 {
		return "not measured: " + *p
	}
	return "peak resident memory of the server, sampled each second from its /metrics"
}

// startCPUProfile starts Go's CPU profiler writing to path; the function
// it returns stops it and closes the file. An empty path profiles nothing.
func startCPUProfile(path string) (func() error, error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

func newBench(c *benchCmd, client *top.Client, run string) *bench {
	b := &bench{cmd: c, client: client, run: run, rng: rand.New(rand.NewPCG(c.seed, 1)),
		outBrand: "kry-bench-" + run, outShop: "kry-bench-" + run + "-shop", customerPrefix: "bench-" + run + "-c",
		metricsURL: strings.TrimSuffix(c.url, "/router/rest") + "/metrics", http: client.HTTP}
	// Calls go over gatewayConns, one per call in flight, which send what
	// client.Call sends without net/http's pool and goroutines.
	if _, err := newGatewayConn(client); err == nil {
		inFlight := c.workers
		if c.rate > 0 {
			inFlight *= 16
		}
		b.conns = make(chan *gatewayConn, inFlight)
	}
	return b
}

// benchCallTimeout bounds each call the bench makes.
const benchCallTimeout = 30 * time.Second

// conn takes an idle connection, or makes one.
func (b *bench) conn() (*gatewayConn, error) {
	select {
	case k := <-b.conns:
		return k, nil
	default:
		k, err := newGatewayConn(b.client)
		if err != nil {
			return nil, err
		}
		k.timeout = benchCallTimeout
		return k, nil
	}
}

// release puts a connection back for the next call.
func (b *bench) release(k *gatewayConn) {
	select {
	case b.conns <- k:
	default:
		k.Close()
	}
}

func (b *bench) closeConns() {
	for {
		select {
		case k := <-b.conns:
			k.Close()
		default:
			return
		}
	}
}

func (b *bench) customer() string {
	b.mu.Lock()
	n := b.cmd.customers
	if b.cmd.hot > 0 {
		n = b.cmd.hot
	}
	i := b.rng.IntN(n)
	b.mu.Unlock()
	return b.customerPrefix + strconv.Itoa(i)
}

func (b *bench) id(prefix string) string {
	return prefix + "-" + b.run + "-" + strconv.FormatInt(b.seq.Add(1), 10)
}

// benchRequest is one call the bench makes: a method and its one object
// parameter, already encoded.
type benchRequest struct {
	method, param, object string
	write                 bool
}

// order builds a request for an order of customer: the fields every write
// carries, then the method's own.
func (b *bench) order(method, param, customer string, fields ...jsonField) benchRequest {
	fields = append(fields, jsonStr("biz_channel", "KRY"), jsonStr("out_brand_id", b.outBrand), jsonStr("out_shop_id", b.outShop),
		jsonStr("customer_id", customer), jsonStr("operator_id", "bench"), jsonStr("operator_name", "压测"))
	return benchRequest{method: method, param: param, object: jsonObject(fields...), write: true}
}

func (b *bench) chargeRequest(customer, outBizID, requestID string, points int64) benchRequest {
	return b.order(top.MethodExtraCharge, "param_extra_charge_point_open_req", customer,
		jsonNum("change_point", points), jsonStr("out_biz_id", outBizID), jsonStr("request_id", requestID))
}

func (b *bench) payRequest(customer, orderID, requestID string) benchRequest {
	return b.order(top.MethodConsumePoint, "param_consume_point_open_req", customer,
		jsonNum("change_point", 100), jsonStr("out_biz_id", orderID), jsonStr("request_id", requestID))
}

// reverseRequest refunds points of orderID, or all that is left when
// points is negative (change_point absent).
func (b *bench) reverseRequest(customer, orderID, refundID, requestID string, points int64) benchRequest {
	fields := []jsonField{jsonStr("biz_type", "DEDUCT_FROM_CONSUME_REVERSE"), jsonStr("out_biz_id", orderID),
		jsonStr("reverse_order_id", refundID), jsonStr("request_id", requestID)}
	if points >= 0 {
		fields = append(fields, jsonNum("change_point", points))
	}
	return b.order(top.MethodReversePoint, "param_reverse_consume_point_open_req", customer, fields...)
}

func (b *bench) queryRequest(customer string) benchRequest {
	return benchRequest{method: top.MethodQueryPointFlow, param: "param_page_query_point_flow_open_req",
		object: jsonObject(jsonStr("biz_channel", "KRY"), jsonStr("out_brand_id", b.outBrand), jsonStr("customer_id", customer), jsonNum("page_size", 10))}
}

func (b *bench) calRequest(customer string) benchRequest {
	return benchRequest{method: top.MethodCal, param: "param_calculate_deducted_money_open_req",
		object: jsonObject(jsonStr("out_brand_id", b.outBrand), jsonStr("customer_id", customer), jsonNum("consume_point", 120))}
}

// jsonField is a member of an object parameter: a string or an integer.
type jsonField struct {
	key, str string
	num      int64
	isNum    bool
}

func jsonStr(key, value string) jsonField   { return jsonField{key: key, str: value} }
func jsonNum(key string, n int64) jsonField { return jsonField{key: key, num: n, isNum: true} }

// jsonObject encodes fields as encoding/json marshals a map[string]any of
// them — keys in byte order, strings escaped alike — so the gateway gets
// the bytes it got when the bench marshalled maps, without the map, the
// reflection and the sorting of map keys for every request.
func jsonObject(fields ...jsonField) string {
	slices.SortFunc(fields, func(a, b jsonField) int { return strings.Compare(a.key, b.key) })
	buf := make([]byte, 0, 320)
	buf = append(buf, '{')
	for i, f := range fields {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendJSONString(buf, f.key)
		buf = append(buf, ':')
		if f.isNum {
			buf = strconv.AppendInt(buf, f.num, 10)
		} else {
			buf = appendJSONString(buf, f.str)
		}
	}
	return string(append(buf, '}'))
}

// appendJSONString appends s as a JSON string, escaped as encoding/json
// escapes it: printable ASCII other than the quote, the backslash and
// encoding/json's HTML characters (<, >, &) as it is, anything else through
// encoding/json itself.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, err := json.Marshal(s)
			if err != nil {
				panic(err) // a string always marshals
			}
			return append(dst, q...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// charge gives every customer enough points that pay never runs short.
func (b *bench) charge(ctx context.Context) error {
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	next := atomic.Int64{}
	for range min(b.cmd.workers, 32) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.cmd.customers) {
					return
				}
				outBizID := b.id("seed")
				req := b.chargeRequest(b.customerPrefix+strconv.FormatInt(i, 10), outBizID, b.id("seed"), 1_000_000_000)
				if _, err := b.call(ctx, req); err != nil {
					select {
					case errc <- err:
					default:
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// outcome of one call: "" for success, else a business code or
// "error_response N" or "transport".
func (b *bench) call(ctx context.Context, req benchRequest) (string, error) {
	params := map[string]any{req.param: req.object}
	var resp *top.Response
	var err error
	if b.conns == nil {
		resp, err = b.client.Call(ctx, req.method, params)
	} else {
		var k *gatewayConn
		if k, err = b.conn(); err == nil {
			resp, err = k.Call(ctx, req.method, params)
			b.release(k)
		}
	}
	if err != nil {
		return "transport", err
	}
	if resp.Err != nil {
		return fmt.Sprintf("error_response %d %s", resp.Err.Code, resp.Err.SubCode), resp.Err
	}
	if resp.Format == top.FormatXML {
		if strings.Contains(string(resp.Body), "<biz_success>false</biz_success>") {
			return "business failure", errors.New("business failure")
		}
		return "", nil
	}
	ok, code, err := resp.Outcome()
	if err != nil {
		return "undecodable", err
	}
	if !ok {
		return code, errors.New(code)
	}
	return "", nil
}

// stats gathers one phase's results.
type stats struct {
	mu       sync.Mutex
	lat      map[string][]time.Duration
	errs     map[string]int
	firstErr map[string]string // an example message per error kind
	ops      atomic.Int64
	writes   atomic.Int64
}

func (s *stats) add(method string, d time.Duration, outcome string, err error, write bool) {
	s.ops.Add(1)
	if write && outcome == "" {
		s.writes.Add(1)
	}
	s.mu.Lock()
	s.lat[method] = append(s.lat[method], d)
	if outcome != "" {
		key := method + ": " + outcome
		s.errs[key]++
		if _, ok := s.firstErr[key]; !ok && err != nil {
			s.firstErr[key] = err.Error()
		}
	}
	s.mu.Unlock()
}

// phase runs the ceiling (cal only) or the write mix for d.
func (b *bench) phase(ctx context.Context, out io.Writer, d time.Duration, ceiling bool) phaseReport {
	st := &stats{lat: map[string][]time.Duration{}, errs: map[string]int{}, firstErr: map[string]string{}}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	work := func() {
		if ceiling {
			b.cal(ctx, st)
		} else {
			b.lifeCycle(ctx, st)
		}
	}
	var wg sync.WaitGroup
	var offered atomic.Int64
	if b.cmd.rate > 0 {
		// Open loop: start work at the offered rate whatever the answers
		// do, with up to 16× workers in flight, and count what was offered.
		sem := make(chan struct{}, b.cmd.workers*16)
		wg.Add(1)
		go func() {
			defer wg.Done()
			interval := time.Duration(float64(time.Second) / b.cmd.rate * lifeCycleOps(ceiling))
			t := time.NewTicker(max(interval, time.Microsecond))
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					offered.Add(int64(lifeCycleOps(ceiling)))
					select {
					case sem <- struct{}{}:
						wg.Add(1)
						go func() { defer wg.Done(); work(); <-sem }()
					default: // saturated: offered but not started
					}
				}
			}
		}()
	} else {
		for range b.cmd.workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					work()
				}
			}()
		}
	}
	start := time.Now()
	cpu0, cpuOK := processCPU()
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		last := int64(0)
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				go b.sampleRSS(ctx)
				n := st.ops.Load()
				fmt.Fprintf(out, "  %5.0fs  %8d ops/s  %8d writes total\n", time.Since(start).Seconds(), n-last, st.writes.Load())
				last = n
			}
		}
	}()
	wg.Wait()
	close(done)
	elapsed := time.Since(start)
	ph := st.report(elapsed, float64(offered.Load())/elapsed.Seconds())
	if cpu1, ok := processCPU(); cpuOK && ok && ph.All.Count > 0 {
		ph.LoadToolCPUSeconds = (cpu1 - cpu0).Seconds()
		ph.LoadToolCPUPerOpUs = float64((cpu1 - cpu0).Microseconds()) / float64(ph.All.Count)
	}
	return ph
}

func lifeCycleOps(ceiling bool) float64 {
	if ceiling {
		return 1
	}
	return 4 // on average: pay, partial reversal, rest reversal, and a charge or query
}

func (b *bench) timed(ctx context.Context, st *stats, req benchRequest) string {
	t0 := time.Now()
	outcome, err := b.call(ctx, req)
	if ctx.Err() != nil && outcome == "transport" {
		return outcome // the phase ended mid-call; not a result
	}
	st.add(req.method, time.Since(t0), outcome, err, req.write)
	return outcome
}

func (b *bench) cal(ctx context.Context, st *stats) {
	b.timed(ctx, st, b.calRequest(b.customer()))
}

// lifeCycle is one order: pay with points, refund part, refund the rest,
// then a charge or a flow query.
func (b *bench) lifeCycle(ctx context.Context, st *stats) {
	cust := b.customer()
	order := b.id("o")
	if b.timed(ctx, st, b.payRequest(cust, order, b.id("p"))) != "" {
		return
	}
	b.timed(ctx, st, b.reverseRequest(cust, order, order+"-a", b.id("r"), 30))
	b.timed(ctx, st, b.reverseRequest(cust, order, order+"-b", b.id("r"), -1))
	if b.seq.Load()%2 == 0 {
		outBizID := b.id("g")
		b.timed(ctx, st, b.chargeRequest(cust, outBizID, b.id("g"), 10))
	} else {
		b.timed(ctx, st, b.queryRequest(cust))
	}
}

type methodReport struct {
	Method    string  `json:"method"`
	Count     int     `json:"count"`
	OpsPerSec float64 `json:"ops_per_sec"`
	P50ms     float64 `json:"p50_ms"`
	P90ms     float64 `json:"p90_ms"`
	P99ms     float64 `json:"p99_ms"`
	MaxMs     float64 `json:"max_ms"`
}

type phaseReport struct {
	Seconds      float64        `json:"seconds"`
	OpsPerSec    float64        `json:"ops_per_sec"`
	WritesPerSec float64        `json:"writes_per_sec"`
	OfferedPerS  float64        `json:"offered_per_sec,omitempty"`
	All          methodReport   `json:"all"`
	Methods      []methodReport `json:"methods"`
	Errors       map[string]int `json:"errors"`
	// ErrorExamples holds the first message seen of each kind of error.
	ErrorExamples map[string]string `json:"error_examples,omitempty"`
	// LoadToolCPUSeconds is the CPU time (user and system) the load tool
	// itself used during the phase, and LoadToolCPUPerOpUs that divided by
	// the operations completed: on a shared machine that CPU is taken
	// from the server, so it is kept small and watched. Zero where the
	// platform does not report it.
	LoadToolCPUSeconds float64 `json:"load_tool_cpu_seconds,omitempty"`
	LoadToolCPUPerOpUs float64 `json:"load_tool_cpu_us_per_op,omitempty"`
}

func (s *stats) report(elapsed time.Duration, offered float64) phaseReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	secs := elapsed.Seconds()
	ph := phaseReport{Seconds: secs, OpsPerSec: float64(s.ops.Load()) / secs, WritesPerSec: float64(s.writes.Load()) / secs,
		OfferedPerS: offered, Errors: s.errs, ErrorExamples: s.firstErr}
	var all []time.Duration
	names := make([]string, 0, len(s.lat))
	for m := range s.lat {
		names = append(names, m)
	}
	sort.Strings(names)
	for _, m := range names {
		ph.Methods = append(ph.Methods, summarize(m, s.lat[m], secs))
		all = append(all, s.lat[m]...)
	}
	ph.All = summarize("all", all, secs)
	return ph
}

func summarize(name string, lat []time.Duration, secs float64) methodReport {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	return methodReport{Method: name, Count: len(lat), OpsPerSec: float64(len(lat)) / secs,
		P50ms: q(0.50), P90ms: q(0.90), P99ms: q(0.99), MaxMs: q(1)}
}

type benchReport struct {
	Machine             string       `json:"machine"`
	Workers             int          `json:"workers"`
	Rate                float64      `json:"rate,omitempty"`
	Hot                 int          `json:"hot,omitempty"`
	Customers           int          `json:"customers"`
	SignMethod          string       `json:"sign_method"`
	Format              string       `json:"format"`
	Ceiling             *phaseReport `json:"ceiling,omitempty"`
	Mix                 phaseReport  `json:"mix"`
	WriteShareOfCeiling float64      `json:"write_share_of_ceiling,omitempty"`
	ServerPeakRSSMB     int64        `json:"server_peak_rss_mb,omitempty"`
	ServerMemory        string       `json:"server_memory"`
	// ServerCPUSeconds is the CPU time jifen serve's process used during
	// the write mix (its process_cpu_seconds_total; a PostgreSQL server's
	// own is not in it), and ServerCPUPerWriteUs that per durable write:
	// steadier than throughput on a shared machine, so it shows what a
	// change costs per write.
	ServerCPUSeconds    float64 `json:"server_cpu_seconds,omitempty"`
	ServerCPUPerWriteUs float64 `json:"server_cpu_per_write_us,omitempty"`
	// Growth is the database's growth over the write mix (tables and
	// indexes; absent when the store cannot tell its size).
	Growth *growth `json:"growth,omitempty"`
	Verify string  `json:"verify"`
	// Webhook is what the --webhook receiver got.
	Webhook *webhookReport `json:"webhook,omitempty"`
}

func (r benchReport) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	table := func(title string, ph phaseReport) {
		fmt.Fprintf(w, "\n%s: %.0f ops/s (%.0f durable writes/s) over %.1fs", title, ph.OpsPerSec, ph.WritesPerSec, ph.Seconds)
		if ph.OfferedPerS > 0 {
			fmt.Fprintf(w, ", offered %.0f ops/s", ph.OfferedPerS)
		}
		fmt.Fprintln(w)
		fmt.Fprintln(tw, "method\tcount\tops/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\t")
		for _, m := range append(ph.Methods, ph.All) {
			fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", m.Method, m.Count, m.OpsPerSec, m.P50ms, m.P90ms, m.P99ms, m.MaxMs)
		}
		tw.Flush()
		if len(ph.Errors) == 0 {
			fmt.Fprintln(w, "errors: none")
		}
		if ph.LoadToolCPUPerOpUs > 0 {
			fmt.Fprintf(w, "load tool CPU per op: %.0f µs (%.2f s user+system over %d ops)\n", ph.LoadToolCPUPerOpUs, ph.LoadToolCPUSeconds, ph.All.Count)
		}
		for k, n := range ph.Errors {
			fmt.Fprintf(w, "errors: %s × %d", k, n)
			if ex := ph.ErrorExamples[k]; ex != "" {
				fmt.Fprintf(w, " (first: %s)", ex)
			}
			fmt.Fprintln(w)
		}
	}
	if r.Ceiling != nil {
		table("ceiling (point.cal, no writes)", *r.Ceiling)
	}
	table("write mix", r.Mix)
	if r.WriteShareOfCeiling > 0 {
		fmt.Fprintf(w, "durable writes/s as a share of the no-write ceiling: %.0f%%\n", 100*r.WriteShareOfCeiling)
	}
	if r.ServerPeakRSSMB > 0 {
		fmt.Fprintf(w, "server memory: %d MB (%s)\n", r.ServerPeakRSSMB, r.ServerMemory)
	} else {
		fmt.Fprintf(w, "server memory: %s\n", r.ServerMemory)
	}
	if r.ServerCPUPerWriteUs > 0 {
		fmt.Fprintf(w, "server CPU per durable write: %.0f µs (%.2f s of jifen serve's CPU over the mix; a PostgreSQL server's own is not counted)\n",
			r.ServerCPUPerWriteUs, r.ServerCPUSeconds)
	}
	if r.Growth != nil {
		fmt.Fprintf(w, "database growth: %s\n", r.Growth)
	}
	if h := r.Webhook; h != nil {
		fmt.Fprintf(w, "webhook: %d events received during the mix (%.0f/s), %d by %.1fs after it, when none had come for 2s\n",
			h.DuringMix, h.PerSecond, h.Total, h.DrainSeconds)
	}
	fmt.Fprintf(w, "verify: %s\n", r.Verify)
}

func machine() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s, %d CPUs", host, runtime.NumCPU())
}
