package postgres

import (
	"context"
	"errors"

	"jifen/ledger"
	"jifen/points"
)

// noteRetry tells Options.OnRetry that Write runs fn again after err,
// a retryable error.
func (s *Store) noteRetry(err error) {
	if s.onRetry == nil {
		return
	}
	reason := "conflict"
	if pe := pgError(err); pe != nil {
		switch pe.Code {
		case codeSerializationFailure:
			reason = "serialization_failure"
		case codeDeadlockDetected:
			reason = "deadlock"
		case codeUniqueViolation:
			reason = "unique_violation"
		}
	}
	s.onRetry(reason)
}

// noteError tells Options.OnError of a write that failed for the
// database's sake, and returns err.
func (s *Store) noteError(err error) error {
	if s.onError == nil || errors.Is(err, context.Canceled) || errors.Is(err, points.ErrNotFound) {
		return err
	}
	if le, ok := ledger.AsError(err); ok {
		if le.Kind == ledger.KindUnavailable {
			s.onError("unavailable")
		}
		return err
	}
	s.onError("internal")
	return err
}
