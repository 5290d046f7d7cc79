//! Tests of the statistics: one unit test per boundary the design names, then property tests of
//! every DESIGN §5 invariant and of agreement with the plain reference implementation
//! (`reference.rs`) on random tenants, time zones with DST, windows, directories and inputs.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::{Date, Time, date};
use proptest::prelude::*;
use wfm_model::{
    Agent, AgentState, AgentStateEvent, Channel, Direction, IntervalGrid, IntervalLength, Queue,
    Segment, Tenant,
};

use crate::reference::{self, Plain};
use crate::{IntervalStats, StatsBuilder, StatsContext, StatsError};

// ---------------------------------------------------------------- helpers

fn tenant(zone: &str, minutes: u32) -> Tenant {
    Tenant {
        tenant: "t".into(),
        name: "T".into(),
        time_zone: zone.into(),
        interval_minutes: IntervalLength::from_minutes(minutes).unwrap(),
        admin_reasons: vec!["Meeting".into(), "Training".into()],
    }
}

fn queue(id: &str, name: &str, sl: u32, short: u32) -> Queue {
    Queue {
        tenant: "t".into(),
        queue: id.into(),
        name: name.into(),
        sl_seconds: sl,
        short_abandon_seconds: short,
    }
}

fn agent(id: &str, first: &str, last: &str, skills: &[&str]) -> Agent {
    Agent {
        tenant: "t".into(),
        agent: id.into(),
        first_name: first.into(),
        last_name: last.into(),
        email: None,
        team: None,
        skills: skills.iter().map(|s| s.to_string()).collect(),
        active: true,
    }
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// A queued inbound voice segment without outcome yet.
fn seg(contact: &str, queue: Option<&str>, offered: &str) -> Segment {
    Segment {
        tenant: "t".into(),
        contact_id: contact.into(),
        seq: 1,
        channel: Channel::Voice,
        direction: Direction::Inbound,
        queue: queue.map(str::to_string),
        offered_at: ts(offered),
        answered_at: None,
        abandoned_at: None,
        overflowed: false,
        agent: None,
        talk_s: 0,
        hold_s: 0,
        acw_s: 0,
        transferred: false,
        metadata: BTreeMap::new(),
    }
}

fn answered(mut s: Segment, at: &str, agent: &str, talk: u32, hold: u32, acw: u32) -> Segment {
    s.answered_at = Some(ts(at));
    s.agent = Some(agent.into());
    s.talk_s = talk;
    s.hold_s = hold;
    s.acw_s = acw;
    s
}

fn abandoned(mut s: Segment, at: &str) -> Segment {
    s.abandoned_at = Some(ts(at));
    s
}

fn ev(agent: &str, at: &str, state: AgentState, reason: Option<&str>) -> AgentStateEvent {
    AgentStateEvent {
        tenant: "t".into(),
        agent: agent.into(),
        at: ts(at),
        state,
        reason: reason.map(str::to_string),
        source_code: None,
    }
}

type Timeline<'a> = (
    &'a str,
    Option<(AgentState, Option<&'a str>)>,
    Vec<AgentStateEvent>,
);

#[allow(clippy::too_many_arguments)]
fn run(
    tenant: &Tenant,
    queues: &[Queue],
    agents: &[Agent],
    from: Date,
    to: Date,
    interval: Option<u32>,
    segments: &[Segment],
    timelines: &[Timeline<'_>],
) -> IntervalStats {
    let interval = interval.map(|m| IntervalLength::from_minutes(m).unwrap());
    let ctx = StatsContext::new(tenant, queues, agents, from, to, interval).unwrap();
    let mut b = StatsBuilder::new(ctx);
    for s in segments {
        b.add_segment(s);
    }
    for (agent, initial, events) in timelines {
        b.add_timeline(agent, *initial, events).unwrap();
    }
    b.finish()
}

fn hm(t: Time) -> String {
    crate::format_hhmm(t)
}

/// Agent rows as (date, HH:MM, agent) → measures.
fn agent_map(stats: &IntervalStats) -> BTreeMap<(String, String, String), [u64; 9]> {
    stats
        .agent_rows
        .iter()
        .map(|r| {
            (
                (r.date.to_string(), hm(r.time), r.agent_id.to_string()),
                r.measures(),
            )
        })
        .collect()
}

const STOCKHOLM: &str = "Europe/Stockholm";

// ---------------------------------------------------------------- contacts

#[test]
fn contact_offered_on_an_interval_bound_counts_in_the_interval_it_starts() {
    let t = tenant(STOCKHOLM, 15);
    let segs = [
        abandoned(
            seg("c1", Some("q"), "2024-06-12T09:15:00+02:00"),
            "2024-06-12T09:15:03+02:00",
        ),
        abandoned(
            seg("c2", Some("q"), "2024-06-12T09:14:59.999+02:00"),
            "2024-06-12T09:15:30+02:00",
        ),
    ];
    let s = run(
        &t,
        &[],
        &[],
        date(2024, 6, 12),
        date(2024, 6, 12),
        None,
        &segs,
        &[],
    );
    let rows: Vec<_> = s
        .queue_rows
        .iter()
        .map(|r| (hm(r.time), r.aband_call_cnt))
        .collect();
    assert_eq!(rows, [("09:00".to_string(), 1), ("09:15".to_string(), 1)]);
    // The wait counts where the contact was offered, even when it ended in the next interval.
    assert_eq!(s.queue_rows[0].queued_and_aband_call_dur, 30);
}

#[test]
fn wait_equal_to_the_thresholds() {
    let t = tenant(STOCKHOLM, 15);
    let q = [queue("q", "Sales", 20, 5)];
    let o = "2024-06-12T09:00:00Z";
    let segs = [
        // answered exactly at sl_seconds: within service level
        answered(
            seg("c1", Some("q"), o),
            "2024-06-12T09:00:20Z",
            "a",
            10,
            0,
            0,
        ),
        // answered one second later: not
        answered(
            seg("c2", Some("q"), o),
            "2024-06-12T09:00:21Z",
            "a",
            10,
            0,
            0,
        ),
        // abandoned exactly at short_abandon_seconds: not short, within SL
        abandoned(seg("c3", Some("q"), o), "2024-06-12T09:00:05Z"),
        // abandoned just under: short
        abandoned(seg("c4", Some("q"), o), "2024-06-12T09:00:04Z"),
        // abandoned exactly at sl_seconds: within SL
        abandoned(seg("c5", Some("q"), o), "2024-06-12T09:00:20Z"),
        // abandoned after: neither
        abandoned(seg("c6", Some("q"), o), "2024-06-12T09:00:21Z"),
    ];
    let s = run(
        &t,
        &q,
        &[],
        date(2024, 6, 12),
        date(2024, 6, 12),
        None,
        &segs,
        &[],
    );
    let r = &s.queue_rows[0];
    assert_eq!((r.answ_call_cnt, r.ans_servicelevel_cnt), (2, 1));
    assert_eq!(
        (
            r.aband_call_cnt,
            r.aband_short_call_cnt,
            r.aband_within_sl_cnt
        ),
        (4, 1, 2)
    );
    assert_eq!(r.queued_answ_longest_que_dur, 21);
    assert_eq!(r.queued_aband_longest_que_dur, 21);
    assert_eq!(r.queued_and_aband_call_dur, 5 + 4 + 20 + 21);
}

#[test]
fn waits_are_rounded_half_up_before_summing_and_comparing() {
    let t = tenant(STOCKHOLM, 15);
    let q = [queue("q", "Sales", 20, 5)];
    let o = "2024-06-12T09:00:00Z";
    let segs = [
        // 19.5 s rounds to 20: within SL
        answered(
            seg("c1", Some("q"), o),
            "2024-06-12T09:00:19.500Z",
            "a",
            0,
            0,
            0,
        ),
        // 20.499 s rounds to 20: within SL
        answered(
            seg("c2", Some("q"), o),
            "2024-06-12T09:00:20.499Z",
            "a",
            0,
            0,
            0,
        ),
        // 20.5 s rounds to 21: not
        answered(
            seg("c3", Some("q"), o),
            "2024-06-12T09:00:20.500Z",
            "a",
            0,
            0,
            0,
        ),
        // 4.5 s rounds to 5: not a short abandon
        abandoned(seg("c4", Some("q"), o), "2024-06-12T09:00:04.500Z"),
        // 4.499 s rounds to 4: short
        abandoned(seg("c5", Some("q"), o), "2024-06-12T09:00:04.499Z"),
    ];
    let s = run(
        &t,
        &q,
        &[],
        date(2024, 6, 12),
        date(2024, 6, 12),
        None,
        &segs,
        &[],
    );
    let r = &s.queue_rows[0];
    assert_eq!(r.ans_servicelevel_cnt, 2);
    // 20 + 20 + 21, not round(19.5 + 20.499 + 20.5) = 60
    assert_eq!(r.queued_and_answ_call_dur, 61);
    assert_eq!(r.queued_answ_longest_que_dur, 21);
    assert_eq!((r.aband_short_call_cnt, r.aband_within_sl_cnt), (1, 1));
    assert_eq!(r.queued_and_aband_call_dur, 9);
}

#[test]
fn queue_without_record_uses_its_id_and_default_thresholds() {
    let t = tenant(STOCKHOLM, 15);
    let o = "2024-06-12T09:00:00Z";
    let segs = [
        answered(
            seg("c1", Some("nq"), o),
            "2024-06-12T09:00:20Z",
            "a",
            0,
            0,
            0,
        ),
        answered(
            seg("c2", Some("nq"), o),
            "2024-06-12T09:00:21Z",
            "a",
            0,
            0,
            0,
        ),
        abandoned(seg("c3", Some("nq"), o), "2024-06-12T09:00:04Z"),
    ];
    let s = run(
        &t,
        &[],
        &[],
        date(2024, 6, 12),
        date(2024, 6, 12),
        None,
        &segs,
        &[],
    );
    let r = &s.queue_rows[0];
    assert_eq!((&*r.queue, &*r.queue_name), ("nq", "nq"));
    assert_eq!((r.ans_servicelevel_cnt, r.aband_short_call_cnt), (1, 1));
}

#[test]
fn outcomes_overflow_transfer_and_agent_queue_rows() {
    let t = tenant(STOCKHOLM, 15);
    let q = [queue("q1", "Sales", 20, 5), queue("q2", "Support", 30, 5)];
    let a = [agent("a1", "Ada", "Lind", &["q1"])];
    let o = "2024-06-12T09:01:00Z";
    let mut transfer = answered(
        seg("c1", Some("q1"), o),
        "2024-06-12T09:01:10Z",
        "a1",
        100,
        20,
        30,
    );
    transfer.transferred = true;
    let mut second = answered(
        seg("c1", Some("q2"), "2024-06-12T09:03:10Z"),
        "2024-06-12T09:03:40Z",
        "a2",
        50,
        0,
        5,
    );
    second.seq = 2;
    let mut overflow = seg("c2", Some("q1"), o);
    overflow.overflowed = true;
    let waiting = seg("c3", Some("q1"), o);
    let segs = [transfer, second, overflow, waiting];
    let s = run(
        &t,
        &q,
        &a,
        date(2024, 6, 12),
        date(2024, 6, 12),
        None,
        &segs,
        &[],
    );
    assert_eq!(s.inputs.segments, 3);
    assert_eq!(s.inputs.segments_waiting, 1);
    let q1 = &s.queue_rows[0];
    assert_eq!(&*q1.queue, "q1");
    assert_eq!(
        (
            q1.offd_direct_call_cnt,
            q1.answ_call_cnt,
            q1.overflow_out_call_cnt,
            q1.talking_call_dur,
            q1.wrap_up_dur
        ),
        (2, 1, 1, 120, 30)
    );
    let q2 = &s.queue_rows[1];
    assert_eq!(
        (
            q2.offd_direct_call_cnt,
            q2.overflow_in_call_cnt,
            q2.answ_call_cnt
        ),
        (0, 1, 1)
    );
    let aq: Vec<_> = s
        .agent_queue_rows
        .iter()
        .map(|r| {
            (
                r.agent_id.to_string(),
                r.agent_name.to_string(),
                r.queue_name.to_string(),
                r.measures(),
            )
        })
        .collect();
    assert_eq!(
        aq,
        [
            (
                "a1".into(),
                "Ada Lind".into(),
                "Sales".into(),
                [120, 30, 1, 1]
            ),
            // a2 has no record: named by its id
            ("a2".into(), "a2".into(), "Support".into(), [50, 5, 1, 0]),
        ]
    );
}

#[test]
fn direct_inbound_and_outbound_calls_feed_only_the_agent_row() {
    let t = tenant(STOCKHOLM, 15);
    let mut out = answered(
        seg("c1", None, "2024-06-12T09:00:00Z"),
        "2024-06-12T09:00:00Z",
        "a1",
        60,
        15,
        20,
    );
    out.direction = Direction::Outbound;
    let inb = answered(
        seg("c2", None, "2024-06-12T09:10:00Z"),
        "2024-06-12T09:10:05Z",
        "a1",
        30,
        0,
        0,
    );
    let inb2 = answered(
        seg("c3", None, "2024-06-12T09:20:00Z"),
        "2024-06-12T09:20:05Z",
        "a1",
        40,
        1,
        0,
    );
    let s = run(
        &t,
        &[],
        &[],
        date(2024, 6, 12),
        date(2024, 6, 12),
        None,
        &[out, inb, inb2],
        &[],
    );
    assert!(s.queue_rows.is_empty());
    assert!(s.agent_queue_rows.is_empty());
    let rows = agent_map(&s);
    assert_eq!(
        rows[&("2024-06-12".into(), "11:00".into(), "a1".into())],
        [0, 0, 0, 0, 0, 1, 75, 1, 30]
    );
    assert_eq!(
        rows[&("2024-06-12".into(), "11:15".into(), "a1".into())],
        [0, 0, 0, 0, 0, 0, 0, 1, 41]
    );
}

#[test]
fn another_tenants_data_is_ignored() {
    let t = tenant(STOCKHOLM, 15);
    let mut other_queue = queue("q", "Other name", 60, 10);
    other_queue.tenant = "u".into();
    let mut other_agent = agent("a1", "Not", "This", &["q"]);
    other_agent.tenant = "u".into();
    let mut other_seg = abandoned(
        seg("c1", Some("q"), "2024-06-12T09:00:00Z"),
        "2024-06-12T09:00:08Z",
    );
    other_seg.tenant = "u".into();
    let mine = abandoned(
        seg("c2", Some("q"), "2024-06-12T09:00:00Z"),
        "2024-06-12T09:00:08Z",
    );
    let mut other_event = ev("a1", "2024-06-12T09:00:00Z", AgentState::Ready, None);
    other_event.tenant = "u".into();
    let timeline = vec![
        other_event,
        ev("a1", "2024-06-12T09:05:00Z", AgentState::Busy, None),
    ];
    let s = run(
        &t,
        &[other_queue],
        &[other_agent],
        date(2024, 6, 12),
        date(2024, 6, 12),
        None,
        &[other_seg, mine],
        &[("a1", None, timeline)],
    );
    assert_eq!(s.inputs.segments_other_tenant, 1);
    assert_eq!(s.inputs.state_events_other_tenant, 1);
    let r = &s.queue_rows[0];
    // The other tenant's queue record does not name or configure ours; its agent gives no skills.
    assert_eq!(
        (
            &*r.queue_name,
            r.aband_call_cnt,
            r.aband_within_sl_cnt,
            r.wait_dur
        ),
        ("q", 1, 1, 0)
    );
    let rows = agent_map(&s);
    // Busy from 11:05 local until the window ends (the last state holds): 11:00 … 23:45.
    assert_eq!(rows.len(), 52);
    assert_eq!(
        rows[&("2024-06-12".into(), "11:00".into(), "a1".into())][..2],
        [600, 600]
    );
}

// ---------------------------------------------------------------- timelines

#[test]
fn durations_are_rounded_once_per_cell_and_queue_wait_sums_unrounded_agents() {
    let t = tenant("UTC", 15);
    let q = [queue("q", "Q", 20, 5)];
    let a = [
        agent("a1", "A", "One", &["q"]),
        agent("a2", "A", "Two", &["q"]),
    ];
    // Each agent: ready 1.4 s, busy 0.4 s, acw 0.2 s, then logged out.
    let timeline = |id: &'static str| {
        (
            id,
            None,
            vec![
                ev(id, "2024-06-12T09:00:00Z", AgentState::Ready, None),
                ev(id, "2024-06-12T09:00:01.400Z", AgentState::Busy, None),
                ev(id, "2024-06-12T09:00:01.800Z", AgentState::Acw, None),
                ev(id, "2024-06-12T09:00:02Z", AgentState::LoggedOut, None),
            ],
        )
    };
    let s = run(
        &t,
        &q,
        &a,
        date(2024, 6, 12),
        date(2024, 6, 12),
        None,
        &[],
        &[timeline("a1"), timeline("a2")],
    );
    for r in &s.agent_rows {
        // avail = round(1.4 + 0.4 + 0.2) = 2, not 1 + 0 + 0; wait = round(1.4) = 1
        assert_eq!(r.measures(), [2, 2, 0, 1, 0, 0, 0, 0, 0]);
    }
    // queue wait = round(1.4 + 1.4) = 3, not 1 + 1
    assert_eq!(s.queue_rows[0].wait_dur, 3);
    assert_eq!(s.queue_rows[0].avg_avail_member_cnt, 0);
}

#[test]
fn half_a_second_rounds_up_and_less_leaves_no_row() {
    let t = tenant("UTC", 15);
    let events = vec![
        ev(
            "a",
            "2024-06-12T09:00:00Z",
            AgentState::NotReady,
            Some("Training"),
        ),
        ev("a", "2024-06-12T09:00:00.500Z", AgentState::LoggedOut, None),
        ev("a", "2024-06-12T10:00:00Z", AgentState::Ready, None),
        ev("a", "2024-06-12T10:00:00.499Z", AgentState::LoggedOut, None),
    ];
    let s = run(
        &t,
        &[],
        &[],
        date(2024, 6, 12),
        date(2024, 6, 12),
        None,
        &[],
        &[("a", None, events)],
    );
    assert_eq!(s.agent_rows.len(), 1);
    assert_eq!(s.agent_rows[0].measures(), [0, 1, 1, 0, 1, 0, 0, 0, 0]);
}

#[test]
fn admin_time_is_not_ready_with_an_admin_reason() {
    let t = tenant("UTC", 60);
    let events = vec![
        ev(
            "a",
            "2024-06-12T09:00:00Z",
            AgentState::NotReady,
            Some("Lunch"),
        ),
        ev(
            "a",
            "2024-06-12T09:30:00Z",
            AgentState::NotReady,
            Some("Meeting"),
        ),
        ev("a", "2024-06-12T09:45:00Z", AgentState::NotReady, None),
        ev("a", "2024-06-12T09:50:00Z", AgentState::Acw, None),
        ev("a", "2024-06-12T10:00:00Z", AgentState::LoggedOut, None),
    ];
    let s = run(
        &t,
        &[],
        &[],
        date(2024, 6, 12),
        date(2024, 6, 12),
        None,
        &[],
        &[("a", None, events)],
    );
    // avail (acw 10 min), tot_work 60 min, pause 50 min, wait 0, admin 15 min
    assert_eq!(
        s.agent_rows[0].measures(),
        [600, 3600, 3000, 0, 900, 0, 0, 0, 0]
    );
}

#[test]
fn a_state_spanning_midnight_and_the_spring_forward_change() {
    let t = tenant(STOCKHOLM, 15);
    let a = [agent("a", "A", "B", &["q"])];
    // Ready from 2024-03-30 23:00 CET to 2024-03-31 04:00 CEST: 4 real hours.
    let events = vec![
        ev("a", "2024-03-30T23:00:00+01:00", AgentState::Ready, None),
        ev(
            "a",
            "2024-03-31T04:00:00+02:00",
            AgentState::LoggedOut,
            None,
        ),
    ];
    let s = run(
        &t,
        &[],
        &a,
        date(2024, 3, 30),
        date(2024, 3, 31),
        None,
        &[],
        &[("a", None, events)],
    );
    let rows = agent_map(&s);
    let times: Vec<_> = rows.keys().map(|(d, t, _)| format!("{d} {t}")).collect();
    assert_eq!(times.len(), 16);
    assert_eq!(times[0], "2024-03-30 23:00");
    assert_eq!(times[3], "2024-03-30 23:45");
    assert_eq!(times[4], "2024-03-31 00:00");
    // 02:00–02:45 do not exist on that day.
    assert_eq!(times[11], "2024-03-31 01:45");
    assert_eq!(times[12], "2024-03-31 03:00");
    assert!(rows.values().all(|m| m[..4] == [900, 900, 0, 900]));
    // The queue the agent is skilled for gets the same ready time, and one available agent.
    assert_eq!(s.queue_rows.len(), 16);
    assert!(
        s.queue_rows
            .iter()
            .all(|r| (r.wait_dur, r.avg_avail_member_cnt) == (900, 1))
    );
}

#[test]
fn the_repeated_fall_back_hour_is_merged_into_one_label() {
    let t = tenant(STOCKHOLM, 15);
    let a = [agent("a", "A", "B", &["q"])];
    // Ready from 01:30 CEST to 03:00 CET on 2024-10-27: 2.5 real hours.
    let events = vec![
        ev("a", "2024-10-27T01:30:00+02:00", AgentState::Ready, None),
        ev(
            "a",
            "2024-10-27T03:00:00+01:00",
            AgentState::LoggedOut,
            None,
        ),
    ];
    let segs = [
        // 02:10 CEST and 02:10 CET: both in the 02:00 label
        abandoned(
            seg("c1", Some("q"), "2024-10-27T02:10:00+02:00"),
            "2024-10-27T02:10:30+02:00",
        ),
        abandoned(
            seg("c2", Some("q"), "2024-10-27T02:10:00+01:00"),
            "2024-10-27T02:10:45+01:00",
        ),
    ];
    let s = run(
        &t,
        &[],
        &a,
        date(2024, 10, 27),
        date(2024, 10, 27),
        None,
        &segs,
        &[("a", None, events)],
    );
    let rows = agent_map(&s);
    let wait: Vec<_> = rows
        .iter()
        .map(|((_, t, _), m)| (t.clone(), m[3]))
        .collect();
    assert_eq!(
        wait,
        [
            ("01:30".to_string(), 900),
            ("01:45".to_string(), 900),
            ("02:00".to_string(), 1800),
            ("02:15".to_string(), 1800),
            ("02:30".to_string(), 1800),
            ("02:45".to_string(), 1800),
        ]
    );
    let two = s.queue_rows.iter().find(|r| hm(r.time) == "02:00").unwrap();
    assert_eq!(
        (
            two.aband_call_cnt,
            two.queued_and_aband_call_dur,
            two.queued_aband_longest_que_dur
        ),
        (2, 75, 45)
    );
    // avg_avail_member_cnt divides by L, as DESIGN §5 writes it: 1800 s / 900 s.
    assert_eq!((two.wait_dur, two.avg_avail_member_cnt), (1800, 2));
}

#[test]
fn the_window_starts_inside_a_state_that_began_days_earlier() {
    let t = tenant(STOCKHOLM, 60);
    // Ready since three days before the window; the event comes as the initial state.
    let s = run(
        &t,
        &[],
        &[],
        date(2024, 6, 12),
        date(2024, 6, 12),
        None,
        &[],
        &[(
            "a",
            Some((AgentState::Ready, None)),
            vec![ev(
                "a",
                "2024-06-12T00:30:00+02:00",
                AgentState::LoggedOut,
                None,
            )],
        )],
    );
    let rows = agent_map(&s);
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[&("2024-06-12".into(), "00:00".into(), "a".into())][..4],
        [1800, 1800, 0, 1800]
    );

    // The same with the old event passed in the timeline instead, and a not_ready admin reason.
    let events = vec![
        ev(
            "a",
            "2024-06-09T08:00:00Z",
            AgentState::NotReady,
            Some("Training"),
        ),
        ev(
            "a",
            "2024-06-12T00:30:00+02:00",
            AgentState::LoggedOut,
            None,
        ),
    ];
    let s = run(
        &t,
        &[],
        &[],
        date(2024, 6, 12),
        date(2024, 6, 12),
        None,
        &[],
        &[("a", None, events)],
    );
    assert_eq!(
        s.agent_rows[0].measures(),
        [0, 1800, 1800, 0, 1800, 0, 0, 0, 0]
    );

    // With no later event the state holds to the end of the window: every hour of the day.
    let s = run(
        &t,
        &[],
        &[],
        date(2024, 6, 12),
        date(2024, 6, 13),
        None,
        &[],
        &[("a", Some((AgentState::NotReady, Some("Meeting"))), vec![])],
    );
    assert_eq!(s.agent_rows.len(), 48);
    assert!(
        s.agent_rows
            .iter()
            .all(|r| r.admin_dur == 3600 && r.pause_dur == 3600)
    );
}

