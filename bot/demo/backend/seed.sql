-- Seed data of the Acme Gadgets demo back end (tables from migration 0004_demo_backend).
-- Ids are fixed: tests and docs refer to them. Times are offsets from midnight of the day the
-- seed runs, so the demo stays current (a parcel "delivered 5 days ago" is always inside the
-- 30-day return window). Amounts are integer cents in USD. Loaded into empty tables by
-- DemoBackend.ensure_seeded() and DemoBackend.reset_demo_data().

INSERT INTO demo.customers (id, org, name, email, tier, created_at)
SELECT c.id, c.org, c.name, c.email, c.tier, date_trunc('day', now()) + c.created
FROM (VALUES
    ('cus_1001', NULL, 'Jane Cooper', 'jane.cooper@example.com', 'plus', interval '-702 days +09:12'),
    ('cus_1002', NULL, 'Omar Haddad', 'omar.haddad@example.com', 'standard', interval '-388 days +20:41'),
    ('cus_1003', NULL, 'Priya Natarajan', 'priya.natarajan@example.net', 'plus', interval '-915 days +07:55'),
    ('cus_1004', NULL, 'Lucas Meyer', 'lucas.meyer@example.org', 'standard', interval '-120 days +18:03'),
    ('cus_1005', NULL, 'Grace Kim', 'grace.kim@example.com', 'standard', interval '-530 days +12:30'),
    ('cus_1006', NULL, 'Diego Alvarez', 'diego.alvarez@example.com', 'plus', interval '-266 days +21:17'),
    ('cus_1007', NULL, 'Hannah Schultz', 'hannah.schultz@example.net', 'standard', interval '-61 days +10:48'),
    ('cus_1008', NULL, 'Tom Becker', 'tom.becker@example.org', 'plus', interval '-433 days +16:22'),
    ('cus_1009', NULL, 'Amara Okoye', 'amara.okoye@example.com', 'standard', interval '-45 days +08:36'),
    ('cus_1010', 'globex', 'Marcus Webb', 'marcus.webb@globex.example', 'business', interval '-510 days +15:00'),
    ('cus_1011', 'globex', 'Carla Jensen', 'carla.jensen@globex.example', 'business', interval '-300 days +14:10'),
    ('cus_1012', 'initech', 'Peter Gibbons', 'peter.gibbons@initech.example', 'business', interval '-190 days +11:25')
) AS c (id, org, name, email, tier, created);

