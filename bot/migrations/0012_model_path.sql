-- The model path, explained: every model call of a turn (step, model, prompt version, tokens, cost or
-- "price unknown", finish reason, outcome), the drafts that were rejected and why, how the offline router
-- and the model voted on the route, and where each workflow input came from (customer text, model, lookup).
-- The approval keeps the input sources too, so its card can say which values the customer never typed.
ALTER TABLE decisions ADD COLUMN model_calls jsonb NOT NULL DEFAULT '[]';
ALTER TABLE decisions ADD COLUMN rejected_drafts jsonb NOT NULL DEFAULT '[]';
ALTER TABLE decisions ADD COLUMN route_votes jsonb;
ALTER TABLE decisions ADD COLUMN input_sources jsonb NOT NULL DEFAULT '{}';
ALTER TABLE decisions ADD COLUMN cost_unknown boolean NOT NULL DEFAULT false;
ALTER TABLE approvals ADD COLUMN input_sources jsonb NOT NULL DEFAULT '{}';
