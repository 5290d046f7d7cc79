//! A throwaway OpenSSH server for tests of SFTP delivery.
//!
//! [`sshd`] starts the system's `sshd` (`/usr/sbin/sshd`, or `sshd` on PATH) on 127.0.0.1 on a
//! free port, with everything it needs in a temporary directory: a fresh ed25519 host key, a fresh
//! client key in its `authorized_keys`, a second client key that is *not* authorized, an
//! `sshd_config` that serves SFTP in-process (`internal-sftp`), and a directory for the files.
//! The server is killed and the directory deleted when the [`TestSshd`] is dropped. Without
//! `sshd` or `ssh-keygen` it prints [`SSHD_SKIP_MESSAGE`] and returns `None`, and the test
//! returns early and passes:
//!
//! ```no_run
//! let Some(server) = wfm_testkit::sshd() else { return };
//! let port = server.port();
//! ```
//!
//! **Who logs in.** The user running the tests, with the generated key. sshd refuses password
//! logins it cannot check against `/etc/shadow`, so a password is offered only when the tests run
//! as root and `unshare` and `openssl` exist: the server is then started in a private mount
//! namespace in which a copy of `/etc/shadow` carrying a random password for this user is
//! bind-mounted over the real one. Nothing on the machine changes, and only this server sees the
//! password. Elsewhere [`TestSshd::password`] is `None`.

use std::fs::{self, File};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What a test prints when it is skipped for want of an SSH server.
pub const SSHD_SKIP_MESSAGE: &str =
    "skipping: no OpenSSH server available (install openssh-server: /usr/sbin/sshd and ssh-keygen)";

