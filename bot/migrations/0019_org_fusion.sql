-- Per-org hybrid-search fusion, chosen by `supportbot eval calibrate-fusion` on the org's own questions.
-- An org without a row searches with the default (SEARCH_FUSION, SEARCH_DENSE_WEIGHT, SEARCH_LEXICAL_MARGIN).
CREATE TABLE kb_org_fusion (
    org text PRIMARY KEY,
    method text NOT NULL CHECK (method IN ('dense-first', 'convex', 'rrf')),
    dense_weight double precision NOT NULL CHECK (dense_weight BETWEEN 0 AND 1),
    margin double precision NOT NULL CHECK (margin BETWEEN 0 AND 1),
    rrf_k integer NOT NULL CHECK (rrf_k >= 1),
    questions integer NOT NULL,
    figures jsonb NOT NULL,
    calibrated_at timestamptz NOT NULL DEFAULT now()
);
