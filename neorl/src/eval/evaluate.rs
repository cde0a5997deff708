//! The one evaluation entry point: [`evaluate`] runs a policy for whole
//! episodes, with or without the safety shield, and returns an
//! [`EvalReport`] that prints as text, renders as an HTML table in
//! notebooks and serialises to JSON (`neorl eval --json`).
//!
//! ```no_run
//! use neorl::eval::{EvalOptions, evaluate};
//! use neorl::safety::ShieldConfig;
//! # fn main() -> neorl::Result<()> {
//! # let agent = neorl::agents::load("runs/td3bc", &neorl::agents::Device::cpu())?;
//! let mut env = neorl::make("ChemicalReactor-v0")?;
//! let plain = evaluate(&mut agent.policy(), &mut env, EvalOptions::new(10))?;
//! let safe = evaluate(
//!     &mut agent.policy(),
//!     &mut env,
//!     EvalOptions::new(10).with_shield(ShieldConfig::default()),
//! )?;
//! println!("{plain}\n{safe}");
//! # Ok(()) }
//! ```
//!
//! Episode `i` is seeded with `seed + i` (environment and policy), so a
//! report is reproducible and two policies evaluated with the same options
//! face the same episodes. Without the shield the rollout is the plain one
//! of [`super::rollout`] (D4RL's protocol: the environment's own interlocks
//! end an episode on a hard breach); a policy without per-episode state
//! ([`Policy::is_stateless`], e.g. a trained agent) is then run on all
//! episodes at once in a [`VecEnv`], with one batched network call per step,
//! which gives bit-identical numbers. With the shield every action passes
//! through a [`crate::safety::Supervisor`] ([`super::shielded`]), one
//! episode after another.

use super::rollout::{EpisodeStats, RolloutReport, check_episodes, check_finite, rollout};
use super::shielded::{AuditSummary, shielded_rollout_with};
use crate::env::{Env, EnvSpec, VecEnv};
use crate::error::Result;
use crate::policy::Policy;
use crate::safety::{SafetyConfig, ShieldConfig};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// How to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalOptions {
    /// Number of episodes (at least 1).
    pub episodes: usize,
    /// Seed of the first episode; episode `i` uses `seed + i`.
    pub seed: u64,
    /// Run every action through the safety shield with these settings.
    pub shield: Option<ShieldConfig>,
    /// Write every safety event to this hash-chained audit log (runs the
    /// monitor and emergency stop even without the shield).
    pub audit: Option<PathBuf>,
    /// Allow stepping all episodes at once for stateless policies (the
    /// numbers are the same either way; `false` only for comparisons).
    pub batched: bool,
}

impl Default for EvalOptions {
    /// 10 episodes from seed 0, no shield, no audit log.
    fn default() -> Self {
        EvalOptions {
            episodes: 10,
            seed: 0,
            shield: None,
            audit: None,
            batched: true,
        }
    }
}

impl EvalOptions {
    /// `episodes` episodes from seed 0, no shield.
    pub fn new(episodes: usize) -> Self {
        EvalOptions {
            episodes,
            ..Self::default()
        }
    }
    /// Start from another seed.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Evaluate through the safety shield.
    pub fn with_shield(mut self, shield: ShieldConfig) -> Self {
        self.shield = Some(shield);
        self
    }
    /// Write an audit log.
    pub fn with_audit(mut self, path: impl Into<PathBuf>) -> Self {
        self.audit = Some(path.into());
        self
    }
}

/// What an evaluation found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    pub env: String,
    pub policy: String,
    pub episodes: usize,
    /// Seed of the first episode.
    pub seed: u64,
    /// Whether the safety shield was on.
    pub shielded: bool,
    /// D4RL normalized score of the mean return: 100 × (return − random) /
    /// (expert − random) with the environment's reference returns.
    pub normalized_score: f64,
    /// Standard deviation of the per-episode normalized scores.
    pub std_normalized_score: f64,
    pub mean_return: f64,
    pub std_return: f64,
    /// Constraint-violation steps per episode (hard and soft).
    pub mean_cost: f64,
    /// Episodes that ended in a hard-constraint breach.
    pub hard_violations: usize,
    pub mean_length: f64,
    /// Steps on which the shield changed the action.
    pub interventions: u64,
    /// `interventions / steps`.
    pub intervention_rate: f64,
    /// Interventions per kind (with the shield).
    pub interventions_by_kind: BTreeMap<&'static str, u64>,
    /// Emergency-stop trips (with the shield or an audit log).
    pub emergency_stops: u64,
    /// Trips that fired the plant's emergency shutdown and ended the
    /// episode (see [`crate::env::Model::shutdown`]).
    pub shutdowns: u64,
    /// Whether all episodes were stepped at once (see the module docs).
    pub batched: bool,
    /// The audit log written, if any.
    pub audit: Option<AuditSummary>,
    /// Every episode's statistics.
    #[serde(skip)]
    pub per_episode: Vec<EpisodeStats>,
}

