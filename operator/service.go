package operator

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/oklog/ulid/v2"
	"golang.org/x/crypto/bcrypt"

	"jifen/ledger"
	"jifen/points"
)

// Sign-in rules.
const (
	// MaxFailedSignIns consecutive failed sign-ins lock an operator for
	// LockFor. They are counted in the database, so every server agrees.
	MaxFailedSignIns = 5
	LockFor          = 15 * time.Minute
	// MinPassword is the shortest password an operator may choose (in
	// characters); generated ones have GeneratedPassword characters.
	MinPassword       = 10
	GeneratedPassword = 20
	// MaxPassword bounds a password in bytes (bcrypt reads 72).
	MaxPassword = 72
	// PasswordCost is the bcrypt cost of stored passwords.
	PasswordCost = 11
	// TokenPrefix starts every API token.
	TokenPrefix = "jft_"
)

// Outcome codes of managing operators.
const (
	CodeOperatorNotFound = "OPERATOR_NOT_FOUND"
	CodeOperatorExists   = "OPERATOR_EXISTS"
	CodeTokenNotFound    = "TOKEN_NOT_FOUND"
)

// Sign-in and authentication failures. The admin API answers
// ErrUnauthenticated 401; the console shows the others as they are.
var (
	ErrUnauthenticated = errors.New("a valid operator token is required")
	ErrBadCredentials  = errors.New("wrong operator name or password")
	ErrLocked          = errors.New("too many failed sign-ins: operator locked")
	ErrDisabled        = errors.New("operator disabled")
)

// LockedError is ErrLocked with the time the lock ends.
type LockedError struct{ Until time.Time }

func (e *LockedError) Error() string {
	return fmt.Sprintf("%v until %s", ErrLocked, e.Until.In(ledger.Shanghai).Format(time.DateTime))
}

// Unwrap makes errors.Is(err, ErrLocked) hold.
func (e *LockedError) Unwrap() error { return ErrLocked }

// Brands is how the service checks that the brands an operator is given
// exist (points.Service serves it).
type Brands interface {
	Brand(ctx context.Context, id string) (ledger.Brand, error)
}

// Service manages operators and authenticates them.
type Service struct {
	store     Store
	brands    Brands
	bootstrap string // the bootstrap admin token; "" for none
	cost      int
	now       func() time.Time

	keyMu sync.Mutex
	key   []byte
}

// New returns the service over store, checking brands with brands. A
// non-empty bootstrap is the bootstrap admin token (Bootstrap).
func New(store Store, brands Brands, bootstrap string) *Service {
	return &Service{store: store, brands: brands, bootstrap: bootstrap, cost: PasswordCost, now: time.Now}
}

// SetClock replaces the wall clock the service reads (tests of lock-out).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// SetPasswordCost lowers the bcrypt cost, for tests only: it is never
// below bcrypt.MinCost.
func (s *Service) SetPasswordCost(cost int) { s.cost = max(cost, bcrypt.MinCost) }

// HasBootstrap reports whether a bootstrap admin token is configured.
func (s *Service) HasBootstrap() bool { return s.bootstrap != "" }

func (s *Service) newID() string { return ulid.Make().String() }

// NewOperator is an operator to add.
type NewOperator struct {
	Name   string
	Role   Role
	Brands []string
	Limit  int64
}

// Added is a new operator with its secrets, shown once.
type Added struct {
	Operator Operator
	Password string // the sign-in password
	Token    Token  // an API token named "initial"
	Secret   string // its secret
}

// Add creates an operator with a generated password and an API token.
func (s *Service) Add(ctx context.Context, n NewOperator) (Added, error) {
	n.Name = strings.TrimSpace(n.Name)
	if err := CheckName(n.Name); err != nil {
		return Added{}, err
	}
	o := Operator{ID: s.newID(), Name: n.Name, Role: n.Role, Brands: n.Brands, Limit: n.Limit}
	if err := s.check(ctx, &o); err != nil {
		return Added{}, err
	}
	password := NewPassword()
	hash, err := s.hash(password)
	if err != nil {
		return Added{}, err
	}
	now := s.now().Truncate(time.Microsecond)
	o.PasswordHash, o.PasswordChangedAt, o.CreatedAt, o.UpdatedAt = hash, now, now, now
	if err := s.store.AddOperator(ctx, o); err != nil {
		if errors.Is(err, ErrNameTaken) {
			return Added{}, ledger.Business(CodeOperatorExists, "操作员已存在", "an operator named %q exists", o.Name)
		}
		return Added{}, err
	}
	t, secret, err := s.CreateToken(ctx, o.ID, "initial")
	if err != nil {
		return Added{}, err
	}
	return Added{Operator: o, Password: password, Token: t, Secret: secret}, nil
}

