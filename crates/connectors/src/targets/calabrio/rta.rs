//! Calabrio's real-time adherence (RTA) state API: the `calabrio` account type's target
//! (reference/calabrio.md §1).
//!
//! **JSON** (`mode = "json"`, the default): every update is `POST {url}Rta/State/Batch` with
//! `{"AuthenticationKey", "SourceId", "IsSnapshot", "States": [{"UserCode", "StateCode"}]}`, where
//! `UserCode` is `user_code_prefix` + the agent id and `StateCode` the flow's code for the state
//! (`[flows.state_codes]`, which maps `logged_out` to a code of Calabrio's logged-out state group,
//! such as `LOGGED-OFF`).
//!
//! - A **snapshot** is one request with `IsSnapshot: true` holding every logged-in agent: Calabrio
//!   logs out every agent of the source that is absent (state `CCC Logged out`). It cannot span
//!   requests (§1.4), so a snapshot larger than `max_batch` is refused with a
//!   [`DeliveryError::Rejected`] saying so. An entry of a logged-out agent in a snapshot is left
//!   out: absence logs the agent out, and its code might not be in a logged-out group.
//! - An **update** of the changed agents is `IsSnapshot: false`, split into requests of at most
//!   `max_batch` states when that is set (older releases refused more than 50, §1.5); `0`, the
//!   default, sends one request. The parts go in order; when one fails the whole update is
//!   retried, which is harmless (the same states again).
//!
//! **SOAP** (`mode = "soap"`): `SaveBatchExternalUserState` at `{url}Rta/TeleoptiRtaService.svc`
//! (SOAP 1.1, §1.7), parameters `authenticationKey`, `platformTypeId` (default the empty GUID),
//! `sourceId`, `externalUserStateBatch`, whose `ExternalUserState` items carry their members in the
//! contract's alphabetical order (WCF drops a member out of order): `BatchId` (the update's time,
//! the same in every item), `IsLoggedOn` (false for a logged-out agent: Calabrio then records
//! `LOGGED-OFF`), `IsSnapshot`, `SecondsInState`, `StateCode`, `StateDescription` (the canonical
//! state), `Timestamp` (when the state began), `UserCode`. A snapshot's items have `IsSnapshot`
//! true and end with the closing item, an empty `UserCode` with `IsSnapshot` true. SOAP snapshots
//! may span requests (they are tied together by `BatchId`), so with `max_batch` a snapshot is split
//! too and only the last request closes it. Result 1 (or 0, an empty batch) is delivered.
//!
//! **Answers.**
//!
//! | answer | result |
//! |---|---|
//! | 200 (SOAP: 1 or 0) | delivered |
//! | 400 "You supplied an invalid authentication key…" (SOAP: a fault saying so) | [`DeliveryError::Retry`] "credentials are invalid: the RTA authentication key is not accepted": the account is wrong, an operator fixes it |
//! | 400 "Using the default authentication key with more than one tenant…" | Retry, credentials are invalid |
//! | 400 / fault "Incoming batch too large…" (older releases) | Retry, saying to set `max_batch = 50` |
//! | 500 (StateCode rules, "State queue is flooded") and other SOAP faults | Retry |
//! | other 400 | [`DeliveryError::Rejected`] with Calabrio's text |
//! | SOAP −300 (unknown source) | Retry: fix `source_id` |
//! | SOAP −100 (unknown user code) | Rejected |
//!
//! Calabrio checks the source and user codes only after it answered (§1.3): a wrong `source_id` or
//! an agent unknown to Calabrio still gets 200 and is only logged there. A state code longer than
//! 300 characters, which Calabrio answers with 500 forever, is refused here before sending.
//!
//! **Test connection** posts an empty non-snapshot batch (`States: []`): 200 means the key is
//! valid. In SOAP mode an empty batch is answered before the key is looked at, so the check sends
//! one item with an empty `UserCode` (and `IsSnapshot` false): no person has it, so nothing changes
//! and Calabrio logs one "No person found".
//!
//! The authentication key is in every body and nowhere else: not in errors, logs or `Debug`.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use reqwest::Url;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde::Serialize;
use wfm_model::AgentState;

use crate::accounts::{
    AccountConfig, AccountError, AccountType, PropertyKind, PropertySpec, Secret,
};
use crate::http;
use crate::targets::http::REQUEST_TIMEOUT;
use crate::targets::realtime::{self, AgentStatesUpdate};
use crate::targets::{CheckVerdict, DeliveryError, OutboundMessage, Target};

