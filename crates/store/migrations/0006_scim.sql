-- Migration 6: the SCIM server's users and groups (RFC 7643/7644), per tenant.
--
-- One row per resource. `document` is the resource as the SCIM server keeps it (JSON: the
-- client-given attributes; groups with their `members`), without `id` and `meta`, which are these
-- columns. `name_key` is the lower-cased userName (users) or displayName (groups): userName is
-- unique per tenant without regard to case (RFC 7643 §4.1.1, caseExact false), among resources that
-- are not deleted. A DELETE keeps the row with `deleted_at` set: the SCIM API answers 404 for it
-- from then on (RFC 7644 §3.6), and directory sync still sees the user, as disabled, so that a
-- person downstream is deactivated, never deleted. `version` grows with every change (the ETag).

CREATE TABLE scim_resources (
    tenant        TEXT COLLATE "binary" NOT NULL,
    resource_type TEXT COLLATE "binary" NOT NULL, -- 'User' or 'Group'
    id            TEXT COLLATE "binary" NOT NULL,
    name_key      TEXT COLLATE "binary" NOT NULL,
    version       BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    modified_at   BIGINT NOT NULL,
    deleted_at    BIGINT,
    document      TEXT NOT NULL,
    PRIMARY KEY (tenant, resource_type, id)
);

CREATE UNIQUE INDEX scim_users_by_name ON scim_resources (tenant, resource_type, name_key)
    WHERE deleted_at IS NULL AND resource_type = 'User';
