package top

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"jifen/ledger"
)

// gatewayCodes are the codes the request parser may answer with.
var parserCodes = map[int]bool{CodeParameterError: true, CodeInvalidEncoding: true}

func FuzzParseParams(f *testing.F) {
	f.Add("format=json", "application/x-www-form-urlencoded;charset=UTF-8", []byte("method=a.b&app_key=1&x=%E5%BC%A0&y="))
	f.Add("", "", []byte("a=1&a=2&&=&b"))
	f.Add("x=%zz", "application/x-www-form-urlencoded", []byte("name=%D5%C5"))
	f.Add("", "multipart/form-data; boundary=B",
		[]byte("--B\r\nContent-Disposition: form-data; name=\"k\"\r\n\r\nv\r\n--B\r\nContent-Disposition: file; name=\"img\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\nJPEG\r\n--B--\r\n"))
	f.Add("", "multipart/form-data;charset=UTF-8;boundary=XyZ",
		[]byte("\r\n--XyZ\r\nContent-Disposition:form-data;name=\"k\"\r\nContent-Type:text/plain\r\n\r\nv\r\n--XyZ--\r\n"))
	f.Add("", "multipart/form-data", []byte("--B\r\n"))
	f.Add("", "multipart/mixed; boundary=B", []byte("--B\r\nContent-Disposition: attachment\r\n\r\nx\r\n--B--"))
	f.Add("", "text/plain", []byte("method=a"))
	f.Add("", "application/x-www-form-urlencoded; charset=", []byte(""))
	f.Fuzz(func(t *testing.T, query, contentType string, body []byte) {
		params, files, err := parseParams(query, contentType, strings.NewReader(string(body)), 4096)
		if err != nil {
			if !parserCodes[err.Code] || err.Msg != platformMsg[err.Code] {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		for k, v := range params {
			if k == "" || !utf8.ValidString(k) || !utf8.ValidString(v) {
				t.Fatalf("parameter %q=%q is empty or not UTF-8", k, v)
			}
		}
		size := 0
		for _, f := range files {
			size += len(f.Data)
		}
		if size > 4096 {
			t.Fatalf("files hold %d bytes, more than the body limit", size)
		}
	})
}

type fuzzObject struct {
	S   string     `json:"s" top:"required"`
	SP  *string    `json:"sp"`
	N   *int64     `json:"n"`
	M   int64      `json:"m"`
	I   int        `json:"i"`
	B   *bool      `json:"b"`
	BB  bool       `json:"bb"`
	L   []string   `json:"l"`
	T   *time.Time `json:"t"`
	TT  time.Time  `json:"tt"`
	Req *int64     `json:"req" top:"required"`
}

func FuzzDecodeObject(f *testing.F) {
	f.Add(`{"s":"a","req":1}`)
	f.Add(reverseObj)
	f.Add(`{"s":"a","sp":"x","n":"1e2","m":-9223372036854775808,"i":"7","b":"TRUE","bb":1,"l":["a",1],"t":"2024-03-01 08:30:00","tt":1709253000000,"req":100.0}`)
	f.Add(`{"s":1.5e300,"req":1e999999999}`)
	f.Add(`{"s":"a","req":"0.0000e-99999"}`)
	f.Add(`{"l":"a,,b","req":null}`)
	f.Add(`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`)
	f.Add(`null`)
	f.Add(`{"s":"\ud800","req":1}`)
	f.Fuzz(func(t *testing.T, raw string) {
		var dst fuzzObject
		err := DecodeObject("param", raw, &dst)
		if err == nil {
			if strings.TrimSpace(dst.S) == "" || dst.Req == nil {
				t.Fatalf("required fields not set: %+v", dst)
			}
			return
		}
		var er *ErrorResponse
		switch {
		case errors.As(err, &er):
			if er.Code != CodeMissingArguments && er.Code != CodeInvalidArguments {
				t.Fatalf("unexpected gateway error %v", er)
			}
		default:
			le, ok := ledger.AsError(err)
			if !ok || le.Kind != ledger.KindInvalid || le.Field == "" || le.Message == "" {
				t.Fatalf("unexpected error %#v", err)
			}
		}
	})
}
