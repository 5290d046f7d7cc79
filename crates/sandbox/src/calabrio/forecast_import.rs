//! A stand-in for Calabrio's forecast import (reference/calabrio.md §4, §6 "Forecast file"): it
//! receives forecast files of skills, checks them with Teleopti's rules and exact error texts, keeps
//! the intervals it accepts per skill, and shows what it holds.
//!
//! Calabrio has no HTTP endpoint for this (a client uploads the file, an event runs an import job
//! against a skill named **by id**; calabrio.md §7), so the emulator's intake is ours, the way the
//! `http` target sends files:
//!
//! | request | does |
//! |---|---|
//! | `POST /forecast/import` | one or more files: `multipart/form-data` parts named `file`, or a raw body named by `X-Wfm-Bridge-Message`. Each file goes to the skill named in its first data row (the `http` target cannot pick a URL per file) |
//! | `POST /forecast/import/{skill}` | the same into that skill, as the real import job does: the name in the file is then only checked for consistency |
//! | `HEAD`/`GET` on those paths | 200: the "test connection" of an `http` account |
//! | `GET /_sandbox/calabrio/forecast` | JSON: every file received (skill, status, rows, rows skipped off the grid, errors) and per skill the intervals held and per-day totals |
//! | `DELETE /_sandbox/calabrio/forecast` | forgets files and intervals |
//!
//! A request whose files are all accepted gets 200 with `{"files": [...]}`; if any is refused, 422
//! with `{"errors": ["Line n, Error:…"], "files": [...]}`; an unknown skill is 404. With
//! [`ForecastImportConfig::token`] set, requests need `Authorization: Bearer <token>` (401
//! otherwise).
//!
//! **Skills.** [`ForecastImportConfig::skills`] lists the known skills with their resolution and time
//! zone; when the list is empty any skill name is taken, with the configuration's default resolution
//! and zone (15 minutes, UTC).
//!
//! **What is kept.** Per skill, one interval per UTC start (tasks, task time, after-task time, agents).
//! An accepted file overwrites the intervals it has; rows off the skill's grid are skipped silently
//! and counted, as the import does. A refused file changes nothing.
//!
//! # What the validator checks (Teleopti's order; texts exact)
//!
//! Parsing, row by row (`n` counts data rows from 1; the header is not counted):
//!
//! | check | error |
//! |---|---|
//! | no line at all | `Line 1, Error:Imported forecast file is empty.` |
//! | 6 or 7 columns (separator `;` if the first line has one, else `,`) | `Line n, Error:There are more or less columns than expected when using ',' as column separator.` |
//! | skill name non-empty | `Line n, Error:Skill name should not be empty` |
//! | skill name ≤ 50 UTF-16 units | `Line n, Error:Skill name is longer than 50 characters.` |
//! | start/end `yyyyMMdd H:mm` or `yyyy-MM-dd H:mm` | `Line n, Error:Date time format of <v> is wrong. Supported formats are: yyyyMMdd H:mm,yyyy-MM-dd H:mm` |
//! | start/end not in a DST gap | `Line n, Error:<MM/dd/yyyy HH:mm:ss> is invalid time.` (.NET's invariant rendering of the local time) |
//! | tasks, task time, after-task time, agents | `Line n, Error:<v> should be a double value.` |
//!
//! Lines are split on CRLF only (an LF-only file is one line and fails the column check); a BOM and
//! empty lines are dropped; the exact header (or its `;` form) is skipped. Then over the rows (after
//! Teleopti's duplication of ambiguous fall-back rows, which shifts the numbers of later rows by one
//! per duplicate — reproduced):
//!
//! | check | error |
//! |---|---|
//! | one skill name (case-sensitive) | `Line n, Error:There exists multiple skill names in the file.` |
//! | each row's UTC length = the skill's resolution | `Line n, Error:Interval does not match the target skill: <target skill name>.` |
//! | all rows of one length | `Line n, Error:Intervals do not have the same length.` |
//!
//! Teleopti stops at its first error. [`validate`] reports the first error of **every** bad row in
//! the parsing phase (the first entry is Teleopti's message), and only the first of the whole-file
//! checks, which run when parsing found nothing. Rows off the skill's interval grid are not an error
//! ([`ForecastFileRow::on_grid`]).
//!
//! Sources: Teleopti's `ForecastsFileContentProvider`, `ForecastsRowExtractor`,
//! `ForecastsFileDateTimeUnifiedValidator`, `ForecastsFileDoubleValueValidator`,
//! `ForecastsFileSkillNameValidator`, `ForecastsAnalyzeQuery` (reference/calabrio.md §4). One
//! version of the number validator also accepts a decimal comma; the reference documents the point
//! only, and so does this validator.

use crate::intake;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::multipart::read_request;

/// The optional header line Teleopti skips (its `;` form is skipped too).
pub const HEADER: &str = "skillname,startdatetime,enddatetime,tasks,tasktime,aftertasktime,agents";

/// The longest skill name, in UTF-16 code units (.NET string length).
pub const MAX_SKILL_NAME: usize = 50;

/// The date-time formats Teleopti accepts, as its error message lists them.
pub const DATE_TIME_FORMATS: &str = "yyyyMMdd H:mm,yyyy-MM-dd H:mm";

/// Largest request accepted: a year of 15-minute intervals of one skill is a few MiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// The header naming a raw body's file, as the `http` target sends it.
pub const MESSAGE_HEADER: &str = "x-wfm-bridge-message";

