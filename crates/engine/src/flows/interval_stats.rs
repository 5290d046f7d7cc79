//! Flow kind `interval_stats`: the previous day's interval statistics, sent daily as the Teleopti
//! three files (or CSV/JSON), and days already sent sent again when late data changes them.
//!
//! Each run:
//! 1. finds the days that are complete and not sent yet: a local day is complete once its last
//!    interval closed `capture_delay` ago (15 minutes by default, as Calabrio ONE waits);
//! 2. follows the change feeds of segments and agent states from where the last run stopped, and
//!    collects the days already sent that the changes touch, within `look_back` days;
//! 3. computes each of those days and writes its files to the outbox, together with the new
//!    position, in one transaction.
//!
//! Sending a day twice is harmless: the files of a day have fixed names and are replaced whole, and
//! an identical recomputation makes identical messages, which the outbox keeps once.

use std::collections::BTreeSet;

use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};
use wfm_connectors::accounts::{PropertyKind, PropertySpec, PropertyValue};
use wfm_connectors::targets::calabrio::historical::{StatsFormat, render};
use wfm_model::{IntervalLength, Record, RecordKind};
use wfm_store::{ChangeCursor, NewMessage, Store};
use xxhash_rust::xxh3::xxh3_64;

use super::{FlowError, FlowSettings, RunCounts};
use crate::clock::now_ms;
use crate::statistics;

/// Options of `interval_stats` flows.
pub const OPTIONS: &[PropertySpec] = &[
    PropertySpec {
        name: "capture_delay",
        kind: PropertyKind::Duration,
        required: false,
        secret: false,
        default: Some("15m"),
        help: "how long after a day's last interval closes the day is sent (late segments arrive)",
    },
    PropertySpec {
        name: "look_back",
        kind: PropertyKind::Integer,
        required: false,
        secret: false,
        default: Some("3"),
        help: "days back within which late data makes a day be computed and sent again",
    },
    PropertySpec {
        name: "interval",
        kind: PropertyKind::Integer,
        required: false,
        secret: false,
        default: None,
        help: "interval length in minutes (15, 30 or 60); default: the tenant's",
    },
    PropertySpec {
        name: "format",
        kind: PropertyKind::Text,
        required: false,
        secret: false,
        default: Some("teleopti"),
        help: "teleopti (the three Teleopti files), csv or json",
    },
    PropertySpec {
        name: "start",
        kind: PropertyKind::Text,
        required: false,
        secret: false,
        default: None,
        help: "first local date to send (YYYY-MM-DD); default: the day before the flow first runs",
    },
];

/// Most days one run sends, so that a long outage catches up in steps.
const MAX_DAYS_PER_RUN: usize = 31;

/// Changes read per page while looking for late data.
const CHANGE_PAGE: usize = 10_000;

/// Where the flow is: the next day to send, and how far it has followed the change feeds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Position {
    next_day: Date,
    segments: ChangeCursor,
    states: ChangeCursor,
}

/// Checks the options that the property schema cannot: allowed values and dates.
pub fn check_options(flow: &FlowSettings) -> Result<(), String> {
    if let Some(PropertyValue::Integer(m)) = flow.options.get("interval")
        && IntervalLength::from_minutes(u32::try_from(*m).unwrap_or(0)).is_none()
    {
        return Err(format!("interval is {m}; it must be 15, 30 or 60"));
    }
    if let Some(PropertyValue::Text(f)) = flow.options.get("format")
        && StatsFormat::parse(f).is_none()
    {
        return Err(format!("format {f:?} is not teleopti, csv or json"));
    }
    if let Some(PropertyValue::Text(d)) = flow.options.get("start")
        && d.parse::<Date>().is_err()
    {
        return Err(format!("start {d:?} is not a date (YYYY-MM-DD)"));
    }
    if let Some(PropertyValue::Integer(n)) = flow.options.get("look_back")
        && !(0..=366).contains(n)
    {
        return Err(format!("look_back is {n}; write 0 to 366 days"));
    }
    Ok(())
}

/// The store cursor of a flow.
fn cursor_name(flow: &str) -> String {
    format!("flow:{flow}")
}

