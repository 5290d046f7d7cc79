-- Migration 2 (PostgreSQL): runs of flows and the outbox of messages to send.
-- Kept in step with sqlite/0002_runs_outbox.sql: only the identity columns and the payload's type
-- differ (SQLite: INTEGER PRIMARY KEY AUTOINCREMENT and BLOB; PostgreSQL: identity and BYTEA).

CREATE TABLE runs (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    flow           TEXT NOT NULL,
    started_at     BIGINT NOT NULL,
    ended_at       BIGINT,
    status         TEXT NOT NULL,
    read_count     BIGINT NOT NULL DEFAULT 0,
    sent_count     BIGINT NOT NULL DEFAULT 0,
    rejected_count BIGINT NOT NULL DEFAULT 0,
    error          TEXT
);
CREATE INDEX runs_by_flow ON runs (flow, started_at);

CREATE TABLE outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    flow            TEXT NOT NULL,
    message_key     TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    payload         BYTEA NOT NULL,
    content_type    TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'dead', 'superseded')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
-- The delivery worker asks for the pending messages that are due, oldest first.
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_by_message ON outbox (flow, message_key);
