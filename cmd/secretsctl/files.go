package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// existsError is the refusal to replace a file without --force.
func existsError(path string) error {
	return fmt.Errorf("%s already exists; pass --force to replace it", path)
}

// refuseExisting fails early, before any work, if path exists and force is
// off. publish checks again at the end, race-free; this check only spares
// the operator a wasted run.
func refuseExisting(path string, force bool) error {
	if force {
		return nil
	}
	if _, err := os.Lstat(path); err == nil {
		return existsError(path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// writeFileAtomic writes data to path through a temporary file (mode 0600)
// in the same directory, synced before it is renamed into place, so path
// holds either its old content or all of data, never a part. Without force
// an existing path is never replaced.
func writeFileAtomic(path string, data []byte, force bool) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	// CreateTemp uses 0600 already; the explicit Chmod says that the mode
	// matters here and survives a change of that default.
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return publish(tmp, path, force)
}

// publish gives the finished file tmp the name final, durably. With force it
// renames, atomically replacing final. Without, it never replaces final: a
// hard link fails if final exists, atomically, where a check followed by a
// rename could race with another writer.
func publish(tmp, final string, force bool) error {
	if force {
		if err := os.Rename(tmp, final); err != nil {
			return err
		}
	} else {
		err := os.Link(tmp, final)
		switch {
		case errors.Is(err, fs.ErrExist):
			return existsError(final)
		case err != nil:
			// No hard links on this file system (some network and FAT
			// ones): check, then rename.
			if _, serr := os.Lstat(final); serr == nil {
				return existsError(final)
			}
			if err := os.Rename(tmp, final); err != nil {
				return err
			}
		default:
			if err := os.Remove(tmp); err != nil {
				return fmt.Errorf("%s is in place, but removing %s failed: %w", final, tmp, err)
			}
		}
	}
	return syncDir(filepath.Dir(final))
}

// syncDir makes a rename in dir durable. It matters for key files: a
// rotation commits tenant keys wrapped by a new key to the database, so the
// file holding that key must already be on disk, name included.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
