//! Simulation settings: what to simulate (tenant, size, dates, seed) and the tunables that shape the
//! contact center (occupancy target, handle times and patience per channel, opening hours, shares of
//! transfers, direct contacts and inactive agents), with [`SimulationConfig::validate`].
//!
//! Every tunable has a default taken from typical inbound centers (voice talk ≈ 4.5 min, ACW ≈ 45 s,
//! patience ≈ 2.5 min, 20 s service-level threshold), so that a caller only sets the size, the dates
//! and the seed.

use std::fmt;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use wfm_model::{Channel, IntervalLength, Tenant};

/// The `not_ready` reasons the simulated tenant counts as admin time (DESIGN §5 `admin_dur`).
pub const ADMIN_REASONS: [&str; 2] = ["Meeting", "Training"];

/// Longest a contact without patience (e-mail) waits before the simulation gives it up as abandoned.
///
/// Real e-mail queues do not abandon, but a bound keeps the simulation's memory bounded: a day's
/// segments are held until every contact offered that day has an outcome (see `engine`).
pub const MAX_QUEUE_WAIT_S: i64 = 3 * 86_400;

/// How contacts of one channel behave: handle times, patience, service level, overflow.
///
/// Durations are log-normal with the given means (a long right tail, like real handle times);
/// patience is exponential (the Erlang-A assumption).
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelProfile {
    /// Mean talk time in seconds (hold excluded).
    pub talk_mean_s: f64,
    /// Coefficient of variation of talk time (standard deviation / mean).
    pub talk_cv: f64,
    /// Share of answered contacts that are put on hold (0–1).
    pub hold_share: f64,
    /// Mean hold time of a contact that is put on hold, in seconds.
    pub hold_mean_s: f64,
    /// Mean after-contact work of a contact that has some, in seconds.
    pub acw_mean_s: f64,
    /// Share of answered contacts with no after-contact work at all (0–1).
    pub no_acw_share: f64,
    /// Mean patience in seconds; `None`: the customer waits until answered (e-mail), at most
    /// [`MAX_QUEUE_WAIT_S`].
    pub patience_mean_s: Option<f64>,
    /// The `sl_seconds` of this channel's queues.
    pub sl_seconds: u32,
    /// A contact waiting this long leaves its queue for a sibling queue of the same channel
    /// (once per contact); `None`: never overflows.
    pub overflow_after_s: Option<u32>,
    /// Most seconds between an agent being picked and the contact being connected (ringing,
    /// accepting a chat); drawn uniformly from 0..=ring_max_s.
    pub ring_max_s: u32,
}

impl ChannelProfile {
    /// Telephone calls: talk ≈ 4.5 min, 15 % held ≈ 1 min, ACW ≈ 45 s, patience ≈ 2.5 min, SL 20 s.
    pub fn voice() -> ChannelProfile {
        ChannelProfile {
            talk_mean_s: 270.0,
            talk_cv: 0.8,
            hold_share: 0.15,
            hold_mean_s: 60.0,
            acw_mean_s: 45.0,
            no_acw_share: 0.1,
            patience_mean_s: Some(150.0),
            sl_seconds: 20,
            overflow_after_s: Some(90),
            ring_max_s: 4,
        }
    }

    /// Web chat, one chat at a time: longer sessions, more patient customers, SL 60 s.
    pub fn chat() -> ChannelProfile {
        ChannelProfile {
            talk_mean_s: 420.0,
            talk_cv: 0.7,
            hold_share: 0.0,
            hold_mean_s: 0.0,
            acw_mean_s: 30.0,
            no_acw_share: 0.2,
            patience_mean_s: Some(240.0),
            sl_seconds: 60,
            overflow_after_s: Some(180),
            ring_max_s: 3,
        }
    }

    /// E-mail: handled when an agent is free, never abandoned, SL one hour.
    pub fn email() -> ChannelProfile {
        ChannelProfile {
            talk_mean_s: 330.0,
            talk_cv: 0.6,
            hold_share: 0.0,
            hold_mean_s: 0.0,
            acw_mean_s: 60.0,
            no_acw_share: 0.1,
            patience_mean_s: None,
            sl_seconds: 3600,
            overflow_after_s: None,
            ring_max_s: 0,
        }
    }

    /// Mean seconds an agent spends on one answered contact (talk + hold + ACW).
    pub fn mean_handle_s(&self) -> f64 {
        self.talk_mean_s
            + self.hold_share * self.hold_mean_s
            + (1.0 - self.no_acw_share) * self.acw_mean_s
    }
}

