-- Durable turns: every inbound customer message is stored here before it is acknowledged; a queued job
-- (procrastinate, its schema applied beside ours) runs the turn. The unique (platform, event_key) is the
-- durable de-duplication of platform retries and duplicates.
CREATE TABLE inbound_events (
    id bigserial PRIMARY KEY,
    platform text NOT NULL,
    event_key text NOT NULL,            -- Slack: channel + message ts; Teams: conversation + activity id
    conversation_key text NOT NULL,     -- turns of one conversation run one after another
    payload jsonb NOT NULL,             -- what the platform sent, cleaned of text PostgreSQL cannot store
    queue text NOT NULL,                -- the job queue its turn runs from (TURN_QUEUE)
    sent_at timestamptz NOT NULL DEFAULT clock_timestamp(),  -- when the customer sent it (platform clock): turn order
    state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'decided', 'done')),
    attempts integer NOT NULL DEFAULT 0,
    last_error text,
    outbound jsonb,                     -- the turn's decided items, so a re-run delivers instead of deciding again
    received_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz,
    UNIQUE (platform, event_key)
);
CREATE INDEX inbound_events_waiting ON inbound_events (received_at) WHERE state <> 'done';
CREATE INDEX inbound_events_next ON inbound_events (platform, conversation_key, sent_at, id) WHERE state <> 'done';

-- Which of a turn's items went out: (inbound event, item) is delivered once.
CREATE TABLE inbound_deliveries (
    event_id bigint NOT NULL REFERENCES inbound_events (id) ON DELETE CASCADE,
    item integer NOT NULL,
    delivered_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, item)
);

-- A turn re-run after a crash finds its decision (id derived from the inbound event) and the items it
-- decided; hand-offs opened for an inbound event are opened once.
ALTER TABLE decisions ADD COLUMN outbound jsonb;
ALTER TABLE handoffs ADD COLUMN dedupe_key text;
CREATE UNIQUE INDEX handoffs_dedupe_key ON handoffs (dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX turns_decision ON turns (decision_id) WHERE decision_id IS NOT NULL;
