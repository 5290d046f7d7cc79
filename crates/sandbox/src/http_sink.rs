//! An HTTP sink: a server that accepts a POST on any path and remembers it.
//!
//! It stands in for any system the generic `http` target delivers to. Every request (other than
//! the `/_sandbox/…` control endpoints) is recorded as a [`ReceivedRequest`]: time, method, path,
//! the headers a delivery is judged by (`Idempotency-Key`, `X-Wfm-Bridge-*`, `Content-Type`,
//! `User-Agent`, and whether an `Authorization` was sent, never its value) and the body as text;
//! a `multipart/form-data` body is also split into its [`ReceivedPart`]s.
//! With [`SinkConfig::record_file`] each one is also appended as a JSON line to a file, written
//! before the response is sent, so another process can read what arrived even after a crash.
//!
//! Its [`Behaviour`] is programmable, in-process through a [`SinkHandle`] or over HTTP:
//!
//! | endpoint | does |
//! |---|---|
//! | `GET /_sandbox/behaviour` | the current behaviour (without the token) |
//! | `PUT /_sandbox/behaviour` | replaces it; JSON, every field optional |
//! | `GET /_sandbox/received` | everything recorded, oldest first |
//! | `DELETE /_sandbox/received` | forgets it |
//!
//! A request is answered in this order: wait `latency_ms`; 401 without the right bearer token, 403
//! for a token in `forbidden_tokens`; HEAD and GET then get 200 (405 for HEAD with
//! `head_not_allowed`), whatever else follows; 429 while `throttle_next` lasts; `fail_status` while
//! `fail_next` lasts; 422 for a body containing the `poison` marker; else 200 with
//! `{"seq": <n>}`. Counters count down per request they answer.

use crate::intake::bearer_token;
use std::collections::BTreeMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::watch;

use crate::multipart::read_request;
use crate::running::RunningRouter;

/// Largest body accepted: statistics files for a large center are a few MiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// How the sink answers. Every field has a default (accept everything at once), so a JSON object
/// need only name what it changes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Behaviour {
    /// Bearer token every request must carry (401 otherwise); `None` accepts any or none. Never
    /// serialized, so `GET /_sandbox/behaviour` does not show it.
    #[serde(skip_serializing)]
    pub token: Option<String>,
    /// Tokens that are known but have no access: 403 for every request carrying one.
    pub forbidden_tokens: Vec<String>,
    /// Answer the next N deliveries with `fail_status`.
    pub fail_next: u32,
    /// Status of those failures (default 503).
    pub fail_status: u16,
    /// `Retry-After` seconds sent with those failures.
    pub fail_retry_after: Option<u64>,
    /// Answer the next N deliveries with 429.
    pub throttle_next: u32,
    /// `Retry-After` seconds sent with a 429 (default 1).
    pub throttle_retry_after: u64,
    /// A body containing this string is refused with 422, every time: a poison message.
    pub poison: Option<String>,
    /// Wait this long before answering any request.
    pub latency_ms: u64,
    /// Answer HEAD with 405, as some servers do (GET still works).
    pub head_not_allowed: bool,
}

impl Default for Behaviour {
    fn default() -> Behaviour {
        Behaviour {
            token: None,
            forbidden_tokens: Vec::new(),
            fail_next: 0,
            fail_status: 503,
            fail_retry_after: None,
            throttle_next: 0,
            throttle_retry_after: 1,
            poison: None,
            latency_ms: 0,
            head_not_allowed: false,
        }
    }
}

impl fmt::Debug for Behaviour {
    // Tokens are credentials, even in an emulator: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Behaviour")
            .field("token", &self.token.as_ref().map(|_| "<secret>"))
            .field("forbidden_tokens", &self.forbidden_tokens.len())
            .field("fail_next", &self.fail_next)
            .field("fail_status", &self.fail_status)
            .field("fail_retry_after", &self.fail_retry_after)
            .field("throttle_next", &self.throttle_next)
            .field("throttle_retry_after", &self.throttle_retry_after)
            .field("poison", &self.poison)
            .field("latency_ms", &self.latency_ms)
            .field("head_not_allowed", &self.head_not_allowed)
            .finish()
    }
}

/// How to start a sink.
#[derive(Debug, Clone, Default)]
pub struct SinkConfig {
    /// The behaviour at start.
    pub behaviour: Behaviour,
    /// Append every received request as one JSON line to this file (created when missing).
    pub record_file: Option<PathBuf>,
}

