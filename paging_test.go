package contacts_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"

	contacts "github.com/gymflow/contacts-go"
)

// searchServer answers POST /contacts/search over total synthetic contacts
// in id order, honouring page/pageLimit and searchAfter, and records bodies.
type searchServer struct {
	total  int
	bodies []map[string]any
}

func (s *searchServer) respond(req *http.Request) (*http.Response, error) {
	raw, _ := io.ReadAll(req.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		return status(422, `{"message":["bad json"]}`)(req)
	}
	s.bodies = append(s.bodies, body)
	limit := int(body["pageLimit"].(float64))
	start := 0
	if p, ok := body["page"].(float64); ok {
		start = (int(p) - 1) * limit
		if start+limit > 10000 {
			return status(422, `{"message":["page window exceeded"]}`)(req)
		}
	}
	if sa, ok := body["searchAfter"].([]any); ok {
		start = int(sa[0].(float64)) + 1
	}
	var out strings.Builder
	out.WriteString(`{"contacts":[`)
	for i := start; i < start+limit && i < s.total; i++ {
		if i > start {
			out.WriteByte(',')
		}
		fmt.Fprintf(&out, `{"id":"c%05d","searchAfter":[%d,"c%05d"]}`, i, i, i)
	}
	fmt.Fprintf(&out, `],"total":%d,"traceId":"t"}`, s.total)
	return status(200, out.String())(req)
}

func TestSearchAllPagesThenSwitchesToCursor(t *testing.T) {
	t.Parallel()
	c, mt := newTestClient(t)
	srv := &searchServer{total: 10750}
	mt.RegisterResponder("POST", "https://api.test/contacts/search", srv.respond)

	params := contacts.SearchParams{PageLimit: 500, Filters: []contacts.Filter{contacts.Where("tags", contacts.OpEq, "member")}}
	orig := params
	n := 0
	for ct, err := range c.Contacts.SearchAll(context.Background(), params) {
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("c%05d", n); ct.ID != want {
			t.Fatalf("contact %d = %s, want %s", n, ct.ID, want)
		}
		n++
	}
	if n != 10750 {
		t.Fatalf("iterated %d contacts, want 10750", n)
	}
	if len(srv.bodies) != 22 {
		t.Fatalf("requests = %d, want 20 numbered pages + 2 cursor pages", len(srv.bodies))
	}
	if srv.bodies[19]["page"] != 20.0 || srv.bodies[20]["page"] != nil {
		t.Errorf("page 20 body %v, page 21 body %v", srv.bodies[19], srv.bodies[20])
	}
	if got := srv.bodies[20]["searchAfter"]; !reflect.DeepEqual(got, []any{9999.0, "c09999"}) {
		t.Errorf("first cursor = %v", got)
	}
	for i, b := range srv.bodies {
		if b["locationId"] != "loc1" || b["filters"] == nil {
			t.Fatalf("body %d lost locationId or filters: %v", i, b)
		}
	}
	if !reflect.DeepEqual(params, orig) || params.Page != 0 || params.SearchAfter != nil {
		t.Errorf("caller's params were modified: %+v", params)
	}
}

func TestSearchAllStopsOnBreak(t *testing.T) {
	t.Parallel()
	c, mt := newTestClient(t)
	srv := &searchServer{total: 1000}
	mt.RegisterResponder("POST", "https://api.test/contacts/search", srv.respond)
	n := 0
	for _, err := range c.Contacts.SearchAll(context.Background(), contacts.SearchParams{PageLimit: 10}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n == 15 {
			break
		}
	}
	if len(srv.bodies) != 2 {
		t.Errorf("fetched %d pages for 15 contacts at 10 per page, want 2", len(srv.bodies))
	}
}

