package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"jifen/approval"
)

// The approvals of four eyes (approval.Store). Writes go through the
// writer like every other write; a decision is one conditional UPDATE.

var _ approval.Store = (*Store)(nil)

const approvalCols = `approval_id, brand_id, kind, request, points, request_id, requester_id, requester_name,
	created_at, expires_at, state, decided_by_id, decided_by_name, decided_at, reason, result`

func scanApproval(sc scanner) (approval.Approval, error) {
	var a approval.Approval
	var request string
	var created, expires, decided int64
	if err := sc.Scan(&a.ID, &a.BrandID, &a.Kind, &request, &a.Points, &a.RequestID, &a.RequesterID, &a.RequesterName,
		&created, &expires, &a.State, &a.DeciderID, &a.DeciderName, &decided, &a.Reason, &a.Result); err != nil {
		return a, err
	}
	a.Request = []byte(request)
	a.CreatedAt, a.ExpiresAt, a.DecidedAt = fromMicros(created), fromMicros(expires), fromMicros(decided)
	return a, nil
}

// AddApproval stores a new pending approval.
func (s *Store) AddApproval(ctx context.Context, a approval.Approval) error {
	err := s.writeTx(ctx, func(t *Tx) error {
		_, err := t.w.exec("INSERT INTO approvals ("+approvalCols+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', '', 0, '', '')",
			a.ID, a.BrandID, string(a.Kind), string(a.Request), a.Points, a.RequestID, a.RequesterID, a.RequesterName,
			micros(a.CreatedAt), micros(a.ExpiresAt), string(approval.Pending))
		return err
	})
	if isUnique(err) {
		return fmt.Errorf("sqlite: add approval for request %q: %w", a.RequestID, approval.ErrRequestTaken)
	}
	if err != nil {
		return fmt.Errorf("sqlite: add approval %q: %w", a.ID, err)
	}
	return nil
}

func (s *Store) approvalBy(ctx context.Context, col, v string) (approval.Approval, error) {
	a, ok, err := one(ctx, s.rdb, scanApproval, "SELECT "+approvalCols+" FROM approvals WHERE "+col+" = ?", v)
	if err != nil {
		return a, fmt.Errorf("sqlite: approval %q: %w", v, err)
	}
	if !ok {
		return a, notFound("approval %q", v)
	}
	return a, nil
}

// Approval returns one approval.
func (s *Store) Approval(ctx context.Context, id string) (approval.Approval, error) {
	return s.approvalBy(ctx, "approval_id", id)
}

// ApprovalByRequest returns the approval with a request id.
func (s *Store) ApprovalByRequest(ctx context.Context, requestID string) (approval.Approval, error) {
	return s.approvalBy(ctx, "request_id", requestID)
}

// Approvals lists approvals matching q, newest first.
func (s *Store) Approvals(ctx context.Context, q approval.Query) ([]approval.Approval, error) {
	var where []string
	var args []any
	if len(q.Brands) > 0 {
		where = append(where, "brand_id IN (?"+strings.Repeat(", ?", len(q.Brands)-1)+")")
		for _, b := range q.Brands {
			args = append(args, b)
		}
	}
	switch q.State {
	case "":
	case approval.Pending:
		where = append(where, "state = 'pending' AND expires_at > ?")
		args = append(args, micros(q.Now))
	case approval.Expired:
		where = append(where, "(state = 'expired' OR (state = 'pending' AND expires_at <= ?))")
		args = append(args, micros(q.Now))
	default:
		where = append(where, "state = ?")
		args = append(args, string(q.State))
	}
	query := "SELECT " + approvalCols + " FROM approvals"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, q.Limit)
	as, err := all(ctx, s.rdb, scanApproval, query+" ORDER BY created_at DESC, approval_id DESC LIMIT ?", args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: approvals: %w", err)
	}
	return as, nil
}

// DecideApproval ends a pending approval not yet expired at d.At.
func (s *Store) DecideApproval(ctx context.Context, id string, d approval.Decision) (bool, error) {
	var n int
	err := s.writeTx(ctx, func(t *Tx) (err error) {
		n, err = t.w.exec(`UPDATE approvals SET state = ?, decided_by_id = ?, decided_by_name = ?, decided_at = ?, reason = ?
			WHERE approval_id = ? AND state = 'pending' AND expires_at > ?`,
			string(d.State), d.ByID, d.ByName, micros(d.At), d.Reason, id, micros(d.At))
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: decide approval %q: %w", id, err)
	}
	return n == 1, nil
}

// SetApprovalResult records an approved approval's first result.
func (s *Store) SetApprovalResult(ctx context.Context, id string, state approval.State, result string) error {
	err := s.writeTx(ctx, func(t *Tx) error {
		_, err := t.w.exec("UPDATE approvals SET state = ?, result = ? WHERE approval_id = ? AND state = 'approved' AND result = ''",
			string(state), result, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: result of approval %q: %w", id, err)
	}
	return nil
}

// ExpireApprovals ends the pending approvals expired at now.
func (s *Store) ExpireApprovals(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := s.writeTx(ctx, func(t *Tx) (err error) {
		n, err = t.w.exec("UPDATE approvals SET state = 'expired', decided_at = expires_at WHERE state = 'pending' AND expires_at <= ?",
			micros(now))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: expire approvals: %w", err)
	}
	return n, nil
}

// Unexecuted lists approved approvals without a result.
func (s *Store) Unexecuted(ctx context.Context, before time.Time, limit int) ([]approval.Approval, error) {
	as, err := all(ctx, s.rdb, scanApproval, "SELECT "+approvalCols+` FROM approvals
		WHERE state = 'approved' AND result = '' AND decided_at <= ? ORDER BY decided_at LIMIT ?`, micros(before), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: unexecuted approvals: %w", err)
	}
	return as, nil
}
