package contacts

import "net/http"

// ClientTransportForTest returns the transport chain under the retry layer
// (origin guard → auth → limiter → the caller's transport).
func ClientTransportForTest(c *Client) http.RoundTripper { return c.http.HTTPClient.Transport }
