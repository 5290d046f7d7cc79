//! Reading and checking one Teleopti historical statistics file, as Calabrio's intake would
//! (pure: bytes in, rows or a list of errors out).
//!
//! The format is DESIGN §6: `;`-separated UTF-8, a type line (`Teleopti.Queue.Data`,
//! `Teleopti.Agent.Data`, `Teleopti.AgentQueue.Data`), an empty line, a header line, then rows
//! `<interval minutes>;<YYYY-MM-DD>;<HH:MM>;` followed by the keys and the integer measures of
//! DESIGN §5 in order. LF or CRLF line ends are accepted, and a UTF-8 byte-order mark.
//!
//! The checks are those of reference/calabrio.md §6 "Historical statistics":
//!
//! 1. the interval column equals the tenant's length; the start is on the grid (a minute that is
//!    a multiple of the length, so the index runs 0 to 1440/len − 1) and is a local time that
//!    exists in the tenant's time zone on that date; the date lies in the file name's range;
//! 2. no duplicate primary key within the file: (queue, date, time) for queue rows, (agent, date,
//!    time) for agent rows, (agent, queue, date, time) for agent-queue rows — unless the tenant
//!    asks for last-write-wins;
//! 3. queues and agents are known, when the tenant lists them (foreign keys);
//! 4. every measure is a whole number ≥ 0;
//! 5. sanity: answered ≤ offered + overflow in (and, since a segment has one outcome (DESIGN §4),
//!    answered + abandoned + overflowed out ≤ offered + overflow in); answered within SL ≤
//!    answered; short + within-SL abandons ≤ abandoned; each longest wait ≤ its total wait; agent
//!    state durations ≤ the interval's real length (twice the length for a label of the hour a
//!    fall-back repeats); pause ≤ logged-in time, and, as the definitions imply, ready-waiting ≤
//!    available ≤ logged-in and admin ≤ pause;
//! 6. agent-level fields are consistent: our agent file has one row per agent and interval, so
//!    this is rule 2 for agent rows.
//!
//! The header must name the columns of DESIGN §5 exactly (case ignored): the emulator checks our
//! contract, so a swapped column is caught here rather than in a customer's reports.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::{AmbiguousOffset, TimeZone};
use serde::{Serialize, Serializer};

/// How many errors a refusal lists; the count says how many there were.
pub const MAX_ERRORS: usize = 100;

/// The queue measures of DESIGN §5, in file order.
pub const QUEUE_FIELDS: [&str; 16] = [
    "offd_direct_call_cnt",
    "overflow_in_call_cnt",
    "aband_call_cnt",
    "overflow_out_call_cnt",
    "answ_call_cnt",
    "queued_and_answ_call_dur",
    "queued_and_aband_call_dur",
    "talking_call_dur",
    "wrap_up_dur",
    "queued_answ_longest_que_dur",
    "queued_aband_longest_que_dur",
    "avg_avail_member_cnt",
    "ans_servicelevel_cnt",
    "wait_dur",
    "aband_short_call_cnt",
    "aband_within_sl_cnt",
];

/// The agent measures of DESIGN §5, in file order.
pub const AGENT_FIELDS: [&str; 9] = [
    "avail_dur",
    "tot_work_dur",
    "pause_dur",
    "wait_dur",
    "admin_dur",
    "direct_out_call_cnt",
    "direct_out_call_dur",
    "direct_in_call_cnt",
    "direct_in_call_dur",
];

/// The agent-queue measures of DESIGN §5, in file order.
pub const AGENT_QUEUE_FIELDS: [&str; 4] = [
    "talking_call_dur",
    "wrap_up_dur",
    "answ_call_cnt",
    "transfer_out_call_cnt",
];

/// Which of the three files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    /// `Queue_Statistics_…`, `Teleopti.Queue.Data`.
    Queue,
    /// `Agent_Statistics_…`, `Teleopti.Agent.Data`.
    Agent,
    /// `AgentQueue_Statistics_…`, `Teleopti.AgentQueue.Data`.
    AgentQueue,
}

impl FileKind {
    /// The file name prefix, up to the dates.
    pub fn prefix(self) -> &'static str {
        match self {
            FileKind::Queue => "Queue_Statistics_",
            FileKind::Agent => "Agent_Statistics_",
            FileKind::AgentQueue => "AgentQueue_Statistics_",
        }
    }

    /// The type line the file starts with.
    pub fn type_line(self) -> &'static str {
        match self {
            FileKind::Queue => "Teleopti.Queue.Data",
            FileKind::Agent => "Teleopti.Agent.Data",
            FileKind::AgentQueue => "Teleopti.AgentQueue.Data",
        }
    }

    /// The key columns after `interval;date;time`.
    fn keys(self) -> &'static [&'static str] {
        match self {
            FileKind::Queue => &["queue", "queue_name"],
            FileKind::Agent => &["agent_id", "agent_name"],
            FileKind::AgentQueue => &["agent_id", "agent_name", "queue", "queue_name"],
        }
    }

    /// The measure columns.
    fn measures(self) -> &'static [&'static str] {
        match self {
            FileKind::Queue => &QUEUE_FIELDS,
            FileKind::Agent => &AGENT_FIELDS,
            FileKind::AgentQueue => &AGENT_QUEUE_FIELDS,
        }
    }

    /// Every column name, in order.
    pub fn header(self) -> Vec<&'static str> {
        let mut columns = vec!["interval", "date", "time"];
        columns.extend_from_slice(self.keys());
        columns.extend_from_slice(self.measures());
        columns
    }

    fn what(self) -> &'static str {
        match self {
            FileKind::Queue => "a queue row",
            FileKind::Agent => "an agent row",
            FileKind::AgentQueue => "an agent-queue row",
        }
    }
}

/// What a file name says: which file, and the local dates it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileName {
    /// Which file.
    pub kind: FileKind,
    /// First local date.
    pub from: Date,
    /// Last local date (included).
    pub to: Date,
}

