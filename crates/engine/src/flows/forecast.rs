//! Flow kind `forecast`: once a day, the forecast of the next `days` days (14 by default) for every
//! Calabrio skill the flow maps queues to, with the staffing each interval needs, as one Calabrio
//! forecast file per skill (reference/calabrio.md §4) in the outbox, for the file transports
//! (`files`, `sftp`, `http` multipart) — as `interval_stats` sends its files.
//!
//! Each run:
//! 1. finds the first day to forecast: tomorrow in the tenant's zone. If this flow already sent the
//!    forecast from that day (and, with `import`, the same file), the run does nothing (runs more
//!    often than daily are cheap);
//! 2. per skill of `[flows.skills]` (queue id → skill name; several queues may share a skill),
//!    either computes the forecast from the store — the contacts offered to the skill's queues over
//!    the last `history_days` complete days, with their handle time, closed days left out, the
//!    method chosen by backtest (`wfm_forecast`) — or, with `import`, takes it from an external
//!    forecast file (`wfm_forecast::external`);
//! 3. staffs every interval by Erlang C (Erlang A with `patience`) for the service-level/ASA target,
//!    occupancy cap and shrinkage;
//! 4. writes one file per skill to the outbox together with the flow's position, in one
//!    transaction. A file's idempotency key carries a digest of its bytes, so an identical file is
//!    kept once.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};
use wfm_connectors::accounts::{PropertyKind, PropertySpec, PropertyValue};
use wfm_connectors::targets::calabrio::forecast::{
    DefaultHandleTime, file_name, rows_from_forecast, write_file,
};
use wfm_forecast::{
    Calendar, Forecast, ForecastConfig, ForecastPoint, IntervalSeries, Load, Method, MethodChoice,
    Observation, ServiceLevelTarget, Staffing, Targets, erlang_a_staffing, erlang_c_metrics,
    erlang_c_staffing, scheduled_agents,
};
use wfm_model::{IntervalGrid, IntervalLength};
use wfm_store::{NewMessage, OfferedPosition, Store};
use xxhash_rust::xxh3::xxh3_64;

use super::{FlowError, FlowSettings, RunCounts};
use crate::clock::now_ms;

/// Options of `forecast` flows.
pub const OPTIONS: &[PropertySpec] = &[
    PropertySpec {
        name: "skills",
        kind: PropertyKind::Map,
        required: true,
        secret: false,
        default: None,
        help: "Calabrio skill name by queue id (queues sharing a skill are forecast together)",
    },
    PropertySpec {
        name: "days",
        kind: PropertyKind::Integer,
        required: false,
        secret: false,
        default: Some("14"),
        help: "days forecast, from tomorrow",
    },
    PropertySpec {
        name: "history_days",
        kind: PropertyKind::Integer,
        required: false,
        secret: false,
        default: Some("70"),
        help: "complete days of history the forecast learns from",
    },
    PropertySpec {
        name: "interval",
        kind: PropertyKind::Integer,
        required: false,
        secret: false,
        default: None,
        help: "interval length in minutes (15, 30 or 60) = the skills' resolution; default: the tenant's",
    },
    PropertySpec {
        name: "method",
        kind: PropertyKind::Text,
        required: false,
        secret: false,
        default: Some("auto"),
        help: "auto (chosen per skill by backtest), profile, baseline or last_week",
    },
    PropertySpec {
        name: "closed",
        kind: PropertyKind::Text,
        required: false,
        secret: false,
        default: None,
        help: "dates the center is closed (holidays), comma-separated YYYY-MM-DD: left out of history and forecast",
    },
    PropertySpec {
        name: "import",
        kind: PropertyKind::Path,
        required: false,
        secret: false,
        default: None,
        help: "an external forecast CSV (queue,start,calls[,aht,acw]) to send instead of computing one",
    },
    PropertySpec {
        name: "service_level",
        kind: PropertyKind::Text,
        required: false,
        secret: false,
        default: Some("0.8/20"),
        help: "service-level target FRACTION/SECONDS (80/20 works too), or none",
    },
    PropertySpec {
        name: "asa",
        kind: PropertyKind::Duration,
        required: false,
        secret: false,
        default: None,
        help: "average speed of answer not to exceed (e.g. 15s)",
    },
    PropertySpec {
        name: "max_occupancy",
        kind: PropertyKind::Integer,
        required: false,
        secret: false,
        default: None,
        help: "occupancy not to exceed, in percent (e.g. 85)",
    },
    PropertySpec {
        name: "shrinkage",
        kind: PropertyKind::Integer,
        required: false,
        secret: false,
        default: Some("0"),
        help: "percent of paid time off the phones; agents sent = on the phones / (1 - shrinkage)",
    },
    PropertySpec {
        name: "patience",
        kind: PropertyKind::Duration,
        required: false,
        secret: false,
        default: None,
        help: "callers' mean patience: staff by Erlang A (with abandonment) instead of Erlang C",
    },
    PropertySpec {
        name: "agents",
        kind: PropertyKind::Bool,
        required: false,
        secret: false,
        default: Some("true"),
        help: "send the agents column (Calabrio's manual agents)",
    },
    PropertySpec {
        name: "default_aht",
        kind: PropertyKind::Duration,
        required: false,
        secret: false,
        default: Some("180s"),
        help: "handle time where the history or the imported file has none",
    },
    PropertySpec {
        name: "default_acw",
        kind: PropertyKind::Duration,
        required: false,
        secret: false,
        default: Some("0s"),
        help: "its after-contact-work part",
    },
];