#[test]
fn agent_without_record_is_named_by_id_and_counts_for_no_queue() {
    let t = tenant("UTC", 15);
    let q = [queue("q", "Q", 20, 5)];
    let events = vec![
        ev("ghost", "2024-06-12T09:00:00Z", AgentState::Ready, None),
        ev("ghost", "2024-06-12T09:10:00Z", AgentState::LoggedOut, None),
    ];
    let s = run(
        &t,
        &q,
        &[],
        date(2024, 6, 12),
        date(2024, 6, 12),
        None,
        &[],
        &[("ghost", None, events)],
    );
    assert_eq!(&*s.agent_rows[0].agent_name, "ghost");
    assert_eq!(s.agent_rows[0].wait_dur, 600);
    assert!(s.queue_rows.is_empty());
}

#[test]
fn agent_names_are_trimmed() {
    let t = tenant("UTC", 15);
    let a = [agent("a", " Ada ", "", &[])];
    let events = vec![ev("a", "2024-06-12T09:00:00Z", AgentState::Ready, None)];
    let s = run(
        &t,
        &[],
        &a,
        date(2024, 6, 12),
        date(2024, 6, 12),
        None,
        &[],
        &[("a", None, events)],
    );
    assert_eq!(&*s.agent_rows[0].agent_name, "Ada");
}