/// The `calabrio` account type (exported as `calabrio::ACCOUNT_TYPE`).
pub const ACCOUNT_TYPE: AccountType = AccountType {
    name: "calabrio",
    description: "Calabrio WFM (Teleopti) real-time adherence: agent states to the RTA API (JSON or SOAP)",
    properties: &[
        PropertySpec {
            name: "url",
            kind: PropertyKind::Url,
            required: true,
            secret: false,
            default: None,
            help: "the WFM web root, e.g. https://x.teleopticloud.com/ (Rta/State/Batch is added)",
        },
        PropertySpec {
            name: "auth_key",
            kind: PropertyKind::Text,
            required: true,
            secret: true,
            default: None,
            help: "the RTA authentication key, from the Calabrio administrator",
        },
        PropertySpec {
            name: "source_id",
            kind: PropertyKind::Text,
            required: true,
            secret: false,
            default: None,
            help: "the data source's id in Calabrio (SourceId, at most 50 characters)",
        },
        PropertySpec {
            name: "mode",
            kind: PropertyKind::Text,
            required: false,
            secret: false,
            default: Some("json"),
            help: "json (Rta/State/Batch) or soap (TeleoptiRtaService.svc, SaveBatchExternalUserState)",
        },
        PropertySpec {
            name: "platform_type_id",
            kind: PropertyKind::Text,
            required: false,
            secret: false,
            default: Some(EMPTY_GUID),
            help: "SOAP only: the platform type GUID; any other than the empty GUID is appended \
                   to every state code by Calabrio",
        },
        PropertySpec {
            name: "user_code_prefix",
            kind: PropertyKind::Text,
            required: false,
            secret: false,
            default: None,
            help: "text put in front of every agent id to make Calabrio's UserCode",
        },
        PropertySpec {
            name: "max_batch",
            kind: PropertyKind::Integer,
            required: false,
            secret: false,
            default: Some("0"),
            help: "most states per request (50 for releases that refuse larger batches); 0 = no \
                   limit. A JSON snapshot cannot be split",
        },
        REQUEST_TIMEOUT,
    ],
    single_per_tenant: false,
    build: Some(build),
    build_source: None,
    build_directory: None,
};

/// The empty GUID: "no platform type".
pub const EMPTY_GUID: &str = "00000000-0000-0000-0000-000000000000";

/// The longest state code Calabrio takes (SOAP: including the platform suffix).
pub const MAX_STATE_CODE_CHARS: usize = 300;

/// The longest `SourceId` Calabrio keeps.
pub const MAX_SOURCE_ID_CHARS: usize = 50;

/// The JSON batch route, relative to the web root.
pub const BATCH_PATH: &str = "Rta/State/Batch";

/// The SOAP service, relative to the web root.
pub const SOAP_PATH: &str = "Rta/TeleoptiRtaService.svc";

/// SOAPAction of `SaveBatchExternalUserState`.
pub const SOAP_ACTION: &str = "http://tempuri.org/ITeleoptiRtaService/SaveBatchExternalUserState";

/// The verdict and retry reason when Calabrio does not know the key.
pub const INVALID_KEY: &str = "credentials are invalid: the RTA authentication key is not accepted";

/// The verdict when the key is valid.
pub const CONNECTED: &str = "connected: the RTA accepts the key";

/// How much of an answer is read.
const BODY_LIMIT: usize = 64 * 1024;

fn build(account: &AccountConfig) -> Result<Box<dyn crate::targets::Target>, AccountError> {
    Ok(Box::new(RtaTarget::from_account(account)?))
}

/// How states are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// `POST Rta/State/Batch` with JSON.
    #[default]
    Json,
    /// `SaveBatchExternalUserState` over SOAP 1.1.
    Soap,
}

impl Mode {
    /// Reads `mode`; the error names the allowed values.
    pub fn parse(text: &str) -> Result<Mode, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(Mode::Json),
            "soap" => Ok(Mode::Soap),
            other => Err(format!(
                "mode {other:?} is not a mode of the calabrio target; use \"json\" \
                 (Rta/State/Batch) or \"soap\" (TeleoptiRtaService.svc)"
            )),
        }
    }
}

// ---- bodies ------------------------------------------------------------------------------------

/// One state as Calabrio receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtaState {
    /// `user_code_prefix` + agent id.
    pub user_code: String,
    /// The flow's state code.
    pub state_code: String,
    /// The canonical state.
    pub state: AgentState,
    /// When the state began.
    pub since: Timestamp,
}

