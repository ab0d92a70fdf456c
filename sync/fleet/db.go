package fleet

import (
	"context"
	"database/sql"
	"errors"
	"strings"

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
}

// errNoRows is what queryRow returns for no row, whatever the driver.
var errNoRows = sql.ErrNoRows

type pgBackend struct{ pool *pgxpool.Pool }

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

type sqliteBackend struct{ db *sql.DB }

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

// queries are the fleet's statements in its dialect.
type queries struct {
	insert, batch, remove, any, pending, lockShared, lock string
}

func buildQueries(d sqldb.Dialect, p string) queries {
	q := queries{
		insert:  `INSERT INTO {p}fleet_outbox (location_id, change, enqueued_at) VALUES (?, ?, ?)`,
		batch:   `SELECT seq, change FROM {p}fleet_outbox WHERE location_id = ? ORDER BY seq LIMIT ?`,
		remove:  `DELETE FROM {p}fleet_outbox WHERE location_id = ? AND seq <= ?`,
		any:     `SELECT seq FROM {p}fleet_outbox WHERE location_id = ? ORDER BY seq LIMIT 1`,
		pending: `SELECT count(*), min(enqueued_at) FROM {p}fleet_outbox WHERE location_id = ?`,
		// A GymFlow transaction enqueueing changes of a location holds
		// its lock shared; the location's job takes it alone to read the
		// outbox, so that it never reads a change past one still being
		// written (sequence numbers are handed out before commit).
		lockShared: `SELECT pg_advisory_xact_lock_shared(?)`,
		lock:       `SELECT pg_advisory_xact_lock(?)`,
	}
	r := strings.NewReplacer("{p}", p)
	for _, s := range []*string{&q.insert, &q.batch, &q.remove, &q.any, &q.pending, &q.lockShared, &q.lock} {
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
	change {blob} NOT NULL,
	enqueued_at BIGINT NOT NULL
)`,
		`CREATE INDEX IF NOT EXISTS {p}fleet_outbox_location ON {p}fleet_outbox (location_id, seq)`,
	} {
		out = append(out, r.Replace(s))
	}
	return out
}
