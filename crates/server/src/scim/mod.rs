//! The SCIM 2.0 server (RFC 7643/7644) at `/scim/v2`: identity providers (Okta, Entra ID,
//! OneLogin…) provision agents as Users and teams as Groups; directory sync reads them through
//! `wfm_engine::directory_sources::ScimDirectory`.
//!
//! - `GET|POST /Users`, `GET|PUT|PATCH|DELETE /Users/{id}`, `POST /Users/.search`; the same for
//!   `/Groups`; `GET /ServiceProviderConfig`, `/ResourceTypes[/{id}]`, `/Schemas[/{id}]`.
//! - Tenant: resolved from `Authorization: Bearer <token>` — the tenant's `scim_token`, or its
//!   `ingest_token` when it has none. Another tenant's resources are invisible (404).
//! - Lists: `filter` ([`filter`]), `startIndex`/`count` (at most [`MAX_RESULTS`]), `sortBy`/
//!   `sortOrder`, `attributes`/`excludedAttributes`.
//! - ETags: `meta.version` is `W/"<n>"`, sent as `ETag`; `If-Match` on PUT, PATCH and DELETE answers
//!   412 when it does not match, `If-None-Match` on GET answers 304 when it does.
//! - DELETE removes the resource from the SCIM API (404 afterwards, RFC 7644 §3.6) but the store
//!   keeps it marked deleted, and directory sync sees a deleted user as disabled: the person
//!   downstream is deactivated, never deleted. A later user with the same userName is a new user.
//! - Errors are SCIM error bodies (`schemas`, `status` as a string, `scimType`, `detail`).
//! - `password` is accepted and dropped: wfm-bridge authenticates no one.

// Handlers' helpers return the finished error response as their `Err`: it is built once per
// failed request, so its size does not matter.
#![allow(clippy::result_large_err)]

pub mod discovery;
pub mod filter;
pub mod patch;

use std::collections::{HashMap, HashSet};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use wfm_store::{ScimResource, ScimType, ScimWrite};

use crate::AppState;
use filter::{Filter, GROUP_SCHEMA, USER_SCHEMA, get_ci, key_ci};

/// The enterprise User extension.
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const SEARCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// Resources returned by one list request at most (`count` is capped to it).
pub const MAX_RESULTS: usize = 200;

/// Times a read-modify-write is retried when another request changed the resource meanwhile.
const WRITE_ATTEMPTS: usize = 5;

/// Attributes that hold lists.
const MULTI_VALUED: &[&str] = &[
    "emails",
    "phoneNumbers",
    "ims",
    "photos",
    "addresses",
    "entitlements",
    "roles",
    "x509Certificates",
    "members",
];

/// Core attribute names as RFC 7643 spells them; names are matched without regard to case and
/// stored in this spelling.
const NAMES: &[&str] = &[
    "userName",
    "name",
    "displayName",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "active",
    "password",
    "emails",
    "phoneNumbers",
    "ims",
    "photos",
    "addresses",
    "groups",
    "entitlements",
    "roles",
    "x509Certificates",
    "externalId",
    "members",
    "formatted",
    "familyName",
    "givenName",
    "middleName",
    "honorificPrefix",
    "honorificSuffix",
    "value",
    "display",
    "type",
    "primary",
    "streetAddress",
    "locality",
    "region",
    "postalCode",
    "country",
    "employeeNumber",
    "costCenter",
    "organization",
    "division",
    "department",
    "manager",
];

/// The RFC's spelling of an attribute name, or the name as given.
pub fn canonical_name(name: &str) -> String {
    NAMES
        .iter()
        .find(|n| n.eq_ignore_ascii_case(name))
        .map_or_else(|| name.to_string(), |n| n.to_string())
}

/// Whether a key is a schema URN whose value is an object of that schema's attributes.
pub fn is_schema_urn(key: &str) -> bool {
    [ENTERPRISE_SCHEMA, USER_SCHEMA, GROUP_SCHEMA]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(key))
}

