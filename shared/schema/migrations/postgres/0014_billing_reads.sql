-- Billing meter reads (issue 16): for every device under contract and every
-- billing period, the read the invoice uses, where it came from, and the
-- manual-read campaigns of devices no agent reads.

-- The read an invoice uses for a device and a billing period
-- [period_start, period_end] (dates, the contract's period: quarterly or
-- monthly). source: 'agent' (the agent read nearest the period end within
-- the tolerance window; read_at is that read's time), 'manual' (entered on
-- the portal by a user of the account), 'estimated' (the campaign closed
-- without a read; method says how, e.g. "history:182d" or
-- "contract_volume"). Meters are NULL when the contract does not bill
-- them or the device does not have them. flags are space-separated words:
-- lower_than_previous, photo, counter_reset, jump, regularises (a read
-- that follows an estimate). A read flagged for review (a lower read with
-- its photo, a jump) has review 'pending' until the back office accepts
-- or rejects it. One current read per device and period: a read replaced
-- (a rejected one, a re-run) keeps its row with superseded_at set.
CREATE TABLE billing_reads (
    id                    bigserial PRIMARY KEY,
    device_id             bigint NOT NULL REFERENCES devices (id),
    contract_id           bigint NOT NULL REFERENCES contracts (id),
    period_start          date NOT NULL,
    period_end            date NOT NULL,
    source                text NOT NULL CHECK (source IN ('agent', 'manual', 'estimated')),
    read_at               timestamptz NOT NULL,
    black                 bigint CHECK (black >= 0),
    colour                bigint CHECK (colour >= 0),
    total                 bigint CHECK (total >= 0),
    method                text NOT NULL DEFAULT '',
    flags                 text NOT NULL DEFAULT '',
    photo_path            text,
    review                text NOT NULL DEFAULT 'none' CHECK (review IN ('none', 'pending', 'accepted', 'rejected')),
    submitted_by_user_id  bigint REFERENCES users (id),
    created_at            timestamptz NOT NULL,
    superseded_at         timestamptz,
    CHECK (period_end >= period_start),
    CHECK ((source = 'manual') = (submitted_by_user_id IS NOT NULL))
);
CREATE UNIQUE INDEX billing_reads_current ON billing_reads (device_id, period_end) WHERE superseded_at IS NULL;
-- The export: a period's reads.
CREATE INDEX billing_reads_period ON billing_reads (period_end, device_id);
-- The back office's review queue.
CREATE INDEX billing_reads_review ON billing_reads (created_at) WHERE review = 'pending';

-- A manual-read campaign of a device for a period its agent did not read
-- (seed 003): the invitation to the device's meter-read contact, up to
-- three reminders, closing 48 hours after the third. state: 'open' (no
-- read yet), 'read' (a user entered it), 'agent' (an agent read arrived
-- in the window meanwhile: the device left the campaign), 'closed' (no
-- read: estimated). reminders counts the reminders sent; closes_at is set
-- with the third.
CREATE TABLE read_campaigns (
    id                bigserial PRIMARY KEY,
    device_id         bigint NOT NULL REFERENCES devices (id),
    contract_id       bigint NOT NULL REFERENCES contracts (id),
    period_start      date NOT NULL,
    period_end        date NOT NULL,
    contact_user_id   bigint REFERENCES users (id),
    state             text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'read', 'agent', 'closed')),
    invited_at        timestamptz,
    reminders         integer NOT NULL DEFAULT 0 CHECK (reminders BETWEEN 0 AND 3),
    last_reminder_at  timestamptz,
    closes_at         timestamptz,
    ended_at          timestamptz,
    created_at        timestamptz NOT NULL,
    UNIQUE (device_id, period_end)
);
-- What the campaign job works through.
CREATE INDEX read_campaigns_open ON read_campaigns (period_end) WHERE state = 'open';

-- A customer's request to automate a device's reads (seed 003: an
-- appointment with a technician to install the agent): the address, whom
-- to call and when. The device leaves the campaigns once an agent reads
-- it, whatever becomes of the request.
CREATE TABLE read_automation_requests (
    id              bigserial PRIMARY KEY,
    device_id       bigint NOT NULL REFERENCES devices (id),
    account_id      bigint NOT NULL REFERENCES accounts (id),
    user_id         bigint NOT NULL REFERENCES users (id),
    address         text NOT NULL,
    contact_name    text NOT NULL,
    contact_phone   text NOT NULL DEFAULT '',
    preferred_date  date,
    created_at      timestamptz NOT NULL,
    resolved_at     timestamptz
);
CREATE INDEX read_automation_requests_open ON read_automation_requests (created_at) WHERE resolved_at IS NULL;
