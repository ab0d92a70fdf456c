package fleet

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gymflow/contacts-go/internal/sqldb"
)

// backend runs the fleet's own statements on the database of its River
// driver: in a caller's transaction (of the driver's type) or on their own.
type backend[TTx any] interface {
	dialect() sqldb.Dialect
	exec(ctx context.Context, query string, args ...any) error
	execTx(ctx context.Context, tx TTx, query string, args ...any) error
	queryRow(ctx context.Context, query string, args []any, dest ...any) error
	queryRowTx(ctx context.Context, tx TTx, query string, args []any, dest ...any) error
	query(ctx context.Context, query string, args []any, scan func(scan func(dest ...any) error) error) error
	queryTx(ctx context.Context, tx TTx, query string, args []any, scan func(scan func(dest ...any) error) error) error
	// inTx runs f in a transaction, committed if f returns nil.
	inTx(ctx context.Context, f func(tx TTx) error) error
	// exclusive runs f while no other process runs an exclusive f on
	// the database (Migrate).
	exclusive(ctx context.Context, f func() error) error
	// tryLease takes the run lease of a location for owner if it is free
	// or expired; renew extends it (false: it was lost); release gives it
	// back. PostgreSQL: a row of the fleet_running table, judged by the
	// database's clock; SQLite (one process): a map.
	tryLease(ctx context.Context, loc, owner string, ttl time.Duration) (ok bool, err error)
	renewLease(ctx context.Context, loc, owner string, ttl time.Duration) (ok bool, err error)
	// releaseLease with quiet > 0 keeps the lease, ownerless, for quiet
	// (the location's rate-limit window is spent until then); SQLite's
	// leases do not (one process, whose jobs share a location's client).
	releaseLease(ctx context.Context, loc, owner string, quiet time.Duration) error
}

// errNoRows is what queryRow returns for no row, whatever the driver.
var errNoRows = sql.ErrNoRows

type pgBackend struct {
	pool   *pgxpool.Pool
	prefix string
}

func (pgBackend) dialect() sqldb.Dialect { return sqldb.Postgres }

func (b pgBackend) exec(ctx context.Context, query string, args ...any) error {
	_, err := b.pool.Exec(ctx, query, args...)
	return err
}

func (pgBackend) execTx(ctx context.Context, tx pgx.Tx, query string, args ...any) error {
	_, err := tx.Exec(ctx, query, args...)
	return err
}

func pgRowErr(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return errNoRows
	}
	return err
}

func (b pgBackend) queryRow(ctx context.Context, query string, args []any, dest ...any) error {
	return pgRowErr(b.pool.QueryRow(ctx, query, args...).Scan(dest...))
}

func (pgBackend) queryRowTx(ctx context.Context, tx pgx.Tx, query string, args []any, dest ...any) error {
	return pgRowErr(tx.QueryRow(ctx, query, args...).Scan(dest...))
}

func pgQuery(rows pgx.Rows, err error, scan func(func(dest ...any) error) error) error {
	if err != nil {
		return err
	}
	defer rows.Close()
	return eachRow(rows.Next, rows.Scan, rows.Err, scan)
}

// eachRow hands each row of a result to scan, then returns the result's
// error.
func eachRow(next func() bool, rowScan func(...any) error, rowsErr func() error, scan func(func(dest ...any) error) error) error {
	for next() {
		if err := scan(rowScan); err != nil {
			return err
		}
	}
	return rowsErr()
}

func (b pgBackend) query(ctx context.Context, query string, args []any, scan func(func(dest ...any) error) error) error {
	rows, err := b.pool.Query(ctx, query, args...)
	return pgQuery(rows, err, scan)
}

func (pgBackend) queryTx(ctx context.Context, tx pgx.Tx, query string, args []any, scan func(func(dest ...any) error) error) error {
	rows, err := tx.Query(ctx, query, args...)
	return pgQuery(rows, err, scan)
}

func (b pgBackend) inTx(ctx context.Context, f func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, b.pool, f)
}

// migrateLock is the session advisory lock key of exclusive: "fleetmig".
const migrateLock = 0x666c6565746d6967

// exclusive holds a session advisory lock on a connection of its own
// while f runs on the pool (River's migrations cannot run in one
// transaction: a later one uses an enum value an earlier one adds).
func (b pgBackend) exclusive(ctx context.Context, f func() error) error {
	conn, err := b.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrateLock)); err != nil {
		return fmt.Errorf("fleet: waiting for another process's migration: %w", err)
	}
	ferr := f()
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, int64(migrateLock)); err != nil {
		// The session still holds the lock: close the connection, which
		// releases it, rather than return it to the pool.
		conn.Conn().Close(uctx)
	}
	return ferr
}

