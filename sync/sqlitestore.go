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

	"github.com/gymflow/contacts-go/internal/sqldb"
)

// SQLiteStore is a StateStore, an ActivityStore and an InboundStore in a
// SQLite database file, the store to run the sync with. It survives
// crashes of the process (and, with OpenSQLite's settings, of the
// machine), and several processes may share one file: a write from one is
// seen by the others' next read, Commit is atomic for all of them, and
// MarkDone and PutInbox report first to exactly one of them.
//
// The store keeps its data in tables all named with the prefix
// contactsync_ so that the file can hold other tables too (the oauth
// package's token tables, say). The StateStore's:
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
// The ActivityStore's and the InboundStore's (since schema version 2; a
// file of version 1 is upgraded when it is opened):
//
//	contactsync_activities(id INTEGER PRIMARY KEY, kind, remote_id, contact_id, member_id,
//	                       title, body, at, end_at, completed, status, updated_at)
//	  UNIQUE INDEX (kind, remote_id), INDEX (kind, at, remote_id),
//	  INDEX (contact_id, at, remote_id, kind), INDEX (member_id, at, remote_id, kind),
//	  INDEX (at, remote_id) WHERE kind = 'task' AND completed = 0
//	contactsync_inbox(id PRIMARY KEY, received, ts, body BLOB, done)
//	  INDEX (ts, received, id) WHERE done = 0, INDEX (received) WHERE done = 1
//	contactsync_cursors(name PRIMARY KEY, value)
//	contactsync_seen(kind, remote_id, at, hash, deleted, state BLOB, PRIMARY KEY (kind, remote_id))
//	contactsync_dirty(contact_id PRIMARY KEY, marked_at)
//	  INDEX (marked_at, contact_id)
//
// Tags are a JSON array of strings (NULL when there are none), State, Data,
// Report and Body are BLOBs (NULL when empty), and times are Unix
// milliseconds (NULL for the zero time, except in the columns that order
// rows — at, received, ts, marked_at — where the zero time is its own,
// very negative, number of milliseconds). The store therefore returns
// times to the millisecond, in UTC, and nil for empty Tags, State, Data,
// Report and Body. A processed inbox entry keeps only its ID and times.
// Tags must be valid UTF-8 (as the Contacts API requires anyway): JSON
// replaces invalid bytes with U+FFFD.
//
// A SQLiteStore is safe for concurrent use. Reads run in parallel on the
// connection pool; writes of one SQLiteStore are serialized in the process
// (SQLite admits one writer at a time anyway, and queueing in Go is much
// cheaper than SQLite's busy waiting). Writes of other processes are waited
// for by the busy timeout, and a statement or transaction SQLite still
// refuses as busy is retried, for up to sqldb.RetryFor.
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

	putActivity    *sql.Stmt
	activity       *sql.Stmt
	delActivity    *sql.Stmt
	delContactActs *sql.Stmt
	putInbox       *sql.Stmt
	pendingInbox   *sql.Stmt
	doneInbox      *sql.Stmt
	purgeInbox     *sql.Stmt
	cursor         *sql.Stmt
	setCursor      *sql.Stmt
	delCursor      *sql.Stmt
	seen           *sql.Stmt
	putSeen        *sql.Stmt
	markDirty      *sql.Stmt
	dirty          *sql.Stmt
	clearDirty     *sql.Stmt

	closeOnce sync.Once
	closeErr  error
}

// sqliteSchemaVersion is the version of the schema migrate creates, kept in
// contactsync_meta as schema_version. A store refuses a file whose schema
// is newer. Version 1 held the StateStore's tables; version 2 added the
// ActivityStore's and the InboundStore's.
const sqliteSchemaVersion = 2

// sqliteMeta creates the table of the schema version.
const sqliteMeta = `CREATE TABLE IF NOT EXISTS contactsync_meta (
	name TEXT NOT NULL PRIMARY KEY,
	value TEXT NOT NULL
)`

// sqliteMigrations[v-1] brings the schema from version v-1 to version v.
// A migration never changes once released: add a new one instead. Every
// statement is idempotent, which keeps the migrations safe to run on a
// file whose version row is missing.
var sqliteMigrations = [sqliteSchemaVersion][]string{
	sqliteSchemaV1,
	sqliteSchemaV2,
}

// sqliteSchemaV1 creates the StateStore's tables and indexes.
var sqliteSchemaV1 = []string{
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
}

