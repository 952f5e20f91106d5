-- Teams: where to reach a conversation again (a Bot Framework conversation reference), so that replies to
-- a customer after an approval, and notices from scheduled jobs, land in the right chat or reply chain.
CREATE TABLE teams_conversations (
    conversation_key text PRIMARY KEY,  -- teams:{conversation.id}, channel threads include ;messageid=
    tenant_id text,
    reference jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Display names of the people we have seen, so a refreshed card says "Approved by Bea Billing", not an AAD id.
CREATE TABLE teams_people (
    actor_id text PRIMARY KEY,          -- the Actor id: AAD object id, else the Teams user id
    name text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
