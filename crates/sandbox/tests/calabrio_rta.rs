//! The Calabrio RTA emulator over real loopback HTTP: each rule of reference/calabrio.md §6 "RTA",
//! for the JSON endpoints and the SOAP service, and the control endpoints.

use std::time::Duration;

use serde_json::{Value, json};
use wfm_sandbox::calabrio::rta::{
    BATCH_TOO_LARGE_MESSAGE, CalabrioRta, DEFAULT_KEY, DEFAULT_KEY_MESSAGE, INVALID_KEY_MESSAGE,
    LogLevel, RtaConfig, RtaEndpoint, RtaTenantConfig, SNAPSHOT_LOGGED_OUT,
};
use wfm_sandbox::calabrio::{CalabrioConfig, CalabrioSandbox};

const KEY: &str = "k-123";
const GUID: &str = "6f2c1a9e-0b1d-4c3e-9a8f-1234567890ab";

fn client() -> reqwest::Client {
    // reqwest is built without a crypto provider of its own (see wfm_connectors::http).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// Tenant `nordic` (key `k-123`) with sources 7 and 8 and persons:
/// p1 = 1001@7, p2 = 1002@7, p3 = 1003@7, p4 and p5 share 2000@7, p6 = 1001@8.
fn nordic() -> RtaTenantConfig {
    RtaTenantConfig::new("nordic", KEY, &["7", "8"])
        .person("p1", "7", "1001")
        .person("p2", "7", "1002")
        .person("p3", "7", "1003")
        .person("p4", "7", "2000")
        .person("p5", "7", "2000")
        .person("p6", "8", "1001")
}

fn config(tenants: Vec<RtaTenantConfig>) -> RtaConfig {
    RtaConfig {
        tenants,
        ..RtaConfig::default()
    }
}

async fn start(tenants: Vec<RtaTenantConfig>) -> CalabrioRta {
    CalabrioRta::start_with("127.0.0.1:0", config(tenants))
        .await
        .unwrap()
}

async fn post(url: String, body: &Value) -> (u16, String) {
    let response = client().post(url).json(body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn batch(rta: &CalabrioRta, body: Value) -> (u16, String) {
    post(format!("{}Rta/State/Batch", rta.url()), &body).await
}

fn states(pairs: &[(&str, &str)]) -> Value {
    Value::Array(
        pairs
            .iter()
            .map(|(u, s)| json!({"UserCode": u, "StateCode": s}))
            .collect(),
    )
}

fn code(rta: &CalabrioRta, person: &str) -> Option<String> {
    rta.handle().state_code("nordic", person)
}

// ---- JSON ---------------------------------------------------------------------------------------

#[tokio::test]
async fn names_ignore_case_and_unknown_fields_are_ignored() {
    let rta = start(vec![nordic()]).await;
    let (status, body) = batch(
        &rta,
        json!({"authenticationkey": KEY, "SOURCEID": 7, "isSnapshot": false, "Colour": "blue",
               "states": [{"usercode": "1001", "statecode": "READY", "IsLoggedOn": true}]}),
    )
    .await;
    assert_eq!((status, body.as_str()), (200, ""));
    let state = rta.handle().state("nordic", "p1").unwrap();
    assert_eq!(state.state_code, "READY");
    assert_eq!(state.state_group.as_deref(), Some("Ready"));
    assert_eq!(state.source_id, "7");
    assert!(!state.logged_out);
}

#[tokio::test]
async fn an_unknown_key_is_400_with_the_exact_text() {
    let rta = start(vec![nordic()]).await;
    for key in [json!("wrong"), json!(""), Value::Null] {
        let (status, body) = batch(
            &rta,
            json!({"AuthenticationKey": key, "SourceId": "7", "IsSnapshot": false, "States": []}),
        )
        .await;
        assert_eq!((status, body.as_str()), (400, INVALID_KEY_MESSAGE));
    }
    // A body that is not JSON binds as an empty model: no key.
    let response = client()
        .post(format!("{}Rta/State/Batch", rta.url()))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(response.text().await.unwrap(), INVALID_KEY_MESSAGE);
    let requests = rta.handle().requests();
    assert_eq!(requests.len(), 4);
    assert!(
        requests
            .iter()
            .all(|r| r.status == 400 && r.tenant.is_none())
    );
}

#[tokio::test]
async fn legacy_default_keys_are_normalised() {
    let rta = start(vec![
        RtaTenantConfig::new("nordic", DEFAULT_KEY, &["7"]).person("p1", "7", "1001"),
    ])
    .await;
    for key in ["!#¤atAbgT%", "!#?atAbgT%", "!#XatAbgT%"] {
        let (status, _) = batch(
            &rta,
            json!({"AuthenticationKey": key, "SourceId": "7", "IsSnapshot": false,
                   "States": states(&[("1001", "READY")])}),
        )
        .await;
        assert_eq!(status, 200, "{key}");
    }
    assert_eq!(code(&rta, "p1").as_deref(), Some("READY"));
}

#[tokio::test]
async fn the_default_key_with_several_tenants_is_refused() {
    let rta = start(vec![
        RtaTenantConfig::new("nordic", DEFAULT_KEY, &["7"]),
        RtaTenantConfig::new("baltic", "k-456", &["7"]),
    ])
    .await;
    let (status, body) = batch(
        &rta,
        json!({"AuthenticationKey": "!#¤atAbgT%", "SourceId": "7", "IsSnapshot": false, "States": []}),
    )
    .await;
    assert_eq!((status, body.as_str()), (400, DEFAULT_KEY_MESSAGE));
    // The other tenant's own key still works.
    let (status, _) = batch(
        &rta,
        json!({"AuthenticationKey": "k-456", "SourceId": "7", "IsSnapshot": false, "States": []}),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn null_or_long_state_codes_and_null_states_are_500() {
    let rta = start(vec![nordic()]).await;
    let long = "X".repeat(301);
    for body in [
        json!({"AuthenticationKey": KEY, "SourceId": "7", "States": [{"UserCode": "1001", "StateCode": null}]}),
        json!({"AuthenticationKey": KEY, "SourceId": "7", "States": [{"UserCode": "1001"}]}),
        json!({"AuthenticationKey": KEY, "SourceId": "7", "States": [{"UserCode": "1001", "StateCode": long}]}),
        json!({"AuthenticationKey": KEY, "SourceId": "7", "States": null}),
        json!({"AuthenticationKey": KEY, "SourceId": "7"}),
    ] {
        let (status, _) = batch(&rta, body.clone()).await;
        assert_eq!(status, 500, "{body}");
    }
    // 300 characters is fine.
    let (status, _) = batch(
        &rta,
        json!({"AuthenticationKey": KEY, "SourceId": "7",
               "States": [{"UserCode": "1001", "StateCode": "X".repeat(300)}]}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(code(&rta, "p1"), Some("X".repeat(300)));
}

#[tokio::test]
async fn unknown_sources_and_user_codes_get_200_but_are_not_applied() {
    let rta = start(vec![nordic()]).await;
    for source in [json!("99"), json!(""), Value::Null] {
        let (status, _) = batch(
            &rta,
            json!({"AuthenticationKey": KEY, "SourceId": source, "States": states(&[("1001", "READY")])}),
        )
        .await;
        assert_eq!(status, 200);
    }
    let (status, _) = batch(
        &rta,
        json!({"AuthenticationKey": KEY, "SourceId": "7",
               "States": states(&[("9999", "READY"), ("1002", "BUSY")])}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(code(&rta, "p1"), None);
    assert_eq!(code(&rta, "p2").as_deref(), Some("BUSY"));
    let ignored = rta.handle().ignored();
    let reasons: Vec<&str> = ignored.iter().map(|i| i.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "Source id \"99\" not found",
            "Source id is required",
            "Source id is required",
            "No person found for UserCode 9999, DataSourceId 1, SourceId 7",
        ]
    );
    assert_eq!(ignored[3].user_code.as_deref(), Some("9999"));
    assert_eq!(ignored[3].state_code.as_deref(), Some("READY"));
}

#[tokio::test]
async fn user_codes_ignore_case_fan_out_and_the_last_entry_wins() {
    let mut tenant = nordic().person("p7", "7", "ab-1");
    tenant
        .persons
        .push(wfm_sandbox::calabrio::rta::PersonConfig {
            id: "p1".into(),
            source: "7".into(),
            user_code: "ALIAS".into(),
        });
    let rta = start(vec![tenant]).await;
    let (status, _) = batch(
        &rta,
        json!({"AuthenticationKey": KEY, "SourceId": "7", "IsSnapshot": false,
               "States": states(&[("AB-1", "READY"), ("2000", "BUSY"), ("1001", "ACW"), ("alias", "LUNCH"), (" 1002", "READY")])}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(code(&rta, "p7").as_deref(), Some("READY"));
    // One code, two persons.
    assert_eq!(code(&rta, "p4").as_deref(), Some("BUSY"));
    assert_eq!(code(&rta, "p5").as_deref(), Some("BUSY"));
    // p1 appears twice (1001 and its second logon ALIAS): the last entry wins.
    assert_eq!(code(&rta, "p1").as_deref(), Some("LUNCH"));
    // JSON does not trim.
    assert_eq!(code(&rta, "p2"), None);
    // Source 8's 1001 is another person.
    assert_eq!(code(&rta, "p6"), None);
}

#[tokio::test]
async fn unknown_state_codes_go_to_the_default_group_and_are_added() {
    let mut no_default = RtaTenantConfig::new("baltic", "k-456", &["7"]).person("b1", "7", "1");
    no_default.state_groups.retain(|g| !g.is_default);
    let rta = start(vec![nordic(), no_default]).await;
    batch(
        &rta,
        json!({"AuthenticationKey": KEY, "SourceId": "7",
               "States": states(&[("1001", "coffee"), ("1002", "ready")])}),
    )
    .await;
    let p1 = rta.handle().state("nordic", "p1").unwrap();
    assert_eq!(p1.state_group.as_deref(), Some("Other"));
    // Codes match ignoring case.
    let p2 = rta.handle().state("nordic", "p2").unwrap();
    assert_eq!(p2.state_group.as_deref(), Some("Ready"));
    let groups = rta.handle().state_groups("nordic");
    let other = groups.iter().find(|g| g.is_default).unwrap();
    assert_eq!(other.added_codes.len(), 1);
    assert_eq!(other.added_codes[0].code, "coffee");
    // Added once: the next time it is known.
    batch(
        &rta,
        json!({"AuthenticationKey": KEY, "SourceId": "7", "States": states(&[("1003", "COFFEE")])}),
    )
    .await;
    let groups = rta.handle().state_groups("nordic");
    assert_eq!(
        groups
            .iter()
            .find(|g| g.is_default)
            .unwrap()
            .added_codes
            .len(),
        1
    );
    assert!(rta.handle().log().iter().any(|l| {
        l.level == LogLevel::Info
            && l.message
                .contains("\"coffee\" added to the default state group \"Other\"")
    }));

    batch(
        &rta,
        json!({"AuthenticationKey": "k-456", "SourceId": "7", "States": states(&[("1", "coffee")])}),
    )
    .await;
    let b1 = rta.handle().state("baltic", "b1").unwrap();
    assert_eq!(b1.state_code, "coffee");
    assert_eq!(b1.state_group, None);
}

#[tokio::test]
async fn a_snapshot_logs_out_the_absent_agents_of_its_source() {
    let rta = start(vec![nordic()]).await;
    batch(
        &rta,
        json!({"AuthenticationKey": KEY, "SourceId": "7", "IsSnapshot": false,
               "States": states(&[("1001", "READY"), ("1002", "BUSY"), ("1003", "LOGGED-OFF")])}),
    )
    .await;
    batch(
        &rta,
        json!({"AuthenticationKey": KEY, "SourceId": "8", "States": states(&[("1001", "READY")])}),
    )
    .await;
    let before = rta.handle().state("nordic", "p3").unwrap();
    assert!(before.logged_out);

    let (status, _) = batch(
        &rta,
        json!({"AuthenticationKey": KEY, "SourceId": "7", "IsSnapshot": true,
               "States": states(&[("1001", "READY")])}),
    )
    .await;
    assert_eq!(status, 200);
    let handle = rta.handle();
    assert_eq!(code(&rta, "p1").as_deref(), Some("READY"));
    let p2 = handle.state("nordic", "p2").unwrap();
    assert_eq!(p2.state_code, SNAPSHOT_LOGGED_OUT);
    assert_eq!(p2.state_group.as_deref(), Some("Logged out"));
    assert!(p2.logged_out);
    // Already logged out: left as it was.
    assert_eq!(handle.state("nordic", "p3").unwrap(), before);
    // Another source: untouched.
    assert_eq!(code(&rta, "p6").as_deref(), Some("READY"));
    // Never seen: no state at all.
    assert_eq!(code(&rta, "p4"), None);
    let request = handle.requests().pop().unwrap();
    assert!(request.is_snapshot && request.close_snapshot);

    // An empty snapshot logs everyone of the source out.
    batch(
        &rta,
        json!({"AuthenticationKey": KEY, "SourceId": "7", "IsSnapshot": true, "States": []}),
    )
    .await;
    assert_eq!(code(&rta, "p1").as_deref(), Some(SNAPSHOT_LOGGED_OUT));
}

#[tokio::test]
async fn without_a_logged_out_group_closing_is_only_logged() {
    let mut tenant = nordic();
    tenant.state_groups.retain(|g| !g.logged_out);
    let rta = start(vec![tenant]).await;
    batch(
        &rta,
        json!({"AuthenticationKey": KEY, "SourceId": "7", "States": states(&[("1002", "BUSY")])}),
    )
    .await;
    batch(
        &rta,
        json!({"AuthenticationKey": KEY, "SourceId": "7", "IsSnapshot": true, "States": states(&[("1001", "READY")])}),
    )
    .await;
    assert_eq!(code(&rta, "p2").as_deref(), Some("BUSY"));
    assert!(
        rta.handle()
            .log()
            .iter()
            .any(|l| l.level == LogLevel::Error && l.message == "No Logged out StateGroup found")
    );
}

#[tokio::test]
async fn a_state_keeps_its_start_while_the_code_does_not_change() {
    let rta = start(vec![nordic()]).await;
    let send = |c: &'static str| {
        batch(
            &rta,
            json!({"AuthenticationKey": KEY, "SourceId": "7", "States": states(&[("1001", c)])}),
        )
    };
    send("READY").await;
    let first = rta.handle().state("nordic", "p1").unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    send("READY").await;
    let second = rta.handle().state("nordic", "p1").unwrap();
    assert_eq!(first.since, second.since);
    assert!(second.updated > first.updated);
    send("BUSY").await;
    assert!(rta.handle().state("nordic", "p1").unwrap().since > first.since);
}

#[tokio::test]
async fn change_posts_one_state() {
    let rta = start(vec![nordic()]).await;
    let (status, _) = post(
        format!("{}Rta/State/Change", rta.url()),
        &json!({"AuthenticationKey": KEY, "SourceId": "7", "UserCode": "1003", "StateCode": "BREAK",
                "IsSnapshot": true, "Timestamp": "2024-03-01T08:00:00"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(code(&rta, "p3").as_deref(), Some("BREAK"));
    let request = rta.handle().requests().pop().unwrap();
    assert_eq!(request.endpoint, RtaEndpoint::Change);
    // The old model's IsSnapshot is ignored.
    assert!(!request.is_snapshot);
    assert!(!request.body.contains(KEY), "{}", request.body);
}

#[tokio::test]
async fn strict_batch_size_refuses_more_than_50_states() {
    let rta = CalabrioRta::start_with(
        "127.0.0.1:0",
        RtaConfig {
            max_batch_states: Some(50),
            ..config(vec![nordic()])
        },
    )
    .await
    .unwrap();
    let many: Vec<(String, String)> = (0..51).map(|i| (format!("u{i}"), "READY".into())).collect();
    let pairs: Vec<(&str, &str)> = many.iter().map(|(u, s)| (u.as_str(), s.as_str())).collect();
    let (status, body) = batch(
        &rta,
        json!({"AuthenticationKey": KEY, "SourceId": "7", "States": states(&pairs)}),
    )
    .await;
    assert_eq!((status, body.as_str()), (400, BATCH_TOO_LARGE_MESSAGE));
    let (status, _) = batch(
        &rta,
        json!({"AuthenticationKey": KEY, "SourceId": "7", "States": states(&pairs[..50])}),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_paused_worker_floods_the_queue_at_100_batches() {
    let rta = start(vec![nordic()]).await;
    rta.handle().pause_worker();
    for i in 0..100 {
        let code = if i == 99 { "ACW" } else { "READY" };
        let (status, _) = batch(
            &rta,
            json!({"AuthenticationKey": KEY, "SourceId": "7", "States": states(&[("1001", code)])}),
        )
        .await;
        assert_eq!(status, 200);
    }
    assert_eq!(rta.handle().pending(), 100);
    assert_eq!(code(&rta, "p1"), None);
    let (status, body) = batch(
        &rta,
        json!({"AuthenticationKey": KEY, "SourceId": "7", "States": states(&[("1001", "BUSY")])}),
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (500, "State queue is flooded with 100 batches")
    );
    rta.handle().resume_worker();
    assert_eq!(rta.handle().pending(), 0);
    // Applied in order: the last accepted batch wins.
    assert_eq!(code(&rta, "p1").as_deref(), Some("ACW"));
}

// ---- SOAP ---------------------------------------------------------------------------------------

const CONTRACT: &str = "http://schemas.datacontract.org/2004/07/Teleopti.Ccc.Rta.WebService";

/// One `ExternalUserState` with members in the given order (`None` leaves one out).
fn item(members: &[(&str, &str)]) -> String {
    let mut xml = String::from("<a:ExternalUserState>");
    for (name, value) in members {
        xml.push_str(&format!("<a:{name}>{value}</a:{name}>"));
    }
    xml.push_str("</a:ExternalUserState>");
    xml
}

/// A state item with every member in contract order.
fn state_item(user: &str, code: &str, logged_on: bool, snapshot: bool, batch_id: &str) -> String {
    item(&[
        ("BatchId", batch_id),
        ("IsLoggedOn", if logged_on { "true" } else { "false" }),
        ("IsSnapshot", if snapshot { "true" } else { "false" }),
        ("SecondsInState", "0"),
        ("StateCode", code),
        ("StateDescription", "desc"),
        ("Timestamp", "2024-03-01T08:00:00Z"),
        ("UserCode", user),
    ])
}

fn envelope(key: &str, platform: &str, source: &str, items: &[String]) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
         <s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>\
         <SaveBatchExternalUserState xmlns=\"http://tempuri.org/\">\
         <authenticationKey>{key}</authenticationKey><platformTypeId>{platform}</platformTypeId>\
         <sourceId>{source}</sourceId>\
         <externalUserStateBatch xmlns:a=\"{CONTRACT}\" xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\">{}\
         </externalUserStateBatch></SaveBatchExternalUserState></s:Body></s:Envelope>",
        items.concat()
    )
}

async fn soap(rta: &CalabrioRta, path: &str, xml: String) -> (u16, String) {
    let response = client()
        .post(format!("{}{path}", rta.url()))
        .header("content-type", "text/xml; charset=utf-8")
        .header(
            "SOAPAction",
            "\"http://tempuri.org/ITeleoptiRtaService/SaveBatchExternalUserState\"",
        )
        .body(xml)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

fn result_of(body: &str) -> Option<i32> {
    let start = body.find("<SaveBatchExternalUserStateResult>")? + 34;
    let end = body[start..].find('<')? + start;
    body[start..end].parse().ok()
}

const EMPTY: &str = "00000000-0000-0000-0000-000000000000";
const BATCH: &str = "2024-03-01T08:00:00.000Z";

#[tokio::test]
async fn soap_batches_are_applied_and_return_1() {
    let rta = start(vec![nordic()]).await;
    let (status, body) = soap(
        &rta,
        "Rta/TeleoptiRtaService.svc",
        envelope(
            KEY,
            EMPTY,
            "7",
            &[
                state_item(" 1001 ", " READY ", true, false, BATCH),
                state_item("1002", "BUSY", false, false, BATCH),
            ],
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(result_of(&body), Some(1));
    // Trimmed, and IsLoggedOn false means LOGGED-OFF.
    assert_eq!(code(&rta, "p1").as_deref(), Some("READY"));
    assert_eq!(code(&rta, "p2").as_deref(), Some("LOGGED-OFF"));
    assert!(rta.handle().state("nordic", "p2").unwrap().logged_out);
    let request = rta.handle().requests().pop().unwrap();
    assert_eq!(request.endpoint, RtaEndpoint::Soap);
    assert_eq!(request.soap_result, Some(1));
    assert!(!request.body.contains(KEY));
}

#[tokio::test]
async fn soap_members_out_of_order_are_dropped_like_wcf() {
    let rta = start(vec![nordic()]).await;
    // IsLoggedOn after StateCode: skipped, so false, so LOGGED-OFF; IsLoggedOn omitted too.
    let misordered = item(&[
        ("StateCode", "READY"),
        ("IsLoggedOn", "true"),
        ("UserCode", "1001"),
    ]);
    let omitted = item(&[("StateCode", "BUSY"), ("UserCode", "1002")]);
    let (status, body) = soap(
        &rta,
        "TeleoptiRtaService.svc",
        envelope(KEY, EMPTY, "7", &[misordered, omitted]),
    )
    .await;
    assert_eq!((status, result_of(&body)), (200, Some(1)), "{body}");
    assert_eq!(code(&rta, "p1").as_deref(), Some("LOGGED-OFF"));
    assert_eq!(code(&rta, "p2").as_deref(), Some("LOGGED-OFF"));
    assert!(
        rta.handle()
            .log()
            .iter()
            .any(|l| l.level == LogLevel::Warn && l.message.contains("IsLoggedOn is out of order"))
    );

    // Parameters out of order: the key is not read, so the key check fails with a fault.
    let xml = envelope(
        KEY,
        EMPTY,
        "7",
        &[state_item("1003", "READY", true, false, BATCH)],
    )
    .replace(
        &format!(
            "<authenticationKey>{KEY}</authenticationKey><platformTypeId>{EMPTY}</platformTypeId>"
        ),
        &format!(
            "<platformTypeId>{EMPTY}</platformTypeId><authenticationKey>{KEY}</authenticationKey>"
        ),
    );
    let (status, body) = soap(&rta, "Rta/TeleoptiRtaService.svc", xml).await;
    assert_eq!(status, 500);
    assert!(body.contains(INVALID_KEY_MESSAGE), "{body}");
    assert!(rta.handle().log().iter().any(|l| l.message.starts_with(
        "authenticationKey was not received. Make sure the SOAP message contains this value"
    )));
}

#[tokio::test]
async fn soap_platform_suffix_empty_batches_and_faults() {
    let rta = start(vec![nordic()]).await;
    let (_, body) = soap(
        &rta,
        "Rta/TeleoptiRtaService.svc",
        envelope(
            KEY,
            GUID,
            "7",
            &[state_item("1001", "READY", true, false, BATCH)],
        ),
    )
    .await;
    assert_eq!(result_of(&body), Some(1));
    assert_eq!(code(&rta, "p1"), Some(format!("READY ({GUID})")));

    // An empty batch is 0, before the key is even looked at.
    let (status, body) = soap(
        &rta,
        "Rta/TeleoptiRtaService.svc",
        envelope("nope", EMPTY, "7", &[]),
    )
    .await;
    assert_eq!((status, result_of(&body)), (200, Some(0)));

    // A bad key is a fault with the text.
    let (status, body) = soap(
        &rta,
        "Rta/TeleoptiRtaService.svc",
        envelope(
            "nope",
            EMPTY,
            "7",
            &[state_item("1001", "READY", true, false, BATCH)],
        ),
    )
    .await;
    assert_eq!(status, 500);
    assert!(
        body.contains("<faultstring") && body.contains(INVALID_KEY_MESSAGE),
        "{body}"
    );

    // The 300 characters count the suffix.
    let code_of = "X".repeat(300 - GUID.len() - 2);
    let (status, _) = soap(
        &rta,
        "Rta/TeleoptiRtaService.svc",
        envelope(
            KEY,
            GUID,
            "7",
            &[state_item("1001", &code_of, true, false, BATCH)],
        ),
    )
    .await;
    assert_eq!(status, 500);

    // A value that is not a boolean cannot be read.
    let bad = item(&[
        ("IsLoggedOn", "maybe"),
        ("StateCode", "READY"),
        ("UserCode", "1001"),
    ]);
    let (status, body) = soap(
        &rta,
        "Rta/TeleoptiRtaService.svc",
        envelope(KEY, EMPTY, "7", &[bad]),
    )
    .await;
    assert_eq!(status, 500);
    assert!(body.contains("'maybe'"), "{body}");

    // Not XML at all.
    let (status, _) = soap(&rta, "Rta/TeleoptiRtaService.svc", "<oops".to_string()).await;
    assert_eq!(status, 500);
}

#[tokio::test]
async fn soap_snapshots_span_requests_and_close_with_an_empty_user_code() {
    let rta = start(vec![nordic()]).await;
    let (_, body) = soap(
        &rta,
        "Rta/TeleoptiRtaService.svc",
        envelope(
            KEY,
            EMPTY,
            "7",
            &[
                state_item("1001", "READY", true, false, BATCH),
                state_item("1002", "BUSY", true, false, BATCH),
                state_item("1003", "ACW", true, false, BATCH),
            ],
        ),
    )
    .await;
    assert_eq!(result_of(&body), Some(1));

    let snapshot = "2024-03-01T09:00:00.000Z";
    // Part one: 1001 only, not closed yet.
    soap(
        &rta,
        "Rta/TeleoptiRtaService.svc",
        envelope(
            KEY,
            EMPTY,
            "7",
            &[state_item("1001", "BUSY", true, true, snapshot)],
        ),
    )
    .await;
    assert_eq!(code(&rta, "p2").as_deref(), Some("BUSY"));
    // Part two: 1002, then the closing item.
    let (_, body) = soap(
        &rta,
        "Rta/TeleoptiRtaService.svc",
        envelope(
            KEY,
            EMPTY,
            "7",
            &[
                state_item("1002", "READY", true, true, snapshot),
                state_item("", "", false, true, snapshot),
            ],
        ),
    )
    .await;
    assert_eq!(result_of(&body), Some(1));
    assert_eq!(code(&rta, "p1").as_deref(), Some("BUSY"));
    assert_eq!(code(&rta, "p2").as_deref(), Some("READY"));
    assert_eq!(code(&rta, "p3").as_deref(), Some(SNAPSHOT_LOGGED_OUT));
    let request = rta.handle().requests().pop().unwrap();
    assert!(request.is_snapshot && request.close_snapshot);
    assert_eq!(request.states.len(), 1);
    let p1 = rta.handle().state("nordic", "p1").unwrap();
    assert_eq!(p1.snapshot_id, Some(snapshot.parse().unwrap()));
}

#[tokio::test]
async fn soap_sync_validation_returns_minus_300_and_minus_100() {
    let rta = CalabrioRta::start_with(
        "127.0.0.1:0",
        RtaConfig {
            soap_sync_validation: true,
            ..config(vec![nordic()])
        },
    )
    .await
    .unwrap();
    let (_, body) = soap(
        &rta,
        "Rta/TeleoptiRtaService.svc",
        envelope(
            KEY,
            EMPTY,
            "99",
            &[state_item("1001", "READY", true, false, BATCH)],
        ),
    )
    .await;
    assert_eq!(result_of(&body), Some(-300));
    let (_, body) = soap(
        &rta,
        "Rta/TeleoptiRtaService.svc",
        envelope(
            KEY,
            EMPTY,
            "7",
            &[
                state_item("1001", "READY", true, false, BATCH),
                state_item("nobody", "READY", true, false, BATCH),
            ],
        ),
    )
    .await;
    assert_eq!(result_of(&body), Some(-100));
    // Nothing of a refused batch is applied.
    assert_eq!(code(&rta, "p1"), None);
}

#[tokio::test]
async fn save_external_user_state_takes_one_state() {
    let rta = start(vec![nordic()]).await;
    let xml = format!(
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body>\
         <SaveExternalUserState xmlns=\"http://tempuri.org/\">\
         <authenticationKey>{KEY}</authenticationKey><userCode>1003</userCode>\
         <stateCode>LUNCH</stateCode><stateDescription>Lunch</stateDescription>\
         <isLoggedOn>true</isLoggedOn><secondsInState>5</secondsInState>\
         <timestamp>2024-03-01T08:00:00</timestamp><platformTypeId>{EMPTY}</platformTypeId>\
         <sourceId>7</sourceId><batchId>2024-03-01T08:00:00</batchId><isSnapshot>false</isSnapshot>\
         </SaveExternalUserState></s:Body></s:Envelope>"
    );
    let response = client()
        .post(format!("{}Rta/TeleoptiRtaService.svc", rta.url()))
        .header("content-type", "text/xml; charset=utf-8")
        .body(xml)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(
        body.contains("<SaveExternalUserStateResult>1</SaveExternalUserStateResult>"),
        "{body}"
    );
    assert_eq!(code(&rta, "p3").as_deref(), Some("LUNCH"));
}

// ---- control endpoints --------------------------------------------------------------------------

#[tokio::test]
async fn the_view_shows_agents_and_paths_ignore_case() {
    let rta = start(vec![nordic()]).await;
    let (status, _) = post(
        format!("{}rta/state/BATCH", rta.url()),
        &json!({"AuthenticationKey": KEY, "SourceId": "7", "States": states(&[("1001", "READY")])}),
    )
    .await;
    assert_eq!(status, 200);
    let view: Value = client()
        .get(format!("{}_sandbox/calabrio/rta", rta.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let agents = &view["tenants"][0]["agents"];
    assert_eq!(agents[0]["person"], "p1");
    assert_eq!(agents[0]["state_code"], "READY");
    assert_eq!(agents[0]["state_group"], "Ready");
    assert_eq!(view["requests"][0]["states"][0]["user_code"], "1001");
    assert!(!view.to_string().contains(KEY));

    let gone = client()
        .get(format!("{}Rta/Nothing", rta.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    let wrong_method = client()
        .get(format!("{}Rta/State/Batch", rta.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), 405);

    let deleted = client()
        .delete(format!("{}_sandbox/calabrio/rta", rta.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert!(rta.handle().states("nordic").is_empty());
    assert!(rta.handle().requests().is_empty());
}

#[tokio::test]
async fn one_sandbox_serves_the_rta_and_the_historical_intake() {
    let sandbox = CalabrioSandbox::start_with(
        "127.0.0.1:0",
        CalabrioConfig {
            rta: config(vec![nordic()]),
            ..CalabrioConfig::default()
        },
    )
    .await
    .unwrap();
    let (status, _) = post(
        format!("{}Rta/State/Batch", sandbox.url()),
        &json!({"AuthenticationKey": KEY, "SourceId": "7", "States": states(&[("1001", "READY")])}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        sandbox.handles().rta.state_code("nordic", "p1").as_deref(),
        Some("READY")
    );
    let probe = client()
        .get(format!("{}historical", sandbox.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(probe.status(), 200);
    let view = client()
        .get(format!("{}_sandbox/calabrio/historical", sandbox.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(view.status(), 200);
    sandbox.stop().await;
}

#[tokio::test]
async fn auto_persons_accept_any_user_code_for_demonstrations() {
    let rta = CalabrioRta::start("127.0.0.1:0").await.unwrap();
    let (status, _) = batch(
        &rta,
        json!({"AuthenticationKey": "sandbox-rta-key", "SourceId": "1",
               "States": states(&[("agent-9", "READY")])}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        rta.handle().state_code("default", "agent-9").as_deref(),
        Some("READY")
    );
    let waited = rta
        .handle()
        .wait_for_requests(1, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(waited.len(), 1);
}