#[test]
fn interval_lengths_15_30_and_60() {
    let t = tenant(STOCKHOLM, 15);
    let a = [agent("a", "A", "B", &["q"])];
    let events = vec![
        ev("a", "2024-06-12T09:10:00+02:00", AgentState::Ready, None),
        ev(
            "a",
            "2024-06-12T10:20:00+02:00",
            AgentState::LoggedOut,
            None,
        ),
    ];
    let segs = [
        answered(
            seg("c1", Some("q"), "2024-06-12T09:29:59+02:00"),
            "2024-06-12T09:30:10+02:00",
            "a",
            5,
            0,
            0,
        ),
        answered(
            seg("c2", Some("q"), "2024-06-12T09:30:00+02:00"),
            "2024-06-12T09:30:03+02:00",
            "a",
            7,
            0,
            0,
        ),
    ];
    let tl = [("a", None, events)];
    let day = date(2024, 6, 12);
    let summary = |s: &IntervalStats| {
        (
            s.agent_rows
                .iter()
                .map(|r| (hm(r.time), r.wait_dur))
                .collect::<Vec<_>>(),
            s.queue_rows
                .iter()
                .map(|r| (hm(r.time), r.answ_call_cnt, r.avg_avail_member_cnt))
                .collect::<Vec<_>>(),
        )
    };
    let s15 = run(&t, &[], &a, day, day, None, &segs, &tl);
    assert!(s15.agent_rows.iter().all(|r| r.interval_minutes == 15));
    let (agents, queues) = summary(&s15);
    assert_eq!(
        agents,
        [
            ("09:00".into(), 300),
            ("09:15".into(), 900),
            ("09:30".into(), 900),
            ("09:45".into(), 900),
            ("10:00".into(), 900),
            ("10:15".into(), 300)
        ]
    );
    assert_eq!(queues[1], ("09:15".into(), 1, 1));
    assert_eq!(queues[2], ("09:30".into(), 1, 1));

    let s30 = run(&t, &[], &a, day, day, Some(30), &segs, &tl);
    assert!(s30.queue_rows.iter().all(|r| r.interval_minutes == 30));
    let (agents, queues) = summary(&s30);
    assert_eq!(
        agents,
        [
            ("09:00".into(), 1200),
            ("09:30".into(), 1800),
            ("10:00".into(), 1200)
        ]
    );
    // 1200 / 1800 = 0.67 rounds to 1
    assert_eq!(
        queues,
        [
            ("09:00".into(), 1, 1),
            ("09:30".into(), 1, 1),
            ("10:00".into(), 0, 1)
        ]
    );

    let s60 = run(&t, &[], &a, day, day, Some(60), &segs, &tl);
    let (agents, queues) = summary(&s60);
    assert_eq!(agents, [("09:00".into(), 3000), ("10:00".into(), 1200)]);
    // 1200 / 3600 = 0.33 rounds to 0
    assert_eq!(queues, [("09:00".into(), 2, 1), ("10:00".into(), 0, 0)]);
}

