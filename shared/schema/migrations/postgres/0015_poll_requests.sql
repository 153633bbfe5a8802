-- Extra reads the back office asks of a device's agent (issue 16: to
-- confirm suspected excessive use before invoicing). The portal records
-- the request; the collector, which holds the MQTT connection, publishes
-- the agent's poll_now command (meterline/v1/agents/{agent}/commands) and
-- sets sent_at. agent_id is the agent that read the device when it was
-- asked. Who asked: a user, or a named part of the system.
CREATE TABLE poll_requests (
    id                    bigserial PRIMARY KEY,
    device_id             bigint NOT NULL REFERENCES devices (id),
    agent_id              text NOT NULL REFERENCES agents (id),
    reason                text NOT NULL DEFAULT '',
    requested_at          timestamptz NOT NULL,
    requested_by_user_id  bigint REFERENCES users (id),
    requested_by_system   text,
    sent_at               timestamptz,
    CHECK ((requested_by_user_id IS NULL) <> (requested_by_system IS NULL))
);
-- What the collector works through: requests not yet sent, oldest first.
CREATE INDEX poll_requests_pending ON poll_requests (requested_at) WHERE sent_at IS NULL;
CREATE INDEX poll_requests_device_id ON poll_requests (device_id, requested_at);
