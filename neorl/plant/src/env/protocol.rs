//! Protocol versions of the environment ids: `<Process>-v0` and `<Process>-v1`.
//!
//! Every `-v0` id is frozen: its trajectories, datasets and checksums never
//! change. Behaviour that protocol v1 changes gets the `-v1` id; the
//! measurements and reasons are in `datasets/protocol/environments.md`.
//!
//! What v1 changes, for all seven processes:
//! * **Alive reward instead of a breach charge** ([`BreachPenalty::Alive`]):
//!   every step's reward is raised by `|r_min|` (the v0 model's worst
//!   per-step reward), so rewards lie in `[0, r_max − r_min]`, and a hard
//!   breach simply ends the episode — it forfeits the alive rewards of the
//!   steps left. v0 charged `r_min` for every step left inside the breach
//!   transition: up to 600 worst rewards (−30 000 on PowerGrid), 2.8–7.9×
//!   the critic's whole value scale `(r_max − r_min)/(1 − γ)` on six of the
//!   seven processes. Reaching a true goal early (RobotAssembly's inserted
//!   peg) earns the alive rewards of the steps it saves. Every episode's v1
//!   return is its v0 return plus `horizon × |r_min|` (up to rounding), so
//!   rankings and normalized scores do not move; a bounded charge of
//!   1/(1 − γ) worst steps was measured and rejected: it lets RobotAssembly's
//!   random policy (which breaches early) return more than the expert.
//!
//! and for one process:
//! * **PowerGrid-v1** rate-limits the AGC set-point inside the plant, as
//!   the governor's load-reference motor does
//!   ([`super::power_grid::PowerGrid::with_setpoint_ramp_limit`]).
//!
//! A v1 model is the v0 model (with the plant change where there is one)
//! behind [`Versioned`], which only replaces the spec: the id, the breach
//! rule and the reference returns measured on v1.

use super::model::{EnvOptions, EnvRng, Model, Shutdown, Transition};
use super::spec::{BreachPenalty, EnvSpec};
use std::sync::Arc;

/// Processes whose v1 plant differs from v0's (beyond the spec). The
/// expensive property tests (the shield's long runs, reference returns of
/// the expert) run on v1 only for these; elsewhere v1 steps exactly as v0
/// and only the rewards differ (by the alive offset).
pub const V1_PLANT_CHANGED: &[&str] = &["PowerGrid"];

/// Whether `id` is a v1 id whose plant differs from its v0 plant.
pub fn v1_plant_changed(id: &str) -> bool {
    Version::of(id) == Some(Version::V1) && V1_PLANT_CHANGED.contains(&process_of(id))
}

/// Protocol version of an environment id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Version {
    V0,
    V1,
}

impl Version {
    /// The id suffix, `"-v0"` or `"-v1"`.
    pub fn suffix(self) -> &'static str {
        match self {
            Version::V0 => "-v0",
            Version::V1 => "-v1",
        }
    }

    /// The version of `id` (by its suffix), if it has one we know.
    pub fn of(id: &str) -> Option<Version> {
        [Version::V0, Version::V1]
            .into_iter()
            .find(|v| id.ends_with(v.suffix()))
    }
}

/// The process of an id, without its version: `"PowerGrid-v1"` → `"PowerGrid"`.
/// Controllers and estimators are per process, so they look ids up by it.
pub fn process_of(id: &str) -> &str {
    match Version::of(id) {
        Some(v) => &id[..id.len() - v.suffix().len()],
        None => id,
    }
}

/// Reference returns of the v1 ids: (id, random, expert), measured by
/// `rollout::reference::measure` (the test there re-measures them).
const V1_REFERENCE: &[(&str, f64, f64)] = &[
    ("ChemicalReactor-v1", 75.33784572827135, 1473.4204276482321),
    ("RobotAssembly-v1", 16.527339349023155, 707.5448807380973),
    ("HVACControl-v1", 1744.3492850957773, 6890.448423692711),
    ("WaterTreatment-v1", 56.18873094283289, 2010.384579629445),
    ("SteelAnnealing-v1", 10406.703525845582, 45323.48247761295),
    ("PowerGrid-v1", 19848.637705391982, 29097.002347097452),
    ("SupplyChain-v1", 597.5898162988171, 8983.809261429738),
];

/// A model under another spec: the v1 id, breach rule (the alive offset is
/// added by `env::core`, not here) and reference returns over an unchanged
/// (or v1-configured) plant.
#[derive(Debug)]
pub struct Versioned {
    inner: Arc<dyn Model>,
    spec: EnvSpec,
}

impl Versioned {
    /// `inner` (a v0 model, or one with its v1 plant change) as protocol v1.
    /// Reference returns: the measured ones of the registered v1 ids; for
    /// any other model (a `PowerGrid::with_topology` grid, say) v0's plus
    /// `horizon × offset`, exact when the plant is the v0 one.
    pub fn v1(inner: Arc<dyn Model>) -> Self {
        let mut spec = inner.spec().clone();
        let process = process_of(&spec.id).to_string();
        spec.id = format!("{process}{}", Version::V1.suffix());
        let (lo, hi) = spec.reward_range;
        spec.breach = BreachPenalty::Alive { offset: -lo };
        spec.reward_range = (0.0, hi - lo);
        let (random, expert) = V1_REFERENCE
            .iter()
            .find(|r| r.0 == spec.id)
            .map(|r| (r.1, r.2))
            .unwrap_or_else(|| {
                let shift = spec.horizon as f64 * -lo;
                (
                    spec.ref_random_return + shift,
                    spec.ref_expert_return + shift,
                )
            });
        spec.ref_random_return = random;
        spec.ref_expert_return = expert;
        Versioned { inner, spec }
    }
}

impl Model for Versioned {
    fn spec(&self) -> &EnvSpec {
        &self.spec
    }
    fn state_dim(&self) -> usize {
        self.inner.state_dim()
    }
    fn reset(&self, state: &mut [f64], rng: &mut EnvRng) {
        self.inner.reset(state, rng)
    }
    fn step(&self, state: &mut [f64], action: &[f64], rng: &mut EnvRng) -> Transition {
        self.inner.step(state, action, rng)
    }
    fn observe(&self, state: &[f64], obs: &mut [f32], rng: &mut EnvRng) {
        self.inner.observe(state, obs, rng)
    }
    fn constraints(&self, state: &[f64], out: &mut [f64]) {
        self.inner.constraints(state, out)
    }
    fn shield_constraints(&self, state: &[f64], out: &mut [f64]) {
        self.inner.shield_constraints(state, out)
    }
    fn safe_action(&self, state: &[f64], action: &mut [f64]) {
        self.inner.safe_action(state, action)
    }
    fn shutdown(&self) -> Option<&Shutdown> {
        self.inner.shutdown()
    }
    fn shutdown_step(&self, state: &mut [f64], k: usize, rng: &mut EnvRng) {
        self.inner.shutdown_step(state, k, rng)
    }
}

/// `build` (a process's v0 builder) as protocol v1.
pub fn v1_of(build: fn(EnvOptions) -> Arc<dyn Model>, options: EnvOptions) -> Arc<dyn Model> {
    Arc::new(Versioned::v1(build(options)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_and_version_of_ids() {
        assert_eq!(process_of("PowerGrid-v1"), "PowerGrid");
        assert_eq!(process_of("PowerGrid-v0"), "PowerGrid");
        assert_eq!(process_of("Tank-test"), "Tank-test");
        assert_eq!(Version::of("HVACControl-v1"), Some(Version::V1));
        assert_eq!(Version::of("HVACControl-v2"), None);
    }
}
