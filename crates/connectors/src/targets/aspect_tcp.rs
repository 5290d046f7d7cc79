//! The `aspect_tcp` target: real-time agent states as a TCP stream of fixed-width records, for
//! Aspect (Alvaria) eWFM's Real-Time Adherence server and its "Universal ACD" interface
//! (Bright Pattern's "WFM over TCP").
//!
//! Aspect's record format is not public (reference/acd-sources.md §6), so the layout is
//! configurable and the default is ours: `field_sizes` lists the fields of a record in order, as
//! `name=size` pairs, and the WFM side is set up to match.
//!
//! **Records.** One record per agent per update, each field padded or cut to its size, the fields
//! side by side, then CRLF:
//!
//! | field | content | alignment |
//! |---|---|---|
//! | `agent` | the agent id | left, padded with spaces |
//! | `state` | the flow's code for the state (`[flows.state_codes]`, e.g. `READY`, `LUNCH`) | left, spaces |
//! | `reason` | the numeric reason code (`reason_codes`; 0 = none) | right, padded with zeros |
//! | `timestamp` | when the agent entered the state, UTC, `YYYYMMDDHHMMSS` | left, spaces |
//! | `seconds` | seconds in the state when the update was built | right, zeros |
//!
//! The default layout is `agent=16,state=8,reason=4,timestamp=14` (42 characters + CRLF):
//! `1001            READY   00002024030108000000`. Every field but `agent` may be left out; each
//! may appear once.
//!
//! **Sizes and truncation.** With `encoding = "utf-8"` sizes count bytes; with `"utf-16le"`
//! ("Unicode", which Aspect's Universal interface requires to be ticked; little-endian, no byte
//! order mark) they count UTF-16 code units of 2 bytes. Every record therefore has the same
//! length in bytes. A longer value is cut at the last whole character that fits — never inside a
//! UTF-8 sequence or a surrogate pair — and the rest padded with spaces, so a 16-byte `agent` field
//! holds 8 two-byte characters and a 9th is dropped. Control characters (a CR or LF inside an id
//! would break the framing) are sent as spaces. A number too big for its field is sent as all 9s;
//! `reason_codes` that cannot fit the `reason` field are refused when the account is built.
//!
//! **Snapshots** are framed so the receiver knows the set is complete: a record `SNAP`, the
//! logged-in agents' records, and a record `END`, each marker padded with spaces to the record
//! width (so the layout must be at least 4 wide). An agent not between `SNAP` and `END` is logged
//! out. An update of the changed agents (a delta) is their records alone, without markers; a
//! logged-out agent appears with the flow's code for `logged_out`.
//!
//! **Connection.** One connection is kept and written to; nothing is read from it (anything the
//! server sends is discarded). Before each write the target checks that the server has not closed
//! it, and connects again if it has. A failed connection attempt is retried with exponential
//! backoff, from 500 ms doubling up to `reconnect_max` (default 30 s): until then deliveries fail
//! at once with [`DeliveryError::Retry`] carrying the time left as `retry_after`. A write that
//! fails (the server went away mid-write) drops the connection and is [`DeliveryError::Retry`]; the
//! next delivery connects again. TCP has no acknowledgement here: records written just before the
//! server closed may be lost unnoticed, which the flow's periodic snapshots repair.

use std::fmt;
use std::io;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use wfm_model::AgentState;

use crate::accounts::{AccountConfig, AccountError, AccountType, PropertyKind, PropertySpec};
use crate::targets::http_post::ReasonCodes;
use crate::targets::realtime::{self, AgentStatesUpdate};
use crate::targets::{CheckVerdict, DeliveryError, OutboundMessage, Target};

/// The default `field_sizes`.
pub const DEFAULT_FIELD_SIZES: &str = "agent=16,state=8,reason=4,timestamp=14";

/// The marker record opening a snapshot.
pub const SNAPSHOT_START: &str = "SNAP";

/// The marker record closing a snapshot.
pub const SNAPSHOT_END: &str = "END";

/// The first wait after a failed connection attempt; it doubles up to `reconnect_max`.
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(500);

/// Default cap of the reconnection backoff.
pub const DEFAULT_RECONNECT_MAX: Duration = Duration::from_secs(30);

/// Default limit for connecting and for writing one update.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The widest field accepted: far beyond any id, and it keeps a typo from making huge records.
pub const MAX_FIELD_SIZE: usize = 1024;

