package top

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"jifen/bodylimit"
	"jifen/ledger"
)

const (
	testKey    = "12345678"
	testSecret = "helloworld"
	testMethod = "alibaba.alsc.crm.point.reversepoint"
)

// testNow is the gateway's clock in tests: the timestamp of example C.
var testNow = time.Date(2016, 1, 1, 12, 0, 0, 0, cst)

type fakeApps map[string]App

func (f fakeApps) LookupApp(_ context.Context, key string) (App, bool, error) {
	if key == "lookup-fails" {
		return App{}, false, errors.New("sqlite: database is locked")
	}
	a, ok := f[key]
	return a, ok, nil
}

type reverseReq struct {
	BizType     string `json:"biz_type" top:"required"`
	ChangePoint *int64 `json:"change_point"`
	RequestID   string `json:"request_id" top:"required"`
	OutBizID    string `json:"out_biz_id" top:"required"`
}

type flowInfo struct {
	FlowID      string    `json:"flow_id"`
	ChangePoint int64     `json:"change_point"`
	Reason      string    `json:"reason,omitempty"`
	Time        time.Time `json:"time"`
}

type pageResult struct {
	BizSuccess  bool       `json:"biz_success"`
	CurrentPage int64      `json:"current_page"`
	HasNextPage bool       `json:"has_next_page"`
	ResultList  []flowInfo `json:"result_list" top:"item=point_flow_open_info"`
	Tags        []string   `json:"tags,omitempty"`
	Note        *string    `json:"note"`
	ResultCode  string     `json:"result_code"`
	ResultDesc  string     `json:"result_desc"`
	ResultView  string     `json:"result_view"`
}

// samplePage is the result the shape tests pin byte for byte.
func samplePage() pageResult {
	return pageResult{
		BizSuccess:  true,
		CurrentPage: 1,
		ResultList: []flowInfo{
			{FlowID: "F1", ChangePoint: -10, Time: testNow},
			{FlowID: "F2", ChangePoint: 5, Reason: "a<b&c 退款", Time: testNow.Add(time.Second)},
		},
		Tags:       []string{"x", "y"},
		ResultCode: "200",
		ResultDesc: "成功",
	}
}

// testMethods covers every way a Method can answer.
func testMethods() map[string]Method {
	return map[string]Method{
		testMethod: func(_ context.Context, c *Call) (any, error) {
			var req reverseReq
			if err := c.Object("param_reverse_consume_point_open_req", &req); err != nil {
				return nil, err
			}
			c.BizRequestID = req.RequestID
			return OK("FLOW-" + req.OutBizID), nil
		},
		"jifen.test.echo": func(_ context.Context, c *Call) (any, error) {
			files := make([]string, 0, len(c.Files))
			for _, f := range c.Files {
				files = append(files, f.Param+"="+f.Filename+":"+string(f.Data))
			}
			return struct {
				Params map[string]string `json:"params"`
				Files  []string          `json:"files"`
				Call   string            `json:"call"`
			}{c.Params, files, c.AppKey + " " + c.Method + " " + c.RequestID}, nil
		},
		"alibaba.alsc.crm.point.querypointflow": func(context.Context, *Call) (any, error) {
			return samplePage(), nil
		},
		"jifen.test.business": func(_ context.Context, c *Call) (any, error) {
			c.BizRequestID = "biz-1"
			return nil, ledger.Business(ledger.CodePointNotEnough, "积分不足", "need %d points, have %d", 100, 40)
		},
		"jifen.test.invalid": func(context.Context, *Call) (any, error) {
			return nil, fmt.Errorf("checking: %w", ledger.Invalid("shop_id", "shop_id和out_shop_id不可同时为空"))
		},
		"jifen.test.denied": func(context.Context, *Call) (any, error) {
			return nil, ledger.Denied("brand_id", "not granted to this app")
		},
		"jifen.test.unavailable": func(context.Context, *Call) (any, error) {
			return nil, ledger.Unavailable("sqlite busy after 3 tries")
		},
		"jifen.test.internal": func(context.Context, *Call) (any, error) {
			return nil, errors.New("sqlite: no such table: lots")
		},
		"jifen.test.panic": func(context.Context, *Call) (any, error) {
			panic("nil map")
		},
		"jifen.test.unencodable": func(context.Context, *Call) (any, error) {
			return OK(func() {}), nil
		},
		"jifen.test.bizfalse": func(context.Context, *Call) (any, error) {
			return CommonResult{ResultCode: "X", ResultDesc: "d", ResultView: "v"}, nil
		},
	}
}