/// Local opening hours of the voice and chat queues, `[open_hour, close_hour)`; e-mail arrives
/// around the clock but is only worked while agents are on shift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpeningHours {
    /// First local hour open (0–23).
    pub open_hour: u8,
    /// First local hour closed (open_hour+1 ..= 24).
    pub close_hour: u8,
}

impl OpeningHours {
    /// Whether a local minute of the day (0..1440) is within the opening hours.
    pub fn contains_minute(&self, minute: u32) -> bool {
        minute >= u32::from(self.open_hour) * 60 && minute < u32::from(self.close_hour) * 60
    }
}

/// Everything [`crate::simulate`] needs: the size of the center, the dates, the seed and tunables.
///
/// Build one with [`SimulationConfig::new`] and change the public fields; [`SimulationConfig::validate`]
/// (also called by the simulation) says what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulationConfig {
    /// Tenant id written on every record.
    pub tenant: String,
    /// Tenant display name; `None`: "`tenant` Contact Center" (e.g. "demo Contact Center").
    pub tenant_name: Option<String>,
    /// IANA time zone the center lives in: opening hours, shifts and days are local to it.
    pub time_zone: String,
    /// Statistics interval of the tenant record: 15, 30 or 60.
    pub interval_minutes: u32,
    /// Number of agents (including a few inactive ones).
    pub agents: u32,
    /// Number of queues.
    pub queues: u32,
    /// First local date simulated.
    pub from: Date,
    /// Number of local days simulated.
    pub days: u32,
    /// Seed of every random choice: the same configuration and seed give the same records.
    pub seed: u64,
    /// Planned occupancy: offered workload as a share of the productive time of the agents on
    /// shift (0.3–0.98). The achieved occupancy is a little lower (abandons, idle time at the
    /// edges of the day).
    pub target_occupancy: f64,
    /// Behavior of voice contacts.
    pub voice: ChannelProfile,
    /// Behavior of chat contacts.
    pub chat: ChannelProfile,
    /// Behavior of e-mail contacts.
    pub email: ChannelProfile,
    /// Share of answered contacts the agent transfers to another queue of the same channel (0–1).
    pub transfer_share: f64,
    /// Direct contacts (no queue, agent to customer) as a share of queued contacts (0–1).
    pub direct_share: f64,
    /// Share of direct contacts that are outbound (0–1).
    pub direct_outbound_share: f64,
    /// Share of agents that are inactive and never log in (0–0.5).
    pub inactive_share: f64,
    /// Share of shifts with a 30-minute "Meeting" (0–1).
    pub meeting_share: f64,
    /// Share of shifts with a 60-minute "Training" (0–1).
    pub training_share: f64,
    /// Opening hours Monday to Friday.
    pub weekday_hours: OpeningHours,
    /// Opening hours on Saturday and Sunday.
    pub weekend_hours: OpeningHours,
}

impl SimulationConfig {
    /// A configuration with default tunables.
    pub fn new(
        tenant: impl Into<String>,
        agents: u32,
        queues: u32,
        from: Date,
        days: u32,
        seed: u64,
    ) -> SimulationConfig {
        SimulationConfig {
            tenant: tenant.into(),
            tenant_name: None,
            time_zone: "Europe/Stockholm".to_string(),
            interval_minutes: 15,
            agents,
            queues,
            from,
            days,
            seed,
            target_occupancy: 0.88,
            voice: ChannelProfile::voice(),
            chat: ChannelProfile::chat(),
            email: ChannelProfile::email(),
            transfer_share: 0.05,
            direct_share: 0.03,
            direct_outbound_share: 0.6,
            inactive_share: 0.03,
            meeting_share: 0.1,
            training_share: 0.04,
            weekday_hours: OpeningHours {
                open_hour: 7,
                close_hour: 21,
            },
            weekend_hours: OpeningHours {
                open_hour: 9,
                close_hour: 18,
            },
        }
    }

    /// The behavior of one channel's contacts.
    pub fn profile(&self, channel: Channel) -> &ChannelProfile {
        match channel {
            Channel::Chat => &self.chat,
            Channel::Email => &self.email,
            _ => &self.voice,
        }
    }

    /// The opening hours of a weekday (Monday = 1 … Sunday = 7, as jiff's `to_monday_one_offset`).
    pub fn hours_on(&self, weekday_monday_one: i8) -> OpeningHours {
        if weekday_monday_one >= 6 {
            self.weekend_hours
        } else {
            self.weekday_hours
        }
    }

