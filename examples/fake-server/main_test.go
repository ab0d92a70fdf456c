package main

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	contacts "github.com/gymflow/contacts-go"
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
