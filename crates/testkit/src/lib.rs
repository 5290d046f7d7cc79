//! Test fixtures of wfm-bridge: a fresh PostgreSQL database for each test that wants one, and a
//! throwaway OpenSSH server ([`sshd`], in its own module) for the SFTP tests.
//!
//! [`postgres`] finds a server, in this order:
//!
//! 1. `WFM_TEST_POSTGRES_URL`, when set (a test fails if it cannot connect to it);
//! 2. a local server that trusts `postgres` or the current user, on 127.0.0.1:5432 or the
//!    socket in /var/run/postgresql (databases `postgres` or `test`);
//! 3. a private cluster made with `initdb` and started with `pg_ctl`, from PATH or
//!    /usr/lib/postgresql/*/bin, in a temporary directory (trust auth, Unix socket only, on a free
//!    port, run as the `postgres` OS user when the tests run as root since initdb refuses root).
//!    It is shared by the tests of one process that run at the same time and stopped when the
//!    last of their databases is dropped;
//!
//! and creates a uniquely named database in it, dropped (best effort) with the [`TestDatabase`],
//! so that tests can run in parallel. With no server at all it prints [`SKIP_MESSAGE`] and
//! returns `None`, and the test returns early and passes:
//!
//! ```no_run
//! # async fn example() {
//! let Some(db) = wfm_testkit::postgres().await else { return };
//! let url: &str = db.url();
//! # }
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::{Mutex, OnceCell};

mod sshd;
pub use sshd::{SSHD_SKIP_MESSAGE, TestSshd, sshd};

/// What a test prints when it is skipped for want of PostgreSQL.
pub const SKIP_MESSAGE: &str =
    "skipping: no PostgreSQL available (install postgresql or set WFM_TEST_POSTGRES_URL)";

/// The environment variable naming a server to test against (a `postgres://` URL whose user may
/// create databases).
pub const URL_VARIABLE: &str = "WFM_TEST_POSTGRES_URL";

/// A database that exists for one test.
pub struct TestDatabase {
    url: String,
    name: String,
    /// URL of the server's maintenance database, to drop this one from; `None` when the
    /// database was not created by us (the server refused CREATE DATABASE).
    admin_url: Option<String>,
    /// Keeps a private cluster running while this database lives.
    cluster: Option<Arc<Cluster>>,
}

impl TestDatabase {
    /// `postgres://` URL of the database, for `wfm_store::open`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Connects to the database, for a test that checks what the code under test stored.
    pub async fn connect(&self) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        connect(&self.url).await
    }
}

impl std::fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDatabase")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // A private cluster that stops with this database takes the database with it.
        let last_of_cluster = self
            .cluster
            .as_ref()
            .is_some_and(|c| Arc::strong_count(c) == 1);
        let Some(admin_url) = self.admin_url.take().filter(|_| !last_of_cluster) else {
            return;
        };
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which may be single-threaded and cannot run an
        // async connection while blocked here: use a thread with a runtime of its own.
        let dropper = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                let Ok(client) = connect(&admin_url).await else {
                    return;
                };
                // FORCE (PostgreSQL 13+) ends sessions a test left open.
                let force = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                if client.batch_execute(&force).await.is_err() {
                    let plain = format!("DROP DATABASE IF EXISTS \"{name}\"");
                    let _ = client.batch_execute(&plain).await;
                }
            });
        });
        let _ = dropper.join();
    }
}

/// A fresh database on the first PostgreSQL server found (see the crate documentation), or
/// `None` after printing [`SKIP_MESSAGE`] when there is none.
///
/// # Panics
///
/// When `WFM_TEST_POSTGRES_URL` is set but no connection can be made with it: a test run that
/// names a server means to test against it.
pub async fn postgres() -> Option<TestDatabase> {
    if let Some(admin_url) = existing_server().await {
        return Some(create_database(admin_url, None).await);
    }
    match private_cluster().await {
        Some(cluster) => {
            let admin_url = cluster.admin_url.clone();
            Some(create_database(&admin_url, Some(cluster)).await)
        }
        None => {
            println!("{SKIP_MESSAGE}");
            None
        }
    }
}

async fn connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let mut config = tokio_postgres::Config::from_str(url)?;
    config.connect_timeout(Duration::from_secs(5));
    let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// The maintenance URL of a server that is already running, looked for once per process.