/// The multipart field a file is sent in.
pub const FILE_FIELD: &str = "file";

/// Errors kept per refused file.
const MAX_ERRORS: usize = 100;

/// One known skill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkillConfig {
    /// The skill's name.
    pub name: String,
    /// Its resolution in minutes: 15, 30 or 60 (default 15).
    #[serde(default = "default_interval")]
    pub interval_minutes: u32,
    /// IANA time zone of the skill: the file's times are local to it (default `UTC`).
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
}

impl SkillConfig {
    /// A skill of `interval_minutes` in `time_zone`.
    pub fn new(name: &str, interval_minutes: u32, time_zone: &str) -> SkillConfig {
        SkillConfig {
            name: name.to_string(),
            interval_minutes,
            time_zone: time_zone.to_string(),
        }
    }
}

fn default_interval() -> u32 {
    15
}

fn default_time_zone() -> String {
    "UTC".to_string()
}

/// How to start the forecast import.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForecastImportConfig {
    /// Known skills; empty: any skill is taken with the defaults below.
    #[serde(default)]
    pub skills: Vec<SkillConfig>,
    /// Resolution of skills not listed (when none are), in minutes (default 15).
    #[serde(default = "default_interval")]
    pub interval_minutes: u32,
    /// Time zone of skills not listed (when none are) (default `UTC`).
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// Bearer token every request must carry; `None` accepts any or none. Never serialized.
    #[serde(default, skip_serializing)]
    pub token: Option<String>,
}

impl Default for ForecastImportConfig {
    /// Any skill, 15-minute intervals in UTC, no token.
    fn default() -> ForecastImportConfig {
        ForecastImportConfig {
            skills: Vec::new(),
            interval_minutes: default_interval(),
            time_zone: default_time_zone(),
            token: None,
        }
    }
}

impl fmt::Debug for ForecastImportConfig {
    // The token is a credential, even in an emulator.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ForecastImportConfig")
            .field("skills", &self.skills)
            .field("interval_minutes", &self.interval_minutes)
            .field("time_zone", &self.time_zone)
            .field("token", &self.token.as_ref().map(|_| "<secret>"))
            .finish()
    }
}

/// Why a configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// An unknown time zone.
    #[error("skill {skill:?}: time zone {zone:?} is not an IANA time zone (e.g. Europe/Stockholm)")]
    TimeZone {
        /// The skill (`*` for the default).
        skill: String,
        /// The zone given.
        zone: String,
    },
    /// A resolution Calabrio does not have.
    #[error("skill {skill:?}: interval_minutes is {minutes}; it must be 15, 30 or 60")]
    Interval {
        /// The skill (`*` for the default).
        skill: String,
        /// The minutes given.
        minutes: u32,
    },
    /// A skill listed twice.
    #[error("skill {0:?} is listed twice")]
    DuplicateSkill(String),
}

/// Whether a file was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// Accepted and kept.
    Accepted,
    /// Refused: nothing of it was kept.
    Refused,
}

/// One file the emulator received, and what it made of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReceivedForecast {
    /// 1 for the first file, counting on across [`ForecastImportHandle::clear`].
    pub seq: u64,
    /// Its name.
    pub name: String,
    /// The skill it was imported into (as named by the path or the file), if one was found.
    pub skill: Option<String>,
    /// Accepted or refused.
    pub status: FileStatus,
    /// Intervals kept (0 when refused).
    pub rows: usize,
    /// Rows skipped because they start off the skill's interval grid.
    pub skipped_off_grid: usize,
    /// Why it was refused: the first 100 errors, `Line n, Error:…`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// How many errors there were in all.
    pub error_count: usize,
}

/// One interval a skill holds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HeldInterval {
    /// Start in UTC.
    pub start: Timestamp,
    /// End in UTC.
    pub end: Timestamp,
    /// Local start, as the file wrote it.
    pub local_start: DateTime,
    /// Tasks.
    pub tasks: f64,
    /// Average task time in seconds.
    pub task_time_s: f64,
    /// Average after-task time in seconds.
    pub after_task_time_s: f64,
    /// Manual agents, when the file had them.
    pub agents: Option<f64>,
}

/// A skill's totals for one local date.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkillDayTotals {
    /// Local date.
    pub date: Date,
    /// Intervals held.
    pub intervals: usize,
    /// Sum of tasks.
    pub tasks: f64,
    /// Largest agents of an interval, when any has agents.
    pub peak_agents: Option<f64>,
}

/// What one skill holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkillSnapshot {
    /// The skill.
    pub name: String,
    /// Its resolution in minutes.
    pub interval_minutes: u32,
    /// Its time zone.
    pub time_zone: String,
    /// Totals per local date.
    pub days: Vec<SkillDayTotals>,
}

/// `GET /_sandbox/calabrio/forecast`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ForecastSnapshot {
    /// Every file received, oldest first.
    pub received: Vec<ReceivedForecast>,
    /// Per skill that holds intervals.
    pub skills: Vec<SkillSnapshot>,
}

/// Why a file could not be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The file breaks the import's rules; nothing was kept.
    #[error("{}", errors.join("\n"))]
    Refused {
        /// The errors (at most 100), `Line n, Error:…`.
        errors: Vec<String>,
        /// How many in all.
        count: usize,
    },
    /// No such skill.
    #[error("unknown skill {skill:?}; known: {known}")]
    UnknownSkill {
        /// The skill asked for.
        skill: String,
        /// The known skills.
        known: String,
    },
}