    /// The tenant display name.
    pub fn display_name(&self) -> String {
        match &self.tenant_name {
            Some(name) => name.clone(),
            None => format!("{} Contact Center", self.tenant),
        }
    }

    /// The time zone, looked up in the IANA database.
    pub fn zone(&self) -> Result<TimeZone, ConfigError> {
        TimeZone::get(&self.time_zone).map_err(|_| {
            ConfigError::new(
                "time_zone",
                format!(
                    "time_zone {:?} is not an IANA time zone (examples: \"Europe/Stockholm\", \"America/New_York\", \"UTC\")",
                    self.time_zone
                ),
            )
        })
    }

    /// The last local date simulated.
    pub fn to(&self) -> Date {
        self.from
            .checked_add(jiff::Span::new().days(i64::from(self.days.max(1)) - 1))
            .unwrap_or(Date::MAX)
    }

    /// Checks every setting and says which one is wrong and how to fix it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let tenant = Tenant {
            tenant: self.tenant.clone(),
            name: self.display_name(),
            time_zone: self.time_zone.clone(),
            interval_minutes: IntervalLength::Fifteen,
            admin_reasons: ADMIN_REASONS.iter().map(|s| s.to_string()).collect(),
        };
        if let Err(e) = tenant.validate() {
            let field = match e.field.as_deref() {
                Some("name") => "tenant_name",
                Some("time_zone") => "time_zone",
                _ => "tenant",
            };
            return Err(ConfigError::new(field, e.message));
        }
        if IntervalLength::from_minutes(self.interval_minutes).is_none() {
            return Err(ConfigError::new(
                "interval_minutes",
                format!(
                    "interval_minutes is {}; it must be 15, 30 or 60",
                    self.interval_minutes
                ),
            ));
        }
        if self.agents == 0 {
            return Err(ConfigError::new(
                "agents",
                "agents is 0; simulate at least 1 agent",
            ));
        }
        if self.agents > MAX_AGENTS {
            return Err(ConfigError::new(
                "agents",
                format!(
                    "agents is {}; at most {MAX_AGENTS} are simulated",
                    self.agents
                ),
            ));
        }
        if self.queues == 0 {
            return Err(ConfigError::new(
                "queues",
                "queues is 0; simulate at least 1 queue",
            ));
        }
        if self.queues > MAX_QUEUES {
            return Err(ConfigError::new(
                "queues",
                format!(
                    "queues is {}; at most {MAX_QUEUES} are simulated",
                    self.queues
                ),
            ));
        }
        if self.days == 0 {
            return Err(ConfigError::new(
                "days",
                "days is 0; simulate at least 1 day",
            ));
        }
        // Records with years outside 1970–2199 are rejected by the model as implausible; keep a
        // few days of margin for contacts that end after the last day.
        let to = self
            .from
            .checked_add(jiff::Span::new().days(i64::from(self.days) + 3));
        let plausible = |d: Date| (1970..=2199).contains(&d.year());
        match to {
            Ok(to) if plausible(self.from) && plausible(to) => {}
            _ => {
                return Err(ConfigError::new(
                    "days",
                    format!(
                        "{} days from {} leave the years 1970–2199 that records may carry; choose other dates",
                        self.days, self.from
                    ),
                ));
            }
        }
        let unit = |field: &'static str, value: f64, lo: f64, hi: f64| {
            if value.is_finite() && value >= lo && value <= hi {
                Ok(())
            } else {
                Err(ConfigError::new(
                    field,
                    format!("{field} is {value}; it must be between {lo} and {hi}"),
                ))
            }
        };
        unit("target_occupancy", self.target_occupancy, 0.3, 0.98)?;
        unit("transfer_share", self.transfer_share, 0.0, 1.0)?;
        unit("direct_share", self.direct_share, 0.0, 1.0)?;
        unit(
            "direct_outbound_share",
            self.direct_outbound_share,
            0.0,
            1.0,
        )?;
        unit("inactive_share", self.inactive_share, 0.0, 0.5)?;
        unit("meeting_share", self.meeting_share, 0.0, 1.0)?;
        unit("training_share", self.training_share, 0.0, 1.0)?;
        for (name, p) in [
            ("voice", &self.voice),
            ("chat", &self.chat),
            ("email", &self.email),
        ] {
            p.validate(name)?;
        }
        for (field, h) in [
            ("weekday_hours", self.weekday_hours),
            ("weekend_hours", self.weekend_hours),
        ] {
            if h.open_hour >= h.close_hour || h.close_hour > 24 {
                return Err(ConfigError::new(
                    field,
                    format!(
                        "{field} is {}–{}; the opening hour must come before the closing hour, which is at most 24",
                        h.open_hour, h.close_hour
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl Default for SimulationConfig {
    /// 50 agents, 4 queues, one week from Monday 2024-01-01, seed 1, tenant "demo".
    fn default() -> SimulationConfig {
        SimulationConfig::new("demo", 50, 4, jiff::civil::date(2024, 1, 1), 7, 1)
    }
}

/// Most agents simulated (ids `a00001`…): far beyond any benchmark, small enough for `u32` slots.
pub const MAX_AGENTS: u32 = 1_000_000;
/// Most queues simulated (ids `q001`…).
pub const MAX_QUEUES: u32 = 9_999;

impl ChannelProfile {
    fn validate(&self, channel: &str) -> Result<(), ConfigError> {
        let check = |name: &str, value: f64, lo: f64, hi: f64| {
            if value.is_finite() && value >= lo && value <= hi {
                Ok(())
            } else {
                Err(ConfigError::new(
                    format!("{channel}.{name}"),
                    format!("{channel}.{name} is {value}; it must be between {lo} and {hi}"),
                ))
            }
        };
        check("talk_mean_s", self.talk_mean_s, 1.0, 86_400.0)?;
        check("talk_cv", self.talk_cv, 0.0, 5.0)?;
        check("hold_share", self.hold_share, 0.0, 1.0)?;
        check("hold_mean_s", self.hold_mean_s, 0.0, 86_400.0)?;
        check("acw_mean_s", self.acw_mean_s, 0.0, 86_400.0)?;
        check("no_acw_share", self.no_acw_share, 0.0, 1.0)?;
        if let Some(p) = self.patience_mean_s {
            check("patience_mean_s", p, 1.0, 86_400.0)?;
        }
        check("sl_seconds", f64::from(self.sl_seconds), 5.0, 86_400.0)?;
        if let Some(o) = self.overflow_after_s {
            check("overflow_after_s", f64::from(o), 1.0, 86_400.0)?;
        }
        check("ring_max_s", f64::from(self.ring_max_s), 0.0, 600.0)?;
        Ok(())
    }
}

/// A setting that cannot be simulated: which one and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The setting at fault (`agents`, `time_zone`, `voice.talk_mean_s`…).
    pub field: String,
    /// What is wrong and what to do, starting with the setting's name.
    pub message: String,
}

impl ConfigError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(f: impl FnOnce(&mut SimulationConfig)) -> String {
        let mut c = SimulationConfig::default();
        f(&mut c);
        c.validate().unwrap_err().field
    }

    #[test]
    fn default_is_valid() {
        SimulationConfig::default().validate().unwrap();
    }

    #[test]
    fn errors_name_the_setting() {
        assert_eq!(field_of(|c| c.agents = 0), "agents");
        assert_eq!(field_of(|c| c.queues = 0), "queues");
        assert_eq!(field_of(|c| c.days = 0), "days");
        assert_eq!(
            field_of(|c| c.time_zone = "Mars/Olympus".into()),
            "time_zone"
        );
        assert_eq!(field_of(|c| c.tenant = String::new()), "tenant");
        assert_eq!(field_of(|c| c.tenant = " t".into()), "tenant");
        assert_eq!(field_of(|c| c.interval_minutes = 20), "interval_minutes");
        assert_eq!(field_of(|c| c.target_occupancy = 1.5), "target_occupancy");
        assert_eq!(
            field_of(|c| c.voice.talk_mean_s = f64::NAN),
            "voice.talk_mean_s"
        );
        assert_eq!(
            field_of(|c| c.weekday_hours.close_hour = 5),
            "weekday_hours"
        );
        assert_eq!(
            field_of(|c| c.from = jiff::civil::date(2199, 12, 30)),
            "days"
        );
        assert_eq!(
            field_of(|c| c.tenant_name = Some("  ".into())),
            "tenant_name"
        );
    }

    #[test]
    fn messages_say_what_to_do() {
        let mut c = SimulationConfig {
            agents: 0,
            ..SimulationConfig::default()
        };
        assert_eq!(
            c.validate().unwrap_err().to_string(),
            "agents is 0; simulate at least 1 agent"
        );
        c.agents = 5;
        c.time_zone = "Europe/Stockholmm".into();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("not an IANA time zone")
        );
    }

    #[test]
    fn many_queues_are_fine() {
        let c = SimulationConfig {
            queues: 40,
            ..SimulationConfig::default()
        };
        c.validate().unwrap();
    }
}
