//! Tests of the whole simulation: determinism, validity of every record, the consistency of contacts
//! and state timelines, rough realism, DST days and scaling; property tests over small random
//! configurations.

use std::collections::BTreeMap;

use jiff::SignedDuration;
use jiff::civil::{Date, date};
use jiff::tz::TimeZone;
use proptest::prelude::*;
use wfm_model::{AgentState, Channel, Direction, Record, Segment};

use super::*;

fn config(agents: u32, queues: u32, from: Date, days: u32, seed: u64) -> SimulationConfig {
    SimulationConfig::new("t1", agents, queues, from, days, seed)
}

fn run(config: &SimulationConfig) -> (Vec<Record>, SimulationSummary) {
    let mut records = Vec::new();
    let summary = simulate(config, |r| {
        records.push(r);
        Ok::<(), std::convert::Infallible>(())
    })
    .unwrap();
    (records, summary)
}

fn segments(records: &[Record]) -> impl Iterator<Item = &Segment> {
    records.iter().filter_map(|r| match r {
        Record::Segment(s) => Some(s),
        _ => None,
    })
}

/// One agent's state events: instant, state, reason.
type Timeline<'a> = Vec<(Timestamp, AgentState, Option<&'a str>)>;

/// Checks every record and every cross-record invariant; panics with the first violation.
fn check(config: &SimulationConfig, records: &[Record], summary: &SimulationSummary) {
    let zone = TimeZone::get(&config.time_zone).unwrap();
    let local_date = |t: Timestamp| t.to_zoned(zone.clone()).date();

    // Kinds come in order: tenant, queues, agents, then day by day segments and states.
    let rank = |r: &Record| match r {
        Record::Tenant(_) => 0,
        Record::Queue(_) => 1,
        Record::Agent(_) => 2,
        _ => 3,
    };
    for pair in records.windows(2) {
        assert!(rank(&pair[0]) <= rank(&pair[1]), "kinds out of order");
    }
    for r in records {
        r.validate()
            .unwrap_or_else(|e| panic!("{} invalid: {e}\n{}", r.describe_key(), r.to_json()));
        assert_eq!(r.tenant(), config.tenant);
    }

    let mut skills: BTreeMap<&str, (&Vec<String>, bool)> = BTreeMap::new();
    let mut queue_channel: BTreeMap<&str, Channel> = BTreeMap::new();
    let mut timeline: BTreeMap<&str, Timeline> = BTreeMap::new();
    let mut by_key: BTreeMap<(&str, u32), &Segment> = BTreeMap::new();
    let mut last_segment_key = None;
    let mut last_state_key = None;
    let mut counts = SimulationSummary::default();
    for r in records {
        match r {
            Record::Tenant(_) => counts.tenants += 1,
            Record::Queue(_) => counts.queues += 1,
            Record::Agent(a) => {
                counts.agents += 1;
                skills.insert(&a.agent, (&a.skills, a.active));
            }
            Record::Segment(s) => {
                counts.segments += 1;
                // Day by day, and within a day by (offered_at, contact_id, seq).
                let key = (
                    local_date(s.offered_at),
                    s.offered_at,
                    s.contact_id.clone(),
                    s.seq,
                );
                if let Some(last) = &last_segment_key {
                    assert!(last < &key, "segments out of order: {last:?} then {key:?}");
                }
                last_segment_key = Some(key);
                assert!(
                    by_key.insert((&s.contact_id, s.seq), s).is_none(),
                    "duplicate segment {} {}",
                    s.contact_id,
                    s.seq
                );
                if let Some(q) = &s.queue {
                    let channel = queue_channel.entry(q).or_insert(s.channel);
                    assert_eq!(*channel, s.channel, "one channel per queue");
                }
            }
            Record::State(e) => {
                counts.states += 1;
                let key = (local_date(e.at), e.at, e.agent.clone());
                if let Some(last) = &last_state_key {
                    assert!(last < &key, "states out of order: {last:?} then {key:?}");
                }
                last_state_key = Some(key);
                timeline
                    .entry(&e.agent)
                    .or_default()
                    .push((e.at, e.state, e.reason.as_deref()));
            }
        }
    }
    assert_eq!(
        (
            counts.tenants,
            counts.queues,
            counts.agents,
            counts.segments,
            counts.states
        ),
        (
            summary.tenants,
            summary.queues,
            summary.agents,
            summary.segments,
            summary.states
        )
    );

    // State timelines: strictly increasing, never the same state twice in a row, logged out
    // before the first event; inactive agents never log in; reasons only on not_ready.
    for (agent, events) in &timeline {
        let (_, active) = skills[agent];
        assert!(active, "inactive agent {agent} has states");
        let mut previous = (AgentState::LoggedOut, None);
        let mut previous_at = None;
        for &(at, state, reason) in events {
            if let Some(p) = previous_at {
                assert!(at > p, "{agent}: events not strictly increasing at {at}");
            }
            assert_ne!(previous, (state, reason), "{agent}: repeated state at {at}");
            assert_eq!(
                reason.is_some(),
                state == AgentState::NotReady,
                "{agent} {at}"
            );
            if previous.0 == AgentState::LoggedOut {
                assert!(
                    matches!(state, AgentState::Ready | AgentState::Busy),
                    "{agent}: first event after logged out is {state:?} at {at}"
                );
            }
            previous = (state, reason);
            previous_at = Some(at);
        }
    }
    let state_at = |agent: &str, at: Timestamp| -> (AgentState, Option<Timestamp>) {
        let events = &timeline[agent];
        let i = events.partition_point(|e| e.0 <= at);
        let state = if i == 0 {
            AgentState::LoggedOut
        } else {
            events[i - 1].1
        };
        (state, events.get(i).map(|e| e.0))
    };

    // Segments against the timelines and each other.
    let mut work: BTreeMap<&str, Vec<(Timestamp, Timestamp)>> = BTreeMap::new();
    for s in by_key.values() {
        if let Some(answered) = s.answered_at {
            let agent = s.agent.as_deref().unwrap();
            let (agent_skills, _) = skills[agent];
            if let Some(q) = &s.queue {
                assert!(
                    agent_skills.contains(q),
                    "{agent} answered {q} without the skill"
                );
            } else {
                assert_eq!(
                    answered, s.offered_at,
                    "direct contacts are answered at once"
                );
            }
            let talk_end = answered + SignedDuration::from_secs(i64::from(s.talk_s + s.hold_s));
            let end = talk_end + SignedDuration::from_secs(i64::from(s.acw_s));
            // Busy from answered_at through the talk (and hold).
            let (state, next) = state_at(agent, answered);
            assert_eq!(state, AgentState::Busy, "{agent} not busy at {answered}");
            assert!(
                next.is_none_or(|n| n >= talk_end),
                "{agent}: busy period ends before the talk of {} ends",
                s.contact_id
            );
            if s.acw_s > 0 {
                let (state, next) = state_at(agent, talk_end);
                assert_eq!(state, AgentState::Acw, "{agent} not in acw at {talk_end}");
                assert!(next.is_none_or(|n| n >= end));
            }
            work.entry(agent).or_default().push((answered, end));
        }
        if s.transferred {
            let next = by_key
                .get(&(s.contact_id.as_str(), s.seq + 1))
                .unwrap_or_else(|| panic!("transfer of {} has no next segment", s.contact_id));
            let talk_end =
                s.answered_at.unwrap() + SignedDuration::from_secs(i64::from(s.talk_s + s.hold_s));
            assert_eq!(next.offered_at, talk_end);
            assert_ne!(next.queue, s.queue);
        }
        if s.overflowed {
            let next = by_key
                .get(&(s.contact_id.as_str(), s.seq + 1))
                .unwrap_or_else(|| panic!("overflow of {} has no next segment", s.contact_id));
            assert!(next.offered_at > s.offered_at);
            assert_ne!(next.queue, s.queue);
            assert_eq!(next.channel, s.channel);
        }
        if s.seq > 1 {
            let prev = by_key
                .get(&(s.contact_id.as_str(), s.seq - 1))
                .unwrap_or_else(|| panic!("{} seq {} has no predecessor", s.contact_id, s.seq));
            assert!(prev.transferred || prev.overflowed);
        }
        if s.queue.is_none() {
            assert_eq!(s.channel, Channel::Voice);
        } else {
            assert_eq!(s.direction, Direction::Inbound);
        }
    }
    // An agent never works two contacts at once.
    for (agent, mut spans) in work {
        spans.sort();
        for pair in spans.windows(2) {
            assert!(
                pair[0].1 <= pair[1].0,
                "{agent} on two contacts at once: {:?} and {:?}",
                pair[0],
                pair[1]
            );
        }
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let c = config(30, 5, date(2024, 5, 10), 3, 11);
    let lines =
        |c: &SimulationConfig| -> Vec<String> { run(c).0.iter().map(Record::to_json).collect() };
    let a = lines(&c);
    assert_eq!(a, lines(&c));
    let mut other = c.clone();
    other.seed = 12;
    let b = lines(&other);
    assert_ne!(a, b);
}

#[test]
fn a_week_is_valid_and_consistent() {
    // Four queues: three voice and a chat; five: and an e-mail queue. From a Friday, over a weekend.
    for (queues, seed) in [(4, 1), (5, 2)] {
        let c = config(50, queues, date(2024, 1, 5), 7, seed);
        let (records, summary) = run(&c);
        check(&c, &records, &summary);
        assert!(
            summary.transferred > 0 && summary.overflowed > 0,
            "{summary}"
        );
        assert!(summary.direct_inbound > 0 && summary.direct_outbound > 0);
        let held = records
            .iter()
            .filter(|r| matches!(r, Record::State(e) if e.state == AgentState::NotReady))
            .count();
        assert!(held > 0);
    }
}

#[test]
fn directory_looks_like_a_contact_center() {
    let c = config(60, 7, date(2024, 1, 1), 1, 5);
    let (records, _) = run(&c);
    let Record::Tenant(tenant) = &records[0] else {
        panic!("tenant first")
    };
    assert_eq!(tenant.time_zone, "Europe/Stockholm");
    assert_eq!(tenant.admin_reasons, vec!["Meeting", "Training"]);
    let queues: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::Queue(q) => Some(q),
            _ => None,
        })
        .collect();
    assert_eq!(queues[0].queue, "q01");
    assert_eq!(queues[0].name, "Billing");
    assert_eq!(queues[0].sl_seconds, 20);
    assert_eq!(queues[3].sl_seconds, 60);
    assert_eq!(queues[4].sl_seconds, 3600);
    let agents: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::Agent(a) => Some(a),
            _ => None,
        })
        .collect();
    assert_eq!(agents[0].agent, "a0001");
    assert_eq!(agents[0].team.as_deref(), Some("Team 01"));
    assert_eq!(agents[59].team.as_deref(), Some("Team 05"));
    assert!(agents.iter().any(|a| !a.active));
    assert!(
        agents
            .iter()
            .all(|a| a.email.as_deref().unwrap().ends_with("@t1.example.com"))
    );
}

