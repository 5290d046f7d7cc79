//! Measures interval-statistics throughput (bench/stats.sh runs it):
//!
//! ```text
//! cargo run --release -p wfm-stats --example stats_throughput -- [--agents 2000] [--queues 8]
//!     [--days 105] [--seed 1] [--from 2024-03-04] [--dump DIR] [--out DIR] [--repeat N]
//! ```
//!
//! The simulator generates the center into memory first (not timed): canonical segments in the
//! order the simulator emits them (by offered_at), and each agent's state events in time order,
//! built agent by agent so that a timeline's records lie together in memory as a store read
//! `ORDER BY agent, at` would hand them. Then only this is timed: canonical records in memory →
//! [`wfm_stats::IntervalStats`] → the three Teleopti files rendered (into a byte counter, as to
//! /dev/null). Peak memory is read from `/proc/self/status` (VmHWM), reset after generation so that
//! it shows what the computation adds to the input already in memory.
//!
//! `--dump DIR` also writes the simulated canonical files as CSV (`tenants.csv`, `queues.csv`,
//! `agents.csv`, `interactions.csv`, `states.csv`; lists `;`-separated, DESIGN §4) for the DuckDB
//! comparison; `--out DIR` writes our three Teleopti files there for the row-by-row check.
//! `--repeat N` runs the timed part N times and reports the fastest (the machine may be shared).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use wfm_connectors::targets::calabrio::historical;
use wfm_model::{Agent, AgentState, AgentStateEvent, Queue, Record, Segment, Tenant};
use wfm_simulator::{SimulationConfig, simulate};
use wfm_stats::{StatsBuilder, StatsContext};

struct Args {
    agents: u32,
    queues: u32,
    days: u32,
    seed: u64,
    from: jiff::civil::Date,
    dump: Option<PathBuf>,
    out: Option<PathBuf>,
    repeat: u32,
}

fn args() -> Args {
    let mut a = Args {
        agents: 2000,
        queues: 8,
        days: 105,
        seed: 1,
        from: jiff::civil::date(2024, 3, 4),
        dump: None,
        out: None,
        repeat: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        let bad = || -> ! { panic!("{flag} {value}: not a valid value") };
        match flag.as_str() {
            "--agents" => a.agents = value.parse().unwrap_or_else(|_| bad()),
            "--queues" => a.queues = value.parse().unwrap_or_else(|_| bad()),
            "--days" => a.days = value.parse().unwrap_or_else(|_| bad()),
            "--seed" => a.seed = value.parse().unwrap_or_else(|_| bad()),
            "--from" => a.from = value.parse().unwrap_or_else(|_| panic!("--from {value}")),
            "--dump" => a.dump = Some(value.into()),
            "--out" => a.out = Some(value.into()),
            "--repeat" => a.repeat = value.parse().unwrap_or_else(|_| bad()),
            _ => panic!(
                "unknown flag {flag}; flags: --agents --queues --days --seed --from --dump --out --repeat"
            ),
        }
    }
    a
}

