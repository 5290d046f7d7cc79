//! The schema migrations, in order, with the SQL each backend runs for them.
//!
//! A migration is applied once, in one transaction, and recorded in
//! `schema_migrations(version, applied_at)`. Its SQL is shared by both backends (the files in
//! `migrations/`); a backend has its own file only where the syntax must differ (identity columns,
//! BLOB vs BYTEA) or for a prelude (PostgreSQL's byte-wise collation). Migrations are never edited
//! once released: a change of schema is a new migration at the end of [`MIGRATIONS`].

/// One schema migration.
#[derive(Debug)]
pub(crate) struct Migration {
    /// 1, 2, …: the order of application, recorded in `schema_migrations`.
    pub version: i64,
    /// SQL run on SQLite, in order, within the migration's transaction.
    pub sqlite: &'static [&'static str],
    /// SQL run on PostgreSQL, in order, within the migration's transaction.
    pub postgres: &'static [&'static str],
}

const CANONICAL: &str = include_str!("../migrations/0001_canonical.sql");
const CHANGE_FEED: &str = include_str!("../migrations/0003_change_feed_outbox_leases.sql");

/// Every migration, in version order.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sqlite: &[CANONICAL],
        postgres: &[
            include_str!("../migrations/postgres/0001_collation.sql"),
            CANONICAL,
        ],
    },
    Migration {
        version: 2,
        sqlite: &[include_str!("../migrations/sqlite/0002_runs_outbox.sql")],
        postgres: &[include_str!("../migrations/postgres/0002_runs_outbox.sql")],
    },
    Migration {
        version: 3,
        // SQLite numbers its write transactions from a counter row; PostgreSQL needs none, it
        // stamps rows with transaction ids (see the comments in the files).
        sqlite: &[
            CHANGE_FEED,
            include_str!("../migrations/sqlite/0003_change_counter.sql"),
        ],
        postgres: &[CHANGE_FEED],
    },
    Migration {
        version: 4,
        sqlite: &[include_str!("../migrations/0004_statistics_windows.sql")],
        postgres: &[include_str!("../migrations/0004_statistics_windows.sql")],
    },
    Migration {
        version: 5,
        sqlite: &[include_str!("../migrations/0005_admin_catalog.sql")],
        postgres: &[include_str!("../migrations/0005_admin_catalog.sql")],
    },
    Migration {
        version: 6,
        sqlite: &[include_str!("../migrations/0006_scim.sql")],
        postgres: &[include_str!("../migrations/0006_scim.sql")],
    },
    Migration {
        version: 7,
        sqlite: &[include_str!("../migrations/sqlite/0007_directory.sql")],
        postgres: &[include_str!("../migrations/postgres/0007_directory.sql")],
    },
    Migration {
        version: 8,
        sqlite: &[include_str!("../migrations/0008_unused_indexes.sql")],
        postgres: &[include_str!("../migrations/0008_unused_indexes.sql")],
    },
];

/// The table that records applied migrations (same SQL on both backends).
pub(crate) const CREATE_SCHEMA_MIGRATIONS: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (\
     version BIGINT NOT NULL PRIMARY KEY, \
     applied_at BIGINT NOT NULL)";

/// The newest schema version this program knows.
pub(crate) fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Wall-clock milliseconds since the Unix epoch, for `applied_at` and `changed_at`.
pub(crate) fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert!(i == 0 || m.version > MIGRATIONS[i - 1].version);
            assert!(!m.sqlite.is_empty() && !m.postgres.is_empty());
        }
    }
}
