package contactstest

import (
	"net/http"
	"strings"
	"time"
)

// Faults injects failures, for testing how clients cope. Rates are
// probabilities in [0, 1], drawn from the server's seeded generator.
type Faults struct {
	// ServerErrorRate answers a share of API requests with a 500, 502 or
	// 503 before they reach the API (nothing is changed, nothing is
	// counted against the rate limits).
	ServerErrorRate float64
	// ResetRate closes a share of connections without an answer, before
	// the request reaches the API.
	ResetRate float64
	// CreatedButFailedRate answers a share of successful contact creates
	// with a 422 although the contact was created — a quirk of the live API.
	CreatedButFailedRate float64
	// Latency delays every request (real time).
	Latency time.Duration
}

// Scripted is a canned answer for one request, queued with Script.
type Scripted struct {
	Status int
	// Body is sent as is; empty sends the API's error envelope for Status.
	Body string
	// Headers are set on the answer last. Like every answer, a scripted
	// one carries the X-RateLimit-* headers of the request's budget (see
	// RateLimits), without counting the request; Headers may replace
	// them, and a header given as "" is not sent at all (e.g. to script
	// a 429 without rate-limit headers).
	Headers map[string]string
	// Reset closes the connection without an answer instead.
	Reset bool
}

// SetFaults replaces the injected faults; the zero Faults switches them off.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
}

// Script queues canned answers for the next requests with this method and
// path (e.g. "POST", "/contacts/"), one answer per request, in order. They
// take precedence over everything, authentication included, and are
// logged like any request.
func (s *Server) Script(method, path string, answers ...Scripted) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := method + " " + path
	s.scripts[k] = append(s.scripts[k], answers...)
}

// injectFault applies scripts and random faults; it reports whether it
// answered the request.
func (s *Server) injectFault(c *call, entry *Request) bool {
	s.mu.Lock()
	f := s.faults
	k := c.r.Method + " " + c.r.URL.Path
	var script *Scripted
	if q := s.scripts[k]; len(q) > 0 {
		script = &q[0]
		s.scripts[k] = q[1:]
	}
	s.mu.Unlock()

	if f.Latency > 0 {
		select {
		case <-time.After(f.Latency):
		case <-c.r.Context().Done():
			return true
		}
	}
	if script != nil {
		if script.Reset {
			resetConn(c.w)
			entry.Status = -1
			return true
		}
		c.headers = script.Headers // applied by finishHeaders
		if script.Body == "" {
			c.fail(script.Status, strings.ToLower(errorNames[script.Status]))
		} else {
			c.w.Header().Set("Content-Type", "application/json; charset=utf-8")
			c.w.WriteHeader(script.Status)
			c.w.Write([]byte(script.Body))
		}
		return true
	}
	if strings.HasPrefix(c.r.URL.Path, "/oauth/") {
		return false
	}
	if f.ResetRate > 0 && s.randFloat() < f.ResetRate {
		resetConn(c.w)
		entry.Status = -1
		return true
	}
	if f.ServerErrorRate > 0 && s.randFloat() < f.ServerErrorRate {
		codes := []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable}
		code := codes[int(s.randFloat()*float64(len(codes)))]
		c.fail(code, strings.ToLower(errorNames[code]))
		return true
	}
	return false
}

// createdButFailed reports whether this create should answer 422 anyway.
func (s *Server) createdButFailed() bool {
	return s.faults.CreatedButFailedRate > 0 && s.randFloat() < s.faults.CreatedButFailedRate
}

// resetConn drops the connection: the client sees a reset or EOF.
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(interface{ SetLinger(int) error }); ok {
		tc.SetLinger(0) // RST rather than FIN
	}
	conn.Close()
}