/// The routes, to be nested at `/scim/v2`.
pub fn routes() -> Router<AppState> {
    let mut router = Router::new();
    for (path, kind) in [("/Users", ScimType::User), ("/Groups", ScimType::Group)] {
        router = router
            .route(
                path,
                get(
                    move |s: State<AppState>, h: HeaderMap, q: Query<HashMap<String, String>>| {
                        list(kind, s, h, q.0)
                    },
                )
                .post(move |s: State<AppState>, h: HeaderMap, b: Bytes| create(kind, s, h, b)),
            )
            .route(
                &format!("{path}/.search"),
                post(move |s: State<AppState>, h: HeaderMap, b: Bytes| search(Some(kind), s, h, b)),
            )
            .route(
                &format!("{path}/{{id}}"),
                get(
                    move |s: State<AppState>,
                          h: HeaderMap,
                          p: Path<String>,
                          q: Query<HashMap<String, String>>| {
                        get_one(kind, s, h, p.0, q.0)
                    },
                )
                .put(
                    move |s: State<AppState>, h: HeaderMap, p: Path<String>, b: Bytes| {
                        write(kind, Change::Replace, s, h, p.0, b)
                    },
                )
                .patch(
                    move |s: State<AppState>, h: HeaderMap, p: Path<String>, b: Bytes| {
                        write(kind, Change::Patch, s, h, p.0, b)
                    },
                )
                .delete(
                    move |s: State<AppState>, h: HeaderMap, p: Path<String>| {
                        delete(kind, s, h, p.0)
                    },
                ),
            );
    }
    router
        .route(
            "/.search",
            post(|s: State<AppState>, h: HeaderMap, b: Bytes| search(None, s, h, b)),
        )
        .fallback(|| async {
            scim_error(
                StatusCode::NOT_FOUND,
                None,
                "no such SCIM endpoint: /Users, /Groups, /.search, /ServiceProviderConfig, /ResourceTypes, /Schemas",
            )
        })
        .route("/ServiceProviderConfig", get(|h: HeaderMap| async move {
            scim_json(StatusCode::OK, discovery::service_provider_config(&base_url(&h)))
        }))
        .route("/ResourceTypes", get(|h: HeaderMap| async move {
            list_response(discovery::resource_types(&base_url(&h)))
        }))
        .route("/ResourceTypes/{id}", get(|h: HeaderMap, p: Path<String>| async move {
            find(discovery::resource_types(&base_url(&h)), &p.0, "resource type")
        }))
        .route("/Schemas", get(|h: HeaderMap| async move {
            list_response(discovery::schemas(&base_url(&h)))
        }))
        .route("/Schemas/{id}", get(|h: HeaderMap, p: Path<String>| async move {
            find(discovery::schemas(&base_url(&h)), &p.0, "schema")
        }))
}

fn list_response(resources: Vec<Value>) -> Response {
    scim_json(
        StatusCode::OK,
        json!({"schemas": [LIST_SCHEMA], "totalResults": resources.len(), "startIndex": 1,
               "itemsPerPage": resources.len(), "Resources": resources}),
    )
}

fn find(resources: Vec<Value>, id: &str, what: &str) -> Response {
    match resources.into_iter().find(|r| r["id"] == id) {
        Some(r) => scim_json(StatusCode::OK, r),
        None => scim_error(StatusCode::NOT_FOUND, None, format!("no {what} {id:?}")),
    }
}

/// A JSON response of type `application/scim+json`.
fn scim_json(status: StatusCode, body: Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/scim+json; charset=utf-8"),
    );
    response
}

/// A SCIM error (RFC 7644 §3.12).
fn scim_error(status: StatusCode, scim_type: Option<&str>, detail: impl Into<String>) -> Response {
    let mut body = json!({"schemas": [ERROR_SCHEMA], "status": status.as_u16().to_string(),
                          "detail": detail.into()});
    if let Some(t) = scim_type {
        body["scimType"] = json!(t);
    }
    let mut response = scim_json(status, body);
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"wfm-bridge SCIM\""),
        );
    }
    response
}

fn store_failed(e: wfm_store::StoreError) -> Response {
    tracing::error!(error = %e, "SCIM request failed in the store");
    scim_error(
        StatusCode::SERVICE_UNAVAILABLE,
        None,
        format!("the store failed: {e}"),
    )
}

