package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestIsTerminal: only a terminal gets the redrawn bar. A buffer, a pipe,
// a regular file and /dev/null (a character device, but no terminal)
// get plain lines.
func TestIsTerminal(t *testing.T) {
	t.Parallel()
	if isTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is taken for a terminal")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if isTerminal(w) {
		t.Error("a pipe is taken for a terminal")
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "progress.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Error("a regular file is taken for a terminal")
	}
	if null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
		defer null.Close()
		if fi, err := null.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 && isTerminal(null) {
			t.Errorf("%s, a character device but no terminal, is taken for a terminal", os.DevNull)
		}
	}
	// The controlling terminal, where there is one (not under CI).
	if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
		defer tty.Close()
		if !isTerminal(tty) {
			t.Error("/dev/tty is not taken for a terminal")
		}
	}
}
