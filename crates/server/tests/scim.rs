//! The SCIM server and the directory push API over loopback: the real router on a TCP port, a
//! SQLite store in a temporary directory, reqwest as the client.

use std::sync::Arc;

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use wfm_model::{Record, RecordKind, Tenant};
use wfm_server::AppState;
use wfm_server::ingest::TenantTokens;
use wfm_store::Store;

struct Server {
    base: String,
    store: Arc<dyn Store>,
    client: Client,
    _dir: tempfile::TempDir,
}

/// Tenants: `nordic` (ingest token `nordic-ingest`, no SCIM token: SCIM uses the ingest token),
/// `iberia` (ingest `iberia-ingest`, SCIM `iberia-scim`).
async fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    let store = wfm_store::open(&url).await.unwrap();
    let mut tx = store.begin().await.unwrap();
    for id in ["nordic", "iberia"] {
        tx.write(vec![Record::Tenant(Tenant {
            tenant: id.into(),
            name: id.into(),
            time_zone: "UTC".into(),
            interval_minutes: Default::default(),
            admin_reasons: vec![],
        })])
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let tokens = TenantTokens::new([
        ("nordic", Some("nordic-ingest")),
        ("iberia", Some("iberia-ingest")),
    ])
    .with_scim_tokens([("nordic", None), ("iberia", Some("iberia-scim"))]);
    let state = AppState {
        store: store.clone(),
        metrics: Arc::new(wfm_engine::metrics::Metrics::default()),
        ingest: None,
        tokens: Arc::new(tokens),
        engine: None,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(wfm_server::serve(listener, state, std::future::pending()));
    Server {
        base: format!("http://{addr}"),
        store,
        client: wfm_connectors::http::client().unwrap(),
        _dir: dir,
    }
}

impl Server {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/scim+json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, headers, body)
    }

    async fn scim(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, headers, body) = self
            .call(
                method.parse().unwrap(),
                &format!("/scim/v2{path}"),
                Some(token),
                body,
                &[],
            )
            .await;
        if status != StatusCode::NO_CONTENT && status != StatusCode::NOT_MODIFIED {
            let ct = headers["content-type"].to_str().unwrap();
            assert!(
                ct.starts_with("application/scim+json"),
                "{method} {path}: {ct}"
            );
        }
        (status, body)
    }

    async fn create_user(&self, token: &str, user_name: &str, given: &str, family: &str) -> Value {
        let (status, body) = self
            .scim(
                "POST",
                "/Users",
                token,
                Some(json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": user_name, "externalId": format!("ext-{user_name}"),
                    "name": {"givenName": given, "familyName": family},
                    "emails": [{"value": format!("{user_name}@example.com"), "type": "work", "primary": true}],
                    "active": true
                })),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }
}

const NORDIC: &str = "nordic-ingest";

