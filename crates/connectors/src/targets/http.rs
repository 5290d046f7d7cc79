//! The `http` target: a generic JSON (or any payload) POST to one URL.
//!
//! For WFM systems and in-house services that accept a plain HTTP POST. In the default `json` mode
//! the payload is the request body, with its own content type. In `multipart` mode, for file
//! upload endpoints such as Calabrio's, the body is `multipart/form-data` with one part named
//! `file` whose filename is the message name and whose content type is the payload's; the
//! headers and the way answers are classified are the same. Every request carries the
//! message's idempotency key (`Idempotency-Key`) so a receiver can drop a repeat, and
//! `X-Wfm-Bridge-Flow`, `X-Wfm-Bridge-Message` and `X-Wfm-Bridge-Attempt` to trace it back. The
//! optional token is sent as `Authorization: Bearer …` and appears nowhere else: not in errors, not
//! in `Debug`. Responses and network failures are classified by [`crate::http`].

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use reqwest::{Method, StatusCode, Url};

use crate::accounts::{
    AccountConfig, AccountError, AccountType, PropertyKind, PropertySpec, Secret,
};
use crate::http;
use crate::targets::{CheckVerdict, DeliveryError, OutboundMessage, Target};

/// The `timeout` property of every account type that makes one HTTP request per delivery.
pub const REQUEST_TIMEOUT: PropertySpec = PropertySpec {
    name: "timeout",
    kind: PropertyKind::Duration,
    required: false,
    secret: false,
    default: Some("30s"),
    help: "how long one request may take, from connecting to the end of the response",
};

/// The `http` account type.
pub const ACCOUNT_TYPE: AccountType = AccountType {
    name: "http",
    description: "POSTs each message to an HTTP endpoint",
    properties: &[
        PropertySpec {
            name: "url",
            kind: PropertyKind::Url,
            required: true,
            secret: false,
            default: None,
            help: "http:// or https:// URL every message is POSTed to",
        },
        PropertySpec {
            name: "token",
            kind: PropertyKind::Text,
            required: false,
            secret: true,
            default: None,
            help: "bearer token sent as Authorization: Bearer <token>",
        },
        REQUEST_TIMEOUT,
        PropertySpec {
            name: "mode",
            kind: PropertyKind::Text,
            required: false,
            secret: false,
            default: Some("json"),
            help: "json: the payload is the request body; multipart: a multipart/form-data upload \
                   with one part named file, named after the message",
        },
    ],
    single_per_tenant: false,
    build: Some(build),
    build_source: None,
    build_directory: None,
};

/// Header carrying the message's idempotency key.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Header carrying the flow that produced the message.
pub const FLOW_HEADER: &str = "x-wfm-bridge-flow";
/// Header carrying the message's name.
pub const MESSAGE_HEADER: &str = "x-wfm-bridge-message";
/// Header carrying the attempt number (1 for the first).
pub const ATTEMPT_HEADER: &str = "x-wfm-bridge-attempt";

/// Name of the one part of a `multipart` upload.
pub const MULTIPART_FIELD: &str = "file";

/// How a message is put into the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// The payload is the body, with the payload's content type (`mode = "json"`, the default;
    /// named for the usual payload, though any payload is sent as it is).
    #[default]
    Json,
    /// `multipart/form-data` with one part named `file`: filename = the message name, content
    /// type = the payload's (`mode = "multipart"`).
    Multipart,
}

impl Mode {
    /// The mode of a `mode` property value; the error names the allowed values.
    pub fn parse(value: &str) -> Result<Mode, String> {
        match value.trim() {
            "json" => Ok(Mode::Json),
            "multipart" => Ok(Mode::Multipart),
            other => Err(format!(
                "mode {other:?} is not a mode of the http target; use \"json\" (the payload is the \
                 body) or \"multipart\" (a multipart/form-data file upload)"
            )),
        }
    }

    /// The property value naming this mode.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Json => "json",
            Mode::Multipart => "multipart",
        }
    }
}

