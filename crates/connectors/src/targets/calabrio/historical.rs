//! Calabrio/Teleopti historical statistics files (DESIGN §6): formatting only, no I/O beyond the
//! `io::Write` a caller hands in.
//!
//! # The three Teleopti files
//!
//! Each file is UTF-8 (no byte-order mark), `;`-separated, with **LF** line endings (the only public
//! producer of the format, a partner export script, writes `\n`; Teleopti's .NET readers accept
//! both): a type line, an empty line, a header line, then one line per row.
//!
//! | file | type line | header |
//! |---|---|---|
//! | `Queue_Statistics_<from>_<to>.csv` | `Teleopti.Queue.Data` | `interval;date;time;queue;queue_name;` + the 16 queue measures of DESIGN §5 |
//! | `Agent_Statistics_<from>_<to>.csv` | `Teleopti.Agent.Data` | `interval;date;time;agent_id;agent_name;avail_dur;tot_work_dur;pause_dur;wait_dur;admin_dur;direct_out_call_cnt;direct_out_call_dur;direct_in_call_cnt;direct_in_call_dur` |
//! | `AgentQueue_Statistics_<from>_<to>.csv` | `Teleopti.AgentQueue.Data` | `interval;date;time;agent_id;agent_name;queue;queue_name;talking_call_dur;wrap_up_dur;answ_call_cnt;transfer_out_call_cnt` |
//!
//! `<from>` and `<to>` are the window's local dates as `YYYYMMDD`. The leading columns are
//! `interval` (the interval length in minutes: 15, 30 or 60), `date` (local date `YYYY-MM-DD`) and
//! `time` (local start `HH:MM`); the measure columns carry the field names of DESIGN §5 (the partner
//! script's `date_form` and `…_longest_queue_dur` spellings are not copied). Measures are
//! non-negative integers.
//!
//! **Text fields never break the format.** The Teleopti importers split lines on the separator and
//! know no quoting, so in ids and names every `;` becomes `,` and every control character (CR, LF,
//! tab…) becomes a space. Validated canonical records have no control characters, so in practice
//! only `;` is ever replaced.
//!
//! # Plain CSV and JSON (the CLI's `--format csv|json`)
//!
//! * `csv`: three files `queue_stats_<from>_<to>.csv`, `agent_stats_<from>_<to>.csv`,
//!   `agent_queue_stats_<from>_<to>.csv`; comma-separated, a header line with the same column names
//!   as the Teleopti files, LF line endings, RFC 4180 quoting (a field with a comma, quote or line
//!   break is quoted, quotes doubled), text unchanged.
//! * `json`: one file `interval_stats_<from>_<to>.json`, the serialized
//!   [`wfm_stats::IntervalStats`]: `{"tenant", "interval_minutes", "from", "to", "queue_rows": [..],
//!   "agent_rows": [..], "agent_queue_rows": [..], "inputs": {..}}`, rows as objects with the row
//!   fields (`interval_minutes`, `date`, `time` as `HH:MM`, ids, names, measures).

use std::io::{self, Write};

use jiff::civil::{Date, Time};
use wfm_stats::{AgentQueueRow, AgentRow, IntervalStats, QueueRow};

/// Type line of the queue file.
pub const QUEUE_TYPE: &str = "Teleopti.Queue.Data";
/// Type line of the agent file.
pub const AGENT_TYPE: &str = "Teleopti.Agent.Data";
/// Type line of the agent-queue file.
pub const AGENT_QUEUE_TYPE: &str = "Teleopti.AgentQueue.Data";

/// Columns before the measures, per file.
const LABEL_COLUMNS: [&str; 3] = ["interval", "date", "time"];
const QUEUE_KEYS: [&str; 2] = ["queue", "queue_name"];
const AGENT_KEYS: [&str; 2] = ["agent_id", "agent_name"];
const AGENT_QUEUE_KEYS: [&str; 4] = ["agent_id", "agent_name", "queue", "queue_name"];

/// Output format of a statistics export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsFormat {
    /// The three Teleopti partner files (`;`, type line, header).
    Teleopti,
    /// Three plain comma-separated files with a header.
    Csv,
    /// One JSON document.
    Json,
}

impl StatsFormat {
    /// Parses `teleopti`, `csv` or `json`.
    pub fn parse(name: &str) -> Option<StatsFormat> {
        match name {
            "teleopti" => Some(StatsFormat::Teleopti),
            "csv" => Some(StatsFormat::Csv),
            "json" => Some(StatsFormat::Json),
            _ => None,
        }
    }
}

