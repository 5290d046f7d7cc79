//! The `files` target: each message becomes one file in a directory (a file drop). The same account
//! type read as a source is `sources::file_drop`.
//!
//! Many WFM systems import by polling a directory (Calabrio's historical statistics files, forecast
//! imports, HR drops). A reader must never see half a file, so a message is written to a hidden
//! temporary file in the same directory (`.<name>.<idempotency key>.tmp`), synced, and renamed over
//! its final name, which is atomic within one filesystem. Delivering the same message again writes
//! the same bytes under the same name, so a repeat after a crash is harmless.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::accounts::{AccountConfig, AccountError, AccountType, PropertyKind, PropertySpec};
use crate::targets::{CheckVerdict, DeliveryError, OutboundMessage, Target};

/// The `files` account type.
pub const ACCOUNT_TYPE: AccountType = AccountType {
    name: "files",
    description: "Writes each message as a file into a directory that another system reads",
    properties: &[
        PropertySpec {
            name: "path",
            kind: PropertyKind::Path,
            required: true,
            secret: false,
            default: None,
            help: "directory the files are written to",
        },
        PropertySpec {
            name: "create_dir",
            kind: PropertyKind::Bool,
            required: false,
            secret: false,
            default: Some("true"),
            help: "create the directory (and its parents) when it does not exist",
        },
        PropertySpec {
            name: "settle",
            kind: PropertyKind::Duration,
            required: false,
            secret: false,
            default: Some("5s"),
            help: "as a source: how long a dropped file must stay unchanged before it is read",
        },
    ],
    single_per_tenant: false,
    build: Some(build),
    build_source: Some(crate::sources::file_drop::build),
    build_directory: None,
};

/// Longest file name accepted, in bytes: the temporary name adds a key and `.tmp`, and most
/// filesystems stop at 255.
pub const MAX_NAME_BYTES: usize = 200;

/// Longest part of the idempotency key put into a temporary file name.
const MAX_KEY_CHARS: usize = 40;

fn build(account: &AccountConfig) -> Result<Box<dyn Target>, AccountError> {
    Ok(Box::new(FilesTarget::from_account(account)?))
}

/// Writes messages as files into one directory.
#[derive(Debug, Clone)]
pub struct FilesTarget {
    dir: PathBuf,
    create_dir: bool,
}

impl FilesTarget {
    /// A target writing into `dir`, creating it on first delivery when `create_dir`.
    pub fn new(dir: impl Into<PathBuf>, create_dir: bool) -> FilesTarget {
        FilesTarget {
            dir: dir.into(),
            create_dir,
        }
    }

    /// Builds the target from an account's checked properties (`path`, `create_dir`).
    pub fn from_account(account: &AccountConfig) -> Result<FilesTarget, AccountError> {
        let error = |message: &str| AccountError {
            account: account.name.clone(),
            message: message.to_string(),
        };
        let path = account
            .text("path")
            .ok_or_else(|| error("property path is required: the directory to write files to"))?;
        if path.trim().is_empty() {
            return Err(error(
                "property path is empty; set it to the directory to write files to",
            ));
        }
        let create_dir = account.bool("create_dir").unwrap_or(true);
        Ok(FilesTarget::new(path, create_dir))
    }

    /// The directory files are written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes one message; blocking, run on a blocking thread.
    fn write(&self, message: &OutboundMessage) -> Result<(), DeliveryError> {
        validate_name(&message.name).map_err(|reason| DeliveryError::Rejected { reason })?;
        self.ensure_dir()?;

        let final_path = self.dir.join(&message.name);
        let tmp_path = self.dir.join(format!(
            ".{}.{}.tmp",
            message.name,
            key_for_file_name(&message.idempotency_key)
        ));
        let result = write_synced(&tmp_path, &message.payload)
            .map_err(|e| {
                retry(format!(
                    "cannot write {}: {}",
                    tmp_path.display(),
                    io_reason(&e)
                ))
            })
            .and_then(|()| {
                fs::rename(&tmp_path, &final_path).map_err(|e| {
                    retry(format!(
                        "cannot rename {} to {}: {}",
                        tmp_path.display(),
                        final_path.display(),
                        io_reason(&e)
                    ))
                })
            });
        if result.is_err() {
            // Best effort: a leftover is overwritten by the next attempt of the same message anyway.
            let _ = fs::remove_file(&tmp_path);
            return result;
        }
        // The rename is durable only once the directory entry is; a failure here does not undo
        // a delivery a reader may already have seen, so it is not reported.
        sync_dir(&self.dir);
        Ok(())
    }

