package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"jifen/operator"
)

// The operators, their tokens and the console's session key
// (operator.Store), shared by every server of the database: a failed
// sign-in is counted by one statement, so servers counting at once add up.

var _ operator.Store = (*Store)(nil)

const operatorCols = `operator_id, name, role, brands, points_limit, disabled, password_hash, password_changed_at,
	failed_sign_ins, locked_until, created_at, updated_at`

// operatorDest is where operatorCols are scanned to; finishOperator
// completes o from them.
func operatorDest(o *operator.Operator, brands *[]byte, times *[4]int64) []any {
	return []any{&o.ID, &o.Name, &o.Role, brands, &o.Limit, &o.Disabled, &o.PasswordHash, &times[0],
		&o.FailedSignIns, &times[1], &times[2], &times[3]}
}

func finishOperator(o *operator.Operator, brands []byte, times [4]int64) error {
	if err := json.Unmarshal(brands, &o.Brands); err != nil {
		return fmt.Errorf("operator %q brands: %w", o.ID, err)
	}
	if len(o.Brands) == 0 {
		o.Brands = nil
	}
	o.PasswordChangedAt, o.LockedUntil = fromMicros(times[0]), fromMicros(times[1])
	o.CreatedAt, o.UpdatedAt = fromMicros(times[2]), fromMicros(times[3])
	return nil
}

func scanOperator(r pgx.Rows) (operator.Operator, error) {
	var o operator.Operator
	var brands []byte
	var times [4]int64
	if err := r.Scan(operatorDest(&o, &brands, &times)...); err != nil {
		return o, err
	}
	return o, finishOperator(&o, brands, times)
}

func brandsJSON(bs []string) []byte {
	if bs == nil {
		bs = []string{}
	}
	b, err := json.Marshal(bs)
	if err != nil {
		panic(err) // a slice of strings
	}
	return b
}

// exec runs one statement outside a transaction and says how many rows it
// changed.
func (s *Store) exec(ctx context.Context, what, sql string, args ...any) (int64, error) {
	tag, err := s.pool.Exec(ctx, sql, args...)
	if err != nil {
		return 0, s.noteError(failure(err, what))
	}
	return tag.RowsAffected(), nil
}

// AddOperator stores a new operator; operator.ErrNameTaken if its name is.
func (s *Store) AddOperator(ctx context.Context, o operator.Operator) error {
	_, err := s.pool.Exec(ctx, "INSERT INTO operators ("+operatorCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
		o.ID, o.Name, string(o.Role), brandsJSON(o.Brands), o.Limit, o.Disabled, o.PasswordHash,
		micros(o.PasswordChangedAt), o.FailedSignIns, micros(o.LockedUntil), micros(o.CreatedAt), micros(o.UpdatedAt))
	if isCode(err, codeUniqueViolation) {
		return fmt.Errorf("postgres: add operator %q: %w", o.Name, operator.ErrNameTaken)
	}
	if err != nil {
		return s.noteError(failure(err, "add operator "+o.Name))
	}
	return nil
}

// operatorWrite runs one UPDATE of an operator; ErrNotFound if none.
func (s *Store) operatorWrite(ctx context.Context, id, sql string, args ...any) error {
	n, err := s.exec(ctx, "operator "+id, sql, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound("operator %q", id)
	}
	return nil
}

// UpdateOperator stores o's role, brands, limit and disablement.
func (s *Store) UpdateOperator(ctx context.Context, o operator.Operator) error {
	return s.operatorWrite(ctx, o.ID, `UPDATE operators SET role = $1, brands = $2, points_limit = $3, disabled = $4, updated_at = $5
		WHERE operator_id = $6`, string(o.Role), brandsJSON(o.Brands), o.Limit, o.Disabled, micros(o.UpdatedAt), o.ID)
}

func (s *Store) operatorBy(ctx context.Context, col, v string) (operator.Operator, error) {
	var o operator.Operator
	var found bool
	if err := s.read(ctx, one(d("operator %q", v), &o, &found, scanOperator,
		"SELECT "+operatorCols+" FROM operators WHERE "+col+" = $1", v)); err != nil {
		return o, err
	}
	if !found {
		return o, notFound("operator %q", v)
	}
	return o, nil
}

// Operator returns one operator.
func (s *Store) Operator(ctx context.Context, id string) (operator.Operator, error) {
	return s.operatorBy(ctx, "operator_id", id)
}

// OperatorByName returns the operator named name.
func (s *Store) OperatorByName(ctx context.Context, name string) (operator.Operator, error) {
	return s.operatorBy(ctx, "name", name)
}

// Operators lists every operator, by name.
func (s *Store) Operators(ctx context.Context) ([]operator.Operator, error) {
	var os []operator.Operator
	if err := s.read(ctx, all(d("operators"), &os, scanOperator, "SELECT "+operatorCols+" FROM operators ORDER BY name COLLATE \"C\"")); err != nil {
		return nil, err
	}
	return os, nil
}

// SetPassword stores a new password hash and lifts a lock.
func (s *Store) SetPassword(ctx context.Context, id, hash string, at time.Time) error {
	return s.operatorWrite(ctx, id, `UPDATE operators SET password_hash = $1, password_changed_at = $2, failed_sign_ins = 0,
		locked_until = 0, updated_at = $2 WHERE operator_id = $3`, hash, micros(at), id)
}

