//! Emulator of Calabrio's Wfm.Api command API and agent import (reference/calabrio.md §2, §5,
//! §6 "Wfm.Api" and "Agent import"), the target of directory sync.
//!
//! - `GET /api/command` lists the commands; `POST /api/command/{Type}` matches the type ignoring
//!   case, 400 with the hint text for an unknown one. Without a valid token (a bare token or the
//!   `Bearer ` / `bearer:` prefixes) every call is 401 with no body.
//! - `AddSkillsToPerson` (assumed DTO, §7): the person is named by `PersonId` (the emulator's GUID)
//!   or `ExternalUserId` (the import's WindowsUser), the skills by `SkillNames` or `SkillIds`
//!   (names); field names ignore case. An unknown person or skill is `Successful:false`; adding a
//!   skill twice is harmless. Other commands of the snapshot answer `Successful:false` ("not
//!   emulated").
//! - `POST /api/People/UploadAgent` takes the workbook as a multipart file: the 16-column header
//!   (ignoring case) or 422 with a `Message` header listing the mismatches; StartDate must be a
//!   date (number) cell; names at most 25 characters; WindowsUser or ApplicationUserId required;
//!   Organization must be a known `Site/Team`; a WindowsUser already imported fails its row. The
//!   reply is 200 with `Message: success count:x, failed count:y, warning count:z` and, when rows
//!   failed, a text body of `row n: error` lines (Calabrio sends a workbook; the emulator keeps to
//!   text). Only stored (uncompressed) ZIP entries are read.
//! - `GET /_sandbox/calabrio/wfm` shows the persons and their skills; `DELETE` forgets them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::multipart::read_request;

/// Largest request accepted.
const MAX_BODY_BYTES: usize = 16 << 20;

/// The commands of the Wfm.Api snapshot (§2), plus the assumed `AddSkillsToPerson`.
pub const COMMANDS: [&str; 10] = [
    "AddAbsence",
    "AddIntradayAbsenceRequest",
    "AddMeeting",
    "AddPersonAbsence",
    "AddScheduleChangesListener",
    "AddSkillsToPerson",
    "RemoveAbsence",
    "RemoveMeeting",
    "RemovePersonAbsence",
    "SetMainShift",
];

/// The 16 import columns (§5).
pub const IMPORT_COLUMNS: [&str; 16] = [
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

/// How to start the emulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WfmApiConfig {
    /// Tokens accepted.
    #[serde(default = "default_tokens")]
    pub tokens: Vec<String>,
    /// Skill names that exist.
    #[serde(default = "default_skills")]
    pub skills: Vec<String>,
    /// Organizations (`Site/Team`) that exist.
    #[serde(default = "default_teams")]
    pub teams: Vec<String>,
}

fn default_tokens() -> Vec<String> {
    vec!["sandbox-token".to_string()]
}
fn default_skills() -> Vec<String> {
    vec![
        "Sales".to_string(),
        "Support".to_string(),
        "Billing".to_string(),
    ]
}
fn default_teams() -> Vec<String> {
    vec!["London/Default".to_string()]
}

impl Default for WfmApiConfig {
    fn default() -> Self {
        WfmApiConfig {
            tokens: default_tokens(),
            skills: default_skills(),
            teams: default_teams(),
        }
    }
}

/// A person the import created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SandboxPerson {
    /// The emulator's GUID.
    pub id: String,
    /// Firstname.
    pub first_name: String,
    /// Lastname.
    pub last_name: String,
    /// WindowsUser.
    pub windows_user: String,
    /// StartDate as `YYYY-MM-DD`.
    pub start_date: String,
    /// Organization.
    pub organization: String,
    /// Skills, by name.
    pub skills: BTreeSet<String>,
}

/// What the emulator holds, as `GET /_sandbox/calabrio/wfm` shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WfmApiView {
    /// Persons in import order.
    pub persons: Vec<SandboxPerson>,
    /// Every command call: (command, body).
    pub commands: Vec<(String, Value)>,
    /// Every import: the `Message` header it answered.
    pub imports: Vec<String>,
}

/// The emulator's state, shared with tests.
#[derive(Debug, Clone)]
pub struct WfmApiHandle {
    config: Arc<WfmApiConfig>,
    state: Arc<Mutex<WfmApiView>>,
}

impl WfmApiHandle {
    /// What it holds now.
    pub fn view(&self) -> WfmApiView {
        self.state.lock().expect("state lock").clone()
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let mut token = value.trim();
        for prefix in ["bearer", "Bearer", "BEARER"] {
            if let Some(rest) = token.strip_prefix(prefix) {
                token = rest;
                break;
            }
        }
        let token = token.trim_start_matches(':').trim();
        !token.is_empty() && self.config.tokens.iter().any(|t| t == token)
    }
}