#[test]
fn rows_are_sorted_by_date_time_and_ids() {
    let t = tenant("UTC", 15);
    let segs = [
        answered(
            seg("c1", Some("qb"), "2024-06-12T10:00:00Z"),
            "2024-06-12T10:00:01Z",
            "a2",
            1,
            0,
            0,
        ),
        answered(
            seg("c2", Some("qa"), "2024-06-12T10:00:00Z"),
            "2024-06-12T10:00:01Z",
            "a2",
            1,
            0,
            0,
        ),
        answered(
            seg("c3", Some("qb"), "2024-06-12T10:00:00Z"),
            "2024-06-12T10:00:01Z",
            "a1",
            1,
            0,
            0,
        ),
        answered(
            seg("c4", Some("qb"), "2024-06-12T09:00:00Z"),
            "2024-06-12T09:00:01Z",
            "a3",
            1,
            0,
            0,
        ),
    ];
    let s = run(
        &t,
        &[],
        &[],
        date(2024, 6, 12),
        date(2024, 6, 12),
        None,
        &segs,
        &[],
    );
    let q: Vec<_> = s
        .queue_rows
        .iter()
        .map(|r| format!("{} {}", hm(r.time), r.queue))
        .collect();
    assert_eq!(q, ["09:00 qb", "10:00 qa", "10:00 qb"]);
    let aq: Vec<_> = s
        .agent_queue_rows
        .iter()
        .map(|r| format!("{} {} {}", hm(r.time), r.agent_id, r.queue))
        .collect();
    assert_eq!(
        aq,
        ["09:00 a3 qb", "10:00 a1 qb", "10:00 a2 qa", "10:00 a2 qb"]
    );
}