/// One request the sink received, and what it answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedRequest {
    /// 1 for the first request the sink received, counting on across [`SinkHandle::clear`].
    pub seq: u64,
    /// When it arrived.
    pub at: jiff::Timestamp,
    /// `POST`, `HEAD`, …
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// Headers of interest, names in lowercase: `content-type`, `user-agent`, `idempotency-key`,
    /// every `x-wfm-bridge-*`, and `authorization` as its scheme followed by `***`.
    pub headers: BTreeMap<String, String>,
    /// The body as text (invalid UTF-8 replaced).
    pub body: String,
    /// The parts of a `multipart/form-data` body, in order; empty for any other body (and for a
    /// multipart body that cannot be read).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<ReceivedPart>,
    /// The status the sink answered.
    pub status: u16,
}

/// One part of a received `multipart/form-data` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedPart {
    /// The form field name (`file`).
    pub name: Option<String>,
    /// The file name the client gave.
    pub filename: Option<String>,
    /// The part's content type.
    pub content_type: Option<String>,
    /// The part's bytes as text (invalid UTF-8 replaced).
    pub body: String,
}

impl ReceivedRequest {
    /// The first part named `name` of a multipart body.
    pub fn part(&self, name: &str) -> Option<&ReceivedPart> {
        self.parts.iter().find(|p| p.name.as_deref() == Some(name))
    }
}

impl ReceivedRequest {
    /// A recorded header by lowercase name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The `Idempotency-Key` header.
    pub fn idempotency_key(&self) -> Option<&str> {
        self.header("idempotency-key")
    }

    /// Whether this was a delivery the sink accepted: not HEAD or GET, answered 2xx.
    pub fn delivered(&self) -> bool {
        self.method != "HEAD" && self.method != "GET" && (200..300).contains(&self.status)
    }
}

/// What the sink holds; one lock, so records and the file stay in the same order.
struct Inner {
    behaviour: Behaviour,
    received: Vec<ReceivedRequest>,
    last_seq: u64,
    record_file: Option<File>,
}

struct Shared {
    inner: Mutex<Inner>,
    /// Bumped after every record, for [`SinkHandle::wait_for_delivered`].
    recorded: watch::Sender<u64>,
}

/// Controls a running sink and reads what it received. Cheap to clone.
#[derive(Clone)]
pub struct SinkHandle {
    shared: Arc<Shared>,
}

impl fmt::Debug for SinkHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SinkHandle").finish_non_exhaustive()
    }
}

impl SinkHandle {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.shared
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The current behaviour, counters as they are now.
    pub fn behaviour(&self) -> Behaviour {
        self.lock().behaviour.clone()
    }

    /// Replaces the behaviour.
    pub fn set_behaviour(&self, behaviour: Behaviour) {
        self.lock().behaviour = behaviour;
    }

    /// Changes the behaviour in place: `handle.update(|b| b.fail_next = 2)`.
    pub fn update(&self, change: impl FnOnce(&mut Behaviour)) {
        change(&mut self.lock().behaviour);
    }

    /// Every request recorded, oldest first.
    pub fn received(&self) -> Vec<ReceivedRequest> {
        self.lock().received.clone()
    }

    /// The accepted deliveries (see [`ReceivedRequest::delivered`]), oldest first.
    pub fn delivered(&self) -> Vec<ReceivedRequest> {
        self.lock()
            .received
            .iter()
            .filter(|r| r.delivered())
            .cloned()
            .collect()
    }

    /// Forgets what was recorded (the record file is left as it is).
    pub fn clear(&self) {
        self.lock().received.clear();
    }

