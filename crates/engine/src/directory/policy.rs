//! Policy as data: what a directory flow does about each kind of change, and the plan of actions
//! it derives from a list of changes.
//!
//! A [`Policy`] is a table from [`ChangeKind`] to [`PolicyAction`]. The default is Calabrio ONE's
//! Serenova sync (seed 000); a flow overrides rows in `[flows.policy]` (`group_disabled =
//! "ignore"`), so another target can choose differently. [`plan`] is pure: the persons already
//! known and the day are given, the new ones are minted deterministically ([`person_id`]).

use std::collections::BTreeMap;
use std::fmt;

use wfm_model::directory_actions::{DirectoryAction, SkillRef};
use wfm_model::{DirectoryGroup, DirectoryQueue, DirectoryUser};

use super::diff::{ChangeKind, DirectoryChange};

/// What to do about one kind of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PolicyAction {
    /// Nothing (the change is still logged).
    Ignore,
    /// A new person: first and last name, default team, activation date, external id, origin.
    CreatePerson,
    /// Rename the person.
    RenamePerson,
    /// Deactivate the person (never delete).
    DeactivatePerson,
    /// Activate the person again.
    ReactivatePerson,
    /// Give the person the user's skills.
    SetSkills,
    /// Move the person to the team of the user's first group.
    SetTeam,
    /// A team of the group's name.
    CreateTeam,
    /// Rename the team.
    RenameTeam,
    /// A service queue, without a skill mapping.
    CreateServiceQueue,
    /// A service queue and a skill mapping.
    CreateServiceQueueAndSkillMapping,
    /// Rename the service queue, not the skill mapping.
    RenameServiceQueue,
    /// Rename the service queue and the skill mapping.
    RenameServiceQueueAndSkillMapping,
}

impl PolicyAction {
    /// The name used in configuration and in the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyAction::Ignore => "ignore",
            PolicyAction::CreatePerson => "create_person",
            PolicyAction::RenamePerson => "rename_person",
            PolicyAction::DeactivatePerson => "deactivate_person",
            PolicyAction::ReactivatePerson => "reactivate_person",
            PolicyAction::SetSkills => "set_skills",
            PolicyAction::SetTeam => "set_team",
            PolicyAction::CreateTeam => "create_team",
            PolicyAction::RenameTeam => "rename_team",
            PolicyAction::CreateServiceQueue => "create_service_queue",
            PolicyAction::CreateServiceQueueAndSkillMapping => {
                "create_service_queue_and_skill_mapping"
            }
            PolicyAction::RenameServiceQueue => "rename_service_queue",
            PolicyAction::RenameServiceQueueAndSkillMapping => {
                "rename_service_queue_and_skill_mapping"
            }
        }
    }

    /// The actions a kind of change may be given; the first is Calabrio ONE's.
    pub fn allowed(kind: ChangeKind) -> &'static [PolicyAction] {
        use PolicyAction::*;
        match kind {
            ChangeKind::UserAdded => &[CreatePerson, Ignore],
            ChangeKind::UserRenamed => &[RenamePerson, Ignore],
            ChangeKind::UserDisabled => &[DeactivatePerson, Ignore],
            // Seed 000 says nothing about enabling again: off by default, available.
            ChangeKind::UserEnabled => &[Ignore, ReactivatePerson],
            ChangeKind::UserSkillsChanged => &[SetSkills, Ignore],
            ChangeKind::UserGroupsChanged => &[Ignore, SetTeam],
            ChangeKind::GroupAdded => &[CreateTeam, Ignore],
            ChangeKind::GroupRenamed => &[RenameTeam, Ignore],
            ChangeKind::GroupDisabled | ChangeKind::GroupEnabled => &[Ignore],
            ChangeKind::QueueAdded => &[
                CreateServiceQueueAndSkillMapping,
                CreateServiceQueue,
                Ignore,
            ],
            ChangeKind::QueueRenamed => &[
                RenameServiceQueue,
                RenameServiceQueueAndSkillMapping,
                Ignore,
            ],
            ChangeKind::QueueDisabled | ChangeKind::QueueEnabled => &[Ignore],
        }
    }
}

impl fmt::Display for PolicyAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The table of what to do about each kind of change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    rules: BTreeMap<ChangeKind, PolicyAction>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::calabrio_one()
    }
}

impl Policy {
    /// Calabrio ONE's Serenova sync (seed 000): new user → new person, name change → rename,
    /// disabled → deactivate; new group → team, renamed group → rename team, membership and
    /// disabled group → nothing; new queue → service queue and skill mapping, renamed queue →
    /// rename the service queue only, disabled queue → nothing. Skills changed → set skills.
    pub fn calabrio_one() -> Policy {
        Policy {
            rules: ChangeKind::ALL
                .into_iter()
                .map(|k| (k, PolicyAction::allowed(k)[0]))
                .collect(),
        }
    }

