package top

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
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
	h, suffix, err := signer(secret, method)
	if err != nil {
		return "", err
	}
	io.WriteString(h, base)
	if suffix {
		io.WriteString(h, secret)
	}
	return strings.ToUpper(hex.EncodeToString(h.Sum(nil))), nil
}

// appendSignature appends the upper-case hex signature of base, the
// concatenated sorted key+value pairs, under secret: what signBase
// computes, without the copies a client that builds its base in a buffer
// does not need.
func appendSignature(dst, base []byte, secret, method string) ([]byte, error) {
	h, suffix, err := signer(secret, method)
	if err != nil {
		return nil, err
	}
	h.Write(base)
	if suffix {
		io.WriteString(h, secret)
	}
	var sum [sha256.Size]byte
	start := len(dst)
	dst = hex.AppendEncode(dst, h.Sum(sum[:0]))
	for i := start; i < len(dst); i++ {
		if c := dst[i]; 'a' <= c && c <= 'f' {
			dst[i] = c - 'a' + 'A'
		}
	}
	return dst, nil
}

// signer returns the hash a signature of method is computed with, the
// secret already written where it comes before the base, and whether the
// secret also follows the base (md5 wraps the base in the secret; the
// legacy variant only prefixes it; the HMACs key with it).
func signer(secret, method string) (h hash.Hash, suffix bool, err error) {
	switch method {
	case SignMD5:
		h = md5.New()
		io.WriteString(h, secret)
		return h, true, nil
	case SignLegacy:
		h = md5.New()
		io.WriteString(h, secret)
		return h, false, nil
	case SignHMAC:
		return hmac.New(md5.New, []byte(secret)), false, nil
	case SignHMACSHA256:
		return hmac.New(sha256.New, []byte(secret)), false, nil
	default:
		return nil, false, fmt.Errorf("top: unknown sign_method %q", method)
	}
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
