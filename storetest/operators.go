package storetest

import (
	"bytes"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"jifen/approval"
	"jifen/ledger"
	"jifen/operator"
)

// OperatorStore is a store that keeps operators, and their approvals,
// too.
type OperatorStore interface {
	Store
	operator.Store
	approval.Store
}

// OperatorOpener opens a fresh, empty store for one test.
type OperatorOpener func(t testing.TB) OperatorStore

// RunOperators runs the operators' tests against stores made by open:
// what a store keeps of operators and tokens, through operator.Service.
func RunOperators(t *testing.T, open OperatorOpener) {
	tests := []struct {
		name string
		fn   func(*testing.T, OperatorOpener)
	}{
		{"Storage", testOperatorStorage},
		{"Refused", testOperatorRefused},
		{"Tokens", testOperatorTokens},
		{"Password", testOperatorPassword},
		{"LockOut", testOperatorLockOut},
		{"Bootstrap", testOperatorBootstrap},
		{"SessionKey", testOperatorSessionKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open)
		})
	}
}

// BootstrapToken is the bootstrap admin token of OperatorEnv's service.
const BootstrapToken = "bootstrap-token-0123456789"

// OperatorEnv is the standard world over a store that keeps operators,
// with an operator.Service over it (bootstrap token BootstrapToken, a low
// bcrypt cost, a wall clock the test moves: Clock).
func OperatorEnv(t testing.TB, open OperatorOpener) (*Env, Operators) {
	t.Helper()
	var os operator.Store
	e := NewEnv(t, func(tb testing.TB) Store {
		s := open(tb)
		os = s
		return s
	})
	svc := operator.New(os, e.Svc, BootstrapToken)
	svc.SetPasswordCost(4)
	svc.SetClock(e.Clock.Now)
	return e, Operators{Store: os, Service: svc}
}

// Operators is an operator store and the service over it.
type Operators struct {
	Store   operator.Store
	Service *operator.Service
}

// MustAddOperator adds an operator and returns it with its secrets.
func MustAddOperator(t testing.TB, e *Env, svc *operator.Service, n operator.NewOperator) operator.Added {
	t.Helper()
	a, err := svc.Add(e.Ctx, n)
	if err != nil {
		t.Fatalf("add operator %s: %v", n.Name, err)
	}
	return a
}

