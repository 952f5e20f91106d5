-- Scheduled and on-demand evaluation (issue 16): every run of the scenarios and of each org's retrieval
-- questions, with the fingerprint of what it ran on (policy, prompts, model, knowledge), so the digest can
-- compare weeks and name what changed, and promotion can require a passing run on what runs now.
CREATE TABLE eval_runs (
    id bigserial PRIMARY KEY,
    ran_at timestamptz NOT NULL DEFAULT now(),
    kind text NOT NULL CHECK (kind IN ('scenarios', 'retrieval')),
    mode text NOT NULL,                 -- scenarios: offline | model; retrieval: hybrid
    org text NOT NULL DEFAULT '',       -- retrieval: whose questions ('' = public documents)
    source text NOT NULL,               -- cli, or the weekly job's slot
    figures jsonb NOT NULL,
    fingerprint jsonb NOT NULL,         -- {"policy", "prompts", "model", "knowledge"}
    database text                       -- the throw-away database that keeps the run's decisions
);
CREATE INDEX eval_runs_kind_time ON eval_runs (kind, ran_at DESC);

-- Where each org's documents came from: the folders (or files) `supportbot ingest` was given, so a scheduled
-- evaluation can load the same knowledge and find its `retrieval-questions.jsonl`.
CREATE TABLE kb_sources (
    root text NOT NULL,
    org text NOT NULL DEFAULT '',       -- the --org given ('' = from each document's front matter)
    first_ingested_at timestamptz NOT NULL DEFAULT now(),
    last_ingested_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (root, org)
);
