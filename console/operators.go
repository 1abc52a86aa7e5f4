package console

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"jifen/admin"
	"jifen/audit"
	"jifen/ledger"
	"jifen/operator"
)

// The operator's own password, and the operators page of admins (of
// every brand): list, add, disable and enable, reset a password, create
// and revoke API tokens. Secrets are shown once, on the page that makes
// them. Every change is recorded in the audit log, its secrets never.

// passwordData is the password form's input an error named.
type passwordData struct{ Bad string }

// passwordPage is the form to change one's own password.
func (c *Console) passwordPage(w http.ResponseWriter, r *http.Request, req request) {
	c.render(w, r, http.StatusOK, "password", c.page(req, "修改密码", nil))
}

// changePassword changes the signed-in operator's password; the session
// goes on (a new one is started), others of the operator end.
func (c *Console) changePassword(w http.ResponseWriter, r *http.Request, req request) {
	// The confirmation is checked first: a mistyped one changes nothing.
	var err error
	if r.PostFormValue("new_password") != r.PostFormValue("confirm_password") {
		err = ledger.Invalid("confirm_password", "两次输入的新密码不一致")
	} else {
		err = c.ops.ChangePassword(r.Context(), req.who.OperatorID, r.PostFormValue("old_password"), r.PostFormValue("new_password"))
	}
	// As the API records it: both passwords redacted.
	e := audit.Entry{Action: audit.OperatorPasswordChange, Target: req.who.OperatorID,
		Request: audit.JSON(admin.PasswordChange{Old: r.PostFormValue("old_password"), New: r.PostFormValue("new_password")})}
	if !c.audited(w, r, req, e, err) {
		return
	}
	if err != nil {
		// The passwords typed are not shown again; the one refused is
		// marked.
		p := c.page(req, "修改密码", nil)
		var d passwordData
		status, bad := c.refused(r, &p, err)
		d.Bad = bad
		p.Data = d
		c.render(w, r, status, "password", p)
		return
	}
	key, err := c.ops.SessionKey(r.Context())
	if err != nil {
		c.fail(w, r, req, "password", "修改密码", nil, err)
		return
	}
	c.newSession(w, r, key, req.who.OperatorID)
	p := c.page(req, "修改密码", nil)
	p.Notice = "密码已修改; 其他已登录的会话已失效"
	c.render(w, r, http.StatusOK, "password", p)
}

type operatorsData struct {
	Operators []operatorRow
	Roles     []operator.Role
	Secret    *shownOnce // the secrets just made, shown once
	// Add is the add form as typed, shown again when refused, with the
	// input its error named (AddBad).
	Add    map[string]string
	AddBad string
	Row    *rowForm // a row's form refused
}

type operatorRow struct {
	operator.Operator
	Tokens []operator.Token
	Locked bool
}

// shownOnce is what a page shows once: a password, a token.
type shownOnce struct {
	Name, Password, Token string
}

func (c *Console) operatorsData(r *http.Request) (operatorsData, error) {
	d := operatorsData{Roles: operator.Roles(), Add: map[string]string{"role": string(operator.Viewer)}}
	os, err := c.ops.List(r.Context())
	if err != nil {
		return d, err
	}
	now := c.admin.Service().Now()
	for _, o := range os {
		ts, err := c.ops.Tokens(r.Context(), o.ID)
		if err != nil {
			return d, err
		}
		d.Operators = append(d.Operators, operatorRow{Operator: o, Tokens: ts, Locked: o.Locked(now)})
	}
	return d, nil
}

func (c *Console) operators(w http.ResponseWriter, r *http.Request, req request) {
	d, err := c.operatorsData(r)
	if err != nil {
		c.fail(w, r, req, "operators", "操作员", d, err)
		return
	}
	c.render(w, r, http.StatusOK, "operators", c.page(req, "操作员", d))
}

// addOperator adds an operator and shows its password and token once; a
// refused form comes back as typed.
func (c *Console) addOperator(w http.ResponseWriter, r *http.Request, req request) {
	form := map[string]string{}
	for _, k := range []string{"name", "role", "brands", "limit"} {
		form[k] = strings.TrimSpace(r.PostFormValue(k))
	}
	n := operator.NewOperator{Name: form["name"], Role: operator.Role(form["role"]), Brands: splitList(form["brands"])}
	var err error
	if s := form["limit"]; s != "" {
		if n.Limit, err = strconv.ParseInt(s, 10, 64); err != nil {
			err = ledger.Invalidf("limit", "应为整数, 收到 %q", s)
		}
	}
	var a operator.Added
	if err == nil {
		a, err = c.ops.Add(r.Context(), n)
	}
	e := audit.Entry{Action: audit.OperatorCreate,
		Request: audit.JSON(admin.OperatorAdd{Name: n.Name, Role: string(n.Role), Brands: n.Brands, Limit: n.Limit})}
	if err == nil {
		// The operator as stored: never its password or token.
		e.Target, e.After = a.Operator.ID, admin.AuditOperator(a.Operator)
	}
	if !c.audited(w, r, req, e, err) {
		return
	}
	c.operatorsAfter(w, r, req, err, func(d *operatorsData, bad string) {
		if err != nil {
			d.Add, d.AddBad = form, bad
			return
		}
		d.Secret = &shownOnce{Name: a.Operator.Name, Password: a.Password, Token: a.Secret}
	})
}

// splitList splits a list typed with commas or spaces.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '，' || r == '、' })
}