fn build(account: &AccountConfig) -> Result<Box<dyn Target>, AccountError> {
    Ok(Box::new(HttpTarget::from_account(account)?))
}

/// POSTs messages to one URL.
#[derive(Clone)]
pub struct HttpTarget {
    url: Url,
    /// `scheme://host:port` of `url`: what messages name.
    origin: String,
    token: Option<Secret>,
    timeout: Duration,
    mode: Mode,
    client: reqwest::Client,
}

impl fmt::Debug for HttpTarget {
    // The URL's path and query, and the token, may hold credentials: show the origin only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTarget")
            .field("origin", &self.origin)
            .field("token", &self.token.as_ref().map(|_| "<secret>"))
            .field("timeout", &self.timeout)
            .field("mode", &self.mode)
            .finish()
    }
}

impl HttpTarget {
    /// A target POSTing to `url` (http or https), with an optional bearer token and a per-request
    /// timeout. The message says what is wrong with the URL without repeating it (it may hold
    /// credentials).
    pub fn new(url: &str, token: Option<Secret>, timeout: Duration) -> Result<HttpTarget, String> {
        let url = Url::parse(url.trim()).map_err(|e| format!("url is not a valid URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "url must start with http:// or https://, not {}://",
                url.scheme()
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("url has no host".to_string());
        }
        if timeout.is_zero() {
            return Err("timeout must be longer than 0s".to_string());
        }
        if token.as_ref().is_some_and(|t| {
            t.expose().is_empty()
                || HeaderValue::from_str(&format!("Bearer {}", t.expose())).is_err()
        }) {
            return Err(
                "token is empty or contains characters an HTTP header cannot carry".to_string(),
            );
        }
        let client = http::client().map_err(|e| e.to_string())?;
        Ok(HttpTarget {
            origin: http::origin(&url),
            url,
            token,
            timeout,
            mode: Mode::Json,
            client,
        })
    }

    /// The same target sending in `mode`.
    pub fn with_mode(mut self, mode: Mode) -> HttpTarget {
        self.mode = mode;
        self
    }

    /// How messages are put into requests.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Builds the target from an account's checked properties (`url`, `token`, `timeout`, `mode`).
    pub fn from_account(account: &AccountConfig) -> Result<HttpTarget, AccountError> {
        let error = |message: String| AccountError {
            account: account.name.clone(),
            message,
        };
        let url = account
            .text("url")
            .ok_or_else(|| error("property url is required: where messages are POSTed".into()))?;
        let token = account.secret("token").cloned();
        let timeout = account.duration("timeout").unwrap_or(http::DEFAULT_TIMEOUT);
        let mode = account
            .text("mode")
            .map_or(Ok(Mode::Json), Mode::parse)
            .map_err(error)?;
        Ok(HttpTarget::new(url, token, timeout)
            .map_err(error)?
            .with_mode(mode))
    }

    /// `scheme://host:port` of the URL.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// A request to the URL with the timeout and, when set, the bearer token.
    fn request(&self, method: Method) -> reqwest::RequestBuilder {
        let request = self
            .client
            .request(method, self.url.clone())
            .timeout(self.timeout);
        match &self.token {
            // `bearer_auth` marks the header sensitive, so it is never printed by reqwest.
            Some(token) => request.bearer_auth(token.expose()),
            None => request,
        }
    }
}

#[async_trait]
impl Target for HttpTarget {
    async fn check(&self) -> CheckVerdict {
        let mut result = self.request(Method::HEAD).send().await;
        if let Ok(response) = &result
            && response.status() == StatusCode::METHOD_NOT_ALLOWED
        {
            result = self.request(Method::GET).send().await;
        }
        match result {
            Err(e) => CheckVerdict::failed(http::describe_error(&e)),
            Ok(response) => match response.status().as_u16() {
                401 => CheckVerdict::failed("credentials are invalid (HTTP 401)"),
                403 => CheckVerdict::failed("access forbidden (HTTP 403)"),
                code => CheckVerdict::ok(format!("reachable (HTTP {code})")),
            },
        }
    }

