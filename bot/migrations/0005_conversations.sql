-- Conversation core: conversations, their turns, and one decision record per turn.

CREATE TABLE conversations (
    key text PRIMARY KEY,               -- platform + channel + thread
    platform text NOT NULL,
    org text,
    owner text NOT NULL DEFAULT 'bot',  -- 'bot' or the staff member who took it over
    active_workflow text,
    gathered jsonb NOT NULL DEFAULT '{}',
    asked_for text,                     -- the input the bot is waiting for, if any
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE turns (
    id bigserial PRIMARY KEY,
    conversation_key text NOT NULL REFERENCES conversations (key) ON DELETE CASCADE,
    role text NOT NULL,                 -- customer | staff | lead | bot
    author text NOT NULL,
    text text NOT NULL,
    decision_id text,
    at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX turns_conversation ON turns (conversation_key, id);

CREATE TABLE decisions (
    id text PRIMARY KEY,
    conversation_key text NOT NULL,
    org text,
    platform text NOT NULL,
    author text NOT NULL,
    inbound text NOT NULL,
    route text,
    route_confidence double precision,
    route_ranked jsonb NOT NULL DEFAULT '[]',
    confidence double precision,
    retrieved jsonb NOT NULL DEFAULT '[]',
    model text,
    prompt_version text,
    tool_calls jsonb NOT NULL DEFAULT '[]',
    prompt_tokens integer NOT NULL DEFAULT 0,
    completion_tokens integer NOT NULL DEFAULT 0,
    cost_usd double precision NOT NULL DEFAULT 0,
    outcome text NOT NULL,              -- answered | asked | not_sure | proposed | acted | handed_off | refused | silent | error
    policy_outcome text,
    policy_rule text,
    policy_reason text,
    approval_id text,
    approver text,
    action_result jsonb,
    handoff_id text,
    reply text,
    notes jsonb NOT NULL DEFAULT '[]',
    latency_ms double precision,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX decisions_conversation ON decisions (conversation_key, created_at);
CREATE INDEX decisions_created ON decisions (created_at);
CREATE INDEX decisions_approval ON decisions (approval_id) WHERE approval_id IS NOT NULL;

CREATE TABLE feedback (
    id bigserial PRIMARY KEY,
    decision_id text NOT NULL REFERENCES decisions (id),
    author text NOT NULL,
    helpful boolean NOT NULL,
    comment text,
    at timestamptz NOT NULL DEFAULT now()
);
