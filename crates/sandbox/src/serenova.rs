//! An emulator of the CxEngage (Serenova) API, as far as directory sync reads it: users, groups,
//! skills and queues per tenant, with the memberships of groups and skills.
//!
//! - `GET /v1/tenants/{tenant}/users|groups|skills|queues` and
//!   `GET /v1/tenants/{tenant}/groups|skills/{id}/users`: HTTP Basic with the tenant's
//!   `key:secret` (401 without or with a wrong one; 403 with another tenant's credentials; 404 for
//!   an unknown tenant or entity). Lists answer CxEngage's envelope `{result, total, limit,
//!   offset}` and honour `limit`/`offset`.
//! - `GET|PUT /_sandbox/directory`: the whole data set ([`SerenovaData`], also loadable from a
//!   JSON file by `wfm-bridge sandbox serenova --data FILE`).
//! - `PATCH /_sandbox/tenants/{tenant}/{users|groups|skills|queues}/{id}`: merges the JSON object
//!   sent into one entity — how a test renames or disables something between two syncs
//!   (`{"firstName": "Eva"}`, `{"status": "disabled"}`, `{"active": false}`).

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::{TcpListener, ToSocketAddrs};

use crate::running::RunningRouter;

/// Everything the emulator serves.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SerenovaData {
    /// The tenants (a master and its sub-tenants, or unrelated ones).
    pub tenants: Vec<SerenovaTenantData>,
}

/// One CxEngage tenant with its credentials and entities.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SerenovaTenantData {
    /// Tenant id.
    pub id: String,
    /// API key (Basic user name).
    pub key: String,
    /// API secret (Basic password).
    pub secret: String,
    /// Users: `{id, firstName, lastName, email, status}` (status `accepted` or `disabled`).
    #[serde(default)]
    pub users: Vec<Value>,
    /// Groups: `{id, name, active, members: [user ids]}`.
    #[serde(default)]
    pub groups: Vec<Value>,
    /// Skills: `{id, name, active, members: [user ids]}`.
    #[serde(default)]
    pub skills: Vec<Value>,
    /// Queues: `{id, name, active}`.
    #[serde(default)]
    pub queues: Vec<Value>,
}

type Shared = Arc<Mutex<SerenovaData>>;

fn base64(input: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

/// Checks the Basic credentials against `tenant`; the refusal is the finished response.
#[allow(clippy::result_large_err)]
fn authorize(data: &SerenovaData, tenant: &str, headers: &HeaderMap) -> Result<(), Response> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .map(str::trim)
        .ok_or_else(|| error(StatusCode::UNAUTHORIZED, "Basic authentication required"))?;
    let owner = data
        .tenants
        .iter()
        .find(|t| base64(format!("{}:{}", t.key, t.secret).as_bytes()) == presented);
    match owner {
        None => Err(error(StatusCode::UNAUTHORIZED, "invalid API key or secret")),
        Some(t) if t.id == tenant => Ok(()),
        Some(_) if data.tenants.iter().all(|t| t.id != tenant) => {
            Err(error(StatusCode::NOT_FOUND, "no such tenant"))
        }
        Some(_) => Err(error(
            StatusCode::FORBIDDEN,
            "the API key has no access to this tenant",
        )),
    }
}

fn entities<'a>(tenant: &'a SerenovaTenantData, kind: &str) -> Option<&'a Vec<Value>> {
    match kind {
        "users" => Some(&tenant.users),
        "groups" => Some(&tenant.groups),
        "skills" => Some(&tenant.skills),
        "queues" => Some(&tenant.queues),
        _ => None,
    }
}

fn page(items: Vec<Value>, query: &HashMap<String, String>) -> Response {
    let total = items.len();
    let offset: usize = query
        .get("offset")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let limit: usize = query
        .get("limit")
        .and_then(|v| v.parse().ok())
        .unwrap_or(total.max(1));
    let result: Vec<Value> = items.into_iter().skip(offset).take(limit).collect();
    Json(json!({"result": result, "total": total, "limit": limit, "offset": offset}))
        .into_response()
}