pub async fn execute(
    store: &dyn Store,
    flow: &FlowSettings,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Result<RunCounts, FlowError> {
    let text = |name: &str| match flow.options.get(name) {
        Some(PropertyValue::Text(t)) => Some(t.clone()),
        _ => None,
    };
    let capture_delay = match flow.options.get("capture_delay") {
        Some(PropertyValue::Duration(d)) => *d,
        _ => std::time::Duration::from_secs(15 * 60),
    };
    let look_back = flow.integer("look_back").unwrap_or(3);
    let interval = flow
        .integer("interval")
        .and_then(|m| IntervalLength::from_minutes(u32::try_from(m).ok()?));
    let format = text("format")
        .and_then(|f| StatsFormat::parse(&f))
        .unwrap_or(StatsFormat::Teleopti);

    let tenant = store
        .tenants()
        .await?
        .into_iter()
        .find(|t| t.tenant == flow.tenant)
        .ok_or_else(|| {
            FlowError::Statistics(statistics::StatisticsError::UnknownTenant(
                flow.tenant.clone(),
            ))
        })?;
    let grid = tenant.grid().map_err(|e| FlowError::Tenant {
        tenant: tenant.tenant.clone(),
        message: e.to_string(),
    })?;
    let now = Timestamp::from_millisecond(now_ms()).expect("now is a valid instant");
    let today = grid.zone().to_datetime(now).date();

    let name = cursor_name(&flow.name);
    let position = match store.cursor(&name).await? {
        Some(text) => serde_json::from_str(&text).map_err(|e| FlowError::Cursor {
            flow: flow.name.clone(),
            error: e.to_string(),
        })?,
        None => Position {
            next_day: match text("start") {
                Some(d) => d.parse().expect("checked with the configuration"),
                None => today.yesterday().expect("today has a yesterday"),
            },
            segments: store
                .change_head(RecordKind::Interactions, &flow.tenant)
                .await?,
            states: store.change_head(RecordKind::States, &flow.tenant).await?,
        },
    };

    // 1. Complete days not sent yet.
    let mut days: BTreeSet<Date> = BTreeSet::new();
    let mut next_day = position.next_day;
    while days.len() < MAX_DAYS_PER_RUN {
        let day_end = grid.day_start(next_day.tomorrow().expect("dates have a next day"));
        let complete_at = day_end
            .checked_add(jiff::SignedDuration::try_from(capture_delay).unwrap_or_default())
            .unwrap_or(day_end);
        if now < complete_at {
            break;
        }
        days.insert(next_day);
        next_day = next_day.tomorrow().expect("dates have a next day");
    }

    // 2. Days already sent that late data changed.
    let oldest = today.checked_sub(look_back.days()).unwrap_or(today);
    let touched = |date: Date, days: &mut BTreeSet<Date>| {
        if date < position.next_day && date >= oldest {
            days.insert(date);
        }
    };
    let mut counts = RunCounts::default();
    let mut segments = position.segments.clone();
    let mut states = position.states.clone();
    for (kind, cursor) in [
        (RecordKind::Interactions, &mut segments),
        (RecordKind::States, &mut states),
    ] {
        loop {
            if *stop.borrow() {
                return Ok(counts);
            }
            let page = store
                .changes(kind, &flow.tenant, cursor, CHANGE_PAGE)
                .await?;
            for change in &page {
                counts.read += 1;
                match &change.record {
                    Record::Segment(s) => touched(grid.label_of(s.offered_at).date, &mut days),
                    Record::State(e) => {
                        // A state holds until the agent's next event, possibly into the next day.
                        let date = grid.label_of(e.at).date;
                        touched(date, &mut days);
                        if let Ok(next) = date.tomorrow() {
                            touched(next, &mut days);
                        }
                    }
                    _ => {}
                }
            }
            match page.last() {
                Some(last) => *cursor = last.cursor.clone(),
                None => break,
            }
            if page.len() < CHANGE_PAGE {
                break;
            }
        }
    }

    // 3. Compute and queue each day, then save the position with the messages.
    let mut messages = Vec::new();
    for day in &days {
        let stats = statistics::compute(store, &flow.tenant, *day, *day, interval)
            .await
            .map_err(FlowError::Statistics)?;
        let files = render(&stats, format).map_err(|e| FlowError::Render(e.to_string()))?;
        for file in files {
            let digest = xxh3_64(&file.bytes);
            messages.push(NewMessage {
                flow: flow.name.clone(),
                key: format!("{}:{day}", flow.tenant),
                idempotency_key: format!("{}:{day}:{}:{digest:016x}", flow.name, file.name),
                name: file.name,
                content_type: file.content_type.to_string(),
                payload: file.bytes,
            });
        }
        tracing::info!(flow = %flow.name, %day, rows = stats.row_count(), "statistics computed");
    }
    let position = Position {
        next_day,
        segments,
        states,
    };
    let mut tx = store.begin().await?;
    counts.sent = tx.enqueue(messages, now_ms()).await?;
    tx.set_cursor(
        &name,
        &serde_json::to_string(&position).expect("positions serialize"),
    )
    .await?;
    tx.commit().await?;
    Ok(counts)
}
