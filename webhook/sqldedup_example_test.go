package webhook_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite"

	"github.com/gymflow/contacts-go/webhook"
)

// Receivers running as several processes share their record of webhook
// IDs in one database, so a delivery is processed by one of them only.
func ExampleNewSQLDedup() {
	dir, _ := os.MkdirTemp("", "webhooks")
	defer os.RemoveAll(dir)
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(filepath.Join(dir, "webhooks.db"))+
		"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	dedup, err := webhook.NewSQLDedup(db, webhook.SQLite) // or webhook.Postgres
	if err != nil {
		log.Fatal(err)
	}
	if err := dedup.Migrate(ctx); err != nil { // creates contacts_webhook_ids
		log.Fatal(err)
	}
	// In production: webhook.NewHandler(v, fn, webhook.WithDedupStore(dedup)),
	// and Purge from one instance every hour or so.

	now := time.Now()
	first, _ := dedup.Begin(ctx, "0f6b2c1e-7a4d-4e8b-9c3f-2d5a6b7c8e91", now)
	second, _ := dedup.Begin(ctx, "0f6b2c1e-7a4d-4e8b-9c3f-2d5a6b7c8e91", now)
	fmt.Println(first == webhook.Fresh, second == webhook.InProgress)
	dedup.End(ctx, "0f6b2c1e-7a4d-4e8b-9c3f-2d5a6b7c8e91", webhook.Processed, now)
	again, _ := dedup.Begin(ctx, "0f6b2c1e-7a4d-4e8b-9c3f-2d5a6b7c8e91", now)
	fmt.Println(again == webhook.Duplicate)
	// Output:
	// true true
	// true
}