/// The states of an update as Calabrio receives them: user codes prefixed, and in a snapshot the
/// logged-out agents left out (absence logs them out).
pub fn states_of(update: &AgentStatesUpdate, user_code_prefix: &str) -> Vec<RtaState> {
    update
        .agents
        .iter()
        .filter(|a| !(update.snapshot && a.state == AgentState::LoggedOut))
        .map(|a| RtaState {
            user_code: format!("{user_code_prefix}{}", a.agent),
            state_code: a.code.clone(),
            state: a.state,
            since: a.since,
        })
        .collect()
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct JsonBatch<'a> {
    authentication_key: &'a str,
    source_id: &'a str,
    is_snapshot: bool,
    states: Vec<JsonState<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct JsonState<'a> {
    user_code: &'a str,
    state_code: &'a str,
}

/// The JSON body of `Rta/State/Batch`. It holds the key: never log it.
pub fn json_batch(
    auth_key: &Secret,
    source_id: &str,
    is_snapshot: bool,
    states: &[RtaState],
) -> Vec<u8> {
    let batch = JsonBatch {
        authentication_key: auth_key.expose(),
        source_id,
        is_snapshot,
        states: states
            .iter()
            .map(|s| JsonState {
                user_code: &s.user_code,
                state_code: &s.state_code,
            })
            .collect(),
    };
    // Strings and a bool: serializing cannot fail.
    serde_json::to_vec(&batch).unwrap_or_default()
}

/// One `ExternalUserState` item of a SOAP batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoapItem {
    /// Ties the items of one snapshot together; the update's time.
    pub batch_id: Timestamp,
    /// False for a logged-out agent (and the closing item).
    pub is_logged_on: bool,
    /// Part of a snapshot.
    pub is_snapshot: bool,
    /// Seconds in the state when the update was built.
    pub seconds_in_state: i64,
    /// The flow's code.
    pub state_code: String,
    /// The canonical state, for people reading Calabrio's logs.
    pub state_description: String,
    /// When the state began.
    pub timestamp: Timestamp,
    /// Empty for the item that closes a snapshot.
    pub user_code: String,
}

/// The items of an update: one per state, and for a snapshot the closing item last.
pub fn soap_items(update: &AgentStatesUpdate, states: &[RtaState]) -> Vec<SoapItem> {
    let mut items: Vec<SoapItem> = states
        .iter()
        .map(|s| SoapItem {
            batch_id: update.at,
            is_logged_on: s.state.is_logged_in(),
            is_snapshot: update.snapshot,
            seconds_in_state: (update.at.as_second() - s.since.as_second()).max(0),
            state_code: s.state_code.clone(),
            state_description: s.state.as_str().to_string(),
            timestamp: s.since,
            user_code: s.user_code.clone(),
        })
        .collect();
    if update.snapshot {
        items.push(closing_item(update.at));
    }
    items
}

/// The item that closes a snapshot: empty user code, `IsSnapshot` true.
pub fn closing_item(batch_id: Timestamp) -> SoapItem {
    SoapItem {
        batch_id,
        is_logged_on: false,
        is_snapshot: true,
        seconds_in_state: 0,
        state_code: String::new(),
        state_description: String::new(),
        timestamp: batch_id,
        user_code: String::new(),
    }
}

/// An `xs:dateTime` .NET reads: UTC with at most 7 fractional digits (we send milliseconds).
pub fn xml_date_time(at: Timestamp) -> String {
    let utc = at.to_zoned(TimeZone::UTC);
    format!(
        "{}.{:03}Z",
        utc.strftime("%Y-%m-%dT%H:%M:%S"),
        utc.subsec_nanosecond() / 1_000_000
    )
}

