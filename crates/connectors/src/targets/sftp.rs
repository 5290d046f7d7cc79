//! The `sftp` target: each message becomes one file in a directory on an SFTP server.
//!
//! Calabrio and many WFM and HR systems import files that are dropped on an SFTP server (the
//! historical statistics files, forecast imports, HR exports). A reader there must never pick up
//! half a file, so a message is uploaded under a hidden temporary name in the same remote directory
//! (`.<name>.<idempotency key>.part`) and renamed over its final name only once every byte is
//! written (and synced, when the server offers `fsync@openssh.com`).
//!
//! **Renaming over an existing file.** Plain SFTP (version 3) `RENAME` fails when the target
//! exists. When the server offers the `posix-rename@openssh.com` extension (OpenSSH does) the
//! rename replaces the old file atomically. Otherwise the old file is removed and the rename
//! retried: for that short moment the final name does not exist, so a reader polling the directory
//! sees the old file, no file, or the new file, but never a partial one.
//!
//! Delivering the same message again uploads the same bytes under the same names, so a repeat after
//! a crash is harmless.
//!
//! **Connections.** One SSH connection is kept and shared by deliveries while it is alive (it is
//! closed by us after five idle minutes); a dead one is replaced on the next delivery, and a
//! delivery that fails because a reused connection died is retried once on a fresh one.
//!
//! **Host keys.** `host_key` pins the server's key, as a public key line (`ssh-ed25519 AAAA…`,
//! optionally preceded by the host names of a `known_hosts` or `ssh-keyscan` line) or as its
//! `SHA256:…` fingerprint (`ssh-keygen -lf key.pub`). Without it, the first key the server shows is
//! accepted without verification, which `check` says plainly, and is then remembered: a different
//! key later in the life of the process is refused as a change.
//!
//! **Errors.** Everything that goes wrong on the way (unreachable host, rejected host key, failed
//! authentication, a missing or unwritable remote directory) is [`DeliveryError::Retry`]: an
//! operator fixes it and the message goes through unchanged. Only an invalid message name is
//! [`DeliveryError::Rejected`]. The password and the private key appear in no error, log line or
//! `Debug` output.

use std::fmt;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use async_trait::async_trait;
use russh::client;
use russh::keys::{
    Algorithm, HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate,
};
use russh_sftp::client::RawSftpSession;
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::protocol::{FileAttributes, OpenFlags, Packet, StatusCode};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio::task::JoinSet;

use crate::accounts::{
    AccountConfig, AccountError, AccountType, PropertyKind, PropertySpec, Secret,
};
use crate::targets::files::{io_reason, key_for_file_name, validate_name};
use crate::targets::{CheckVerdict, DeliveryError, OutboundMessage, Target};

/// The `sftp` account type.
pub const ACCOUNT_TYPE: AccountType = AccountType {
    name: "sftp",
    description: "Uploads each message as a file into a directory on an SFTP server",
    properties: &[
        PropertySpec {
            name: "host",
            kind: PropertyKind::Text,
            required: true,
            secret: false,
            default: None,
            help: "host name or IP address of the SFTP server",
        },
        PropertySpec {
            name: "port",
            kind: PropertyKind::Integer,
            required: false,
            secret: false,
            default: Some("22"),
            help: "TCP port of the SSH server",
        },
        PropertySpec {
            name: "username",
            kind: PropertyKind::Text,
            required: true,
            secret: false,
            default: None,
            help: "user to log in as",
        },
        PropertySpec {
            name: "password",
            kind: PropertyKind::Text,
            required: false,
            secret: true,
            default: None,
            help: "password to log in with (set either password or private_key)",
        },
        PropertySpec {
            name: "private_key",
            kind: PropertyKind::Text,
            required: false,
            secret: true,
            default: None,
            help: "unencrypted OpenSSH private key text to log in with, e.g. file:/etc/wfm/id_ed25519 \
                   (set either password or private_key)",
        },
        PropertySpec {
            name: "path",
            kind: PropertyKind::Text,
            required: true,
            secret: false,
            default: None,
            help: "remote directory the files are written to (relative paths start at the login directory)",
        },
        PropertySpec {
            name: "host_key",
            kind: PropertyKind::Text,
            required: false,
            secret: false,
            default: None,
            help: "the server's public host key line (ssh-ed25519 AAAA…) or its SHA256:… fingerprint; \
                   without it the first key seen is accepted unverified",
        },
        PropertySpec {
            name: "timeout",
            kind: PropertyKind::Duration,
            required: false,
            secret: false,
            default: Some("30s"),
            help: "how long connecting, and each step of an upload, may take",
        },
    ],
    single_per_tenant: false,
    build: Some(build),
    build_source: None,
    build_directory: None,
};

/// Default SSH port.
pub const DEFAULT_PORT: u16 = 22;

/// Default limit for connecting and for each SFTP request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A kept connection unused this long is closed: servers drop idle sessions anyway, and a daily
/// delivery should not hold a login open all day.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Bytes per SFTP write: every server must accept 32 KiB of data in one request.
const WRITE_CHUNK: usize = 32 * 1024;

