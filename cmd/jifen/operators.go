package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"jifen/admin"
	"jifen/audit"
	"jifen/ledger"
	"jifen/operator"
	"jifen/points"
)

const operatorUsage = `usage:
  jifen operator add --name N --role viewer|support|admin [--brands B1,B2] [--limit N] [--db …]
  jifen operator list [--db …]
  jifen operator disable|enable|reset --name N [--db …]
  jifen operator passwd --name N [--db …]          (the new password is read from standard input)
  jifen operator token create --name N --token-name T [--db …]
  jifen operator token list|revoke --name N [--id TOKEN_ID] [--db …]
`

// operatorCmd manages the operators of the admin API and console. Secrets
// (a password, a token) are printed once.
type operatorCmd struct{}

func (operatorCmd) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, operatorUsage)
		return exitError(2)
	}
	sub, rest := args[0], args[1:]
	if sub == "token" {
		if len(rest) == 0 {
			fmt.Fprint(stderr, operatorUsage)
			return exitError(2)
		}
		sub, rest = "token "+rest[0], rest[1:]
	}
	fs := flag.NewFlagSet("operator "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	name := fs.String("name", "", "the operator's name")
	role := fs.String("role", "", "viewer, support or admin")
	brands := fs.String("brands", "", "the brands the operator acts in, comma-separated (empty: every brand)")
	limit := fs.Int64("limit", 0, "the most points one refund, adjustment or release of a support operator may move")
	tokenName := fs.String("token-name", "", "what the token is for")
	tokenID := fs.String("id", "", "the token's id")
	var sf storeFlags
	sf.register(fs)
	if err := fs.Parse(rest); err != nil {
		return exitError(2)
	}
	store, err := sf.open(ctx, true)
	if err != nil {
		return err
	}
	defer store.Close()
	ops := operator.New(store, points.New(store, nil, nil), "")
	byName := func() (operator.Operator, error) {
		if strings.TrimSpace(*name) == "" {
			return operator.Operator{}, fmt.Errorf("operator %s: --name is required", sub)
		}
		return ops.ByName(ctx, *name)
	}
	// Every change, done or refused, goes in the audit log as the admin
	// API's do, by the operator "cli": whoever runs the command on the
	// server. Secrets never do.
	audited := func(e audit.Entry, err error) error {
		if rerr := cliAudit(ctx, store, e, err); rerr != nil {
			return errors.Join(cliErr(err), rerr)
		}
		return cliErr(err)
	}
	switch sub {
	case "add":
		var bs []string
		for b := range strings.SplitSeq(*brands, ",") {
			if b = strings.TrimSpace(b); b != "" {
				bs = append(bs, b)
			}
		}
		e := audit.Entry{Action: audit.OperatorCreate,
			Request: audit.JSON(map[string]any{"name": *name, "role": *role, "brands": bs, "limit": *limit})}
		a, err := ops.Add(ctx, operator.NewOperator{Name: *name, Role: operator.Role(*role), Brands: bs, Limit: *limit})
		if err == nil {
			e.Target, e.After = a.Operator.ID, auditOperator(a.Operator)
		}
		if err == nil {
			// Shown before it is recorded: a failure to record must not
			// leave secrets nobody has seen.
			fmt.Fprintf(stdout, "operator %s added (id %s, %s)\n", a.Operator.Name, a.Operator.ID, describe(a.Operator))
			fmt.Fprintf(stdout, "password: %s\n", a.Password)
			fmt.Fprintf(stdout, "token:    %s\n", a.Secret)
			fmt.Fprintln(stdout, "(shown once: hand them to the operator now)")
		}
		if err := audited(e, err); err != nil {
			return err
		}
	case "list":
		list, err := ops.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tBRANDS\tLIMIT\tSTATE\tID")
		now := time.Now()
		for _, o := range list {
			state := "active"
			if o.Disabled {
				state = "disabled"
			} else if o.Locked(now) {
				state = "locked until " + o.LockedUntil.In(ledger.Shanghai).Format(time.DateTime)
			}
			bs := strings.Join(o.Brands, ",")
			if bs == "" {
				bs = "(all)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", o.Name, o.Role, bs, o.Limit, state, o.ID)
		}
		return tw.Flush()
	case "disable", "enable":
		o, err := byName()
		if err != nil {
			return cliErr(err)
		}
		disabled := sub == "disable"
		e := audit.Entry{Action: audit.OperatorEnable, Target: o.ID, Before: auditOperator(o)}
		if disabled {
			e.Action = audit.OperatorDisable
		}
		after, err := ops.Update(ctx, o.ID, operator.Change{Disabled: &disabled})
		if err == nil {
			e.After = auditOperator(after)
		}
		if err := audited(e, err); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "operator %s %sd\n", o.Name, sub)
	case "reset":
		o, err := byName()
		if err != nil {
			return cliErr(err)
		}
		p, err := ops.ResetPassword(ctx, o.ID)
		if err == nil {
			fmt.Fprintf(stdout, "operator %s: new password %s (shown once)\n", o.Name, p)
		}
		if err := audited(audit.Entry{Action: audit.OperatorPasswordReset, Target: o.ID}, err); err != nil {
			return err
		}
	case "passwd":
		o, err := byName()
		if err != nil {
			return cliErr(err)
		}
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		err = ops.SetPassword(ctx, o.ID, strings.TrimRight(line, "\r\n"))
		if err := audited(audit.Entry{Action: audit.OperatorPasswordChange, Target: o.ID}, err); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "operator %s: password changed\n", o.Name)
	case "token create":
		o, err := byName()
		if err != nil {
			return cliErr(err)
		}
		t, secret, err := ops.CreateToken(ctx, o.ID, *tokenName)
		e := audit.Entry{Action: audit.OperatorTokenCreate, Target: o.ID, Request: audit.JSON(map[string]string{"name": *tokenName})}
		if err == nil {
			// "id", not "token_id": the log redacts every key naming a
			// token.
			e.After = audit.JSON(map[string]string{"id": t.ID, "name": t.Name})
			fmt.Fprintf(stdout, "token %s (%s) of %s: %s (shown once)\n", t.ID, t.Name, o.Name, secret)
		}
		if err := audited(e, err); err != nil {
			return err
		}
	case "token list":
		o, err := byName()
		if err != nil {
			return cliErr(err)
		}
		ts, err := ops.Tokens(ctx, o.ID)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tCREATED\tLAST USED\tREVOKED")
		at := func(t time.Time) string {
			if t.IsZero() {
				return "-"
			}
			return t.In(ledger.Shanghai).Format(time.DateTime)
		}
		for _, t := range ts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, at(t.CreatedAt), at(t.LastUsedAt), at(t.RevokedAt))
		}
		return tw.Flush()
	case "token revoke":
		o, err := byName()
		if err != nil {
			return cliErr(err)
		}
		err = ops.RevokeToken(ctx, o.ID, *tokenID)
		if err := audited(audit.Entry{Action: audit.OperatorTokenRevoke, Target: o.ID,
			Request: audit.JSON(map[string]string{"id": *tokenID})}, err); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "token %s of %s revoked\n", *tokenID, o.Name)
	default:
		fmt.Fprintf(stderr, "jifen operator: unknown command %q\n\n%s", sub, operatorUsage)
		return exitError(2)
	}
	return nil
}

