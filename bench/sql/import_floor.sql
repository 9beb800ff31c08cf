-- The floor under `orders import` on PostgreSQL: the same rows written by PostgreSQL itself,
-- with no client, no protocol and no parsing. One transaction into the product's own schema
-- (migrated, empty; every index and foreign key in place): the three sample services, :n
-- orders 3 h apart, 1.5 services per order on average (every order has 123, every other one
-- 456 too, as the generated data has 1-2), and one `created` event per order whose snapshot is
-- the order's JSON, as long as the one the product writes. Run with psql -v n=N.
BEGIN;
INSERT INTO services (id, name, name_key) VALUES
    (123, 'Inspection', 'inspection'), (456, 'Analysis', 'analysis'), (789, 'Testing', 'testing');
INSERT INTO orders (id, datetime, totalfee_cents, version, created_at, updated_at)
    SELECT g, 946684800000 + g * 10800000, (g * 7919) % 100000, 1, 1764133200000, 1764133200000
    FROM generate_series(1::bigint, :n) g;
INSERT INTO order_services (order_id, service_id) SELECT g, 123 FROM generate_series(1::bigint, :n) g;
INSERT INTO order_services (order_id, service_id) SELECT g, 456 FROM generate_series(1::bigint, :n, 2) g;
INSERT INTO history (order_id, kind, actor, at, snapshot)
    SELECT g, 'created', 'import', 1764133200000,
           '{"id":' || g || ',"datetime":"2000-01-01T03:00:00.000Z","totalfee":' || (g * 7919) % 1000
           || '.00,"services":[{"id":123,"name":"Inspection"}],"version":1,'
           || '"created_at":"2026-11-26T05:00:00.000Z","updated_at":"2026-11-26T05:00:00.000Z"}'
    FROM generate_series(1::bigint, :n) g;
COMMIT;
