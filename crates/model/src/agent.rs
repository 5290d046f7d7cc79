//! An agent: a person who handles contacts, with a team and the queues they are skilled for.

use serde::{Deserialize, Serialize};

use crate::RecordError;
use crate::validate::{self, null_as_default};

/// An agent of one tenant (DESIGN §4: `{tenant, agent, first_name, last_name, email?, team?, skills,
/// active}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    /// Tenant id.
    pub tenant: String,
    /// Agent id, unique within the tenant (the ACD's user id).
    pub agent: String,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// E-mail address, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Team (group) name, when the agent belongs to one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Ids of the queues this agent is skilled for.
    #[serde(default, deserialize_with = "null_as_default")]
    pub skills: Vec<String>,
    /// Whether the agent is active; inactive agents are kept, never deleted. Default true.
    #[serde(default = "yes", deserialize_with = "true_if_null")]
    pub active: bool,
}

fn yes() -> bool {
    true
}
fn true_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Option::<bool>::deserialize(d)?.unwrap_or(true))
}

impl Agent {
    /// Checks ids, names, the e-mail shape and that skills are not listed twice.
    pub fn validate(&self) -> Result<(), RecordError> {
        validate::id("tenant", &self.tenant)?;
        validate::id("agent", &self.agent)?;
        validate::text("first_name", &self.first_name)?;
        validate::text("last_name", &self.last_name)?;
        if self.first_name.trim().is_empty() && self.last_name.trim().is_empty() {
            return Err(RecordError::field(
                "first_name",
                "first_name and last_name are both empty; give at least one",
            ));
        }
        if let Some(email) = &self.email {
            validate::text("email", email)?;
            let well_formed = email
                .split_once('@')
                .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
            if !well_formed {
                return Err(RecordError::field(
                    "email",
                    format!("email {email:?} is not an e-mail address"),
                ));
            }
        }
        if let Some(team) = &self.team {
            validate::id("team", team)?;
        }
        for (i, skill) in self.skills.iter().enumerate() {
            validate::id("skills", skill)?;
            if self.skills[..i].contains(skill) {
                return Err(RecordError::field(
                    "skills",
                    format!("skills lists {skill:?} twice"),
                ));
            }
        }
        Ok(())
    }

    /// Name shown in reports: "first_name last_name" trimmed, or the agent id when both are blank.
    pub fn display_name(&self) -> String {
        let name = format!("{} {}", self.first_name.trim(), self.last_name.trim());
        let name = name.trim();
        if name.is_empty() {
            self.agent.clone()
        } else {
            name.to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent(json: &str) -> Agent {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn defaults() {
        let a = agent(r#"{"tenant":"t","agent":"a1","first_name":"Ada","last_name":"Lind"}"#);
        assert!(a.active);
        assert!(a.skills.is_empty());
        assert_eq!(a.display_name(), "Ada Lind");
    }

    #[test]
    fn display_name_trims() {
        let a = agent(r#"{"tenant":"t","agent":"a1","first_name":" Ada ","last_name":""}"#);
        assert_eq!(a.display_name(), "Ada");
    }

    #[test]
    fn bad_email_and_duplicate_skill() {
        let a =
            agent(r#"{"tenant":"t","agent":"a1","first_name":"A","last_name":"B","email":"nope"}"#);
        assert_eq!(a.validate().unwrap_err().field.as_deref(), Some("email"));
        let a = agent(
            r#"{"tenant":"t","agent":"a1","first_name":"A","last_name":"B","skills":["q","q"]}"#,
        );
        assert_eq!(
            a.validate().unwrap_err().to_string(),
            "skills lists \"q\" twice"
        );
    }
}