/// Text escaped for XML element content.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The SOAP envelope of `SaveBatchExternalUserState`. It holds the key: never log it.
pub fn soap_batch(
    auth_key: &Secret,
    platform_type_id: &str,
    source_id: &str,
    items: &[SoapItem],
) -> String {
    let mut xml = String::with_capacity(512 + items.len() * 400);
    xml.push_str(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
         <s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>\
         <SaveBatchExternalUserState xmlns=\"http://tempuri.org/\">",
    );
    // Parameters in the contract's order: WCF leaves a parameter out of order unread (null).
    xml.push_str(&format!(
        "<authenticationKey>{}</authenticationKey><platformTypeId>{}</platformTypeId>\
         <sourceId>{}</sourceId>",
        xml_escape(auth_key.expose()),
        xml_escape(platform_type_id),
        xml_escape(source_id)
    ));
    xml.push_str(
        "<externalUserStateBatch \
         xmlns:a=\"http://schemas.datacontract.org/2004/07/Teleopti.Ccc.Rta.WebService\" \
         xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\">",
    );
    for item in items {
        // Members in the data contract's alphabetical order, as the XSD requires.
        xml.push_str(&format!(
            "<a:ExternalUserState>\
             <a:BatchId>{}</a:BatchId>\
             <a:IsLoggedOn>{}</a:IsLoggedOn>\
             <a:IsSnapshot>{}</a:IsSnapshot>\
             <a:SecondsInState>{}</a:SecondsInState>\
             <a:StateCode>{}</a:StateCode>\
             <a:StateDescription>{}</a:StateDescription>\
             <a:Timestamp>{}</a:Timestamp>\
             <a:UserCode>{}</a:UserCode>\
             </a:ExternalUserState>",
            xml_date_time(item.batch_id),
            item.is_logged_on,
            item.is_snapshot,
            item.seconds_in_state.clamp(0, i64::from(i32::MAX)),
            xml_escape(&item.state_code),
            xml_escape(&item.state_description),
            xml_date_time(item.timestamp),
            xml_escape(&item.user_code),
        ));
    }
    xml.push_str("</externalUserStateBatch></SaveBatchExternalUserState></s:Body></s:Envelope>");
    xml
}

/// Splits SOAP items into requests of at most `max` items (`0`: one request). A snapshot's
/// closing item stays last, so only the last request closes it.
pub fn soap_chunks(items: Vec<SoapItem>, max: usize) -> Vec<Vec<SoapItem>> {
    if max == 0 || items.len() <= max {
        return vec![items];
    }
    let mut chunks = Vec::new();
    let mut rest = items.into_iter().peekable();
    while rest.peek().is_some() {
        chunks.push(rest.by_ref().take(max).collect());
    }
    chunks
}

/// The text of the first `<tag…>…</tag>` element of a SOAP answer, any prefix, entities decoded.
fn element_text(xml: &str, local_name: &str) -> Option<String> {
    let mut from = 0;
    while let Some(pos) = xml[from..].find('<') {
        let start = from + pos + 1;
        let end = start + xml[start..].find('>')?;
        let tag = &xml[start..end];
        let name = tag.split_whitespace().next().unwrap_or_default();
        let local = name.rsplit(':').next().unwrap_or(name);
        if !tag.starts_with('/') && local == local_name && !tag.ends_with('/') {
            let content_start = end + 1;
            let close = xml[content_start..].find("</")?;
            return Some(xml_unescape(&xml[content_start..content_start + close]));
        }
        from = end;
    }
    None
}

fn xml_unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

// ---- answers -----------------------------------------------------------------------------------

/// What Calabrio's answer text says about the account, when it says something we know.
fn account_problem(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    if lower.contains("invalid authentication key") {
        return Some(INVALID_KEY.to_string());
    }
    if lower.contains("default authentication key") {
        return Some(
            "credentials are invalid: Calabrio refuses the default authentication key because \
             it has several tenants; use the tenant's own RTA key"
                .to_string(),
        );
    }
    if lower.contains("batch too large") || lower.contains("more than 50") {
        return Some(
            "the RTA refused the batch as too large (this release takes at most 50 states per \
             request): set max_batch = 50 on the account"
                .to_string(),
        );
    }
    None
}

/// The first characters of an answer, on one line; nothing for an HTML error page.
fn excerpt(body: &str) -> String {
    let body = body.trim();
    if body.starts_with('<') {
        return String::new();
    }
    let flat: String = body
        .chars()
        .take(http::BODY_EXCERPT_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    flat.trim_end().to_string()
}

fn with_excerpt(reason: String, body: &str) -> String {
    match excerpt(body) {
        e if e.is_empty() => reason,
        e => format!("{reason}: {e}"),
    }
}

/// Classifies an answer to a JSON batch.
fn classify_json(
    status: reqwest::StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: &str,
) -> Result<(), DeliveryError> {
    if status.is_success() {
        return Ok(());
    }
    if status.as_u16() == 400 {
        if let Some(reason) = account_problem(body) {
            return Err(DeliveryError::Retry {
                reason,
                retry_after: None,
            });
        }
        return Err(DeliveryError::Rejected {
            reason: with_excerpt("the RTA refused the batch (HTTP 400)".to_string(), body),
        });
    }
    match http::classify_status(status, headers, body) {
        // Calabrio says why it failed (a flooded state queue); the generic reason does not.
        Err(DeliveryError::Retry {
            reason,
            retry_after,
        }) if status.is_server_error() => Err(DeliveryError::Retry {
            reason: with_excerpt(reason, body),
            retry_after,
        }),
        other => other,
    }
}

/// What a SOAP answer means.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SoapAnswer {
    /// The method's return value.
    Result(i32),
    /// A SOAP fault's text.
    Fault(String),
}

