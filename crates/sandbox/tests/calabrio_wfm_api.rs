//! The Wfm.Api and agent-import emulator over loopback: tokens, unknown commands,
//! `Successful:false` envelopes, the 16-column header (422 otherwise), row rules, and what it keeps.

use serde_json::{Value, json};
use wfm_sandbox::calabrio::{CalabrioConfig, CalabrioSandbox};

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

const HEADER: [&str; 16] = [
    "Firstname",
    "Lastname",
    "WindowsUser",
    "ApplicationUserId",
    "Password",
    "Role",
    "StartDate",
    "Organization",
    "Skill",
    "ExternalLogon",
    "Contract",
    "ContractSchedule",
    "PartTimePercentage",
    "ShiftBag",
    "SchedulePeriodType",
    "SchedulePeriodLength",
];

/// A stored ZIP holding only the sheet (what the emulator reads), with cells given as raw XML.
fn workbook(rows: &[Vec<String>]) -> Vec<u8> {
    let mut sheet = String::from(
        "<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData>",
    );
    for (r, row) in rows.iter().enumerate() {
        sheet.push_str(&format!("<row r=\"{}\">", r + 1));
        for cell in row {
            sheet.push_str(cell);
        }
        sheet.push_str("</row>");
    }
    sheet.push_str("</sheetData></worksheet>");
    let name = b"xl/worksheets/sheet1.xml";
    let data = sheet.as_bytes();
    let mut local = Vec::new();
    local.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    local.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0, 0, 0, 0, 0]);
    local.extend_from_slice(&(data.len() as u32).to_le_bytes());
    local.extend_from_slice(&(data.len() as u32).to_le_bytes());
    local.extend_from_slice(&(name.len() as u16).to_le_bytes());
    local.extend_from_slice(&0u16.to_le_bytes());
    let mut out = local.clone();
    out.extend_from_slice(name);
    out.extend_from_slice(data);
    let central_at = out.len() as u32;
    let mut central = Vec::new();
    central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    central.extend_from_slice(&20u16.to_le_bytes());
    central.extend_from_slice(&local[4..30]);
    central.extend_from_slice(&[0; 6]);
    central.extend_from_slice(&0u32.to_le_bytes());
    central.extend_from_slice(&0u32.to_le_bytes());
    central.extend_from_slice(name);
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0]);
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&central_at.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

fn text(col: char, row: usize, value: &str) -> String {
    format!("<c r=\"{col}{row}\" t=\"inlineStr\"><is><t>{value}</t></is></c>")
}

fn header_row(names: &[&str]) -> Vec<String> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| text((b'A' + i as u8) as char, 1, n))
        .collect()
}

fn person_row(row: usize, first: &str, windows: &str, org: &str, date_cell: bool) -> Vec<String> {
    let date = if date_cell {
        format!("<c r=\"G{row}\" s=\"1\"><v>46348</v></c>")
    } else {
        text('G', row, "2026-11-22")
    };
    vec![
        text('A', row, first),
        text('B', row, "Lovelace"),
        text('C', row, windows),
        date,
        text('H', row, org),
    ]
}

