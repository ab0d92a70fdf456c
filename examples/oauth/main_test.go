package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOAuthExampleAgainstTheFake(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens.json")
	var out strings.Builder
	if err := run(context.Background(), []string{"-listen", "127.0.0.1:0", "-store", path}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{"Installed for location", "Call made: the location has 0 contacts", "token refreshed", "1 refresh request(s); stored token is now at version 2"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600", info.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), "refresh_token") {
		t.Error("the token file holds no refresh token")
	}
}
