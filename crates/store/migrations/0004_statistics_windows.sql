-- Migration 4: reading a tenant's segments by offered time in pages.
--
-- Statistics read the segments offered in a window in (offered_at, contact_id, seq) order; with the
-- key columns in the index, each page is one index range scan. It replaces the index on
-- (tenant, offered_at) alone, which it covers.

CREATE INDEX segments_by_offered ON segments (tenant, offered_at, contact_id, seq);
DROP INDEX segments_by_offered_at;
