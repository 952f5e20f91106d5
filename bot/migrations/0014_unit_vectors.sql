-- The units of each chunk an answer can quote (table rows, list items, sentences; knowledge/units.py), embedded
-- at ingestion so the offline answerer compares them with a question without embedding anything in the turn.
-- Keyed by a hash of the embedded text: a unit the splitter cuts differently later simply has no vector yet,
-- and the answerer embeds it then and stores it here.
CREATE TABLE kb_unit_vectors (
    chunk_id bigint NOT NULL REFERENCES kb_chunks (id) ON DELETE CASCADE,
    unit_key bytea NOT NULL,
    embedding vector NOT NULL,
    PRIMARY KEY (chunk_id, unit_key)
);
ALTER TABLE kb_unit_vectors ALTER COLUMN embedding SET STORAGE MAIN;
