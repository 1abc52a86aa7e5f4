package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
)

// FlowHash is the tamper-evidence hash of a flow: SHA-256 over the previous
// flow's hash and every field of this one that says what happened
// (ledger rules §9.6). Changing any stored field breaks the chain.
func FlowHash(f Flow) string {
	var b strings.Builder
	field := func(s string) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	num := func(n int64) { field(strconv.FormatInt(n, 10)) }
	field(f.PrevHash)
	field(f.ID)
	field(f.BrandID)
	field(f.CustomerID)
	num(f.Seq)
	field(string(f.Type))
	num(f.Amount)
	num(f.DeltaAvailable)
	num(f.DeltaFrozen)
	num(f.DeltaDebt)
	num(f.RemainPoint)
	field(f.OutBizID)
	field(f.ReverseOrderID)
	field(f.ShopID)
	field(f.AppKey)
	field(f.RequestID)
	field(f.OperatorID)
	field(f.Reason)
	field(f.Policy)
	num(f.CreatedAt.UnixMicro())
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}