// CheckName refuses a name an operator may not have: what
// points.CheckOperator refuses (flows record it), BootstrapName and
// CLIName.
func CheckName(name string) error {
	if err := points.CheckOperator(name); err != nil {
		return ledger.Invalid("name", err.(*ledger.Error).Message)
	}
	for _, reserved := range []string{BootstrapName, CLIName} {
		if strings.EqualFold(strings.TrimSpace(name), reserved) {
			return ledger.Invalidf("name", "%q 为内置操作员保留", reserved)
		}
	}
	return nil
}

// check validates o's role, brands and limit, normalizing its brands.
func (s *Service) check(ctx context.Context, o *Operator) error {
	if !o.Role.Valid() {
		return ledger.Invalidf("role", "应为 viewer, support 或 admin, 收到 %q", o.Role)
	}
	switch {
	case o.Role == Support && o.Limit <= 0:
		return ledger.Invalidf("limit", "客服需要每次操作的积分上限 (≥ 1), 收到 %d", o.Limit)
	case o.Role != Support && o.Limit != 0:
		return ledger.Invalidf("limit", "只有客服有积分上限: %s应为 0, 收到 %d", o.Role.Label(), o.Limit)
	case o.Limit > points.MaxPoints:
		return ledger.Invalidf("limit", "超出范围: 最大 %d, 收到 %d", int64(points.MaxPoints), o.Limit)
	}
	var brands []string
	for _, b := range o.Brands {
		b = strings.TrimSpace(b)
		if b == "" || slices.Contains(brands, b) {
			continue
		}
		if err := points.CheckText("brands", b); err != nil {
			return err
		}
		if _, err := s.brands.Brand(ctx, b); err != nil {
			if errors.Is(err, points.ErrNotFound) {
				return ledger.Invalidf("brands", "品牌不存在: %s", b)
			}
			return err
		}
		brands = append(brands, b)
	}
	slices.Sort(brands)
	o.Brands = brands
	return nil
}

// List lists every operator, by name.
func (s *Service) List(ctx context.Context) ([]Operator, error) { return s.store.Operators(ctx) }

// Get returns one operator.
func (s *Service) Get(ctx context.Context, id string) (Operator, error) {
	if points.CheckText("id", id) != nil {
		return Operator{}, notFound(id) // no operator has such an id
	}
	o, err := s.store.Operator(ctx, strings.TrimSpace(id))
	if errors.Is(err, points.ErrNotFound) {
		return o, notFound(id)
	}
	return o, err
}

// ByName returns the operator named name.
func (s *Service) ByName(ctx context.Context, name string) (Operator, error) {
	if points.CheckOperator(name) != nil {
		return Operator{}, notFound(name) // no operator may have such a name
	}
	o, err := s.store.OperatorByName(ctx, strings.TrimSpace(name))
	if errors.Is(err, points.ErrNotFound) {
		return o, notFound(name)
	}
	return o, err
}

func notFound(id string) error {
	return ledger.Business(CodeOperatorNotFound, "操作员不存在", "no operator %q", id)
}

// Change is a change to an operator: nil fields are left as they are.
type Change struct {
	Role     *Role
	Brands   *[]string
	Limit    *int64
	Disabled *bool
}

// Update changes an operator's role, brands, limit or disablement. A
// disabled operator's tokens and console sessions stop working at their
// next request.
func (s *Service) Update(ctx context.Context, id string, c Change) (Operator, error) {
	o, err := s.Get(ctx, id)
	if err != nil {
		return o, err
	}
	if c.Role != nil {
		o.Role = *c.Role
		if c.Limit == nil && o.Role != Support {
			o.Limit = 0 // the limit is a support operator's
		}
	}
	if c.Brands != nil {
		o.Brands = *c.Brands
	}
	if c.Limit != nil {
		o.Limit = *c.Limit
	}
	if c.Disabled != nil {
		o.Disabled = *c.Disabled
	}
	if err := s.check(ctx, &o); err != nil {
		return o, err
	}
	o.UpdatedAt = s.now().Truncate(time.Microsecond)
	return o, s.store.UpdateOperator(ctx, o)
}

