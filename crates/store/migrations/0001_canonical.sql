-- Migration 1: the canonical records (DESIGN §4) and the engine's cursors.
--
-- Portable SQL, run as is on SQLite and PostgreSQL: TEXT, BIGINT and BOOLEAN only (SQLite stores
-- BOOLEAN as INTEGER 0/1). Every table is scoped by `tenant` and keyed by the record's natural key.
-- Timestamps are BIGINT milliseconds since the Unix epoch, UTC. `changed_at` is the wall-clock
-- millisecond at which a row was inserted or last actually changed: later stages use it to find the
-- days whose statistics need recomputing. Key columns compare byte-wise on both backends (see the
-- PostgreSQL prelude, postgres/0001_collation.sql).

CREATE TABLE tenants (
    tenant           TEXT COLLATE "binary" NOT NULL,
    name             TEXT NOT NULL,
    time_zone        TEXT NOT NULL,
    interval_minutes BIGINT NOT NULL,
    admin_reasons    TEXT NOT NULL, -- JSON array of strings
    PRIMARY KEY (tenant)
);

CREATE TABLE queues (
    tenant                TEXT COLLATE "binary" NOT NULL,
    queue                 TEXT COLLATE "binary" NOT NULL,
    name                  TEXT NOT NULL,
    sl_seconds            BIGINT NOT NULL,
    short_abandon_seconds BIGINT NOT NULL,
    PRIMARY KEY (tenant, queue)
);

-- Derived from agents' `team`: the team id is the team text, and so is its name.
CREATE TABLE teams (
    tenant TEXT COLLATE "binary" NOT NULL,
    team   TEXT COLLATE "binary" NOT NULL,
    name   TEXT NOT NULL,
    PRIMARY KEY (tenant, team)
);

-- An agent's skills live in agent_skills; see there.
CREATE TABLE agents (
    tenant     TEXT COLLATE "binary" NOT NULL,
    agent      TEXT COLLATE "binary" NOT NULL,
    first_name TEXT NOT NULL,
    last_name  TEXT NOT NULL,
    email      TEXT,
    team       TEXT,
    active     BOOLEAN NOT NULL,
    PRIMARY KEY (tenant, agent)
);

-- Skill ids are queue ids; a skill exists once any agent has had it.
CREATE TABLE skills (
    tenant TEXT COLLATE "binary" NOT NULL,
    skill  TEXT COLLATE "binary" NOT NULL,
    PRIMARY KEY (tenant, skill)
);

-- `ordinal` keeps the order in which the agent record listed its skills, so that an agent reads
-- back exactly as written.
CREATE TABLE agent_skills (
    tenant  TEXT COLLATE "binary" NOT NULL,
    agent   TEXT COLLATE "binary" NOT NULL,
    skill   TEXT COLLATE "binary" NOT NULL,
    ordinal BIGINT NOT NULL,
    PRIMARY KEY (tenant, agent, skill)
);
CREATE INDEX agent_skills_by_skill ON agent_skills (tenant, skill);

CREATE TABLE segments (
    tenant       TEXT COLLATE "binary" NOT NULL,
    contact_id   TEXT COLLATE "binary" NOT NULL,
    seq          BIGINT NOT NULL,
    channel      TEXT NOT NULL,
    direction    TEXT NOT NULL,
    queue        TEXT,
    offered_at   BIGINT NOT NULL,
    answered_at  BIGINT,
    abandoned_at BIGINT,
    overflowed   BOOLEAN NOT NULL,
    agent        TEXT,
    talk_s       BIGINT NOT NULL,
    hold_s       BIGINT NOT NULL,
    acw_s        BIGINT NOT NULL,
    transferred  BOOLEAN NOT NULL,
    metadata     TEXT, -- JSON object of strings; NULL when there is none
    changed_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant, contact_id, seq)
);
CREATE INDEX segments_by_offered_at ON segments (tenant, offered_at);
CREATE INDEX segments_by_changed_at ON segments (tenant, changed_at);

CREATE TABLE states (
    tenant      TEXT COLLATE "binary" NOT NULL,
    agent       TEXT COLLATE "binary" NOT NULL,
    at          BIGINT NOT NULL,
    state       TEXT NOT NULL,
    reason      TEXT,
    source_code TEXT,
    changed_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant, agent, at)
);
CREATE INDEX states_by_at ON states (tenant, at);
CREATE INDEX states_by_changed_at ON states (tenant, changed_at);

-- Where each flow has got to in its source (an opaque value the flow understands).
CREATE TABLE cursors (
    name       TEXT COLLATE "binary" NOT NULL,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (name)
);
