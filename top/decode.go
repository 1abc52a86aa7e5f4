package top

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"jifen/ledger"
)

// Bounds on an object parameter, so hostile input costs little.
const (
	maxObjectBytes = 64 << 10
	maxObjectDepth = 32
)

// Reasons given in sub_msg for a bad field, after "非法参数: <field> ".
const (
	reasonMissing  = "不可为空"
	reasonInteger  = "必须是整数"
	reasonRange    = "超出范围"
	reasonString   = "必须是字符串"
	reasonBool     = "必须是布尔值(true/false)"
	reasonStrings  = "必须是字符串数组或逗号分隔的字符串"
	reasonTime     = "必须是yyyy-MM-dd HH:mm:ss格式的时间或毫秒时间戳"
	reasonBlank    = "不可为空字符串; 不传此字段(或传 null)才表示未给出"
	reasonNotObj   = "must be a JSON object"
	reasonTooLarge = "JSON object too large or too deeply nested"
)

// DecodeObject decodes the object parameter called name, whose wire value
// raw is a JSON object, into the struct dst points to.
//
// Fields of dst are matched by their json tag; top:"required" marks a field
// that must be present and, for strings and lists, not blank; top:"noblank"
// marks a number whose absence means something (reversepoint's
// change_point: everything), so that a blank string is refused rather than
// taken for absent. Decoding is
// lenient in the ways real clients differ: unknown keys are ignored, null
// is the same as absent, numbers may arrive as JSON strings (PHP), booleans
// as "true"/"false" (any case) or "1"/"0", lists as a comma-separated
// string (opentaobao), an empty string for a number as absent, and a
// number for a string field keeps its literal text. Supported field types:
// string, *string, int64, *int64, int, *int, bool, *bool, []string,
// time.Time and *time.Time.
//
// Errors: raw blank or null → MissingArgument (code 40); raw not a JSON
// object, or too large → InvalidArgument (code 41); a bad field →
// ledger.Invalid naming the field (code 50). A dst of an unsupported shape
// is a programming error and yields a plain error.
func DecodeObject(name, raw string, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("top: DecodeObject(%q): dst must be a non-nil pointer to a struct, not %T", name, dst)
	}
	fields, err := decodeFields(rv.Elem().Type())
	if err != nil {
		return err
	}
	trimmed := strings.TrimSpace(raw)
	if trimmed == "" || trimmed == "null" {
		return MissingArgument(name)
	}
	if len(raw) > maxObjectBytes || !withinDepth(raw, maxObjectDepth) {
		return InvalidArgument(name, reasonTooLarge)
	}
	if trimmed[0] != '{' {
		return InvalidArgument(name, reasonNotObj)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &obj); err != nil || obj == nil {
		return InvalidArgument(name, reasonNotObj)
	}
	sv := rv.Elem()
	for _, f := range fields {
		v, ok := obj[f.name]
		if ok && string(v) == "null" {
			ok = false
		}
		if err := f.decode(sv.Field(f.index), v, ok); err != nil {
			return err
		}
	}
	return nil
}

// Object decodes the object parameter name of the call into dst; see
// DecodeObject.
func (c *Call) Object(name string, dst any) error {
	return DecodeObject(name, c.Params[name], dst)
}

// withinDepth reports whether raw nests arrays and objects at most max
// deep. It reads strings loosely; json.Unmarshal judges validity later.
func withinDepth(raw string, max int) bool {
	depth := 0
	inString, escaped := false, false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			if depth > max {
				return false
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return true
}

type decodeKind int

const (
	kString decodeKind = iota
	kInt64
	kInt
	kBool
	kStrings
	kTime
)

type decField struct {
	index    int
	name     string
	required bool
	noBlank  bool
	kind     decodeKind
	ptr      bool
}

type decFieldsResult struct {
	fields []decField
	err    error
}

var decFieldCache sync.Map // reflect.Type → decFieldsResult

func decodeFields(t reflect.Type) ([]decField, error) {
	if r, ok := decFieldCache.Load(t); ok {
		r := r.(decFieldsResult)
		return r.fields, r.err
	}
	var fs []decField
	var err error
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if !sf.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		f := decField{index: i, name: name}
		for o := range strings.SplitSeq(sf.Tag.Get("top"), ",") {
			switch strings.TrimSpace(o) {
			case "required":
				f.required = true
			case "noblank":
				f.noBlank = true
			}
		}
		ft := sf.Type
		if ft.Kind() == reflect.Pointer {
			f.ptr = true
			ft = ft.Elem()
		}
		switch {
		case ft == timeType:
			f.kind = kTime
		case ft.Kind() == reflect.String:
			f.kind = kString
		case ft.Kind() == reflect.Int64:
			f.kind = kInt64
		case ft.Kind() == reflect.Int:
			f.kind = kInt
		case ft.Kind() == reflect.Bool:
			f.kind = kBool
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.String && !f.ptr:
			f.kind = kStrings
		default:
			err = fmt.Errorf("top: field %s.%s: unsupported type %s", t, sf.Name, sf.Type)
		}
		fs = append(fs, f)
	}
	decFieldCache.Store(t, decFieldsResult{fs, err})
	return fs, err
}

