//! `wfm-bridge demo`: the one command a newcomer runs. Simulates a small contact center, imports it
//! into a store, shows what the store now holds, then runs the Calabrio flows (interval statistics
//! and real-time agent states) into the sandbox Calabrio emulator and shows what it accepted.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use clap::Args;
use wfm_engine::Config;
use wfm_engine::delivery::Attempt;
use wfm_engine::runner::RunReport;
use wfm_engine::service::Engine;
use wfm_model::{AgentState, AgentStateEvent, Record, RecordKind};
use wfm_sandbox::calabrio::forecast_import::ForecastImportConfig;
use wfm_sandbox::calabrio::historical::{FileStatus, HistoricalConfig, TenantConfig};
use wfm_sandbox::calabrio::rta::{RtaConfig, RtaTenantConfig};
use wfm_sandbox::calabrio::wfm_api::WfmApiConfig;
use wfm_sandbox::calabrio::{CalabrioConfig, CalabrioSandbox};
use wfm_store::Store;

use crate::commands::Context;
use crate::commands::import::{ImportArgs, describe, import_file};
use crate::commands::simulate::{SimulateArgs, write_files};
use crate::output::count;

/// Arguments of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Directory for the simulated files and (unless --store is given) the demo store.
    #[arg(long, value_name = "DIR", default_value = "wfm-bridge-demo")]
    pub dir: PathBuf,

    /// Number of agents of the simulated center.
    #[arg(long, default_value_t = 60)]
    pub agents: u32,

    /// Number of days simulated, ending yesterday.
    #[arg(long, default_value_t = 7)]
    pub days: u32,

    /// After the tour, keep every flow running into the sandbox and serve the console here until
    /// Ctrl-C. The default when standard output is a terminal; `--no-serve` ends after the tour.
    #[arg(long)]
    pub serve: bool,

    /// End after the tour, even on a terminal.
    #[arg(long, conflicts_with = "serve")]
    pub no_serve: bool,

    /// Address of the console and APIs while serving.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
}

const TENANT: &str = "demo";
const TIME_ZONE: &str = "Europe/Stockholm";
const RTA_KEY: &str = "demo-rta-key";
const WFM_TOKEN: &str = "demo-wfm-token";
const DEFAULT_TEAM: &str = "Stockholm/Default";
/// The demo serves on loopback only, so its tokens can be fixed and printed.
const ADMIN_TOKEN: &str = "demo-admin";
const INGEST_TOKEN: &str = "demo-ingest";

/// Runs `demo`.
pub async fn run(args: DemoArgs, ctx: &Context) -> Result<()> {
    let out = &ctx.out;
    // The demo keeps to its own directory unless a store is named explicitly.
    let store_url = ctx
        .store
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", args.dir.join("demo.db").display()));
    out.say(format!(
        "1. Simulating a contact center of {} agents for {} days into {}/",
        args.agents,
        args.days,
        args.dir.display()
    ));
    // The simulated days end yesterday, so that the statistics flow has complete days to send.
    let today = jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::get(TIME_ZONE)?)
        .date();
    let from = today.checked_sub(jiff::Span::new().days(i64::from(args.days.max(1))))?;
    let simulate = SimulateArgs {
        tenant: TENANT.to_string(),
        agents: args.agents,
        queues: 4,
        from,
        days: args.days,
        seed: 1,
        time_zone: TIME_ZONE.to_string(),
        interval: 15,
        out: args.dir.clone(),
    };
    let summary = write_files(&simulate, out)?;
    out.say(format!("   {summary}"));

    let store = wfm_store::open(&store_url).await?;
    out.say(format!(
        "2. Importing the five canonical files into {}",
        store.describe()
    ));
    for kind in RecordKind::ALL {
        let import = ImportArgs {
            kind,
            file: args.dir.join(kind.file_name()).display().to_string(),
            format: None,
            map: None,
            skip_invalid: false,
            rejects: None,
            strict: true,
            json: false,
        };
        let summary = import_file(&*store, &import, out).await?;
        out.say(format!("   {}", describe(&summary)));
    }

    out.say("3. What the store holds now:");
    for tenant in store.tenants().await? {
        out.say(format!(
            "   tenant {} ({}), time zone {}, {}-minute intervals",
            tenant.tenant, tenant.name, tenant.time_zone, tenant.interval_minutes
        ));
    }
    let counts = store.counts(Some(TENANT)).await?;
    for (what, n) in [
        ("queues", counts.queues),
        ("teams", counts.teams),
        ("agents", counts.agents),
        ("skills", counts.skills),
        ("agent skills", counts.agent_skills),
        ("contact segments", counts.segments),
        ("agent state events", counts.states),
    ] {
        out.say(format!("   {:>12}  {what}", count(n)));
    }

    let serve = args.serve || (!args.no_serve && std::io::stdout().is_terminal());
    let (engine, sandbox) = calabrio_tour(store.clone(), &store_url, from, ctx).await?;
    out.say(format!(
        "\nNext: wfm-bridge --store {store_url} export agents --tenant {TENANT}\n      \
         wfm-bridge --store {store_url} stats --tenant {TENANT} --from {from} --out stats/"
    ));
    if !serve {
        sandbox.stop().await;
        return Ok(());
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {} (use --listen)", args.listen))?;
    let listen = listener.local_addr()?;
    out.say(format!(
        "\n5. Every flow keeps running into the sandbox Calabrio at http://{}/ (agent states: \
         GET /_sandbox/calabrio/rta).\n   Console: http://{listen}/console/  (admin token: {ADMIN_TOKEN})\n   \
         Push states: curl -H 'Authorization: Bearer {INGEST_TOKEN}' -d '[{{\"agent\":\"a0005\",\"at\":\"…\",\"state\":\"ready\"}}]' \
         http://{listen}/api/v1/tenants/{TENANT}/states\n   Ctrl-C stops.",
        sandbox.addr()
    ));
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        crate::commands::serve::wait_for_stop_signal().await;
        let _ = stop_tx.send(true);
    });
    crate::commands::serve::serve_engine(Arc::new(engine), listener, stop).await?;
    sandbox.stop().await;
    Ok(())
}

