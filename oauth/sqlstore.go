package oauth

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/gymflow/contacts-go/internal/sqldb"
)

// Dialect is the SQL dialect of a SQLStore's database. It is the one
// dialect type of the SDK's SQL stores: webhook.Dialect is the same type.
// Its String method returns the dialect's name.
type Dialect = sqldb.Dialect

// Dialects of NewSQLStore.
const (
	// SQLite 3.24 or later, e.g. through modernc.org/sqlite or
	// github.com/mattn/go-sqlite3.
	SQLite Dialect = sqldb.SQLite
	// Postgres is PostgreSQL 9.5 or later, e.g. through
	// github.com/jackc/pgx/v5/stdlib or github.com/lib/pq.
	Postgres Dialect = sqldb.Postgres
)

// DefaultSQLTablePrefix is the prefix of a SQLStore's table names unless
// WithTablePrefix sets another.
const DefaultSQLTablePrefix = "contacts_oauth_"

// SQLStore is a TokenStore in a SQL database, for any number of processes
// on any number of machines. It needs two tables, which Migrate creates
// (or create them with Schema's statements in your own migrations):
//
//	contacts_oauth_tokens(app_id TEXT, subject TEXT, token TEXT, version BIGINT,
//	                      updated_at BIGINT, PRIMARY KEY (app_id, subject))
//	contacts_oauth_locks(app_id TEXT, subject TEXT, holder TEXT, expires_at BIGINT,
//	                     PRIMARY KEY (app_id, subject))
//
// subject is Key.Subject ("location:<id>" or "company:<id>"), token is the
// Token's JSON, and times are Unix milliseconds.
//
// The store holds secrets: access and refresh tokens, in clear text. Keep
// the database private to the integration: with SQLite, call
// PrepareSQLiteFile before sql.Open, so that the database file and the
// -wal, -shm and -journal files SQLite makes beside it have mode 0600 like
// a FileStore's file (SQLite itself would create them 0644 under the usual
// umask); with PostgreSQL, grant the tables to the integration's role only.
// Encrypt the disk or the database at rest where that matters.
//
// Save is a compare-and-swap on version: an INSERT … ON CONFLICT DO
// NOTHING creates a token, an UPDATE … WHERE version = ? replaces one. Lock
// holds a lease row, taken by an upsert that only replaces an expired lease
// and released by deleting the holder's own row. Every operation is one auto-committed
// statement, so the store works with any isolation level. Under
// REPEATABLE READ or SERIALIZABLE, PostgreSQL refuses a statement that
// meets a row another transaction changed since the statement's snapshot
// (serialization_failure, SQLSTATE 40001); the store runs such a statement
// again, as it does one that SQLite refuses as busy.
//
// Lease expiry is judged by the clocks of the processes taking locks, so
// keep the machines' clocks synchronized (NTP) to well within the lock ttl.
//
// With SQLite, open a file database in WAL mode with a busy timeout, e.g.
// with modernc.org/sqlite:
//
//	if err := oauth.PrepareSQLiteFile("/path/tokens.db"); err != nil { … }
//	db, err := sql.Open("sqlite", "file:/path/tokens.db?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
//
// The store also retries a statement SQLite refuses as busy, but only a
// busy timeout makes contention cheap. An in-memory SQLite database is
// private to one connection of the pool, so do not use one with a pool of
// more than one connection.
type SQLStore struct {
	db      sealed[*sql.DB] // its DSN may hold a password
	dialect Dialect
	prefix  string
	now     func() time.Time
	q       sqlQueries
}

// sqlQueries are a store's statements, in its dialect.
type sqlQueries struct {
	createTokens, createLocks                 string
	load, insert, update, delete, lock, unlck string
}

// SQLOption configures a SQLStore.
type SQLOption func(*SQLStore)

// WithTablePrefix names the store's tables prefix+"tokens" and
// prefix+"locks" instead of DefaultSQLTablePrefix's. The prefix is
// written into the SQL as is: it must be letters, digits and underscores,
// starting with a letter or underscore.
func WithTablePrefix(prefix string) SQLOption { return func(s *SQLStore) { s.prefix = prefix } }

var sqlIdentifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,47}$`)

// NewSQLStore returns a store in db, which speaks dialect d. It does not
// touch the database: call Migrate to create the tables.
func NewSQLStore(db *sql.DB, d Dialect, opts ...SQLOption) (*SQLStore, error) {
	if db == nil {
		return nil, errors.New("oauth: NewSQLStore needs a database")
	}
	if !d.Valid() {
		return nil, fmt.Errorf("oauth: NewSQLStore: unknown dialect %s", d)
	}
	s := &SQLStore{db: seal(db), dialect: d, prefix: DefaultSQLTablePrefix, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	if !sqlIdentifier.MatchString(s.prefix) {
		return nil, fmt.Errorf("oauth: NewSQLStore: table prefix %q is not a plain SQL identifier", s.prefix)
	}
	s.q = buildQueries(d, s.prefix+"tokens", s.prefix+"locks")
	return s, nil
}

// PrepareSQLiteFile makes the SQLite database file at path (a file path,
// not a URI) private before it is opened for a SQLStore, as NewFileStore
// does for its file: it creates the file's directory with mode 0700 and
// the file itself, empty (an empty database to SQLite), with mode 0600 if
// they do not exist, and restricts an existing database file and its -wal,
// -shm and -journal files to 0600 if others may read them. SQLite gives
// the files it creates beside a database the database file's mode, so the
// tokens stay out of other users' reach in all of them; without this,
// SQLite creates the database 0666 less the umask (0644, usually). Call it
// before sql.Open, in every process that may be the first to open the
// database. On Windows, where file modes do not apply, it only creates the
// file and its directory.
func PrepareSQLiteFile(path string) error {
	if err := sqldb.PrivateSQLiteFile(path); err != nil {
		return fmt.Errorf("oauth: PrepareSQLiteFile: %w", err)
	}
	return nil
}

// buildQueries writes the statements for the tables in dialect d.
//
// The tests run them on SQLite and on a real PostgreSQL server (15, through
// github.com/jackc/pgx/v5/stdlib; see internal/pgtest), under READ
// COMMITTED, REPEATABLE READ and SERIALIZABLE. They are written for
// PostgreSQL 9.5+: only TEXT and BIGINT columns and a composite PRIMARY KEY;
// CREATE TABLE IF NOT EXISTS (9.1+); INSERT … ON CONFLICT (cols) DO NOTHING
// and DO UPDATE SET … = excluded.… WHERE <table>.col (9.5+, with the target
// table's name qualifying its existing row, as in SQLite); placeholders
// $1…$n in order of appearance, each used once, with types the server can
// infer from the column they are compared with or inserted into; no
// RETURNING, no driver-specific SQL; RowsAffected of INSERT … ON CONFLICT
// counts only rows inserted or updated, which is what Save and Lock read.
// Under READ COMMITTED, a concurrent UPDATE … WHERE version = ? or
// conditional upsert re-checks its WHERE on the row the other transaction
// committed, so both compare-and-swaps stay atomic; under the stricter
// levels it fails with SQLSTATE 40001 instead, and runs again (retry) on
// a fresh snapshot, which sees that row. Two stores creating the tables at
// once can make one CREATE TABLE IF NOT EXISTS fail (a unique violation in
// the catalog), which Migrate's second attempt absorbs.
func buildQueries(d Dialect, tokens, locks string) sqlQueries {
	q := sqlQueries{
		createTokens: `CREATE TABLE IF NOT EXISTS ` + tokens + ` (
	app_id TEXT NOT NULL,
	subject TEXT NOT NULL,
	token TEXT NOT NULL,
	version BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	PRIMARY KEY (app_id, subject)
)`,
		createLocks: `CREATE TABLE IF NOT EXISTS ` + locks + ` (
	app_id TEXT NOT NULL,
	subject TEXT NOT NULL,
	holder TEXT NOT NULL,
	expires_at BIGINT NOT NULL,
	PRIMARY KEY (app_id, subject)
)`,
		load: `SELECT token, version FROM ` + tokens + ` WHERE app_id = ? AND subject = ?`,
		insert: `INSERT INTO ` + tokens + ` (app_id, subject, token, version, updated_at) VALUES (?, ?, ?, ?, ?)` +
			` ON CONFLICT (app_id, subject) DO NOTHING`,
		update: `UPDATE ` + tokens + ` SET token = ?, version = ?, updated_at = ?` +
			` WHERE app_id = ? AND subject = ? AND version = ?`,
		delete: `DELETE FROM ` + tokens + ` WHERE app_id = ? AND subject = ?`,
		lock: `INSERT INTO ` + locks + ` (app_id, subject, holder, expires_at) VALUES (?, ?, ?, ?)` +
			` ON CONFLICT (app_id, subject) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at` +
			` WHERE ` + locks + `.expires_at <= ?`,
		unlck: `DELETE FROM ` + locks + ` WHERE app_id = ? AND subject = ? AND holder = ?`,
	}
	for _, p := range []*string{&q.load, &q.insert, &q.update, &q.delete, &q.lock, &q.unlck} {
		*p = d.Rebind(*p)
	}
	return q
}

// Schema returns the statements Migrate runs, for applications that
// manage their schema with their own migrations.
func (s *SQLStore) Schema() []string { return []string{s.q.createTokens, s.q.createLocks} }

// Migrate creates the store's tables if they do not exist. It is safe to
// run at every start, and from several processes at once.
func (s *SQLStore) Migrate(ctx context.Context) error {
	for _, stmt := range s.Schema() {
		err := s.retry(ctx, func() error { _, err := s.db.get().ExecContext(ctx, stmt); return err })
		if err != nil && ctx.Err() == nil {
			// Two servers creating a table at once can make one of them
			// fail (PostgreSQL's CREATE TABLE IF NOT EXISTS is not atomic);
			// the second attempt finds the table.
			err = s.retry(ctx, func() error { _, err := s.db.get().ExecContext(ctx, stmt); return err })
		}
		if err != nil {
			return fmt.Errorf("oauth: SQL store migration: %w", err)
		}
	}
	return nil
}

// Load implements TokenStore.
func (s *SQLStore) Load(ctx context.Context, key Key) (Token, error) {
	if err := key.Validate(); err != nil {
		return Token{}, err
	}
	var (
		raw     string
		version int64
	)
	err := s.retry(ctx, func() error {
		return s.db.get().QueryRowContext(ctx, s.q.load, key.AppID, key.Subject()).Scan(&raw, &version)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, ErrNoToken
	}
	if err != nil {
		return Token{}, fmt.Errorf("oauth: SQL store: loading %s: %w", key, err)
	}
	var t Token
	if err := json.Unmarshal([]byte(raw), &t); err != nil {
		return Token{}, fmt.Errorf("oauth: SQL store: the stored token of %s is corrupt", key)
	}
	t.Version = version
	return t, nil
}

// Save implements TokenStore.
func (s *SQLStore) Save(ctx context.Context, key Key, t Token) (Token, error) {
	if err := key.Validate(); err != nil {
		return Token{}, err
	}
	if t.Version < 0 {
		return Token{}, ErrConflict
	}
	prev := t.Version
	t = cloneToken(t)
	t.Version = prev + 1
	t.UpdatedAt = s.now().UTC()
	raw, err := json.Marshal(t)
	if err != nil {
		return Token{}, fmt.Errorf("oauth: SQL store: encoding the token of %s: %w", key, err)
	}
	var res sql.Result
	err = s.retry(ctx, func() (err error) {
		if prev == 0 {
			res, err = s.db.get().ExecContext(ctx, s.q.insert, key.AppID, key.Subject(), string(raw), t.Version, t.UpdatedAt.UnixMilli())
		} else {
			res, err = s.db.get().ExecContext(ctx, s.q.update, string(raw), t.Version, t.UpdatedAt.UnixMilli(), key.AppID, key.Subject(), prev)
		}
		return err
	})
	if err != nil {
		return Token{}, fmt.Errorf("oauth: SQL store: saving %s: %w", key, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return Token{}, fmt.Errorf("oauth: SQL store: saving %s: %w", key, err)
	}
	if n != 1 {
		return Token{}, ErrConflict
	}
	return t, nil
}

// Delete implements TokenStore.
func (s *SQLStore) Delete(ctx context.Context, key Key) error {
	if err := key.Validate(); err != nil {
		return err
	}
	err := s.retry(ctx, func() error {
		_, err := s.db.get().ExecContext(ctx, s.q.delete, key.AppID, key.Subject())
		return err
	})
	if err != nil {
		return fmt.Errorf("oauth: SQL store: deleting %s: %w", key, err)
	}
	return nil
}

// unlockTimeout bounds an unlock, which has no context of its own; an
// unlock that fails leaves the lease to lapse.
const unlockTimeout = 10 * time.Second

// Lock implements TokenStore with a lease row per key; ttl must be
// positive.
func (s *SQLStore) Lock(ctx context.Context, key Key, ttl time.Duration) (func(), error) {
	if err := key.Validate(); err != nil {
		return nil, err
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("oauth: lock ttl %s is not positive", ttl)
	}
	holder := newHolderID()
	var fatal error
	unlock, err := pollLock(ctx, func() (func(), bool) {
		now := s.now()
		res, err := s.db.get().ExecContext(ctx, s.q.lock, key.AppID, key.Subject(), holder, now.Add(ttl).UnixMilli(), now.UnixMilli())
		var n int64
		if err == nil {
			n, err = res.RowsAffected()
		}
		switch {
		case err != nil && ctx.Err() != nil:
			// The statement may have taken the lease before ctx ended.
			s.unlock(key, holder)
			return nil, false // pollLock returns ctx's error
		case err != nil && s.dialect.Retryable(err):
			return nil, false // busy, or a concurrent lock won: try again
		case err != nil:
			fatal = err
			return func() {}, true // stop polling
		}
		return func() { s.unlock(key, holder) }, n == 1
	})
	if err != nil {
		return nil, err
	}
	if fatal != nil {
		return nil, fmt.Errorf("oauth: SQL store: locking %s: %w", key, fatal)
	}
	return unlock, nil
}

func (s *SQLStore) unlock(key Key, holder string) {
	ctx, cancel := context.WithTimeout(context.Background(), unlockTimeout)
	defer cancel()
	_ = s.retry(ctx, func() error {
		_, err := s.db.get().ExecContext(ctx, s.q.unlck, key.AppID, key.Subject(), holder)
		return err
	})
}

// retry runs f, again while SQLite reports the database busy or
// PostgreSQL a serialization failure.
func (s *SQLStore) retry(ctx context.Context, f func() error) error {
	return s.dialect.Retry(ctx, f)
}

// String describes the store without its tokens or connection details.
func (s *SQLStore) String() string { return fmt.Sprintf("oauth.SQLStore{dialect: %s}", s.dialect) }

// GoString is String.
func (s *SQLStore) GoString() string { return s.String() }

// Format implements fmt.Formatter: every verb prints String.
func (s *SQLStore) Format(f fmt.State, verb rune) { formatRedacted(f, verb, s.String()) }
