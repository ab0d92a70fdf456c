package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	contactsync "github.com/gymflow/contacts-go/sync"
)

// The insights in SQL (contactsync.InsightStore): each is one aggregate
// over an index of the activities (by kind and time, open tasks, or by
// member), grouped in the database; only the weeks, the buckets or the
// listed members come back.

const weekMilli = 7 * 24 * 60 * 60 * 1000

// Conditions of the insights, as SQL over the activities table.
const (
	sqlLate      = `completed AND completed_at IS NOT NULL AND completed_at > at`
	sqlCancelled = `LOWER(TRIM(status)) IN ('cancelled', 'canceled')`
	sqlNoShow    = `LOWER(TRIM(status)) IN ('noshow', 'no_show', 'no-show')`
	// sqlActive is contactsync.Activity.Active, but for "at or before
	// now", which the queries bound.
	sqlActive = `(kind = 'note' OR (kind = 'task' AND completed) OR (kind = 'appointment' AND NOT (` + sqlCancelled + `) AND NOT (` + sqlNoShow + `)))`
)

// insightQueries are the insights' statements, prefixed and rebound.
type insightQueries struct {
	followUps, lateness, overdue, engagement, quiet, appointments string
}

func buildInsightQueries(q func(string) string) insightQueries {
	// lastActivity: each linked, unarchived member and its last activity
	// at or before now ($now), NULL for none.
	last := `SELECT l.local_id AS member_id, l.remote_id AS contact_id, MAX(a.at) AS last_at
	FROM {p}links l LEFT JOIN {p}activities a
	  ON a.location_id = l.location_id AND a.member_id = l.local_id AND a.at <= ? AND a.at <> ` + fmt.Sprint(zeroMilli) + ` AND ` + prefixCols(sqlActive, "a.") + `
	WHERE l.location_id = ? AND l.kind = 'member' AND l.remote_id <> '' AND NOT l.archived
	GROUP BY l.local_id, l.remote_id`
	return insightQueries{
		followUps: q(`SELECT (at - ?) / ` + fmt.Sprint(weekMilli) + ` AS w,
	SUM(CASE WHEN ` + sqlLate + ` THEN 1 ELSE 0 END),
	SUM(CASE WHEN completed AND NOT (` + sqlLate + `) THEN 1 ELSE 0 END),
	SUM(CASE WHEN NOT completed AND at >= ? THEN 1 ELSE 0 END),
	SUM(CASE WHEN NOT completed AND at < ? THEN 1 ELSE 0 END)
	FROM {p}activities WHERE location_id = ? AND kind = 'task' AND at >= ? AND at < ? AND member_id <> ''
	GROUP BY 1`),
		lateness: q(`SELECT completed_at - at FROM {p}activities
	WHERE location_id = ? AND kind = 'task' AND at >= ? AND at < ? AND member_id <> '' AND completed AND completed_at IS NOT NULL`),
		overdue: q(`SELECT member_id, MIN(contact_id), MIN(at), COUNT(*) FROM {p}activities
	WHERE location_id = ? AND kind = 'task' AND completed = FALSE AND at < ? AND at <> ` + fmt.Sprint(zeroMilli) + ` AND member_id <> ''
	GROUP BY member_id ORDER BY MIN(at), member_id`),
		engagement: q(`SELECT
	SUM(CASE WHEN last_at IS NULL THEN 1 ELSE 0 END),
	SUM(CASE WHEN last_at >= ? THEN 1 ELSE 0 END),
	SUM(CASE WHEN last_at < ? AND last_at >= ? THEN 1 ELSE 0 END),
	SUM(CASE WHEN last_at < ? AND last_at >= ? THEN 1 ELSE 0 END),
	SUM(CASE WHEN last_at < ? THEN 1 ELSE 0 END)
	FROM (` + last + `) m`),
		quiet: q(`SELECT member_id, contact_id, last_at FROM (` + last + `) m
	WHERE last_at < ? ORDER BY last_at DESC, member_id`),
		appointments: q(`SELECT (at - ?) / ` + fmt.Sprint(weekMilli) + ` AS w,
	SUM(CASE WHEN ` + sqlCancelled + ` THEN 1 ELSE 0 END),
	SUM(CASE WHEN ` + sqlNoShow + ` THEN 1 ELSE 0 END),
	COUNT(*)
	FROM {p}activities WHERE location_id = ? AND kind = 'appointment' AND at >= ? AND at < ? AND member_id <> ''
	GROUP BY 1`),
	}
}

// prefixCols qualifies the activity columns of cond with p.
func prefixCols(cond, p string) string {
	out := cond
	for _, c := range []string{"kind", "completed", "status"} {
		out = replaceWord(out, c, p+c)
	}
	return out
}

// replaceWord replaces whole-word occurrences of w in s by r.
func replaceWord(s, w, r string) string {
	isWord := func(b byte) bool {
		return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
	}
	var out []byte
	for i := 0; i < len(s); {
		if i+len(w) <= len(s) && s[i:i+len(w)] == w && (i == 0 || !isWord(s[i-1]) && s[i-1] != '.') && (i+len(w) == len(s) || !isWord(s[i+len(w)])) {
			out = append(out, r...)
			i += len(w)
			continue
		}
		out = append(out, s[i])
		i++
	}
	return string(out)
}

func insightWindow(now time.Time) (from, to int64) {
	weeks := contactsync.EmptyFollowUpWeeks(now)
	f := weeks[0].Week
	return f.UnixMilli(), f.AddDate(0, 0, 7*contactsync.InsightWeeks).UnixMilli()
}

