package top

import (
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"

	"jifen/ledger"
)

type allTypes struct {
	Name     string     `json:"name" top:"required"`
	Opt      string     `json:"opt"`
	OptPtr   *string    `json:"opt_ptr"`
	Point    *int64     `json:"point"`
	Count    int64      `json:"count"`
	Small    int        `json:"small"`
	Flag     *bool      `json:"flag"`
	Plain    bool       `json:"plain"`
	Options  []string   `json:"options"`
	At       *time.Time `json:"at"`
	Required *int64     `json:"required_point" top:"required"`
	All      *int64     `json:"all" top:"noblank"`
}

func i64(n int64) *int64          { return &n }
func bptr(b bool) *bool           { return &b }
func sptr(s string) *string       { return &s }
func tptr(t time.Time) *time.Time { return &t }

func TestDecodeObject(t *testing.T) {
	at := time.Date(2024, 3, 1, 8, 30, 0, 0, cst)
	tests := []struct {
		name string
		raw  string
		want allTypes // checked when wantErr is nil
		// wantErr: "40", "41", or "field reason" for a ledger.Invalid.
		wantErr string
	}{
		{"minimal", `{"name":"a","required_point":1}`, allTypes{Name: "a", Required: i64(1)}, ""},
		{"every type", `{"name":"a","opt":"o","opt_ptr":"","point":-5,"count":"7","small":3,"flag":false,"plain":"TRUE","options":["CARD","POINT"],"at":"2024-03-01 08:30:00","required_point":"1e2"}`,
			allTypes{Name: "a", Opt: "o", OptPtr: sptr(""), Point: i64(-5), Count: 7, Small: 3, Flag: bptr(false), Plain: true, Options: []string{"CARD", "POINT"}, At: tptr(at), Required: i64(100)}, ""},
		{"key order and unknown keys", `{"zzz":{"deep":[1,2]},"required_point":2,"name":"b","aaa":null}`, allTypes{Name: "b", Required: i64(2)}, ""},
		{"null is absent", `{"name":"a","required_point":1,"point":null,"opt":null,"at":null}`, allTypes{Name: "a", Required: i64(1)}, ""},
		{"number for a string keeps its text", `{"name":12345678901234567890,"required_point":1}`, allTypes{Name: "12345678901234567890", Required: i64(1)}, ""},
		{"comma-separated list", `{"name":"a","required_point":1,"options":"CARD, POINT,,"}`, allTypes{Name: "a", Required: i64(1), Options: []string{"CARD", "POINT"}}, ""},
		{"epoch ms number", `{"name":"a","required_point":1,"at":1709253000000}`, allTypes{Name: "a", Required: i64(1), At: tptr(at)}, ""},
		{"epoch ms string", `{"name":"a","required_point":1,"at":"1709253000000"}`, allTypes{Name: "a", Required: i64(1), At: tptr(at)}, ""},
		{"bool as 1", `{"name":"a","required_point":1,"flag":"1"}`, allTypes{Name: "a", Required: i64(1), Flag: bptr(true)}, ""},
		{"whole float", `{"name":"a","required_point":100.0}`, allTypes{Name: "a", Required: i64(100)}, ""},
		{"int64 extremes", `{"name":"a","required_point":-9223372036854775808,"count":"9223372036854775807"}`,
			allTypes{Name: "a", Required: i64(-9223372036854775808), Count: 9223372036854775807}, ""},
		{"leading zeros in a string", `{"name":"a","required_point":"007"}`, allTypes{Name: "a", Required: i64(7)}, ""},
		{"zero with a huge exponent", `{"name":"a","required_point":0e999999999999}`, allTypes{Name: "a", Required: i64(0)}, ""},
		{"blank number string is absent", `{"name":"a","required_point":1,"point":" "}`, allTypes{Name: "a", Required: i64(1)}, ""},
		{"noblank number absent or null", `{"name":"a","required_point":1,"all":null}`, allTypes{Name: "a", Required: i64(1)}, ""},
		{"noblank number given", `{"name":"a","required_point":1,"all":"30"}`, allTypes{Name: "a", Required: i64(1), All: i64(30)}, ""},
		{"PHP escapes", `{"name":"\u5f20\u4e09","required_point":"1","opt":"a\/b"}`, allTypes{Name: "张三", Required: i64(1), Opt: "a/b"}, ""},

		{"absent", ``, allTypes{}, "40"},
		{"blank", `  `, allTypes{}, "40"},
		{"null", `null`, allTypes{}, "40"},
		{"array", `[{"name":"a"}]`, allTypes{}, "41"},
		{"string", `"{}"`, allTypes{}, "41"},
		{"malformed", `{"name":"a",}`, allTypes{}, "41"},
		{"trailing garbage", `{"name":"a","required_point":1}x`, allTypes{}, "41"},
		{"too deep", `{"a":` + repeat("[", 40) + repeat("]", 40) + `}`, allTypes{}, "41"},

		{"required missing", `{"required_point":1}`, allTypes{}, "name 不可为空"},
		{"required null", `{"name":null,"required_point":1}`, allTypes{}, "name 不可为空"},
		{"required blank", `{"name":" \t","required_point":1}`, allTypes{}, "name 不可为空"},
		{"required number blank", `{"name":"a","required_point":""}`, allTypes{}, "required_point 不可为空"},
		{"noblank number blank", `{"name":"a","required_point":1,"all":" "}`, allTypes{}, "all 不可为空字符串; 不传此字段(或传 null)才表示未给出"},
		{"string given an object", `{"name":{},"required_point":1}`, allTypes{}, "name 必须是字符串"},
		{"string given a bool", `{"name":true,"required_point":1}`, allTypes{}, "name 必须是字符串"},
		{"fraction", `{"name":"a","required_point":1.5}`, allTypes{}, "required_point 必须是整数"},
		{"fractional exponent", `{"name":"a","required_point":15e-1}`, allTypes{}, "required_point 必须是整数"},
		{"fraction in a string", `{"name":"a","required_point":"2.5"}`, allTypes{}, "required_point 必须是整数"},
		{"not a number", `{"name":"a","required_point":"ten"}`, allTypes{}, "required_point 必须是整数"},
		{"hex", `{"name":"a","required_point":"0x10"}`, allTypes{}, "required_point 必须是整数"},
		{"plus sign", `{"name":"a","required_point":"+1"}`, allTypes{}, "required_point 必须是整数"},
		{"number given a bool", `{"name":"a","required_point":true}`, allTypes{}, "required_point 必须是整数"},
		{"overflow", `{"name":"a","required_point":9223372036854775808}`, allTypes{}, "required_point 超出范围"},
		{"underflow", `{"name":"a","required_point":"-9223372036854775809"}`, allTypes{}, "required_point 超出范围"},
		{"huge exponent", `{"name":"a","required_point":1e999999999999}`, allTypes{}, "required_point 超出范围"},
		{"int out of range", `{"name":"a","required_point":1,"small":1e300}`, allTypes{}, "small 超出范围"},
		{"bool given yes", `{"name":"a","required_point":1,"flag":"yes"}`, allTypes{}, "flag 必须是布尔值(true/false)"},
		{"list of objects", `{"name":"a","required_point":1,"options":[{}]}`, allTypes{}, "options 必须是字符串数组或逗号分隔的字符串"},
		{"list given a number", `{"name":"a","required_point":1,"options":3}`, allTypes{}, "options 必须是字符串数组或逗号分隔的字符串"},
		{"date in ISO 8601", `{"name":"a","required_point":1,"at":"2024-03-01T08:30:00Z"}`, allTypes{}, "at 必须是yyyy-MM-dd HH:mm:ss格式的时间或毫秒时间戳"},
		{"negative epoch", `{"name":"a","required_point":1,"at":-1}`, allTypes{}, "at 必须是yyyy-MM-dd HH:mm:ss格式的时间或毫秒时间戳"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got allTypes
			err := DecodeObject("param_x", tt.raw, &got)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("DecodeObject: %v", err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("got  %+v\nwant %+v", got, tt.want)
				}
				return
			}
			if gotErr := describe(err); gotErr != tt.wantErr {
				t.Errorf("error = %q (%v), want %q", gotErr, err, tt.wantErr)
			}
		})
	}
}

