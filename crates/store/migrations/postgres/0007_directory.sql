-- Migration 7 (PostgreSQL): directory sync — the last snapshot each directory flow saw, the persons it
-- created in its target, and the audit log of every change it found.
-- Kept in step with sqlite/0007_directory.sql: only the log's identity column differs.

-- The last (filtered) directory a flow read from its source, as JSON (wfm_model::DirectorySnapshot).
-- Keyed by flow as well as by (tenant, source): two flows reading one source with different
-- filters or targets each compare against what they themselves saw last.
CREATE TABLE directory_snapshots (
    flow      TEXT NOT NULL,
    tenant    TEXT NOT NULL,
    source    TEXT NOT NULL,
    snapshot  TEXT NOT NULL,
    taken_at  BIGINT NOT NULL,
    PRIMARY KEY (flow, tenant, source)
);

-- Persons created in a target account: one per (source account, external user id), whatever
-- sub-tenants of that source the user appears in (seed 000).
CREATE TABLE directory_persons (
    tenant      TEXT NOT NULL,
    target      TEXT NOT NULL,
    source      TEXT NOT NULL,
    external_id TEXT NOT NULL,
    person_id   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant, target, source, external_id)
);

CREATE TABLE directory_log (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant       TEXT NOT NULL,
    flow         TEXT NOT NULL,
    source       TEXT NOT NULL,
    at           BIGINT NOT NULL,
    change       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    before_value TEXT,
    after_value  TEXT,
    action       TEXT NOT NULL,
    person_id    TEXT
);
CREATE INDEX directory_log_by_tenant ON directory_log (tenant, id);
CREATE INDEX directory_log_by_flow ON directory_log (flow, id);
