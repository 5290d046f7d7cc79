//! The simulated directory: the tenant record, the queues (channel, thresholds, overflow and
//! transfer targets) and the agents (names, e-mail, team, skills, inactive agents).
//!
//! Built once from the configuration and the directory's own random stream, so that changing how
//! contacts are simulated never changes who the agents are.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use wfm_model::{Agent, Channel, IntervalLength, Queue, Tenant};

use crate::config::{ADMIN_REASONS, SimulationConfig};
use crate::names;

/// A queue with what the simulation needs beyond its record.
#[derive(Debug, Clone)]
pub(crate) struct QueueSpec {
    /// The canonical record.
    pub record: Queue,
    /// Every segment of this queue has this channel.
    pub channel: Channel,
    /// Relative size: the share of agents whose main skill this queue is.
    pub weight: f64,
    /// Sibling queue of the same channel a long-waiting contact overflows to.
    pub overflow_to: Option<u16>,
    /// Queues of the same channel an agent may transfer a contact to.
    pub transfer_to: Vec<u16>,
}

/// An agent with what the simulation needs beyond its record.
#[derive(Debug, Clone)]
pub(crate) struct AgentSpec {
    /// The canonical record.
    pub record: Agent,
    /// Queue indexes of the skills, main skill first.
    pub skills: Vec<u16>,
    /// Offset into the rotating days-off patterns (see `roster`).
    pub rotation: u8,
}

/// Tenant, queues and agents.
#[derive(Debug, Clone)]
pub(crate) struct Directory {
    pub tenant: Tenant,
    pub queues: Vec<QueueSpec>,
    pub agents: Vec<AgentSpec>,
}

impl Directory {
    /// Builds the directory of a validated configuration.
    pub fn build(config: &SimulationConfig, rng: &mut ChaCha8Rng) -> Directory {
        let tenant = Tenant {
            tenant: config.tenant.clone(),
            name: config.display_name(),
            time_zone: config.time_zone.clone(),
            interval_minutes: IntervalLength::from_minutes(config.interval_minutes)
                .unwrap_or_default(),
            admin_reasons: ADMIN_REASONS.iter().map(|s| s.to_string()).collect(),
        };
        let queues = build_queues(config);
        let agents = build_agents(config, &queues, rng);
        Directory {
            tenant,
            queues,
            agents,
        }
    }
}

fn build_queues(config: &SimulationConfig) -> Vec<QueueSpec> {
    let n = config.queues;
    let channels: Vec<Channel> = (0..n).map(names::queue_channel).collect();
    let mut voice_rank = 0u32;
    let mut queues: Vec<QueueSpec> = (0..n)
        .map(|i| {
            let channel = channels[i as usize];
            let profile = config.profile(channel);
            // The first voice queues are the big ones (Billing, Sales…); later ones are niches.
            let weight = match channel {
                Channel::Voice => {
                    voice_rank += 1;
                    1.0 / (1.0 + 0.25 * f64::from(voice_rank - 1))
                }
                Channel::Chat => 0.6,
                _ => 0.45,
            };
            QueueSpec {
                record: Queue {
                    tenant: config.tenant.clone(),
                    queue: names::queue_id(i, n),
                    name: names::queue_name(i),
                    sl_seconds: profile.sl_seconds,
                    short_abandon_seconds: 5.min(profile.sl_seconds),
                },
                channel,
                weight,
                overflow_to: None,
                transfer_to: Vec::new(),
            }
        })
        .collect();
    for i in 0..queues.len() {
        let channel = queues[i].channel;
        let siblings: Vec<u16> = (0..queues.len())
            .filter(|&j| j != i && queues[j].channel == channel)
            .map(|j| j as u16)
            .collect();
        if config.profile(channel).overflow_after_s.is_some() {
            // The next sibling in id order, wrapping around: a ring of overflows.
            queues[i].overflow_to = siblings
                .iter()
                .copied()
                .find(|&j| usize::from(j) > i)
                .or_else(|| siblings.first().copied());
        }
        queues[i].transfer_to = siblings;
    }
    queues
}

