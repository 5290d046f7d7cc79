//! Tests of configuration checking.

use super::*;

const EXAMPLE: &str = r#"
[store]
url = "sqlite://wfm-bridge.db"

[server]
listen = "127.0.0.1:8080"

[delivery]
max_attempts = 5
backoff_initial = "2s"

[[tenants]]
id = "nordic"
time_zone = "Europe/Stockholm"
interval_minutes = 30
ingest_token = "env:NORDIC_TOKEN"

[[accounts]]
name = "lake"
type = "http"
tenant = "nordic"
url = "https://example.com/ingest"
token = "env:LAKE_TOKEN"

[[accounts]]
name = "drop"
type = "files"
path = "out"

[[flows]]
name = "nordic-interactions"
kind = "interactions"
tenant = "nordic"
target = "lake"
every = "15m"
batch_size = 100
"#;

fn env() -> Vec<(String, String)> {
    vec![
        ("NORDIC_TOKEN".into(), "t0ken".into()),
        ("LAKE_TOKEN".into(), "s3cret".into()),
    ]
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse("wfm-bridge.toml", text, &env(), Some(Path::new("/etc/wfm")))
}

fn error(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn example_parses_with_defaults_and_secrets() {
    let c = parse(EXAMPLE).unwrap();
    // Relative paths are relative to the configuration file.
    assert_eq!(
        c.store_url.as_deref(),
        Some("sqlite:///etc/wfm/wfm-bridge.db")
    );
    assert_eq!(c.delivery.max_attempts, 5);
    assert_eq!(c.delivery.backoff_initial, Duration::from_secs(2));
    assert_eq!(
        c.delivery.concurrency,
        DeliverySettings::default().concurrency
    );
    assert_eq!(c.tenants[0].tenant.interval_minutes, IntervalLength::Thirty);
    assert_eq!(
        c.tenants[0].ingest_token.as_ref().unwrap().expose(),
        "t0ken"
    );
    let lake = c.account("lake").unwrap();
    assert_eq!(lake.secret("token").unwrap().expose(), "s3cret");
    assert_eq!(lake.duration("timeout"), Some(Duration::from_secs(30)));
    // Relative paths are relative to the configuration file.
    assert_eq!(
        c.account("drop").unwrap().text("path"),
        Some("/etc/wfm/out")
    );
    let flow = c.flow("nordic-interactions").unwrap();
    assert_eq!(flow.schedule, Schedule::Every(Duration::from_secs(900)));
    assert_eq!(
        flow.options.get("batch_size"),
        Some(&PropertyValue::Integer(100))
    );
    assert!(c.warnings.is_empty());
    // Secrets never print.
    assert!(!format!("{c:?}").contains("s3cret"));
}

#[test]
fn literal_secret_is_accepted_with_a_warning() {
    let c = parse(&EXAMPLE.replace("\"env:LAKE_TOKEN\"", "\"plain\"")).unwrap();
    assert_eq!(
        c.account("lake").unwrap().secret("token").unwrap().expose(),
        "plain"
    );
    assert_eq!(c.warnings.len(), 1);
    assert!(
        c.warnings[0].contains("accounts.lake.token: holds a literal secret"),
        "{:?}",
        c.warnings
    );
}

#[test]
fn mistakes_name_the_key() {
    let cases = [
        (
            EXAMPLE.replace("every = \"15m\"", "every = \"15x\""),
            "flows.nordic-interactions.every: \"15x\" is not a duration",
        ),
        (
            EXAMPLE.replace("batch_size = 100", "batch_sise = 100"),
            "flows.nordic-interactions.batch_sise: unknown key",
        ),
        (
            EXAMPLE.replace("listen = \"127.0.0.1:8080\"", "listen = \"here\""),
            "server.listen: \"here\" is not an address",
        ),
        (
            EXAMPLE.replace("type = \"http\"", "type = \"ftp\""),
            "accounts.lake.type: \"ftp\" is not an account type",
        ),
        (
            EXAMPLE.replace("url = \"https://example.com/ingest\"", "url = \"ftp://x\""),
            "accounts.lake.url: \"ftp://x\" is not an http:// or https:// URL",
        ),
        (
            EXAMPLE.replace("target = \"lake\"", "target = \"lak\""),
            "flows.nordic-interactions.target: \"lak\" is not a configured account",
        ),
        (
            EXAMPLE.replace("kind = \"interactions\"", "kind = \"timecards\""),
            "not available in this version yet",
        ),
        (
            EXAMPLE.replace("interval_minutes = 30", "interval_minutes = 20"),
            "tenants.nordic.interval_minutes: is 20; it must be 15, 30 or 60",
        ),
        (
            EXAMPLE.replace(
                "time_zone = \"Europe/Stockholm\"",
                "time_zone = \"Europe/Stokholm\"",
            ),
            "tenants.nordic.time_zone",
        ),
        (
            EXAMPLE.replace("\"env:NORDIC_TOKEN\"", "\"env:MISSING\""),
            "tenants.nordic.ingest_token: environment variable MISSING is not set",
        ),
        (
            EXAMPLE.replace("\"env:NORDIC_TOKEN\"", "\"file:nope.txt\""),
            "cannot read secret file /etc/wfm/nope.txt",
        ),
        (
            EXAMPLE.replace("every = \"15m\"", "every = \"15m\"\ncron = \"0 * * * * *\""),
            "set only one of every, cron and continuous",
        ),
        (
            EXAMPLE.replace("every = \"15m\"", "cron = \"0 61 * * * *\""),
            "flows.nordic-interactions.cron: cron expression",
        ),
        (
            format!("colour = \"red\"\n{EXAMPLE}"),
            "wfm-bridge.toml: colour: unknown key",
        ),
        (
            format!("{EXAMPLE}\ncolour = \"red\""),
            "flows.nordic-interactions.colour: unknown key; known keys here: batch_size, continuous",
        ),
        (
            EXAMPLE.replace("[delivery]", "[delivery]\nmax_attempts = 0"),
            "toml",
        ),
        (
            EXAMPLE.replace("max_attempts = 5", "max_attempts = 0"),
            "delivery.max_attempts: is 0; it must be at least 1",
        ),
        (
            "[[flows]]\nname = 3".to_string(),
            "flows[0].name: must be text",
        ),
        ("not toml at all =".to_string(), "wfm-bridge.toml: toml:"),
    ];
    for (text, expected) in cases {
        let e = error(&text);
        assert!(e.contains(expected), "expected {expected:?} in {e:?}");
        assert!(e.starts_with("wfm-bridge.toml: "), "{e}");
        assert!(!e.contains("s3cret") && !e.contains("t0ken"), "{e}");
    }
}

#[test]
fn duplicate_names_are_refused() {
    let twice =
        format!("{EXAMPLE}\n[[accounts]]\nname = \"lake\"\ntype = \"files\"\npath = \"x\"\n");
    assert!(error(&twice).contains("accounts.lake.name: account \"lake\" is configured twice"));
}

#[test]
fn environment_overrides_any_key() {
    let mut env = env();
    env.push(("WFM_BRIDGE__STORE__URL".into(), "postgres://db/wfm".into()));
    env.push(("WFM_BRIDGE__DELIVERY__MAX_ATTEMPTS".into(), "7".into()));
    env.push((
        "WFM_BRIDGE__ACCOUNTS__LAKE__URL".into(),
        "https://other.example.com/".into(),
    ));
    env.push((
        "WFM_BRIDGE__FLOWS__NORDIC_INTERACTIONS__ENABLED".into(),
        "false".into(),
    ));
    let c = Config::parse("wfm-bridge.toml", EXAMPLE, &env, None).unwrap();
    assert_eq!(c.store_url.as_deref(), Some("postgres://db/wfm"));
    assert_eq!(c.delivery.max_attempts, 7);
    assert_eq!(
        c.account("lake").unwrap().text("url"),
        Some("https://other.example.com/")
    );
    assert!(!c.flow("nordic-interactions").unwrap().enabled);

    env.push(("WFM_BRIDGE__FLOWS__NOPE__ENABLED".into(), "false".into()));
    let e = Config::parse("wfm-bridge.toml", EXAMPLE, &env, None).unwrap_err();
    assert!(
        e.to_string()
            .contains("WFM_BRIDGE__FLOWS__NOPE__ENABLED: no [[flows]] entry"),
        "{e}"
    );
}

#[test]
fn ingesting_flows_read_from_a_source_account() {
    let ingest = format!(
        "{EXAMPLE}\n[[flows]]\nname = \"acd-drop\"\nkind = \"interactions\"\ntenant = \"nordic\"\nsource = \"drop\"\non_invalid = \"stop\"\n"
    );
    let c = parse(&ingest).unwrap();
    let flow = c.flow("acd-drop").unwrap();
    assert_eq!(
        flow.direction,
        FlowDirection::Ingest {
            source: "drop".to_string(),
            on_invalid: OnInvalid::Stop
        }
    );
    assert_eq!(flow.target(), None);
    let cases = [
        (
            ingest.replace("source = \"drop\"", "source = \"lake\""),
            "acd-drop.source: \"lake\" is a http account, which cannot be read from",
        ),
        (
            ingest.replace("source = \"drop\"", "source = \"drop\"\ntarget = \"lake\""),
            "set one of source and target",
        ),
        (
            ingest.replace("on_invalid = \"stop\"", "on_invalid = \"ignore\""),
            "acd-drop.on_invalid: \"ignore\"",
        ),
        (
            ingest.replace("source = \"drop\"\n", ""),
            "acd-drop.target: is required",
        ),
        (
            EXAMPLE.replace("batch_size = 100", "on_invalid = \"skip\""),
            "on_invalid: only applies to flows that read from a source account",
        ),
    ];
    for (text, expected) in cases {
        let e = error(&text);
        assert!(e.contains(expected), "expected {expected:?} in {e:?}");
    }
}

#[test]
fn realtime_accounts_set_their_flows_clocks() {
    let realtime = |account: &str, flow_extra: &str| {
        format!(
            "{EXAMPLE}\n{account}\n[[flows]]\nname = \"rt\"\nkind = \"agent_states\"\ntenant = \"nordic\"\ntarget = \"wfm\"\n{flow_extra}\n"
        )
    };
    let clocks = |c: &Config| {
        let flow = c.flow("rt").unwrap();
        let get = |name: &str| match flow.options.get(name) {
            Some(PropertyValue::Duration(d)) => Some(*d),
            _ => None,
        };
        (get("update_every"), get("snapshot_every"))
    };
    let loxysoft = "[[accounts]]\nname = \"wfm\"\ntype = \"loxysoft\"\nurl = \"https://lox.example.com/\"\ntoken = \"env:LAKE_TOKEN\"\ninterval = \"30s\"";
    let nice = "[[accounts]]\nname = \"wfm\"\ntype = \"nice\"\nurl = \"https://nice.example.com/\"\nkeep_alive = \"45s\"";

    // Loxysoft's periodic interval is the update clock unless the flow sets one.
    let c = parse(&realtime(loxysoft, "")).unwrap();
    assert_eq!(
        clocks(&c),
        (
            Some(Duration::from_secs(30)),
            Some(Duration::from_secs(900))
        )
    );
    let c = parse(&realtime(loxysoft, "update_every = \"5s\"")).unwrap();
    assert_eq!(clocks(&c).0, Some(Duration::from_secs(5)));

    // NICE's keep-alive caps the snapshot clock.
    let c = parse(&realtime(nice, "")).unwrap();
    assert_eq!(
        clocks(&c),
        (Some(Duration::from_secs(10)), Some(Duration::from_secs(45)))
    );
    let c = parse(&realtime(nice, "snapshot_every = \"20s\"")).unwrap();
    assert_eq!(clocks(&c).1, Some(Duration::from_secs(20)));
    let e = error(&realtime(nice, "update_every = \"2m\""));
    assert!(
        e.contains("snapshot_every (45s) is shorter than update_every (120s)"),
        "{e}"
    );
}

#[test]
fn admin_tokens_have_a_role_and_a_tenant_scope() {
    let text = format!(
        "{EXAMPLE}\n[[admin_tokens]]\nname = \"ops\"\ntoken = \"env:NORDIC_TOKEN\"\nrole = \"admin\"\ntenants = [\"*\"]\n\n[[admin_tokens]]\ntoken = \"env:LAKE_TOKEN\"\nrole = \"viewer\"\ntenants = [\"nordic\"]\n"
    );
    let c = parse(&text).unwrap();
    assert_eq!(c.admin_tokens.len(), 2);
    let ops = &c.admin_tokens[0];
    assert_eq!(
        (ops.name.as_str(), ops.token.expose(), ops.role),
        ("ops", "t0ken", AdminRole::Admin)
    );
    assert!(ops.tenants.is_none() && ops.sees("anything"));
    let viewer = &c.admin_tokens[1];
    assert_eq!(viewer.name, "admin_tokens[1]");
    assert_eq!(viewer.role, AdminRole::Viewer);
    assert!(viewer.sees("nordic") && !viewer.sees("other"));
    assert!(!format!("{c:?}").contains("s3cret"), "no token in Debug");
}

#[test]
fn bad_admin_tokens_are_refused_naming_the_key() {
    let with = |entry: &str| error(&format!("{EXAMPLE}\n[[admin_tokens]]\n{entry}\n"));
    assert_eq!(
        with("name = \"x\"\ntoken = \"env:NORDIC_TOKEN\"\nrole = \"root\"\ntenants = [\"*\"]"),
        "wfm-bridge.toml: admin_tokens.x.role: \"root\" is not a role; write \"admin\" (may change things) or \"viewer\" (read only)"
    );
    assert_eq!(
        with("name = \"x\"\ntoken = \"env:NORDIC_TOKEN\"\nrole = \"viewer\"\ntenants = [\"mars\"]"),
        "wfm-bridge.toml: admin_tokens.x.tenants: \"mars\" is not a configured tenant"
    );
    assert!(
        with("name = \"x\"\ntoken = \"env:NORDIC_TOKEN\"\nrole = \"viewer\"")
            .starts_with("wfm-bridge.toml: admin_tokens.x.tenants: is required")
    );
    assert!(
        with("name = \"x\"\nrole = \"viewer\"\ntenants = [\"*\"]")
            .starts_with("wfm-bridge.toml: admin_tokens.x.token: is required")
    );
    assert_eq!(
        with("name = \"x\"\ntoken = \"env:NOPE\"\nrole = \"viewer\"\ntenants = [\"*\"]"),
        "wfm-bridge.toml: admin_tokens.x.token: environment variable NOPE is not set"
    );
    assert!(
        with("name = \"x\"\ntoken = \"env:NORDIC_TOKEN\"\nrole = \"viewer\"\ntenants = [\"*\"]\ncolour = 1")
            .starts_with("wfm-bridge.toml: admin_tokens.x.colour: unknown key")
    );
    let twice = format!(
        "{EXAMPLE}\n[[admin_tokens]]\ntoken = \"env:NORDIC_TOKEN\"\nrole = \"viewer\"\ntenants = [\"*\"]\n[[admin_tokens]]\ntoken = \"env:NORDIC_TOKEN\"\nrole = \"admin\"\ntenants = [\"*\"]\n"
    );
    assert!(error(&twice).contains("the same token is configured twice"));
}

#[test]
fn the_secrets_key_comes_from_the_environment_or_a_key_file() {
    let key = crate::secrets::SecretKey::generate();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("secret.key"),
        format!("{}\n", key.to_base64()),
    )
    .unwrap();
    let text = format!("{EXAMPLE}\n[secrets]\nkey_file = \"secret.key\"\n");
    let from_file = Config::parse("wfm-bridge.toml", &text, &env(), Some(dir.path())).unwrap();
    assert_eq!(from_file.secret_key.as_ref(), Some(&key));
    assert!(!format!("{from_file:?}").contains(&key.to_base64()));

    let other = crate::secrets::SecretKey::generate();
    let mut with_env = env();
    with_env.push((KEY_ENV.to_string(), other.to_base64()));
    let from_env = Config::parse("wfm-bridge.toml", EXAMPLE, &with_env, None).unwrap();
    assert_eq!(from_env.secret_key, Some(other.clone()));
    // The environment wins over the file.
    let both = Config::parse("wfm-bridge.toml", &text, &with_env, Some(dir.path())).unwrap();
    assert_eq!(both.secret_key, Some(other));
    assert!(parse(EXAMPLE).unwrap().secret_key.is_none());

    let missing = Config::parse(
        "wfm-bridge.toml",
        &text,
        &env(),
        Some(Path::new("/nonexistent")),
    )
    .unwrap_err()
    .to_string();
    assert!(
        missing
            .starts_with("wfm-bridge.toml: secrets.key_file: cannot read /nonexistent/secret.key"),
        "{missing}"
    );
    let mut bad_env = env();
    bad_env.push((KEY_ENV.to_string(), "c2hvcnQ=".to_string()));
    let bad = Config::parse("wfm-bridge.toml", EXAMPLE, &bad_env, None)
        .unwrap_err()
        .to_string();
    assert!(bad.contains("not base64 of 32 bytes (5 bytes)"), "{bad}");
}