/// One rendered file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsFile {
    /// File name (`Queue_Statistics_20240304_20240310.csv`).
    pub name: String,
    /// MIME type (`text/csv; charset=utf-8`, `application/json`).
    pub content_type: &'static str,
    /// The file's bytes.
    pub bytes: Vec<u8>,
}

/// Why rendering failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The writer handed in failed.
    #[error("writing statistics failed: {0}")]
    Io(#[from] io::Error),
    /// JSON serialization failed (does not happen for these types; kept for honesty).
    #[error("serializing statistics as JSON failed: {0}")]
    Json(#[from] serde_json::Error),
}

/// `YYYYMMDD`, as file names carry dates.
fn compact(date: Date) -> String {
    format!("{:04}{:02}{:02}", date.year(), date.month(), date.day())
}

/// The Teleopti file names for a window: queue, agent, agent-queue.
pub fn teleopti_file_names(from: Date, to: Date) -> [String; 3] {
    let (f, t) = (compact(from), compact(to));
    [
        format!("Queue_Statistics_{f}_{t}.csv"),
        format!("Agent_Statistics_{f}_{t}.csv"),
        format!("AgentQueue_Statistics_{f}_{t}.csv"),
    ]
}

/// Renders `stats` in `format`: three files for Teleopti and CSV, one for JSON.
pub fn render(stats: &IntervalStats, format: StatsFormat) -> Result<Vec<StatsFile>, RenderError> {
    match format {
        StatsFormat::Teleopti => Ok(teleopti_files(stats)?.into()),
        StatsFormat::Csv => Ok(csv_files(stats)?.into()),
        StatsFormat::Json => Ok(vec![json_file(stats)?]),
    }
}

/// The three Teleopti files (queue, agent, agent-queue) in memory.
pub fn teleopti_files(stats: &IntervalStats) -> Result<[StatsFile; 3], RenderError> {
    let [queue_name, agent_name, agent_queue_name] = teleopti_file_names(stats.from, stats.to);
    let file = |name, bytes| StatsFile {
        name,
        content_type: "text/csv; charset=utf-8",
        bytes,
    };
    let mut queue = Vec::new();
    write_teleopti_queue(stats, &mut queue)?;
    let mut agent = Vec::new();
    write_teleopti_agent(stats, &mut agent)?;
    let mut agent_queue = Vec::new();
    write_teleopti_agent_queue(stats, &mut agent_queue)?;
    Ok([
        file(queue_name, queue),
        file(agent_name, agent),
        file(agent_queue_name, agent_queue),
    ])
}

/// Writes the `Teleopti.Queue.Data` file.
pub fn write_teleopti_queue(stats: &IntervalStats, out: impl Write) -> io::Result<()> {
    let mut w = LineWriter::new(out);
    w.preamble(QUEUE_TYPE, &QUEUE_KEYS, &QueueRow::FIELDS)?;
    for r in &stats.queue_rows {
        w.label(r.interval_minutes, r.date, r.time);
        w.text(&r.queue);
        w.text(&r.queue_name);
        w.numbers(&r.measures());
        w.end_line()?;
    }
    w.finish()
}

/// Writes the `Teleopti.Agent.Data` file.
pub fn write_teleopti_agent(stats: &IntervalStats, out: impl Write) -> io::Result<()> {
    let mut w = LineWriter::new(out);
    w.preamble(AGENT_TYPE, &AGENT_KEYS, &AgentRow::FIELDS)?;
    for r in &stats.agent_rows {
        w.label(r.interval_minutes, r.date, r.time);
        w.text(&r.agent_id);
        w.text(&r.agent_name);
        w.numbers(&r.measures());
        w.end_line()?;
    }
    w.finish()
}

/// Writes the `Teleopti.AgentQueue.Data` file.
pub fn write_teleopti_agent_queue(stats: &IntervalStats, out: impl Write) -> io::Result<()> {
    let mut w = LineWriter::new(out);
    w.preamble(AGENT_QUEUE_TYPE, &AGENT_QUEUE_KEYS, &AgentQueueRow::FIELDS)?;
    for r in &stats.agent_queue_rows {
        w.label(r.interval_minutes, r.date, r.time);
        w.text(&r.agent_id);
        w.text(&r.agent_name);
        w.text(&r.queue);
        w.text(&r.queue_name);
        w.numbers(&r.measures());
        w.end_line()?;
    }
    w.finish()
}

/// How much a [`LineWriter`] buffers before it writes: large enough that a `Vec` or a file sees
/// few calls, small enough to stay in cache.
const FLUSH_AT: usize = 64 * 1024;

/// Builds `;`-separated lines in a buffer with hand-rolled integer formatting: rendering runs over
/// millions of rows, where `write!` per number would cost more than computing the statistics.
struct LineWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
    /// The label of the previous row and its rendered `interval;date;time;` prefix: rows come
    /// sorted by label, so most rows reuse it.
    label: Option<(u32, Date, Time)>,
    prefix: Vec<u8>,
}

