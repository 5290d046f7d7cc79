//! Directory sync end to end: the real `wfm-bridge` binary (`import`, `sync --dry-run`, `sync`,
//! `sync --log`, `check`) with a SQLite store, into the sandbox's Calabrio Wfm.Api and agent-import
//! emulator over loopback. Agents and queues are imported, synced, changed (renamed, disabled, a
//! queue renamed, a skill added), re-imported and synced again.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;
use wfm_sandbox::calabrio::{CalabrioConfig, CalabrioSandbox};

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(calabrio_url: &str) -> Setup {
        let setup = Setup {
            dir: tempfile::tempdir().unwrap(),
        };
        let config = format!(
            r#"
[store]
url = "sqlite://store.db"
[[tenants]]
id = "acme"
time_zone = "Europe/Stockholm"
[[accounts]]
name = "calabrio"
type = "calabrio_wfm"
url = "{calabrio_url}"
token = "env:CALABRIO_TOKEN"
default_team = "London/Default"
[[accounts]]
name = "wrong-token"
type = "calabrio_wfm"
url = "{calabrio_url}"
token = "env:WRONG_TOKEN"
[[flows]]
name = "acme-directory"
kind = "directory"
tenant = "acme"
target = "calabrio"
"#
        );
        std::fs::write(setup.path("wfm-bridge.toml"), config).unwrap();
        std::fs::write(
            setup.path("tenants.jsonl"),
            r#"{"tenant":"acme","name":"Acme","time_zone":"Europe/Stockholm"}"#,
        )
        .unwrap();
        setup
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_wfm-bridge"))
            .args(args)
            .current_dir(self.dir.path())
            .env("CALABRIO_TOKEN", "sandbox-token")
            .env("WRONG_TOKEN", "not-the-token")
            .env_remove("WFM_BRIDGE_STORE")
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "wfm-bridge {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap() + &String::from_utf8(out.stderr).unwrap()
    }

    fn import(&self, kind: &str, lines: &[&str]) {
        let file = format!("{kind}.jsonl");
        std::fs::write(self.path(&file), lines.join("\n") + "\n").unwrap();
        self.ok(&["import", kind, &file]);
    }

    fn log(&self) -> Vec<Value> {
        self.ok(&[
            "sync",
            "acme-directory",
            "--log",
            "--json",
            "--limit",
            "1000",
        ])
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
    }
}

const QUEUES: [&str; 3] = [
    r#"{"tenant":"acme","queue":"q-sales","name":"Sales"}"#,
    r#"{"tenant":"acme","queue":"q-billing","name":"Billing"}"#,
    r#"{"tenant":"acme","queue":"q-support","name":"Support"}"#,
];