// sqliteSchemaV2 creates the ActivityStore's and the InboundStore's tables
// and indexes. The activities' indexes serve the queries of Views: by
// contact and by member (a timeline), by kind and time (appointments in a
// window, recent notes) and the open tasks (a partial index, usable only
// by a query with the literal terms kind = 'task' AND completed = 0);
// activitiesQuery names the index each query reads.
var sqliteSchemaV2 = []string{
	`CREATE TABLE IF NOT EXISTS contactsync_activities (
	id INTEGER PRIMARY KEY,
	kind TEXT NOT NULL,
	remote_id TEXT NOT NULL,
	contact_id TEXT NOT NULL,
	member_id TEXT NOT NULL,
	title TEXT NOT NULL,
	body TEXT NOT NULL,
	at INTEGER NOT NULL,
	end_at INTEGER,
	completed INTEGER NOT NULL,
	status TEXT NOT NULL,
	updated_at INTEGER
)`,
	`CREATE UNIQUE INDEX IF NOT EXISTS contactsync_activities_remote ON contactsync_activities (kind, remote_id)`,
	`CREATE INDEX IF NOT EXISTS contactsync_activities_kind ON contactsync_activities (kind, at, remote_id)`,
	`CREATE INDEX IF NOT EXISTS contactsync_activities_contact ON contactsync_activities (contact_id, at, remote_id, kind)`,
	`CREATE INDEX IF NOT EXISTS contactsync_activities_member ON contactsync_activities (member_id, at, remote_id, kind)`,
	`CREATE INDEX IF NOT EXISTS contactsync_activities_open ON contactsync_activities (at, remote_id)
	WHERE kind = 'task' AND completed = 0`,
	`CREATE TABLE IF NOT EXISTS contactsync_inbox (
	id TEXT NOT NULL PRIMARY KEY,
	received INTEGER NOT NULL,
	ts INTEGER NOT NULL,
	body BLOB,
	done INTEGER NOT NULL
)`,
	`CREATE INDEX IF NOT EXISTS contactsync_inbox_pending ON contactsync_inbox (ts, received, id) WHERE done = 0`,
	`CREATE INDEX IF NOT EXISTS contactsync_inbox_done ON contactsync_inbox (received) WHERE done = 1`,
	`CREATE TABLE IF NOT EXISTS contactsync_cursors (
	name TEXT NOT NULL PRIMARY KEY,
	value TEXT NOT NULL
)`,
	`CREATE TABLE IF NOT EXISTS contactsync_seen (
	kind TEXT NOT NULL,
	remote_id TEXT NOT NULL,
	at INTEGER,
	hash TEXT NOT NULL,
	deleted INTEGER NOT NULL,
	state BLOB,
	PRIMARY KEY (kind, remote_id)
)`,
	`CREATE TABLE IF NOT EXISTS contactsync_dirty (
	contact_id TEXT NOT NULL PRIMARY KEY,
	marked_at INTEGER NOT NULL
)`,
	`CREATE INDEX IF NOT EXISTS contactsync_dirty_marked ON contactsync_dirty (marked_at, contact_id)`,
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

	// Activities are selected by activitiesQuery.
	activityColumns = `kind, remote_id, contact_id, member_id, title, body, at, end_at, completed, status, updated_at`
	qPutActivity    = `INSERT INTO contactsync_activities (` + activityColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (kind, remote_id) DO UPDATE SET contact_id = excluded.contact_id, member_id = excluded.member_id,
	title = excluded.title, body = excluded.body, at = excluded.at, end_at = excluded.end_at,
	completed = excluded.completed, status = excluded.status, updated_at = excluded.updated_at`
	qActivity       = `SELECT ` + activityColumns + ` FROM contactsync_activities WHERE kind = ? AND remote_id = ?`
	qDelActivity    = `DELETE FROM contactsync_activities WHERE kind = ? AND remote_id = ?`
	qDelContactActs = `DELETE FROM contactsync_activities WHERE contact_id = ?`

	// The inbox's limit is -1 for no limit.
	qPutInbox     = `INSERT INTO contactsync_inbox (id, received, ts, body, done) VALUES (?, ?, ?, ?, 0) ON CONFLICT (id) DO NOTHING`
	qPendingInbox = `SELECT id, received, ts, body FROM contactsync_inbox WHERE done = 0 ORDER BY ts, received, id LIMIT ?`
	qDoneInbox    = `UPDATE contactsync_inbox SET done = 1, body = NULL WHERE id = ? AND done = 0`
	qPurgeInbox   = `DELETE FROM contactsync_inbox WHERE done = 1 AND received < ?`

	qCursor    = `SELECT value FROM contactsync_cursors WHERE name = ?`
	qSetCursor = `INSERT INTO contactsync_cursors (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`
	qDelCursor = `DELETE FROM contactsync_cursors WHERE name = ?`

	seenColumns = `kind, remote_id, at, hash, deleted, state`
	qSeen       = `SELECT ` + seenColumns + ` FROM contactsync_seen WHERE kind = ? AND remote_id = ?`
	qPutSeen    = `INSERT INTO contactsync_seen (` + seenColumns + `) VALUES (?, ?, ?, ?, ?, ?)
	ON CONFLICT (kind, remote_id) DO UPDATE SET at = excluded.at, hash = excluded.hash, deleted = excluded.deleted,
	state = excluded.state`

	// A contact marked again keeps its earliest mark. Dirty's limit is -1
	// for no limit.
	qMarkDirty = `INSERT INTO contactsync_dirty (contact_id, marked_at) VALUES (?, ?)
	ON CONFLICT (contact_id) DO UPDATE SET marked_at = min(marked_at, excluded.marked_at)`
	qDirty      = `SELECT contact_id FROM contactsync_dirty WHERE marked_at <= ? ORDER BY marked_at, contact_id LIMIT ?`
	qClearDirty = `DELETE FROM contactsync_dirty WHERE contact_id = ? AND marked_at <= ?`
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
		{&s.putActivity, qPutActivity}, {&s.activity, qActivity}, {&s.delActivity, qDelActivity},
		{&s.delContactActs, qDelContactActs},
		{&s.putInbox, qPutInbox}, {&s.pendingInbox, qPendingInbox}, {&s.doneInbox, qDoneInbox}, {&s.purgeInbox, qPurgeInbox},
		{&s.cursor, qCursor}, {&s.setCursor, qSetCursor}, {&s.delCursor, qDelCursor},
		{&s.seen, qSeen}, {&s.putSeen, qPutSeen},
		{&s.markDirty, qMarkDirty}, {&s.dirty, qDirty}, {&s.clearDirty, qClearDirty},
	} {
		var stmt *sql.Stmt
		err := sqldb.Retry(ctx, true, func() (err error) {
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

// migrate brings the schema to sqliteSchemaVersion in one transaction, so
// that processes opening a new file at once see all of it or none, and
// refuses a schema newer than that.
func (s *SQLiteStore) migrate(ctx context.Context) error {
	err := s.write(ctx, func() error {
		return s.inTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, sqliteMeta); err != nil {
				return err
			}
			version := 0 // a new database
			var raw string
			err := tx.QueryRowContext(ctx, `SELECT value FROM contactsync_meta WHERE name = 'schema_version'`).Scan(&raw)
			switch {
			case errors.Is(err, sql.ErrNoRows):
			case err != nil:
				return err
			default:
				v, err := strconv.Atoi(raw)
				if err != nil || v < 1 || v > sqliteSchemaVersion {
					return &schemaVersionError{raw}
				}
				version = v
			}
			if version == sqliteSchemaVersion {
				return nil
			}
			for _, migration := range sqliteMigrations[version:] {
				for _, stmt := range migration {
					if _, err := tx.ExecContext(ctx, stmt); err != nil {
						return err
					}
				}
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO contactsync_meta (name, value) VALUES ('schema_version', ?)
				ON CONFLICT (name) DO UPDATE SET value = excluded.value`, strconv.Itoa(sqliteSchemaVersion))
			return err
		})
	})
	var bad *schemaVersionError
	if errors.As(err, &bad) {
		return err
	}
	if err != nil {
		return fmt.Errorf("migrating the state store's schema: %w", err)
	}
	return nil
}