impl<W: Write> LineWriter<W> {
    fn new(out: W) -> Self {
        LineWriter {
            out,
            buf: Vec::with_capacity(FLUSH_AT + 1024),
            label: None,
            prefix: Vec::with_capacity(32),
        }
    }

    fn preamble(&mut self, kind: &str, keys: &[&str], fields: &[&str]) -> io::Result<()> {
        self.buf.extend_from_slice(kind.as_bytes());
        self.buf.extend_from_slice(b"\n\n");
        let header: Vec<&str> = LABEL_COLUMNS
            .iter()
            .chain(keys)
            .chain(fields)
            .copied()
            .collect();
        self.buf.extend_from_slice(header.join(";").as_bytes());
        self.end_line()
    }

    fn label(&mut self, minutes: u32, date: Date, time: Time) {
        if self.label != Some((minutes, date, time)) {
            self.label = Some((minutes, date, time));
            self.prefix.clear();
            push_u64(&mut self.prefix, u64::from(minutes));
            self.prefix.push(b';');
            push_padded(&mut self.prefix, date.year() as u64, 4);
            self.prefix.push(b'-');
            push_padded(&mut self.prefix, date.month() as u64, 2);
            self.prefix.push(b'-');
            push_padded(&mut self.prefix, date.day() as u64, 2);
            self.prefix.push(b';');
            push_padded(&mut self.prefix, time.hour() as u64, 2);
            self.prefix.push(b':');
            push_padded(&mut self.prefix, time.minute() as u64, 2);
            self.prefix.push(b';');
        }
        self.buf.extend_from_slice(&self.prefix);
    }

    /// A text field and its separator, made safe for a format without quoting.
    fn text(&mut self, s: &str) {
        // Bytes first: ASCII controls and `;` are single bytes, and a non-ASCII byte (which could
        // start a C1 control) sends the field to the exact check by characters.
        let suspicious = s.bytes().any(|b| b == b';' || !(0x20..0x7f).contains(&b));
        if suspicious && s.contains(|c: char| c == ';' || c.is_control()) {
            for c in s.chars() {
                let c = match c {
                    ';' => ',',
                    c if c.is_control() => ' ',
                    c => c,
                };
                let mut utf8 = [0u8; 4];
                self.buf
                    .extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            }
        } else {
            self.buf.extend_from_slice(s.as_bytes());
        }
        self.buf.push(b';');
    }

    /// The measures, `;`-separated; the last one ends the fields of the line.
    fn numbers(&mut self, values: &[u64]) {
        for (i, &v) in values.iter().enumerate() {
            if i > 0 {
                self.buf.push(b';');
            }
            push_u64(&mut self.buf, v);
        }
    }

