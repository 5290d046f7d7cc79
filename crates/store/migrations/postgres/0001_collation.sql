-- PostgreSQL prelude of migration 1.
--
-- Key columns are declared `COLLATE "binary"` in the portable schema. SQLite has that collation built
-- in (byte-wise comparison of UTF-8); on PostgreSQL it is created here as a copy of "C", which also
-- compares bytes. Both backends therefore order natural keys the same way, the way Rust orders
-- strings, whatever the database's default locale is: keyset pagination returns the same pages on
-- both, and "C" comparisons are also the fastest PostgreSQL has.
CREATE COLLATION IF NOT EXISTS "binary" FROM "C";