/// Writes in flight at once: enough to keep a long link busy without queueing the whole file.
const WRITES_IN_FLIGHT: usize = 16;

const POSIX_RENAME: &str = "posix-rename@openssh.com";
const FSYNC: &str = "fsync@openssh.com";

fn build(account: &AccountConfig) -> Result<Box<dyn Target>, AccountError> {
    Ok(Box::new(SftpTarget::from_account(account)?))
}

/// How the target logs in. `Debug` never shows the secret.
#[derive(Clone)]
enum Credentials {
    Password(Secret),
    Key(Arc<PrivateKey>),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Password(_) => f.write_str("password(<secret>)"),
            Credentials::Key(_) => f.write_str("private_key(<secret>)"),
        }
    }
}

/// A pinned host key: what the server's key must hash to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostKeyPin {
    /// A full public key: its SHA-256 fingerprint, and its algorithm, which is preferred in the
    /// key exchange so that a server with several host keys shows this one.
    Key {
        /// `SHA256:…` of the key.
        fingerprint: String,
        /// The key's algorithm.
        algorithm: Algorithm,
    },
    /// A `SHA256:…` fingerprint only.
    Fingerprint(String),
}

impl HostKeyPin {
    /// Reads `host_key`: a public key line (`ssh-ed25519 AAAA… comment`, optionally preceded by
    /// host names as in `known_hosts`) or a `SHA256:…` fingerprint. The error says what to give.
    pub fn parse(text: &str) -> Result<HostKeyPin, String> {
        let text = text.trim();
        if let Some(digest) = text.strip_prefix("SHA256:") {
            // ssh-keygen prints the digest as unpadded base64: 32 bytes are 43 characters.
            let digest = digest.trim_end_matches('=');
            let base64 = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/';
            if digest.len() != 43 || !digest.chars().all(base64) {
                return Err(
                    "host_key: a SHA256 fingerprint is SHA256: followed by 43 base64 \
                            characters, as `ssh-keygen -lf KEY.pub` prints it"
                        .to_string(),
                );
            }
            return Ok(HostKeyPin::Fingerprint(format!("SHA256:{digest}")));
        }
        if text.starts_with("MD5:") || (text.len() == 47 && text.matches(':').count() == 15) {
            return Err(
                "host_key: MD5 fingerprints are not accepted; give the SHA256:… \
                        fingerprint (ssh-keygen -lf KEY.pub) or the public key line"
                    .to_string(),
            );
        }
        let tokens: Vec<&str> = text.split_whitespace().collect();
        // The key line itself, or a known_hosts / ssh-keyscan line whose first field is hosts.
        for skip in 0..tokens.len().min(2) {
            if let Ok(key) = PublicKey::from_openssh(&tokens[skip..].join(" ")) {
                return Ok(HostKeyPin::Key {
                    fingerprint: fingerprint(&key),
                    algorithm: key.algorithm(),
                });
            }
        }
        Err(
            "host_key is neither a public key line (ssh-ed25519 AAAA…, as in the server's \
             /etc/ssh/ssh_host_ed25519_key.pub) nor a SHA256:… fingerprint"
                .to_string(),
        )
    }

    /// The `SHA256:…` fingerprint the server's key must have.
    pub fn fingerprint(&self) -> &str {
        match self {
            HostKeyPin::Key { fingerprint, .. } | HostKeyPin::Fingerprint(fingerprint) => {
                fingerprint
            }
        }
    }
}

/// `SHA256:…` of a public key, as `ssh-keygen -l` prints it.
fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// Uploads messages as files into one directory of an SFTP server.
pub struct SftpTarget {
    account: String,
    host: String,
    port: u16,
    username: String,
    credentials: Credentials,
    dir: String,
    host_key: Option<HostKeyPin>,
    timeout: Duration,
    posix_rename: bool,
    /// The key accepted on first contact when `host_key` is not set: later connections must show
    /// the same one.
    first_seen: Arc<StdMutex<Option<String>>>,
    /// The kept connection, shared by deliveries.
    connection: Mutex<Option<Arc<Connection>>>,
}

