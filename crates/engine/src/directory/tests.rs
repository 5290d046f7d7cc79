//! Calabrio ONE's Serenova change tables (seed 000), one test per row, plus the user-profile
//! mapping, the policy overrides, the filters and the master/sub-tenant rule.

use std::collections::BTreeMap;

use wfm_model::directory_actions::{DirectoryAction, SkillRef};
use wfm_model::{DirectoryGroup, DirectoryQueue, DirectorySnapshot, DirectoryUser};

use super::*;

fn user(id: &str, first: &str, last: &str) -> DirectoryUser {
    DirectoryUser {
        id: id.into(),
        first_name: first.into(),
        last_name: last.into(),
        email: Some(format!("{id}@example.com")),
        active: true,
        groups: vec!["g-sales".into()],
        skills: vec!["q-sales".into()],
        attributes: BTreeMap::from([("department".to_string(), "north".to_string())]),
    }
}

fn group(id: &str, name: &str) -> DirectoryGroup {
    DirectoryGroup {
        id: id.into(),
        name: name.into(),
        active: true,
    }
}

fn queue(id: &str, name: &str) -> DirectoryQueue {
    DirectoryQueue {
        id: id.into(),
        name: name.into(),
        active: true,
    }
}

/// A directory with one user, one group and one queue.
fn base() -> DirectorySnapshot {
    DirectorySnapshot {
        users: vec![user("u-1", "Ada", "Lovelace")],
        groups: vec![group("g-sales", "Sales")],
        queues: vec![queue("q-sales", "Sales queue")],
    }
}

/// Runs diff and plan with the default policy; persons already in the target: u-1 → p-1.
fn sync(before: &DirectorySnapshot, after: &DirectorySnapshot) -> Plan {
    sync_with(&Policy::calabrio_one(), before, after)
}

fn sync_with(policy: &Policy, before: &DirectorySnapshot, after: &DirectorySnapshot) -> Plan {
    let persons = BTreeMap::from([("u-1".to_string(), "p-1".to_string())]);
    let ctx = PlanContext {
        tenant: "acme",
        target: "calabrio",
        source: "cx",
        origin: "ACD - cx".to_string(),
        default_team: Some("Default".to_string()),
        today: "2026-11-22".to_string(),
        persons: &persons,
        groups: &after.groups,
        queues: &after.queues,
    };
    plan(policy, diff(before, after), &ctx)
}

fn kinds(plan: &Plan) -> Vec<(ChangeKind, String)> {
    plan.changes
        .iter()
        .map(|c| (c.change.kind(), c.outcome()))
        .collect()
}

// ---- users (seed 000: "Change in Serenova | Resulting Change in Calabrio ONE") -----------------

#[test]
fn new_user_is_added_then_new_user_is_added() {
    let mut after = base();
    after.users.push(user("u-2", "Grace", "Hopper"));
    let plan = sync(&base(), &after);
    assert_eq!(
        kinds(&plan),
        [(ChangeKind::UserAdded, "create_person".to_string())]
    );
    let id = person_id("acme", "calabrio", "cx", "u-2");
    // The user profile mapping: first and last name, e-mail not mapped, the default team,
    // activated the day it was added, the external user id, source "ACD - <configuration>".
    assert_eq!(
        plan.actions(),
        [DirectoryAction::CreatePerson {
            person_id: id.clone(),
            external_id: "u-2".into(),
            first_name: "Grace".into(),
            last_name: "Hopper".into(),
            team: Some("Default".into()),
            activation_date: "2026-11-22".into(),
            origin: "ACD - cx".into(),
            skills: vec![SkillRef {
                queue_id: "q-sales".into(),
                name: "Sales queue".into()
            }],
        }]
    );
    let json = serde_json::to_string(&plan.actions()).unwrap();
    assert!(
        !json.contains("example.com"),
        "e-mail is not mapped: {json}"
    );
    assert_eq!(plan.new_persons, [("u-2".to_string(), id)]);
}

#[test]
fn users_first_or_last_name_is_changed_then_users_name_is_changed() {
    let mut after = base();
    after.users[0].last_name = "King".into();
    let plan = sync(&base(), &after);
    assert_eq!(
        plan.actions(),
        [DirectoryAction::RenamePerson {
            person_id: "p-1".into(),
            external_id: "u-1".into(),
            first_name: "Ada".into(),
            last_name: "King".into(),
        }]
    );
    let (before, after) = plan.changes[0].change.before_after();
    assert_eq!(before.unwrap()["last_name"], "Lovelace");
    assert_eq!(after.unwrap()["last_name"], "King");
}