#[tokio::test]
async fn users_are_created_read_listed_filtered_and_paged() {
    let s = start().await;
    let ada = s.create_user(NORDIC, "ada", "Ada", "Lovelace").await;
    let id = ada["id"].as_str().unwrap();
    assert_eq!(id.len(), 36);
    assert_eq!(ada["meta"]["resourceType"], "User");
    assert_eq!(ada["meta"]["version"], "W/\"1\"");
    assert!(
        ada["meta"]["location"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/scim/v2/Users/{id}"))
    );
    assert!(ada.get("password").is_none());

    for (name, given) in [
        ("bob", "Bob"),
        ("carla", "Carla"),
        ("dan", "Dan"),
        ("eve", "Eve"),
    ] {
        s.create_user(NORDIC, name, given, "Smith").await;
    }
    // A duplicate userName, in another case: 409 uniqueness.
    let (status, body) = s
        .scim(
            "POST",
            "/Users",
            NORDIC,
            Some(json!({"userName": "ADA", "name": {"givenName": "A"}})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["scimType"], "uniqueness");
    assert_eq!(body["status"], "409");
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    // No userName: 400 invalidValue.
    let (status, body) = s
        .scim(
            "POST",
            "/Users",
            NORDIC,
            Some(json!({"name": {"givenName": "A"}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["scimType"], "invalidValue");

    let (status, one) = s.scim("GET", &format!("/Users/{id}"), NORDIC, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["userName"], "ada");

    let list = |q: &'static str| {
        let s = &s;
        async move {
            let (status, body) = s.scim("GET", &format!("/Users?{q}"), NORDIC, None).await;
            assert_eq!(status, StatusCode::OK, "{q}: {body}");
            body
        }
    };
    let all = list("").await;
    assert_eq!(all["totalResults"], 5);
    assert_eq!(
        all["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    );

    let eq = list("filter=userName%20eq%20%22ADA%22").await;
    assert_eq!(eq["totalResults"], 1);
    assert_eq!(eq["Resources"][0]["id"], id);
    let co = list("filter=name.familyName%20co%20%22mit%22%20and%20userName%20sw%20%22c%22").await;
    assert_eq!(co["totalResults"], 1);
    assert_eq!(co["Resources"][0]["userName"], "carla");
    let or =
        list("filter=userName%20eq%20%22bob%22%20or%20emails.value%20ew%20%22eve@example.com%22")
            .await;
    assert_eq!(or["totalResults"], 2);
    let ext = list("filter=externalId%20eq%20%22ext-dan%22").await;
    assert_eq!(ext["Resources"][0]["userName"], "dan");
    let pr = list("filter=title%20pr").await;
    assert_eq!(pr["totalResults"], 0);
    let modified = list("filter=meta.lastModified%20gt%20%222000-01-01T00:00:00Z%22").await;
    assert_eq!(modified["totalResults"], 5);

    // Pages of 2, sorted by userName descending.
    let page = list("sortBy=userName&sortOrder=descending&startIndex=2&count=2").await;
    assert_eq!(page["totalResults"], 5);
    assert_eq!(page["startIndex"], 2);
    assert_eq!(page["itemsPerPage"], 2);
    let names: Vec<&str> = page["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dan", "carla"]);
    let beyond = list("startIndex=10&count=5").await;
    assert_eq!(beyond["itemsPerPage"], 0);
    let counted = list("count=0").await;
    assert_eq!(counted["totalResults"], 5);
    assert_eq!(counted["Resources"], json!([]));

    // attributes / excludedAttributes.
    let projected = list("filter=userName%20eq%20%22ada%22&attributes=userName").await;
    let keys: Vec<&String> = projected["Resources"][0]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(keys, ["id", "schemas", "userName"]);
    let excluded = list("excludedAttributes=emails,name").await;
    assert!(excluded["Resources"][0].get("emails").is_none());

    // A bad filter: 400 invalidFilter.
    let (status, body) = s
        .scim("GET", "/Users?filter=userName%20xx%20%22a%22", NORDIC, None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["scimType"], "invalidFilter");

    // POST .search.
    let (status, body) = s
        .scim(
            "POST",
            "/Users/.search",
            NORDIC,
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                        "filter": "userName sw \"e\"", "startIndex": 1, "count": 10}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["totalResults"], 1);
}

#[tokio::test]
async fn patch_put_delete_and_etags() {
    let s = start().await;
    let ada = s.create_user(NORDIC, "ada", "Ada", "Lovelace").await;
    let id = ada["id"].as_str().unwrap().to_string();
    let path = format!("/scim/v2/Users/{id}");

    // If-None-Match with the current version: 304.
    let (status, _, _) = s
        .call(
            reqwest::Method::GET,
            &path,
            Some(NORDIC),
            None,
            &[("if-none-match", "W/\"1\"")],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);

    // PATCH in Azure AD's style: capitalized ops, string booleans, dotted keys.
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "Replace", "path": "name.givenName", "value": "Augusta"},
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Add", "path": "emails[type eq \"home\"].value", "value": "ada@home.org"},
        {"op": "add", "value": {"title": "Countess",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Analytical Engines"}}}
    ]});
    let (status, headers, body) = s
        .call(
            reqwest::Method::PATCH,
            &path,
            Some(NORDIC),
            Some(patch.clone()),
            &[("if-match", "W/\"1\"")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["etag"], "W/\"2\"");
    assert_eq!(body["name"]["givenName"], "Augusta");
    assert_eq!(body["active"], false);
    assert_eq!(body["emails"].as_array().unwrap().len(), 2);
    assert_eq!(
        body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"],
        "Analytical Engines"
    );
    assert!(body["schemas"].as_array().unwrap().contains(&json!(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    )));

    // The same PATCH again changes nothing: the version stays.
    let (status, headers, _) = s
        .call(
            reqwest::Method::PATCH,
            &path,
            Some(NORDIC),
            Some(patch),
            &[],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["etag"], "W/\"2\"");

    // A stale If-Match: 412, and nothing changes.
    let stale = json!({"Operations": [{"op": "replace", "path": "title", "value": "X"}]});
    let (status, _, body) = s
        .call(
            reqwest::Method::PATCH,
            &path,
            Some(NORDIC),
            Some(stale.clone()),
            &[("if-match", "W/\"1\"")],
        )
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(body["status"], "412");
    let (status, _, body) = s
        .call(
            reqwest::Method::PUT,
            &path,
            Some(NORDIC),
            Some(json!({"userName": "ada"})),
            &[("if-match", "W/\"7\"")],
        )
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");

    // A bad PATCH: 400 with the scimType.
    let (status, body) = s
        .scim(
            "PATCH",
            &format!("/Users/{id}"),
            NORDIC,
            Some(json!({"Operations": [{"op": "remove"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["scimType"], "noTarget");

    // PUT replaces everything (the enterprise part and the title go).
    let (status, body) = s
        .scim("PUT", &format!("/Users/{id}"), NORDIC,
            Some(json!({"userName": "ada.king", "name": {"givenName": "Ada", "familyName": "King"}, "active": true})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["userName"], "ada.king");
    assert!(body.get("title").is_none());
    assert_eq!(body["meta"]["version"], "W/\"3\"");
    assert_eq!(body["id"], id.as_str());

    // PUT onto another user's userName: 409.
    s.create_user(NORDIC, "bob", "Bob", "Smith").await;
    let (status, body) = s
        .scim(
            "PUT",
            &format!("/Users/{id}"),
            NORDIC,
            Some(json!({"userName": "BOB"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["scimType"], "uniqueness");

    // DELETE with a stale If-Match: 412; then for real: 204, and 404 afterwards.
    let (status, _, _) = s
        .call(
            reqwest::Method::DELETE,
            &path,
            Some(NORDIC),
            None,
            &[("if-match", "W/\"1\"")],
        )
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    let (status, _) = s
        .scim("DELETE", &format!("/Users/{id}"), NORDIC, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for method in ["GET", "DELETE", "PUT", "PATCH"] {
        let body = (method == "PUT" || method == "PATCH")
            .then(|| json!({"userName": "x", "Operations": []}));
        let (status, _) = s.scim(method, &format!("/Users/{id}"), NORDIC, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method}");
    }
    // The store keeps it, marked deleted: directory sync sees a disabled user.
    let all = s
        .store
        .scim()
        .scim_list("nordic", wfm_store::ScimType::User, true)
        .await
        .unwrap();
    assert_eq!(all.iter().filter(|r| r.deleted_at.is_some()).count(), 1);
    // The name is free again.
    s.create_user(NORDIC, "ada.king", "Ada", "King").await;
}

#[tokio::test]
async fn groups_hold_members_and_users_show_their_groups() {
    let s = start().await;
    let ada = s.create_user(NORDIC, "ada", "Ada", "Lovelace").await;
    let bob = s.create_user(NORDIC, "bob", "Bob", "Smith").await;
    let (a, b) = (ada["id"].as_str().unwrap(), bob["id"].as_str().unwrap());

    let (status, group) = s
        .scim("POST", "/Groups", NORDIC,
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Tier 1",
                        "members": [{"value": a}]})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let g = group["id"].as_str().unwrap();
    assert_eq!(group["members"][0]["display"], "ada");
    assert_eq!(group["members"][0]["type"], "User");

    // A member not provisioned (yet) is kept as given.
    let (status, body) = s
        .scim(
            "POST",
            "/Groups",
            NORDIC,
            Some(json!({"displayName": "X", "members": [{"value": "later", "type": "User"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["members"], json!([{"value": "later", "type": "User"}]));

    let patch = |ops: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
    let (status, body) = s
        .scim(
            "PATCH",
            &format!("/Groups/{g}"),
            NORDIC,
            Some(patch(
                json!([{"op": "add", "path": "members", "value": [{"value": b}]},
                          {"op": "replace", "path": "displayName", "value": "Tier One"}]),
            )),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["members"].as_array().unwrap().len(), 2);
    assert_eq!(body["displayName"], "Tier One");

    let (_, user) = s.scim("GET", &format!("/Users/{b}"), NORDIC, None).await;
    assert_eq!(
        user["groups"],
        json!([{"value": g, "display": "Tier One", "type": "direct",
        "$ref": format!("{}/scim/v2/Groups/{g}", s.base)}])
    );

    let (status, body) = s
        .scim(
            "PATCH",
            &format!("/Groups/{g}"),
            NORDIC,
            Some(patch(
                json!([{"op": "remove", "path": format!("members[value eq \"{a}\"]")}]),
            )),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["members"].as_array().unwrap().len(), 1);

    let (_, found) = s
        .scim(
            "GET",
            "/Groups?filter=displayName%20eq%20%22tier%20one%22&excludedAttributes=members",
            NORDIC,
            None,
        )
        .await;
    assert_eq!(found["totalResults"], 1);
    assert!(found["Resources"][0].get("members").is_none());
    let (_, found) = s
        .scim(
            "GET",
            &format!("/Groups?filter=members.value%20eq%20%22{b}%22"),
            NORDIC,
            None,
        )
        .await;
    assert_eq!(found["totalResults"], 1);

    // A deleted member disappears from the group.
    s.scim("DELETE", &format!("/Users/{b}"), NORDIC, None).await;
    let (_, body) = s.scim("GET", &format!("/Groups/{g}"), NORDIC, None).await;
    assert_eq!(body["members"], json!([]));
    let (status, _) = s
        .scim("DELETE", &format!("/Groups/{g}"), NORDIC, None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn tokens_pick_the_tenant_and_tenants_see_only_their_own() {
    let s = start().await;
    let ada = s.create_user(NORDIC, "ada", "Ada", "Lovelace").await;
    let id = ada["id"].as_str().unwrap();

    let (status, headers, body) = s
        .call(reqwest::Method::GET, "/scim/v2/Users", None, None, &[])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["status"], "401");
    assert!(headers.contains_key("www-authenticate"));
    let (status, _) = s.scim("GET", "/Users", "wrong", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // iberia has a scim_token: its ingest token is refused for SCIM.
    let (status, body) = s.scim("GET", "/Users", "iberia-ingest", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // iberia sees none of nordic's users, by list, by id, or to change them.
    let (status, body) = s.scim("GET", "/Users", "iberia-scim", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["totalResults"], 0);
    for method in ["GET", "DELETE"] {
        let (status, _) = s
            .scim(method, &format!("/Users/{id}"), "iberia-scim", None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
    // The same userName is free in another tenant.
    s.create_user("iberia-scim", "ada", "Ada", "Ruiz").await;

    // Discovery answers without a token.
    for path in [
        "/ServiceProviderConfig",
        "/ResourceTypes",
        "/Schemas",
        "/ResourceTypes/User",
        "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
    ] {
        let (status, _, body) = s
            .call(
                reqwest::Method::GET,
                &format!("/scim/v2{path}"),
                None,
                None,
                &[],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let (_, _, spc) = s
        .call(
            reqwest::Method::GET,
            "/scim/v2/ServiceProviderConfig",
            None,
            None,
            &[],
        )
        .await;
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["etag"]["supported"], true);
}

#[tokio::test]
async fn pushed_agents_queues_and_teams_are_durable_or_rejected_whole() {
    let s = start().await;
    let post = |path: &'static str, body: String, token: &'static str| {
        let s = &s;
        async move {
            let response = s
                .client
                .post(format!("{}/api/v1/tenants/nordic/{path}", s.base))
                .bearer_auth(token)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let agents = r#"[{"agent":"a1","first_name":"Ada","last_name":"Lovelace","skills":["q1"],"active":true},
                    {"tenant":"nordic","agent":"a2","first_name":"Bob","last_name":"Smith","team":"Tier 1"}]"#;
    let (status, body) = post("agents", agents.into(), NORDIC).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["accepted"], 2);
    // JSON Lines work too; queues.
    let (status, body) = post("queues", "{\"queue\":\"q1\",\"name\":\"Support\"}\n{\"queue\":\"q2\",\"name\":\"Sales\",\"sl_seconds\":30}\n".into(), NORDIC).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["written"], 2);

    // A bad batch: every problem with index and field, and nothing written.
    let bad = r#"[{"agent":"a3","first_name":"Carla","last_name":"Diaz"},
                 {"agent":"a4","first_name":"","last_name":"","active":true},
                 {"tenant":"iberia","agent":"a5","first_name":"E","last_name":"F"},
                 {"agent":"a3","first_name":"Carla","last_name":"Diaz"}]"#;
    let (status, body) = post("agents", bad.into(), NORDIC).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let problems = body["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 3, "{body}");
    assert_eq!(
        (problems[0]["index"].as_i64(), problems[0]["field"].as_str()),
        (Some(1), Some("first_name"))
    );
    assert_eq!(
        (problems[1]["index"].as_i64(), problems[1]["field"].as_str()),
        (Some(2), Some("tenant"))
    );
    assert_eq!(
        (problems[2]["index"].as_i64(), problems[2]["field"].as_str()),
        (Some(3), Some("agent"))
    );
    assert_eq!(s.store.counts(Some("nordic")).await.unwrap().agents, 2);

    // Teams: a membership push sets the agents' team.
    let (status, body) = post(
        "teams",
        r#"[{"team":"Tier 2","agents":["a1","a2"]}]"#.into(),
        NORDIC,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["agents"], 2);
    let page = s
        .store
        .read_page(RecordKind::Agents, Some("nordic"), None, 10)
        .await
        .unwrap();
    for record in &page {
        let Record::Agent(agent) = record else {
            panic!()
        };
        assert_eq!(agent.team.as_deref(), Some("Tier 2"));
    }
    let (status, body) = post(
        "teams",
        r#"[{"team":"Tier 3","agents":["a1","ghost"]}]"#.into(),
        NORDIC,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body["problems"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("ghost"),
        "{body}"
    );

    // Tokens: as for states.
    let (status, _) = post("agents", agents.into(), "iberia-ingest").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = post("queues", "[]".into(), "nope").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn directory_sync_reads_what_scim_provisioned() {
    use std::collections::BTreeMap;
    use wfm_connectors::accounts::{AccountConfig, PropertyValue};

    let s = start().await;
    let ada = s.create_user(NORDIC, "ada", "Ada", "Lovelace").await;
    let bob = s.create_user(NORDIC, "bob", "Bob", "Smith").await;
    let (status, group) = s
        .scim(
            "POST",
            "/Groups",
            NORDIC,
            Some(json!({"displayName": "Tier 1", "members": [{"value": ada["id"]}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    s.create_user("iberia-scim", "carla", "Carla", "Diaz").await;

    let account = AccountConfig {
        name: "nordic-scim".into(),
        account_type: "scim".into(),
        tenant: Some("nordic".into()),
        properties: BTreeMap::from([(
            "default_team".to_string(),
            PropertyValue::Text("Agents".into()),
        )]),
    };
    assert!(wfm_engine::directory_sources::readable("scim"));
    let source = wfm_engine::directory_sources::open(&account, s.store.clone())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(source.check().await.ok);
    let snapshot = source.snapshot("nordic").await.unwrap();
    assert_eq!(snapshot.users.len(), 2, "only nordic's users");
    let find = |id: &Value| {
        snapshot
            .users
            .iter()
            .find(|u| u.id == id.as_str().unwrap())
            .unwrap()
            .clone()
    };
    let a = find(&ada["id"]);
    assert_eq!(
        (a.first_name.as_str(), a.last_name.as_str()),
        ("Ada", "Lovelace")
    );
    assert_eq!(a.groups, [group["id"].as_str().unwrap()]);
    assert_eq!(a.attributes["userName"], "ada");
    assert_eq!(a.email.as_deref(), Some("ada@example.com"));
    let b = find(&bob["id"]);
    assert_eq!(b.groups, ["Agents"], "no group: the default team");
    assert!(snapshot.groups.iter().any(|g| g.id == "Agents"));

    // A SCIM DELETE deactivates; it never removes the user from the directory.
    let (status, _) = s
        .scim(
            "DELETE",
            &format!("/Users/{}", bob["id"].as_str().unwrap()),
            NORDIC,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let after = source.snapshot("nordic").await.unwrap();
    assert_eq!(after.users.len(), 2);
    assert!(!after.users.iter().find(|u| u.id == b.id).unwrap().active);
}
