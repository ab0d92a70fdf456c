package memstore

import (
	"context"
	"fmt"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/internal/storekit"
)

// AcquireLease implements contactsync.LeaseStore, for this process.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (contactsync.Lease, error) {
	if err := storekit.CheckLease(name, owner, ttl); err != nil {
		return contactsync.Lease{}, err
	}
	if err := ctx.Err(); err != nil {
		return contactsync.Lease{}, err
	}
	s.lmu.Lock()
	defer s.lmu.Unlock()
	now := s.now()
	cur, held := s.leases[name]
	switch {
	case held && cur.Owner == owner:
	case held && now.Before(cur.Expires):
		return contactsync.Lease{}, &contactsync.LeaseHeldError{Name: name, Owner: cur.Owner, Expires: cur.Expires}
	default:
		s.tokens[name]++
		cur = contactsync.Lease{Name: name, Owner: owner, Token: s.tokens[name]}
	}
	cur.Expires = now.Add(ttl)
	s.leases[name] = cur
	return cur, nil
}

// RenewLease implements contactsync.LeaseStore.
func (s *Store) RenewLease(ctx context.Context, l contactsync.Lease, ttl time.Duration) (contactsync.Lease, error) {
	if err := storekit.CheckLease(l.Name, l.Owner, ttl); err != nil {
		return contactsync.Lease{}, err
	}
	if err := ctx.Err(); err != nil {
		return contactsync.Lease{}, err
	}
	s.lmu.Lock()
	defer s.lmu.Unlock()
	cur, held := s.leases[l.Name]
	if !held || cur.Token != l.Token {
		return contactsync.Lease{}, fmt.Errorf("%w: %s lease token %d", contactsync.ErrLeaseLost, l.Name, l.Token)
	}
	cur.Expires = s.now().Add(ttl)
	s.leases[l.Name] = cur
	return cur, nil
}

// ReleaseLease implements contactsync.LeaseStore.
func (s *Store) ReleaseLease(ctx context.Context, l contactsync.Lease) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.lmu.Lock()
	defer s.lmu.Unlock()
	if cur, held := s.leases[l.Name]; held && cur.Token == l.Token {
		delete(s.leases, l.Name)
	}
	return nil
}

// current reports whether l's token is its lease's current one. Call with
// s.mu held, so that the check and the write it guards are one step (an
// acquisition does not need s.mu, but a fenced write's effect is only seen
// under it).
func (s *Store) current(l contactsync.Lease) error {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	if s.tokens[l.Name] != l.Token {
		return storekit.LeaseLost(l, s.tokens[l.Name])
	}
	return nil
}

// Fenced implements contactsync.LeaseStore.
func (s *Store) Fenced(l contactsync.Lease) contactsync.StateStore { return fenced{s, l} }

// fenced is a Store whose intent writes check a lease's token.
type fenced struct {
	*Store
	lease contactsync.Lease
}

func (f fenced) PutIntent(ctx context.Context, in contactsync.Intent) error {
	return f.putIntent(ctx, in, &f.lease)
}

func (f fenced) Commit(ctx context.Context, l contactsync.Link, key string) error {
	return f.commit(ctx, l, key, &f.lease)
}

func (f fenced) DeleteIntent(ctx context.Context, key string) error {
	return f.deleteIntent(ctx, key, &f.lease)
}

func (f fenced) PutLink(ctx context.Context, l contactsync.Link) error {
	return f.commit(ctx, l, "", &f.lease) // a commit without an intent
}

func (f fenced) DeleteLink(ctx context.Context, kind contactsync.Kind, localID string) error {
	return f.deleteLink(ctx, kind, localID, &f.lease)
}

// SpendBudget implements contactsync.BudgetStore, for this process.
func (s *Store) SpendBudget(ctx context.Context, day string, n, limit int) (granted, used int, err error) {
	if err := storekit.CheckDay(day); err != nil {
		return 0, 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	s.lmu.Lock()
	defer s.lmu.Unlock()
	cur := s.budget[day]
	next := storekit.BudgetAfter(cur, n, limit)
	s.budget[day] = next
	return next - cur, next, nil
}
