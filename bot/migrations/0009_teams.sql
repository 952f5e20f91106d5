-- Teams: where to reach a conversation again (a Bot Framework conversation reference), so that replies to
-- a customer after an approval, and notices from scheduled jobs, land in the right chat or reply chain.
CREATE TABLE teams_conversations (
    conversation_key text PRIMARY KEY,  -- teams:{conversation.id}, channel threads include ;messageid=
    tenant_id text,
    reference jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