type observed struct{ method, outcome string }

func newTestGateway(t *testing.T) (*Gateway, *bytes.Buffer, *[]observed) {
	t.Helper()
	var logs bytes.Buffer
	var obs []observed
	g := &Gateway{
		Apps: fakeApps{
			testKey:    {Key: testKey, Secret: testSecret, Active: true},
			"inactive": {Key: "inactive", Secret: testSecret},
			"limited":  {Key: "limited", Secret: testSecret, Active: true, RateLimit: 1},
		},
		Methods: testMethods(),
		Logger:  slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:     func() time.Time { return testNow },
		Observe: func(m, o string, _ time.Duration) { obs = append(obs, observed{m, o}) },
	}
	return g, &logs, &obs
}

// sysParams are the system parameters of a valid call.
func sysParams(method string) map[string]string {
	return map[string]string{
		"method":      method,
		"app_key":     testKey,
		"timestamp":   "2016-01-01 12:00:00",
		"format":      "json",
		"v":           "2.0",
		"sign_method": "md5",
	}
}

// with returns a copy of p with changes applied; a "-" value deletes.
func with(p map[string]string, changes ...string) map[string]string {
	q := make(map[string]string, len(p))
	for k, v := range p {
		q[k] = v
	}
	for i := 0; i+1 < len(changes); i += 2 {
		if changes[i+1] == "-" {
			delete(q, changes[i])
		} else {
			q[changes[i]] = changes[i+1]
		}
	}
	return q
}

// signed adds the sign parameter computed with p's own sign_method.
func signed(t *testing.T, p map[string]string) map[string]string {
	t.Helper()
	sign, err := Sign(p, testSecret, p["sign_method"])
	if err != nil {
		t.Fatal(err)
	}
	return with(p, "sign", sign)
}

func encodeForm(p map[string]string) string {
	v := url.Values{}
	for k, s := range p {
		v.Set(k, s)
	}
	return v.Encode()
}

func postForm(t *testing.T, h http.Handler, p map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	return do(h, http.MethodPost, "/router/rest", "application/x-www-form-urlencoded;charset=UTF-8", encodeForm(p))
}

func do(h http.Handler, method, target, contentType, body string) *httptest.ResponseRecorder {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// doReader posts body, which may fail partway, to h.
func doReader(h http.Handler, target, contentType string, body io.Reader) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, target, body)
	req.Header.Set("Content-Type", contentType)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// failingBody reads as prefix, then fails with err.
func failingBody(prefix string, err error) io.Reader {
	return io.MultiReader(strings.NewReader(prefix), iotest.ErrReader(err))
}

var ridPattern = regexp.MustCompile(`[0-9a-z]{12,13}`)