// operatorAction is one action on an operator: edit (role, brands,
// limit), disable, enable, reset (password), token (create), revoke
// (token_id). A refused edit or token form comes back as typed in the
// operator's row.
func (c *Console) operatorAction(w http.ResponseWriter, r *http.Request, req request) {
	ctx, id := r.Context(), r.PathValue("id")
	var shown *shownOnce
	var form map[string]string // the row's form as typed
	var err error
	e := audit.Entry{Target: id}
	switch action := r.PathValue("action"); action {
	case "edit":
		form = map[string]string{"role": strings.TrimSpace(r.PostFormValue("role")),
			"brands": strings.TrimSpace(r.PostFormValue("brands")), "limit": strings.TrimSpace(r.PostFormValue("limit"))}
		var ch admin.OperatorChange
		if ch, err = editOperator(form); err != nil {
			e.Action = audit.OperatorUpdate
			break
		}
		e.Action, e.Request = ch.Action(), audit.JSON(ch)
		e.Before, e.After, err = c.changeOperator(r, id, ch)
	case "disable", "enable":
		disabled := action == "disable"
		ch := admin.OperatorChange{Disabled: &disabled}
		e.Action, e.Request = ch.Action(), audit.JSON(ch)
		if disabled && id == req.who.OperatorID {
			err = ledger.Invalid("operator", "不能停用自己")
			break
		}
		e.Before, e.After, err = c.changeOperator(r, id, ch)
	case "reset":
		e.Action = audit.OperatorPasswordReset
		var o operator.Operator
		if o, err = c.ops.Get(ctx, id); err == nil {
			var p string
			p, err = c.ops.ResetPassword(ctx, id)
			shown = &shownOnce{Name: o.Name, Password: p}
		}
	case "token":
		form = map[string]string{"token_name": r.PostFormValue("token_name")}
		e.Action = audit.OperatorTokenCreate
		e.Request = audit.JSON(map[string]string{"name": r.PostFormValue("token_name")})
		var o operator.Operator
		if o, err = c.ops.Get(ctx, id); err == nil {
			var t operator.Token
			var secret string
			if t, secret, err = c.ops.CreateToken(ctx, id, r.PostFormValue("token_name")); err == nil {
				shown = &shownOnce{Name: o.Name, Token: secret}
				e.After = admin.AuditToken(t) // not its secret
			}
		}
	case "revoke":
		e.Action = audit.OperatorTokenRevoke
		// A token's id is no secret, but a key naming a token reads as one.
		e.Request = audit.JSON(map[string]string{"id": r.PostFormValue("token_id")})
		err = c.ops.RevokeToken(ctx, id, r.PostFormValue("token_id"))
	default:
		c.render(w, r, http.StatusNotFound, "error", page{Title: "页面不存在", Operator: req.who.Name, Error: "页面不存在: " + r.URL.Path})
		return
	}
	if !c.audited(w, r, req, e, err) {
		return
	}
	c.operatorsAfter(w, r, req, err, func(d *operatorsData, bad string) {
		if err != nil && form != nil {
			d.Row = &rowForm{ID: id, Action: r.PathValue("action"), Form: form, Bad: bad}
			return
		}
		d.Secret = shown
	})
}

// editOperator is the change the edit form asks for: the role, the
// brands (none: every brand) and, for support, the limit (left as it is
// when empty; the service drops the limit of another role).
func editOperator(f map[string]string) (admin.OperatorChange, error) {
	role, brands := f["role"], splitList(f["brands"])
	if brands == nil {
		brands = []string{}
	}
	ch := admin.OperatorChange{Role: &role, Brands: &brands}
	if s := f["limit"]; s != "" && operator.Role(role) == operator.Support {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return ch, ledger.Invalidf("limit", "应为整数, 收到 %q", s)
		}
		ch.Limit = &n
	}
	return ch, nil
}

// changeOperator makes change ch to operator id through the operator
// service, as PUT /admin/v1/operators/{id} does, and returns the
// operator before and after as audit entries hold them.
func (c *Console) changeOperator(r *http.Request, id string, ch admin.OperatorChange) (before, after json.RawMessage, err error) {
	if old, gerr := c.ops.Get(r.Context(), id); gerr == nil {
		before = admin.AuditOperator(old)
	}
	o, err := c.ops.Update(r.Context(), id, ch.Change())
	if err != nil {
		return before, nil, err
	}
	return before, admin.AuditOperator(o), nil
}

// rowForm is a form of an operator's row (edit, token) refused, as
// typed, with the input its error named.
type rowForm struct {
	ID, Action string
	Form       map[string]string
	Bad        string
}

// operatorsAfter shows the operators page after an action: its error, or
// what it made, once. show puts on the page what the action shows: what
// it made, or its form as typed with the input the error named (bad).
func (c *Console) operatorsAfter(w http.ResponseWriter, r *http.Request, req request, err error, show func(d *operatorsData, bad string)) {
	d, derr := c.operatorsData(r)
	if derr != nil {
		if err == nil {
			err = derr
		}
		c.fail(w, r, req, "operators", "操作员", d, err)
		return
	}
	p := c.page(req, "操作员", nil)
	status := http.StatusOK
	var bad string
	if err != nil {
		status, bad = c.refused(r, &p, err)
	} else {
		p.Notice = "已保存"
		c.log.Info("console operators", "by", req.who.Name, "path", r.URL.Path)
	}
	show(&d, bad)
	p.Data = d
	c.render(w, r, status, "operators", p)
}
