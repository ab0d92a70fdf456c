package sqlstore

import (
	"strings"

	"github.com/gymflow/contacts-go/internal/sqldb"
)

// Column lists: every read of a table selects these.
const (
	linkColumns     = `kind, local_id, remote_id, member_id, contact_id, hash, state, tags, archived, updated_at`
	intentColumns   = `key, kind, local_id, op, data, created_at`
	runColumns      = `id, started, finished, report, err`
	activityColumns = `kind, remote_id, contact_id, member_id, title, body, at, end_at, completed, status, updated_at, completed_at`
	seenColumns     = `kind, remote_id, at, hash, deleted, state`
)

// queries are a DB's statements, in its dialect and with its table
// prefix. Every statement names the location first (location_id = ?), so
// it reads or writes one location's part of an index.
type queries struct {
	link, byRemote, putLink, delLink, links, member string
	commitLink, prefetch                            string
	// putIntents and commitLinks are putIntent and commitLink for many
	// rows at once, from arrays (PostgreSQL only: pipeline.go).
	putIntents, commitLinks                        string
	putIntent, intent, intents, delIntent          string
	markDone, done, delRun, putRun, runs           string
	putActivity, activity, delActivity, delContact string
	putInbox, pendingInbox, doneInbox, purgeInbox  string
	cursor, setCursor, delCursor                   string
	seen, putSeen, markDirty, dirty, clearDirty    string

	// Leases and the budget. fence reads a lease's token for a fenced
	// write (locking the row against a concurrent acquisition on
	// PostgreSQL, as SQLite's write lock does); leaseNew makes the row a
	// lease is then read and updated in.
	leaseNew, leaseGet, leaseSet, fence string
	fenceAssert                         string
	budgetNew, budgetGet, budgetSet     string

	// nowMilli is an expression of the database's clock in Unix
	// milliseconds: leases are judged by one clock, the database's,
	// whatever the clocks of the machines sharing it say.
	nowMilli string
}

