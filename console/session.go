package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// A session is a signed cookie: who signed in and until when, with a
// nonce the CSRF token is derived from. The signing key is derived from
// the admin token, so every server sharing the token accepts the session,
// and changing the token ends every session. Signing out ends one: its
// nonce is stored (Admin.EndSession) until the cookie would have expired,
// and a cookie with an ended nonce is refused by every server of the
// database. The cookie is HttpOnly: scripts never see it, and the token
// itself never leaves the sign-in form.

const (
	cookieName = "jifen_console"
	sessionTTL = 12 * time.Hour
)

type session struct {
	Operator string `json:"op"`
	Expires  int64  `json:"exp"` // unix seconds
	Nonce    string `json:"n"`
}

// sessionKey derives the cookie signing key from the admin token.
func sessionKey(token string) []byte {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("jifen console session v1"))
	return m.Sum(nil)
}

func (c *Console) sign(payload []byte) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write(payload)
	return m.Sum(nil)
}

var b64 = base64.RawURLEncoding

// newSession starts a session for operator and sets its cookie.
func (c *Console) newSession(w http.ResponseWriter, r *http.Request, operator string) {
	n := make([]byte, 16)
	rand.Read(n)
	s := session{Operator: operator, Expires: time.Now().Add(sessionTTL).Unix(), Nonce: b64.EncodeToString(n)}
	payload, err := json.Marshal(s)
	if err != nil {
		panic(err) // a struct of strings and a number
	}
	value := b64.EncodeToString(payload) + "." + b64.EncodeToString(c.sign(payload))
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: value, Path: "/console/", MaxAge: int(sessionTTL.Seconds()),
		HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode})
}

// endSession clears the cookie.
func endSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/console/", MaxAge: -1,
		HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteLaxMode})
}

// secure reports whether the request came over HTTPS (directly or through
// a proxy that says so), where the cookie is marked Secure.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// sessionOf returns the request's valid session, if any.
func (c *Console) sessionOf(r *http.Request) (session, bool) {
	var s session
	ck, err := r.Cookie(cookieName)
	if err != nil {
		return s, false
	}
	p, m, ok := strings.Cut(ck.Value, ".")
	if !ok {
		return s, false
	}
	payload, err1 := b64.DecodeString(p)
	mac, err2 := b64.DecodeString(m)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, c.sign(payload)) {
		return s, false
	}
	if json.Unmarshal(payload, &s) != nil || s.Operator == "" || time.Now().Unix() >= s.Expires {
		return s, false
	}
	return s, true
}

// liveSession is sessionOf for a session not ended by signing out.
func (c *Console) liveSession(r *http.Request) (session, bool, error) {
	s, ok := c.sessionOf(r)
	if !ok {
		return s, false, nil
	}
	ended, err := c.admin.SessionEnded(r.Context(), s.Nonce)
	if err != nil {
		return s, false, err
	}
	return s, !ended, nil
}

// csrfToken is the session's anti-forgery token, carried by every form.
func (c *Console) csrfToken(s session) string {
	return b64.EncodeToString(c.sign([]byte("csrf\x00" + s.Nonce)))
}

// checkCSRF accepts a form post only with the session's token and, where
// the browser names one, from this console's own origin.
func (c *Console) checkCSRF(r *http.Request, s session) bool {
	if o := r.Header.Get("Origin"); o != "" {
		if _, host, ok := strings.Cut(o, "://"); !ok || host != r.Host {
			return false
		}
	}
	return hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(c.csrfToken(s)))
}
