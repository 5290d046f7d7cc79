//! Targets: systems wfm-bridge delivers to.
//!
//! A target receives one [`OutboundMessage`] at a time from the delivery worker and says how it went:
//! delivered, worth retrying (with the server's `Retry-After` when it gave one), throttled, or
//! refused for good. It never decides about retries itself; the worker does (DESIGN §3 "Outbox").
//! [`Target::check`] is the "test connection" of an account.

pub mod aspect_tcp;
pub mod calabrio;
pub mod files;
pub mod http;
pub mod http_post;
pub mod loxysoft;
pub mod nice;
pub mod realtime;
pub mod sftp;

use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

/// One message to deliver, as the outbox holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundMessage {
    /// Outbox id.
    pub id: i64,
    /// The flow that produced it.
    pub flow: String,
    /// Ordering key: messages of one (flow, key) are delivered in id order.
    pub key: String,
    /// Unique per message; a repeated delivery carries the same key so the receiver can drop it.
    pub idempotency_key: String,
    /// File name for targets that write files (`Queue_Statistics_20240301_20240301.csv`).
    pub name: String,
    /// MIME type of the payload (`application/json`, `text/csv`).
    pub content_type: String,
    /// The bytes to deliver.
    pub payload: Vec<u8>,
    /// 1 for the first attempt.
    pub attempt: u32,
}

/// How a delivery went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// A temporary failure (network, 5xx, timeout): try again later.
    #[error("{reason}")]
    Retry {
        /// What happened, without secrets.
        reason: String,
        /// How long the target asked us to wait (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// The target is rate-limiting (429): wait and retry without counting it against the message.
    #[error("throttled: {reason}")]
    Throttled {
        /// What happened.
        reason: String,
        /// How long to wait, when the target said.
        retry_after: Option<Duration>,
    },
    /// The target refused the message itself (4xx): retrying cannot help.
    #[error("{reason}")]
    Rejected {
        /// What the target said, without secrets.
        reason: String,
    },
}

/// The verdict of a test connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckVerdict {
    /// Whether the account works.
    pub ok: bool,
    /// What was found, in words an operator acts on: "connected", "credentials are invalid",
    /// "access forbidden", "cannot reach https://…: connection refused".
    pub message: String,
}

impl CheckVerdict {
    /// A working account.
    pub fn ok(message: impl Into<String>) -> CheckVerdict {
        CheckVerdict {
            ok: true,
            message: message.into(),
        }
    }

    /// A failing account.
    pub fn failed(message: impl Into<String>) -> CheckVerdict {
        CheckVerdict {
            ok: false,
            message: message.into(),
        }
    }
}

/// A destination for outbound messages.
#[async_trait]
pub trait Target: Send + Sync {
    /// Tests the connection without changing anything on the target.
    async fn check(&self) -> CheckVerdict;

    /// Delivers one message. Must be safe to call again with the same message (same idempotency key)
    /// after a crash: the target either overwrites, deduplicates, or passes the key on.
    async fn deliver(&self, message: &OutboundMessage) -> Result<(), DeliveryError>;
}