/// Segments read per page.
const PAGE: usize = 20_000;

/// Where the flow is: the first day of the last forecast it sent, and with `import` a digest of the
/// file it sent (a changed file is sent again the same day).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Position {
    sent_from: Date,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    import_digest: Option<u64>,
}

fn text(flow: &FlowSettings, name: &str) -> Option<String> {
    match flow.options.get(name) {
        Some(PropertyValue::Text(t)) => Some(t.clone()),
        _ => None,
    }
}

fn duration_s(flow: &FlowSettings, name: &str) -> Option<f64> {
    match flow.options.get(name) {
        Some(PropertyValue::Duration(d)) => Some(d.as_secs_f64()),
        _ => None,
    }
}

fn skills(flow: &FlowSettings) -> BTreeMap<String, String> {
    match flow.options.get("skills") {
        Some(PropertyValue::Map(m)) => m.clone(),
        _ => BTreeMap::new(),
    }
}

fn parse_method(text: &str) -> Option<MethodChoice> {
    if text == "auto" {
        Some(MethodChoice::Auto)
    } else {
        Method::parse(text).map(MethodChoice::Fixed)
    }
}

fn parse_closed(text: &str) -> Result<Vec<Date>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            d.parse::<Date>()
                .map_err(|_| format!("closed: {d:?} is not a date (YYYY-MM-DD)"))
        })
        .collect()
}

fn parse_sl(text: &str) -> Result<Option<ServiceLevelTarget>, String> {
    if text.eq_ignore_ascii_case("none") {
        Ok(None)
    } else {
        ServiceLevelTarget::parse(text)
            .map(Some)
            .map_err(|e| format!("service_level: {e}"))
    }
}

/// Checks the options that the property schema cannot.
pub fn check_options(flow: &FlowSettings) -> Result<(), String> {
    let map = skills(flow);
    if map.is_empty() {
        return Err(
            "skills is empty; map each queue id to its Calabrio skill, e.g. [flows.skills] support = \"Support\""
                .to_string(),
        );
    }
    for (queue, skill) in &map {
        // The writer's rules: the file has no quoting and Calabrio takes at most 50 characters.
        if skill.is_empty()
            || skill.encode_utf16().count() > 50
            || skill.contains([',', ';'])
            || skill.chars().any(char::is_control)
        {
            return Err(format!(
                "skills: queue {queue:?} maps to {skill:?}; a Calabrio skill name has 1 to 50 characters and no comma, semicolon or line break"
            ));
        }
    }
    if let Some(PropertyValue::Integer(m)) = flow.options.get("interval")
        && IntervalLength::from_minutes(u32::try_from(*m).unwrap_or(0)).is_none()
    {
        return Err(format!("interval is {m}; it must be 15, 30 or 60"));
    }
    if let Some(PropertyValue::Integer(n)) = flow.options.get("days")
        && !(1..=366).contains(n)
    {
        return Err(format!("days is {n}; write 1 to 366"));
    }
    if let Some(PropertyValue::Integer(n)) = flow.options.get("history_days")
        && !(7..=3660).contains(n)
    {
        return Err(format!(
            "history_days is {n}; write 7 to 3660 (at least a week of history)"
        ));
    }
    if let Some(m) = text(flow, "method")
        && parse_method(&m).is_none()
    {
        return Err(format!(
            "method {m:?} is not auto, profile, baseline or last_week"
        ));
    }
    if let Some(c) = text(flow, "closed") {
        parse_closed(&c)?;
    }
    if let Some(sl) = text(flow, "service_level") {
        parse_sl(&sl)?;
    }
    for (name, range, unit) in [
        ("max_occupancy", 1..=100, "percent above 0, at most 100"),
        ("shrinkage", 0..=99, "percent from 0 to 99"),
    ] {
        if let Some(PropertyValue::Integer(n)) = flow.options.get(name)
            && !range.contains(n)
        {
            return Err(format!("{name} is {n}; write {unit}"));
        }
    }
    if let Some(aht) = duration_s(flow, "default_aht")
        && aht <= 0.0
    {
        return Err("default_aht must be more than 0s".to_string());
    }
    if let (Some(aht), Some(acw)) = (
        duration_s(flow, "default_aht"),
        duration_s(flow, "default_acw"),
    ) && acw > aht
    {
        return Err("default_acw is more than default_aht; it is a part of it".to_string());
    }
    Ok(())
}

