// Package operator is who may use the admin API and the console: named
// operators, each with a role, the brands it acts in and, for support
// staff, a per-action points limit; their sign-in passwords (bcrypt) and
// API tokens (only a SHA-256 of each is stored); and the Principal a
// request acts as once it is authenticated.
//
// The roles, from least to most:
//
//   - viewer reads everything in its brands;
//   - support (客服) also refunds, releases holds, adjusts points and edits
//     customers' records, each refund, adjustment or release moving at most
//     its Limit points;
//   - admin also changes the tenant (brands, shops, rules, apps), webhooks
//     and operators, with no points limit.
//
// An operator with Brands acts only in those brands; without, in every
// brand. Actions that span the tenant (the tenant file, apps, webhooks,
// operators, the audit log, the event stream of every brand) need an admin
// of every brand.
//
// The bootstrap admin token (jifen serve --admin-token) authenticates as
// the built-in operator "bootstrap": an admin of every brand, recorded
// under that name.
package operator

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Role is what an operator may do.
type Role string

// The roles, from least to most.
const (
	Viewer  Role = "viewer"
	Support Role = "support"
	Admin   Role = "admin"
)

// Roles lists the roles from least to most.
func Roles() []Role { return []Role{Viewer, Support, Admin} }

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return slices.Contains(Roles(), r) }

// Permission is one kind of action a route or page needs.
type Permission string

// The permissions, by the least role that has them.
const (
	// Self: reading one's own record, changing one's own password. Every
	// operator.
	Self Permission = "self"
	// Read: reading customers, orders, flows, totals, the tenant and
	// deliveries in one's brands; previewing a refund. Viewer.
	Read Permission = "read"
	// Refund, ReleaseHold, Adjust (each within the operator's Limit) and
	// EditCustomer. Support.
	Refund       Permission = "refund"
	ReleaseHold  Permission = "release_hold"
	Adjust       Permission = "adjust"
	EditCustomer Permission = "edit_customer"
	// Approve: reading a brand's approval requests and approving or
	// rejecting another operator's (package approval). Support.
	Approve Permission = "approve"
	// Tenant: brands, shops, rules, apps, the tenant file. Webhooks: the
	// webhooks and their deliveries. Operators: operators and their
	// tokens. Audit: reading the audit log. Admin.
	Tenant    Permission = "tenant"
	Webhooks  Permission = "webhooks"
	Operators Permission = "operators"
	Audit     Permission = "audit"
)

// least is the least role with each permission.
var least = map[Permission]Role{
	Self: Viewer, Read: Viewer,
	Refund: Support, ReleaseHold: Support, Adjust: Support, EditCustomer: Support, Approve: Support,
	Tenant: Admin, Webhooks: Admin, Operators: Admin, Audit: Admin,
}

// rank orders the roles.
func (r Role) rank() int { return slices.Index(Roles(), r) }

// Allows reports whether r has permission p.
func (r Role) Allows(p Permission) bool {
	need, ok := least[p]
	return ok && r.Valid() && r.rank() >= need.rank()
}

// Needs is the least role with p.
func Needs(p Permission) Role { return least[p] }

// Label is r in Chinese, as the console shows it.
func (r Role) Label() string {
	switch r {
	case Viewer:
		return "查看"
	case Support:
		return "客服"
	case Admin:
		return "管理员"
	}
	return string(r)
}

// permissionText says in Chinese what each permission lets one do, for
// the console's view of a refusal.
var permissionText = map[Permission]string{
	Self: "修改自己的密码", Read: "查看数据", Refund: "退回积分", ReleaseHold: "释放冻结", Adjust: "调整积分",
	EditCustomer: "修改顾客资料", Approve: "审批", Tenant: "修改品牌、门店、规则与应用", Webhooks: "管理推送",
	Operators: "管理操作员", Audit: "查看审计日志",
}

// rolesFrom names in Chinese the roles from r up: "客服或管理员".
func rolesFrom(r Role) string {
	var ls []string
	for _, x := range Roles()[max(r.rank(), 0):] {
		ls = append(ls, x.Label())
	}
	if len(ls) < 2 {
		return strings.Join(ls, "")
	}
	return strings.Join(ls[:len(ls)-1], "、") + "或" + ls[len(ls)-1]
}

