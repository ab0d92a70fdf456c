package sqldb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// sqliteCompanions are the suffixes of the files SQLite keeps beside a
// database file: the WAL, its shared-memory index and the rollback
// journal. They hold copies of the database's pages.
var sqliteCompanions = []string{"-wal", "-shm", "-journal"}

// PrivateSQLiteFile makes the SQLite database file at path (a file path,
// not a URI) private before it is opened: it creates the file's directory
// with mode 0700 and the file itself, empty (an empty database to SQLite),
// with mode 0600 if they do not exist, and restricts an existing database
// file and its -wal, -shm and -journal files to 0600 if others may read
// them. SQLite gives the files it creates beside a database the database
// file's mode, so all of them stay private; without this, SQLite creates
// the database 0666 less the umask (0644, usually). On Windows, where file
// modes do not apply, it only creates the file and its directory.
func PrivateSQLiteFile(path string) error {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return fmt.Errorf("a SQLite database needs a file path, not %q", path)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("SQLite database directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("SQLite database: %w", err)
	}
	fi, err := f.Stat()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return fmt.Errorf("SQLite database: %w", err)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("SQLite database %s is not a regular file", path)
	case runtime.GOOS == "windows":
		return nil
	}
	for _, suffix := range append([]string{""}, sqliteCompanions...) {
		fi, err := os.Stat(path + suffix)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue
		case err != nil:
			return fmt.Errorf("SQLite database: %w", err)
		case fi.Mode().Perm()&0o077 == 0:
			continue
		}
		if err := os.Chmod(path+suffix, 0o600); err != nil {
			return fmt.Errorf("SQLite database %s is readable by others and cannot be restricted: %w", path+suffix, err)
		}
	}
	return nil
}