// decode sets fv from the raw JSON v; present is false for absent or null.
func (f decField) decode(fv reflect.Value, v json.RawMessage, present bool) error {
	if !present {
		if f.required {
			return ledger.Invalid(f.name, reasonMissing)
		}
		return nil
	}
	var val reflect.Value
	switch f.kind {
	case kString:
		s, err := f.stringValue(v)
		if err != nil {
			return err
		}
		if f.required && strings.TrimSpace(s) == "" {
			return ledger.Invalid(f.name, reasonMissing)
		}
		val = reflect.ValueOf(s)
	case kInt64, kInt:
		text, ok, err := f.numberText(v)
		if err != nil {
			return err
		}
		if !ok {
			if f.required {
				return ledger.Invalid(f.name, reasonMissing)
			}
			if f.noBlank {
				return ledger.Invalid(f.name, reasonBlank)
			}
			return nil
		}
		n, reason := parseWholeNumber(text)
		if reason == "" && f.kind == kInt && (n > math.MaxInt || n < math.MinInt) {
			reason = reasonRange
		}
		if reason != "" {
			return ledger.Invalid(f.name, reason)
		}
		if f.kind == kInt {
			val = reflect.ValueOf(int(n))
		} else {
			val = reflect.ValueOf(n)
		}
	case kBool:
		b, err := f.boolValue(v)
		if err != nil {
			return err
		}
		val = reflect.ValueOf(b)
	case kStrings:
		list, err := f.stringsValue(v)
		if err != nil {
			return err
		}
		if f.required && len(list) == 0 {
			return ledger.Invalid(f.name, reasonMissing)
		}
		val = reflect.ValueOf(list)
	case kTime:
		t, ok, err := f.timeValue(v)
		if err != nil {
			return err
		}
		if !ok {
			if f.required {
				return ledger.Invalid(f.name, reasonMissing)
			}
			return nil
		}
		val = reflect.ValueOf(t)
	}
	target := fv
	if f.ptr {
		fv.Set(reflect.New(fv.Type().Elem()))
		target = fv.Elem()
	}
	if f.kind == kStrings {
		// Element by element, so a named element type works too.
		out := reflect.MakeSlice(target.Type(), val.Len(), val.Len())
		for i := range val.Len() {
			out.Index(i).Set(val.Index(i).Convert(target.Type().Elem()))
		}
		val = out
	}
	target.Set(val.Convert(target.Type()))
	return nil
}

func (f decField) stringValue(v json.RawMessage) (string, error) {
	switch {
	case v[0] == '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", ledger.Invalid(f.name, reasonString)
		}
		return s, nil
	case v[0] == '-' || (v[0] >= '0' && v[0] <= '9'):
		// An id sent as a number keeps the digits it was written with.
		return string(v), nil
	}
	return "", ledger.Invalid(f.name, reasonString)
}

// numberText returns the text of a number given as a JSON number or
// string; ok is false for a blank string, which counts as absent.
func (f decField) numberText(v json.RawMessage) (text string, ok bool, err error) {
	if v[0] == '"' {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", false, ledger.Invalid(f.name, reasonInteger)
		}
		s = strings.TrimSpace(s)
		return s, s != "", nil
	}
	if v[0] == '-' || (v[0] >= '0' && v[0] <= '9') {
		return string(v), true, nil
	}
	return "", false, ledger.Invalid(f.name, reasonInteger)
}

