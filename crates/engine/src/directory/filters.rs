//! ACD filters: regular expressions on team name, queue name or a user attribute that decide which
//! users a directory flow syncs (Calabrio ONE's "ACD Filtering", seed 000).
//!
//! A flow lists them in `[flows.filters]`, one per key: `team`, `queue`, `user_id`, `first_name`,
//! `last_name`, `email`, or `attribute.<name>`. A user is synced when every filter matches: `team`
//! matches when the name of any of the user's groups does, `queue` when the name of any queue the
//! user is skilled for does. Patterns are unanchored (`regex` crate syntax): write `^Sales` to
//! match names that start with "Sales". Groups and queues themselves are not filtered.

use std::collections::BTreeMap;

use regex::Regex;
use wfm_model::{DirectorySnapshot, DirectoryUser};

#[derive(Debug, Clone)]
enum Field {
    Team,
    Queue,
    UserId,
    FirstName,
    LastName,
    Email,
    Attribute(String),
}

#[derive(Debug, Clone)]
struct UserFilter {
    field: Field,
    pattern: Regex,
}

/// The filters of one flow; none keeps every user.
#[derive(Debug, Clone, Default)]
pub struct UserFilters {
    filters: Vec<UserFilter>,
}

impl UserFilters {
    /// Reads `[flows.filters]` (key → pattern). The error names the key and says what is wrong.
    pub fn parse(map: &BTreeMap<String, String>) -> Result<UserFilters, String> {
        let mut filters = Vec::new();
        for (key, pattern) in map {
            let field = match key.as_str() {
                "team" => Field::Team,
                "queue" => Field::Queue,
                "user_id" => Field::UserId,
                "first_name" => Field::FirstName,
                "last_name" => Field::LastName,
                "email" => Field::Email,
                other => match other.strip_prefix("attribute.") {
                    Some(name) if !name.is_empty() => Field::Attribute(name.to_string()),
                    _ => {
                        return Err(format!(
                            "filters.{key}: not a filter; write team, queue, user_id, first_name, last_name, email or \"attribute.<name>\""
                        ));
                    }
                },
            };
            let pattern = Regex::new(pattern).map_err(|e| {
                format!(
                    "filters.{key}: {pattern:?} is not a regular expression: {}",
                    e.to_string().replace('\n', " ")
                )
            })?;
            filters.push(UserFilter { field, pattern });
        }
        Ok(UserFilters { filters })
    }

    /// Whether there is no filter.
    pub fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }

    /// Whether `user` (of `snapshot`, for group and queue names) is synced.
    pub fn keeps(&self, user: &DirectoryUser, snapshot: &DirectorySnapshot) -> bool {
        self.filters.iter().all(|f| {
            let matches = |text: &str| f.pattern.is_match(text);
            match &f.field {
                Field::Team => user.groups.iter().any(|id| {
                    let name = snapshot
                        .groups
                        .iter()
                        .find(|g| &g.id == id)
                        .map_or(id.as_str(), |g| g.name.as_str());
                    matches(name)
                }),
                Field::Queue => user.skills.iter().any(|id| {
                    let name = snapshot
                        .queues
                        .iter()
                        .find(|q| &q.id == id)
                        .map_or(id.as_str(), |q| q.name.as_str());
                    matches(name)
                }),
                Field::UserId => matches(&user.id),
                Field::FirstName => matches(&user.first_name),
                Field::LastName => matches(&user.last_name),
                Field::Email => user.email.as_deref().is_some_and(matches),
                Field::Attribute(name) => user.attributes.get(name).is_some_and(|v| matches(v)),
            }
        })
    }

    /// The snapshot with only the users that are synced, and how many were left out.
    pub fn apply(&self, mut snapshot: DirectorySnapshot) -> (DirectorySnapshot, usize) {
        if self.filters.is_empty() {
            return (snapshot, 0);
        }
        let users = std::mem::take(&mut snapshot.users);
        let before = users.len();
        let kept: Vec<DirectoryUser> = users
            .into_iter()
            .filter(|u| self.keeps(u, &snapshot))
            .collect();
        let left_out = before - kept.len();
        snapshot.users = kept;
        (snapshot, left_out)
    }
}