// ResetPassword gives an operator a new generated password, returned to
// be shown once; it ends the operator's console sessions and lifts a
// lock.
func (s *Service) ResetPassword(ctx context.Context, id string) (string, error) {
	o, err := s.Get(ctx, id)
	if err != nil {
		return "", err
	}
	password := NewPassword()
	return password, s.setPassword(ctx, o.ID, password)
}

// ChangePassword changes an operator's own password, given the old one;
// it ends the operator's other console sessions.
func (s *Service) ChangePassword(ctx context.Context, id, old, new string) error {
	if id == BootstrapName {
		return ledger.Invalid("operator", "内置操作员 bootstrap 没有密码: 它的凭据是 --admin-token")
	}
	o, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if bcrypt.CompareHashAndPassword([]byte(o.PasswordHash), []byte(old)) != nil {
		return ledger.Invalid("old_password", "原密码不正确")
	}
	if err := CheckPassword(new); err != nil {
		return err
	}
	if new == old {
		return ledger.Invalid("new_password", "新密码与原密码相同")
	}
	return s.setPassword(ctx, o.ID, new)
}

// CheckPassword refuses a password an operator may not choose.
func CheckPassword(p string) error {
	switch {
	case !utf8.ValidString(p):
		return ledger.Invalid("new_password", "不是有效的 UTF-8 文本")
	case utf8.RuneCountInString(p) < MinPassword:
		return ledger.Invalidf("new_password", "过短: 至少 %d 个字符", MinPassword)
	case len(p) > MaxPassword:
		return ledger.Invalidf("new_password", "过长: 最多 %d 字节", MaxPassword)
	case strings.TrimSpace(p) != p:
		return ledger.Invalid("new_password", "首尾不可有空白")
	}
	return nil
}

func (s *Service) setPassword(ctx context.Context, id, password string) error {
	hash, err := s.hash(password)
	if err != nil {
		return err
	}
	// Sessions started before now end (Session).
	at := s.now().Truncate(time.Microsecond)
	return s.store.SetPassword(ctx, id, hash, at)
}

func (s *Service) hash(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		return "", fmt.Errorf("operator: hash password: %w", err)
	}
	return string(h), nil
}

// NewPassword makes a password of GeneratedPassword characters from an
// alphabet without look-alikes.
func NewPassword() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, GeneratedPassword)
	for i := range b {
		b[i] = alphabet[randN(len(alphabet))]
	}
	return string(b)
}

// randN is a uniform random number below n, from crypto/rand.
func randN(n int) int {
	var b [1]byte
	for {
		rand.Read(b[:])
		if int(b[0]) < 256-256%n {
			return int(b[0]) % n
		}
	}
}

// CreateToken makes an API token for an operator, returning its secret
// to be shown once.
func (s *Service) CreateToken(ctx context.Context, id, name string) (Token, string, error) {
	name = strings.TrimSpace(name)
	if err := points.Required("name", name); err != nil {
		return Token{}, "", err
	}
	if err := points.CheckText("name", name); err != nil {
		return Token{}, "", err
	}
	o, err := s.Get(ctx, id)
	if err != nil {
		return Token{}, "", err
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	secret := TokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	t := Token{ID: s.newID(), OperatorID: o.ID, Name: name, CreatedAt: s.now().Truncate(time.Microsecond)}
	if err := s.store.AddToken(ctx, t, hashToken(secret)); err != nil {
		return Token{}, "", err
	}
	return t, secret, nil
}

// Tokens lists an operator's tokens, oldest first.
func (s *Service) Tokens(ctx context.Context, id string) ([]Token, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return nil, err
	}
	return s.store.Tokens(ctx, id)
}

// RevokeToken revokes an operator's token: it authenticates no more.
func (s *Service) RevokeToken(ctx context.Context, id, tokenID string) error {
	if _, err := s.Get(ctx, id); err != nil {
		return err
	}
	err := s.store.RevokeToken(ctx, id, tokenID, s.now().Truncate(time.Microsecond))
	if errors.Is(err, points.ErrNotFound) {
		return ledger.Business(CodeTokenNotFound, "令牌不存在", "operator %s has no token %q", id, tokenID)
	}
	return err
}

