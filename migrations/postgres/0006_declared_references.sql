-- Order services reference their order and their service by declared foreign keys again, as
-- they did before 0003 and as SQLite's schema always has: deleting an order deletes its
-- services (ON DELETE CASCADE), a service an order names cannot be deleted (ON DELETE
-- RESTRICT), and ids that are named do not change (NO ACTION on update). 0003's statement
-- triggers, which did the same per statement to speed up the import, and their functions go.
-- Adding the keys checks every stored row once: no statement bound for that.
--
-- The store's write lock: every write of the store begins with `SELECT 1 FROM orders_write_lock()`
-- (src/store/write_lock.rs), a transaction-scoped advisory lock whose key is written here and
-- nowhere else; changing the stored gap by hand takes it too (the settings trigger of 0005,
-- redefined here to call it), so such a change queues behind the store's writes instead of
-- deadlocking with them.
SET LOCAL statement_timeout = 0;

DROP TRIGGER order_services_insert_checked ON order_services;
DROP TRIGGER order_services_update_checked ON order_services;
DROP TRIGGER orders_delete_cascades ON orders;
DROP TRIGGER orders_truncate_cascades ON orders;
DROP TRIGGER services_delete_restricted ON services;
DROP TRIGGER services_truncate_restricted ON services;
DROP TRIGGER orders_id_change_restricted ON orders;
DROP TRIGGER services_id_change_restricted ON services;
DROP FUNCTION order_services_name_what_exists();
DROP FUNCTION orders_delete_their_services();
DROP FUNCTION orders_truncate_their_services();
DROP FUNCTION services_delete_unused();
DROP FUNCTION services_truncate_unused();
DROP FUNCTION ids_named_by_order_services_stay();
DROP FUNCTION refuse_reference(TEXT, TEXT, TEXT, TEXT);
DROP FUNCTION order_references_lock();

ALTER TABLE order_services
    ADD CONSTRAINT order_services_order_id_fkey FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE CASCADE,
    ADD CONSTRAINT order_services_service_id_fkey FOREIGN KEY (service_id) REFERENCES services (id) ON DELETE RESTRICT;

-- "orders" in ASCII, 0x6f72_6465_7273: the key 0003 and 0005 took, so a store and a session
-- still running code from before this migration exclude each other too.
CREATE FUNCTION orders_write_lock() RETURNS void LANGUAGE sql AS 'SELECT pg_advisory_xact_lock(122537101324915)';

CREATE OR REPLACE FUNCTION settings_enforce_min_gap() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM orders_write_lock();
    IF EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'orders'::regclass AND conname = 'orders_min_gap') THEN
        ALTER TABLE orders DROP CONSTRAINT orders_min_gap;
    END IF;
    IF NEW.min_gap_ms > 0 THEN
        EXECUTE format('ALTER TABLE orders ADD CONSTRAINT orders_min_gap '
                       'EXCLUDE USING gist (int8range(datetime, datetime + %s) WITH &&)', NEW.min_gap_ms);
    END IF;
    RETURN NULL;
END $$;
