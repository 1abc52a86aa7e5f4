package top

import "testing"

// reverseObj is the object parameter of worked example C.
const reverseObj = `{"biz_channel":"KRY","biz_type":"POINT_REVERSE","brand_id":"B001","change_point":10,"operator_id":"op1","operator_name":"张三","out_biz_id":"ORDER123","request_id":"6f1c2d3e-0000-4000-8000-000000000001","reverse_order_id":"REFUND456","shop_id":"S001"}`

func exampleC(signMethod string, extra map[string]string) map[string]string {
	p := map[string]string{
		"method":                               "alibaba.alsc.crm.point.reversepoint",
		"app_key":                              "12345678",
		"session":                              "test",
		"timestamp":                            "2016-01-01 12:00:00",
		"format":                               "json",
		"v":                                    "2.0",
		"sign_method":                          signMethod,
		"param_reverse_consume_point_open_req": reverseObj,
	}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

// The worked examples of the protocol notes, each cross-checked there
// against real client signers.
func TestSign_Vectors(t *testing.T) {
	docA := map[string]string{"foo": "1", "bar": "2", "foo_bar": "3", "foobar": "4"}
	exampleB := map[string]string{
		"method": "taobao.user.seller.get", "timestamp": "2013-05-06 13:52:03", "format": "xml",
		"app_key": "test", "v": "2.0", "fields": "nick", "sign_method": "md5", "session": "test",
	}
	exampleD := map[string]string{
		"method": "taobao.time.get", "app_key": "12345678", "timestamp": "2016-01-01 12:00:00",
		"format": "json", "v": "2.0", "sign_method": "md5",
	}
	exampleDEmpty := map[string]string{"extra": ""}
	for k, v := range exampleD {
		exampleDEmpty[k] = v
	}
	legacyNET := map[string]string{
		"method": "taobao.time.get", "app_key": "12345678", "timestamp": "2016-01-01 12:00:00",
		"format": "xml", "v": "2.0", "partner_id": "top-sdk-net-20131008",
	}
	simplify := map[string]string{"simplify": "true"}
	newGo := map[string]string{"simplify": "true", "partner_id": "new_go_sdk_20240929"}

	tests := []struct {
		name   string
		params map[string]string
		secret string
		method string
		want   string
	}{
		{"A/md5", docA, "helloworld", SignMD5, "5AAF1C690262A24768F5478B084C2C8A"},
		{"A/hmac", docA, "helloworld", SignHMAC, "E687005F819D6F9E6ED085311C8ACC75"},
		{"A/hmac-sha256", docA, "helloworld", SignHMACSHA256, "339676BF36C50A8BD3D8F6B4A81B2F9AA614B05BFCFEBEFC169CB830D6B77D3B"},
		{"B/md5", exampleB, "test", SignMD5, "72CB4D809B375A54502C09360D879C64"},
		{"C/md5", exampleC("md5", nil), "helloworld", SignMD5, "A82D8596E33C9A5EADF30F23589207CC"},
		{"C/hmac", exampleC("hmac", nil), "helloworld", SignHMAC, "8854004904AF0B0AABD152676CBCADBD"},
		{"C/hmac-sha256", exampleC("hmac-sha256", nil), "helloworld", SignHMACSHA256, "6221943FFDEC044A49A213E936045ADEEB62AF28DAEB3D1AD06E938DF600572C"},
		{"C/opentaobao md5", exampleC("md5", simplify), "helloworld", SignMD5, "0B20EE775214E0F86942242595D96657"},
		{"C/opentaobao hmac", exampleC("hmac", simplify), "helloworld", SignHMAC, "EFED04AB286B24DED56C80F6F8B6867D"},
		{"C/new Go SDK hmac-sha256", exampleC("hmac-sha256", newGo), "helloworld", SignHMACSHA256, "D93AF2FC7E437DCDDA12D5416F3B7983CF6539B647F5783BE690F86A46E38F53"},
		{"D/skip-empty (Java, .NET)", exampleD, "helloworld", SignMD5, "36BBE247D9CA1A1246693D07952F9C6E"},
		{"D/keep-empty (PHP, Python, Node, Go)", exampleDEmpty, "helloworld", SignMD5, "8E3079527210B9ACE7831C12471BE3F7"},
		{"legacy .NET, no sign_method", legacyNET, "helloworld", SignLegacy, "410DD5925E4034B0673FA3997CA196F6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Sign(tt.params, tt.secret, tt.method)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Sign = %s, want %s", got, tt.want)
			}
			// The sign parameter itself never takes part.
			withSign := map[string]string{"sign": "whatever"}
			for k, v := range tt.params {
				withSign[k] = v
			}
			if got, _ := Sign(withSign, tt.secret, tt.method); got != tt.want {
				t.Errorf("Sign with a sign param = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestSign_UnknownMethod(t *testing.T) {
	if _, err := Sign(map[string]string{"a": "1"}, "s", "sha1"); err == nil {
		t.Fatal("Sign with sign_method sha1: got no error")
	}
}

func TestVerifySignature(t *testing.T) {
	withEmpty := map[string]string{
		"method": "taobao.time.get", "app_key": "12345678", "timestamp": "2016-01-01 12:00:00",
		"format": "json", "v": "2.0", "sign_method": "md5", "extra": "",
	}
	legacy := map[string]string{
		"method": "taobao.time.get", "app_key": "12345678", "timestamp": "2016-01-01 12:00:00",
		"format": "xml", "v": "2.0", "partner_id": "top-sdk-net-20131008",
	}
	standardMD5OfLegacy, _ := Sign(legacy, "helloworld", SignMD5)
	tests := []struct {
		name   string
		params map[string]string
		method string
		sign   string
		want   bool
	}{
		{"empty kept", withEmpty, SignMD5, "8E3079527210B9ACE7831C12471BE3F7", true},
		{"empty skipped", withEmpty, SignMD5, "36BBE247D9CA1A1246693D07952F9C6E", true},
		{"lower-case hex", withEmpty, SignMD5, "8e3079527210b9ace7831c12471be3f7", true},
		{"wrong", withEmpty, SignMD5, "8E3079527210B9ACE7831C12471BE3F8", false},
		{"wrong method", withEmpty, SignHMAC, "8E3079527210B9ACE7831C12471BE3F7", false},
		{"legacy prefix-only", legacy, SignLegacy, "410DD5925E4034B0673FA3997CA196F6", true},
		{"legacy as standard md5", legacy, SignLegacy, standardMD5OfLegacy, true},
		{"unknown method", legacy, "sha1", "410DD5925E4034B0673FA3997CA196F6", false},
		{"empty sign", legacy, SignLegacy, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := verifySignature(tt.params, "helloworld", tt.method, tt.sign); got != tt.want {
				t.Errorf("verifySignature = %v, want %v", got, tt.want)
			}
		})
	}
}
