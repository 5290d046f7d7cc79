//! The HTTP client of wfm-bridge and the rules every HTTP target shares.
//!
//! There is one HTTP stack in the workspace: reqwest over rustls with the `ring` crypto provider
//! (no aws-lc, no OpenSSL). This module installs that provider, builds clients with the same
//! timeouts, user agent and pooling, and turns what a server or the network did into a
//! [`DeliveryError`] the same way for every target:
//!
//! | outcome | result |
//! |---|---|
//! | 2xx | delivered |
//! | 429 | [`DeliveryError::Throttled`], with `Retry-After` |
//! | 408, 425, 5xx | [`DeliveryError::Retry`], with `Retry-After` |
//! | 401, 403 | [`DeliveryError::Retry`]: the account is wrong, not the message, so it waits for a fix |
//! | 3xx | [`DeliveryError::Retry`]: redirects are not followed (a POST must not turn into a GET) |
//! | other 4xx | [`DeliveryError::Rejected`], with the first 300 characters of the body |
//! | refused, DNS, timeout, reset | [`DeliveryError::Retry`], naming only `scheme://host:port` |
//!
//! Reasons never contain a URL's path, query string or user info, nor any header we sent: those
//! are where credentials hide.

use std::error::Error as _;
use std::io;
use std::sync::Once;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, LOCATION, RETRY_AFTER};
use reqwest::{StatusCode, Url};

use crate::targets::DeliveryError;

/// The `User-Agent` of every request: `wfm-bridge/<version>`.
pub const USER_AGENT: &str = concat!("wfm-bridge/", env!("CARGO_PKG_VERSION"));

/// Default limit for a whole request, from connecting to the end of the response body.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Limit for establishing a connection (TCP and TLS): a server that does not accept within this
/// time is down, however long the request itself may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How many characters of an error body a [`DeliveryError::Rejected`] reason quotes.
pub const BODY_EXCERPT_CHARS: usize = 300;

/// How much of an error response body is read at most; the rest is dropped unread.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Installs rustls' `ring` crypto provider as the process default, once.
///
/// reqwest is built without a provider of its own, so this must run before any client is built;
/// [`builder`] and [`client`] call it. Another crate (async-nats, a test) having installed the same
/// provider first is fine.
pub fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // Err means a provider is already installed, which is all we need.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A client builder with wfm-bridge's defaults: user agent, connect and request timeouts, idle
/// connection pooling, TCP keep-alive, and no redirects.
///
/// Redirects are not followed because a 301/302/303 turns a POST into a body-less GET whose 200
/// would look like a delivery; a redirect is reported instead (see the module table).
pub fn builder() -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(DEFAULT_TIMEOUT)
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(8)
        .tcp_keepalive(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none())
}

/// Why no HTTP client could be built: in practice, the system has no CA certificates (a minimal
/// container image without the `ca-certificates` package).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot set up HTTPS: {message}")]
pub struct ClientError {
    /// What failed, with what to do about it.
    pub message: String,
}

/// A new client with the defaults of [`builder`].
///
/// A client holds a connection pool; clones share it. Build one per target (or per component)
/// and keep it rather than one per request; targets set their own timeout per request. Building
/// reads the system's CA certificates, and fails when there are none.
pub fn client() -> Result<reqwest::Client, ClientError> {
    builder().build().map_err(|e| {
        let cause = innermost(&error_chain(&e)).unwrap_or_else(|| e.to_string());
        // rustls words a missing trust store as "unexpected error: …"; it is not unexpected here.
        let cause = cause.trim_start_matches("unexpected error: ");
        let hint = if cause.contains("CA certificates") {
            "; install the system's CA certificates (the ca-certificates package) \
             or point SSL_CERT_FILE at a bundle"
        } else {
            ""
        };
        ClientError {
            message: format!("{cause}{hint}"),
        }
    })
}

/// `scheme://host:port` of a URL: what messages may name. Never the user info, path or query.
pub fn origin(url: &Url) -> String {
    // `host_str` keeps the brackets of an IPv6 address.
    let host = url.host_str().unwrap_or_default();
    match url.port_or_known_default() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

/// Parses a `Retry-After` value: delta-seconds (`120`) or an HTTP date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`, and the obsolete RFC 850 and asctime forms). A date in the
/// past means "now" ([`Duration::ZERO`]); anything unparsable is `None`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for u64 is "a very long time"; saturate rather than ignore it.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The `Retry-After` of a response, if it has a valid one.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, SystemTime::now())
}

