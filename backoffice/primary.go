package backoffice

import "context"

// A Reader may serve reads from replicas of the primary database, which
// lag it (postgres.Replicas). What must see the latest writes reads the
// primary instead: ReadPrimary marks a context so. The Office marks it
// itself wherever it reads in order to write (a record read, changed and
// written back; an operator's right to act on a customer), and the
// console marks the page shown right after an operator's write, so that
// the operator sees what they just did.

type primaryKey struct{}

// ReadPrimary is ctx with its reads sent to the primary database.
func ReadPrimary(ctx context.Context) context.Context {
	return context.WithValue(ctx, primaryKey{}, true)
}

// ReadsPrimary reports whether ctx's reads must go to the primary
// database (ReadPrimary).
func ReadsPrimary(ctx context.Context) bool {
	v, _ := ctx.Value(primaryKey{}).(bool)
	return v
}
