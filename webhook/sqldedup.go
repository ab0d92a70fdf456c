package webhook

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gymflow/contacts-go/internal/sqldb"
)

// Dialect is the SQL dialect of a SQLDedup's database. It is the one
// dialect type of the SDK's SQL stores: oauth.Dialect is the same type.
// Its String method returns the dialect's name.
type Dialect = sqldb.Dialect

// Dialects of NewSQLDedup.
const (
	// SQLite 3.24 or later, e.g. through modernc.org/sqlite or
	// github.com/mattn/go-sqlite3.
	SQLite Dialect = sqldb.SQLite
	// Postgres is PostgreSQL 9.5 or later, e.g. through
	// github.com/jackc/pgx/v5/stdlib or github.com/lib/pq.
	Postgres Dialect = sqldb.Postgres
)

// Defaults of a SQLDedup.
const (
	// DefaultSQLTablePrefix is the prefix of a SQLDedup's table, whose
	// name is the prefix followed by "ids": contacts_webhook_ids.
	DefaultSQLTablePrefix = "contacts_webhook_"
	// DefaultAutoPurge is the chance that a Begin claiming a new ID also
	// purges expired rows (see WithAutoPurge).
	DefaultAutoPurge = 0.01
)

// purgeBatch bounds the rows one DELETE removes: a Begin's automatic purge
// runs one batch, Purge runs batches until none is full.
const purgeBatch = 1000

// maxBeginRounds bounds Begin's compare-and-swap attempts. Each failed one
// means another delivery of the same ID changed its row meanwhile.
const maxBeginRounds = 8

// The states of a row, as stored.
const (
	sqlProcessing = "processing"
	sqlProcessed  = "processed"
	sqlFailed     = "failed"
)

// SQLDedup is a DedupStore in a SQL database, for receivers running as
// several processes or on several machines: a delivery claimed by one is
// InProgress for all the others. It behaves as MemoryDedup (same claims,
// claim TTL and TTL) and keeps one row per webhook ID in one table, which
// Migrate creates (or create it with Schema's statements in your own
// migrations):
//
//	contacts_webhook_ids(id TEXT PRIMARY KEY, state TEXT, expires_at BIGINT)
//
// state is "processing", "processed" or "failed" and expires_at is in
// Unix milliseconds. Begin claims an ID with an INSERT … ON CONFLICT DO
// NOTHING and, when the ID is known, reclaims a failed or lapsed one with a
// compare-and-swap UPDATE on the state and expiry it read; every statement
// is auto-committed, so the store works with any isolation level. Under
// REPEATABLE READ or SERIALIZABLE, PostgreSQL refuses a statement that
// meets a row another transaction changed since the statement's snapshot
// (serialization_failure, SQLSTATE 40001); the store runs such a statement
// again, as it does one that SQLite refuses as busy. PostgreSQL's TEXT
// holds neither NUL nor invalid UTF-8: there an ID with either (or one
// starting with the byte 0x01) is stored as 0x01 followed by its bytes in
// hex.
//
// Expired rows are not read as live, but they stay in the table until
// Purge deletes them: call Purge periodically (e.g. hourly) from one
// instance. Begin also purges up to 1,000 expired rows, with a small
// chance each time it claims a new ID (WithAutoPurge), so the table stays
// bounded even if you never call Purge.
//
// Expiry is judged by the clock of the process calling Begin (the now
// argument), so keep the machines' clocks synchronized (NTP) to well
// within the claim TTL. Times are stored with millisecond resolution.
//
// With SQLite, open a file database in WAL mode with a busy timeout, e.g.
// with modernc.org/sqlite:
//
//	file:/path/webhooks.db?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)
//
// The store also retries a statement SQLite refuses as busy. An in-memory
// SQLite database is private to one connection of the pool, so do not use
// one with a pool of more than one connection.
type SQLDedup struct {
	db        *sql.DB
	dialect   Dialect
	prefix    string
	ttl       time.Duration
	claimTTL  time.Duration
	autoPurge float64
	q         dedupQueries
}

