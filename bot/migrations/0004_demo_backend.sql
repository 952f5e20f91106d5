-- The demo back end of the sample company Acme Gadgets: customers, orders, payments, refunds
-- and e-mail changes the demo executor acts on. Tables only: the seed data lives in
-- escalation/demo_seed.sql and is loaded by DemoBackend.ensure_seeded() / reset_demo_data().
CREATE SCHEMA demo;

CREATE TABLE demo.customers (
    id text PRIMARY KEY,                -- 'cus_1001'
    org text,                           -- business customers: the tenant, e.g. 'globex'; NULL for consumers
    name text NOT NULL,
    email text NOT NULL UNIQUE,         -- stored lower-case
    tier text NOT NULL CHECK (tier IN ('standard', 'plus', 'business')),
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((tier = 'business') = (org IS NOT NULL))
);

CREATE TABLE demo.orders (
    id text PRIMARY KEY,                -- 'A-10231'
    customer_id text NOT NULL REFERENCES demo.customers (id),
    status text NOT NULL CHECK (status IN ('placed', 'packed', 'shipped', 'delivered', 'cancelled')),
    total_cents integer NOT NULL CHECK (total_cents >= 0),
    currency text NOT NULL DEFAULT 'USD',
    placed_at timestamptz NOT NULL,
    shipped_at timestamptz,
    delivered_at timestamptz,
    cancelled_at timestamptz,
    tracking_number text,
    carrier text
);
CREATE INDEX orders_customer ON demo.orders (customer_id, placed_at);

-- A payment is authorised when the order is placed and captured when it ships (as the help
-- centre says for cards); only a captured payment can be refunded.
CREATE TABLE demo.payments (
    id text PRIMARY KEY,                -- 'pay_10231'
    order_id text NOT NULL UNIQUE REFERENCES demo.orders (id),
    amount_cents integer NOT NULL CHECK (amount_cents > 0),
    method text NOT NULL CHECK (method IN ('card', 'paypal', 'klarna')),
    card_last4 text CHECK (card_last4 ~ '^[0-9]{4}$'),
    captured_at timestamptz,
    CHECK ((method = 'card') = (card_last4 IS NOT NULL))
);

CREATE TABLE demo.refunds (
    id bigserial PRIMARY KEY,
    order_id text NOT NULL REFERENCES demo.orders (id),
    amount_cents integer NOT NULL CHECK (amount_cents > 0),
    reason text NOT NULL,
    status text NOT NULL DEFAULT 'issued' CHECK (status IN ('issued', 'reversed')),
    idempotency_key text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    reversed_at timestamptz,
    CHECK ((status = 'reversed') = (reversed_at IS NOT NULL))
);
CREATE INDEX refunds_order ON demo.refunds (order_id);

CREATE TABLE demo.email_changes (
    id bigserial PRIMARY KEY,
    customer_id text NOT NULL REFERENCES demo.customers (id),
    old_email text NOT NULL,
    new_email text NOT NULL,
    idempotency_key text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    reverted_at timestamptz
);
CREATE INDEX email_changes_customer ON demo.email_changes (customer_id);

-- Exactly once: an action claims its idempotency key in the same transaction that changes the
-- data, so a replay finds the stored result and a crash leaves neither the claim nor the change.
CREATE TABLE demo.executed_actions (
    idempotency_key text PRIMARY KEY,
    action text NOT NULL,
    params jsonb NOT NULL,
    result jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
