-- Escalation: approvals with a state machine, hand-offs, autonomy stages, switches, audit trail.

CREATE TABLE audit_log (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    event text NOT NULL,
    actor text NOT NULL,
    actor_role text,
    workflow text,
    org text,
    subject_type text,              -- approval | handoff | workflow | switch
    subject_id text,
    decision_id text,
    before jsonb,
    after jsonb,
    detail jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_subject ON audit_log (subject_type, subject_id);
CREATE INDEX audit_log_workflow ON audit_log (workflow, at);

-- Append-only, enforced by the database and not just by convention.
CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP;
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();

CREATE TABLE approvals (
    id text PRIMARY KEY,
    kind text NOT NULL DEFAULT 'action' CHECK (kind IN ('action', 'undo')),
    workflow text NOT NULL,
    action text NOT NULL,
    params jsonb NOT NULL,
    proposed_params jsonb NOT NULL,
    org text,
    conversation_key text,
    decision_id text,
    requested_by text NOT NULL,
    risk text NOT NULL,
    rule text NOT NULL,
    state text NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'expired', 'executing',
                                         'executed', 'failed', 'rolled_back', 'shadowed')),
    decided_by text,
    decided_at timestamptz,
    decision_note text,
    edited boolean NOT NULL DEFAULT false,
    expires_at timestamptz NOT NULL,
    reminded_at timestamptz,
    idempotency_key text NOT NULL UNIQUE,
    attempts integer NOT NULL DEFAULT 0,
    lease_until timestamptz,
    last_error text,
    result jsonb,
    executed_at timestamptz,
    rollback_of text REFERENCES approvals (id),
    rolled_back_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX approvals_open ON approvals (state, expires_at) WHERE state IN ('pending', 'approved', 'executing');
CREATE INDEX approvals_workflow ON approvals (workflow, created_at);
CREATE INDEX approvals_auto ON approvals (workflow, org, created_at) WHERE decided_by = 'policy:auto';

CREATE TABLE handoffs (
    id text PRIMARY KEY,
    org text,
    conversation_key text NOT NULL,
    workflow text,
    reason text NOT NULL,
    summary text NOT NULL,
    would_have_said text,
    links jsonb NOT NULL DEFAULT '[]',
    approval_id text REFERENCES approvals (id),
    decision_id text,
    state text NOT NULL CHECK (state IN ('open', 'claimed', 'returned', 'closed')),
    level integer NOT NULL DEFAULT 0,
    assigned_to text,
    claimed_by text,
    claimed_at timestamptz,
    closed_by text,
    closed_at timestamptz,
    escalated_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX handoffs_open ON handoffs (state, created_at) WHERE state = 'open';
CREATE INDEX handoffs_conversation ON handoffs (conversation_key, created_at);

CREATE TABLE autonomy_stages (
    workflow text PRIMARY KEY,
    stage text NOT NULL CHECK (stage IN ('shadow', 'approve', 'auto')),
    set_by text NOT NULL,
    set_at timestamptz NOT NULL DEFAULT now(),
    reason text
);

CREATE TABLE policy_switches (
    name text PRIMARY KEY,
    enabled boolean NOT NULL,
    set_by text NOT NULL,
    set_at timestamptz NOT NULL DEFAULT now()
);
