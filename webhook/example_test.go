package webhook_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gymflow/contacts-go/webhook"
)

// memberLinker and taskCloser stand for the application's own code.
type memberLinker struct{}

func (memberLinker) Link(_ context.Context, contactID, email string) error {
	fmt.Printf("linked contact %s (%s) to a member\n", contactID, email)
	return nil
}

type taskCloser struct{}

func (taskCloser) Close(_ context.Context, taskID string) error {
	fmt.Printf("closed task %s\n", taskID)
	return nil
}

// A receiver as the README shows it, fed two signed deliveries — and one
// of them again, as the API may redeliver it.
func ExampleNewHandler() {
	var (
		members memberLinker
		tasks   taskCloser
	)
	// In production the key comes from the app's settings, e.g.
	// os.Getenv("CONTACTS_WEBHOOK_ED25519_KEY"); here, a made-up key pair.
	seed := sha256.Sum256([]byte("example app"))
	appKey := ed25519.NewKeyFromSeed(seed[:])
	publicKey := base64.StdEncoding.EncodeToString(appKey.Public().(ed25519.PublicKey))

	v, err := webhook.NewVerifier(webhook.WithEd25519Key(publicKey))
	if err != nil {
		log.Fatal(err)
	}
	h, err := webhook.NewHandler(v, func(ctx context.Context, ev webhook.Event) error {
		switch e := ev.(type) {
		case *webhook.ContactCreate:
			return members.Link(ctx, e.Contact.ID, e.Contact.Email) // your code
		case *webhook.TaskComplete:
			return tasks.Close(ctx, e.Task.ID)
		}
		return nil // other events are acknowledged
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/contacts", h)

	// What the API would send.
	now := time.Now().UTC().Format(time.RFC3339)
	deliveries := []string{
		`{"type":"ContactCreate","locationId":"loc1","id":"c1","email":"ana@example.com","timestamp":"` + now + `","webhookId":"wh-1"}`,
		`{"type":"TaskComplete","locationId":"loc1","id":"t1","contactId":"c1","title":"Call","timestamp":"` + now + `","webhookId":"wh-2"}`,
		`{"type":"TaskComplete","locationId":"loc1","id":"t1","contactId":"c1","title":"Call","timestamp":"` + now + `","webhookId":"wh-2"}`,
	}
	for _, body := range deliveries {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/contacts", bytes.NewReader([]byte(body)))
		req.Header.Set(webhook.SignatureHeader, base64.StdEncoding.EncodeToString(ed25519.Sign(appKey, []byte(body))))
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		fmt.Println(rec.Code)
	}
	// Output:
	// linked contact c1 (ana@example.com) to a member
	// 200
	// closed task t1
	// 200
	// 200
}