#[test]
fn user_is_disabled_then_user_is_deactivated() {
    let mut after = base();
    after.users[0].active = false;
    let plan = sync(&base(), &after);
    assert_eq!(
        plan.actions(),
        [DirectoryAction::DeactivatePerson {
            person_id: "p-1".into(),
            external_id: "u-1".into(),
            date: "2026-11-22".into(),
        }]
    );
    assert!(plan.new_persons.is_empty());
}

// ---- groups ---------------------------------------------------------------------------------

#[test]
fn new_group_is_added_then_new_team_with_the_same_name() {
    let mut after = base();
    after.groups.push(group("g-support", "Support"));
    let plan = sync(&base(), &after);
    assert_eq!(
        plan.actions(),
        [DirectoryAction::CreateTeam {
            group_id: "g-support".into(),
            name: "Support".into(),
        }]
    );
}

#[test]
fn group_name_is_changed_then_team_name_is_changed() {
    let mut after = base();
    after.groups[0].name = "Inside sales".into();
    let plan = sync(&base(), &after);
    assert_eq!(
        plan.actions(),
        [DirectoryAction::RenameTeam {
            group_id: "g-sales".into(),
            from: "Sales".into(),
            to: "Inside sales".into(),
        }]
    );
}

#[test]
fn new_user_is_added_to_a_group_then_no_change() {
    let mut after = base();
    after.groups.push(group("g-support", "Support"));
    let mut before = after.clone();
    before.users[0].groups = vec!["g-sales".into()];
    after.users[0].groups = vec!["g-sales".into(), "g-support".into()];
    let plan = sync(&before, &after);
    assert_eq!(
        kinds(&plan),
        [(ChangeKind::UserGroupsChanged, "ignore".to_string())]
    );
    assert!(plan.actions().is_empty());
}

#[test]
fn user_is_removed_from_a_group_then_no_change() {
    let mut after = base();
    after.users[0].groups.clear();
    let plan = sync(&base(), &after);
    assert_eq!(
        kinds(&plan),
        [(ChangeKind::UserGroupsChanged, "ignore".to_string())]
    );
    assert!(plan.actions().is_empty());
}

#[test]
fn group_is_disabled_then_no_change() {
    let mut after = base();
    after.groups[0].active = false;
    let plan = sync(&base(), &after);
    assert_eq!(
        kinds(&plan),
        [(ChangeKind::GroupDisabled, "ignore".to_string())]
    );
    assert!(plan.actions().is_empty());
}

// ---- queues ---------------------------------------------------------------------------------

#[test]
fn new_queue_is_added_then_new_service_queue_and_skill_mapping() {
    let mut after = base();
    after.queues.push(queue("q-billing", "Billing"));
    let plan = sync(&base(), &after);
    assert_eq!(
        plan.actions(),
        [DirectoryAction::CreateServiceQueue {
            queue_id: "q-billing".into(),
            name: "Billing".into(),
            skill_mapping: true,
        }]
    );
}

#[test]
fn queue_name_is_changed_then_service_queue_renamed_but_not_the_skill_mapping() {
    let mut after = base();
    after.queues[0].name = "Sales EMEA".into();
    let plan = sync(&base(), &after);
    assert_eq!(
        plan.actions(),
        [DirectoryAction::RenameServiceQueue {
            queue_id: "q-sales".into(),
            from: "Sales queue".into(),
            to: "Sales EMEA".into(),
            skill_mapping: false,
        }]
    );
}

#[test]
fn queue_is_disabled_then_no_change() {
    let mut after = base();
    after.queues[0].active = false;
    let plan = sync(&base(), &after);
    assert_eq!(
        kinds(&plan),
        [(ChangeKind::QueueDisabled, "ignore".to_string())]
    );
    assert!(plan.actions().is_empty());
}

// ---- beyond the seed's rows -----------------------------------------------------------------

#[test]
fn an_unchanged_directory_in_another_order_has_no_changes() {
    let mut a = base();
    a.users.push(user("u-2", "Grace", "Hopper"));
    let mut b = a.clone();
    b.users.reverse();
    b.users[0].skills = vec!["q-sales".into(), "q-sales".into()];
    a.normalize();
    b.normalize();
    assert!(diff(&a, &b).is_empty());
}

#[test]
fn a_user_gone_from_the_source_is_no_change() {
    let mut after = base();
    after.users.clear();
    assert!(diff(&base(), &after).is_empty());
}

