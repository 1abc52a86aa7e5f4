package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"jifen/audit"
)

// The operators' audit log (audit.Store). An append goes through the
// writer like every other write: the writer is the only one, so reading
// the head and moving it never races another append.

var _ audit.Store = (*Store)(nil)

const auditCols = `seq, at, operator_id, operator_name, client_addr, action, brand_id, target, request_json, outcome,
	message, before_json, after_json, prev_hash, hash`

const sqlInsertAudit = "INSERT INTO audit_log (" + auditCols + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

func auditArgs(e audit.Entry) []any {
	return []any{e.Seq, micros(e.At), e.OperatorID, e.OperatorName, e.ClientAddr, e.Action, e.BrandID, e.Target,
		string(e.Request), e.Outcome, e.Message, string(e.Before), string(e.After), e.PrevHash, e.Hash}
}

func scanAudit(sc scanner) (audit.Entry, error) {
	var e audit.Entry
	var at int64
	var req, before, after string
	err := sc.Scan(&e.Seq, &at, &e.OperatorID, &e.OperatorName, &e.ClientAddr, &e.Action, &e.BrandID, &e.Target,
		&req, &e.Outcome, &e.Message, &before, &after, &e.PrevHash, &e.Hash)
	e.At = fromMicros(at)
	e.Request, e.Before, e.After = rawJSON(req), rawJSON(before), rawJSON(after)
	return e, err
}

// rawJSON is a stored JSON column: "" is none.
func rawJSON(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

func scanHead(sc scanner) (audit.Head, error) {
	var h audit.Head
	err := sc.Scan(&h.Seq, &h.Hash)
	return h, err
}

// AppendAudit seals e after the head and stores it, moving the head.
func (s *Store) AppendAudit(ctx context.Context, e audit.Entry) (audit.Entry, error) {
	var stored audit.Entry
	err := s.writeTx(ctx, func(t *Tx) error {
		head, ok, err := one(ctx, t.w, scanHead, "SELECT seq, hash FROM audit_head WHERE id = 1")
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("the audit head row is missing")
		}
		stored = audit.Seal(e, head)
		if _, err := t.w.exec(sqlInsertAudit, auditArgs(stored)...); err != nil {
			return err
		}
		n, err := t.w.exec("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1 AND seq = ?", stored.Seq, stored.Hash, head.Seq)
		if err == nil && n != 1 {
			err = fmt.Errorf("the audit head moved during the append")
		}
		return err
	})
	if err != nil {
		return e, fmt.Errorf("sqlite: append audit entry: %w", err)
	}
	return stored, nil
}

// AuditEntries lists the entries q selects, newest first.
func (s *Store) AuditEntries(ctx context.Context, q audit.Query) ([]audit.Entry, error) {
	var where []string
	var args []any
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	if q.Before > 0 {
		add("seq < +?", q.Before)
	}
	if q.Operator != "" {
		add("(operator_id = +? OR operator_name = +?)", q.Operator, q.Operator)
	}
	if prefix, ok := strings.CutSuffix(q.Action, "*"); ok {
		add("action LIKE +? ESCAPE '\\'", escapeLike(prefix)+"%")
	} else if q.Action != "" {
		add("action = +?", q.Action)
	}
	if q.BrandID != "" {
		add("brand_id = +?", q.BrandID)
	}
	switch q.Outcome {
	case "":
	case audit.Failed:
		add("outcome <> 'ok'")
	default:
		add("outcome = +?", q.Outcome)
	}
	if !q.From.IsZero() {
		add("at >= +?", micros(q.From))
	}
	if !q.To.IsZero() {
		add("at < +?", micros(q.To))
	}
	query := "SELECT " + auditCols + " FROM audit_log"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY seq DESC LIMIT +?"
	args = append(args, limitOrAll(q.Limit))
	es, err := all(ctx, s.rdb, scanAudit, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit entries: %w", err)
	}
	return es, nil
}

// EachAudit calls fn with every entry by seq, and returns the head, from
// one snapshot.
func (s *Store) EachAudit(ctx context.Context, fn func(audit.Entry) error) (audit.Head, error) {
	tx, err := s.readTx(ctx)
	if err != nil {
		return audit.Head{}, err
	}
	defer tx.Rollback()
	return eachAudit(ctx, tx, fn)
}

func eachAudit(ctx context.Context, q queryer, fn func(audit.Entry) error) (audit.Head, error) {
	head, ok, err := one(ctx, q, scanHead, "SELECT seq, hash FROM audit_head WHERE id = 1")
	if err != nil {
		return head, fmt.Errorf("sqlite: audit head: %w", err)
	}
	if !ok {
		return head, fmt.Errorf("sqlite: the audit head row is missing")
	}
	if err := each(ctx, q, scanAudit, fn, "SELECT "+auditCols+" FROM audit_log ORDER BY seq"); err != nil {
		return head, fmt.Errorf("sqlite: audit entries: %w", err)
	}
	return head, nil
}
