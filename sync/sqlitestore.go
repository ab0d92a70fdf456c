package contactsync

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/gymflow/contacts-go/internal/sqlbusy"
)

// SQLiteStore is a StateStore in a SQLite database file, the store to run
// the sync with. It survives crashes of the process (and, with OpenSQLite's
// settings, of the machine), and several processes may share one file: a
// write from one is seen by the others' next read, Commit is atomic for all
// of them, and MarkDone reports first to exactly one of them.
//
// The store keeps its data in five tables, all named with the prefix
// contactsync_ so that the file can hold other tables too (the oauth
// package's token tables, say):
//
//	contactsync_links(id INTEGER PRIMARY KEY, kind, local_id, remote_id, member_id, contact_id,
//	                  hash, state BLOB, tags, archived, updated_at)
//	  UNIQUE INDEX (kind, local_id), INDEX (kind, remote_id, local_id),
//	  INDEX (kind, member_id, local_id)
//	contactsync_intents(key PRIMARY KEY, kind, local_id, op, data BLOB, created_at)
//	  INDEX (created_at, key)
//	contactsync_done(key PRIMARY KEY, done_at)
//	contactsync_runs(seq INTEGER PRIMARY KEY, id UNIQUE, started, finished, report BLOB, err)
//	  INDEX (started, seq)
//	contactsync_meta(name PRIMARY KEY, value)
//
// Tags are a JSON array of strings (NULL when there are none), State, Data
// and Report are BLOBs (NULL when empty), and times are Unix milliseconds
// (NULL for the zero time). The store therefore returns times to the
// millisecond, in UTC, and nil for empty Tags, State, Data and Report.
// Tags must be valid UTF-8 (as the Contacts API requires anyway): JSON
// replaces invalid bytes with U+FFFD.
//
// A SQLiteStore is safe for concurrent use. Reads run in parallel on the
// connection pool; writes of one SQLiteStore are serialized in the process
// (SQLite admits one writer at a time anyway, and queueing in Go is much
// cheaper than SQLite's busy waiting). Writes of other processes are waited
// for by the busy timeout, and a statement or transaction SQLite still
// refuses as busy is retried, for up to sqlbusy.RetryFor.
type SQLiteStore struct {
	db    *sql.DB
	owned bool // Close closes db

	// wsem serializes the store's writes in this process: a write holds
	// its one token.
	wsem chan struct{}

	stmts     []*sql.Stmt
	link      *sql.Stmt
	byRemote  *sql.Stmt
	putLink   *sql.Stmt
	delLink   *sql.Stmt
	links     *sql.Stmt
	allLinks  *sql.Stmt
	member    *sql.Stmt
	putIntent *sql.Stmt
	intent    *sql.Stmt
	intents   *sql.Stmt
	delIntent *sql.Stmt
	markDone  *sql.Stmt
	done      *sql.Stmt
	putRun    *sql.Stmt
	runs      *sql.Stmt
	allRuns   *sql.Stmt

	closeOnce sync.Once
	closeErr  error
}

// sqliteSchemaVersion is the version of the schema migrate creates, kept in
// contactsync_meta. A store refuses a file whose schema is newer.
const sqliteSchemaVersion = 1