// The run lease of a location on PostgreSQL: a row, taken when absent or
// expired, by the database's clock. A worker killed holding it blocks its
// location until it expires; no connection is held meanwhile.
const (
	pgNow     = `CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)`
	leaseTake = `INSERT INTO {p}fleet_running AS r (location_id, owner, expires_at) VALUES ($1, $2, ` + pgNow + ` + $3)
	ON CONFLICT (location_id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
	WHERE r.expires_at < ` + pgNow
	leaseRenew   = `UPDATE {p}fleet_running SET expires_at = ` + pgNow + ` + $3 WHERE location_id = $1 AND owner = $2`
	leaseRelease = `DELETE FROM {p}fleet_running WHERE location_id = $1 AND owner = $2`
	leaseQuiet   = `UPDATE {p}fleet_running SET owner = '', expires_at = ` + pgNow + ` + $3 WHERE location_id = $1 AND owner = $2`
)

func (b pgBackend) tryLease(ctx context.Context, loc, owner string, ttl time.Duration) (bool, error) {
	tag, err := b.pool.Exec(ctx, b.q(leaseTake), loc, owner, ttl.Milliseconds())
	return err == nil && tag.RowsAffected() == 1, err
}

func (b pgBackend) renewLease(ctx context.Context, loc, owner string, ttl time.Duration) (bool, error) {
	tag, err := b.pool.Exec(ctx, b.q(leaseRenew), loc, owner, ttl.Milliseconds())
	return err == nil && tag.RowsAffected() == 1, err
}

func (b pgBackend) releaseLease(ctx context.Context, loc, owner string, quiet time.Duration) error {
	if quiet > 0 {
		_, err := b.pool.Exec(ctx, b.q(leaseQuiet), loc, owner, quiet.Milliseconds()+1)
		return err
	}
	_, err := b.pool.Exec(ctx, b.q(leaseRelease), loc, owner)
	return err
}

func (b pgBackend) q(query string) string { return strings.ReplaceAll(query, "{p}", b.prefix) }

// sqliteBackend runs in one process: its locks are the process's.
type sqliteBackend struct {
	db    *sql.DB
	locks *sync.Map // location → owner
}

func (b sqliteBackend) tryLease(_ context.Context, loc, owner string, _ time.Duration) (bool, error) {
	_, held := b.locks.LoadOrStore(loc, owner)
	return !held, nil
}

func (b sqliteBackend) renewLease(_ context.Context, loc, owner string, _ time.Duration) (bool, error) {
	v, ok := b.locks.Load(loc)
	return ok && v == owner, nil
}

func (b sqliteBackend) releaseLease(_ context.Context, loc, owner string, _ time.Duration) error {
	b.locks.CompareAndDelete(loc, owner)
	return nil
}

func (sqliteBackend) dialect() sqldb.Dialect { return sqldb.SQLite }

func (b sqliteBackend) exec(ctx context.Context, query string, args ...any) error {
	_, err := b.db.ExecContext(ctx, query, args...)
	return err
}

func (sqliteBackend) execTx(ctx context.Context, tx *sql.Tx, query string, args ...any) error {
	_, err := tx.ExecContext(ctx, query, args...)
	return err
}

func (b sqliteBackend) queryRow(ctx context.Context, query string, args []any, dest ...any) error {
	return b.db.QueryRowContext(ctx, query, args...).Scan(dest...)
}

func (sqliteBackend) queryRowTx(ctx context.Context, tx *sql.Tx, query string, args []any, dest ...any) error {
	return tx.QueryRowContext(ctx, query, args...).Scan(dest...)
}

func sqlQuery(rows *sql.Rows, err error, scan func(func(dest ...any) error) error) error {
	if err != nil {
		return err
	}
	defer rows.Close()
	return eachRow(rows.Next, rows.Scan, rows.Err, scan)
}

func (b sqliteBackend) query(ctx context.Context, query string, args []any, scan func(func(dest ...any) error) error) error {
	rows, err := b.db.QueryContext(ctx, query, args...)
	return sqlQuery(rows, err, scan)
}

func (sqliteBackend) queryTx(ctx context.Context, tx *sql.Tx, query string, args []any, scan func(func(dest ...any) error) error) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	return sqlQuery(rows, err, scan)
}

// exclusive: a SQLite fleet is one process, and SQLite serializes
// writers itself.
func (sqliteBackend) exclusive(_ context.Context, f func() error) error { return f() }