    /// This policy with rows replaced by `overrides` (change kind name → action name), as a flow's
    /// `[flows.policy]` gives them. The error names the row and the values it accepts.
    pub fn with_overrides(
        mut self,
        overrides: &BTreeMap<String, String>,
    ) -> Result<Policy, String> {
        for (kind_name, action_name) in overrides {
            let Some(kind) = ChangeKind::parse(kind_name) else {
                let known: Vec<&str> = ChangeKind::ALL.iter().map(|k| k.as_str()).collect();
                return Err(format!(
                    "policy.{kind_name}: not a kind of change; known: {}",
                    known.join(", ")
                ));
            };
            let allowed = PolicyAction::allowed(kind);
            let Some(action) = allowed.iter().find(|a| a.as_str() == action_name) else {
                let names: Vec<&str> = allowed.iter().map(|a| a.as_str()).collect();
                return Err(format!(
                    "policy.{kind_name}: {action_name:?} is not an action for it; write one of {}",
                    names.join(", ")
                ));
            };
            self.rules.insert(kind, *action);
        }
        Ok(self)
    }

    /// What to do about a kind of change.
    pub fn action(&self, kind: ChangeKind) -> PolicyAction {
        self.rules
            .get(&kind)
            .copied()
            .unwrap_or(PolicyAction::Ignore)
    }

    /// Every row, in [`ChangeKind::ALL`] order.
    pub fn rows(&self) -> Vec<(ChangeKind, PolicyAction)> {
        ChangeKind::ALL
            .into_iter()
            .map(|k| (k, self.action(k)))
            .collect()
    }
}

/// What a plan needs besides the changes.
#[derive(Debug, Clone)]
pub struct PlanContext<'a> {
    /// Tenant.
    pub tenant: &'a str,
    /// Target account (persons are per target).
    pub target: &'a str,
    /// Source account (`store` for the store's directory).
    pub source: &'a str,
    /// `ACD - <account name>`: where new persons come from.
    pub origin: String,
    /// The team new persons join, when the flow names one.
    pub default_team: Option<String>,
    /// Today in the tenant's time zone (`YYYY-MM-DD`): activation and deactivation dates.
    pub today: String,
    /// Persons already in the target for users of this source: external id → person id.
    pub persons: &'a BTreeMap<String, String>,
    /// The source's groups now (for team names).
    pub groups: &'a [DirectoryGroup],
    /// The source's queues now (for skill names).
    pub queues: &'a [DirectoryQueue],
}

/// One change with what the policy made of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedChange {
    /// The change.
    pub change: DirectoryChange,
    /// The policy's row for its kind.
    pub rule: PolicyAction,
    /// The action for the target, when there is one.
    pub action: Option<DirectoryAction>,
    /// The person concerned, if any.
    pub person_id: Option<String>,
    /// Why the rule produced no action although it is not `ignore`.
    pub note: Option<&'static str>,
}

impl PlannedChange {
    /// What the audit log says was done: the action, `ignore`, or `none: <why>`.
    pub fn outcome(&self) -> String {
        match (&self.action, self.note) {
            (Some(_), _) => self.rule.as_str().to_string(),
            (None, Some(note)) => format!("none: {note}"),
            (None, None) => self.rule.as_str().to_string(),
        }
    }
}

/// The plan of one run: each change with its action, and the persons it creates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Every change found, in order.
    pub changes: Vec<PlannedChange>,
    /// Persons created: (external id, person id).
    pub new_persons: Vec<(String, String)>,
}

impl Plan {
    /// The actions for the target, in order.
    pub fn actions(&self) -> Vec<DirectoryAction> {
        self.changes
            .iter()
            .filter_map(|c| c.action.clone())
            .collect()
    }
}

