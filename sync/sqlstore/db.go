package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gymflow/contacts-go/internal/sqldb"
)

// Dialect is the SQL dialect of a database: SQLite or Postgres. It is the
// type oauth.Dialect and webhook.Dialect also name, so one value serves
// every SQL store of the module.
type Dialect = sqldb.Dialect

// The dialects a DB speaks.
const (
	// SQLite 3.35 or later, e.g. through modernc.org/sqlite (OpenSQLite).
	SQLite = sqldb.SQLite
	// Postgres is PostgreSQL 11 or later, e.g. through
	// github.com/jackc/pgx/v5/stdlib.
	Postgres = sqldb.Postgres
)

// DefaultTablePrefix is the prefix of the tables' names unless
// WithTablePrefix sets another.
const DefaultTablePrefix = "contactsync_"

// Option configures a DB.
type Option func(*DB) error

// WithTablePrefix sets the prefix of the tables' names (default
// DefaultTablePrefix): letters, digits and underscores, starting with a
// letter or an underscore. Use it to keep two sets of tables in one
// database; with PostgreSQL, a schema (search_path) does that too.
func WithTablePrefix(prefix string) Option {
	return func(d *DB) error {
		if !validPrefix(prefix) {
			return fmt.Errorf("table prefix %q: want letters, digits and underscores, not starting with a digit", prefix)
		}
		d.prefix = prefix
		return nil
	}
}

// WithWriters sets how many transactions the DB runs at once to write
// (default 1 for SQLite, which admits one writer anyway, and 4 for
// PostgreSQL). Writes waiting while a transaction runs go into the next
// one together, so a busy DB commits many writes per transaction.
func WithWriters(n int) Option {
	return func(d *DB) error {
		if n < 1 {
			return errors.New("writers: want at least 1")
		}
		d.writers = n
		return nil
	}
}

