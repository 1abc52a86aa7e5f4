package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"jifen/operator"
)

// A session is a signed cookie: which operator signed in, when, and until
// when, with a nonce the CSRF token is derived from. The signing key is a
// random key kept in the database (operator.Service.SessionKey), so every
// server of the database accepts the session. Every request reads the
// operator again: a disabled operator's sessions, and those started before
// its password changed, stop working at their next request. Signing out
// ends one: its nonce is stored (Admin.EndSession) until the cookie would
// have expired, and a cookie with an ended nonce is refused by every
// server of the database. The cookie is HttpOnly: scripts never see it,
// and the password never leaves the sign-in form.

const (
	cookieName = "jifen_console"
	sessionTTL = 12 * time.Hour
)

type session struct {
	OperatorID string `json:"op"`
	Started    int64  `json:"st"`  // unix microseconds
	Expires    int64  `json:"exp"` // unix seconds
	Nonce      string `json:"n"`
}

func sign(key, payload []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(payload)
	return m.Sum(nil)
}

var b64 = base64.RawURLEncoding

// newSession starts a session for operator id and sets its cookie.
func (c *Console) newSession(w http.ResponseWriter, r *http.Request, key []byte, id string) {
	n := make([]byte, 16)
	rand.Read(n)
	now := time.Now()
	s := session{OperatorID: id, Started: now.UnixMicro(), Expires: now.Add(sessionTTL).Unix(), Nonce: b64.EncodeToString(n)}
	payload, err := json.Marshal(s)
	if err != nil {
		panic(err) // a struct of strings and a number
	}
	value := b64.EncodeToString(payload) + "." + b64.EncodeToString(sign(key, payload))
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
func sessionOf(r *http.Request, key []byte) (session, bool) {
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
	if err1 != nil || err2 != nil || !hmac.Equal(mac, sign(key, payload)) {
		return s, false
	}
	if json.Unmarshal(payload, &s) != nil || s.OperatorID == "" || time.Now().Unix() >= s.Expires {
		return s, false
	}
	return s, true
}

// liveSession is sessionOf for a session not ended by signing out, of an
// operator who may still act (operator.Service.Session), with that
// operator.
func (c *Console) liveSession(r *http.Request) (session, operator.Principal, bool, error) {
	key, err := c.ops.SessionKey(r.Context())
	if err != nil {
		return session{}, operator.Principal{}, false, err
	}
	s, ok := sessionOf(r, key)
	if !ok {
		return s, operator.Principal{}, false, nil
	}
	ended, err := c.admin.SessionEnded(r.Context(), s.Nonce)
	if err != nil || ended {
		return s, operator.Principal{}, false, err
	}
	p, err := c.ops.Session(r.Context(), s.OperatorID, time.UnixMicro(s.Started))
	if errors.Is(err, operator.ErrUnauthenticated) {
		return s, p, false, nil
	}
	if err != nil {
		return s, p, false, err
	}
	return s, p, true, nil
}

// csrfToken is the session's anti-forgery token, carried by every form.
func csrfToken(key []byte, s session) string {
	return b64.EncodeToString(sign(key, []byte("csrf\x00"+s.Nonce)))
}

// checkCSRF accepts a form post only with the session's token and, where
// the browser names one, from this console's own origin.
func checkCSRF(r *http.Request, key []byte, s session) bool {
	if o := r.Header.Get("Origin"); o != "" {
		if _, host, ok := strings.Cut(o, "://"); !ok || host != r.Host {
			return false
		}
	}
	return hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(csrfToken(key, s)))
}