/// Evaluate `policy` in `env` (see the module docs for what is run and how).
/// A shielded or sequential evaluation leaves `env` at the end of its last
/// episode; a batched one does not touch it.
pub fn evaluate(policy: &mut dyn Policy, env: &mut Env, opts: EvalOptions) -> Result<EvalReport> {
    check_episodes(opts.episodes)?;
    let (episodes, seed) = (opts.episodes, opts.seed);
    if opts.shield.is_some() || opts.audit.is_some() {
        let shielded = opts.shield.is_some();
        let config = match opts.shield {
            Some(shield) => SafetyConfig {
                shield: Some(shield),
                ..SafetyConfig::default()
            },
            None => SafetyConfig::monitor_only(),
        };
        let r = shielded_rollout_with(env, policy, episodes, seed, config, opts.audit.as_deref())?;
        let mut report = EvalReport::from_rollout(env.spec(), r.rollout, seed, false);
        report.shielded = shielded;
        report.interventions = r.interventions;
        report.intervention_rate = r.intervention_rate;
        report.interventions_by_kind = r.interventions_by_kind;
        report.emergency_stops = r.emergency_stops;
        report.shutdowns = r.shutdowns;
        report.audit = r.audit;
        return Ok(report);
    }
    if opts.batched && policy.is_stateless() && episodes > 1 {
        let per_episode = rollout_batched(env, policy, episodes, seed)?;
        let r = RolloutReport::from_episodes(env, policy.name(), per_episode);
        return Ok(EvalReport::from_rollout(env.spec(), r, seed, true));
    }
    let r = rollout(env, policy, episodes, seed)?;
    Ok(EvalReport::from_rollout(env.spec(), r, seed, false))
}

/// All episodes in lockstep: lane `i` of a [`VecEnv`] is exactly a single
/// environment reset with `seed + i`, and a stateless policy's action for a
/// row does not depend on the other rows, so each lane's statistics equal
/// those of [`super::rollout::run_episode`]. Lanes that finish keep being
/// stepped (their results are ignored) until the last one ends.
fn rollout_batched(
    env: &Env,
    policy: &mut dyn Policy,
    episodes: usize,
    seed: u64,
) -> Result<Vec<EpisodeStats>> {
    let spec = env.spec().clone();
    let (od, ad) = (spec.obs_dim(), spec.act_dim());
    let mut venv = VecEnv::new(env.model().clone(), episodes, seed, 1)?;
    let mut stats: Vec<EpisodeStats> = (0..episodes as u64)
        .map(|i| EpisodeStats::new(seed.wrapping_add(i)))
        .collect();
    let mut done = vec![false; episodes];
    let mut obs = venv.observations().to_vec();
    let mut actions = vec![0f32; episodes * ad];
    while done.iter().any(|d| !d) {
        policy.act_many(episodes, &obs, &mut actions)?;
        for (i, a) in actions.chunks_exact(ad).enumerate() {
            check_finite(policy, &obs[i * od..(i + 1) * od], a)?;
        }
        let outcomes = venv.step(&actions)?;
        for ((s, d), out) in stats.iter_mut().zip(&mut done).zip(outcomes) {
            if !*d {
                *d = s.record(out);
            }
        }
        obs.copy_from_slice(venv.observations());
    }
    Ok(stats)
}