/// How long a liveness check waits for the reactor to report a close that already happened.
const LIVENESS_WAIT: Duration = Duration::from_millis(1);

/// The `aspect_tcp` account type.
pub const ACCOUNT_TYPE: AccountType = AccountType {
    name: "aspect_tcp",
    description: "Real-time agent states as fixed-width records over TCP (Aspect eWFM Real-Time Adherence)",
    properties: &[
        PropertySpec {
            name: "host",
            kind: PropertyKind::Text,
            required: true,
            secret: false,
            default: None,
            help: "host name or IP address of the Aspect Real-Time Adherence (RTA) server",
        },
        PropertySpec {
            name: "port",
            kind: PropertyKind::Integer,
            required: true,
            secret: false,
            default: None,
            help: "TCP port of the RTA server's Universal ACD interface",
        },
        PropertySpec {
            name: "field_sizes",
            kind: PropertyKind::Text,
            required: false,
            secret: false,
            default: Some(DEFAULT_FIELD_SIZES),
            help: "the record's fields in order with their sizes (fields: agent, state, reason, \
                   timestamp, seconds); must match the RTA server's settings",
        },
        PropertySpec {
            name: "encoding",
            kind: PropertyKind::Text,
            required: false,
            secret: false,
            default: Some("utf-8"),
            help: "utf-8, or utf-16le for an RTA interface set to Unicode",
        },
        PropertySpec {
            name: "reason_codes",
            kind: PropertyKind::Map,
            required: false,
            secret: false,
            default: None,
            help: "numeric reason codes by canonical state or \"not_ready:<reason>\" \
                   (\"not_ready:Lunch\" = \"12\"); unmapped states and reasons send 0",
        },
        PropertySpec {
            name: "reconnect_max",
            kind: PropertyKind::Duration,
            required: false,
            secret: false,
            default: Some("30s"),
            help: "longest wait between connection attempts (the backoff doubles from 500ms up to it)",
        },
        PropertySpec {
            name: "timeout",
            kind: PropertyKind::Duration,
            required: false,
            secret: false,
            default: Some("10s"),
            help: "how long connecting, and writing one update, may take",
        },
    ],
    single_per_tenant: true,
    build: Some(build),
    build_source: None,
    build_directory: None,
};

fn build(account: &AccountConfig) -> Result<Box<dyn Target>, AccountError> {
    Ok(Box::new(AspectTcpTarget::from_account(account)?))
}

// ---- layout ------------------------------------------------------------------------------------

/// A field of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The agent id.
    Agent,
    /// The flow's state code.
    State,
    /// The numeric reason code.
    Reason,
    /// When the state began, `YYYYMMDDHHMMSS` UTC.
    Timestamp,
    /// Seconds in the state.
    Seconds,
}

impl Field {
    const ALL: [Field; 5] = [
        Field::Agent,
        Field::State,
        Field::Reason,
        Field::Timestamp,
        Field::Seconds,
    ];

    /// The name in `field_sizes`.
    pub fn name(self) -> &'static str {
        match self {
            Field::Agent => "agent",
            Field::State => "state",
            Field::Reason => "reason",
            Field::Timestamp => "timestamp",
            Field::Seconds => "seconds",
        }
    }
}

/// The fields of a record, in order, with their sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    fields: Vec<(Field, usize)>,
}