/// Step 4: the two Calabrio flows of the integration note, run once each into the sandbox
/// emulator, with the same engine `serve` runs.
async fn calabrio_tour(
    store: Arc<dyn Store>,
    store_url: &str,
    from: jiff::civil::Date,
    ctx: &Context,
) -> Result<(Engine, CalabrioSandbox)> {
    let out = &ctx.out;
    let mut rta_tenant = RtaTenantConfig::new(TENANT, RTA_KEY, &["1"]);
    rta_tenant.auto_persons = true;
    let sandbox = CalabrioSandbox::start_with(
        "127.0.0.1:0",
        CalabrioConfig {
            historical: HistoricalConfig {
                tenants: vec![TenantConfig::new(TENANT, TIME_ZONE, 15)],
                ..HistoricalConfig::default()
            },
            rta: RtaConfig {
                tenants: vec![rta_tenant],
                ..RtaConfig::default()
            },
            forecast: ForecastImportConfig {
                interval_minutes: 15,
                time_zone: TIME_ZONE.to_string(),
                ..ForecastImportConfig::default()
            },
            wfm_api: WfmApiConfig {
                tokens: vec![WFM_TOKEN.to_string()],
                skills: ["Billing", "Sales", "Support", "Technical Chat"]
                    .map(String::from)
                    .to_vec(),
                teams: vec![DEFAULT_TEAM.to_string()],
            },
        },
    )
    .await
    .context("cannot start the Calabrio sandbox")?;
    let base = format!("http://{}", sandbox.addr());
    out.say(format!(
        "4. Running the Calabrio flows into the sandbox Calabrio at {base}/ (wfm-bridge sandbox calabrio)"
    ));
    let config_text = format!(
        r#"
[store]
url = "{store_url}"
[[tenants]]
id = "{TENANT}"
time_zone = "{TIME_ZONE}"
ingest_token = "env:DEMO_INGEST_TOKEN"
[[admin_tokens]]
name = "demo"
token = "env:DEMO_ADMIN_TOKEN"
role = "admin"
tenants = ["*"]
[[accounts]]
name = "calabrio-rta"
type = "calabrio"
url = "{base}/"
auth_key = "env:DEMO_RTA_KEY"
source_id = "1"
[[accounts]]
name = "calabrio-statistics"
type = "http"
url = "{base}/historical/{TENANT}"
mode = "multipart"
[[flows]]
name = "statistics"
kind = "interval_stats"
tenant = "{TENANT}"
target = "calabrio-statistics"
start = "{from}"
capture_delay = "0s"
[[accounts]]
name = "calabrio-setup"
type = "calabrio_wfm"
url = "{base}/"
token = "env:DEMO_WFM_TOKEN"
default_team = "{DEFAULT_TEAM}"
[[flows]]
name = "directory"
kind = "directory"
tenant = "{TENANT}"
target = "calabrio-setup"
[[accounts]]
name = "calabrio-forecasts"
type = "http"
url = "{base}/forecast/import"
mode = "multipart"
[[flows]]
name = "forecasts"
kind = "forecast"
tenant = "{TENANT}"
target = "calabrio-forecasts"
days = 7
[flows.skills]
q01 = "Billing"
q02 = "Sales"
q03 = "Support"
q04 = "Technical Chat"
[[flows]]
name = "rta"
kind = "agent_states"
tenant = "{TENANT}"
target = "calabrio-rta"
[flows.state_codes]
ready = "READY"
busy = "BUSY"
acw = "ACW"
not_ready = "NOTREADY"
"not_ready:Lunch" = "LUNCH"
logged_out = "LOGGED-OFF"
"#
    );
    let env = [
        ("DEMO_RTA_KEY".to_string(), RTA_KEY.to_string()),
        ("DEMO_WFM_TOKEN".to_string(), WFM_TOKEN.to_string()),
        ("DEMO_INGEST_TOKEN".to_string(), INGEST_TOKEN.to_string()),
        ("DEMO_ADMIN_TOKEN".to_string(), ADMIN_TOKEN.to_string()),
    ];
    let config = Config::parse("demo", &config_text, &env, None)?;
    let engine = Engine::start(config, store.clone()).await?;

    // Tenant setup: the agents become persons with their skills (agent import and Wfm.Api).
    run_flow(&engine, "directory").await?;
    let delivered = deliver(&engine).await?;
    let persons = sandbox.handles().wfm_api.view().persons.len();
    if delivered == 0 {
        out.say("   directory: no changes since the last sync (an earlier demo run created the persons)");
    } else {
        out.say(format!(
            "   directory: {delivered} change set(s) sent; Calabrio now has {persons} person(s) with their skills"
        ));
    }

    // Interval statistics of every complete day, as the three Teleopti files per day.
    run_flow(&engine, "statistics").await?;
    let delivered = deliver(&engine).await?;
    let snapshot = sandbox.handles().historical.snapshot();
    let accepted = snapshot
        .files
        .iter()
        .filter(|f| f.status == FileStatus::Accepted)
        .count();
    let rows: usize = snapshot.files.iter().map(|f| f.rows).sum();
    if delivered == 0 {
        out.say("   interval_stats: nothing new to send (earlier demo runs sent those days)");
    } else {
        out.say(format!(
            "   interval_stats: {delivered} file(s) sent; the sandbox accepted {accepted} of {} ({} rows)",
            snapshot.files.len(),
            crate::output::count(rows as u64)
        ));
    }

    // Forecasts and staffing for the coming week, one Calabrio forecast file per skill.
    run_flow(&engine, "forecasts").await?;
    let delivered = deliver(&engine).await?;
    let forecasts = sandbox.handles().forecast.snapshot();
    if delivered == 0 {
        out.say("   forecast: nothing new to send (an earlier demo run sent today's forecast)");
    } else {
        out.say(format!(
            "   forecast: {delivered} file(s) sent, one per skill; the sandbox holds forecasts for {} skill(s)",
            forecasts.skills.len()
        ));
    }

    // Real time: a few agents log in now, as the ACD would push them; one snapshot goes out.
    let now = jiff::Timestamp::now();
    let events: Vec<Record> = [
        ("a0001", AgentState::Ready, None),
        ("a0002", AgentState::Busy, None),
        ("a0003", AgentState::NotReady, Some("Lunch")),
        ("a0004", AgentState::Acw, None),
    ]
    .into_iter()
    .map(|(agent, state, reason)| {
        Record::State(AgentStateEvent {
            tenant: TENANT.to_string(),
            agent: agent.to_string(),
            at: now,
            state,
            reason: reason.map(str::to_string),
            source_code: None,
        })
    })
    .collect();
    let mut tx = store.begin().await?;
    tx.write(events).await?;
    tx.commit().await?;
    run_flow(&engine, "rta").await?;
    deliver(&engine).await?;
    let states = sandbox.handles().rta.states(TENANT);
    let shown: Vec<String> = states
        .iter()
        .filter(|s| !s.logged_out)
        .map(|s| format!("{} {}", s.person, s.state_code))
        .collect();
    out.say(format!(
        "   agent_states: one snapshot; Calabrio now shows {} agent(s) logged in: {}",
        shown.len(),
        shown.join(", ")
    ));
    Ok((engine, sandbox))
}

async fn run_flow(engine: &Engine, flow: &str) -> Result<()> {
    match engine.run_flow_once(flow).await? {
        RunReport::Ended { error: None, .. } => Ok(()),
        RunReport::Ended {
            error: Some(error), ..
        } => anyhow::bail!("flow {flow} failed: {error}"),
        RunReport::Busy => anyhow::bail!("flow {flow} is running elsewhere"),
    }
}

/// Delivers what is due until nothing is; returns how many messages were sent.
async fn deliver(engine: &Engine) -> Result<usize> {
    let mut sent = 0;
    loop {
        let outcomes = engine.worker().drain_once().await?;
        if outcomes.is_empty() {
            return Ok(sent);
        }
        sent += outcomes
            .iter()
            .filter(|(_, a)| matches!(a, Attempt::Sent))
            .count();
        if outcomes.iter().all(|(_, a)| !matches!(a, Attempt::Sent)) {
            anyhow::bail!("the sandbox refused messages; see wfm-bridge outbox --dead");
        }
    }
}
