package contactstest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"testing"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
)

// TestCustomFieldValuesAsTheLiveAPITakesThem: the fake accepts exactly what
// the live API accepts for a custom field (id or key; a string, a number, an
// array of strings, a file map, or null) and refuses the rest with a 422.
func TestCustomFieldValuesAsTheLiveAPITakesThem(t *testing.T) {
	t.Parallel()
	srv := contactstest.NewServer()
	defer srv.Close()
	fieldID, err := srv.AddCustomField(srv.LocationID(), "visits")
	if err != nil {
		t.Fatal(err)
	}
	token := srv.Token()
	n := 0
	post := func(field string) (int, []byte) {
		t.Helper()
		n++
		body := `{"locationId":"` + srv.LocationID() + `","email":"m` + strconv.Itoa(n) + `@example.com","customFields":[` + field + `]}`
		req, _ := http.NewRequest("POST", srv.URL+"/contacts/", bytes.NewReader([]byte(body)))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Version", contacts.APIVersion)
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	accepted := []string{
		`{"key":"visits","field_value":"3"}`,
		`{"key":"contact.visits","field_value":3}`, // numeric and monetary fields take numbers
		`{"id":"` + fieldID + `","field_value":12.5}`,
		`{"id":"` + fieldID + `","field_value":["a","b"]}`,
		`{"id":"` + fieldID + `","field_value":{"f1":{"url":"https://x","meta":{}}}}`,
		`{"id":"` + fieldID + `","field_value":null}`,
	}
	for _, f := range accepted {
		if code, body := post(f); code != http.StatusCreated {
			t.Errorf("%s: %d %s, want 201", f, code, body)
		}
	}
	refused := []string{
		`{"id":"` + fieldID + `","field_value":true}`,
		`{"id":"` + fieldID + `","field_value":[1,2]}`,
		`{"id":"` + fieldID + `","field_value":[["a"]]}`,
		`{"field_value":"3"}`,
		`{"key":"nope","field_value":"3"}`,
	}
	for _, f := range refused {
		code, body := post(f)
		var e struct{ Message []string }
		json.Unmarshal(body, &e)
		if code != http.StatusUnprocessableEntity || len(e.Message) == 0 {
			t.Errorf("%s: %d %s, want 422 with a message", f, code, body)
		}
	}
}

// TestSDKRefusesCustomValuesTheAPIRejects: the SDK stops a boolean or a
// list of non-strings before any request.
func TestSDKRefusesCustomValuesTheAPIRejects(t *testing.T) {
	t.Parallel()
	srv := contactstest.NewServer()
	defer srv.Close()
	c := srv.Client()
	for _, v := range []any{true, []int{1}, []any{"a", 2}} {
		_, err := c.Contacts.Create(context.Background(), contacts.ContactCreate{
			Email: "a@example.com", CustomFields: []contacts.CustomFieldInput{contacts.FieldByKey("visits", v)},
		})
		if !errors.Is(err, contacts.ErrInvalidArgument) {
			t.Errorf("value %#v: err = %v, want ErrInvalidArgument", v, err)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d request(s) reached the server", n)
	}
}
