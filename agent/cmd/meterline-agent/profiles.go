package main

import (
	"fmt"

	"github.com/meterline/meterline/agent/internal/printer"
	"github.com/meterline/meterline/agent/internal/profile"
)

// printerReader returns the printer reader for a user's profiles file: its
// profiles first, then the embedded ones. An empty path means the embedded
// profiles alone.
func printerReader(path string) (printer.Reader, error) {
	if path == "" {
		return printer.Reader{}, nil
	}
	user, err := profile.LoadFile(path)
	if err != nil {
		return printer.Reader{}, fmt.Errorf("profiles file: %w", err)
	}
	set, err := profile.Default().Merge(user)
	if err != nil {
		return printer.Reader{}, fmt.Errorf("profiles file %s: %w", path, err)
	}
	return printer.Reader{Profiles: set}, nil
}