func (b sqliteBackend) inTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// queueQueries are the statements of one of the fleet's queue tables:
// the outbox (GymFlow's changes) or the inbox (webhook deliveries).
type queueQueries struct {
	insert, batch, remove, any, pending, all string
	// insertMany inserts a list of bodies in order, in one statement
	// (PostgreSQL; empty with SQLite, whose inserts cost no round trip).
	insertMany string
}

// queries are the fleet's statements in its dialect.
type queries struct {
	out, in queueQueries
	// A GymFlow transaction enqueueing a location's changes (or
	// deliveries) holds the location's lock shared; the location's job
	// takes it alone to read its queue, so that it never reads past a row
	// still being written (sequence numbers are handed out before commit),
	// and to complete itself once the queue is empty.
	lockShared, lock string
}

func buildQueries(d sqldb.Dialect, p string) queries {
	queue := func(table, insert string) queueQueries {
		return queueQueries{
			insert:  insert,
			batch:   `SELECT seq, body FROM {p}` + table + ` WHERE location_id = ? ORDER BY seq LIMIT ?`,
			remove:  `DELETE FROM {p}` + table + ` WHERE location_id = ? AND seq <= ?`,
			any:     `SELECT seq FROM {p}` + table + ` WHERE location_id = ? ORDER BY seq LIMIT 1`,
			pending: `SELECT count(*), min(enqueued_at) FROM {p}` + table + ` WHERE location_id = ?`,
			all:     `SELECT location_id, count(*), min(enqueued_at) FROM {p}` + table + ` GROUP BY location_id`,
		}
	}
	q := queries{
		out: queue("fleet_outbox", `INSERT INTO {p}fleet_outbox (location_id, body, enqueued_at) VALUES (?, ?, ?)`),
		in: queue("fleet_inbox", `INSERT INTO {p}fleet_inbox (location_id, webhook_id, body, enqueued_at) VALUES (?, ?, ?, ?)
	ON CONFLICT (location_id, webhook_id) DO NOTHING`),
		lockShared: `SELECT pg_advisory_xact_lock_shared(?)`,
		lock:       `SELECT pg_advisory_xact_lock(?)`,
	}
	if d == sqldb.Postgres {
		q.out.insertMany = `INSERT INTO {p}fleet_outbox (location_id, body, enqueued_at)
	SELECT ?, u.body, ? FROM unnest(?::bytea[]) WITH ORDINALITY AS u (body, n) ORDER BY u.n`
	}
	r := strings.NewReplacer("{p}", p)
	for _, s := range []*string{
		&q.out.insertMany,
		&q.out.insert, &q.out.batch, &q.out.remove, &q.out.any, &q.out.pending, &q.out.all,
		&q.in.insert, &q.in.batch, &q.in.remove, &q.in.any, &q.in.pending, &q.in.all,
		&q.lockShared, &q.lock,
	} {
		*s = d.Rebind(r.Replace(*s))
	}
	return q
}

func ddl(d sqldb.Dialect, p string) []string {
	serial, blob := "INTEGER PRIMARY KEY AUTOINCREMENT", "BLOB"
	if d == sqldb.Postgres {
		serial, blob = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "BYTEA"
	}
	r := strings.NewReplacer("{p}", p, "{serial}", serial, "{blob}", blob)
	var out []string
	for _, s := range []string{
		// The outbox: changes GymFlow enqueued in its transactions, in
		// the order they are applied (seq) within a location.
		`CREATE TABLE IF NOT EXISTS {p}fleet_outbox (
	seq {serial},
	location_id TEXT NOT NULL,
	body {blob} NOT NULL,
	enqueued_at BIGINT NOT NULL
)`,
		`CREATE INDEX IF NOT EXISTS {p}fleet_outbox_location ON {p}fleet_outbox (location_id, seq)`,
		// The inbox: verified webhook deliveries, until the location's
		// inbound job hands them to its Inbound's durable inbox.
		`CREATE TABLE IF NOT EXISTS {p}fleet_inbox (
	seq {serial},
	location_id TEXT NOT NULL,
	webhook_id TEXT NOT NULL,
	body {blob} NOT NULL,
	enqueued_at BIGINT NOT NULL,
	UNIQUE (location_id, webhook_id)
)`,
		`CREATE INDEX IF NOT EXISTS {p}fleet_inbox_location ON {p}fleet_inbox (location_id, seq)`,
		// The run leases: one job of a location runs at a time.
		`CREATE TABLE IF NOT EXISTS {p}fleet_running (
	location_id TEXT PRIMARY KEY,
	owner TEXT NOT NULL,
	expires_at BIGINT NOT NULL
)`,
	} {
		out = append(out, r.Replace(s))
	}
	return out
}