// testOperatorStorage: an operator as stored, listed, found by name,
// updated; a name is unique.
func testOperatorStorage(t *testing.T, open OperatorOpener) {
	e, os := OperatorEnv(t, open)
	ctx, svc := e.Ctx, os.Service
	a := MustAddOperator(t, e, svc, operator.NewOperator{Name: "张经理", Role: operator.Support, Brands: []string{" B2", "B1", "B1"}, Limit: 500})
	if len(a.Password) < operator.GeneratedPassword || !bytes.HasPrefix([]byte(a.Secret), []byte(operator.TokenPrefix)) || len(a.Secret) < 40 {
		t.Fatalf("secrets %q, %q: want a %d-character password and a %s token", a.Password, a.Secret, operator.GeneratedPassword, operator.TokenPrefix)
	}
	got, err := svc.Get(ctx, a.Operator.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "张经理" || got.Role != operator.Support || !slices.Equal(got.Brands, []string{"B1", "B2"}) || got.Limit != 500 ||
		got.Disabled || !got.CreatedAt.Equal(a.Operator.CreatedAt) || got.PasswordHash == "" || got.PasswordHash == a.Password {
		t.Fatalf("stored %+v", got)
	}
	if byName, err := svc.ByName(ctx, "张经理"); err != nil || byName.ID != got.ID {
		t.Fatalf("by name: %+v, %v", byName, err)
	}
	if _, err := svc.Add(ctx, operator.NewOperator{Name: "张经理", Role: operator.Viewer}); !ledger.IsCode(err, operator.CodeOperatorExists) {
		t.Fatalf("second 张经理: %v, want %s", err, operator.CodeOperatorExists)
	}
	MustAddOperator(t, e, svc, operator.NewOperator{Name: "Alice", Role: operator.Admin})
	list, err := svc.List(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "Alice" || list[1].Name != "张经理" || list[0].Brands != nil {
		t.Fatalf("list: %+v, %v", list, err)
	}
	viewer, brands, disabled := operator.Viewer, []string{"B2"}, true
	up, err := svc.Update(ctx, got.ID, operator.Change{Role: &viewer, Brands: &brands, Disabled: &disabled})
	if err != nil {
		t.Fatal(err)
	}
	again, err := svc.Get(ctx, got.ID)
	if err != nil || again.Role != operator.Viewer || again.Limit != 0 || !slices.Equal(again.Brands, []string{"B2"}) || !again.Disabled ||
		!again.UpdatedAt.Equal(up.UpdatedAt) {
		t.Fatalf("updated: %+v, %v", again, err)
	}
	if _, err := svc.Get(ctx, "nobody"); !ledger.IsCode(err, operator.CodeOperatorNotFound) {
		t.Fatalf("get nobody: %v", err)
	}
}

// testOperatorRefused: bad input names its field and stores nothing.
func testOperatorRefused(t *testing.T, open OperatorOpener) {
	e, os := OperatorEnv(t, open)
	for _, tc := range []struct {
		n     operator.NewOperator
		field string
	}{
		{operator.NewOperator{Name: "", Role: operator.Viewer}, "name"},
		{operator.NewOperator{Name: "bootstrap", Role: operator.Admin}, "name"},
		{operator.NewOperator{Name: " CLI", Role: operator.Admin}, "name"},
		{operator.NewOperator{Name: "a\x00b", Role: operator.Viewer}, "name"},
		{operator.NewOperator{Name: "x", Role: "root"}, "role"},
		{operator.NewOperator{Name: "x", Role: operator.Support}, "limit"},
		{operator.NewOperator{Name: "x", Role: operator.Admin, Limit: 5}, "limit"},
		{operator.NewOperator{Name: "x", Role: operator.Viewer, Brands: []string{"B404"}}, "brands"},
	} {
		_, err := os.Service.Add(e.Ctx, tc.n)
		if le, ok := ledger.AsError(err); !ok || le.Kind != ledger.KindInvalid || le.Field != tc.field {
			t.Errorf("add %+v: %v, want invalid %s", tc.n, err, tc.field)
		}
	}
	if list, err := os.Service.List(e.Ctx); err != nil || len(list) != 0 {
		t.Fatalf("stored %+v, %v", list, err)
	}
}

// testOperatorTokens: a token authenticates its operator until revoked
// or the operator is disabled; its last use is recorded at most once a
// minute; only its hash is stored.
func testOperatorTokens(t *testing.T, open OperatorOpener) {
	e, os := OperatorEnv(t, open)
	ctx, svc := e.Ctx, os.Service
	a := MustAddOperator(t, e, svc, operator.NewOperator{Name: "李四", Role: operator.Viewer, Brands: []string{"B1"}})
	p, err := svc.Authenticate(ctx, a.Secret)
	if err != nil || p.OperatorID != a.Operator.ID || p.Name != "李四" || p.Role != operator.Viewer || !slices.Equal(p.Brands, []string{"B1"}) {
		t.Fatalf("authenticate: %+v, %v", p, err)
	}
	used := func(id string) time.Time {
		t.Helper()
		ts, err := svc.Tokens(ctx, a.Operator.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range ts {
			if tk.ID == id {
				return tk.LastUsedAt
			}
		}
		t.Fatalf("no token %s in %+v", id, ts)
		return time.Time{}
	}
	first := used(a.Token.ID)
	if !first.Equal(e.Clock.Now()) {
		t.Fatalf("last used %v, want %v", first, e.Clock.Now())
	}
	e.Clock.Advance(30 * time.Second)
	if _, err := svc.Authenticate(ctx, a.Secret); err != nil {
		t.Fatal(err)
	}
	if got := used(a.Token.ID); !got.Equal(first) {
		t.Fatalf("last used moved to %v within a minute", got)
	}
	e.Clock.Advance(31 * time.Second)
	if _, err := svc.Authenticate(ctx, a.Secret); err != nil {
		t.Fatal(err)
	}
	if got := used(a.Token.ID); !got.Equal(e.Clock.Now()) {
		t.Fatalf("last used %v after a minute, want %v", got, e.Clock.Now())
	}
	// A second token; revoking the first leaves it working.
	second, secret2, err := svc.CreateToken(ctx, a.Operator.ID, "报表脚本")
	if err != nil || second.Name != "报表脚本" || secret2 == a.Secret {
		t.Fatalf("second token: %+v %q, %v", second, secret2, err)
	}
	if err := svc.RevokeToken(ctx, a.Operator.ID, a.Token.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, a.Secret); !errors.Is(err, operator.ErrUnauthenticated) {
		t.Fatalf("revoked token: %v", err)
	}
	if _, err := svc.Authenticate(ctx, secret2); err != nil {
		t.Fatalf("other token after revoking one: %v", err)
	}
	if err := svc.RevokeToken(ctx, a.Operator.ID, "nope"); !ledger.IsCode(err, operator.CodeTokenNotFound) {
		t.Fatalf("revoke unknown token: %v", err)
	}
	other := MustAddOperator(t, e, svc, operator.NewOperator{Name: "王五", Role: operator.Viewer})
	if err := svc.RevokeToken(ctx, other.Operator.ID, second.ID); !ledger.IsCode(err, operator.CodeTokenNotFound) {
		t.Fatalf("revoke another operator's token: %v", err)
	}
	ts, err := svc.Tokens(ctx, a.Operator.ID)
	if err != nil || len(ts) != 2 || !ts[0].Revoked() || ts[1].Revoked() {
		t.Fatalf("tokens: %+v, %v", ts, err)
	}
	// Disabled: no token works; enabled again, they do.
	disabled, enabled := true, false
	if _, err := svc.Update(ctx, a.Operator.ID, operator.Change{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, secret2); !errors.Is(err, operator.ErrUnauthenticated) {
		t.Fatalf("disabled operator's token: %v", err)
	}
	if _, err := svc.Session(ctx, a.Operator.ID, e.Clock.Now()); !errors.Is(err, operator.ErrUnauthenticated) {
		t.Fatalf("disabled operator's session: %v", err)
	}
	if _, err := svc.Update(ctx, a.Operator.ID, operator.Change{Disabled: &enabled}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(ctx, secret2); err != nil {
		t.Fatalf("enabled operator's token: %v", err)
	}
	for _, bad := range []string{"", "jft_", "jft_" + secret2[4:len(secret2)-1], secret2 + "x", "Bearer " + secret2} {
		if _, err := svc.Authenticate(ctx, bad); !errors.Is(err, operator.ErrUnauthenticated) {
			t.Errorf("token %q: %v", bad, err)
		}
	}
}

// testOperatorPassword: the generated password signs in; a changed one
// replaces it and ends sessions started before; a reset does too.
func testOperatorPassword(t *testing.T, open OperatorOpener) {
	e, os := OperatorEnv(t, open)
	ctx, svc := e.Ctx, os.Service
	a := MustAddOperator(t, e, svc, operator.NewOperator{Name: "客服小王", Role: operator.Support, Limit: 100})
	id := a.Operator.ID
	p, err := svc.SignIn(ctx, " 客服小王 ", a.Password)
	if err != nil || p.OperatorID != id || p.Limit != 100 {
		t.Fatalf("sign in: %+v, %v", p, err)
	}
	started := e.Clock.Now()
	if _, err := svc.Session(ctx, id, started); err != nil {
		t.Fatalf("session: %v", err)
	}
	for _, tc := range []struct{ old, new, field string }{
		{"wrong-password", "a-new-password", "old_password"},
		{a.Password, "short", "new_password"},
		{a.Password, " spaces-around ", "new_password"},
		{a.Password, a.Password, "new_password"},
	} {
		err := svc.ChangePassword(ctx, id, tc.old, tc.new)
		if le, ok := ledger.AsError(err); !ok || le.Field != tc.field {
			t.Errorf("change %q → %q: %v, want invalid %s", tc.old, tc.new, err, tc.field)
		}
	}
	if _, err := svc.SignIn(ctx, "客服小王", a.Password); err != nil {
		t.Fatalf("refused changes changed the password: %v", err)
	}
	e.Clock.Advance(time.Second)
	if err := svc.ChangePassword(ctx, id, a.Password, "新的密码-2026年"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SignIn(ctx, "客服小王", a.Password); !errors.Is(err, operator.ErrBadCredentials) {
		t.Fatalf("old password after change: %v", err)
	}
	if _, err := svc.SignIn(ctx, "客服小王", "新的密码-2026年"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	if _, err := svc.Session(ctx, id, started); !errors.Is(err, operator.ErrUnauthenticated) {
		t.Fatalf("session from before the change: %v", err)
	}
	if _, err := svc.Session(ctx, id, e.Clock.Now()); err != nil {
		t.Fatalf("session started after the change: %v", err)
	}
	e.Clock.Advance(time.Second)
	reset, err := svc.ResetPassword(ctx, id)
	if err != nil || len(reset) < operator.GeneratedPassword {
		t.Fatalf("reset: %q, %v", reset, err)
	}
	if _, err := svc.SignIn(ctx, "客服小王", "新的密码-2026年"); !errors.Is(err, operator.ErrBadCredentials) {
		t.Fatalf("password after reset: %v", err)
	}
	if _, err := svc.SignIn(ctx, "客服小王", reset); err != nil {
		t.Fatalf("reset password: %v", err)
	}
	if _, err := svc.SignIn(ctx, "nobody", reset); !errors.Is(err, operator.ErrBadCredentials) {
		t.Fatalf("unknown name: %v", err)
	}
}

// testOperatorLockOut: MaxFailedSignIns failures in a row lock the
// operator for LockFor, counted in the database (two services agree,
// concurrent failures all count); the right password is refused while
// locked; a success clears the count.
func testOperatorLockOut(t *testing.T, open OperatorOpener) {
	e, os := OperatorEnv(t, open)
	ctx, svc := e.Ctx, os.Service
	other := operator.New(os.Store, e.Svc, BootstrapToken) // another server
	other.SetPasswordCost(4)
	other.SetClock(e.Clock.Now)
	a := MustAddOperator(t, e, svc, operator.NewOperator{Name: "viewer1", Role: operator.Viewer})
	// Failures short of the limit, then a success: the count starts again.
	for range operator.MaxFailedSignIns - 1 {
		if _, err := svc.SignIn(ctx, "viewer1", "wrong"); !errors.Is(err, operator.ErrBadCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	if _, err := other.SignIn(ctx, "viewer1", a.Password); err != nil {
		t.Fatalf("right password before the limit: %v", err)
	}
	// Concurrent failures on two servers all count.
	var wg sync.WaitGroup
	for i := range operator.MaxFailedSignIns - 1 {
		wg.Go(func() {
			s := svc
			if i%2 == 1 {
				s = other
			}
			if _, err := s.SignIn(ctx, "viewer1", "wrong"); !errors.Is(err, operator.ErrBadCredentials) {
				t.Errorf("wrong password %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if _, err := other.SignIn(ctx, "viewer1", "wrong"); !errors.Is(err, operator.ErrLocked) {
		t.Fatalf("failure %d: %v, want locked", operator.MaxFailedSignIns, err)
	}
	if _, err := svc.SignIn(ctx, "viewer1", a.Password); !errors.Is(err, operator.ErrLocked) {
		t.Fatalf("right password while locked: %v, want locked", err)
	}
	o, err := svc.Get(ctx, a.Operator.ID)
	if err != nil || !o.LockedUntil.Equal(e.Clock.Now().Add(operator.LockFor)) {
		t.Fatalf("locked until %v (%v), want %v", o.LockedUntil, err, e.Clock.Now().Add(operator.LockFor))
	}
	// A token still works: the lock is on signing in.
	if _, err := svc.Authenticate(ctx, a.Secret); err != nil {
		t.Fatalf("token while locked: %v", err)
	}
	e.Clock.Advance(operator.LockFor)
	if _, err := svc.SignIn(ctx, "viewer1", a.Password); err != nil {
		t.Fatalf("after the lock: %v", err)
	}
	// A reset lifts a lock at once.
	for range operator.MaxFailedSignIns {
		svc.SignIn(ctx, "viewer1", "wrong")
	}
	reset, err := svc.ResetPassword(ctx, a.Operator.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SignIn(ctx, "viewer1", reset); err != nil {
		t.Fatalf("after a reset: %v", err)
	}
	// A disabled operator is told so only with the right password.
	disabled := true
	if _, err := svc.Update(ctx, a.Operator.ID, operator.Change{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SignIn(ctx, "viewer1", "wrong"); !errors.Is(err, operator.ErrBadCredentials) {
		t.Fatalf("disabled, wrong password: %v", err)
	}
	if _, err := svc.SignIn(ctx, "viewer1", reset); !errors.Is(err, operator.ErrDisabled) {
		t.Fatalf("disabled, right password: %v", err)
	}
}

// testOperatorBootstrap: the bootstrap admin token authenticates and
// signs in as "bootstrap", an admin of every brand; without one, nothing
// does.
func testOperatorBootstrap(t *testing.T, open OperatorOpener) {
	e, os := OperatorEnv(t, open)
	ctx, svc := e.Ctx, os.Service
	for _, get := range []func() (operator.Principal, error){
		func() (operator.Principal, error) { return svc.Authenticate(ctx, BootstrapToken) },
		func() (operator.Principal, error) { return svc.SignIn(ctx, "bootstrap", BootstrapToken) },
		func() (operator.Principal, error) { return svc.Session(ctx, "bootstrap", e.Clock.Now()) },
	} {
		p, err := get()
		if err != nil || p.OperatorID != "bootstrap" || p.Name != "bootstrap" || p.Role != operator.Admin || !p.AllBrands() || !p.Allows(operator.Operators) {
			t.Fatalf("bootstrap: %+v, %v", p, err)
		}
	}
	if _, err := svc.SignIn(ctx, "bootstrap", BootstrapToken+"x"); !errors.Is(err, operator.ErrBadCredentials) {
		t.Fatalf("wrong bootstrap token: %v", err)
	}
	none := operator.New(os.Store, e.Svc, "")
	if _, err := none.Authenticate(ctx, ""); !errors.Is(err, operator.ErrUnauthenticated) {
		t.Fatalf("no bootstrap, empty token: %v", err)
	}
	if _, err := none.SignIn(ctx, "bootstrap", ""); !errors.Is(err, operator.ErrBadCredentials) {
		t.Fatalf("no bootstrap, sign-in: %v", err)
	}
	if _, err := none.Session(ctx, "bootstrap", e.Clock.Now()); !errors.Is(err, operator.ErrUnauthenticated) {
		t.Fatalf("no bootstrap, session: %v", err)
	}
	if err := svc.ChangePassword(ctx, "bootstrap", BootstrapToken, "something-else"); err == nil {
		t.Fatal("bootstrap changed its password")
	}
}

// testOperatorSessionKey: the first key stored is every server's.
func testOperatorSessionKey(t *testing.T, open OperatorOpener) {
	e, os := OperatorEnv(t, open)
	k1, err := os.Store.SessionKey(e.Ctx, []byte("first-candidate-key-0123456789ab"))
	if err != nil || string(k1) != "first-candidate-key-0123456789ab" {
		t.Fatalf("first key: %q, %v", k1, err)
	}
	k2, err := os.Store.SessionKey(e.Ctx, []byte("second-candidate"))
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("second key: %q, %v", k2, err)
	}
	k3, err := os.Service.SessionKey(e.Ctx)
	if err != nil || !bytes.Equal(k1, k3) {
		t.Fatalf("service key: %q, %v", k3, err)
	}
}
