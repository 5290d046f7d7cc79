//! `wfm-bridge simulate`: the five canonical files of a simulated contact center.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use jiff::civil::Date;
use wfm_model::{Record, RecordKind};
use wfm_simulator::{Simulation, SimulationConfig, SimulationSummary};

use crate::output::Output;

/// Arguments of `simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Tenant id of the simulated center.
    #[arg(long)]
    pub tenant: String,

    /// Number of agents.
    #[arg(long, default_value_t = 50)]
    pub agents: u32,

    /// Number of queues.
    #[arg(long, default_value_t = 4)]
    pub queues: u32,

    /// First local date simulated (YYYY-MM-DD).
    #[arg(long, default_value = "2024-03-04")]
    pub from: Date,

    /// Number of days.
    #[arg(long, default_value_t = 7)]
    pub days: u32,

    /// Random seed: the same seed gives the same files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// IANA time zone of the center.
    #[arg(long, default_value = "Europe/Stockholm")]
    pub time_zone: String,

    /// Statistics interval of the tenant: 15, 30 or 60 minutes.
    #[arg(long, default_value_t = 15)]
    pub interval: u32,

    /// Directory to write tenants.jsonl, queues.jsonl, agents.jsonl, interactions.jsonl and states.jsonl to.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

impl SimulateArgs {
    fn config(&self) -> SimulationConfig {
        let mut config = SimulationConfig::new(
            self.tenant.clone(),
            self.agents,
            self.queues,
            self.from,
            self.days,
            self.seed,
        );
        config.time_zone = self.time_zone.clone();
        config.interval_minutes = self.interval;
        config
    }
}

/// Runs `simulate`.
pub fn run(args: SimulateArgs, out: &Output) -> Result<()> {
    let summary = write_files(&args, out)?;
    out.say(format!(
        "wrote the five canonical files to {}: {summary}",
        args.out.display()
    ));
    Ok(())
}

/// Simulates and writes the five canonical files; shared with `demo`.
pub fn write_files(args: &SimulateArgs, out: &Output) -> Result<SimulationSummary> {
    let mut simulation = Simulation::new(&args.config())?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut files = CanonicalFiles::create(&args.out)?;
    let bar = day_progress(out, simulation.days_total());
    let mut sink = |record: Record| files.write(&record);
    simulation.emit_directory(&mut sink)?;
    while simulation.step_day(&mut sink)? {
        bar.set_position(u64::from(simulation.days_simulated()));
    }
    bar.finish_and_clear();
    files.finish()?;
    Ok(simulation.summary().clone())
}

fn day_progress(out: &Output, days: u32) -> ProgressBar {
    let bar = ProgressBar::new(u64::from(days)).with_style(
        ProgressStyle::with_template("simulate [{bar:30}] {pos}/{len} days eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    if !out.shows_progress() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar
}

/// One buffered JSON Lines writer per record kind.
struct CanonicalFiles {
    writers: Vec<(RecordKind, PathBuf, BufWriter<File>)>,
}

impl CanonicalFiles {
    fn create(dir: &Path) -> Result<CanonicalFiles> {
        let writers = RecordKind::ALL
            .into_iter()
            .map(|kind| {
                let path = dir.join(kind.file_name());
                let file = File::create(&path)
                    .with_context(|| format!("cannot create {}", path.display()))?;
                Ok((kind, path, BufWriter::with_capacity(1 << 20, file)))
            })
            .collect::<Result<_>>()?;
        Ok(CanonicalFiles { writers })
    }

    fn write(&mut self, record: &Record) -> Result<()> {
        let kind = record.kind();
        let (_, path, writer) = self
            .writers
            .iter_mut()
            .find(|(k, _, _)| *k == kind)
            .expect("a writer per kind");
        writeln!(writer, "{}", record.to_json())
            .with_context(|| format!("cannot write {}", path.display()))
    }

    fn finish(self) -> Result<()> {
        for (_, path, mut writer) in self.writers {
            writer
                .flush()
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        Ok(())
    }
}
