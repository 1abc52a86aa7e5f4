package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"jifen/admin"
	"jifen/audit"
	"jifen/backoffice"
	"jifen/points"
	"jifen/tenant"
	"jifen/top"
)

type applyCmd struct{}

func (applyCmd) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("apply", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("f", "", "tenant file (YAML); - for standard input")
	var sf storeFlags
	sf.register(fs)
	if err := fs.Parse(args); err != nil {
		return exitError(2)
	}
	if *file == "" {
		return errors.New("apply: -f tenant.yaml is required")
	}
	var r io.Reader = os.Stdin
	if *file != "-" {
		fh, err := os.Open(*file)
		if err != nil {
			return err
		}
		defer fh.Close()
		r = fh
	}
	f, err := tenant.Parse(r)
	if err != nil {
		return err
	}
	store, err := sf.open(ctx, true)
	if err != nil {
		return err
	}
	defer store.Close()
	t, err := f.Tenant()
	var rep points.ApplyReport
	if err == nil {
		rep, err = points.New(store, nil, nil).Apply(ctx, t)
	}
	if err == nil {
		// Shown before it is recorded: a failure to record must not leave
		// secrets nobody has seen.
		fmt.Fprintf(stdout, "applied: %d apps, %d brands, %d shops, %d customers, %d new rule versions, %d webhooks\n",
			rep.Apps, rep.Brands, rep.Shops, rep.Customers, rep.Rules, rep.Webhooks)
		for _, k := range slices.Sorted(maps.Keys(rep.Secrets)) {
			fmt.Fprintf(stdout, "generated secret for app %s: %s\n", k, rep.Secrets[k])
		}
		for _, id := range slices.Sorted(maps.Keys(rep.WebhookSecrets)) {
			fmt.Fprintf(stdout, "generated secret for webhook %s: %s\n", id, rep.WebhookSecrets[id])
		}
	}
	// Done or refused, the apply is in the audit log as the admin API's
	// is, by the operator cli; its secrets are not.
	if aerr := cliAudit(ctx, store, admin.TenantApplied(f, rep, err), err); aerr != nil {
		if err == nil {
			return fmt.Errorf("apply: the tenant file was applied, but %w", aerr)
		}
		return errors.Join(cliErr(err), aerr)
	}
	return cliErr(err)
}

type verifyCmd struct{}

func (verifyCmd) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf storeFlags
	sf.register(fs)
	if err := fs.Parse(args); err != nil {
		return exitError(2)
	}
	store, err := sf.open(ctx, true)
	if err != nil {
		return err
	}
	defer store.Close()
	rep, err := points.Verify(ctx, store)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, checked(rep))
	if rep.OK() {
		fmt.Fprintln(stdout, "all invariants hold")
		return nil
	}
	for _, v := range rep.Violations {
		fmt.Fprintln(stdout, "VIOLATION", v)
	}
	fmt.Fprintf(stdout, "%d violations\n", len(rep.Violations))
	return exitError(1)
}

// checked says what a check of the whole database covered.
func checked(rep points.VerifyReport) string {
	return fmt.Sprintf("checked %d accounts, %d flows, %d lots, %d idempotency records, %d reversals, %d flow events, %d audit entries",
		rep.Accounts, rep.Flows, rep.Lots, rep.Idempotency, rep.Reversals, rep.Events, rep.Audit)
}

type holdCmd struct{}

// run releases a hold early, as the operator "cli" (cliActor): the flow
// and the audit entry, done or refused, record who ran the command, not
// a name typed on its command line, which --operator used to take.
func (holdCmd) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "release" {
		fmt.Fprintln(stderr, "usage: jifen hold release --brand B --order O [--db …]")
		return exitError(2)
	}
	fs := flag.NewFlagSet("hold release", flag.ContinueOnError)
	fs.SetOutput(stderr)
	brand := fs.String("brand", "", "brand id")
	order := fs.String("order", "", "the order (outer_order_id) whose hold to release")
	fs.String("operator", "", "refused: the release is recorded under the operator cli")
	var sf storeFlags
	sf.register(fs)
	if err := fs.Parse(args[1:]); err != nil {
		return exitError(2)
	}
	typed := false
	fs.Visit(func(f *flag.Flag) { typed = typed || f.Name == "operator" })
	if typed {
		return fmt.Errorf("hold release: --operator is refused: the release is recorded under the operator %s, "+
			"whoever runs the command; an operator releases in their own name in the console or the admin API", cliActor.Name)
	}
	if *brand == "" || *order == "" {
		return errors.New("hold release: --brand and --order are required")
	}
	store, err := sf.open(ctx, true)
	if err != nil {
		return err
	}
	defer store.Close()
	office := backoffice.New(points.New(store, nil, nil), store)
	rel, err := admin.ReleaseHold(ctx, office, cliPrincipal, *brand, *order)
	e := audit.Entry{Action: audit.HoldRelease, BrandID: strings.TrimSpace(*brand), Target: strings.TrimSpace(*order),
		Before: rel.Before, After: rel.After}
	if aerr := cliAudit(ctx, store, e, err); aerr != nil {
		if err == nil {
			return fmt.Errorf("hold release: the hold of order %s was released, but %w", *order, aerr)
		}
		return errors.Join(cliErr(err), aerr)
	}
	if err != nil {
		return cliErr(err)
	}
	fmt.Fprintf(stdout, "released the hold of order %s of brand %s\n", *order, *brand)
	return nil
}

type callCmd struct{}

func (callCmd) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("call", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "http://127.0.0.1:8080/router/rest", "gateway URL")
	appKey := fs.String("app-key", os.Getenv("JIFEN_APP_KEY"), "app_key (or JIFEN_APP_KEY)")
	secret := fs.String("secret", os.Getenv("JIFEN_SECRET"), "app secret (or JIFEN_SECRET)")
	format := fs.String("format", "json", "answer format: json or xml")
	signMethod := fs.String("sign-method", "md5", "md5, hmac or hmac-sha256")
	simplify := fs.Bool("simplify", false, "ask for the simplified JSON answer")
	timeout := fs.Duration("timeout", 30*time.Second, "request timeout")
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprintln(stderr, "usage: jifen call METHOD --app-key K --secret S [--url …] name=value…")
		return exitError(2)
	}
	method := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return exitError(2)
	}
	if *appKey == "" || *secret == "" {
		return errors.New("call: --app-key and --secret are required")
	}
	params := map[string]any{}
	for _, kv := range fs.Args() {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("call: %q is not name=value", kv)
		}
		// Object parameters are given as JSON; check them here so a typo
		// is caught before it is signed and sent.
		if strings.HasPrefix(strings.TrimSpace(v), "{") && !json.Valid([]byte(v)) {
			return fmt.Errorf("call: %s is not valid JSON", k)
		}
		params[k] = v
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	c := &top.Client{URL: *url, AppKey: *appKey, Secret: *secret, SignMethod: *signMethod, Format: *format, Simplify: *simplify}
	resp, err := c.Call(ctx, method, params)
	if err != nil {
		return err
	}
	stdout.Write(resp.Body)
	fmt.Fprintln(stdout)
	if resp.Err != nil {
		return exitError(1)
	}
	return nil
}
