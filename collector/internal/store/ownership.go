package store

import (
	"context"
	"fmt"

	"github.com/meterline/meterline/shared/ownership"
)

// SerialConflict is a device of a serial that devices of other accounts
// have too (see ownership.SerialConflicts).
type SerialConflict = ownership.SerialConflict

// SerialConflicts lists the devices whose serial two or more accounts
// have, by serial key, account and device.
func (s *Store) SerialConflicts(ctx context.Context) ([]SerialConflict, error) {
	out, err := ownership.SerialConflicts(ctx, s.db)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return out, nil
}
