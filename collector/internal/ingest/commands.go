package ingest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/meterline/meterline/collector/internal/store"
	"github.com/meterline/meterline/shared/domain"
	"github.com/meterline/meterline/shared/topic"
	"github.com/meterline/meterline/shared/wire"
)

// PollRequestStore is what SendPollRequests needs of the store: the
// extra reads the back office asked for through the portal.
type PollRequestStore interface {
	ClaimPollRequests(ctx context.Context, limit int) ([]store.PollRequest, error)
	UnclaimPollRequest(ctx context.Context, id int64) error
}

// pollRequestsPerRound bounds the commands one round publishes.
const pollRequestsPerRound = 100

// SendPollRequests publishes the poll_now command of each extra read
// requested and not yet sent (meterline/v1/agents/{agent}/commands, QoS
// 1), and returns how many it published. A request whose command the
// broker did not take is given back for the next round. The command id
// names the request, so an agent given it twice (a round cut short after
// the publish) polls once.
func SendPollRequests(ctx context.Context, st PollRequestStore, pub Publisher, now time.Time) (int, error) {
	reqs, err := st.ClaimPollRequests(ctx, pollRequestsPerRound)
	if err != nil {
		return 0, err
	}
	sent := 0
	var errs []error
	for _, r := range reqs {
		payload, err := wire.Encode(wire.Command{Schema: wire.SchemaVersion, ID: "poll-request-" + strconv.FormatInt(r.ID, 10),
			Name: domain.CommandPollNow, At: now.UTC()})
		if err == nil {
			err = pub.Publish(topic.For(r.AgentID, topic.Commands), payload)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("poll request %d to agent %s: %w", r.ID, r.AgentID, err))
			if uerr := st.UnclaimPollRequest(ctx, r.ID); uerr != nil {
				errs = append(errs, uerr)
			}
			continue
		}
		sent++
	}
	return sent, errors.Join(errs...)
}

// Publish publishes a message at QoS 1 on the service's connection.
func (s *Service) Publish(topicName string, payload []byte) error {
	return s.client.Publish(topicName, payload)
}