// SignInFailed counts a failed sign-in in one statement; the max-th locks
// the operator.
func (s *Store) SignInFailed(ctx context.Context, id string, now time.Time, max int, lock time.Duration) (operator.Operator, error) {
	var o operator.Operator
	var found bool
	err := s.read(ctx, one(d("failed sign-in of %q", id), &o, &found, scanOperator, `UPDATE operators SET
			locked_until = CASE WHEN failed_sign_ins + 1 >= $1 THEN $2 ELSE locked_until END,
			failed_sign_ins = CASE WHEN failed_sign_ins + 1 >= $1 THEN 0 ELSE failed_sign_ins + 1 END
		WHERE operator_id = $3 RETURNING `+operatorCols, max, micros(now.Add(lock)), id))
	if err != nil {
		return o, s.noteError(err)
	}
	if !found {
		return o, notFound("operator %q", id)
	}
	return o, nil
}

// SignedIn clears the failed sign-ins.
func (s *Store) SignedIn(ctx context.Context, id string) error {
	return s.operatorWrite(ctx, id, "UPDATE operators SET failed_sign_ins = 0 WHERE operator_id = $1", id)
}

const tokenCols = "token_id, operator_id, name, created_at, last_used_at, revoked_at"

func tokenDest(t *operator.Token, times *[3]int64) []any {
	return []any{&t.ID, &t.OperatorID, &t.Name, &times[0], &times[1], &times[2]}
}

func finishToken(t *operator.Token, times [3]int64) {
	t.CreatedAt, t.LastUsedAt, t.RevokedAt = fromMicros(times[0]), fromMicros(times[1]), fromMicros(times[2])
}

func scanToken(r pgx.Rows) (operator.Token, error) {
	var t operator.Token
	var times [3]int64
	if err := r.Scan(tokenDest(&t, &times)...); err != nil {
		return t, err
	}
	finishToken(&t, times)
	return t, nil
}

// AddToken stores a token with the hash of its secret.
func (s *Store) AddToken(ctx context.Context, t operator.Token, hash []byte) error {
	_, err := s.exec(ctx, "add token of "+t.OperatorID,
		"INSERT INTO operator_tokens (token_id, operator_id, name, hash, created_at, last_used_at, revoked_at) VALUES ($1, $2, $3, $4, $5, 0, 0)",
		t.ID, t.OperatorID, t.Name, hash, micros(t.CreatedAt))
	return err
}

// TokenByHash returns the token whose secret hashes to hash, with its
// operator.
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (operator.Token, operator.Operator, error) {
	type both struct {
		t operator.Token
		o operator.Operator
	}
	var b both
	var found bool
	err := s.read(ctx, one(d("token"), &b, &found, func(r pgx.Rows) (both, error) {
		var b both
		var tt [3]int64
		var ot [4]int64
		var brands []byte
		if err := r.Scan(append(tokenDest(&b.t, &tt), operatorDest(&b.o, &brands, &ot)...)...); err != nil {
			return b, err
		}
		finishToken(&b.t, tt)
		return b, finishOperator(&b.o, brands, ot)
	}, "SELECT "+prefixed("t.", tokenCols)+", "+prefixed("o.", operatorCols)+
		" FROM operator_tokens t JOIN operators o ON o.operator_id = t.operator_id WHERE t.hash = $1", hash))
	if err != nil {
		return b.t, b.o, s.noteError(err)
	}
	if !found {
		return b.t, b.o, notFound("token")
	}
	return b.t, b.o, nil
}

// Tokens lists an operator's tokens, oldest first.
func (s *Store) Tokens(ctx context.Context, operatorID string) ([]operator.Token, error) {
	var ts []operator.Token
	if err := s.read(ctx, all(d("tokens of %q", operatorID), &ts, scanToken,
		"SELECT "+tokenCols+" FROM operator_tokens WHERE operator_id = $1 ORDER BY created_at, token_id", operatorID)); err != nil {
		return nil, err
	}
	return ts, nil
}

// RevokeToken revokes an operator's token, keeping a first revocation.
func (s *Store) RevokeToken(ctx context.Context, operatorID, tokenID string, at time.Time) error {
	n, err := s.exec(ctx, "revoke token "+tokenID, `UPDATE operator_tokens
		SET revoked_at = CASE WHEN revoked_at = 0 THEN $1 ELSE revoked_at END
		WHERE token_id = $2 AND operator_id = $3`, micros(at), tokenID, operatorID)
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound("token %q of operator %q", tokenID, operatorID)
	}
	return nil
}

// TouchToken records the token's use at at, at most once a TouchEvery.
func (s *Store) TouchToken(ctx context.Context, tokenID string, at time.Time) error {
	_, err := s.exec(ctx, "touch token "+tokenID, "UPDATE operator_tokens SET last_used_at = $1 WHERE token_id = $2 AND last_used_at <= $3",
		micros(at), tokenID, micros(at.Add(-operator.TouchEvery)))
	return err
}

// SessionKey returns the console's key, storing candidate if none is: one
// statement, so of two servers starting at once both read the winner's.
func (s *Store) SessionKey(ctx context.Context, candidate []byte) ([]byte, error) {
	var key []byte
	var err error
	// A key another server inserted while this statement ran is not in its
	// snapshot: the second run reads it.
	for range 2 {
		err = s.pool.QueryRow(ctx, `WITH ins AS (INSERT INTO console_key (id, key) VALUES (1, $1) ON CONFLICT (id) DO NOTHING RETURNING key)
			SELECT key FROM ins UNION ALL SELECT key FROM console_key WHERE id = 1`, candidate).Scan(&key)
		if !errors.Is(err, pgx.ErrNoRows) {
			break
		}
		err = errors.New("no key stored")
	}
	if err != nil {
		return nil, s.noteError(failure(err, "console key"))
	}
	return key, nil
}