fn read_soap_answer(body: &str) -> Option<SoapAnswer> {
    if let Some(fault) = element_text(body, "faultstring") {
        return Some(SoapAnswer::Fault(fault.trim().to_string()));
    }
    element_text(body, "SaveBatchExternalUserStateResult")
        .and_then(|r| r.trim().parse().ok())
        .map(SoapAnswer::Result)
}

/// Classifies an answer to a SOAP batch.
fn classify_soap(
    status: reqwest::StatusCode,
    headers: &reqwest::header::HeaderMap,
    body: &str,
    source_id: &str,
) -> Result<(), DeliveryError> {
    let retry = |reason: String| DeliveryError::Retry {
        reason,
        retry_after: None,
    };
    match read_soap_answer(body) {
        Some(SoapAnswer::Result(0 | 1)) if status.is_success() => Ok(()),
        Some(SoapAnswer::Result(-300)) => Err(retry(format!(
            "the RTA does not know source id {source_id:?} (SOAP result -300): set source_id to \
             the data source's id in Calabrio"
        ))),
        Some(SoapAnswer::Result(-100)) => Err(DeliveryError::Rejected {
            reason: "the RTA refused the batch for a user code it does not know (SOAP result \
                     -100): give the agents external logons in Calabrio, or set user_code_prefix"
                .to_string(),
        }),
        Some(SoapAnswer::Result(other)) => Err(retry(format!(
            "the RTA answered SaveBatchExternalUserState with {other} (HTTP {})",
            status.as_u16()
        ))),
        Some(SoapAnswer::Fault(text)) => Err(retry(account_problem(&text).unwrap_or_else(|| {
            let text: String = text.chars().take(http::BODY_EXCERPT_CHARS).collect();
            format!("the RTA answered with a SOAP fault: {text}")
        }))),
        None => match http::classify_status(status, headers, body) {
            Ok(()) => Err(retry(format!(
                "the RTA answered HTTP {} without a SaveBatchExternalUserState result: is url \
                 the WFM web root?",
                status.as_u16()
            ))),
            Err(e) => Err(e),
        },
    }
}

// ---- the target --------------------------------------------------------------------------------

/// Sends agent states to Calabrio's RTA.
pub struct RtaTarget {
    account: String,
    origin: String,
    batch_url: Url,
    soap_url: Url,
    auth_key: Secret,
    source_id: String,
    mode: Mode,
    platform_type_id: String,
    user_code_prefix: String,
    max_batch: usize,
    timeout: Duration,
    client: reqwest::Client,
}