/// `http(s)://host/scim/v2`, for `meta.location` and `$ref`.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("http");
    format!("{scheme}://{host}/scim/v2")
}

/// The tenant of the bearer token.
fn tenant_of(state: &AppState, headers: &HeaderMap) -> Result<String, Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or_else(|| {
            scim_error(
                StatusCode::UNAUTHORIZED,
                None,
                "missing bearer token: send Authorization: Bearer <the tenant's scim_token or ingest_token>",
            )
        })?;
    state
        .tokens
        .scim_tenant(token)
        .map(str::to_string)
        .map_err(|r| scim_error(r.status, None, r.message))
}

fn endpoint(kind: ScimType) -> &'static str {
    match kind {
        ScimType::User => "Users",
        ScimType::Group => "Groups",
    }
}

fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// Whether an `If-Match`/`If-None-Match` value names `version` (or is `*`).
fn tag_matches(header_value: &str, version: i64) -> bool {
    header_value.split(',').any(|tag| {
        let tag = tag.trim();
        tag == "*" || tag.trim_start_matches("W/").trim_matches('"') == version.to_string()
    })
}

fn millis(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// A new resource id: a random (version 4) UUID.
fn new_id() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A tenant's live users and groups, with their parsed documents: what rendering a resource
/// (`groups` of a user, `members` of a group with their display names) needs.
struct Directory {
    users: Vec<(ScimResource, Map<String, Value>)>,
    groups: Vec<(ScimResource, Map<String, Value>)>,
    /// Ids of users and groups deleted through SCIM: members that no longer show.
    deleted: HashSet<String>,
    /// Position in `users` / `groups` by id.
    index: HashMap<(ScimType, String), usize>,
    /// Positions in `groups` of the groups each id is a member of.
    member_of: HashMap<String, Vec<usize>>,
}

fn parse_document(resource: &ScimResource) -> Map<String, Value> {
    match serde_json::from_str(&resource.document) {
        Ok(Value::Object(doc)) => doc,
        _ => Map::new(),
    }
}

impl Directory {
    async fn load(state: &AppState, tenant: &str) -> Result<Directory, Response> {
        let scim = state.store.scim();
        let users = scim
            .scim_list(tenant, ScimType::User, true)
            .await
            .map_err(store_failed)?;
        let groups = scim
            .scim_list(tenant, ScimType::Group, true)
            .await
            .map_err(store_failed)?;
        let deleted: HashSet<String> = users
            .iter()
            .chain(&groups)
            .filter(|r| r.deleted_at.is_some())
            .map(|r| r.id.clone())
            .collect();
        let (users, groups): (Vec<_>, Vec<_>) = (
            users
                .into_iter()
                .filter(|r| r.deleted_at.is_none())
                .collect(),
            groups
                .into_iter()
                .filter(|r| r.deleted_at.is_none())
                .collect(),
        );
        let parse = |list: Vec<ScimResource>| {
            list.into_iter()
                .map(|r| {
                    let doc = parse_document(&r);
                    (r, doc)
                })
                .collect()
        };
        let users: Vec<(ScimResource, Map<String, Value>)> = parse(users);
        let groups: Vec<(ScimResource, Map<String, Value>)> = parse(groups);
        let mut index = HashMap::new();
        for (kind, list) in [(ScimType::User, &users), (ScimType::Group, &groups)] {
            for (i, (r, _)) in list.iter().enumerate() {
                index.insert((kind, r.id.clone()), i);
            }
        }
        let mut member_of: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, (_, doc)) in groups.iter().enumerate() {
            for id in member_ids(doc) {
                member_of.entry(id.to_string()).or_default().push(i);
            }
        }
        Ok(Directory {
            users,
            groups,
            deleted,
            index,
            member_of,
        })
    }

    fn of(&self, kind: ScimType) -> &[(ScimResource, Map<String, Value>)] {
        match kind {
            ScimType::User => &self.users,
            ScimType::Group => &self.groups,
        }
    }

    fn find(&self, kind: ScimType, id: &str) -> Option<&(ScimResource, Map<String, Value>)> {
        self.index
            .get(&(kind, id.to_string()))
            .map(|&i| &self.of(kind)[i])
    }

    /// The display name of a live user or group.
    fn display(&self, id: &str) -> Option<(ScimType, String)> {
        if let Some((_, doc)) = self.find(ScimType::User, id) {
            let name = ["displayName", "userName"]
                .iter()
                .find_map(|k| doc.get(*k).and_then(Value::as_str))
                .unwrap_or(id);
            return Some((ScimType::User, name.to_string()));
        }
        self.find(ScimType::Group, id).map(|(_, doc)| {
            let name = doc.get("displayName").and_then(Value::as_str).unwrap_or(id);
            (ScimType::Group, name.to_string())
        })
    }

    /// The full resource as the API shows it.
    fn render(&self, resource: &ScimResource, doc: &Map<String, Value>, base: &str) -> Value {
        let kind = resource.resource_type;
        let mut out = Map::new();
        let mut schemas = vec![json!(match kind {
            ScimType::User => USER_SCHEMA,
            ScimType::Group => GROUP_SCHEMA,
        })];
        if doc.contains_key(ENTERPRISE_SCHEMA) {
            schemas.push(json!(ENTERPRISE_SCHEMA));
        }
        out.insert("schemas".into(), Value::Array(schemas));
        out.insert("id".into(), json!(resource.id));
        for (k, v) in doc {
            out.insert(k.clone(), v.clone());
        }
        match kind {
            ScimType::User => {
                let groups: Vec<Value> = self
                    .member_of
                    .get(&resource.id)
                    .into_iter()
                    .flatten()
                    .map(|&i| &self.groups[i])
                    .map(|(g, gdoc)| {
                        json!({"value": g.id, "display": gdoc.get("displayName").cloned().unwrap_or(Value::Null),
                               "$ref": format!("{base}/Groups/{}", g.id), "type": "direct"})
                    })
                    .collect();
                if !groups.is_empty() {
                    out.insert("groups".into(), Value::Array(groups));
                }
            }
            ScimType::Group => {
                let members: Vec<Value> = doc
                    .get("members")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|m| {
                        let id = m.get("value").and_then(Value::as_str)?;
                        if self.deleted.contains(id) {
                            return None;
                        }
                        Some(match self.display(id) {
                            Some((t, display)) => json!({"value": id, "display": display,
                                "type": t.as_str(), "$ref": format!("{base}/{}/{id}", endpoint(t))}),
                            // Not provisioned here (yet): shown as the client gave it.
                            None => m.clone(),
                        })
                    })
                    .collect();
                out.insert("members".into(), Value::Array(members));
            }
        }
        out.insert(
            "meta".into(),
            json!({"resourceType": kind.as_str(), "created": millis(resource.created_at),
                   "lastModified": millis(resource.modified_at),
                   "location": format!("{base}/{}/{}", endpoint(kind), resource.id),
                   "version": etag(resource.version)}),
        );
        Value::Object(out)
    }
}

