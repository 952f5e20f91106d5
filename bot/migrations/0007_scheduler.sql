-- Scheduled jobs: one row per (job, slot) claimed before running, so several replicas run each slot once.
CREATE TABLE job_runs (
    job text NOT NULL,
    slot timestamptz NOT NULL,          -- the scheduled time this run stands for
    state text NOT NULL CHECK (state IN ('running', 'done', 'failed')),
    attempts integer NOT NULL DEFAULT 1,
    claimed_by text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    error text,
    summary text,
    PRIMARY KEY (job, slot)
);
CREATE INDEX job_runs_failed ON job_runs (started_at) WHERE state = 'failed';

-- Notices that jobs produce for people (reminders, expiries, escalations, stale documents), kept
-- until a chat adapter delivers them.
CREATE TABLE outbox (
    id bigserial PRIMARY KEY,
    kind text NOT NULL,                 -- reply | approval_request | handoff | staff_note
    conversation_key text,
    recipient text,                     -- a staff member, group or document owner, when not a conversation
    text text NOT NULL,
    payload jsonb NOT NULL DEFAULT '{}',
    source text NOT NULL,               -- job:slot that produced it
    created_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz
);
CREATE INDEX outbox_pending ON outbox (created_at) WHERE delivered_at IS NULL;
