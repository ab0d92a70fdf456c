package memstore_test

import (
	"testing"

	contactsync "github.com/gymflow/contacts-go/sync"
	"github.com/gymflow/contacts-go/sync/memstore"
	"github.com/gymflow/contacts-go/sync/statetest"
)

// TestSuites runs every conformance suite on memstore.
func TestSuites(t *testing.T) {
	t.Parallel()
	t.Run("State", func(t *testing.T) {
		statetest.Run(t, func(*testing.T) contactsync.StateStore { return memstore.New() })
	})
	t.Run("Activity", func(t *testing.T) {
		statetest.RunActivity(t, func(*testing.T) contactsync.ActivityStore { return memstore.New() })
	})
	t.Run("Inbound", func(t *testing.T) {
		statetest.RunInbound(t, func(*testing.T) contactsync.InboundStore { return memstore.New() })
	})
	t.Run("Insights", func(t *testing.T) {
		statetest.RunInsights(t, func(*testing.T) statetest.InsightsStore { return memstore.New() })
	})
	t.Run("Lease", func(t *testing.T) {
		statetest.RunLease(t, func(*testing.T) statetest.LeaseStateStore { return memstore.New() })
	})
	t.Run("Budget", func(t *testing.T) {
		statetest.RunBudget(t, func(*testing.T) contactsync.BudgetStore { return memstore.New() })
	})
}