func hashToken(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// bootstrapMatches compares got with the bootstrap token in time that
// depends on neither (both are hashed first).
func (s *Service) bootstrapMatches(got string) bool {
	if s.bootstrap == "" {
		return false
	}
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(s.bootstrap))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// Authenticate returns the principal of an API token: the bootstrap
// admin token, or an operator's token in force of an operator not
// disabled. ErrUnauthenticated otherwise.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	if s.bootstrapMatches(token) {
		return Bootstrap(), nil
	}
	if !strings.HasPrefix(token, TokenPrefix) {
		return Principal{}, ErrUnauthenticated
	}
	t, o, err := s.store.TokenByHash(ctx, hashToken(token))
	if errors.Is(err, points.ErrNotFound) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, err
	}
	if t.Revoked() || o.Disabled {
		return Principal{}, ErrUnauthenticated
	}
	if now := s.now(); now.Sub(t.LastUsedAt) >= TouchEvery {
		if err := s.store.TouchToken(ctx, t.ID, now.Truncate(time.Microsecond)); err != nil {
			return Principal{}, err
		}
	}
	return PrincipalOf(o), nil
}

// dummyHash is compared against when no operator has the name given, so
// that a sign-in takes as long whether the name exists or not.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("no such operator"), PasswordCost)

// SignIn checks an operator's name and password: ErrBadCredentials for
// a wrong one (counted: MaxFailedSignIns in a row lock the operator for
// LockFor), ErrLocked while locked, ErrDisabled for a disabled operator.
// The name BootstrapName with the bootstrap admin token as its password
// signs in as Bootstrap.
func (s *Service) SignIn(ctx context.Context, name, password string) (Principal, error) {
	name = strings.TrimSpace(name)
	if name == BootstrapName {
		if s.bootstrapMatches(password) {
			return Bootstrap(), nil
		}
		return Principal{}, ErrBadCredentials
	}
	// A name no operator may have (a control character, which PostgreSQL
	// would refuse in the query) is no one, asked after as any other.
	var o Operator
	err := points.ErrNotFound
	if points.CheckOperator(name) == nil {
		o, err = s.store.OperatorByName(ctx, name)
	}
	if errors.Is(err, points.ErrNotFound) {
		bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return Principal{}, ErrBadCredentials
	}
	if err != nil {
		return Principal{}, err
	}
	now := s.now()
	if o.Locked(now) {
		return Principal{}, &LockedError{Until: o.LockedUntil}
	}
	if bcrypt.CompareHashAndPassword([]byte(o.PasswordHash), []byte(password)) != nil {
		after, err := s.store.SignInFailed(ctx, o.ID, now.Truncate(time.Microsecond), MaxFailedSignIns, LockFor)
		if err != nil {
			return Principal{}, err
		}
		if after.Locked(now) {
			return Principal{}, &LockedError{Until: after.LockedUntil}
		}
		return Principal{}, ErrBadCredentials
	}
	if o.Disabled {
		return Principal{}, ErrDisabled
	}
	if o.FailedSignIns > 0 {
		if err := s.store.SignedIn(ctx, o.ID); err != nil {
			return Principal{}, err
		}
	}
	return PrincipalOf(o), nil
}

// Session is the principal of a console session of operator id, started
// at started: ErrUnauthenticated if the operator is disabled or gone, or
// changed its password after the session started.
func (s *Service) Session(ctx context.Context, id string, started time.Time) (Principal, error) {
	if id == BootstrapName {
		if s.bootstrap == "" {
			return Principal{}, ErrUnauthenticated
		}
		return Bootstrap(), nil
	}
	o, err := s.store.Operator(ctx, id)
	if errors.Is(err, points.ErrNotFound) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, err
	}
	if o.Disabled || started.Before(o.PasswordChangedAt) {
		return Principal{}, ErrUnauthenticated
	}
	return PrincipalOf(o), nil
}

// SessionKey is the console's session signing key, shared by every
// server of the database (made at first use).
func (s *Service) SessionKey(ctx context.Context) ([]byte, error) {
	s.keyMu.Lock()
	defer s.keyMu.Unlock()
	if s.key != nil {
		return s.key, nil
	}
	candidate := make([]byte, 32)
	rand.Read(candidate)
	k, err := s.store.SessionKey(ctx, candidate)
	if err != nil {
		return nil, err
	}
	s.key = k
	return k, nil
}

// SetPassword sets an operator's password to one chosen by whoever holds
// the database (jifen operator passwd), without the old one; it ends the
// operator's console sessions and lifts a lock.
func (s *Service) SetPassword(ctx context.Context, id, password string) error {
	o, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if err := CheckPassword(password); err != nil {
		return err
	}
	return s.setPassword(ctx, o.ID, password)
}
