-- Cards that never lie: every state change of an approval bumps its version, and a posted card remembers
-- the version it last showed, so a refresh only ever replaces a card with a newer state (compare-and-set).
-- The approval also keeps the customer message that started its workflow, for the card's "In their words".
ALTER TABLE approvals ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE approvals ADD COLUMN request_text text;
ALTER TABLE chat_cards ADD COLUMN rendered_version integer NOT NULL DEFAULT 0;
