//! The one estimator every process uses: nominal-model prediction and a
//! Gauss–Newton correction to the observation.
//!
//! ## Method
//!
//! Let `x̂` be the estimate of the plant's internal state, `f` the nominal
//! model's step (`crate::env::model(id, EnvOptions::deterministic())`: no
//! disturbance, no sensor noise) and `h` its observation function
//! ([`Model::observe`] without noise: the very function the plant uses, so
//! any scaling or normalisation of the observation is inverted, not
//! re-implemented). On each observation `y`:
//!
//! 1. **Predict.** With the action `u` applied since the previous
//!    observation (clipped to the action bounds, as the plant clips it):
//!    `x̂ ← f(x̂, u)`. On the first observation of a run there is no
//!    previous estimate; `x̂` starts from the nominal model's initial state
//!    (its `reset` with a fixed seed). Before predicting, the *hidden*
//!    components (correctable, but seen by no observation: a thermal mass,
//!    a load level, a torque disturbance) are moved by
//!    [`Layout::hidden_gain`] times the least-squares change that makes
//!    the one-step prediction `h(f(x̂, u))` reproduce `y` (Jacobian by
//!    central differences through the model's step). The gain is a
//!    per-process choice, measured (see the module docs of
//!    [`super`]); 0 leaves them to the prediction alone.
//! 2. **Correct.** Only the *correctable* state components `C` (every
//!    component except those the process lists as not correctable: time
//!    and step counters, indices of discrete schedules, whose influence on
//!    the observation is a jump, not a slope) are moved. With the Jacobian
//!    `H = ∂h/∂x_C` at `x̂` (central differences, step `10⁻² · max(1, |x̂ᵢ|)`
//!    so that the `f32` observation's rounding stays below 10⁻⁵ of the
//!    slope) and the innovation `ν = y − h(x̂)`, the step is the
//!    least-squares one, `Δ = argmin ‖H Δ − ν‖² + λ‖Δ‖²`, with `λ` a
//!    vanishing ridge (10⁻¹⁰ of the largest diagonal of `HᵀH`) that makes
//!    `Δ` the minimum-norm solution where the observation does not
//!    determine the state. Columns of `H` that are zero (a state no
//!    observation sees) are not moved at all. The step is taken
//!    [`GN_ITERATIONS`] times (three on the first observation), which
//!    makes it exact for an observation linear in the state and
//!    converged to rounding for the robot's kinematics.
//!
//! What this does per kind of state:
//!
//! - **Measured** (an observation is a copy of the state, possibly scaled:
//!   a temperature, a level, a frequency in Hz from per-unit): the
//!   corrected estimate equals the measurement — exact inversion, with the
//!   measurement's noise, nothing filtered. A server whose shield must
//!   see the plant as the sensors do gets what the sensors say.
//! - **Inferred** (only a combination is observed: a pipeline's total, a
//!   seven-day mean, the mechanical power of a two-stage turbine, the
//!   outdoor temperature as the sum of season, front and weather): the
//!   prediction is moved by the smallest change that reproduces the
//!   observation.
//! - **Predicted** (nothing observed: a hidden thermal mass, the feed's
//!   concentration, a load disturbance, a payload): the nominal model's
//!   prediction from the previous estimate and the applied action. A
//!   disturbance state of this kind stays at its nominal value.
//!
//! Two per-process additions ([`Layout`]): components constant over a
//! run (the robot's hole) are the running mean of their corrections, so
//! the sensor noise averages out; and a `refine` function applies what the
//! process knows beyond the slope of `h` (the steel line's grades from the
//! observed soak targets, the reactor's future set-points held at the
//! current one).
//!
//! The estimator assumes it sees a run from its first observation (the
//! counters start where the nominal model's reset puts them); a gap in the
//! observations is a new run (`reset`).

use crate::env::{EnvOptions, EnvRng, Model};
use crate::error::{Error, Result};
use rand::SeedableRng;
use std::sync::Arc;

use super::{Origin, StateEstimator, StateSource};

/// Gauss–Newton steps per observation after the first.
pub const GN_ITERATIONS: usize = 2;
/// Gauss–Newton steps on the first observation of a run (the prediction
/// is the nominal initial state, possibly far from the plant's).
pub const GN_ITERATIONS_FIRST: usize = 3;

/// A process's own refinement of the estimate from the observation
/// ([`Layout::refine`]).
pub type Refine = fn(obs: &[f32], state: &mut [f64]);

