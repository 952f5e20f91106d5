-- Knowledge base: documents, their chunks, the embedding space they live in, and knowledge gaps.
CREATE EXTENSION IF NOT EXISTS vector;

-- One row: which embedder produced every stored vector. The vector columns get their
-- dimension (and the HNSW index) when the first embedder registers.
CREATE TABLE kb_embedding_space (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    model text NOT NULL,
    dimension integer NOT NULL CHECK (dimension > 0),
    registered_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE kb_documents (
    id bigserial PRIMARY KEY,
    org text,                       -- NULL: public, visible to every org
    doc_key text NOT NULL,          -- path relative to the ingested folder, without extension
    title text NOT NULL,
    owner text,
    source_path text,
    source_url text,
    tags text[] NOT NULL DEFAULT '{}',
    review_by date NOT NULL,
    content_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX kb_documents_org_key ON kb_documents ((coalesce(org, '')), doc_key);
CREATE INDEX kb_documents_source_path ON kb_documents (source_path);

CREATE TABLE kb_chunks (
    id bigserial PRIMARY KEY,
    document_id bigint NOT NULL REFERENCES kb_documents (id) ON DELETE CASCADE,
    org text,                       -- copied from the document so filters need no join
    ordinal integer NOT NULL,
    heading_path text[] NOT NULL DEFAULT '{}',
    context text NOT NULL,          -- title and headings, weighted above the body in full-text search
    body text NOT NULL,
    embedding vector,
    tsv tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', context), 'A') || setweight(to_tsvector('english', body), 'B')
    ) STORED
);
CREATE INDEX kb_chunks_document ON kb_chunks (document_id);
CREATE INDEX kb_chunks_org ON kb_chunks (org) WHERE org IS NOT NULL;
CREATE INDEX kb_chunks_tsv ON kb_chunks USING gin (tsv);

CREATE TABLE kb_gaps (
    id bigserial PRIMARY KEY,
    org text,
    conversation_key text,
    question text NOT NULL,
    reason text NOT NULL CHECK (reason IN ('no_answer', 'low_confidence', 'negative_feedback')),
    detail text,
    embedding vector,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX kb_gaps_created ON kb_gaps (created_at);
