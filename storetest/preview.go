package storetest

import (
	"testing"

	"jifen/backoffice"
	"jifen/ledger"
	"jifen/points"
)

// The operators' refund preview runs the write's own decision: on every
// refusal a reversal can meet, the preview and the write say the same.

func init() {
	extra = append(extra, suiteTest{"AdminPreviewAgreesWithWrite", testPreviewAgrees})
}

func testPreviewAgrees(t *testing.T, open Opener) {
	type setup func(e *Env)
	spent := func(e *Env) {
		e.MustCharge("C1", "g1", 200)
		e.MustConsume("C1", "o1", 100)
	}
	cases := []struct {
		name  string
		setup setup
		r     backoffice.ReverseRequest
		code  string // business code both must answer; "" for success
		field string // or the invalid field both must name
	}{
		{"OK partial", spent, backoffice.ReverseRequest{OutBizID: "o1", Points: P(40)}, "", ""},
		{"OK all", spent, backoffice.ReverseRequest{OutBizID: "o1"}, "", ""},
		{"OrderNotFound", spent, backoffice.ReverseRequest{OutBizID: "nope"}, ledger.CodeConsumeOrderNotFound, ""},
		{"ChargeOrderNotFound", spent, backoffice.ReverseRequest{OutBizID: "o1", Type: ledger.ExtraChargeReverse},
			ledger.CodeChargeOrderNotFound, ""},
		{"ExceedsSpent", spent, backoffice.ReverseRequest{OutBizID: "o1", Points: P(101)}, ledger.CodeReverseExceedsSpent, ""},
		{"AlreadyFullyReversed", func(e *Env) {
			spent(e)
			e.mustReverse("o1", "r-all", nil)
		}, backoffice.ReverseRequest{OutBizID: "o1"}, ledger.CodeAlreadyFullyReversed, ""},
		{"Replay", func(e *Env) {
			spent(e)
			e.mustReverse("o1", "r-1", P(30))
		}, backoffice.ReverseRequest{OutBizID: "o1", Points: P(30), ReverseOrderID: "r-1"}, "", ""},
		{"ReverseOrderOtherAmount", func(e *Env) {
			spent(e)
			e.mustReverse("o1", "r-1", P(30))
		}, backoffice.ReverseRequest{OutBizID: "o1", Points: P(20), ReverseOrderID: "r-1"}, ledger.CodeReverseOrderConflict, ""},
		{"ReverseOrderOtherCustomer", func(e *Env) {
			spent(e)
			e.MustCharge("C2", "g2", 200)
			e.MustConsume("C2", "o1", 100)
			r := e.Reverse("o1", "r-1", P(30))
			r.CustomerID = "C1"
			if _, err := e.Svc.Reverse(e.Ctx, e.Caller, r); err != nil {
				e.T.Fatal(err)
			}
		}, backoffice.ReverseRequest{OutBizID: "o1", CustomerID: "C2", Points: P(30), ReverseOrderID: "r-1"},
			ledger.CodeReverseOrderConflict, ""},
		{"SharedOrderNeedsCustomer", func(e *Env) {
			spent(e)
			e.MustCharge("C2", "g2", 200)
			e.MustConsume("C2", "o1", 100)
		}, backoffice.ReverseRequest{OutBizID: "o1"}, "", "customer_id"},
		{"NotTheOrdersCustomer", spent, backoffice.ReverseRequest{OutBizID: "o1", CustomerID: "C2"}, "", "customer_id"},
		{"ClawbackShortfall", func(e *Env) {
			e.MustCharge("C1", "g1", 100)
			e.MustConsume("C1", "o1", 90)
		}, backoffice.ReverseRequest{OutBizID: "g1", Type: ledger.ExtraChargeReverse}, ledger.CodePointNotEnough, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := NewEnv(t, open)
			c.setup(e)
			a := e.Admin()
			r := c.r
			r.BrandID, r.ShopID, r.RequestID = "B1", "S1", "agree-"+c.name
			if r.ReverseOrderID == "" {
				r.ReverseOrderID = "admin-" + r.RequestID
			}
			p, perr := a.PreviewReversal(e.Ctx, r)
			out, werr := a.Reverse(e.Ctx, points.Actor{Name: "小李"}, r)
			switch {
			case c.code != "":
				WantCode(t, perr, c.code)
				WantCode(t, werr, c.code)
			case c.field != "":
				WantInvalid(t, perr, c.field)
				WantInvalid(t, werr, c.field)
			default:
				if perr != nil || werr != nil {
					t.Fatalf("preview: %v; write: %v", perr, werr)
				}
				if (p.Replay != nil) != out.Replayed {
					t.Fatalf("preview replay %v, write replayed %v", p.Replay != nil, out.Replayed)
				}
				flows := e.Flows(p.CustomerID)
				if got := flows[0]; !out.Replayed && (got.ID != out.FlowID || got.Amount != p.Points) {
					t.Fatalf("the write moved %d (flow %s), the preview said %d", got.Amount, got.ID, p.Points)
				}
				if out.Replayed && p.Replay.FlowID != out.FlowID {
					t.Fatalf("preview replays flow %s, the write %s", p.Replay.FlowID, out.FlowID)
				}
			}
		})
	}
}

// mustReverse refunds n points (nil: all) of order under refund's name.
func (e *Env) mustReverse(order, refund string, n *int64) {
	e.T.Helper()
	if _, err := e.Svc.Reverse(e.Ctx, e.Caller, e.Reverse(order, refund, n)); err != nil {
		e.T.Fatalf("reverse %s of %s: %v", refund, order, err)
	}
}
