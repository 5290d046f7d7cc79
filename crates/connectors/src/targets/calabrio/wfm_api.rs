//! The `calabrio_wfm` account type: directory sync's target in Calabrio WFM (tenant setup).
//!
//! A directory flow's message is a [`DirectoryChangeSet`]. This target carries it out with the two
//! surfaces reference/calabrio.md describes:
//!
//! - new persons → the agent import workbook (`.xlsx`, the 16 columns of §5), uploaded to
//!   `api/People/UploadAgent` as a multipart file; the reply's `Message` header counts successes,
//!   failures and warnings, and any failed row refuses the message;
//! - skills of new persons and skill changes → Wfm.Api `POST api/command/AddSkillsToPerson` with the
//!   bearer token (§2). Its DTO is not public (§7), so the field names are account properties, with
//!   the default `{"ExternalUserId": "<external user id>", "SkillNames": ["Sales"], "Date":
//!   "2026-11-22"}`; adding a skill a person has is harmless (Calabrio's `Person.AddSkill` updates
//!   it), so a message sent twice changes nothing more.
//!
//! Renames, deactivations, teams and service queues have no command in the contract (the snapshot's
//! commands are absences, meetings and shifts): they are recorded in the directory audit log by the
//! flow and skipped here, with a log line.
//!
//! The import identifies a person by `WindowsUser`, which this target sets to the external user id
//! (Calabrio requires WindowsUser or ApplicationUserId, and an application logon needs a password).

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Url;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde_json::{Map, Value, json};
use wfm_model::directory_actions::{DirectoryAction, DirectoryChangeSet, SkillRef};

use super::xlsx::{Cell, workbook};
use crate::accounts::{
    AccountConfig, AccountError, AccountType, PropertyKind, PropertySpec, Secret,
};
use crate::http;
use crate::targets::{CheckVerdict, DeliveryError, OutboundMessage, Target};

/// The 16 columns of the agent import workbook, in order (calabrio.md §5).
pub const IMPORT_COLUMNS: [&str; 16] = [
    "Firstname",
    "Lastname",
    "WindowsUser",
    "ApplicationUserId",
    "Password",
    "Role",
    "StartDate",
    "Organization",
    "Skill",
    "ExternalLogon",
    "Contract",
    "ContractSchedule",
    "PartTimePercentage",
    "ShiftBag",
    "SchedulePeriodType",
    "SchedulePeriodLength",
];

const fn text(
    name: &'static str,
    default: Option<&'static str>,
    help: &'static str,
) -> PropertySpec {
    PropertySpec {
        name,
        kind: PropertyKind::Text,
        required: false,
        secret: false,
        default,
        help,
    }
}

