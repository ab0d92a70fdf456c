// Command oauth runs the Contacts API's OAuth 2.0 authorization-code flow
// end to end: a local callback server receives the code, the token is
// exchanged and kept in a file store, a call is made, and a refresh is
// shown.
//
// By default it runs against the embedded fake API (contactstest), which
// stands in for the marketplace's location chooser and lets the example
// move the clock a day forward to show the refresh:
//
//	go run ./examples/oauth
//
// Against the real API, register an app with redirect URL
// http://127.0.0.1:8787/callback and pass its credentials; the program
// prints the URL to open in a browser:
//
//	go run ./examples/oauth -client-id … -client-secret … -store tokens.json
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	contacts "github.com/gymflow/contacts-go"
	"github.com/gymflow/contacts-go/contactstest"
	"github.com/gymflow/contacts-go/oauth"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("oauth", flag.ContinueOnError)
	clientID := fs.String("client-id", "", "OAuth client ID (empty: use the embedded fake API)")
	clientSecret := fs.String("client-secret", "", "OAuth client secret")
	listen := fs.String("listen", "127.0.0.1:8787", "callback server address (the fake mode picks a free port if this one is taken)")
	storePath := fs.String("store", "", "token file (default: a temporary directory)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *storePath == "" {
		dir, err := os.MkdirTemp("", "contacts-oauth-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		*storePath = filepath.Join(dir, "tokens.json")
	}
	store, err := oauth.NewFileStore(*storePath)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelInfo}))

	l, err := net.Listen("tcp", *listen)
	if err != nil && *clientID == "" {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return fmt.Errorf("callback listener: %w", err)
	}
	redirect := "http://" + l.Addr().String() + "/callback"

	cfg := &oauth.Config{
		ClientID: *clientID, ClientSecret: *clientSecret, RedirectURL: redirect,
		Scopes: []string{contacts.ScopeContactsReadonly, contacts.ScopeContactsWrite},
	}
	var fake *contactstest.Server
	var clock *contactstest.ManualClock
	if *clientID == "" {
		clock = contactstest.NewManualClock(time.Now())
		fake = contactstest.NewServer(contactstest.WithClock(clock))
		defer fake.Close()
		app := fake.RegisterApp(contactstest.App{RedirectURIs: []string{redirect}})
		cfg.ClientID, cfg.ClientSecret = app.ClientID, app.ClientSecret
		cfg.BaseURL, cfg.HTTPClient, cfg.Now = fake.URL, fake.HTTPClient(), clock.Now
		fmt.Fprintf(out, "Using the embedded fake API at %s\n", fake.URL)
	}

	// 1. The callback server: check state, exchange the code, store the token.
	state := randomState()
	installed := make(chan oauth.Key, 1)
	failed := make(chan error, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("state") != state {
			http.Error(w, "state mismatch", http.StatusBadRequest)
			failed <- errors.New("callback with a wrong state")
			return
		}
		key, tok, err := oauth.Install(r.Context(), cfg, store, r.URL.Query().Get("code"), oauth.Location)
		if err != nil {
			http.Error(w, "could not complete the installation", http.StatusBadGateway)
			failed <- err
			return
		}
		fmt.Fprintln(w, "Installed. You can close this tab.")
		fmt.Fprintf(out, "Installed for location %s: %v\n", key.LocationID, tok)
		installed <- key
	})
	srv := newServer(mux)
	go srv.Serve(l)
	defer srv.Close()

	// 2. Send the user to the authorization page.
	authURL := cfg.AuthCodeURL(state)
	if fake == nil {
		fmt.Fprintf(out, "Open this URL and choose a location:\n\n  %s\n\n", authURL)
	} else {
		// The fake has no location chooser: mint the code the redirect
		// would carry and follow the redirect like a browser.
		code, err := fake.AuthorizationCode(cfg.ClientID, contactstest.Grant{
			UserType: contactstest.UserTypeLocation, LocationID: fake.LocationID(), Scopes: cfg.Scopes, RedirectURI: redirect})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "The user would open %s\n", authURL)
		resp, err := http.Get(redirect + "?code=" + code + "&state=" + state)
		if err != nil {
			return err
		}
		resp.Body.Close()
	}
	var key oauth.Key
	select {
	case key = <-installed:
	case err := <-failed:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}

	// 3. A client for the location, refreshing through the file store.
	opts := []oauth.ManagerOption{oauth.WithSourceOptions(oauth.WithLogger(logger))}
	if clock != nil {
		opts = append(opts, oauth.WithSourceOptions(oauth.WithClock(clock.Now)), oauth.WithHTTPClient(fake.HTTPClient()))
	}
	m := oauth.NewManager(ctx, cfg, store, opts...)
	client, err := m.Client(ctx, key.LocationID)
	if err != nil {
		return err
	}
	first, err := client.Contacts.Search(ctx, contacts.SearchParams{PageLimit: 1})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Call made: the location has %d contacts\n", first.Total)

	// 4. A day later the access token has expired: the next call refreshes it.
	if clock == nil {
		fmt.Fprintln(out, "Run again after the access token expires (about a day) to see a refresh.")
		return nil
	}
	clock.Advance(24 * time.Hour)
	fmt.Fprintln(out, "A day passes…")
	if _, err := client.Contacts.Search(ctx, contacts.SearchParams{PageLimit: 1}); err != nil {
		return err
	}
	tok, err := store.Load(ctx, key)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Call made after the refresh: %d refresh request(s); stored token is now at version %d, valid until %s\n",
		fake.TokenRequests("refresh_token"), tok.Version, tok.Expiry.Format(time.RFC3339))
	return nil
}

// newServer returns the callback server, with every stage of a request
// bounded so that slow or idle clients cannot hold connections. Its
// WriteTimeout leaves the callback time to exchange the code for a token.
func newServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
}

func randomState() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