impl FileName {
    /// Reads `Queue_Statistics_<from>_<to>.csv` (and the agent and agent-queue names), dates as
    /// `YYYYMMDD`, `from` ≤ `to`.
    pub fn parse(name: &str) -> Result<FileName, String> {
        let expected = || {
            format!(
                "file name {name:?} is not Queue_Statistics_<from>_<to>.csv, \
                 Agent_Statistics_<from>_<to>.csv or AgentQueue_Statistics_<from>_<to>.csv \
                 (dates YYYYMMDD)"
            )
        };
        let kind = [FileKind::AgentQueue, FileKind::Queue, FileKind::Agent]
            .into_iter()
            .find(|k| name.starts_with(k.prefix()))
            .ok_or_else(expected)?;
        let dates = name[kind.prefix().len()..]
            .strip_suffix(".csv")
            .ok_or_else(expected)?;
        let (from, to) = dates.split_once('_').ok_or_else(expected)?;
        let date = |text: &str| -> Result<Date, String> {
            if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_digit()) {
                return Err(expected());
            }
            let n = |range: std::ops::Range<usize>| text[range].parse::<i16>().unwrap_or(0);
            Date::new(n(0..4), n(4..6) as i8, n(6..8) as i8)
                .map_err(|_| format!("file name {name:?}: {text} is not a date"))
        };
        let (from, to) = (date(from)?, date(to)?);
        if from > to {
            return Err(format!(
                "file name {name:?}: the range starts ({from}) after it ends ({to})"
            ));
        }
        Ok(FileName { kind, from, to })
    }
}

/// What to do with a repeated primary key within one file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Duplicates {
    /// Refuse the file (Teleopti's primary keys).
    #[default]
    Reject,
    /// Keep the later row (calabrio.md §6 rule 2's explicit mode).
    LastWriteWins,
}

/// The tenant settings a file is checked against.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Interval length in minutes: 15, 30 or 60.
    pub interval_minutes: u32,
    /// The tenant's time zone.
    pub time_zone: TimeZone,
    /// Its IANA name, for messages.
    pub time_zone_name: String,
    /// Known queue ids; `None` accepts any.
    pub queues: Option<BTreeSet<String>>,
    /// Known agent ids; `None` accepts any.
    pub agents: Option<BTreeSet<String>>,
    /// Repeated keys.
    pub duplicates: Duplicates,
}

/// The 16 queue measures of one row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[allow(missing_docs)] // the names are DESIGN §5's
pub struct QueueMeasures {
    pub offd_direct_call_cnt: u64,
    pub overflow_in_call_cnt: u64,
    pub aband_call_cnt: u64,
    pub overflow_out_call_cnt: u64,
    pub answ_call_cnt: u64,
    pub queued_and_answ_call_dur: u64,
    pub queued_and_aband_call_dur: u64,
    pub talking_call_dur: u64,
    pub wrap_up_dur: u64,
    pub queued_answ_longest_que_dur: u64,
    pub queued_aband_longest_que_dur: u64,
    pub avg_avail_member_cnt: u64,
    pub ans_servicelevel_cnt: u64,
    pub wait_dur: u64,
    pub aband_short_call_cnt: u64,
    pub aband_within_sl_cnt: u64,
}

impl QueueMeasures {
    fn from_array(m: [u64; 16]) -> QueueMeasures {
        QueueMeasures {
            offd_direct_call_cnt: m[0],
            overflow_in_call_cnt: m[1],
            aband_call_cnt: m[2],
            overflow_out_call_cnt: m[3],
            answ_call_cnt: m[4],
            queued_and_answ_call_dur: m[5],
            queued_and_aband_call_dur: m[6],
            talking_call_dur: m[7],
            wrap_up_dur: m[8],
            queued_answ_longest_que_dur: m[9],
            queued_aband_longest_que_dur: m[10],
            avg_avail_member_cnt: m[11],
            ans_servicelevel_cnt: m[12],
            wait_dur: m[13],
            aband_short_call_cnt: m[14],
            aband_within_sl_cnt: m[15],
        }
    }

    /// Adds a row into a day's totals: counts and durations add up, the longest waits take the
    /// maximum (`avg_avail_member_cnt` adds up too: agent-intervals available).
    pub fn accumulate(&mut self, row: &QueueMeasures) {
        self.offd_direct_call_cnt += row.offd_direct_call_cnt;
        self.overflow_in_call_cnt += row.overflow_in_call_cnt;
        self.aband_call_cnt += row.aband_call_cnt;
        self.overflow_out_call_cnt += row.overflow_out_call_cnt;
        self.answ_call_cnt += row.answ_call_cnt;
        self.queued_and_answ_call_dur += row.queued_and_answ_call_dur;
        self.queued_and_aband_call_dur += row.queued_and_aband_call_dur;
        self.talking_call_dur += row.talking_call_dur;
        self.wrap_up_dur += row.wrap_up_dur;
        self.queued_answ_longest_que_dur = self
            .queued_answ_longest_que_dur
            .max(row.queued_answ_longest_que_dur);
        self.queued_aband_longest_que_dur = self
            .queued_aband_longest_que_dur
            .max(row.queued_aband_longest_que_dur);
        self.avg_avail_member_cnt += row.avg_avail_member_cnt;
        self.ans_servicelevel_cnt += row.ans_servicelevel_cnt;
        self.wait_dur += row.wait_dur;
        self.aband_short_call_cnt += row.aband_short_call_cnt;
        self.aband_within_sl_cnt += row.aband_within_sl_cnt;
    }
}

/// The 9 agent measures of one row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[allow(missing_docs)] // the names are DESIGN §5's
pub struct AgentMeasures {
    pub avail_dur: u64,
    pub tot_work_dur: u64,
    pub pause_dur: u64,
    pub wait_dur: u64,
    pub admin_dur: u64,
    pub direct_out_call_cnt: u64,
    pub direct_out_call_dur: u64,
    pub direct_in_call_cnt: u64,
    pub direct_in_call_dur: u64,
}

