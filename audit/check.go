package audit

import (
	"context"
	"fmt"
)

// Break is where a chain is broken: the first entry (by position in the
// chain) that does not follow from the one before it, and why.
type Break struct {
	Seq    int64
	Reason string
}

func (b *Break) Error() string { return fmt.Sprintf("audit entry %d: %s", b.Seq, b.Reason) }

// Chain checks a log's entries one at a time, in the order stored: each
// must be numbered one after the one before, link to its hash, and match
// its own hash; and the last must be the head. The zero value is a chain
// expecting entry 1.
type Chain struct {
	n     int64  // entries added
	seq   int64  // the last entry's Seq
	hash  string // the last entry's Hash
	first *Break
}

// Add checks e, the next entry read.
func (c *Chain) Add(e Entry) {
	c.n++
	want := c.seq + 1
	switch {
	case c.first != nil:
	case e.Seq != want:
		c.first = &Break{Seq: want, Reason: fmt.Sprintf("entry %d follows entry %d: missing, moved or renumbered", e.Seq, c.seq)}
	case e.PrevHash != c.hash:
		c.first = &Break{Seq: e.Seq, Reason: "its previous hash does not link to the entry before it"}
	case Hash(e) != e.Hash:
		c.first = &Break{Seq: e.Seq, Reason: "its content does not match its hash: it was edited"}
	}
	c.seq, c.hash = e.Seq, e.Hash
}

// End checks the head against the last entry added: an entry removed from
// the end leaves the head ahead of the chain.
func (c *Chain) End(h Head) {
	switch {
	case c.first != nil:
	case h.Seq != c.seq:
		c.first = &Break{Seq: min(h.Seq, c.seq) + 1,
			Reason: fmt.Sprintf("the head names entry %d but the chain ends at entry %d", h.Seq, c.seq)}
	case h.Hash != c.hash:
		c.first = &Break{Seq: h.Seq, Reason: "the head's hash is not the last entry's"}
	}
}

// Len is how many entries were added.
func (c *Chain) Len() int64 { return c.n }

// Err is the first break found, as a *Break; nil while the chain holds.
func (c *Chain) Err() error {
	if c.first == nil {
		return nil
	}
	return c.first
}

// Reader reads a whole log, for Verify.
type Reader interface {
	EachAudit(ctx context.Context, fn func(Entry) error) (Head, error)
}

// Verify checks the whole chain of r's log: how many entries it holds
// and, where it is broken, the first break (a *Break); err is a failure
// to read.
func Verify(ctx context.Context, r Reader) (n int64, broken *Break, err error) {
	var c Chain
	head, err := r.EachAudit(ctx, func(e Entry) error { c.Add(e); return nil })
	if err != nil {
		return c.Len(), nil, fmt.Errorf("audit: verify: %w", err)
	}
	c.End(head)
	return c.Len(), c.first, nil
}
