// Package fleet runs contactsync for many locations on River
// (github.com/riverqueue/river): any number of worker processes over one
// PostgreSQL database (NewPostgres), or one process over an embedded SQLite
// file (NewSQLite).
//
// GymFlow enqueues a location's changes in its own database transaction
// (Enqueue): the changes go into the fleet's outbox table and the
// location's sync job is scheduled in that transaction, so a member saved in
// GymFlow and its sync commit together or not at all. A location's job
// applies its outbox in order through the location's contactsync.Engine,
// in batches, until it is empty; at most one job of a location waits or
// runs at a time, and the engine's lease keeps one runner per location
// whatever River does. A change committed while the job runs is applied by
// it or by the next; a job whose worker died is run again by River, and the
// engine's intents resolve what was in flight, so nothing is lost or done
// twice. A rate limit, a spent budget or a refused token snoozes the
// location's job; the changes wait in the outbox.
package fleet