    /// Waits until at least `count` deliveries were accepted, at most `timeout`; returns them
    /// all, or `None` on timeout.
    pub async fn wait_for_delivered(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Option<Vec<ReceivedRequest>> {
        crate::wait::until(&self.shared.recorded, timeout, || {
            self.delivered().len() >= count
        })
        .await
        .then(|| self.delivered())
    }

    /// Answers a request and records it, under one lock so that numbers, records and file lines
    /// are in the same order as the answers.
    fn answer_and_record(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: String,
        parts: Vec<ReceivedPart>,
    ) -> Response {
        let mut response;
        {
            let mut inner = self.lock();
            let seq = inner.last_seq + 1;
            inner.last_seq = seq;
            response = answer(&mut inner.behaviour, seq, method, headers, &body);
            let mut request = ReceivedRequest {
                seq,
                at: jiff::Timestamp::now(),
                method: method.to_string(),
                path: uri.path().to_string(),
                headers: headers_of_interest(headers),
                body,
                parts,
                status: response.status().as_u16(),
            };
            if let Some(file) = &mut inner.record_file
                && let Err(e) = append_line(file, &request)
            {
                // Whoever reads the file would miss this request: say so rather than pretend.
                response = (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("sandbox cannot write its record file: {e}\n"),
                )
                    .into_response();
                request.status = 500;
            }
            tracing::debug!(
                method = %request.method,
                path = %request.path,
                status = request.status,
                "http sink"
            );
            inner.received.push(request);
        }
        // After the lock is released: waiters read the records under it.
        self.shared.recorded.send_modify(|n| *n += 1);
        response
    }
}

/// Appends one request as a JSON line.
fn append_line(file: &mut File, request: &ReceivedRequest) -> io::Result<()> {
    let mut line = serde_json::to_vec(request).map_err(io::Error::other)?;
    line.push(b'\n');
    // One write of a whole line to an unbuffered append-mode file: a reader sees whole lines, and
    // nothing waits in our memory when the process dies.
    file.write_all(&line)?;
    file.flush()
}

/// The sink's router and its handle, to serve on a listener of one's own or nest in another
/// router. Fails only when the record file cannot be opened.
pub fn router(config: SinkConfig) -> io::Result<(Router, SinkHandle)> {
    let record_file = match &config.record_file {
        Some(path) => Some(OpenOptions::new().create(true).append(true).open(path)?),
        None => None,
    };
    let (recorded, _) = watch::channel(0);
    let handle = SinkHandle {
        shared: Arc::new(Shared {
            inner: Mutex::new(Inner {
                behaviour: config.behaviour,
                received: Vec::new(),
                last_seq: 0,
                record_file,
            }),
            recorded,
        }),
    };
    let router = Router::new()
        .route("/_sandbox/behaviour", get(get_behaviour).put(put_behaviour))
        .route(
            "/_sandbox/received",
            get(get_received).delete(delete_received),
        )
        .fallback(receive)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(handle.clone());
    Ok((router, handle))
}

/// Serves a sink on `listener` until the process ends or accepting fails.
pub async fn serve(listener: TcpListener, config: SinkConfig) -> io::Result<()> {
    let (router, _handle) = router(config)?;
    axum::serve(listener, router).await
}

/// A sink running on a task of the current runtime; stopped by [`HttpSink::stop`] or on drop.
pub struct HttpSink {
    server: RunningRouter,
    handle: SinkHandle,
}

impl fmt::Debug for HttpSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSink")
            .field("addr", &self.server.addr())
            .finish_non_exhaustive()
    }
}

impl HttpSink {
    /// Starts a sink that accepts everything on `addr` (`"127.0.0.1:0"` for a free port).
    pub async fn start(addr: impl ToSocketAddrs) -> io::Result<HttpSink> {
        HttpSink::start_with(addr, SinkConfig::default()).await
    }