#[test]
fn segments_outside_the_window_are_ignored() {
    let t = tenant(STOCKHOLM, 15);
    let segs = [
        // 23:59:59 local the day before, answered inside the window: not counted
        answered(
            seg("c1", Some("q"), "2024-06-11T23:59:59+02:00"),
            "2024-06-12T00:00:10+02:00",
            "a",
            1,
            0,
            0,
        ),
        // the first instant after the window
        abandoned(
            seg("c2", Some("q"), "2024-06-13T00:00:00+02:00"),
            "2024-06-13T00:00:10+02:00",
        ),
        abandoned(
            seg("c3", Some("q"), "2024-06-12T00:00:00+02:00"),
            "2024-06-12T00:00:10+02:00",
        ),
    ];
    let s = run(
        &t,
        &[],
        &[],
        date(2024, 6, 12),
        date(2024, 6, 12),
        None,
        &segs,
        &[],
    );
    assert_eq!(s.inputs.segments_outside_window, 2);
    assert_eq!(s.queue_rows.len(), 1);
    assert_eq!(hm(s.queue_rows[0].time), "00:00");
}

#[test]
fn errors_say_what_is_wrong() {
    let t = tenant(STOCKHOLM, 15);
    let e =
        StatsContext::new(&t, &[], &[], date(2024, 6, 12), date(2024, 6, 11), None).unwrap_err();
    assert!(matches!(e, StatsError::EmptyWindow { .. }), "{e}");
    let e = StatsContext::new(&t, &[], &[], date(2024, 1, 1), date(2044, 1, 1), None).unwrap_err();
    assert!(e.to_string().contains("split the run"), "{e}");
    let e = StatsContext::new(
        &tenant("Mars/Olympus", 15),
        &[],
        &[],
        date(2024, 1, 1),
        date(2024, 1, 1),
        None,
    )
    .unwrap_err();
    assert!(e.to_string().contains("not an IANA time zone"), "{e}");

    let ctx = StatsContext::new(&t, &[], &[], date(2024, 6, 12), date(2024, 6, 12), None).unwrap();
    let mut b = StatsBuilder::new(ctx);
    let events = [
        ev("a", "2024-06-12T10:00:00Z", AgentState::Ready, None),
        ev("a", "2024-06-12T09:00:00Z", AgentState::Busy, None),
    ];
    let e = b.add_timeline("a", None, &events).unwrap_err();
    assert!(e.to_string().contains("must be in time order"), "{e}");
    let e = b.add_timeline("b", None, &events).unwrap_err();
    assert!(matches!(e, StatsError::TimelineAgentMismatch { .. }), "{e}");
}

