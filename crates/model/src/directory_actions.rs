//! What directory sync asks a target to do: the actions a flow's policy derived from the changes it
//! found in a source's directory, as one [`DirectoryChangeSet`] message per run (the payload a
//! directory flow puts in the outbox, `application/json`).
//!
//! Targets carry them out in order: teams and service queues first, then persons, so that a new
//! person's team and skills exist by the time the person does.

use serde::{Deserialize, Serialize};

/// One run's actions for one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryChangeSet {
    /// Tenant.
    pub tenant: String,
    /// The flow that produced it.
    pub flow: String,
    /// The source account the changes come from (`store` for the store's own directory).
    pub source: String,
    /// The actions, in the order to carry them out.
    pub actions: Vec<DirectoryAction>,
}

/// A skill a person gets: the queue it stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkillRef {
    /// The queue id in the source.
    pub queue_id: String,
    /// The skill's name in the target (the queue's name when its skill mapping was made).
    pub name: String,
}

/// One thing to do in the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum DirectoryAction {
    /// A new person for a new user.
    CreatePerson {
        /// The person's id in the target (minted by wfm-bridge, stable per source user).
        person_id: String,
        /// The user's id in the source (the external user id).
        external_id: String,
        /// Given name.
        first_name: String,
        /// Family name.
        last_name: String,
        /// The team the person joins (the flow's default team), when the flow names one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        team: Option<String>,
        /// Activation date: the day the user was added (`YYYY-MM-DD`, tenant time).
        activation_date: String,
        /// Where the person comes from: `ACD - <account name>`.
        origin: String,
        /// Skills to give the person.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        skills: Vec<SkillRef>,
    },
    /// A user's first or last name changed.
    RenamePerson {
        /// The person's id in the target.
        person_id: String,
        /// The user's id in the source.
        external_id: String,
        /// New given name.
        first_name: String,
        /// New family name.
        last_name: String,
    },
    /// A user was disabled: the person is deactivated, never deleted.
    DeactivatePerson {
        /// The person's id in the target.
        person_id: String,
        /// The user's id in the source.
        external_id: String,
        /// The day it happened (`YYYY-MM-DD`).
        date: String,
    },
    /// A disabled user was enabled again.
    ReactivatePerson {
        /// The person's id in the target.
        person_id: String,
        /// The user's id in the source.
        external_id: String,
        /// The day it happened (`YYYY-MM-DD`).
        date: String,
    },
    /// A user's skills changed: these are all the skills the person has now (adding one that is
    /// already there is harmless).
    SetSkills {
        /// The person's id in the target.
        person_id: String,
        /// The user's id in the source.
        external_id: String,
        /// Every skill of the user.
        skills: Vec<SkillRef>,
    },
    /// A user moved to another group, and the policy moves the person's team.
    SetTeam {
        /// The person's id in the target.
        person_id: String,
        /// The user's id in the source.
        external_id: String,
        /// The new team's name.
        team: String,
    },
    /// A new group: a team of the same name.
    CreateTeam {
        /// The group's id in the source.
        group_id: String,
        /// The team's name.
        name: String,
    },
    /// A group was renamed: the team is renamed.
    RenameTeam {
        /// The group's id in the source.
        group_id: String,
        /// Old name.
        from: String,
        /// New name.
        to: String,
    },
    /// A new queue: a service queue, and (with `skill_mapping`) a skill mapping of the same name.
    CreateServiceQueue {
        /// The queue's id in the source.
        queue_id: String,
        /// Its name.
        name: String,
        /// Whether a skill mapping is made too.
        skill_mapping: bool,
    },
    /// A queue was renamed: the service queue is renamed, and the skill mapping only with
    /// `skill_mapping` (Calabrio ONE keeps the mapping's name).
    RenameServiceQueue {
        /// The queue's id in the source.
        queue_id: String,
        /// Old name.
        from: String,
        /// New name.
        to: String,
        /// Whether the skill mapping is renamed too.
        skill_mapping: bool,
    },
}

impl DirectoryAction {
    /// The action's name as configured and logged (`create_person`).
    pub fn name(&self) -> &'static str {
        match self {
            DirectoryAction::CreatePerson { .. } => "create_person",
            DirectoryAction::RenamePerson { .. } => "rename_person",
            DirectoryAction::DeactivatePerson { .. } => "deactivate_person",
            DirectoryAction::ReactivatePerson { .. } => "reactivate_person",
            DirectoryAction::SetSkills { .. } => "set_skills",
            DirectoryAction::SetTeam { .. } => "set_team",
            DirectoryAction::CreateTeam { .. } => "create_team",
            DirectoryAction::RenameTeam { .. } => "rename_team",
            DirectoryAction::CreateServiceQueue { .. } => "create_service_queue",
            DirectoryAction::RenameServiceQueue { .. } => "rename_service_queue",
        }
    }
}
