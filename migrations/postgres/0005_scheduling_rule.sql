-- The scheduling rule in the database (SPEC section 2): the minimum gap is stored here, and the
-- schema enforces it for every writer, SQL typed by hand included.
--
-- settings holds one row (id 1) from the moment a store first opens the database: rules.min_gap
-- of that store's configuration initializes it; afterwards only `orders rules set-gap` (or an
-- UPDATE by hand, which does the same below) changes it. Every process follows the stored gap,
-- whatever it is configured with. min_gap_ms is whole milliseconds; 0 turns the rule off. Its
-- upper bound (10,000 years) keeps datetime + min_gap_ms within 64 bits for every datetime the
-- store takes.
CREATE TABLE settings (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    min_gap_ms BIGINT  NOT NULL CHECK (min_gap_ms >= 0 AND min_gap_ms <= 315576000000000)
);

-- No two orders closer than min_gap_ms is the exclusion constraint orders_min_gap:
--
--     EXCLUDE USING gist (int8range(datetime, datetime + <min_gap_ms>) WITH &&)
--
-- The half-open ranges [a, a + gap) and [b, b + gap) overlap exactly when |a - b| < gap, so two
-- orders exactly min_gap_ms apart are allowed and 1 ms closer is refused (SQLSTATE 23P01, both
-- keys in DETAIL). A constraint takes no parameter, so the gap is a literal in it: storing or
-- changing the gap drops the constraint and adds it again, in the same transaction, which
-- checks every order already stored (the change is refused, and nothing changes, when two are
-- too close). A gap of 0 has no constraint at all (its ranges would be empty, which never
-- overlap, and the index would cost every write for nothing).
--
-- Concurrency. The constraint's index search sees uncommitted rows of other transactions and
-- waits for them, so no two concurrent writers, whatever locks they take, can both commit
-- orders too close. Changing the gap locks orders (ACCESS EXCLUSIVE) while the constraint is
-- rebuilt: reads and writes of orders wait until the change commits. The store's write lock
-- (the advisory lock of 0003) is taken first, as every write of the store takes it, so a
-- change by hand queues behind the store's writes instead of deadlocking with them.
CREATE FUNCTION settings_enforce_min_gap() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(122537101324915);
    IF EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = 'orders'::regclass AND conname = 'orders_min_gap') THEN
        ALTER TABLE orders DROP CONSTRAINT orders_min_gap;
    END IF;
    IF NEW.min_gap_ms > 0 THEN
        EXECUTE format('ALTER TABLE orders ADD CONSTRAINT orders_min_gap '
                       'EXCLUDE USING gist (int8range(datetime, datetime + %s) WITH &&)', NEW.min_gap_ms);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER settings_min_gap AFTER INSERT OR UPDATE OF min_gap_ms ON settings
    FOR EACH ROW EXECUTE FUNCTION settings_enforce_min_gap();

-- The rule is turned off by a gap of 0, never by removing it.
CREATE FUNCTION settings_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the stored scheduling rule cannot be deleted; set min_gap_ms to 0 to turn it off'
        USING ERRCODE = 'restrict_violation', TABLE = 'settings';
END $$;

CREATE TRIGGER settings_kept BEFORE DELETE ON settings FOR EACH ROW EXECUTE FUNCTION settings_kept();
CREATE TRIGGER settings_kept_truncate BEFORE TRUNCATE ON settings FOR EACH STATEMENT EXECUTE FUNCTION settings_kept();