// ---------------------------------------------------------------- properties

const ZONES: &[&str] = &[
    "UTC",
    "Europe/Stockholm",
    "America/New_York",
    "America/Santiago",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "Asia/Kolkata",
];

/// Days around DST changes in these zones, so that random windows often contain one.
const CHANGE_DAYS: &[(i16, i8, i8)] = &[
    (2024, 3, 10),
    (2024, 3, 31),
    (2024, 4, 7),
    (2024, 9, 8),
    (2024, 9, 29),
    (2024, 10, 6),
    (2024, 10, 27),
    (2024, 11, 3),
];

#[derive(Debug, Clone)]
struct Case {
    tenant: Tenant,
    queues: Vec<Queue>,
    agents: Vec<Agent>,
    from: Date,
    to: Date,
    segments: Vec<Segment>,
    events: Vec<AgentStateEvent>,
    /// Pass pre-window events as `initial` (true) or inside the timeline (false).
    split_initial: bool,
}

fn case() -> impl Strategy<Value = Case> {
    let window = (
        proptest::sample::select(ZONES),
        proptest::sample::select(&[15u32, 30, 60][..]),
        proptest::sample::select(CHANGE_DAYS),
        0i64..4,
        0i64..3,
    );
    let directory = (
        proptest::collection::vec((0usize..4, 0u32..40, 0u32..40), 0..4),
        proptest::collection::vec(
            (0usize..5, proptest::collection::vec(0usize..4, 0..4)),
            0..5,
        ),
    );
    (window, directory, any::<u64>(), any::<bool>()).prop_map(
        |((zone, minutes, change, before, days), (qs, ags), seed, split_initial)| {
            let tenant = tenant(zone, minutes);
            let (y, m, d) = change;
            let from = date(y, m, d)
                .checked_sub(jiff::Span::new().days(before))
                .unwrap();
            let to = from.checked_add(jiff::Span::new().days(days)).unwrap();
            let queues = qs
                .into_iter()
                .map(|(i, a, b)| queue(&format!("q{i}"), &format!("Queue {i}"), a.max(b), a.min(b)))
                .collect();
            let agents = ags
                .into_iter()
                .map(|(i, skills)| {
                    let skills: Vec<String> = skills.into_iter().map(|s| format!("q{s}")).collect();
                    let mut a = agent(&format!("a{i}"), &format!("First{i}"), "Last", &[]);
                    a.skills = skills;
                    a
                })
                .collect();
            let grid = IntervalGrid::new(tenant.zone().unwrap(), tenant.interval_minutes);
            let (start, end) = grid.window(from, to);
            let (segments, events) =
                random_inputs(seed, start.as_millisecond(), end.as_millisecond());
            Case {
                tenant,
                queues,
                agents,
                from,
                to,
                segments,
                events,
                split_initial,
            }
        },
    )
}