// dedupQueries are a store's statements, in its dialect.
type dedupQueries struct {
	create, index                       string
	claim, get, reclaim, settle, forget string
	purge                               string
}

// SQLDedupOption configures a SQLDedup.
type SQLDedupOption func(*SQLDedup)

// WithTablePrefix names the store's table prefix+"ids" instead of
// DefaultSQLTablePrefix+"ids". The prefix is written into the SQL as is:
// it must be letters, digits and underscores, starting with a letter or
// underscore.
func WithTablePrefix(prefix string) SQLDedupOption { return func(s *SQLDedup) { s.prefix = prefix } }

// WithDedupTTL sets how long processed and failed IDs are remembered
// (default DefaultDedupTTL).
func WithDedupTTL(d time.Duration) SQLDedupOption { return func(s *SQLDedup) { s.ttl = d } }

// WithClaimTTL sets how long a claim holds before it lapses and counts as
// failed (default DefaultClaimTTL). Make it longer than your handler can
// take.
func WithClaimTTL(d time.Duration) SQLDedupOption { return func(s *SQLDedup) { s.claimTTL = d } }

// WithAutoPurge sets the chance, in [0, 1], that a Begin claiming a new ID
// also deletes up to 1,000 expired rows (default DefaultAutoPurge: with
// one purge per hundred new IDs removing up to ten rows per new ID, the
// table cannot grow past the IDs of one TTL). 0 disables it: then call
// Purge yourself.
func WithAutoPurge(chance float64) SQLDedupOption {
	return func(s *SQLDedup) { s.autoPurge = chance }
}

var sqlIdentifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,47}$`)

// NewSQLDedup returns a store in db, which speaks dialect d. It does not
// touch the database: call Migrate to create the table.
func NewSQLDedup(db *sql.DB, d Dialect, opts ...SQLDedupOption) (*SQLDedup, error) {
	if db == nil {
		return nil, errors.New("webhook: NewSQLDedup needs a database")
	}
	if !d.Valid() {
		return nil, fmt.Errorf("webhook: NewSQLDedup: unknown dialect %s", d)
	}
	s := &SQLDedup{db: db, dialect: d, prefix: DefaultSQLTablePrefix,
		ttl: DefaultDedupTTL, claimTTL: DefaultClaimTTL, autoPurge: DefaultAutoPurge}
	for _, o := range opts {
		o(s)
	}
	switch {
	case !sqlIdentifier.MatchString(s.prefix):
		return nil, fmt.Errorf("webhook: NewSQLDedup: table prefix %q is not a plain SQL identifier", s.prefix)
	case s.ttl <= 0 || s.claimTTL <= 0:
		return nil, errors.New("webhook: NewSQLDedup: the TTLs must be positive")
	case !(s.autoPurge >= 0 && s.autoPurge <= 1):
		return nil, fmt.Errorf("webhook: NewSQLDedup: auto-purge chance %v is not in [0, 1]", s.autoPurge)
	}
	s.q = buildDedupQueries(d, s.prefix+"ids")
	return s, nil
}

// buildDedupQueries writes the statements for table in dialect d.
//
// The tests run them on SQLite and on a real PostgreSQL server (15, through
// github.com/jackc/pgx/v5/stdlib; see internal/pgtest), under READ
// COMMITTED, REPEATABLE READ and SERIALIZABLE. They are written for
// PostgreSQL 9.5+: only TEXT and BIGINT columns; CREATE TABLE/INDEX IF NOT
// EXISTS (9.5+); INSERT … ON CONFLICT (id) DO NOTHING (9.5+), whose
// RowsAffected counts only the rows inserted; placeholders $1…$n in order
// of appearance, each used once and compared with or stored into a column,
// so the server infers its type; no RETURNING, no driver-specific SQL.
// Under READ COMMITTED, a concurrent INSERT of the same id waits for the
// first to commit and then does nothing, and the reclaiming UPDATE and the
// purging DELETE re-check their WHERE on a row another transaction changed
// meanwhile (the purge repeats its condition outside the subquery for
// that), so a row is claimed, or deleted, only in the state it was read in.
// Under the stricter levels such a statement fails with SQLSTATE 40001
// instead, and runs again (retry) on a fresh snapshot.
func buildDedupQueries(d Dialect, table string) dedupQueries {
	// A row may go when it expired, except a lapsed claim, which is kept
	// for a TTL more: until then a redelivery is a Retry, not Fresh.
	purgeable := `expires_at <= ? AND (state <> '` + sqlProcessing + `' OR expires_at <= ?)`
	q := dedupQueries{
		create: `CREATE TABLE IF NOT EXISTS ` + table + ` (
	id TEXT NOT NULL PRIMARY KEY,
	state TEXT NOT NULL,
	expires_at BIGINT NOT NULL
)`,
		index:   `CREATE INDEX IF NOT EXISTS ` + table + `_expires_at ON ` + table + ` (expires_at)`,
		claim:   `INSERT INTO ` + table + ` (id, state, expires_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		get:     `SELECT state, expires_at FROM ` + table + ` WHERE id = ?`,
		reclaim: `UPDATE ` + table + ` SET state = ?, expires_at = ? WHERE id = ? AND state = ? AND expires_at = ?`,
		settle: `INSERT INTO ` + table + ` (id, state, expires_at) VALUES (?, ?, ?)` +
			` ON CONFLICT (id) DO UPDATE SET state = excluded.state, expires_at = excluded.expires_at`,
		forget: `DELETE FROM ` + table + ` WHERE id = ?`,
		purge: `DELETE FROM ` + table + ` WHERE id IN (SELECT id FROM ` + table + ` WHERE ` + purgeable +
			` LIMIT ` + strconv.Itoa(purgeBatch) + `) AND ` + purgeable,
	}
	for _, p := range []*string{&q.claim, &q.get, &q.reclaim, &q.settle, &q.forget, &q.purge} {
		*p = d.Rebind(*p)
	}
	return q
}