#[test]
fn scim_tokens_and_secret_maps_resolve_and_stay_hidden() {
    let text = r#"
[[tenants]]
id = "acme"
ingest_token = "env:NORDIC_TOKEN"
scim_token = "env:NORDIC_TOKEN"

[[accounts]]
name = "acme-scim"
type = "scim"
tenant = "acme"
default_team = "Agents"

[[accounts]]
name = "cx"
type = "serenova"
tenant = "acme"
master = "acme"
tenants = { acme = "t-1", acme-nordic = "t-2" }
api_keys = { acme = "k1", acme-nordic = "k2" }
api_secrets = { acme = "env:NORDIC_TOKEN", acme-nordic = "env:NORDIC_TOKEN" }
"#;
    let config = parse(text).unwrap();
    let secret = env()[0].1.clone();
    assert_eq!(
        config.tenants[0].scim_token.as_ref().unwrap().expose(),
        secret
    );
    let cx = config.account("cx").unwrap();
    assert_eq!(cx.secret_map("api_secrets")["acme-nordic"].expose(), secret);
    assert!(!format!("{cx:?}").contains(&secret), "no secret in Debug");

    let missing = text.replace(
        "acme-nordic = \"env:NORDIC_TOKEN\" }",
        "acme-nordic = \"env:MISSING\" }",
    );
    let err = error(&missing);
    assert!(
        err.contains(
            "accounts.cx.api_secrets.acme-nordic: environment variable MISSING is not set"
        ),
        "{err}"
    );
    let no_key = text.replace(
        "api_keys = { acme = \"k1\", acme-nordic = \"k2\" }",
        "api_keys = { acme = \"k1\" }",
    );
    let err = error(&no_key);
    assert!(err.contains("api_keys.acme-nordic is missing"), "{err}");
    let second_scim = format!(
        "{text}\n[[accounts]]\nname = \"again\"\ntype = \"scim\"\ntenant = \"acme\"\ndefault_team = \"X\"\n"
    );
    assert!(error(&second_scim).contains("only one scim account is allowed per tenant"));
}