-- placed / shipped / delivered / cancelled are offsets; payments are captured when the order ships.
CREATE TEMPORARY TABLE demo_seed_orders ON COMMIT DROP AS
SELECT * FROM (VALUES
    ('A-10220', 'cus_1001', 'delivered', 19900, interval '-41 days +10:14', interval '-40 days +16:30',
     interval '-37 days +13:05', NULL::interval, 'UPS', '1Z4A72W90312345671', 'card', '4242'),
    ('A-10221', 'cus_1002', 'delivered', 6278, interval '-38 days +19:02', interval '-37 days +15:45',
     interval '-34 days +11:20', NULL, 'USPS', '9400111899223344556677', 'paypal', NULL),
    ('A-10222', 'cus_1003', 'delivered', 17900, interval '-33 days +08:40', interval '-32 days +17:10',
     interval '-30 days +14:55', NULL, 'UPS', '1Z4A72W90312345682', 'card', '1881'),
    ('A-10223', 'cus_1010', 'delivered', 642900, interval '-30 days +09:00', interval '-28 days +16:00',
     interval '-26 days +10:30', NULL, 'UPS', '1Z4A72W90312345693', 'card', '0005'),
    ('A-10224', 'cus_1004', 'cancelled', 4499, interval '-27 days +21:33', NULL,
     NULL, interval '-27 days +22:02', NULL, NULL, 'card', '5100'),
    ('A-10225', 'cus_1005', 'delivered', 4399, interval '-24 days +12:18', interval '-23 days +16:40',
     interval '-20 days +12:15', NULL, 'USPS', '9400111899223344556684', 'klarna', NULL),
    ('A-10226', 'cus_1006', 'delivered', 25800, interval '-21 days +20:05', interval '-20 days +15:20',
     interval '-18 days +13:40', NULL, 'UPS', '1Z4A72W90312345704', 'card', '8431'),
    ('A-10227', 'cus_1007', 'delivered', 3498, interval '-19 days +07:50', interval '-18 days +16:05',
     interval '-15 days +15:30', NULL, 'USPS', '9400111899223344556691', 'card', '3220'),
    ('A-10228', 'cus_1012', 'delivered', 129000, interval '-17 days +10:45', interval '-16 days +15:55',
     interval '-14 days +09:50', NULL, 'UPS', '1Z4A72W90312345715', 'card', '7007'),
    ('A-10229', 'cus_1008', 'delivered', 8900, interval '-14 days +18:25', interval '-13 days +16:15',
     interval '-11 days +14:10', NULL, 'UPS', '1Z4A72W90312345726', 'paypal', NULL),
    ('A-10230', 'cus_1009', 'cancelled', 12900, interval '-12 days +09:30', NULL,
     NULL, interval '-12 days +09:58', NULL, NULL, 'paypal', NULL),
    ('A-10231', 'cus_1001', 'delivered', 16800, interval '-9 days +11:02', interval '-8 days +16:45',
     interval '-5 days +12:20', NULL, 'UPS', '1Z4A72W90312345737', 'card', '4242'),
    ('A-10232', 'cus_1011', 'shipped', 1180800, interval '-8 days +14:00', interval '-6 days +17:00',
     NULL, NULL, 'UPS', '1Z4A72W90312345748', 'card', '1117'),
    ('A-10233', 'cus_1002', 'shipped', 4298, interval '-6 days +20:12', interval '-4 days +16:20',
     NULL, NULL, 'USPS', '9400111899223344556707', 'paypal', NULL),
    ('A-10234', 'cus_1003', 'shipped', 12900, interval '-5 days +07:35', interval '-3 days +15:50',
     NULL, NULL, 'UPS', '1Z4A72W90312345759', 'card', '1881'),
    ('A-10235', 'cus_1005', 'delivered', 7800, interval '-7 days +13:44', interval '-6 days +16:10',
     interval '-3 days +11:45', NULL, 'USPS', '9400111899223344556714', 'klarna', NULL),
    ('A-10236', 'cus_1006', 'packed', 5800, interval '-2 days +08:20', NULL,
     NULL, NULL, NULL, NULL, 'card', '8431'),
    ('A-10237', 'cus_1004', 'packed', 17900, interval '-2 days +19:40', NULL,
     NULL, NULL, NULL, NULL, 'card', '5100'),
    ('A-10238', 'cus_1007', 'cancelled', 3999, interval '-4 days +10:05', NULL,
     NULL, interval '-3 days +09:15', NULL, NULL, 'card', '3220'),
    ('A-10239', 'cus_1010', 'packed', 205000, interval '-3 days +15:30', NULL,
     NULL, NULL, NULL, NULL, 'card', '0005'),
    ('A-10240', 'cus_1001', 'placed', 4798, interval '-1 days +09:40', NULL,
     NULL, NULL, NULL, NULL, 'card', '4242'),
    ('A-10241', 'cus_1008', 'placed', 21800, interval '-1 days +12:55', NULL,
     NULL, NULL, NULL, NULL, 'klarna', NULL),
    ('A-10242', 'cus_1009', 'placed', 3900, interval '-1 days +17:20', NULL,
     NULL, NULL, NULL, NULL, 'card', '9120'),
    ('A-10243', 'cus_1012', 'shipped', 64500, interval '-4 days +11:10', interval '-2 days +16:35',
     NULL, NULL, 'UPS', '1Z4A72W90312345760', 'card', '7007'),
    ('A-10244', 'cus_1003', 'placed', 3498, interval '-1 days +21:05', NULL,
     NULL, NULL, NULL, NULL, 'card', '1881')
) AS o (id, customer_id, status, total_cents, placed, shipped, delivered, cancelled, carrier, tracking_number,
        method, card_last4);

INSERT INTO demo.orders (id, customer_id, status, total_cents, currency, placed_at, shipped_at, delivered_at,
                         cancelled_at, tracking_number, carrier)
SELECT id, customer_id, status, total_cents, 'USD', date_trunc('day', now()) + placed,
       date_trunc('day', now()) + shipped, date_trunc('day', now()) + delivered,
       date_trunc('day', now()) + cancelled, tracking_number, carrier
FROM demo_seed_orders;

-- A cancelled order only ever had its authorisation released: no payment row.
INSERT INTO demo.payments (id, order_id, amount_cents, method, card_last4, captured_at)
SELECT 'pay_' || substr(id, 3), id, total_cents, method, card_last4, date_trunc('day', now()) + shipped
FROM demo_seed_orders
WHERE status <> 'cancelled';

INSERT INTO demo.refunds (id, order_id, amount_cents, reason, status, idempotency_key, created_at, reversed_at)
SELECT r.id, r.order_id, r.amount_cents, r.reason, r.status, r.idempotency_key,
       date_trunc('day', now()) + r.created, date_trunc('day', now()) + r.reversed
FROM (VALUES
    (1, 'A-10221', 6278, 'Returned unopened within 30 days', 'issued', 'seed-refund-1',
     interval '-30 days +10:00', NULL::interval),
    (2, 'A-10222', 2000, 'Goodwill credit for a late delivery', 'reversed', 'seed-refund-2',
     interval '-29 days +15:00', interval '-28 days +09:30'),
    (3, 'A-10226', 3900, 'Motion Sensor returned from a Starter Kit', 'issued', 'seed-refund-3',
     interval '-12 days +14:20', NULL)
) AS r (id, order_id, amount_cents, reason, status, idempotency_key, created, reversed);

INSERT INTO demo.email_changes (id, customer_id, old_email, new_email, idempotency_key, created_at)
VALUES (1, 'cus_1005', 'grace.kim@oldmail.example', 'grace.kim@example.com', 'seed-email-change-1',
        date_trunc('day', now()) + interval '-60 days +18:45');

SELECT setval(pg_get_serial_sequence('demo.refunds', 'id'), (SELECT max(id) FROM demo.refunds));
SELECT setval(pg_get_serial_sequence('demo.email_changes', 'id'), (SELECT max(id) FROM demo.email_changes));