    /// Makes sure the directory exists, creating it when allowed.
    fn ensure_dir(&self) -> Result<(), DeliveryError> {
        match fs::metadata(&self.dir) {
            Ok(meta) if meta.is_dir() => Ok(()),
            Ok(_) => Err(retry(format!("{} is not a directory", self.dir.display()))),
            Err(e) if e.kind() == io::ErrorKind::NotFound && self.create_dir => {
                fs::create_dir_all(&self.dir).map_err(|e| {
                    retry(format!(
                        "cannot create directory {}: {}",
                        self.dir.display(),
                        io_reason(&e)
                    ))
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(retry(format!(
                "directory {} does not exist (create_dir is false)",
                self.dir.display()
            ))),
            Err(e) => Err(retry(format!(
                "cannot use directory {}: {}",
                self.dir.display(),
                io_reason(&e)
            ))),
        }
    }

    /// The test connection; blocking.
    fn check_blocking(&self) -> CheckVerdict {
        let dir = self.dir.display();
        let cannot = |why: String| CheckVerdict::failed(format!("cannot write to {dir}: {why}"));
        match fs::metadata(&self.dir) {
            Ok(meta) if meta.is_dir() => match probe(&self.dir) {
                Ok(()) => CheckVerdict::ok(format!("writes files to {dir}")),
                Err(e) => cannot(io_reason(&e)),
            },
            Ok(_) => cannot("not a directory".to_string()),
            Err(e) if e.kind() == io::ErrorKind::NotFound && self.create_dir => {
                // Checking changes nothing: probe the nearest existing ancestor, where the
                // directory would be created on first delivery.
                match nearest_existing_ancestor(&self.dir) {
                    Some(parent) if parent.is_dir() => match probe(&parent) {
                        Ok(()) => CheckVerdict::ok(format!(
                            "writes files to {dir} (created on the first delivery)"
                        )),
                        Err(e) => cannot(format!(
                            "cannot create it in {}: {}",
                            parent.display(),
                            io_reason(&e)
                        )),
                    },
                    Some(parent) => cannot(format!("{} is not a directory", parent.display())),
                    None => cannot("no such directory".to_string()),
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                cannot("no such directory (create_dir is false)".to_string())
            }
            Err(e) => cannot(io_reason(&e)),
        }
    }
}

#[async_trait]
impl Target for FilesTarget {
    async fn check(&self) -> CheckVerdict {
        let target = self.clone();
        tokio::task::spawn_blocking(move || target.check_blocking())
            .await
            .unwrap_or_else(|e| CheckVerdict::failed(format!("check did not finish: {e}")))
    }

    async fn deliver(&self, message: &OutboundMessage) -> Result<(), DeliveryError> {
        let target = self.clone();
        let message = message.clone();
        tokio::task::spawn_blocking(move || target.write(&message))
            .await
            .unwrap_or_else(|e| Err(retry(format!("writing did not finish: {e}"))))
    }
}

/// Checks that a message name is one plain file name; the reason says what is wrong.
///
/// Refused: empty, `.`, longer than [`MAX_NAME_BYTES`], containing `/`, `\`, `..` or a control
/// character. A name that could leave the directory or replace something else is the producer's
/// bug, not a temporary failure.
pub fn validate_name(name: &str) -> Result<(), String> {
    let problem = if name.is_empty() {
        Some("is empty")
    } else if name == "." {
        Some("is not a file name")
    } else if name.len() > MAX_NAME_BYTES {
        Some("is longer than 200 bytes")
    } else if name.contains('/') || name.contains('\\') {
        Some("contains a path separator")
    } else if name.contains("..") {
        Some("contains ..")
    } else if name.chars().any(char::is_control) {
        Some("contains a control character")
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(format!(
            "invalid file name {name:?}: it {problem}; a message name must be a plain file name"
        )),
    }
}

/// The idempotency key reduced to characters safe in a file name, and shortened.
pub(crate) fn key_for_file_name(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(MAX_KEY_CHARS)
        .collect()
}

/// Writes `bytes` to `path` (created or truncated) and syncs it to disk before returning.
fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Syncs a directory so a rename in it survives a power loss (Unix; elsewhere a no-op).
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Creates and removes a probe file in `dir`.
fn probe(dir: &Path) -> io::Result<()> {
    let path = dir.join(format!(".wfm-bridge-check.{}.tmp", std::process::id()));
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)?
        .write_all(b"check")?;
    fs::remove_file(&path)
}

/// The closest ancestor of `path` that exists.
fn nearest_existing_ancestor(path: &Path) -> Option<PathBuf> {
    // A relative path's ancestors end in "", which means the current directory.
    path.ancestors()
        .skip(1)
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .find(|p| p.exists())
        .map(Path::to_path_buf)
}

/// A [`DeliveryError::Retry`] without `Retry-After`.
fn retry(reason: String) -> DeliveryError {
    DeliveryError::Retry {
        reason,
        retry_after: None,
    }
}

/// An I/O error as a short lowercase phrase ("permission denied"), without the `(os error 13)`.
pub(crate) fn io_reason(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        io::ErrorKind::NotFound => "no such file or directory".to_string(),
        io::ErrorKind::AlreadyExists => "already exists".to_string(),
        io::ErrorKind::NotADirectory => "not a directory".to_string(),
        io::ErrorKind::IsADirectory => "is a directory".to_string(),
        io::ErrorKind::ReadOnlyFilesystem => "read-only file system".to_string(),
        io::ErrorKind::StorageFull => "no space left on device".to_string(),
        io::ErrorKind::QuotaExceeded => "disk quota exceeded".to_string(),
        io::ErrorKind::InvalidFilename => "file name too long or invalid".to_string(),
        _ => {
            let text = error.to_string();
            // "Broken pipe (os error 32)" → "broken pipe".
            let text = text.split(" (os error").next().unwrap_or(&text);
            text.to_lowercase()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_are_valid() {
        for name in [
            "Queue_Statistics_20240301_20240301.csv",
            "agents.json",
            ".hidden",
            "a b (1).csv",
            "statistik-ö.csv",
        ] {
            assert_eq!(validate_name(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn names_that_could_escape_are_invalid() {
        for name in [
            "",
            ".",
            "..",
            "../etc/passwd",
            "/etc/passwd",
            "a/b",
            "a\\b",
            "a..b",
            "line\nbreak",
            "nul\0",
            "tab\t",
        ] {
            assert!(validate_name(name).is_err(), "{name:?}");
        }
        assert!(validate_name(&"x".repeat(MAX_NAME_BYTES)).is_ok());
        assert!(validate_name(&"x".repeat(MAX_NAME_BYTES + 1)).is_err());
    }

    #[test]
    fn keys_are_made_safe_for_file_names() {
        assert_eq!(key_for_file_name("flow-1/42:7"), "flow-1_42_7");
        assert_eq!(key_for_file_name(&"k".repeat(100)).len(), MAX_KEY_CHARS);
    }

    #[test]
    fn io_reasons_are_short() {
        let e = io::Error::from(io::ErrorKind::PermissionDenied);
        assert_eq!(io_reason(&e), "permission denied");
        let e = io::Error::from_raw_os_error(32);
        assert_eq!(io_reason(&e), "broken pipe");
    }
}
