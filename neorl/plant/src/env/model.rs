//! The pure process model: `(state, action, rng) → (next state, reward)`.
//!
//! A [`Model`] owns no mutable state. The state vector, the RNG and the time
//! index belong to the caller ([`crate::env::Env`] for one episode,
//! [`crate::env::VecEnv`] for thousands in columns), as in gymnax and Brax.
//! The generic bookkeeping — validating and clipping actions, evaluating
//! constraints, cost, `terminated` vs `truncated` — is done once, in
//! [`crate::env::core`], so every environment follows the same rules.

use super::spec::EnvSpec;
use rand_chacha::ChaCha8Rng;
use std::fmt::Debug;

/// The random number generator every environment draws from. It is owned by
/// the caller and seeded explicitly, so that the same seed gives bit-identical
/// trajectories on every machine.
pub type EnvRng = ChaCha8Rng;

/// Options common to every environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EnvOptions {
    /// Add the documented Gaussian measurement noise to observations.
    pub sensor_noise: bool,
    /// Apply the documented stochastic disturbances (load changes, weather,
    /// demand, feed variations...). When off, the process is deterministic
    /// given the initial state.
    pub disturbances: bool,
}

impl Default for EnvOptions {
    fn default() -> Self {
        EnvOptions {
            sensor_noise: true,
            disturbances: true,
        }
    }
}

impl EnvOptions {
    /// No noise and no disturbances: for physics checks against closed forms.
    pub fn deterministic() -> Self {
        EnvOptions {
            sensor_noise: false,
            disturbances: false,
        }
    }
}

/// What one transition produced, besides the new state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transition {
    /// Economic / task reward of this step, within `spec().reward_range`.
    pub reward: f64,
    /// A true terminal state of the task (e.g. the peg is fully inserted),
    /// not a safety breach (those come from the hard constraints).
    pub terminal: bool,
}

/// A physics model of one industrial process.
///
/// Implementations must be deterministic functions of their inputs: every
/// random draw comes from the `rng` argument, and transcendental functions
/// come from the pure-Rust `libm` crate (the system libm differs across
/// platforms in the last bit).
pub trait Model: Send + Sync + Debug {
    /// The static description (spaces, constraints, reference returns).
    fn spec(&self) -> &EnvSpec;

    /// Length of the internal state vector (may include things the plant
    /// does not measure, the time of day, the previous action, ...).
    fn state_dim(&self) -> usize;

    /// Draw an initial state. `state.len() == state_dim()`.
    fn reset(&self, state: &mut [f64], rng: &mut EnvRng);

    /// Advance the process by one control interval `spec().dt` under `action`
    /// (finite, within the action bounds, `len == act_dim`), in place.
    fn step(&self, state: &mut [f64], action: &[f64], rng: &mut EnvRng) -> Transition;

    /// Write the observation of `state` (with sensor noise if enabled).
    fn observe(&self, state: &[f64], obs: &mut [f32], rng: &mut EnvRng);

    /// Write the value of each constraint's signal in `state`, in the order of
    /// `spec().constraints`. Must not allocate: the safety layer calls it on
    /// every step.
    fn constraints(&self, state: &[f64], out: &mut [f64]);

    /// The constraint values the safety shield's look-ahead checks
    /// (`crate::safety::shield`): by default [`Model::constraints`]; a
    /// model whose constraint signal jumps with arbitrarily small changes of
    /// the state (a contact force at first touch) writes a bound that
    /// covers both sides of the jump. Never smaller than `constraints` on
    /// the unsafe side.
    fn shield_constraints(&self, state: &[f64], out: &mut [f64]) {
        self.constraints(state, out);
    }

    /// The action that brings the plant to its safe state (emergency
    /// shutdown: coolant full open, burners off, arm braked, ...).
    fn safe_action(&self, state: &[f64], action: &mut [f64]);

    /// The plant's emergency shutdown beyond the policy's actuators — its
    /// safety instrumented function (SIF) — for a process whose real
    /// counterpart has one because its manipulated variables cannot always
    /// make it safe (a reactor dumps its feed and quenches). `None` (the
    /// default): the emergency stop applies [`Model::safe_action`].
    fn shutdown(&self) -> Option<&Shutdown> {
        None
    }

    /// Interval `k` (0 = the first) of the shutdown transient after a trip:
    /// the SIF's actuators override the policy's, in place. Called only
    /// when [`Model::shutdown`] is `Some`; must be deterministic given the
    /// state (no draw from `rng` may change it), so that the shield's
    /// prediction of the shutdown is exact.
    fn shutdown_step(&self, state: &mut [f64], k: usize, rng: &mut EnvRng) {
        let _ = (state, k, rng);
    }
}

/// The description of a plant's emergency shutdown ([`Model::shutdown`]).
///
/// Tripping it ends production: the episode terminates on the step of the
/// trip, which is charged `reward_per_step` for itself and for every step
/// left in the horizon (lost production), and one unit of cost. The
/// transient that follows (`steps` control intervals) is simulated at once
/// and checked against the hard limits: a shutdown that cannot keep them
/// is a hard breach like any other.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Shutdown {
    /// Short name, e.g. `"feed cut-off and quench"`.
    pub name: String,
    /// What the SIF does, its dynamics and its assumptions.
    pub description: String,
    /// Control intervals of the transient simulated after a trip (until
    /// the plant is at rest in its safe state).
    pub steps: usize,
    /// Reward of the step of the trip and of every step left after it.
    pub reward_per_step: f64,
    /// Where the action and its dynamics come from.
    pub sources: Vec<String>,
}
