package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"jifen/audit"
	"jifen/dump"
	"jifen/points"
)

// exportCmd writes the whole database as a dump (package dump).
type exportCmd struct{}

func (exportCmd) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "-", "write the dump to this file (it holds the apps' secrets); - for standard output")
	var sf storeFlags
	sf.register(fs)
	if err := fs.Parse(args); err != nil {
		return exitError(2)
	}
	if !isPostgres(sf.db) {
		// Opening a SQLite path that is not there would create an empty
		// database, and a mistyped path would export nothing.
		if _, err := os.Stat(sf.db); errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("export: no database at %s", sf.db)
		}
	}
	store, err := sf.open(ctx, false)
	if err != nil {
		return err
	}
	defer store.Close()
	src, ok := store.(dump.Source)
	if !ok {
		return fmt.Errorf("export: the store %T cannot be exported", store)
	}
	c, err := exportTo(ctx, src, *out, stdout)
	if err != nil {
		return err
	}
	// The summary goes to stderr: stdout may be the dump.
	fmt.Fprintf(stderr, "exported %v from %s\n", c, redact(sf.db))
	// The export is in the audit log, after it (so the dump does not hold
	// its own entry), by the operator "cli": whoever runs the command on
	// the server.
	if err := cliAudit(ctx, store, audit.Entry{Action: audit.Export, Request: audit.JSON(map[string]string{"output": *out}),
		After: audit.JSON(c)}, nil); err != nil {
		return fmt.Errorf("export: the dump was written, but %w", err)
	}
	return nil
}

// exportTo writes the dump to the file named out, or to stdout for "-".
// A file is synced before it is reported written, and removed on failure:
// an incomplete dump is of no use.
func exportTo(ctx context.Context, src dump.Source, out string, stdout io.Writer) (dump.Counts, error) {
	if out == "-" {
		return dump.Export(ctx, src, stdout)
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return dump.Counts{}, fmt.Errorf("export: %w", err)
	}
	err = f.Chmod(0o600) // a file that was there keeps its mode otherwise
	var c dump.Counts
	if err == nil {
		c, err = dump.Export(ctx, src, f)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out)
		return c, fmt.Errorf("export: %s: %w", out, err)
	}
	return c, nil
}

// importCmd loads a dump into an empty database and checks it.
type importCmd struct {
	stdin io.Reader // nil: os.Stdin
}

func (c importCmd) run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("f", "-", "the dump to read; - for standard input")
	var sf storeFlags
	sf.register(fs)
	if err := fs.Parse(args); err != nil {
		return exitError(2)
	}
	var r io.Reader = os.Stdin
	if c.stdin != nil {
		r = c.stdin
	}
	if *file != "-" {
		f, err := os.Open(*file)
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		defer f.Close()
		r = f
	}
	store, err := sf.open(ctx, true)
	if err != nil {
		return err
	}
	defer store.Close()
	dst, ok := store.(dump.Target)
	if !ok {
		return fmt.Errorf("import: the store %T cannot be imported into", store)
	}
	counts, err := dump.Import(ctx, dst, r)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported %v into %s\n", counts, redact(sf.db))
	rep, err := points.Verify(ctx, store)
	if err != nil {
		return fmt.Errorf("import: the dump was imported, but checking it failed: %w", err)
	}
	fmt.Fprintln(stdout, checked(rep))
	if rep.OK() {
		fmt.Fprintln(stdout, "all invariants hold")
		return nil
	}
	for _, v := range rep.Violations {
		fmt.Fprintln(stdout, "VIOLATION", v)
	}
	fmt.Fprintf(stdout, "%d violations: the imported database is not sound\n", len(rep.Violations))
	return exitError(1)
}
