package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"jifen/operator"
)

// The operators, their tokens and the console's session key
// (operator.Store). Writes go through the writer like every other write.

var _ operator.Store = (*Store)(nil)

const operatorCols = `operator_id, name, role, brands, points_limit, disabled, password_hash, password_changed_at,
	failed_sign_ins, locked_until, created_at, updated_at`

func scanOperator(sc scanner) (operator.Operator, error) {
	var o operator.Operator
	var brands string
	var changed, locked, created, updated int64
	if err := sc.Scan(&o.ID, &o.Name, &o.Role, &brands, &o.Limit, &o.Disabled, &o.PasswordHash, &changed,
		&o.FailedSignIns, &locked, &created, &updated); err != nil {
		return o, err
	}
	if err := json.Unmarshal([]byte(brands), &o.Brands); err != nil {
		return o, fmt.Errorf("operator %q brands: %w", o.ID, err)
	}
	if len(o.Brands) == 0 {
		o.Brands = nil
	}
	o.PasswordChangedAt, o.LockedUntil = fromMicros(changed), fromMicros(locked)
	o.CreatedAt, o.UpdatedAt = fromMicros(created), fromMicros(updated)
	return o, nil
}

func brandsJSON(bs []string) string {
	if bs == nil {
		bs = []string{}
	}
	b, err := json.Marshal(bs)
	if err != nil {
		panic(err) // a slice of strings
	}
	return string(b)
}

// AddOperator stores a new operator; operator.ErrNameTaken if its name is.
func (s *Store) AddOperator(ctx context.Context, o operator.Operator) error {
	err := s.writeTx(ctx, func(t *Tx) error {
		_, err := t.w.exec("INSERT INTO operators ("+operatorCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			o.ID, o.Name, string(o.Role), brandsJSON(o.Brands), o.Limit, o.Disabled, o.PasswordHash,
			micros(o.PasswordChangedAt), o.FailedSignIns, micros(o.LockedUntil), micros(o.CreatedAt), micros(o.UpdatedAt))
		return err
	})
	if isUnique(err) {
		return fmt.Errorf("sqlite: add operator %q: %w", o.Name, operator.ErrNameTaken)
	}
	if err != nil {
		return fmt.Errorf("sqlite: add operator %q: %w", o.Name, err)
	}
	return nil
}

