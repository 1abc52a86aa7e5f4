package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"jifen/approval"
)

// The approvals of four eyes (approval.Store), shared by every server of
// the database: a decision is one conditional UPDATE, so two servers
// deciding at once cannot both.

var _ approval.Store = (*Store)(nil)

const approvalCols = `approval_id, brand_id, kind, request, points, request_id, requester_id, requester_name,
	created_at, expires_at, state, decided_by_id, decided_by_name, decided_at, reason, result`

func scanApproval(r pgx.Rows) (approval.Approval, error) {
	var a approval.Approval
	var request string
	var created, expires, decided int64
	if err := r.Scan(&a.ID, &a.BrandID, &a.Kind, &request, &a.Points, &a.RequestID, &a.RequesterID, &a.RequesterName,
		&created, &expires, &a.State, &a.DeciderID, &a.DeciderName, &decided, &a.Reason, &a.Result); err != nil {
		return a, err
	}
	a.Request = []byte(request)
	a.CreatedAt, a.ExpiresAt, a.DecidedAt = fromMicros(created), fromMicros(expires), fromMicros(decided)
	return a, nil
}

// AddApproval stores a new pending approval.
func (s *Store) AddApproval(ctx context.Context, a approval.Approval) error {
	_, err := s.pool.Exec(ctx, "INSERT INTO approvals ("+approvalCols+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, '', '', 0, '', '')",
		a.ID, a.BrandID, string(a.Kind), string(a.Request), a.Points, a.RequestID, a.RequesterID, a.RequesterName,
		micros(a.CreatedAt), micros(a.ExpiresAt), string(approval.Pending))
	if isCode(err, codeUniqueViolation) {
		return fmt.Errorf("postgres: add approval for request %q: %w", a.RequestID, approval.ErrRequestTaken)
	}
	if err != nil {
		return s.noteError(failure(err, "add approval "+a.ID))
	}
	return nil
}

func (s *Store) approvalBy(ctx context.Context, col, v string) (approval.Approval, error) {
	var a approval.Approval
	var found bool
	if err := s.read(ctx, one(d("approval %q", v), &a, &found, scanApproval,
		"SELECT "+approvalCols+" FROM approvals WHERE "+col+" = $1", v)); err != nil {
		return a, err
	}
	if !found {
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
	args := []any{q.Limit}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if len(q.Brands) > 0 {
		where = append(where, "brand_id = ANY("+arg(q.Brands)+")")
	}
	switch q.State {
	case "":
	case approval.Pending:
		where = append(where, "state = 'pending' AND expires_at > "+arg(micros(q.Now)))
	case approval.Expired:
		where = append(where, "(state = 'expired' OR (state = 'pending' AND expires_at <= "+arg(micros(q.Now))+"))")
	default:
		where = append(where, "state = "+arg(string(q.State)))
	}
	sql := "SELECT " + approvalCols + " FROM approvals"
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	var as []approval.Approval
	if err := s.read(ctx, all(d("approvals"), &as, scanApproval, sql+" ORDER BY created_at DESC, approval_id COLLATE \"C\" DESC LIMIT $1", args...)); err != nil {
		return nil, err
	}
	return as, nil
}

// DecideApproval ends a pending approval not yet expired at d.At.
func (s *Store) DecideApproval(ctx context.Context, id string, dec approval.Decision) (bool, error) {
	n, err := s.exec(ctx, "decide approval "+id, `UPDATE approvals SET state = $1, decided_by_id = $2, decided_by_name = $3,
		decided_at = $4, reason = $5 WHERE approval_id = $6 AND state = 'pending' AND expires_at > $4`,
		string(dec.State), dec.ByID, dec.ByName, micros(dec.At), dec.Reason, id)
	return n == 1, err
}

// SetApprovalResult records an approved approval's first result.
func (s *Store) SetApprovalResult(ctx context.Context, id string, state approval.State, result string) error {
	_, err := s.exec(ctx, "result of approval "+id,
		"UPDATE approvals SET state = $1, result = $2 WHERE approval_id = $3 AND state = 'approved' AND result = ''",
		string(state), result, id)
	return err
}

// ExpireApprovals ends the pending approvals expired at now.
func (s *Store) ExpireApprovals(ctx context.Context, now time.Time) (int, error) {
	n, err := s.exec(ctx, "expire approvals",
		"UPDATE approvals SET state = 'expired', decided_at = expires_at WHERE state = 'pending' AND expires_at <= $1", micros(now))
	return int(n), err
}

// Unexecuted lists approved approvals without a result.
func (s *Store) Unexecuted(ctx context.Context, before time.Time, limit int) ([]approval.Approval, error) {
	var as []approval.Approval
	if err := s.read(ctx, all(d("unexecuted approvals"), &as, scanApproval, "SELECT "+approvalCols+` FROM approvals
		WHERE state = 'approved' AND result = '' AND decided_at <= $1 ORDER BY decided_at LIMIT $2`, micros(before), limit)); err != nil {
		return nil, err
	}
	return as, nil
}
