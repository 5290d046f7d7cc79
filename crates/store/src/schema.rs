//! The record tables, described once, and the SQL both backends run on them, generated from those
//! descriptions so that SQLite and PostgreSQL cannot drift apart.
//!
//! The tables themselves are created by the migrations (`migrations/*.sql`); a test checks that the
//! columns listed here are the ones the migrations create.

use std::fmt::Write as _;

use wfm_model::RecordKind;

/// How a column is stored. Both backends use the same types (see migration 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    Text,
    Int,
    Bool,
}

impl Ty {
    /// The PostgreSQL array type `UNNEST` reads a batch of this column from.
    fn postgres_array(self) -> &'static str {
        match self {
            Ty::Text => "text[]",
            Ty::Int => "bigint[]",
            Ty::Bool => "boolean[]",
        }
    }
}

/// One table of records: its natural key, its other columns, and whether it is stamped.
#[derive(Debug)]
pub(crate) struct Table {
    pub name: &'static str,
    /// The primary key, in key order (the order pages are read in).
    pub key: &'static [(&'static str, Ty)],
    /// The other columns, excluding `changed_at` and `change_seq`.
    pub values: &'static [(&'static str, Ty)],
    /// Has `changed_at` (wall-clock ms) and `change_seq` (writing transaction, migration 3)
    /// columns, both stamped when a row is inserted or actually changed: the record tables, whose
    /// changes flows follow. The derived tables (teams, skills, agent_skills) are not stamped.
    pub stamped: bool,
}

use Ty::{Bool, Int, Text};

pub(crate) const TENANTS: Table = Table {
    name: "tenants",
    key: &[("tenant", Text)],
    values: &[
        ("name", Text),
        ("time_zone", Text),
        ("interval_minutes", Int),
        ("admin_reasons", Text),
    ],
    stamped: true,
};

pub(crate) const QUEUES: Table = Table {
    name: "queues",
    key: &[("tenant", Text), ("queue", Text)],
    values: &[
        ("name", Text),
        ("sl_seconds", Int),
        ("short_abandon_seconds", Int),
    ],
    stamped: true,
};

pub(crate) const AGENTS: Table = Table {
    name: "agents",
    key: &[("tenant", Text), ("agent", Text)],
    values: &[
        ("first_name", Text),
        ("last_name", Text),
        ("email", Text),
        ("team", Text),
        ("active", Bool),
    ],
    stamped: true,
};

pub(crate) const SEGMENTS: Table = Table {
    name: "segments",
    key: &[("tenant", Text), ("contact_id", Text), ("seq", Int)],
    values: &[
        ("channel", Text),
        ("direction", Text),
        ("queue", Text),
        ("offered_at", Int),
        ("answered_at", Int),
        ("abandoned_at", Int),
        ("overflowed", Bool),
        ("agent", Text),
        ("talk_s", Int),
        ("hold_s", Int),
        ("acw_s", Int),
        ("transferred", Bool),
        ("metadata", Text),
    ],
    stamped: true,
};

pub(crate) const STATES: Table = Table {
    name: "states",
    key: &[("tenant", Text), ("agent", Text), ("at", Int)],
    values: &[("state", Text), ("reason", Text), ("source_code", Text)],
    stamped: true,
};

/// Teams, derived from agents: the name is the team id.
pub(crate) const TEAMS: Table = Table {
    name: "teams",
    key: &[("tenant", Text), ("team", Text)],
    values: &[("name", Text)],
    stamped: false,
};

/// Skills, derived from agents.
pub(crate) const SKILLS: Table = Table {
    name: "skills",
    key: &[("tenant", Text), ("skill", Text)],
    values: &[],
    stamped: false,
};

/// Agent–skill pairs, with the position of the skill in the agent's list.
pub(crate) const AGENT_SKILLS: Table = Table {
    name: "agent_skills",
    key: &[("tenant", Text), ("agent", Text), ("skill", Text)],
    values: &[("ordinal", Int)],
    stamped: false,
};

/// Every record table, in the order [`crate::TableCounts`] lists them.
pub(crate) const COUNTED: [&Table; 8] = [
    &TENANTS,
    &QUEUES,
    &TEAMS,
    &AGENTS,
    &SKILLS,
    &AGENT_SKILLS,
    &SEGMENTS,
    &STATES,
];

/// The table a kind of record is stored in.
pub(crate) fn table_of(kind: RecordKind) -> &'static Table {
    match kind {
        RecordKind::Tenants => &TENANTS,
        RecordKind::Queues => &QUEUES,
        RecordKind::Agents => &AGENTS,
        RecordKind::Interactions => &SEGMENTS,
        RecordKind::States => &STATES,
    }
}