/// How long the server may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// An OpenSSH server running for one test; killed on drop.
pub struct TestSshd {
    child: Child,
    sshd: PathBuf,
    keygen: PathBuf,
    config: PathBuf,
    shadow: Option<PathBuf>,
    port: u16,
    user: String,
    password: Option<String>,
    client_key: String,
    unauthorized_key: String,
    host_key: String,
    files: PathBuf,
    log: PathBuf,
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for TestSshd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestSshd")
            .field("port", &self.port)
            .field("user", &self.user)
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl TestSshd {
    /// `127.0.0.1`: the server listens on loopback only.
    pub fn host(&self) -> &str {
        "127.0.0.1"
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The user to log in as (the one running the tests).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The password of [`TestSshd::user`] for this server, when password logins could be set up
    /// (see the module documentation).
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// An unencrypted OpenSSH ed25519 private key the server accepts.
    pub fn client_key(&self) -> &str {
        &self.client_key
    }

    /// A valid private key the server does not accept.
    pub fn unauthorized_key(&self) -> &str {
        &self.unauthorized_key
    }

    /// The server's public host key line, `ssh-ed25519 AAAA… comment`.
    pub fn host_key(&self) -> &str {
        &self.host_key
    }

    /// An empty directory for the files of the test, writable over SFTP (absolute path).
    pub fn files_dir(&self) -> &Path {
        &self.files
    }

    /// The temporary directory holding the server's configuration, keys and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What the server logged so far, to print when a test fails.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the server, ending every connection to it, and starts it again on the same port:
    /// what a client sees when a server restarts (or drops idle sessions). With `new_host_key`
    /// the server comes back with a freshly generated host key, as after a reinstall.
    ///
    /// # Panics
    ///
    /// When the server does not come back; the message holds its log.
    pub fn restart(&mut self, new_host_key: bool) {
        stop(&mut self.child);
        if new_host_key {
            let key = self.dir.path().join("host_ed25519");
            let _ = fs::remove_file(&key);
            let _ = fs::remove_file(key.with_extension("pub"));
            generate_key(&self.keygen, &key).unwrap_or_else(|e| panic!("{e}"));
            self.host_key = fs::read_to_string(key.with_extension("pub"))
                .unwrap_or_else(|e| panic!("reading the new host key: {e}"))
                .trim()
                .to_string();
        }
        // The port was ours a moment ago; give the kernel a few tries to release it.
        let mut last_error = String::new();
        for _ in 0..20 {
            match launch(
                &self.sshd,
                &self.config,
                self.shadow.as_deref(),
                &self.log,
                self.port,
            ) {
                Ok(child) => {
                    self.child = child;
                    return;
                }
                Err(e) => last_error = e,
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the test OpenSSH server did not restart: {last_error}");
    }
}

impl Drop for TestSshd {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// Ends a server and the processes of its connections.
fn stop(child: &mut Child) {
    // sshd forks a process per connection and detaches it into a session of its own, so that
    // connections outlive a restart of the listener. A test's server must take them along: find
    // them (the listener's descendants) before the listener goes, then end each by its id.
    let connections = descendants(child.id());
    let _ = child.kill();
    let _ = child.wait();
    if !connections.is_empty() {
        let _ = Command::new("kill")
            .arg("-KILL")
            .args(connections.iter().map(u32::to_string))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The ids of every process below `pid`, from /proc (empty where there is no /proc).
fn descendants(pid: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let parents: Vec<(u32, u32)> = entries
        .flatten()
        .filter_map(|entry| {
            let id: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(entry.path().join("stat")).ok()?;
            // `pid (comm) state ppid …`; comm may hold spaces and parentheses.
            let after_comm = &stat[stat.rfind(')')? + 1..];
            let parent = after_comm.split_whitespace().nth(1)?.parse().ok()?;
            Some((id, parent))
        })
        .collect();
    let mut found = vec![pid];
    let mut next = 0;
    while next < found.len() {
        let parent = found[next];
        found.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(id, _)| *id),
        );
        next += 1;
    }
    found.remove(0);
    found
}

/// Starts a throwaway OpenSSH server (see the module documentation), or prints
/// [`SSHD_SKIP_MESSAGE`] and returns `None` when `sshd` or `ssh-keygen` is not installed.
///
/// # Panics
///
/// When both are installed but the server cannot be started: the message holds its log, since a
/// test machine with OpenSSH means to run these tests.
pub fn sshd() -> Option<TestSshd> {
    let Some(sshd) = find_program("sshd", &["/usr/sbin/sshd", "/usr/local/sbin/sshd"]) else {
        println!("{SSHD_SKIP_MESSAGE}");
        return None;
    };
    let Some(keygen) = find_program("ssh-keygen", &["/usr/bin/ssh-keygen"]) else {
        println!("{SSHD_SKIP_MESSAGE}");
        return None;
    };
    // A port found free may be taken before sshd binds it: try a few.
    let mut last_error = String::new();
    for _ in 0..3 {
        match start(&sshd, &keygen) {
            Ok(server) => return Some(server),
            Err(e) => last_error = e,
        }
    }
    panic!("cannot start a test OpenSSH server: {last_error}");
}

fn start(sshd: &Path, keygen: &Path) -> Result<TestSshd, String> {
    let dir = tempfile::Builder::new()
        .prefix("wfm-sshd-")
        .tempdir_in(if Path::new("/tmp").is_dir() {
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        })
        .map_err(|e| format!("creating a temporary directory: {e}"))?;
    let path = |name: &str| dir.path().join(name);
    for key in ["host_ed25519", "client_ed25519", "other_ed25519"] {
        generate_key(keygen, &path(key))?;
    }
    let read =
        |p: PathBuf| fs::read_to_string(&p).map_err(|e| format!("reading {}: {e}", p.display()));
    let client_public = read(path("client_ed25519.pub"))?;
    write(&path("authorized_keys"), &client_public)?;
    let files = path("files");
    fs::create_dir(&files).map_err(|e| format!("creating {}: {e}", files.display()))?;

    // sshd's privilege separation directory; Debian creates it only when the service starts.
    let _ = fs::create_dir_all("/run/sshd");

    let user = current_user()?;
    let password = if running_as_root() {
        private_shadow(dir.path(), &user)
    } else {
        None
    };

    let port = free_port()?;
    let config = format!(
        "Port {port}\n\
         ListenAddress 127.0.0.1\n\
         HostKey {host_key}\n\
         AuthorizedKeysFile {authorized}\n\
         PubkeyAuthentication yes\n\
         PasswordAuthentication {password_auth}\n\
         KbdInteractiveAuthentication no\n\
         PermitRootLogin yes\n\
         AllowUsers {user}\n\
         UsePAM no\n\
         StrictModes no\n\
         PidFile {pid}\n\
         Subsystem sftp internal-sftp\n\
         MaxStartups 100\n\
         MaxSessions 100\n\
         LogLevel VERBOSE\n",
        host_key = path("host_ed25519").display(),
        authorized = path("authorized_keys").display(),
        password_auth = if password.is_some() { "yes" } else { "no" },
        pid = path("sshd.pid").display(),
    );
    let config_path = path("sshd_config");
    write(&config_path, &config)?;

    let log = path("sshd.log");
    let shadow = password.as_ref().map(|_| path("shadow"));
    let child = launch(sshd, &config_path, shadow.as_deref(), &log, port)?;

    Ok(TestSshd {
        child,
        sshd: sshd.to_path_buf(),
        keygen: keygen.to_path_buf(),
        config: config_path,
        shadow,
        port,
        user,
        password,
        client_key: read(path("client_ed25519"))?,
        unauthorized_key: read(path("other_ed25519"))?,
        host_key: read(path("host_ed25519.pub"))?.trim().to_string(),
        files,
        log,
        dir,
    })
}

/// Starts sshd with `config` (in a private mount namespace with `shadow` over /etc/shadow, when
/// given), its output appended to `log`, and waits until it listens on `port`.
fn launch(
    sshd: &Path,
    config: &Path,
    shadow: Option<&Path>,
    log: &Path,
    port: u16,
) -> Result<Child, String> {
    let log_file = File::options()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| format!("opening {}: {e}", log.display()))?;
    let log_err = log_file
        .try_clone()
        .map_err(|e| format!("opening {}: {e}", log.display()))?;
    let sshd_args = [
        sshd.display().to_string(),
        "-D".to_string(),
        "-e".to_string(),
        "-f".to_string(),
        config.display().to_string(),
    ];
    let mut command = match shadow {
        Some(shadow) => {
            // The shadow copy is seen by this sshd only: a private mount namespace, with the
            // copy bind-mounted over /etc/shadow, then sshd in place of the shell.
            let script = format!(
                "mount --bind '{}' /etc/shadow && exec {}",
                shadow.display(),
                sshd_args
                    .iter()
                    .map(|a| format!("'{a}'"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            let mut c = Command::new("unshare");
            c.args(["-m", "--propagation", "private", "sh", "-c", &script]);
            c
        }
        None => {
            let mut c = Command::new(&sshd_args[0]);
            c.args(&sshd_args[1..]);
            c
        }
    };
    {
        use std::os::unix::process::CommandExt;
        // Its own process group: a Ctrl-C meant for the tests does not reach it first.
        command.process_group(0);
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(log_file)
        .stderr(log_err)
        .spawn()
        .map_err(|e| format!("running {}: {e}", sshd.display()))?;

    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let output = fs::read_to_string(log).unwrap_or_default();
            return Err(format!("sshd exited ({status}): {output}"));
        }
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return Ok(child);
        }
        if started.elapsed() > START_TIMEOUT {
            stop(&mut child);
            let output = fs::read_to_string(log).unwrap_or_default();
            return Err(format!(
                "sshd did not listen on {address} in time: {output}"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A program by name on PATH, else at one of the usual places.
fn find_program(name: &str, usual: &[&str]) -> Option<PathBuf> {
    usual
        .iter()
        .map(PathBuf::from)
        .chain(
            std::env::var_os("PATH")
                .map(|p| {
                    std::env::split_paths(&p)
                        .map(|d| d.join(name))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default(),
        )
        .find(|p| p.is_file())
}

/// `ssh-keygen -t ed25519` without a passphrase.
fn generate_key(keygen: &Path, path: &Path) -> Result<(), String> {
    let output = Command::new(keygen)
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "wfm-bridge-test",
            "-f",
        ])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running {}: {e}", keygen.display()))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ssh-keygen failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// A loopback port nothing listens on: bound, then released.
fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("finding a free port: {e}"))
}

/// The name of the user running the tests.
fn current_user() -> Result<String, String> {
    let output = Command::new("id")
        .arg("-un")
        .output()
        .map_err(|e| format!("running id -un: {e}"))?;
    let name = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if output.status.success() && !name.is_empty() {
        Ok(name)
    } else {
        Err("cannot tell the current user's name (id -un)".to_string())
    }
}

/// Writes `dir/shadow`: a copy of /etc/shadow with a random password for `user`; returns the
/// password, or `None` when that cannot be done here (no unshare or openssl, no shadow file, or
/// no private mount namespace allowed).
fn private_shadow(dir: &Path, user: &str) -> Option<String> {
    find_program("unshare", &["/usr/bin/unshare"])?;
    let shadow = fs::read_to_string("/etc/shadow").ok()?;
    // Creating mount namespaces may be forbidden in a container: find out before relying on it.
    let allowed = Command::new("unshare")
        .args(["-m", "--propagation", "private", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !allowed {
        return None;
    }
    let password = random_password();
    let mut openssl = Command::new("openssl")
        .args(["passwd", "-6", "-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    openssl
        .stdin
        .take()?
        .write_all(format!("{password}\n").as_bytes())
        .ok()?;
    let output = openssl.wait_with_output().ok()?;
    let hash = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if !output.status.success() || !hash.starts_with("$6$") {
        return None;
    }
    let prefix = format!("{user}:");
    let mut found = false;
    let copy: String = shadow
        .lines()
        .map(|line| match line.strip_prefix(&prefix) {
            Some(rest) => {
                found = true;
                // user:hash:lastchange:…, the rest kept; an empty "last change" means no expiry.
                let after_hash = rest.split_once(':').map_or("", |(_, tail)| tail);
                format!("{user}:{hash}:{after_hash}\n")
            }
            None => format!("{line}\n"),
        })
        .collect();
    if !found {
        return None;
    }
    fs::write(dir.join("shadow"), copy).ok()?;
    Some(password)
}

/// A password nobody can guess from outside this process.
fn random_password() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded from the OS's randomness per instance.
    (0..2)
        .map(|_| {
            let mut h = RandomState::new().build_hasher();
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos()),
            );
            format!("{:016x}", h.finish())
        })
        .collect()
}

/// Whether this process runs as root.
fn running_as_root() -> bool {
    crate::running_as_root()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_starts_listens_and_stops() {
        let Some(server) = sshd() else { return };
        let address = SocketAddr::from(([127, 0, 0, 1], server.port()));
        let mut banner = [0u8; 8];
        {
            use std::io::Read;
            let mut stream = TcpStream::connect(address).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            stream.read_exact(&mut banner).unwrap();
        }
        assert_eq!(&banner, b"SSH-2.0-", "{}", server.log());
        assert!(server.host_key().starts_with("ssh-ed25519 "));
        assert!(server.client_key().contains("OPENSSH PRIVATE KEY"));
        assert!(server.files_dir().is_dir());
        let dir = server.dir().to_path_buf();
        drop(server);
        assert!(!dir.exists());
        assert!(TcpStream::connect_timeout(&address, Duration::from_millis(500)).is_err());
    }
}
