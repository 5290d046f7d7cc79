-- Migration 3: the change feed of the record tables, outbox file names, run leases, and the
-- indexes the delivery worker and the scheduler need.
--
-- Portable SQL, run as is on SQLite and PostgreSQL (each backend adds a file of its own after it;
-- see sqlite/ and postgres/).
--
-- Change feed (`Store::changes`). Every record table gets `change_seq`, the number of the
-- transaction that inserted or last actually changed the row (stamped by the same rule as
-- `changed_at`: an upsert that changes nothing touches nothing). SQLite: a counter taken by each
-- write transaction (writers are serialised, so the numbers are in commit order). PostgreSQL: the
-- writing transaction's id, read back only below the oldest transaction still running. The
-- directory tables (tenants, queues, agents) also get `changed_at`, so that flows can follow
-- directory changes as they follow segments and states.
--
-- Rows stored before this migration get change_seq 0 and (directory tables) changed_at 0,
-- "before the feed began": a feed read from its start (seq 0) returns them first, in key order.
-- Constant defaults keep the migration a change of the catalogue only: no table is rewritten.

ALTER TABLE tenants ADD COLUMN changed_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE queues ADD COLUMN changed_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE queues ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE agents ADD COLUMN changed_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE agents ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE segments ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE states ADD COLUMN change_seq BIGINT NOT NULL DEFAULT 0;

-- A feed is read per tenant in (change_seq, natural key) order, from a cursor.
CREATE INDEX tenants_by_change ON tenants (change_seq, tenant);
CREATE INDEX queues_by_change ON queues (tenant, change_seq, queue);
CREATE INDEX agents_by_change ON agents (tenant, change_seq, agent);
CREATE INDEX segments_by_change ON segments (tenant, change_seq, contact_id, seq);
CREATE INDEX states_by_change ON states (tenant, change_seq, agent, at);

-- The file name a file target writes a message to.
ALTER TABLE outbox ADD COLUMN name TEXT NOT NULL DEFAULT '';

-- A claim takes the due pending messages that are first of their (flow, key), most overdue
-- first. Sent messages pile up by the million while a few thousand are pending: these partial
-- indexes hold pending rows only, so a claim walks the due messages in the order it wants them and
-- probes each one's key, and never reads a sent row. (Both backends have partial indexes.)
CREATE INDEX outbox_pending_due ON outbox (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX outbox_pending_by_key ON outbox (flow, message_key, id) WHERE status = 'pending';
-- They replace migration 2's indexes on every row: outbox_due changed with every status change
-- (one per message sent), which made marking a message sent about a third slower on SQLite;
-- outbox_by_message served only the pending rows that outbox_pending_by_key now holds.
DROP INDEX outbox_due;
DROP INDEX outbox_by_message;
-- An operator's listing of one flow, newest first. Not on status, so that sending a message does
-- not touch it; the depth per flow and state (metrics) reads the table.
CREATE INDEX outbox_by_flow ON outbox (flow, id);

-- A running run holds its flow until `lease_until` (epoch ms); the process running it renews the
-- lease, and a run whose lease ran out is ended as abandoned by the next start. NULL: a run
-- started before this migration, treated as expired.
ALTER TABLE runs ADD COLUMN lease_until BIGINT;
CREATE INDEX runs_running ON runs (flow) WHERE status = 'running';
-- A flow's runs, newest first.
CREATE INDEX runs_by_flow_id ON runs (flow, id);
