// Package ready is how a Meterline service tells a script or a test that
// it serves: once its sockets are bound (and, for the collector, once it
// is subscribed) it writes a ready file, named by its -ready-file flag,
// holding the addresses it bound as JSON. A reader polls for the file
// instead of matching log lines, so rewording a log breaks nothing.
package ready

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Addrs is the content of a ready file: each address a service bound, by
// name ("http", "ops", "broker"), as host:port.
type Addrs map[string]string

// Write writes addrs to path, atomically (see WriteJSON). An empty path
// writes nothing: the service was not asked for a ready file.
func Write(path string, addrs Addrs) error {
	if path == "" {
		return nil
	}
	if addrs == nil {
		addrs = Addrs{}
	}
	return WriteJSON(path, addrs)
}

// Read returns the addresses of the ready file at path. Until the service
// has written it, the error wraps os.ErrNotExist.
func Read(path string) (Addrs, error) {
	var addrs Addrs
	b, err := os.ReadFile(path) //nolint:gosec // G304: the ready file its caller asked the service to write
	if err != nil {
		return nil, fmt.Errorf("ready file: %w", err)
	}
	if err := json.Unmarshal(b, &addrs); err != nil {
		return nil, fmt.Errorf("ready file %s: %w", path, err)
	}
	return addrs, nil
}

// WriteJSON writes v as indented JSON to path through a temporary file in
// the same folder and a rename, so a reader waiting for the file never
// reads half of it.
func WriteJSON(path string, v any) (err error) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// IsNotReady tells whether err, from Read, only means the file is not
// written yet.
func IsNotReady(err error) bool { return errors.Is(err, os.ErrNotExist) }