// Schema returns the statements Migrate runs, for applications that
// manage their schema with their own migrations.
func (s *SQLDedup) Schema() []string { return []string{s.q.create, s.q.index} }

// Migrate creates the store's table and its index if they do not exist.
// It is safe to run at every start, and from several processes at once.
func (s *SQLDedup) Migrate(ctx context.Context) error {
	for _, stmt := range s.Schema() {
		exec := func() error { _, err := s.db.ExecContext(ctx, stmt); return err }
		err := s.retry(ctx, exec)
		if err != nil && ctx.Err() == nil {
			// Two servers creating a table at once can make one of them
			// fail (PostgreSQL's CREATE … IF NOT EXISTS is not atomic);
			// the second attempt finds the table.
			err = s.retry(ctx, exec)
		}
		if err != nil {
			return fmt.Errorf("webhook: SQL dedup migration: %w", err)
		}
	}
	return nil
}

// Begin implements DedupStore.
func (s *SQLDedup) Begin(ctx context.Context, id string, now time.Time) (Claim, error) {
	nowMS, until := now.UnixMilli(), now.Add(s.claimTTL).UnixMilli()
	for range maxBeginRounds {
		n, err := s.exec(ctx, s.q.claim, s.storedID(id), sqlProcessing, until)
		if err != nil {
			return 0, fmt.Errorf("webhook: SQL dedup: claiming %q: %w", id, err)
		}
		if n == 1 {
			if s.autoPurge > 0 && rand.Float64() < s.autoPurge {
				// Best effort: Purge reports errors, Begin need not.
				_, _ = s.purge(ctx, now)
			}
			return Fresh, nil
		}

		var (
			state   string
			expires int64
		)
		err = s.retry(ctx, func() error { return s.db.QueryRowContext(ctx, s.q.get, s.storedID(id)).Scan(&state, &expires) })
		if errors.Is(err, sql.ErrNoRows) {
			continue // forgotten since the INSERT: claim it anew
		}
		if err != nil {
			return 0, fmt.Errorf("webhook: SQL dedup: reading %q: %w", id, err)
		}
		live := nowMS < expires
		var claim Claim
		switch {
		case state == sqlProcessed && live:
			return Duplicate, nil
		case state == sqlProcessing && live:
			return InProgress, nil
		case state == sqlProcessing: // the holder's claim lapsed: it counts as failed
			claim = Retry
		case state == sqlFailed && live:
			claim = Retry
		case state == sqlProcessed || state == sqlFailed: // remembered no longer
			claim = Fresh
		default:
			return 0, fmt.Errorf("webhook: SQL dedup: %q has the unknown state %q", id, state)
		}
		n, err = s.exec(ctx, s.q.reclaim, sqlProcessing, until, s.storedID(id), state, expires)
		if err != nil {
			return 0, fmt.Errorf("webhook: SQL dedup: claiming %q: %w", id, err)
		}
		if n == 1 {
			return claim, nil
		}
		// Another delivery changed the row since it was read: look again.
	}
	// The row kept changing under us: other deliveries of the ID are busy
	// with it.
	return InProgress, nil
}

