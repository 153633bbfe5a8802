package storetest_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestNotInTheCollector checks that no binary of the collector imports
// storetest, directly or not: it is for tests only.
func TestNotInTheCollector(t *testing.T) {
	const self = "github.com/meterline/meterline/collector/internal/store/storetest"
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to list the collector's packages")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/meterline/meterline/collector/cmd/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/meterline/meterline/collector/internal/store") {
		t.Fatalf("go list -deps lists no collector store: %q", deps)
	}
	if slices.Contains(deps, self) {
		t.Errorf("a collector binary imports %s, which only tests may", self)
	}
}
