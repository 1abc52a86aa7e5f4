package console

import (
	"net/http"

	"jifen/backoffice"
	"jifen/ledger"
)

// Members are shown by name and mobile wherever a customer appears; the
// page carries the customers it names (page.Names), read in one query.

// names reads the customers of ids for a page. A failure is logged and
// leaves the ids shown as they are: the page is still right, only plainer.
func (c *Console) names(r *http.Request, ids ...string) map[string]ledger.Customer {
	m, err := c.admin.Customers(r.Context(), ids)
	if err != nil {
		c.log.Error("console: names of customers", "path", r.URL.Path, "error", err)
	}
	return m
}

// flowCustomers are the customers of flows.
func flowCustomers(fs []ledger.Flow) []string {
	ids := make([]string, 0, len(fs))
	for _, f := range fs {
		ids = append(ids, f.CustomerID)
	}
	return ids
}

// orderNames are the customers of an order's parts and flows.
func (c *Console) orderNames(r *http.Request, v backoffice.OrderView) map[string]ledger.Customer {
	ids := flowCustomers(v.Flows)
	for _, p := range v.Parts {
		ids = append(ids, p.CustomerID)
	}
	return c.names(r, ids...)
}
