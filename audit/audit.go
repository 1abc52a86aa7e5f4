// Package audit is the operators' audit log: every action taken in the
// console, through the admin API or with jifen's commands on the server
// (signing in, refunds, releases, adjustments, tenant and webhook
// changes, exports), who took it, from where, what was asked, how it
// ended and, for changes, the values before and after.
//
// The log is append-only and hash-chained like an account's flows: each
// entry's hash covers its fields and the hash of the entry before it, and
// the store keeps the newest entry's sequence number and hash in a head
// row, so an edited, deleted, reordered or truncated entry breaks the
// chain (Check, run by jifen verify). Secrets never reach it: values of
// keys that name a secret (secret, password, token, …) are replaced by
// "[redacted]" before an entry is hashed and stored.
//
// Both stores implement Store, declared here by its consumer; the
// conformance suite in package storetest checks them.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// The actions recorded. Operator actions of the operators' own records
// are "operator." and what was done ("operator.create", …).
const (
	SignIn           = "signin"
	SignInFailed     = "signin.failed"
	SignOut          = "signout"
	Reversal         = "reversal"
	HoldRelease      = "hold.release"
	Adjustment       = "adjustment"
	CustomerUpdate   = "customer.update"
	TenantApply      = "tenant.apply"
	BrandPut         = "brand.put"
	ShopPut          = "shop.put"
	RulePut          = "rule.put"
	AppPut           = "app.put"
	AppSecretRotate  = "app.secret.rotate"
	WebhookCreate    = "webhook.create"
	WebhookUpdate    = "webhook.update"
	WebhookDelete    = "webhook.delete"
	WebhookRotate    = "webhook.rotate_secret"
	WebhookRedeliver = "webhook.redeliver"
	Export           = "export"
	// An approval of another operator's refund or adjustment (four eyes),
	// which executes it, or its rejection.
	ApprovalApprove = "approval.approve"
	ApprovalReject  = "approval.reject"
	// OperatorPrefix starts the actions on operators' own records.
	OperatorPrefix = "operator."
	// The actions on operators' records: an operator created, changed
	// (role, brands, limit), disabled or enabled; a password reset by an
	// admin or changed by its operator; an API token created or revoked.
	OperatorCreate         = OperatorPrefix + "create"
	OperatorUpdate         = OperatorPrefix + "update"
	OperatorDisable        = OperatorPrefix + "disable"
	OperatorEnable         = OperatorPrefix + "enable"
	OperatorPasswordReset  = OperatorPrefix + "password.reset"
	OperatorPasswordChange = OperatorPrefix + "password.change"
	OperatorTokenCreate    = OperatorPrefix + "token.create"
	OperatorTokenRevoke    = OperatorPrefix + "token.revoke"
)

// actions are the fixed vocabulary, besides OperatorPrefix's.
var actions = map[string]bool{
	SignIn: true, SignInFailed: true, SignOut: true, Reversal: true, HoldRelease: true, Adjustment: true,
	CustomerUpdate: true, TenantApply: true, BrandPut: true, ShopPut: true, RulePut: true, AppPut: true,
	AppSecretRotate: true, WebhookCreate: true, WebhookUpdate: true, WebhookDelete: true, WebhookRotate: true,
	WebhookRedeliver: true, Export: true, ApprovalApprove: true, ApprovalReject: true,
}

// KnownAction reports whether a is in the vocabulary.
func KnownAction(a string) bool {
	return actions[a] || strings.HasPrefix(a, OperatorPrefix) && len(a) > len(OperatorPrefix)
}

// OK is the outcome of an action that succeeded; any other outcome is the
// error code it failed with.
const OK = "ok"

// Entry is one recorded action.
type Entry struct {
	Seq          int64 // 1, 2, … in the order appended
	At           time.Time
	OperatorID   string // the operator's id ("bootstrap", "cli" for those built in); "" for a failed sign-in
	OperatorName string
	ClientAddr   string
	Action       string
	BrandID      string // "" for actions not of one brand
	Target       string // what it acted on: a customer id, an order, a webhook id, …
	// Request is what was asked, as JSON with secrets redacted; nil for
	// nothing.
	Request json.RawMessage
	Outcome string // OK or the error code
	Message string // the error's message, for a failure
	// Before and After are the changed record's values, as JSON with
	// secrets redacted; nil where there is none (a creation has no
	// Before).
	Before, After json.RawMessage
	PrevHash      string // the previous entry's Hash; "" for the first
	Hash          string
}

// Head is the newest entry's sequence number and hash, as the store keeps
// them: 0 and "" for an empty log.
type Head struct {
	Seq  int64
	Hash string
}

// Query selects entries, newest first.
type Query struct {
	// Operator matches the operator's id or name exactly.
	Operator string
	// Action matches exactly, or, ending in ".*", every action starting
	// with what comes before the "*" ("webhook.*").
	Action  string
	BrandID string
	// Outcome is OK, "failed" (every outcome but OK), or an error code.
	Outcome string
	// From and To bound At: From ≤ At < To; zero for no bound.
	From, To time.Time
	// Before pages: entries with Seq below it; 0 for the newest.
	Before int64
	Limit  int
}

// Failed is Query.Outcome for every entry that did not succeed.
const Failed = "failed"

// MaxLimit is the most entries one List returns; DefaultLimit when the
// query names none.
const (
	MaxLimit     = 500
	DefaultLimit = 50
)

// Store keeps the log. Both stores implement it; there is no way to
// change or remove an entry.
type Store interface {
	// AppendAudit stores e as the entry after the head: it sets e.Seq,
	// e.PrevHash and e.Hash (Seal) and moves the head, in one
	// transaction that holds the head while it does, so that concurrent
	// appends, from any server, form one unbroken chain. It returns the
	// entry as stored.
	AppendAudit(ctx context.Context, e Entry) (Entry, error)
	// AuditEntries lists the entries q selects, newest first, at most
	// q.Limit of them.
	AuditEntries(ctx context.Context, q Query) ([]Entry, error)
	// EachAudit calls fn with every entry by Seq and returns the head, all
	// read as of one moment.
	EachAudit(ctx context.Context, fn func(Entry) error) (Head, error)
}

// hashV1 marks an entry hash of this version's fields.
const hashV1 = "1:"

// Seal makes e the entry after head: it sets e.Seq, e.PrevHash and e.Hash.
func Seal(e Entry, head Head) Entry {
	e.Seq = head.Seq + 1
	e.PrevHash = head.Hash
	e.Hash = Hash(e)
	return e
}

// Hash is the tamper-evidence hash of e: SHA-256 over the previous
// entry's hash and every stored field of e, each written as its length,
// ':' and its text (as ledger.FlowHash does), as "1:" and hex.
func Hash(e Entry) string {
	var b strings.Builder
	field := func(s string) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	field(e.PrevHash)
	field(strconv.FormatInt(e.Seq, 10))
	field(strconv.FormatInt(e.At.UnixMicro(), 10))
	field(e.OperatorID)
	field(e.OperatorName)
	field(e.ClientAddr)
	field(e.Action)
	field(e.BrandID)
	field(e.Target)
	field(string(e.Request))
	field(e.Outcome)
	field(e.Message)
	field(string(e.Before))
	field(string(e.After))
	s := sha256.Sum256([]byte(b.String()))
	return hashV1 + hex.EncodeToString(s[:])
}
