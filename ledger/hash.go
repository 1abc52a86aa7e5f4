package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// hashV2 marks a flow hash computed over every stored field of the flow.
// A hash without it is version 1, written before the shop name, channel,
// operator name and rule version were covered; it still verifies as
// version 1, so databases written then keep verifying.
const hashV2 = "2:"

// FlowHash is the tamper-evidence hash of a flow: SHA-256 over the previous
// flow's hash and every stored field of this one (ledger rules §9.6), as
// "2:" and hex. Changing any stored field breaks the chain.
func FlowHash(f Flow) string {
	h := newFlowHasher(f)
	h.field(f.ShopName)
	h.field(f.Channel)
	h.field(f.OperatorName)
	h.num(f.RuleVersion)
	return hashV2 + h.sum()
}

// HashMatches reports whether f's stored hash is the hash of its content,
// computed as the version the stored hash says it is.
func HashMatches(f Flow) bool {
	if strings.HasPrefix(f.Hash, hashV2) {
		return FlowHash(f) == f.Hash
	}
	return newFlowHasher(f).sum() == f.Hash
}

// flowHasher writes each field as its length, ':' and its text, so that no
// two different flows can share a preimage.
type flowHasher struct{ b strings.Builder }

// newFlowHasher starts with the fields both versions cover, in version 1's
// order.
func newFlowHasher(f Flow) *flowHasher {
	h := &flowHasher{}
	h.field(f.PrevHash)
	h.field(f.ID)
	h.field(f.BrandID)
	h.field(f.CustomerID)
	h.num(f.Seq)
	h.field(string(f.Type))
	h.num(f.Amount)
	h.num(f.DeltaAvailable)
	h.num(f.DeltaFrozen)
	h.num(f.DeltaDebt)
	h.num(f.RemainPoint)
	h.field(f.OutBizID)
	h.field(f.ReverseOrderID)
	h.field(f.ShopID)
	h.field(f.AppKey)
	h.field(f.RequestID)
	h.field(f.OperatorID)
	h.field(f.Reason)
	h.field(f.Policy)
	h.num(f.CreatedAt.UnixMicro())
	return h
}

func (h *flowHasher) field(s string) {
	h.b.WriteString(strconv.Itoa(len(s)))
	h.b.WriteByte(':')
	h.b.WriteString(s)
}

func (h *flowHasher) num(n int64) { h.field(strconv.FormatInt(n, 10)) }

func (h *flowHasher) sum() string {
	s := sha256.Sum256([]byte(h.b.String()))
	return hex.EncodeToString(s[:])
}