    /// Starts a sink with a configuration on `addr`.
    pub async fn start_with(addr: impl ToSocketAddrs, config: SinkConfig) -> io::Result<HttpSink> {
        let (router, handle) = router(config)?;
        Ok(HttpSink {
            server: RunningRouter::start(addr, router).await?,
            handle,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://<addr>`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The handle to program it and read what it received.
    pub fn handle(&self) -> &SinkHandle {
        &self.handle
    }

    /// Stops accepting, lets requests in flight finish, and waits for the server to end.
    pub async fn stop(self) {
        self.server.stop().await;
    }
}

async fn get_behaviour(State(handle): State<SinkHandle>) -> Response {
    axum::Json(handle.behaviour()).into_response()
}

async fn put_behaviour(
    State(handle): State<SinkHandle>,
    axum::Json(behaviour): axum::Json<Behaviour>,
) -> Response {
    if StatusCode::from_u16(behaviour.fail_status).is_err() {
        return (
            StatusCode::BAD_REQUEST,
            format!(
                "fail_status {} is not an HTTP status",
                behaviour.fail_status
            ),
        )
            .into_response();
    }
    handle.set_behaviour(behaviour);
    axum::Json(handle.behaviour()).into_response()
}

async fn get_received(State(handle): State<SinkHandle>) -> Response {
    axum::Json(handle.received()).into_response()
}

async fn delete_received(State(handle): State<SinkHandle>) -> StatusCode {
    handle.clear();
    StatusCode::NO_CONTENT
}

/// Answers and records any request outside `/_sandbox/`.
async fn receive(State(handle): State<SinkHandle>, request: Request) -> Response {
    let latency = handle.behaviour().latency_ms;
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let read = match read_request(request, MAX_BODY_BYTES).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let parts = match read.form {
        Some(Ok(parts)) => parts
            .into_iter()
            .map(|p| ReceivedPart {
                name: p.name,
                filename: p.filename,
                content_type: p.content_type,
                body: String::from_utf8_lossy(&p.data).into_owned(),
            })
            .collect(),
        _ => Vec::new(),
    };
    let body = String::from_utf8_lossy(&read.body).into_owned();
    handle.answer_and_record(&read.method, &read.uri, &read.headers, body, parts)
}

/// Decides the answer to request number `seq`, counting down the behaviour's counters.
fn answer(
    behaviour: &mut Behaviour,
    seq: u64,
    method: &Method,
    headers: &HeaderMap,
    body: &str,
) -> Response {
    let presented = bearer_token(headers);
    if let Some(token) = presented
        && behaviour.forbidden_tokens.iter().any(|t| t == token)
    {
        return (StatusCode::FORBIDDEN, "this token has no access\n").into_response();
    }
    if let Some(expected) = &behaviour.token
        && presented != Some(expected.as_str())
    {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "missing or invalid bearer token\n",
        )
            .into_response();
    }

    if *method == Method::HEAD && behaviour.head_not_allowed {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, POST")],
        )
            .into_response();
    }
    if *method == Method::HEAD || *method == Method::GET {
        return (StatusCode::OK, "wfm-bridge sandbox http sink\n").into_response();
    }

    if behaviour.throttle_next > 0 {
        behaviour.throttle_next -= 1;
        let mut response = (StatusCode::TOO_MANY_REQUESTS, "slow down\n").into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, behaviour.throttle_retry_after.into());
        return response;
    }
    if behaviour.fail_next > 0 {
        behaviour.fail_next -= 1;
        let status = StatusCode::from_u16(behaviour.fail_status)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, "failing as told\n").into_response();
        if let Some(seconds) = behaviour.fail_retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        return response;
    }
    if let Some(marker) = &behaviour.poison
        && !marker.is_empty()
        && body.contains(marker.as_str())
    {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("poison message: the body contains {marker:?}\n"),
        )
            .into_response();
    }

    axum::Json(serde_json::json!({ "seq": seq })).into_response()
}

/// The headers a delivery is judged by; `authorization` reduced to its scheme.
fn headers_of_interest(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut kept = BTreeMap::new();
    for (name, value) in headers {
        let name = name.as_str();
        let wanted = matches!(name, "content-type" | "user-agent" | "idempotency-key")
            || name.starts_with("x-wfm-bridge-");
        if wanted {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            kept.insert(name.to_string(), value);
        } else if name == "authorization" {
            let text = String::from_utf8_lossy(value.as_bytes());
            let scheme = text.split(' ').next().unwrap_or_default();
            kept.insert(name.to_string(), format!("{scheme} ***"));
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaviour_json_fields_are_optional_and_checked() {
        let b: Behaviour = serde_json::from_str(r#"{"fail_next": 2}"#).unwrap();
        assert_eq!(b.fail_next, 2);
        assert_eq!(b.fail_status, 503);
        assert_eq!(b.throttle_retry_after, 1);
        assert!(serde_json::from_str::<Behaviour>(r#"{"fail_nxt": 2}"#).is_err());
    }

    #[test]
    fn token_is_never_serialized_or_printed() {
        let b = Behaviour {
            token: Some("s3cret".into()),
            ..Behaviour::default()
        };
        assert!(!serde_json::to_string(&b).unwrap().contains("s3cret"));
        assert!(!format!("{b:?}").contains("s3cret"));
    }

    #[test]
    fn authorization_is_recorded_without_its_value() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Bearer s3cret".parse().unwrap());
        h.insert("x-wfm-bridge-flow", "f1".parse().unwrap());
        h.insert("accept", "*/*".parse().unwrap());
        let kept = headers_of_interest(&h);
        assert_eq!(kept["authorization"], "Bearer ***");
        assert_eq!(kept["x-wfm-bridge-flow"], "f1");
        assert!(!kept.contains_key("accept"));
        assert_eq!(bearer_token(&h), Some("s3cret"));
    }
}
