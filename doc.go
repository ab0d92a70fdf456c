// Package contacts is a Go client for the Contacts API of HighLevel
// (LeadConnector) API 2.0: contacts, tasks, notes, appointments, tags,
// followers, campaigns and workflows — every operation of the official
// contacts spec as a typed method.
//
// # Getting started
//
//	client, err := contacts.NewClient(
//		contacts.WithToken(os.Getenv("CONTACTS_API_TOKEN")), // a sub-account Private Integration Token
//		contacts.WithLocationID(os.Getenv("CONTACTS_LOCATION_ID")),
//	)
//	if err != nil { … }
//	c, err := client.Contacts.Create(ctx, contacts.ContactCreate{
//		FirstName: "Ana", Email: "ana@example.com", Tags: []string{"member"},
//	})
//
// Resources hang off the client as services — client.Contacts,
// client.Tasks, client.Notes, client.Appointments, client.Tags,
// client.Followers, client.Campaigns, client.Workflows. Methods take a
// context first, path IDs next, a request body by value last, and return
// (*T, error), a slice (lists, tags) or just an error (deletes, campaigns,
// workflows). Every request carries "Authorization: Bearer …", the
// "Version: 2021-07-28" header the API requires, and a versioned
// User-Agent. Requests that need a locationId take the client's default
// (WithLocationID) when the request leaves it empty.
//
// # Authentication
//
// WithToken takes a static bearer token: a sub-account Private Integration
// Token ("pit-…"). WithTokenSource takes any oauth2.TokenSource, such as
// the one an oauth2.Config returns for a sub-account (Location) access
// token. Agency (Company) tokens are not accepted by the contacts
// endpoints; exchange them for a location token first. Reads need the
// contacts.readonly scope and writes contacts.write.
//
// Credentials never appear in errors, logs or formatted values.
//
// # Errors
//
// A non-2xx answer is an *APIError holding the status, the API's messages
// (the API sends message as a string or an array), its error text, the
// trace ID, the rate-limit snapshot and a bounded copy of the body. Match
// it with errors.Is:
//
//	_, err := client.Contacts.Get(ctx, id)
//	switch {
//	case errors.Is(err, contacts.ErrNotFound):        // 404, or 400 "… not found"
//	case errors.Is(err, contacts.ErrDuplicateContact): // see APIError.DuplicateContactID
//	case errors.Is(err, contacts.ErrRateLimited):
//	}
//
// Other sentinels: ErrUnauthorized (401), ErrForbidden (403), ErrValidation
// (400 and 422), ErrDailyLimitExceeded, ErrServer (5xx), and
// ErrInvalidArgument for calls refused before any I/O (an empty or
// path-escaping ID such as "../x", a missing location, a task without a
// title). A cancelled or expired context comes back as the context's own
// error. A failure to get any answer is a *TransportError.
//
// # Retries and rate limits
//
// The transport stack is, outermost first: retries (go-retryablehttp) →
// authentication (x/oauth2) → a token-bucket limiter (x/time/rate) → your
// http.RoundTripper. Every retry is therefore re-authenticated and waits
// on the limiter again.
//
// GET, PUT and DELETE are retried after a 5xx, a timeout or a dropped
// connection; any method is retried after a 429, whose Retry-After is
// honoured up to RetryPolicy.MaxRetryAfter. A POST is never repeated after a
// 5xx or a transport error: the API has been seen to create a contact and
// still answer with an error, so look it up instead of sending it twice.
// When the daily budget is spent the call fails at once with
// ErrDailyLimitExceeded. Waits use capped exponential backoff with jitter
// and end when the context does.
//
// The default limiter allows the API's documented burst, 100 requests per
// 10 seconds; it is lowered whenever a response's X-RateLimit-* headers
// report less headroom. Client.RateLimit returns the last budget seen, and
// WithResponse captures one call's status, headers, trace ID, budget and
// attempt count:
//
//	var meta contacts.Response
//	c, err := client.Contacts.Get(ctx, id, contacts.WithResponse(&meta))
//	log.Println(meta.TraceID, meta.RateLimit.Remaining)
//
// # Pagination
//
// List and Search return one page. Their All variants — ListAll,
// SearchAll, ListByBusinessAll — return an iter.Seq2 that fetches lazily:
// nothing is requested until the loop starts, breaking out stops fetching,
// the context is checked before every page, and the params you pass are
// never modified. Each keeps the endpoint's real cursor: startAfter /
// startAfterId for the deprecated list, skip/limit for contacts of a
// business, and page numbers for search until the API's 10,000-record
// window, then searchAfter.
//
//	for c, err := range client.Contacts.SearchAll(ctx, contacts.SearchParams{
//		Filters: []contacts.Filter{contacts.Where("tags", contacts.OpEq, "member")},
//	}) {
//		if err != nil { … }
//		fmt.Println(c.ID)
//	}
//
// Tasks, notes and appointments of a contact are not paginated by the API;
// their List methods return slices.
//
// # Request and response data
//
// Request structs use plain values for required fields, pointers (see
// Ptr) for optional ones and Nullable for fields that can be cleared:
// Value("x") sets a field, Null[string]() sends JSON null, and the zero
// value leaves it out. In ContactUpdate, Tags replaces every tag when
// non-nil — use client.Tags to add or remove individual tags.
//
// Response types decode leniently the shapes the live API sends: the
// success flag spelled "succeded" or "succeeded", custom field values of
// any JSON type (CustomValue), capitalised DND keys, attachments and
// additionalEmails as strings, lists or objects (StringList), timestamps
// in several formats (Time). RawJSON on a contact, task, note or
// appointment returns the record exactly as the API sent it, including
// fields these types do not model.
//
// # Testing
//
// Inject a transport with WithHTTPClient — for example an httpmock
// MockTransport — or point WithBaseURL at an httptest server. The
// contactstest package serves a stateful fake of the whole API.
package contacts
