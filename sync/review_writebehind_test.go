package contactsync_test

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
	contactsync "github.com/gymflow/contacts-go/sync"
)

// hookRT calls before ahead of every request.
type hookRT struct {
	base   http.RoundTripper
	before func(*http.Request)
}

func (h hookRT) RoundTrip(r *http.Request) (*http.Response, error) {
	h.before(r)
	return h.base.RoundTrip(r)
}

// TestReviewRunReportsItsLastCommitRefused: a fenced Commit is written
// behind and its refusal reported "on the view's next call". The last
// Commit of a run has no next call: Apply finishes, records the run and
// returns nil although the lease passed to another runner and the Commit
// was refused (the link is missing, the intent stays). A caller that
// advances its change feed on success never sends the change again.
func TestReviewRunReportsItsLastCommitRefused(t *testing.T) {
	t.Parallel()
	srv := contactstest.NewServer(contactstest.WithoutRateLimits())
	t.Cleanup(srv.Close)
	if _, err := srv.AddCustomField(srv.LocationID(), "membership_plan"); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sync.db")
	store := openSQLite(t, path, srv.LocationID())
	thief, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { thief.Close() })

	// While the create is on its way, the lease passes to another runner
	// (its token grows, as AcquireLease after an expiry makes it).
	var stolen atomic.Bool
	hc := &http.Client{Transport: hookRT{base: srv.HTTPClient().Transport, before: func(r *http.Request) {
		if r.Method == http.MethodPost && stolen.CompareAndSwap(false, true) {
			if _, err := thief.Exec(`UPDATE contactsync_leases SET owner = 'thief', token = token + 1, expires_at = expires_at + 600000 WHERE name = 'engine'`); err != nil {
				t.Error(err)
			}
		}
	}}}
	client := srv.Client(contacts.WithHTTPClient(hc))
	eng, err := contactsync.NewEngine(client, store, engineMapping(t), contactsync.WithResolveGrace(0), contactsync.WithConcurrency(1))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := eng.SyncMembers(context.Background(), seq(members(1)))
	if !stolen.Load() {
		t.Fatal("no create was sent")
	}
	_, lerr := store.Link(context.Background(), contactsync.KindMember, "m0000")
	intents, _ := store.Intents(context.Background())
	t.Logf("Apply: err %v, created %d; link: %v; intents left: %d", err, rep.Created, lerr, len(intents))
	if errors.Is(lerr, contactsync.ErrNotFound) && !errors.Is(err, contactsync.ErrLeaseLost) {
		t.Errorf("the run's last Commit was refused (lease lost, link not stored) but Apply returned %v", err)
	}
}
