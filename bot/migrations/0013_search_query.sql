-- What an answer turn searched the knowledge base for: the message itself, or (for a follow-up such as
-- "And for the EU plug?") the message read with the earlier question of its thread.
ALTER TABLE decisions ADD COLUMN search_query text;
