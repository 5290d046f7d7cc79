-- Migration 8: drop the indexes on `changed_at` that nothing reads.
--
-- Migration 1 indexed segments and states by (tenant, changed_at) for flows that would follow
-- changes by wall-clock time; migration 3's change feed (by `change_seq`) replaced that, and no
-- query has filtered or ordered on `changed_at` since. Each index cost every write a B-tree insert
-- and its pages in the WAL: dropping the states one makes a pushed state about a fifth cheaper to
-- store.

DROP INDEX states_by_changed_at;
DROP INDEX segments_by_changed_at;