#[test]
fn changes_come_groups_then_queues_then_users() {
    let after = base();
    let plan = sync(&DirectorySnapshot::default(), &after);
    let order: Vec<ChangeKind> = plan.changes.iter().map(|c| c.change.kind()).collect();
    assert_eq!(
        order,
        [
            ChangeKind::GroupAdded,
            ChangeKind::QueueAdded,
            ChangeKind::UserAdded
        ]
    );
    // u-1 has a person already (p-1): it is linked, not created twice.
    assert_eq!(plan.changes[2].outcome(), "none: the person exists already");
    assert_eq!(plan.changes[2].person_id.as_deref(), Some("p-1"));
}

#[test]
fn a_user_added_disabled_gets_no_person() {
    let mut after = base();
    let mut grace = user("u-2", "Grace", "Hopper");
    grace.active = false;
    after.users.push(grace);
    let plan = sync(&base(), &after);
    assert!(plan.actions().is_empty());
    assert!(plan.new_persons.is_empty());
}

#[test]
fn skills_changed_sets_all_skills_and_rename_without_person_does_nothing() {
    let mut after = base();
    after.queues.push(queue("q-billing", "Billing"));
    after.users[0].skills = vec!["q-billing".into(), "q-sales".into()];
    let mut grace_before = base();
    grace_before.users.push(user("u-9", "Grace", "Hopper"));
    after.users.push(user("u-9", "Grace", "King"));
    let plan = sync(&grace_before, &after);
    let actions = plan.actions();
    assert!(actions.contains(&DirectoryAction::SetSkills {
        person_id: "p-1".into(),
        external_id: "u-1".into(),
        skills: vec![
            SkillRef {
                queue_id: "q-billing".into(),
                name: "Billing".into()
            },
            SkillRef {
                queue_id: "q-sales".into(),
                name: "Sales queue".into()
            },
        ],
    }));
    let rename = plan
        .changes
        .iter()
        .find(|c| c.change.kind() == ChangeKind::UserRenamed)
        .unwrap();
    assert_eq!(
        rename.outcome(),
        "none: no person in the target for this user"
    );
}

#[test]
fn a_flow_policy_overrides_rows() {
    let policy = Policy::calabrio_one()
        .with_overrides(&BTreeMap::from([
            ("group_added".to_string(), "ignore".to_string()),
            ("user_enabled".to_string(), "reactivate_person".to_string()),
            (
                "queue_renamed".to_string(),
                "rename_service_queue_and_skill_mapping".to_string(),
            ),
        ]))
        .unwrap();
    let mut before = base();
    before.users[0].active = false;
    let mut after = base();
    after.groups.push(group("g-x", "X"));
    after.queues[0].name = "Renamed".into();
    let plan = sync_with(&policy, &before, &after);
    assert_eq!(
        plan.actions(),
        [
            DirectoryAction::RenameServiceQueue {
                queue_id: "q-sales".into(),
                from: "Sales queue".into(),
                to: "Renamed".into(),
                skill_mapping: true,
            },
            DirectoryAction::ReactivatePerson {
                person_id: "p-1".into(),
                external_id: "u-1".into(),
                date: "2026-11-22".into(),
            },
        ]
    );
    let err = Policy::calabrio_one()
        .with_overrides(&BTreeMap::from([(
            "group_disabled".to_string(),
            "create_team".to_string(),
        )]))
        .unwrap_err();
    assert!(
        err.contains("policy.group_disabled") && err.contains("ignore"),
        "{err}"
    );
    let err = Policy::calabrio_one()
        .with_overrides(&BTreeMap::from([(
            "user_gone".to_string(),
            "ignore".to_string(),
        )]))
        .unwrap_err();
    assert!(err.contains("not a kind of change"), "{err}");
}

#[test]
fn the_default_policy_is_calabrio_ones_table() {
    let rows: Vec<(&str, &str)> = Policy::default()
        .rows()
        .into_iter()
        .map(|(k, a)| (k.as_str(), a.as_str()))
        .collect();
    assert_eq!(
        rows,
        [
            ("user_added", "create_person"),
            ("user_renamed", "rename_person"),
            ("user_disabled", "deactivate_person"),
            ("user_enabled", "ignore"),
            ("user_skills_changed", "set_skills"),
            ("user_groups_changed", "ignore"),
            ("group_added", "create_team"),
            ("group_renamed", "rename_team"),
            ("group_disabled", "ignore"),
            ("group_enabled", "ignore"),
            ("queue_added", "create_service_queue_and_skill_mapping"),
            ("queue_renamed", "rename_service_queue"),
            ("queue_disabled", "ignore"),
            ("queue_enabled", "ignore"),
        ]
    );
}