const PROPERTIES: &[PropertySpec] = &[
    PropertySpec {
        name: "url",
        kind: PropertyKind::Url,
        required: true,
        secret: false,
        default: None,
        help: "the WFM web root, e.g. https://x.teleopticloud.com/ (Wfm.Api is under api/)",
    },
    PropertySpec {
        name: "token",
        kind: PropertyKind::Text,
        required: true,
        secret: true,
        default: None,
        help: "an External Application Access token, sent as Authorization: Bearer",
    },
    text(
        "business_unit",
        None,
        "the business unit, sent as the import's BusinessUnit form field (Wfm.Api uses the token's first one)",
    ),
    text(
        "default_team",
        None,
        "Organization of new persons whose flow names no team, as Site/Team",
    ),
    text(
        "site",
        None,
        "the site put before a team name that has no Site/ part",
    ),
    text(
        "role",
        None,
        "Role column of new persons (else the import's default)",
    ),
    text(
        "contract",
        None,
        "Contract column (else the import's default)",
    ),
    text(
        "contract_schedule",
        None,
        "ContractSchedule column (else the import's default)",
    ),
    text(
        "part_time_percentage",
        None,
        "PartTimePercentage column (else the import's default)",
    ),
    text(
        "shift_bag",
        None,
        "ShiftBag column (else the import's default)",
    ),
    text(
        "schedule_period_type",
        None,
        "SchedulePeriodType column, e.g. Week (else the import's default)",
    ),
    PropertySpec {
        name: "schedule_period_length",
        kind: PropertyKind::Integer,
        required: false,
        secret: false,
        default: None,
        help: "SchedulePeriodLength column, a number (else the import's default)",
    },
    text(
        "skill_command",
        Some("AddSkillsToPerson"),
        "the Wfm.Api command that adds skills to a person",
    ),
    text(
        "skill_person_field",
        Some("ExternalUserId"),
        "the DTO field naming the person",
    ),
    text(
        "skill_person_value",
        Some("external_id"),
        "what that field holds: external_id (the source's user id, the WindowsUser of the import) or person_id (the GUID wfm-bridge minted)",
    ),
    text(
        "skill_list_field",
        Some("SkillNames"),
        "the DTO field listing the skills, by name",
    ),
    text(
        "skill_date_field",
        Some("Date"),
        "the DTO field with the date the skills apply from (empty: no date field)",
    ),
    PropertySpec {
        name: "timeout",
        kind: PropertyKind::Duration,
        required: false,
        secret: false,
        default: Some("30s"),
        help: "how long one request may take",
    },
];

/// The `calabrio_wfm` account type.
pub const ACCOUNT_TYPE: AccountType = AccountType {
    name: "calabrio_wfm",
    description: "Calabrio WFM tenant setup: new persons by agent import workbook, skills by Wfm.Api",
    properties: PROPERTIES,
    single_per_tenant: false,
    build: Some(build),
    build_source: None,
    build_directory: None,
};

fn build(account: &AccountConfig) -> Result<Box<dyn Target>, AccountError> {
    Ok(Box::new(WfmApiTarget::new(account)?))
}

/// What the skill DTO's person field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PersonValue {
    ExternalId,
    PersonId,
}

/// The Calabrio tenant-setup target.
pub struct WfmApiTarget {
    account: String,
    origin: String,
    import_url: Url,
    command_url: Url,
    token: Secret,
    business_unit: Option<String>,
    default_team: Option<String>,
    site: Option<String>,
    columns: ImportColumns,
    skill_command: String,
    person_field: String,
    person_value: PersonValue,
    list_field: String,
    date_field: Option<String>,
    timeout: Duration,
    client: reqwest::Client,
}

/// The account's fixed import columns.
#[derive(Debug, Clone, Default)]
struct ImportColumns {
    role: Option<String>,
    contract: Option<String>,
    contract_schedule: Option<String>,
    part_time_percentage: Option<String>,
    shift_bag: Option<String>,
    schedule_period_type: Option<String>,
    schedule_period_length: Option<i64>,
}

impl fmt::Debug for WfmApiTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WfmApiTarget")
            .field("account", &self.account)
            .field("origin", &self.origin)
            .field("token", &"<secret>")
            .field("skill_command", &self.skill_command)
            .finish_non_exhaustive()
    }
}