// answer checks what every answer shares (HTTP 200, the exact content
// type, no trailing newline, a well-formed request_id) and returns the body
// with the request_id replaced by RID, and the request_id.
func checkAnswer(t *testing.T, w *httptest.ResponseRecorder, format string) (string, string) {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Errorf("HTTP status = %d, want 200", w.Code)
	}
	wantCT := ContentTypeXML
	if format == FormatJSON {
		wantCT = ContentTypeJSON
	}
	if got := w.Header().Get("Content-Type"); got != wantCT {
		t.Errorf("Content-Type = %q, want %q", got, wantCT)
	}
	body := w.Body.String()
	if strings.HasSuffix(body, "\n") || strings.HasSuffix(body, " ") {
		t.Errorf("body ends with whitespace: %q", body)
	}
	var re *regexp.Regexp
	if format == FormatJSON {
		re = regexp.MustCompile(`"request_id":"([^"]*)"`)
	} else {
		re = regexp.MustCompile(`<request_id>([^<]*)</request_id>`)
	}
	m := re.FindAllStringSubmatch(body, -1)
	if len(m) != 1 {
		t.Fatalf("want exactly one request_id in %s", body)
	}
	rid := m[0][1]
	if !ridPattern.MatchString(rid) || len(ridPattern.FindString(rid)) != len(rid) {
		t.Errorf("request_id %q is not 12-13 lower-case base-36 characters", rid)
	}
	return strings.Replace(body, rid, "RID", 1), rid
}

func TestGateway_PostAndGet(t *testing.T) {
	g, _, _ := newTestGateway(t)
	p := signed(t, with(sysParams(testMethod), "param_reverse_consume_point_open_req", reverseObj))
	want := `{"alibaba_alsc_crm_point_reversepoint_response":{"result":{"biz_success":true,"result":"FLOW-ORDER123","result_code":"200","result_desc":"成功","result_view":""},"request_id":"RID"}}`

	t.Run("POST form", func(t *testing.T) {
		got, _ := checkAnswer(t, postForm(t, g, p), FormatJSON)
		if got != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	})
	t.Run("GET query", func(t *testing.T) {
		got, _ := checkAnswer(t, do(g, http.MethodGet, "/router/rest?"+encodeForm(p), "", ""), FormatJSON)
		if got != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	})
	t.Run("the body of the doc example", func(t *testing.T) {
		// Example C's form body as node-taobao-topclient sends it.
		body := "method=alibaba.alsc.crm.point.reversepoint&app_key=12345678&session=test&timestamp=2016-01-01+12%3A00%3A00&format=json&v=2.0&sign_method=md5&param_reverse_consume_point_open_req=%7B%22biz_channel%22%3A%22KRY%22%2C%22biz_type%22%3A%22POINT_REVERSE%22%2C%22brand_id%22%3A%22B001%22%2C%22change_point%22%3A10%2C%22operator_id%22%3A%22op1%22%2C%22operator_name%22%3A%22%E5%BC%A0%E4%B8%89%22%2C%22out_biz_id%22%3A%22ORDER123%22%2C%22request_id%22%3A%226f1c2d3e-0000-4000-8000-000000000001%22%2C%22reverse_order_id%22%3A%22REFUND456%22%2C%22shop_id%22%3A%22S001%22%7D&sign=A82D8596E33C9A5EADF30F23589207CC"
		got, _ := checkAnswer(t, do(g, http.MethodPost, "/router/rest", "APPLICATION/X-WWW-FORM-URLENCODED", body), FormatJSON)
		if got != want {
			t.Errorf("got  %s\nwant %s", got, want)
		}
	})
}