// sqliteSchema creates the store's tables and indexes. Every statement is
// idempotent.
var sqliteSchema = []string{
	`CREATE TABLE IF NOT EXISTS contactsync_meta (
	name TEXT NOT NULL PRIMARY KEY,
	value TEXT NOT NULL
)`,
	`CREATE TABLE IF NOT EXISTS contactsync_links (
	id INTEGER PRIMARY KEY,
	kind TEXT NOT NULL,
	local_id TEXT NOT NULL,
	remote_id TEXT NOT NULL,
	member_id TEXT NOT NULL,
	contact_id TEXT NOT NULL,
	hash TEXT NOT NULL,
	state BLOB,
	tags TEXT,
	archived INTEGER NOT NULL,
	updated_at INTEGER
)`,
	`CREATE UNIQUE INDEX IF NOT EXISTS contactsync_links_local ON contactsync_links (kind, local_id)`,
	`CREATE INDEX IF NOT EXISTS contactsync_links_remote ON contactsync_links (kind, remote_id, local_id)`,
	`CREATE INDEX IF NOT EXISTS contactsync_links_member ON contactsync_links (kind, member_id, local_id)`,
	`CREATE TABLE IF NOT EXISTS contactsync_intents (
	key TEXT NOT NULL PRIMARY KEY,
	kind TEXT NOT NULL,
	local_id TEXT NOT NULL,
	op TEXT NOT NULL,
	data BLOB,
	created_at INTEGER
)`,
	`CREATE INDEX IF NOT EXISTS contactsync_intents_created ON contactsync_intents (created_at, key)`,
	`CREATE TABLE IF NOT EXISTS contactsync_done (
	key TEXT NOT NULL PRIMARY KEY,
	done_at INTEGER NOT NULL
)`,
	`CREATE TABLE IF NOT EXISTS contactsync_runs (
	seq INTEGER PRIMARY KEY,
	id TEXT NOT NULL UNIQUE,
	started INTEGER,
	finished INTEGER,
	report BLOB,
	err TEXT NOT NULL
)`,
	`CREATE INDEX IF NOT EXISTS contactsync_runs_started ON contactsync_runs (started, seq)`,
	`INSERT INTO contactsync_meta (name, value) VALUES ('schema_version', '` + strconv.Itoa(sqliteSchemaVersion) + `')
	ON CONFLICT (name) DO NOTHING`,
}

