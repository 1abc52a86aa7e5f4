package admin

import (
	"encoding/json"
	"net/http"
	"time"

	"jifen/audit"
	"jifen/operator"
)

// Operators: an operator's own record and password (every operator), and
// the operators and their API tokens (admins of every brand). Secrets — a
// generated password, a token — are in the answer that makes them, once.
// Every change is recorded in the audit log (its secrets redacted, or
// never in the entry at all).

type operatorJSON struct {
	ID                string    `json:"id"`
	Name              string    `json:"name"`
	Role              string    `json:"role"`
	Brands            []string  `json:"brands"` // empty: every brand
	Limit             int64     `json:"limit"`
	Disabled          bool      `json:"disabled"`
	LockedUntil       time.Time `json:"locked_until,omitzero"`
	PasswordChangedAt time.Time `json:"password_changed_at,omitzero"`
	CreatedAt         time.Time `json:"created_at,omitzero"`
	UpdatedAt         time.Time `json:"updated_at,omitzero"`
}

func operatorOut(o operator.Operator) operatorJSON {
	bs := o.Brands
	if bs == nil {
		bs = []string{}
	}
	j := operatorJSON{ID: o.ID, Name: o.Name, Role: string(o.Role), Brands: bs, Limit: o.Limit, Disabled: o.Disabled,
		PasswordChangedAt: o.PasswordChangedAt, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt}
	if o.Locked(time.Now()) {
		j.LockedUntil = o.LockedUntil
	}
	return j
}

type tokenJSON struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at,omitzero"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
	// Token is the secret, in the answer that creates it only.
	Token string `json:"token,omitempty"`
}

func tokenOut(t operator.Token, secret string) tokenJSON {
	return tokenJSON{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt, RevokedAt: t.RevokedAt, Token: secret}
}

// AuditToken is an API token as audit entries hold it: without its
// secret.
func AuditToken(t operator.Token) json.RawMessage { return audit.JSON(tokenOut(t, "")) }

// GET /admin/v1/me: the authenticated operator.
func (api *API) me(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	bs := p.Brands
	if bs == nil {
		bs = []string{}
	}
	reply(w, http.StatusOK, operatorJSON{ID: p.OperatorID, Name: p.Name, Role: string(p.Role), Brands: bs, Limit: p.Limit})
}

// POST /admin/v1/me/password {"old_password": "…", "new_password": "…"}:
// changes the authenticated operator's own password (at least
// operator.MinPassword characters); their console sessions end.
func (api *API) changePassword(w http.ResponseWriter, r *http.Request) {
	var body PasswordChange
	e := audit.Entry{Action: audit.OperatorPasswordChange, Target: principal(r).OperatorID}
	err := decode(w, r, &body)
	if err == nil {
		e.Request = audit.JSON(body) // both passwords redacted
		err = api.ops.ChangePassword(r.Context(), principal(r).OperatorID, body.Old, body.New)
	}
	if api.audited(w, r, e, err) {
		w.WriteHeader(http.StatusNoContent)
	}
}

// PasswordChange is the body of POST /admin/v1/me/password, and what the
// audit log records as asked of an operator.password.change (the
// console's too) — both passwords redacted.
type PasswordChange struct {
	Old string `json:"old_password"`
	New string `json:"new_password"`
}

// OperatorAdd is the body of POST /admin/v1/operators, and what the
// audit log records as asked of an operator.create (the console's too).
type OperatorAdd struct {
	Name   string   `json:"name"`
	Role   string   `json:"role"`
	Brands []string `json:"brands"`
	Limit  int64    `json:"limit"`
}

// GET /admin/v1/operators: every operator, by name.
func (api *API) listOperators(w http.ResponseWriter, r *http.Request) {
	os, err := api.ops.List(r.Context())
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	out := struct {
		Operators []operatorJSON `json:"operators"`
	}{Operators: []operatorJSON{}}
	for _, o := range os {
		out.Operators = append(out.Operators, operatorOut(o))
	}
	reply(w, http.StatusOK, out)
}

// POST /admin/v1/operators {"name": "张经理", "role": "support",
// "brands": ["B1"], "limit": 500}: a new operator, with its sign-in
// password and an API token, shown once.
func (api *API) addOperator(w http.ResponseWriter, r *http.Request) {
	var body OperatorAdd
	e := audit.Entry{Action: audit.OperatorCreate}
	err := decode(w, r, &body)
	var a operator.Added
	if err == nil {
		e.Request = audit.JSON(body)
		a, err = api.ops.Add(r.Context(), operator.NewOperator{Name: body.Name, Role: operator.Role(body.Role), Brands: body.Brands, Limit: body.Limit})
	}
	if err == nil {
		// The operator and its first token's id: never the password or
		// the token's secret.
		e.Target, e.After = a.Operator.ID, AuditOperator(a.Operator)
	}
	if !api.audited(w, r, e, err) {
		return
	}
	api.log.Info("operator added", "by", principal(r).Name, "operator", a.Operator.Name, "role", a.Operator.Role)
	reply(w, http.StatusCreated, struct {
		Operator operatorJSON `json:"operator"`
		Password string       `json:"password"`
		Token    tokenJSON    `json:"token"`
	}{operatorOut(a.Operator), a.Password, tokenOut(a.Token, a.Secret)})
}

