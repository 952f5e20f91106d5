-- Observability: every decision and audit row names the OpenTelemetry trace it happened in, so an operator
-- can go from a card or `supportbot explain` to the trace; a stored inbound event carries the W3C
-- traceparent of the request that stored it, so its turn (run later, maybe by another process) continues
-- that trace.
ALTER TABLE decisions ADD COLUMN trace_id text;
-- the turn's span: a later approval click links to it (an OpenTelemetry span link)
ALTER TABLE decisions ADD COLUMN trace_span_id text;
-- personal data taken out of what the model was sent for answering (LLM_REDACT_PII): the kinds, e.g. {email}
ALTER TABLE decisions ADD COLUMN redacted_for_model text[];
ALTER TABLE audit_log ADD COLUMN trace_id text;
ALTER TABLE inbound_events ADD COLUMN traceparent text;
CREATE INDEX decisions_trace ON decisions (trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX audit_log_trace ON audit_log (trace_id) WHERE trace_id IS NOT NULL;