impl fmt::Debug for RtaTarget {
    // The key never shows; the URL only by its origin (a path may hold a tenant's name).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RtaTarget")
            .field("account", &self.account)
            .field("origin", &self.origin)
            .field("auth_key", &"<secret>")
            .field("source_id", &self.source_id)
            .field("mode", &self.mode)
            .field("platform_type_id", &self.platform_type_id)
            .field("user_code_prefix", &self.user_code_prefix)
            .field("max_batch", &self.max_batch)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The web root of `url`: with a trailing `/`, and without an RTA route someone pasted after it.
pub fn web_root(url: &str) -> Result<Url, String> {
    let mut url = Url::parse(url.trim()).map_err(|e| format!("url is not a valid URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "url must start with http:// or https://, not {}://",
            url.scheme()
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("url has no host".to_string());
    }
    let mut path = url.path().to_string();
    for route in [
        "rta/state/batch",
        "rta/state/change",
        "rta/teleoptirtaservice.svc",
        "teleoptirtaservice.svc",
    ] {
        let trimmed = path.trim_end_matches('/');
        if trimmed.to_ascii_lowercase().ends_with(route) {
            path = trimmed[..trimmed.len() - route.len()].to_string();
            break;
        }
    }
    if !path.ends_with('/') {
        path.push('/');
    }
    url.set_path(&path);
    url.set_fragment(None);
    Ok(url)
}

impl RtaTarget {
    /// Builds the target from an account's checked properties.
    pub fn from_account(account: &AccountConfig) -> Result<RtaTarget, AccountError> {
        let error = |message: String| AccountError {
            account: account.name.clone(),
            message,
        };
        let url = account
            .text("url")
            .ok_or_else(|| error("property url is required: the WFM web root".into()))?;
        let root = web_root(url).map_err(error)?;
        let join = |path: &str| {
            root.join(path)
                .map_err(|e| error(format!("url cannot take the RTA route {path}: {e}")))
        };
        let batch_url = join(BATCH_PATH)?;
        let soap_url = join(SOAP_PATH)?;
        let auth_key = account
            .secret("auth_key")
            .filter(|k| !k.expose().trim().is_empty())
            .cloned()
            .ok_or_else(|| {
                error("property auth_key is required: the RTA authentication key".into())
            })?;
        let source_id = account
            .text("source_id")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                error("property source_id is required: the data source's id in Calabrio".into())
            })?
            .to_string();
        if source_id.chars().count() > MAX_SOURCE_ID_CHARS {
            return Err(error(format!(
                "source_id is longer than {MAX_SOURCE_ID_CHARS} characters"
            )));
        }
        let mode = account
            .text("mode")
            .map_or(Ok(Mode::Json), Mode::parse)
            .map_err(error)?;
        let platform_type_id = account
            .text("platform_type_id")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .unwrap_or(EMPTY_GUID)
            .to_string();
        if !is_guid(&platform_type_id) {
            return Err(error(format!(
                "platform_type_id {platform_type_id:?} is not a GUID \
                 (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)"
            )));
        }
        let max_batch = account.integer("max_batch").unwrap_or(0);
        let max_batch = usize::try_from(max_batch).map_err(|_| {
            error(format!(
                "max_batch {max_batch} is negative; give the most states per request, or 0 for no limit"
            ))
        })?;
        let timeout = account
            .duration("timeout")
            .filter(|d| !d.is_zero())
            .unwrap_or(http::DEFAULT_TIMEOUT);
        let client = http::client().map_err(|e| error(e.to_string()))?;
        Ok(RtaTarget {
            account: account.name.clone(),
            origin: http::origin(&root),
            batch_url,
            soap_url,
            auth_key,
            source_id,
            mode,
            platform_type_id,
            user_code_prefix: account
                .text("user_code_prefix")
                .unwrap_or_default()
                .to_string(),
            max_batch,
            timeout,
            client,
        })
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The URL states go to in this mode.
    pub fn endpoint(&self) -> &Url {
        match self.mode {
            Mode::Json => &self.batch_url,
            Mode::Soap => &self.soap_url,
        }
    }

    /// POSTs one body; the answer's status, headers and (at most 64 KiB of) text.
    async fn post(
        &self,
        body: Vec<u8>,
    ) -> Result<(reqwest::StatusCode, reqwest::header::HeaderMap, String), reqwest::Error> {
        let request = self
            .client
            .post(self.endpoint().clone())
            .timeout(self.timeout);
        let request = match self.mode {
            Mode::Json => {
                request.header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            }
            Mode::Soap => request
                .header(
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/xml; charset=utf-8"),
                )
                .header("SOAPAction", format!("\"{SOAP_ACTION}\"")),
        };
        let response = request.body(body).send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = http::read_body_limited(response, BODY_LIMIT).await;
        Ok((status, headers, text))
    }

    /// Sends one request's body and classifies the answer.
    async fn send(&self, body: Vec<u8>) -> Result<(), DeliveryError> {
        let (status, headers, text) = self
            .post(body)
            .await
            .map_err(|e| http::classify_error(&e))?;
        match self.mode {
            Mode::Json => classify_json(status, &headers, &text),
            Mode::Soap => classify_soap(status, &headers, &text, &self.source_id),
        }
    }

    /// Refuses state codes Calabrio would answer with 500 forever.
    fn check_codes(&self, states: &[RtaState]) -> Result<(), DeliveryError> {
        let suffix = match self.mode {
            Mode::Soap if self.platform_type_id != EMPTY_GUID => self.platform_type_id.len() + 3,
            _ => 0,
        };
        for s in states {
            // SOAP sends LOGGED-OFF for a logged-out agent, whatever the code.
            let chars = match (self.mode, s.state) {
                (Mode::Soap, AgentState::LoggedOut) => "LOGGED-OFF".len(),
                _ => s.state_code.trim().chars().count(),
            } + suffix;
            if chars > MAX_STATE_CODE_CHARS {
                return Err(DeliveryError::Rejected {
                    reason: format!(
                        "the state code of agent {} is {chars} characters long; Calabrio takes at \
                         most {MAX_STATE_CODE_CHARS}{}: shorten it in the flow's state_codes",
                        s.user_code,
                        if suffix > 0 {
                            " including the platform suffix"
                        } else {
                            ""
                        }
                    ),
                });
            }
        }
        Ok(())
    }

    /// Sends the requests one after the other; a failure names which one when there are several.
    async fn send_all(&self, bodies: Vec<Vec<u8>>) -> Result<(), DeliveryError> {
        let count = bodies.len();
        for (i, body) in bodies.into_iter().enumerate() {
            if let Err(error) = self.send(body).await {
                if count == 1 {
                    return Err(error);
                }
                let part = format!("request {} of {count}", i + 1);
                return Err(match error {
                    DeliveryError::Retry {
                        reason,
                        retry_after,
                    } => DeliveryError::Retry {
                        reason: format!("{part}: {reason}"),
                        retry_after,
                    },
                    DeliveryError::Throttled {
                        reason,
                        retry_after,
                    } => DeliveryError::Throttled {
                        reason: format!("{part}: {reason}"),
                        retry_after,
                    },
                    DeliveryError::Rejected { reason } => DeliveryError::Rejected {
                        reason: format!("{part}: {reason}"),
                    },
                });
            }
        }
        Ok(())
    }

    /// The request bodies of an update.
    fn bodies(&self, update: &AgentStatesUpdate) -> Result<Vec<Vec<u8>>, DeliveryError> {
        let states = states_of(update, &self.user_code_prefix);
        self.check_codes(&states)?;
        match self.mode {
            Mode::Json => {
                if update.snapshot {
                    if self.max_batch > 0 && states.len() > self.max_batch {
                        return Err(DeliveryError::Rejected {
                            reason: format!(
                                "the snapshot holds {} agents but max_batch is {}: Calabrio takes \
                                 a JSON snapshot in one request only (a snapshot cannot span \
                                 requests); raise max_batch (0 = no limit) if this Calabrio \
                                 accepts larger batches, or use mode = \"soap\", whose snapshots \
                                 can be split",
                                states.len(),
                                self.max_batch
                            ),
                        });
                    }
                    return Ok(vec![json_batch(
                        &self.auth_key,
                        &self.source_id,
                        true,
                        &states,
                    )]);
                }
                let size = if self.max_batch == 0 {
                    states.len().max(1)
                } else {
                    self.max_batch
                };
                Ok(states
                    .chunks(size)
                    .map(|chunk| json_batch(&self.auth_key, &self.source_id, false, chunk))
                    .collect())
            }
            Mode::Soap => {
                let items = soap_items(update, &states);
                if items.is_empty() {
                    return Ok(Vec::new());
                }
                Ok(soap_chunks(items, self.max_batch)
                    .into_iter()
                    .map(|chunk| {
                        soap_batch(
                            &self.auth_key,
                            &self.platform_type_id,
                            &self.source_id,
                            &chunk,
                        )
                        .into_bytes()
                    })
                    .collect())
            }
        }
    }
}

/// Whether `text` is a GUID in its usual 8-4-4-4-12 hex form.
fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.chars().all(|c| c.is_ascii_hexdigit()))
}

