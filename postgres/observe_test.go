package postgres

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"jifen/ledger"
	"jifen/points"
)

// TestWrite_Observe checks what Write reports to Options.OnRetry and
// OnError. The fns fail before their first statement, so no database is
// needed.
func TestWrite_Observe(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name        string
		fails       []error // what fn returns on successive attempts; nil after the last
		wantRetries []string
		wantErrors  []string
	}{
		{"OK", nil, nil, nil},
		{"Retried", []error{
			&pgconn.PgError{Code: codeSerializationFailure},
			&pgconn.PgError{Code: codeDeadlockDetected},
			&pgconn.PgError{Code: codeUniqueViolation, ConstraintName: "idempotency_pkey"},
			points.ErrConflict,
		}, []string{"serialization_failure", "deadlock", "unique_violation", "conflict"}, nil},
		{"Business", []error{ledger.Business(ledger.CodePointNotEnough, "积分不足", "short")}, nil, nil},
		{"Unavailable", []error{ledger.Unavailable("the database could not read; retry")}, nil, []string{"unavailable"}},
		{"Internal", []error{boom}, nil, []string{"internal"}},
		{"UniqueNotRetried", []error{&pgconn.PgError{Code: codeUniqueViolation, ConstraintName: "flows_pkey"}}, nil, []string{"internal"}},
		{"Exhausted", slices.Repeat([]error{points.ErrConflict}, maxAttempts),
			slices.Repeat([]string{"conflict"}, maxAttempts-1), []string{"unavailable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var retries, errs []string
			s := &Store{onRetry: func(r string) { retries = append(retries, r) }, onError: func(k string) { errs = append(errs, k) }}
			attempt := 0
			_ = s.Write(context.Background(), func(points.Tx) error {
				attempt++
				if attempt <= len(tt.fails) {
					return tt.fails[attempt-1]
				}
				return nil
			})
			if !slices.Equal(retries, tt.wantRetries) {
				t.Errorf("retries %v, want %v", retries, tt.wantRetries)
			}
			if !slices.Equal(errs, tt.wantErrors) {
				t.Errorf("errors %v, want %v", errs, tt.wantErrors)
			}
		})
	}
	t.Run("Cancelled", func(t *testing.T) {
		var errs []string
		s := &Store{onRetry: func(string) {}, onError: func(k string) { errs = append(errs, k) }}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := s.Write(ctx, func(points.Tx) error { return context.Canceled })
		if !errors.Is(err, context.Canceled) || len(errs) != 0 {
			t.Errorf("a cancelled write: err %v, reported %v; want context.Canceled, nothing reported", err, errs)
		}
	})
}