// Operator is a person who uses the admin API or the console.
type Operator struct {
	ID   string
	Name string // unique; flows record it as operator_name
	Role Role
	// Brands are the brands the operator acts in; empty: every brand.
	Brands []string
	// Limit is the most points one refund, adjustment or hold release of
	// a support operator may move (≥ 1). It is 0 for viewers, who move
	// none, and for admins, whose actions have no limit.
	Limit    int64
	Disabled bool
	// PasswordHash is the bcrypt hash of the sign-in password.
	PasswordHash      string
	PasswordChangedAt time.Time
	// FailedSignIns counts consecutive failed sign-ins; reaching
	// MaxFailedSignIns locks the operator until LockedUntil.
	FailedSignIns        int
	LockedUntil          time.Time
	CreatedAt, UpdatedAt time.Time
}

// Locked reports whether o may not sign in at now.
func (o Operator) Locked(now time.Time) bool { return now.Before(o.LockedUntil) }

// Principal is who a request acts as: an authenticated operator.
type Principal struct {
	OperatorID string
	Name       string
	Role       Role
	Brands     []string // empty: every brand
	Limit      int64    // for support; see Operator.Limit
}

// PrincipalOf is the principal of o.
func PrincipalOf(o Operator) Principal {
	return Principal{OperatorID: o.ID, Name: o.Name, Role: o.Role, Brands: o.Brands, Limit: o.Limit}
}

// BootstrapName is the name, and id, of the operator the bootstrap admin
// token signs in as. No operator may take it.
const BootstrapName = "bootstrap"

// CLIName is the name, and id, that the jifen command's actions are
// recorded under (a hold released, a tenant file applied, operators
// managed, a dump exported): whoever runs it on the server, with the
// database's credentials. No operator may take it, so that nobody signs
// in as what the log says the command line did.
const CLIName = "cli"

// Bootstrap is the principal of the bootstrap admin token.
func Bootstrap() Principal {
	return Principal{OperatorID: BootstrapName, Name: BootstrapName, Role: Admin}
}

// AllBrands reports whether p acts in every brand.
func (p Principal) AllBrands() bool { return len(p.Brands) == 0 }

// CanBrand reports whether p acts in brand id.
func (p Principal) CanBrand(id string) bool {
	return p.AllBrands() || slices.Contains(p.Brands, strings.TrimSpace(id))
}

// Allows reports whether p's role has perm.
func (p Principal) Allows(perm Permission) bool { return p.Role.Allows(perm) }

// Need returns a Forbidden error unless p's role has perm.
func (p Principal) Need(perm Permission) error {
	if p.Allows(perm) {
		return nil
	}
	return &Forbidden{Missing: "role " + string(Needs(perm)),
		Message: fmt.Sprintf("operator %s (role %s) lacks permission %s: it needs role %s", p.Name, p.Role, perm, Needs(perm)),
		View:    fmt.Sprintf("你的角色 (%s) 不能%s, 需要%s", p.Role.Label(), permissionText[perm], rolesFrom(Needs(perm)))}
}

// NeedBrand returns a Forbidden error unless p acts in brand id.
func (p Principal) NeedBrand(id string) error {
	if p.CanBrand(id) {
		return nil
	}
	return &Forbidden{Missing: "brand " + id,
		Message: fmt.Sprintf("operator %s acts only in brands %s, not in brand %s", p.Name, strings.Join(p.Brands, ", "), id),
		View:    fmt.Sprintf("你只能操作品牌 %s, 不能操作品牌 %s", strings.Join(p.Brands, "、"), id)}
}

// NeedAllBrands returns a Forbidden error unless p acts in every brand
// (what spans the tenant needs it).
func (p Principal) NeedAllBrands() error {
	if p.AllBrands() {
		return nil
	}
	return &Forbidden{Missing: "every brand",
		Message: fmt.Sprintf("operator %s acts only in brands %s; this spans every brand", p.Name, strings.Join(p.Brands, ", ")),
		View:    fmt.Sprintf("此操作涉及所有品牌, 而你只能操作品牌 %s", strings.Join(p.Brands, "、"))}
}