    async fn deliver(&self, message: &OutboundMessage) -> Result<(), DeliveryError> {
        let content_type = header_value("content type", &message.content_type)?;
        let (content_type, body) = match self.mode {
            Mode::Json => (content_type, message.payload.clone()),
            Mode::Multipart => {
                let boundary = boundary_for(&message.payload);
                let body = multipart_body(
                    &boundary,
                    &message.name,
                    &message.content_type,
                    &message.payload,
                );
                let content_type =
                    HeaderValue::from_str(&format!("multipart/form-data; boundary={boundary}"))
                        .map_err(|_| DeliveryError::Rejected {
                            reason: "cannot form a multipart content type".to_string(),
                        })?;
                (content_type, body)
            }
        };
        let request = self
            .request(Method::POST)
            .header(CONTENT_TYPE, content_type)
            .header(
                IDEMPOTENCY_KEY,
                header_value("idempotency key", &message.idempotency_key)?,
            )
            .header(FLOW_HEADER, header_value("flow name", &message.flow)?)
            .header(MESSAGE_HEADER, header_value("message name", &message.name)?)
            .header(ATTEMPT_HEADER, message.attempt)
            .body(body);
        let response = request.send().await.map_err(|e| http::classify_error(&e))?;
        let response = http::classify_response(response).await?;
        // Read the body to its end so the connection goes back to the pool.
        let _ = response.bytes().await;
        Ok(())
    }
}

/// A header value from message data. UTF-8 is sent as is (RFC 9110 obs-text); control characters
/// cannot be sent at all, which no retry will change.
fn header_value(what: &str, value: &str) -> Result<HeaderValue, DeliveryError> {
    HeaderValue::from_bytes(value.as_bytes()).map_err(|_| DeliveryError::Rejected {
        reason: format!(
            "the {what} {value:?} cannot be sent as an HTTP header (control characters)"
        ),
    })
}

/// A multipart boundary that does not occur in `payload`.
///
/// RFC 2046 allows up to 70 characters; ours are `wfm-bridge-` and 32 hex digits from a randomly
/// seeded hasher, so a collision with the payload is practically impossible, and checked anyway.
pub(crate) fn boundary_for(payload: &[u8]) -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::BuildHasher;
    loop {
        let random = RandomState::new();
        let boundary = format!(
            "wfm-bridge-{:016x}{:016x}",
            random.hash_one(payload.len()),
            random.hash_one(std::time::SystemTime::now())
        );
        let delimiter = format!("--{boundary}");
        if !payload
            .windows(delimiter.len())
            .any(|w| w == delimiter.as_bytes())
        {
            return boundary;
        }
    }
}