fn build_agents(
    config: &SimulationConfig,
    queues: &[QueueSpec],
    rng: &mut ChaCha8Rng,
) -> Vec<AgentSpec> {
    let n = config.agents as usize;
    let q = queues.len();

    // Main skills: apportion agents to queues by weight (largest remainder), then deal them out
    // in a shuffled order so that teams mix queues.
    let total: f64 = queues.iter().map(|s| s.weight).sum();
    let exact: Vec<f64> = queues.iter().map(|s| s.weight / total * n as f64).collect();
    let mut counts: Vec<usize> = exact.iter().map(|x| x.floor() as usize).collect();
    let mut order: Vec<usize> = (0..q).collect();
    order.sort_by(|&a, &b| {
        let ra = exact[a] - exact[a].floor();
        let rb = exact[b] - exact[b].floor();
        rb.total_cmp(&ra).then(a.cmp(&b))
    });
    let mut left = n - counts.iter().sum::<usize>();
    for &i in order.iter().cycle() {
        if left == 0 {
            break;
        }
        counts[i] += 1;
        left -= 1;
    }
    // Every queue gets a main agent when there are enough agents: take one from the largest.
    if n >= q {
        for i in 0..q {
            if counts[i] == 0 {
                let largest = (0..q).max_by_key(|&j| (counts[j], Reverse(j))).unwrap_or(0);
                counts[largest] -= 1;
                counts[i] += 1;
            }
        }
    }
    let mut mains: Vec<u16> = counts
        .iter()
        .enumerate()
        .flat_map(|(i, &c)| std::iter::repeat_n(i as u16, c))
        .collect();
    mains.shuffle(rng);

    // A few agents have left or are on leave: they stay in the directory, inactive. Never all.
    let inactive_count = ((n as f64 * config.inactive_share).floor() as usize).min(n - 1);
    let mut by_chance: Vec<usize> = (0..n).collect();
    by_chance.shuffle(rng);
    let mut active = vec![true; n];
    for &i in &by_chance[..inactive_count] {
        active[i] = false;
    }

    let domain = names::email_domain(&config.tenant);
    let mut emails = BTreeSet::new();
    let mut agents: Vec<AgentSpec> = (0..n)
        .map(|i| {
            let first = names::FIRST_NAMES[rng.random_range(0..names::FIRST_NAMES.len())];
            let last = names::LAST_NAMES[rng.random_range(0..names::LAST_NAMES.len())];
            let mut local = names::email_local(first, last);
            if !emails.insert(local.clone()) {
                local = format!("{local}{}", i + 1);
                emails.insert(local.clone());
            }
            // 45 % of agents have one extra skill, 15 % two (blended agents).
            let roll: f64 = rng.random();
            let extra = if roll < 0.15 {
                2
            } else if roll < 0.6 {
                1
            } else {
                0
            };
            let mut skills = vec![mains[i]];
            for _ in 0..extra.min(q - 1) {
                loop {
                    let s = rng.random_range(0..q) as u16;
                    if !skills.contains(&s) {
                        skills.push(s);
                        break;
                    }
                }
            }
            AgentSpec {
                record: Agent {
                    tenant: config.tenant.clone(),
                    agent: names::agent_id(i as u32, n as u32),
                    first_name: first.to_string(),
                    last_name: last.to_string(),
                    email: Some(format!("{local}@{domain}")),
                    team: Some(names::team_name(i as u32, n as u32)),
                    skills: Vec::new(),
                    active: active[i],
                },
                skills,
                rotation: (i % 10) as u8,
            }
        })
        .collect();

    // Every queue has an active skilled agent: give an uncovered queue to the active agent with
    // the fewest skills (fewer agents than queues, or only inactive agents skilled).
    let mut covered = vec![false; q];
    for a in agents.iter().filter(|a| a.record.active) {
        for &s in &a.skills {
            covered[usize::from(s)] = true;
        }
    }
    let mut fewest: BinaryHeap<Reverse<(usize, usize)>> = agents
        .iter()
        .enumerate()
        .filter(|(_, a)| a.record.active)
        .map(|(i, a)| Reverse((a.skills.len(), i)))
        .collect();
    for (queue, _) in covered.iter().enumerate().filter(|(_, c)| !**c) {
        let Some(Reverse((len, i))) = fewest.pop() else {
            break;
        };
        agents[i].skills.push(queue as u16);
        fewest.push(Reverse((len + 1, i)));
    }

    for a in &mut agents {
        a.record.skills = a
            .skills
            .iter()
            .map(|&s| queues[usize::from(s)].record.queue.clone())
            .collect();
    }
    agents
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn dir(agents: u32, queues: u32) -> Directory {
        let c = SimulationConfig {
            agents,
            queues,
            ..SimulationConfig::default()
        };
        Directory::build(&c, &mut ChaCha8Rng::seed_from_u64(7))
    }

    #[test]
    fn every_queue_has_an_active_skilled_agent() {
        for (a, q) in [(1, 1), (1, 7), (3, 12), (50, 4), (40, 40), (200, 25)] {
            let d = dir(a, q);
            for (i, queue) in d.queues.iter().enumerate() {
                assert!(
                    d.agents
                        .iter()
                        .any(|ag| ag.record.active && ag.skills.contains(&(i as u16))),
                    "{a} agents, {q} queues: {} uncovered",
                    queue.record.queue
                );
            }
            for ag in &d.agents {
                ag.record.validate().unwrap();
                assert!(!ag.skills.is_empty());
            }
            for queue in &d.queues {
                queue.record.validate().unwrap();
            }
            d.tenant.validate().unwrap();
        }
    }

    #[test]
    fn a_few_inactive_and_skills_one_to_three() {
        let d = dir(200, 6);
        let inactive = d.agents.iter().filter(|a| !a.record.active).count();
        assert!((1..=10).contains(&inactive), "{inactive}");
        assert!(d.agents.iter().all(|a| (1..=3).contains(&a.skills.len())));
        let emails: BTreeSet<_> = d.agents.iter().map(|a| a.record.email.clone()).collect();
        assert_eq!(emails.len(), 200);
    }

    #[test]
    fn queues_mostly_voice_with_siblings() {
        let d = dir(50, 10);
        let voice = d
            .queues
            .iter()
            .filter(|q| q.channel == Channel::Voice)
            .count();
        assert_eq!(voice, 6);
        assert_eq!(d.queues[0].overflow_to, Some(1));
        assert_eq!(d.queues[3].overflow_to, Some(8)); // chat ring: q04 → q09
        assert_eq!(d.queues[4].overflow_to, None); // e-mail never overflows
        assert_eq!(d.queues[4].record.sl_seconds, 3600);
    }
}
