package top

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
)

// Answer formats.
const (
	FormatXML  = "xml"
	FormatJSON = "json"
)

// xmlProlog is the platform's exact prolog; .NET's parser finds the root
// with a regex, so nothing else may precede the root element.
const xmlProlog = `<?xml version="1.0" encoding="utf-8" ?>`

// TimeLayout is the platform's one date format, always in GMT+8.
const TimeLayout = "2006-01-02 15:04:05"

// cst is GMT+8. Asia/Shanghai has kept UTC+8 without daylight saving since
// 1991, and the Java SDK formats and parses dates in a fixed "GMT+8", so a
// fixed zone matches clients exactly and needs no time zone database.
var cst = time.FixedZone("GMT+8", 8*60*60)

// CommonResult is the result object of the point and customer methods.
// ResultView has no omitempty: clients expect it present, "" on success.
type CommonResult struct {
	BizSuccess bool   `json:"biz_success"`
	Result     any    `json:"result,omitempty"`
	ResultCode string `json:"result_code"`
	ResultDesc string `json:"result_desc"`
	ResultView string `json:"result_view"`
}

// OK wraps a method's business data in a successful CommonResult.
func OK(result any) CommonResult {
	return CommonResult{BizSuccess: true, Result: result, ResultCode: "200", ResultDesc: "成功"}
}

// ResponseName is the wrapper key of method's answer: "taobao." dropped,
// dots turned into underscores, "_response" appended.
func ResponseName(method string) string {
	return strings.ReplaceAll(strings.TrimPrefix(method, "taobao."), ".", "_") + "_response"
}

// encodeSuccess renders a success answer. simplify drops the wrapper and
// unwraps lists; it applies to JSON only, as on the platform.
func encodeSuccess(format string, simplify bool, method string, result any, requestID string) ([]byte, error) {
	body := successBody{Result: result, RequestID: requestID}
	e := &encoder{xml: format == FormatXML, simplify: simplify && format == FormatJSON}
	if e.simplify {
		if err := e.value(reflect.ValueOf(body), ""); err != nil {
			return nil, err
		}
		return e.buf.Bytes(), nil
	}
	if err := e.root(ResponseName(method), reflect.ValueOf(body)); err != nil {
		return nil, err
	}
	return e.buf.Bytes(), nil
}

type successBody struct {
	Result    any    `json:"result,omitempty"`
	RequestID string `json:"request_id"`
}

// encodeError renders an error_response; simplify never applies to errors.
func encodeError(format string, er *ErrorResponse) []byte {
	e := &encoder{xml: format == FormatXML}
	if err := e.root("error_response", reflect.ValueOf(er).Elem()); err != nil {
		// ErrorResponse holds only strings and an int.
		panic("top: encoding error_response: " + err.Error())
	}
	return e.buf.Bytes()
}

// maxEncodeDepth stops a cyclic pointer graph from recursing forever.
const maxEncodeDepth = 64

// encoder writes JSON or XML by reflection over json struct tags, so a
// method declares its result once for both formats. It never writes null:
// nil pointers, interfaces and maps are left out.
type encoder struct {
	buf      bytes.Buffer
	xml      bool
	simplify bool
	depth    int
}

// root writes {"name":v} or the XML prolog and <name>v</name>.
func (e *encoder) root(name string, v reflect.Value) error {
	if e.xml {
		e.buf.WriteString(xmlProlog)
		return e.element(name, v, "")
	}
	e.buf.WriteString(`{"`)
	e.buf.WriteString(name)
	e.buf.WriteString(`":`)
	if err := e.value(v, ""); err != nil {
		return err
	}
	e.buf.WriteByte('}')
	return nil
}

// element writes <name>v</name> (XML only).
func (e *encoder) element(name string, v reflect.Value, item string) error {
	e.buf.WriteByte('<')
	e.buf.WriteString(name)
	e.buf.WriteByte('>')
	if err := e.value(v, item); err != nil {
		return err
	}
	e.buf.WriteString("</")
	e.buf.WriteString(name)
	e.buf.WriteByte('>')
	return nil
}

var timeType = reflect.TypeFor[time.Time]()

