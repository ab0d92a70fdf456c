// Package contactsync keeps GymFlow members, their tags, tasks and notes in
// step with the Contacts API with the fewest possible API calls, exactly
// once, surviving crashes — and brings the CRM's changes back. The folder
// is sync/; import it as contactsync:
//
//	import contactsync "github.com/gymflow/contacts-go/sync"
//
// # Outbound: GymFlow → Contacts API
//
// A Mapping describes how a member record becomes a contact (transforms,
// required fields, fallbacks, constants, custom fields by ID or key),
// validated when it is built. Merge policies decide which side wins per
// field; tag ownership keeps the sync from removing tags it did not write.
// The Engine streams members (SyncMembers) or incremental changes (Apply)
// through a StateStore that links GymFlow IDs to contact, task and note
// IDs, remembers hashes of what was last written, and records an intent
// before every write, so a crashed run is resumed without duplicates. A
// new member costs one call, an unchanged one none, a changed one one
// update plus one call per tag direction.
//
// # Inbound: Contacts API → GymFlow
//
// Inbound delivers the CRM's changes to a Sink: from webhooks, stored in a
// durable inbox before they are acknowledged (Receive) and processed after
// (ProcessInbox); and from polling — an incremental scan of changed
// contacts (PollContacts), a full reconciliation that catches lost
// webhooks and deletions (Reconcile), and re-reads of the tasks, notes and
// appointments of contacts with recent activity (RefreshDirty). It ignores
// stale and repeated news, recognises the outbound Engine's own writes
// (echoes), and applies the merge policies to CRM edits. News that may
// predate the sync's own last write to a record (a webhook processed after
// the engine wrote the contact again) is confirmed by a fresh read rather
// than taken as a CRM edit undoing that write (see WithClockSkew).
// Schedule runs many locations, staggered.
//
// # Activity
//
// The inbound side keeps a read model of every linked member's tasks,
// notes and appointments in an ActivityStore; Views answer a member's
// Timeline and the location's open and overdue tasks, upcoming
// appointments and recent notes without any API call.
//
// # Stores
//
// This package defines the stores' interfaces — StateStore, ActivityStore,
// InboundStore, LeaseStore, BudgetStore — and imports no database driver.
// The stores live in packages of their own, each implementing all five for
// a location:
//
//   - memstore: in memory, for tests and one-off runs;
//   - sqlstore: SQLite (sqlstore.OpenSQLite: one file, pure Go, WAL) or
//     PostgreSQL (sqlstore.New with a pgx database/sql handle), one
//     database for any number of locations, safe for many processes on
//     many machines.
//
// Package statetest checks a store of your own against the same suites.
//
// # One runner per location
//
// With a LeaseStore, every Engine run holds the location's LeaseEngine
// lease and every Inbound pass its LeaseInbound lease, renewed while they
// work: a second runner of the same role for the location, in this process
// or any other, fails with ErrLeaseHeld (or waits: WithLeaseWait). The
// engine's intent writes are fenced by the lease's token, so a runner
// that lost its lease (it could not renew it in time, and another took
// over) has its next intent write refused and stops with ErrLeaseLost
// before it makes another API call. With a BudgetStore, WithDailyBudget
// counts the location's calls in the store, for every process using it.
package contactsync