#[async_trait]
impl Target for RtaTarget {
    async fn check(&self) -> CheckVerdict {
        let body = match self.mode {
            Mode::Json => json_batch(&self.auth_key, &self.source_id, false, &[]),
            Mode::Soap => {
                // An empty SOAP batch is answered (0) before the key is looked at; one item that
                // matches nobody makes Calabrio check the key and change nothing.
                let mut probe = closing_item(Timestamp::now());
                probe.is_snapshot = false;
                soap_batch(
                    &self.auth_key,
                    &self.platform_type_id,
                    &self.source_id,
                    &[probe],
                )
                .into_bytes()
            }
        };
        let (status, headers, text) = match self.post(body).await {
            Ok(answer) => answer,
            Err(e) => return CheckVerdict::failed(http::describe_error(&e)),
        };
        let outcome = match self.mode {
            Mode::Json => classify_json(status, &headers, &text),
            Mode::Soap => classify_soap(status, &headers, &text, &self.source_id),
        };
        match outcome {
            Ok(()) => CheckVerdict::ok(CONNECTED),
            Err(_) if status.as_u16() == 404 => CheckVerdict::failed(format!(
                "no RTA at {}{} (HTTP 404): check url, the WFM web root \
                 (e.g. https://x.teleopticloud.com/)",
                self.origin,
                self.endpoint().path()
            )),
            Err(e) => CheckVerdict::failed(e.to_string()),
        }
    }