impl AgentMeasures {
    fn from_array(m: [u64; 9]) -> AgentMeasures {
        AgentMeasures {
            avail_dur: m[0],
            tot_work_dur: m[1],
            pause_dur: m[2],
            wait_dur: m[3],
            admin_dur: m[4],
            direct_out_call_cnt: m[5],
            direct_out_call_dur: m[6],
            direct_in_call_cnt: m[7],
            direct_in_call_dur: m[8],
        }
    }
}

/// The 4 agent-queue measures of one row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[allow(missing_docs)] // the names are DESIGN §5's
pub struct AgentQueueMeasures {
    pub talking_call_dur: u64,
    pub wrap_up_dur: u64,
    pub answ_call_cnt: u64,
    pub transfer_out_call_cnt: u64,
}

/// One accepted queue row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueStatRow {
    /// Local date.
    pub date: Date,
    /// Local start of the interval.
    #[serde(serialize_with = "hh_mm")]
    pub time: Time,
    /// Queue id.
    pub queue: String,
    /// Queue name.
    pub queue_name: String,
    /// The measures.
    #[serde(flatten)]
    pub measures: QueueMeasures,
}

/// One accepted agent row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentStatRow {
    /// Local date.
    pub date: Date,
    /// Local start of the interval.
    #[serde(serialize_with = "hh_mm")]
    pub time: Time,
    /// Agent id.
    pub agent_id: String,
    /// Agent name.
    pub agent_name: String,
    /// The measures.
    #[serde(flatten)]
    pub measures: AgentMeasures,
}

/// One accepted agent-queue row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentQueueStatRow {
    /// Local date.
    pub date: Date,
    /// Local start of the interval.
    #[serde(serialize_with = "hh_mm")]
    pub time: Time,
    /// Agent id.
    pub agent_id: String,
    /// Agent name.
    pub agent_name: String,
    /// Queue id.
    pub queue: String,
    /// Queue name.
    pub queue_name: String,
    /// The measures.
    #[serde(flatten)]
    pub measures: AgentQueueMeasures,
}

/// `HH:MM`, as the files write a time.
pub fn format_hh_mm(time: Time) -> String {
    format!("{:02}:{:02}", time.hour(), time.minute())
}

fn hh_mm<S: Serializer>(time: &Time, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_hh_mm(*time))
}

/// The rows of an accepted file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rows {
    /// Queue rows.
    Queue(Vec<QueueStatRow>),
    /// Agent rows.
    Agent(Vec<AgentStatRow>),
    /// Agent-queue rows.
    AgentQueue(Vec<AgentQueueStatRow>),
}