#[test]
fn directory_flows_read_the_store_or_a_directory_account_into_a_target() {
    let text = format!(
        "{EXAMPLE}\n[[flows]]\nname = \"nordic-directory\"\nkind = \"directory\"\ntenant = \"nordic\"\ntarget = \"drop\"\ndefault_team = \"Support\"\n[flows.policy]\ngroup_added = \"ignore\"\n[flows.filters]\nteam = \"^Sales\"\n\"attribute.department\" = \"north\"\n"
    );
    let c = parse(&text).unwrap();
    let flow = c.flow("nordic-directory").unwrap();
    assert_eq!(
        flow.direction,
        FlowDirection::Sync {
            source: None,
            target: "drop".into()
        }
    );
    assert_eq!(flow.target(), Some("drop"));
    assert_eq!(flow.schedule, Schedule::Every(Duration::from_secs(3600)));
    let policy = crate::flows::directory::policy(flow).unwrap();
    assert_eq!(
        policy.action(crate::directory::ChangeKind::GroupAdded),
        crate::directory::PolicyAction::Ignore
    );

    // `source = "store"` is the default written out.
    let explicit = text.replace(
        "kind = \"directory\"\n",
        "kind = \"directory\"\nsource = \"store\"\n",
    );
    assert_eq!(
        parse(&explicit)
            .unwrap()
            .flow("nordic-directory")
            .unwrap()
            .direction,
        flow.direction
    );

    for (bad, expected) in [
        (
            text.replace("group_added = \"ignore\"", "group_added = \"delete\""),
            "flows.nordic-directory: policy.group_added: \"delete\" is not an action for it; write one of create_team, ignore",
        ),
        (
            text.replace("team = \"^Sales\"", "team = \"(\""),
            "flows.nordic-directory: filters.team: \"(\" is not a regular expression",
        ),
        (
            text.replace("target = \"drop\"\ndefault_team", "default_team"),
            "flows.nordic-directory.target: is required",
        ),
        (
            text.replace(
                "kind = \"directory\"\n",
                "kind = \"directory\"\nsource = \"lake\"\n",
            ),
            "flows.nordic-directory.source: \"lake\" is a http account, which has no directory to read",
        ),
    ] {
        let err = error(&bad);
        assert!(err.contains(expected), "{err}\n  expected: {expected}");
    }
}