/// The routes of the emulator, and its handle.
pub fn router(config: &WfmApiConfig) -> (Router, WfmApiHandle) {
    let handle = WfmApiHandle {
        config: Arc::new(config.clone()),
        state: Arc::new(Mutex::new(WfmApiView::default())),
    };
    let router = Router::new()
        .route("/_sandbox/calabrio/wfm", get(view).delete(clear))
        .route("/api/command", get(list_commands))
        .route("/api/command/{command}", post(command))
        .route("/api/People/UploadAgent", post(upload_agent))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(handle.clone());
    (router, handle)
}

async fn view(State(handle): State<WfmApiHandle>) -> Response {
    axum::Json(handle.view()).into_response()
}

async fn clear(State(handle): State<WfmApiHandle>) -> StatusCode {
    *handle.state.lock().expect("state lock") = WfmApiView::default();
    StatusCode::NO_CONTENT
}

async fn list_commands(State(handle): State<WfmApiHandle>, headers: HeaderMap) -> Response {
    if !handle.authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    axum::Json(json!({"Result": COMMANDS, "Successful": true})).into_response()
}

fn result(successful: bool, id: Option<&str>, message: Option<String>) -> Response {
    axum::Json(json!({"Successful": successful, "Id": id, "Message": message})).into_response()
}

/// A field of a JSON object, its name ignoring case.
fn field<'a>(body: &'a Value, name: &str) -> Option<&'a Value> {
    body.as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

