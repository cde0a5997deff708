//! Static description of an environment: spaces, units, constraints, horizon
//! and the reference returns used for normalized scores.

use serde::Serialize;

/// One dimension of an observation or action space.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dim {
    /// Short machine-friendly name, e.g. `"T_reactor"`.
    pub name: String,
    /// Physical unit, e.g. `"K"`, `"m3/s"`, `"-"` for dimensionless.
    pub unit: String,
    /// Lower bound. For actions: the actuator's minimum (actions are clipped to it).
    /// For observations: the physically plausible range (for normalisation and validation).
    pub low: f64,
    /// Upper bound (see `low`).
    pub high: f64,
}

impl Dim {
    /// Convenience constructor.
    pub fn new(name: impl Into<String>, unit: impl Into<String>, low: f64, high: f64) -> Self {
        Dim {
            name: name.into(),
            unit: unit.into(),
            low,
            high,
        }
    }
}

/// How a constraint is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ConstraintKind {
    /// Must never be crossed: crossing it ends the episode (`terminated`), as the
    /// plant's interlock or emergency stop would.
    Hard,
    /// Should not be crossed: each step it is crossed adds 1 to the step's cost.
    Soft,
}

/// Which side of the limit is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Sense {
    /// Safe while `value <= limit`.
    Upper,
    /// Safe while `value >= limit`.
    Lower,
}

/// One safety or quality constraint on a signal the model computes each step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConstraintSpec {
    pub name: String,
    pub kind: ConstraintKind,
    pub sense: Sense,
    pub limit: f64,
    pub unit: String,
    /// What the signal is and why the limit exists.
    pub description: String,
}

impl ConstraintSpec {
    /// A hard upper limit (`value <= limit`).
    pub fn hard_max(name: &str, limit: f64, unit: &str, description: &str) -> Self {
        Self::new(
            name,
            ConstraintKind::Hard,
            Sense::Upper,
            limit,
            unit,
            description,
        )
    }
    /// A hard lower limit (`value >= limit`).
    pub fn hard_min(name: &str, limit: f64, unit: &str, description: &str) -> Self {
        Self::new(
            name,
            ConstraintKind::Hard,
            Sense::Lower,
            limit,
            unit,
            description,
        )
    }
    /// A soft upper limit (`value <= limit`).
    pub fn soft_max(name: &str, limit: f64, unit: &str, description: &str) -> Self {
        Self::new(
            name,
            ConstraintKind::Soft,
            Sense::Upper,
            limit,
            unit,
            description,
        )
    }
    /// A soft lower limit (`value >= limit`).
    pub fn soft_min(name: &str, limit: f64, unit: &str, description: &str) -> Self {
        Self::new(
            name,
            ConstraintKind::Soft,
            Sense::Lower,
            limit,
            unit,
            description,
        )
    }

    fn new(
        name: &str,
        kind: ConstraintKind,
        sense: Sense,
        limit: f64,
        unit: &str,
        description: &str,
    ) -> Self {
        ConstraintSpec {
            name: name.to_string(),
            kind,
            sense,
            limit,
            unit: unit.to_string(),
            description: description.to_string(),
        }
    }

    /// Distance to the limit on the safe side: positive when satisfied,
    /// negative when violated, in the constraint's unit.
    #[inline]
    pub fn margin(&self, value: f64) -> f64 {
        match self.sense {
            Sense::Upper => self.limit - value,
            Sense::Lower => value - self.limit,
        }
    }

    /// Whether `value` crosses the limit (NaN counts as a violation).
    #[inline]
    pub fn violated(&self, value: f64) -> bool {
        let m = self.margin(value);
        m.is_nan() || m < 0.0
    }
}

/// How a hard breach (the emergency stop that ends the episode) is paid for.
///
/// Both rules make a breach cost exactly what the rest of the episode at the
/// worst per-step reward `r_min` would have: under v0's explicit charge and
/// under v1's alive reward every episode's return (whether it ends by the
/// time limit, a breach or the goal) differs by the same constant
/// `horizon × |r_min|`, so the ranking of policies and the
/// normalized scores are the same. They differ in what one transition
/// carries: v0 puts up to `horizon × r_min` into the breach transition, v1
/// keeps every reward within the per-step range. The measurements behind the
/// choice are in `datasets/protocol/environments.md`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreachPenalty {
    /// Protocol v0: the breach transition is charged `reward_range.0` for
    /// every step left in the horizon.
    RemainingHorizon,
    /// Protocol v1: every step's model reward is raised by `offset` (the
    /// magnitude of the v0 model's worst per-step reward), so that rewards
    /// lie in `[0, r_max + offset]` and a breach costs the alive rewards the
    /// episode no longer earns; the breach transition itself carries only its
    /// own step's reward (as MuJoCo's "healthy reward" tasks do). A true
    /// terminal state that is not a breach (the goal reached: the peg
    /// inserted) also earns the offset for every step left, so that
    /// finishing early never costs alive reward.
    Alive { offset: f64 },
}

/// Everything a user, a dataset or an agent needs to know about an environment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnvSpec {
    /// Registry id, e.g. `"ChemicalReactor-v0"`.
    pub id: String,
    /// One-paragraph description of the process and the task.
    pub description: String,
    /// Where the model comes from (papers, textbooks).
    pub sources: Vec<String>,
    pub observations: Vec<Dim>,
    pub actions: Vec<Dim>,
    /// Control interval in seconds (one `step`).
    pub dt: f64,
    /// Steps per episode before `truncated`.
    pub horizon: usize,
    pub constraints: Vec<ConstraintSpec>,
    /// Range of the per-step reward an environment step produces (protocol
    /// v0: before the breach charge; v1: with the alive offset, so `(0, ·)`).
    pub reward_range: (f64, f64),
    /// How a hard breach is paid for (v0: charged in the breach transition;
    /// v1: an alive reward), see [`BreachPenalty`].
    pub breach: BreachPenalty,
    /// Mean undiscounted return of the uniform random policy (see `crate::rollout::reference`).
    pub ref_random_return: f64,
    /// Mean undiscounted return of the expert controller.
    pub ref_expert_return: f64,
}

impl EnvSpec {
    pub fn obs_dim(&self) -> usize {
        self.observations.len()
    }
    pub fn act_dim(&self) -> usize {
        self.actions.len()
    }
    pub fn n_constraints(&self) -> usize {
        self.constraints.len()
    }
    /// Action lower bounds.
    pub fn action_low(&self) -> Vec<f64> {
        self.actions.iter().map(|d| d.low).collect()
    }
    /// Action upper bounds.
    pub fn action_high(&self) -> Vec<f64> {
        self.actions.iter().map(|d| d.high).collect()
    }
    /// D4RL normalized score: 100 × (return − random) / (expert − random).
    pub fn normalized_score(&self, ret: f64) -> f64 {
        100.0 * (ret - self.ref_random_return) / (self.ref_expert_return - self.ref_random_return)
    }
    /// Index of a constraint by name.
    pub fn constraint_index(&self, name: &str) -> Option<usize> {
        self.constraints.iter().position(|c| c.name == name)
    }
    /// Comma-separated action names (for messages).
    pub fn action_names(&self) -> String {
        self.actions
            .iter()
            .map(|d| d.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}
