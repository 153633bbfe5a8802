package golden

import (
	"os"
	"path/filepath"
	"testing"
)

func TestJSONMatchesItsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.json")
	if err := os.WriteFile(path, []byte("{\n  \"a\": 1\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := JSON(t, path, map[string]int{"a": 1}); string(got) != "{\n  \"a\": 1\n}\n" {
		t.Errorf("JSON returned %q", got)
	}
}
