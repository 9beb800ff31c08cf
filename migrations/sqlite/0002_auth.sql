-- Refresh tokens and idempotency keys for the HTTP API.
--
-- Instants are INTEGER epoch milliseconds, as in 0001 (BIGINT on PostgreSQL).

-- Refresh tokens: opaque random strings handed out once; only their SHA-256 (hex) is kept.
-- Single use: rotating one sets used_at and issues a successor in the same family. Presenting
-- a used token again revokes the whole family (revoked_at on every member).
CREATE TABLE refresh_tokens (
    token_hash TEXT   PRIMARY KEY,
    subject    TEXT   NOT NULL,
    role       TEXT   NOT NULL,
    family     TEXT   NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    revoked_at INTEGER
);

-- Revoking a family, and every token of a subject (`orders token revoke`).
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_subject ON refresh_tokens (subject);

-- Idempotency keys of `POST /orders`, scoped to the token subject and kept 24 h. The first
-- completed response (status below 500) is kept whole and replayed for a repeat with the same
-- request_hash (SHA-256 of the canonical JSON body).
CREATE TABLE idempotency_keys (
    subject      TEXT   NOT NULL,
    key          TEXT   NOT NULL,
    request_hash TEXT   NOT NULL,
    status       INTEGER NOT NULL,
    headers      TEXT   NOT NULL, -- JSON array of [name, value] pairs
    body         TEXT   NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (subject, key)
);

-- Purging expired keys.
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
