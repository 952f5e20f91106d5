-- Chat platforms: which shared channel belongs to which customer org (fail closed: no row, no answers),
-- the cards we posted (so a decision can update them in place), events already handled (the
-- PostgreSQL fallback when Redis is down) and per-platform delivery of outbox notices.
CREATE TABLE channel_bindings (
    platform text NOT NULL,             -- slack | teams
    channel_id text NOT NULL,           -- Slack channel id, or a Teams tenant / conversation id
    org text NOT NULL,
    bound_by text NOT NULL,
    bound_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (platform, channel_id)
);

CREATE TABLE chat_cards (
    item_id text NOT NULL,              -- approval or hand-off id
    platform text NOT NULL,
    channel_id text NOT NULL,
    message_ref text NOT NULL,          -- Slack message ts, Teams activity id
    reference jsonb NOT NULL DEFAULT '{}',  -- what the platform needs to update it (Teams conversation reference)
    posted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (item_id, platform)
);

CREATE TABLE seen_events (
    platform text NOT NULL,
    event_key text NOT NULL,
    seen_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (platform, event_key)
);
CREATE INDEX seen_events_age ON seen_events (seen_at);

CREATE TABLE outbox_deliveries (
    outbox_id bigint NOT NULL REFERENCES outbox (id),
    platform text NOT NULL,
    state text NOT NULL CHECK (state IN ('delivered', 'failed')),
    attempts integer NOT NULL DEFAULT 1,
    last_error text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (outbox_id, platform)
);
