// Package contactsync keeps GymFlow members, their tags, tasks and notes in
// step with the Contacts API with the fewest possible API calls, exactly
// once, surviving crashes. The folder is sync/; import it as contactsync:
//
//	import contactsync "github.com/gymflow/contacts-go/sync"
//
// A Mapping describes how a member record becomes a contact; merge
// policies decide which side wins per field; tag ownership keeps the sync
// from removing tags it did not write. The Engine streams members (or
// incremental changes) through a StateStore that links GymFlow IDs to
// contact, task and note IDs, remembers hashes of what was last written,
// and records an intent before every write so a crashed run is resumed
// without duplicates.
package contactsync
