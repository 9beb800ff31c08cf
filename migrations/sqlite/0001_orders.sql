-- The catalogue, the orders, and their history.
--
-- Instants are INTEGER milliseconds since the Unix epoch (UTC) and money is INTEGER cents, on
-- both backends: exact, index-friendly, and the same SQL text compares them everywhere.

-- Services. name_key is the case-folded name (computed by the application, so both backends
-- fold alike); its UNIQUE index makes names unique case-insensitively.
CREATE TABLE services (
    id       INTEGER PRIMARY KEY CHECK (id >= 1),
    name     TEXT    NOT NULL,
    name_key TEXT    NOT NULL UNIQUE
);

-- Orders. Ids are assigned by the store (never reused: see history) or kept on import.
CREATE TABLE orders (
    id             INTEGER PRIMARY KEY CHECK (id >= 1),
    datetime       INTEGER NOT NULL,
    totalfee_cents INTEGER NOT NULL CHECK (totalfee_cents >= 0 AND totalfee_cents <= 100000000000),
    version        INTEGER NOT NULL CHECK (version >= 1),
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

-- Listing order (datetime, id) and the scheduling rule's range lookup both use this index.
CREATE INDEX orders_datetime_id ON orders (datetime, id);

-- The services of each order. RESTRICT keeps a service from being deleted while in use.
CREATE TABLE order_services (
    order_id   INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    service_id INTEGER NOT NULL REFERENCES services (id) ON DELETE RESTRICT,
    PRIMARY KEY (order_id, service_id)
) WITHOUT ROWID;

-- "Is this service in use?" and the service filter.
CREATE INDEX order_services_service ON order_services (service_id, order_id);

-- History: one row per create, update and delete, written in the change's transaction.
-- seq is assigned under the store's write lock, so it increases in commit order.
CREATE TABLE history (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id INTEGER NOT NULL,
    kind     TEXT    NOT NULL CHECK (kind IN ('created', 'updated', 'deleted')),
    actor    TEXT    NOT NULL,
    at       INTEGER NOT NULL,
    snapshot TEXT    NOT NULL
);

-- An order's history, and the next order id (max over every order that ever existed).
CREATE INDEX history_order_seq ON history (order_id, seq);