// GET /admin/v1/operators/{id}: one operator.
func (api *API) getOperator(w http.ResponseWriter, r *http.Request) {
	o, err := api.ops.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	reply(w, http.StatusOK, operatorOut(o))
}

// OperatorChange is a change to an operator as PUT
// /admin/v1/operators/{id} takes it, and as the audit log records it
// (the console's changes too): a field absent (nil) is left as it is.
type OperatorChange struct {
	Role     *string   `json:"role"`
	Brands   *[]string `json:"brands"`
	Limit    *int64    `json:"limit"`
	Disabled *bool     `json:"disabled"`
}

// Change is c as the operator service takes it.
func (c OperatorChange) Change() operator.Change {
	oc := operator.Change{Brands: c.Brands, Limit: c.Limit, Disabled: c.Disabled}
	if c.Role != nil {
		role := operator.Role(*c.Role)
		oc.Role = &role
	}
	return oc
}

// Action is the audit action of c: disable or enable when that is all it
// changes, update otherwise.
func (c OperatorChange) Action() string {
	switch {
	case c.Role != nil || c.Brands != nil || c.Limit != nil || c.Disabled == nil:
		return audit.OperatorUpdate
	case *c.Disabled:
		return audit.OperatorDisable
	}
	return audit.OperatorEnable
}

// AuditOperator is an operator as audit entries hold it (Before, After):
// as the API shows it, never its password hash.
func AuditOperator(o operator.Operator) json.RawMessage { return audit.JSON(operatorOut(o)) }

// PUT /admin/v1/operators/{id} {"role": …, "brands": […], "limit": …,
// "disabled": …}: a field absent is left as it is. A disabled operator's
// tokens and sessions stop working at their next request.
func (api *API) putOperator(w http.ResponseWriter, r *http.Request) {
	var body OperatorChange
	e := audit.Entry{Action: audit.OperatorUpdate, Target: r.PathValue("id")}
	err := decode(w, r, &body)
	var o operator.Operator
	if err == nil {
		e.Request, e.Action = audit.JSON(body), body.Action()
		if old, gerr := api.ops.Get(r.Context(), r.PathValue("id")); gerr == nil {
			e.Before = AuditOperator(old)
		}
		o, err = api.ops.Update(r.Context(), r.PathValue("id"), body.Change())
	}
	if err == nil {
		e.After = AuditOperator(o)
	}
	if !api.audited(w, r, e, err) {
		return
	}
	api.log.Info("operator changed", "by", principal(r).Name, "operator", o.Name, "role", o.Role, "disabled", o.Disabled)
	reply(w, http.StatusOK, operatorOut(o))
}

// POST /admin/v1/operators/{id}/reset-password: a new generated password,
// shown once; the operator's console sessions end and a lock is lifted.
func (api *API) resetPassword(w http.ResponseWriter, r *http.Request) {
	// The entry never holds the new password.
	p, err := api.ops.ResetPassword(r.Context(), r.PathValue("id"))
	if !api.audited(w, r, audit.Entry{Action: audit.OperatorPasswordReset, Target: r.PathValue("id")}, err) {
		return
	}
	api.log.Info("operator password reset", "by", principal(r).Name, "operator_id", r.PathValue("id"))
	reply(w, http.StatusOK, struct {
		Password string `json:"password"`
	}{p})
}

// GET /admin/v1/operators/{id}/tokens: the operator's tokens, oldest
// first, without their secrets.
func (api *API) listTokens(w http.ResponseWriter, r *http.Request) {
	ts, err := api.ops.Tokens(r.Context(), r.PathValue("id"))
	if err != nil {
		api.failErr(w, r, err)
		return
	}
	out := struct {
		Tokens []tokenJSON `json:"tokens"`
	}{Tokens: []tokenJSON{}}
	for _, t := range ts {
		out.Tokens = append(out.Tokens, tokenOut(t, ""))
	}
	reply(w, http.StatusOK, out)
}

// POST /admin/v1/operators/{id}/tokens {"name": "报表脚本"}: a new API
// token, its secret shown once.
func (api *API) createToken(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name string `json:"name"`
	}
	e := audit.Entry{Action: audit.OperatorTokenCreate, Target: r.PathValue("id")}
	err := decode(w, r, &body)
	var t operator.Token
	var secret string
	if err == nil {
		e.Request = audit.JSON(body)
		t, secret, err = api.ops.CreateToken(r.Context(), r.PathValue("id"), body.Name)
	}
	if err == nil {
		e.After = AuditToken(t)
	}
	if !api.audited(w, r, e, err) {
		return
	}
	reply(w, http.StatusCreated, tokenOut(t, secret))
}

// DELETE /admin/v1/operators/{id}/tokens/{token}: revokes the token.
func (api *API) revokeToken(w http.ResponseWriter, r *http.Request) {
	err := api.ops.RevokeToken(r.Context(), r.PathValue("id"), r.PathValue("token"))
	e := audit.Entry{Action: audit.OperatorTokenRevoke, Target: r.PathValue("id"),
		Request: audit.JSON(map[string]string{"id": r.PathValue("token")})} // a token's id is no secret, but its key would read as one
	if api.audited(w, r, e, err) {
		w.WriteHeader(http.StatusNoContent)
	}
}
