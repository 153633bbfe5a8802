// Package golden compares test output with a file kept under testdata:
// run the tests with -update to rewrite the files after a deliberate
// change, and review the diff. Only tests import it.
package golden

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// Bytes compares got with the file at path and reports the first line that
// differs; with -update it writes got to the file first. It returns the
// file's content.
func Bytes(tb testing.TB, path string, got []byte) []byte {
	tb.Helper()
	// Golden files are test data checked into the repository, named by the
	// test and written only under -update: the usual source-tree
	// permissions, and no path from outside.
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil { //nolint:gosec // G301: a testdata folder of the source tree
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil { //nolint:gosec // G306: a checked-in test file, not a secret
			tb.Fatal(err)
		}
	}
	want, err := os.ReadFile(path) //nolint:gosec // G304: a testdata path the test names
	if err != nil {
		tb.Fatalf("read golden file (run go test -update to write it): %v", err)
	}
	if !bytes.Equal(got, want) {
		gotLines, wantLines := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gotLines), len(wantLines)) {
			var g, w string
			if i < len(gotLines) {
				g = gotLines[i]
			}
			if i < len(wantLines) {
				w = wantLines[i]
			}
			if g != w {
				tb.Errorf("%s differs from line %d (run go test -update to accept):\n got: %s\nwant: %s", path, i+1, g, w)
				break
			}
		}
	}
	return want
}

// JSON compares v, as indented JSON ending in a newline, with the file at
// path (see Bytes), and returns the file's content.
func JSON(tb testing.TB, path string, v any) []byte {
	tb.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	return Bytes(tb, path, append(got, '\n'))
}