/// The `change_seq` PostgreSQL stamps: the writing transaction's id (`xid8`, 64 bits, never
/// wrapping), as a bigint. An uncorrelated subquery, so it is evaluated once per statement.
pub(crate) const PG_CHANGE_SEQ: &str = "(SELECT pg_current_xact_id()::text::bigint)";

/// How a backend writes the n-th (1-based) statement parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// `?1`
    Sqlite,
    /// `$1`
    Postgres,
}

impl Dialect {
    fn param(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}"),
        }
    }
}

impl Table {
    /// Key and value columns, in row order (without `changed_at`).
    pub fn columns(&self) -> impl Iterator<Item = &(&'static str, Ty)> {
        self.key.iter().chain(self.values)
    }

    /// Number of columns a record binds (without `changed_at`).
    pub fn width(&self) -> usize {
        self.key.len() + self.values.len()
    }

    fn names(columns: &[(&str, Ty)]) -> String {
        columns
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `tenant, contact_id, …` — the columns a record reads and writes, in row order.
    pub fn column_list(&self) -> String {
        let mut list = Table::names(self.key);
        if !self.values.is_empty() {
            list.push_str(", ");
            list.push_str(&Table::names(self.values));
        }
        list
    }

    fn key_list(&self) -> String {
        Table::names(self.key)
    }

    /// `ON CONFLICT (key) DO UPDATE SET … WHERE <a column differs>`: a row is only updated, and
    /// only counted as changed and re-stamped, when some column actually differs.
    fn on_conflict(&self) -> String {
        let mut sql = format!("ON CONFLICT ({}) DO ", self.key_list());
        if self.values.is_empty() {
            sql.push_str("NOTHING");
            return sql;
        }
        let set: Vec<String> = self
            .values
            .iter()
            .map(|(c, _)| format!("{c} = excluded.{c}"))
            .chain(self.stamped.then(|| {
                "changed_at = excluded.changed_at, change_seq = excluded.change_seq".to_string()
            }))
            .collect();
        let differs: Vec<String> = self
            .values
            .iter()
            .map(|(c, _)| format!("{t}.{c} IS DISTINCT FROM excluded.{c}", t = self.name))
            .collect();
        let _ = write!(
            sql,
            "UPDATE SET {} WHERE {}",
            set.join(", "),
            differs.join(" OR ")
        );
        sql
    }

    fn insert_columns(&self) -> String {
        let mut list = self.column_list();
        if self.stamped {
            list.push_str(", changed_at, change_seq");
        }
        list
    }

    /// SQLite upsert of one row: parameters are the columns in row order, then `changed_at` and
    /// `change_seq` (the transaction's number from `change_counter`).
    pub fn sqlite_upsert(&self) -> String {
        let n = self.width() + if self.stamped { 2 } else { 0 };
        let params: Vec<String> = (1..=n).map(|i| Dialect::Sqlite.param(i)).collect();
        format!(
            "INSERT INTO {} ({}) VALUES ({}) {}",
            self.name,
            self.insert_columns(),
            params.join(", "),
            self.on_conflict()
        )
    }

    /// PostgreSQL upsert of a batch: one array parameter per column in row order, then
    /// `changed_at` as a scalar; `change_seq` is the writing transaction's id ([`PG_CHANGE_SEQ`]).
    /// The batch must not hold one key twice (PostgreSQL refuses to update a row twice in one
    /// statement).
    pub fn postgres_upsert(&self) -> String {
        let arrays: Vec<String> = self
            .columns()
            .enumerate()
            .map(|(i, (_, ty))| format!("${}::{}", i + 1, ty.postgres_array()))
            .collect();
        let stamp = if self.stamped {
            format!(", ${}::bigint, {PG_CHANGE_SEQ}", self.width() + 1)
        } else {
            String::new()
        };
        format!(
            "INSERT INTO {} ({}) SELECT u.*{stamp} FROM UNNEST({}) AS u {}",
            self.name,
            self.insert_columns(),
            arrays.join(", "),
            self.on_conflict()
        )
    }

    /// One page in key order: parameters are the tenant (when `tenant`), then the key columns of
    /// the `after` key (when `after`), then the limit.
    pub fn select_page(&self, dialect: Dialect, tenant: bool, after: bool) -> String {
        let mut n = 0;
        let mut next = || {
            n += 1;
            dialect.param(n)
        };
        let mut conditions = Vec::new();
        if tenant {
            conditions.push(format!("tenant = {}", next()));
        }
        if after {
            let params: Vec<String> = self.key.iter().map(|_| next()).collect();
            conditions.push(format!("({}) > ({})", self.key_list(), params.join(", ")));
        }
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        format!(
            "SELECT {} FROM {}{filter} ORDER BY {} LIMIT {}",
            self.column_list(),
            self.name,
            self.key_list(),
            next()
        )
    }

    /// One page of a tenant's change feed, in (`change_seq`, natural key) order: the record's
    /// columns, then `changed_at` and `change_seq`. Parameters: the tenant, the cursor's sequence,
    /// the cursor key's columns after `tenant` (when `after_key`), then the limit.
    ///
    /// A cursor without a key sorts before every row of its sequence (`change_seq >= seq`); with
    /// a key, rows strictly after it. The tenant is fixed, so ordering by the key columns after it
    /// is natural-key order, and the `*_by_change` indexes (tenant, change_seq, key…) serve both
    /// the condition and the order. `horizon`, when given, is an expression rows must stay below
    /// (PostgreSQL's oldest running transaction).
    pub fn select_changes(
        &self,
        dialect: Dialect,
        after_key: bool,
        horizon: Option<&str>,
    ) -> String {
        let mut n = 0;
        let mut next = || {
            n += 1;
            dialect.param(n)
        };
        // The tenants table's key is the tenant alone; every other key begins with it.
        let rest = &self.key[1..];
        let mut conditions = vec![format!("tenant = {}", next())];
        let seq = next();
        conditions.push(if !after_key {
            format!("change_seq >= {seq}")
        } else if rest.is_empty() {
            format!("change_seq > {seq}")
        } else {
            let params: Vec<String> = rest.iter().map(|_| next()).collect();
            format!(
                "(change_seq, {}) > ({seq}, {})",
                Table::names(rest),
                params.join(", ")
            )
        });
        if let Some(horizon) = horizon {
            conditions.push(format!("change_seq < ({horizon})"));
        }
        let mut order = "change_seq".to_string();
        if !rest.is_empty() {
            order.push_str(", ");
            order.push_str(&Table::names(rest));
        }
        format!(
            "SELECT {}, changed_at, change_seq FROM {} WHERE {} ORDER BY {order} LIMIT {}",
            self.column_list(),
            self.name,
            conditions.join(" AND "),
            next()
        )
    }

    /// `SELECT count(*) FROM table [WHERE tenant = <param 1>]`.
    pub fn count(&self, dialect: Dialect, tenant: bool) -> String {
        if tenant {
            format!(
                "SELECT count(*) FROM {} WHERE tenant = {}",
                self.name,
                dialect.param(1)
            )
        } else {
            format!("SELECT count(*) FROM {}", self.name)
        }
    }
}

// Window reads for statistics: segments by offered time, agents' timelines.

/// Segments of a tenant offered in a window, in (offered_at, contact_id, seq) order.
/// Parameters: tenant, from, to, then the position's three columns (when `after`), then the limit.
pub(crate) fn select_offered(dialect: Dialect, after: bool) -> String {
    let p = |n| dialect.param(n);
    let (position, limit) = if after {
        (
            format!(
                " AND (offered_at, contact_id, seq) > ({}, {}, {})",
                p(4),
                p(5),
                p(6)
            ),
            p(7),
        )
    } else {
        (String::new(), p(4))
    };
    format!(
        "SELECT {} FROM segments WHERE tenant = {} AND offered_at >= {} AND offered_at < {}{position} \
         ORDER BY offered_at, contact_id, seq LIMIT {limit}",
        SEGMENTS.column_list(),
        p(1),
        p(2),
        p(3)
    )
}

/// An agent's last state before an instant. Parameters: tenant, agent, instant.
pub(crate) fn select_state_before(dialect: Dialect) -> String {
    let p = |n| dialect.param(n);
    format!(
        "SELECT {} FROM states WHERE tenant = {} AND agent = {} AND at < {} ORDER BY at DESC LIMIT 1",
        STATES.column_list(),
        p(1),
        p(2),
        p(3)
    )
}

/// An agent's states in a window, in time order. Parameters: tenant, agent, from, to.
pub(crate) fn select_states_between(dialect: Dialect) -> String {
    let p = |n| dialect.param(n);
    format!(
        "SELECT {} FROM states WHERE tenant = {} AND agent = {} AND at >= {} AND at < {} ORDER BY at",
        STATES.column_list(),
        p(1),
        p(2),
        p(3),
        p(4)
    )
}

/// Each agent's latest state. Parameter: tenant.
pub(crate) fn select_latest_states(dialect: Dialect) -> String {
    let p = |n| dialect.param(n);
    let columns: Vec<String> = STATES
        .columns()
        .map(|(name, _)| format!("s.{name}"))
        .collect();
    format!(
        "SELECT {} FROM states s JOIN (SELECT agent, max(at) AS at FROM states WHERE tenant = {} GROUP BY agent) m \
         ON s.agent = m.agent AND s.at = m.at WHERE s.tenant = {} ORDER BY s.agent",
        columns.join(", "),
        p(1),
        p(1)
    )
}

/// The agents with states in a window. Parameters: tenant, from, to.
pub(crate) fn select_state_agents(dialect: Dialect) -> String {
    let p = |n| dialect.param(n);
    format!(
        "SELECT DISTINCT agent FROM states WHERE tenant = {} AND at >= {} AND at < {} ORDER BY agent",
        p(1),
        p(2),
        p(3)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_upsert_updates_only_what_differs() {
        assert_eq!(
            STATES.sqlite_upsert(),
            "INSERT INTO states (tenant, agent, at, state, reason, source_code, changed_at, \
             change_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (tenant, agent, at) \
             DO UPDATE SET state = excluded.state, reason = excluded.reason, \
             source_code = excluded.source_code, changed_at = excluded.changed_at, \
             change_seq = excluded.change_seq WHERE states.state IS DISTINCT FROM excluded.state \
             OR states.reason IS DISTINCT FROM excluded.reason \
             OR states.source_code IS DISTINCT FROM excluded.source_code"
        );
        assert_eq!(
            SKILLS.sqlite_upsert(),
            "INSERT INTO skills (tenant, skill) VALUES (?1, ?2) ON CONFLICT (tenant, skill) DO NOTHING"
        );
    }

    #[test]
    fn postgres_upsert_unnests_arrays() {
        assert_eq!(
            QUEUES.postgres_upsert(),
            "INSERT INTO queues (tenant, queue, name, sl_seconds, short_abandon_seconds, \
             changed_at, change_seq) \
             SELECT u.*, $6::bigint, (SELECT pg_current_xact_id()::text::bigint) \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[]) AS u \
             ON CONFLICT (tenant, queue) DO UPDATE SET name = excluded.name, \
             sl_seconds = excluded.sl_seconds, short_abandon_seconds = excluded.short_abandon_seconds, \
             changed_at = excluded.changed_at, change_seq = excluded.change_seq \
             WHERE queues.name IS DISTINCT FROM excluded.name \
             OR queues.sl_seconds IS DISTINCT FROM excluded.sl_seconds \
             OR queues.short_abandon_seconds IS DISTINCT FROM excluded.short_abandon_seconds"
        );
        assert!(SEGMENTS.postgres_upsert().contains(
            "SELECT u.*, $17::bigint, (SELECT pg_current_xact_id()::text::bigint) \
             FROM UNNEST($1::text[]"
        ));
        // Derived tables are not stamped.
        assert!(TEAMS.postgres_upsert().starts_with(
            "INSERT INTO teams (tenant, team, name) SELECT u.* FROM UNNEST($1::text[], $2::text[], \
             $3::text[]) AS u"
        ));
    }

    #[test]
    fn change_feeds_are_keyset_on_sequence_then_key() {
        assert_eq!(
            STATES.select_changes(Dialect::Sqlite, true, None),
            "SELECT tenant, agent, at, state, reason, source_code, changed_at, change_seq \
             FROM states WHERE tenant = ?1 AND (change_seq, agent, at) > (?2, ?3, ?4) \
             ORDER BY change_seq, agent, at LIMIT ?5"
        );
        // A cursor without a key is before every row of its sequence.
        assert_eq!(
            QUEUES.select_changes(Dialect::Postgres, false, Some("SELECT 7")),
            "SELECT tenant, queue, name, sl_seconds, short_abandon_seconds, changed_at, change_seq \
             FROM queues WHERE tenant = $1 AND change_seq >= $2 AND change_seq < (SELECT 7) \
             ORDER BY change_seq, queue LIMIT $3"
        );
        // The tenants table's key is the tenant alone: after a key, the next sequence.
        assert_eq!(
            TENANTS.select_changes(Dialect::Sqlite, true, None),
            "SELECT tenant, name, time_zone, interval_minutes, admin_reasons, changed_at, \
             change_seq FROM tenants WHERE tenant = ?1 AND change_seq > ?2 \
             ORDER BY change_seq LIMIT ?3"
        );
    }

    #[test]
    fn pages_are_keyset() {
        assert_eq!(
            SEGMENTS.select_page(Dialect::Postgres, true, true),
            "SELECT tenant, contact_id, seq, channel, direction, queue, offered_at, answered_at, \
             abandoned_at, overflowed, agent, talk_s, hold_s, acw_s, transferred, metadata \
             FROM segments WHERE tenant = $1 AND (tenant, contact_id, seq) > ($2, $3, $4) \
             ORDER BY tenant, contact_id, seq LIMIT $5"
        );
        assert_eq!(
            TENANTS.select_page(Dialect::Sqlite, false, false),
            "SELECT tenant, name, time_zone, interval_minutes, admin_reasons FROM tenants \
             ORDER BY tenant LIMIT ?1"
        );
    }
}
