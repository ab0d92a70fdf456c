package webhook_test

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gymflow/contacts-go/internal/pgtest"
	"github.com/gymflow/contacts-go/webhook"
)

// The SQLDedup on a real PostgreSQL server (internal/pgtest): each test has
// a database of its own. Without PostgreSQL these tests are skipped, unless
// CONTACTS_REQUIRE_POSTGRES=1.

// TestMain stops the PostgreSQL server the tests may have started.
func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

// isPostgresURL tells a claimer process's PostgreSQL URL from a SQLite
// path.
func isPostgresURL(path string) bool {
	return strings.HasPrefix(path, "postgres://") || strings.HasPrefix(path, "postgresql://") || strings.Contains(path, "dbname=")
}

// openPostgresDedup returns a migrated store, with the conformance TTL
// and a pool of its own, in the PostgreSQL database at url.
func openPostgresDedup(t testing.TB, url string, opts ...webhook.SQLDedupOption) *webhook.SQLDedup {
	t.Helper()
	s, err := webhook.NewSQLDedup(pgtest.Open(t, url), webhook.Postgres, append([]webhook.SQLDedupOption{webhook.WithDedupTTL(dedupTTL)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

// postgresDedupStores are the kinds TestDedupStoreConformancePostgres
// runs the scenarios on: one store, and three instances with pools of
// their own sharing a database. Each kind has one database, and each
// scenario a table of its own in it (WithTablePrefix): a database for each
// scenario would cost more than the scenarios themselves.
var postgresDedupStores = []dedupStore{
	{"Postgres", func(t *testing.T) func(*testing.T) webhook.DedupStore {
		url, next := pgtest.URL(t), scenarioPrefixes()
		return func(t *testing.T) webhook.DedupStore { return openPostgresDedup(t, url, next()) }
	}},
	{"Postgres/3 instances", threeInstances("")},
	// Stricter isolation levels a deployment may impose: PostgreSQL then
	// refuses a statement that meets a row another transaction changed
	// since its snapshot (SQLSTATE 40001), which the store runs again.
	{"Postgres/3 instances/repeatable read", threeInstances("repeatable read")},
	{"Postgres/3 instances/serializable", threeInstances("serializable")},
}

// threeInstances is the start of a kind with three instances sharing a
// database whose sessions default to isolation level (if not "").
func threeInstances(level string) func(t *testing.T) func(*testing.T) webhook.DedupStore {
	return func(t *testing.T) func(*testing.T) webhook.DedupStore {
		url, next := pgtest.URL(t), scenarioPrefixes()
		if level != "" {
			pgtest.SetDefault(t, url, "default_transaction_isolation", level)
		}
		return func(t *testing.T) webhook.DedupStore {
			prefix := next()
			return &alternatingDedup{stores: []webhook.DedupStore{
				openPostgresDedup(t, url, prefix), openPostgresDedup(t, url, prefix), openPostgresDedup(t, url, prefix)}}
		}
	}
}

// scenarioPrefixes returns a function that gives each call a table prefix
// of its own.
func scenarioPrefixes() func() webhook.SQLDedupOption {
	var n atomic.Int64
	return func() webhook.SQLDedupOption {
		return webhook.WithTablePrefix("scenario" + strconv.FormatInt(n.Add(1), 10) + "_")
	}
}

// TestDedupStoreConformancePostgres runs TestDedupStoreConformance's
// scenarios on PostgreSQL.
func TestDedupStoreConformancePostgres(t *testing.T) {
	t.Parallel()
	runDedupConformance(t, postgresDedupStores)
}

func TestSQLDedupPurgePostgres(t *testing.T) {
	t.Parallel()
	testSQLDedupPurge(t, pgtest.DB(t), webhook.Postgres)
}

func TestSQLDedupAutoPurgePostgres(t *testing.T) {
	t.Parallel()
	testSQLDedupAutoPurge(t, pgtest.DB(t), webhook.Postgres)
}

func TestSQLDedupTablePrefixPostgres(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	a := openPostgresDedup(t, url, webhook.WithTablePrefix("a_"))
	b := openPostgresDedup(t, url, webhook.WithTablePrefix("b_"))
	for _, s := range []*webhook.SQLDedup{a, b} {
		if c, err := s.Begin(t.Context(), "x", dedupT0); err != nil || c != webhook.Fresh {
			t.Fatalf("%v: Begin = %s, %v; want Fresh in its own table", s, claimName(c), err)
		}
	}
	db := pgtest.Open(t, url)
	if n := countDedupRows(t, db, "a_ids"); n != 1 {
		t.Errorf("a_ids has %d rows", n)
	}
	var index string
	if err := db.QueryRowContext(t.Context(), `SELECT indexdef FROM pg_indexes WHERE tablename = 'b_ids' AND indexname = 'b_ids_expires_at'`).Scan(&index); err != nil ||
		!strings.Contains(index, "(expires_at)") {
		t.Errorf("b_ids's expiry index: %q, %v", index, err)
	}
}

// TestSQLDedupSharedByProcessesPostgres: processes claiming the same IDs
// in one PostgreSQL database claim each exactly once.
func TestSQLDedupSharedByProcessesPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	t.Parallel()
	url := pgtest.URL(t)
	openPostgresDedup(t, url) // migrate once
	testSQLDedupSharedByProcesses(t, url)
}