func echoParams(t *testing.T, w *httptest.ResponseRecorder) (map[string]string, []string) {
	t.Helper()
	var out struct {
		Resp struct {
			Result struct {
				Params map[string]string `json:"params"`
				Files  struct {
					String []string `json:"string"`
				} `json:"files"`
			} `json:"result"`
		} `json:"jifen_test_echo_response"`
		Err *ErrorResponse `json:"error_response"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("decoding %s: %v", w.Body, err)
	}
	if out.Err != nil {
		t.Fatalf("error_response: %v", out.Err)
	}
	return out.Resp.Result.Params, out.Resp.Result.Files.String
}

func TestGateway_QueryBodyMerge(t *testing.T) {
	g, _, _ := newTestGateway(t)
	// Java style: system parameters (and sign) in the query, business ones
	// in the body; "dup" is in both and the body's value wins.
	all := signed(t, with(sysParams("jifen.test.echo"), "biz", "b", "dup", "body"))
	query := with(all, "biz", "-", "dup", "query")
	w := do(g, http.MethodPost, "/router/rest?"+encodeForm(query),
		"application/x-www-form-urlencoded", encodeForm(map[string]string{"biz": "b", "dup": "body"}))
	params, _ := echoParams(t, w)
	if params["biz"] != "b" || params["dup"] != "body" || params["method"] != "jifen.test.echo" {
		t.Errorf("params = %v, want biz=b dup=body method=jifen.test.echo", params)
	}
}

func TestGateway_Multipart(t *testing.T) {
	t.Run("Python file disposition", func(t *testing.T) {
		g, _, _ := newTestGateway(t)
		p := signed(t, with(sysParams("jifen.test.echo"), "name", "张三"))
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for k, v := range p {
			if err := mw.WriteField(k, v); err != nil {
				t.Fatal(err)
			}
		}
		hdr := textproto.MIMEHeader{}
		hdr.Set("Content-Disposition", `file; name="img"; filename="a.jpg"`)
		hdr.Set("Content-Type", "image/jpeg")
		fw, err := mw.CreatePart(hdr)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write([]byte("JPEG"))
		// A form-data part with a filename is a file too (Java, PHP).
		fw, _ = mw.CreateFormFile("doc", "b.txt")
		fw.Write([]byte("TEXT"))
		mw.Close()
		w := do(g, http.MethodPost, "/router/rest", strings.ToUpper("multipart/form-data")+"; boundary="+mw.Boundary(), body.String())
		params, files := echoParams(t, w)
		if params["name"] != "张三" {
			t.Errorf("name = %q, want 张三", params["name"])
		}
		if _, ok := params["img"]; ok {
			t.Error("the file part leaked into the text parameters")
		}
		if want := []string{"img=a.jpg:JPEG", "doc=b.txt:TEXT"}; fmt.Sprint(files) != fmt.Sprint(want) {
			t.Errorf("files = %v, want %v", files, want)
		}
	})
	t.Run("Java and .NET framing", func(t *testing.T) {
		g, _, _ := newTestGateway(t)
		p := signed(t, with(sysParams("jifen.test.echo"), "k", "v"))
		var b strings.Builder
		for k, v := range p {
			fmt.Fprintf(&b, "\r\n--XyZ\r\nContent-Disposition:form-data;name=\"%s\"\r\nContent-Type:text/plain\r\n\r\n%s", k, v)
		}
		b.WriteString("\r\n--XyZ--\r\n")
		params, _ := echoParams(t, do(g, http.MethodPost, "/router/rest", "multipart/form-data;charset=UTF-8;boundary=XyZ", b.String()))
		if params["k"] != "v" {
			t.Errorf("k = %q, want v", params["k"])
		}
	})
}

// TestGateway_MultipartCutOff cuts a signed multipart request, whose last
// part is a file (files are not signed), at every byte: each cut before
// the closing boundary is refused with 43, never taken with a part
// dropped; the whole body, with or without its final line break, is
// taken with every part.
func TestGateway_MultipartCutOff(t *testing.T) {
	p := signed(t, with(sysParams("jifen.test.echo"), "name", "张三"))
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, k := range slices.Sorted(maps.Keys(p)) {
		if err := mw.WriteField(k, p[k]); err != nil {
			t.Fatal(err)
		}
	}
	fw, err := mw.CreateFormFile("img", "a.jpg")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write([]byte("JPEG"))
	mw.Close()
	body, ctype := buf.String(), "multipart/form-data; boundary="+mw.Boundary()
	closed := strings.LastIndex(body, "--"+mw.Boundary()+"--") + len(mw.Boundary()) + 4
	for n := 0; n < closed; n++ {
		params, files, e := parseParams("", ctype, strings.NewReader(body[:n]), DefaultMaxBodyBytes)
		if e == nil || e.Code != CodeParameterError {
			t.Fatalf("cut at %d of %d (…%q): %v, %d params, files %v; want code 43", n, len(body), body[max(0, n-20):n], e, len(params), files)
		}
	}
	for _, n := range []int{closed, len(body)} {
		params, files, e := parseParams("", ctype, strings.NewReader(body[:n]), DefaultMaxBodyBytes)
		if e != nil || params["name"] != "张三" || len(files) != 1 || string(files[0].Data) != "JPEG" {
			t.Fatalf("cut at %d of %d, after the closing boundary: %v, params %v, files %v", n, len(body), e, params, files)
		}
	}
	// Through the gateway: the body cut inside the file part's header.
	g, _, _ := newTestGateway(t)
	cut := body[:strings.LastIndex(body, "Content-Type: application/octet-stream")]
	got, _ := checkAnswer(t, do(g, http.MethodPost, "/router/rest?format=json", ctype, cut), FormatJSON)
	if !strings.Contains(got, `"code":43`) {
		t.Errorf("cut inside the file's header: %s, want code 43", got)
	}
}

func TestGateway_Timestamp(t *testing.T) {
	g, _, _ := newTestGateway(t)
	ms := func(d time.Duration) string { return fmt.Sprint(testNow.Add(d).UnixMilli()) }
	str := func(d time.Duration) string { return testNow.Add(d).Format(TimeLayout) }
	tests := []struct {
		name, ts string
		wantCode int // 0 = accepted
	}{
		{"string", "2016-01-01 12:00:00", 0},
		{"epoch ms", ms(0), 0},
		{"epoch seconds", fmt.Sprint(testNow.Unix()), 0},
		{"string at -window", str(-10 * time.Minute), 0},
		{"string at +window", str(10 * time.Minute), 0},
		{"string past -window", str(-10*time.Minute - time.Second), 31},
		{"string past +window", str(10*time.Minute + time.Second), 31},
		{"ms at +window", ms(10 * time.Minute), 0},
		{"ms past +window", ms(10*time.Minute + time.Millisecond), 31},
		{"ms past -window", ms(-10*time.Minute - time.Millisecond), 31},
		{"UTC string is 8 hours off", testNow.UTC().Format(TimeLayout), 31},
		{"ISO 8601", "2016-01-01T12:00:00+08:00", 31},
		{"11 digits", "14516208000", 31},
		{"missing", "-", 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := signed(t, with(sysParams("jifen.test.echo"), "timestamp", tt.ts))
			w := postForm(t, g, p)
			var out struct {
				Err *ErrorResponse `json:"error_response"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
				t.Fatal(err)
			}
			got := 0
			if out.Err != nil {
				got = out.Err.Code
			}
			if got != tt.wantCode {
				t.Errorf("code = %d, want %d (%s)", got, tt.wantCode, w.Body)
			}
		})
	}
}

