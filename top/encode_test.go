package top

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestResponseName(t *testing.T) {
	tests := map[string]string{
		"alibaba.alsc.crm.point.reversepoint": "alibaba_alsc_crm_point_reversepoint_response",
		"taobao.tbk.item.info.get":            "tbk_item_info_get_response",
		"tmall.x.taobao.y":                    "tmall_x_taobao_y_response",
	}
	for in, want := range tests {
		if got := ResponseName(in); got != want {
			t.Errorf("ResponseName(%q) = %q, want %q", in, got, want)
		}
	}
}

type inner struct {
	A string `json:"a"`
}

type Embedded struct {
	E int `json:"e"`
}

type CardOpenInfo struct {
	ID string `json:"id"`
}

type shapes struct {
	Embedded
	Any      any            `json:"any,omitempty"`
	Nil      *inner         `json:"nil"`
	NilAny   any            `json:"nil_any"`
	NilSlice []string       `json:"nil_slice"`
	Omitted  []string       `json:"omitted,omitempty"`
	Zero     int            `json:"zero"`
	ZeroOmit int            `json:"zero_omit,omitempty"`
	ZeroTime time.Time      `json:"zero_time"`
	Ptr      *int64         `json:"ptr,omitempty"`
	Map      map[string]any `json:"map,omitempty"`
	Infos    []CardOpenInfo `json:"infos,omitempty"`
	Nums     []float64      `json:"nums,omitempty"`
	Dash     string         `json:"-"`
	hidden   string
}

func TestEncode(t *testing.T) {
	n := int64(0)
	v := shapes{
		Embedded: Embedded{E: 1},
		Any:      inner{A: "x"},
		Ptr:      &n,
		Map:      map[string]any{"b": true, "a": "s", "n": nil},
		Infos:    []CardOpenInfo{{ID: "1"}},
		Nums:     []float64{1.5, 1e21},
		Dash:     "dash",
		hidden:   "hidden",
	}
	tests := []struct {
		name     string
		xml      bool
		simplify bool
		want     string
	}{
		{"JSON", false, false, `{"e":1,"any":{"a":"x"},"nil_slice":{"string":[]},"zero":0,"ptr":0,"map":{"a":"s","b":true},"infos":{"card_open_info":[{"id":"1"}]},"nums":{"number":[1.5,1e+21]}}`},
		{"simplified JSON", false, true, `{"e":1,"any":{"a":"x"},"nil_slice":[],"zero":0,"ptr":0,"map":{"a":"s","b":true},"infos":[{"id":"1"}],"nums":[1.5,1e+21]}`},
		{"XML", true, false, `<e>1</e><any><a>x</a></any><nil_slice></nil_slice><zero>0</zero><ptr>0</ptr><map><a>s</a><b>true</b></map><infos><card_open_info><id>1</id></card_open_info></infos><nums><number>1.5</number><number>1e+21</number></nums>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &encoder{xml: tt.xml, simplify: tt.simplify}
			if err := e.value(reflectValue(v), ""); err != nil {
				t.Fatal(err)
			}
			if got := e.buf.String(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestEncode_ScalarResults(t *testing.T) {
	tests := []struct {
		result  any
		json    string
		xmlBody string
	}{
		{OK("F1"), `{"biz_success":true,"result":"F1","result_code":"200","result_desc":"成功","result_view":""}`,
			`<biz_success>true</biz_success><result>F1</result><result_code>200</result_code><result_desc>成功</result_desc><result_view></result_view>`},
		{OK(true), `{"biz_success":true,"result":true,"result_code":"200","result_desc":"成功","result_view":""}`,
			`<biz_success>true</biz_success><result>true</result><result_code>200</result_code><result_desc>成功</result_desc><result_view></result_view>`},
		{OK(nil), `{"biz_success":true,"result_code":"200","result_desc":"成功","result_view":""}`,
			`<biz_success>true</biz_success><result_code>200</result_code><result_desc>成功</result_desc><result_view></result_view>`},
		{&struct {
			T *time.Time `json:"t"`
		}{T: &testNow}, `{"t":"2016-01-01 12:00:00"}`, `<t>2016-01-01 12:00:00</t>`},
		{"plain", `"plain"`, `plain`},
	}
	for _, tt := range tests {
		got, err := encodeSuccess(FormatJSON, false, "a.b", tt.result, "RID")
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"a_b_response":{"result":` + tt.json + `,"request_id":"RID"}}`; string(got) != want {
			t.Errorf("JSON got  %s\nwant %s", got, want)
		}
		got, err = encodeSuccess(FormatXML, true, "a.b", tt.result, "RID")
		if err != nil {
			t.Fatal(err)
		}
		if want := xmlProlog + `<a_b_response><result>` + tt.xmlBody + `</result><request_id>RID</request_id></a_b_response>`; string(got) != want {
			t.Errorf("XML got  %s\nwant %s", got, want)
		}
	}
}

func TestEncode_Errors(t *testing.T) {
	type cyclic struct {
		Next any `json:"next"`
	}
	c := &cyclic{}
	c.Next = c
	for name, v := range map[string]any{
		"NaN":       math.NaN(),
		"func":      func() {},
		"cycle":     c,
		"int keys":  map[int]string{1: "a"},
		"chan list": []chan int{make(chan int)},
	} {
		if _, err := encodeSuccess(FormatJSON, false, "m", v, "RID"); err == nil {
			t.Errorf("%s: got no error", name)
		}
	}
	if _, err := encodeSuccess(FormatXML, false, "m", map[string]int{"1bad": 1}, "RID"); err == nil {
		t.Error("XML with a map key that is no XML name: got no error")
	}
}

func TestEncodeError_NoSubFields(t *testing.T) {
	e := platformError(CodeInvalidSignature, "", "")
	e.RequestID = "RID"
	if got, want := string(encodeError(FormatXML, e)), xmlProlog+`<error_response><code>25</code><msg>Invalid signature</msg><request_id>RID</request_id></error_response>`; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestSnakeCase(t *testing.T) {
	for in, want := range map[string]string{
		"PointFlowOpenInfo": "point_flow_open_info",
		"HTTPServer":        "http_server",
		"CardOpenInfo":      "card_open_info",
		"ID":                "id",
		"already":           "already",
	} {
		if got := snakeCase(in); got != want {
			t.Errorf("snakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestXMLEscapesControlCharacters(t *testing.T) {
	got, err := encodeSuccess(FormatXML, false, "m", "a\x01b<", "RID")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), "<result>a\uFFFDb&lt;</result>") {
		t.Errorf("got %s", got)
	}
}

func reflectValue(v any) reflect.Value { return reflect.ValueOf(v) }
