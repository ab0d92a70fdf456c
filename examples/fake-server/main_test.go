package main

import (
	"bufio"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/internal/demoloc"
)

func TestFakeServerServesSeededMembers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-members", "12"}, pw); pw.Close() }()

	info := map[string]string{}
	sc := bufio.NewScanner(pr)
	for sc.Scan() && len(info) < 3 {
		line := strings.TrimSpace(sc.Text())
		for _, k := range []string{"base URL", "token", "location ID"} {
			if v, ok := strings.CutPrefix(line, k); ok {
				info[k] = strings.TrimSpace(v)
			}
		}
	}
	go io.Copy(io.Discard, pr)
	if len(info) != 3 {
		t.Fatalf("printed %v", info)
	}
	c, err := contacts.NewClient(contacts.WithBaseURL(info["base URL"]), contacts.WithToken(info["token"]), contacts.WithLocationID(info["location ID"]))
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Contacts.Search(ctx, contacts.SearchParams{PageLimit: 100, Filters: []contacts.Filter{contacts.Where("tags", contacts.OpEq, "member")}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 12 {
		t.Errorf("members = %d, want 12", res.Total)
	}
	tasks, err := c.Tasks.List(ctx, res.Contacts[0].ID)
	if err != nil || len(tasks) != 1 {
		t.Errorf("tasks = %v, %v", tasks, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop")
	}
}

func TestFakeServerServesManyLocations(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	file := filepath.Join(t.TempDir(), "gyms.json")
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-members", "1", "-locations", "3", "-locations-file", file}, pw)
		pw.Close()
	}()
	var base string
	sc := bufio.NewScanner(pr)
	for sc.Scan() && !strings.Contains(sc.Text(), "locations") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "base URL"); ok {
			base = strings.TrimSpace(v)
		}
	}
	go io.Copy(io.Discard, pr)
	locs, err := demoloc.Read(file)
	if err != nil || len(locs) != 3 {
		t.Fatalf("%v, %v", locs, err)
	}
	// Each token reaches its own location, and only it.
	for i, l := range locs {
		c, err := contacts.NewClient(contacts.WithBaseURL(base), contacts.WithToken(l.Token), contacts.WithLocationID(l.ID))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Contacts.Create(ctx, contacts.ContactCreate{Email: "a@example.com"}); err != nil {
			t.Fatalf("%s: %v", l.ID, err)
		}
		other := locs[(i+1)%len(locs)].ID
		if _, err := c.Contacts.Search(ctx, contacts.SearchParams{LocationID: other, PageLimit: 1}); err == nil {
			t.Errorf("%s's token read %s", l.ID, other)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"-locations", "2"}, {"-locations-file", file}, {"-locations", "-1", "-locations-file", file}, {"extra"}} {
		if err := run(context.Background(), append([]string{"-addr", "127.0.0.1:0"}, args...), io.Discard); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}
