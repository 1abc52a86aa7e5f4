package points

import (
	"context"
	"fmt"
	"sync"
	"time"

	"jifen/ledger"
)

// cacheTTL is how long tenant records (apps, brands, shops, customers,
// the rule in force) are reused before being read again. Every request
// resolves several of them, so reading them each time would cost more than
// the ledger write itself. A change applied by this process is seen at
// once (Apply clears the cache, UpdateCustomer forgets the customer); one
// applied by another server is seen within cacheTTL. Writes never decide
// on cached records alone: the rule and the level a payment applies are
// read inside its transaction.
const cacheTTL = 2 * time.Second

type cacheEntry struct {
	v       any
	expires time.Time
}

// tenantCache holds recently read tenant records. Failed reads (including
// not found) are never cached.
type tenantCache struct {
	mu sync.RWMutex
	m  map[string]cacheEntry
	// gen counts the changes made through this cache (clear, forget): a
	// value loaded while one happened may be the one it replaced, and is
	// not kept.
	gen uint64
}

func (c *tenantCache) clear() {
	c.mu.Lock()
	c.m = nil
	c.gen++
	c.mu.Unlock()
}

// forget drops the entry under key, after a write that changed it
// committed: the next read loads what is stored now.
func (c *tenantCache) forget(key string) {
	c.mu.Lock()
	delete(c.m, key)
	c.gen++
	c.mu.Unlock()
}

func cached[T any](c *tenantCache, key string, load func() (T, error)) (T, error) {
	now := time.Now()
	c.mu.RLock()
	e, ok := c.m[key]
	gen := c.gen
	c.mu.RUnlock()
	if ok && now.Before(e.expires) {
		return e.v.(T), nil
	}
	v, err := load()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	// A load that began before a write committed and ended after the
	// write forgot its key may hold the value the write replaced: it is
	// answered, not kept.
	if c.gen == gen {
		if c.m == nil || len(c.m) > 100_000 {
			c.m = map[string]cacheEntry{}
		}
		c.m[key] = cacheEntry{v: v, expires: now.Add(cacheTTL)}
	}
	c.mu.Unlock()
	return v, nil
}

// App is the app with that key, through the cache. A key no app may have
// is ErrNotFound without asking the store: one in the reserved namespace,
// which a database written by an older release may still hold but which
// must not sign in (ReservedAppKey), or one CheckText refuses.
func (s *Service) App(ctx context.Context, key string) (ledger.App, error) {
	if ReservedAppKey(key) || CheckText("app_key", key) != nil {
		return ledger.App{}, fmt.Errorf("app %q: %w", key, ErrNotFound)
	}
	return cached(&s.cache, "app\x00"+key, func() (ledger.App, error) { return s.store.App(ctx, key) })
}

// Brand is the brand with that id, through the cache; ErrNotFound if
// none. Exported, like Shop, for the operators' side (package
// backoffice), which resolves what operators name the way the gateway does.
func (s *Service) Brand(ctx context.Context, id string) (ledger.Brand, error) {
	return cached(&s.cache, "brand\x00"+id, func() (ledger.Brand, error) { return s.store.Brand(ctx, id) })
}

func (s *Service) brandByOutID(ctx context.Context, ch, id string) (ledger.Brand, error) {
	return cached(&s.cache, "obrand\x00"+ch+"\x00"+id, func() (ledger.Brand, error) { return s.store.BrandByOutID(ctx, ch, id) })
}

// Shop is the shop with that id, through the cache; ErrNotFound if none.
func (s *Service) Shop(ctx context.Context, id string) (ledger.Shop, error) {
	return cached(&s.cache, "shop\x00"+id, func() (ledger.Shop, error) { return s.store.Shop(ctx, id) })
}

func (s *Service) shopByOutID(ctx context.Context, ch, id string) (ledger.Shop, error) {
	return cached(&s.cache, "oshop\x00"+ch+"\x00"+id, func() (ledger.Shop, error) { return s.store.ShopByOutID(ctx, ch, id) })
}
