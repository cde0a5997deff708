//! The rules every environment shares, written once: action validation and
//! clipping, constraint evaluation, cost, and the `terminated` / `truncated`
//! split. Used by the single [`super::Env`] and the batched [`super::VecEnv`],
//! so both produce bit-identical results. Nothing here allocates.

use super::model::{EnvRng, Model};
use super::spec::{BreachPenalty, ConstraintKind, EnvSpec};
use crate::error::{Error, Result};

/// Outcome of one step, without the observation and constraint arrays (those
/// are written into caller-owned buffers).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StepOutcome {
    /// Reward, including the hard-violation penalty when one happened.
    pub reward: f64,
    /// Number of constraints (soft and hard) violated after this step.
    pub cost: f64,
    /// Hard-constraint breach (emergency stop) or a true terminal state.
    pub terminated: bool,
    /// Time limit reached without termination.
    pub truncated: bool,
    /// A hard constraint was crossed.
    pub hard_violation: bool,
    /// Some action component was outside its bounds and was clipped.
    pub clipped: bool,
    /// The plant's emergency shutdown ([`super::Model::shutdown`]) was
    /// tripped on this step; the episode is over.
    pub shutdown: bool,
}

/// Check length and finiteness of `action`. Errors leave everything unchanged.
pub fn validate_action(spec: &EnvSpec, action: &[f32]) -> Result<()> {
    if action.len() != spec.act_dim() {
        return Err(Error::ActionShape {
            env: spec.id.clone(),
            got: action.len(),
            expected: spec.act_dim(),
            names: spec.action_names(),
        });
    }
    for (i, &a) in action.iter().enumerate() {
        if !a.is_finite() {
            return Err(Error::NonFiniteAction {
                env: spec.id.clone(),
                index: i,
                name: spec.actions[i].name.clone(),
                value: a,
            });
        }
    }
    Ok(())
}

/// Clip a validated action into `out`; returns whether any component moved.
#[inline]
pub fn clip_action(spec: &EnvSpec, action: &[f32], out: &mut [f64]) -> bool {
    let mut clipped = false;
    for ((o, &a), d) in out.iter_mut().zip(action).zip(&spec.actions) {
        let a = a as f64;
        let c = a.clamp(d.low, d.high);
        clipped |= c != a;
        *o = c;
    }
    clipped
}

/// Evaluate constraint values into `values`; returns (cost, hard violation).
#[inline]
pub fn evaluate_constraints(
    model: &dyn Model,
    spec: &EnvSpec,
    state: &[f64],
    values: &mut [f64],
) -> (f64, bool) {
    model.constraints(state, values);
    let mut cost = 0.0;
    let mut hard = false;
    for (c, &v) in spec.constraints.iter().zip(values.iter()) {
        if c.violated(v) {
            cost += 1.0;
            hard |= c.kind == ConstraintKind::Hard;
        }
    }
    (cost, hard)
}

/// Advance one environment by one step with an already clipped action.
///
/// `t` is the number of steps taken so far in the episode and is incremented.
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn advance(
    model: &dyn Model,
    spec: &EnvSpec,
    state: &mut [f64],
    t: &mut usize,
    action: &[f64],
    rng: &mut EnvRng,
    constraint_values: &mut [f64],
    obs: &mut [f32],
) -> StepOutcome {
    let tr = model.step(state, action, rng);
    *t += 1;
    let (cost, hard) = evaluate_constraints(model, spec, state, constraint_values);
    model.observe(state, obs, rng);
    let mut reward = tr.reward;
    match spec.breach {
        // v0: charge the worst per-step reward for every step left, so that
        // a breach can never be a shortcut to a better return.
        BreachPenalty::RemainingHorizon => {
            if hard {
                reward += spec.reward_range.0 * spec.horizon.saturating_sub(*t) as f64;
            }
        }
        // v1: every step earns the alive offset, which a breach forfeits;
        // reaching the task's goal early earns it for the steps it saves,
        // so that finishing sooner is never worse than dawdling.
        BreachPenalty::Alive { offset } => {
            reward += offset;
            if tr.terminal && !hard {
                reward += offset * spec.horizon.saturating_sub(*t) as f64;
            }
        }
    }
    let terminated = hard || tr.terminal;
    StepOutcome {
        reward,
        cost,
        terminated,
        truncated: !terminated && *t >= spec.horizon,
        hard_violation: hard,
        clipped: false,
        shutdown: false,
    }
}

/// Trip the plant's emergency shutdown ([`super::Model::shutdown`]) instead
/// of a step: simulate its transient, checking the hard limits on every
/// interval, and end the episode.
///
/// `constraint_values` receives the most adverse value of each constraint
/// over the transient (the peak temperature of a quench, say), so the
/// monitor and the audit log see what the shutdown went through; the
/// observation is the plant's at the end. `t` advances by one: the trip
/// takes the step it replaces. Reward (protocol v0): `reward_per_step` for
/// this step and every step left (lost production), or the worst reward for
/// them if a hard limit was crossed; (v1, [`BreachPenalty::Alive`]):
/// `reward_per_step` plus the alive offset for the trip's step only, or 0 if
/// a hard limit was crossed — the alive rewards of the steps left are lost.
/// Cost: one for the trip, plus one per hard limit crossed. Returns `None`
/// for a model without a shutdown.
#[allow(clippy::too_many_arguments)]
pub fn shut_down(
    model: &dyn Model,
    spec: &EnvSpec,
    state: &mut [f64],
    t: &mut usize,
    rng: &mut EnvRng,
    constraint_values: &mut [f64],
    peak: &mut [f64],
    obs: &mut [f32],
) -> Option<StepOutcome> {
    let sd = model.shutdown()?;
    model.constraints(state, peak);
    for k in 0..sd.steps {
        model.shutdown_step(state, k, rng);
        model.constraints(state, constraint_values);
        for ((p, &v), c) in peak
            .iter_mut()
            .zip(constraint_values.iter())
            .zip(&spec.constraints)
        {
            if c.margin(v) < c.margin(*p) || v.is_nan() {
                *p = v;
            }
        }
    }
    let left = spec.horizon.saturating_sub(*t) as f64;
    *t += 1;
    constraint_values.copy_from_slice(peak);
    let mut crossed = 0.0;
    for (c, &v) in spec.constraints.iter().zip(peak.iter()) {
        if c.kind == ConstraintKind::Hard && c.violated(v) {
            crossed += 1.0;
        }
    }
    model.observe(state, obs, rng);
    let hard = crossed > 0.0;
    let reward = match (spec.breach, hard) {
        (BreachPenalty::RemainingHorizon, true) => spec.reward_range.0 * left.max(1.0),
        (BreachPenalty::RemainingHorizon, false) => sd.reward_per_step * left.max(1.0),
        // v1: the trip's own step, with the alive offset; the steps left
        // earn nothing (lost production), a breach not even the step.
        (BreachPenalty::Alive { .. }, true) => 0.0,
        (BreachPenalty::Alive { offset }, false) => sd.reward_per_step + offset,
    };
    Some(StepOutcome {
        reward,
        cost: 1.0 + crossed,
        terminated: true,
        truncated: false,
        hard_violation: hard,
        clipped: false,
        shutdown: true,
    })
}