impl Rows {
    /// How many rows.
    pub fn len(&self) -> usize {
        match self {
            Rows::Queue(r) => r.len(),
            Rows::Agent(r) => r.len(),
            Rows::AgentQueue(r) => r.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An accepted file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedFile {
    /// What its name says.
    pub name: FileName,
    /// Its rows, duplicates resolved (last write wins, when allowed).
    pub rows: Rows,
}

/// A refused file: what was wrong, `line N: …`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} error(s), first: {}", .count, .errors.first().map_or("", String::as_str))]
pub struct Refusal {
    /// The first [`MAX_ERRORS`] errors.
    pub errors: Vec<String>,
    /// How many errors there were in all.
    pub count: usize,
}

/// Collects errors, keeping the first [`MAX_ERRORS`].
#[derive(Default)]
struct Errors {
    kept: Vec<String>,
    count: usize,
}

impl Errors {
    fn add(&mut self, line: usize, message: impl FnOnce() -> String) {
        self.count += 1;
        if self.kept.len() < MAX_ERRORS {
            self.kept.push(format!("line {line}: {}", message()));
        }
    }

    fn into_result<T>(self, ok: T) -> Result<T, Refusal> {
        if self.count == 0 {
            Ok(ok)
        } else {
            Err(Refusal {
                errors: self.kept,
                count: self.count,
            })
        }
    }
}

/// Reads and checks one file named `name` for a tenant with `rules`.
pub fn check_file(name: &str, bytes: &[u8], rules: &Rules) -> Result<AcceptedFile, Refusal> {
    let file_name = FileName::parse(name).map_err(|e| Refusal {
        errors: vec![e],
        count: 1,
    })?;
    let refuse = |line: usize, message: String| Refusal {
        errors: vec![format!("line {line}: {message}")],
        count: 1,
    };
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let line = 1 + bytes[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            return Err(refuse(line, "not UTF-8 text".to_string()));
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    // The final line break ends the last line rather than starting an empty one.
    while lines.last().is_some_and(|l| l.is_empty()) && lines.len() > 3 {
        lines.pop();
    }

    let kind = file_name.kind;
    let type_line = lines.first().copied().unwrap_or_default();
    if type_line.trim() != kind.type_line() {
        return Err(refuse(
            1,
            format!(
                "the type line is {type_line:?}; a {} file starts with {}",
                kind.prefix().trim_end_matches('_'),
                kind.type_line()
            ),
        ));
    }
    if lines.get(1).is_none_or(|l| !l.trim().is_empty()) {
        return Err(refuse(2, "must be empty (after the type line)".to_string()));
    }
    let expected = kind.header();
    let header = lines.get(2).copied().unwrap_or_default();
    let got: Vec<&str> = header.split(';').map(str::trim).collect();
    let header_ok = got.len() == expected.len()
        && got
            .iter()
            .zip(&expected)
            .all(|(g, e)| g.eq_ignore_ascii_case(e));
    if !header_ok {
        return Err(refuse(
            3,
            format!(
                "the header is {header:?}; expected {:?}",
                expected.join(";")
            ),
        ));
    }

    let mut checker = Checker::new(rules, file_name);
    for (index, line) in lines.iter().enumerate().skip(3) {
        checker.row(index + 1, line);
    }
    let Checker { errors, rows, .. } = checker;
    errors.into_result(AcceptedFile {
        name: file_name,
        rows,
    })
}

/// Checks rows one by one, remembering keys and interval lengths.
struct Checker<'a> {
    rules: &'a Rules,
    file: FileName,
    errors: Errors,
    rows: Rows,
    /// Primary key → (line, index in `rows`).
    seen: HashMap<Vec<String>, (usize, usize)>,
    /// Real seconds covered by a label, per (date, time); 0 for a label that does not exist.
    covered: HashMap<(Date, Time), i64>,
}

impl<'a> Checker<'a> {
    fn new(rules: &'a Rules, file: FileName) -> Checker<'a> {
        let rows = match file.kind {
            FileKind::Queue => Rows::Queue(Vec::new()),
            FileKind::Agent => Rows::Agent(Vec::new()),
            FileKind::AgentQueue => Rows::AgentQueue(Vec::new()),
        };
        Checker {
            rules,
            file,
            errors: Errors::default(),
            rows,
            seen: HashMap::new(),
            covered: HashMap::new(),
        }
    }

    fn row(&mut self, line: usize, text: &str) {
        let kind = self.file.kind;
        let fields: Vec<&str> = text.split(';').collect();
        let columns = kind.header().len();
        if text.trim().is_empty() {
            self.errors.add(line, || "empty line".to_string());
            return;
        }
        if fields.len() != columns {
            self.errors.add(line, || {
                format!(
                    "{} fields; {} has {columns} ({})",
                    fields.len(),
                    kind.what(),
                    kind.header().join(";")
                )
            });
            return;
        }
        let Some((date, time)) = self.label(line, &fields[..3]) else {
            return;
        };
        let keys = &fields[3..3 + kind.keys().len()];
        let mut ok = true;
        for (column, value) in kind.keys().iter().zip(keys) {
            // Names may be anything; ids may not be empty.
            if !column.ends_with("_name") && value.trim().is_empty() {
                self.errors.add(line, || format!("{column} is empty"));
                ok = false;
            }
        }
        let measures = &fields[3 + kind.keys().len()..];
        let mut values = Vec::with_capacity(measures.len());
        for (column, value) in kind.measures().iter().zip(measures) {
            match parse_measure(value) {
                Some(v) => values.push(v),
                None => {
                    self.errors.add(line, || {
                        format!("{column} is {value:?}; measures are whole numbers ≥ 0")
                    });
                    ok = false;
                }
            }
        }
        if !ok {
            return;
        }
        self.foreign_keys(line, kind, keys);

        let key: Vec<String> = match kind {
            FileKind::Queue | FileKind::Agent => vec![keys[0].to_string()],
            FileKind::AgentQueue => vec![keys[0].to_string(), keys[2].to_string()],
        }
        .into_iter()
        .chain([date.to_string(), format_hh_mm(time)])
        .collect();

        match kind {
            FileKind::Queue => {
                let mut m = [0u64; 16];
                m.copy_from_slice(&values);
                let measures = QueueMeasures::from_array(m);
                self.queue_sanity(line, &measures);
                self.keep(
                    line,
                    key,
                    RowValue::Queue(QueueStatRow {
                        date,
                        time,
                        queue: keys[0].to_string(),
                        queue_name: keys[1].to_string(),
                        measures,
                    }),
                );
            }
            FileKind::Agent => {
                let mut m = [0u64; 9];
                m.copy_from_slice(&values);
                let measures = AgentMeasures::from_array(m);
                self.agent_sanity(line, date, time, &measures);
                self.keep(
                    line,
                    key,
                    RowValue::Agent(AgentStatRow {
                        date,
                        time,
                        agent_id: keys[0].to_string(),
                        agent_name: keys[1].to_string(),
                        measures,
                    }),
                );
            }
            FileKind::AgentQueue => {
                let measures = AgentQueueMeasures {
                    talking_call_dur: values[0],
                    wrap_up_dur: values[1],
                    answ_call_cnt: values[2],
                    transfer_out_call_cnt: values[3],
                };
                self.keep(
                    line,
                    key,
                    RowValue::AgentQueue(AgentQueueStatRow {
                        date,
                        time,
                        agent_id: keys[0].to_string(),
                        agent_name: keys[1].to_string(),
                        queue: keys[2].to_string(),
                        queue_name: keys[3].to_string(),
                        measures,
                    }),
                );
            }
        }
    }

    /// Checks `interval;date;time` (rule 1); the label when it is good.
    fn label(&mut self, line: usize, fields: &[&str]) -> Option<(Date, Time)> {
        let length = self.rules.interval_minutes;
        let mut ok = true;
        match fields[0].trim().parse::<u32>() {
            Ok(minutes) if minutes == length => {}
            _ => {
                self.errors.add(line, || {
                    format!(
                        "interval {:?} does not match the tenant's interval length of {length} minutes",
                        fields[0]
                    )
                });
                ok = false;
            }
        }
        let date = parse_date(fields[1]);
        if date.is_none() {
            self.errors.add(line, || {
                format!("date {:?} is not a date YYYY-MM-DD", fields[1])
            });
            ok = false;
        }
        let time = parse_time(fields[2]);
        if time.is_none() {
            self.errors.add(line, || {
                format!("time {:?} is not a time of day HH:MM", fields[2])
            });
            ok = false;
        }
        let (date, time) = (date?, time?);
        if !ok {
            return None;
        }
        if !(time.minute() as u32).is_multiple_of(length) {
            self.errors.add(line, || {
                format!(
                    "time {} is not on the {length}-minute grid (intervals start at :00{})",
                    format_hh_mm(time),
                    match length {
                        15 => ", :15, :30 and :45",
                        30 => " and :30",
                        _ => "",
                    }
                )
            });
            return None;
        }
        if date < self.file.from || date > self.file.to {
            self.errors.add(line, || {
                format!(
                    "date {date} is outside the file's range {}..{}",
                    self.file.from, self.file.to
                )
            });
            return None;
        }
        if self.covered_seconds(date, time) == 0 {
            let zone = self.rules.time_zone_name.clone();
            self.errors.add(line, || {
                format!(
                    "{date} {} does not exist in {zone} (the clocks skip it)",
                    format_hh_mm(time)
                )
            });
            return None;
        }
        Some((date, time))
    }

    /// Rule 3: known queues and agents.
    fn foreign_keys(&mut self, line: usize, kind: FileKind, keys: &[&str]) {
        let (agent, queue) = match kind {
            FileKind::Queue => (None, Some(keys[0])),
            FileKind::Agent => (Some(keys[0]), None),
            FileKind::AgentQueue => (Some(keys[0]), Some(keys[2])),
        };
        if let (Some(queue), Some(known)) = (queue, &self.rules.queues)
            && !known.contains(queue)
        {
            self.errors
                .add(line, || format!("queue {queue:?} is not a known queue"));
        }
        if let (Some(agent), Some(known)) = (agent, &self.rules.agents)
            && !known.contains(agent)
        {
            self.errors.add(line, || {
                format!("agent {agent:?} is not a known agent login")
            });
        }
    }

    /// Rule 5 for a queue row.
    fn queue_sanity(&mut self, line: usize, m: &QueueMeasures) {
        let offered = m.offd_direct_call_cnt + m.overflow_in_call_cnt;
        if m.answ_call_cnt > offered {
            self.errors.add(line, || {
                format!(
                    "answ_call_cnt {} > offd_direct_call_cnt {} + overflow_in_call_cnt {}: \
                     more answered than offered",
                    m.answ_call_cnt, m.offd_direct_call_cnt, m.overflow_in_call_cnt
                )
            });
        } else if m.answ_call_cnt + m.aband_call_cnt + m.overflow_out_call_cnt > offered {
            self.errors.add(line, || {
                format!(
                    "answ_call_cnt {} + aband_call_cnt {} + overflow_out_call_cnt {} > \
                     offd_direct_call_cnt {} + overflow_in_call_cnt {}: more outcomes than \
                     contacts offered",
                    m.answ_call_cnt,
                    m.aband_call_cnt,
                    m.overflow_out_call_cnt,
                    m.offd_direct_call_cnt,
                    m.overflow_in_call_cnt
                )
            });
        }
        if m.ans_servicelevel_cnt > m.answ_call_cnt {
            self.errors.add(line, || {
                format!(
                    "ans_servicelevel_cnt {} > answ_call_cnt {}: more answered within the \
                     service level than answered",
                    m.ans_servicelevel_cnt, m.answ_call_cnt
                )
            });
        }
        if m.aband_short_call_cnt + m.aband_within_sl_cnt > m.aband_call_cnt {
            self.errors.add(line, || {
                format!(
                    "aband_short_call_cnt {} + aband_within_sl_cnt {} > aband_call_cnt {}",
                    m.aband_short_call_cnt, m.aband_within_sl_cnt, m.aband_call_cnt
                )
            });
        }
        if m.queued_answ_longest_que_dur > m.queued_and_answ_call_dur {
            self.errors.add(line, || {
                format!(
                    "queued_answ_longest_que_dur {} > queued_and_answ_call_dur {}: the longest \
                     wait is longer than all waits together",
                    m.queued_answ_longest_que_dur, m.queued_and_answ_call_dur
                )
            });
        }
        if m.queued_aband_longest_que_dur > m.queued_and_aband_call_dur {
            self.errors.add(line, || {
                format!(
                    "queued_aband_longest_que_dur {} > queued_and_aband_call_dur {}: the longest \
                     wait is longer than all waits together",
                    m.queued_aband_longest_que_dur, m.queued_and_aband_call_dur
                )
            });
        }
    }

    /// Rule 5 for an agent row.
    fn agent_sanity(&mut self, line: usize, date: Date, time: Time, m: &AgentMeasures) {
        let limit = u64::try_from(self.covered_seconds(date, time)).unwrap_or(0);
        let length = self.rules.interval_minutes as u64 * 60;
        for (name, value) in [
            ("avail_dur", m.avail_dur),
            ("tot_work_dur", m.tot_work_dur),
            ("pause_dur", m.pause_dur),
            ("wait_dur", m.wait_dur),
            ("admin_dur", m.admin_dur),
        ] {
            if value > limit {
                self.errors.add(line, || {
                    let mut why =
                        format!("{name} {value} is longer than the interval ({limit} seconds");
                    if limit > length {
                        let _ = write!(why, ": the hour repeated by the change of clocks");
                    }
                    why.push(')');
                    why
                });
            }
        }
        if m.pause_dur > m.tot_work_dur {
            self.errors.add(line, || {
                format!(
                    "pause_dur {} > tot_work_dur {}: more paused than logged in",
                    m.pause_dur, m.tot_work_dur
                )
            });
        }
        if m.avail_dur > m.tot_work_dur {
            self.errors.add(line, || {
                format!(
                    "avail_dur {} > tot_work_dur {}: more available than logged in",
                    m.avail_dur, m.tot_work_dur
                )
            });
        }
        if m.wait_dur > m.avail_dur {
            self.errors.add(line, || {
                format!(
                    "wait_dur {} > avail_dur {}: more ready-waiting than available",
                    m.wait_dur, m.avail_dur
                )
            });
        }
        if m.admin_dur > m.pause_dur {
            self.errors.add(line, || {
                format!(
                    "admin_dur {} > pause_dur {}: admin time is part of pause time",
                    m.admin_dur, m.pause_dur
                )
            });
        }
    }

    /// Keeps a row, or reports (or replaces) a duplicate of its key (rules 2 and 6).
    fn keep(&mut self, line: usize, key: Vec<String>, row: RowValue) {
        let index = self.rows.len();
        if let Some(&(first_line, first_index)) = self.seen.get(&key) {
            match self.rules.duplicates {
                Duplicates::Reject => {
                    let what = key.join(", ");
                    self.errors.add(line, || {
                        format!("duplicate of line {first_line} (the same key: {what})")
                    });
                }
                Duplicates::LastWriteWins => {
                    self.replace(first_index, row);
                    self.seen.insert(key, (line, first_index));
                }
            }
            return;
        }
        self.push(row);
        self.seen.insert(key, (line, index));
    }

    fn push(&mut self, row: RowValue) {
        match (&mut self.rows, row) {
            (Rows::Queue(rows), RowValue::Queue(r)) => rows.push(r),
            (Rows::Agent(rows), RowValue::Agent(r)) => rows.push(r),
            (Rows::AgentQueue(rows), RowValue::AgentQueue(r)) => rows.push(r),
            _ => unreachable!("a row of the file's own kind"),
        }
    }

    fn replace(&mut self, index: usize, row: RowValue) {
        match (&mut self.rows, row) {
            (Rows::Queue(rows), RowValue::Queue(r)) => rows[index] = r,
            (Rows::Agent(rows), RowValue::Agent(r)) => rows[index] = r,
            (Rows::AgentQueue(rows), RowValue::AgentQueue(r)) => rows[index] = r,
            _ => unreachable!("a row of the file's own kind"),
        }
    }

    /// Real seconds the wall-clock interval starting at `date time` covers in the tenant's zone:
    /// the length, less any minutes the clocks skip, plus those they repeat.
    fn covered_seconds(&mut self, date: Date, time: Time) -> i64 {
        let minutes = self.rules.interval_minutes;
        let zone = &self.rules.time_zone;
        *self
            .covered
            .entry((date, time))
            .or_insert_with(|| covered_seconds(zone, DateTime::from_parts(date, time), minutes))
    }
}

/// A parsed row of any kind, before it is kept.
enum RowValue {
    Queue(QueueStatRow),
    Agent(AgentStatRow),
    AgentQueue(AgentQueueStatRow),
}

/// Real seconds covered by the wall-clock span `[start, start + minutes)` in `zone`: each wall
/// minute counts once, none in a gap (clocks skipped it), twice in a fold (clocks repeated it).
/// Transitions fall on whole minutes, so minute steps are exact.
pub fn covered_seconds(zone: &TimeZone, start: DateTime, minutes: u32) -> i64 {
    let mut seconds = 0;
    for minute in 0..i64::from(minutes) {
        let Ok(wall) = start.checked_add(jiff::SignedDuration::from_mins(minute)) else {
            continue;
        };
        seconds += match zone.to_ambiguous_timestamp(wall).offset() {
            AmbiguousOffset::Unambiguous { .. } => 60,
            AmbiguousOffset::Gap { .. } => 0,
            AmbiguousOffset::Fold { .. } => 120,
        };
    }
    seconds
}

/// A measure: ASCII digits only (no sign, no spaces, no decimals).
fn parse_measure(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `YYYY-MM-DD`.
fn parse_date(text: &str) -> Option<Date> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = text[0..4].parse().ok()?;
    let month = text[5..7].parse().ok()?;
    let day = text[8..10].parse().ok()?;
    Date::new(year, month, day).ok()
}

/// `HH:MM` (24-hour).
fn parse_time(text: &str) -> Option<Time> {
    let (h, m) = text.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    if !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(zone: &str, minutes: u32) -> Rules {
        Rules {
            interval_minutes: minutes,
            time_zone: TimeZone::get(zone).unwrap(),
            time_zone_name: zone.to_string(),
            queues: None,
            agents: None,
            duplicates: Duplicates::Reject,
        }
    }

    fn queue_file(rows: &[&str]) -> String {
        let mut text = format!(
            "Teleopti.Queue.Data\n\n{}\n",
            FileKind::Queue.header().join(";")
        );
        for row in rows {
            text.push_str(row);
            text.push('\n');
        }
        text
    }

    fn agent_file(rows: &[&str]) -> String {
        let mut text = format!(
            "Teleopti.Agent.Data\n\n{}\n",
            FileKind::Agent.header().join(";")
        );
        for row in rows {
            text.push_str(row);
            text.push('\n');
        }
        text
    }

    const QUEUE_NAME: &str = "Queue_Statistics_20240301_20240301.csv";
    const AGENT_NAME: &str = "Agent_Statistics_20240301_20240301.csv";
    const GOOD_QUEUE_ROW: &str =
        "15;2024-03-01;08:00;q1;Support;10;2;1;1;9;120;30;900;300;40;30;1;9;900;0;1";

    fn errors(name: &str, text: &str, rules: &Rules) -> Vec<String> {
        check_file(name, text.as_bytes(), rules).unwrap_err().errors
    }

    #[test]
    fn file_names_give_kind_and_range() {
        let n = FileName::parse("AgentQueue_Statistics_20240301_20240307.csv").unwrap();
        assert_eq!(n.kind, FileKind::AgentQueue);
        assert_eq!(n.from, jiff::civil::date(2024, 3, 1));
        assert_eq!(n.to, jiff::civil::date(2024, 3, 7));
        assert_eq!(FileName::parse(QUEUE_NAME).unwrap().kind, FileKind::Queue);
        for bad in [
            "Queue_Statistics_20240301.csv",
            "queue_stats_20240301_20240301.csv",
            "Queue_Statistics_20240301_20240301.txt",
            "Queue_Statistics_20240230_20240301.csv",
            "Queue_Statistics_20240302_20240301.csv",
        ] {
            assert!(FileName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_good_queue_file_is_accepted() {
        let file = check_file(
            QUEUE_NAME,
            queue_file(&[GOOD_QUEUE_ROW]).as_bytes(),
            &rules("UTC", 15),
        )
        .unwrap();
        let Rows::Queue(rows) = file.rows else {
            panic!()
        };
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].queue, "q1");
        assert_eq!(rows[0].measures.answ_call_cnt, 9);
        assert_eq!(rows[0].measures.aband_within_sl_cnt, 1);
        // CRLF and a byte-order mark are fine too.
        let crlf = format!(
            "\u{feff}{}",
            queue_file(&[GOOD_QUEUE_ROW]).replace('\n', "\r\n")
        );
        assert!(check_file(QUEUE_NAME, crlf.as_bytes(), &rules("UTC", 15)).is_ok());
        // A file without rows is a day without data.
        assert!(check_file(QUEUE_NAME, queue_file(&[]).as_bytes(), &rules("UTC", 15)).is_ok());
    }

    #[test]
    fn the_preamble_is_checked() {
        let r = rules("UTC", 15);
        let text =
            queue_file(&[GOOD_QUEUE_ROW]).replace("Teleopti.Queue.Data", "Teleopti.Agent.Data");
        assert!(errors(QUEUE_NAME, &text, &r)[0].starts_with("line 1: the type line is"));
        let text = queue_file(&[GOOD_QUEUE_ROW]).replacen("\n\n", "\nx\n", 1);
        assert_eq!(
            errors(QUEUE_NAME, &text, &r),
            ["line 2: must be empty (after the type line)"]
        );
        let text =
            queue_file(&[GOOD_QUEUE_ROW]).replace("answ_call_cnt;queued", "queued;answ_call_cnt");
        assert!(errors(QUEUE_NAME, &text, &r)[0].starts_with("line 3: the header is"));
        assert!(check_file(QUEUE_NAME, b"\xff\xfe", &r).is_err());
    }

    #[test]
    fn labels_must_match_the_tenant_and_the_grid() {
        let r = rules("Europe/Stockholm", 15);
        let text = queue_file(&[
            "30;2024-03-01;08:00;q1;S;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0",
            "15;2024-03-01;08:07;q1;S;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0",
            "15;2024-03-02;08:00;q1;S;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0",
            "15;2024-02-30;08:00;q1;S;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0",
            "15;2024-03-01;24:00;q1;S;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0",
        ]);
        let e = errors(QUEUE_NAME, &text, &r);
        assert_eq!(e.len(), 5, "{e:#?}");
        assert_eq!(
            e[0],
            "line 4: interval \"30\" does not match the tenant's interval length of 15 minutes"
        );
        assert_eq!(
            e[1],
            "line 5: time 08:07 is not on the 15-minute grid (intervals start at :00, :15, :30 and :45)"
        );
        assert_eq!(
            e[2],
            "line 6: date 2024-03-02 is outside the file's range 2024-03-01..2024-03-01"
        );
        assert_eq!(e[3], "line 7: date \"2024-02-30\" is not a date YYYY-MM-DD");
        assert_eq!(e[4], "line 8: time \"24:00\" is not a time of day HH:MM");

        // The hour skipped in spring does not exist.
        let spring = queue_file(&["15;2024-03-31;02:15;q1;S;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0"]);
        assert_eq!(
            errors("Queue_Statistics_20240331_20240331.csv", &spring, &r),
            ["line 4: 2024-03-31 02:15 does not exist in Europe/Stockholm (the clocks skip it)"]
        );
    }

    #[test]
    fn measures_are_whole_numbers_and_sane() {
        let r = rules("UTC", 15);
        let text = queue_file(&[
            "15;2024-03-01;08:00;q1;S;-1;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0",
            "15;2024-03-01;08:15;q1;S;1.5;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0",
            "15;2024-03-01;08:30;q1;S;1;0;0;0;2;0;0;0;0;0;0;0;0;0;0;0",
            "15;2024-03-01;08:45;q1;S;2;0;0;0;1;5;0;0;0;0;0;0;2;0;0;0",
            "15;2024-03-01;09:00;q1;S;2;0;1;0;0;0;5;0;0;0;0;0;0;0;1;1",
            "15;2024-03-01;09:15;q1;S;2;0;0;0;1;5;0;0;0;6;0;0;0;0;0;0",
            "15;2024-03-01;09:30;q1;S;2;0;1;0;1;5;3;0;0;0;4;0;0;0;0;0",
            "15;2024-03-01;09:45;q1;S;2;0;1;1;1;5;3;0;0;0;0;0;0;0;0;0",
            "15;2024-03-01;10:00;q1;S;0;0",
        ]);
        let e = errors(QUEUE_NAME, &text, &r);
        assert_eq!(
            e[0],
            "line 4: offd_direct_call_cnt is \"-1\"; measures are whole numbers ≥ 0"
        );
        assert!(e[1].starts_with("line 5: offd_direct_call_cnt is \"1.5\""));
        assert!(
            e[2].starts_with("line 6: answ_call_cnt 2 > offd_direct_call_cnt 1"),
            "{}",
            e[2]
        );
        assert!(
            e[3].starts_with("line 7: ans_servicelevel_cnt 2 > answ_call_cnt 1"),
            "{}",
            e[3]
        );
        assert!(
            e[4].starts_with(
                "line 8: aband_short_call_cnt 1 + aband_within_sl_cnt 1 > aband_call_cnt 1"
            ),
            "{}",
            e[4]
        );
        assert!(
            e[5].starts_with("line 9: queued_answ_longest_que_dur 6 > queued_and_answ_call_dur 5"),
            "{}",
            e[5]
        );
        assert!(
            e[6].starts_with(
                "line 10: queued_aband_longest_que_dur 4 > queued_and_aband_call_dur 3"
            ),
            "{}",
            e[6]
        );
        assert!(e[7].starts_with("line 11: answ_call_cnt 1 + aband_call_cnt 1 + overflow_out_call_cnt 1 > offd_direct_call_cnt 2"), "{}", e[7]);
        assert!(
            e[8].starts_with("line 12: 7 fields; a queue row has 21"),
            "{}",
            e[8]
        );
        assert_eq!(e.len(), 9);
    }

    #[test]
    fn duplicates_are_refused_or_last_write_wins() {
        let mut r = rules("UTC", 15);
        let second = GOOD_QUEUE_ROW.replace(";10;2;", ";11;2;");
        let text = queue_file(&[GOOD_QUEUE_ROW, &second]);
        assert_eq!(
            errors(QUEUE_NAME, &text, &r),
            ["line 5: duplicate of line 4 (the same key: q1, 2024-03-01, 08:00)"]
        );
        r.duplicates = Duplicates::LastWriteWins;
        let Rows::Queue(rows) = check_file(QUEUE_NAME, text.as_bytes(), &r).unwrap().rows else {
            panic!()
        };
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].measures.offd_direct_call_cnt, 11);
    }

    #[test]
    fn unknown_queues_and_agents_are_refused_when_listed() {
        let mut r = rules("UTC", 15);
        r.queues = Some(["q2".to_string()].into());
        assert_eq!(
            errors(QUEUE_NAME, &queue_file(&[GOOD_QUEUE_ROW]), &r),
            ["line 4: queue \"q1\" is not a known queue"]
        );
        r.agents = Some(["a1".to_string()].into());
        let text = agent_file(&["15;2024-03-01;08:00;a9;Ann;0;0;0;0;0;0;0;0;0"]);
        assert_eq!(
            errors(AGENT_NAME, &text, &r),
            ["line 4: agent \"a9\" is not a known agent login"]
        );
    }

    #[test]
    fn agent_durations_fit_the_interval_and_each_other() {
        let r = rules("UTC", 15);
        let text = agent_file(&[
            "15;2024-03-01;08:00;a1;Ann;900;900;0;900;0;1;1200;0;0",
            "15;2024-03-01;08:15;a1;Ann;901;901;0;0;0;0;0;0;0",
            "15;2024-03-01;08:30;a1;Ann;0;100;200;0;0;0;0;0;0",
            "15;2024-03-01;08:45;a1;Ann;100;100;0;200;0;0;0;0;0",
            "15;2024-03-01;09:00;a1;Ann;0;100;50;0;60;0;0;0;0",
            "15;2024-03-01;09:00;a1;Ann;0;0;0;0;0;0;0;0;0",
        ]);
        let e = errors(AGENT_NAME, &text, &r);
        assert_eq!(
            e[0],
            "line 5: avail_dur 901 is longer than the interval (900 seconds)"
        );
        assert_eq!(
            e[1],
            "line 5: tot_work_dur 901 is longer than the interval (900 seconds)"
        );
        assert!(
            e[2].starts_with("line 6: pause_dur 200 > tot_work_dur 100"),
            "{}",
            e[2]
        );
        assert!(
            e[3].starts_with("line 7: wait_dur 200 > avail_dur 100"),
            "{}",
            e[3]
        );
        assert!(
            e[4].starts_with("line 8: admin_dur 60 > pause_dur 50"),
            "{}",
            e[4]
        );
        assert!(e[5].starts_with("line 9: duplicate of line 8"), "{}", e[5]);
        assert_eq!(e.len(), 6);
    }

    #[test]
    fn the_repeated_hour_of_a_fall_back_day_is_twice_as_long() {
        let r = rules("Europe/Stockholm", 15);
        let name = "Agent_Statistics_20241027_20241027.csv";
        let text = agent_file(&[
            "15;2024-10-27;02:00;a1;Ann;1800;1800;0;1800;0;0;0;0;0",
            "15;2024-10-27;02:45;a1;Ann;1800;1800;0;0;0;0;0;0;0",
            "15;2024-10-27;03:00;a1;Ann;1800;1800;0;0;0;0;0;0;0",
        ]);
        let e = errors(name, &text, &r);
        assert_eq!(
            e,
            [
                "line 6: avail_dur 1800 is longer than the interval (900 seconds)",
                "line 6: tot_work_dur 1800 is longer than the interval (900 seconds)",
            ]
        );
        let stockholm = TimeZone::get("Europe/Stockholm").unwrap();
        let at = |h, m| {
            DateTime::from_parts(
                jiff::civil::date(2024, 10, 27),
                Time::new(h, m, 0, 0).unwrap(),
            )
        };
        assert_eq!(covered_seconds(&stockholm, at(2, 0), 60), 7200);
        assert_eq!(covered_seconds(&stockholm, at(1, 0), 60), 3600);
        let spring = DateTime::from_parts(
            jiff::civil::date(2024, 3, 31),
            Time::new(2, 0, 0, 0).unwrap(),
        );
        assert_eq!(covered_seconds(&stockholm, spring, 60), 0);
        // Lord Howe moves its clocks by 30 minutes: an hour-long label half exists.
        let lord_howe = TimeZone::get("Australia/Lord_Howe").unwrap();
        let gap = DateTime::from_parts(
            jiff::civil::date(2024, 10, 6),
            Time::new(2, 0, 0, 0).unwrap(),
        );
        assert_eq!(covered_seconds(&lord_howe, gap, 60), 1800);
    }

    #[test]
    fn at_most_a_hundred_errors_are_listed() {
        let rows: Vec<String> = (0..150)
            .map(|i| {
                format!(
                    "15;2024-03-01;{:02}:{:02};q{i};S;x;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0",
                    (i / 4) % 24,
                    (i % 4) * 15
                )
            })
            .collect();
        let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
        let refusal =
            check_file(QUEUE_NAME, queue_file(&rows).as_bytes(), &rules("UTC", 15)).unwrap_err();
        assert_eq!(refusal.count, 150);
        assert_eq!(refusal.errors.len(), MAX_ERRORS);
    }
}
