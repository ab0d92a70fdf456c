package sqlstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/internal/storekit"
)

// A transaction of a PostgreSQL DB over pgx (github.com/jackc/pgx/v5/stdlib)
// is pipelined: its statements go to the server together and their
// answers come back together, four round trips in all (begin, the leases
// of the fences, the writes, commit) instead of one per statement. A busy
// store's transactions carry dozens of writes, so this is what makes
// PostgreSQL keep up (BENCHMARKS.md). With another driver, or for the ops
// that read what they write (leases, the budget), the writers use
// database/sql as SQLite does.

// pgxConn is implemented by the database/sql driver connections of
// github.com/jackc/pgx/v5/stdlib.
type pgxConn interface{ Conn() *pgx.Conn }

// errNoPipeline: the driver is not pgx; the batch goes through
// database/sql.
var errNoPipeline = errors.New("not a pgx connection")

// pipeline runs batch in one pipelined transaction if it can: with
// PostgreSQL over pgx, and ops of statements only. done reports whether it
// did (err is then its outcome, and results the refusals of fenced ops);
// if not, the caller runs the batch through database/sql.
func (s *DB) pipeline(ctx context.Context, batch []*op, results []error) (done bool, err error) {
	if s.dialect != Postgres || s.noPipeline.Load() {
		return false, nil
	}
	for _, o := range batch {
		if o.run != nil {
			return false, nil
		}
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return true, err
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		pc, ok := dc.(pgxConn)
		if !ok {
			return errNoPipeline
		}
		c := pc.Conn()
		if ok, err := s.pipelineOnce(ctx, c, batch); ok {
			return err
		}
		return s.pipelineTx(ctx, c, batch, results)
	})
	if errors.Is(err, errNoPipeline) {
		s.noPipeline.Store(true)
		return false, nil
	}
	return true, err
}

// pipelineOnce runs batch in one round trip: BEGIN, an assertion of
// each fence (which locks the lease's row, and divides by zero if its
// token moved on), the writes and COMMIT, all sent together. ok is false
// if any statement failed — a fence that does not hold, mostly — and the
// transaction is rolled back: the caller then runs pipelineTx, which
// checks each fence and refuses only the ops whose fence moved on.
func (s *DB) pipelineOnce(ctx context.Context, c *pgx.Conn, batch []*op) (ok bool, err error) {
	type fenceTok struct {
		fenceKey
		token int64
	}
	var fences []fenceTok
	for _, o := range batch {
		if o.fence != nil {
			fences = append(fences, fenceTok{fenceKey{o.loc, o.fence.Name}, o.fence.Token})
		}
	}
	slices.SortFunc(fences, func(a, b fenceTok) int {
		return cmp.Or(cmp.Compare(a.loc, b.loc), cmp.Compare(a.name, b.name), cmp.Compare(a.token, b.token))
	})
	fences = slices.Compact(fences)
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	for _, f := range fences {
		b.Queue(s.q.fenceAssert, f.loc, f.name, f.token)
	}
	var dests []*int64
	if multi, ok := s.coalesce(batch); ok {
		for _, st := range multi {
			b.Queue(st.query, st.args...)
			dests = append(dests, nil)
		}
	} else {
		for _, o := range batch {
			for _, st := range o.stmts {
				b.Queue(st.query, pgxArgs(st.args)...)
				dests = append(dests, st.rows)
			}
		}
	}
	b.Queue("COMMIT")
	s.statements.Add(int64(len(fences) + len(dests)))
	br := c.SendBatch(ctx, b)
	failed := func() (bool, error) {
		br.Close()
		// The batch stopped at the failing statement: the transaction
		// is open and aborted.
		if _, err := c.Exec(context.WithoutCancel(ctx), "ROLLBACK"); err != nil {
			// The connection is unusable: the server may have run the
			// whole batch, COMMIT included.
			return true, &unknownOutcome{err}
		}
		return false, nil
	}
	if _, err := br.Exec(); err != nil {
		return failed()
	}
	for range fences {
		if _, err := br.Exec(); err != nil {
			return failed()
		}
	}
	for _, dst := range dests {
		tag, err := br.Exec()
		if err != nil {
			return failed()
		}
		if dst != nil {
			*dst = tag.RowsAffected()
		}
	}
	if _, err := br.Exec(); err != nil { // COMMIT
		br.Close()
		return true, &unknownOutcome{err}
	}
	if err := br.Close(); err != nil {
		return true, &unknownOutcome{err}
	}
	return true, nil
}

