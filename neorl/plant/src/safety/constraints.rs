//! The constraint hierarchy of one environment, built from its [`EnvSpec`].
//!
//! Three levels, strictest first:
//!
//! 1. **Hard** constraints must never be crossed. Crossing one ends the
//!    episode (the plant's interlock) and trips the emergency stop; the
//!    shield's look-ahead exists to keep them satisfied.
//! 2. **Soft** constraints are penalised: each step one is crossed adds to
//!    the step's cost. The shield does not enforce them.
//! 3. **Preferences** are the objective weights: how the monitor combines
//!    reward and soft cost into the penalised objective it tracks
//!    (`reward_weight × reward − cost_weight × soft cost`), and how the shield
//!    weighs action dimensions when it reports the size of a correction.
//!
//! Margins are in each constraint's own unit (positive = satisfied). To
//! compare constraints with different units — which limit is nearest, when
//! to raise a warning — each margin is also divided by a **scale**: the
//! constraint's nominal clearance, i.e. the median margin over initial
//! states drawn from the model (a temperature 100 K below its limit at the
//! operating point has scale 100 K). A normalised margin of 0.25 therefore
//! reads "a quarter of the usual clearance is left". Scales can be set by
//! hand with [`ConstraintHierarchy::set_scale`].
//!
//! [`ConstraintHierarchy::check`] evaluates everything in one pass over
//! caller-owned buffers and allocates nothing (`neorl bench safety` reports
//! its cost per environment: tens of nanoseconds).

use crate::env::{ConstraintKind, ConstraintSpec, EnvRng, EnvSpec, Model};
use crate::error::{Error, Result};
use rand::SeedableRng;
use serde::Serialize;

/// Whether a margin means the limit is crossed (negative or NaN).
#[inline]
pub fn crossed(margin: f64) -> bool {
    margin.is_nan() || margin < 0.0
}

/// Which level of the hierarchy a constraint belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Hard,
    Soft,
}

/// Objective weights: the third level of the hierarchy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preferences {
    /// Weight of the task reward in the penalised objective.
    pub reward_weight: f64,
    /// Weight of one unit of soft cost (one soft constraint crossed for one step).
    pub cost_weight: f64,
    /// Per action dimension: how much a change of one unit of that actuator
    /// counts when the size of a shield correction is reported. Defaults to
    /// `1 / (high − low)`, so every actuator's full range counts the same.
    pub action_weights: Vec<f64>,
}

/// Everything one [`ConstraintHierarchy::check`] found, besides the margins
/// it wrote into the caller's buffers.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct CheckSummary {
    /// Some hard constraint is crossed (NaN counts as crossed).
    pub hard_violated: bool,
    /// Number of soft constraints crossed.
    pub soft_violations: usize,
    /// Smallest normalised margin over the hard constraints (`+∞` if none).
    pub min_hard_margin: f64,
    /// Index (into `spec.constraints`) of the hard constraint with that
    /// margin, i.e. the nearest hard limit.
    pub binding: Option<usize>,
    /// Smallest normalised margin over the soft constraints (`+∞` if none).
    pub min_soft_margin: f64,
}

/// The constraints of one environment, sorted into levels, with scales.
#[derive(Debug, Clone, PartialEq)]
pub struct ConstraintHierarchy {
    env: String,
    constraints: Vec<ConstraintSpec>,
    /// Indices of the hard constraints.
    hard: Vec<usize>,
    /// Indices of the soft constraints.
    soft: Vec<usize>,
    /// Nominal clearance of each constraint (same order as `constraints`).
    scales: Vec<f64>,
    /// `1 / scale`, precomputed for the hot path.
    inv_scales: Vec<f64>,
    pub preferences: Preferences,
}

impl ConstraintHierarchy {
    /// Build the hierarchy from a model: levels from its spec, scales from
    /// the median margin over 64 initial states (fixed seed).
    pub fn from_model(model: &dyn Model) -> Self {
        let spec = model.spec();
        let n = spec.n_constraints();
        let mut rng = EnvRng::seed_from_u64(0x5AFE);
        let mut state = vec![0.0; model.state_dim()];
        let mut values = vec![0.0; n];
        const SAMPLES: usize = 64;
        let mut margins = vec![Vec::with_capacity(SAMPLES); n];
        for _ in 0..SAMPLES {
            model.reset(&mut state, &mut rng);
            model.constraints(&state, &mut values);
            for (i, c) in spec.constraints.iter().enumerate() {
                let m = c.margin(values[i]);
                if m.is_finite() && m > 0.0 {
                    margins[i].push(m);
                }
            }
        }
        let scales = spec
            .constraints
            .iter()
            .zip(&mut margins)
            .map(|(c, ms)| {
                ms.sort_by(f64::total_cmp);
                match ms.get(ms.len() / 2) {
                    Some(&m) if ms.len() >= SAMPLES / 2 => m,
                    // Usually violated or at the limit at reset: fall back
                    // to the size of the limit itself.
                    _ if c.limit.is_finite() && c.limit != 0.0 => c.limit.abs(),
                    _ => 1.0,
                }
            })
            .collect();
        Self::build(spec, scales)
    }

