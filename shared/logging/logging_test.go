package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestNewPicksTheFormat(t *testing.T) {
	for _, tt := range []struct {
		format string
		json   bool
	}{
		{Auto, true}, // a buffer is not a terminal
		{"", true},
		{JSON, true},
		{Text, false},
	} {
		var b bytes.Buffer
		New(&b, tt.format, slog.LevelInfo).Info("hello", ErrorKey, errors.New("boom"))
		var rec map[string]any
		isJSON := json.Unmarshal(b.Bytes(), &rec) == nil
		if isJSON != tt.json {
			t.Errorf("format %q wrote %q, want JSON %v", tt.format, b.String(), tt.json)
		}
		if !strings.Contains(b.String(), "error") || !strings.Contains(b.String(), "boom") {
			t.Errorf("format %q wrote %q, want the error under %q", tt.format, b.String(), ErrorKey)
		}
	}
}

func TestNewHonoursTheLevel(t *testing.T) {
	var b bytes.Buffer
	New(&b, JSON, slog.LevelWarn).Info("quiet")
	if b.Len() != 0 {
		t.Errorf("info logged at warn level: %q", b.String())
	}
}
