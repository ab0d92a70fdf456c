// Package contactstest serves a stateful, in-memory fake of the Contacts API
// (HighLevel / LeadConnector API 2.0), the way net/http/httptest serves a
// handler: for your tests, for local development, and as the default
// backend of this module's examples.
//
// The fake behaves like the live API, not like its spec's happy path:
//
//   - all 32 operations of the contacts spec, with the spec's field names,
//     status codes (201 for creates) and a traceId on every body;
//     20-character IDs; dateAdded and dateUpdated maintained;
//   - authentication (Authorization: Bearer, the Version header), scopes
//     per operation (contacts.readonly for reads, contacts.write for
//     writes), and a token may only touch its own location (403);
//   - validation like the API's: 422 with a message array for missing or
//     malformed fields and for properties a body may not carry, 400 for an
//     unknown contact, task or note;
//   - the location's "Allow Duplicate Contact" setting (LocationSettings)
//     driving create (the duplicate error carries the existing contact's
//     id), upsert (first field in priority wins) and the duplicate finder;
//   - tags: add, remove and bulk with per-contact results, and tags in
//     update or upsert bodies replacing all tags;
//   - search with filters, groups, sort, page/pageLimit within the
//     10,000-record window and searchAfter; the deprecated list with its
//     startAfter cursor; contacts by business with skip/limit;
//   - rate limits per app and location (100 per 10 s, 200,000 per day by
//     default; RateLimits) with X-RateLimit-* headers on every answer that
//     can be attributed to a location's budget (RateLimits says which);
//   - OAuth 2.0 with single-use, rotating refresh tokens and the agency to
//     location token exchange;
//   - signed webhooks (x-ghl-signature Ed25519, x-wh-signature RSA) for
//     every change, through the API or through the CRM helpers, with
//     optional duplicate, out-of-order and dropped deliveries;
//   - injected faults (Faults, Script): 5xx, connection resets, latency and
//     the live API's "422 but created" quirk;
//   - a controllable clock (ManualClock), so tests of expiry and rate
//     windows never sleep;
//   - a request log to count API calls (Requests, RequestCount).
//
// # Testing your code against it
//
// NewServer starts a server with one location and a Private Integration
// Token holding both contacts scopes; Client returns a *contacts.Client
// wired to it. Seed state with SeedContact, SeedTask, SeedNote and
// SeedAppointment (the contacts API cannot create appointments), inspect it
// with Contact, Contacts, Tasks, Notes and Appointments, and count calls
// with RequestCount:
//
//	func TestWelcomeLeads(t *testing.T) {
//		srv := contactstest.NewServer()
//		defer srv.Close()
//		srv.SeedContact(contactstest.Contact{Email: "ana@example.com", Tags: []string{"lead"}})
//
//		if err := welcomeLeads(ctx, srv.Client()); err != nil { // your code
//			t.Fatal(err)
//		}
//		if n := srv.RequestCount(); n > 3 {
//			t.Errorf("used %d API calls", n)
//		}
//	}
//
// # Webhooks
//
// Register a receiver with AddWebhook; change data through the API or
// through CRM (changes a user makes in the CRM, which log no request);
// then FlushWebhooks waits until every delivery was attempted. Bodies carry
// timestamp and webhookId and are signed over the raw bytes: verify
// x-ghl-signature (Ed25519) and x-wh-signature (RSA-SHA256) with
// WebhookPublicKeys. SetWebhookOptions simulates at-least-once, lossy or
// out-of-order delivery; WebhookDeliveries records what was sent. Like the
// live API, a delivery answered 429 is retried and any other failure loses
// the event.
//
// The live API documents its event types but not which operation fires
// which; the fake emits, for changes through the API:
//
//   - create, and upsert creating: ContactCreate;
//   - update, upsert updating, and bulk business for each contact it
//     names: ContactUpdate, then ContactTagUpdate if the tags changed and
//     ContactDndUpdate if DND changed;
//   - tags add and remove, and bulk tags for each contact whose tags
//     changed: ContactTagUpdate;
//   - followers add and remove, when the followers changed: ContactUpdate
//     (followers are part of the contact and its dateUpdated moves, though
//     the payload's snapshot does not list them);
//   - delete: ContactDelete only, none for its tasks, notes or
//     appointments;
//   - tasks: TaskCreate, TaskComplete when an update or the completed
//     endpoint completes an open task, TaskDelete (there is no
//     TaskUpdate); notes: NoteCreate, NoteUpdate, NoteDelete.
//
// Campaign and workflow enrolments emit nothing and leave dateUpdated
// alone: they are not part of the contact's read model, and no documented
// event or payload reports them. Adding a tag or follower a contact
// already has, or removing one it lacks, emits nothing either.
//
// # OAuth
//
// RegisterApp and AuthorizationCode set up the authorization-code flow
// without a browser; POST /oauth/token then exchanges codes and rotates
// single-use refresh tokens (reuse answers invalid_grant), and
// POST /oauth/locationToken exchanges agency tokens. SetAccessTokenTTL,
// SetLocationActive and Uninstall drive expiry, "Location is not active"
// and revocation; TokenRequests counts token-endpoint calls.
package contactstest