/// The `value`s of a group document's members.
fn member_ids(doc: &Map<String, Value>) -> impl Iterator<Item = &str> {
    doc.get("members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("value").and_then(Value::as_str))
}

/// A resource response with its `ETag` (and `Location` on creation).
fn resource_response(status: StatusCode, rendered: Value, version: i64) -> Response {
    let location = rendered["meta"]["location"].as_str().map(str::to_string);
    let mut response = scim_json(status, rendered);
    if let Ok(v) = HeaderValue::from_str(&etag(version)) {
        response.headers_mut().insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED
        && let Some(Ok(l)) = location.map(|l| HeaderValue::from_str(&l))
    {
        response.headers_mut().insert(header::LOCATION, l);
    }
    response
}

/// Checks and normalizes a resource body into the document stored: server-owned attributes
/// (`id`, `meta`, `schemas`, a user's `groups`) and `password` dropped, names in the RFC's
/// spelling, `active` a boolean, lists where lists belong; group members deleted through SCIM
/// dropped, members not provisioned here kept as given
/// ones are refused. Returns the document and its `name_key`.
fn prepare(
    kind: ScimType,
    body: Value,
    directory: &Directory,
    own_id: Option<&str>,
) -> Result<(Map<String, Value>, String), Response> {
    let invalid =
        |detail: String| scim_error(StatusCode::BAD_REQUEST, Some("invalidValue"), detail);
    let Value::Object(body) = body else {
        return Err(scim_error(
            StatusCode::BAD_REQUEST,
            Some("invalidSyntax"),
            "the body must be a JSON object",
        ));
    };
    let mut doc = Map::new();
    for (key, value) in body {
        let name = if is_schema_urn(&key) {
            if ENTERPRISE_SCHEMA.eq_ignore_ascii_case(&key) {
                ENTERPRISE_SCHEMA.to_string()
            } else {
                key
            }
        } else {
            canonical_name(&key)
        };
        let server_owned = matches!(name.as_str(), "id" | "meta" | "schemas" | "password")
            || (kind == ScimType::User && name == "groups")
            || name == USER_SCHEMA
            || name == GROUP_SCHEMA;
        if server_owned || value.is_null() {
            continue;
        }
        doc.insert(name, value);
    }
    // An extension object carries no `schemas` of its own.
    if let Some(Value::Object(ext)) = doc.get_mut(ENTERPRISE_SCHEMA) {
        ext.retain(|k, _| !k.eq_ignore_ascii_case("schemas"));
    }
    if let Some(active) = doc.get_mut("active") {
        *active = match &*active {
            Value::Bool(b) => Value::Bool(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
            other => {
                return Err(invalid(format!(
                    "active must be true or false, not {other}"
                )));
            }
        };
    }
    for name in MULTI_VALUED {
        if let Some(v) = doc.get(*name)
            && !v.is_array()
        {
            return Err(invalid(format!("{name} must be a list")));
        }
    }
    if let Some(v) = doc.get("name")
        && !v.is_object()
    {
        return Err(invalid(
            "name must be an object (givenName, familyName…)".to_string(),
        ));
    }
    if let Some(v) = doc.get("externalId")
        && !v.is_string()
    {
        return Err(invalid("externalId must be a string".to_string()));
    }
    let name_attr = match kind {
        ScimType::User => "userName",
        ScimType::Group => "displayName",
    };
    let name = match doc.get(name_attr) {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        _ => {
            return Err(invalid(format!(
                "{name_attr} is required (a non-empty string)"
            )));
        }
    };
    if kind == ScimType::Group {
        let mut members = Vec::new();
        let mut seen = HashSet::new();
        for m in doc
            .get("members")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(id) = m.get("value").and_then(Value::as_str) else {
                return Err(invalid(format!(
                    "a member needs a value (a user or group id): {m}"
                )));
            };
            if Some(id) == own_id {
                return Err(invalid("a group cannot be a member of itself".to_string()));
            }
            if directory.deleted.contains(id) {
                continue;
            }
            if seen.insert(id.to_string()) {
                if directory.display(id).is_some() {
                    members.push(json!({"value": id}));
                } else {
                    // A member not provisioned here: kept as given (an identity provider may
                    // send a group before its users); it counts once that user exists.
                    let mut kept = Map::new();
                    for key in ["value", "$ref", "type", "display"] {
                        if let Some(v) = get_ci(m, key) {
                            kept.insert(key.to_string(), v.clone());
                        }
                    }
                    members.push(Value::Object(kept));
                }
            }
        }
        doc.insert("members".into(), Value::Array(members));
    }
    Ok((doc, name.to_lowercase()))
}

fn parse_body(body: &Bytes) -> Result<Value, Response> {
    serde_json::from_slice(body).map_err(|e| {
        scim_error(
            StatusCode::BAD_REQUEST,
            Some("invalidSyntax"),
            format!("the body is not JSON: {e}"),
        )
    })
}

fn taken(kind: ScimType, name_key: &str) -> Response {
    scim_error(
        StatusCode::CONFLICT,
        Some("uniqueness"),
        format!(
            "another {} has the userName {name_key:?} (userName is unique without regard to case)",
            kind.as_str()
        ),
    )
}

async fn create(
    kind: ScimType,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let tenant = match tenant_of(&state, &headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let directory = match Directory::load(&state, &tenant).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let (doc, name_key) = match prepare(kind, body, &directory, None) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let now = now_ms();
    let resource = ScimResource {
        tenant,
        resource_type: kind,
        id: new_id(),
        name_key,
        version: 1,
        created_at: now,
        modified_at: now,
        deleted_at: None,
        document: Value::Object(doc.clone()).to_string(),
    };
    match state.store.scim().scim_insert(&resource).await {
        Ok(ScimWrite::Written) => {
            let rendered = directory.render(&resource, &doc, &base_url(&headers));
            resource_response(StatusCode::CREATED, rendered, resource.version)
        }
        Ok(ScimWrite::NameTaken) => taken(kind, &resource.name_key),
        Ok(ScimWrite::VersionMismatch) => scim_error(
            StatusCode::CONFLICT,
            None,
            "the resource changed; try again",
        ),
        Err(e) => store_failed(e),
    }
}

/// A value of a query parameter, its name read without regard to case.
fn param<'a>(query: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Keeps the `attributes` asked for (with `id` and `schemas`, which are always returned), or drops
/// the `excludedAttributes`.
fn project(resource: Value, attributes: Option<&str>, excluded: Option<&str>) -> Value {
    let Value::Object(mut object) = resource else {
        return resource;
    };
    let names = |list: &str| -> Vec<filter::AttrPath> {
        list.split(',')
            .filter_map(|a| filter::AttrPath::parse(a.trim()).ok())
            .collect()
    };
    if let Some(list) = attributes.filter(|l| !l.trim().is_empty()) {
        let wanted = names(list);
        let keep = |key: &str| {
            matches!(key, "id" | "schemas")
                || wanted.iter().any(|p| match &p.uri {
                    Some(uri) => {
                        uri.eq_ignore_ascii_case(key)
                            || key.eq_ignore_ascii_case(&format!("{uri}:{}", p.attr))
                    }
                    None => p.attr.eq_ignore_ascii_case(key),
                })
        };
        object.retain(|k, _| keep(k));
        // A sub-attribute asked for keeps only that part of its parent.
        for p in wanted.iter().filter(|p| p.uri.is_none()) {
            if let Some(sub) = &p.sub
                && let Some(key) = key_ci(&object, &p.attr)
                && let Some(Value::Object(inner)) = object.get_mut(&key)
            {
                inner.retain(|k, _| k.eq_ignore_ascii_case(sub));
            }
        }
    } else if let Some(list) = excluded {
        for p in names(list) {
            if p.uri.is_some() || p.attr.eq_ignore_ascii_case("id") {
                continue;
            }
            let Some(key) = key_ci(&object, &p.attr) else {
                continue;
            };
            match &p.sub {
                None => {
                    object.remove(&key);
                }
                Some(sub) => {
                    if let Some(Value::Object(inner)) = object.get_mut(&key)
                        && let Some(k) = key_ci(inner, sub)
                    {
                        inner.remove(&k);
                    }
                }
            }
        }
    }
    Value::Object(object)
}

/// The parameters of a list or search.
struct ListRequest {
    filter: Option<String>,
    start_index: Option<i64>,
    count: Option<i64>,
    sort_by: Option<String>,
    descending: bool,
    attributes: Option<String>,
    excluded: Option<String>,
}

async fn list(
    kind: ScimType,
    State(state): State<AppState>,
    headers: HeaderMap,
    query: HashMap<String, String>,
) -> Response {
    let number = |name: &str| -> Result<Option<i64>, Response> {
        param(&query, name)
            .map(|v| {
                v.trim().parse::<i64>().map_err(|_| {
                    scim_error(
                        StatusCode::BAD_REQUEST,
                        Some("invalidValue"),
                        format!("{name} must be a whole number, not {v:?}"),
                    )
                })
            })
            .transpose()
    };
    let request = ListRequest {
        filter: param(&query, "filter").map(str::to_string),
        start_index: match number("startIndex") {
            Ok(n) => n,
            Err(r) => return r,
        },
        count: match number("count") {
            Ok(n) => n,
            Err(r) => return r,
        },
        sort_by: param(&query, "sortBy").map(str::to_string),
        descending: param(&query, "sortOrder")
            .is_some_and(|o| o.eq_ignore_ascii_case("descending")),
        attributes: param(&query, "attributes").map(str::to_string),
        excluded: param(&query, "excludedAttributes").map(str::to_string),
    };
    run_list(&[kind], &state, &headers, request).await
}

/// The types a search covers: one, or both for the root `/.search`.
fn kinds(kind: Option<ScimType>) -> Vec<ScimType> {
    match kind {
        Some(kind) => vec![kind],
        None => vec![ScimType::User, ScimType::Group],
    }
}

async fn search(
    kind: Option<ScimType>,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    if !body.is_object() {
        return scim_error(
            StatusCode::BAD_REQUEST,
            Some("invalidSyntax"),
            format!("a search body is a {SEARCH_SCHEMA} object"),
        );
    }
    let text = |name: &str| -> Option<String> {
        match get_ci(&body, name) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            _ => None,
        }
    };
    let request = ListRequest {
        filter: text("filter"),
        start_index: get_ci(&body, "startIndex").and_then(Value::as_i64),
        count: get_ci(&body, "count").and_then(Value::as_i64),
        sort_by: text("sortBy"),
        descending: text("sortOrder").is_some_and(|o| o.eq_ignore_ascii_case("descending")),
        attributes: text("attributes"),
        excluded: text("excludedAttributes"),
    };
    run_list(&kinds(kind), &state, &headers, request).await
}

async fn run_list(
    kinds: &[ScimType],
    state: &AppState,
    headers: &HeaderMap,
    request: ListRequest,
) -> Response {
    let tenant = match tenant_of(state, headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let filter = match request.filter.as_deref().filter(|f| !f.trim().is_empty()) {
        None => None,
        Some(text) => match Filter::parse(text) {
            Ok(f) => Some(f),
            Err(e) => {
                return scim_error(
                    StatusCode::BAD_REQUEST,
                    Some("invalidFilter"),
                    format!("filter {text:?}: {e}"),
                );
            }
        },
    };
    let sort_by = match request
        .sort_by
        .as_deref()
        .map(filter::AttrPath::parse)
        .transpose()
    {
        Ok(s) => s,
        Err(e) => {
            return scim_error(
                StatusCode::BAD_REQUEST,
                Some("invalidPath"),
                format!("sortBy: {e}"),
            );
        }
    };
    let directory = match Directory::load(state, &tenant).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let base = base_url(headers);
    let mut matched: Vec<Value> = kinds
        .iter()
        .flat_map(|kind| directory.of(*kind))
        .map(|(r, doc)| directory.render(r, doc, &base))
        .filter(|v| filter.as_ref().is_none_or(|f| f.matches(v)))
        .collect();
    if let Some(path) = &sort_by {
        let key = |v: &Value| -> Option<String> {
            path.values(v).first().map(|x| match x {
                Value::String(s) => s.to_lowercase(),
                other => other.to_string(),
            })
        };
        // Resources without the attribute sort last either way (RFC 7644 §3.4.2.3).
        matched.sort_by(|a, b| match (key(a), key(b)) {
            (Some(x), Some(y)) if request.descending => y.cmp(&x),
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        });
    }
    let total = matched.len();
    let start = request.start_index.unwrap_or(1).max(1) as usize;
    let count = request
        .count
        .unwrap_or(MAX_RESULTS as i64)
        .clamp(0, MAX_RESULTS as i64) as usize;
    let page: Vec<Value> = matched
        .into_iter()
        .skip(start - 1)
        .take(count)
        .map(|v| {
            project(
                v,
                request.attributes.as_deref(),
                request.excluded.as_deref(),
            )
        })
        .collect();
    scim_json(
        StatusCode::OK,
        json!({"schemas": [LIST_SCHEMA], "totalResults": total, "startIndex": start,
               "itemsPerPage": page.len(), "Resources": page}),
    )
}

fn not_found(kind: ScimType, id: &str) -> Response {
    scim_error(
        StatusCode::NOT_FOUND,
        None,
        format!("{} {id:?} not found", kind.as_str()),
    )
}

async fn get_one(
    kind: ScimType,
    State(state): State<AppState>,
    headers: HeaderMap,
    id: String,
    query: HashMap<String, String>,
) -> Response {
    let tenant = match tenant_of(&state, &headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let directory = match Directory::load(&state, &tenant).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let Some((resource, doc)) = directory.find(kind, &id) else {
        return not_found(kind, &id);
    };
    if let Some(tags) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        && tag_matches(tags, resource.version)
    {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(v) = HeaderValue::from_str(&etag(resource.version)) {
            response.headers_mut().insert(header::ETAG, v);
        }
        return response;
    }
    let rendered = directory.render(resource, doc, &base_url(&headers));
    let rendered = project(
        rendered,
        param(&query, "attributes"),
        param(&query, "excludedAttributes"),
    );
    resource_response(StatusCode::OK, rendered, resource.version)
}

/// PUT or PATCH.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Change {
    Replace,
    Patch,
}

fn precondition_failed(version: i64) -> Response {
    scim_error(
        StatusCode::PRECONDITION_FAILED,
        None,
        format!(
            "If-Match does not match the current version {}: read the resource again",
            etag(version)
        ),
    )
}

async fn write(
    kind: ScimType,
    change: Change,
    State(state): State<AppState>,
    headers: HeaderMap,
    id: String,
    body: Bytes,
) -> Response {
    let tenant = match tenant_of(&state, &headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let if_match = headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    for _ in 0..WRITE_ATTEMPTS {
        let directory = match Directory::load(&state, &tenant).await {
            Ok(d) => d,
            Err(r) => return r,
        };
        let Some((current, old_doc)) = directory.find(kind, &id) else {
            return not_found(kind, &id);
        };
        if let Some(tags) = &if_match
            && !tag_matches(tags, current.version)
        {
            return precondition_failed(current.version);
        }
        let new_body = match change {
            Change::Replace => body.clone(),
            Change::Patch => {
                let mut doc = old_doc.clone();
                if let Err(e) = patch::apply(&mut doc, &body) {
                    return scim_error(StatusCode::BAD_REQUEST, Some(e.scim_type), e.detail);
                }
                Value::Object(doc)
            }
        };
        let (doc, name_key) = match prepare(kind, new_body, &directory, Some(&id)) {
            Ok(x) => x,
            Err(r) => return r,
        };
        let base = base_url(&headers);
        if &doc == old_doc {
            // Nothing changed: same version, nothing written (identity providers re-send a lot).
            return resource_response(
                StatusCode::OK,
                directory.render(current, old_doc, &base),
                current.version,
            );
        }
        let updated = ScimResource {
            name_key,
            version: current.version + 1,
            modified_at: now_ms().max(current.modified_at),
            document: Value::Object(doc.clone()).to_string(),
            ..current.clone()
        };
        match state
            .store
            .scim()
            .scim_update(&updated, current.version)
            .await
        {
            Ok(ScimWrite::Written) => {
                return resource_response(
                    StatusCode::OK,
                    directory.render(&updated, &doc, &base),
                    updated.version,
                );
            }
            Ok(ScimWrite::NameTaken) => return taken(kind, &updated.name_key),
            Ok(ScimWrite::VersionMismatch) if if_match.is_some() => {
                return precondition_failed(current.version + 1);
            }
            // Someone else wrote in between: read again and re-apply.
            Ok(ScimWrite::VersionMismatch) => continue,
            Err(e) => return store_failed(e),
        }
    }
    scim_error(
        StatusCode::CONFLICT,
        None,
        "the resource keeps changing under this request; try again",
    )
}

async fn delete(
    kind: ScimType,
    State(state): State<AppState>,
    headers: HeaderMap,
    id: String,
) -> Response {
    let tenant = match tenant_of(&state, &headers) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let current = match state.store.scim().scim_get(&tenant, kind, &id).await {
        Ok(Some(r)) => r,
        Ok(None) => return not_found(kind, &id),
        Err(e) => return store_failed(e),
    };
    if let Some(tags) = headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok())
        && !tag_matches(tags, current.version)
    {
        return precondition_failed(current.version);
    }
    match state
        .store
        .scim()
        .scim_delete(&tenant, kind, &id, now_ms())
        .await
    {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => not_found(kind, &id),
        Err(e) => store_failed(e),
    }
}
