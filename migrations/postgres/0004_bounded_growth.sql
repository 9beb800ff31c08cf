-- Indexes for the bounded growth of SPEC section 8 (src/store/tokens.rs, idempotency.rs).

-- Purging refresh-token families once they expire (every token of a family shares its
-- expires_at, set at its first issue), a bounded batch at a time, oldest expiry first.
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

-- Keeping each subject's idempotency keys to a bounded number: its newest, by (created_at,
-- key), are found by walking this index backwards from the subject's end.
CREATE INDEX idempotency_keys_subject_created ON idempotency_keys (subject, created_at, key);
