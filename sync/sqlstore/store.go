package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/internal/storekit"
)

// Store is one location's part of a DB: its contactsync.StateStore,
// ActivityStore, InboundStore, LeaseStore and BudgetStore. It is safe for
// concurrent use, by any number of processes. Every write but Commit is
// committed before the method returns, so a recorded intent survives a
// crash of the process (and, with synchronous=FULL or PostgreSQL's
// defaults, of the machine); the engine's Commit under its lease (through
// Fenced) is written behind, seen at once by the location's readers in
// this process and by others a moment later (see pending.go for why that
// keeps the exactly-once guarantee). Every statement runs under the caller's context; a write that
// shares a transaction with other callers' writes is bounded by its
// caller's context while it waits, and the transaction by 30 s.
//
// Where the interfaces leave room, a Store returns times to the
// millisecond in UTC and nil for an empty Tags, State, Data, Report or
// Body.
type Store struct {
	db  *DB
	loc string
	// pend is a fenced view's writes behind (nil for the location's plain
	// store, whose writes all wait for their commit), and cache the links
	// it prefetched.
	pend  *pendingState
	cache *linkCache
}

// LocationID returns the store's location ID.
func (s *Store) LocationID() string { return s.loc }

// String describes the store.
func (s *Store) String() string { return fmt.Sprintf("sqlstore.Store{location: %q}", s.loc) }

// A Store serves as every store of contactsync.
var (
	_ contactsync.StateStore    = (*Store)(nil)
	_ contactsync.ActivityStore = (*Store)(nil)
	_ contactsync.InboundStore  = (*Store)(nil)
	_ contactsync.LeaseStore    = (*Store)(nil)
	_ contactsync.BudgetStore   = (*Store)(nil)
)

// read runs a read, again while SQLite reports the database busy (which
// WAL mode makes rare: only a checkpoint or recovery blocks readers).
func (s *Store) read(ctx context.Context, f func() error) error {
	s.db.statements.Add(1)
	s.db.reads.Add(1)
	return s.db.dialect.Retry(ctx, f)
}

// queryRow runs a prepared query of one row.
func (s *Store) queryRow(ctx context.Context, query string, scan func(*sql.Row) error, args ...any) error {
	return s.read(ctx, func() error {
		args := append([]any{s.loc}, args...)
		if !s.db.prepares() {
			return scan(s.db.db.QueryRowContext(ctx, query, args...))
		}
		st, err := s.db.stmt(ctx, query)
		if err != nil {
			return err
		}
		return scan(st.QueryRowContext(ctx, args...))
	})
}

