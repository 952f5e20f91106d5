-- The web playground is a chat platform of its own ("web"): its customer conversations and its staff channel
-- are these posts, written by the turn worker (replies, cards) and the web process (people's messages,
-- cards refreshed after a click), and pushed to open pages as they are written.
CREATE TABLE web_posts (
    id bigserial PRIMARY KEY,
    channel text NOT NULL,              -- 'staff', or the web conversation key (web:ORG:CUSTOMER:THREAD)
    kind text NOT NULL CHECK (kind IN ('message', 'reply', 'approval', 'handoff', 'note')),
    subject text,                       -- apr_… / hnd_… for a card: shown once, as it is now, updated in place
    author text,                        -- who wrote a person's message (their actor id)
    body jsonb NOT NULL,                -- the outbound item (handlers.outbound_codec), or a message's text and role
    delivery text UNIQUE,               -- (inbound event, item) or the message's own key: posted once
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX web_posts_channel ON web_posts (channel, id);
CREATE INDEX web_posts_subject ON web_posts (subject, id) WHERE subject IS NOT NULL;

-- Open pages (in any web process) hear of a new post at once.
CREATE FUNCTION web_posts_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('web_posts', NEW.channel);
    RETURN NULL;
END $$;
CREATE TRIGGER web_posts_notify AFTER INSERT ON web_posts FOR EACH ROW EXECUTE FUNCTION web_posts_notify();
