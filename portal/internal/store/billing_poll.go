package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/meterline/meterline/shared/domain"
)

// PollRequest is an extra read the back office asked of a device's agent
// (schema 0015): the collector publishes the agent's poll_now command and
// sets SentAt.
type PollRequest struct {
	ID                int64      `db:"id"`
	DeviceID          int64      `db:"device_id"`
	AgentID           string     `db:"agent_id"`
	Reason            string     `db:"reason"`
	RequestedAt       time.Time  `db:"requested_at"`
	RequestedByUserID *int64     `db:"requested_by_user_id"`
	RequestedBySystem *string    `db:"requested_by_system"`
	SentAt            *time.Time `db:"sent_at"`
}

const pollRequestColumns = `id, device_id, agent_id, reason, requested_at, requested_by_user_id, requested_by_system, sent_at`

func (p *PollRequest) utc() {
	p.RequestedAt = p.RequestedAt.UTC()
	if p.SentAt != nil {
		t := p.SentAt.UTC()
		p.SentAt = &t
	}
}

// MaxPollReasonLength bounds the reason of an extra read.
const MaxPollReasonLength = 500

// RequestExtraRead asks the agent that reads a device under contract for
// an extra read now (its poll_now command), to confirm suspected
// excessive use: the request is recorded for the collector, which holds
// the MQTT connection, to publish. A device no agent reads is ECONFLICT;
// one not under contract, or unknown, ENOTFOUND. A request still unsent
// for the device is returned as it is rather than doubled.
func (s *Store) RequestExtraRead(ctx context.Context, deviceID int64, reason string, by Actor) (PollRequest, error) {
	if err := by.check(); err != nil {
		return PollRequest{}, err
	}
	reason = strings.TrimSpace(reason)
	if err := checkText("reason", reason, MaxPollReasonLength); err != nil {
		return PollRequest{}, err
	}
	var out PollRequest
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var agent sql.NullString
		err := tx.GetContext(ctx, &agent, tx.Rebind(`SELECT agent_id FROM devices
WHERE id = ? AND contract_id IS NOT NULL AND state IN ('active', 'pending_removal')`+s.forUpdate()), deviceID)
		if err != nil {
			return notFound(err, "no device %d under contract", deviceID)
		}
		if !agent.Valid || agent.String == "" {
			return domain.Errorf(domain.ECONFLICT, "no agent reads device %d: an extra read needs one", deviceID)
		}
		switch err := tx.GetContext(ctx, &out, tx.Rebind(`SELECT `+pollRequestColumns+` FROM poll_requests
WHERE device_id = ? AND sent_at IS NULL ORDER BY requested_at LIMIT 1`), deviceID); {
		case err == nil:
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("read the pending requests: %w", err)
		}
		userID, system := by.columns()
		out = PollRequest{DeviceID: deviceID, AgentID: agent.String, Reason: reason, RequestedAt: dbTime(s.now()),
			RequestedByUserID: userID, RequestedBySystem: system}
		return tx.GetContext(ctx, &out.ID, tx.Rebind(`INSERT INTO poll_requests
(device_id, agent_id, reason, requested_at, requested_by_user_id, requested_by_system) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
			out.DeviceID, out.AgentID, out.Reason, out.RequestedAt, userID, system)
	})
	if err != nil {
		return PollRequest{}, fmt.Errorf("store: extra read of device %d: %w", deviceID, err)
	}
	out.utc()
	return out, nil
}

// DevicePollRequests lists a device's extra reads, the latest first.
func (s *Store) DevicePollRequests(ctx context.Context, deviceID int64) ([]PollRequest, error) {
	var out []PollRequest
	err := s.db.SelectContext(ctx, &out, s.db.Rebind(`SELECT `+pollRequestColumns+` FROM poll_requests
WHERE device_id = ? ORDER BY requested_at DESC, id DESC`), deviceID)
	if err != nil {
		return nil, fmt.Errorf("store: extra reads of device %d: %w", deviceID, err)
	}
	for i := range out {
		out[i].utc()
	}
	return out, nil
}
