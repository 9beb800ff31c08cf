-- pgbench reference for GET /orders/{id}: the statement the store issues for one order
-- (src/store/orders.rs, select_by_id for PostgreSQL), with a uniformly random id in 1..:n
-- (-D n=N). Run with -M prepared, as sqlx prepares and caches every statement.
\set id random(1, :n)
SELECT o.id, o.datetime, o.totalfee_cents, o.version, o.created_at, o.updated_at, (SELECT json_agg(json_build_object('id', s.id, 'name', s.name) ORDER BY s.id)::text FROM order_services os JOIN services s ON s.id = os.service_id WHERE os.order_id = o.id) AS services FROM orders o WHERE o.id = :id;