// describe reduces a decoding error to what the wire shows of it.
func describe(err error) string {
	var er *ErrorResponse
	if errors.As(err, &er) {
		if er.Code == 40 && er.Msg != "Missing required arguments:param_x" ||
			er.Code == 41 && er.Msg != "Invalid arguments:param_x" {
			return "bad msg " + er.Msg
		}
		return strconv.Itoa(er.Code)
	}
	if le, ok := ledger.AsError(err); ok && le.Kind == ledger.KindInvalid {
		return le.Field + " " + le.Message
	}
	if err == nil {
		return "<nil>"
	}
	return "other: " + err.Error()
}

func repeat(s string, n int) string {
	b := make([]byte, 0, len(s)*n)
	for range n {
		b = append(b, s...)
	}
	return string(b)
}

func TestDecodeObject_BadDestination(t *testing.T) {
	var notPtr allTypes
	var unsupported struct {
		F float64 `json:"f"`
	}
	for name, dst := range map[string]any{"nil": nil, "not a pointer": notPtr, "unsupported field": &unsupported} {
		err := DecodeObject("p", `{"f":1}`, dst)
		var er *ErrorResponse
		if _, isLedger := ledger.AsError(err); err == nil || isLedger || errors.As(err, &er) {
			t.Errorf("%s: error = %v, want a plain programming error", name, err)
		}
	}
}

func TestDecodeObject_NamedTypes(t *testing.T) {
	type bizType string
	type option string
	var got struct {
		Biz  *bizType `json:"biz"`
		Opts []option `json:"opts"`
	}
	if err := DecodeObject("p", `{"biz":"X","opts":"A,B"}`, &got); err != nil {
		t.Fatal(err)
	}
	if *got.Biz != "X" || len(got.Opts) != 2 || got.Opts[1] != "B" {
		t.Errorf("got %v %v", *got.Biz, got.Opts)
	}
}

func TestParseWholeNumber(t *testing.T) {
	tests := []struct {
		in     string
		want   int64
		reason string
	}{
		{"0", 0, ""}, {"-0", 0, ""}, {"1e2", 100, ""}, {"1E+2", 100, ""}, {"1.50e1", 15, ""},
		{"12300e-2", 123, ""}, {"9223372036854775807", 9223372036854775807, ""},
		{"922337203685477580.7e1", 9223372036854775807, ""},
		{"9223372036854775808", 0, reasonRange}, {"1e19", 0, reasonRange}, {"1e18", 1e18, ""},
		{"1.", 0, reasonInteger}, {".5", 0, reasonInteger}, {"1e", 0, reasonInteger}, {"-", 0, reasonInteger},
		{"1e-1", 0, reasonInteger}, {"1 ", 0, reasonInteger}, {"", 0, reasonInteger},
		{"1e-99999999999", 0, reasonInteger}, {"0.0000e-99999999999", 0, ""},
	}
	for _, tt := range tests {
		got, reason := parseWholeNumber(tt.in)
		if got != tt.want || reason != tt.reason {
			t.Errorf("parseWholeNumber(%q) = %d, %q; want %d, %q", tt.in, got, reason, tt.want, tt.reason)
		}
	}
}