// ---- filters --------------------------------------------------------------------------------

fn filters(pairs: &[(&str, &str)]) -> UserFilters {
    UserFilters::parse(
        &pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
    .unwrap()
}

#[test]
fn filters_keep_users_by_team_queue_and_attribute() {
    let mut snapshot = base();
    snapshot.groups.push(group("g-support", "Support"));
    snapshot.queues.push(queue("q-billing", "Billing"));
    let mut grace = user("u-2", "Grace", "Hopper");
    grace.groups = vec!["g-support".into()];
    grace.skills = vec!["q-billing".into()];
    grace.attributes.insert("department".into(), "south".into());
    snapshot.users.push(grace);

    let ids = |f: &UserFilters| -> Vec<String> {
        f.apply(snapshot.clone())
            .0
            .users
            .into_iter()
            .map(|u| u.id)
            .collect()
    };
    assert_eq!(ids(&filters(&[("team", "^Sup")])), ["u-2"]);
    assert_eq!(ids(&filters(&[("queue", "^Sales")])), ["u-1"]);
    assert_eq!(
        ids(&filters(&[("attribute.department", "^south$")])),
        ["u-2"]
    );
    assert_eq!(
        ids(&filters(&[("team", "Sales"), ("queue", "Billing")])),
        Vec::<String>::new()
    );
    assert_eq!(ids(&filters(&[])), ["u-1", "u-2"]);
    let (kept, left_out) = filters(&[("team", "^Sup")]).apply(snapshot.clone());
    assert_eq!(left_out, 1);
    // Groups and queues are not filtered.
    assert_eq!(kept.groups.len(), 2);
}

#[test]
fn filtered_out_users_produce_no_changes() {
    let f = filters(&[("team", "^Support$")]);
    let mut after = base();
    after.users[0].last_name = "King".into();
    after.users.push(user("u-2", "Grace", "Hopper"));
    let (before, _) = f.apply(base());
    let (after, _) = f.apply(after);
    let plan = sync(&before, &after);
    assert!(plan.changes.is_empty(), "{:?}", plan.changes);
}

#[test]
fn bad_filters_are_named() {
    let err =
        UserFilters::parse(&BTreeMap::from([("team".to_string(), "(".to_string())])).unwrap_err();
    assert!(err.starts_with("filters.team:"), "{err}");
    let err =
        UserFilters::parse(&BTreeMap::from([("colour".to_string(), "x".to_string())])).unwrap_err();
    assert!(err.contains("not a filter"), "{err}");
}

// ---- persons: master tenant and sub-tenants --------------------------------------------------

#[test]
fn a_user_in_the_master_and_a_sub_tenant_of_one_account_is_one_person() {
    let mut master = base();
    master.users[0].skills = vec![];
    let mut sub = base();
    sub.users[0].groups = vec![];
    let merged = merge_tenants(vec![("master".into(), master), ("sub-1".into(), sub)]);
    assert_eq!(merged.users.len(), 1);
    assert_eq!(merged.users[0].attributes["tenants"], "master,sub-1");
    assert_eq!(merged.users[0].skills, ["q-sales"]);
    assert_eq!(merged.users[0].groups, ["g-sales"]);
    let persons = BTreeMap::new();
    let ctx = PlanContext {
        tenant: "acme",
        target: "calabrio",
        source: "cx",
        origin: "ACD - cx".into(),
        default_team: None,
        today: "2026-11-22".into(),
        persons: &persons,
        groups: &merged.groups,
        queues: &merged.queues,
    };
    let plan = plan(
        &Policy::default(),
        diff(&DirectorySnapshot::default(), &merged),
        &ctx,
    );
    assert_eq!(plan.new_persons.len(), 1);
}

#[test]
fn two_source_accounts_make_two_persons() {
    let a = person_id("acme", "calabrio", "cx-master", "u-1");
    let b = person_id("acme", "calabrio", "cx-sub", "u-1");
    assert_ne!(a, b);
    // Stable, GUID-shaped.
    assert_eq!(a, person_id("acme", "calabrio", "cx-master", "u-1"));
    assert_eq!(a.len(), 36);
    assert_eq!(a.matches('-').count(), 4);
}
