package points

import (
	"context"
	"errors"
	"strings"

	"jifen/ledger"
)

// CreateCustomerRequest is customer.create.
type CreateCustomerRequest struct {
	Target
	Customer  ledger.Customer // ID and BrandID are assigned here
	RequestID string          `json:"-"`
}

// CreateCustomer registers a member of the target's brand. The result is
// the new customer id. The same (outer_type, outer_id) twice in a brand is
// CUSTOMER_ALREADY_EXISTS, naming the existing customer.
func (s *Service) CreateCustomer(ctx context.Context, c Caller, r CreateCustomerRequest) (Outcome, error) {
	cu := r.Customer
	if err := check([]field{{"request_id", r.RequestID}, {"channel", cu.Channel},
		{"outer_id", cu.OuterID}, {"outer_type", cu.OuterType}},
		field{"mobile", cu.Mobile}, field{"name", cu.Name}, field{"level_id", cu.LevelID}, field{"gender", cu.Gender},
		field{"email", cu.Email}, field{"birthday", cu.Birthday}, field{"address", cu.Address}, field{"remark", cu.Remark}); err != nil {
		return Outcome{}, err
	}
	if cu.CustomerType != 0 && cu.CustomerType != 1 {
		return Outcome{}, ledger.Invalidf("customer_type", "应为 0 或 1, 收到 %d", cu.CustomerType)
	}
	t := r.Target
	if KnownChannel(cu.Channel) {
		t.Channel = cu.Channel
	}
	res, err := s.resolve(ctx, c, t, false)
	if err != nil {
		return Outcome{}, err
	}
	cu.BrandID = res.Brand.ID
	cu.ShopID = res.Shop.ID
	method := "customer_create"
	return s.idempotent(ctx, c.App.Key, r.RequestID, method, fingerprint(method, r), Lookup{BrandID: cu.BrandID},
		func(w *write) (Outcome, ledger.Changes, error) {
			old, err := w.tx.CustomerByOuterID(ctx, cu.BrandID, strings.TrimSpace(cu.OuterType), strings.TrimSpace(cu.OuterID))
			if err == nil {
				return Outcome{}, ledger.Changes{}, ledger.Business(ledger.CodeCustomerExists, "顾客已存在",
					"a customer with %s %s already exists in brand %s: %s", cu.OuterType, cu.OuterID, cu.BrandID, old.ID)
			}
			if !errors.Is(err, ErrNotFound) {
				return Outcome{}, ledger.Changes{}, err
			}
			cu.ID = s.NewID()
			cu.CreatedAt = w.now
			if err := w.tx.PutCustomer(ctx, cu); err != nil {
				return Outcome{}, ledger.Changes{}, err
			}
			if err := w.tx.Emit(ctx, s.customerEvent(EventCustomerCreated, cu, w.now)); err != nil {
				return Outcome{}, ledger.Changes{}, err
			}
			return Outcome{Result: cu.ID}, ledger.Changes{}, nil
		})
}