async fn command(
    State(handle): State<WfmApiHandle>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !handle.authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let Some(known) = COMMANDS.iter().find(|c| c.eq_ignore_ascii_case(&name)) else {
        return (
            StatusCode::BAD_REQUEST,
            "Issue a GET to /command to list available commands",
        )
            .into_response();
    };
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return result(false, None, Some(format!("the body is not JSON: {e}"))),
    };
    let mut state = handle.state.lock().expect("state lock");
    state.commands.push((known.to_string(), body.clone()));
    if *known != "AddSkillsToPerson" {
        return result(
            false,
            None,
            Some(format!("{known} is not emulated by the sandbox")),
        );
    }
    let person = field(&body, "PersonId")
        .and_then(Value::as_str)
        .map(|id| (true, id))
        .or_else(|| {
            field(&body, "ExternalUserId")
                .and_then(Value::as_str)
                .map(|u| (false, u))
        });
    let Some((by_id, key)) = person else {
        return result(
            false,
            None,
            Some("the DTO names no person (PersonId or ExternalUserId)".to_string()),
        );
    };
    let skills: Vec<String> = field(&body, "SkillNames")
        .or_else(|| field(&body, "SkillIds"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if let Some(unknown) = skills.iter().find(|s| !handle.config.skills.contains(s)) {
        return result(false, None, Some(format!("Skill {unknown} was not found")));
    }
    let Some(p) = state.persons.iter_mut().find(|p| {
        if by_id {
            p.id.eq_ignore_ascii_case(key)
        } else {
            p.windows_user == key
        }
    }) else {
        return result(false, None, Some(format!("Person {key} was not found")));
    };
    p.skills.extend(skills);
    let id = p.id.clone();
    result(true, Some(&id), None)
}

/// A cell read from the sheet.
#[derive(Debug, Clone, PartialEq)]
enum SheetCell {
    Text(String),
    Number(f64),
}

async fn upload_agent(State(handle): State<WfmApiHandle>, request: Request) -> Response {
    if !handle.authorized(request.headers()) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let read = match read_request(request, MAX_BODY_BYTES).await {
        Ok(r) => r,
        Err(response) => return response,
    };
    let parts = match read.form {
        Some(Ok(parts)) => parts,
        Some(Err(e)) => return (StatusCode::BAD_REQUEST, e).into_response(),
        None => {
            return (
                StatusCode::BAD_REQUEST,
                "send the workbook as multipart/form-data",
            )
                .into_response();
        }
    };
    let Some(file) = parts.iter().find(|p| p.filename.is_some()) else {
        return (StatusCode::BAD_REQUEST, "the form has no file").into_response();
    };
    let filename = file
        .filename
        .clone()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !filename.ends_with(".xlsx") && !filename.ends_with(".xls") {
        return unprocessable(format!("{filename} is not an .xls or .xlsx file"));
    }
    let rows = match read_sheet(&file.data) {
        Ok(rows) => rows,
        Err(e) => return unprocessable(format!("cannot read the workbook: {e}")),
    };
    let header: Vec<String> = rows
        .first()
        .map(|r| {
            (0..16)
                .map(|i| match r.get(&i) {
                    Some(SheetCell::Text(t)) => t.trim().to_string(),
                    Some(SheetCell::Number(n)) => n.to_string(),
                    None => String::new(),
                })
                .collect()
        })
        .unwrap_or_default();
    let width = rows
        .first()
        .map_or(0, |r| r.keys().max().map_or(0, |m| m + 1));
    let mismatches: Vec<String> = IMPORT_COLUMNS
        .iter()
        .enumerate()
        .filter(|(i, c)| !header.get(*i).is_some_and(|h| h.eq_ignore_ascii_case(c)))
        .map(|(i, c)| {
            format!(
                "column {} should be {c}, not {:?}",
                i + 1,
                header.get(i).cloned().unwrap_or_default()
            )
        })
        .chain((width > 16).then(|| format!("{width} columns; the template has 16")))
        .collect();
    if !mismatches.is_empty() {
        return unprocessable(mismatches.join("; "));
    }

    let mut state = handle.state.lock().expect("state lock");
    let (mut success, mut failed, warnings) = (0, 0, 0);
    let mut errors = Vec::new();
    for (n, row) in rows.iter().enumerate().skip(1) {
        if row.is_empty() {
            continue;
        }
        let text = |i: usize| match row.get(&i) {
            Some(SheetCell::Text(t)) => Ok(t.trim().to_string()),
            None => Ok(String::new()),
            Some(SheetCell::Number(_)) => Err(format!(
                "InvalidColumn {}: RequireTextCellFormat",
                IMPORT_COLUMNS[i]
            )),
        };
        let check = || -> Result<SandboxPerson, String> {
            let first = text(0)?;
            let last = text(1)?;
            let windows = text(2)?;
            let app = text(3)?;
            if first.is_empty() && last.is_empty() {
                return Err("Firstname and Lastname are both empty".into());
            }
            if first.chars().count() > 25 || last.chars().count() > 25 {
                return Err("Firstname and Lastname are at most 25 characters".into());
            }
            if windows.is_empty() && app.is_empty() {
                return Err("WindowsUser or ApplicationUserId is required".into());
            }
            if windows.chars().count() > 100 {
                return Err("WindowsUser is at most 100 characters".into());
            }
            let start = match row.get(&6) {
                Some(SheetCell::Number(n)) => date_of_serial(*n),
                _ => return Err("InvalidColumn StartDate: RequireDateCellFormat".into()),
            };
            let organization = text(7)?;
            if !handle.config.teams.contains(&organization) {
                return Err(format!("Organization {organization:?} was not found"));
            }
            if let Some(SheetCell::Text(_)) = row.get(&15) {
                return Err("InvalidColumn SchedulePeriodLength: RequireNumberCellFormat".into());
            }
            if state.persons.iter().any(|p| p.windows_user == windows) {
                return Err(format!("WindowsUser {windows} already exists"));
            }
            Ok(SandboxPerson {
                id: guid(state.persons.len() + 1),
                first_name: first,
                last_name: last,
                windows_user: windows,
                start_date: start,
                organization,
                skills: BTreeSet::new(),
            })
        };
        match check() {
            Ok(person) => {
                state.persons.push(person);
                success += 1;
            }
            Err(e) => {
                failed += 1;
                errors.push(format!("row {}: {e}", n + 1));
            }
        }
    }
    let message =
        format!("success count:{success}, failed count:{failed}, warning count:{warnings}");
    state.imports.push(message.clone());
    let body = if errors.is_empty() {
        String::new()
    } else {
        errors.join("\n") + "\n"
    };
    (StatusCode::OK, [("Message", message)], body).into_response()
}

fn unprocessable(message: String) -> Response {
    let header = message.replace(['\r', '\n'], " ");
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        [("Message", header)],
        message,
    )
        .into_response()
}

/// The emulator's n-th person id, GUID-shaped.
fn guid(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012x}")
}

/// A spreadsheet serial day as `YYYY-MM-DD`.
fn date_of_serial(serial: f64) -> String {
    let epoch = jiff::civil::date(1899, 12, 30);
    epoch
        .checked_add(jiff::Span::new().days(serial.floor() as i64))
        .map(|d| d.to_string())
        .unwrap_or_default()
}