#[test]
fn realism_of_a_mid_sized_center() {
    // Two weeks, 50 agents, 4 queues, from a Monday.
    let c = config(50, 4, date(2024, 4, 8), 14, 3);
    let (records, summary) = run(&c);
    let abandon = summary.abandon_rate();
    let occupancy = summary.occupancy();
    let sl = summary.service_level();
    assert!((0.01..=0.30).contains(&abandon), "{summary}");
    assert!((0.60..=0.95).contains(&occupancy), "{summary}");
    assert!((0.5..=0.98).contains(&sl), "{summary}");
    assert_eq!(summary.waiting, 0, "voice and chat all end: {summary}");

    // Volume by weekday (first segments of queued contacts per local date).
    let zone = c.zone().unwrap();
    let mut per_date: BTreeMap<Date, u64> = BTreeMap::new();
    for s in segments(&records).filter(|s| s.queue.is_some() && s.seq == 1) {
        *per_date
            .entry(s.offered_at.to_zoned(zone.clone()).date())
            .or_default() += 1;
    }
    let mean = |pred: &dyn Fn(i8) -> bool| {
        let v: Vec<u64> = per_date
            .iter()
            .filter(|(d, _)| pred(d.weekday().to_monday_one_offset()))
            .map(|(_, n)| *n)
            .collect();
        v.iter().sum::<u64>() as f64 / v.len() as f64
    };
    let weekday = mean(&|d| d <= 5);
    let weekend = mean(&|d| d >= 6);
    assert!(
        weekend < 0.6 * weekday,
        "weekend {weekend} weekday {weekday}"
    );
    assert!(
        mean(&|d| d == 1) > mean(&|d| d == 5),
        "Monday busier than Friday"
    );

    // Service level differs from interval to interval: some hours good, some bad.
    let mut hours: BTreeMap<(Date, i8), (u64, u64)> = BTreeMap::new();
    for s in segments(&records).filter(|s| s.channel == Channel::Voice && s.queue.is_some()) {
        let local = s.offered_at.to_zoned(zone.clone());
        let cell = hours.entry((local.date(), local.hour())).or_default();
        if let Some(wait) = s.wait() {
            cell.0 += 1;
            if s.answered_at.is_some() && wait.as_secs() <= 20 {
                cell.1 += 1;
            }
        }
    }
    let levels: Vec<f64> = hours
        .values()
        .filter(|(n, _)| *n >= 20)
        .map(|(n, ok)| *ok as f64 / *n as f64)
        .collect();
    assert!(levels.iter().any(|&l| l >= 0.9), "some good hours");
    assert!(levels.iter().any(|&l| l < 0.7), "some bad hours");

    // Handle times look like voice: mean talk 3–6 minutes, some holds, ACW mostly present.
    let answered: Vec<&Segment> = segments(&records)
        .filter(|s| s.channel == Channel::Voice && s.answered_at.is_some())
        .collect();
    let talk = answered.iter().map(|s| f64::from(s.talk_s)).sum::<f64>() / answered.len() as f64;
    assert!((180.0..=360.0).contains(&talk), "mean talk {talk}");
    let held = answered.iter().filter(|s| s.hold_s > 0).count() as f64 / answered.len() as f64;
    assert!((0.08..=0.25).contains(&held), "held {held}");
}