/// What a process tells the generic estimator.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The process id.
    pub env_id: &'static str,
    /// State components the correction must not move, each with the
    /// reason: counters and indices of discrete schedules (a jump, not a
    /// slope), catalogue data and parameters held at their nominal value,
    /// components whose share of an innovation another one takes.
    pub fixed: Vec<(usize, &'static str)>,
    /// A name for each state component, where the process's file gives one.
    pub names: Vec<(usize, String)>,
    /// Notes on how a predicted state evolves in the nominal model.
    pub notes: Vec<(usize, &'static str)>,
    /// Measured states that are constant over a run (a fixture's
    /// position): estimated as the running mean of their corrections, so
    /// the sensor noise averages out instead of being passed on.
    pub constant: Vec<usize>,
    /// What the process knows beyond the generic correction, applied after
    /// it: a catalogue look-up inverted (a grade from its target), a
    /// schedule held at its last observed value.
    pub refine: Option<Refine>,
    /// Fraction of the hidden states' one-step least-squares change taken
    /// per observation (0: hidden states are only predicted; 1: the whole
    /// one-step innovation is attributed to them, noise included).
    pub hidden_gain: f64,
}

/// The generic estimator: nominal-model prediction and Gauss–Newton
/// correction (see the module docs).
#[derive(Debug)]
pub struct ModelObserver {
    layout: Layout,
    model: Arc<dyn Model>,
    correctable: Vec<bool>,
    estimate: Vec<f64>,
    started: bool,
    rng: EnvRng,
    // Work buffers.
    action: Vec<f64>,
    y_hat: Vec<f32>,
    y_plus: Vec<f32>,
    y_minus: Vec<f32>,
    jac: Vec<f64>,
    active: Vec<usize>,
    normal: Vec<f64>,
    rhs: Vec<f64>,
    nu: Vec<f64>,
    hidden: Vec<usize>,
    saved: Vec<f64>,
    seen: u64,
    probe: Vec<f64>,
}

impl ModelObserver {
    /// The estimator for the process of `layout`, on its nominal model.
    pub fn new(layout: Layout) -> Result<Self> {
        let model = crate::env::model(layout.env_id, EnvOptions::deterministic())?;
        let n = model.state_dim();
        let m = model.spec().obs_dim();
        let mut correctable = vec![true; n];
        for &(i, _) in &layout.fixed {
            correctable[i] = false;
        }
        let mut me = ModelObserver {
            correctable,
            estimate: vec![0.0; n],
            started: false,
            rng: EnvRng::seed_from_u64(0),
            action: vec![0.0; model.spec().act_dim()],
            y_hat: vec![0.0; m],
            y_plus: vec![0.0; m],
            y_minus: vec![0.0; m],
            jac: vec![0.0; m * n],
            active: Vec::with_capacity(n),
            normal: vec![0.0; n * n],
            rhs: vec![0.0; n],
            nu: vec![0.0; m],
            hidden: vec![],
            saved: vec![0.0; n],
            seen: 0,
            probe: vec![0.0; n],
            layout,
            model,
        };
        // Hidden: correctable components no observation depends on (at
        // the nominal initial state).
        let mut rng = EnvRng::seed_from_u64(0);
        me.model.reset(&mut me.estimate, &mut rng);
        me.jacobian();
        me.hidden = (0..n)
            .filter(|&j| me.correctable[j] && (0..m).all(|i| me.jac[i * n + j] == 0.0))
            .collect();
        Ok(me)
    }

    /// `H = ∂h/∂x_C` at the current estimate into `self.jac`.
    fn jacobian(&mut self) {
        let mut probe = std::mem::take(&mut self.probe);
        probe.copy_from_slice(&self.estimate);
        jacobian(
            self.model.as_ref(),
            &self.correctable,
            &mut probe,
            (&mut self.y_plus, &mut self.y_minus),
            &mut self.jac,
            &mut self.rng,
        );
        self.probe = probe;
    }

    /// One Gauss–Newton step toward `obs`.
    fn correct(&mut self, obs: &[f32]) {
        self.jacobian();
        self.model
            .observe(&self.estimate, &mut self.y_hat, &mut self.rng);
        for (v, (&y, &yh)) in self.nu.iter_mut().zip(obs.iter().zip(&self.y_hat)) {
            *v = y as f64 - yh as f64;
        }
        if self.least_squares() {
            for a in 0..self.active.len() {
                self.estimate[self.active[a]] += self.rhs[a];
            }
        }
    }

    /// The hidden states' step: move the previous estimate's hidden
    /// components (`self.hidden`) by the least-squares change that makes
    /// the prediction through one step of the nominal model, `h(f(x̂, u))`,
    /// reproduce `obs`; then predict.
    fn predict_with_hidden(&mut self, obs: &[f32]) {
        let (m, n) = (self.y_hat.len(), self.estimate.len());
        if !self.hidden.is_empty() && self.layout.hidden_gain > 0.0 {
            self.saved.copy_from_slice(&self.estimate);
            let mut x = std::mem::take(&mut self.probe);
            x.copy_from_slice(&self.estimate);
            self.model.step(&mut x, &self.action, &mut self.rng);
            self.model.observe(&x, &mut self.y_hat, &mut self.rng);
            for (v, (&y, &yh)) in self.nu.iter_mut().zip(obs.iter().zip(&self.y_hat)) {
                *v = y as f64 - yh as f64;
            }
            self.jac.fill(0.0);
            for &j in &self.hidden {
                let d = 1e-2 * self.estimate[j].abs().max(1.0);
                for (sign, out) in [(1.0, &mut self.y_plus), (-1.0, &mut self.y_minus)] {
                    x.copy_from_slice(&self.estimate);
                    x[j] += sign * d;
                    self.model.step(&mut x, &self.action, &mut self.rng);
                    self.model.observe(&x, out, &mut self.rng);
                }
                for i in 0..m {
                    let s = (self.y_plus[i] as f64 - self.y_minus[i] as f64) / (2.0 * d);
                    self.jac[i * n + j] = if s.is_finite() { s } else { 0.0 };
                }
            }
            if self.least_squares() {
                for a in 0..self.active.len() {
                    self.estimate[self.active[a]] += self.layout.hidden_gain * self.rhs[a];
                }
            }
            // A change that makes the prediction non-finite (a contact
            // model driven outside its range) is not taken.
            x.copy_from_slice(&self.estimate);
            self.model.step(&mut x, &self.action, &mut self.rng);
            let finite = x.iter().all(|v| v.is_finite());
            self.probe = x;
            if !finite {
                self.probe.copy_from_slice(&self.estimate);
                for &j in &self.hidden {
                    self.estimate[j] = self.saved[j];
                }
            }
        }
        self.model
            .step(&mut self.estimate, &self.action, &mut self.rng);
    }

    /// Solve `min ‖H Δ − ν‖² + λ‖Δ‖²` over the columns of `self.jac` that
    /// are not zero (listed into `self.active`); `Δ` into `self.rhs`.
    /// `false` if no column is active or the system is singular.
    fn least_squares(&mut self) -> bool {
        let (m, n) = (self.y_hat.len(), self.estimate.len());
        self.active.clear();
        for j in 0..n {
            if (0..m).any(|i| self.jac[i * n + j] != 0.0) {
                self.active.push(j);
            }
        }
        let k = self.active.len();
        if k == 0 {
            return false;
        }
        // Normal equations (HᵀH + λI) Δ = Hᵀν over the active columns.
        let mut max_diag: f64 = 0.0;
        for a in 0..k {
            let ja = self.active[a];
            let mut r = 0.0;
            for i in 0..m {
                r += self.jac[i * n + ja] * self.nu[i];
            }
            self.rhs[a] = r;
            for b in 0..k {
                let jb = self.active[b];
                let mut s = 0.0;
                for i in 0..m {
                    s += self.jac[i * n + ja] * self.jac[i * n + jb];
                }
                self.normal[a * k + b] = s;
            }
            max_diag = max_diag.max(self.normal[a * k + a]);
        }
        let lambda = 1e-10 * max_diag + 1e-300;
        for a in 0..k {
            self.normal[a * k + a] += lambda;
        }
        solve(&mut self.normal[..k * k], &mut self.rhs[..k], k)
    }

    /// The same estimator with another hidden-state gain (see
    /// [`Layout::hidden_gain`]); `gain` in `[0, 1]`.
    pub fn with_hidden_gain(mut self, gain: f64) -> Result<Self> {
        if !(0.0..=1.0).contains(&gain) {
            return Err(Error::InvalidArgument(format!(
                "{} estimator: hidden-state gain {gain} is outside [0, 1]; 0 only predicts hidden states, 1 takes the whole one-step correction",
                self.layout.env_id
            )));
        }
        self.layout.hidden_gain = gain;
        Ok(self)
    }

    fn state_name(&self, i: usize) -> String {
        self.layout
            .names
            .iter()
            .find(|(j, _)| *j == i)
            .map(|(_, s)| s.clone())
            .unwrap_or_else(|| format!("state[{i}]"))
    }
}

/// `H = ∂h/∂x_C` at `x` (the observation's Jacobian in the correctable
/// columns; zero elsewhere) into `jac` (row-major, `m × n`), by central
/// differences of step `10⁻² · max(1, |xⱼ|)`. `x` is restored on return.
fn jacobian(
    model: &dyn Model,
    correctable: &[bool],
    x: &mut [f64],
    (y_plus, y_minus): (&mut [f32], &mut [f32]),
    jac: &mut [f64],
    rng: &mut EnvRng,
) {
    let (m, n) = (y_plus.len(), x.len());
    jac.fill(0.0);
    for j in (0..n).filter(|&j| correctable[j]) {
        let x0 = x[j];
        let d = 1e-2 * x0.abs().max(1.0);
        x[j] = x0 + d;
        model.observe(x, y_plus, rng);
        x[j] = x0 - d;
        model.observe(x, y_minus, rng);
        x[j] = x0;
        for i in 0..m {
            let s = (y_plus[i] as f64 - y_minus[i] as f64) / (2.0 * d);
            jac[i * n + j] = if s.is_finite() { s } else { 0.0 };
        }
    }
}

/// Solve the symmetric positive definite system `a x = b` (`k × k`,
/// row-major) in place by Gaussian elimination with partial pivoting;
/// `b` receives `x`. Returns `false` (and leaves garbage) if it is
/// singular.
fn solve(a: &mut [f64], b: &mut [f64], k: usize) -> bool {
    for c in 0..k {
        let mut p = c;
        for r in c + 1..k {
            if a[r * k + c].abs() > a[p * k + c].abs() {
                p = r;
            }
        }
        if a[p * k + c] == 0.0 || !a[p * k + c].is_finite() {
            return false;
        }
        if p != c {
            for j in 0..k {
                a.swap(c * k + j, p * k + j);
            }
            b.swap(c, p);
        }
        let piv = a[c * k + c];
        for r in c + 1..k {
            let f = a[r * k + c] / piv;
            if f != 0.0 {
                for j in c..k {
                    a[r * k + j] -= f * a[c * k + j];
                }
                b[r] -= f * b[c];
            }
        }
    }
    for c in (0..k).rev() {
        let mut s = b[c];
        for j in c + 1..k {
            s -= a[c * k + j] * b[j];
        }
        b[c] = s / a[c * k + c];
    }
    b.iter().all(|v| v.is_finite())
}

impl StateEstimator for ModelObserver {
    fn env_id(&self) -> &str {
        self.layout.env_id
    }

    fn reset(&mut self) {
        self.started = false;
    }

    fn update(&mut self, obs: &[f32], applied: Option<&[f32]>, state: &mut [f64]) -> Result<()> {
        let spec = self.model.spec();
        let id = self.layout.env_id;
        super::check_len(id, "observation", obs.len(), spec.obs_dim())?;
        super::check_len(id, "state buffer", state.len(), self.estimate.len())?;
        if let Some(i) = obs.iter().position(|v| !v.is_finite()) {
            return Err(Error::InvalidArgument(format!(
                "{id} estimator: observation[{i}] ({}) is {}; send the plant's measured values (a failed sensor must be handled before the estimator)",
                spec.observations[i].name, obs[i]
            )));
        }
        match (applied, self.started) {
            (Some(u), true) => {
                super::check_len(id, "applied action", u.len(), spec.act_dim())?;
                if let Some(i) = u.iter().position(|v| !v.is_finite()) {
                    return Err(Error::InvalidArgument(format!(
                        "{id} estimator: applied action[{i}] ({}) is {}; pass the action the plant really received",
                        spec.actions[i].name, u[i]
                    )));
                }
                for ((a, &v), d) in self.action.iter_mut().zip(u).zip(&spec.actions) {
                    *a = (v as f64).clamp(d.low, d.high);
                }
                self.predict_with_hidden(obs);
                for &j in &self.layout.constant {
                    self.saved[j] = self.estimate[j];
                }
                for _ in 0..GN_ITERATIONS {
                    self.correct(obs);
                }
            }
            (None, _) => {
                self.model
                    .reset(&mut self.estimate, &mut EnvRng::seed_from_u64(0));
                self.started = true;
                self.seen = 0;
                for _ in 0..GN_ITERATIONS_FIRST {
                    self.correct(obs);
                }
            }
            (Some(_), false) => {
                return Err(Error::InvalidArgument(format!(
                    "{id} estimator: an applied action came with the first observation of a run; pass None for the first observation after reset()"
                )));
            }
        }
        // Running means of the constants (`self.saved` holds their values
        // before this observation's correction).
        self.seen += 1;
        if self.seen > 1 {
            let k = self.seen as f64;
            for &j in &self.layout.constant {
                self.estimate[j] = self.saved[j] + (self.estimate[j] - self.saved[j]) / k;
            }
        }
        if let Some(refine) = self.layout.refine {
            refine(obs, &mut self.estimate);
        }
        if let Some(i) = self.estimate.iter().position(|v| !v.is_finite()) {
            self.started = false;
            return Err(Error::InvalidArgument(format!(
                "{id} estimator: the estimate of {} is no longer finite (the observations are inconsistent with the model); reset() the estimator and start a new run",
                self.state_name(i)
            )));
        }
        state.copy_from_slice(&self.estimate);
        Ok(())
    }

    fn describe(&self) -> Vec<StateSource> {
        // Classify at the nominal initial state.
        let (m, n) = (self.y_hat.len(), self.estimate.len());
        let mut rng = EnvRng::seed_from_u64(0);
        let mut x = vec![0.0; n];
        self.model.reset(&mut x, &mut rng);
        let (mut yp, mut ym, mut jac) = (vec![0.0; m], vec![0.0; m], vec![0.0; m * n]);
        jacobian(
            self.model.as_ref(),
            &self.correctable,
            &mut x,
            (&mut yp, &mut ym),
            &mut jac,
            &mut rng,
        );
        // An observation measures a state directly only if no other state,
        // corrected or not, moves it.
        let mut full = vec![0.0; m * n];
        jacobian(
            self.model.as_ref(),
            &vec![true; n],
            &mut x,
            (&mut yp, &mut ym),
            &mut full,
            &mut rng,
        );
        let spec = self.model.spec();
        (0..n)
            .map(|j| {
                let seen: Vec<usize> = (0..m).filter(|&i| jac[i * n + j] != 0.0).collect();
                let direct = seen.iter().copied().find(|&i| {
                    (0..n).all(|l| l == j || full[i * n + l] == 0.0)
                });
                let fixed = self.layout.fixed.iter().find(|(i, _)| *i == j);
                let note = self.layout.notes.iter().find(|(i, _)| *i == j).map(|(_, s)| *s);
                let (origin, method) = if let Some((_, why)) = fixed {
                    (
                        Origin::Predicted,
                        format!("not corrected ({why}); advanced by the nominal model from the run's start"),
                    )
                } else if let Some(i) = direct {
                    let scale = jac[i * n + j];
                    (
                        Origin::Measured {
                            obs: i,
                            scale,
                        },
                        format!(
                            "measured: observation {} ({}) = {scale} × state{}",
                            i,
                            spec.observations[i].name,
                            if seen.len() > 1 { ", least squares with the other observations that see it" } else { "" }
                        ),
                    )
                } else if !seen.is_empty() {
                    let names: Vec<&str> = seen.iter().map(|&i| spec.observations[i].name.as_str()).collect();
                    (
                        Origin::Inferred { obs: seen.clone() },
                        format!(
                            "inferred: predicted by the nominal model, then moved by the smallest change that reproduces {}",
                            names.join(", ")
                        ),
                    )
                } else if self.hidden.contains(&j) && self.layout.hidden_gain > 0.0 {
                    (
                        Origin::Hidden {
                            gain: self.layout.hidden_gain,
                        },
                        format!(
                            "hidden: predicted by the nominal model, then moved by {} of the least-squares change that makes the next observation's one-step prediction match it{}",
                            self.layout.hidden_gain,
                            note.map(|s| format!("; {s}")).unwrap_or_default()
                        ),
                    )
                } else {
                    (
                        Origin::Predicted,
                        format!(
                            "unmeasured: predicted by the nominal model (no disturbance) from the previous estimate and the applied action{}",
                            note.map(|s| format!("; {s}")).unwrap_or_default()
                        ),
                    )
                };
                StateSource {
                    index: j,
                    name: self.state_name(j),
                    origin,
                    method,
                }
            })
            .collect()
    }
}
