//! Rollouts: run a policy for whole episodes and summarise them.

use crate::env::{Env, StepOutcome};
use crate::error::{Error, Result};
use crate::policy::Policy;
use serde::Serialize;

/// Statistics of one episode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpisodeStats {
    pub seed: u64,
    /// Undiscounted sum of rewards.
    pub ret: f64,
    /// Sum of per-step costs (constraint-violation steps).
    pub cost: f64,
    pub length: usize,
    /// Whether the episode ended on a hard-constraint breach.
    pub hard_violation: bool,
    /// Whether the episode ended in the plant's emergency shutdown.
    pub shutdown: bool,
    pub terminated: bool,
    pub truncated: bool,
    /// Steps on which the action had to be clipped to its bounds.
    pub clipped_steps: usize,
}

/// Summary of several episodes of one policy in one environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RolloutReport {
    pub env: String,
    pub policy: String,
    pub episodes: usize,
    pub mean_return: f64,
    pub std_return: f64,
    pub mean_cost: f64,
    /// Number of episodes that ended in a hard-constraint breach.
    pub hard_violations: usize,
    pub mean_length: f64,
    /// D4RL normalized score of `mean_return`.
    pub normalized_score: f64,
    #[serde(skip)]
    pub per_episode: Vec<EpisodeStats>,
}

impl RolloutReport {
    /// Summarise per-episode statistics.
    pub fn from_episodes(env: &Env, policy: String, per_episode: Vec<EpisodeStats>) -> Self {
        let n = per_episode.len().max(1) as f64;
        let mean_return = per_episode.iter().map(|e| e.ret).sum::<f64>() / n;
        let var = per_episode
            .iter()
            .map(|e| (e.ret - mean_return).powi(2))
            .sum::<f64>()
            / n;
        RolloutReport {
            env: env.spec().id.clone(),
            policy,
            episodes: per_episode.len(),
            mean_return,
            std_return: var.sqrt(),
            mean_cost: per_episode.iter().map(|e| e.cost).sum::<f64>() / n,
            hard_violations: per_episode.iter().filter(|e| e.hard_violation).count(),
            mean_length: per_episode.iter().map(|e| e.length as f64).sum::<f64>() / n,
            normalized_score: env.spec().normalized_score(mean_return),
            per_episode,
        }
    }
}

impl EpisodeStats {
    /// An episode from `seed` before its first step.
    pub fn new(seed: u64) -> Self {
        EpisodeStats {
            seed,
            ret: 0.0,
            cost: 0.0,
            length: 0,
            hard_violation: false,
            shutdown: false,
            terminated: false,
            truncated: false,
            clipped_steps: 0,
        }
    }

    /// Account one step; returns whether the episode ended with it.
    pub fn record(&mut self, out: &StepOutcome) -> bool {
        self.ret += out.reward;
        self.cost += out.cost;
        self.length += 1;
        self.clipped_steps += out.clipped as usize;
        let done = out.terminated || out.truncated;
        if done {
            self.hard_violation = out.hard_violation;
            self.shutdown = out.shutdown;
            self.terminated = out.terminated;
            self.truncated = out.truncated;
        }
        done
    }
}

/// Run one episode from `seed` and return its statistics.
pub fn run_episode(env: &mut Env, policy: &mut dyn Policy, seed: u64) -> Result<EpisodeStats> {
    let mut obs = env.reset(seed);
    policy.reset(seed);
    let mut action = vec![0f32; env.spec().act_dim()];
    let mut stats = EpisodeStats::new(seed);
    loop {
        act_checked(policy, &obs, &mut action)?;
        let out = env.step_in_place(&action)?;
        if stats.record(&out) {
            return Ok(stats);
        }
        obs.copy_from_slice(env.observation());
    }
}

/// Ask the policy for an action, turning a NaN/Inf action into a clear error
/// naming the policy.
fn act_checked(policy: &mut dyn Policy, obs: &[f32], action: &mut [f32]) -> Result<()> {
    policy.act(obs, action)?;
    check_finite(policy, obs, action)
}