async fn existing_server() -> Option<&'static str> {
    static SERVER: OnceCell<Option<String>> = OnceCell::const_new();
    SERVER
        .get_or_init(|| async {
            if let Ok(url) = std::env::var(URL_VARIABLE) {
                if let Err(e) = connect(&url).await {
                    panic!("{URL_VARIABLE} is set, but connecting with it failed: {e}");
                }
                return Some(url);
            }
            for url in local_candidates() {
                if connect(&url).await.is_ok() {
                    return Some(url);
                }
            }
            None
        })
        .await
        .as_deref()
}

/// Local servers worth trying: users `postgres` and the current one, over TCP and the Debian
/// socket, to the `postgres` or `test` database.
fn local_candidates() -> Vec<String> {
    let mut users = vec!["postgres".to_string()];
    if let Ok(user) = std::env::var("USER")
        && !user.is_empty()
        && user != "postgres"
    {
        users.push(user);
    }
    let mut urls = Vec::new();
    for user in &users {
        for database in ["postgres", "test"] {
            urls.push(format!("postgres://{user}@127.0.0.1:5432/{database}"));
            if Path::new("/var/run/postgresql").is_dir() {
                urls.push(format!(
                    "postgres://{user}@/{database}?host=/var/run/postgresql"
                ));
            }
        }
    }
    urls
}

/// Creates a uniquely named database on the server of `admin_url`.
async fn create_database(admin_url: &str, cluster: Option<Arc<Cluster>>) -> TestDatabase {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!(
        "wfm_test_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let client = match connect(admin_url).await {
        Ok(client) => client,
        Err(e) => panic!("PostgreSQL answered once and then refused a connection: {e}"),
    };
    // template0: nobody is ever connected to it, so parallel CREATE DATABASEs do not collide.
    let create = format!("CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'");
    let plain = format!("CREATE DATABASE \"{name}\"");
    let created = match client.batch_execute(&create).await {
        Ok(()) => true,
        Err(_) => client.batch_execute(&plain).await.is_ok(),
    };
    if created {
        TestDatabase {
            url: with_database(admin_url, &name),
            name,
            admin_url: Some(admin_url.to_string()),
            cluster,
        }
    } else {
        // The server does not let this user create databases: test in the one given, which
        // tests then share.
        eprintln!("warning: cannot create a database; testing in the one {URL_VARIABLE} names");
        TestDatabase {
            url: admin_url.to_string(),
            name: database_of(admin_url).to_string(),
            admin_url: None,
            cluster,
        }
    }
}

/// `url` with its database replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest_start = scheme_end + 3;
    let query_start = url[rest_start..]
        .find(['?', '#'])
        .map_or(url.len(), |i| rest_start + i);
    let path_start = url[rest_start..query_start]
        .find('/')
        .map_or(query_start, |i| rest_start + i);
    format!("{}/{database}{}", &url[..path_start], &url[query_start..])
}

fn database_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    rest.split_once('/').map_or("", |(_, db)| db)
}

/// A PostgreSQL cluster of our own, stopped and deleted on drop.
struct Cluster {
    admin_url: String,
    bin: PathBuf,
    data: PathBuf,
    as_postgres: bool,
    _dir: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        let _ = run(
            &self.bin.join("pg_ctl"),
            &["-D", &data, "-m", "immediate", "-w", "stop"],
            self.as_postgres,
        );
    }
}

/// The running private cluster, or a new one; `None` without initdb and pg_ctl.
async fn private_cluster() -> Option<Arc<Cluster>> {
    static CLUSTER: Mutex<Weak<Cluster>> = Mutex::const_new(Weak::new());
    let mut current = CLUSTER.lock().await;
    if let Some(cluster) = current.upgrade() {
        return Some(cluster);
    }
    let bin = postgres_bin()?;
    let started = tokio::task::spawn_blocking(move || start_cluster(bin)).await;
    match started {
        Ok(Ok(cluster)) => {
            let cluster = Arc::new(cluster);
            *current = Arc::downgrade(&cluster);
            Some(cluster)
        }
        Ok(Err(e)) => {
            eprintln!("cannot start a private PostgreSQL cluster: {e}");
            None
        }
        Err(e) => {
            eprintln!("cannot start a private PostgreSQL cluster: {e}");
            None
        }
    }
}