#[test]
fn dst_days_keep_local_opening_hours() {
    for (from, zone) in [
        (date(2024, 3, 29), "Europe/Stockholm"),
        (date(2024, 10, 25), "Europe/Stockholm"),
        (date(2024, 3, 8), "America/New_York"),
    ] {
        let mut c = config(40, 5, from, 4, 9);
        c.time_zone = zone.into();
        let (records, summary) = run(&c);
        check(&c, &records, &summary);
        let tz = TimeZone::get(zone).unwrap();
        let mut per_date: BTreeMap<Date, u64> = BTreeMap::new();
        for s in segments(&records) {
            if s.seq != 1 || s.queue.is_none() || s.channel == Channel::Email {
                continue;
            }
            let local = s.offered_at.to_zoned(tz.clone());
            let hours = c.hours_on(local.date().weekday().to_monday_one_offset());
            let hour = local.hour() as u8;
            assert!(
                hour >= hours.open_hour && hour < hours.close_hour,
                "{zone}: {} offered at local {local}",
                s.contact_id
            );
            *per_date.entry(local.date()).or_default() += 1;
        }
        assert_eq!(per_date.len(), 4, "{zone}: {per_date:?}");
    }
}

#[test]
fn twice_the_agents_twice_the_contacts() {
    let count = |agents| run(&config(agents, 4, date(2024, 2, 5), 7, 21)).1.segments as f64;
    let ratio = count(80) / count(40);
    assert!((1.6..=2.5).contains(&ratio), "ratio {ratio}");
}

