-- Migration 3 (SQLite, after the shared 0003_change_feed_outbox_leases.sql): the change counter.
--
-- One row holding the last change sequence handed out. A write transaction that writes records
-- increments it once and stamps all its rows with the new value. The transaction holds SQLite's
-- write lock from BEGIN IMMEDIATE to COMMIT, so no other writer runs in between: numbers are taken
-- and committed in the same order, and a row committed later always has a higher number than any a
-- reader has seen. A transaction that rolls back gives its number back with everything else.
-- Starts at 0: the first transaction stamps 1, after the rows stored before migration 3 (0).

CREATE TABLE change_counter (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value BIGINT NOT NULL
);
INSERT INTO change_counter (id, value) VALUES (1, 0);
