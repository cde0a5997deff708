//! Rollouts through the safety layer: `neorl rollout --shield` and the
//! evaluation of agents (`neorl eval … --shield` calls
//! [`shielded_rollout`] with the agent's policy).
//!
//! The report is the plain [`RolloutReport`] (its `hard_violations` still
//! counts episodes that ended in a real breach) plus what the safety layer
//! did: interventions by kind, emergency stops, steps under the emergency
//! stop, and the audit log's head hash when one was written.

use super::plain::{EpisodeStats, RolloutReport, check_episodes};
use crate::env::Env;
use crate::error::Result;
use crate::policy::Policy;
use crate::safety::{Anchor, AuditLog, InterventionKind, SafetyConfig, SafetyTotals, Supervisor};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A rollout report with the safety layer's counters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShieldedReport {
    #[serde(flatten)]
    pub rollout: RolloutReport,
    /// Whether the shield was on (otherwise: monitor, emergency stop and audit only).
    pub shielded: bool,
    /// Steps on which the shield changed the action.
    pub interventions: u64,
    /// Interventions per kind (`rate_limited`, `projected`, `expert`, `safe_action`, `emergency`).
    pub interventions_by_kind: BTreeMap<&'static str, u64>,
    /// `interventions / steps`.
    pub intervention_rate: f64,
    /// Emergency-stop trips (real breaches and "no safe action" both trip it).
    pub emergency_stops: u64,
    /// Steps on which the emergency stop drove the plant.
    pub estop_steps: u64,
    /// Trips that fired the plant's emergency shutdown and ended the
    /// episode (ChemicalReactor-v0's feed cut-off and quench).
    pub shutdowns: u64,
    /// Steps after which a hard constraint was crossed.
    pub hard_violation_steps: u64,
    /// Where the audit log was written, and its head hash.
    pub audit: Option<AuditSummary>,
    #[serde(skip)]
    pub totals: SafetyTotals,
}

/// The audit log a rollout wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditSummary {
    #[serde(serialize_with = "crate::paths::serialize")]
    pub path: PathBuf,
    pub records: u64,
    /// SHA-256 of the last line (the seal): anchor it elsewhere.
    pub head: String,
}

impl AuditSummary {
    /// What to keep outside the log to detect a later rewrite or a forged
    /// appended session (see the audit module's trust model).
    pub fn anchor(&self) -> Anchor {
        Anchor {
            records: Some(self.records),
            head: self.head.clone(),
        }
    }
}

impl std::fmt::Display for AuditSummary {
    /// `path (N records, head HASH)`, as the reports show it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({} records, head {})",
            self.path.display(),
            self.records,
            self.head
        )
    }
}

/// The kinds of intervention that happened, with their counts, for reports:
/// `"projected 12, expert 3"` (kinds that did not happen are left out;
/// empty when none did).
pub fn interventions_by_kind_text(by_kind: &BTreeMap<&'static str, u64>) -> String {
    by_kind
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Run one episode through the supervisor.
pub fn run_supervised_episode(
    env: &mut Env,
    policy: &mut dyn Policy,
    safety: &mut Supervisor,
    seed: u64,
) -> Result<EpisodeStats> {
    env.reset(seed);
    policy.reset(seed);
    safety.begin_episode(env, seed)?;
    let mut stats = EpisodeStats::new(seed);
    loop {
        let s = safety.step(env, policy)?;
        if stats.record(&s.outcome) {
            return Ok(stats);
        }
    }
}

/// Run `episodes` episodes (seeds `seed`, `seed + 1`, …) of `policy`
/// through `safety`, which keeps its counters and audit log across calls.
pub fn shielded_rollout(
    env: &mut Env,
    policy: &mut dyn Policy,
    episodes: usize,
    seed: u64,
    safety: &mut Supervisor,
) -> Result<ShieldedReport> {
    shielded_rollout_observed(env, policy, episodes, seed, safety, &mut |_| {})
}

/// As [`shielded_rollout`], calling `on_episode` after every episode
/// (progress for long rollouts).
pub fn shielded_rollout_observed(
    env: &mut Env,
    policy: &mut dyn Policy,
    episodes: usize,
    seed: u64,
    safety: &mut Supervisor,
    on_episode: &mut dyn FnMut(&EpisodeStats),
) -> Result<ShieldedReport> {
    check_episodes(episodes)?;
    let before = safety.totals();
    let per_episode = (0..episodes as u64)
        .map(|i| {
            let stats = run_supervised_episode(env, policy, safety, seed.wrapping_add(i))?;
            on_episode(&stats);
            Ok(stats)
        })
        .collect::<Result<Vec<_>>>()?;
    let rollout = RolloutReport::from_episodes(env, policy.name(), per_episode);
    let t = safety.totals();
    let by_kind = InterventionKind::ALL
        .iter()
        .map(|k| {
            let i = *k as usize;
            (
                k.as_str(),
                t.interventions_by_kind[i] - before.interventions_by_kind[i],
            )
        })
        .collect();
    let steps = (t.steps - before.steps).max(1);
    let interventions = t.interventions - before.interventions;
    Ok(ShieldedReport {
        rollout,
        shielded: safety.shield().is_some(),
        interventions,
        interventions_by_kind: by_kind,
        intervention_rate: interventions as f64 / steps as f64,
        emergency_stops: t.emergency_stops - before.emergency_stops,
        estop_steps: t.estop_steps - before.estop_steps,
        shutdowns: t.shutdowns - before.shutdowns,
        hard_violation_steps: t.hard_violations - before.hard_violations,
        audit: None,
        totals: t,
    })
}

/// The whole thing in one call: a supervisor with `config`, an audit log at
/// `audit` if given (sealed at the end), and the rollout.
pub fn shielded_rollout_with(
    env: &mut Env,
    policy: &mut dyn Policy,
    episodes: usize,
    seed: u64,
    config: SafetyConfig,
    audit: Option<&Path>,
) -> Result<ShieldedReport> {
    shielded_rollout_with_observed(env, policy, episodes, seed, config, audit, &mut |_| {})
}

/// As [`shielded_rollout_with`], calling `on_episode` after every episode.
pub fn shielded_rollout_with_observed(
    env: &mut Env,
    policy: &mut dyn Policy,
    episodes: usize,
    seed: u64,
    config: SafetyConfig,
    audit: Option<&Path>,
    on_episode: &mut dyn FnMut(&EpisodeStats),
) -> Result<ShieldedReport> {
    check_episodes(episodes)?;
    let mut safety = Supervisor::new(env, config)?;
    if let Some(p) = audit {
        safety.set_audit(AuditLog::open(p)?);
    }
    let mut report =
        shielded_rollout_observed(env, policy, episodes, seed, &mut safety, on_episode)?;
    if let (Some((records, head)), Some(p)) = (safety.close()?, audit) {
        report.audit = Some(AuditSummary {
            path: p.to_path_buf(),
            records,
            head,
        });
    }
    Ok(report)
}
