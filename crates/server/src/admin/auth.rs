//! Admin tokens: who is calling, what they may do, which tenants they see.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::Response;
use wfm_engine::config::{AdminRole, AdminToken};

use super::{AdminState, error};

/// The caller of an admin request: the admin token it presented.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The matching `[[admin_tokens]]` entry.
    pub token: AdminToken,
}

impl Caller {
    /// Refuses a change to a viewer (403).
    pub fn may_change(&self) -> Result<(), Response> {
        match self.token.role {
            AdminRole::Admin => Ok(()),
            AdminRole::Viewer => Err(error(
                StatusCode::FORBIDDEN,
                format!(
                    "token {:?} is a viewer token: it may read but not change anything",
                    self.token.name
                ),
            )),
        }
    }

    /// Whether the caller sees `tenant`.
    pub fn sees(&self, tenant: &str) -> bool {
        self.token.sees(tenant)
    }

    /// Whether the caller sees something of `tenant` (`None`: no tenant, which only tokens of
    /// every tenant see).
    pub fn sees_owner(&self, tenant: Option<&str>) -> bool {
        match tenant {
            Some(t) => self.sees(t),
            None => self.token.tenants.is_none(),
        }
    }

    /// 404 for a tenant the caller does not see, as for one that does not exist: a token of tenant
    /// A learns nothing of tenant B.
    pub fn tenant(&self, state: &AdminState, tenant: &str) -> Result<(), Response> {
        if self.sees(tenant) && state.engine.config.tenant(tenant).is_some() {
            Ok(())
        } else {
            Err(error(
                StatusCode::NOT_FOUND,
                format!("tenant {tenant:?} is not configured (or not visible to this token)"),
            ))
        }
    }
}

/// Compares without stopping at the first difference, so that timing says nothing of a token.
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl FromRequestParts<AdminState> for Caller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AdminState,
    ) -> Result<Self, Self::Rejection> {
        let tokens = &state.engine.config.admin_tokens;
        if tokens.is_empty() {
            return Err(error(
                StatusCode::UNAUTHORIZED,
                "the admin API is off: no [[admin_tokens]] are configured in the configuration file",
            ));
        }
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let Some(presented) = presented else {
            return Err(error(
                StatusCode::UNAUTHORIZED,
                "missing bearer token: send Authorization: Bearer <an admin token>",
            ));
        };
        // Every token is compared, so that timing does not tell which one nearly matched.
        let mut found = None;
        for token in tokens {
            if same(token.token.expose(), presented) {
                found = Some(token.clone());
            }
        }
        match found {
            Some(token) => Ok(Caller { token }),
            None => Err(error(
                StatusCode::UNAUTHORIZED,
                "the bearer token is not an admin token",
            )),
        }
    }
}