// operatorWrite runs one UPDATE of an operator; ErrNotFound if none.
func (s *Store) operatorWrite(ctx context.Context, id, query string, args ...any) error {
	var n int
	err := s.writeTx(ctx, func(t *Tx) (err error) {
		n, err = t.w.exec(query, args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: operator %q: %w", id, err)
	}
	if n == 0 {
		return notFound("operator %q", id)
	}
	return nil
}

// UpdateOperator stores o's role, brands, limit and disablement.
func (s *Store) UpdateOperator(ctx context.Context, o operator.Operator) error {
	return s.operatorWrite(ctx, o.ID, `UPDATE operators SET role = ?, brands = ?, points_limit = ?, disabled = ?, updated_at = ?
		WHERE operator_id = ?`, string(o.Role), brandsJSON(o.Brands), o.Limit, o.Disabled, micros(o.UpdatedAt), o.ID)
}

func (s *Store) operatorBy(ctx context.Context, q queryer, col, v string) (operator.Operator, error) {
	o, ok, err := one(ctx, q, scanOperator, "SELECT "+operatorCols+" FROM operators WHERE "+col+" = +?", v)
	if err != nil {
		return o, fmt.Errorf("sqlite: operator %q: %w", v, err)
	}
	if !ok {
		return o, notFound("operator %q", v)
	}
	return o, nil
}

// Operator returns one operator.
func (s *Store) Operator(ctx context.Context, id string) (operator.Operator, error) {
	return s.operatorBy(ctx, s.rdb, "operator_id", id)
}

// OperatorByName returns the operator named name.
func (s *Store) OperatorByName(ctx context.Context, name string) (operator.Operator, error) {
	return s.operatorBy(ctx, s.rdb, "name", name)
}

// Operators lists every operator, by name.
func (s *Store) Operators(ctx context.Context) ([]operator.Operator, error) {
	os, err := all(ctx, s.rdb, scanOperator, "SELECT "+operatorCols+" FROM operators ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("sqlite: operators: %w", err)
	}
	return os, nil
}

// SetPassword stores a new password hash and lifts a lock.
func (s *Store) SetPassword(ctx context.Context, id, hash string, at time.Time) error {
	return s.operatorWrite(ctx, id, `UPDATE operators SET password_hash = ?, password_changed_at = ?, failed_sign_ins = 0,
		locked_until = 0, updated_at = ? WHERE operator_id = ?`, hash, micros(at), micros(at), id)
}

// SignInFailed counts a failed sign-in; the max-th locks the operator.
func (s *Store) SignInFailed(ctx context.Context, id string, now time.Time, max int, lock time.Duration) (operator.Operator, error) {
	var o operator.Operator
	err := s.writeTx(ctx, func(t *Tx) error {
		n, err := t.w.exec(`UPDATE operators SET
				locked_until = CASE WHEN failed_sign_ins + 1 >= ? THEN ? ELSE locked_until END,
				failed_sign_ins = CASE WHEN failed_sign_ins + 1 >= ? THEN 0 ELSE failed_sign_ins + 1 END
			WHERE operator_id = ?`, max, micros(now.Add(lock)), max, id)
		if err != nil {
			return err
		}
		if n == 0 {
			return notFound("operator %q", id)
		}
		o, err = s.operatorBy(ctx, t.w, "operator_id", id)
		return err
	})
	if err != nil {
		return o, fmt.Errorf("sqlite: failed sign-in of %q: %w", id, err)
	}
	return o, nil
}

// SignedIn clears the failed sign-ins.
func (s *Store) SignedIn(ctx context.Context, id string) error {
	return s.operatorWrite(ctx, id, "UPDATE operators SET failed_sign_ins = 0 WHERE operator_id = ?", id)
}

const tokenCols = "token_id, operator_id, name, created_at, last_used_at, revoked_at"

func scanToken(sc scanner) (operator.Token, error) {
	var t operator.Token
	var created, used, revoked int64
	if err := sc.Scan(&t.ID, &t.OperatorID, &t.Name, &created, &used, &revoked); err != nil {
		return t, err
	}
	t.CreatedAt, t.LastUsedAt, t.RevokedAt = fromMicros(created), fromMicros(used), fromMicros(revoked)
	return t, nil
}

// AddToken stores a token with the hash of its secret.
func (s *Store) AddToken(ctx context.Context, tok operator.Token, hash []byte) error {
	err := s.writeTx(ctx, func(t *Tx) error {
		_, err := t.w.exec("INSERT INTO operator_tokens (token_id, operator_id, name, hash, created_at, last_used_at, revoked_at) VALUES (?, ?, ?, ?, ?, 0, 0)",
			tok.ID, tok.OperatorID, tok.Name, hash, micros(tok.CreatedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: add token of %q: %w", tok.OperatorID, err)
	}
	return nil
}

// TokenByHash returns the token whose secret hashes to hash, with its
// operator.
func (s *Store) TokenByHash(ctx context.Context, hash []byte) (operator.Token, operator.Operator, error) {
	type both struct {
		t operator.Token
		o operator.Operator
	}
	b, ok, err := one(ctx, s.rdb, func(sc scanner) (both, error) {
		var b both
		var created, used, revoked int64
		var brands string
		var changed, locked, ocreated, updated int64
		err := sc.Scan(&b.t.ID, &b.t.OperatorID, &b.t.Name, &created, &used, &revoked,
			&b.o.ID, &b.o.Name, &b.o.Role, &brands, &b.o.Limit, &b.o.Disabled, &b.o.PasswordHash, &changed,
			&b.o.FailedSignIns, &locked, &ocreated, &updated)
		if err != nil {
			return b, err
		}
		b.t.CreatedAt, b.t.LastUsedAt, b.t.RevokedAt = fromMicros(created), fromMicros(used), fromMicros(revoked)
		if err := json.Unmarshal([]byte(brands), &b.o.Brands); err != nil {
			return b, fmt.Errorf("operator %q brands: %w", b.o.ID, err)
		}
		if len(b.o.Brands) == 0 {
			b.o.Brands = nil
		}
		b.o.PasswordChangedAt, b.o.LockedUntil = fromMicros(changed), fromMicros(locked)
		b.o.CreatedAt, b.o.UpdatedAt = fromMicros(ocreated), fromMicros(updated)
		return b, nil
	}, "SELECT "+prefixed("t.", tokenCols)+", "+prefixed("o.", operatorCols)+
		" FROM operator_tokens t JOIN operators o ON o.operator_id = t.operator_id WHERE t.hash = +?", hash)
	if err != nil {
		return b.t, b.o, fmt.Errorf("sqlite: token: %w", err)
	}
	if !ok {
		return b.t, b.o, notFound("token")
	}
	return b.t, b.o, nil
}

// Tokens lists an operator's tokens, oldest first.
func (s *Store) Tokens(ctx context.Context, operatorID string) ([]operator.Token, error) {
	ts, err := all(ctx, s.rdb, scanToken, "SELECT "+tokenCols+" FROM operator_tokens WHERE operator_id = +? ORDER BY created_at, token_id", operatorID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: tokens of %q: %w", operatorID, err)
	}
	return ts, nil
}

// RevokeToken revokes an operator's token, keeping a first revocation.
func (s *Store) RevokeToken(ctx context.Context, operatorID, tokenID string, at time.Time) error {
	var n int
	err := s.writeTx(ctx, func(t *Tx) (err error) {
		n, err = t.w.exec(`UPDATE operator_tokens SET revoked_at = CASE WHEN revoked_at = 0 THEN ? ELSE revoked_at END
			WHERE token_id = ? AND operator_id = ?`, micros(at), tokenID, operatorID)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: revoke token %q: %w", tokenID, err)
	}
	if n == 0 {
		return notFound("token %q of operator %q", tokenID, operatorID)
	}
	return nil
}

// TouchToken records the token's use at at, at most once a TouchEvery.
func (s *Store) TouchToken(ctx context.Context, tokenID string, at time.Time) error {
	err := s.writeTx(ctx, func(t *Tx) error {
		_, err := t.w.exec("UPDATE operator_tokens SET last_used_at = ? WHERE token_id = ? AND last_used_at <= ?",
			micros(at), tokenID, micros(at.Add(-operator.TouchEvery)))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: touch token %q: %w", tokenID, err)
	}
	return nil
}

// SessionKey returns the console's key, storing candidate if none is.
func (s *Store) SessionKey(ctx context.Context, candidate []byte) ([]byte, error) {
	var key []byte
	err := s.writeTx(ctx, func(t *Tx) error {
		if _, err := t.w.exec("INSERT INTO console_key (id, key) VALUES (1, ?) ON CONFLICT (id) DO NOTHING", candidate); err != nil {
			return err
		}
		k, _, err := one(ctx, t.w, func(sc scanner) ([]byte, error) {
			var k []byte
			return k, sc.Scan(&k)
		}, "SELECT key FROM console_key WHERE id = 1")
		key = k
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: console key: %w", err)
	}
	return key, nil
}
