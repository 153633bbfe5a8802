package store

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestClaimPollRequests: requests are claimed oldest first, each by one of
// two replicas claiming at once, and a request given back is claimed
// again.
func TestClaimPollRequests(t *testing.T) {
	for _, d := range dialects {
		t.Run(d.name, func(t *testing.T) {
			ctx := context.Background()
			s := migratedStore(t, d)
			mustSave(t, s, batchOf(1, read("POLL1", t0, 100)))
			id := deviceID(t, s, "POLL1")
			const n = 9
			for i := range n {
				if _, err := s.db.Exec(s.db.Rebind(`INSERT INTO poll_requests (device_id, agent_id, requested_at, requested_by_system)
VALUES (?, 'agent-1', ?, 'test')`), id, t0.Add(time.Duration(n-i)*time.Minute)); err != nil {
					t.Fatal(err)
				}
			}
			first, err := s.ClaimPollRequests(ctx, 2)
			if err != nil || len(first) != 2 || first[0].ID != n || first[1].ID != n-1 || first[0].AgentID != "agent-1" || first[0].DeviceID != id {
				t.Fatalf("first claim = %+v, %v; want the two oldest", first, err)
			}
			other := migratedStoreOn(t, s)
			var wg sync.WaitGroup
			claimed := make([][]PollRequest, 2)
			for i, st := range []*Store{s, other} {
				wg.Go(func() {
					var err error
					if claimed[i], err = st.ClaimPollRequests(ctx, n); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			var ids []int64
			for _, c := range append(claimed[0], claimed[1]...) {
				ids = append(ids, c.ID)
			}
			slices.Sort(ids)
			if want := []int64{1, 2, 3, 4, 5, 6, 7}; !slices.Equal(ids, want) {
				t.Errorf("two replicas claimed %v, want %v once each", ids, want)
			}
			if err := s.UnclaimPollRequest(ctx, 4); err != nil {
				t.Fatal(err)
			}
			again, err := s.ClaimPollRequests(ctx, n)
			if err != nil || len(again) != 1 || again[0].ID != 4 {
				t.Errorf("after giving 4 back: %+v, %v", again, err)
			}
		})
	}
}

// migratedStoreOn opens a second handle on s's database, as another
// replica would.
func migratedStoreOn(t *testing.T, s *Store) *Store {
	t.Helper()
	return &Store{db: s.db, dialect: s.dialect, logger: s.logger, now: s.now}
}