/// Classifies a response status: `Ok` for 2xx, otherwise the [`DeliveryError`] of the module
/// table. `headers` supplies `Retry-After` and `Location`; `body` is quoted (300 characters) when
/// the message is rejected.
pub fn classify_status(
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
) -> Result<(), DeliveryError> {
    let code = status.as_u16();
    if status.is_success() {
        return Ok(());
    }
    let retry_after = retry_after(headers);
    let described = describe_status(status);
    match code {
        429 => Err(DeliveryError::Throttled {
            reason: format!("rate limited ({described})"),
            retry_after,
        }),
        401 => Err(DeliveryError::Retry {
            reason: "credentials are invalid (HTTP 401)".to_string(),
            retry_after,
        }),
        403 => Err(DeliveryError::Retry {
            reason: "access forbidden (HTTP 403)".to_string(),
            retry_after,
        }),
        408 | 425 | 500..=599 => Err(DeliveryError::Retry {
            reason: format!("temporary failure ({described})"),
            retry_after,
        }),
        300..=399 => {
            // Name where it points (without query or credentials) so the operator can fix the
            // account's URL; retrying keeps the messages until then.
            let target = headers
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(redact_location)
                .unwrap_or_else(|| "another address".to_string());
            Err(DeliveryError::Retry {
                reason: format!(
                    "the target redirects to {target} ({described}); \
                     set the account's url to where it redirects"
                ),
                retry_after,
            })
        }
        _ => {
            let excerpt = body_excerpt(body);
            let reason = if excerpt.is_empty() {
                format!("rejected by the target ({described})")
            } else {
                format!("rejected by the target ({described}): {excerpt}")
            };
            Err(DeliveryError::Rejected { reason })
        }
    }
}

/// Classifies a received response. A 2xx response is handed back unread for the caller to use
/// or drop; otherwise the body is read (at most 64 KiB) to quote it, and the error returned.
pub async fn classify_response(
    response: reqwest::Response,
) -> Result<reqwest::Response, DeliveryError> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status();
    let headers = response.headers().clone();
    let body = read_body_limited(response, ERROR_BODY_LIMIT).await;
    Err(classify_status(status, &headers, &body)
        .expect_err("a status other than 2xx is never a delivery"))
}

/// Classifies a reqwest error (no response at all): always [`DeliveryError::Retry`], since the
/// network failing says nothing about the message. The reason is [`describe_error`]'s.
pub fn classify_error(error: &reqwest::Error) -> DeliveryError {
    DeliveryError::Retry {
        reason: describe_error(error),
        retry_after: None,
    }
}

/// Says in plain words what went wrong with a request that got no response, naming only
/// `scheme://host:port`: `cannot reach http://127.0.0.1:9: connection refused`,
/// `cannot resolve wfm.example.com: no such host`,
/// `no answer from https://wfm.example.com:443 in time (timed out)`.
pub fn describe_error(error: &reqwest::Error) -> String {
    let origin = error
        .url()
        .map(origin)
        .unwrap_or_else(|| "the target".to_string());
    let host = error
        .url()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| origin.clone());
    let chain = error_chain(error);
    let io_kind = io_error_kind(error);

    if chain.iter().any(|m| m.starts_with("dns error")) {
        return format!("cannot resolve {host}: no such host");
    }
    if error.is_connect() {
        let why = match io_kind {
            Some(kind) => io_kind_phrase(kind),
            None if error.is_timeout() => "timed out connecting".to_string(),
            None => innermost(&chain).unwrap_or_else(|| "connection failed".to_string()),
        };
        return format!("cannot reach {origin}: {why}");
    }
    if error.is_timeout() {
        return format!("no answer from {origin} in time (timed out)");
    }
    if error.is_builder() {
        let why = innermost(&chain).unwrap_or_else(|| "invalid request".to_string());
        return format!("cannot build a request to {origin}: {why}");
    }
    let why = match io_kind {
        Some(kind) => io_kind_phrase(kind),
        None => innermost(&chain).unwrap_or_else(|| "request failed".to_string()),
    };
    format!("connection to {origin} failed: {why}")
}

