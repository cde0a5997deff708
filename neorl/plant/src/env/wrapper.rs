//! [`Env`]: the stateful, Gymnasium-style wrapper around a pure [`Model`].

use super::core::{self, StepOutcome};
use super::model::{EnvOptions, EnvRng, Model};
use super::spec::EnvSpec;
use crate::error::{Error, Result};
use rand::SeedableRng;
use std::sync::Arc;

/// Extra information about a step, as Gymnasium's `info` dict.
#[derive(Debug, Clone, PartialEq)]
pub struct StepInfo {
    /// Value of each constraint's signal after the step (order of `spec.constraints`).
    pub constraint_values: Vec<f64>,
    /// Whether each constraint is violated after the step.
    pub violations: Vec<bool>,
    /// The action actually applied (after clipping).
    pub applied_action: Vec<f64>,
    /// Whether the action was clipped to the bounds.
    pub clipped: bool,
    /// A hard constraint was breached (the episode terminated because of it).
    pub hard_violation: bool,
    /// Steps taken in this episode, this one included.
    pub t: usize,
}

/// Result of [`Env::step`].
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub obs: Vec<f32>,
    pub reward: f64,
    /// Number of constraints violated after this step.
    pub cost: f64,
    /// Hard breach (emergency stop) or a true terminal state.
    pub terminated: bool,
    /// Time limit reached.
    pub truncated: bool,
    pub info: StepInfo,
}

impl Step {
    /// `terminated || truncated`.
    pub fn done(&self) -> bool {
        self.terminated || self.truncated
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    NotReset,
    Running,
    Done,
}

/// One environment instance: a model plus its state, RNG and clock.
#[derive(Debug, Clone)]
pub struct Env {
    model: Arc<dyn Model>,
    options: EnvOptions,
    state: Vec<f64>,
    rng: EnvRng,
    t: usize,
    phase: Phase,
    obs: Vec<f32>,
    constraint_values: Vec<f64>,
    peak: Vec<f64>,
    action: Vec<f64>,
}

impl Env {
    /// Wrap a model (see [`crate::make`] for the registry).
    pub fn new(model: Arc<dyn Model>, options: EnvOptions) -> Self {
        let spec = model.spec();
        let (od, ad, nc) = (spec.obs_dim(), spec.act_dim(), spec.n_constraints());
        let sd = model.state_dim();
        Env {
            model,
            options,
            state: vec![0.0; sd],
            rng: EnvRng::seed_from_u64(0),
            t: 0,
            phase: Phase::NotReset,
            obs: vec![0.0; od],
            constraint_values: vec![0.0; nc],
            peak: vec![0.0; nc],
            action: vec![0.0; ad],
        }
    }

    pub fn spec(&self) -> &EnvSpec {
        self.model.spec()
    }

    pub fn options(&self) -> EnvOptions {
        self.options
    }

    /// The underlying pure model (shared, immutable).
    pub fn model(&self) -> &Arc<dyn Model> {
        &self.model
    }

    /// Start a new episode from a seed; returns the first observation.
    pub fn reset(&mut self, seed: u64) -> Vec<f32> {
        self.rng = EnvRng::seed_from_u64(seed);
        self.reset_continue()
    }

    /// Start a new episode continuing the current RNG stream (Gymnasium's
    /// `reset(seed=None)`).
    pub fn reset_continue(&mut self) -> Vec<f32> {
        self.model.reset(&mut self.state, &mut self.rng);
        self.t = 0;
        self.phase = Phase::Running;
        self.model
            .constraints(&self.state, &mut self.constraint_values);
        self.model
            .observe(&self.state, &mut self.obs, &mut self.rng);
        self.obs.clone()
    }

    /// Apply one action. Bad actions (wrong length, NaN/Inf) are errors and
    /// leave the state unchanged; out-of-bounds actions are clipped and
    /// reported in `info.clipped`.
    pub fn step(&mut self, action: &[f32]) -> Result<Step> {
        let out = self.step_in_place(action)?;
        let spec = self.model.spec();
        Ok(Step {
            obs: self.obs.clone(),
            reward: out.reward,
            cost: out.cost,
            terminated: out.terminated,
            truncated: out.truncated,
            info: StepInfo {
                constraint_values: self.constraint_values.clone(),
                violations: spec
                    .constraints
                    .iter()
                    .zip(&self.constraint_values)
                    .map(|(c, &v)| c.violated(v))
                    .collect(),
                applied_action: self.action.clone(),
                clipped: out.clipped,
                hard_violation: out.hard_violation,
                t: self.t,
            },
        })
    }

    /// As [`Env::step`] without allocating: the observation and constraint
    /// values are left in [`Env::observation`] and [`Env::constraint_values`].
    pub fn step_in_place(&mut self, action: &[f32]) -> Result<StepOutcome> {
        self.check_running()?;
        let spec = self.model.spec();
        core::validate_action(spec, action)?;
        let clipped = core::clip_action(spec, action, &mut self.action);
        let mut out = core::advance(
            self.model.as_ref(),
            spec,
            &mut self.state,
            &mut self.t,
            &self.action,
            &mut self.rng,
            &mut self.constraint_values,
            &mut self.obs,
        );
        out.clipped = clipped;
        if out.terminated || out.truncated {
            self.phase = Phase::Done;
        }
        Ok(out)
    }

    /// Trip the plant's emergency shutdown ([`Model::shutdown`]) in place
    /// of a step: its transient is simulated and checked against the hard
    /// limits, and the episode ends (see [`core::shut_down`] for the reward,
    /// the cost and the constraint values reported). An error for a plant
    /// without one, or outside an episode.
    pub fn shut_down(&mut self) -> Result<StepOutcome> {
        self.check_running()?;
        let spec = self.model.spec();
        let out = core::shut_down(
            self.model.as_ref(),
            spec,
            &mut self.state,
            &mut self.t,
            &mut self.rng,
            &mut self.constraint_values,
            &mut self.peak,
            &mut self.obs,
        )
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "{} has no emergency shutdown beyond its actuators; its emergency stop applies the safe action (Model::safe_action)",
                spec.id
            ))
        })?;
        self.phase = Phase::Done;
        Ok(out)
    }

    /// An error unless an episode is running (reset, not over).
    /// Allocates nothing unless it fails (the step is allocation-free).
    fn check_running(&self) -> Result<()> {
        let env = || self.model.spec().id.clone();
        match self.phase {
            Phase::Running => Ok(()),
            Phase::NotReset => Err(Error::NotReset { env: env() }),
            Phase::Done => Err(Error::EpisodeOver { env: env() }),
        }
    }

    /// The latest observation.
    pub fn observation(&self) -> &[f32] {
        &self.obs
    }

    /// The latest constraint values (order of `spec().constraints`).
    pub fn constraint_values(&self) -> &[f64] {
        &self.constraint_values
    }

    /// The full internal state (for analysis, the safety shield's look-ahead
    /// and tests; not observable on a real plant).
    pub fn state(&self) -> &[f64] {
        &self.state
    }

    /// Steps taken in the current episode.
    pub fn t(&self) -> usize {
        self.t
    }

    /// Whether the current episode has ended.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// The current RNG (e.g. to clone it for a look-ahead).
    pub fn rng(&self) -> &EnvRng {
        &self.rng
    }
}
