//! Tests of file sources over in-memory inputs.

use std::io::Cursor;

use wfm_model::{Outcome, Record, RecordKind};

use super::*;

fn read(
    text: &[u8],
    format: FileFormat,
    kind: RecordKind,
    options: ReadOptions,
) -> (Vec<Result<ReadItem, FileError>>, BTreeMap<String, u64>) {
    let mut source = FileSource::new(
        "test-file",
        Box::new(Cursor::new(text.to_vec())),
        format,
        kind,
        options,
    );
    let items: Vec<_> = source.by_ref().collect();
    (items, source.unknown_fields().clone())
}

fn records(items: &[Result<ReadItem, FileError>]) -> Vec<Record> {
    items
        .iter()
        .filter_map(|i| match i {
            Ok(ReadItem::Record { record, .. }) => Some(record.clone()),
            _ => None,
        })
        .collect()
}

fn rejected(items: &[Result<ReadItem, FileError>]) -> Vec<(u64, String)> {
    items
        .iter()
        .filter_map(|i| match i {
            Ok(ReadItem::Rejected { line, error, .. }) => Some((*line, error.to_string())),
            _ => None,
        })
        .collect()
}

const SEGMENT: &str = r#"{"tenant":"t","contact_id":"c1","seq":1,"channel":"voice","direction":"inbound","queue":"q1","offered_at":"2024-03-01T10:00:00+01:00","answered_at":"2024-03-01T10:00:12+01:00","agent":"a1","talk_s":100}"#;

#[test]
fn jsonl_reads_records_skips_blank_lines_and_numbers_lines() {
    let text = format!("\u{feff}{SEGMENT}\n\n  \n{}\n", SEGMENT.replace("c1", "c2"));
    let (items, unknown) = read(
        text.as_bytes(),
        FileFormat::Jsonl,
        RecordKind::Interactions,
        ReadOptions::default(),
    );
    assert_eq!(items.len(), 2);
    assert!(matches!(items[1], Ok(ReadItem::Record { line: 4, .. })));
    assert!(unknown.is_empty());
}

#[test]
fn jsonl_rejects_with_line_and_reason() {
    let bad = SEGMENT.replace("10:00:12", "09:59:00");
    let text = format!("{SEGMENT}\n{bad}\nnot json\n\u{0}\u{1}\u{2}\n");
    let (items, _) = read(
        text.as_bytes(),
        FileFormat::Jsonl,
        RecordKind::Interactions,
        ReadOptions::default(),
    );
    let rejects = rejected(&items);
    assert_eq!(
        rejects[0],
        (2, "answered_at is before offered_at".to_string())
    );
    assert_eq!(rejects[1].0, 3);
    assert!(
        rejects[1].1.starts_with("not a JSON object"),
        "{}",
        rejects[1].1
    );
    assert_eq!(rejects.len(), 3);
}

#[test]
fn jsonl_invalid_utf8_is_a_rejected_line() {
    let mut text = SEGMENT.as_bytes().to_vec();
    text.extend_from_slice(b"\n{\"tenant\":\"\xff\xfe\"}\n");
    let (items, _) = read(
        &text,
        FileFormat::Jsonl,
        RecordKind::Interactions,
        ReadOptions::default(),
    );
    let rejects = rejected(&items);
    assert_eq!(rejects.len(), 1);
    assert!(
        rejects[0].1.starts_with("not valid UTF-8"),
        "{}",
        rejects[0].1
    );
}

#[test]
fn unknown_fields_are_counted_or_rejected_in_strict_mode() {
    let text = format!(
        "{}\n",
        SEGMENT.replace("\"seq\":1", "\"seq\":1,\"colour\":\"red\"")
    );
    let (items, unknown) = read(
        text.as_bytes(),
        FileFormat::Jsonl,
        RecordKind::Interactions,
        ReadOptions::default(),
    );
    assert_eq!(records(&items).len(), 1);
    assert_eq!(unknown.get("colour"), Some(&1));
    let (items, _) = read(
        text.as_bytes(),
        FileFormat::Jsonl,
        RecordKind::Interactions,
        ReadOptions {
            strict: true,
            ..ReadOptions::default()
        },
    );
    assert!(rejected(&items)[0].1.contains("strict mode"));
}

#[test]
fn a_file_without_line_breaks_fails_fast() {
    let text = vec![b'a'; MAX_RECORD_BYTES * 3];
    for format in [FileFormat::Jsonl, FileFormat::Csv] {
        let (items, _) = read(&text, format, RecordKind::States, ReadOptions::default());
        let last = items.last().unwrap();
        let Err(e) = last else {
            panic!("expected an error, got {last:?}")
        };
        assert!(e.to_string().contains("no line break within"), "{e}");
    }
}

