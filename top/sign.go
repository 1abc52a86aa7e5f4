package top

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"hash"
	"sort"
	"strings"
)

// Signature methods, as sent in the sign_method parameter.
const (
	SignMD5        = "md5"
	SignHMAC       = "hmac" // HMAC-MD5
	SignHMACSHA256 = "hmac-sha256"
	// SignLegacy is the absent sign_method of old .NET and Java SDKs:
	// MD5(secret + base), the secret as a prefix only.
	SignLegacy = ""
)

// Sign returns the upper-case hex TOP signature of params under secret.
// Every key but "sign" takes part, empty values included (the key alone
// then contributes), because that is what PHP, Python, Node and both Go
// SDKs do; callers that want the Java variant drop empty values first.
func Sign(params map[string]string, secret, method string) (string, error) {
	return signBase(baseString(params, false), secret, method)
}

// baseString concatenates key+value in byte order of the keys. skipEmpty
// leaves out empty-valued keys, as the Java and .NET SDKs never send them.
func baseString(params map[string]string, skipEmpty bool) string {
	keys := make([]string, 0, len(params))
	n := 0
	for k, v := range params {
		if k == "sign" || (skipEmpty && v == "") {
			continue
		}
		keys = append(keys, k)
		n += len(k) + len(v)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.Grow(n)
	for _, k := range keys {
		b.WriteString(k)
		b.WriteString(params[k])
	}
	return b.String()
}

func signBase(base, secret, method string) (string, error) {
	var h hash.Hash
	switch method {
	case SignMD5:
		h = md5.New()
		h.Write([]byte(secret))
		h.Write([]byte(base))
		h.Write([]byte(secret))
	case SignLegacy:
		h = md5.New()
		h.Write([]byte(secret))
		h.Write([]byte(base))
	case SignHMAC:
		h = hmac.New(md5.New, []byte(secret))
		h.Write([]byte(base))
	case SignHMACSHA256:
		h = hmac.New(sha256.New, []byte(secret))
		h.Write([]byte(base))
	default:
		return "", fmt.Errorf("top: unknown sign_method %q", method)
	}
	return strings.ToUpper(hex.EncodeToString(h.Sum(nil))), nil
}

// verifySignature reports whether sign matches params under any variant a
// real client may have used: empty-valued parameters included (PHP, Python,
// Node, Go) or skipped (Java, .NET); and, for an absent sign_method, both
// the legacy prefix-only MD5 and the standard md5.
func verifySignature(params map[string]string, secret, method, sign string) bool {
	methods := []string{method}
	if method == SignLegacy {
		methods = []string{SignLegacy, SignMD5}
	}
	bases := []string{baseString(params, false)}
	for _, v := range params {
		if v == "" {
			bases = append(bases, baseString(params, true))
			break
		}
	}
	want := []byte(strings.ToUpper(sign))
	ok := false
	for _, base := range bases {
		for _, m := range methods {
			got, err := signBase(base, secret, m)
			if err != nil {
				return false
			}
			// Constant time, and no early exit, so timing does not tell
			// which variant came close.
			if subtle.ConstantTimeCompare([]byte(got), want) == 1 {
				ok = true
			}
		}
	}
	return ok
}
