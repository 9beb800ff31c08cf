-- The scheduling rule in the database (SPEC section 2): the minimum gap is stored here, and the
-- schema enforces it for every writer, SQL typed by hand included.
--
-- settings holds one row (id 1) from the moment a store first opens the database: rules.min_gap
-- of that store's configuration initializes it; afterwards only `orders rules set-gap` (or an
-- UPDATE by hand, checked below) changes it. Every process follows the stored gap, whatever it
-- is configured with. min_gap_ms is whole milliseconds; 0 turns the rule off. Its upper bound
-- (10,000 years) keeps datetime ± min_gap_ms within 64 bits for every datetime the store takes.
CREATE TABLE settings (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    min_gap_ms INTEGER NOT NULL
               CHECK (typeof(min_gap_ms) = 'integer' AND min_gap_ms >= 0 AND min_gap_ms <= 315576000000000)
);

-- No two orders closer than min_gap_ms: |a.datetime - b.datetime| >= min_gap_ms for a <> b.
-- Each inserted row, and each row whose datetime changes, is checked against every other
-- order with one range search on orders_datetime_id (so its cost does not grow with the
-- table). A multi-row statement is checked row by row, each row against the rows before it.
-- The store checks the rule itself first, to name the nearest conflicting order; these
-- triggers are what holds it for every other writer. The message is a literal (older sqlite3
-- shells cannot read a RAISE of an expression), so the store looks the conflict up itself.
-- Without a settings row (a database no store has opened yet) nothing is refused.
CREATE TRIGGER orders_min_gap_insert BEFORE INSERT ON orders
WHEN EXISTS (
    SELECT 1 FROM orders o
    WHERE o.datetime > NEW.datetime - (SELECT min_gap_ms FROM settings WHERE id = 1)
      AND o.datetime < NEW.datetime + (SELECT min_gap_ms FROM settings WHERE id = 1)
      AND o.id <> NEW.id
)
BEGIN
    SELECT RAISE(ABORT, 'orders_min_gap: an order is closer than settings.min_gap_ms to another order');
END;

CREATE TRIGGER orders_min_gap_update BEFORE UPDATE OF datetime ON orders
WHEN EXISTS (
    SELECT 1 FROM orders o
    WHERE o.datetime > NEW.datetime - (SELECT min_gap_ms FROM settings WHERE id = 1)
      AND o.datetime < NEW.datetime + (SELECT min_gap_ms FROM settings WHERE id = 1)
      AND o.id <> OLD.id
)
BEGIN
    SELECT RAISE(ABORT, 'orders_min_gap: an order is closer than settings.min_gap_ms to another order');
END;

-- A gap stored or changed must hold for the orders already there: if no two neighbours in
-- datetime order are too close, no two orders are (one pass over orders_datetime_id).
CREATE TRIGGER settings_min_gap_insert BEFORE INSERT ON settings
WHEN EXISTS (
    SELECT 1 FROM (SELECT datetime - lag(datetime) OVER (ORDER BY datetime) AS step FROM orders) steps
    WHERE steps.step < NEW.min_gap_ms
)
BEGIN
    SELECT RAISE(ABORT, 'orders_min_gap: orders already stored are closer than the new min_gap_ms');
END;

CREATE TRIGGER settings_min_gap_update BEFORE UPDATE OF min_gap_ms ON settings
WHEN EXISTS (
    SELECT 1 FROM (SELECT datetime - lag(datetime) OVER (ORDER BY datetime) AS step FROM orders) steps
    WHERE steps.step < NEW.min_gap_ms
)
BEGIN
    SELECT RAISE(ABORT, 'orders_min_gap: orders already stored are closer than the new min_gap_ms');
END;

-- The rule is turned off by a gap of 0, never by removing it.
CREATE TRIGGER settings_kept BEFORE DELETE ON settings
BEGIN
    SELECT RAISE(ABORT, 'orders_min_gap: the stored rule cannot be deleted; set min_gap_ms to 0 to turn it off');
END;
