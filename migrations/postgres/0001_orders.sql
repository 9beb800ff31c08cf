-- The catalogue, the orders, and their history.
--
-- Instants are BIGINT milliseconds since the Unix epoch (UTC) and money is BIGINT cents, on
-- both backends: exact, index-friendly, and the same SQL text compares them everywhere.
-- (to_timestamp(datetime / 1000.0) reads an instant as a timestamptz in psql.)

-- Services. name_key is the case-folded name (computed by the application, so both backends
-- fold alike); its UNIQUE index makes names unique case-insensitively.
CREATE TABLE services (
    id       BIGINT PRIMARY KEY CHECK (id >= 1),
    name     TEXT   NOT NULL,
    name_key TEXT   NOT NULL UNIQUE
);

-- Orders. Ids are assigned by the store (never reused: see history) or kept on import.
CREATE TABLE orders (
    id             BIGINT PRIMARY KEY CHECK (id >= 1),
    datetime       BIGINT NOT NULL,
    totalfee_cents BIGINT NOT NULL CHECK (totalfee_cents >= 0 AND totalfee_cents <= 100000000000),
    version        BIGINT NOT NULL CHECK (version >= 1),
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

-- Listing order (datetime, id) and the scheduling rule's range lookup both use this index.
CREATE INDEX orders_datetime_id ON orders (datetime, id);

-- The services of each order. RESTRICT keeps a service from being deleted while in use.
CREATE TABLE order_services (
    order_id   BIGINT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    service_id BIGINT NOT NULL REFERENCES services (id) ON DELETE RESTRICT,
    PRIMARY KEY (order_id, service_id)
);

-- "Is this service in use?" and the service filter.
CREATE INDEX order_services_service ON order_services (service_id, order_id);

-- History: one row per create, update and delete, written in the change's transaction.
-- seq is assigned under the store's write lock (an advisory lock), so it increases in commit
-- order and a change-feed reader polling "seq > N" never skips an event.
CREATE TABLE history (
    seq      BIGSERIAL PRIMARY KEY,
    order_id BIGINT NOT NULL,
    kind     TEXT   NOT NULL CHECK (kind IN ('created', 'updated', 'deleted')),
    actor    TEXT   NOT NULL,
    at       BIGINT NOT NULL,
    snapshot TEXT   NOT NULL
);

-- An order's history, and the next order id (max over every order that ever existed).
CREATE INDEX history_order_seq ON history (order_id, seq);
