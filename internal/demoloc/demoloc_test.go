package demoloc

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "locations.json")
	in := []Location{{ID: "gym-0001", Token: "secret-1"}, {ID: "gym-0002", Token: "secret-2"}}
	if err := Write(path, in); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600 (the file holds tokens)", fi.Mode().Perm())
	}
	out, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(out) != fmt.Sprint(in) || out[1].Token != "secret-2" {
		t.Errorf("read %v", out)
	}
	if s := fmt.Sprintf("%v %+v %#v", out[0], out[0], out[0]); strings.Contains(s, "secret") {
		t.Errorf("token printed: %s", s)
	}
}

func TestReadRefuses(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"empty":     `[]`,
		"no token":  `[{"id":"a"}]`,
		"twice":     `[{"id":"a","token":"x"},{"id":"a","token":"y"}]`,
		"bad id":    `[{"id":"a/../b","token":"x"}]`,
		"not json":  `{`,
		"too large": `[` + strings.Repeat(" ", maxFileSize) + `]`,
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Read(path); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := Write(filepath.Join(dir, "w"), nil); err == nil {
		t.Error("writing no locations accepted")
	}
}