func validPrefix(p string) bool {
	if p == "" || len(p) > 40 {
		return false
	}
	for i, r := range p {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// DB is a database holding the sync state of any number of locations: the
// tables of its schema (Migrate) and a pool of writers that commit the
// writes of all its locations in shared transactions. Location returns a
// location's store.
//
// A DB is safe for concurrent use, by any number of processes on any
// number of machines (PostgreSQL) or on one machine (SQLite). Close it
// when done.
type DB struct {
	db      *sql.DB
	dialect Dialect
	prefix  string
	writers int
	owned   bool // Close closes db
	q       queries
	iq      insightQueries

	smu        sync.Mutex
	stmts      map[string]*sql.Stmt
	unprepared map[string]bool // queries exec ran unprepared, for the writers to prepare

	// noPipeline: the driver is not pgx (pipeline.go).
	noPipeline atomic.Bool

	// Counters of Stats.
	statements, reads, commits, batched atomic.Int64

	w         *writer
	startOnce sync.Once
	closeOnce sync.Once
	closeErr  error
}

// New returns a DB in db, which speaks dialect d. It does no I/O: call
// Migrate to create the tables (or run Schema's statements in your own
// migrations). Closing the DB leaves db open.
//
// With SQLite, open db in WAL mode with a busy timeout and
// synchronous=FULL, so that a recorded intent survives a power loss, and
// with immediate transactions (OpenSQLite does all of this). With
// PostgreSQL, use github.com/jackc/pgx/v5/stdlib, say:
//
//	db, err := sql.Open("pgx", "postgres://sync@db.internal/gymflow")
//	store, err := sqlstore.New(db, sqlstore.Postgres)
func New(db *sql.DB, d Dialect, opts ...Option) (*DB, error) {
	if db == nil {
		return nil, errors.New("contactsync: sqlstore.New needs a database")
	}
	if !d.Valid() {
		return nil, fmt.Errorf("contactsync: sqlstore.New: unknown dialect %s", d)
	}
	s := &DB{db: db, dialect: d, prefix: DefaultTablePrefix, writers: 1, stmts: map[string]*sql.Stmt{}}
	if d == Postgres {
		s.writers = 4
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(s); err != nil {
			return nil, fmt.Errorf("contactsync: sqlstore: %w", err)
		}
	}
	s.q = buildQueries(d, s.prefix)
	s.iq = buildInsightQueries(func(q string) string { return d.Rebind(strings.ReplaceAll(q, "{p}", s.prefix)) })
	return s, nil
}

// Dialect returns the DB's dialect.
func (s *DB) Dialect() Dialect { return s.dialect }

// Schema returns the statements Migrate runs to create the schema, for
// applications that manage their schema with their own migration tool.
// Run them in order, in one transaction, and record nothing else: Migrate
// then finds the tables and only records the schema version.
func (s *DB) Schema() []string {
	return append([]string{metaDDL(s.prefix)}, ddl(s.dialect, s.prefix)...)
}

// migrateLock is the PostgreSQL advisory lock key Migrate holds, so that
// processes starting at once do not race on CREATE … IF NOT EXISTS.
const migrateLock = 0x636f6e7473796e63 // "contsync"

// Migrate creates the schema if it does not exist, in one transaction, and
// refuses a database whose schema is of another version: newer (made by a
// later version of this package) or older (contactsync.SQLiteStore's
// single-location schema). It is safe to run at every start, from several
// processes at once.
func (s *DB) Migrate(ctx context.Context) error {
	err := s.dialect.Retry(ctx, func() error {
		return s.inTx(ctx, func(tx *sql.Tx) error {
			if s.dialect == Postgres {
				if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrateLock)); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, metaDDL(s.prefix)); err != nil {
				return err
			}
			var raw string
			err := tx.QueryRowContext(ctx, s.dialect.Rebind(`SELECT value FROM `+s.prefix+`meta WHERE name = 'schema_version'`)).Scan(&raw)
			switch {
			case errors.Is(err, sql.ErrNoRows):
			case err != nil:
				return err
			default:
				v, err := strconv.Atoi(raw)
				if err != nil || v < 3 || v > schemaVersion {
					return &SchemaVersionError{Found: raw}
				}
				if v == schemaVersion {
					return nil
				}
				for ; v < schemaVersion; v++ {
					for _, stmt := range upgrades(s.prefix)[v] {
						if _, err := tx.ExecContext(ctx, stmt); err != nil {
							return fmt.Errorf("upgrading the schema from version %d: %w", v, err)
						}
					}
				}
				_, err = tx.ExecContext(ctx, s.dialect.Rebind(`UPDATE `+s.prefix+`meta SET value = ? WHERE name = 'schema_version'`), strconv.Itoa(schemaVersion))
				return err
			}
			for _, stmt := range ddl(s.dialect, s.prefix) {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return err
				}
			}
			_, err = tx.ExecContext(ctx, s.dialect.Rebind(`INSERT INTO `+s.prefix+`meta (name, value) VALUES ('schema_version', ?)`), strconv.Itoa(schemaVersion))
			return err
		})
	})
	var bad *SchemaVersionError
	if errors.As(err, &bad) {
		return err
	}
	if err != nil {
		return fmt.Errorf("contactsync: migrating the sync schema: %w", err)
	}
	return nil
}

// SchemaVersionError is Migrate's refusal of a schema of another version.
type SchemaVersionError struct {
	// Found is the version the database records.
	Found string
}

func (e *SchemaVersionError) Error() string {
	if v, err := strconv.Atoi(e.Found); err == nil && (v == 1 || v == 2) {
		return fmt.Sprintf("contactsync: the database holds the sync state in schema version %d, written by contactsync.SQLiteStore "+
			"(before package sqlstore), which kept one location per file; sqlstore keeps any number of locations in "+
			"schema version %d and does not convert it: start a new file or use another table prefix", v, schemaVersion)
	}
	return fmt.Sprintf("contactsync: the database's sync schema version is %q; this version of package sqlstore knows %d", e.Found, schemaVersion)
}