/// A clear error naming the policy when `action` (for `obs`) has a NaN/Inf.
pub fn check_finite(policy: &dyn Policy, obs: &[f32], action: &[f32]) -> Result<()> {
    if let Some(i) = action.iter().position(|a| !a.is_finite()) {
        return Err(Error::Policy {
            policy: policy.name(),
            reason: format!(
                "it produced a non-finite action[{i}] = {} for observation {obs:?}",
                action[i]
            ),
        });
    }
    Ok(())
}

/// The most episodes one rollout or evaluation runs: every episode's
/// statistics are kept (and a batched evaluation steps them all at once),
/// and evaluations use tens to hundreds.
pub const MAX_EPISODES: usize = 100_000;

/// `episodes` is between 1 and [`MAX_EPISODES`].
pub fn check_episodes(episodes: usize) -> Result<()> {
    if (1..=MAX_EPISODES).contains(&episodes) {
        return Ok(());
    }
    Err(Error::InvalidArgument(format!(
        "episodes must be between 1 and {MAX_EPISODES}, got {episodes} (every episode's statistics are kept; for more, run several rollouts with other seeds)"
    )))
}

/// Run `episodes` episodes; episode `i` is seeded with `seed + i` (both the
/// environment and the policy), so reports are reproducible.
pub fn rollout(
    env: &mut Env,
    policy: &mut dyn Policy,
    episodes: usize,
    seed: u64,
) -> Result<RolloutReport> {
    rollout_observed(env, policy, episodes, seed, &mut |_| {})
}

/// As [`rollout`], calling `on_episode` after every episode (progress for
/// long rollouts).
pub fn rollout_observed(
    env: &mut Env,
    policy: &mut dyn Policy,
    episodes: usize,
    seed: u64,
    on_episode: &mut dyn FnMut(&EpisodeStats),
) -> Result<RolloutReport> {
    check_episodes(episodes)?;
    let per_episode = (0..episodes as u64)
        .map(|i| {
            let stats = run_episode(env, policy, seed.wrapping_add(i))?;
            on_episode(&stats);
            Ok(stats)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RolloutReport::from_episodes(
        env,
        policy.name(),
        per_episode,
    ))
}

/// Every step of one episode, for plotting and inspection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trajectory {
    pub env: String,
    pub policy: String,
    pub seed: u64,
    /// `(length + 1) × obs_dim`: the reset observation, then one per step.
    pub observations: Vec<Vec<f32>>,
    /// `length × act_dim`: the actions applied (after clipping).
    pub actions: Vec<Vec<f64>>,
    pub rewards: Vec<f64>,
    pub costs: Vec<f64>,
    /// `length × n_constraints`: constraint values after each step.
    pub constraint_values: Vec<Vec<f64>>,
    pub terminated: bool,
    pub truncated: bool,
}

impl Trajectory {
    /// A trajectory of `policy` in `env` from `seed`, with only the reset
    /// observation so far.
    pub(crate) fn begin(env: &Env, policy: &dyn Policy, seed: u64, obs: Vec<f32>) -> Self {
        Trajectory {
            env: env.spec().id.clone(),
            policy: policy.name(),
            seed,
            observations: vec![obs],
            actions: vec![],
            rewards: vec![],
            costs: vec![],
            constraint_values: vec![],
            terminated: false,
            truncated: false,
        }
    }
}

/// Run one episode and keep every step.
pub fn record_episode(env: &mut Env, policy: &mut dyn Policy, seed: u64) -> Result<Trajectory> {
    let mut obs = env.reset(seed);
    policy.reset(seed);
    let mut tr = Trajectory::begin(env, policy, seed, obs.clone());
    let mut action = vec![0f32; env.spec().act_dim()];
    loop {
        act_checked(policy, &obs, &mut action)?;
        let step = env.step(&action)?;
        tr.observations.push(step.obs.clone());
        tr.actions.push(step.info.applied_action.clone());
        tr.rewards.push(step.reward);
        tr.costs.push(step.cost);
        tr.constraint_values
            .push(step.info.constraint_values.clone());
        if step.done() {
            tr.terminated = step.terminated;
            tr.truncated = step.truncated;
            return Ok(tr);
        }
        obs = step.obs;
    }
}