// TestGateway_PlatformErrors pins the exact answer of every gateway check.
func TestGateway_PlatformErrors(t *testing.T) {
	base := sysParams("jifen.test.echo")
	tests := []struct {
		name string
		req  func(t *testing.T, g *Gateway) *httptest.ResponseRecorder
		want string
	}{
		{"9 http action", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			return do(g, http.MethodPut, "/router/rest?format=json&"+encodeForm(signed(t, base)), "", "")
		}, `{"error_response":{"code":9,"msg":"Http action not allowed","sub_msg":"use GET or POST","request_id":"RID"}}`},
		{"21 missing method", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			return postForm(t, g, signed(t, with(base, "method", "-")))
		}, `{"error_response":{"code":21,"msg":"Missing method","request_id":"RID"}}`},
		{"22 invalid method", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			return postForm(t, g, signed(t, with(base, "method", "taobao.no.such")))
		}, `{"error_response":{"code":22,"msg":"Invalid method","request_id":"RID"}}`},
		{"23 invalid format (answered in XML)", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			return postForm(t, g, signed(t, with(base, "format", "yaml")))
		}, `<?xml version="1.0" encoding="utf-8" ?><error_response><code>23</code><msg>Invalid format</msg><sub_msg>format must be xml or json</sub_msg><request_id>RID</request_id></error_response>`},
		{"24 missing signature", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			return postForm(t, g, base)
		}, `{"error_response":{"code":24,"msg":"Missing signature","request_id":"RID"}}`},
		{"25 invalid signature", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			return postForm(t, g, with(signed(t, base), "sign", "A82D8596E33C9A5EADF30F23589207CC"))
		}, `{"error_response":{"code":25,"msg":"Invalid signature","request_id":"RID"}}`},
		{"25 tampered parameter", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			return postForm(t, g, with(signed(t, with(base, "x", "1")), "x", "2"))
		}, `{"error_response":{"code":25,"msg":"Invalid signature","request_id":"RID"}}`},
		{"25 unknown sign_method", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			return postForm(t, g, with(signed(t, base), "sign_method", "sha1"))
		}, `{"error_response":{"code":25,"msg":"Invalid signature","sub_msg":"unsupported sign_method","request_id":"RID"}}`},
		{"28 missing app key", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			return postForm(t, g, signed(t, with(base, "app_key", "-")))
		}, `{"error_response":{"code":28,"msg":"Missing app key","request_id":"RID"}}`},
		{"29 unknown app", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			return postForm(t, g, signed(t, with(base, "app_key", "nobody")))
		}, `{"error_response":{"code":29,"msg":"Invalid app Key","sub_code":"isv.appkey-not-exists","request_id":"RID"}}`},
		{"29 inactive app", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			return postForm(t, g, signed(t, with(base, "app_key", "inactive")))
		}, `{"error_response":{"code":29,"msg":"Invalid app Key","sub_code":"isv.appkey-not-exists","request_id":"RID"}}`},
		{"30 missing timestamp", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			return postForm(t, g, signed(t, with(base, "timestamp", "-")))
		}, `{"error_response":{"code":30,"msg":"Missing timestamp","request_id":"RID"}}`},
		{"31 invalid timestamp", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			return postForm(t, g, signed(t, with(base, "timestamp", "yesterday")))
		}, `{"error_response":{"code":31,"msg":"Invalid timestamp","sub_msg":"timestamp must be yyyy-MM-dd HH:mm:ss (GMT+8) or epoch milliseconds","request_id":"RID"}}`},
		{"31 skewed timestamp", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			return postForm(t, g, signed(t, with(base, "timestamp", "2016-01-01 11:49:59")))
		}, `{"error_response":{"code":31,"msg":"Invalid timestamp","sub_msg":"timestamp is outside ±600 seconds of server time 2016-01-01 12:00:00 (GMT+8)","request_id":"RID"}}`},
		{"32 missing version", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			return postForm(t, g, signed(t, with(base, "v", "-")))
		}, `{"error_response":{"code":32,"msg":"Missing version","request_id":"RID"}}`},
		{"33 invalid version", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			return postForm(t, g, signed(t, with(base, "v", "two")))
		}, `{"error_response":{"code":33,"msg":"Invalid version","request_id":"RID"}}`},
		{"34 unsupported version", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			return postForm(t, g, signed(t, with(base, "v", "1.0")))
		}, `{"error_response":{"code":34,"msg":"Unsupported version","sub_msg":"only v=2.0 is supported","request_id":"RID"}}`},
		{"47 non-UTF-8 value", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			return do(g, http.MethodPost, "/router/rest?format=json", "application/x-www-form-urlencoded", encodeForm(signed(t, base))+"&name=%D5%C5")
		}, `{"error_response":{"code":47,"msg":"Invalid encoding","sub_msg":"parameters must be UTF-8","request_id":"RID"}}`},
		{"47 bad percent-encoding", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			return do(g, http.MethodGet, "/router/rest?format=json&x=%zz", "", "")
		}, `{"error_response":{"code":47,"msg":"Invalid encoding","sub_msg":"malformed percent-encoding","request_id":"RID"}}`},
		{"43 body too large", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			return do(g, http.MethodPost, "/router/rest?format=json", "application/x-www-form-urlencoded", "x="+strings.Repeat("a", DefaultMaxBodyBytes))
		}, `{"error_response":{"code":43,"msg":"parameter error","sub_msg":"request body too large","request_id":"RID"}}`},
		{"43 multipart body too large", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			body := "--B\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n" + strings.Repeat("a", DefaultMaxBodyBytes) + "\r\n--B--\r\n"
			return do(g, http.MethodPost, "/router/rest?format=json", "multipart/form-data; boundary=B", body)
		}, `{"error_response":{"code":43,"msg":"parameter error","sub_msg":"request body too large","request_id":"RID"}}`},
		{"43 multipart body cut off inside a part header", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			body := "--B\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--B\r\nContent-Disposition: form-data; name=\"y\"\r\n"
			return do(g, http.MethodPost, "/router/rest?format=json", "multipart/form-data; boundary=B", body)
		}, `{"error_response":{"code":43,"msg":"parameter error","sub_msg":"multipart body does not end with its closing boundary","request_id":"RID"}}`},
		{"43 multipart body without its closing boundary", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			body := "--B\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--B\r\n"
			return do(g, http.MethodPost, "/router/rest?format=json", "multipart/form-data; boundary=B", body)
		}, `{"error_response":{"code":43,"msg":"parameter error","sub_msg":"multipart body does not end with its closing boundary","request_id":"RID"}}`},
		// SDKs that send every parameter in the body (the Node and .NET
		// ones) get errors the body cannot be read for in their format too.
		{"47 non-UTF-8 value, format in the body", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			return do(g, http.MethodPost, "/router/rest", "application/x-www-form-urlencoded", encodeForm(signed(t, base))+"&name=%D5%C5")
		}, `{"error_response":{"code":47,"msg":"Invalid encoding","sub_msg":"parameters must be UTF-8","request_id":"RID"}}`},
		{"47 bad percent-encoding, format in the body", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			return do(g, http.MethodPost, "/router/rest", "application/x-www-form-urlencoded", "x=%zz&format=json")
		}, `{"error_response":{"code":47,"msg":"Invalid encoding","sub_msg":"malformed percent-encoding","request_id":"RID"}}`},
		{"43 body too large, format in the body", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			return do(g, http.MethodPost, "/router/rest", "application/x-www-form-urlencoded", "format=json&x="+strings.Repeat("a", DefaultMaxBodyBytes))
		}, `{"error_response":{"code":43,"msg":"parameter error","sub_msg":"request body too large","request_id":"RID"}}`},
		{"43 multipart body too large, format in the body", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			body := "--B\r\nContent-Disposition: form-data; name=\"format\"\r\n\r\njson\r\n--B\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n" +
				strings.Repeat("a", DefaultMaxBodyBytes) + "\r\n--B--\r\n"
			return do(g, http.MethodPost, "/router/rest", "multipart/form-data; boundary=B", body)
		}, `{"error_response":{"code":43,"msg":"parameter error","sub_msg":"request body too large","request_id":"RID"}}`},
		{"43 body too large, the body's format wins", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			return do(g, http.MethodPost, "/router/rest?format=json", "application/x-www-form-urlencoded", "format=xml&x="+strings.Repeat("a", DefaultMaxBodyBytes))
		}, `<?xml version="1.0" encoding="utf-8" ?><error_response><code>43</code><msg>parameter error</msg><sub_msg>request body too large</sub_msg><request_id>RID</request_id></error_response>`},
		// Bodies the server would not hold (package bodylimit): one that did
		// not arrive in time is refused like any unreadable body, one
		// refused for memory is the server's state, worth a retry.
		{"43 body not received in time", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			return doReader(g, "/router/rest?format=json", "application/x-www-form-urlencoded", failingBody("x=aaa", bodylimit.ErrTimeout))
		}, `{"error_response":{"code":43,"msg":"parameter error","sub_msg":"request body not received in time","request_id":"RID"}}`},
		{"43 body not received in time, format in the body", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			return doReader(g, "/router/rest", "application/x-www-form-urlencoded", failingBody("format=json&x=aaa", bodylimit.ErrTimeout))
		}, `{"error_response":{"code":43,"msg":"parameter error","sub_msg":"request body not received in time","request_id":"RID"}}`},
		{"43 multipart body not received in time", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			return doReader(g, "/router/rest?format=json", "multipart/form-data; boundary=B",
				failingBody("--B\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\naaa", bodylimit.ErrTimeout))
		}, `{"error_response":{"code":43,"msg":"parameter error","sub_msg":"request body not received in time","request_id":"RID"}}`},
		{"15 server busy with large bodies", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			return doReader(g, "/router/rest?format=json", "application/x-www-form-urlencoded", failingBody("x=aaa", bodylimit.ErrBusy))
		}, `{"error_response":{"code":15,"msg":"Remote service error","sub_code":"isp.service-unavailable","sub_msg":"server busy with other large request bodies, retry later","request_id":"RID"}}`},
		{"15 server busy with large bodies, multipart", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			return doReader(g, "/router/rest?format=json", "multipart/form-data; boundary=B",
				failingBody("--B\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\naaa", bodylimit.ErrBusy))
		}, `{"error_response":{"code":15,"msg":"Remote service error","sub_code":"isp.service-unavailable","sub_msg":"server busy with other large request bodies, retry later","request_id":"RID"}}`},
		{"15 app lookup fails", func(t *testing.T, g *Gateway) *httptest.ResponseRecorder {
			return postForm(t, g, signed(t, with(base, "app_key", "lookup-fails")))
		}, `{"error_response":{"code":15,"msg":"Remote service error","sub_code":"isp.unknown-error","sub_msg":"internal error, request_id RID","request_id":"RID"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, _, _ := newTestGateway(t)
			format := FormatJSON
			if strings.HasPrefix(tt.want, "<") {
				format = FormatXML
			}
			w := tt.req(t, g)
			got, rid := checkAnswer(t, w, format)
			got = strings.ReplaceAll(got, rid, "RID")
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestGateway_RateLimit(t *testing.T) {
	g, _, obs := newTestGateway(t)
	p := signed(t, with(sysParams("jifen.test.echo"), "app_key", "limited"))
	if got, _ := checkAnswer(t, postForm(t, g, p), FormatJSON); strings.Contains(got, "error_response") {
		t.Fatalf("first call: %s", got)
	}
	got, _ := checkAnswer(t, postForm(t, g, p), FormatJSON)
	want := `{"error_response":{"code":7,"msg":"App Call Limited","sub_code":"accesscontrol.limited-by-app-access-count","sub_msg":"This ban will last for 1 more seconds","request_id":"RID"}}`
	if got != want {
		t.Errorf("second call:\ngot  %s\nwant %s", got, want)
	}
	// A second later the bucket has a token again.
	g.Now = func() time.Time { return testNow.Add(time.Second) }
	if got, _ := checkAnswer(t, postForm(t, g, p), FormatJSON); strings.Contains(got, "error_response") {
		t.Errorf("a second later: %s", got)
	}
	if want := []observed{{"jifen.test.echo", "ok"}, {"jifen.test.echo", "7"}, {"jifen.test.echo", "ok"}}; fmt.Sprint(*obs) != fmt.Sprint(want) {
		t.Errorf("observed %v, want %v", *obs, want)
	}
}