// End implements DedupStore.
func (s *SQLDedup) End(ctx context.Context, id string, outcome Outcome, now time.Time) error {
	var err error
	switch outcome {
	case Processed:
		_, err = s.exec(ctx, s.q.settle, s.storedID(id), sqlProcessed, now.Add(s.ttl).UnixMilli())
	case Failed:
		_, err = s.exec(ctx, s.q.settle, s.storedID(id), sqlFailed, now.Add(s.ttl).UnixMilli())
	default:
		_, err = s.exec(ctx, s.q.forget, s.storedID(id))
	}
	if err != nil {
		return fmt.Errorf("webhook: SQL dedup: settling %q: %w", id, err)
	}
	return nil
}

// Purge deletes the rows that expired at now and returns how many it
// deleted: processed and failed IDs older than the TTL, and claims that
// lapsed more than a TTL ago (a lapsed claim is kept that long so that a
// redelivery is still a Retry). Call it periodically, e.g. hourly from
// one instance; it deletes in batches of 1,000 rows so that it never holds
// the table long.
func (s *SQLDedup) Purge(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for {
		n, err := s.purge(ctx, now)
		total += n
		if err != nil {
			return total, fmt.Errorf("webhook: SQL dedup: purging: %w", err)
		}
		if n < purgeBatch {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// purge deletes one batch of expired rows.
func (s *SQLDedup) purge(ctx context.Context, now time.Time) (int64, error) {
	nowMS, lapsed := now.UnixMilli(), now.Add(-s.ttl).UnixMilli()
	return s.exec(ctx, s.q.purge, nowMS, lapsed, nowMS, lapsed)
}

// escapedID starts the stored form of an ID that PostgreSQL's TEXT cannot
// hold as it is.
const escapedID = "\x01"

// storedID is the id column's value for webhook ID id. SQLite stores any
// ID as it is. PostgreSQL's TEXT holds neither NUL nor invalid UTF-8 (a
// webhookId of "\u0000" in a signed body decodes to NUL), so there an ID
// with either, or that starts with escapedID, is stored as escapedID and
// its bytes in hex: one stored value for each ID, and every other ID,
// a UUID in practice, stored as it is.
func (s *SQLDedup) storedID(id string) string {
	if s.dialect != Postgres ||
		utf8.ValidString(id) && !strings.Contains(id, "\x00") && !strings.HasPrefix(id, escapedID) {
		return id
	}
	return escapedID + hex.EncodeToString([]byte(id))
}

// exec runs a statement, retrying while SQLite is busy or PostgreSQL
// reports a serialization failure, and returns the rows it affected.
func (s *SQLDedup) exec(ctx context.Context, query string, args ...any) (int64, error) {
	var res sql.Result
	err := s.retry(ctx, func() (err error) {
		res, err = s.db.ExecContext(ctx, query, args...)
		return err
	})
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// retry runs f, again while SQLite reports the database busy or
// PostgreSQL a serialization failure.
func (s *SQLDedup) retry(ctx context.Context, f func() error) error {
	return s.dialect.Retry(ctx, f)
}

// String describes the store without its connection details.
func (s *SQLDedup) String() string {
	return fmt.Sprintf("webhook.SQLDedup{dialect: %s, table: %sids}", s.dialect, s.prefix)
}