func (f decField) boolValue(v json.RawMessage) (bool, error) {
	s := string(v)
	if v[0] == '"' {
		if err := json.Unmarshal(v, &s); err != nil {
			return false, ledger.Invalid(f.name, reasonBool)
		}
		s = strings.ToLower(strings.TrimSpace(s))
	}
	switch s {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, ledger.Invalid(f.name, reasonBool)
}

func (f decField) stringsValue(v json.RawMessage) ([]string, error) {
	if v[0] == '"' {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, ledger.Invalid(f.name, reasonStrings)
		}
		var list []string
		for part := range strings.SplitSeq(s, ",") {
			if part = strings.TrimSpace(part); part != "" {
				list = append(list, part)
			}
		}
		return list, nil
	}
	if v[0] != '[' {
		return nil, ledger.Invalid(f.name, reasonStrings)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(v, &raws); err != nil {
		return nil, ledger.Invalid(f.name, reasonStrings)
	}
	list := make([]string, 0, len(raws))
	for _, r := range raws {
		if string(r) == "null" {
			continue
		}
		s, err := f.stringValue(r)
		if err != nil {
			return nil, ledger.Invalid(f.name, reasonStrings)
		}
		list = append(list, s)
	}
	return list, nil
}

// timeValue reads "yyyy-MM-dd HH:mm:ss" in GMT+8 or epoch milliseconds
// (number or digit string); ok is false for a blank string.
func (f decField) timeValue(v json.RawMessage) (t time.Time, ok bool, err error) {
	text, ok, err := f.numberText(v)
	if err != nil {
		return time.Time{}, false, ledger.Invalid(f.name, reasonTime)
	}
	if !ok {
		return time.Time{}, false, nil
	}
	if allDigits(text) {
		ms, err := strconv.ParseInt(text, 10, 64)
		if err != nil || ms > maxEpochMillis {
			return time.Time{}, false, ledger.Invalid(f.name, reasonTime)
		}
		return time.UnixMilli(ms).In(cst), true, nil
	}
	t, err = time.ParseInLocation(TimeLayout, text, cst)
	if err != nil {
		return time.Time{}, false, ledger.Invalid(f.name, reasonTime)
	}
	return t, true, nil
}

// maxEpochMillis is the year 9999, the last a date string can name.
const maxEpochMillis = 253402300799999

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseWholeNumber parses a decimal number in JSON syntax (leading zeros
// tolerated, as strings from PHP may carry them) that must be a whole
// int64: "100", "1e2" and "100.0" are 100; "1.5" is not whole. It works on
// the digits, so an exponent like 1e999999999 costs nothing. reason is ""
// on success, else reasonInteger or reasonRange.
func parseWholeNumber(s string) (int64, string) {
	i := 0
	neg := false
	if i < len(s) && s[i] == '-' {
		neg = true
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	intPart := s[start:i]
	if intPart == "" {
		return 0, reasonInteger
	}
	var frac string
	if i < len(s) && s[i] == '.' {
		i++
		fs := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		frac = s[fs:i]
		if frac == "" {
			return 0, reasonInteger
		}
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		expNeg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			expNeg = s[i] == '-'
			i++
		}
		es := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		digits := strings.TrimLeft(s[es:i], "0")
		if es == i {
			return 0, reasonInteger
		}
		if len(digits) > 6 {
			exp = 1_000_000 // beyond any int64 either way; sign decides below
		} else if digits != "" {
			exp, _ = strconv.Atoi(digits) // at most six digits: cannot fail
		}
		if expNeg {
			exp = -exp
		}
	}
	if i != len(s) {
		return 0, reasonInteger
	}
	// Value = digits × 10^exp10, digits without leading or trailing zeros.
	digits := intPart + frac
	exp10 := exp - len(frac)
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return 0, ""
	}
	trimmed := strings.TrimRight(digits, "0")
	exp10 += len(digits) - len(trimmed)
	digits = trimmed
	if exp10 < 0 {
		return 0, reasonInteger
	}
	if len(digits)+exp10 > 19 {
		return 0, reasonRange
	}
	text := digits + strings.Repeat("0", exp10)
	if neg {
		text = "-" + text
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return 0, reasonRange
	}
	return n, ""
}