// schemaVersionError reports a schema version the store does not know.
type schemaVersionError struct{ version string }

func (e *schemaVersionError) Error() string {
	return fmt.Sprintf("the state store's schema version is %q; this version of the package knows %d", e.version, sqliteSchemaVersion)
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
	return sqldb.Retry(ctx, true, f)
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
	return sqldb.Retry(ctx, true, f)
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

// PutActivity implements ActivityStore.
func (s *SQLiteStore) PutActivity(ctx context.Context, a Activity) error {
	if err := checkActivity(a); err != nil {
		return err
	}
	err := s.write(ctx, func() error {
		_, err := s.putActivity.ExecContext(ctx, a.Kind, a.RemoteID, a.ContactID, a.MemberID, a.Title, a.Body,
			a.At.UnixMilli(), unixMilli(a.End), a.Completed, a.Status, unixMilli(a.UpdatedAt))
		return err
	})
	return writeErr(err, "storing the activity of %s %s", a.Kind, a.RemoteID)
}

// DeleteActivity implements ActivityStore.
func (s *SQLiteStore) DeleteActivity(ctx context.Context, kind Kind, remoteID string) error {
	err := s.write(ctx, func() error { _, err := s.delActivity.ExecContext(ctx, kind, remoteID); return err })
	return writeErr(err, "deleting the activity of %s %s", kind, remoteID)
}

// DeleteContactActivities implements ActivityStore.
func (s *SQLiteStore) DeleteContactActivities(ctx context.Context, contactID string) error {
	err := s.write(ctx, func() error { _, err := s.delContactActs.ExecContext(ctx, contactID); return err })
	return writeErr(err, "deleting the activities of contact %s", contactID)
}

// Activity implements ActivityStore.
func (s *SQLiteStore) Activity(ctx context.Context, kind Kind, remoteID string) (Activity, error) {
	var a Activity
	err := s.read(ctx, func() error { return scanActivity(s.activity.QueryRowContext(ctx, kind, remoteID), &a) })
	if err != nil {
		return Activity{}, lookupErr(err, "reading the activity of %s %s", kind, remoteID)
	}
	return a, nil
}

// Activities implements ActivityStore. It orders activities by At, then
// RemoteID, then Kind, or with q.Descending in exactly the reverse order.
// With q.Completed set it returns tasks only, and with q.Statuses set
// appointments only (so with both, nothing). A negative q.Limit means no
// cap, as zero does.
//
// The queries of Views, and any query by contact or by member, read an
// index in order and stop at the limit; only a query across the location
// for several kinds at once sorts what it selects.
func (s *SQLiteStore) Activities(ctx context.Context, q ActivityQuery) ([]Activity, error) {
	query, args, ok := activitiesQuery(q)
	if !ok {
		return nil, nil
	}
	var out []Activity
	err := s.read(ctx, func() error {
		out = nil
		rows, err := s.db.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var a Activity
			if err := scanActivity(rows, &a); err != nil {
				return err
			}
			out = append(out, a)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("contactsync: listing activities: %w", err)
	}
	return out, nil
}

// activitiesQuery returns the statement that selects what q selects, and
// its arguments; ok is false if q selects nothing.
func activitiesQuery(q ActivityQuery) (query string, args []any, ok bool) {
	kinds, ok := queryKinds(q)
	if !ok {
		return "", nil, false
	}
	var where []string
	in := func(column string, values []string) {
		where = append(where, column+" IN (?"+strings.Repeat(", ?", len(values)-1)+")")
		for _, v := range values {
			args = append(args, v)
		}
	}
	switch {
	case q.Completed != nil:
		// Literal terms, so that open tasks are read from their partial
		// index (kinds is [KindTask]).
		done := "0"
		if *q.Completed {
			done = "1"
		}
		where = append(where, "kind = '"+string(KindTask)+"' AND completed = "+done)
	case len(kinds) == 1:
		where, args = append(where, "kind = ?"), append(args, kinds[0])
	case len(kinds) > 1:
		ks := make([]string, len(kinds))
		for i, k := range kinds {
			ks[i] = string(k)
		}
		in("kind", ks)
	}
	if q.ContactID != "" {
		where, args = append(where, "contact_id = ?"), append(args, q.ContactID)
	}
	if q.MemberID != "" {
		where, args = append(where, "member_id = ?"), append(args, q.MemberID)
	}
	if !q.From.IsZero() { // at is whole milliseconds: at >= From iff at >= ⌈From⌉
		where, args = append(where, "at >= ?"), append(args, ceilMilli(q.From))
	}
	if !q.To.IsZero() {
		where, args = append(where, "at < ?"), append(args, ceilMilli(q.To))
	}
	if len(q.Statuses) > 0 {
		in("status", q.Statuses)
	}
	var b strings.Builder
	b.WriteString(`SELECT ` + activityColumns + ` FROM contactsync_activities`)
	// Name the index: without statistics, SQLite may read all of a
	// kind's activities for one contact's.
	switch {
	case q.ContactID != "":
		b.WriteString(" INDEXED BY contactsync_activities_contact")
	case q.MemberID != "":
		b.WriteString(" INDEXED BY contactsync_activities_member")
	case q.Completed != nil && !*q.Completed:
		b.WriteString(" INDEXED BY contactsync_activities_open")
	case len(kinds) == 1:
		b.WriteString(" INDEXED BY contactsync_activities_kind")
	}
	if len(where) > 0 {
		b.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	if q.Descending {
		b.WriteString(" ORDER BY at DESC, remote_id DESC, kind DESC")
	} else {
		b.WriteString(" ORDER BY at, remote_id, kind")
	}
	if q.Limit > 0 {
		b.WriteString(" LIMIT ?")
		args = append(args, q.Limit)
	}
	return b.String(), args, true
}

// scanActivity reads a row of activityColumns into a.
func scanActivity(row rowScanner, a *Activity) error {
	var (
		at           int64
		end, updated sql.NullInt64
		completed    bool
	)
	err := row.Scan(&a.Kind, &a.RemoteID, &a.ContactID, &a.MemberID, &a.Title, &a.Body, &at, &end, &completed, &a.Status, &updated)
	if err != nil {
		return err
	}
	a.At, a.End, a.Completed, a.UpdatedAt = fromSortMilli(at), fromMilli(end), completed, fromMilli(updated)
	return nil
}

// PutInbox implements InboundStore with an INSERT that does nothing when
// the ID is stored already, which is atomic across processes. A zero
// Received is set to the current time.
func (s *SQLiteStore) PutInbox(ctx context.Context, e InboxEntry) (first bool, err error) {
	if e.ID == "" {
		return false, errors.New("contactsync: an inbox entry needs an ID")
	}
	e = normalizeInbox(e, time.Now())
	var n int64
	err = s.write(ctx, func() error {
		res, err := s.putInbox.ExecContext(ctx, e.ID, e.Received.UnixMilli(), e.Timestamp.UnixMilli(), blob(e.Body))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return false, writeErr(err, "storing webhook %s in the inbox", e.ID)
	}
	return n == 1, nil
}

// PendingInbox implements InboundStore, ordering entries by Timestamp,
// then Received, then ID. A limit of zero or less means no limit.
func (s *SQLiteStore) PendingInbox(ctx context.Context, limit int) ([]InboxEntry, error) {
	var out []InboxEntry
	err := s.read(ctx, func() error {
		out = nil
		rows, err := s.pendingInbox.QueryContext(ctx, sqlLimit(limit))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				e            InboxEntry
				received, ts int64
			)
			if err := rows.Scan(&e.ID, &received, &ts, &e.Body); err != nil {
				return err
			}
			e.Received, e.Timestamp, e.Body = fromSortMilli(received), fromSortMilli(ts), cloneBytes(e.Body)
			out = append(out, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("contactsync: listing the inbox: %w", err)
	}
	return out, nil
}

// DoneInbox implements InboundStore. It forgets the entry's body; an ID
// that is not in the inbox is no error (and is not recorded).
func (s *SQLiteStore) DoneInbox(ctx context.Context, id string) error {
	err := s.write(ctx, func() error { _, err := s.doneInbox.ExecContext(ctx, id); return err })
	return writeErr(err, "marking webhook %s processed", id)
}

// PurgeInbox implements InboundStore. Unprocessed entries are kept however
// old they are.
func (s *SQLiteStore) PurgeInbox(ctx context.Context, before time.Time) error {
	err := s.write(ctx, func() error { _, err := s.purgeInbox.ExecContext(ctx, ceilMilli(before)); return err })
	return writeErr(err, "purging the inbox before %v", before)
}

// Cursor implements InboundStore.
func (s *SQLiteStore) Cursor(ctx context.Context, name string) (string, error) {
	var value string
	err := s.read(ctx, func() error { return s.cursor.QueryRowContext(ctx, name).Scan(&value) })
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("contactsync: reading cursor %s: %w", name, err)
	}
	return value, nil
}

// SetCursor implements InboundStore. Setting a cursor to "" unsets it.
func (s *SQLiteStore) SetCursor(ctx context.Context, name, value string) error {
	if name == "" {
		return errors.New("contactsync: a cursor needs a name")
	}
	err := s.write(ctx, func() error {
		var err error
		if value == "" {
			_, err = s.delCursor.ExecContext(ctx, name)
		} else {
			_, err = s.setCursor.ExecContext(ctx, name, value)
		}
		return err
	})
	return writeErr(err, "storing cursor %s", name)
}

// Seen implements InboundStore.
func (s *SQLiteStore) Seen(ctx context.Context, kind Kind, remoteID string) (Seen, error) {
	var seen Seen
	err := s.read(ctx, func() error {
		var at sql.NullInt64
		err := s.seen.QueryRowContext(ctx, kind, remoteID).Scan(&seen.Kind, &seen.RemoteID, &at, &seen.Hash, &seen.Deleted, &seen.State)
		seen.At, seen.State = fromMilli(at), cloneBytes(seen.State)
		return err
	})
	if err != nil {
		return Seen{}, lookupErr(err, "reading what was seen of %s %s", kind, remoteID)
	}
	return seen, nil
}

// PutSeen implements InboundStore, replacing what was stored for the
// record.
func (s *SQLiteStore) PutSeen(ctx context.Context, seen Seen) error {
	if seen.Kind == "" || seen.RemoteID == "" {
		return errors.New("contactsync: a Seen needs a Kind and a RemoteID")
	}
	err := s.write(ctx, func() error {
		_, err := s.putSeen.ExecContext(ctx, seen.Kind, seen.RemoteID, unixMilli(seen.At), seen.Hash, seen.Deleted, blob(seen.State))
		return err
	})
	return writeErr(err, "storing what was seen of %s %s", seen.Kind, seen.RemoteID)
}

// MarkDirty implements InboundStore. A contact marked again keeps the
// earliest of its marks: the soonest re-read wins.
func (s *SQLiteStore) MarkDirty(ctx context.Context, contactID string, t time.Time) error {
	if contactID == "" {
		return errors.New("contactsync: MarkDirty needs a contact ID")
	}
	err := s.write(ctx, func() error {
		_, err := s.markDirty.ExecContext(ctx, contactID, storedTime(t).UnixMilli())
		return err
	})
	return writeErr(err, "marking contact %s dirty", contactID)
}

// Dirty implements InboundStore, ordering contacts by their mark, then by
// ID. A limit of zero or less means no limit.
func (s *SQLiteStore) Dirty(ctx context.Context, before time.Time, limit int) ([]string, error) {
	var out []string
	err := s.read(ctx, func() error {
		out = nil
		// marked_at is whole milliseconds: marked_at <= before iff
		// marked_at <= ⌊before⌋.
		rows, err := s.dirty.QueryContext(ctx, before.UnixMilli(), sqlLimit(limit))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			out = append(out, id)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("contactsync: listing dirty contacts: %w", err)
	}
	return out, nil
}

// ClearDirty implements InboundStore.
func (s *SQLiteStore) ClearDirty(ctx context.Context, contactID string, t time.Time) error {
	err := s.write(ctx, func() error { _, err := s.clearDirty.ExecContext(ctx, contactID, t.UnixMilli()); return err })
	return writeErr(err, "clearing the dirty mark of contact %s", contactID)
}

// sqlLimit is limit as a LIMIT argument: -1, no limit, for zero or less.
func sqlLimit(limit int) int {
	if limit <= 0 {
		return -1
	}
	return limit
}

// zeroMilli is the zero time in Unix milliseconds. The columns that order
// or bound their rows (an activity's at, the inbox's times, the dirty
// marks) are NOT NULL and keep the zero time as zeroMilli, which sorts
// before every other time as the zero time does.
var zeroMilli = time.Time{}.UnixMilli()

// fromSortMilli is the time of a NOT NULL column of Unix milliseconds.
func fromSortMilli(ms int64) time.Time {
	if ms == zeroMilli {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// ceilMilli is t in Unix milliseconds, rounded up: for a time x of whole
// milliseconds, x >= t iff x >= ceilMilli(t), and x < t iff
// x < ceilMilli(t).
func ceilMilli(t time.Time) int64 {
	ms := t.UnixMilli() // rounded down, also before 1970
	if t.Nanosecond()%int(time.Millisecond) != 0 {
		ms++
	}
	return ms
}

// A SQLiteStore serves as all three stores.
var (
	_ StateStore    = (*SQLiteStore)(nil)
	_ ActivityStore = (*SQLiteStore)(nil)
	_ InboundStore  = (*SQLiteStore)(nil)
)
