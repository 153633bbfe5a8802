// Package logging sets up the log/slog logger of every Meterline binary
// the same way: text for a person at a terminal, JSON for a journal or a
// log shipper, and one attribute name for errors.
package logging

import (
	"io"
	"log/slog"
	"os"
)

// ErrorKey is the attribute every error is logged under:
// logger.Warn("…", logging.ErrorKey, err), or "error" written out.
const ErrorKey = "error"

// Formats a binary may force; Auto picks one by where the log goes.
const (
	Auto = "auto"
	Text = "text"
	JSON = "json"
)

// New returns a logger writing to w at level. Format Text or JSON forces
// that format; Auto (or "") writes text when w is a terminal and JSON
// otherwise.
func New(w io.Writer, format string, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == Text || (format != JSON && IsTerminal(w)) {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// IsTerminal tells whether w is a character device, such as a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