// Location returns the store of one location (its Contacts API location
// ID), which serves as the contactsync.StateStore, ActivityStore,
// InboundStore, LeaseStore and BudgetStore of that location. Stores of one
// DB share its connections and writers; get one per location.
func (s *DB) Location(id string) (*Store, error) {
	if id == "" {
		return nil, errors.New("contactsync: sqlstore: a location needs an ID")
	}
	return &Store{db: s, loc: id}, nil
}

// Close stops the DB's writers once the writes they were given are done,
// closes its prepared statements and, if OpenSQLite opened the database,
// the database. Writes after Close fail. Closing twice returns the first
// result.
func (s *DB) Close() error {
	s.closeOnce.Do(func() {
		s.startOnce.Do(func() {}) // no writers start after this
		if s.w != nil {
			s.w.stop()
		}
		s.smu.Lock()
		var errs []error
		for _, st := range s.stmts {
			errs = append(errs, st.Close())
		}
		s.stmts = nil
		s.smu.Unlock()
		if s.owned {
			errs = append(errs, s.db.Close())
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// Stats counts what a DB did since it was made.
type Stats struct {
	// Statements is the number of statements run, reads and writes, the
	// checks of leases included (not BEGIN and COMMIT).
	Statements int64
	// Reads is the number of them that only read.
	Reads int64
	// Commits is the number of write transactions committed, and Writes
	// the number of writes (store method calls) they carried: Writes /
	// Commits is how many writes shared a commit on average.
	Commits int64
	Writes  int64
}

// Stats returns the DB's counters.
func (s *DB) Stats() Stats {
	return Stats{Statements: s.statements.Load(), Reads: s.reads.Load(), Commits: s.commits.Load(), Writes: s.batched.Load()}
}

// String describes the DB.
func (s *DB) String() string {
	return fmt.Sprintf("sqlstore.DB{dialect: %s, prefix: %q}", s.dialect, s.prefix)
}

// errClosed is the error of a write after Close.
var errClosed = errors.New("contactsync: the sqlstore DB is closed")

// prepares reports whether the DB prepares its statements itself. With
// SQLite it does, once per query. With PostgreSQL it leaves that to the
// driver: pgx prepares and caches every statement per connection on its
// own, and a statement database/sql prepared on the pool costs a prepare
// (and a deallocate) on each transaction's connection instead.
func (s *DB) prepares() bool { return s.dialect == SQLite }

// stmt returns the prepared statement of query, preparing it on first
// use.
//
// It prepares without holding smu, which exec takes inside the writers'
// transactions: preparing may wait for a connection one of them holds.
func (s *DB) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	s.smu.Lock()
	st, ok := s.stmts[query]
	closed := s.stmts == nil
	s.smu.Unlock()
	switch {
	case closed:
		return nil, errClosed
	case ok:
		return st, nil
	}
	err := s.dialect.Retry(ctx, func() (err error) { st, err = s.db.PrepareContext(ctx, query); return err })
	if err != nil {
		return nil, err
	}
	s.smu.Lock()
	defer s.smu.Unlock()
	if s.stmts == nil {
		st.Close()
		return nil, errClosed
	}
	if prev, ok := s.stmts[query]; ok { // prepared meanwhile
		st.Close()
		return prev, nil
	}
	s.stmts[query] = st
	return st, nil
}

// inTx runs f in a transaction, committing if it returns nil and rolling
// back otherwise.
func (s *DB) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return &unknownOutcome{err}
	}
	return nil
}

// unknownOutcome is the error of a transaction that may have committed:
// COMMIT failed, or the connection failed after COMMIT was sent.
type unknownOutcome struct{ err error }

func (e *unknownOutcome) Error() string { return e.err.Error() }
func (e *unknownOutcome) Unwrap() error { return e.err }

// limit is limit as a LIMIT argument: no limit for zero or less.
func (s *DB) limit(limit int) any {
	if limit > 0 {
		return limit
	}
	if s.dialect == Postgres {
		return nil // LIMIT NULL: no limit
	}
	return -1
}

// deadline bounds a write transaction that serves several callers, whose
// contexts each bound only their own wait.
const deadline = 30 * time.Second