/// A `multipart/form-data` body (RFC 7578) with one part named [`MULTIPART_FIELD`].
///
/// The filename is quoted the way browsers do it (WHATWG HTML): `"` as `%22`, CR and LF as
/// `%0D` and `%0A`; other characters, UTF-8 included, are sent as they are (RFC 7578 §4.2).
pub(crate) fn multipart_body(
    boundary: &str,
    name: &str,
    content_type: &str,
    payload: &[u8],
) -> Vec<u8> {
    let filename = name
        .replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    let mut body = Vec::with_capacity(payload.len() + 256);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\n\
             Content-Disposition: form-data; name=\"{MULTIPART_FIELD}\"; filename=\"{filename}\"\r\n\
             Content-Type: {content_type}\r\n\
             \r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(payload);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_are_json_or_multipart() {
        assert_eq!(Mode::parse("json"), Ok(Mode::Json));
        assert_eq!(Mode::parse("multipart"), Ok(Mode::Multipart));
        let err = Mode::parse("form").unwrap_err();
        assert!(
            err.contains("\"json\"") && err.contains("\"multipart\""),
            "{err}"
        );
        assert_eq!(Mode::Multipart.as_str(), "multipart");
    }

    #[test]
    fn a_mode_that_does_not_exist_is_an_account_error() {
        let account = AccountConfig {
            name: "calabrio-upload".into(),
            account_type: "http".into(),
            tenant: None,
            properties: [
                (
                    "url".to_string(),
                    crate::accounts::PropertyValue::Text("https://wfm.example.com/in".into()),
                ),
                (
                    "mode".to_string(),
                    crate::accounts::PropertyValue::Text("xml".into()),
                ),
            ]
            .into(),
        };
        let err = HttpTarget::from_account(&account).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("account calabrio-upload: mode \"xml\""),
            "{err}"
        );
    }

    #[test]
    fn multipart_bodies_have_one_file_part() {
        let body = multipart_body(
            "XyZ",
            "Queue_Statistics_20240301_20240301.csv",
            "text/csv",
            b"a;b\n",
        );
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "--XyZ\r\n\
             Content-Disposition: form-data; name=\"file\"; \
             filename=\"Queue_Statistics_20240301_20240301.csv\"\r\n\
             Content-Type: text/csv\r\n\
             \r\n\
             a;b\n\r\n\
             --XyZ--\r\n"
        );
        let body = multipart_body("B", "say \"hi\".csv", "text/csv", b"");
        assert!(
            String::from_utf8(body)
                .unwrap()
                .contains("filename=\"say %22hi%22.csv\"")
        );
    }

    #[test]
    fn boundaries_never_occur_in_the_payload() {
        let a = boundary_for(b"payload");
        assert!(a.starts_with("wfm-bridge-") && a.len() <= 70, "{a}");
        assert_ne!(a, boundary_for(b"payload"));
    }

    #[test]
    fn urls_must_be_http_with_a_host() {
        let t = Duration::from_secs(1);
        assert!(HttpTarget::new("https://wfm.example.com/in", None, t).is_ok());
        assert!(HttpTarget::new("http://127.0.0.1:8080", None, t).is_ok());
        let err = HttpTarget::new("ftp://files.example.com/x", None, t).unwrap_err();
        assert_eq!(err, "url must start with http:// or https://, not ftp://");
        assert!(HttpTarget::new("not a url", None, t).is_err());
        assert!(HttpTarget::new("https://x.example.com", None, Duration::ZERO).is_err());
    }

    #[test]
    fn token_never_shows_in_debug_or_errors() {
        let target = HttpTarget::new(
            "https://wfm.example.com/in?api_key=k3y",
            Some(Secret::new("s3cret")),
            Duration::from_secs(5),
        )
        .unwrap();
        let debug = format!("{target:?}");
        assert!(
            !debug.contains("s3cret") && !debug.contains("k3y"),
            "{debug}"
        );
        assert!(debug.contains("https://wfm.example.com:443"), "{debug}");

        let err = HttpTarget::new(
            "https://wfm.example.com",
            Some(Secret::new("bad\ntoken")),
            Duration::from_secs(5),
        )
        .unwrap_err();
        assert!(!err.contains("bad"), "{err}");
    }

    #[test]
    fn account_errors_name_the_account() {
        let account = AccountConfig {
            name: "wfm-in".into(),
            account_type: "http".into(),
            tenant: None,
            properties: [(
                "url".to_string(),
                crate::accounts::PropertyValue::Text("file:///etc/passwd".into()),
            )]
            .into(),
        };
        let err = HttpTarget::from_account(&account).unwrap_err();
        assert_eq!(
            err.to_string(),
            "account wfm-in: url must start with http:// or https://, not file://"
        );
    }

    #[test]
    fn control_characters_cannot_be_headers() {
        assert!(header_value("message name", "a.csv").is_ok());
        assert!(header_value("message name", "statistik-ö.csv").is_ok());
        assert!(matches!(
            header_value("message name", "a\nb"),
            Err(DeliveryError::Rejected { .. })
        ));
    }
}
