//! The `http` target: a generic JSON (or any payload) POST to one URL.
//!
//! For WFM systems and in-house services that accept a plain HTTP POST. Every request carries the
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
        PropertySpec {
            name: "timeout",
            kind: PropertyKind::Duration,
            required: false,
            secret: false,
            default: Some("30s"),
            help: "how long one request may take, from connecting to the end of the response",
        },
    ],
    single_per_tenant: false,
    build,
    build_source: None,
};

/// Header carrying the message's idempotency key.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// Header carrying the flow that produced the message.
pub const FLOW_HEADER: &str = "x-wfm-bridge-flow";
/// Header carrying the message's name.
pub const MESSAGE_HEADER: &str = "x-wfm-bridge-message";
/// Header carrying the attempt number (1 for the first).
pub const ATTEMPT_HEADER: &str = "x-wfm-bridge-attempt";

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
    client: reqwest::Client,
}

impl fmt::Debug for HttpTarget {
    // The URL's path and query, and the token, may hold credentials: show the origin only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTarget")
            .field("origin", &self.origin)
            .field("token", &self.token.as_ref().map(|_| "<secret>"))
            .field("timeout", &self.timeout)
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
            client,
        })
    }

    /// Builds the target from an account's checked properties (`url`, `token`, `timeout`).
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
        HttpTarget::new(url, token, timeout).map_err(error)
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
            .body(message.payload.clone());
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

#[cfg(test)]
mod tests {
    use super::*;

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
