-- pgbench reference for GET /orders/{id}: the statement the store issues for a lookup that
-- arrives alone (src/store/orders.rs fetch_orders, PostgreSQL), with a uniformly random id in
-- 1..:n (-D n=N): one id a transaction. Run with -M prepared, as sqlx prepares and caches
-- every statement. Under load the store puts the ids of concurrent lookups into one such
-- statement (src/store/lookups.rs); this reference stays the one-lookup-one-statement rate.
\set id random(1, :n)
SELECT o.id, o.datetime, o.totalfee_cents, o.version, o.created_at, o.updated_at, (SELECT json_agg(json_build_object('id', s.id, 'name', s.name) ORDER BY s.id)::text FROM order_services os JOIN services s ON s.id = os.service_id WHERE os.order_id = o.id) AS services FROM orders o WHERE o.id IN (:id);
