//! `wfm-bridge import <kind> <FILE|->`: one file of canonical records into the store.

use std::fs::File;
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use clap::Args;
use wfm_connectors::sources::files::{FileFormat, FileSource, Mapping, ReadOptions};
use wfm_engine::import::{ImportOptions, ImportSummary, import, jsonl_rejects};
use wfm_model::RecordKind;

use crate::commands::Context;
use crate::output::{Output, count, rate};

/// Arguments of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// What the file holds: tenants, queues, agents, interactions or states.
    #[arg(value_parser = crate::commands::kind_parser())]
    pub kind: RecordKind,

    /// The file to import, or - for standard input.
    pub file: String,

    /// jsonl or csv (default: from the file extension; jsonl for standard input).
    #[arg(long)]
    pub format: Option<FileFormat>,

    /// A TOML mapping of canonical fields to the columns of a foreign CSV export.
    #[arg(long, value_name = "FILE")]
    pub map: Option<PathBuf>,

    /// Import the valid records and reject the invalid ones (default: import nothing if any is invalid).
    #[arg(long)]
    pub skip_invalid: bool,

    /// Write each rejected record with its reason to FILE (JSON Lines).
    #[arg(long, value_name = "FILE", requires = "skip_invalid")]
    pub rejects: Option<PathBuf>,

    /// Unknown fields are errors (default: ignored and counted).
    #[arg(long)]
    pub strict: bool,

    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `import`.
pub async fn run(args: ImportArgs, ctx: &Context) -> Result<()> {
    let out = &ctx.out;
    let store = ctx.open_store(None).await?;
    let summary = import_file(&*store, &args, out).await?;
    if args.json {
        crate::output::data(serde_json::to_string(&summary)?);
    } else {
        out.say(describe(&summary));
    }
    Ok(())
}

/// Imports one file as `args` say; shared with `demo`.
pub async fn import_file(
    store: &dyn wfm_store::Store,
    args: &ImportArgs,
    out: &Output,
) -> Result<ImportSummary> {
    let mapping = args.map.as_deref().map(Mapping::load).transpose()?;
    let stdin = args.file == "-";
    let format = match (&mapping, args.format) {
        (Some(_), Some(FileFormat::Jsonl)) => bail!("--map reads CSV exports; drop --format jsonl"),
        (Some(_), _) => FileFormat::Csv,
        (None, Some(format)) => format,
        (None, None) if stdin => FileFormat::Jsonl,
        (None, None) => FileFormat::from_path(Path::new(&args.file)).with_context(|| {
            format!(
                "cannot tell the format of {} from its extension; pass --format jsonl or --format csv",
                args.file
            )
        })?,
    };
    let (name, input, size): (String, Box<dyn Read + Send>, Option<u64>) = if stdin {
        ("stdin".to_string(), Box::new(std::io::stdin()), None)
    } else {
        let file = File::open(&args.file).with_context(|| format!("cannot open {}", args.file))?;
        let meta = file
            .metadata()
            .with_context(|| format!("cannot read {}", args.file))?;
        if meta.is_dir() {
            bail!("{} is a directory; give a file", args.file);
        }
        (args.file.clone(), Box::new(file), Some(meta.len()))
    };
    let source = FileSource::new(
        name,
        input,
        format,
        args.kind,
        ReadOptions {
            strict: args.strict,
            mapping,
        },
    );
    let rejects = match &args.rejects {
        Some(path) => {
            let file = File::create(path)
                .with_context(|| format!("cannot create the rejects file {}", path.display()))?;
            Some(jsonl_rejects(Box::new(BufWriter::new(file))))
        }
        None => None,
    };
    let progress = out.byte_progress(args.kind.as_str(), size, source.bytes_read());
    let result = import(
        store,
        source,
        ImportOptions {
            skip_invalid: args.skip_invalid,
        },
        rejects,
    )
    .await;
    progress.finish();
    Ok(result?)
}

/// The one-line summary of an import.
pub fn describe(s: &ImportSummary) -> String {
    let mut line = format!(
        "imported {} {} from {}: {} written, {} unchanged, {} rejected ({} records/s, {:.1} s)",
        count(s.imported()),
        s.kind,
        s.source,
        count(s.written),
        count(s.unchanged),
        count(s.rejected),
        rate(s.imported() + s.rejected, s.elapsed),
        s.elapsed.as_secs_f64(),
    );
    if s.skipped > 0 {
        line.push_str(&format!(
            "; {} lines left out by the map's filter",
            count(s.skipped)
        ));
    }
    if !s.unknown_fields.is_empty() {
        let fields: Vec<String> = s
            .unknown_fields
            .iter()
            .map(|(f, n)| format!("{f} ({} records)", count(*n)))
            .collect();
        line.push_str(&format!("; unknown fields ignored: {}", fields.join(", ")));
    }
    line
}