/// Reads a response body as text, keeping at most `limit` bytes (lossy UTF-8).
pub async fn read_body_limited(mut response: reqwest::Response, limit: usize) -> String {
    let mut bytes = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = limit - bytes.len();
        bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if bytes.len() >= limit {
            break;
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `HTTP 503 Service Unavailable`, or `HTTP 599` for codes without a reason phrase.
fn describe_status(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(phrase) => format!("HTTP {} {phrase}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    }
}

/// The first [`BODY_EXCERPT_CHARS`] characters of a body, on one line.
fn body_excerpt(body: &str) -> String {
    let flat: String = body
        .trim()
        .chars()
        .take(BODY_EXCERPT_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    flat.trim_end().to_string()
}

/// A `Location` header reduced to origin and path: no query string, no user info.
fn redact_location(location: &str) -> String {
    match Url::parse(location) {
        Ok(url) => format!("{}{}", origin(&url), url.path()),
        // A relative location: its path only.
        Err(_) => location
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .to_string(),
    }
}

/// The display of every error in the source chain below reqwest's own (which names the URL).
fn error_chain(error: &reqwest::Error) -> Vec<String> {
    let mut chain = Vec::new();
    let mut source = error.source();
    while let Some(e) = source {
        chain.push(e.to_string());
        source = e.source();
    }
    chain
}

/// The innermost message of a chain, if any.
fn innermost(chain: &[String]) -> Option<String> {
    chain.last().cloned()
}

/// The kind of the first `io::Error` in the source chain.
fn io_error_kind(error: &reqwest::Error) -> Option<io::ErrorKind> {
    let mut source = error.source();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        source = e.source();
    }
    None
}

/// A lowercase phrase for an I/O error kind, as an operator would say it.
fn io_kind_phrase(kind: io::ErrorKind) -> String {
    match kind {
        io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        io::ErrorKind::ConnectionReset => "connection reset".to_string(),
        io::ErrorKind::ConnectionAborted => "connection aborted".to_string(),
        io::ErrorKind::TimedOut => "timed out".to_string(),
        io::ErrorKind::HostUnreachable => "host unreachable".to_string(),
        io::ErrorKind::NetworkUnreachable => "network unreachable".to_string(),
        io::ErrorKind::AddrNotAvailable => "address not available".to_string(),
        io::ErrorKind::UnexpectedEof => "connection closed unexpectedly".to_string(),
        io::ErrorKind::BrokenPipe => "connection closed (broken pipe)".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn status(code: u16) -> StatusCode {
        StatusCode::from_u16(code).unwrap()
    }

    #[test]
    fn retry_after_delta_seconds() {
        let now = SystemTime::now();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn retry_after_http_dates() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:30:00 GMT", now),
            Some(Duration::from_secs(120))
        );
        // The obsolete forms recipients must still accept (RFC 9110 §5.6.7).
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-15 07:29:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Wed Oct 21 07:28:30 2015", now),
            Some(Duration::from_secs(30))
        );
        // A date already past means "retry now".
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn retry_after_garbage_is_none() {
        let now = SystemTime::now();
        for value in [
            "",
            "soon",
            "-5",
            "1.5",
            "12s",
            "Wed, 32 Oct 2015 07:28:00 GMT",
        ] {
            assert_eq!(parse_retry_after(value, now), None, "{value:?}");
        }
    }

    #[test]
    fn retry_after_from_headers() {
        assert_eq!(
            retry_after(&headers(&[("retry-after", "7")])),
            Some(Duration::from_secs(7))
        );
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn success_statuses_are_delivered() {
        for code in [200, 201, 202, 204, 299] {
            assert_eq!(classify_status(status(code), &HeaderMap::new(), ""), Ok(()));
        }
    }

    #[test]
    fn too_many_requests_is_throttled_with_retry_after() {
        let err = classify_status(status(429), &headers(&[("retry-after", "3")]), "slow down");
        assert_eq!(
            err,
            Err(DeliveryError::Throttled {
                reason: "rate limited (HTTP 429 Too Many Requests)".to_string(),
                retry_after: Some(Duration::from_secs(3)),
            })
        );
    }

    #[test]
    fn temporary_statuses_are_retried() {
        for code in [408, 425, 500, 502, 503, 504, 599] {
            match classify_status(status(code), &HeaderMap::new(), "oops") {
                Err(DeliveryError::Retry {
                    reason,
                    retry_after: None,
                }) => assert!(reason.contains(&format!("HTTP {code}")), "{reason}"),
                other => panic!("{code}: {other:?}"),
            }
        }
        assert_eq!(
            classify_status(status(503), &headers(&[("retry-after", "30")]), ""),
            Err(DeliveryError::Retry {
                reason: "temporary failure (HTTP 503 Service Unavailable)".to_string(),
                retry_after: Some(Duration::from_secs(30)),
            })
        );
    }

    #[test]
    fn credential_problems_are_retried_with_plain_reasons() {
        assert_eq!(
            classify_status(status(401), &HeaderMap::new(), "token=abc expired"),
            Err(DeliveryError::Retry {
                reason: "credentials are invalid (HTTP 401)".to_string(),
                retry_after: None,
            })
        );
        assert_eq!(
            classify_status(status(403), &HeaderMap::new(), ""),
            Err(DeliveryError::Retry {
                reason: "access forbidden (HTTP 403)".to_string(),
                retry_after: None,
            })
        );
    }

    #[test]
    fn other_client_errors_are_rejected_with_a_body_excerpt() {
        let body = format!("  invalid agent\nid {}", "x".repeat(1000));
        match classify_status(status(422), &HeaderMap::new(), &body) {
            Err(DeliveryError::Rejected { reason }) => {
                let prefix = "rejected by the target (HTTP 422 Unprocessable Entity): ";
                assert!(reason.starts_with(prefix), "{reason}");
                let excerpt = &reason[prefix.len()..];
                assert_eq!(excerpt.chars().count(), BODY_EXCERPT_CHARS);
                assert!(excerpt.starts_with("invalid agent id xxx"), "{excerpt}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            classify_status(status(404), &HeaderMap::new(), ""),
            Err(DeliveryError::Rejected {
                reason: "rejected by the target (HTTP 404 Not Found)".to_string()
            })
        );
        // Characters, not bytes: a multi-byte body is cut on a character boundary.
        match classify_status(status(400), &HeaderMap::new(), &"é".repeat(400)) {
            Err(DeliveryError::Rejected { reason }) => {
                assert_eq!(reason.matches('é').count(), BODY_EXCERPT_CHARS)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn redirects_are_retried_and_name_the_location_without_query() {
        let h = headers(&[(
            "location",
            "https://user:pw@new.example.com/api/v2?api_key=secret",
        )]);
        match classify_status(status(301), &h, "") {
            Err(DeliveryError::Retry { reason, .. }) => {
                assert!(
                    reason.contains("https://new.example.com:443/api/v2"),
                    "{reason}"
                );
                assert!(
                    !reason.contains("secret") && !reason.contains("pw"),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn origin_names_scheme_host_and_port_only() {
        let url = Url::parse("https://user:pw@wfm.example.com/path?token=abc").unwrap();
        assert_eq!(origin(&url), "https://wfm.example.com:443");
        let url = Url::parse("http://[::1]:8080/x").unwrap();
        assert_eq!(origin(&url), "http://[::1]:8080");
    }

    #[tokio::test]
    async fn refused_connection_names_the_origin_only() {
        // Bind then drop a listener: its port is now (almost certainly) closed.
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let url = format!("http://127.0.0.1:{port}/in?token=s3cret");
        let err = client().unwrap().post(&url).send().await.unwrap_err();
        match classify_error(&err) {
            DeliveryError::Retry {
                reason,
                retry_after: None,
            } => {
                assert_eq!(
                    reason,
                    format!("cannot reach http://127.0.0.1:{port}: connection refused")
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn timeout_is_retried() {
        // A listener that accepts (the kernel does) but never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let err = client()
            .unwrap()
            .get(format!("http://{addr}/slow?password=x"))
            .timeout(Duration::from_millis(200))
            .send()
            .await
            .unwrap_err();
        match classify_error(&err) {
            DeliveryError::Retry { reason, .. } => {
                assert_eq!(
                    reason,
                    format!("no answer from http://{addr} in time (timed out)")
                );
            }
            other => panic!("{other:?}"),
        }
        drop(listener);
    }

    #[tokio::test]
    async fn unknown_host_cannot_be_resolved() {
        // `.invalid` never resolves (RFC 2606).
        let err = client()
            .unwrap()
            .get("http://no-such-host.invalid/x?key=1")
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .unwrap_err();
        let reason = describe_error(&err);
        assert_eq!(reason, "cannot resolve no-such-host.invalid: no such host");
    }
}