impl fmt::Debug for SftpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SftpTarget")
            .field("account", &self.account)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("credentials", &self.credentials)
            .field("dir", &self.dir)
            .field(
                "host_key",
                &self.host_key.as_ref().map(HostKeyPin::fingerprint),
            )
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SftpTarget {
    /// Builds the target from an account's checked properties. Exactly one of `password` and
    /// `private_key` must be set; the key must be an unencrypted OpenSSH (or PEM) private key.
    pub fn from_account(account: &AccountConfig) -> Result<SftpTarget, AccountError> {
        let error = |message: String| AccountError {
            account: account.name.clone(),
            message,
        };
        let required = |name: &str, what: &str| -> Result<String, AccountError> {
            match account.text(name).map(str::trim) {
                Some(value) if !value.is_empty() => Ok(value.to_string()),
                Some(_) => Err(error(format!("property {name} is empty; set it to {what}"))),
                None => Err(error(format!("property {name} is required: {what}"))),
            }
        };
        let host = required("host", "the SFTP server's host name or address")?;
        if host.contains(char::is_whitespace) || host.contains('/') {
            return Err(error(format!(
                "host {host:?} is not a host name or address (no scheme, path or spaces)"
            )));
        }
        let port = match account.integer("port") {
            None => DEFAULT_PORT,
            Some(port) => u16::try_from(port)
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| error(format!("port {port} is not a TCP port (1 to 65535)")))?,
        };
        let username = required("username", "the user to log in as")?;
        let dir = required("path", "the remote directory files are written to")?;
        let credentials = match (account.secret("password"), account.secret("private_key")) {
            (Some(password), None) => {
                if password.expose().is_empty() {
                    return Err(error("password is empty".to_string()));
                }
                Credentials::Password(password.clone())
            }
            (None, Some(key)) => Credentials::Key(Arc::new(
                parse_private_key(key).map_err(|m| error(m.to_string()))?,
            )),
            (Some(_), Some(_)) => {
                return Err(error(
                    "both password and private_key are set; set exactly one of them".to_string(),
                ));
            }
            (None, None) => {
                return Err(error(
                    "neither password nor private_key is set; set exactly one of them".to_string(),
                ));
            }
        };
        let host_key = account
            .text("host_key")
            .filter(|t| !t.trim().is_empty())
            .map(HostKeyPin::parse)
            .transpose()
            .map_err(error)?;
        let timeout = account.duration("timeout").unwrap_or(DEFAULT_TIMEOUT);
        if timeout.is_zero() {
            return Err(error("timeout must be longer than 0s".to_string()));
        }
        Ok(SftpTarget {
            account: account.name.clone(),
            host,
            port,
            username,
            credentials,
            dir,
            host_key,
            timeout,
            posix_rename: true,
            first_seen: Arc::new(StdMutex::new(None)),
            connection: Mutex::new(None),
        })
    }

    /// Whether to use the `posix-rename@openssh.com` extension when the server offers it (the
    /// default). Off, a file that exists is removed before the rename, as for servers without the
    /// extension; for servers whose extension misbehaves, and for testing that path.
    pub fn with_posix_rename(mut self, use_it: bool) -> SftpTarget {
        self.posix_rename = use_it;
        self
    }

    /// The remote directory files are written to.
    pub fn remote_dir(&self) -> &str {
        &self.dir
    }

    /// `host:port` of the server.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            // An IPv6 literal.
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Closes the kept connection, if any (the next delivery opens a new one).
    pub async fn disconnect(&self) {
        if let Some(connection) = self.connection.lock().await.take() {
            connection.close().await;
        }
    }

    /// `dir/name`.
    fn remote_path(&self, name: &str) -> String {
        if self.dir.ends_with('/') {
            format!("{}{name}", self.dir)
        } else {
            format!("{}/{name}", self.dir)
        }
    }

    /// The kept connection when it is alive, else a new one (kept); `true` when new.
    async fn connection(&self) -> Result<(Arc<Connection>, bool), ConnectError> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref()
            && connection.is_alive()
        {
            return Ok((Arc::clone(connection), false));
        }
        // Connecting under the lock: concurrent deliveries wait for one connection, not race.
        *slot = None;
        let connection = Arc::new(self.connect().await?);
        *slot = Some(Arc::clone(&connection));
        Ok((connection, true))
    }

    /// Drops the kept connection if it is still `dead`.
    async fn forget(&self, dead: &Arc<Connection>) {
        let mut slot = self.connection.lock().await;
        if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, dead)) {
            *slot = None;
        }
    }

    /// The fingerprint the server must show: the pinned one, else the one seen first.
    fn expected_key(&self) -> Option<(String, bool)> {
        if let Some(pin) = &self.host_key {
            return Some((pin.fingerprint().to_string(), true));
        }
        let seen = self.first_seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.clone().map(|fp| (fp, false))
    }

    /// Connects, verifies the host key, logs in and starts SFTP.
    async fn connect(&self) -> Result<Connection, ConnectError> {
        let address = self.address();
        let stream = tokio::time::timeout(self.timeout, self.tcp_connect())
            .await
            .map_err(|_| ConnectError::Unreachable {
                address: address.clone(),
                why: "timed out connecting".to_string(),
            })??;
        let connection = tokio::time::timeout(self.timeout, self.handshake(stream))
            .await
            .map_err(|_| ConnectError::Ssh {
                address: address.clone(),
                why: format!(
                    "no answer in time (timed out after {})",
                    seconds(self.timeout)
                ),
            })??;
        if self.host_key.is_none() {
            let mut seen = self.first_seen.lock().unwrap_or_else(|p| p.into_inner());
            if seen.is_none() {
                tracing::warn!(
                    account = %self.account,
                    server = %address,
                    host_key = %connection.host_key,
                    "host_key is not set: accepted the server's host key without verification; \
                     set host_key to pin it"
                );
                *seen = Some(connection.host_key.clone());
            }
        }
        Ok(connection)
    }

    /// Resolves the host and opens a TCP connection to the first address that answers.
    async fn tcp_connect(&self) -> Result<TcpStream, ConnectError> {
        let addresses: Vec<_> = tokio::net::lookup_host((self.host.as_str(), self.port))
            .await
            .map_err(|e| ConnectError::Resolve {
                host: self.host.clone(),
                why: resolve_reason(&e),
            })?
            .collect();
        let mut last = None;
        for address in addresses {
            match TcpStream::connect(address).await {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(ConnectError::Unreachable {
            address: self.address(),
            why: last.map_or_else(|| "no address found".to_string(), |e| io_reason(&e)),
        })
    }

    /// SSH handshake, authentication and the SFTP subsystem over a connected stream.
    async fn handshake(&self, stream: TcpStream) -> Result<Connection, ConnectError> {
        let address = self.address();
        let ssh = |e: russh::Error| ConnectError::Ssh {
            address: address.clone(),
            why: e.to_string(),
        };
        let expected = self.expected_key();
        let seen = Arc::new(StdMutex::new(None));
        let verifier = Verifier {
            expected: expected.as_ref().map(|(fp, _)| fp.clone()),
            seen: Arc::clone(&seen),
        };
        let mut preferred = russh::Preferred::default();
        if let Some(HostKeyPin::Key { algorithm, .. }) = &self.host_key {
            // A server with several host keys shows the one it and we both prefer: make that
            // the pinned one.
            let mut keys = preferred.key.to_vec();
            keys.sort_by_key(|a| !same_key_type(a, algorithm));
            preferred.key = keys.into();
        }
        let config = Arc::new(client::Config {
            inactivity_timeout: Some(IDLE_TIMEOUT),
            preferred,
            ..client::Config::default()
        });

        let mut session = match client::connect_stream(config, stream, verifier).await {
            Ok(session) => session,
            Err(e) => {
                let got = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
                return Err(match (e, expected, got) {
                    (russh::Error::UnknownKey, Some((expected, pinned)), Some(got)) => {
                        ConnectError::HostKey {
                            host: self.host.clone(),
                            expected,
                            got,
                            pinned,
                        }
                    }
                    (e, _, _) => ssh(e),
                });
            }
        };
        let host_key = seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .unwrap_or_default();

        let auth = match &self.credentials {
            Credentials::Password(password) => {
                session
                    .authenticate_password(&self.username, password.expose())
                    .await
            }
            Credentials::Key(key) => {
                let hash = if key.algorithm().is_rsa() {
                    rsa_hash(&session).await
                } else {
                    None
                };
                session
                    .authenticate_publickey(
                        &self.username,
                        PrivateKeyWithHashAlg::new(Arc::clone(key), hash),
                    )
                    .await
            }
        }
        .map_err(ssh)?;
        if !auth.success() {
            return Err(ConnectError::Credentials);
        }

        let no_sftp = |why: String| ConnectError::NoSftp {
            address: address.clone(),
            why,
        };
        let channel = session
            .channel_open_session()
            .await
            .map_err(|e| no_sftp(e.to_string()))?;
        channel
            .request_subsystem(true, "sftp")
            .await
            .map_err(|e| no_sftp(e.to_string()))?;
        let sftp = RawSftpSession::new(channel.into_stream());
        sftp.set_timeout(self.timeout.as_secs().max(1));
        let version = sftp.init().await.map_err(|e| no_sftp(e.to_string()))?;
        let offers = |name: &str, version_text: &str| {
            version
                .extensions
                .get(name)
                .is_some_and(|v| v == version_text)
        };
        Ok(Connection {
            posix_rename: self.posix_rename && offers(POSIX_RENAME, "1"),
            fsync: offers(FSYNC, "1"),
            session,
            sftp: Arc::new(sftp),
            host_key,
        })
    }

    /// Uploads one message under its temporary name and renames it into place.
    async fn upload(
        &self,
        connection: &Connection,
        message: &OutboundMessage,
    ) -> Result<(), Failure> {
        let final_path = self.remote_path(&message.name);
        let part_path = self.remote_path(&format!(
            ".{}.{}.part",
            message.name,
            key_for_file_name(&message.idempotency_key)
        ));
        let result = self
            .upload_to(connection, &part_path, &final_path, &message.payload)
            .await;
        if result.is_err() && connection.is_alive() {
            // Best effort: a leftover is overwritten by the next attempt of the same message.
            let _ = connection.sftp.remove(part_path.as_str()).await;
        }
        result
    }

    async fn upload_to(
        &self,
        connection: &Connection,
        part_path: &str,
        final_path: &str,
        payload: &[u8],
    ) -> Result<(), Failure> {
        let sftp = &connection.sftp;
        let flags = OpenFlags::CREATE | OpenFlags::TRUNCATE | OpenFlags::WRITE;
        let handle = sftp
            .open(part_path, flags, FileAttributes::default())
            .await
            .map_err(|e| self.failure("cannot create", part_path, &e))?
            .handle;

        let written = self.write_all(sftp, &handle, part_path, payload).await;
        let synced = match written {
            Ok(()) if connection.fsync => sftp
                .fsync(handle.as_str())
                .await
                .map(drop)
                .map_err(|e| self.failure("cannot sync", part_path, &e)),
            other => other,
        };
        // The server may report a failed write (a full disk, a quota) only when closing.
        let closed = sftp
            .close(handle.as_str())
            .await
            .map(drop)
            .map_err(|e| self.failure("cannot finish writing", part_path, &e));
        synced.and(closed)?;

        self.rename(connection, part_path, final_path).await
    }

    /// Writes `payload` at its offsets, a few requests in flight at a time.
    async fn write_all(
        &self,
        sftp: &Arc<RawSftpSession>,
        handle: &str,
        part_path: &str,
        payload: &[u8],
    ) -> Result<(), Failure> {
        let mut writes = JoinSet::new();
        let mut chunks = payload.chunks(WRITE_CHUNK).enumerate();
        loop {
            while writes.len() < WRITES_IN_FLIGHT
                && let Some((index, chunk)) = chunks.next()
            {
                let sftp = Arc::clone(sftp);
                let handle = handle.to_string();
                let data = chunk.to_vec();
                let offset = (index * WRITE_CHUNK) as u64;
                writes.spawn(async move { sftp.write(handle, offset, data).await });
            }
            let Some(done) = writes.join_next().await else {
                return Ok(());
            };
            match done {
                Ok(Ok(_)) => {}
                // Dropping the set aborts the writes still in flight.
                Ok(Err(e)) => return Err(self.failure("cannot write", part_path, &e)),
                Err(e) => {
                    return Err(Failure {
                        reason: format!("writing {part_path} did not finish: {e}"),
                        connection_lost: true,
                    });
                }
            }
        }
    }

    /// Renames the uploaded file over its final name (see the module documentation).
    async fn rename(
        &self,
        connection: &Connection,
        part_path: &str,
        final_path: &str,
    ) -> Result<(), Failure> {
        let sftp = &connection.sftp;
        let failed =
            |e: &SftpError| self.failure(&format!("cannot rename {part_path} to"), final_path, e);
        if connection.posix_rename {
            let mut data = Vec::with_capacity(8 + part_path.len() + final_path.len());
            put_string(&mut data, part_path);
            put_string(&mut data, final_path);
            return match sftp.extended(POSIX_RENAME, data).await {
                Ok(Packet::Status(status)) if status.status_code == StatusCode::Ok => Ok(()),
                Ok(Packet::Status(status)) => Err(failed(&SftpError::Status(status))),
                Ok(_) => Err(failed(&SftpError::UnexpectedPacket)),
                Err(e) => Err(failed(&e)),
            };
        }
        match sftp.rename(part_path, final_path).await {
            Ok(_) => Ok(()),
            // SFTP v3 RENAME refuses an existing target with a bare FAILURE: remove it, then
            // rename again. The final name is missing for that moment, but never half written.
            Err(SftpError::Status(status)) if status.status_code == StatusCode::Failure => {
                match sftp.remove(final_path).await {
                    Ok(_) => {}
                    Err(SftpError::Status(s)) if s.status_code == StatusCode::NoSuchFile => {}
                    Err(e) => return Err(self.failure("cannot replace", final_path, &e)),
                }
                sftp.rename(part_path, final_path)
                    .await
                    .map(drop)
                    .map_err(|e| failed(&e))
            }
            Err(e) => Err(failed(&e)),
        }
    }

    /// A failed SFTP request in words, naming the remote path and the server.
    fn failure(&self, doing: &str, path: &str, error: &SftpError) -> Failure {
        let address = self.address();
        match error {
            SftpError::Status(status) => {
                let why = match status.status_code {
                    StatusCode::NoSuchFile => format!(
                        "no such file or directory (does remote directory {} exist?)",
                        self.dir
                    ),
                    StatusCode::PermissionDenied => "permission denied".to_string(),
                    code if status.error_message.trim().is_empty() => code.to_string(),
                    code => format!("{code}: {}", status.error_message.trim()),
                };
                Failure {
                    reason: format!("{doing} {path} on {address}: {why}"),
                    connection_lost: false,
                }
            }
            SftpError::Timeout => Failure {
                reason: format!(
                    "no answer from {address} in time ({doing} {path}, timed out after {})",
                    seconds(self.timeout)
                ),
                connection_lost: true,
            },
            other => Failure {
                reason: format!("connection to {address} lost ({doing} {path}): {other}"),
                connection_lost: true,
            },
        }
    }

    /// The test connection: connect, log in, look at the remote directory.
    async fn check_connection(&self) -> CheckVerdict {
        let connection = match self.connect().await {
            Ok(connection) => connection,
            Err(e) => return CheckVerdict::failed(e.reason()),
        };
        let dir = &self.dir;
        let verdict = match connection.sftp.stat(dir.as_str()).await {
            Ok(attrs) if attrs.attrs.is_dir() => {
                let mut message = format!(
                    "connected; writes files to {dir} (host key {})",
                    connection.host_key
                );
                if self.host_key.is_none() {
                    message.push_str(&format!(
                        "; warning: host_key is not set, so this host key was accepted without \
                         verification: set host_key = \"{}\" to pin it",
                        connection.host_key
                    ));
                }
                CheckVerdict::ok(message)
            }
            Ok(_) => CheckVerdict::failed(format!("remote path {dir} is not a directory")),
            Err(SftpError::Status(s)) if s.status_code == StatusCode::NoSuchFile => {
                CheckVerdict::failed(format!("remote directory {dir} does not exist"))
            }
            Err(SftpError::Status(s)) if s.status_code == StatusCode::PermissionDenied => {
                CheckVerdict::failed(format!(
                    "remote directory {dir} cannot be accessed: permission denied"
                ))
            }
            Err(e) => CheckVerdict::failed(self.failure("cannot look at", dir, &e).reason),
        };
        connection.close().await;
        verdict
    }
}

#[async_trait]
impl Target for SftpTarget {
    async fn check(&self) -> CheckVerdict {
        // A fresh connection, not the kept one: the check is about connecting at all.
        self.check_connection().await
    }

    async fn deliver(&self, message: &OutboundMessage) -> Result<(), DeliveryError> {
        validate_name(&message.name).map_err(|reason| DeliveryError::Rejected { reason })?;
        let (connection, fresh) = self.connection().await.map_err(retry)?;
        let failure = match self.upload(&connection, message).await {
            Ok(()) => return Ok(()),
            Err(failure) => failure,
        };
        if !failure.connection_lost {
            return Err(retry(failure.reason));
        }
        self.forget(&connection).await;
        if fresh {
            return Err(retry(failure.reason));
        }
        // A kept connection the server had dropped: once more on a new one. Uploading again is
        // harmless (same names, same bytes).
        let (connection, _) = self.connection().await.map_err(retry)?;
        match self.upload(&connection, message).await {
            Ok(()) => Ok(()),
            Err(failure) => {
                if failure.connection_lost {
                    self.forget(&connection).await;
                }
                Err(retry(failure.reason))
            }
        }
    }
}

/// One SSH connection with its SFTP session.
struct Connection {
    session: client::Handle<Verifier>,
    sftp: Arc<RawSftpSession>,
    /// `SHA256:…` of the key the server showed.
    host_key: String,
    posix_rename: bool,
    fsync: bool,
}

impl Connection {
    fn is_alive(&self) -> bool {
        !self.session.is_closed()
    }

    /// Ends the SFTP session and the SSH connection politely.
    async fn close(&self) {
        let _ = self.sftp.close_session();
        let _ = self
            .session
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }
}

/// Checks the server's host key against the expected fingerprint, and records what it saw.
struct Verifier {
    expected: Option<String>,
    seen: Arc<StdMutex<Option<String>>>,
}

impl client::Handler for Verifier {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let got = match server_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => fingerprint(key),
            PublicKeyOrCertificate::Certificate(cert) => {
                cert.public_key().fingerprint(HashAlg::Sha256).to_string()
            }
        };
        let accepted = self.expected.as_deref().is_none_or(|e| e == got);
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(got);
        Ok(accepted)
    }
}

