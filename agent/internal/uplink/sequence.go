package uplink

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// legacySequenceFile is where agents before the outbox kept their last
// sequence number, inside the state directory. It is only read now.
const legacySequenceFile = "sequence"

// SeqFloor returns the smallest sequence number the outbox may hand out
// (outbox.Options.SeqFloor): one past the last number in the legacy
// sequence file of stateDir, if any, and never below the current Unix time
// in seconds. The clock floor keeps numbers increasing when the state is
// lost (a reinstall, a container without a volume, an outbox file moved
// aside), which would otherwise restart them where the collector takes new
// batches for duplicates of old ones.
func SeqFloor(stateDir string, now time.Time) (uint64, error) {
	var floor uint64
	if unix := now.Unix(); unix > 0 {
		floor = uint64(unix)
	}
	path := filepath.Join(stateDir, legacySequenceFile)
	b, err := os.ReadFile(path) //nolint:gosec // G304: a fixed name in the operator's own state_dir
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return floor, nil
	case err != nil:
		return 0, fmt.Errorf("read legacy sequence file: %w", err)
	}
	text := strings.TrimSpace(string(b))
	last, err := strconv.ParseUint(text, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read legacy sequence file %s: %q is not a number", path, text)
	}
	return max(floor, last+1), nil
}
