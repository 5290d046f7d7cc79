//! The Calabrio forecast import emulator over real loopback HTTP: files accepted and kept per skill,
//! the exact refusal texts of calabrio.md §4, skills named by path or by the file, off-grid rows
//! skipped, re-sends overwriting, multipart uploads, tokens.

use serde_json::Value;
use wfm_sandbox::calabrio::forecast_import::{FileStatus, ForecastImportConfig, SkillConfig};
use wfm_sandbox::calabrio::{CalabrioConfig, CalabrioSandbox};

fn client() -> reqwest::Client {
    // reqwest is built without a crypto provider of its own (see wfm_connectors::http).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn sandbox(forecast: ForecastImportConfig) -> CalabrioSandbox {
    CalabrioSandbox::start_with(
        "127.0.0.1:0",
        CalabrioConfig {
            forecast,
            ..CalabrioConfig::default()
        },
    )
    .await
    .unwrap()
}

fn skills() -> ForecastImportConfig {
    ForecastImportConfig {
        skills: vec![
            SkillConfig::new("Support", 30, "Europe/Stockholm"),
            SkillConfig::new("Sales", 15, "UTC"),
        ],
        ..ForecastImportConfig::default()
    }
}

const HEADER: &str = "skillname,startdatetime,enddatetime,tasks,tasktime,aftertasktime,agents\r\n";