/// A skill's rules and what it holds.
struct SkillState {
    skill: TargetSkill,
    zone_name: String,
    intervals: BTreeMap<Timestamp, HeldInterval>,
}

struct Inner {
    skills: BTreeMap<String, SkillState>,
    received: Vec<ReceivedForecast>,
    last_seq: u64,
}

struct Shared {
    inner: Mutex<Inner>,
    /// `None`: the skills list is fixed; `Some`: unknown skills are added with these.
    any_skill: Option<(u32, TimeZone, String)>,
    token: Option<String>,
    recorded: watch::Sender<u64>,
}

/// Reads what the import holds and feeds it files in-process. Cheap to clone.
#[derive(Clone)]
pub struct ForecastImportHandle {
    shared: Arc<Shared>,
}

impl fmt::Debug for ForecastImportHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ForecastImportHandle")
            .finish_non_exhaustive()
    }
}

fn zone_of(skill: &str, zone: &str) -> Result<TimeZone, ConfigError> {
    TimeZone::get(zone).map_err(|_| ConfigError::TimeZone {
        skill: skill.to_string(),
        zone: zone.to_string(),
    })
}

fn check_interval(skill: &str, minutes: u32) -> Result<(), ConfigError> {
    if [15, 30, 60].contains(&minutes) {
        Ok(())
    } else {
        Err(ConfigError::Interval {
            skill: skill.to_string(),
            minutes,
        })
    }
}