/// A status line of /proc/self/status in MB (`VmHWM`, `VmRSS`).
fn status_mb(key: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| {
            v.trim_start_matches(':')
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// One state event kept compact while the simulation runs: instant, state, index of its reason
/// (`u8::MAX`: none).
type CompactEvent = (jiff::Timestamp, AgentState, u8);

/// Counts bytes, keeps none.
struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// CSV writers of the canonical files (DESIGN §4 field names).
struct Dump {
    tenants: csv::Writer<BufWriter<File>>,
    queues: csv::Writer<BufWriter<File>>,
    agents: csv::Writer<BufWriter<File>>,
    interactions: csv::Writer<BufWriter<File>>,
    states: csv::Writer<BufWriter<File>>,
}

impl Dump {
    fn new(dir: &std::path::Path) -> io::Result<Dump> {
        std::fs::create_dir_all(dir)?;
        let open = |name: &str, header: &[&str]| -> io::Result<csv::Writer<BufWriter<File>>> {
            let mut w = csv::WriterBuilder::new()
                .terminator(csv::Terminator::Any(b'\n'))
                .from_writer(BufWriter::with_capacity(
                    1 << 20,
                    File::create(dir.join(name))?,
                ));
            w.write_record(header)?;
            Ok(w)
        };
        Ok(Dump {
            tenants: open(
                "tenants.csv",
                &[
                    "tenant",
                    "name",
                    "time_zone",
                    "interval_minutes",
                    "admin_reasons",
                ],
            )?,
            queues: open(
                "queues.csv",
                &[
                    "tenant",
                    "queue",
                    "name",
                    "sl_seconds",
                    "short_abandon_seconds",
                ],
            )?,
            agents: open(
                "agents.csv",
                &[
                    "tenant",
                    "agent",
                    "first_name",
                    "last_name",
                    "skills",
                    "active",
                ],
            )?,
            interactions: open(
                "interactions.csv",
                &[
                    "tenant",
                    "contact_id",
                    "seq",
                    "channel",
                    "direction",
                    "queue",
                    "offered_at",
                    "answered_at",
                    "abandoned_at",
                    "overflowed",
                    "agent",
                    "talk_s",
                    "hold_s",
                    "acw_s",
                    "transferred",
                ],
            )?,
            states: open("states.csv", &["tenant", "agent", "at", "state", "reason"])?,
        })
    }

    fn record(&mut self, r: &Record) -> csv::Result<()> {
        let ts = |t: &jiff::Timestamp| format!("{t:.3}");
        let opt_ts = |t: &Option<jiff::Timestamp>| t.as_ref().map(ts).unwrap_or_default();
        match r {
            Record::Tenant(t) => self.tenants.write_record([
                t.tenant.clone(),
                t.name.clone(),
                t.time_zone.clone(),
                t.interval_minutes.to_string(),
                t.admin_reasons.join(";"),
            ]),
            Record::Queue(q) => self.queues.write_record([
                q.tenant.clone(),
                q.queue.clone(),
                q.name.clone(),
                q.sl_seconds.to_string(),
                q.short_abandon_seconds.to_string(),
            ]),
            Record::Agent(a) => self.agents.write_record([
                a.tenant.clone(),
                a.agent.clone(),
                a.first_name.clone(),
                a.last_name.clone(),
                a.skills.join(";"),
                a.active.to_string(),
            ]),
            Record::Segment(s) => self.interactions.write_record([
                s.tenant.as_str(),
                &s.contact_id,
                &s.seq.to_string(),
                s.channel.as_str(),
                s.direction.as_str(),
                s.queue.as_deref().unwrap_or(""),
                &ts(&s.offered_at),
                &opt_ts(&s.answered_at),
                &opt_ts(&s.abandoned_at),
                if s.overflowed { "true" } else { "false" },
                s.agent.as_deref().unwrap_or(""),
                &s.talk_s.to_string(),
                &s.hold_s.to_string(),
                &s.acw_s.to_string(),
                if s.transferred { "true" } else { "false" },
            ]),
            Record::State(e) => self.states.write_record([
                e.tenant.as_str(),
                &e.agent,
                &ts(&e.at),
                e.state.as_str(),
                e.reason.as_deref().unwrap_or(""),
            ]),
        }
    }

    fn finish(self) -> io::Result<()> {
        for mut w in [
            self.tenants,
            self.queues,
            self.agents,
            self.interactions,
            self.states,
        ] {
            w.flush()?;
        }
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args();
    let mut config = SimulationConfig::new(
        "bench",
        args.agents,
        args.queues,
        args.from,
        args.days,
        args.seed,
    );
    config.tenant_name = Some("Benchmark Center".into());

    // ---- generate (not timed)
    let started = Instant::now();
    let mut dump = args.dump.as_deref().map(Dump::new).transpose()?;
    let mut tenant: Option<Tenant> = None;
    let mut queues: Vec<Queue> = Vec::new();
    let mut agents: Vec<Agent> = Vec::new();
    let mut segments: Vec<Segment> = Vec::new();
    // Events arrive by time across all agents; they are kept compact per agent here and built
    // into records agent by agent below, so that each timeline's records (and their strings) lie
    // together in memory, as reading a store `ORDER BY agent, at` would give them.
    let mut compact: HashMap<String, Vec<CompactEvent>> = HashMap::new();
    let mut reasons: Vec<String> = Vec::new();
    let summary = simulate(&config, |record| {
        if let Some(d) = dump.as_mut() {
            d.record(&record)?;
        }
        match record {
            Record::Tenant(t) => tenant = Some(t),
            Record::Queue(q) => queues.push(q),
            Record::Agent(a) => agents.push(a),
            Record::Segment(s) => segments.push(s),
            Record::State(e) => {
                let reason = match &e.reason {
                    None => u8::MAX,
                    Some(r) => match reasons.iter().position(|known| known == r) {
                        Some(i) => i as u8,
                        None => {
                            reasons.push(r.clone());
                            (reasons.len() - 1) as u8
                        }
                    },
                };
                compact
                    .entry(e.agent)
                    .or_default()
                    .push((e.at, e.state, reason));
            }
        }
        Ok::<(), csv::Error>(())
    })?;
    if let Some(d) = dump {
        d.finish()?;
    }
    let tenant = tenant.expect("the simulator emits its tenant first");
    let mut compact: Vec<(String, Vec<CompactEvent>)> = compact.into_iter().collect();
    compact.sort_by(|a, b| a.0.cmp(&b.0));
    let mut timelines: Vec<(String, Vec<AgentStateEvent>)> = Vec::with_capacity(compact.len());
    for (agent, mut events) in compact {
        // Days are emitted in order, each sorted by time; make sure across day boundaries too.
        events.sort_by_key(|e| e.0);
        let records = events
            .into_iter()
            .map(|(at, state, reason)| AgentStateEvent {
                tenant: tenant.tenant.clone(),
                agent: agent.clone(),
                at,
                state,
                reason: reasons.get(usize::from(reason)).cloned(),
                source_code: None,
            })
            .collect();
        timelines.push((agent, records));
    }
    let events: usize = timelines.iter().map(|(_, e)| e.len()).sum();
    eprintln!("{summary}");
    eprintln!(
        "generated in memory in {:.1} s: {} segments, {} state events of {} agents; VmRSS {:.0} MB",
        started.elapsed().as_secs_f64(),
        segments.len(),
        events,
        timelines.len(),
        status_mb("VmRSS"),
    );

    // Peak memory from here on: reset the high-water mark to the current RSS (Linux ≥ 4.0).
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let rss_before = status_mb("VmRSS");

    // ---- timed: records in memory → IntervalStats → three Teleopti files
    // The figures of the fastest run; the rows of the last run (one run's rows alive at a time,
    // so that the peak memory is that of one run).
    let mut best: Option<(f64, [f64; 4], u64)> = None;
    let mut last: Option<wfm_stats::IntervalStats> = None;
    for _ in 0..args.repeat.max(1) {
        drop(last.take());
        let t0 = Instant::now();
        let ctx = StatsContext::new(&tenant, &queues, &agents, config.from, config.to(), None)?;
        let mut builder = StatsBuilder::new(ctx);
        for s in &segments {
            builder.add_segment(s);
        }
        let t_segments = t0.elapsed().as_secs_f64();
        for (agent, events) in &timelines {
            builder.add_timeline(agent, None, events)?;
        }
        let t_timelines = t0.elapsed().as_secs_f64();
        let stats = builder.finish();
        let t_finish = t0.elapsed().as_secs_f64();
        let mut bytes = Counter(0);
        historical::write_teleopti_queue(&stats, &mut bytes)?;
        historical::write_teleopti_agent(&stats, &mut bytes)?;
        historical::write_teleopti_agent_queue(&stats, &mut bytes)?;
        let total = t0.elapsed().as_secs_f64();
        let phases = [
            t_segments,
            t_timelines - t_segments,
            t_finish - t_timelines,
            total - t_finish,
        ];
        if best.is_none_or(|b| total < b.0) {
            best = Some((total, phases, bytes.0));
        }
        last = Some(stats);
    }
    let peak = status_mb("VmHWM");
    let (total, phases, bytes) = best.expect("at least one run");
    let stats = last.expect("at least one run");
    let (t_segments, t_timelines, t_finish, t_render) =
        (phases[0], phases[1], phases[2], phases[3]);

    let rows = stats.row_count();
    println!("input segments       {:>12}", segments.len());
    println!(
        "input state events   {:>12}  ({} agents)",
        events,
        timelines.len()
    );
    println!(
        "output rows          {:>12}  (queue {}, agent {}, agent-queue {}), {:.0} MB of Teleopti files",
        rows,
        stats.queue_rows.len(),
        stats.agent_rows.len(),
        stats.agent_queue_rows.len(),
        bytes as f64 / 1e6
    );
    println!(
        "phases               segments {t_segments:.2} s, timelines {t_timelines:.2} s, rows {t_finish:.2} s, render {t_render:.2} s"
    );
    if args.repeat > 1 {
        println!(
            "runs                 {:>12}  (the fastest is shown)",
            args.repeat
        );
    }
    println!("seconds              {total:>12.2}");
    println!(
        "input segments/s     {:>12.0}",
        segments.len() as f64 / total
    );
    println!("input events/s       {:>12.0}", events as f64 / total);
    println!("output rows/s        {:>12.0}", rows as f64 / total);
    if reset {
        println!(
            "peak RSS (VmHWM)     {peak:>9.0} MB  (input in memory {rss_before:.0} MB; the computation added {:.0} MB)",
            peak - rss_before
        );
    } else {
        println!("peak RSS (VmHWM)     {peak:>9.0} MB  (includes the input in memory)");
    }

    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir)?;
        for file in historical::teleopti_files(&stats)? {
            std::fs::write(dir.join(&file.name), &file.bytes)?;
        }
        eprintln!("wrote the Teleopti files to {}", dir.display());
    }
    Ok(())
}