impl Layout {
    /// Reads `field_sizes` (`agent=16,state=8,reason=4,timestamp=14`); the error says what is
    /// wrong and what is allowed.
    pub fn parse(text: &str) -> Result<Layout, String> {
        let names = Field::ALL.map(Field::name).join(", ");
        let mut fields: Vec<(Field, usize)> = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let Some((name, size)) = item.split_once('=') else {
                return Err(format!(
                    "field_sizes: {item:?} is not name=size (e.g. agent=16)"
                ));
            };
            let name = name.trim();
            let field = Field::ALL
                .into_iter()
                .find(|f| f.name().eq_ignore_ascii_case(name))
                .ok_or_else(|| format!("field_sizes: unknown field {name:?}; fields: {names}"))?;
            let size: usize = size
                .trim()
                .parse()
                .ok()
                .filter(|s| (1..=MAX_FIELD_SIZE).contains(s))
                .ok_or_else(|| {
                    format!(
                        "field_sizes: {name}={} is not a size from 1 to {MAX_FIELD_SIZE}",
                        size.trim()
                    )
                })?;
            if fields.iter().any(|(f, _)| *f == field) {
                return Err(format!("field_sizes: {name} is given twice"));
            }
            fields.push((field, size));
        }
        if !fields.iter().any(|(f, _)| *f == Field::Agent) {
            return Err(format!(
                "field_sizes: the agent field is missing; a record needs it (default layout: \
                 {DEFAULT_FIELD_SIZES})"
            ));
        }
        let layout = Layout { fields };
        if layout.width() < SNAPSHOT_START.len() {
            return Err(format!(
                "field_sizes: a record of {} characters cannot hold the {SNAPSHOT_START} marker \
                 that opens a snapshot; make the fields at least {} wide in all",
                layout.width(),
                SNAPSHOT_START.len()
            ));
        }
        Ok(layout)
    }

    /// The fields in order with their sizes.
    pub fn fields(&self) -> &[(Field, usize)] {
        &self.fields
    }

    /// The size of a field, if the layout has it.
    pub fn size(&self, field: Field) -> Option<usize> {
        self.fields
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, s)| *s)
    }

    /// The record width in units (bytes for UTF-8, code units for UTF-16), without CRLF.
    pub fn width(&self) -> usize {
        self.fields.iter().map(|(_, s)| s).sum()
    }
}

impl Default for Layout {
    fn default() -> Layout {
        Layout {
            fields: vec![
                (Field::Agent, 16),
                (Field::State, 8),
                (Field::Reason, 4),
                (Field::Timestamp, 14),
            ],
        }
    }
}

/// How records are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// UTF-8; sizes count bytes.
    #[default]
    Utf8,
    /// UTF-16 little-endian without a byte order mark ("Unicode"); sizes count code units.
    Utf16Le,
}

impl Encoding {
    /// Reads `encoding`: `utf-8` (or `utf8`), `utf-16le` (or `utf16le`, `unicode`).
    pub fn parse(text: &str) -> Result<Encoding, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Ok(Encoding::Utf8),
            "utf-16le" | "utf16le" | "utf-16-le" | "unicode" => Ok(Encoding::Utf16Le),
            other => Err(format!(
                "encoding {other:?} is not supported; use \"utf-8\" or \"utf-16le\" (Unicode)"
            )),
        }
    }

    /// How many units a character takes.
    fn units(self, c: char) -> usize {
        match self {
            Encoding::Utf8 => c.len_utf8(),
            Encoding::Utf16Le => c.len_utf16(),
        }
    }

    /// The bytes of `text`.
    pub fn encode(self, text: &str) -> Vec<u8> {
        match self {
            Encoding::Utf8 => text.as_bytes().to_vec(),
            Encoding::Utf16Le => text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        }
    }
}

// ---- rendering ---------------------------------------------------------------------------------

/// `text` cut to whole characters within `size` units and padded with spaces to exactly `size`;
/// control characters become spaces.
pub fn fit_text(text: &str, size: usize, encoding: Encoding) -> String {
    let mut out = String::with_capacity(size);
    let mut used = 0;
    for c in text.chars() {
        let c = if c.is_control() { ' ' } else { c };
        let units = encoding.units(c);
        if used + units > size {
            break;
        }
        out.push(c);
        used += units;
    }
    out.extend(std::iter::repeat_n(' ', size - used));
    out
}

/// `n` right-aligned with leading zeros in `size` digits; all 9s when it does not fit.
pub fn fit_number(n: u64, size: usize) -> String {
    let digits = n.to_string();
    if digits.len() > size {
        "9".repeat(size)
    } else {
        format!("{digits:0>size$}")
    }
}

/// One record's text, without CRLF.
fn record(
    layout: &Layout,
    encoding: Encoding,
    reason_codes: &ReasonCodes,
    at: Timestamp,
    entry: &realtime::AgentStateEntry,
) -> String {
    let mut line = String::with_capacity(layout.width());
    for &(field, size) in layout.fields() {
        let value = match field {
            Field::Agent => fit_text(&entry.agent, size, encoding),
            Field::State => fit_text(&entry.code, size, encoding),
            Field::Reason => fit_number(
                u64::from(reason_codes.code(entry.state, entry.reason.as_deref())),
                size,
            ),
            Field::Timestamp => {
                let utc = entry.since.to_zoned(TimeZone::UTC);
                fit_text(&utc.strftime("%Y%m%d%H%M%S").to_string(), size, encoding)
            }
            Field::Seconds => {
                let seconds = (at.as_second() - entry.since.as_second()).max(0);
                fit_number(seconds.unsigned_abs(), size)
            }
        };
        line.push_str(&value);
    }
    line
}