async fn list(
    State(data): State<Shared>,
    Path((tenant, kind)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let data = data.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if let Err(r) = authorize(&data, &tenant, &headers) {
        return r;
    }
    let t = data
        .tenants
        .iter()
        .find(|t| t.id == tenant)
        .expect("authorized");
    let Some(items) = entities(t, &kind) else {
        return error(StatusCode::NOT_FOUND, "no such entity type");
    };
    let items = items
        .iter()
        .map(|item| {
            let mut item = item.clone();
            if let Some(o) = item.as_object_mut() {
                o.remove("members");
                o.insert("tenantId".into(), json!(tenant));
            }
            item
        })
        .collect();
    page(items, &query)
}

async fn members(
    State(data): State<Shared>,
    Path((tenant, kind, id)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let data = data.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if let Err(r) = authorize(&data, &tenant, &headers) {
        return r;
    }
    let t = data
        .tenants
        .iter()
        .find(|t| t.id == tenant)
        .expect("authorized");
    let entity = match kind.as_str() {
        "groups" | "skills" => entities(t, &kind)
            .into_iter()
            .flatten()
            .find(|e| e["id"] == id.as_str()),
        _ => None,
    };
    let Some(entity) = entity else {
        return error(StatusCode::NOT_FOUND, "no such group or skill");
    };
    let items = entity["members"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| json!({"userId": m, "tenantId": tenant}))
        .collect();
    page(items, &query)
}

async fn put_directory(State(data): State<Shared>, Json(new): Json<SerenovaData>) -> StatusCode {
    *data.lock().unwrap_or_else(|e| e.into_inner()) = new;
    StatusCode::NO_CONTENT
}

async fn get_directory(State(data): State<Shared>) -> Json<SerenovaData> {
    Json(data.lock().unwrap_or_else(|e| e.into_inner()).clone())
}

async fn patch_entity(
    State(data): State<Shared>,
    Path((tenant, kind, id)): Path<(String, String, String)>,
    Json(change): Json<Value>,
) -> Response {
    let Value::Object(change) = change else {
        return error(
            StatusCode::BAD_REQUEST,
            "send a JSON object of the fields to change",
        );
    };
    let mut data = data.lock().unwrap_or_else(|e| e.into_inner());
    let Some(t) = data.tenants.iter_mut().find(|t| t.id == tenant) else {
        return error(StatusCode::NOT_FOUND, "no such tenant");
    };
    let list = match kind.as_str() {
        "users" => &mut t.users,
        "groups" => &mut t.groups,
        "skills" => &mut t.skills,
        "queues" => &mut t.queues,
        _ => return error(StatusCode::NOT_FOUND, "no such entity type"),
    };
    let Some(Value::Object(entity)) = list.iter_mut().find(|e| e["id"] == id.as_str()) else {
        return error(StatusCode::NOT_FOUND, "no such entity");
    };
    entity.extend(change);
    Json(Value::Object(entity.clone())).into_response()
}

/// The emulator's routes over `data`.
pub fn router(data: SerenovaData) -> Router {
    let shared: Shared = Arc::new(Mutex::new(data));
    Router::new()
        .route("/v1/tenants/{tenant}/{kind}", get(list))
        .route("/v1/tenants/{tenant}/{kind}/{id}/users", get(members))
        .route("/_sandbox/directory", get(get_directory).put(put_directory))
        .route(
            "/_sandbox/tenants/{tenant}/{kind}/{id}",
            patch(patch_entity),
        )
        .with_state(shared)
}

/// Serves the emulator on `listener` until the process ends.
pub async fn serve(listener: TcpListener, data: SerenovaData) -> io::Result<()> {
    axum::serve(listener, router(data)).await
}

/// The emulator running on a task; stopped on drop.
pub struct SerenovaSandbox {
    server: RunningRouter,
}

impl SerenovaSandbox {
    /// Starts the emulator on `addr` (`"127.0.0.1:0"` for a free port) serving `data`.
    pub async fn start(
        addr: impl ToSocketAddrs,
        data: SerenovaData,
    ) -> io::Result<SerenovaSandbox> {
        Ok(SerenovaSandbox {
            server: RunningRouter::start(addr, router(data)).await?,
        })
    }

    /// `http://<addr>`, the account's `base_url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }
}
