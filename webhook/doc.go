// Package webhook receives the Contacts API's webhooks safely: signatures
// verified over the raw body, stale and repeated deliveries refused, events
// decoded into types, and a delivery acknowledged only once the
// application has handled it.
//
//	v, err := webhook.NewVerifier(webhook.WithEd25519Key(os.Getenv("CONTACTS_WEBHOOK_ED25519_KEY")))
//	h, err := webhook.NewHandler(v, func(ctx context.Context, ev webhook.Event) error {
//		switch e := ev.(type) {
//		case *webhook.ContactCreate:
//			return members.Link(ctx, e.Contact.ID, e.Contact.Email)
//		case *webhook.TaskComplete:
//			return tasks.Close(ctx, e.Task.ID)
//		}
//		return nil // unknown or unhandled events are acknowledged
//	})
//	http.Handle("POST /webhooks/contacts", h)
//
// # Verification
//
// The API signs the exact bytes it sends: x-ghl-signature with Ed25519
// (the current scheme; the public key is in the app's settings) and the
// legacy x-wh-signature with RSA-SHA256, whose published key
// (PublishedRSAKey) a Verifier trusts by default. Keys are accepted as PEM,
// base64 or hex, several at once for rotation. A request without a valid
// signature never reaches the application; only the loudly named
// InsecureAcceptUnsignedForLocalDevelopment lets unsigned requests through.
//
// # Replays and duplicates
//
// A delivery whose timestamp is more than the replay window (5 minutes)
// from now is refused (with the one exception under Failures), and each
// webhookId is handled once: the Handler claims the ID in a DedupStore
// before calling the application and records the outcome after. MemoryDedup (bounded) serves one instance; NewSQLDedup
// shares the record between instances. A full MemoryDedup forgets the
// oldest settled IDs, never a delivery still in progress; full of those
// alone, it refuses new ones (ErrDedupFull), which the Handler answers
// with 429 so that the API delivers them again later.
//
// # Failures
//
// The API redelivers an event only after a 429; any other failure loses
// it. So when the application returns an error, the Handler answers 429
// with Retry-After and releases the webhookId.
//
// The redelivery carries the original signed body and timestamp, so it
// is usually outside the replay window by the time it arrives. This is
// the one deliberate exception to the window: a late delivery of a
// webhookId whose earlier delivery failed here is processed, once,
// because the event was never applied. A late delivery of an unknown
// webhookId is refused as stale, and a repeat of a processed one (late or
// not) is only acknowledged, never handed to the application again.
// Webhooks are still not a complete change feed: reconcile by polling the
// API as well.
//
// # Serving
//
// The Handler bounds what it reads itself: the body is capped
// (WithMaxBodyBytes, 1 MiB) and must arrive within the read timeout
// (WithReadTimeout, 10 s), else the answer is 408 and the connection is
// closed. The http.Server in front of it should bound the rest:
//
//	srv := &http.Server{
//		Addr:              ":8788",
//		Handler:           mux,
//		ReadHeaderTimeout: 5 * time.Second,  // slow headers
//		ReadTimeout:       15 * time.Second, // headers and body together
//		WriteTimeout:      30 * time.Second, // reading, the application and the answer
//		IdleTimeout:       60 * time.Second, // keep-alive connections between deliveries
//		MaxHeaderBytes:    64 << 10,
//	}
//
// WriteTimeout must leave the application time to handle an event: a
// delivery it cuts short gets no answer, and the API does not redeliver
// after that.
//
// # Events
//
// Parse decodes every documented event — ContactCreate, ContactUpdate,
// ContactDelete, ContactTagUpdate, ContactDndUpdate, TaskCreate,
// TaskComplete, TaskDelete, NoteCreate, NoteUpdate, NoteDelete,
// AppointmentCreate, AppointmentUpdate, AppointmentDelete, INSTALL,
// UNINSTALL — leniently; other types arrive as *Unknown with the raw body.
package webhook