// FollowUpInsights implements contactsync.InsightStore.
func (s *Store) FollowUpInsights(ctx context.Context, now time.Time) (contactsync.FollowUps, error) {
	from, to := insightWindow(now)
	nowMs := ceilMilli(now)
	var f contactsync.FollowUps
	var lateness []time.Duration
	err := s.read(ctx, func() error {
		f.Weeks = contactsync.EmptyFollowUpWeeks(now)
		lateness = lateness[:0]
		err := s.rows(ctx, s.db.iq.followUps, []any{from, nowMs, nowMs, s.loc, from, to}, func(scan func(...any) error) error {
			var w int64
			var late, onTime, open, overdue int
			if err := scan(&w, &late, &onTime, &open, &overdue); err != nil {
				return err
			}
			if w >= 0 && w < int64(len(f.Weeks)) {
				f.Weeks[w].Late, f.Weeks[w].OnTime, f.Weeks[w].Open, f.Weeks[w].Overdue = late, onTime, open, overdue
			}
			return nil
		})
		if err != nil {
			return err
		}
		return s.rows(ctx, s.db.iq.lateness, []any{s.loc, from, to}, func(scan func(...any) error) error {
			var ms int64
			if err := scan(&ms); err != nil {
				return err
			}
			lateness = append(lateness, time.Duration(ms)*time.Millisecond)
			return nil
		})
	})
	if err != nil {
		return contactsync.FollowUps{}, fmt.Errorf("contactsync: follow-up insights: %w", err)
	}
	contactsync.SummarizeFollowUps(&f, lateness)
	return f, nil
}

// OverdueMembers implements contactsync.InsightStore.
func (s *Store) OverdueMembers(ctx context.Context, now time.Time, limit int) ([]contactsync.OverdueMember, error) {
	var out []contactsync.OverdueMember
	err := s.read(ctx, func() error {
		out = nil
		return s.rows(ctx, withLimit(s.db.iq.overdue, limit), []any{s.loc, ceilMilli(now)}, func(scan func(...any) error) error {
			var m contactsync.OverdueMember
			var at int64
			if err := scan(&m.MemberID, &m.ContactID, &at, &m.Count); err != nil {
				return err
			}
			m.OldestDue = fromSortMilli(at)
			out = append(out, m)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("contactsync: overdue members: %w", err)
	}
	return out, nil
}

// EngagementInsights implements contactsync.InsightStore.
func (s *Store) EngagementInsights(ctx context.Context, now time.Time) (contactsync.Engagement, error) {
	day := func(n int) int64 { return ceilMilli(now.Add(-time.Duration(n) * 24 * time.Hour)) }
	d7, d30, d90 := day(7), day(30), day(90)
	var e contactsync.Engagement
	err := s.read(ctx, func() error {
		var never, week, month, quarter, older sql.NullInt64
		err := s.db.db.QueryRowContext(ctx, s.db.iq.engagement, d7, d7, d30, d30, d90, d90, now.UnixMilli(), s.loc).
			Scan(&never, &week, &month, &quarter, &older)
		e = contactsync.Engagement{Never: int(never.Int64), Week: int(week.Int64), Month: int(month.Int64), Quarter: int(quarter.Int64), Older: int(older.Int64)}
		return err
	})
	if err != nil {
		return contactsync.Engagement{}, fmt.Errorf("contactsync: engagement insights: %w", err)
	}
	return e, nil
}

// QuietMembers implements contactsync.InsightStore.
func (s *Store) QuietMembers(ctx context.Context, now time.Time, limit int) ([]contactsync.QuietMember, error) {
	var out []contactsync.QuietMember
	err := s.read(ctx, func() error {
		out = nil
		// last_at < ⌈now − QuietAfter⌉ iff now − last_at > QuietAfter for
		// whole milliseconds.
		return s.rows(ctx, withLimit(s.db.iq.quiet, limit), []any{now.UnixMilli(), s.loc, ceilMilli(now.Add(-contactsync.QuietAfter))}, func(scan func(...any) error) error {
			var m contactsync.QuietMember
			var at int64
			if err := scan(&m.MemberID, &m.ContactID, &at); err != nil {
				return err
			}
			m.LastActivity = fromSortMilli(at)
			out = append(out, m)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("contactsync: quiet members: %w", err)
	}
	return out, nil
}

// AppointmentInsights implements contactsync.InsightStore.
func (s *Store) AppointmentInsights(ctx context.Context, now time.Time) ([]contactsync.AppointmentWeek, error) {
	from, to := insightWindow(now)
	var weeks []contactsync.AppointmentWeek
	err := s.read(ctx, func() error {
		weeks = contactsync.EmptyAppointmentWeeks(now)
		return s.rows(ctx, s.db.iq.appointments, []any{from, s.loc, from, to}, func(scan func(...any) error) error {
			var w int64
			var cancelled, noShow, total int
			if err := scan(&w, &cancelled, &noShow, &total); err != nil {
				return err
			}
			if w >= 0 && w < int64(len(weeks)) {
				weeks[w].Cancelled, weeks[w].NoShow, weeks[w].Kept = cancelled, noShow, total-cancelled-noShow
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("contactsync: appointment insights: %w", err)
	}
	return weeks, nil
}

// withLimit appends a LIMIT for limit > 0 (an integer, not user text).
func withLimit(query string, limit int) string {
	if limit <= 0 {
		return query
	}
	return query + " LIMIT " + fmt.Sprint(limit)
}

// rows runs query and calls each for every row.
func (s *Store) rows(ctx context.Context, query string, args []any, each func(scan func(...any) error) error) error {
	rows, err := s.db.db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

var _ contactsync.InsightStore = (*Store)(nil)