/// The store cursor of a flow.
fn cursor_name(flow: &str) -> String {
    format!("flow:{flow}")
}

/// Everything the flow's options say about staffing.
struct StaffingPlan {
    targets: Targets,
    patience_s: Option<f64>,
    defaults: DefaultHandleTime,
}

impl StaffingPlan {
    fn of(flow: &FlowSettings) -> StaffingPlan {
        let percent = |name: &str| match flow.options.get(name) {
            Some(PropertyValue::Integer(n)) => Some(*n as f64 / 100.0),
            _ => None,
        };
        StaffingPlan {
            targets: Targets {
                service_level: text(flow, "service_level")
                    .map_or(Ok(None), |t| parse_sl(&t))
                    .unwrap_or(None),
                asa_s: duration_s(flow, "asa"),
                max_occupancy: percent("max_occupancy"),
                shrinkage: percent("shrinkage").unwrap_or(0.0),
            },
            patience_s: duration_s(flow, "patience"),
            defaults: DefaultHandleTime {
                aht_s: duration_s(flow, "default_aht").unwrap_or(180.0),
                acw_s: duration_s(flow, "default_acw").unwrap_or(0.0),
            },
        }
    }

    /// The staffing of every point (same order); agents = scheduled agents (after shrinkage).
    fn staff(&self, forecast: &Forecast) -> Result<Vec<Staffing>, String> {
        forecast
            .points
            .iter()
            .map(|p| {
                let interval_s = p.end.duration_since(p.start).as_secs_f64();
                let aht = p.aht_s.unwrap_or(self.defaults.aht_s);
                let load = Load::new(p.contacts, interval_s, aht).map_err(|e| e.to_string())?;
                let mut staffing = match self.patience_s {
                    None => erlang_c_staffing(&load, &self.targets).map_err(|e| e.to_string())?,
                    Some(patience) => {
                        let (agents, _) = erlang_a_staffing(&load, &self.targets, patience)
                            .map_err(|e| e.to_string())?;
                        Staffing {
                            agents,
                            scheduled: scheduled_agents(agents, self.targets.shrinkage),
                            metrics: erlang_c_metrics(
                                &load,
                                agents.max(1),
                                self.targets.threshold_s(),
                            ),
                        }
                    }
                };
                // Calabrio gets the agents to schedule: the file's agents column is what planners
                // staff to.
                staffing.agents = staffing.scheduled;
                Ok(staffing)
            })
            .collect()
    }
}