#[test]
fn output_streams_day_by_day() {
    let c = config(30, 4, date(2024, 6, 3), 6, 4);
    let mut sim = Simulation::new(&c).unwrap();
    let mut segments_after_each_day = Vec::new();
    let mut count = 0u64;
    let mut sink = |r: Record| {
        if matches!(r, Record::Segment(_)) {
            count += 1;
        }
        Ok::<(), ()>(())
    };
    while sim.step_day(&mut sink).unwrap() {
        segments_after_each_day.push(sim.summary().segments);
    }
    assert_eq!(segments_after_each_day.len(), 6);
    assert_eq!(sim.days_simulated(), 6);
    // Weekdays with no e-mail queue complete the same day: output grows with every step.
    for pair in segments_after_each_day.windows(2) {
        assert!(pair[1] > pair[0], "{segments_after_each_day:?}");
    }
    assert!(!sim.step_day(&mut |_| Ok::<(), ()>(())).unwrap());
}

#[test]
fn errors_are_reported() {
    let c = config(0, 4, date(2024, 1, 1), 1, 1);
    match simulate(&c, |_| Ok::<(), ()>(())) {
        Err(SimulationError::Config(e)) => assert_eq!(e.field, "agents"),
        other => panic!("{other:?}"),
    }
    let c = config(10, 2, date(2024, 1, 1), 1, 1);
    let mut n = 0;
    let result = simulate(&c, |_| {
        n += 1;
        if n == 20 { Err("disk full") } else { Ok(()) }
    });
    match result {
        Err(SimulationError::Sink(e)) => assert_eq!(e, "disk full"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn one_agent_many_queues() {
    let c = config(1, 9, date(2024, 1, 1), 3, 2);
    let (records, summary) = run(&c);
    check(&c, &records, &summary);
}

#[test]
fn extreme_tunables_stay_consistent() {
    let mut c = config(25, 6, date(2024, 10, 26), 3, 8);
    c.transfer_share = 1.0;
    c.direct_share = 0.5;
    c.target_occupancy = 0.98;
    c.weekday_hours = OpeningHours {
        open_hour: 0,
        close_hour: 24,
    };
    c.weekend_hours = c.weekday_hours;
    c.voice.no_acw_share = 1.0;
    c.voice.ring_max_s = 0;
    c.voice.patience_mean_s = Some(5.0);
    c.chat.overflow_after_s = Some(1);
    c.meeting_share = 1.0;
    c.training_share = 1.0;
    let (records, summary) = run(&c);
    check(&c, &records, &summary);
    assert!(summary.transferred > 0);
}

const ZONES: &[&str] = &[
    "UTC",
    "Europe/Stockholm",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "America/Santiago",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn small_random_centers_are_valid_and_consistent(
        agents in 1u32..30,
        queues in 1u32..9,
        days in 1u32..4,
        offset in 0i64..3650,
        seed in any::<u64>(),
        zone in proptest::sample::select(ZONES),
        interval in proptest::sample::select(&[15u32, 30, 60][..]),
        occupancy in 0.5f64..0.95,
    ) {
        let from = date(2018, 1, 1).checked_add(jiff::Span::new().days(offset)).unwrap();
        let mut c = config(agents, queues, from, days, seed);
        c.time_zone = zone.to_string();
        c.interval_minutes = interval;
        c.target_occupancy = occupancy;
        let (records, summary) = run(&c);
        check(&c, &records, &summary);
        let (again, _) = run(&c);
        prop_assert!(records == again);
    }
}