    /// Build the hierarchy with explicit scales (one per constraint, in the
    /// order of `spec.constraints`, each positive and finite).
    pub fn with_scales(spec: &EnvSpec, scales: Vec<f64>) -> Result<Self> {
        if scales.len() != spec.n_constraints() {
            return Err(Error::Shape {
                what: format!("{}: constraint scales", spec.id),
                expected: spec.n_constraints(),
                got: scales.len(),
            });
        }
        if let Some(i) = scales.iter().position(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(Error::InvalidArgument(format!(
                "{}: the scale of constraint '{}' is {}; scales must be positive finite numbers in the constraint's unit",
                spec.id, spec.constraints[i].name, scales[i]
            )));
        }
        Ok(Self::build(spec, scales))
    }

    /// Assemble the hierarchy from checked scales.
    fn build(spec: &EnvSpec, scales: Vec<f64>) -> Self {
        let hard = (0..spec.n_constraints())
            .filter(|&i| spec.constraints[i].kind == ConstraintKind::Hard)
            .collect();
        let soft = (0..spec.n_constraints())
            .filter(|&i| spec.constraints[i].kind == ConstraintKind::Soft)
            .collect();
        let action_weights = spec
            .actions
            .iter()
            .map(|d| {
                let span = d.high - d.low;
                if span.is_finite() && span > 0.0 {
                    1.0 / span
                } else {
                    1.0
                }
            })
            .collect();
        ConstraintHierarchy {
            env: spec.id.clone(),
            constraints: spec.constraints.clone(),
            hard,
            soft,
            inv_scales: scales.iter().map(|s| 1.0 / s).collect(),
            scales,
            preferences: Preferences {
                reward_weight: 1.0,
                cost_weight: 1.0,
                action_weights,
            },
        }
    }

    /// Set the scale (nominal clearance, in the constraint's unit) of one constraint.
    pub fn set_scale(&mut self, name: &str, scale: f64) -> Result<()> {
        let i = self.index(name)?;
        if !(scale.is_finite() && scale > 0.0) {
            return Err(Error::InvalidArgument(format!(
                "{}: scale {scale} for '{name}' must be a positive finite number",
                self.env
            )));
        }
        self.scales[i] = scale;
        self.inv_scales[i] = 1.0 / scale;
        Ok(())
    }

    /// Index of a constraint by name, with a helpful error.
    pub fn index(&self, name: &str) -> Result<usize> {
        self.constraints
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "{}: no constraint named '{name}'; the constraints are: {}",
                    self.env,
                    self.constraints
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }

    pub fn env(&self) -> &str {
        &self.env
    }
    pub fn constraints(&self) -> &[ConstraintSpec] {
        &self.constraints
    }
    pub fn len(&self) -> usize {
        self.constraints.len()
    }
    pub fn is_empty(&self) -> bool {
        self.constraints.is_empty()
    }
    /// Indices of the hard constraints.
    pub fn hard(&self) -> &[usize] {
        &self.hard
    }
    /// Indices of the soft constraints.
    pub fn soft(&self) -> &[usize] {
        &self.soft
    }
    pub fn scales(&self) -> &[f64] {
        &self.scales
    }
    pub fn level(&self, i: usize) -> Level {
        match self.constraints[i].kind {
            ConstraintKind::Hard => Level::Hard,
            ConstraintKind::Soft => Level::Soft,
        }
    }
    /// Name of constraint `i`.
    pub fn name(&self, i: usize) -> &str {
        &self.constraints[i].name
    }