/// One run (see the module comment).
pub async fn execute(
    store: &dyn Store,
    flow: &FlowSettings,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Result<RunCounts, FlowError> {
    let tenant_error = |tenant: &str, message: String| FlowError::Tenant {
        tenant: tenant.to_string(),
        message,
    };
    let tenant = store
        .tenants()
        .await?
        .into_iter()
        .find(|t| t.tenant == flow.tenant)
        .ok_or_else(|| {
            tenant_error(
                &flow.tenant,
                "is not in the store (import its tenants file or configure it)".to_string(),
            )
        })?;
    let mut grid = tenant
        .grid()
        .map_err(|e| tenant_error(&tenant.tenant, e.to_string()))?;
    if let Some(m) = flow
        .integer("interval")
        .and_then(|m| IntervalLength::from_minutes(u32::try_from(m).ok()?))
    {
        grid = IntervalGrid::new(grid.zone().clone(), m);
    }
    let now = Timestamp::from_millisecond(now_ms()).expect("now is a valid instant");
    let today = grid.zone().to_datetime(now).date();
    let from = today.tomorrow().expect("today has a tomorrow");
    let days = flow.integer("days").unwrap_or(14) as u32;
    let to = from
        .checked_add(i64::from(days - 1).days())
        .expect("a forecast horizon within the calendar");

    // With `import`, the external file is read first: a new version of it is news.
    let import = match text(flow, "import") {
        Some(path) => {
            let bytes = std::fs::read(&path).map_err(|e| {
                FlowError::Render(format!("cannot read the external forecast {path}: {e}"))
            })?;
            Some((path, xxh3_64(&bytes), bytes))
        }
        None => None,
    };
    let import_digest = import.as_ref().map(|(_, digest, _)| *digest);

    let name = cursor_name(&flow.name);
    if let Some(text) = store.cursor(&name).await? {
        let position: Position = serde_json::from_str(&text).map_err(|e| FlowError::Cursor {
            flow: flow.name.clone(),
            error: e.to_string(),
        })?;
        if position.sent_from >= from && position.import_digest == import_digest {
            return Ok(RunCounts::default());
        }
    }

    let skill_of = skills(flow);
    let mut queues_of: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (queue, skill) in &skill_of {
        queues_of
            .entry(skill.clone())
            .or_default()
            .insert(queue.clone());
    }
    let closed = text(flow, "closed")
        .map(|c| parse_closed(&c).expect("checked with the configuration"))
        .unwrap_or_default();
    let plan = StaffingPlan::of(flow);
    let mut counts = RunCounts::default();

    let forecasts: BTreeMap<String, Forecast> = match import {
        Some((path, _, bytes)) => {
            let by_queue =
                wfm_forecast::external::read_external(&bytes, &grid).map_err(|errors| {
                    let lines: Vec<String> = errors
                        .iter()
                        .map(|e| format!("{path}:{}: {}", e.line, e.message))
                        .collect();
                    FlowError::Render(format!(
                        "the external forecast is not valid; nothing was sent:\n{}",
                        lines.join("\n")
                    ))
                })?;
            counts.read = by_queue.values().map(|f| f.points.len() as u64).sum();
            queues_of
                .iter()
                .map(|(skill, queues)| {
                    let parts: Vec<&Forecast> =
                        queues.iter().filter_map(|q| by_queue.get(q)).collect();
                    (skill.clone(), merge(&parts, from, to, &grid, &closed))
                })
                .collect()
        }
        None => {
            let history_days = flow.integer("history_days").unwrap_or(70);
            let start = grid.day_start(
                from.checked_sub(history_days.days())
                    .expect("history within the calendar"),
            );
            // Complete days only: today's contacts are still coming in.
            let end = grid.day_start(today);
            if *stop.borrow() {
                return Ok(counts);
            }
            let (mut observations, read) =
                offered_history(store, &tenant.tenant, &skill_of, start, end).await?;
            counts.read += read;
            let config = ForecastConfig {
                method: text(flow, "method")
                    .and_then(|m| parse_method(&m))
                    .unwrap_or_default(),
                ..ForecastConfig::default()
            };
            let mut out = BTreeMap::new();
            for skill in queues_of.keys() {
                let history = observations.remove(skill).unwrap_or_default();
                let forecast = if history.is_empty() {
                    empty()
                } else {
                    let series = IntervalSeries::build(
                        grid.clone(),
                        Calendar::with_closed(closed.iter().copied()),
                        history,
                    )
                    .map_err(|e| FlowError::Render(format!("skill {skill}: {e}")))?;
                    wfm_forecast::forecast(&series, from, days, &config)
                };
                out.insert(skill.clone(), forecast);
            }
            out
        }
    };

    let mut messages = Vec::new();
    let with_agents = !matches!(flow.options.get("agents"), Some(PropertyValue::Bool(false)));
    for (skill, forecast) in &forecasts {
        if forecast.points.is_empty() {
            tracing::warn!(flow = %flow.name, %skill, "no history (or no imported rows) for the skill: no forecast file");
            continue;
        }
        let staffing = if with_agents {
            Some(
                plan.staff(forecast)
                    .map_err(|e| FlowError::Render(format!("skill {skill}: {e}")))?,
            )
        } else {
            None
        };
        let rows = rows_from_forecast(
            forecast,
            grid.zone(),
            grid.length(),
            staffing.as_deref(),
            plan.defaults,
        );
        let text = write_file(skill, &rows).map_err(|e| FlowError::Render(e.to_string()))?;
        let bytes = text.into_bytes();
        let file = file_name(skill, from, to);
        let digest = xxh3_64(&bytes);
        tracing::info!(flow = %flow.name, %skill, method = %forecast.method, intervals = rows.len(), "forecast computed");
        messages.push(NewMessage {
            flow: flow.name.clone(),
            key: format!("{}:{skill}", flow.tenant),
            idempotency_key: format!("{}:{file}:{digest:016x}", flow.name),
            name: file,
            content_type: "text/csv".to_string(),
            payload: bytes,
        });
    }
    let mut tx = store.begin().await?;
    counts.sent = tx.enqueue(messages, now_ms()).await?;
    tx.set_cursor(
        &name,
        &serde_json::to_string(&Position {
            sent_from: from,
            import_digest,
        })
        .expect("positions serialize"),
    )
    .await?;
    tx.commit().await?;
    Ok(counts)
}

/// The contacts offered in `[start, end)` to the queues of `group_of` (queue id → group), as
/// observations per group: one per segment, with its handle time (talk + hold + after-contact work)
/// when it was answered. Also the number of segments read.
pub async fn offered_history(
    store: &dyn Store,
    tenant: &str,
    group_of: &BTreeMap<String, String>,
    start: Timestamp,
    end: Timestamp,
) -> Result<(BTreeMap<String, Vec<Observation>>, u64), wfm_store::StoreError> {
    let mut observations: BTreeMap<String, Vec<Observation>> = BTreeMap::new();
    let mut read = 0;
    let mut after: Option<OfferedPosition> = None;
    loop {
        let page = store
            .segments_offered(
                tenant,
                start.as_millisecond(),
                end.as_millisecond(),
                after.as_ref(),
                PAGE,
            )
            .await?;
        read += page.len() as u64;
        for s in &page {
            let Some(group) = s.queue.as_deref().and_then(|q| group_of.get(q)) else {
                continue;
            };
            let mut o = Observation::count(s.offered_at, 1.0);
            if s.answered_at.is_some() {
                o = o.with_handle(
                    1.0,
                    f64::from(s.talk_s) + f64::from(s.hold_s) + f64::from(s.acw_s),
                    f64::from(s.acw_s),
                );
            }
            observations.entry(group.clone()).or_default().push(o);
        }
        match page.last() {
            Some(last) if page.len() == PAGE => after = Some(OfferedPosition::of(last)),
            _ => return Ok((observations, read)),
        }
    }
}

fn empty() -> Forecast {
    Forecast {
        method: Method::Profile,
        backtest: None,
        points: Vec::new(),
    }
}

/// The imported forecasts of a skill's queues in `from..=to` (local dates), open days only: contacts
/// summed per interval, handle times weighted by contacts.
fn merge(
    parts: &[&Forecast],
    from: Date,
    to: Date,
    grid: &IntervalGrid,
    closed: &[Date],
) -> Forecast {
    // (contacts, aht × contacts, contacts with aht, acw × contacts, contacts with acw)
    let mut sums: BTreeMap<Timestamp, (ForecastPoint, [f64; 5])> = BTreeMap::new();
    for f in parts {
        for p in &f.points {
            let date = grid.label_of(p.start).date;
            if date < from || date > to || closed.contains(&date) {
                continue;
            }
            let entry = sums.entry(p.start).or_insert((*p, [0.0; 5]));
            let s = &mut entry.1;
            s[0] += p.contacts;
            if let Some(aht) = p.aht_s {
                s[1] += aht * p.contacts.max(1e-9);
                s[2] += p.contacts.max(1e-9);
            }
            if let Some(acw) = p.acw_s {
                s[3] += acw * p.contacts.max(1e-9);
                s[4] += p.contacts.max(1e-9);
            }
        }
    }
    let points = sums
        .into_values()
        .map(|(mut p, s)| {
            p.contacts = s[0];
            p.aht_s = (s[2] > 0.0).then(|| s[1] / s[2]);
            p.acw_s = (s[4] > 0.0).then(|| s[3] / s[4]);
            p
        })
        .collect();
    Forecast {
        method: Method::Profile,
        backtest: None,
        points,
    }
}