// query runs a prepared query and hands each row to scan.
func (s *Store) query(ctx context.Context, query string, reset func(), scan func(*sql.Rows) error, args ...any) error {
	return s.read(ctx, func() error {
		reset()
		var (
			rows *sql.Rows
			err  error
		)
		if args := append([]any{s.loc}, args...); s.db.prepares() {
			var st *sql.Stmt
			if st, err = s.db.stmt(ctx, query); err != nil {
				return err
			}
			rows, err = st.QueryContext(ctx, args...)
		} else {
			rows, err = s.db.db.QueryContext(ctx, query, args...)
		}
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// write hands stmts to the DB's writers and waits for their commit,
// unless a write behind of the view failed.
func (s *Store) write(ctx context.Context, fence *contactsync.Lease, stmts ...stmt) error {
	if err := s.pend.failed(); err != nil {
		return err
	}
	return s.db.write(ctx, s.loc, fence, stmts...)
}

// settled waits until the view's writes behind are committed, for a read
// that spans many rows.
func (s *Store) settled(ctx context.Context) error { return s.pend.wait(ctx) }

// Settle waits until the writes a fenced view made behind (its Commits)
// are committed, and returns the error of one that failed.
func (s *Store) Settle(ctx context.Context) error { return s.settled(ctx) }

// st is a statement of the location: its arguments follow the location.
func (s *Store) st(query string, args ...any) stmt {
	return stmt{query: query, args: append([]any{s.loc}, args...)}
}

// exec is a write of one statement.
func (s *Store) exec(ctx context.Context, fence *contactsync.Lease, query string, args ...any) error {
	return s.write(ctx, fence, s.st(query, args...))
}

// insert is a write of one INSERT … ON CONFLICT DO NOTHING: first reports
// whether it inserted the row.
func (s *Store) insert(ctx context.Context, query string, args ...any) (first bool, err error) {
	var n int64
	st := s.st(query, args...)
	st.rows = &n
	err = s.write(ctx, nil, st)
	return err == nil && n == 1, err
}

// Link implements contactsync.StateStore.
func (s *Store) Link(ctx context.Context, kind contactsync.Kind, localID string) (contactsync.Link, error) {
	if l, ok, err := s.pend.link(kind, localID); ok || err != nil {
		return l, err
	}
	if e, ok := s.cache.take(linkKey{kind, localID}); ok {
		if !e.found {
			return contactsync.Link{}, contactsync.ErrNotFound
		}
		return e.link, nil
	}
	var l contactsync.Link
	err := s.queryRow(ctx, s.db.q.link, func(r *sql.Row) error { return scanLink(r, &l) }, kind, localID)
	if err != nil {
		return contactsync.Link{}, lookupErr(err, "reading the link of %s %s", kind, localID)
	}
	return l, nil
}

// LinkByRemote implements contactsync.StateStore. If several links of the
// kind have the remote ID, it returns the one with the least LocalID.
func (s *Store) LinkByRemote(ctx context.Context, kind contactsync.Kind, remoteID string) (contactsync.Link, error) {
	if err := s.settled(ctx); err != nil {
		return contactsync.Link{}, err
	}
	var l contactsync.Link
	err := s.queryRow(ctx, s.db.q.byRemote, func(r *sql.Row) error { return scanLink(r, &l) }, kind, remoteID)
	if err != nil {
		return contactsync.Link{}, lookupErr(err, "reading the %s link of remote record %s", kind, remoteID)
	}
	return l, nil
}

// PutLink implements contactsync.StateStore.
func (s *Store) PutLink(ctx context.Context, l contactsync.Link) error {
	return s.putLink(ctx, l, nil)
}

func (s *Store) putLink(ctx context.Context, l contactsync.Link, fence *contactsync.Lease) error {
	args, err := linkArgs(l)
	if err != nil {
		return err
	}
	s.cache.touch(linkKey{l.Kind, l.LocalID})
	return writeErr(s.exec(ctx, fence, s.db.q.putLink, args...), "storing the link of %s %s", l.Kind, l.LocalID)
}

// DeleteLink implements contactsync.StateStore.
func (s *Store) DeleteLink(ctx context.Context, kind contactsync.Kind, localID string) error {
	return s.deleteLink(ctx, kind, localID, nil)
}

func (s *Store) deleteLink(ctx context.Context, kind contactsync.Kind, localID string, fence *contactsync.Lease) error {
	s.cache.touch(linkKey{kind, localID})
	return writeErr(s.exec(ctx, fence, s.db.q.delLink, kind, localID), "deleting the link of %s %s", kind, localID)
}

// Links implements contactsync.StateStore. A limit of zero or less means
// no limit.
func (s *Store) Links(ctx context.Context, kind contactsync.Kind, after string, limit int) ([]contactsync.Link, error) {
	out, err := s.links(ctx, s.db.q.links, kind, after, s.db.limit(limit))
	if err != nil {
		return nil, fmt.Errorf("contactsync: listing %s links after %q: %w", kind, after, err)
	}
	return out, nil
}

// MemberLinks implements contactsync.StateStore.
func (s *Store) MemberLinks(ctx context.Context, kind contactsync.Kind, memberID string) ([]contactsync.Link, error) {
	out, err := s.links(ctx, s.db.q.member, kind, memberID)
	if err != nil {
		return nil, fmt.Errorf("contactsync: listing the %s links of member %s: %w", kind, memberID, err)
	}
	return out, nil
}

func (s *Store) links(ctx context.Context, query string, args ...any) ([]contactsync.Link, error) {
	if err := s.settled(ctx); err != nil {
		return nil, err
	}
	var out []contactsync.Link
	err := s.query(ctx, query, func() { out = nil }, func(rows *sql.Rows) error {
		var l contactsync.Link
		if err := scanLink(rows, &l); err != nil {
			return err
		}
		out = append(out, l)
		return nil
	}, args...)
	return out, err
}

// PutIntent implements contactsync.StateStore.
func (s *Store) PutIntent(ctx context.Context, in contactsync.Intent) error {
	return s.putIntent(ctx, in, nil)
}

func (s *Store) putIntent(ctx context.Context, in contactsync.Intent, fence *contactsync.Lease) error {
	if in.Key == "" {
		return errors.New("contactsync: an intent needs a key")
	}
	err := s.exec(ctx, fence, s.db.q.putIntent, in.Key, in.Kind, in.LocalID, in.Op, blob(in.Data), unixMilli(in.CreatedAt))
	return writeErr(err, "recording intent %s", in.Key)
}

// Intent implements contactsync.StateStore.
func (s *Store) Intent(ctx context.Context, key string) (contactsync.Intent, error) {
	switch gone, err := s.pend.intentDeleted(key); {
	case err != nil:
		return contactsync.Intent{}, err
	case gone:
		return contactsync.Intent{}, contactsync.ErrNotFound
	}
	var in contactsync.Intent
	err := s.queryRow(ctx, s.db.q.intent, func(r *sql.Row) error { return scanIntent(r, &in) }, key)
	if errors.Is(err, sql.ErrNoRows) {
		return contactsync.Intent{}, contactsync.ErrNotFound
	}
	if err != nil {
		return contactsync.Intent{}, fmt.Errorf("contactsync: reading intent %s: %w", key, err)
	}
	return in, nil
}

// Intents implements contactsync.StateStore, ordering intents by
// CreatedAt and then by Key.
func (s *Store) Intents(ctx context.Context) ([]contactsync.Intent, error) {
	if err := s.settled(ctx); err != nil {
		return nil, err
	}
	var out []contactsync.Intent
	err := s.query(ctx, s.db.q.intents, func() { out = nil }, func(rows *sql.Rows) error {
		var in contactsync.Intent
		if err := scanIntent(rows, &in); err != nil {
			return err
		}
		out = append(out, in)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("contactsync: listing intents: %w", err)
	}
	return out, nil
}

// Commit implements contactsync.StateStore in one transaction.
func (s *Store) Commit(ctx context.Context, l contactsync.Link, key string) error {
	return s.commit(ctx, l, key, nil)
}

// commit writes l and removes intent key: a fenced Commit — the engine's,
// under its lease — is written behind (see pending.go), returning once the
// write is queued and visible to the location's readers in this process;
// an unfenced one waits for its commit like every other write.
func (s *Store) commit(ctx context.Context, l contactsync.Link, key string, fence *contactsync.Lease) error {
	args, err := linkArgs(l)
	if err != nil {
		return err
	}
	stmts := []stmt{s.st(s.db.q.putLink, args...)}
	switch {
	case key != "" && s.db.dialect == Postgres:
		stmts = []stmt{{query: s.db.q.commitLink, args: append([]any{s.loc, key, s.loc}, args...)}}
	case key != "":
		stmts = append(stmts, s.st(s.db.q.delIntent, key))
	}
	if s.pend == nil {
		err := s.write(ctx, fence, stmts...)
		return writeErr(err, "committing the link of %s %s and intent %q", l.Kind, l.LocalID, key)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.cache.touch(linkKey{l.Kind, l.LocalID})
	p := s.pend
	seq, err := p.add(l, key)
	if err != nil {
		return err
	}
	after := func(err error) {
		p.done(l, key, seq, writeErr(err, "committing the link of %s %s and intent %q", l.Kind, l.LocalID, key))
	}
	if !s.db.writeBehind(s.loc, fence, after, stmts...) {
		after(errClosed)
		return writeErr(errClosed, "committing the link of %s %s and intent %q", l.Kind, l.LocalID, key)
	}
	return nil
}

// DeleteIntent implements contactsync.StateStore.
func (s *Store) DeleteIntent(ctx context.Context, key string) error {
	return s.deleteIntent(ctx, key, nil)
}

func (s *Store) deleteIntent(ctx context.Context, key string, fence *contactsync.Lease) error {
	return writeErr(s.exec(ctx, fence, s.db.q.delIntent, key), "deleting intent %s", key)
}

// MarkDone implements contactsync.StateStore with an INSERT that does
// nothing when the key is recorded already, which is atomic across
// processes.
func (s *Store) MarkDone(ctx context.Context, key string) (first bool, err error) {
	if key == "" {
		return false, errors.New("contactsync: an idempotency key must not be empty")
	}
	first, err = s.insert(ctx, s.db.q.markDone, key, time.Now().UnixMilli())
	if err != nil {
		return false, writeErr(err, "recording idempotency key %s", key)
	}
	return first, nil
}

// Done implements contactsync.StateStore.
func (s *Store) Done(ctx context.Context, key string) (bool, error) {
	var one int
	err := s.queryRow(ctx, s.db.q.done, func(r *sql.Row) error { return r.Scan(&one) }, key)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("contactsync: reading idempotency key %s: %w", key, err)
	}
	return true, nil
}

// AppendRun implements contactsync.StateStore. A run with the ID of a run
// in the log replaces it (and counts as appended last).
func (s *Store) AppendRun(ctx context.Context, r contactsync.RunRecord) error {
	err := s.write(ctx, nil, s.st(s.db.q.delRun, r.ID),
		s.st(s.db.q.putRun, r.ID, unixMilli(r.Started), unixMilli(r.Finished), blob(r.Report), blob([]byte(r.Err))))
	return writeErr(err, "appending run %s", r.ID)
}

// Runs implements contactsync.StateStore, ordering runs by Started,
// newest first, and runs started at the same millisecond by when they were
// appended, last first. A limit of zero or less means no limit.
func (s *Store) Runs(ctx context.Context, limit int) ([]contactsync.RunRecord, error) {
	if err := s.settled(ctx); err != nil {
		return nil, err
	}
	var out []contactsync.RunRecord
	err := s.query(ctx, s.db.q.runs, func() { out = nil }, func(rows *sql.Rows) error {
		var (
			r                 contactsync.RunRecord
			started, finished sql.NullInt64
			runErr            []byte
		)
		if err := rows.Scan(&r.ID, &started, &finished, &r.Report, &runErr); err != nil {
			return err
		}
		r.Started, r.Finished, r.Report, r.Err = fromMilli(started), fromMilli(finished), storekit.CloneBytes(r.Report), string(runErr)
		out = append(out, r)
		return nil
	}, s.db.limit(limit))
	if err != nil {
		return nil, fmt.Errorf("contactsync: listing runs: %w", err)
	}
	return out, nil
}

// Stats counts the location's links by kind and its intents, for reports.
// It counts the entries of the location's part of an index: tens of
// milliseconds for 100,000 links.
func (s *Store) Stats(ctx context.Context) (links map[contactsync.Kind]int, intents int, err error) {
	if err := s.settled(ctx); err != nil {
		return nil, 0, err
	}
	p, d := s.db.prefix, s.db.dialect
	err = s.read(ctx, func() error {
		links = make(map[contactsync.Kind]int)
		rows, err := s.db.db.QueryContext(ctx, d.Rebind(`SELECT kind, count(*) FROM `+p+`links WHERE location_id = ? GROUP BY kind`), s.loc)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				k contactsync.Kind
				n int
			)
			if err := rows.Scan(&k, &n); err != nil {
				return err
			}
			links[k] = n
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		return s.db.db.QueryRowContext(ctx, d.Rebind(`SELECT count(*) FROM `+p+`intents WHERE location_id = ?`), s.loc).Scan(&intents)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("contactsync: state store stats: %w", err)
	}
	return links, intents, nil
}

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

// scanLink reads a row of linkColumns into l.
func scanLink(row rowScanner, l *contactsync.Link) error {
	var (
		tags     sql.NullString
		archived bool
		updated  sql.NullInt64
	)
	err := row.Scan(&l.Kind, &l.LocalID, &l.RemoteID, &l.MemberID, &l.ContactID, &l.Hash, &l.State, &tags, &archived, &updated)
	if err != nil {
		return err
	}
	l.State = storekit.CloneBytes(l.State) // nil when empty
	l.Archived = archived
	l.UpdatedAt = fromMilli(updated)
	l.Tags = nil
	if tags.Valid && tags.String != "" {
		if err := json.Unmarshal([]byte(tags.String), &l.Tags); err != nil {
			return fmt.Errorf("the tags of %s %s are corrupt: %w", l.Kind, l.LocalID, err)
		}
		if len(l.Tags) == 0 {
			l.Tags = nil
		}
	}
	return nil
}

// linkArgs checks l and returns the values of linkColumns for it.
func linkArgs(l contactsync.Link) ([]any, error) {
	if err := storekit.CheckLink(l); err != nil {
		return nil, err
	}
	var tags any // NULL
	if len(l.Tags) > 0 {
		b, err := json.Marshal(l.Tags)
		if err != nil {
			return nil, fmt.Errorf("contactsync: encoding the tags of %s %s: %w", l.Kind, l.LocalID, err)
		}
		tags = string(b)
	}
	return []any{l.Kind, l.LocalID, l.RemoteID, l.MemberID, l.ContactID, l.Hash, blob(l.State), tags, l.Archived, unixMilli(l.UpdatedAt)}, nil
}

// scanIntent reads a row of intentColumns into in.
func scanIntent(row rowScanner, in *contactsync.Intent) error {
	var created sql.NullInt64
	if err := row.Scan(&in.Key, &in.Kind, &in.LocalID, &in.Op, &in.Data, &created); err != nil {
		return err
	}
	in.Data = storekit.CloneBytes(in.Data)
	in.CreatedAt = fromMilli(created)
	return nil
}

// blob is b as a BLOB argument: NULL when empty.
func blob(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// unixMilli is t as an argument of Unix milliseconds: NULL for the zero
// time.
func unixMilli(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}

// fromMilli is the time of a column unixMilli wrote.
func fromMilli(ms sql.NullInt64) time.Time {
	if !ms.Valid {
		return time.Time{}
	}
	return time.UnixMilli(ms.Int64).UTC()
}

// lookupErr turns the error of a lookup of one record into the method's:
// ErrNotFound if there was no row.
func lookupErr(err error, format string, kind contactsync.Kind, id string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return contactsync.ErrNotFound
	}
	return fmt.Errorf("contactsync: "+format+": %w", kind, id, err)
}

// writeErr wraps the error of a write, if any.
func writeErr(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("contactsync: "+format+": %w", append(args, err)...)
}

// PrefetchLinks implements contactsync.LinkPrefetcher for a fenced view
// (the plain store ignores it): one query reads the links of localIDs, and
// the view's Link answers from them, once each. The IDs go in one
// argument (a JSON array read by json_each with SQLite, a text array with
// PostgreSQL), so the statement is prepared once.
func (s *Store) PrefetchLinks(ctx context.Context, kind contactsync.Kind, localIDs []string) error {
	if s.cache == nil || len(localIDs) == 0 {
		return nil
	}
	ids := slices.Compact(slices.Sorted(slices.Values(localIDs)))
	var list any = ids
	if s.db.dialect == SQLite {
		b, err := json.Marshal(ids)
		if err != nil {
			return err
		}
		list = string(b)
	}
	var found []contactsync.Link
	at := time.Now() // before the read: the entries are at least this old
	err := s.query(ctx, s.db.q.prefetch, func() { found = nil }, func(rows *sql.Rows) error {
		var l contactsync.Link
		if err := scanLink(rows, &l); err != nil {
			return err
		}
		found = append(found, l)
		return nil
	}, kind, list)
	if err != nil {
		return fmt.Errorf("contactsync: prefetching %s links: %w", kind, err)
	}
	s.cache.put(kind, ids, found, at)
	return nil
}
