package ready

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteThenRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ready.json")
	if _, err := Read(path); !IsNotReady(err) {
		t.Fatalf("Read before Write = %v, want not ready", err)
	}
	if err := Write(path, Addrs{"http": "127.0.0.1:8080"}); err != nil {
		t.Fatal(err)
	}
	addrs, err := Read(path)
	if err != nil || addrs["http"] != "127.0.0.1:8080" {
		t.Fatalf("Read = %v, %v", addrs, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("folder holds %v, want only the ready file (no temporary left)", entries)
	}
	if err := Write("", Addrs{"http": "x"}); err != nil {
		t.Errorf("Write with no path = %v, want nothing done", err)
	}
}