#[test]
fn csv_reads_lists_booleans_nulls_and_metadata() {
    let text = "\u{feff}tenant,agent,first_name,last_name,email,team,skills,active,extra\n\
                t,a1,Ada,Lind,,Team 1,q1; q2,yes,x\n\
                t,a2,Bo,Ek,bo@example.com,,,0,\n";
    let (items, unknown) = read(
        text.as_bytes(),
        FileFormat::Csv,
        RecordKind::Agents,
        ReadOptions::default(),
    );
    let recs = records(&items);
    let Record::Agent(a1) = &recs[0] else {
        panic!()
    };
    assert_eq!(a1.skills, vec!["q1", "q2"]);
    assert_eq!(a1.email, None);
    assert_eq!(a1.team.as_deref(), Some("Team 1"));
    assert!(a1.active);
    let Record::Agent(a2) = &recs[1] else {
        panic!()
    };
    assert!(!a2.active);
    assert!(a2.skills.is_empty());
    assert_eq!(unknown.get("extra"), Some(&1));

    let text = "tenant,contact_id,seq,channel,direction,queue,offered_at,abandoned_at,metadata.campaign,metadata\n\
                t,c1,1,chat,inbound,q1,2024-03-01T10:00:00Z,2024-03-01T10:01:00Z,spring,\"{\"\"lang\"\":\"\"sv\"\"}\"\n";
    let (items, _) = read(
        text.as_bytes(),
        FileFormat::Csv,
        RecordKind::Interactions,
        ReadOptions::default(),
    );
    let Record::Segment(s) = &records(&items)[0] else {
        panic!("{items:?}")
    };
    assert_eq!(s.outcome(), Outcome::Abandoned);
    assert_eq!(
        s.metadata.get("campaign").map(String::as_str),
        Some("spring")
    );
    assert_eq!(s.metadata.get("lang").map(String::as_str), Some("sv"));
}

#[test]
fn csv_header_problems_are_fatal_and_say_what_to_do() {
    let (items, _) = read(
        b"tenant,agent,state\nt,a,ready\n",
        FileFormat::Csv,
        RecordKind::States,
        ReadOptions::default(),
    );
    let Err(e) = &items[0] else { panic!() };
    assert!(e.to_string().contains("has no column at"), "{e}");

    let (items, _) = read(
        b"",
        FileFormat::Csv,
        RecordKind::States,
        ReadOptions::default(),
    );
    let Err(e) = &items[0] else { panic!() };
    assert!(e.to_string().contains("no header line"), "{e}");

    let (items, _) = read(
        b"tenant,agent,at,state,colour\n",
        FileFormat::Csv,
        RecordKind::States,
        ReadOptions {
            strict: true,
            ..ReadOptions::default()
        },
    );
    let Err(e) = &items[0] else { panic!() };
    assert!(e.to_string().contains("\"colour\" is not a field"), "{e}");
}

#[test]
fn csv_cell_errors_name_the_field() {
    let text = "tenant,agent,at,state\nt,a,2024-03-01T10:00:00Z,ready,extra\nt,a,2024-03-01T10:00:00Z,away\nt,a,2024-02-30T10:00:00Z,ready\n";
    let (items, _) = read(
        text.as_bytes(),
        FileFormat::Csv,
        RecordKind::States,
        ReadOptions::default(),
    );
    let rejects = rejected(&items);
    assert_eq!(rejects.len(), 3);
    assert_eq!(rejects[0].0, 2);
    assert!(
        rejects[0].1.contains("the row has 5 cells"),
        "{}",
        rejects[0].1
    );
    assert!(
        rejects[1].1.starts_with("state: unknown variant `away`"),
        "{}",
        rejects[1].1
    );
    assert!(rejects[2].1.starts_with("at: "), "{}", rejects[2].1);
}

const BANK_MAP: &str = r#"
kind = "interactions"
[time]
zone = "Asia/Jerusalem"
absent = ["0:00:00"]
day_rollover = "vru_entry"
[filter]
any = [
  { column = "q_start", present = true },
  { column = "outcome", equals = "AGENT" },
]
[fields]
tenant = { value = "bank" }
contact_id = { template = "{date}-{call_id}" }
seq = { value = 1 }
channel = { value = "voice" }
direction = { value = "inbound" }
queue = "type"
offered_at = { date = "date", time = ["q_start", "ser_start", "vru_exit"] }
answered_at = { date = "date", time = ["ser_start", "q_exit", "vru_exit"], when = { column = "outcome", equals = "AGENT" }, not_before = "offered_at" }
abandoned_at = { date = "date", time = "q_exit", when = { column = "outcome", equals = "HANG" }, not_before = "offered_at" }
agent = { column = "server", when = { column = "outcome", equals = "AGENT" } }
talk_s = { column = "ser_time", when = { column = "outcome", equals = "AGENT" } }
"#;

const BANK_CSV: &str = "\
call_id,type,date,vru_entry,vru_exit,q_start,q_exit,outcome,ser_start,ser_exit,ser_time,server
1,PS,2010-08-02,23:59:23,23:59:23,23:59:29,0:00:57,AGENT,0:00:56,0:01:15,19,GELBER
2,PS,2010-08-01,0:10:10,0:10:27,0:00:00,0:00:00,HANG,0:00:00,0:00:00,0,NO_SERVER
3,NW,2010-08-01,10:00:21,10:00:31,0:00:00,0:00:00,AGENT,10:00:30,10:02:09,99,NAAMA
4,PS,2010-08-01,12:04:42,12:03:15,12:03:15,12:04:56,HANG,0:00:00,0:00:00,0,NO_SERVER
5,PS,2010-08-01,10:36:34,10:36:39,10:36:39,10:38:58,PHANTOM,10:38:58,10:39:01,3,NO_SERVER
6,PS,2010-08-01,9:58:44,9:59:01,9:59:01,9:59:08,AGENT,9:59:00,10:00:02,62,NAAMA
";