impl EvalReport {
    fn from_rollout(spec: &EnvSpec, r: RolloutReport, seed: u64, batched: bool) -> Self {
        let scores: Vec<f64> = r
            .per_episode
            .iter()
            .map(|e| spec.normalized_score(e.ret))
            .collect();
        let n = scores.len().max(1) as f64;
        let mean = scores.iter().sum::<f64>() / n;
        let std = (scores.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
        EvalReport {
            env: r.env,
            policy: r.policy,
            episodes: r.episodes,
            seed,
            shielded: false,
            normalized_score: r.normalized_score,
            std_normalized_score: std,
            mean_return: r.mean_return,
            std_return: r.std_return,
            mean_cost: r.mean_cost,
            hard_violations: r.hard_violations,
            mean_length: r.mean_length,
            interventions: 0,
            intervention_rate: 0.0,
            interventions_by_kind: BTreeMap::new(),
            emergency_stops: 0,
            shutdowns: 0,
            batched,
            audit: None,
            per_episode: r.per_episode,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::{Agent, Device, Td3Bc, Td3BcConfig};
    use crate::policy::FnPolicy;

    fn untrained(env: &Env, seed: u64) -> crate::agents::AgentPolicy {
        let cfg = Td3BcConfig {
            hidden: vec![16, 16],
            seed,
            ..Default::default()
        };
        Td3Bc::new(env.spec(), cfg, &Device::cpu())
            .unwrap()
            .policy()
    }

    /// Stepping all episodes at once gives exactly the numbers of one
    /// episode after another, in every environment.
    #[test]
    fn batched_evaluation_equals_sequential() {
        for id in crate::env::ids() {
            let mut env = crate::make(id).unwrap();
            let mut p = untrained(&env, 3);
            assert!(p.is_stateless());
            let opts = EvalOptions::new(4).with_seed(11);
            let batched = evaluate(&mut p, &mut env, opts.clone()).unwrap();
            let sequential = evaluate(
                &mut p,
                &mut env,
                EvalOptions {
                    batched: false,
                    ..opts
                },
            )
            .unwrap();
            assert!(batched.batched && !sequential.batched, "{id}");
            assert_eq!(batched.per_episode, sequential.per_episode, "{id}");
            assert_eq!(
                EvalReport {
                    batched: false,
                    ..batched
                },
                sequential,
                "{id}"
            );
        }
    }

    #[test]
    fn report_fields_text_and_html() {
        let mut env = crate::make("ChemicalReactor-v0").unwrap();
        let mut p = untrained(&env, 1);
        let r = evaluate(&mut p, &mut env, EvalOptions::new(3)).unwrap();
        assert_eq!((r.episodes, r.seed, r.shielded), (3, 0, false));
        assert_eq!(r.per_episode.len(), 3);
        let scores: Vec<f64> = r
            .per_episode
            .iter()
            .map(|e| env.spec().normalized_score(e.ret))
            .collect();
        let mean = scores.iter().sum::<f64>() / 3.0;
        assert!((mean - r.normalized_score).abs() < 1e-9);
        let sd = (scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / 3.0).sqrt();
        assert!((sd - r.std_normalized_score).abs() < 1e-9);
        assert_eq!((r.interventions, r.emergency_stops), (0, 0));
        let text = r.to_string();
        assert!(text.contains("ChemicalReactor-v0 / td3bc: 3 episodes from seed 0, no shield"));
        assert!(text.contains(&format!("{:.1}", r.normalized_score)));
        assert!(!text.contains("interventions"), "{text}");
        let html = r.to_html();
        assert!(html.starts_with("<table") && html.contains("normalized score"));
        let json = serde_json::to_value(&r).unwrap();
        for k in [
            "normalized_score",
            "mean_return",
            "std_return",
            "mean_cost",
            "hard_violations",
            "episodes",
            "interventions",
            "emergency_stops",
            "shutdowns",
            "shielded",
        ] {
            assert!(!json[k].is_null(), "{k} in {json}");
        }
    }

    /// The shield keeps a policy that drives the reactor into runaway out of
    /// trouble (with the reactor's emergency shutdown as its last resort),
    /// and says what it did.
    #[test]
    fn the_shield_is_applied_and_counted() {
        let mut env = crate::make("ChemicalReactor-v0").unwrap();
        let spec = env.spec().clone();
        // Minimum coolant: the reactor heats up and runs away.
        let mut hot = FnPolicy::new("no cooling", move |_o: &[f32], a: &mut [f32]| {
            for (x, d) in a.iter_mut().zip(&spec.actions) {
                *x = d.low as f32;
            }
        });
        assert!(!hot.is_stateless());
        let plain = evaluate(&mut hot, &mut env, EvalOptions::new(3)).unwrap();
        let safe = evaluate(
            &mut hot,
            &mut env,
            EvalOptions::new(3).with_shield(ShieldConfig::default()),
        )
        .unwrap();
        assert!(
            !plain.batched,
            "stateful policies run one episode at a time"
        );
        assert!(safe.shielded && safe.interventions > 0, "{safe}");
        assert!(plain.hard_violations > 0, "{plain}");
        assert_eq!(safe.hard_violations, 0, "{plain}\n{safe}");
        let text = safe.to_string();
        assert!(text.contains("through the safety shield") && text.contains("interventions"));
        assert!(evaluate(&mut hot, &mut env, EvalOptions::new(0)).is_err());
    }

    #[test]
    fn act_many_defaults_to_one_act_per_row() {
        let mut p = FnPolicy::new("sum", |o: &[f32], a: &mut [f32]| {
            a[0] = o.iter().sum();
            a[1] = -o[0];
        });
        let obs = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let mut a = [0f32; 6];
        p.act_many(3, &obs, &mut a).unwrap();
        assert_eq!(a, [3.0, -1.0, 7.0, -3.0, 11.0, -5.0]);
        assert!(p.act_many(4, &obs, &mut a).is_err());
    }
}