/// The directory holding both `initdb` and `pg_ctl`: on PATH, or the newest under
/// /usr/lib/postgresql (Debian's layout).
fn postgres_bin() -> Option<PathBuf> {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    if let Some(dir) = on_path.into_iter().find(|dir| has_both(dir)) {
        return Some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            has_both(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn start_cluster(bin: PathBuf) -> Result<Cluster, String> {
    let as_postgres = running_as_root();
    let dir = tempfile::Builder::new()
        .prefix("wfm-pg-")
        .tempdir_in(if Path::new("/tmp").is_dir() {
            // Short: a Unix socket path may not exceed ~107 bytes.
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        })
        .map_err(|e| format!("creating a temporary directory: {e}"))?;
    let root = dir.path().display().to_string();
    if as_postgres {
        run(Path::new("chown"), &["postgres:", &root], false)?;
    }
    let data = dir.path().join("data");
    let data_text = data.display().to_string();
    run(
        &bin.join("initdb"),
        &[
            "-D",
            &data_text,
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ],
        as_postgres,
    )?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(|e| format!("finding a free port: {e}"))?
        .port();
    // Unix socket only (listen_addresses empty); durability is pointless for a throwaway cluster.
    let options = format!(
        "-p {port} -k {root} -c listen_addresses='' -c fsync=off \
         -c synchronous_commit=off -c full_page_writes=off"
    );
    let log = dir.path().join("postgres.log").display().to_string();
    let cluster = Cluster {
        admin_url: format!("postgres://postgres@/postgres?host={root}&port={port}"),
        bin: bin.clone(),
        data,
        as_postgres,
        _dir: dir,
    };
    run(
        &bin.join("pg_ctl"),
        &[
            "-D", &data_text, "-l", &log, "-o", &options, "-w", "-t", "60", "start",
        ],
        as_postgres,
    )?;
    Ok(cluster)
}

/// Runs a program, as the `postgres` OS user when `as_postgres`; the error holds its output.
fn run(program: &Path, args: &[&str], as_postgres: bool) -> Result<(), String> {
    let mut command = if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    command.args(args);
    if as_postgres {
        // The `postgres` user may not be allowed into this process's working directory.
        command.current_dir("/");
    }
    // A cluster started by pg_ctl must not hold this process's stdout open (cargo test waits
    // for it): its output goes to a log file, and ours is captured.
    let output = command
        .output()
        .map_err(|e| format!("running {}: {e}", program.display()))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} {} failed ({}): {}{}",
            program.display(),
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Whether this process runs as root (initdb refuses to), from /proc or `id -u`.
fn running_as_root() -> bool {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(line) = status.lines().find(|l| l.starts_with("Uid:"))
    {
        return line.split_whitespace().nth(2) == Some("0");
    }
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_is_replaced() {
        assert_eq!(
            with_database("postgres://u:p@h:1/test?sslmode=disable", "x"),
            "postgres://u:p@h:1/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
        assert_eq!(
            with_database("postgres://u@/postgres?host=/tmp/a&port=5", "x"),
            "postgres://u@/x?host=/tmp/a&port=5"
        );
        assert_eq!(database_of("postgres://u@h:1/test?x=y"), "test");
    }

    #[tokio::test]
    async fn a_database_is_fresh_and_usable() {
        let Some(db) = postgres().await else { return };
        let client = db.connect().await.unwrap();
        let row = client
            .query_one("SELECT current_database()", &[])
            .await
            .unwrap();
        let name: String = row.get(0);
        assert_eq!(name, db.name());
    }

    #[tokio::test]
    async fn the_private_cluster_starts_and_stops() {
        // Exercised only where initdb exists; otherwise there is nothing to test.
        if postgres_bin().is_none() {
            println!("skipping: initdb and pg_ctl not found");
            return;
        }
        let cluster = private_cluster().await.expect("cluster starts");
        let db = create_database(&cluster.admin_url.clone(), Some(cluster)).await;
        let client = db.connect().await.unwrap();
        client
            .batch_execute("CREATE TABLE t (x int)")
            .await
            .unwrap();
    }
}