func buildQueries(d sqldb.Dialect, p string) queries {
	lock, nowMilli, least := "", `CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)`, "min"
	// prefetch reads the links of a list of IDs, given as one argument: a
	// JSON array read by json_each with SQLite; a text array with
	// PostgreSQL, each element looked up on its own in a LATERAL subquery
	// (OFFSET 0 keeps it from being flattened into a join). The plain
	// "local_id = ANY(?)" reads the wrong plan on tables never analyzed
	// (a new database's first sync, before autovacuum's first pass): the
	// planner takes (location, kind) for one row, scans them all and
	// filters by the array, so every query reads the whole location. The
	// lookup of one ID plans on the primary key whatever the statistics.
	prefetch := `SELECT ` + linkColumns + ` FROM {p}links WHERE location_id = ? AND kind = ? AND local_id IN (SELECT value FROM json_each(?))`
	if d == sqldb.Postgres {
		lock, nowMilli, least = " FOR UPDATE", `CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)`, "LEAST"
		prefetch = `SELECT l.* FROM (SELECT ?::text AS loc, ?::text AS knd) AS k CROSS JOIN unnest(?::text[]) AS i (id),
	LATERAL (SELECT ` + linkColumns + ` FROM {p}links WHERE location_id = k.loc AND kind = k.knd AND local_id = i.id OFFSET 0) AS l`
	}
	share := strings.Replace(lock, "UPDATE", "SHARE", 1)
	q := queries{
		link: `SELECT ` + linkColumns + ` FROM {p}links WHERE location_id = ? AND kind = ? AND local_id = ?`,
		byRemote: `SELECT ` + linkColumns + ` FROM {p}links WHERE location_id = ? AND kind = ? AND remote_id = ?
	ORDER BY local_id LIMIT 1`,
		putLink: `INSERT INTO {p}links (location_id, ` + linkColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (location_id, kind, local_id) DO UPDATE SET remote_id = excluded.remote_id,
	member_id = excluded.member_id, contact_id = excluded.contact_id, hash = excluded.hash, state = excluded.state,
	tags = excluded.tags, archived = excluded.archived, updated_at = excluded.updated_at`,
		// commitLink is putLink and delIntent in one statement
		// (PostgreSQL only: a data-modifying WITH): the intent's key is
		// its last two arguments, location and key.
		commitLink: `WITH gone AS (DELETE FROM {p}intents WHERE location_id = ? AND key = ?)
	INSERT INTO {p}links (location_id, ` + linkColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (location_id, kind, local_id) DO UPDATE SET remote_id = excluded.remote_id,
	member_id = excluded.member_id, contact_id = excluded.contact_id, hash = excluded.hash, state = excluded.state,
	tags = excluded.tags, archived = excluded.archived, updated_at = excluded.updated_at`,
		putIntents: `INSERT INTO {p}intents (location_id, ` + intentColumns + `)
	SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bytea[], ?::bigint[])
	ON CONFLICT (location_id, key) DO UPDATE SET kind = excluded.kind, local_id = excluded.local_id,
	op = excluded.op, data = excluded.data, created_at = excluded.created_at`,
		commitLinks: `WITH gone AS (DELETE FROM {p}intents AS i USING unnest(?::text[], ?::text[]) AS d (location_id, key)
	WHERE i.location_id = d.location_id AND i.key = d.key)
	INSERT INTO {p}links (location_id, ` + linkColumns + `)
	SELECT * FROM unnest(?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bytea[], ?::text[], ?::boolean[], ?::bigint[])
	ON CONFLICT (location_id, kind, local_id) DO UPDATE SET remote_id = excluded.remote_id,
	member_id = excluded.member_id, contact_id = excluded.contact_id, hash = excluded.hash, state = excluded.state,
	tags = excluded.tags, archived = excluded.archived, updated_at = excluded.updated_at`,
		prefetch: prefetch,
		delLink:  `DELETE FROM {p}links WHERE location_id = ? AND kind = ? AND local_id = ?`,
		links: `SELECT ` + linkColumns + ` FROM {p}links WHERE location_id = ? AND kind = ? AND local_id > ?
	ORDER BY local_id LIMIT ?`,
		member: `SELECT ` + linkColumns + ` FROM {p}links WHERE location_id = ? AND kind = ? AND member_id = ?
	ORDER BY local_id`,

		putIntent: `INSERT INTO {p}intents (location_id, ` + intentColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (location_id, key) DO UPDATE SET kind = excluded.kind, local_id = excluded.local_id,
	op = excluded.op, data = excluded.data, created_at = excluded.created_at`,
		intent:    `SELECT ` + intentColumns + ` FROM {p}intents WHERE location_id = ? AND key = ?`,
		intents:   `SELECT ` + intentColumns + ` FROM {p}intents WHERE location_id = ? ORDER BY created_at, key`,
		delIntent: `DELETE FROM {p}intents WHERE location_id = ? AND key = ?`,

		markDone: `INSERT INTO {p}done (location_id, key, done_at) VALUES (?, ?, ?) ON CONFLICT (location_id, key) DO NOTHING`,
		done:     `SELECT 1 FROM {p}done WHERE location_id = ? AND key = ?`,
		// A run replacing one with the same ID is deleted and inserted
		// again, with a new seq: it counts as appended last.
		delRun: `DELETE FROM {p}runs WHERE location_id = ? AND id = ?`,
		putRun: `INSERT INTO {p}runs (location_id, ` + runColumns + `) VALUES (?, ?, ?, ?, ?, ?)`,
		runs: `SELECT ` + runColumns + ` FROM {p}runs WHERE location_id = ?
	ORDER BY started DESC NULLS LAST, seq DESC LIMIT ?`,

		putActivity: `INSERT INTO {p}activities (location_id, ` + activityColumns + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (location_id, kind, remote_id) DO UPDATE SET contact_id = excluded.contact_id,
	member_id = excluded.member_id, title = excluded.title, body = excluded.body, at = excluded.at,
	end_at = excluded.end_at, completed = excluded.completed, status = excluded.status,
	updated_at = excluded.updated_at, completed_at = excluded.completed_at`,
		activity:    `SELECT ` + activityColumns + ` FROM {p}activities WHERE location_id = ? AND kind = ? AND remote_id = ?`,
		delActivity: `DELETE FROM {p}activities WHERE location_id = ? AND kind = ? AND remote_id = ?`,
		delContact:  `DELETE FROM {p}activities WHERE location_id = ? AND contact_id = ?`,

		putInbox: `INSERT INTO {p}inbox (location_id, id, received, ts, body, done) VALUES (?, ?, ?, ?, ?, FALSE)
	ON CONFLICT (location_id, id) DO NOTHING`,
		pendingInbox: `SELECT id, received, ts, body FROM {p}inbox WHERE location_id = ? AND done = FALSE
	ORDER BY ts, received, id LIMIT ?`,
		doneInbox:  `UPDATE {p}inbox SET done = TRUE, body = NULL WHERE location_id = ? AND id = ? AND done = FALSE`,
		purgeInbox: `DELETE FROM {p}inbox WHERE location_id = ? AND done = TRUE AND received < ?`,

		cursor: `SELECT value FROM {p}cursors WHERE location_id = ? AND name = ?`,
		setCursor: `INSERT INTO {p}cursors (location_id, name, value) VALUES (?, ?, ?)
	ON CONFLICT (location_id, name) DO UPDATE SET value = excluded.value`,
		delCursor: `DELETE FROM {p}cursors WHERE location_id = ? AND name = ?`,

		seen: `SELECT ` + seenColumns + ` FROM {p}seen WHERE location_id = ? AND kind = ? AND remote_id = ?`,
		putSeen: `INSERT INTO {p}seen (location_id, ` + seenColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (location_id, kind, remote_id) DO UPDATE SET at = excluded.at, hash = excluded.hash,
	deleted = excluded.deleted, state = excluded.state`,
		// A contact marked again keeps its earliest mark.
		markDirty: `INSERT INTO {p}dirty (location_id, contact_id, marked_at) VALUES (?, ?, ?)
	ON CONFLICT (location_id, contact_id) DO UPDATE SET marked_at = ` + least + `({p}dirty.marked_at, excluded.marked_at)`,
		dirty: `SELECT contact_id FROM {p}dirty WHERE location_id = ? AND marked_at <= ?
	ORDER BY marked_at, contact_id LIMIT ?`,
		clearDirty: `DELETE FROM {p}dirty WHERE location_id = ? AND contact_id = ? AND marked_at <= ?`,

		leaseNew: `INSERT INTO {p}leases (location_id, name, owner, token, expires_at) VALUES (?, ?, '', 0, 0)
	ON CONFLICT (location_id, name) DO NOTHING`,
		leaseGet: `SELECT owner, token, expires_at, ` + nowMilli + ` FROM {p}leases
	WHERE location_id = ? AND name = ?` + lock,
		leaseSet: `UPDATE {p}leases SET owner = ?, token = ?, expires_at = ? WHERE location_id = ? AND name = ?`,
		fence:    `SELECT token FROM {p}leases WHERE location_id = ? AND name = ?` + share,
		// fenceAssert locks a lease's row if its token is the given one,
		// and fails (division by zero) if it is not (PostgreSQL only).
		fenceAssert: `SELECT 1 / count(*) FROM (SELECT 1 FROM {p}leases WHERE location_id = ? AND name = ? AND token = ?` + share + `) held`,

		budgetNew: `INSERT INTO {p}budget (location_id, day, used) VALUES (?, ?, 0) ON CONFLICT (location_id, day) DO NOTHING`,
		budgetGet: `SELECT used FROM {p}budget WHERE location_id = ? AND day = ?` + lock,
		budgetSet: `UPDATE {p}budget SET used = ? WHERE location_id = ? AND day = ?`,

		nowMilli: nowMilli,
	}
	r := strings.NewReplacer("{p}", p)
	for _, s := range []*string{
		&q.link, &q.byRemote, &q.putLink, &q.commitLink, &q.prefetch, &q.putIntents, &q.commitLinks, &q.delLink, &q.links, &q.member,
		&q.putIntent, &q.intent, &q.intents, &q.delIntent,
		&q.markDone, &q.done, &q.delRun, &q.putRun, &q.runs,
		&q.putActivity, &q.activity, &q.delActivity, &q.delContact,
		&q.putInbox, &q.pendingInbox, &q.doneInbox, &q.purgeInbox,
		&q.cursor, &q.setCursor, &q.delCursor,
		&q.seen, &q.putSeen, &q.markDirty, &q.dirty, &q.clearDirty,
		&q.leaseNew, &q.leaseGet, &q.leaseSet, &q.fence, &q.fenceAssert,
		&q.budgetNew, &q.budgetGet, &q.budgetSet,
	} {
		*s = d.Rebind(r.Replace(*s))
	}
	return q
}