// NeedPoints returns a Forbidden error unless p may move n points (its
// absolute value) in one action: admins may move any, support operators
// up to their Limit, viewers none.
func (p Principal) NeedPoints(n int64) error {
	if n < 0 {
		n = -n
	}
	switch {
	case p.Role == Admin:
		return nil
	case p.Role == Support && n <= p.Limit:
		return nil
	}
	view := fmt.Sprintf("你每次操作最多可变动 %d 积分, 本次为 %d 积分", p.Limit, n)
	if p.Role != Support {
		view = fmt.Sprintf("你的角色 (%s) 不能变动积分, 需要%s", p.Role.Label(), rolesFrom(Support))
	}
	return &Forbidden{Missing: fmt.Sprintf("limit %d", n),
		Message: fmt.Sprintf("operator %s may move at most %d points in one action, not %d", p.Name, p.Limit, n), View: view}
}

// Forbidden is an action refused to an authenticated operator: the API
// answers it 403 FORBIDDEN, naming what is missing.
type Forbidden struct {
	Missing string // "role support", "brand B1", "every brand", "limit 500"
	Message string
	// View says it in Chinese to the operator refused, for the console
	// (as ledger.Error's View does a business outcome).
	View string
}

func (e *Forbidden) Error() string { return e.Message }

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal ctx carries.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Token is an API token of an operator. Only a SHA-256 of the secret is
// stored; the secret is shown once, when the token is created.
type Token struct {
	ID         string
	OperatorID string
	Name       string
	CreatedAt  time.Time
	LastUsedAt time.Time // zero: never used; updated at most once a minute
	RevokedAt  time.Time // zero: in force
}

// Revoked reports whether t no longer authenticates.
func (t Token) Revoked() bool { return !t.RevokedAt.IsZero() }

// Store keeps operators, their tokens and the console's session key; both
// stores implement it (the conformance suite in package storetest checks
// them). Methods that name a missing record return points.ErrNotFound.
type Store interface {
	// AddOperator stores a new operator; ErrNameTaken if its name is.
	AddOperator(ctx context.Context, o Operator) error
	// UpdateOperator stores o's Role, Brands, Limit, Disabled and
	// UpdatedAt.
	UpdateOperator(ctx context.Context, o Operator) error
	// Operator and OperatorByName return one operator.
	Operator(ctx context.Context, id string) (Operator, error)
	OperatorByName(ctx context.Context, name string) (Operator, error)
	// Operators lists every operator, by name.
	Operators(ctx context.Context) ([]Operator, error)
	// SetPassword stores a new password hash, changed at at, and clears
	// the failed sign-ins and the lock.
	SetPassword(ctx context.Context, id, hash string, at time.Time) error
	// SignInFailed counts a failed sign-in, in one statement: when the
	// count reaches max, the operator is locked until now+lock and the
	// count starts again. It returns the operator as it is after.
	SignInFailed(ctx context.Context, id string, now time.Time, max int, lock time.Duration) (Operator, error)
	// SignedIn clears the failed sign-ins.
	SignedIn(ctx context.Context, id string) error

	// AddToken stores a token with the SHA-256 of its secret.
	AddToken(ctx context.Context, t Token, hash []byte) error
	// TokenByHash returns the token whose secret hashes to hash, with its
	// operator.
	TokenByHash(ctx context.Context, hash []byte) (Token, Operator, error)
	// Tokens lists an operator's tokens, oldest first.
	Tokens(ctx context.Context, operatorID string) ([]Token, error)
	// RevokeToken revokes an operator's token at at (a revoked token keeps
	// its first revocation).
	RevokeToken(ctx context.Context, operatorID, tokenID string, at time.Time) error
	// TouchToken records that the token was used at at, unless it was
	// recorded used after at-TouchEvery already.
	TouchToken(ctx context.Context, tokenID string, at time.Time) error

	// SessionKey returns the console's session signing key, storing
	// candidate as the key if there is none yet: every server of the
	// database signs with the same one.
	SessionKey(ctx context.Context, candidate []byte) ([]byte, error)
}

// TouchEvery is how often a token's last use is recorded at most.
const TouchEvery = time.Minute

// ErrNameTaken is returned by Store.AddOperator for a name in use.
var ErrNameTaken = fmt.Errorf("operator name taken")