/// Random segments and state events around `[start, end)` from a seed (a small LCG: the inputs
/// are many and loosely constrained, easier to draw here than through nested strategies).
fn random_inputs(seed: u64, start: i64, end: i64) -> (Vec<Segment>, Vec<AgentStateEvent>) {
    let mut x = seed | 1;
    let mut next = move |n: u64| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) % n.max(1)
    };
    let at = |ms: i64| Timestamp::from_millisecond(ms).unwrap();
    let span = (end - start) as u64 + 4 * 3_600_000;
    let mut segments = Vec::new();
    for c in 0..next(60) {
        let offered = start - 2 * 3_600_000 + next(span) as i64;
        // Whole seconds, half seconds or any millisecond.
        let offered = match next(3) {
            0 => offered - offered.rem_euclid(1000),
            1 => offered - offered.rem_euclid(500),
            _ => offered,
        };
        let wait = match next(3) {
            0 => next(40) as i64 * 1000,
            1 => next(80) as i64 * 500,
            _ => next(40_000) as i64,
        };
        let direct = next(8) == 0;
        let mut s = Segment {
            tenant: if next(10) == 0 {
                "u".into()
            } else {
                "t".into()
            },
            contact_id: format!("c{c}"),
            seq: 1 + next(3) as u32,
            channel: Channel::Voice,
            direction: if next(2) == 0 {
                Direction::Inbound
            } else {
                Direction::Outbound
            },
            queue: (!direct).then(|| format!("q{}", next(5))),
            offered_at: at(offered),
            answered_at: None,
            abandoned_at: None,
            overflowed: false,
            agent: None,
            talk_s: 0,
            hold_s: 0,
            acw_s: 0,
            transferred: false,
            metadata: BTreeMap::new(),
        };
        match if direct { 0 } else { next(4) } {
            0 => {
                s.answered_at = Some(at(offered + wait));
                s.agent = Some(format!("a{}", next(6)));
                s.talk_s = next(900) as u32;
                s.hold_s = next(3) as u32 * next(120) as u32;
                s.acw_s = next(120) as u32;
                s.transferred = next(5) == 0;
            }
            1 => s.abandoned_at = Some(at(offered + wait)),
            2 => s.overflowed = true,
            _ => {}
        }
        segments.push(s);
    }
    let mut events = Vec::new();
    let states = AgentState::ALL;
    let reasons = [None, Some("Lunch"), Some("Meeting"), Some("Training")];
    for a in 0..6 {
        let mut t = start - 30 * 3_600_000 + next(30 * 3_600_000) as i64;
        for _ in 0..next(25) {
            // Mostly short states, some long ones that cross several intervals.
            t += if next(4) == 0 {
                next(10_000_000)
            } else {
                next(1_200_000)
            } as i64;
            if t >= end + 3_600_000 {
                break;
            }
            let t = if next(2) == 0 {
                t - t.rem_euclid(1000)
            } else {
                t
            };
            let state = states[next(5) as usize];
            events.push(AgentStateEvent {
                tenant: if next(15) == 0 {
                    "u".into()
                } else {
                    "t".into()
                },
                agent: format!("a{a}"),
                at: at(t),
                state,
                reason: if state == AgentState::NotReady {
                    reasons[next(4) as usize].map(str::to_string)
                } else {
                    None
                },
                source_code: None,
            });
        }
    }
    // Distinct instants per agent, as the store's natural key (tenant, agent, at) guarantees.
    events.sort_by(|a, b| (&a.agent, a.at).cmp(&(&b.agent, b.at)));
    events.dedup_by(|a, b| a.agent == b.agent && a.at == b.at);
    (segments, events)
}

fn fast(c: &Case) -> IntervalStats {
    let ctx = StatsContext::new(&c.tenant, &c.queues, &c.agents, c.from, c.to, None).unwrap();
    let (start, _) = ctx.window();
    let mut b = StatsBuilder::new(ctx);
    for s in &c.segments {
        b.add_segment(s);
    }
    let mut agents: Vec<&str> = c.events.iter().map(|e| e.agent.as_str()).collect();
    agents.dedup();
    for agent in agents {
        let mine: Vec<&AgentStateEvent> = c.events.iter().filter(|e| e.agent == agent).collect();
        if c.split_initial {
            let (before, after): (Vec<_>, Vec<_>) = mine.into_iter().partition(|e| e.at <= start);
            let initial = before
                .iter()
                .rev()
                .find(|e| e.tenant == c.tenant.tenant)
                .map(|e| (e.state, e.reason.as_deref()));
            b.add_timeline(agent, initial, after).unwrap();
        } else {
            b.add_timeline(agent, None, mine).unwrap();
        }
    }
    b.finish()
}