// resolve follows pointers and interfaces; ok is false for nil.
func resolve(v reflect.Value) (reflect.Value, bool) {
	for v.IsValid() && (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) {
		if v.IsNil() {
			return reflect.Value{}, false
		}
		v = v.Elem()
	}
	return v, v.IsValid()
}

// omitted reports whether a field holding v is left out of the answer.
// As in encoding/json, omitempty does not look through a pointer or an
// interface: a *int64 pointing at 0 is sent. Unlike encoding/json, nil
// pointers, interfaces and maps, and zero times, are always left out.
func omitted(v reflect.Value, omitempty bool) bool {
	rv, ok := resolve(v)
	switch {
	case !ok:
		return true
	case rv.Type() == timeType:
		return rv.Interface().(time.Time).IsZero()
	case rv.Kind() == reflect.Map && rv.IsNil():
		return true
	case !omitempty || v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface:
		return false
	}
	switch rv.Kind() {
	case reflect.Slice, reflect.Array, reflect.String, reflect.Map:
		return rv.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return rv.IsZero()
	}
	return false
}

// value writes v; item is the list item name when v is a list field.
func (e *encoder) value(v reflect.Value, item string) error {
	v, ok := resolve(v)
	if !ok {
		return fmt.Errorf("top: cannot encode nil here")
	}
	e.depth++
	defer func() { e.depth-- }()
	if e.depth > maxEncodeDepth {
		return fmt.Errorf("top: answer nested deeper than %d", maxEncodeDepth)
	}
	t := v.Type()
	if t == timeType {
		e.scalar(v.Interface().(time.Time).In(cst).Format(TimeLayout), true)
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		e.scalar(v.String(), true)
	case reflect.Bool:
		e.scalar(strconv.FormatBool(v.Bool()), false)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.scalar(strconv.FormatInt(v.Int(), 10), false)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		e.scalar(strconv.FormatUint(v.Uint(), 10), false)
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("top: cannot encode %v", f)
		}
		b, err := json.Marshal(f)
		if err != nil {
			return err
		}
		e.scalar(string(b), false)
	case reflect.Struct:
		return e.object(structFields(t), v)
	case reflect.Map:
		return e.mapObject(v)
	case reflect.Slice, reflect.Array:
		if item == "" {
			item = defaultItemName(t.Elem())
		}
		return e.list(v, item)
	default:
		return fmt.Errorf("top: cannot encode %s", t)
	}
	return nil
}

// scalar writes a leaf: quoted (strings, dates) or bare (numbers, bools)
// in JSON, escaped text in XML.
func (e *encoder) scalar(s string, quoted bool) {
	if e.xml {
		// EscapeText replaces characters XML cannot carry with U+FFFD.
		_ = xml.EscapeText(&e.buf, []byte(s)) // writes to a bytes.Buffer never fail
		return
	}
	if !quoted {
		e.buf.WriteString(s)
		return
	}
	b, _ := json.Marshal(s) // marshalling a string never fails
	e.buf.Write(b)
}

func (e *encoder) object(fields []encField, v reflect.Value) error {
	if !e.xml {
		e.buf.WriteByte('{')
	}
	first := true
	for _, f := range fields {
		fv, ok := fieldByIndex(v, f.index)
		if !ok || omitted(fv, f.omitempty) {
			continue
		}
		if err := e.member(f.name, fv, f.item, &first); err != nil {
			return err
		}
	}
	if !e.xml {
		e.buf.WriteByte('}')
	}
	return nil
}

// member writes one named field of an object.
func (e *encoder) member(name string, v reflect.Value, item string, first *bool) error {
	if e.xml {
		return e.element(name, v, item)
	}
	if !*first {
		e.buf.WriteByte(',')
	}
	*first = false
	b, _ := json.Marshal(name) // marshalling a string never fails
	e.buf.Write(b)
	e.buf.WriteByte(':')
	return e.value(v, item)
}