/// Why no working connection could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum ConnectError {
    #[error("cannot resolve {host}: {why}")]
    Resolve { host: String, why: String },
    #[error("cannot reach {address}: {why}")]
    Unreachable { address: String, why: String },
    #[error("host key of {host} does not match host_key; expected {expected}, got {got}")]
    HostKey {
        host: String,
        expected: String,
        got: String,
        /// `false`: not pinned, but different from the key accepted first.
        pinned: bool,
    },
    #[error("credentials are invalid (SSH authentication failed)")]
    Credentials,
    #[error("SSH connection to {address} failed: {why}")]
    Ssh { address: String, why: String },
    #[error("{address} does not offer SFTP: {why}")]
    NoSftp { address: String, why: String },
}

impl ConnectError {
    /// The message, with what to do for a key that changed after first contact.
    fn reason(&self) -> String {
        match self {
            ConnectError::HostKey { pinned: false, .. } => format!(
                "{self} (host_key is not set, and this differs from the key accepted when \
                 wfm-bridge first connected; if the server's key was replaced, set host_key)"
            ),
            _ => self.to_string(),
        }
    }
}

/// A failed upload step.
#[derive(Debug)]
struct Failure {
    reason: String,
    /// The connection died (rather than the server refusing a request): worth a new one.
    connection_lost: bool,
}

