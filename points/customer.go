package points

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

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

// UpdateCustomerRequest is customer.update. A nil field is left as it is;
// a field given as "" is cleared. Phone, Invoice, ExtInfo and TagIDs are
// checked and accepted but not kept: jifen stores no such fields (nor
// does customer.create).
type UpdateCustomerRequest struct {
	Target
	CustomerID string
	Mobile     *string
	Name       *string
	LevelID    *string
	Gender     *string // "0" female, "1" male, "" not given
	Email      *string
	Birthday   *string // YYYY-MM-DD, "" not given
	Address    *string
	Remark     *string
	// CustomerType is 1 for a member, 0 for a customer; it cannot be
	// cleared.
	CustomerType *int
	Phone        *string
	Invoice      *string
	ExtInfo      *string
	TagIDs       []string
	OperatorID   string
	OperatorName string
	RequestID    string `json:"-"`
}

// validate checks every field given, naming the first bad one.
func (r UpdateCustomerRequest) validate() error {
	opt := []field{{"operator_id", r.OperatorID}, {"operator_name", r.OperatorName}}
	for _, f := range []struct {
		name string
		v    *string
	}{{"mobile", r.Mobile}, {"name", r.Name}, {"level_id", r.LevelID}, {"gender", r.Gender}, {"email", r.Email},
		{"birthday", r.Birthday}, {"address", r.Address}, {"remark", r.Remark}, {"phone", r.Phone},
		{"invoice", r.Invoice}, {"ext_info", r.ExtInfo}} {
		if f.v != nil {
			opt = append(opt, field{f.name, *f.v})
		}
	}
	for i, id := range r.TagIDs {
		opt = append(opt, field{fmt.Sprintf("tag_ids[%d]", i), id})
	}
	if err := check([]field{{"request_id", r.RequestID}, {"customer_id", r.CustomerID}}, opt...); err != nil {
		return err
	}
	if r.Gender != nil {
		switch strings.TrimSpace(*r.Gender) {
		case "", "0", "1":
		default:
			return ledger.Invalidf("gender", "应为 0 (女) 或 1 (男), 留空表示未填, 收到 %q", *r.Gender)
		}
	}
	if r.Birthday != nil {
		if b := strings.TrimSpace(*r.Birthday); b != "" {
			if _, err := time.Parse(time.DateOnly, b); err != nil {
				return ledger.Invalidf("birthday", "应为 yyyy-MM-dd 格式的日期, 收到 %q", *r.Birthday)
			}
		}
	}
	if r.CustomerType != nil && *r.CustomerType != 0 && *r.CustomerType != 1 {
		return ledger.Invalidf("customer_type", "应为 0 (顾客) 或 1 (会员), 收到 %d", *r.CustomerType)
	}
	return nil
}

// apply returns old with the request's fields set. Ids and codes are
// trimmed, as lookups trim what they are given; free text is kept as
// written.
func (r UpdateCustomerRequest) apply(old ledger.Customer) ledger.Customer {
	c := old
	for _, f := range []struct {
		dst  *string
		v    *string
		trim bool
	}{{&c.Mobile, r.Mobile, true}, {&c.Name, r.Name, false}, {&c.LevelID, r.LevelID, true}, {&c.Gender, r.Gender, true},
		{&c.Email, r.Email, true}, {&c.Birthday, r.Birthday, true}, {&c.Address, r.Address, false}, {&c.Remark, r.Remark, false}} {
		switch {
		case f.v == nil:
		case f.trim:
			*f.dst = strings.TrimSpace(*f.v)
		default:
			*f.dst = *f.v
		}
	}
	if r.CustomerType != nil {
		c.CustomerType = *r.CustomerType
	}
	return c
}

// UpdateCustomer changes a member of the target's brand (customer.update).
// The result is the customer id. It is idempotent on (app, request_id); a
// customer of another brand is CUSTOMER_NOT_FOUND exactly as an unknown
// one. The customer is read and stored in one transaction (on PostgreSQL
// under the row's lock, so two updates of one customer never lose each
// other's fields), with one customer.updated event; an update that
// changes nothing stores nothing and tells nothing, but answers (and is
// recorded) as a success. The next payment applies a new level at once:
// it reads the level as stored, and this server forgets the customer it
// cached.
func (s *Service) UpdateCustomer(ctx context.Context, c Caller, r UpdateCustomerRequest) (Outcome, error) {
	if err := r.validate(); err != nil {
		return Outcome{}, err
	}
	res, err := s.resolve(ctx, c, r.Target, false)
	if err != nil {
		return Outcome{}, err
	}
	brand, id := res.Brand, strings.TrimSpace(r.CustomerID)
	method := "customer_update"
	out, err := s.idempotent(ctx, c.App.Key, r.RequestID, method, fingerprint(method, r), Lookup{BrandID: brand.ID},
		func(w *write) (Outcome, ledger.Changes, error) {
			old, err := w.tx.CustomerForUpdate(ctx, id)
			if errors.Is(err, ErrNotFound) || (err == nil && old.BrandID != brand.ID) {
				return Outcome{}, ledger.Changes{}, customerNotFound(id)
			}
			if err != nil {
				return Outcome{}, ledger.Changes{}, err
			}
			if cu := r.apply(old); cu != old {
				if err := w.tx.PutCustomer(ctx, cu); err != nil {
					return Outcome{}, ledger.Changes{}, err
				}
				if err := w.tx.Emit(ctx, s.customerEvent(EventCustomerUpdated, cu, w.now)); err != nil {
					return Outcome{}, ledger.Changes{}, err
				}
			}
			return Outcome{Result: id}, ledger.Changes{}, nil
		})
	if err == nil {
		s.cache.forget(customerKey(brand.ID, id))
	}
	return out, err
}

// customerNotFound is CUSTOMER_NOT_FOUND for id, in words fit to show: the
// same for an id that matches nothing and for another brand's customer.
func customerNotFound(id string) error {
	msg := "顾客不存在: " + id
	return &ledger.Error{Kind: ledger.KindBusiness, Code: ledger.CodeCustomerNotFound, Message: msg, View: msg}
}
