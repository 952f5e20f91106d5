-- Demo data (`supportbot demo`): scripted conversations whose keys start with 'demo:'. Every row that belongs to
-- such a conversation is marked `demo`, derived from the key, so `supportbot demo --clear` removes exactly those
-- rows, including the ones written later by real processes about a demo conversation (a console approving a
-- pending demo refund, the scheduler escalating a demo hand-off). Feedback belongs to its (demo) decision.
ALTER TABLE conversations ADD COLUMN demo boolean GENERATED ALWAYS AS (key LIKE 'demo:%') STORED;
ALTER TABLE turns ADD COLUMN demo boolean GENERATED ALWAYS AS (conversation_key LIKE 'demo:%') STORED;
ALTER TABLE decisions ADD COLUMN demo boolean GENERATED ALWAYS AS (conversation_key LIKE 'demo:%') STORED;
ALTER TABLE handoffs ADD COLUMN demo boolean GENERATED ALWAYS AS (conversation_key LIKE 'demo:%') STORED;
ALTER TABLE approvals ADD COLUMN demo boolean
    GENERATED ALWAYS AS (coalesce(conversation_key LIKE 'demo:%', false)) STORED;
ALTER TABLE kb_gaps ADD COLUMN demo boolean
    GENERATED ALWAYS AS (coalesce(conversation_key LIKE 'demo:%', false)) STORED;
ALTER TABLE outbox ADD COLUMN demo boolean
    GENERATED ALWAYS AS (coalesce(conversation_key LIKE 'demo:%', false)) STORED;

CREATE INDEX conversations_demo ON conversations (key) WHERE demo;
CREATE INDEX decisions_demo ON decisions (id) WHERE demo;
CREATE INDEX approvals_demo ON approvals (id) WHERE demo;
CREATE INDEX handoffs_demo ON handoffs (id) WHERE demo;

-- An audit row is demo when what it is about is: a demo approval or hand-off, or a demo turn's decision (a policy
-- outcome is audited before its decision record is written, but after the customer's turn is).
ALTER TABLE audit_log ADD COLUMN demo boolean NOT NULL DEFAULT false;
CREATE INDEX audit_log_demo ON audit_log (id) WHERE demo;

CREATE FUNCTION audit_log_mark_demo() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.demo := NEW.demo
        OR (NEW.subject_type = 'approval' AND EXISTS (SELECT 1 FROM approvals WHERE id = NEW.subject_id AND demo))
        OR (NEW.subject_type = 'handoff' AND EXISTS (SELECT 1 FROM handoffs WHERE id = NEW.subject_id AND demo))
        OR (NEW.decision_id IS NOT NULL
            AND EXISTS (SELECT 1 FROM turns WHERE decision_id = NEW.decision_id AND demo));
    RETURN NEW;
END $$;
CREATE TRIGGER audit_log_mark_demo BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_mark_demo();

-- The trail stays append-only for everything real. Demo rows may be re-dated (the demo plays each scripted
-- moment now, then moves what the database stamped to the moment in the script) and removed (`--clear`);
-- nothing else of a demo row changes, and a real row can never become demo.
CREATE OR REPLACE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.demo AND TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    IF OLD.demo AND TG_OP = 'UPDATE' AND (to_jsonb(NEW) - 'at') = (to_jsonb(OLD) - 'at') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP;
END $$;
