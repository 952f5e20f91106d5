-- Document frequencies for full-text scoring: rare terms (an error code, a header name) must
-- outweigh common ones, which PostgreSQL's ts_rank alone does not do.
CREATE TABLE kb_term_stats (
    lexeme text PRIMARY KEY,
    df integer NOT NULL
);

CREATE TABLE kb_corpus_stats (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    chunks integer NOT NULL,
    refreshed_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO kb_term_stats (lexeme, df) SELECT word, ndoc FROM ts_stat('SELECT tsv FROM kb_chunks');
INSERT INTO kb_corpus_stats (chunks) SELECT count(*) FROM kb_chunks;