/// POSTs a raw body named `name`; (status, JSON body).
async fn post(url: String, name: &str, body: &str) -> (u16, Value) {
    let r = client()
        .post(url)
        .header("X-Wfm-Bridge-Message", name)
        .header("Content-Type", "text/csv")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn accepted_files_are_kept_per_skill_and_resends_overwrite() {
    let sb = sandbox(skills()).await;
    let url = format!("{}forecast/import", sb.url());
    let file = format!(
        "{HEADER}Support,20250301 8:00,20250301 8:30,12.5,150,30,4\r\n\
         Support,20250301 8:30,20250301 9:00,20,150,30,6\r\n\
         Support,20250301 8:10,20250301 8:40,99,150,30,9\r\n"
    );
    let (status, body) = post(url.clone(), "Forecast_Support_20250301_20250301.csv", &file).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["files"][0]["skill"], "Support");
    assert_eq!(body["files"][0]["rows"], 2);
    // 08:10 is off the 30-minute grid: skipped, not failed.
    assert_eq!(body["files"][0]["skipped_off_grid"], 1);
    let held = sb.handles().forecast.intervals("Support");
    assert_eq!(held.len(), 2);
    // Local Stockholm times (UTC+1 in March).
    assert_eq!(held[0].start.to_string(), "2025-03-01T07:00:00Z");
    assert_eq!(held[0].tasks, 12.5);
    assert_eq!(held[0].agents, Some(4.0));

    // A re-send overwrites the intervals it has.
    let again = format!("{HEADER}Support,20250301 8:00,20250301 8:30,14,150,30,5\r\n");
    let (status, _) = post(url.clone(), "again.csv", &again).await;
    assert_eq!(status, 200);
    let held = sb.handles().forecast.intervals("Support");
    assert_eq!(held.len(), 2);
    assert_eq!(held[0].tasks, 14.0);

    // The snapshot over HTTP: files and per-day totals.
    let snap: Value = client()
        .get(format!("{}_sandbox/calabrio/forecast", sb.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(snap["received"].as_array().unwrap().len(), 2);
    assert_eq!(snap["skills"][0]["name"], "Support");
    assert_eq!(snap["skills"][0]["days"][0]["tasks"], 34.0);
    assert_eq!(snap["skills"][0]["days"][0]["peak_agents"], 6.0);

    // The path names the skill: the file's name must then agree with it.
    let sales = "Sales;2025-03-01 08:00;2025-03-01 08:15;3;100;20\r\n";
    let (status, body) = post(format!("{url}/Sales"), "sales.csv", sales).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(sb.handles().forecast.intervals("Sales").len(), 1);

    let deleted = client()
        .delete(format!("{}_sandbox/calabrio/forecast", sb.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert!(sb.handles().forecast.intervals("Support").is_empty());
    assert!(sb.handles().forecast.received().is_empty());
}

#[tokio::test]
async fn refusals_carry_the_exact_texts_and_change_nothing() {
    let sb = sandbox(skills()).await;
    let url = format!("{}forecast/import", sb.url());
    let good = "Support,20250301 8:00,20250301 8:30,12.5,150,30\r\n";
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            good.replace("\r\n", "\n").repeat(2),
            vec![
                "Line 1, Error:There are more or less columns than expected when using ',' as column separator.",
            ],
        ),
        (
            format!("{good}Support,2025-03-01T08:30,20250301 9:00,1,2,3\r\n"),
            vec![
                "Line 2, Error:Date time format of 2025-03-01T08:30 is wrong. Supported formats are: yyyyMMdd H:mm,yyyy-MM-dd H:mm",
            ],
        ),
        (
            format!("{good}Support,20250301 8:30,20250301 9:00,1 000,2,3\r\n"),
            vec!["Line 2, Error:1 000 should be a double value."],
        ),
        (
            format!("{good}Sales,20250301 8:30,20250301 9:00,1,2,3\r\n"),
            vec!["Line 2, Error:There exists multiple skill names in the file."],
        ),
        (
            "Support,20250301 8:00,20250301 8:15,1,2,3\r\n".to_string(),
            vec!["Line 1, Error:Interval does not match the target skill: Support."],
        ),
        (
            "Support,20250330 2:00,20250330 2:30,1,2,3\r\n".to_string(),
            vec!["Line 1, Error:03/30/2025 02:00:00 is invalid time."],
        ),
        (
            format!(
                "{HEADER}Support,x,20250301 8:30,1,2,3\r\nSupport,20250301 8:30,20250301 9:00,-2,2,3\r\n"
            ),
            vec![
                "Line 1, Error:Date time format of x is wrong. Supported formats are: yyyyMMdd H:mm,yyyy-MM-dd H:mm",
                "Line 2, Error:-2 should be a double value.",
            ],
        ),
    ];
    for (text, expected) in cases {
        let (status, body) = post(url.clone(), "bad.csv", &text).await;
        assert_eq!(status, 422, "{text:?}: {body}");
        let errors: Vec<&str> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap())
            .collect();
        assert_eq!(errors, expected, "{text:?}");
        assert_eq!(body["files"][0]["status"], "refused");
    }
    // The empty file into a named skill.
    let (status, body) = post(format!("{url}/Support"), "empty.csv", "").await;
    assert_eq!(status, 422);
    assert_eq!(
        body["errors"][0],
        "Line 1, Error:Imported forecast file is empty."
    );
    // Nothing was kept; every file is recorded as refused.
    assert!(sb.handles().forecast.intervals("Support").is_empty());
    let received = sb.handles().forecast.received();
    assert_eq!(received.len(), 8);
    assert!(received.iter().all(|r| r.status == FileStatus::Refused));

    // A skill the emulator does not know (the list is fixed): 404.
    let (status, body) = post(
        url.clone(),
        "x.csv",
        "Billing,20250301 8:00,20250301 8:30,1,2,3\r\n",
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body["errors"][0]
            .as_str()
            .unwrap()
            .contains("unknown skill \"Billing\""),
        "{body}"
    );
}

#[tokio::test]
async fn multipart_uploads_any_skill_and_tokens() {
    let sb = sandbox(ForecastImportConfig {
        interval_minutes: 60,
        token: Some("forecast-secret".to_string()),
        ..ForecastImportConfig::default()
    })
    .await;
    let url = format!("{}forecast/import", sb.url());
    // Without the token: 401, for uploads and the test connection alike.
    let r = client().get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);

    let boundary = "XyZ-boundary";
    let part = |name: &str, text: &str| {
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
             Content-Type: text/csv\r\n\r\n{text}\r\n"
        )
    };
    let body = format!(
        "{}{}--{boundary}--\r\n",
        part(
            "Forecast_Chat_20250301_20250301.csv",
            &format!("{HEADER}Chat,20250301 8:00,20250301 9:00,30,300,60,5\r\n")
        ),
        part(
            "Forecast_Mail_20250301_20250301.csv",
            "Mail,20250301 8:00,20250301 8:30,30,300,60\r\n"
        ),
    );
    let r = client()
        .post(&url)
        .bearer_auth("forecast-secret")
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let answer: Value = r.json().await.unwrap();
    // Any skill is taken, with the default 60-minute resolution: Chat fits, Mail does not.
    assert_eq!(answer["files"][0]["status"], "accepted");
    assert_eq!(answer["files"][1]["status"], "refused");
    assert_eq!(
        answer["errors"][0],
        "Forecast_Mail_20250301_20250301.csv: Line 1, Error:Interval does not match the target skill: Mail."
    );
    assert_eq!(sb.handles().forecast.intervals("Chat").len(), 1);
    assert!(sb.handles().forecast.intervals("Mail").is_empty());
    let r = client()
        .get(&url)
        .bearer_auth("forecast-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