/// A [`DeliveryError::Retry`] from anything with a reason.
fn retry(reason: impl Into<ConnectOrText>) -> DeliveryError {
    DeliveryError::Retry {
        reason: reason.into().0,
        retry_after: None,
    }
}

/// Text for [`retry`]: a connection error's reason or a plain string.
struct ConnectOrText(String);

impl From<ConnectError> for ConnectOrText {
    fn from(e: ConnectError) -> Self {
        ConnectOrText(e.reason())
    }
}

impl From<String> for ConnectOrText {
    fn from(s: String) -> Self {
        ConnectOrText(s)
    }
}

/// Reads the private key; the error never quotes it.
fn parse_private_key(key: &Secret) -> Result<PrivateKey, &'static str> {
    let text = key.expose();
    match russh::keys::decode_secret_key(text, None) {
        Ok(key) => Ok(key),
        Err(_) if text.contains("ENCRYPTED") || is_encrypted_openssh(text) => Err(
            "private_key is protected by a passphrase; give an unencrypted key \
             (ssh-keygen -p -N '' -f KEY removes the passphrase from a copy)",
        ),
        Err(_) => Err(
            "private_key is not an OpenSSH or PEM private key (expected the text of a file \
             such as id_ed25519, beginning -----BEGIN OPENSSH PRIVATE KEY-----)",
        ),
    }
}