impl WfmApiTarget {
    /// Builds the target from checked properties.
    pub fn new(account: &AccountConfig) -> Result<WfmApiTarget, AccountError> {
        let error = |message: String| AccountError {
            account: account.name.clone(),
            message,
        };
        let root = super::rta::web_root(account.text("url").unwrap_or_default()).map_err(error)?;
        let token = account
            .secret("token")
            .cloned()
            .ok_or_else(|| error("token is required".to_string()))?;
        let owned = |name: &str| {
            account
                .text(name)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let skill_command = owned("skill_command").unwrap_or_else(|| "AddSkillsToPerson".into());
        if !skill_command.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(error(format!(
                "skill_command {skill_command:?} is not a command name (letters and digits, e.g. AddSkillsToPerson)"
            )));
        }
        let person_value = match owned("skill_person_value").as_deref() {
            None | Some("external_id") => PersonValue::ExternalId,
            Some("person_id") => PersonValue::PersonId,
            Some(other) => {
                return Err(error(format!(
                    "skill_person_value {other:?}: write external_id or person_id"
                )));
            }
        };
        let join = |path: &str| {
            root.join(path)
                .map_err(|e| error(format!("url cannot take {path}: {e}")))
        };
        Ok(WfmApiTarget {
            account: account.name.clone(),
            origin: http::origin(&root),
            import_url: join("api/People/UploadAgent")?,
            command_url: join("api/command")?,
            token,
            business_unit: owned("business_unit"),
            default_team: owned("default_team"),
            site: owned("site"),
            columns: ImportColumns {
                role: owned("role"),
                contract: owned("contract"),
                contract_schedule: owned("contract_schedule"),
                part_time_percentage: owned("part_time_percentage"),
                shift_bag: owned("shift_bag"),
                schedule_period_type: owned("schedule_period_type"),
                schedule_period_length: account.integer("schedule_period_length"),
            },
            skill_command,
            person_field: owned("skill_person_field").unwrap_or_else(|| "ExternalUserId".into()),
            person_value,
            list_field: owned("skill_list_field").unwrap_or_else(|| "SkillNames".into()),
            // Unset: the default field; set to "": no date field at all.
            date_field: match account.text("skill_date_field") {
                None => Some("Date".to_string()),
                Some(_) => owned("skill_date_field"),
            },
            timeout: account
                .duration("timeout")
                .filter(|d| !d.is_zero())
                .unwrap_or(http::DEFAULT_TIMEOUT),
            client: http::client().map_err(|e| error(e.to_string()))?,
        })
    }

    fn bearer(&self) -> HeaderValue {
        let mut value = HeaderValue::from_str(&format!("Bearer {}", self.token.expose()))
            .unwrap_or_else(|_| HeaderValue::from_static("Bearer"));
        value.set_sensitive(true);
        value
    }

    /// The Organization cell of a person: `Site/Team`.
    fn organization(&self, team: Option<&str>) -> Option<String> {
        let team = team
            .map(str::to_string)
            .or_else(|| self.default_team.clone())?;
        match &self.site {
            Some(site) if !team.contains('/') => Some(format!("{site}/{team}")),
            _ => Some(team),
        }
    }

    /// The import workbook of the new persons of a change set.
    pub fn import_workbook(&self, set: &DirectoryChangeSet) -> Result<Vec<u8>, DeliveryError> {
        let mut rows = vec![
            IMPORT_COLUMNS
                .iter()
                .map(|c| Cell::Text(c.to_string()))
                .collect::<Vec<_>>(),
        ];
        let opt = |v: &Option<String>| v.clone().map_or(Cell::Empty, Cell::Text);
        for action in &set.actions {
            let DirectoryAction::CreatePerson {
                external_id,
                first_name,
                last_name,
                team,
                activation_date,
                ..
            } = action
            else {
                continue;
            };
            let start: jiff::civil::Date =
                activation_date.parse().map_err(|e| DeliveryError::Rejected {
                    reason: format!(
                        "person {external_id}: activation date {activation_date:?} is not a date: {e}"
                    ),
                })?;
            // Calabrio's limits (§5): names at most 25 characters, WindowsUser at most 100.
            let clip = |s: &str, n: usize| s.chars().take(n).collect::<String>();
            rows.push(vec![
                Cell::Text(clip(first_name, 25)),
                Cell::Text(clip(last_name, 25)),
                Cell::Text(clip(external_id, 100)),
                Cell::Empty,
                Cell::Empty,
                opt(&self.columns.role),
                Cell::Date(start),
                opt(&self.organization(team.as_deref())),
                // Skills go through the command API, one place for new and changed skills.
                Cell::Empty,
                Cell::Empty,
                opt(&self.columns.contract),
                opt(&self.columns.contract_schedule),
                opt(&self.columns.part_time_percentage),
                opt(&self.columns.shift_bag),
                opt(&self.columns.schedule_period_type),
                self.columns
                    .schedule_period_length
                    .map_or(Cell::Empty, |n| Cell::Number(n as f64)),
            ]);
        }
        Ok(workbook("Agents", &rows))
    }