/// The bytes of one update: its records, CRLF-terminated, a snapshot between `SNAP` and `END`.
pub fn render(
    update: &AgentStatesUpdate,
    layout: &Layout,
    encoding: Encoding,
    reason_codes: &ReasonCodes,
) -> Vec<u8> {
    let mut text = String::new();
    let marker = |text: &mut String, marker: &str| {
        text.push_str(&fit_text(marker, layout.width(), encoding));
        text.push_str("\r\n");
    };
    if update.snapshot {
        marker(&mut text, SNAPSHOT_START);
    }
    for entry in &update.agents {
        // A snapshot lists the logged-in agents; the absent ones are logged out by the framing.
        if update.snapshot && entry.state == AgentState::LoggedOut {
            continue;
        }
        text.push_str(&record(layout, encoding, reason_codes, update.at, entry));
        text.push_str("\r\n");
    }
    if update.snapshot {
        marker(&mut text, SNAPSHOT_END);
    }
    encoding.encode(&text)
}

// ---- the target --------------------------------------------------------------------------------

/// The kept connection and the reconnection backoff.
#[derive(Debug, Default)]
struct Connection {
    stream: Option<TcpStream>,
    /// The wait after the next failed attempt.
    backoff: Option<Duration>,
    /// No attempt before this.
    next_attempt: Option<Instant>,
    /// Why the last attempt failed.
    last_error: Option<String>,
}

/// Streams fixed-width records to an Aspect RTA server.
pub struct AspectTcpTarget {
    account: String,
    host: String,
    port: u16,
    layout: Layout,
    encoding: Encoding,
    reason_codes: ReasonCodes,
    reconnect_max: Duration,
    timeout: Duration,
    connection: Mutex<Connection>,
}

impl fmt::Debug for AspectTcpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AspectTcpTarget")
            .field("account", &self.account)
            .field("address", &self.address())
            .field("layout", &self.layout)
            .field("encoding", &self.encoding)
            .field("reconnect_max", &self.reconnect_max)
            .finish_non_exhaustive()
    }
}