// cliActor is who the CLI's writes and audit entries are recorded under:
// the operator "cli" (operator.CLIName), whoever runs the command on the
// server, never a name typed on its command line.
var cliActor = points.Actor{ID: operator.CLIName, Name: operator.CLIName}

// cliPrincipal is the command line acting as an operator: an admin of
// every brand, named cli.
var cliPrincipal = operator.Principal{OperatorID: cliActor.ID, Name: cliActor.Name, Role: operator.Admin}

// cliAudit records e, an action of the CLI that ended with err (nil: done),
// in store's audit log under cliActor.
func cliAudit(ctx context.Context, store any, e audit.Entry, err error) error {
	as, ok := store.(audit.Store)
	if !ok {
		return fmt.Errorf("the store %T keeps no audit log to record %s in", store, e.Action)
	}
	e.OperatorID, e.OperatorName, e.Outcome = cliActor.ID, cliActor.Name, audit.OK
	if err != nil {
		p := admin.ProblemOf(err, "")
		e.Outcome, e.Message = p.Code, p.Message
		if p.Internal {
			e.Message = ""
		}
	}
	if _, rerr := audit.New(as, nil).Record(ctx, e); rerr != nil {
		return fmt.Errorf("recording %s in the audit log: %w", e.Action, rerr)
	}
	return nil
}

// auditOperator is what the audit log keeps of an operator: never its
// password's hash.
func auditOperator(o operator.Operator) json.RawMessage {
	return audit.JSON(map[string]any{"id": o.ID, "name": o.Name, "role": o.Role, "brands": o.Brands, "limit": o.Limit,
		"disabled": o.Disabled})
}

// describe is an operator's role, brands and limit, in a few words.
func describe(o operator.Operator) string {
	s := "role " + string(o.Role)
	if len(o.Brands) > 0 {
		s += ", brands " + strings.Join(o.Brands, ",")
	} else {
		s += ", every brand"
	}
	if o.Role == operator.Support {
		s += fmt.Sprintf(", at most %d points per action", o.Limit)
	}
	return s
}

// cliErr is err as a person reads it: bad input names its field.
func cliErr(err error) error {
	if le, ok := ledger.AsError(err); ok && le.Field != "" {
		return fmt.Errorf("%s: %s", le.Field, le.Message)
	}
	return err
}