    /// The skill command's body for one person.
    pub fn skill_dto(
        &self,
        person_id: &str,
        external_id: &str,
        skills: &[SkillRef],
        date: &str,
    ) -> Value {
        let mut dto = Map::new();
        let person = match self.person_value {
            PersonValue::ExternalId => external_id,
            PersonValue::PersonId => person_id,
        };
        dto.insert(self.person_field.clone(), json!(person));
        dto.insert(
            self.list_field.clone(),
            json!(skills.iter().map(|s| s.name.as_str()).collect::<Vec<_>>()),
        );
        if let Some(field) = &self.date_field {
            dto.insert(field.clone(), json!(date));
        }
        Value::Object(dto)
    }

    async fn upload(
        &self,
        name: &str,
        workbook: Vec<u8>,
        persons: usize,
    ) -> Result<(), DeliveryError> {
        let boundary = crate::targets::http::boundary_for(&workbook);
        let mut body = Vec::new();
        if let Some(bu) = &self.business_unit {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"BusinessUnit\"\r\n\r\n{bu}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(&crate::targets::http::multipart_body(
            &boundary,
            name,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            &workbook,
        ));
        let content_type =
            HeaderValue::from_str(&format!("multipart/form-data; boundary={boundary}"))
                .expect("boundaries are header-safe");
        let response = self
            .client
            .post(self.import_url.clone())
            .timeout(self.timeout)
            .header(AUTHORIZATION, self.bearer())
            .header(CONTENT_TYPE, content_type)
            .body(body)
            .send()
            .await
            .map_err(|e| http::classify_error(&e))?;
        let status = response.status();
        let message = response
            .headers()
            .get("Message")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        if status.as_u16() == 422 {
            return Err(DeliveryError::Rejected {
                reason: format!("Calabrio refused the agent import workbook (HTTP 422): {message}"),
            });
        }
        let response = http::classify_response(response).await?;
        let failed = count(&message, "failed count:");
        if failed.unwrap_or(0) > 0 {
            let body = http::read_body_limited(response, 64 << 10).await;
            let excerpt: String = body.chars().take(http::BODY_EXCERPT_CHARS).collect();
            return Err(DeliveryError::Rejected {
                reason: format!(
                    "Calabrio imported only part of {persons} person(s) ({message}): {}",
                    excerpt.replace('\n', "; ")
                ),
            });
        }
        if failed.is_none() {
            tracing::warn!(account = %self.account, "the agent import's reply has no Message count header");
        }
        Ok(())
    }

    async fn command(&self, name: &str, dto: &Value) -> Result<(), DeliveryError> {
        let url = Url::parse(&format!(
            "{}/{name}",
            self.command_url.as_str().trim_end_matches('/')
        ))
        .map_err(|e| DeliveryError::Rejected {
            reason: format!("command URL: {e}"),
        })?;
        let response = self
            .client
            .post(url)
            .timeout(self.timeout)
            .header(AUTHORIZATION, self.bearer())
            .json(dto)
            .send()
            .await
            .map_err(|e| http::classify_error(&e))?;
        if response.status().as_u16() == 400 {
            let body = http::read_body_limited(response, 64 << 10).await;
            return Err(DeliveryError::Rejected {
                reason: format!(
                    "Wfm.Api does not know command {name} (HTTP 400: {}); set the account's skill_command",
                    body.trim()
                ),
            });
        }
        let response = http::classify_response(response).await?;
        let body = http::read_body_limited(response, 64 << 10).await;
        let reply: Value = serde_json::from_str(&body).map_err(|_| DeliveryError::Rejected {
            reason: format!(
                "Wfm.Api answered {name} with something that is not JSON: {}",
                body.chars().take(200).collect::<String>()
            ),
        })?;
        let successful = reply
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("Successful")))
            .and_then(|(_, v)| v.as_bool());
        match successful {
            Some(true) => Ok(()),
            _ => {
                let message = reply
                    .as_object()
                    .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("Message")))
                    .and_then(|(_, v)| v.as_str())
                    .unwrap_or("no message");
                Err(DeliveryError::Rejected {
                    reason: format!("Wfm.Api {name} was not successful: {message}"),
                })
            }
        }
    }
}

