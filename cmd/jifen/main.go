// Command jifen is the points ledger server and its tools: serve the TOP
// gateway, provision tenants, call the gateway as a signed client, and
// verify every invariant of the ledger.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `jifen — a loyalty-points ledger that speaks the Alibaba Local Services CRM point API

Usage:
  jifen serve   [--addr 127.0.0.1:8080] [--db ./jifen.db | postgres://…] [--no-migrate] [--demo] [--sandbox] [--admin-token T]
                [--webhook-allow-private] [--webhook-retry-window 72h] [--webhook-timeout 10s]
  jifen apply   -f tenant.yaml [--db ./jifen.db]
  jifen call    METHOD --app-key K --secret S [--url URL] [--format json|xml] [--sign-method md5] name=value…
  jifen migrate --db postgres://…
  jifen verify  [--db ./jifen.db]
  jifen bench   [--url URL] [--db ./jifen.db] [--duration 30s] [--workers 64 | --rate R] [--hot 10] [--json out.json]
  jifen slowload [--url URL] [--path /router/rest] [--conns 200] [--size 1048576] [--short 100] [--every 5s] [--duration 60s] [--max-rss 200]
  jifen gendump [--accounts 1000] [-o dump.jsonl]   (a synthetic ledger to import, for load tests)
  jifen hold release --brand B --order O [--db ./jifen.db]
  jifen events tail [--after N] [--brand B] [--type T,…] [--no-follow] [--url http://…/admin/v1/events --admin-token T | --db ./jifen.db]
  jifen events prune --older-than 720h [--db ./jifen.db]
  jifen operator add --name N --role viewer|support|admin [--brands B1,B2] [--limit N] [--db …]
  jifen operator list|disable|enable|reset|passwd|token … [--db …]
  jifen export  [--db ./jifen.db] [-o dump.jsonl]
  jifen import  [--db postgres://…] [-f dump.jsonl]

Run "jifen COMMAND -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		var ex exitError
		if errors.As(err, &ex) {
			os.Exit(int(ex))
		}
		fmt.Fprintln(os.Stderr, "jifen:", err)
		os.Exit(1)
	}
}

// exitError ends the program with a status and no further message.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitError(2)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return (&serveCmd{}).run(ctx, rest, stdout, stderr)
	case "apply":
		return (&applyCmd{}).run(ctx, rest, stdout, stderr)
	case "call":
		return (&callCmd{}).run(ctx, rest, stdout, stderr)
	case "verify":
		return (&verifyCmd{}).run(ctx, rest, stdout, stderr)
	case "bench":
		return (&benchCmd{}).run(ctx, rest, stdout, stderr)
	case "slowload":
		return (&slowloadCmd{}).run(ctx, rest, stdout, stderr)
	case "gendump":
		return (&gendumpCmd{}).run(ctx, rest, stdout, stderr)
	case "migrate":
		return (&migrateCmd{}).run(ctx, rest, stdout, stderr)
	case "hold":
		return (&holdCmd{}).run(ctx, rest, stdout, stderr)
	case "events":
		return (&eventsCmd{}).run(ctx, rest, stdout, stderr)
	case "operator":
		return (&operatorCmd{}).run(ctx, rest, stdout, stderr)
	case "export":
		return (&exportCmd{}).run(ctx, rest, stdout, stderr)
	case "import":
		return (&importCmd{}).run(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "jifen: unknown command %q\n\n%s", cmd, usage)
		return exitError(2)
	}
}