    async fn deliver(&self, message: &OutboundMessage) -> Result<(), DeliveryError> {
        let update = realtime::decode(message, ACCOUNT_TYPE.name)?;
        let bodies = self.bodies(&update)?;
        self.send_all(bodies).await.inspect_err(|error| {
            tracing::warn!(account = %self.account, flow = %message.flow, %error, "Calabrio RTA delivery failed");
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn web_roots_get_a_slash_and_lose_pasted_routes() {
        for (given, root) in [
            (
                "https://x.teleopticloud.com",
                "https://x.teleopticloud.com/",
            ),
            (
                "https://x.teleopticloud.com/",
                "https://x.teleopticloud.com/",
            ),
            ("https://h/TeleoptiWFM/Web", "https://h/TeleoptiWFM/Web/"),
            (
                "https://h/TeleoptiWFM/Web/Rta/State/Batch",
                "https://h/TeleoptiWFM/Web/",
            ),
            (
                "https://h/TeleoptiWFM/RTA/TeleoptiRtaService.svc",
                "https://h/TeleoptiWFM/",
            ),
        ] {
            assert_eq!(web_root(given).unwrap().as_str(), root, "{given}");
        }
        let root = web_root("https://h/w").unwrap();
        assert_eq!(
            root.join(BATCH_PATH).unwrap().as_str(),
            "https://h/w/Rta/State/Batch"
        );
        assert!(web_root("ftp://h/").is_err());
    }

    #[test]
    fn modes_and_guids() {
        assert_eq!(Mode::parse("SOAP"), Ok(Mode::Soap));
        assert!(Mode::parse("xml").unwrap_err().contains("\"soap\""));
        assert!(is_guid(EMPTY_GUID));
        assert!(is_guid("6f2c1a9e-0b1d-4c3e-9a8f-1234567890ab"));
        assert!(!is_guid("6f2c1a9e-0b1d-4c3e-9a8f"));
        assert!(!is_guid("zzzzzzzz-0b1d-4c3e-9a8f-1234567890ab"));
    }

    #[test]
    fn soap_answers_are_read() {
        let ok = "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>\
                  <SaveBatchExternalUserStateResponse xmlns=\"http://tempuri.org/\">\
                  <SaveBatchExternalUserStateResult>1</SaveBatchExternalUserStateResult>\
                  </SaveBatchExternalUserStateResponse></s:Body></s:Envelope>";
        assert_eq!(read_soap_answer(ok), Some(SoapAnswer::Result(1)));
        let fault = "<s:Envelope><s:Body><s:Fault><faultcode>s:Client</faultcode>\
                     <faultstring xml:lang=\"en-US\">You supplied an invalid authentication key. \
                     Please verify the key &amp; try again.</faultstring></s:Fault></s:Body></s:Envelope>";
        assert_eq!(
            read_soap_answer(fault),
            Some(SoapAnswer::Fault(
                "You supplied an invalid authentication key. Please verify the key & try again."
                    .into()
            ))
        );
        assert_eq!(read_soap_answer("<html>oops</html>"), None);
    }

    #[test]
    fn soap_chunks_keep_the_closing_item_last() {
        let at: Timestamp = "2024-03-01T08:00:00Z".parse().unwrap();
        let mut items: Vec<SoapItem> = (0..5)
            .map(|i| SoapItem {
                user_code: format!("u{i}"),
                ..closing_item(at)
            })
            .collect();
        items.push(closing_item(at));
        let chunks = soap_chunks(items, 4);
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].len(), 4);
        assert_eq!(chunks[1].len(), 2);
        assert_eq!(chunks[1][1].user_code, "");
        assert_eq!(soap_chunks(vec![closing_item(at)], 0).len(), 1);
    }

    #[test]
    fn date_times_have_milliseconds_in_utc() {
        let at: Timestamp = "2024-03-01T09:00:10.123456789+01:00".parse().unwrap();
        assert_eq!(xml_date_time(at), "2024-03-01T08:00:10.123Z");
        assert_eq!(xml_escape("a<b&\"c'"), "a&lt;b&amp;&quot;c&apos;");
    }
}