/// Whether an OpenSSH-format key is encrypted; decoding fails for it without a passphrase.
fn is_encrypted_openssh(text: &str) -> bool {
    PrivateKey::from_openssh(text.trim()).is_ok_and(|k| k.is_encrypted())
}

/// The RSA signature hash to use: the best the server lists, SHA-512 when it lists none.
async fn rsa_hash(session: &client::Handle<Verifier>) -> Option<HashAlg> {
    match session.best_supported_rsa_hash().await {
        Ok(Some(best)) => best,
        // No server-sig-algs: a server from before RFC 8332 or one that does not say; every
        // current OpenSSH accepts SHA-512.
        _ => Some(HashAlg::Sha512),
    }
}

/// Whether two host key algorithms are the same kind of key (all RSA signature hashes are one).
fn same_key_type(a: &Algorithm, b: &Algorithm) -> bool {
    a == b || (matches!(a, Algorithm::Rsa { .. }) && matches!(b, Algorithm::Rsa { .. }))
}

/// An SSH `string`: a big-endian u32 length, then the bytes.
fn put_string(out: &mut Vec<u8>, s: &str) {
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Why a host name did not resolve, without the `failed to lookup address information:` prefix.
fn resolve_reason(error: &std::io::Error) -> String {
    let text = error.to_string();
    let text = text
        .strip_prefix("failed to lookup address information: ")
        .unwrap_or(&text);
    let text = text.to_lowercase();
    if text.contains("not known") || text.contains("no address") || text.contains("not found") {
        "no such host".to_string()
    } else {
        text
    }
}

/// `30s`, `1.5s`.
fn seconds(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::PropertyValue;

    // A throwaway key made for these tests with `ssh-keygen -t ed25519 -N ''`.
    const ED25519_KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACD2+eEt2m8bjvWgt4BHmL/kN38JN3J4l80BaJdCI6r1MAAAAJi6t+6Purfu
jwAAAAtzc2gtZWQyNTUxOQAAACD2+eEt2m8bjvWgt4BHmL/kN38JN3J4l80BaJdCI6r1MA
AAAEA8ryajqCbjxeNN35HdqNYSqO0Dy2y9Bu7uEJfFQWdhOvb54S3abxuO9aC3gEeYv+Q3
fwk3cniXzQFol0IjqvUwAAAAD3Rlc3RAd2ZtLWJyaWRnZQECAwQFBg==
-----END OPENSSH PRIVATE KEY-----
";
    const ED25519_PUB: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPb54S3abxuO9aC3gEeYv+Q3fwk3cniXzQFol0IjqvUw test@wfm-bridge";

    fn account(properties: &[(&str, PropertyValue)]) -> AccountConfig {
        AccountConfig {
            name: "drop".to_string(),
            account_type: "sftp".to_string(),
            tenant: None,
            properties: properties
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        }
    }

    fn text(s: &str) -> PropertyValue {
        PropertyValue::Text(s.to_string())
    }

    fn secret(s: &str) -> PropertyValue {
        PropertyValue::Secret(Secret::new(s))
    }

    fn base() -> Vec<(&'static str, PropertyValue)> {
        vec![
            ("host", text("sftp.example.com")),
            ("username", text("wfm")),
            ("path", text("/in")),
        ]
    }

    #[test]
    fn exactly_one_credential_is_required() {
        let err = SftpTarget::from_account(&account(&base())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "account drop: neither password nor private_key is set; set exactly one of them"
        );
        let mut both = base();
        both.push(("password", secret("pw")));
        both.push(("private_key", secret(ED25519_KEY)));
        let err = SftpTarget::from_account(&account(&both)).unwrap_err();
        assert!(
            err.message.contains("both password and private_key"),
            "{err}"
        );

        let mut password = base();
        password.push(("password", secret("pw")));
        assert!(SftpTarget::from_account(&account(&password)).is_ok());
        let mut key = base();
        key.push(("private_key", secret(ED25519_KEY)));
        assert!(SftpTarget::from_account(&account(&key)).is_ok());
    }

    #[test]
    fn a_bad_private_key_is_refused_without_quoting_it() {
        let mut props = base();
        props.push(("private_key", secret("not-a-key s3cret-material")));
        let err = SftpTarget::from_account(&account(&props)).unwrap_err();
        assert!(
            err.message.contains("not an OpenSSH or PEM private key"),
            "{err}"
        );
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn a_key_with_a_passphrase_is_refused_with_what_to_do() {
        // A throwaway ed25519 key encrypted with ssh-keygen -N 'pass phrase'.
        const ENCRYPTED: &str = "-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABCam+bck5
vV0NVThy1Ta0nsAAAABAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIBFERpWLhWkpqAe0
G9950HQSlgRPX00cn+yyT5U6/D2+AAAAkMPDEngGQXUzqeB7dqyWqJ1Eqgp+FsH8ErzuTB
7zCFpiMCrt6AIt0PF8ycLOpJ+xXnCtF2OaIpY4QiJHniMg4UpHPEh2IUy3015t+dK1pgGk
4BG6SFBNYHsVEGtMto+lviSUvjLR+gA7F6sxqtXYCP+dDjTdk9S26iIINPDpGXXC6t4b/K
L1itFJfM51BrilIQ==
-----END OPENSSH PRIVATE KEY-----
";
        let mut props = base();
        props.push(("private_key", secret(ENCRYPTED)));
        let err = SftpTarget::from_account(&account(&props)).unwrap_err();
        assert!(err.message.contains("protected by a passphrase"), "{err}");
        assert!(!err.message.contains("b3BlbnNzaC1rZXkt"), "{err}");
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let mut props = base();
        props.push(("password", secret("hunter2")));
        let target = SftpTarget::from_account(&account(&props)).unwrap();
        let debug = format!("{target:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("password(<secret>)"), "{debug}");

        let mut props = base();
        props.push(("private_key", secret(ED25519_KEY)));
        let target = SftpTarget::from_account(&account(&props)).unwrap();
        let debug = format!("{target:?}");
        assert!(!debug.contains("b3BlbnNzaC1rZXkt"), "{debug}");
    }

    #[test]
    fn ports_and_hosts_are_checked() {
        let mut props = base();
        props.push(("password", secret("pw")));
        props.push(("port", PropertyValue::Integer(70000)));
        let err = SftpTarget::from_account(&account(&props)).unwrap_err();
        assert!(err.message.contains("not a TCP port"), "{err}");

        let mut props = base();
        props[0] = ("host", text("sftp://x.example.com/in"));
        props.push(("password", secret("pw")));
        assert!(SftpTarget::from_account(&account(&props)).is_err());
    }

    #[test]
    fn host_keys_are_lines_or_fingerprints() {
        let pin = HostKeyPin::parse(ED25519_PUB).unwrap();
        let fp = pin.fingerprint().to_string();
        assert!(fp.starts_with("SHA256:") && fp.len() == 50, "{fp}");
        assert!(matches!(
            pin,
            HostKeyPin::Key {
                algorithm: Algorithm::Ed25519,
                ..
            }
        ));
        // A known_hosts / ssh-keyscan line names the host first.
        let line = format!("sftp.example.com {ED25519_PUB}");
        assert_eq!(HostKeyPin::parse(&line).unwrap().fingerprint(), fp);
        // The fingerprint alone, with or without base64 padding.
        assert_eq!(
            HostKeyPin::parse(&fp).unwrap(),
            HostKeyPin::Fingerprint(fp.clone())
        );
        assert_eq!(
            HostKeyPin::parse(&format!("{fp}=")).unwrap().fingerprint(),
            fp
        );
        assert!(HostKeyPin::parse("SHA256:short").is_err());
        assert!(
            HostKeyPin::parse("MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48")
                .unwrap_err()
                .contains("MD5")
        );
        assert!(HostKeyPin::parse("ssh-ed25519 garbage").is_err());
    }

    #[test]
    fn remote_paths_join_once() {
        let mut props = base();
        props.push(("password", secret("pw")));
        let target = SftpTarget::from_account(&account(&props)).unwrap();
        assert_eq!(target.remote_path("a.csv"), "/in/a.csv");
        props[2] = ("path", text("/"));
        let target = SftpTarget::from_account(&account(&props)).unwrap();
        assert_eq!(target.remote_path("a.csv"), "/a.csv");
        assert_eq!(target.address(), "sftp.example.com:22");
    }

    #[test]
    fn ssh_strings_are_length_prefixed() {
        let mut out = Vec::new();
        put_string(&mut out, "/in/a");
        assert_eq!(out, [0, 0, 0, 5, b'/', b'i', b'n', b'/', b'a']);
    }

    #[test]
    fn connect_errors_read_as_verdicts() {
        assert_eq!(
            ConnectError::Credentials.reason(),
            "credentials are invalid (SSH authentication failed)"
        );
        let e = ConnectError::HostKey {
            host: "h".into(),
            expected: "SHA256:a".into(),
            got: "SHA256:b".into(),
            pinned: true,
        };
        assert_eq!(
            e.reason(),
            "host key of h does not match host_key; expected SHA256:a, got SHA256:b"
        );
    }
}