func (s *DB) pipelineTx(ctx context.Context, c *pgx.Conn, batch []*op, results []error) (err error) {
	tx, err := c.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()

	// The fences' leases, locked in one order.
	keys := fenceKeys(batch)
	tokens := make(map[fenceKey]int64, len(keys))
	if len(keys) > 0 {
		b := &pgx.Batch{}
		for _, k := range keys {
			b.Queue(s.q.fence, k.loc, k.name)
		}
		s.statements.Add(int64(len(keys)))
		br := tx.SendBatch(ctx, b)
		for _, k := range keys {
			var token int64
			switch err := br.QueryRow().Scan(&token); {
			case errors.Is(err, pgx.ErrNoRows):
				token = -1
			case err != nil:
				br.Close()
				return err
			}
			tokens[k] = token
		}
		if err := br.Close(); err != nil {
			return err
		}
	}

	// The writes of the ops whose fence holds, in order.
	b := &pgx.Batch{}
	var dests []*int64 // per queued statement
	for i, o := range batch {
		if o.fence != nil {
			if token := tokens[fenceKey{o.loc, o.fence.Name}]; token != o.fence.Token {
				results[i] = storekit.LeaseLost(*o.fence, token)
				continue
			}
		}
		for _, st := range o.stmts {
			b.Queue(st.query, pgxArgs(st.args)...)
			dests = append(dests, st.rows)
		}
	}
	if len(dests) > 0 {
		s.statements.Add(int64(len(dests)))
		br := tx.SendBatch(ctx, b)
		for _, dst := range dests {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return err
			}
			if dst != nil {
				*dst = tag.RowsAffected()
			}
		}
		if err := br.Close(); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return &unknownOutcome{err}
	}
	return nil
}

// pgxArgs converts arguments as database/sql would for the driver: named
// string types (contactsync.Kind) to strings.
func pgxArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case contactsync.Kind:
			out[i] = string(v)
		default:
			out[i] = v
		}
	}
	return out
}

// coalesce turns a batch of intents recorded and links committed — a busy
// engine's batch — into two statements over arrays, one for all the
// intents and one for all the links, when that changes nothing: only
// those two kinds of statement, every intent key and every link once. It
// saves PostgreSQL a statement's work per write (parse, plan, executor),
// which is what bounds it on a small machine.
func (s *DB) coalesce(batch []*op) ([]stmt, bool) {
	var (
		intents, links [][]any
		keys           = map[[2]string]bool{}
		linkKeys       = map[[3]string]bool{}
	)
	for _, o := range batch {
		for _, st := range o.stmts {
			if st.rows != nil {
				return nil, false
			}
			switch st.query {
			case s.q.putIntent: // loc, key, kind, local_id, op, data, created_at
				k := [2]string{argString(st.args[0]), argString(st.args[1])}
				if keys[k] {
					return nil, false
				}
				keys[k] = true
				intents = append(intents, st.args)
			case s.q.commitLink: // loc, key, loc, kind, local_id, …
				k := [2]string{argString(st.args[0]), argString(st.args[1])}
				lk := [3]string{argString(st.args[2]), argString(st.args[3]), argString(st.args[4])}
				if keys[k] || linkKeys[lk] {
					return nil, false
				}
				keys[k], linkKeys[lk] = true, true
				links = append(links, st.args)
			default:
				return nil, false
			}
		}
	}
	if len(intents)+len(links) < 2 {
		return nil, false
	}
	var out []stmt
	if len(intents) > 0 {
		out = append(out, stmt{query: s.q.putIntents, args: columns(intents, []int{0, 1, 2, 3, 4}, []int{5}, nil, []int{6})})
	}
	if len(links) > 0 {
		// loc, key | loc, kind, local_id, remote_id, member_id, contact_id, hash, state, tags, archived, updated_at
		gone := columns(links, []int{0, 1}, nil, nil, nil)
		rows := make([][]any, len(links))
		for i, a := range links {
			rows[i] = a[2:]
		}
		cols := columns(rows, []int{0, 1, 2, 3, 4, 5, 6}, []int{7}, []int{9}, []int{10})
		// tags (index 8) is text or NULL.
		tags := make([]*string, len(rows))
		for i, r := range rows {
			if t, ok := r[8].(string); ok {
				tags[i] = &t
			}
		}
		cols = append(cols[:8], append([]any{tags}, cols[8:]...)...)
		out = append(out, stmt{query: s.q.commitLinks, args: append(gone, cols...)})
	}
	return out, true
}

// columns turns rows of arguments into arrays, one per column, in column
// order: the columns at text as []string, at bytes as [][]byte (nil for
// NULL), at bools as []bool, at ints as []*int64 (nil for NULL).
func columns(rows [][]any, text, bytes, bools, ints []int) []any {
	type col struct {
		at  int
		val any
	}
	var cols []col
	for _, i := range text {
		v := make([]string, len(rows))
		for r, row := range rows {
			v[r] = argString(row[i])
		}
		cols = append(cols, col{i, v})
	}
	for _, i := range bytes {
		v := make([][]byte, len(rows))
		for r, row := range rows {
			v[r], _ = row[i].([]byte)
		}
		cols = append(cols, col{i, v})
	}
	for _, i := range bools {
		v := make([]bool, len(rows))
		for r, row := range rows {
			v[r], _ = row[i].(bool)
		}
		cols = append(cols, col{i, v})
	}
	for _, i := range ints {
		v := make([]*int64, len(rows))
		for r, row := range rows {
			if n, ok := row[i].(int64); ok {
				v[r] = &n
			}
		}
		cols = append(cols, col{i, v})
	}
	slices.SortFunc(cols, func(a, b col) int { return cmp.Compare(a.at, b.at) })
	out := make([]any, len(cols))
	for i, c := range cols {
		out[i] = c.val
	}
	return out
}

// argString is a text argument as a string.
func argString(a any) string {
	switch v := a.(type) {
	case string:
		return v
	case contactsync.Kind:
		return string(v)
	}
	return fmt.Sprint(a)
}