impl AspectTcpTarget {
    /// Builds the target from an account's checked properties (`host`, `port`, `field_sizes`,
    /// `encoding`, `reason_codes`, `reconnect_max`, `timeout`). Nothing is connected until the
    /// first delivery.
    pub fn from_account(account: &AccountConfig) -> Result<AspectTcpTarget, AccountError> {
        let error = |message: String| AccountError {
            account: account.name.clone(),
            message,
        };
        let host = account
            .text("host")
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .ok_or_else(|| error("property host is required: the RTA server's host".into()))?;
        let port = account
            .integer("port")
            .ok_or_else(|| error("property port is required: the RTA server's TCP port".into()))?;
        let port = u16::try_from(port)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| error(format!("port {port} is not a TCP port (1 to 65535)")))?;
        let layout = Layout::parse(account.text("field_sizes").unwrap_or(DEFAULT_FIELD_SIZES))
            .map_err(error)?;
        let encoding =
            Encoding::parse(account.text("encoding").unwrap_or("utf-8")).map_err(error)?;
        let reason_codes = ReasonCodes::from_account(account)?;
        if let Some(size) = layout.size(Field::Reason) {
            let widest = reason_codes.max_code().to_string();
            if widest.len() > size {
                return Err(error(format!(
                    "reason_codes: code {widest} does not fit the reason field of {size} \
                     digits; widen it in field_sizes or use smaller codes"
                )));
            }
        }
        let reconnect_max = account
            .duration("reconnect_max")
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_RECONNECT_MAX);
        let timeout = account
            .duration("timeout")
            .filter(|d| !d.is_zero())
            .unwrap_or(DEFAULT_TIMEOUT);
        Ok(AspectTcpTarget {
            account: account.name.clone(),
            host: host.to_string(),
            port,
            layout,
            encoding,
            reason_codes,
            reconnect_max,
            timeout,
            connection: Mutex::new(Connection::default()),
        })
    }

    /// `host:port`.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The record layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// A new connection, within the timeout; the error says why in an operator's words.
    async fn connect(&self) -> Result<TcpStream, String> {
        let address = self.address();
        let attempt = TcpStream::connect((self.host.as_str(), self.port));
        match tokio::time::timeout(self.timeout, attempt).await {
            Ok(Ok(stream)) => {
                // Records are small and perishable: send each update at once.
                let _ = stream.set_nodelay(true);
                Ok(stream)
            }
            Ok(Err(e)) => Err(describe_connect_error(&address, &self.host, &e)),
            Err(_) => Err(format!("cannot reach {address}: timed out connecting")),
        }
    }

    /// The kept connection, connecting when there is none and the backoff allows.
    async fn ensure_connected<'a>(
        &self,
        connection: &'a mut Connection,
    ) -> Result<&'a mut TcpStream, DeliveryError> {
        if let Some(stream) = &connection.stream
            && peer_closed(stream).await
        {
            tracing::info!(account = %self.account, address = %self.address(), "RTA server closed the connection; reconnecting");
            connection.stream = None;
        }
        if connection.stream.is_none() {
            if let Some(at) = connection.next_attempt {
                let now = Instant::now();
                if at > now {
                    let wait = at - now;
                    return Err(DeliveryError::Retry {
                        reason: format!(
                            "not connected to {} ({}); next attempt in {:.1}s",
                            self.address(),
                            connection
                                .last_error
                                .as_deref()
                                .unwrap_or("connection failed"),
                            wait.as_secs_f64()
                        ),
                        retry_after: Some(wait),
                    });
                }
            }
            match self.connect().await {
                Ok(stream) => {
                    connection.stream = Some(stream);
                    connection.backoff = None;
                    connection.next_attempt = None;
                    connection.last_error = None;
                }
                Err(reason) => {
                    let wait = connection
                        .backoff
                        .unwrap_or(INITIAL_BACKOFF)
                        .min(self.reconnect_max);
                    connection.backoff = Some((wait * 2).min(self.reconnect_max));
                    connection.next_attempt = Some(Instant::now() + wait);
                    connection.last_error = Some(reason.clone());
                    tracing::warn!(account = %self.account, error = %reason, retry_in = ?wait, "cannot connect to the RTA server");
                    return Err(DeliveryError::Retry {
                        reason,
                        retry_after: Some(wait),
                    });
                }
            }
        }
        connection
            .stream
            .as_mut()
            .ok_or_else(|| DeliveryError::Retry {
                reason: format!("not connected to {}", self.address()),
                retry_after: None,
            })
    }
}

/// Whether the server has closed (or reset) a kept connection. Data it sent is discarded: the
/// protocol is one-way.
async fn peer_closed(stream: &TcpStream) -> bool {
    // Let the reactor report a FIN or RST that has already arrived; a live, silent connection
    // just times out here.
    let _ = tokio::time::timeout(LIVENESS_WAIT, stream.readable()).await;
    let mut buf = [0u8; 512];
    // Bounded: a server that keeps talking is alive, whatever it says.
    for _ in 0..64 {
        match stream.try_read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
    false
}

/// A connection failure in an operator's words, naming only host and port.
fn describe_connect_error(address: &str, host: &str, error: &io::Error) -> String {
    let why = match error.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        io::ErrorKind::TimedOut => "timed out connecting".to_string(),
        io::ErrorKind::HostUnreachable => "host unreachable".to_string(),
        io::ErrorKind::NetworkUnreachable => "network unreachable".to_string(),
        io::ErrorKind::AddrNotAvailable => "address not available".to_string(),
        io::ErrorKind::ConnectionReset => "connection reset".to_string(),
        _ if error.to_string().contains("lookup") || error.to_string().contains("resolve") => {
            return format!("cannot resolve {host}: no such host");
        }
        _ => error.to_string(),
    };
    format!("cannot reach {address}: {why}")
}

/// A write failure in an operator's words.
fn describe_write_error(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::BrokenPipe => "connection closed by the server (broken pipe)".to_string(),
        io::ErrorKind::ConnectionReset => "connection reset by the server".to_string(),
        io::ErrorKind::ConnectionAborted => "connection aborted".to_string(),
        io::ErrorKind::TimedOut => "timed out writing".to_string(),
        _ => error.to_string(),
    }
}

#[async_trait]
impl Target for AspectTcpTarget {
    async fn check(&self) -> CheckVerdict {
        // A fresh connection, closed again: it tests the address without writing anything, and
        // leaves the kept connection (and its backoff) alone.
        match self.connect().await {
            Ok(stream) => {
                drop(stream);
                let unit = match self.encoding {
                    Encoding::Utf8 => "bytes",
                    Encoding::Utf16Le => "UTF-16 code units",
                };
                CheckVerdict::ok(format!(
                    "connected to {} (records: {}, {} {unit} + CRLF)",
                    self.address(),
                    layout_text(&self.layout),
                    self.layout.width(),
                ))
            }
            Err(reason) => CheckVerdict::failed(reason),
        }
    }

