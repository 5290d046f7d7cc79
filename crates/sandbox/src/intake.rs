//! What the file intakes of the emulators (Calabrio's historical statistics and forecast import)
//! share: an optional bearer token, and the `/_sandbox/…` inspection and probe endpoints.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The token of an `Authorization: Bearer …` header.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Whether a request carries `expected` as its bearer token (any request, when none is expected).
pub(crate) fn authorized(expected: Option<&str>, headers: &HeaderMap) -> bool {
    expected.is_none_or(|expected| bearer_token(headers) == Some(expected))
}

/// 401 with the `WWW-Authenticate` challenge.
pub(crate) fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        "missing or invalid bearer token\n",
    )
        .into_response()
}

/// An emulator that takes files and keeps what it accepted.
pub(crate) trait Intake: Clone + Send + Sync + 'static {
    /// What `GET` of an upload path answers (an `http` account's test connection sees it).
    const DESCRIPTION: &'static str;
    /// Whether the request carries the configured token.
    fn authorized(&self, headers: &HeaderMap) -> bool;
    /// What it holds, as `GET /_sandbox/…` shows it.
    fn snapshot_response(&self) -> Response;
    /// Forgets everything received.
    fn clear(&self);
}

/// `GET /_sandbox/…`: what the intake holds.
pub(crate) async fn get_snapshot<I: Intake>(
    State(intake): State<I>,
    headers: HeaderMap,
) -> Response {
    if !intake.authorized(&headers) {
        return unauthorized();
    }
    intake.snapshot_response()
}

/// `DELETE /_sandbox/…`: forget everything.
pub(crate) async fn delete_all<I: Intake>(State(intake): State<I>, headers: HeaderMap) -> Response {
    if !intake.authorized(&headers) {
        return unauthorized();
    }
    intake.clear();
    StatusCode::NO_CONTENT.into_response()
}

/// HEAD and GET of an upload path.
pub(crate) async fn probe<I: Intake>(State(intake): State<I>, headers: HeaderMap) -> Response {
    if !intake.authorized(&headers) {
        return unauthorized();
    }
    (
        StatusCode::OK,
        format!("wfm-bridge sandbox: {}\n", I::DESCRIPTION),
    )
        .into_response()
}