    fn end_line(&mut self) -> io::Result<()> {
        self.buf.push(b'\n');
        if self.buf.len() >= FLUSH_AT {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    fn finish(mut self) -> io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.out.flush()
    }
}

/// Decimal digits of `n`.
fn push_u64(buf: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

/// Decimal digits of `n`, zero-padded to `width`.
fn push_padded(buf: &mut Vec<u8>, n: u64, width: usize) {
    let start = buf.len();
    push_u64(buf, n);
    let len = buf.len() - start;
    if len < width {
        buf.splice(start..start, std::iter::repeat_n(b'0', width - len));
    }
}

/// The plain CSV file names for a window: queue, agent, agent-queue.
pub fn csv_file_names(from: Date, to: Date) -> [String; 3] {
    let (f, t) = (compact(from), compact(to));
    [
        format!("queue_stats_{f}_{t}.csv"),
        format!("agent_stats_{f}_{t}.csv"),
        format!("agent_queue_stats_{f}_{t}.csv"),
    ]
}

/// The three plain CSV files (queue, agent, agent-queue) in memory.
pub fn csv_files(stats: &IntervalStats) -> Result<[StatsFile; 3], RenderError> {
    let [queue_name, agent_name, agent_queue_name] = csv_file_names(stats.from, stats.to);
    let file = |name, bytes| StatsFile {
        name,
        content_type: "text/csv; charset=utf-8",
        bytes,
    };

    let label = |minutes: u32, date: Date, time: Time| {
        [
            minutes.to_string(),
            date.to_string(),
            wfm_stats::format_hhmm(time),
        ]
    };
    let queue = csv_table(
        &QUEUE_KEYS,
        &QueueRow::FIELDS,
        stats.queue_rows.iter().map(|r| {
            let mut cells = label(r.interval_minutes, r.date, r.time).to_vec();
            cells.extend([r.queue.to_string(), r.queue_name.to_string()]);
            cells.extend(r.measures().iter().map(u64::to_string));
            cells
        }),
    )?;
    let agent = csv_table(
        &AGENT_KEYS,
        &AgentRow::FIELDS,
        stats.agent_rows.iter().map(|r| {
            let mut cells = label(r.interval_minutes, r.date, r.time).to_vec();
            cells.extend([r.agent_id.to_string(), r.agent_name.to_string()]);
            cells.extend(r.measures().iter().map(u64::to_string));
            cells
        }),
    )?;
    let agent_queue = csv_table(
        &AGENT_QUEUE_KEYS,
        &AgentQueueRow::FIELDS,
        stats.agent_queue_rows.iter().map(|r| {
            let mut cells = label(r.interval_minutes, r.date, r.time).to_vec();
            cells.extend([
                r.agent_id.to_string(),
                r.agent_name.to_string(),
                r.queue.to_string(),
                r.queue_name.to_string(),
            ]);
            cells.extend(r.measures().iter().map(u64::to_string));
            cells
        }),
    )?;
    Ok([
        file(queue_name, queue),
        file(agent_name, agent),
        file(agent_queue_name, agent_queue),
    ])
}

fn csv_table(
    keys: &[&str],
    fields: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<Vec<u8>, RenderError> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let header: Vec<&str> = LABEL_COLUMNS
        .iter()
        .chain(keys)
        .chain(fields)
        .copied()
        .collect();
    w.write_record(&header).map_err(csv_error)?;
    for row in rows {
        w.write_record(&row).map_err(csv_error)?;
    }
    w.into_inner()
        .map_err(|e| RenderError::Io(io::Error::other(e.to_string())))
}

fn csv_error(e: csv::Error) -> RenderError {
    RenderError::Io(io::Error::other(e.to_string()))
}

/// The JSON rendering: the whole [`IntervalStats`] as one document.
pub fn json_file(stats: &IntervalStats) -> Result<StatsFile, RenderError> {
    Ok(StatsFile {
        name: format!(
            "interval_stats_{}_{}.json",
            compact(stats.from),
            compact(stats.to)
        ),
        content_type: "application/json",
        bytes: serde_json::to_vec(stats)?,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use jiff::civil::{date, time};
    use wfm_stats::InputCounts;

    use super::*;

    /// One row of each kind, a name with a `;`, and a second label.
    fn tiny() -> IntervalStats {
        let q = |name: &str| -> Arc<str> { Arc::from(name) };
        IntervalStats {
            tenant: "t".into(),
            interval_minutes: 15,
            from: date(2024, 3, 4),
            to: date(2024, 3, 5),
            queue_rows: vec![QueueRow {
                interval_minutes: 15,
                date: date(2024, 3, 4),
                time: time(9, 15, 0, 0),
                queue: q("q1"),
                queue_name: q("Sales; Nordic"),
                offd_direct_call_cnt: 10,
                overflow_in_call_cnt: 2,
                aband_call_cnt: 1,
                overflow_out_call_cnt: 1,
                answ_call_cnt: 10,
                queued_and_answ_call_dur: 120,
                queued_and_aband_call_dur: 30,
                talking_call_dur: 2400,
                wrap_up_dur: 300,
                queued_answ_longest_que_dur: 40,
                queued_aband_longest_que_dur: 30,
                avg_avail_member_cnt: 3,
                ans_servicelevel_cnt: 8,
                wait_dur: 2700,
                aband_short_call_cnt: 0,
                aband_within_sl_cnt: 0,
            }],
            agent_rows: vec![
                AgentRow {
                    interval_minutes: 15,
                    date: date(2024, 3, 4),
                    time: time(9, 15, 0, 0),
                    agent_id: q("a1"),
                    agent_name: q("Ada Lind"),
                    avail_dur: 900,
                    tot_work_dur: 900,
                    pause_dur: 0,
                    wait_dur: 120,
                    admin_dur: 0,
                    direct_out_call_cnt: 1,
                    direct_out_call_dur: 75,
                    direct_in_call_cnt: 0,
                    direct_in_call_dur: 0,
                },
                AgentRow {
                    interval_minutes: 15,
                    date: date(2024, 3, 5),
                    time: time(0, 0, 0, 0),
                    agent_id: q("a2"),
                    agent_name: q("Bo\nNilsson"),
                    avail_dur: 0,
                    tot_work_dur: 600,
                    pause_dur: 600,
                    wait_dur: 0,
                    admin_dur: 600,
                    direct_out_call_cnt: 0,
                    direct_out_call_dur: 0,
                    direct_in_call_cnt: 0,
                    direct_in_call_dur: 0,
                },
            ],
            agent_queue_rows: vec![AgentQueueRow {
                interval_minutes: 15,
                date: date(2024, 3, 4),
                time: time(9, 15, 0, 0),
                agent_id: q("a1"),
                agent_name: q("Ada Lind"),
                queue: q("q1"),
                queue_name: q("Sales; Nordic"),
                talking_call_dur: 600,
                wrap_up_dur: 45,
                answ_call_cnt: 3,
                transfer_out_call_cnt: 1,
            }],
            inputs: InputCounts::default(),
        }
    }

    fn text(file: &StatsFile) -> &str {
        std::str::from_utf8(&file.bytes).unwrap()
    }

    #[test]
    fn teleopti_files_have_exact_text() {
        let [queue, agent, agent_queue] = teleopti_files(&tiny()).unwrap();
        assert_eq!(queue.name, "Queue_Statistics_20240304_20240305.csv");
        assert_eq!(agent.name, "Agent_Statistics_20240304_20240305.csv");
        assert_eq!(
            agent_queue.name,
            "AgentQueue_Statistics_20240304_20240305.csv"
        );
        assert_eq!(
            text(&queue),
            "Teleopti.Queue.Data\n\
             \n\
             interval;date;time;queue;queue_name;offd_direct_call_cnt;overflow_in_call_cnt;aband_call_cnt;overflow_out_call_cnt;answ_call_cnt;queued_and_answ_call_dur;queued_and_aband_call_dur;talking_call_dur;wrap_up_dur;queued_answ_longest_que_dur;queued_aband_longest_que_dur;avg_avail_member_cnt;ans_servicelevel_cnt;wait_dur;aband_short_call_cnt;aband_within_sl_cnt\n\
             15;2024-03-04;09:15;q1;Sales, Nordic;10;2;1;1;10;120;30;2400;300;40;30;3;8;2700;0;0\n"
        );
        assert_eq!(
            text(&agent),
            "Teleopti.Agent.Data\n\
             \n\
             interval;date;time;agent_id;agent_name;avail_dur;tot_work_dur;pause_dur;wait_dur;admin_dur;direct_out_call_cnt;direct_out_call_dur;direct_in_call_cnt;direct_in_call_dur\n\
             15;2024-03-04;09:15;a1;Ada Lind;900;900;0;120;0;1;75;0;0\n\
             15;2024-03-05;00:00;a2;Bo Nilsson;0;600;600;0;600;0;0;0;0\n"
        );
        assert_eq!(
            text(&agent_queue),
            "Teleopti.AgentQueue.Data\n\
             \n\
             interval;date;time;agent_id;agent_name;queue;queue_name;talking_call_dur;wrap_up_dur;answ_call_cnt;transfer_out_call_cnt\n\
             15;2024-03-04;09:15;a1;Ada Lind;q1;Sales, Nordic;600;45;3;1\n"
        );
    }

    #[test]
    fn every_teleopti_row_has_the_column_count_of_its_header() {
        let stats = tiny();
        for file in teleopti_files(&stats).unwrap() {
            let lines: Vec<&str> = text(&file).lines().collect();
            assert_eq!(lines[1], "");
            let columns = lines[2].split(';').count();
            for line in &lines[3..] {
                assert_eq!(line.split(';').count(), columns, "{line}");
            }
        }
    }

    #[test]
    fn empty_stats_give_the_preamble_only() {
        let mut stats = tiny();
        stats.queue_rows.clear();
        let [queue, ..] = teleopti_files(&stats).unwrap();
        assert_eq!(text(&queue).lines().count(), 3);
        assert!(text(&queue).ends_with("aband_within_sl_cnt\n"));
    }

    #[test]
    fn csv_files_quote_instead_of_replacing() {
        let [queue, agent, agent_queue] = csv_files(&tiny()).unwrap();
        assert_eq!(queue.name, "queue_stats_20240304_20240305.csv");
        assert_eq!(
            text(&queue),
            "interval,date,time,queue,queue_name,offd_direct_call_cnt,overflow_in_call_cnt,aband_call_cnt,overflow_out_call_cnt,answ_call_cnt,queued_and_answ_call_dur,queued_and_aband_call_dur,talking_call_dur,wrap_up_dur,queued_answ_longest_que_dur,queued_aband_longest_que_dur,avg_avail_member_cnt,ans_servicelevel_cnt,wait_dur,aband_short_call_cnt,aband_within_sl_cnt\n\
             15,2024-03-04,09:15,q1,Sales; Nordic,10,2,1,1,10,120,30,2400,300,40,30,3,8,2700,0,0\n"
        );
        assert_eq!(
            text(&agent),
            "interval,date,time,agent_id,agent_name,avail_dur,tot_work_dur,pause_dur,wait_dur,admin_dur,direct_out_call_cnt,direct_out_call_dur,direct_in_call_cnt,direct_in_call_dur\n\
             15,2024-03-04,09:15,a1,Ada Lind,900,900,0,120,0,1,75,0,0\n\
             15,2024-03-05,00:00,a2,\"Bo\nNilsson\",0,600,600,0,600,0,0,0,0\n"
        );
        assert_eq!(
            text(&agent_queue),
            "interval,date,time,agent_id,agent_name,queue,queue_name,talking_call_dur,wrap_up_dur,answ_call_cnt,transfer_out_call_cnt\n\
             15,2024-03-04,09:15,a1,Ada Lind,q1,Sales; Nordic,600,45,3,1\n"
        );
    }

    #[test]
    fn json_is_the_whole_result() {
        let file = json_file(&tiny()).unwrap();
        assert_eq!(file.name, "interval_stats_20240304_20240305.json");
        let v: serde_json::Value = serde_json::from_slice(&file.bytes).unwrap();
        assert_eq!(v["interval_minutes"], 15);
        assert_eq!(v["from"], "2024-03-04");
        assert_eq!(
            v["agent_queue_rows"][0],
            serde_json::json!({
                "interval_minutes": 15, "date": "2024-03-04", "time": "09:15",
                "agent_id": "a1", "agent_name": "Ada Lind", "queue": "q1", "queue_name": "Sales; Nordic",
                "talking_call_dur": 600, "wrap_up_dur": 45, "answ_call_cnt": 3, "transfer_out_call_cnt": 1
            })
        );
        assert_eq!(v["agent_rows"][1]["time"], "00:00");
        assert_eq!(v["queue_rows"][0]["wait_dur"], 2700);
    }

    #[test]
    fn render_picks_the_files_of_a_format() {
        let stats = tiny();
        assert_eq!(render(&stats, StatsFormat::Teleopti).unwrap().len(), 3);
        assert_eq!(render(&stats, StatsFormat::Csv).unwrap().len(), 3);
        assert_eq!(render(&stats, StatsFormat::Json).unwrap().len(), 1);
        assert_eq!(StatsFormat::parse("json"), Some(StatsFormat::Json));
        assert_eq!(StatsFormat::parse("xml"), None);
    }

    #[test]
    fn numbers_and_padding() {
        let mut b = Vec::new();
        push_u64(&mut b, 0);
        b.push(b' ');
        push_u64(&mut b, u64::MAX);
        b.push(b' ');
        push_padded(&mut b, 7, 2);
        b.push(b' ');
        push_padded(&mut b, 123, 2);
        assert_eq!(
            String::from_utf8(b).unwrap(),
            "0 18446744073709551615 07 123"
        );
    }

    #[test]
    fn large_outputs_flush_in_chunks_and_stay_whole() {
        let mut stats = tiny();
        let row = stats.agent_rows[0].clone();
        stats.agent_rows = vec![row; 5_000];
        let mut out = Vec::new();
        write_teleopti_agent(&stats, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 3 + 5_000);
        assert!(
            text.lines()
                .skip(3)
                .all(|l| l == "15;2024-03-04;09:15;a1;Ada Lind;900;900;0;120;0;1;75;0;0")
        );
    }
}
