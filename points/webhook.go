package points

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"jifen/ledger"
)

// Webhook is an HTTP endpoint that is told of a brand's events (package
// webhook delivers them). It is provisioned like an app: in the tenant
// file or through the admin API.
type Webhook struct {
	ID  string
	URL string
	// Secret is "whsec_" and the base64 of the signing key.
	Secret string
	// Brands limits the events to these brands; empty: every brand.
	Brands []string
	// Events limits the events to these types; empty or "*": every type.
	Events []string
	// Disabled stops deliveries to the endpoint. Storing a webhook with
	// Disabled false enables it again, where jifen disabled it after it
	// failed for a whole retry window.
	Disabled bool
}

// Wants reports whether the endpoint is told of e.
func (w Webhook) Wants(e Event) bool {
	if len(w.Brands) > 0 && !slices.Contains(w.Brands, e.BrandID) {
		return false
	}
	return len(w.Events) == 0 || slices.Contains(w.Events, "*") || slices.Contains(w.Events, e.Type)
}

// WebhookDisabledByOperator is the reason recorded for a webhook stored
// with Disabled.
const WebhookDisabledByOperator = "disabled by an operator"

// WebhookSecretPrefix starts every webhook secret (Standard Webhooks).
const WebhookSecretPrefix = "whsec_"

// NewWebhookSecret makes a webhook secret: "whsec_" and the base64 of 24
// random bytes.
func NewWebhookSecret() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return WebhookSecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// WebhookKey is the signing key of a webhook secret: the base64-decoded
// part after "whsec_".
func WebhookKey(secret string) ([]byte, error) {
	rest, ok := strings.CutPrefix(secret, WebhookSecretPrefix)
	if !ok {
		return nil, fmt.Errorf("a webhook secret starts with %q", WebhookSecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("after %q a webhook secret is base64: %v", WebhookSecretPrefix, err)
	}
	if len(key) < 24 || len(key) > 64 {
		return nil, fmt.Errorf("a webhook secret's key is 24 to 64 bytes, this one is %d", len(key))
	}
	return key, nil
}

// MaxWebhookURLBytes bounds a webhook's URL.
const MaxWebhookURLBytes = 2048

// validateWebhook checks w's shape (where names it, as webhooks[0]);
// whether its brands exist is checked by Apply.
func validateWebhook(where string, w Webhook) error {
	if err := checkID(where+".webhook_id", w.ID); err != nil {
		return err
	}
	if err := CheckURL(where+".url", w.URL); err != nil {
		return err
	}
	if w.Secret != "" {
		if _, err := WebhookKey(w.Secret); err != nil {
			return ledger.Invalidf(where+".secret", "应为 whsec_ 加 base64 的密钥 (%v); 不填则自动生成", err)
		}
	}
	seen := map[string]bool{}
	for i, b := range w.Brands {
		f := fmt.Sprintf("%s.brands[%d]", where, i)
		if err := checkID(f, b); err != nil {
			return err
		}
		if seen[b] {
			return ledger.Invalidf(f, "重复的品牌 %s", b)
		}
		seen[b] = true
	}
	seen = map[string]bool{}
	for i, e := range w.Events {
		f := fmt.Sprintf("%s.events[%d]", where, i)
		if e != "*" && !slices.Contains(EventTypes(), e) {
			return ledger.Invalidf(f, "未知事件类型 %q: 应为 * 或 %s", e, strings.Join(EventTypes(), ", "))
		}
		if seen[e] {
			return ledger.Invalidf(f, "重复的事件类型 %q", e)
		}
		seen[e] = true
	}
	return nil
}

// CheckURL refuses a webhook URL that is not an absolute http:// or
// https:// URL with a host. Credentials in it are refused too: the URL is
// shown to operators, and the signature authenticates jifen.
func CheckURL(field, raw string) error {
	if strings.TrimSpace(raw) == "" {
		return ledger.Invalid(field, "不可为空")
	}
	if len(raw) > MaxWebhookURLBytes {
		return ledger.Invalidf(field, "过长: 最多 %d 字节, 收到 %d 字节", MaxWebhookURLBytes, len(raw))
	}
	if err := CheckChars(field, raw); err != nil {
		return err
	}
	if strings.TrimSpace(raw) != raw || strings.ContainsAny(raw, " \t") {
		return ledger.Invalidf(field, "不可含空白: %q", raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ledger.Invalidf(field, "不是有效的 URL: %v", err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return ledger.Invalidf(field, "应以 https:// (或 http://) 开头, 收到 %q", raw)
	}
	if u.Hostname() == "" {
		return ledger.Invalidf(field, "缺少主机名: %q", raw)
	}
	if u.User != nil {
		return ledger.Invalid(field, "不可含用户名或密码: 请求已由签名认证")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return ledger.Invalid(field, "不可含 # 片段")
	}
	return nil
}

// checkWebhookBrands refuses a webhook naming a brand that is neither in
// t nor stored. Brands are never deleted, so what is read here holds at
// the write.
func (s *Service) checkWebhookBrands(ctx context.Context, t Tenant) error {
	inFile := map[string]bool{}
	for _, b := range t.Brands {
		inFile[b.ID] = true
	}
	for i, w := range t.Webhooks {
		for j, id := range w.Brands {
			if inFile[id] {
				continue
			}
			_, err := s.store.Brand(ctx, id)
			if errors.Is(err, ErrNotFound) {
				return ledger.Invalidf(fmt.Sprintf("webhooks[%d].brands[%d]", i, j), "未知品牌 %s", id)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// putWebhook stores w in tx, keeping the stored secret where w has none
// and making one for a new webhook without one (reported in secrets).
func putWebhook(ctx context.Context, tx Tx, w Webhook, now time.Time, secrets map[string]string) error {
	if w.Secret == "" {
		old, err := tx.Webhook(ctx, w.ID)
		switch {
		case err == nil:
			w.Secret = old.Secret
		case errors.Is(err, ErrNotFound):
			w.Secret = NewWebhookSecret()
			secrets[w.ID] = w.Secret
		default:
			return err
		}
	}
	if w.Brands == nil {
		w.Brands = []string{}
	}
	if w.Events == nil {
		w.Events = []string{}
	}
	return tx.PutWebhook(ctx, w, now)
}