func (e *encoder) mapObject(v reflect.Value) error {
	if v.Type().Key().Kind() != reflect.String {
		return fmt.Errorf("top: cannot encode %s: keys must be strings", v.Type())
	}
	keys := make([]string, 0, v.Len())
	for _, k := range v.MapKeys() {
		keys = append(keys, k.String())
	}
	sort.Strings(keys)
	if !e.xml {
		e.buf.WriteByte('{')
	}
	first := true
	for _, k := range keys {
		if e.xml && !isXMLName(k) {
			return fmt.Errorf("top: map key %q is not an XML name", k)
		}
		mv := v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key()))
		if omitted(mv, false) {
			continue
		}
		if err := e.member(k, mv, "", &first); err != nil {
			return err
		}
	}
	if !e.xml {
		e.buf.WriteByte('}')
	}
	return nil
}

// list writes a TOP list: {"item":[…]} in JSON, a plain array in
// simplified JSON, <item>…</item>… inside the field's element in XML. The
// wrapper is kept for every list in non-simplified JSON, strings included,
// because the Java SDK reads json[list][item] there and finds nothing in a
// bare array.
func (e *encoder) list(v reflect.Value, item string) error {
	if e.xml {
		for i := range v.Len() {
			ev := v.Index(i)
			if omitted(ev, false) {
				continue
			}
			if err := e.element(item, ev, ""); err != nil {
				return err
			}
		}
		return nil
	}
	if !e.simplify {
		e.buf.WriteString(`{"`)
		e.buf.WriteString(item)
		e.buf.WriteString(`":`)
	}
	e.buf.WriteByte('[')
	first := true
	for i := range v.Len() {
		ev := v.Index(i)
		if omitted(ev, false) {
			continue
		}
		if !first {
			e.buf.WriteByte(',')
		}
		first = false
		if err := e.value(ev, ""); err != nil {
			return err
		}
	}
	e.buf.WriteByte(']')
	if !e.simplify {
		e.buf.WriteByte('}')
	}
	return nil
}

// defaultItemName names the items of a list field without a
// top:"item=…" tag the way the platform does: "string", "number",
// "boolean", "date", or the snake_case element type name for objects
// (PointFlowOpenInfo → point_flow_open_info).
func defaultItemName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == timeType {
		return "date"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Struct:
		if t.Name() != "" {
			return snakeCase(t.Name())
		}
	}
	return "item"
}

func snakeCase(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if unicode.IsUpper(r) {
			// A new word starts at an upper-case letter after a lower-case
			// one, or at the last capital of an acronym (HTTPServer).
			if i > 0 && (unicode.IsLower(rs[i-1]) || (i+1 < len(rs) && unicode.IsLower(rs[i+1]) && unicode.IsUpper(rs[i-1]))) {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isXMLName(s string) bool {
	if s == "" || strings.HasPrefix(strings.ToLower(s), "xml") {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || unicode.IsLetter(r):
		case i > 0 && (r == '-' || r == '.' || unicode.IsDigit(r)):
		default:
			return false
		}
	}
	return true
}

// encField is one encodable struct field.
type encField struct {
	index     []int
	name      string
	omitempty bool
	item      string // list item name from top:"item=…"
}

var encFieldCache sync.Map // reflect.Type → []encField

// structFields lists t's fields in declaration order, by their json names.
// Embedded structs without a json name are flattened, as encoding/json does.
func structFields(t reflect.Type) []encField {
	if fs, ok := encFieldCache.Load(t); ok {
		return fs.([]encField)
	}
	var fs []encField
	var walk func(t reflect.Type, index []int)
	walk = func(t reflect.Type, index []int) {
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			idx := append(append([]int(nil), index...), i)
			if sf.Anonymous && name == "" {
				ft := sf.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					walk(ft, idx)
					continue
				}
			}
			if !sf.IsExported() {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			f := encField{index: idx, name: name, omitempty: hasOpt(opts, "omitempty")}
			for _, o := range strings.Split(sf.Tag.Get("top"), ",") {
				if it, ok := strings.CutPrefix(strings.TrimSpace(o), "item="); ok {
					f.item = it
				}
			}
			fs = append(fs, f)
		}
	}
	walk(t, nil)
	encFieldCache.Store(t, fs)
	return fs
}

func hasOpt(opts, want string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// fieldByIndex is FieldByIndex that reports a nil embedded pointer instead
// of panicking.
func fieldByIndex(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 {
			var ok bool
			if v, ok = resolve(v); !ok {
				return reflect.Value{}, false
			}
		}
		v = v.Field(x)
	}
	return v, true
}