impl ForecastImportHandle {
    /// A handle over a checked configuration.
    pub fn new(config: &ForecastImportConfig) -> Result<ForecastImportHandle, ConfigError> {
        let mut skills = BTreeMap::new();
        for s in &config.skills {
            check_interval(&s.name, s.interval_minutes)?;
            let zone = zone_of(&s.name, &s.time_zone)?;
            let state = SkillState {
                skill: TargetSkill {
                    name: s.name.clone(),
                    resolution_minutes: s.interval_minutes,
                    zone,
                },
                zone_name: s.time_zone.clone(),
                intervals: BTreeMap::new(),
            };
            if skills.insert(s.name.clone(), state).is_some() {
                return Err(ConfigError::DuplicateSkill(s.name.clone()));
            }
        }
        check_interval("*", config.interval_minutes)?;
        let default_zone = zone_of("*", &config.time_zone)?;
        let any_skill = config.skills.is_empty().then(|| {
            (
                config.interval_minutes,
                default_zone,
                config.time_zone.clone(),
            )
        });
        let (recorded, _) = watch::channel(0);
        Ok(ForecastImportHandle {
            shared: Arc::new(Shared {
                inner: Mutex::new(Inner {
                    skills,
                    received: Vec::new(),
                    last_seq: 0,
                }),
                any_skill,
                token: config.token.clone(),
                recorded,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.shared
            .inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every file received, oldest first.
    pub fn received(&self) -> Vec<ReceivedForecast> {
        self.lock().received.clone()
    }

    /// The intervals a skill holds, in time order (empty for an unknown skill).
    pub fn intervals(&self, skill: &str) -> Vec<HeldInterval> {
        self.lock()
            .skills
            .get(skill)
            .map(|s| s.intervals.values().copied().collect())
            .unwrap_or_default()
    }

    /// Everything, as `GET /_sandbox/calabrio/forecast` shows it.
    pub fn snapshot(&self) -> ForecastSnapshot {
        let inner = self.lock();
        let skills = inner
            .skills
            .values()
            .filter(|s| !s.intervals.is_empty())
            .map(|s| {
                let mut days: BTreeMap<Date, SkillDayTotals> = BTreeMap::new();
                for i in s.intervals.values() {
                    let date = i.local_start.date();
                    let day = days.entry(date).or_insert(SkillDayTotals {
                        date,
                        intervals: 0,
                        tasks: 0.0,
                        peak_agents: None,
                    });
                    day.intervals += 1;
                    day.tasks += i.tasks;
                    if let Some(a) = i.agents {
                        day.peak_agents = Some(day.peak_agents.map_or(a, |p: f64| p.max(a)));
                    }
                }
                SkillSnapshot {
                    name: s.skill.name.clone(),
                    interval_minutes: s.skill.resolution_minutes,
                    time_zone: s.zone_name.clone(),
                    days: days.into_values().collect(),
                }
            })
            .collect();
        ForecastSnapshot {
            received: inner.received.clone(),
            skills,
        }
    }

    /// Forgets every file and interval (the skills stay).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.received.clear();
        for s in inner.skills.values_mut() {
            s.intervals.clear();
        }
    }

    /// Waits until at least `count` files were received (accepted or refused), at most `timeout`;
    /// returns them all, or `None` on timeout.
    pub async fn wait_for_received(
        &self,
        count: usize,
        timeout: Duration,
    ) -> Option<Vec<ReceivedForecast>> {
        crate::wait::until(&self.shared.recorded, timeout, || {
            self.lock().received.len() >= count
        })
        .await
        .then(|| self.received())
    }

    /// Takes in one file, as if uploaded: into `skill`, or the skill named in the file's first data
    /// row. Checks it, records it, and keeps its on-grid intervals when accepted. Returns the number
    /// of intervals kept.
    pub fn submit(
        &self,
        skill: Option<&str>,
        name: &str,
        bytes: &[u8],
    ) -> Result<usize, SubmitError> {
        self.submit_recorded(skill, name, bytes).1
    }

    /// [`ForecastImportHandle::submit`], also returning the record it made.
    fn submit_recorded(
        &self,
        skill: Option<&str>,
        name: &str,
        bytes: &[u8],
    ) -> (ReceivedForecast, Result<usize, SubmitError>) {
        let text = String::from_utf8_lossy(bytes);
        let skill_name = skill
            .map(str::to_string)
            .or_else(|| first_skill_name(&text));
        let result = self.import(skill_name.as_deref(), &text);
        let mut inner = self.lock();
        let seq = inner.last_seq + 1;
        inner.last_seq = seq;
        let mut record = ReceivedForecast {
            seq,
            name: name.to_string(),
            skill: skill_name,
            status: FileStatus::Accepted,
            rows: 0,
            skipped_off_grid: 0,
            errors: Vec::new(),
            error_count: 0,
        };
        let outcome = match result {
            Ok((kept, skipped)) => {
                record.rows = kept;
                record.skipped_off_grid = skipped;
                Ok(kept)
            }
            Err(e) => {
                record.status = FileStatus::Refused;
                match &e {
                    SubmitError::Refused { errors, count } => {
                        record.errors.clone_from(errors);
                        record.error_count = *count;
                    }
                    other => {
                        record.errors = vec![other.to_string()];
                        record.error_count = 1;
                    }
                }
                Err(e)
            }
        };
        tracing::debug!(file = name, status = ?record.status, rows = record.rows, "calabrio forecast import");
        inner.received.push(record.clone());
        drop(inner);
        self.shared.recorded.send_modify(|n| *n += 1);
        (record, outcome)
    }

    /// Checks `text` against the skill and keeps its rows; (kept, skipped off the grid).
    fn import(&self, skill: Option<&str>, text: &str) -> Result<(usize, usize), SubmitError> {
        let target = {
            let mut inner = self.lock();
            let known = || inner_names(&inner);
            match skill {
                Some(name) if inner.skills.contains_key(name) => inner.skills[name].skill.clone(),
                Some(name) => match &self.shared.any_skill {
                    Some((minutes, zone, zone_name)) => {
                        let target = TargetSkill {
                            name: name.to_string(),
                            resolution_minutes: *minutes,
                            zone: zone.clone(),
                        };
                        inner.skills.insert(
                            name.to_string(),
                            SkillState {
                                skill: target.clone(),
                                zone_name: zone_name.clone(),
                                intervals: BTreeMap::new(),
                            },
                        );
                        target
                    }
                    None => {
                        return Err(SubmitError::UnknownSkill {
                            skill: name.to_string(),
                            known: known(),
                        });
                    }
                },
                // No skill named and none in the file: the file itself is wrong, and the
                // validator says how (empty, columns…).
                None => TargetSkill {
                    name: String::new(),
                    resolution_minutes: self.shared.any_skill.as_ref().map_or(15, |a| a.0),
                    zone: TimeZone::UTC,
                },
            }
        };
        let rows = validate(text, &target).map_err(|errors| SubmitError::Refused {
            count: errors.len(),
            errors: errors.into_iter().take(MAX_ERRORS).collect(),
        })?;
        let mut inner = self.lock();
        let Some(state) = inner.skills.get_mut(&target.name) else {
            // Only a file without any row reaches here without a skill, and it fails validation.
            return Ok((0, 0));
        };
        let (mut kept, mut skipped) = (0, 0);
        for row in rows {
            if !row.on_grid(target.resolution_minutes) {
                skipped += 1;
                continue;
            }
            state.intervals.insert(
                row.utc_from,
                HeldInterval {
                    start: row.utc_from,
                    end: row.utc_to,
                    local_start: row.local_from,
                    tasks: row.tasks,
                    task_time_s: row.task_time_s,
                    after_task_time_s: row.after_task_time_s,
                    agents: row.agents,
                },
            );
            kept += 1;
        }
        Ok((kept, skipped))
    }

    /// Whether a request carries the configured token (or none is configured).
    fn authorized(&self, headers: &HeaderMap) -> bool {
        intake::authorized(self.shared.token.as_deref(), headers)
    }
}

fn inner_names(inner: &Inner) -> String {
    inner.skills.keys().cloned().collect::<Vec<_>>().join(", ")
}

/// The skill name of the first data row (after a BOM, empty lines and the header), if any.
fn first_skill_name(text: &str) -> Option<String> {
    let text = text.trim_start_matches('\u{FEFF}');
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    let first = lines.next()?;
    let separator = if first.contains(';') { ';' } else { ',' };
    let line = if first == HEADER || first == HEADER.replace(',', ";") {
        lines.next()?
    } else {
        first
    };
    let name = line.split(separator).next()?;
    (!name.is_empty()).then(|| name.to_string())
}

/// The import's router and its handle, to merge into the Calabrio emulator or serve alone.
pub fn router(
    config: &ForecastImportConfig,
) -> Result<(Router, ForecastImportHandle), ConfigError> {
    let handle = ForecastImportHandle::new(config)?;
    let router = Router::new()
        .route(
            "/_sandbox/calabrio/forecast",
            get(intake::get_snapshot::<ForecastImportHandle>)
                .delete(intake::delete_all::<ForecastImportHandle>),
        )
        .route(
            "/forecast/import",
            get(intake::probe::<ForecastImportHandle>).post(upload_any),
        )
        .route(
            "/forecast/import/{skill}",
            get(intake::probe::<ForecastImportHandle>).post(upload_skill),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(handle.clone());
    Ok((router, handle))
}

async fn upload_any(State(handle): State<ForecastImportHandle>, request: Request) -> Response {
    upload(handle, None, request).await
}

async fn upload_skill(
    State(handle): State<ForecastImportHandle>,
    UrlPath(skill): UrlPath<String>,
    request: Request,
) -> Response {
    upload(handle, Some(skill), request).await
}

/// One file's outcome in an upload's answer.
#[derive(Debug, Serialize)]
struct FileOutcome {
    name: String,
    skill: Option<String>,
    status: FileStatus,
    rows: usize,
    skipped_off_grid: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<String>,
}

/// An upload's answer; `errors` first, so a client quoting the start of the body quotes them.
#[derive(Debug, Serialize)]
struct UploadAnswer {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<String>,
    files: Vec<FileOutcome>,
}

async fn upload(handle: ForecastImportHandle, skill: Option<String>, request: Request) -> Response {
    if !handle.authorized(request.headers()) {
        return intake::unauthorized();
    }
    let read = match read_request(request, MAX_BODY_BYTES).await {
        Ok(read) => read,
        Err(response) => return response,
    };
    let files: Vec<(String, Bytes)> = match read.form {
        Some(Err(why)) => return (StatusCode::BAD_REQUEST, format!("{why}\n")).into_response(),
        Some(Ok(parts)) => {
            let files: Vec<(String, Bytes)> = parts
                .into_iter()
                .filter(|p| p.name.as_deref() == Some(FILE_FIELD))
                .map(|p| (p.filename.unwrap_or_default(), p.data))
                .collect();
            if files.is_empty() {
                return (
                    StatusCode::BAD_REQUEST,
                    "no part named file: send each file as a multipart part named file\n",
                )
                    .into_response();
            }
            files
        }
        None => {
            let name = read
                .headers
                .get(MESSAGE_HEADER)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string())
                .unwrap_or_default();
            vec![(name, read.body)]
        }
    };
    let several = files.len() > 1;
    let mut answer = UploadAnswer {
        errors: Vec::new(),
        files: Vec::new(),
    };
    let mut status = StatusCode::OK;
    for (name, bytes) in files {
        let (record, outcome) = handle.submit_recorded(skill.as_deref(), &name, &bytes);
        match outcome {
            Ok(_) => {}
            Err(SubmitError::UnknownSkill { .. }) => {
                if status == StatusCode::OK {
                    status = StatusCode::NOT_FOUND;
                }
                answer.errors.extend(record.errors.iter().cloned());
            }
            Err(SubmitError::Refused { .. }) => {
                status = StatusCode::UNPROCESSABLE_ENTITY;
                answer
                    .errors
                    .extend(record.errors.iter().map(|e| match several {
                        true => format!("{name}: {e}"),
                        false => e.clone(),
                    }));
            }
        }
        answer.files.push(FileOutcome {
            name,
            skill: record.skill,
            status: record.status,
            rows: record.rows,
            skipped_off_grid: record.skipped_off_grid,
            errors: record.errors,
        });
    }
    (status, axum::Json(answer)).into_response()
}

/// The skill a file is imported into (the import names it by id; these are the properties the checks
/// use).
#[derive(Debug, Clone)]
pub struct TargetSkill {
    /// The skill's name, as error messages show it.
    pub name: String,
    /// The skill's interval length in minutes (its default resolution).
    pub resolution_minutes: u32,
    /// The skill's time zone: the file's times are local to it.
    pub zone: TimeZone,
}

/// One row of a validated file.
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastFileRow {
    /// The data row it came from (from 1, header not counted).
    pub row: usize,
    /// Skill name in the file.
    pub skill: String,
    /// Local start.
    pub local_from: DateTime,
    /// Local end.
    pub local_to: DateTime,
    /// Start in UTC.
    pub utc_from: Timestamp,
    /// End in UTC.
    pub utc_to: Timestamp,
    /// Tasks.
    pub tasks: f64,
    /// Average task time in seconds.
    pub task_time_s: f64,
    /// Average after-task time in seconds.
    pub after_task_time_s: f64,
    /// Agents (manual agents), when the row has the seventh column.
    pub agents: Option<f64>,
    /// Whether this is the copy Teleopti adds for the first occurrence of an ambiguous (fall-back)
    /// start time.
    pub fall_back_copy: bool,
}

impl ForecastFileRow {
    /// Whether the row starts on the skill's interval grid (local minutes since midnight a multiple of
    /// the resolution). The import skips rows that are not, silently.
    pub fn on_grid(&self, resolution_minutes: u32) -> bool {
        let minutes = u32::from(self.local_from.hour() as u8) * 60
            + u32::from(self.local_from.minute() as u8);
        resolution_minutes > 0
            && minutes.is_multiple_of(resolution_minutes)
            && self.local_from.second() == 0
    }
}

/// Validates a forecast file as Calabrio's import does (see the module comment): the rows, or the
/// error messages `Line n, Error:…`.
pub fn validate(text: &str, skill: &TargetSkill) -> Result<Vec<ForecastFileRow>, Vec<String>> {
    let text = text.trim_start_matches('\u{FEFF}');
    let mut lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    let Some(first) = lines.first() else {
        return Err(vec![line_error(1, "Imported forecast file is empty.")]);
    };
    let separator = if first.contains(';') { ';' } else { ',' };
    if *first == HEADER || *first == HEADER.replace(',', ";") {
        lines.remove(0);
    }
    let mut rows = Vec::with_capacity(lines.len());
    let mut errors = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        match extract(line, separator, &skill.zone, i + 1) {
            Ok(extracted) => rows.extend(extracted),
            Err(message) => errors.push(line_error(i + 1, &message)),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    match analyze(&rows, &skill.name, Some(skill.resolution_minutes)) {
        Some(error) => Err(vec![error]),
        None => Ok(rows),
    }
}

/// [`validate`] on bytes: invalid UTF-8 becomes U+FFFD, as .NET's decoder does.
pub fn validate_bytes(
    bytes: &[u8],
    skill: &TargetSkill,
) -> Result<Vec<ForecastFileRow>, Vec<String>> {
    validate(&String::from_utf8_lossy(bytes), skill)
}

fn line_error(n: usize, message: &str) -> String {
    format!("Line {n}, Error:{message}")
}

/// One line → one row, or two for an ambiguous (fall-back) start: Teleopti's extractor plus its
/// content provider's duplication.
fn extract(
    line: &str,
    separator: char,
    zone: &TimeZone,
    row: usize,
) -> Result<Vec<ForecastFileRow>, String> {
    let fields: Vec<&str> = line.split(separator).collect();
    if fields.len() != 6 && fields.len() != 7 {
        return Err(format!(
            "There are more or less columns than expected when using '{separator}' as column separator."
        ));
    }
    let skill = fields[0];
    if skill.is_empty() {
        return Err("Skill name should not be empty".to_string());
    }
    if skill.encode_utf16().count() > MAX_SKILL_NAME {
        return Err(format!(
            "Skill name is longer than {MAX_SKILL_NAME} characters."
        ));
    }
    let local_from = parse_date_time(fields[1])?;
    let from = to_utc(local_from, zone)?;
    let local_to = parse_date_time(fields[2])?;
    let to = to_utc(local_to, zone)?;
    let tasks = parse_number(fields[3])?;
    let task_time_s = parse_number(fields[4])?;
    let after_task_time_s = parse_number(fields[5])?;
    let agents = fields.get(6).map(|v| parse_number(v)).transpose()?;

    let mut row = ForecastFileRow {
        row,
        skill: skill.to_string(),
        local_from,
        local_to,
        utc_from: from.instant,
        utc_to: to.instant,
        tasks,
        task_time_s,
        after_task_time_s,
        agents,
        fall_back_copy: false,
    };
    if let Some(delta) = from.fold_delta {
        // Teleopti converts an ambiguous time as standard time (the later instant) and adds a copy of
        // the row shifted back by the daylight delta (the earlier occurrence), before the row.
        let copy = ForecastFileRow {
            utc_from: row.utc_from - delta,
            utc_to: row.utc_to - delta,
            fall_back_copy: true,
            ..row.clone()
        };
        return Ok(vec![copy, row]);
    }
    if let Some(delta) = to.fold_delta {
        // Only the end is ambiguous: it is the earlier occurrence.
        row.utc_to -= delta;
    }
    Ok(vec![row])
}

/// A local time converted as .NET does: the later instant of a fold (standard time), with the fold's
/// daylight delta; an error for a time in a gap.
struct Converted {
    instant: Timestamp,
    fold_delta: Option<SignedDuration>,
}

fn to_utc(local: DateTime, zone: &TimeZone) -> Result<Converted, String> {
    match zone.to_ambiguous_timestamp(local).offset() {
        AmbiguousOffset::Unambiguous { offset } => Ok(Converted {
            instant: offset
                .to_timestamp(local)
                .map_err(|e| format!("{local} cannot be converted: {e}"))?,
            fold_delta: None,
        }),
        AmbiguousOffset::Fold { before, after } => Ok(Converted {
            instant: after
                .to_timestamp(local)
                .map_err(|e| format!("{local} cannot be converted: {e}"))?,
            fold_delta: Some(SignedDuration::from_secs(i64::from(
                before.seconds() - after.seconds(),
            ))),
        }),
        AmbiguousOffset::Gap { .. } => Err(format!(
            "{:02}/{:02}/{:04} {:02}:{:02}:{:02} is invalid time.",
            local.month(),
            local.day(),
            local.year(),
            local.hour(),
            local.minute(),
            local.second()
        )),
    }
}

/// `yyyyMMdd H:mm` or `yyyy-MM-dd H:mm`, exactly (no surrounding spaces).
fn parse_date_time(value: &str) -> Result<DateTime, String> {
    parse_date_time_exact(value).ok_or_else(|| {
        format!("Date time format of {value} is wrong. Supported formats are: {DATE_TIME_FORMATS}")
    })
}

fn parse_date_time_exact(value: &str) -> Option<DateTime> {
    let (date, time) = value.split_once(' ')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (y, m, d) = if date.len() == 8 && digits(date) {
        (&date[0..4], &date[4..6], &date[6..8])
    } else if date.len() == 10 && date.as_bytes()[4] == b'-' && date.as_bytes()[7] == b'-' {
        (&date[0..4], &date[5..7], &date[8..10])
    } else {
        return None;
    };
    if !(digits(y) && digits(m) && digits(d)) {
        return None;
    }
    let (h, min) = time.split_once(':')?;
    if !(digits(h) && h.len() <= 2 && digits(min) && min.len() == 2) {
        return None;
    }
    let date = Date::new(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?).ok()?;
    let time = jiff::civil::Time::new(h.parse().ok()?, min.parse().ok()?, 0, 0).ok()?;
    Some(date.to_datetime(time))
}

/// .NET `double.TryParse(v, NumberStyles.AllowDecimalPoint, en-US)`: digits with at most one decimal
/// point and at least one digit; no sign, spaces, grouping or exponent.
fn parse_number(value: &str) -> Result<f64, String> {
    let bytes = value.as_bytes();
    let points = bytes.iter().filter(|&&b| b == b'.').count();
    let digit_count = bytes.iter().filter(|b| b.is_ascii_digit()).count();
    let ok = points <= 1 && digit_count > 0 && digit_count + points == bytes.len();
    if !ok {
        return Err(format!("{value} should be a double value."));
    }
    // "5." and ".5" are valid .NET decimals; Rust's parser takes both as well.
    value
        .parse::<f64>()
        .map_err(|_| format!("{value} should be a double value."))
}

/// The whole-file checks of Teleopti's analysis, over the rows after duplication; the first error.
/// `resolution_minutes` is the target skill's; `None` checks only the uniformity of the lengths
/// (which, after the resolution check, can only fail when the resolution is not checked).
fn analyze(
    rows: &[ForecastFileRow],
    target_skill: &str,
    resolution_minutes: Option<u32>,
) -> Option<String> {
    let mut previous_skill: Option<&str> = None;
    let mut previous_length: Option<SignedDuration> = None;
    for (i, row) in rows.iter().enumerate() {
        let n = i + 1;
        if previous_skill.is_some_and(|p| p != row.skill) {
            return Some(line_error(
                n,
                "There exists multiple skill names in the file.",
            ));
        }
        let length = row.utc_to.duration_since(row.utc_from);
        if let Some(minutes) = resolution_minutes
            && length != SignedDuration::from_mins(i64::from(minutes))
        {
            return Some(line_error(
                n,
                &format!("Interval does not match the target skill: {target_skill}."),
            ));
        }
        if previous_length.is_some_and(|p| p != length) {
            return Some(line_error(n, "Intervals do not have the same length."));
        }
        previous_skill = Some(&row.skill);
        previous_length = Some(length);
    }
    None
}

impl intake::Intake for ForecastImportHandle {
    const DESCRIPTION: &'static str = "Calabrio forecast import";

    fn authorized(&self, headers: &HeaderMap) -> bool {
        ForecastImportHandle::authorized(self, headers)
    }

    fn snapshot_response(&self) -> Response {
        axum::Json(self.snapshot()).into_response()
    }

    fn clear(&self) {
        ForecastImportHandle::clear(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skill(minutes: u32) -> TargetSkill {
        TargetSkill {
            name: "Support".to_string(),
            resolution_minutes: minutes,
            zone: TimeZone::get("Europe/Stockholm").unwrap(),
        }
    }

    fn errors(text: &str, minutes: u32) -> Vec<String> {
        validate(text, &skill(minutes)).unwrap_err()
    }

    const GOOD: &str = "Support,20250301 8:00,20250301 8:15,12.5,180,30,4.2\r\n";

    #[test]
    fn header_is_optional_and_bom_and_empty_lines_are_ignored() {
        let parsed = validate(&format!("\u{FEFF}{GOOD}\r\n{GOOD}"), &skill(15)).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[1].row, 2);
        let semi = "skillname;startdatetime;enddatetime;tasks;tasktime;aftertasktime;agents\r\n\
                    Support;2025-03-01 08:00;2025-03-01 08:15;12.5;180;30\r\n";
        let parsed = validate(semi, &skill(15)).unwrap();
        assert_eq!(parsed.len(), 1);
        assert_eq!(parsed[0].tasks, 12.5);
    }

    #[test]
    fn each_rule_has_its_exact_text() {
        assert_eq!(
            errors("", 15),
            ["Line 1, Error:Imported forecast file is empty."]
        );
        assert_eq!(
            errors("\r\n\r\n", 15),
            ["Line 1, Error:Imported forecast file is empty."]
        );
        // LF-only: one line, too many columns.
        assert_eq!(
            errors(&GOOD.replace("\r\n", "\n").repeat(2), 15),
            [
                "Line 1, Error:There are more or less columns than expected when using ',' as column separator."
            ]
        );
        assert_eq!(
            errors("Support;20250301 8:00;20250301 8:15;1;2\r\n", 15),
            [
                "Line 1, Error:There are more or less columns than expected when using ';' as column separator."
            ]
        );
        assert_eq!(
            errors(&format!("{GOOD},20250301 8:15,20250301 8:30,1,2,3\r\n"), 15),
            ["Line 2, Error:Skill name should not be empty"]
        );
        assert_eq!(
            errors(
                &format!("{},20250301 8:00,20250301 8:15,1,2,3\r\n", "å".repeat(51)),
                15
            ),
            ["Line 1, Error:Skill name is longer than 50 characters."]
        );
        assert_eq!(
            errors("Support,2025-03-01T08:00,20250301 8:15,1,2,3\r\n", 15),
            [
                "Line 1, Error:Date time format of 2025-03-01T08:00 is wrong. Supported formats are: yyyyMMdd H:mm,yyyy-MM-dd H:mm"
            ]
        );
        assert_eq!(
            errors("Support,20250301 8:00,20250301 24:00,1,2,3\r\n", 15),
            [
                "Line 1, Error:Date time format of 20250301 24:00 is wrong. Supported formats are: yyyyMMdd H:mm,yyyy-MM-dd H:mm"
            ]
        );
        // 2025-03-30 02:30 does not exist in Stockholm.
        assert_eq!(
            errors("Support,20250330 2:30,20250330 3:00,1,2,3\r\n", 30),
            ["Line 1, Error:03/30/2025 02:30:00 is invalid time."]
        );
        for bad in ["-1", "+1", "1,5", "1e3", " 1", "", "1.2.3", "NaN", "."] {
            let line = format!("Support;20250301 8:00;20250301 8:15;{bad};180;30\r\n");
            assert_eq!(
                errors(&line, 15),
                [format!("Line 1, Error:{bad} should be a double value.")],
                "{bad:?}"
            );
        }
        assert_eq!(
            errors("Support,20250301 8:00,20250301 8:15,1,2,3,many\r\n", 15),
            ["Line 1, Error:many should be a double value."]
        );
        assert_eq!(
            errors(
                &format!("{GOOD}Sales,20250301 8:15,20250301 8:30,1,2,3\r\n"),
                15
            ),
            ["Line 2, Error:There exists multiple skill names in the file."]
        );
        assert_eq!(
            errors(
                &format!("{GOOD}support,20250301 8:15,20250301 8:30,1,2,3\r\n"),
                15
            ),
            ["Line 2, Error:There exists multiple skill names in the file."],
            "skill names compare case-sensitively"
        );
        assert_eq!(
            errors(GOOD, 30),
            ["Line 1, Error:Interval does not match the target skill: Support."]
        );
    }

    #[test]
    fn uniform_length_check_has_its_exact_text() {
        // Behind the resolution check this rule cannot fire; it can when no resolution is checked.
        let text = format!("{GOOD}Support,20250301 8:15,20250301 8:45,1,2,3\r\n");
        let parsed: Vec<ForecastFileRow> = text
            .split("\r\n")
            .filter(|l| !l.is_empty())
            .enumerate()
            .flat_map(|(i, l)| extract(l, ',', &skill(15).zone, i + 1).unwrap())
            .collect();
        assert_eq!(
            analyze(&parsed, "Support", None).as_deref(),
            Some("Line 2, Error:Intervals do not have the same length.")
        );
    }

    #[test]
    fn parse_errors_of_every_bad_row_are_listed_first_is_teleoptis() {
        let text = format!(
            "{GOOD}Support,x,20250301 8:30,1,2,3\r\nSupport,20250301 8:30,20250301 8:45,-2,2,3\r\n"
        );
        assert_eq!(
            errors(&text, 15),
            [
                "Line 2, Error:Date time format of x is wrong. Supported formats are: yyyyMMdd H:mm,yyyy-MM-dd H:mm",
                "Line 3, Error:-2 should be a double value."
            ]
        );
    }

    #[test]
    fn off_grid_rows_are_kept_for_the_import_to_skip() {
        let parsed = validate("Support,20250301 8:05,20250301 8:20,1,2,3\r\n", &skill(15)).unwrap();
        assert!(!parsed[0].on_grid(15));
    }

    #[test]
    fn fall_back_rows_are_duplicated_as_teleopti_does() {
        // Stockholm 2025-10-26: 02:00–03:00 local happens twice (00:00Z–01:00Z, then 01:00Z–02:00Z).
        let text = "Support,20251026 1:30,20251026 2:00,1,2,3\r\n\
                    Support,20251026 2:00,20251026 2:30,1,2,3\r\n\
                    Support,20251026 2:30,20251026 3:00,1,2,3\r\n\
                    Support,20251026 3:00,20251026 3:30,1,2,3\r\n";
        let rows = validate(text, &skill(30)).unwrap();
        let spans: Vec<(String, String, usize, bool)> = rows
            .iter()
            .map(|r| {
                (
                    r.utc_from.to_string(),
                    r.utc_to.to_string(),
                    r.row,
                    r.fall_back_copy,
                )
            })
            .collect();
        assert_eq!(
            spans,
            [
                (
                    "2025-10-25T23:30:00Z".into(),
                    "2025-10-26T00:00:00Z".into(),
                    1,
                    false
                ),
                (
                    "2025-10-26T00:00:00Z".into(),
                    "2025-10-26T00:30:00Z".into(),
                    2,
                    true
                ),
                (
                    "2025-10-26T01:00:00Z".into(),
                    "2025-10-26T01:30:00Z".into(),
                    2,
                    false
                ),
                (
                    "2025-10-26T00:30:00Z".into(),
                    "2025-10-26T01:00:00Z".into(),
                    3,
                    true
                ),
                (
                    "2025-10-26T01:30:00Z".into(),
                    "2025-10-26T02:00:00Z".into(),
                    3,
                    false
                ),
                (
                    "2025-10-26T02:00:00Z".into(),
                    "2025-10-26T02:30:00Z".into(),
                    4,
                    false
                ),
            ]
        );
        // The duplicates shift the numbers of the whole-file checks, as in Teleopti.
        let text = format!("{text}Sales,20251026 3:30,20251026 4:00,1,2,3\r\n");
        assert_eq!(
            errors(&text, 30),
            ["Line 7, Error:There exists multiple skill names in the file."]
        );
    }
}
