package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"jifen/audit"
)

// The operators' audit log (audit.Store). An append locks the head row
// (SELECT … FOR UPDATE) before it reads it: appends from every server
// take their turn on that lock, so each is sealed after the one before
// it and the chain never forks. A row lock is all it needs — no advisory
// lock, no table lock — so it runs unchanged on distributed SQL
// databases that speak PostgreSQL's protocol.

var _ audit.Store = (*Store)(nil)

const auditCols = `seq, at, operator_id, operator_name, client_addr, action, brand_id, target, request_json, outcome,
	message, before_json, after_json, prev_hash, hash`

const sqlInsertAudit = "INSERT INTO audit_log (" + auditCols + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`

func auditArgs(e audit.Entry) []any {
	return []any{e.Seq, micros(e.At), e.OperatorID, e.OperatorName, e.ClientAddr, e.Action, e.BrandID, e.Target,
		string(e.Request), e.Outcome, e.Message, string(e.Before), string(e.After), e.PrevHash, e.Hash}
}

func scanAudit(r pgx.Rows) (audit.Entry, error) {
	var e audit.Entry
	var at int64
	var req, before, after string
	err := r.Scan(&e.Seq, &at, &e.OperatorID, &e.OperatorName, &e.ClientAddr, &e.Action, &e.BrandID, &e.Target,
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

func scanHead(r pgx.Rows) (audit.Head, error) {
	var h audit.Head
	err := r.Scan(&h.Seq, &h.Hash)
	return h, err
}

// AppendAudit seals e after the head, under the head row's lock, and
// stores it, moving the head.
func (s *Store) AppendAudit(ctx context.Context, e audit.Entry) (audit.Entry, error) {
	var stored audit.Entry
	err := s.webhookTx(ctx, "append an audit entry", func(tx pgx.Tx) error {
		var head audit.Head
		err := tx.QueryRow(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE").Scan(&head.Seq, &head.Hash)
		if errors.Is(err, pgx.ErrNoRows) {
			return errors.New("the audit head row is missing")
		}
		if err != nil {
			return err
		}
		stored = audit.Seal(e, head)
		if _, err := tx.Exec(ctx, sqlInsertAudit, auditArgs(stored)...); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1", stored.Seq, stored.Hash)
		return err
	})
	if err != nil {
		return e, err
	}
	return stored, nil
}

// AuditEntries lists the entries q selects, newest first.
func (s *Store) AuditEntries(ctx context.Context, q audit.Query) ([]audit.Entry, error) {
	var where []string
	var args []any
	add := func(cond string, a any) {
		args = append(args, a)
		where = append(where, strings.ReplaceAll(cond, "$?", "$"+strconv.Itoa(len(args))))
	}
	if q.Before > 0 {
		add("seq < $?", q.Before)
	}
	if q.Operator != "" {
		add("(operator_id = $? OR operator_name = $?)", q.Operator)
	}
	if prefix, ok := strings.CutSuffix(q.Action, "*"); ok {
		add(`action LIKE $? ESCAPE '\'`, escapeLike(prefix)+"%")
	} else if q.Action != "" {
		add("action = $?", q.Action)
	}
	if q.BrandID != "" {
		add("brand_id = $?", q.BrandID)
	}
	switch q.Outcome {
	case "":
	case audit.Failed:
		where = append(where, "outcome <> 'ok'")
	default:
		add("outcome = $?", q.Outcome)
	}
	if !q.From.IsZero() {
		add("at >= $?", micros(q.From))
	}
	if !q.To.IsZero() {
		add("at < $?", micros(q.To))
	}
	query := "SELECT " + auditCols + " FROM audit_log"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += " ORDER BY seq DESC"
	if q.Limit > 0 {
		args = append(args, q.Limit)
		query += " LIMIT $" + strconv.Itoa(len(args))
	}
	var es []audit.Entry
	if err := s.read(ctx, all(d("audit entries"), &es, scanAudit, query, args...)); err != nil {
		return nil, err
	}
	return es, nil
}

// EachAudit calls fn with every entry by seq, and returns the head, from
// one snapshot.
func (s *Store) EachAudit(ctx context.Context, fn func(audit.Entry) error) (audit.Head, error) {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return audit.Head{}, failure(err, "begin reading the audit log")
	}
	defer func() {
		// Read-only: ending it any way is fine, and a failure closes the
		// connection.
		_ = tx.Rollback(context.WithoutCancel(ctx))
	}()
	return eachAudit(ctx, tx, fn)
}

// eachAudit reads the head and then the entries a page at a time, in tx.
func eachAudit(ctx context.Context, tx pgx.Tx, fn func(audit.Entry) error) (audit.Head, error) {
	var head audit.Head
	var found bool
	if err := sendTx(ctx, tx, one(d("audit head"), &head, &found, scanHead, "SELECT seq, hash FROM audit_head WHERE id = 1")); err != nil {
		return head, err
	}
	if !found {
		return head, errors.New("postgres: the audit head row is missing")
	}
	var after int64
	for {
		var page []audit.Entry
		if err := sendTx(ctx, tx, all(d("audit entries"), &page, scanAudit,
			"SELECT "+auditCols+" FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT "+strconv.Itoa(auditPage), after)); err != nil {
			return head, err
		}
		for _, e := range page {
			if err := fn(e); err != nil {
				return head, err
			}
		}
		if len(page) < auditPage {
			return head, nil
		}
		after = page[len(page)-1].Seq
	}
}

// EachAudit calls fn with every audit log entry by seq.
func (v *dumpView) EachAudit(ctx context.Context, fn func(audit.Entry) error) (audit.Head, error) {
	return eachAudit(ctx, v.tx, fn)
}

// InsertAudit queues e's insert as it is, and makes it the head.
func (l *dumpLoader) InsertAudit(ctx context.Context, e audit.Entry) error {
	what := d("audit entry %d", e.Seq)
	if err := l.queue(ctx, what, sqlInsertAudit, auditArgs(e)...); err != nil {
		return err
	}
	return l.queue(ctx, what, "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1", e.Seq, e.Hash)
}
