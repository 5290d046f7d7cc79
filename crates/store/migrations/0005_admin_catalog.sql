-- Migration 5 (console branch; the lead renumbers it at merge): integration accounts and flows
-- created through the admin API.
--
-- Accounts and flows from wfm-bridge.toml stay in the file; these tables hold only the ones an
-- operator created in the console or over /api/v1. `body` is a JSON document: an account's
-- properties (its secrets encrypted by the engine, never in clear) or a flow's settings. The
-- engine checks a body against its type's schema before it is written, and again when it loads.

CREATE TABLE api_accounts (
    name TEXT NOT NULL PRIMARY KEY,
    tenant TEXT,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE api_flows (
    name TEXT NOT NULL PRIMARY KEY,
    tenant TEXT,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
