-- An order's services must belong to an existing order: checked once per statement instead of
-- once per row.
--
-- The declared key order_services.order_id → orders.id checked every inserted row on its
-- own: one lookup per row, and a FOR KEY SHARE lock on the order, which for an order written
-- in the same transaction (every create and import) writes its row again, with a WAL record.
-- That was most of a PostgreSQL import: PostgreSQL itself wrote 1M imported orders
-- (bench/sql/import_floor.sql) in 19-25 s with the key and 13 s without it. The triggers
-- below keep the same rules with one anti-join per statement (an import writes 256 rows per
-- statement): a row naming no order is refused with the key's own error (SQLSTATE 23503, so
-- the store classifies it as before), deleting orders deletes their services (ON DELETE
-- CASCADE), truncating orders truncates them too, and the id of an order that has services
-- does not change (NO ACTION). The key to services stays declared: it costs a third as much
-- (the catalogue's few rows are locked once per transaction) and its RESTRICT is what the
-- catalogue's "in use" rests on.
--
-- Concurrency. Instead of row locks, each check first takes the store's write lock: the
-- transaction-scoped advisory lock that every write of the product takes before anything
-- else (src/store/mod.rs, POSTGRES_WRITE_LOCK = 0x6f72_6465_7273 = 122537101324915; taking it
-- again is free). A check and any change it could race with are therefore serialized, and
-- the check's query, run after the lock in READ COMMITTED, sees whatever the other committed.
-- That argument needs READ COMMITTED (under REPEATABLE READ the snapshot predates the lock),
-- so in other isolation levels these writes are refused with a message saying so; the store
-- writes in READ COMMITTED explicitly.

CREATE FUNCTION order_references_lock() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'order services and deletes of orders are written in READ COMMITTED only'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'their references are checked per statement under the orders write lock '
                         '(migrations/postgres/0003_order_references.sql)';
    END IF;
    PERFORM pg_advisory_xact_lock(122537101324915);
END $$;

-- What a violated key raises: SQLSTATE 23503 with the key's message, detail, table and name,
-- so that the store and other clients classify it as they did the declared keys'.
CREATE FUNCTION refuse_reference(message TEXT, detail TEXT, on_table TEXT, key_name TEXT) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = message, ERRCODE = 'foreign_key_violation', DETAIL = detail,
                          TABLE = on_table, CONSTRAINT = key_name;
END $$;

-- Inserted or updated order_services rows (the statement's new rows: `added`) name an
-- existing order and an existing service.
CREATE FUNCTION order_services_name_what_exists() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing BIGINT;
BEGIN
    PERFORM order_references_lock();
    SELECT a.order_id INTO missing FROM added a
        WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = a.order_id) LIMIT 1;
    IF FOUND THEN
        PERFORM refuse_reference('insert or update on table "order_services" violates foreign key constraint "order_services_order_id_fkey"',
                                 format('Key (order_id)=(%s) is not present in table "orders".', missing),
                                 'order_services', 'order_services_order_id_fkey');
    END IF;
    SELECT a.service_id INTO missing FROM added a
        WHERE NOT EXISTS (SELECT 1 FROM services s WHERE s.id = a.service_id) LIMIT 1;
    IF FOUND THEN
        PERFORM refuse_reference('insert or update on table "order_services" violates foreign key constraint "order_services_service_id_fkey"',
                                 format('Key (service_id)=(%s) is not present in table "services".', missing),
                                 'order_services', 'order_services_service_id_fkey');
    END IF;
    RETURN NULL;
END $$;

-- Deleted orders (`removed`) take their services with them (ON DELETE CASCADE).
CREATE FUNCTION orders_delete_their_services() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM order_references_lock();
    DELETE FROM order_services WHERE order_id IN (SELECT id FROM removed);
    RETURN NULL;
END $$;

-- Truncated orders too.
CREATE FUNCTION orders_truncate_their_services() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM order_references_lock();
    TRUNCATE order_services;
    RETURN NULL;
END $$;

-- Deleted services (`removed`) that an order still names are refused (ON DELETE RESTRICT).
CREATE FUNCTION services_delete_unused() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    used BIGINT;
BEGIN
    PERFORM order_references_lock();
    SELECT os.service_id INTO used FROM order_services os WHERE os.service_id IN (SELECT id FROM removed) LIMIT 1;
    IF FOUND THEN
        PERFORM refuse_reference('update or delete on table "services" violates foreign key constraint "order_services_service_id_fkey" on table "order_services"',
                                 format('Key (id)=(%s) is still referenced from table "order_services".', used),
                                 'services', 'order_services_service_id_fkey');
    END IF;
    RETURN NULL;
END $$;

-- Truncated services, while any order names one (checked once the whole TRUNCATE is done, so
-- `TRUNCATE services, order_services` passes).
CREATE FUNCTION services_truncate_unused() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM order_references_lock();
    IF EXISTS (SELECT 1 FROM order_services) THEN
        PERFORM refuse_reference('cannot truncate table "services": order_services still names its services',
                                 'Table "order_services" is not empty.', 'services', 'order_services_service_id_fkey');
    END IF;
    RETURN NULL;
END $$;

-- An order or a service whose id changed while order_services still names the old one (the
-- keys' NO ACTION on update). Row triggers: only an UPDATE that sets id runs them.
CREATE FUNCTION ids_named_by_order_services_stay() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    column_name TEXT := CASE TG_TABLE_NAME WHEN 'orders' THEN 'order_id' ELSE 'service_id' END;
    key_name TEXT := format('order_services_%s_fkey', column_name);
    still_named BOOLEAN;
BEGIN
    PERFORM order_references_lock();
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM order_services WHERE %I = $1)'
                   ' AND NOT EXISTS (SELECT 1 FROM %I WHERE id = $1)', column_name, TG_TABLE_NAME)
        INTO still_named USING OLD.id;
    IF still_named THEN
        PERFORM refuse_reference(format('update on table "%s" violates foreign key constraint "%s" on table "order_services"',
                                        TG_TABLE_NAME, key_name),
                                 format('Key (id)=(%s) is still referenced from table "order_services".', OLD.id),
                                 TG_TABLE_NAME, key_name);
    END IF;
    RETURN NULL;
END $$;

ALTER TABLE order_services
    DROP CONSTRAINT order_services_order_id_fkey,
    DROP CONSTRAINT order_services_service_id_fkey;

-- PostgreSQL allows a transition table on a trigger of one event only: one trigger per event.
CREATE TRIGGER order_services_insert_checked AFTER INSERT ON order_services
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION order_services_name_what_exists();
CREATE TRIGGER order_services_update_checked AFTER UPDATE ON order_services
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION order_services_name_what_exists();
CREATE TRIGGER orders_delete_cascades AFTER DELETE ON orders
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION orders_delete_their_services();
CREATE TRIGGER orders_truncate_cascades AFTER TRUNCATE ON orders
    FOR EACH STATEMENT EXECUTE FUNCTION orders_truncate_their_services();
CREATE TRIGGER services_delete_restricted AFTER DELETE ON services
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION services_delete_unused();
CREATE TRIGGER services_truncate_restricted AFTER TRUNCATE ON services
    FOR EACH STATEMENT EXECUTE FUNCTION services_truncate_unused();
CREATE TRIGGER orders_id_change_restricted AFTER UPDATE OF id ON orders
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION ids_named_by_order_services_stay();
CREATE TRIGGER services_id_change_restricted AFTER UPDATE OF id ON services
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id) EXECUTE FUNCTION ids_named_by_order_services_stay();
