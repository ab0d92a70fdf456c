// Package demoloc reads and writes the locations file by which the
// fake-server example hands its locations and their tokens to the
// gymflow-fleet example's processes: a JSON array of {"id", "token"}.
package demoloc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Location is a location of the API and a token for it.
type Location struct {
	ID    string `json:"id"`
	Token string `json:"token"`
}

// String describes the location without its token.
func (l Location) String() string { return "location " + l.ID }

// GoString is String, so %#v does not print the token either.
func (l Location) GoString() string { return l.String() }

// MaxLocations bounds a file's locations; maxFileSize its bytes.
const (
	MaxLocations = 10_000
	maxFileSize  = 8 << 20
)

// Write writes the locations to path, readable by its owner only, in one
// rename: a process reading it sees all of it or nothing.
func Write(path string, locs []Location) error {
	if err := check(locs); err != nil {
		return err
	}
	b, err := json.MarshalIndent(locs, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".locations-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Read reads a locations file, refusing one too big, empty, or with an ID
// or token missing or repeated.
func Read(path string) ([]Location, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxFileSize)
	}
	var locs []Location
	if err := json.Unmarshal(b, &locs); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := check(locs); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return locs, nil
}

func check(locs []Location) error {
	if len(locs) == 0 || len(locs) > MaxLocations {
		return fmt.Errorf("%d locations: want 1 to %d", len(locs), MaxLocations)
	}
	seen := make(map[string]bool, len(locs))
	for i, l := range locs {
		switch {
		case l.ID == "" || len(l.ID) > 100 || strings.ContainsAny(l.ID, "/?#% \t\r\n"):
			return fmt.Errorf("location %d: bad ID %q", i, l.ID)
		case l.Token == "":
			return fmt.Errorf("location %q: no token", l.ID)
		case seen[l.ID]:
			return errors.New("location " + l.ID + " listed twice")
		}
		seen[l.ID] = true
	}
	return nil
}