/// The number after `label` in the import's `Message` header
/// (`success count:2, failed count:0, warning count:1`).
fn count(message: &str, label: &str) -> Option<u64> {
    let at = message.to_ascii_lowercase().find(label)? + label.len();
    message[at..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()
}

#[async_trait]
impl Target for WfmApiTarget {
    async fn check(&self) -> CheckVerdict {
        let response = match self
            .client
            .get(self.command_url.clone())
            .timeout(self.timeout)
            .header(AUTHORIZATION, self.bearer())
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => return CheckVerdict::failed(http::describe_error(&e)),
        };
        match response.status().as_u16() {
            200 => {}
            401 => {
                return CheckVerdict::failed(
                    "credentials are invalid (HTTP 401): check token, an External Application Access token",
                );
            }
            403 => return CheckVerdict::failed("access forbidden (HTTP 403)"),
            404 => {
                return CheckVerdict::failed(format!(
                    "no Wfm.Api at {}{} (HTTP 404): check url, the WFM web root",
                    self.origin,
                    self.command_url.path()
                ));
            }
            other => return CheckVerdict::failed(format!("Wfm.Api answered HTTP {other}")),
        }
        let body = http::read_body_limited(response, 64 << 10).await;
        let commands: Vec<String> = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v.get("Result").cloned())
            .and_then(|r| serde_json::from_value(r).ok())
            .unwrap_or_default();
        if commands
            .iter()
            .any(|c| c.eq_ignore_ascii_case(&self.skill_command))
        {
            CheckVerdict::ok(format!("connected; {} is available", self.skill_command))
        } else {
            CheckVerdict::failed(format!(
                "connected, but Wfm.Api lists no command {} (it lists: {}); set skill_command",
                self.skill_command,
                commands.join(", ")
            ))
        }
    }

    async fn deliver(&self, message: &OutboundMessage) -> Result<(), DeliveryError> {
        let set: DirectoryChangeSet =
            serde_json::from_slice(&message.payload).map_err(|e| DeliveryError::Rejected {
                reason: format!(
                    "message {} is not a directory change set ({e}); calabrio_wfm accounts take directory flows only",
                    message.name
                ),
            })?;
        let persons = set
            .actions
            .iter()
            .filter(|a| matches!(a, DirectoryAction::CreatePerson { .. }))
            .count();
        if persons > 0 {
            let workbook = self.import_workbook(&set)?;
            let name = message.name.trim_end_matches(".json").to_string() + ".xlsx";
            self.upload(&name, workbook, persons).await?;
        }
        let today = jiff::Zoned::now().date().to_string();
        for action in &set.actions {
            match action {
                DirectoryAction::CreatePerson {
                    person_id,
                    external_id,
                    skills,
                    activation_date,
                    ..
                } if !skills.is_empty() => {
                    let dto = self.skill_dto(person_id, external_id, skills, activation_date);
                    self.command(&self.skill_command, &dto).await?;
                }
                DirectoryAction::SetSkills {
                    person_id,
                    external_id,
                    skills,
                } if !skills.is_empty() => {
                    let dto = self.skill_dto(person_id, external_id, skills, &today);
                    self.command(&self.skill_command, &dto).await?;
                }
                DirectoryAction::CreatePerson { .. } | DirectoryAction::SetSkills { .. } => {}
                other => tracing::info!(
                    account = %self.account,
                    action = other.name(),
                    "Calabrio's contract has no command for this action; it is in the directory audit log only"
                ),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::collections::BTreeMap;

    use crate::accounts::PropertyValue;

    fn target(extra: &[(&str, &str)]) -> Result<WfmApiTarget, AccountError> {
        let mut properties = BTreeMap::from([
            (
                "url".to_string(),
                PropertyValue::Text("https://x.teleopticloud.com/".into()),
            ),
            (
                "token".to_string(),
                PropertyValue::Secret(Secret::new("s3cret")),
            ),
        ]);
        for (k, v) in extra {
            properties.insert(k.to_string(), PropertyValue::Text(v.to_string()));
        }
        WfmApiTarget::new(&AccountConfig {
            name: "cal".into(),
            account_type: "calabrio_wfm".into(),
            tenant: None,
            properties,
        })
    }

    #[test]
    fn the_workbook_has_the_16_columns_and_one_row_per_new_person() {
        let t = target(&[("default_team", "Default"), ("site", "London")]).unwrap();
        let set = DirectoryChangeSet {
            tenant: "t".into(),
            flow: "f".into(),
            source: "store".into(),
            actions: vec![
                DirectoryAction::CreateTeam {
                    group_id: "g".into(),
                    name: "G".into(),
                },
                DirectoryAction::CreatePerson {
                    person_id: "p".into(),
                    external_id: "u-1".into(),
                    first_name: "Ada".into(),
                    last_name: "Lovelace".into(),
                    team: None,
                    activation_date: "2024-03-01".into(),
                    origin: "ACD - store".into(),
                    skills: vec![],
                },
            ],
        };
        let bytes = t.import_workbook(&set).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        let mut at = 0;
        for column in IMPORT_COLUMNS {
            let found = text[at..]
                .find(&format!(">{column}</t>"))
                .unwrap_or_else(|| panic!("{column} missing or out of order"));
            at += found;
        }
        assert!(text.contains(">London/Default</t>"));
        assert!(text.contains("<c r=\"C2\" t=\"inlineStr\"><is><t xml:space=\"preserve\">u-1</t>"));
        assert!(text.contains("<c r=\"G2\" s=\"1\"><v>45352</v></c>"));
        assert!(!text.contains("<row r=\"3\""));
    }

    #[test]
    fn the_skill_dto_is_configurable_and_secrets_stay_out_of_debug() {
        let t = target(&[]).unwrap();
        let skills = [SkillRef {
            queue_id: "q1".into(),
            name: "Sales".into(),
        }];
        assert_eq!(
            t.skill_dto("p-1", "u-1", &skills, "2024-03-01"),
            json!({"ExternalUserId": "u-1", "SkillNames": ["Sales"], "Date": "2024-03-01"})
        );
        let t = target(&[
            ("skill_person_field", "PersonId"),
            ("skill_person_value", "person_id"),
            ("skill_list_field", "Skills"),
            ("skill_date_field", ""),
        ])
        .unwrap();
        assert_eq!(
            t.skill_dto("p-1", "u-1", &skills, "2024-03-01"),
            json!({"PersonId": "p-1", "Skills": ["Sales"]})
        );
        assert!(!format!("{t:?}").contains("s3cret"));
        let err = target(&[("skill_person_value", "email")]).unwrap_err();
        assert!(err.message.contains("external_id or person_id"), "{err}");
        let err = target(&[("skill_command", "Add Skills")]).unwrap_err();
        assert!(err.message.contains("not a command name"), "{err}");
    }

    #[test]
    fn the_import_reply_counts_are_read() {
        let m = "success count:2, failed count:1, warning count:0";
        assert_eq!(count(m, "success count:"), Some(2));
        assert_eq!(count(m, "failed count:"), Some(1));
        assert_eq!(count("", "failed count:"), None);
    }
}