/// The person id of a source user in a target: a GUID (Calabrio's person ids are GUIDs) derived
/// from (tenant, target, source, external id), so a retried run mints the same one.
pub fn person_id(tenant: &str, target: &str, source: &str, external_id: &str) -> String {
    let key = format!("{tenant}\u{1f}{target}\u{1f}{source}\u{1f}{external_id}");
    let h = xxhash_rust::xxh3::xxh3_128(key.as_bytes()).to_be_bytes();
    let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn skills(user: &DirectoryUser, queues: &[DirectoryQueue]) -> Vec<SkillRef> {
    user.skills
        .iter()
        .map(|id| SkillRef {
            queue_id: id.clone(),
            name: queues
                .iter()
                .find(|q| &q.id == id)
                .map_or_else(|| id.clone(), |q| q.name.clone()),
        })
        .collect()
}

/// Applies `policy` to `changes`.
pub fn plan(policy: &Policy, changes: Vec<DirectoryChange>, ctx: &PlanContext<'_>) -> Plan {
    let mut plan = Plan::default();
    let mut known = ctx.persons.clone();
    for change in changes {
        let rule = policy.action(change.kind());
        let mut planned = PlannedChange {
            change,
            rule,
            action: None,
            person_id: None,
            note: None,
        };
        if rule != PolicyAction::Ignore {
            apply(&mut planned, ctx, &mut known, &mut plan.new_persons);
        }
        plan.changes.push(planned);
    }
    plan
}

fn apply(
    planned: &mut PlannedChange,
    ctx: &PlanContext<'_>,
    known: &mut BTreeMap<String, String>,
    new_persons: &mut Vec<(String, String)>,
) {
    let user = match &planned.change {
        DirectoryChange::UserAdded(u)
        | DirectoryChange::UserDisabled(u)
        | DirectoryChange::UserEnabled(u)
        | DirectoryChange::UserRenamed { user: u, .. }
        | DirectoryChange::UserSkillsChanged { user: u, .. }
        | DirectoryChange::UserGroupsChanged { user: u, .. } => Some(u.clone()),
        _ => None,
    };
    if let Some(user) = user {
        let existing = known.get(&user.id).cloned();
        planned.person_id = existing.clone();
        if planned.rule == PolicyAction::CreatePerson {
            if existing.is_some() {
                planned.note = Some("the person exists already");
                return;
            }
            if !user.active {
                planned.note = Some("the user is disabled; no person is created");
                return;
            }
            let id = person_id(ctx.tenant, ctx.target, ctx.source, &user.id);
            known.insert(user.id.clone(), id.clone());
            new_persons.push((user.id.clone(), id.clone()));
            planned.person_id = Some(id.clone());
            planned.action = Some(DirectoryAction::CreatePerson {
                person_id: id,
                external_id: user.id.clone(),
                first_name: user.first_name.clone(),
                last_name: user.last_name.clone(),
                team: ctx.default_team.clone(),
                activation_date: ctx.today.clone(),
                origin: ctx.origin.clone(),
                skills: skills(&user, ctx.queues),
            });
            return;
        }
        let Some(person_id) = existing else {
            planned.note = Some("no person in the target for this user");
            return;
        };
        let external_id = user.id.clone();
        planned.action = match planned.rule {
            PolicyAction::RenamePerson => Some(DirectoryAction::RenamePerson {
                person_id,
                external_id,
                first_name: user.first_name.clone(),
                last_name: user.last_name.clone(),
            }),
            PolicyAction::DeactivatePerson => Some(DirectoryAction::DeactivatePerson {
                person_id,
                external_id,
                date: ctx.today.clone(),
            }),
            PolicyAction::ReactivatePerson => Some(DirectoryAction::ReactivatePerson {
                person_id,
                external_id,
                date: ctx.today.clone(),
            }),
            PolicyAction::SetSkills => Some(DirectoryAction::SetSkills {
                person_id,
                external_id,
                skills: skills(&user, ctx.queues),
            }),
            PolicyAction::SetTeam => {
                let team = user
                    .groups
                    .first()
                    .and_then(|g| ctx.groups.iter().find(|x| &x.id == g))
                    .map(|g| g.name.clone());
                match team {
                    Some(team) => Some(DirectoryAction::SetTeam {
                        person_id,
                        external_id,
                        team,
                    }),
                    None => {
                        planned.note = Some("the user is in no known group");
                        None
                    }
                }
            }
            _ => None,
        };
        return;
    }
    planned.action = match (&planned.change, planned.rule) {
        (DirectoryChange::GroupAdded(g), PolicyAction::CreateTeam) if g.active => {
            Some(DirectoryAction::CreateTeam {
                group_id: g.id.clone(),
                name: g.name.clone(),
            })
        }
        (DirectoryChange::GroupRenamed { group, before }, PolicyAction::RenameTeam) => {
            Some(DirectoryAction::RenameTeam {
                group_id: group.id.clone(),
                from: before.clone(),
                to: group.name.clone(),
            })
        }
        (DirectoryChange::QueueAdded(q), rule @ PolicyAction::CreateServiceQueue)
        | (
            DirectoryChange::QueueAdded(q),
            rule @ PolicyAction::CreateServiceQueueAndSkillMapping,
        ) if q.active => Some(DirectoryAction::CreateServiceQueue {
            queue_id: q.id.clone(),
            name: q.name.clone(),
            skill_mapping: rule == PolicyAction::CreateServiceQueueAndSkillMapping,
        }),
        (DirectoryChange::QueueRenamed { queue, before }, rule) => {
            Some(DirectoryAction::RenameServiceQueue {
                queue_id: queue.id.clone(),
                from: before.clone(),
                to: queue.name.clone(),
                skill_mapping: rule == PolicyAction::RenameServiceQueueAndSkillMapping,
            })
        }
        (DirectoryChange::GroupAdded(_) | DirectoryChange::QueueAdded(_), _) => {
            planned.note = Some("it is disabled in the source");
            None
        }
        _ => None,
    };
}