/// The rows of the first sheet: row index → (column index → cell).
fn read_sheet(bytes: &[u8]) -> Result<Vec<BTreeMap<usize, SheetCell>>, String> {
    let entries = read_zip(bytes)?;
    let sheet = entries
        .get("xl/worksheets/sheet1.xml")
        .ok_or("it has no xl/worksheets/sheet1.xml")?;
    let shared: Vec<String> = match entries.get("xl/sharedStrings.xml") {
        None => Vec::new(),
        Some(xml) => {
            let text = std::str::from_utf8(xml).map_err(|e| e.to_string())?;
            let doc = roxmltree::Document::parse(text).map_err(|e| e.to_string())?;
            doc.descendants()
                .filter(|n| n.has_tag_name("si"))
                .map(|si| {
                    si.descendants()
                        .filter(|n| n.has_tag_name("t"))
                        .filter_map(|t| t.text())
                        .collect()
                })
                .collect()
        }
    };
    let text = std::str::from_utf8(sheet).map_err(|e| e.to_string())?;
    let doc = roxmltree::Document::parse(text).map_err(|e| format!("sheet1.xml: {e}"))?;
    let mut rows: Vec<BTreeMap<usize, SheetCell>> = Vec::new();
    for row in doc.descendants().filter(|n| n.has_tag_name("row")) {
        let index = row
            .attribute("r")
            .and_then(|r| r.parse::<usize>().ok())
            .unwrap_or(rows.len() + 1);
        while rows.len() < index {
            rows.push(BTreeMap::new());
        }
        let cells = &mut rows[index - 1];
        for (i, c) in row.children().filter(|n| n.has_tag_name("c")).enumerate() {
            let column = c.attribute("r").map_or(i, column_index);
            let value = c
                .children()
                .find(|n| n.has_tag_name("v"))
                .and_then(|v| v.text())
                .unwrap_or_default();
            let cell = match c.attribute("t") {
                Some("inlineStr") => SheetCell::Text(
                    c.descendants()
                        .filter(|n| n.has_tag_name("t"))
                        .filter_map(|t| t.text())
                        .collect(),
                ),
                Some("s") => SheetCell::Text(
                    value
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| shared.get(i).cloned())
                        .ok_or_else(|| format!("shared string {value} does not exist"))?,
                ),
                Some("str") => SheetCell::Text(value.to_string()),
                _ => match value.parse::<f64>() {
                    Ok(n) => SheetCell::Number(n),
                    Err(_) => continue,
                },
            };
            cells.insert(column, cell);
        }
    }
    Ok(rows)
}

/// `C7` → 2.
fn column_index(reference: &str) -> usize {
    reference
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .fold(0, |n, c| {
            n * 26 + (c.to_ascii_uppercase() as usize - 'A' as usize + 1)
        })
        .saturating_sub(1)
}

/// The stored entries of a ZIP archive, read from its central directory.
fn read_zip(bytes: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let u16_at = |i: usize| -> Result<usize, String> {
        bytes
            .get(i..i + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
            .ok_or_else(|| "the ZIP archive is truncated".to_string())
    };
    let u32_at = |i: usize| -> Result<usize, String> {
        bytes
            .get(i..i + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or_else(|| "the ZIP archive is truncated".to_string())
    };
    if bytes.len() < 22 {
        return Err("it is not a ZIP archive (an .xlsx is one)".into());
    }
    let eocd = (0..=bytes.len() - 22)
        .rev()
        .find(|&i| bytes[i..i + 4] == [0x50, 0x4b, 0x05, 0x06])
        .ok_or("it is not a ZIP archive (an .xlsx is one)")?;
    let count = u16_at(eocd + 10)?;
    let mut at = u32_at(eocd + 16)?;
    let mut entries = BTreeMap::new();
    for _ in 0..count {
        if u32_at(at)? != 0x0201_4b50 {
            return Err("the ZIP central directory is damaged".into());
        }
        let method = u16_at(at + 10)?;
        let size = u32_at(at + 20)?;
        let name_len = u16_at(at + 28)?;
        let extra_len = u16_at(at + 30)?;
        let comment_len = u16_at(at + 32)?;
        let offset = u32_at(at + 42)?;
        let name = String::from_utf8_lossy(
            bytes
                .get(at + 46..at + 46 + name_len)
                .ok_or("the ZIP archive is truncated")?,
        )
        .to_string();
        at += 46 + name_len + extra_len + comment_len;
        if method != 0 {
            // Entries the emulator does not need may be compressed; the sheet may not.
            if name.starts_with("xl/worksheets/") || name == "xl/sharedStrings.xml" {
                return Err(format!(
                    "{name} is compressed; the sandbox reads only stored (uncompressed) entries"
                ));
            }
            continue;
        }
        let start = offset + 30 + u16_at(offset + 26)? + u16_at(offset + 28)?;
        let data = bytes
            .get(start..start + size)
            .ok_or("the ZIP archive is truncated")?;
        entries.insert(name, data.to_vec());
    }
    Ok(entries)
}
