//! [`StoreUrl`]: the store URLs wfm-bridge accepts, parsed, and described without credentials.
//!
//! Accepted: `sqlite://relative/path.db`, `sqlite:///absolute/path.db`, `sqlite::memory:`,
//! `postgres://…` and `postgresql://…` (libpq URLs, parsed by tokio-postgres). A password in a URL
//! never reaches an error message or a description: see [`redact`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use tokio_postgres::config::Host;

use crate::error::{StoreError, postgres_message};

/// Where a store lives, parsed from its URL.
#[derive(Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "parsed once per open; a box would only add noise where it is matched"
)]
pub enum StoreUrl {
    /// An SQLite database.
    Sqlite(SqliteLocation),
    /// A PostgreSQL database. (The config's `Debug` hides the password.)
    Postgres(tokio_postgres::Config),
}

/// Where an SQLite database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqliteLocation {
    /// A database file (created with its directory when missing).
    File(PathBuf),
    /// A private database that lives as long as the store: a temporary file on the memory-backed
    /// /dev/shm where there is one, deleted when the store is dropped.
    Memory,
}

impl StoreUrl {
    /// Parses a store URL. The error lists the accepted forms and never shows a password.
    pub fn parse(url: &str) -> Result<StoreUrl, StoreError> {
        let url = url.trim();
        let invalid = |reason: String| StoreError::Url {
            url: redact(url),
            reason,
        };
        if url == "sqlite::memory:" || url == "sqlite://:memory:" {
            return Ok(StoreUrl::Sqlite(SqliteLocation::Memory));
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(invalid("there is no path after sqlite://".into()));
            }
            if path.contains('?') {
                return Err(invalid(
                    "SQLite URLs take no ?options; write the path only".into(),
                ));
            }
            return Ok(StoreUrl::Sqlite(SqliteLocation::File(PathBuf::from(path))));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let config = tokio_postgres::Config::from_str(url).map_err(|e| {
                // tokio-postgres does not echo values back, but be sure no password slips out.
                invalid(scrub(&postgres_message(&e), url))
            })?;
            if config.get_hosts().is_empty() {
                return Err(invalid(
                    "no host; write postgres://user@host:port/database, or ?host=/socket/directory"
                        .into(),
                ));
            }
            return Ok(StoreUrl::Postgres(config));
        }
        let reason = if url.is_empty() {
            "the URL is empty".to_string()
        } else if url.starts_with("sqlite:") {
            "an SQLite URL is sqlite://PATH (with two slashes) or sqlite::memory:".to_string()
        } else {
            match url.split_once("://") {
                Some((scheme, _)) => format!("unknown scheme {scheme:?}"),
                None => "not a URL (no scheme://)".to_string(),
            }
        };
        Err(invalid(reason))
    }

    /// What this store is, without credentials: `SQLite wfm-bridge.db`, `SQLite in memory`,
    /// `PostgreSQL 127.0.0.1:5432/test`.
    pub fn describe(&self) -> String {
        match self {
            StoreUrl::Sqlite(location) => describe_sqlite(location),
            StoreUrl::Postgres(config) => describe_postgres(config),
        }
    }
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

pub(crate) fn describe_sqlite(location: &SqliteLocation) -> String {
    match location {
        SqliteLocation::File(path) => format!("SQLite {}", path.display()),
        SqliteLocation::Memory => "SQLite in memory".to_string(),
    }
}

/// `PostgreSQL host:port/database` for every host (libpq URLs may list several).
pub(crate) fn describe_postgres(config: &tokio_postgres::Config) -> String {
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            // libpq: one port for all hosts, or one per host; 5432 when none is given.
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            match host {
                Host::Tcp(name) => format!("{name}:{port}"),
                Host::Unix(dir) => format!("{}:{port}", Path::new(dir).display()),
            }
        })
        .collect();
    // The server's default database is the user's name.
    let database = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("PostgreSQL {}/{database}", hosts.join(","))
}

/// The URL with any password replaced by `***`: the one in `scheme://user:password@host` and any
/// `password=` query parameter.
pub(crate) fn redact(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let authority_start = scheme_end + 3;
        let authority_end = out[authority_start..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| authority_start + i);
        let authority = &out[authority_start..authority_end];
        if let Some(at) = authority.rfind('@') {
            let userinfo = &authority[..at];
            if let Some(colon) = userinfo.find(':') {
                let start = authority_start + colon + 1;
                let end = authority_start + at;
                out.replace_range(start..end, "***");
            }
        }
    }
    if let Some(query_start) = out.find('?') {
        let (head, query) = out.split_at(query_start + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out = format!("{head}{}", query.join("&"));
    }
    out
}

/// Removes the password of `url`, if any, from a message.
fn scrub(message: &str, url: &str) -> String {
    match tokio_postgres::Config::from_str(url)
        .ok()
        .and_then(|c| c.get_password().map(<[u8]>::to_vec))
    {
        Some(password) if !password.is_empty() => {
            message.replace(&*String::from_utf8_lossy(&password), "***")
        }
        _ => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_forms() {
        let url = StoreUrl::parse("sqlite://data/wfm.db").unwrap();
        assert!(
            matches!(&url, StoreUrl::Sqlite(SqliteLocation::File(p)) if p == Path::new("data/wfm.db"))
        );
        assert_eq!(url.describe(), "SQLite data/wfm.db");
        let url = StoreUrl::parse("sqlite:///var/lib/wfm.db").unwrap();
        assert!(
            matches!(&url, StoreUrl::Sqlite(SqliteLocation::File(p)) if p == Path::new("/var/lib/wfm.db"))
        );
        let url = StoreUrl::parse("sqlite::memory:").unwrap();
        assert!(matches!(url, StoreUrl::Sqlite(SqliteLocation::Memory)));
    }

    #[test]
    fn postgres_forms() {
        let url = StoreUrl::parse("postgres://u:pw@db.example:6543/wfm").unwrap();
        assert_eq!(url.describe(), "PostgreSQL db.example:6543/wfm");
        let url = StoreUrl::parse("postgresql://u@127.0.0.1/test").unwrap();
        assert_eq!(url.describe(), "PostgreSQL 127.0.0.1:5432/test");
        let url = StoreUrl::parse("postgres://u@/wfm?host=/run/pg&port=5433").unwrap();
        assert_eq!(url.describe(), "PostgreSQL /run/pg:5433/wfm");
        assert!(!format!("{url:?}").contains("pw"));
    }

    #[test]
    fn bad_urls_list_the_accepted_forms() {
        for bad in [
            "",
            "mysql://x",
            "sqlite:foo.db",
            "sqlite://",
            "wfm.db",
            "postgres://u:pw@/db",
        ] {
            let e = StoreUrl::parse(bad).unwrap_err().to_string();
            assert!(e.contains("accepted forms: sqlite://"), "{bad}: {e}");
        }
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://me:s3cr@t@h:1/db?password=x&sslmode=disable"),
            "postgres://me:***@h:1/db?password=***&sslmode=disable"
        );
        assert_eq!(redact("postgres://me@h/db"), "postgres://me@h/db");
        let e = StoreUrl::parse("postgres://me:s3cret@h:notaport/db")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("s3cret"), "{e}");
        assert!(e.contains("me:***@h"), "{e}");
    }
}