    async fn deliver(&self, message: &OutboundMessage) -> Result<(), DeliveryError> {
        let update = realtime::decode(message, ACCOUNT_TYPE.name)?;
        let bytes = render(&update, &self.layout, self.encoding, &self.reason_codes);
        if bytes.is_empty() {
            // A delta without agents: nothing to say.
            return Ok(());
        }
        let mut connection = self.connection.lock().await;
        let stream = self.ensure_connected(&mut connection).await?;
        let write = async {
            stream.write_all(&bytes).await?;
            stream.flush().await
        };
        let failure = match tokio::time::timeout(self.timeout, write).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => describe_write_error(&e),
            Err(_) => "timed out writing".to_string(),
        };
        // The connection is unusable, possibly with half an update in it: drop it, and connect
        // again at the next delivery (at once: it was the connection that failed, not a connect).
        connection.stream = None;
        let reason = format!("connection to {} lost: {failure}", self.address());
        tracing::warn!(account = %self.account, error = %reason, "RTA write failed");
        Err(DeliveryError::Retry {
            reason,
            retry_after: None,
        })
    }
}

/// `field_sizes` text of a layout.
fn layout_text(layout: &Layout) -> String {
    layout
        .fields()
        .iter()
        .map(|(f, s)| format!("{}={s}", f.name()))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_parse_and_explain_mistakes() {
        assert_eq!(
            Layout::parse(DEFAULT_FIELD_SIZES).unwrap(),
            Layout::default()
        );
        assert_eq!(Layout::default().width(), 42);
        let layout = Layout::parse(" state = 4 , Agent=6,seconds=5 ").unwrap();
        assert_eq!(
            layout.fields(),
            [(Field::State, 4), (Field::Agent, 6), (Field::Seconds, 5)]
        );
        assert_eq!(layout_text(&Layout::default()), DEFAULT_FIELD_SIZES);
        for (text, wanted) in [
            ("agent", "is not name=size"),
            ("agent=16,colour=3", "unknown field \"colour\""),
            ("agent=0", "not a size from 1"),
            ("agent=x", "not a size from 1"),
            ("agent=4,agent=4", "given twice"),
            ("state=8", "the agent field is missing"),
            ("agent=3", "cannot hold the SNAP marker"),
        ] {
            let err = Layout::parse(text).unwrap_err();
            assert!(err.contains(wanted), "{text}: {err}");
        }
    }

    #[test]
    fn text_is_cut_on_character_boundaries_and_padded() {
        assert_eq!(fit_text("1001", 6, Encoding::Utf8), "1001  ");
        assert_eq!(fit_text("abcdefgh", 4, Encoding::Utf8), "abcd");
        // "é" is 2 bytes: 3 fit in 7 bytes, the 4th would split.
        assert_eq!(fit_text("éééé", 7, Encoding::Utf8), "ééé ");
        assert_eq!(fit_text("éééé", 7, Encoding::Utf8).len(), 7);
        // "😀" is 4 UTF-8 bytes and 2 UTF-16 units (a surrogate pair).
        assert_eq!(fit_text("a😀", 3, Encoding::Utf16Le), "a😀");
        assert_eq!(fit_text("a😀", 2, Encoding::Utf16Le), "a ");
        assert_eq!(fit_text("a\r\nb", 4, Encoding::Utf8), "a  b");
        assert_eq!(fit_number(12, 4), "0012");
        assert_eq!(fit_number(123_456, 4), "9999");
    }

    #[test]
    fn encodings_parse() {
        assert_eq!(Encoding::parse("UTF-8"), Ok(Encoding::Utf8));
        assert_eq!(Encoding::parse("unicode"), Ok(Encoding::Utf16Le));
        assert_eq!(Encoding::parse("utf-16le"), Ok(Encoding::Utf16Le));
        assert!(Encoding::parse("latin1").unwrap_err().contains("utf-16le"));
        assert_eq!(
            Encoding::Utf16Le.encode("A\r\n"),
            [0x41, 0, 0x0d, 0, 0x0a, 0]
        );
    }
}
