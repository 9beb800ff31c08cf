-- pgbench reference for POST /orders: the checked create's transaction as the store issues it
-- (src/store/orders.rs create_in, src/store/mod.rs begin_write, src/store/history.rs), with
-- two services, as the API load sends. The one difference: the next id is read right after
-- the lock rather than after the gap check, because the datetime is derived from it
-- (:base + id * 4 h, -D base=EPOCH_MS) so that no two clients ever conflict. Every statement
-- is the store's text; run with -M prepared. The insert into orders is checked again by the
-- exclusion constraint of migration 0005, as the store's is.
BEGIN;
SELECT 1 FROM pg_advisory_xact_lock(122537101324915);
SELECT id FROM services WHERE id IN (123, 456);
SELECT max(m) AS m FROM (SELECT max(id) AS m FROM orders UNION ALL SELECT max(order_id) FROM history) ids \gset
\set id :m + 1
\set dt :base + :id * 14400000
SELECT id, datetime, (SELECT min_gap_ms FROM settings WHERE id = 1) FROM orders WHERE datetime > :dt - (SELECT min_gap_ms FROM settings WHERE id = 1) AND datetime < :dt + (SELECT min_gap_ms FROM settings WHERE id = 1) AND id <> 0 ORDER BY abs(datetime - :dt), id LIMIT 1;
INSERT INTO orders (id, datetime, totalfee_cents, version, created_at, updated_at) VALUES (:id, :dt, 9995, 1, :dt, :dt);
INSERT INTO order_services (order_id, service_id) VALUES (:id, 123), (:id, 456);
SELECT o.id, o.datetime, o.totalfee_cents, o.version, o.created_at, o.updated_at, (SELECT json_agg(json_build_object('id', s.id, 'name', s.name) ORDER BY s.id)::text FROM order_services os JOIN services s ON s.id = os.service_id WHERE os.order_id = o.id) AS services FROM orders o WHERE o.id IN (:id);
INSERT INTO history (order_id, kind, actor, at, snapshot) VALUES (:id, 'created', 'bench', :dt, '{"id":1000001,"datetime":"3000-01-01T00:00:00.000Z","totalfee":99.95,"services":[{"id":123,"name":"Inspection"},{"id":456,"name":"Analysis"}],"version":1,"created_at":"2026-11-26T03:00:00.000Z","updated_at":"2026-11-26T03:00:00.000Z"}');
COMMIT;