async fn upload(url: &str, token: &str, file: Vec<u8>) -> reqwest::Response {
    let boundary = "xXxBOUNDARYxXx";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"agents.xlsx\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    client()
        .post(format!("{url}api/People/UploadAgent"))
        .header("Authorization", token)
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn sandbox() -> CalabrioSandbox {
    CalabrioSandbox::start_with("127.0.0.1:0", CalabrioConfig::default())
        .await
        .unwrap()
}

#[tokio::test]
async fn no_token_or_a_bad_one_is_401_without_a_body() {
    let sandbox = sandbox().await;
    let url = sandbox.url();
    for auth in [None, Some("Bearer wrong"), Some("")] {
        let mut request = client().get(format!("{url}api/command"));
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{auth:?}");
        assert!(response.text().await.unwrap().is_empty());
    }
    for auth in [
        "Bearer sandbox-token",
        "bearer:sandbox-token",
        "sandbox-token",
    ] {
        let response = client()
            .get(format!("{url}api/command"))
            .header("Authorization", auth)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{auth}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["Successful"], true);
        assert!(
            body["Result"]
                .as_array()
                .unwrap()
                .contains(&json!("AddSkillsToPerson"))
        );
    }
    let response = upload(&url, "Bearer nope", workbook(&[])).await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn an_unknown_command_is_400_with_the_hint_and_failures_are_successful_false() {
    let sandbox = sandbox().await;
    let url = sandbox.url();
    let post = |path: &str, body: Value| {
        client()
            .post(format!("{url}api/command/{path}"))
            .header("Authorization", "Bearer sandbox-token")
            .json(&body)
            .send()
    };
    let response = post("FireEveryone", json!({})).await.unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.text().await.unwrap(),
        "Issue a GET to /command to list available commands"
    );
    // Matched ignoring case; an unknown person is a 200 with Successful:false.
    let response = post(
        "addskillstoperson",
        json!({"ExternalUserId": "u-404", "SkillNames": ["Sales"]}),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["Successful"], false);
    assert_eq!(body["Message"], "Person u-404 was not found");
}

#[tokio::test]
async fn a_wrong_header_is_422_with_the_mismatches() {
    let sandbox = sandbox().await;
    let mut names = HEADER;
    names[2] = "Windows";
    let response = upload(
        &sandbox.url(),
        "Bearer sandbox-token",
        workbook(&[header_row(&names)]),
    )
    .await;
    assert_eq!(response.status(), 422);
    let message = response.headers()["Message"].to_str().unwrap().to_string();
    assert!(
        message.contains("column 3 should be WindowsUser, not \"Windows\""),
        "{message}"
    );
    assert!(sandbox.handles().wfm_api.view().persons.is_empty());
}

#[tokio::test]
async fn the_import_keeps_valid_rows_and_counts_the_failed_ones_then_skills_are_added_once() {
    let sandbox = sandbox().await;
    let url = sandbox.url();
    let mut header = HEADER;
    header[0] = "FIRSTNAME"; // case is ignored
    let rows = vec![
        header_row(&header),
        person_row(2, "Ada", "u-1", "London/Default", true),
        person_row(3, "Bad", "u-2", "London/Default", false),
        person_row(4, "Nowhere", "u-3", "Paris/Nope", true),
    ];
    let response = upload(&url, "Bearer sandbox-token", workbook(&rows)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["Message"],
        "success count:1, failed count:2, warning count:0"
    );
    let body = response.text().await.unwrap();
    assert!(body.contains("row 3: InvalidColumn StartDate"), "{body}");
    assert!(
        body.contains("row 4: Organization \"Paris/Nope\" was not found"),
        "{body}"
    );

    // The same person again fails: WindowsUser exists.
    let again = upload(&url, "Bearer sandbox-token", workbook(&rows[..2])).await;
    assert_eq!(
        again.headers()["Message"],
        "success count:0, failed count:1, warning count:0"
    );

    for _ in 0..2 {
        let reply: Value = client()
            .post(format!("{url}api/command/AddSkillsToPerson"))
            .header("Authorization", "Bearer sandbox-token")
            .json(&json!({"externaluserid": "u-1", "SkillNames": ["Sales", "Billing"]}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(reply["Successful"], true, "{reply}");
    }
    let unknown: Value = client()
        .post(format!("{url}api/command/AddSkillsToPerson"))
        .header("Authorization", "Bearer sandbox-token")
        .json(&json!({"ExternalUserId": "u-1", "SkillNames": ["Juggling"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(unknown["Successful"], false);

    let view: Value = client()
        .get(format!("{url}_sandbox/calabrio/wfm"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let persons = view["persons"].as_array().unwrap();
    assert_eq!(persons.len(), 1);
    assert_eq!(persons[0]["windows_user"], "u-1");
    assert_eq!(persons[0]["start_date"], "2026-11-22");
    assert_eq!(persons[0]["skills"], json!(["Billing", "Sales"]));
}