func TestSearchAllChecksContextPerPage(t *testing.T) {
	t.Parallel()
	c, mt := newTestClient(t)
	srv := &searchServer{total: 1000}
	mt.RegisterResponder("POST", "https://api.test/contacts/search", srv.respond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var gotErr error
	n := 0
	for _, err := range c.Contacts.SearchAll(ctx, contacts.SearchParams{PageLimit: 10}) {
		if err != nil {
			gotErr = err
			break
		}
		n++
		if n == 10 {
			cancel()
		}
	}
	if !errors.Is(gotErr, context.Canceled) || n != 10 || len(srv.bodies) != 1 {
		t.Errorf("err=%v n=%d pages=%d; want Canceled after the first page", gotErr, n, len(srv.bodies))
	}
}

func TestSearchAllPropagatesErrors(t *testing.T) {
	t.Parallel()
	c, mt := newTestClient(t)
	mt.RegisterResponder("POST", "https://api.test/contacts/search", status(422, `{"message":["pageLimit must not be greater than 500"]}`))
	var errs int
	for _, err := range c.Contacts.SearchAll(context.Background(), contacts.SearchParams{}) {
		if !errors.Is(err, contacts.ErrValidation) {
			t.Fatalf("err = %v", err)
		}
		errs++
	}
	if errs != 1 {
		t.Errorf("yielded %d errors, want 1", errs)
	}
}

func TestSearchValidatesBeforeIO(t *testing.T) {
	t.Parallel()
	c, mt := newTestClient(t)
	bad := []contacts.SearchParams{
		{PageLimit: 501},
		{PageLimit: -1},
		{PageLimit: 500, Page: 21},
		{Page: 1, SearchAfter: contacts.Cursor{json.RawMessage(`1`)}},
		{Filters: []contacts.Filter{contacts.Where("email", "like", "x")}},
		{Filters: []contacts.Filter{contacts.Where("email", contacts.OpEq, nil)}},
		{Filters: []contacts.Filter{contacts.And()}},
		{Filters: []contacts.Filter{{Group: "XOR", Filters: []contacts.Filter{contacts.Exists("email")}}}},
	}
	for i, p := range bad {
		if _, err := c.Contacts.Search(context.Background(), p); !errors.Is(err, contacts.ErrInvalidArgument) {
			t.Errorf("case %d: err = %v", i, err)
		}
	}
	if mt.GetTotalCallCount() != 0 {
		t.Error("invalid searches were sent")
	}
}

func TestListAllFollowsStartAfterCursor(t *testing.T) {
	t.Parallel()
	c, mt := newTestClient(t)
	var queries []string
	mt.RegisterResponder("GET", "https://api.test/contacts/", func(req *http.Request) (*http.Response, error) {
		q := req.URL.Query()
		queries = append(queries, req.URL.RawQuery)
		start := 0
		if id := q.Get("startAfterId"); id != "" {
			start, _ = strconv.Atoi(strings.TrimPrefix(id, "c"))
			start++
			if q.Get("startAfter") != strconv.Itoa(1000+start-1) {
				return status(400, `{"message":"bad cursor"}`)(req)
			}
		}
		var items []string
		for i := start; i < start+3 && i < 7; i++ {
			items = append(items, fmt.Sprintf(`{"id":"c%d"}`, i))
		}
		last := start + len(items) - 1
		meta := fmt.Sprintf(`{"total":7,"startAfterId":"c%d","startAfter":%d}`, last, 1000+last)
		return status(200, `{"contacts":[`+strings.Join(items, ",")+`],"meta":`+meta+`}`)(req)
	})
	var ids []string
	for ct, err := range c.Contacts.ListAll(context.Background(), contacts.ListParams{Limit: 3}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ct.ID)
	}
	if strings.Join(ids, ",") != "c0,c1,c2,c3,c4,c5,c6" {
		t.Errorf("ids = %v", ids)
	}
	want := []string{"limit=3&locationId=loc1", "limit=3&locationId=loc1&startAfter=1002&startAfterId=c2", "limit=3&locationId=loc1&startAfter=1005&startAfterId=c5"}
	if !reflect.DeepEqual(queries, want) {
		t.Errorf("queries = %q\nwant %q", queries, want)
	}
}

func TestListAllStopsWhenCursorDoesNotAdvance(t *testing.T) {
	t.Parallel()
	c, mt := newTestClient(t)
	mt.RegisterResponder("GET", "https://api.test/contacts/", status(200, `{"contacts":[{"id":"a"},{"id":"b"}],"meta":{"startAfterId":"b","startAfter":5}}`))
	var n int
	var lastErr error
	for _, err := range c.Contacts.ListAll(context.Background(), contacts.ListParams{Limit: 2}) {
		if err != nil {
			lastErr = err
			break
		}
		n++
	}
	if n != 2 || lastErr == nil || !strings.Contains(lastErr.Error(), "did not advance") {
		t.Errorf("n=%d err=%v, want 2 contacts then a stuck-cursor error", n, lastErr)
	}
}

func TestListByBusinessAllAdvancesSkip(t *testing.T) {
	t.Parallel()
	c, mt := newTestClient(t)
	var skips []string
	mt.RegisterResponder("GET", "https://api.test/contacts/business/biz%201", func(req *http.Request) (*http.Response, error) {
		q := req.URL.Query()
		skips = append(skips, q.Get("skip"))
		skip, _ := strconv.Atoi(q.Get("skip"))
		var items []string
		for i := skip; i < skip+4 && i < 10; i++ {
			items = append(items, fmt.Sprintf(`{"id":"c%d"}`, i))
		}
		return status(200, `{"contacts":[`+strings.Join(items, ",")+`],"count":10}`)(req)
	})
	n := 0
	for _, err := range c.Contacts.ListByBusinessAll(context.Background(), "biz 1", contacts.BusinessListParams{Limit: 4}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 10 || strings.Join(skips, ",") != ",4,8" {
		t.Errorf("n=%d skips=%q", n, skips)
	}
}