// The store's statements. Every read of links selects linkColumns.
const (
	linkColumns = `kind, local_id, remote_id, member_id, contact_id, hash, state, tags, archived, updated_at`

	qLink     = `SELECT ` + linkColumns + ` FROM contactsync_links WHERE kind = ? AND local_id = ?`
	qByRemote = `SELECT ` + linkColumns + ` FROM contactsync_links WHERE kind = ? AND remote_id = ?
	ORDER BY local_id LIMIT 1`
	qPutLink = `INSERT INTO contactsync_links (` + linkColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (kind, local_id) DO UPDATE SET remote_id = excluded.remote_id, member_id = excluded.member_id,
	contact_id = excluded.contact_id, hash = excluded.hash, state = excluded.state, tags = excluded.tags,
	archived = excluded.archived, updated_at = excluded.updated_at`
	qDelLink  = `DELETE FROM contactsync_links WHERE kind = ? AND local_id = ?`
	qLinks    = `SELECT ` + linkColumns + ` FROM contactsync_links WHERE kind = ? AND local_id > ? ORDER BY local_id LIMIT ?`
	qAllLinks = `SELECT ` + linkColumns + ` FROM contactsync_links WHERE kind = ? AND local_id > ? ORDER BY local_id`
	qMember   = `SELECT ` + linkColumns + ` FROM contactsync_links WHERE kind = ? AND member_id = ? ORDER BY local_id`

	intentColumns = `key, kind, local_id, op, data, created_at`
	qPutIntent    = `INSERT INTO contactsync_intents (` + intentColumns + `) VALUES (?, ?, ?, ?, ?, ?)
	ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, local_id = excluded.local_id, op = excluded.op,
	data = excluded.data, created_at = excluded.created_at`
	qIntent    = `SELECT ` + intentColumns + ` FROM contactsync_intents WHERE key = ?`
	qIntents   = `SELECT ` + intentColumns + ` FROM contactsync_intents ORDER BY created_at, key`
	qDelIntent = `DELETE FROM contactsync_intents WHERE key = ?`

	qMarkDone = `INSERT INTO contactsync_done (key, done_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`
	qDone     = `SELECT 1 FROM contactsync_done WHERE key = ?`

	runColumns = `id, started, finished, report, err`
	// REPLACE deletes a run with the same ID and inserts the new one with a
	// new seq, so a replaced run counts as appended last.
	qPutRun  = `INSERT OR REPLACE INTO contactsync_runs (` + runColumns + `) VALUES (?, ?, ?, ?, ?)`
	qRuns    = `SELECT ` + runColumns + ` FROM contactsync_runs ORDER BY started DESC, seq DESC LIMIT ?`
	qAllRuns = `SELECT ` + runColumns + ` FROM contactsync_runs ORDER BY started DESC, seq DESC`
)

// OpenSQLite opens the SQLite database file at path (a file path, not a
// URI), creating it if it does not exist (its directory must), and returns a store in it with its
// schema migrated. The database is opened in WAL mode, so readers never
// wait for the writer, with a five-second busy timeout and synchronous=FULL,
// so that a recorded intent survives a power loss as well as a crash. Close
// the store to close the database.
//
// Do not put the file on a network file system: SQLite's WAL mode needs
// the processes sharing it to be on one machine.
func OpenSQLite(path string) (*SQLiteStore, error) {
	if path == "" {
		return nil, errors.New("contactsync: OpenSQLite needs a file path")
	}
	if path == ":memory:" {
		return nil, errors.New("contactsync: OpenSQLite needs a file, not an in-memory database")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("contactsync: opening %s: %w", path, err)
	}
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // C:/dir/sync.db
	}
	// A file: URI, which SQLite percent-decodes: url escapes any ?, # or %
	// in the path.
	u := url.URL{Scheme: "file", OmitHost: true, Path: p}
	dsn := u.String() + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("contactsync: opening %s: %w", path, err)
	}
	s, err := newSQLiteStore(db, true)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("contactsync: opening %s: %w", path, err)
	}
	return s, nil
}

// NewSQLiteStore returns a store in the SQLite database db, migrating its
// schema. Open db with a busy timeout and, for several processes, in WAL
// mode, e.g. with modernc.org/sqlite:
//
//	file:/path/sync.db?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)
//
// An in-memory database is private to one connection, so give one a pool
// of one connection (db.SetMaxOpenConns(1)). Close the store before db;
// closing the store leaves db open.
func NewSQLiteStore(db *sql.DB) (*SQLiteStore, error) {
	if db == nil {
		return nil, errors.New("contactsync: NewSQLiteStore needs a database")
	}
	s, err := newSQLiteStore(db, false)
	if err != nil {
		return nil, fmt.Errorf("contactsync: %w", err)
	}
	return s, nil
}

// migrateTimeout bounds migrating a new store's schema.
const migrateTimeout = time.Minute

func newSQLiteStore(db *sql.DB, owned bool) (*SQLiteStore, error) {
	ctx, cancel := context.WithTimeout(context.Background(), migrateTimeout)
	defer cancel()
	s := &SQLiteStore{db: db, owned: owned, wsem: make(chan struct{}, 1)}
	if err := s.migrate(ctx); err != nil {
		return nil, err
	}
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&s.link, qLink}, {&s.byRemote, qByRemote}, {&s.putLink, qPutLink}, {&s.delLink, qDelLink},
		{&s.links, qLinks}, {&s.allLinks, qAllLinks}, {&s.member, qMember},
		{&s.putIntent, qPutIntent}, {&s.intent, qIntent}, {&s.intents, qIntents}, {&s.delIntent, qDelIntent},
		{&s.markDone, qMarkDone}, {&s.done, qDone},
		{&s.putRun, qPutRun}, {&s.runs, qRuns}, {&s.allRuns, qAllRuns},
	} {
		var stmt *sql.Stmt
		err := sqlbusy.Retry(ctx, true, func() (err error) {
			stmt, err = db.PrepareContext(ctx, p.query)
			return err
		})
		if err != nil {
			s.closeStmts()
			return nil, fmt.Errorf("preparing the state store's statements: %w", err)
		}
		*p.stmt = stmt
		s.stmts = append(s.stmts, stmt)
	}
	return s, nil
}

// migrate creates the schema in one transaction, so that processes opening
// a new file at once see all of it or none, and checks its version.
func (s *SQLiteStore) migrate(ctx context.Context) error {
	var version string
	err := s.write(ctx, func() error {
		return s.inTx(ctx, func(tx *sql.Tx) error {
			for _, stmt := range sqliteSchema {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return err
				}
			}
			return tx.QueryRowContext(ctx, `SELECT value FROM contactsync_meta WHERE name = 'schema_version'`).Scan(&version)
		})
	})
	if err != nil {
		return fmt.Errorf("migrating the state store's schema: %w", err)
	}
	if v, err := strconv.Atoi(version); err != nil || v > sqliteSchemaVersion {
		return fmt.Errorf("the state store's schema version is %q; this version of the package knows %d", version, sqliteSchemaVersion)
	}
	return nil
}

// Close closes the store's prepared statements and, if OpenSQLite opened
// the database, the database. Closing twice returns the first result.
func (s *SQLiteStore) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = s.closeStmts()
		if s.owned {
			s.closeErr = errors.Join(s.closeErr, s.db.Close())
		}
	})
	return s.closeErr
}

func (s *SQLiteStore) closeStmts() error {
	var errs []error
	for _, st := range s.stmts {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// Stats counts the store's links by kind and its intents, for reports. It
// reads the indexes, so it takes milliseconds even for 100,000 links.
func (s *SQLiteStore) Stats(ctx context.Context) (links map[Kind]int, intents int, err error) {
	err = s.read(ctx, func() error {
		links = make(map[Kind]int)
		rows, err := s.db.QueryContext(ctx, `SELECT kind, count(*) FROM contactsync_links GROUP BY kind`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				k Kind
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
		// rows is closed: the next query may have the pool's one connection.
		return s.db.QueryRowContext(ctx, `SELECT count(*) FROM contactsync_intents`).Scan(&intents)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("contactsync: state store stats: %w", err)
	}
	return links, intents, nil
}

// Link implements StateStore.
func (s *SQLiteStore) Link(ctx context.Context, kind Kind, localID string) (Link, error) {
	var l Link
	err := s.read(ctx, func() error { return scanLink(s.link.QueryRowContext(ctx, kind, localID), &l) })
	if err != nil {
		return Link{}, lookupErr(err, "reading the link of %s %s", kind, localID)
	}
	return l, nil
}

// LinkByRemote implements StateStore. If several links of the kind have
// the remote ID, it returns the one with the least LocalID.
func (s *SQLiteStore) LinkByRemote(ctx context.Context, kind Kind, remoteID string) (Link, error) {
	var l Link
	err := s.read(ctx, func() error { return scanLink(s.byRemote.QueryRowContext(ctx, kind, remoteID), &l) })
	if err != nil {
		return Link{}, lookupErr(err, "reading the %s link of remote record %s", kind, remoteID)
	}
	return l, nil
}

// PutLink implements StateStore.
func (s *SQLiteStore) PutLink(ctx context.Context, l Link) error {
	args, err := linkArgs(l)
	if err != nil {
		return err
	}
	err = s.write(ctx, func() error { _, err := s.putLink.ExecContext(ctx, args...); return err })
	return writeErr(err, "storing the link of %s %s", l.Kind, l.LocalID)
}

// DeleteLink implements StateStore.
func (s *SQLiteStore) DeleteLink(ctx context.Context, kind Kind, localID string) error {
	err := s.write(ctx, func() error { _, err := s.delLink.ExecContext(ctx, kind, localID); return err })
	return writeErr(err, "deleting the link of %s %s", kind, localID)
}

// Links implements StateStore. A limit of zero or less means no limit.
func (s *SQLiteStore) Links(ctx context.Context, kind Kind, after string, limit int) ([]Link, error) {
	var out []Link
	err := s.read(ctx, func() (err error) {
		if limit > 0 {
			out, err = queryLinks(ctx, s.links, kind, after, limit)
		} else {
			out, err = queryLinks(ctx, s.allLinks, kind, after)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("contactsync: listing %s links after %q: %w", kind, after, err)
	}
	return out, nil
}

// MemberLinks implements StateStore.
func (s *SQLiteStore) MemberLinks(ctx context.Context, kind Kind, memberID string) ([]Link, error) {
	var out []Link
	err := s.read(ctx, func() (err error) { out, err = queryLinks(ctx, s.member, kind, memberID); return err })
	if err != nil {
		return nil, fmt.Errorf("contactsync: listing the %s links of member %s: %w", kind, memberID, err)
	}
	return out, nil
}

// PutIntent implements StateStore.
func (s *SQLiteStore) PutIntent(ctx context.Context, in Intent) error {
	if in.Key == "" {
		return errors.New("contactsync: an intent needs a key")
	}
	err := s.write(ctx, func() error {
		_, err := s.putIntent.ExecContext(ctx, in.Key, in.Kind, in.LocalID, in.Op, blob(in.Data), unixMilli(in.CreatedAt))
		return err
	})
	return writeErr(err, "recording intent %s", in.Key)
}

// Intent implements StateStore.
func (s *SQLiteStore) Intent(ctx context.Context, key string) (Intent, error) {
	var in Intent
	err := s.read(ctx, func() error { return scanIntent(s.intent.QueryRowContext(ctx, key), &in) })
	if errors.Is(err, sql.ErrNoRows) {
		return Intent{}, ErrNotFound
	}
	if err != nil {
		return Intent{}, fmt.Errorf("contactsync: reading intent %s: %w", key, err)
	}
	return in, nil
}

// Intents implements StateStore, ordering intents by CreatedAt and then
// by Key.
func (s *SQLiteStore) Intents(ctx context.Context) ([]Intent, error) {
	var out []Intent
	err := s.read(ctx, func() error {
		out = nil
		rows, err := s.intents.QueryContext(ctx)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var in Intent
			if err := scanIntent(rows, &in); err != nil {
				return err
			}
			out = append(out, in)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("contactsync: listing intents: %w", err)
	}
	return out, nil
}

// Commit implements StateStore in one transaction.
func (s *SQLiteStore) Commit(ctx context.Context, l Link, key string) error {
	args, err := linkArgs(l)
	if err != nil {
		return err
	}
	err = s.write(ctx, func() error {
		return s.inTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.StmtContext(ctx, s.putLink).ExecContext(ctx, args...); err != nil {
				return err
			}
			if key == "" {
				return nil
			}
			_, err := tx.StmtContext(ctx, s.delIntent).ExecContext(ctx, key)
			return err
		})
	})
	return writeErr(err, "committing the link of %s %s and intent %q", l.Kind, l.LocalID, key)
}

// DeleteIntent implements StateStore.
func (s *SQLiteStore) DeleteIntent(ctx context.Context, key string) error {
	err := s.write(ctx, func() error { _, err := s.delIntent.ExecContext(ctx, key); return err })
	return writeErr(err, "deleting intent %s", key)
}

// MarkDone implements StateStore with an INSERT that does nothing when
// the key is recorded already, which is atomic across processes.
func (s *SQLiteStore) MarkDone(ctx context.Context, key string) (first bool, err error) {
	if key == "" {
		return false, errors.New("contactsync: an idempotency key must not be empty")
	}
	var n int64
	err = s.write(ctx, func() error {
		res, err := s.markDone.ExecContext(ctx, key, time.Now().UnixMilli())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return false, writeErr(err, "recording idempotency key %s", key)
	}
	return n == 1, nil
}

// Done implements StateStore.
func (s *SQLiteStore) Done(ctx context.Context, key string) (bool, error) {
	var one int
	err := s.read(ctx, func() error { return s.done.QueryRowContext(ctx, key).Scan(&one) })
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("contactsync: reading idempotency key %s: %w", key, err)
	}
	return true, nil
}

// AppendRun implements StateStore. A run with the ID of a run in the log
// replaces it (and counts as appended last).
func (s *SQLiteStore) AppendRun(ctx context.Context, r RunRecord) error {
	err := s.write(ctx, func() error {
		_, err := s.putRun.ExecContext(ctx, r.ID, unixMilli(r.Started), unixMilli(r.Finished), blob(r.Report), r.Err)
		return err
	})
	return writeErr(err, "appending run %s", r.ID)
}

// Runs implements StateStore, ordering runs by Started, newest first, and
// runs started at the same millisecond by when they were appended, last
// first. A limit of zero or less means no limit.
func (s *SQLiteStore) Runs(ctx context.Context, limit int) ([]RunRecord, error) {
	var out []RunRecord
	err := s.read(ctx, func() error {
		out = nil
		var (
			rows *sql.Rows
			err  error
		)
		if limit > 0 {
			rows, err = s.runs.QueryContext(ctx, limit)
		} else {
			rows, err = s.allRuns.QueryContext(ctx)
		}
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				r                 RunRecord
				started, finished sql.NullInt64
			)
			if err := rows.Scan(&r.ID, &started, &finished, &r.Report, &r.Err); err != nil {
				return err
			}
			r.Started, r.Finished, r.Report = fromMilli(started), fromMilli(finished), cloneBytes(r.Report)
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("contactsync: listing runs: %w", err)
	}
	return out, nil
}

// String describes the store.
func (s *SQLiteStore) String() string { return "contactsync.SQLiteStore" }

// read runs a read, again while SQLite reports the database busy (which
// WAL mode makes rare: only a checkpoint or recovery blocks readers).
func (s *SQLiteStore) read(ctx context.Context, f func() error) error {
	return sqlbusy.Retry(ctx, true, f)
}

// write runs a write, one at a time in this process, again while SQLite
// reports the database busy. f must be a single statement or transaction,
// which did not happen if it was refused as busy.
func (s *SQLiteStore) write(ctx context.Context, f func() error) error {
	select {
	case s.wsem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.wsem }()
	return sqlbusy.Retry(ctx, true, f)
}

// inTx runs f in a transaction, committing if it returns nil and rolling
// back otherwise.
func (s *SQLiteStore) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

// scanLink reads a row of linkColumns into l.
func scanLink(row rowScanner, l *Link) error {
	var (
		tags     sql.NullString
		archived bool
		updated  sql.NullInt64
	)
	err := row.Scan(&l.Kind, &l.LocalID, &l.RemoteID, &l.MemberID, &l.ContactID, &l.Hash, &l.State, &tags, &archived, &updated)
	if err != nil {
		return err
	}
	l.State = cloneBytes(l.State) // nil when empty
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

// queryLinks runs a query of links.
func queryLinks(ctx context.Context, stmt *sql.Stmt, args ...any) ([]Link, error) {
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Link
	for rows.Next() {
		var l Link
		if err := scanLink(rows, &l); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// linkArgs checks l and returns the values of linkColumns for it.
func linkArgs(l Link) ([]any, error) {
	if err := checkLink(l); err != nil {
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
func scanIntent(row rowScanner, in *Intent) error {
	var created sql.NullInt64
	if err := row.Scan(&in.Key, &in.Kind, &in.LocalID, &in.Op, &in.Data, &created); err != nil {
		return err
	}
	in.Data = cloneBytes(in.Data)
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

// unixMilli is t as an INTEGER argument of Unix milliseconds: NULL for the
// zero time.
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

// lookupErr turns the error of a lookup of one link into the method's:
// ErrNotFound if there was no row.
func lookupErr(err error, format string, kind Kind, id string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
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