fn bank(map: &str) -> Vec<Result<ReadItem, FileError>> {
    let mapping = Mapping::parse("bank.toml", map).unwrap();
    read(
        BANK_CSV.as_bytes(),
        FileFormat::Csv,
        RecordKind::Interactions,
        ReadOptions {
            mapping: Some(mapping),
            ..ReadOptions::default()
        },
    )
    .0
}

#[test]
fn mapping_turns_a_foreign_export_into_segments() {
    let items = bank(BANK_MAP);
    assert!(
        matches!(items[1], Ok(ReadItem::Skipped { line: 3 })),
        "{:?}",
        items[1]
    );
    assert!(rejected(&items).is_empty(), "{:?}", rejected(&items));
    let segs: Vec<_> = records(&items)
        .into_iter()
        .map(|r| match r {
            Record::Segment(s) => s,
            _ => panic!(),
        })
        .collect();
    assert_eq!(segs.len(), 5);

    // Crosses midnight: queued 23:59:29 on the 2nd (IDT, +03:00), answered 00:00:56 on the 3rd.
    assert_eq!(segs[0].contact_id, "2010-08-02-1");
    assert_eq!(segs[0].offered_at.to_string(), "2010-08-02T20:59:29Z");
    assert_eq!(
        segs[0].answered_at.unwrap().to_string(),
        "2010-08-02T21:00:56Z"
    );
    assert_eq!(segs[0].agent.as_deref(), Some("GELBER"));
    assert_eq!(segs[0].talk_s, 19);

    // Never queued, served directly: offered when service started, wait 0.
    assert_eq!(segs[1].queue.as_deref(), Some("NW"));
    assert_eq!(segs[1].offered_at, segs[1].answered_at.unwrap());

    // vru_exit before vru_entry (a real quirk) is not a midnight crossing.
    assert_eq!(segs[2].outcome(), Outcome::Abandoned);
    assert_eq!(segs[2].offered_at.to_string(), "2010-08-01T09:03:15Z");
    assert_eq!(segs[2].talk_s, 0);

    // PHANTOM: queued, no outcome: kept as a segment that statistics ignore.
    assert_eq!(segs[3].outcome(), Outcome::Waiting);
    assert_eq!(segs[3].agent, None);

    // Service logged a second before the queue entry: clamped to offered_at by not_before.
    assert_eq!(segs[4].answered_at.unwrap(), segs[4].offered_at);
}

#[test]
fn mapping_errors_name_the_map_and_the_problem() {
    let cases = [
        (
            BANK_MAP.replace("queue = \"type\"", "queue = \"typ\""),
            "[fields].queue names column \"typ\"",
        ),
        (
            BANK_MAP.replace("queue = \"type\"", "colour = \"type\""),
            "records have no field \"colour\"",
        ),
        (
            BANK_MAP.replace("tenant = { value = \"bank\" }\n", ""),
            "gives no source for tenant",
        ),
        (
            BANK_MAP.replace("zone = \"Asia/Jerusalem\"", "zone = \"Asia/Jerusalm\""),
            "not an IANA time zone",
        ),
        (
            BANK_MAP.replace("equals = \"AGENT\" },\n]", "equal = \"AGENT\" },\n]"),
            "unknown field `equal`",
        ),
        (
            BANK_MAP.replace("kind = \"interactions\"", "kind = \"agents\""),
            "produces agents records",
        ),
    ];
    for (map, expected) in cases {
        let err = match Mapping::parse("bank.toml", &map) {
            Err(e) => e.to_string(),
            Ok(_) => {
                let items = bank(&map);
                match &items[0] {
                    Err(e) => e.to_string(),
                    other => panic!("{expected}: expected an error, got {other:?}"),
                }
            }
        };
        assert!(err.contains(expected), "{expected:?} not in {err:?}");
        assert!(err.contains("bank.toml"), "{err}");
    }
}

#[test]
fn mapping_cell_errors_are_rejects() {
    let csv = BANK_CSV.replace("23:59:29", "25:61:00");
    let mapping = Mapping::parse("bank.toml", BANK_MAP).unwrap();
    let (items, _) = read(
        csv.as_bytes(),
        FileFormat::Csv,
        RecordKind::Interactions,
        ReadOptions {
            mapping: Some(mapping),
            ..ReadOptions::default()
        },
    );
    let rejects = rejected(&items);
    assert_eq!(rejects[0].0, 2);
    assert!(
        rejects[0]
            .1
            .contains("column q_start = \"25:61:00\" is not a time of day"),
        "{}",
        rejects[0].1
    );
}