/// Total length in seconds of the pieces carrying each label of the window.
fn label_lengths(c: &Case) -> BTreeMap<(Date, Time), i64> {
    let grid = IntervalGrid::new(c.tenant.zone().unwrap(), c.tenant.interval_minutes);
    let mut out = BTreeMap::new();
    let mut d = c.from;
    loop {
        let day = grid.day(d);
        for p in &day.pieces {
            *out.entry((d, day.labels[p.label])).or_default() +=
                p.end.duration_since(p.start).as_secs();
        }
        if d == c.to {
            break;
        }
        d = d.tomorrow().unwrap();
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn fast_path_agrees_with_the_reference(c in case()) {
        let stats = fast(&c);
        let expected = reference::compute(
            &c.tenant, &c.queues, &c.agents, c.from, c.to, c.tenant.interval_minutes, &c.segments, &c.events,
        );
        let got = Plain::of(&stats.queue_rows, &stats.agent_rows, &stats.agent_queue_rows);
        prop_assert_eq!(&got.queues, &expected.queues);
        prop_assert_eq!(&got.agents, &expected.agents);
        prop_assert_eq!(&got.agent_queues, &expected.agent_queues);
    }

    #[test]
    fn invariants_of_design_5_hold(c in case()) {
        let stats = fast(&c);
        let l = c.tenant.interval_minutes.seconds() as u64;
        let lengths = label_lengths(&c);
        for r in &stats.queue_rows {
            prop_assert!(r.answ_call_cnt <= r.offd_direct_call_cnt + r.overflow_in_call_cnt, "{r:?}");
            prop_assert!(r.ans_servicelevel_cnt <= r.answ_call_cnt);
            prop_assert!(r.aband_short_call_cnt + r.aband_within_sl_cnt <= r.aband_call_cnt);
            prop_assert!(r.queued_answ_longest_que_dur <= r.queued_and_answ_call_dur);
            prop_assert!(r.queued_aband_longest_que_dur <= r.queued_and_aband_call_dur);
            prop_assert!(r.interval_minutes == c.tenant.interval_minutes.minutes());
            prop_assert!(lengths.contains_key(&(r.date, r.time)), "a row on a label of the window");
        }
        for r in &stats.agent_rows {
            let cell = lengths[&(r.date, r.time)] as u64;
            // ≤ L, except a label merged at a fall-back: ≤ the pieces it covers, at most 2 L.
            for d in [r.avail_dur, r.tot_work_dur, r.pause_dur, r.wait_dur, r.admin_dur] {
                prop_assert!(d <= cell && cell <= 2 * l, "{d} > {cell} in {r:?}");
            }
            prop_assert!(r.pause_dur <= r.tot_work_dur);
            prop_assert!(r.avail_dur <= r.tot_work_dur);
            prop_assert!(r.admin_dur <= r.pause_dur);
            prop_assert!(r.wait_dur <= r.avail_dur);
        }
        let mut answ: BTreeMap<(Date, Time, &str), u64> = BTreeMap::new();
        for r in &stats.agent_queue_rows {
            *answ.entry((r.date, r.time, &*r.queue)).or_default() += r.answ_call_cnt;
            prop_assert!(r.transfer_out_call_cnt <= r.answ_call_cnt);
        }
        for r in &stats.queue_rows {
            // Every answered segment of a valid input names its agent.
            prop_assert_eq!(answ.remove(&(r.date, r.time, &*r.queue)).unwrap_or(0), r.answ_call_cnt);
        }
        prop_assert!(answ.is_empty());
        // Sorted by (date, time, id).
        prop_assert!(stats.queue_rows.windows(2).all(|w| (w[0].date, w[0].time, &w[0].queue) < (w[1].date, w[1].time, &w[1].queue)));
        prop_assert!(stats.agent_rows.windows(2).all(|w| (w[0].date, w[0].time, &w[0].agent_id) < (w[1].date, w[1].time, &w[1].agent_id)));
        prop_assert!(stats.agent_queue_rows.windows(2).all(|w|
            (w[0].date, w[0].time, &w[0].agent_id, &w[0].queue) < (w[1].date, w[1].time, &w[1].agent_id, &w[1].queue)));
    }

    #[test]
    fn input_order_of_segments_and_agents_does_not_matter(c in case()) {
        let stats = fast(&c);
        let mut reversed = c.clone();
        reversed.segments.reverse();
        // Agents' timelines in reverse agent order; each timeline stays in time order.
        reversed.events.sort_by(|a, b| (&b.agent, a.at).cmp(&(&a.agent, b.at)));
        let again = fast(&reversed);
        prop_assert_eq!(stats, again);
    }
}

/// Simulated center: totals of the rows equal the simulator's own counts.
#[test]
fn simulated_week_totals_match_the_simulation_summary() {
    use wfm_model::Record;
    let config = wfm_simulator::SimulationConfig::new("sim", 30, 3, date(2024, 10, 24), 7, 7);
    let mut tenant = None;
    let (mut queues, mut agents, mut segments, mut events) = (vec![], vec![], vec![], vec![]);
    let summary = wfm_simulator::simulate(&config, |r| {
        match r {
            Record::Tenant(t) => tenant = Some(t),
            Record::Queue(q) => queues.push(q),
            Record::Agent(a) => agents.push(a),
            Record::Segment(s) => segments.push(s),
            Record::State(e) => events.push(e),
        }
        Ok::<(), std::convert::Infallible>(())
    })
    .unwrap();
    let tenant = tenant.unwrap();
    let ctx = StatsContext::new(&tenant, &queues, &agents, config.from, config.to(), None).unwrap();
    let mut b = StatsBuilder::new(ctx);
    for s in &segments {
        b.add_segment(s);
    }
    events.sort_by(|a, b| (&a.agent, a.at).cmp(&(&b.agent, b.at)));
    for chunk in events.chunk_by(|a, b| a.agent == b.agent) {
        b.add_timeline(&chunk[0].agent, None, chunk).unwrap();
    }
    let stats = b.finish();
    let total = |f: fn(&crate::QueueRow) -> u64| stats.queue_rows.iter().map(f).sum::<u64>();
    // Contacts offered after the last day (drained) are outside the window.
    let outside = stats.inputs.segments_outside_window;
    assert_eq!(
        total(|r| r.answ_call_cnt)
            + total(|r| r.aband_call_cnt)
            + total(|r| r.overflow_out_call_cnt)
            + outside,
        summary.answered + summary.abandoned + summary.overflowed
    );
    let ready: u64 = stats.agent_rows.iter().map(|r| r.wait_dur).sum();
    // Rounded per cell: within half a second per row of the simulator's exact total.
    assert!(
        ready.abs_diff(summary.ready_s) <= stats.agent_rows.len() as u64,
        "{ready} vs {}",
        summary.ready_s
    );
    let direct: u64 = stats
        .agent_rows
        .iter()
        .map(|r| r.direct_in_call_cnt + r.direct_out_call_cnt)
        .sum();
    assert_eq!(direct, summary.direct_inbound + summary.direct_outbound);
    // The simulator's times are whole seconds, so nothing is lost to rounding.
    assert_eq!(ready, summary.ready_s);
}