    /// Evaluate every constraint on `values` (the model's constraint signals):
    /// writes each margin in its unit into `margins` and normalised by its
    /// scale into `normalised` (both `len == self.len()`). Allocation-free.
    #[inline]
    pub fn check(
        &self,
        values: &[f64],
        margins: &mut [f64],
        normalised: &mut [f64],
    ) -> CheckSummary {
        let mut s = CheckSummary {
            hard_violated: false,
            soft_violations: 0,
            min_hard_margin: f64::INFINITY,
            binding: None,
            min_soft_margin: f64::INFINITY,
        };
        for i in 0..self.constraints.len() {
            let c = &self.constraints[i];
            let m = c.margin(values[i]);
            let nm = m * self.inv_scales[i];
            margins[i] = m;
            normalised[i] = nm;
            // `!(m >= 0)` also catches NaN.
            let crossed = crossed(m);
            match c.kind {
                ConstraintKind::Hard => {
                    s.hard_violated |= crossed;
                    // NaN margins count as the most negative.
                    let nm = if nm.is_nan() { f64::NEG_INFINITY } else { nm };
                    if nm < s.min_hard_margin || s.binding.is_none() {
                        s.min_hard_margin = nm;
                        s.binding = Some(i);
                    }
                }
                ConstraintKind::Soft => {
                    s.soft_violations += crossed as usize;
                    let nm = if nm.is_nan() { f64::NEG_INFINITY } else { nm };
                    s.min_soft_margin = s.min_soft_margin.min(nm);
                }
            }
        }
        s
    }

    /// Smallest normalised margin over the hard constraints and its index,
    /// minus a per-constraint tightening (absolute, in each constraint's
    /// unit; empty = none). This is what the shield's look-ahead compares
    /// with zero. Allocation-free; NaN counts as `−∞`.
    #[inline]
    pub fn min_hard_margin(&self, values: &[f64], tighten: &[f64]) -> (f64, Option<usize>) {
        let mut best = f64::INFINITY;
        let mut arg = None;
        for &i in &self.hard {
            let mut m = self.constraints[i].margin(values[i]);
            if let Some(t) = tighten.get(i) {
                m -= t;
            }
            let nm = m * self.inv_scales[i];
            let nm = if nm.is_nan() { f64::NEG_INFINITY } else { nm };
            if nm < best || arg.is_none() {
                best = nm;
                arg = Some(i);
            }
        }
        (best, arg)
    }

    /// The penalised objective of one step under the preferences.
    #[inline]
    pub fn objective(&self, reward: f64, soft_cost: f64) -> f64 {
        self.preferences.reward_weight * reward - self.preferences.cost_weight * soft_cost
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::EnvOptions;
    use crate::env::testing::Tank;

    #[test]
    fn levels_scales_and_margins_of_the_tank() {
        let tank = Tank::new(EnvOptions::deterministic());
        let h = ConstraintHierarchy::from_model(&tank);
        assert_eq!(h.hard(), &[0]);
        assert_eq!(h.soft(), &[1]);
        // Initial level is uniform in [0.8, 1.2]: the median clearance to
        // the 2 m overflow limit is about 1 m, to the 0.5 m soft minimum 0.5 m.
        assert!((h.scales()[0] - 1.0).abs() < 0.1, "{:?}", h.scales());
        assert!((h.scales()[1] - 0.5).abs() < 0.1, "{:?}", h.scales());
        let (mut m, mut n) = ([0.0; 2], [0.0; 2]);
        let s = h.check(&[1.5, 1.5], &mut m, &mut n);
        assert!(!s.hard_violated);
        assert_eq!(s.soft_violations, 0);
        assert_eq!(s.binding, Some(0));
        assert!((m[0] - 0.5).abs() < 1e-12 && (m[1] - 1.0).abs() < 1e-12);
        let s = h.check(&[2.5, 0.2], &mut m, &mut n);
        assert!(s.hard_violated);
        assert_eq!(s.soft_violations, 1);
        assert!(s.min_hard_margin < 0.0);
        let s = h.check(&[f64::NAN, f64::NAN], &mut m, &mut n);
        assert!(s.hard_violated, "NaN is a violation");
        assert_eq!(s.min_hard_margin, f64::NEG_INFINITY);
        let (mh, i) = h.min_hard_margin(&[1.5, 1.5], &[0.2, 0.0]);
        assert_eq!(i, Some(0));
        assert!((mh - 0.3 / h.scales()[0]).abs() < 1e-12);
    }

    #[test]
    fn bad_scales_are_errors_not_panics() {
        let tank = Tank::new(EnvOptions::deterministic());
        assert!(ConstraintHierarchy::with_scales(tank.spec(), vec![1.0]).is_err());
        assert!(ConstraintHierarchy::with_scales(tank.spec(), vec![1.0, 0.0]).is_err());
        let mut h = ConstraintHierarchy::from_model(&tank);
        assert!(h.set_scale("nope", 1.0).is_err());
        assert!(h.set_scale("level_max", f64::NAN).is_err());
        h.set_scale("level_max", 2.0).unwrap();
        assert_eq!(h.scales()[0], 2.0);
        assert_eq!(h.objective(-1.0, 2.0), -3.0);
    }
}
