package sqlstore

import (
	"context"
	"database/sql"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/internal/storekit"
)

// Leases live in the leases table, one row per location and name, read and
// changed in one transaction with the row locked (PostgreSQL: SELECT … FOR
// UPDATE; SQLite: the database's write lock), and judged by the database's
// clock. A released lease keeps its row and token, so the next owner's
// token is greater than every earlier one.

// AcquireLease implements contactsync.LeaseStore.
func (s *Store) AcquireLease(ctx context.Context, name, owner string, ttl time.Duration) (contactsync.Lease, error) {
	if err := storekit.CheckLease(name, owner, ttl); err != nil {
		return contactsync.Lease{}, err
	}
	var (
		l    contactsync.Lease
		held error
	)
	err := s.db.writeSolo(ctx, s.loc, func(ctx context.Context, tx *sql.Tx) error {
		held = nil
		cur, now, err := s.lockLease(ctx, tx, name)
		if err != nil {
			return err
		}
		switch {
		case cur.Owner == owner:
		case cur.Owner != "" && now < cur.Expires.UnixMilli():
			held = &contactsync.LeaseHeldError{Name: name, Owner: cur.Owner, Expires: cur.Expires}
			return nil
		default:
			cur.Token++
		}
		l = contactsync.Lease{Name: name, Owner: owner, Token: cur.Token, Expires: time.UnixMilli(now + ttl.Milliseconds()).UTC()}
		_, err = s.db.exec(ctx, tx, s.db.q.leaseSet, owner, l.Token, l.Expires.UnixMilli(), s.loc, name)
		return err
	})
	if err == nil {
		err = held
	}
	if err != nil {
		return contactsync.Lease{}, writeErr(err, "acquiring the %s lease", name)
	}
	return l, nil
}

// RenewLease implements contactsync.LeaseStore.
func (s *Store) RenewLease(ctx context.Context, l contactsync.Lease, ttl time.Duration) (contactsync.Lease, error) {
	if err := storekit.CheckLease(l.Name, l.Owner, ttl); err != nil {
		return contactsync.Lease{}, err
	}
	var lost error
	err := s.db.writeSolo(ctx, s.loc, func(ctx context.Context, tx *sql.Tx) error {
		lost = nil
		cur, now, err := s.lockLease(ctx, tx, l.Name)
		if err != nil {
			return err
		}
		if cur.Token != l.Token || cur.Owner != l.Owner {
			lost = storekit.LeaseLost(l, cur.Token)
			return nil
		}
		l.Expires = time.UnixMilli(now + ttl.Milliseconds()).UTC()
		_, err = s.db.exec(ctx, tx, s.db.q.leaseSet, l.Owner, l.Token, l.Expires.UnixMilli(), s.loc, l.Name)
		return err
	})
	if err == nil {
		err = lost
	}
	if err != nil {
		return contactsync.Lease{}, writeErr(err, "renewing the %s lease", l.Name)
	}
	return l, nil
}

// ReleaseLease implements contactsync.LeaseStore.
func (s *Store) ReleaseLease(ctx context.Context, l contactsync.Lease) error {
	err := s.db.writeSolo(ctx, s.loc, func(ctx context.Context, tx *sql.Tx) error {
		cur, _, err := s.lockLease(ctx, tx, l.Name)
		if err != nil || cur.Token != l.Token || cur.Owner != l.Owner {
			return err
		}
		_, err = s.db.exec(ctx, tx, s.db.q.leaseSet, "", l.Token, 0, s.loc, l.Name)
		return err
	})
	return writeErr(err, "releasing the %s lease", l.Name)
}

// lockLease reads a lease's row, creating it if need be, locked until tx
// ends, and the database's clock in Unix milliseconds.
func (s *Store) lockLease(ctx context.Context, tx *sql.Tx, name string) (cur contactsync.Lease, now int64, err error) {
	if _, err := s.db.exec(ctx, tx, s.db.q.leaseNew, s.loc, name); err != nil {
		return cur, 0, err
	}
	var expires int64
	err = tx.QueryRowContext(ctx, s.db.q.leaseGet, s.loc, name).Scan(&cur.Owner, &cur.Token, &expires, &now)
	cur.Name, cur.Expires = name, time.UnixMilli(expires).UTC()
	return cur, now, err
}

// Fenced implements contactsync.LeaseStore: the returned store's intent
// writes check, in their transaction, that l's token is still the lease's.
// Its Commit is written behind (see pending.go).
func (s *Store) Fenced(l contactsync.Lease) contactsync.StateStore {
	return fenced{Store: &Store{db: s.db, loc: s.loc, pend: newPending(), cache: &linkCache{}}, lease: l}
}

// fenced is a Store whose intent writes are fenced by a lease.
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
	return f.putLink(ctx, l, &f.lease)
}

func (f fenced) DeleteLink(ctx context.Context, kind contactsync.Kind, localID string) error {
	return f.deleteLink(ctx, kind, localID, &f.lease)
}

// SpendBudget implements contactsync.BudgetStore: the day's row is read
// and updated in one transaction with the row locked.
func (s *Store) SpendBudget(ctx context.Context, day string, n, limit int) (granted, used int, err error) {
	if err := storekit.CheckDay(day); err != nil {
		return 0, 0, err
	}
	err = s.db.writeSolo(ctx, s.loc, func(ctx context.Context, tx *sql.Tx) error {
		if _, err := s.db.exec(ctx, tx, s.db.q.budgetNew, s.loc, day); err != nil {
			return err
		}
		var cur int
		if err := tx.QueryRowContext(ctx, s.db.q.budgetGet, s.loc, day).Scan(&cur); err != nil {
			return err
		}
		next := storekit.BudgetAfter(cur, n, limit)
		granted, used = next-cur, next
		if next == cur {
			return nil
		}
		_, err := s.db.exec(ctx, tx, s.db.q.budgetSet, next, s.loc, day)
		return err
	})
	if err != nil {
		return 0, 0, writeErr(err, "spending the budget of %s", day)
	}
	return granted, used, nil
}