#[test]
fn agents_and_queues_sync_into_calabrio_and_changes_follow() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sandbox = runtime
        .block_on(CalabrioSandbox::start_with(
            "127.0.0.1:0",
            CalabrioConfig::default(),
        ))
        .unwrap();
    let wfm = sandbox.handles().wfm_api.clone();
    let setup = Setup::new(&sandbox.url());

    // Test connection: a clear verdict either way.
    let checked = setup.ok(&["check", "calabrio"]);
    assert!(
        checked.contains("AddSkillsToPerson is available"),
        "{checked}"
    );
    let wrong = setup.run(&["check", "wrong-token"]);
    let said = String::from_utf8_lossy(&wrong.stdout).to_string()
        + &String::from_utf8_lossy(&wrong.stderr);
    assert!(said.contains("credentials are invalid"), "{said}");

    setup.ok(&["import", "tenants", "tenants.jsonl"]);
    setup.import("queues", &QUEUES);
    setup.import(
        "agents",
        &[
            r#"{"tenant":"acme","agent":"u-1","first_name":"Ada","last_name":"Lovelace","email":"ada@example.com","team":"Sales","skills":["q-sales"]}"#,
            r#"{"tenant":"acme","agent":"u-2","first_name":"Grace","last_name":"Hopper","team":"Support","skills":["q-sales","q-billing"]}"#,
            r#"{"tenant":"acme","agent":"u-3","first_name":"Linus","last_name":"Torvalds","team":"Support"}"#,
        ],
    );

    // The dry run lists every change and changes nothing.
    let dry = setup.ok(&["sync", "acme-directory", "--dry-run"]);
    assert!(dry.contains("user_added"), "{dry}");
    assert!(
        dry.lines()
            .any(|l| l.contains("user u-1") && l.ends_with("-> create_person")),
        "{dry}"
    );
    assert!(
        dry.lines().any(|l| l.contains("queue q-billing")
            && l.ends_with("-> create_service_queue_and_skill_mapping")),
        "{dry}"
    );
    assert!(
        dry.contains("3 user(s) read") && dry.contains("nothing was changed"),
        "{dry}"
    );
    assert!(wfm.view().persons.is_empty());
    assert!(setup.log().is_empty());

    // The first sync creates three persons with their skills, activated today (tenant time).
    let today = || {
        jiff::Zoned::now()
            .in_tz("Europe/Stockholm")
            .unwrap()
            .date()
            .to_string()
    };
    let before_sync = today();
    let first = setup.ok(&["sync", "acme-directory"]);
    let after_sync = today();
    assert!(
        first.contains("queued 1 message(s); delivered 1"),
        "{first}"
    );
    let view = wfm.view();
    assert_eq!(
        view.imports,
        ["success count:3, failed count:0, warning count:0"]
    );
    let persons: Vec<(String, String, String, Vec<String>)> = view
        .persons
        .iter()
        .map(|p| {
            (
                p.windows_user.clone(),
                p.first_name.clone(),
                p.organization.clone(),
                p.skills.iter().cloned().collect(),
            )
        })
        .collect();
    assert_eq!(
        persons,
        [
            (
                "u-1".into(),
                "Ada".into(),
                "London/Default".into(),
                vec!["Sales".to_string()]
            ),
            (
                "u-2".into(),
                "Grace".into(),
                "London/Default".into(),
                vec!["Billing".to_string(), "Sales".to_string()]
            ),
            (
                "u-3".into(),
                "Linus".into(),
                "London/Default".into(),
                vec![]
            ),
        ]
    );
    for person in &view.persons {
        assert!(
            person.start_date == before_sync || person.start_date == after_sync,
            "{person:?}"
        );
    }
    let log = setup.log();
    // 2 groups + 3 queues + 3 users.
    assert_eq!(log.len(), 8, "{log:#?}");
    assert!(
        log.iter()
            .all(|e| e["source"] == "store" && e["flow"] == "acme-directory")
    );

    // Nothing changed: no change, no message.
    let idle = setup.ok(&["sync", "acme-directory"]);
    assert!(idle.contains("0 change(s), queued 0 message(s)"), "{idle}");

    // Rename a user, disable one, give one a skill, rename a queue; re-import; sync again.
    setup.import(
        "queues",
        &[
            QUEUES[0],
            r#"{"tenant":"acme","queue":"q-billing","name":"Billing EMEA"}"#,
            QUEUES[2],
        ],
    );
    setup.import(
        "agents",
        &[
            r#"{"tenant":"acme","agent":"u-1","first_name":"Augusta","last_name":"Lovelace","email":"ada@example.com","team":"Sales","skills":["q-sales"]}"#,
            r#"{"tenant":"acme","agent":"u-2","first_name":"Grace","last_name":"Hopper","team":"Support","skills":["q-sales","q-billing"],"active":false}"#,
            r#"{"tenant":"acme","agent":"u-3","first_name":"Linus","last_name":"Torvalds","team":"Support","skills":["q-support"]}"#,
        ],
    );
    let dry = setup.ok(&["sync", "acme-directory", "--dry-run", "--json"]);
    let planned: Vec<(String, String, String)> = dry
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["change"].as_str().unwrap().to_string(),
                v["subject"].as_str().unwrap().to_string(),
                v["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        planned,
        [
            (
                "queue_renamed".into(),
                "queue q-billing".into(),
                "rename_service_queue".into()
            ),
            (
                "user_renamed".into(),
                "user u-1".into(),
                "rename_person".into()
            ),
            (
                "user_disabled".into(),
                "user u-2".into(),
                "deactivate_person".into()
            ),
            (
                "user_skills_changed".into(),
                "user u-3".into(),
                "set_skills".into()
            ),
        ]
    );
    let second = setup.ok(&["sync", "acme-directory"]);
    assert!(
        second.contains("4 change(s), queued 1 message(s); delivered 1"),
        "{second}"
    );
    let view = wfm.view();
    // No person twice; the new skill arrived; renames and deactivations have no Wfm.Api command
    // in the contract, so Calabrio keeps the old name and the audit log records them.
    assert_eq!(view.persons.len(), 3);
    assert_eq!(view.imports.len(), 1);
    assert_eq!(
        view.persons[2].skills.iter().cloned().collect::<Vec<_>>(),
        ["Support"]
    );
    let log = setup.log();
    assert_eq!(log.len(), 12);
    let rename = log.iter().find(|e| e["change"] == "user_renamed").unwrap();
    assert_eq!(rename["action"], "rename_person");
    let before: Value = serde_json::from_str(rename["before"].as_str().unwrap()).unwrap();
    let after: Value = serde_json::from_str(rename["after"].as_str().unwrap()).unwrap();
    assert_eq!(before["first_name"], "Ada");
    assert_eq!(after["first_name"], "Augusta");
    assert!(rename["person_id"].as_str().unwrap().len() == 36);
    let disabled = log.iter().find(|e| e["change"] == "user_disabled").unwrap();
    assert_eq!(disabled["person_id"], rename_person_of(&log, "user u-2"));

    drop(sandbox);
}

/// The person id the log gave a user when it was added.
fn rename_person_of(log: &[Value], subject: &str) -> Value {
    log.iter()
        .find(|e| e["change"] == "user_added" && e["subject"] == subject)
        .map(|e| e["person_id"].clone())
        .unwrap()
}
