//! Every step of one episode through the safety layer: what the policy
//! proposed, what the plant got, who chose it, what the shield did and the
//! alarm level — for plotting interventions over time and for inspection.

use super::plain::Trajectory;
use crate::env::Env;
use crate::error::Result;
use crate::policy::Policy;
use crate::safety::{ActionSource, AlarmLevel, InterventionKind, SafetyConfig, Supervisor};
use serde::Serialize;

/// One supervised episode, step by step. `trajectory` holds what happened
/// to the plant (applied actions, constraint signals, rewards, costs); the
/// other columns are aligned with its steps.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShieldedTrajectory {
    pub trajectory: Trajectory,
    /// The action proposed on each step (by the policy or the operator).
    pub proposed: Vec<Vec<f64>>,
    /// Who chose the applied action.
    pub sources: Vec<ActionSource>,
    /// What the shield did (`None`: nothing, or it was not consulted).
    pub interventions: Vec<Option<InterventionKind>>,
    /// Predicted smallest normalised hard margin of the applied action
    /// (NaN when the shield was not consulted).
    pub applied_margins: Vec<f64>,
    /// Size of the shield's correction (0 when it did not intervene).
    pub corrections: Vec<f64>,
    /// The monitor's alarm level after each step.
    pub levels: Vec<AlarmLevel>,
    /// The emergency stop tripped on this step.
    pub trips: Vec<bool>,
    /// Whether a shield was configured.
    pub shielded: bool,
}

impl ShieldedTrajectory {
    pub fn len(&self) -> usize {
        self.sources.len()
    }
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }
    /// Number of steps on which the shield intervened.
    pub fn n_interventions(&self) -> usize {
        self.interventions.iter().filter(|i| i.is_some()).count()
    }
}

/// Run one episode from `seed` through `safety` and keep every step.
pub fn record_shielded_episode(
    env: &mut Env,
    policy: &mut dyn Policy,
    safety: &mut Supervisor,
    seed: u64,
) -> Result<ShieldedTrajectory> {
    let obs = env.reset(seed);
    policy.reset(seed);
    safety.begin_episode(env, seed)?;
    let mut rec = ShieldedTrajectory {
        trajectory: Trajectory::begin(env, policy, seed, obs),
        proposed: vec![],
        sources: vec![],
        interventions: vec![],
        applied_margins: vec![],
        corrections: vec![],
        levels: vec![],
        trips: vec![],
        shielded: safety.shield().is_some(),
    };
    let f64s = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<f64>>();
    loop {
        let s = safety.step(env, policy)?;
        let tr = &mut rec.trajectory;
        tr.observations.push(env.observation().to_vec());
        tr.actions.push(f64s(safety.applied()));
        tr.rewards.push(s.outcome.reward);
        tr.costs.push(s.outcome.cost);
        tr.constraint_values.push(env.constraint_values().to_vec());
        rec.proposed.push(f64s(safety.proposed()));
        rec.sources.push(s.source);
        rec.interventions
            .push(s.decision.and_then(|d| d.intervention));
        rec.applied_margins
            .push(s.decision.map_or(f64::NAN, |d| d.applied_margin));
        rec.corrections.push(
            s.decision
                .filter(|d| d.intervention.is_some())
                .map_or(0.0, |d| d.correction),
        );
        rec.levels.push(s.level);
        rec.trips.push(s.tripped);
        if s.done() {
            tr.terminated = s.outcome.terminated;
            tr.truncated = s.outcome.truncated;
            return Ok(rec);
        }
    }
}

/// [`record_shielded_episode`] with a fresh supervisor built from `config`
/// (no audit log).
pub fn record_shielded_episode_with(
    env: &mut Env,
    policy: &mut dyn Policy,
    config: SafetyConfig,
    seed: u64,
) -> Result<ShieldedTrajectory> {
    let mut safety = Supervisor::new(env, config)?;
    record_shielded_episode(env, policy, &mut safety, seed)
}
