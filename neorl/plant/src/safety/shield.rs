//! The action shield: a model-predictive safety filter between any policy
//! and the plant ("simplex" architecture with a backup controller).
//!
//! ## One decision
//!
//! 1. **Bounds and rate limits.** The proposed action is clipped to the
//!    actuator bounds, then (if configured) to `previous ± rate_limit` per
//!    dimension. A non-finite proposal is never applied: it is treated as
//!    unsafe and replaced by a backup action.
//! 2. **Look-ahead.** A *nominal* copy of the environment's model (the same
//!    physics with [`EnvOptions::deterministic`]) is fed the plant's current
//!    internal state, applies the candidate for one step and then the
//!    **backup law** for `horizon − 1` more steps. The candidate is
//!    *verified* if every hard constraint keeps its back-off margin on every
//!    predicted step — in the nominal prediction and, with `scenarios > 0`,
//!    under that many disturbance sequences drawn from the environment's own
//!    stochastic model (the same draws for every candidate of a decision).
//!    Committing to the backup for the rest of the horizon is what makes a
//!    plant with inertia (momentum, thermal runaway, frequency dynamics)
//!    safe: a one-step check accepts actions after which no action can stop
//!    the plant in time; the backup horizon rejects them (the cart test in
//!    `safety::tests` shows both).
//! 3. **Projection.** If the proposal is not verified, the shield looks for
//!    the nearest verified action on the segment from the proposal to a
//!    backup target — the environment's **expert controller**'s action (it
//!    keeps the plant productive), then the **previous applied action**
//!    held, then the model's **safe action** — by bisection on the blend
//!    factor. The target itself is verified first, so the result is always
//!    a verified action.
//! 4. **Emergency.** If not even the safe action is verified, it is checked
//!    once more without the back-off (nominal model): if it respects the real
//!    limits it is applied as `SafeAction`; otherwise the decision is
//!    `Emergency` and the [`super::Supervisor`] trips the emergency stop,
//!    which fires the plant's emergency shutdown where it has one
//!    ([`Model::shutdown`]) and applies the safe action otherwise.
//!
//! ## The shutdown as the last resort
//!
//! For a plant with an emergency shutdown (a safety instrumented function
//! beyond the policy's actuators: the reactor's feed cut-off and quench),
//! every check above also asks that the shutdown would still be safe
//! *after* the candidate: the candidate for one step (nominal, and under
//! every disturbance scenario), then the shutdown's whole transient,
//! against the real limits. So every state the shielded plant reaches can
//! still be shut down safely, and when no action verifies, tripping from
//! there is safe — not only under the sampled scenarios: the shutdown's
//! transient is a function of the state alone (the reactor's feed, whose
//! drift is the unknown disturbance, is cut off), so its prediction is
//! exact, and the step before it is exact too where the disturbance
//! enters after the step (the reactor's drift does). Tripping ends
//! production, so the shield takes this path only when nothing else
//! verifies.
//!
//! ## Signals that jump
//!
//! The look-ahead checks [`Model::shield_constraints`], which is the
//! plant's constraint signal except where that jumps with arbitrarily
//! small changes of the state: RobotAssembly-v0's contact force jumps by
//! the contact damping times the approach speed at first touch, and a
//! torque disturbance of a fraction of a newton-metre decides on which
//! side of the jump a grazing peg ends a step. There the model writes a
//! bound over both sides, and the shield keeps that bound below the limit.
//!
//! ## The backup law
//!
//! [`Model::safe_action`] is a state feedback ("coolant full open, burners
//! off"); [`BackupLaw::Recompute`] applies it recomputed on every predicted
//! step. Some plants' safe action is a one-shot correction that must not be
//! repeated (PowerGrid's emergency assist moves the set-points by the
//! current area control error: applied every second it is an integrator
//! with gain one and oscillates); for those [`BackupLaw::Latch`] computes it
//! once and holds it. Unless configured, the law is chosen at construction:
//! from states the nominal plant visits under random actions, each law is
//! run for three horizons and the one that stays safe from more states wins
//! ([`Shield::backup_scores`]). The supervisor's emergency stop applies the
//! same law. Under `Latch`, the safe-action and hold targets are checked as
//! held settings, which is exactly the continuation an earlier look-ahead
//! verified.
//!
//! Every decision reports what it did ([`Decision`]): the kind of
//! intervention, the hard constraint that made the proposal unsafe, and the
//! predicted normalised margins of the proposal and of the applied action.
//! The hot path allocates nothing: every buffer is allocated at
//! construction (`neorl bench safety` reports the nanoseconds per decision).
//!
//! ## What is and is not guaranteed
//!
//! The look-ahead needs the plant's internal state ([`crate::env::Env::state`]).
//! A real plant would feed it from a state estimator; here the simulator's
//! state is used, so estimation error is not modelled.
//!
//! When the plant is the nominal model (disturbances off), an applied
//! verified action keeps the hard constraints satisfied on the next step,
//! and the plan it was verified with (backup after it) is again a candidate
//! on the next step, verified over a window one step longer. Safety
//! therefore holds as long as the backup trajectory stays safe beyond the
//! horizon; with a horizon long enough for the backup to settle the plant,
//! it is exact. That is a requirement on each environment's
//! [`Model::safe_action`]: a backup still moving at the end of the window
//! can cross a limit one step later, where no back-off warns of it (a
//! contact force jumps on impact), and then nothing verifies on the next
//! step (RobotAssembly-v0's former viscous brake did exactly that; its
//! controlled stop is now tested to reach rest within 12 of the 20 steps).
//! For all seven environments, the test
//! `verified_plans_hold_beyond_the_lookahead` replays every plan that
//! shielded random and adversarial runs applied and continues its backup
//! for two more windows: none crosses a hard limit after its window.
//! Every action is rounded to `f32` and clipped before the look-ahead,
//! exactly as the env will, so prediction and plant agree to the bit. The
//! property tests check zero hard breaches *and* zero emergencies for
//! random and adversarial policies in every registered environment with
//! disturbances off.
//!
//! With disturbances the nominal model does not know, no filter can
//! guarantee anything once a disturbance exceeds the control authority left
//! in the worst case — unless the plant has a shutdown whose reach does
//! not depend on the disturbance (above). `backoff` (a fraction of each
//! limit's nominal clearance) and `tighten` (absolute) buy robustness
//! against bounded disturbances, `scenarios` against the plant's own
//! disturbance distribution, at the price of more interventions and
//! look-aheads. The residual breach rates are measured per environment in
//! [`super`]: zero in every process over 10^5 shielded steps with
//! disturbances and noise on.

use super::constraints::{ConstraintHierarchy, crossed};
use crate::control::{PolicyKind, make_policy};
use crate::env::{EnvOptions, EnvRng, Model};
use crate::error::{Error, Result};
use crate::policy::Policy;
use rand::SeedableRng;
use serde::Serialize;
use std::sync::Arc;

/// Shield settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShieldConfig {
    /// Steps of look-ahead: the candidate, then `horizon − 1` steps of the
    /// backup law. 1 = one-step look-ahead.
    pub horizon: usize,
    /// Bisection iterations when projecting onto the backup segment.
    pub bisection_steps: usize,
    /// Absolute back-off per constraint, in its unit (order of
    /// `spec.constraints`; only hard constraints are used). Empty = none.
    pub tighten: Vec<f64>,
    /// Relative back-off: every hard limit is tightened by this fraction of
    /// its nominal clearance (see [`super::constraints`]), on top of
    /// `tighten`. Buys robustness against disturbances the nominal model
    /// does not know. When not even the safe action can respect the
    /// back-off, the shield applies it anyway without tripping the emergency
    /// stop, as long as it respects the real limits.
    pub backoff: f64,
    /// Disturbance scenarios: besides the nominal prediction, every
    /// candidate must stay safe under this many disturbance sequences
    /// sampled from the environment's own stochastic model (the same draws
    /// for every candidate of one decision). 0 = nominal only. Costs one
    /// more look-ahead per scenario.
    pub scenarios: usize,
    /// Largest change per step per action dimension (order of
    /// `spec.actions`). Empty = no rate limits. Not applied on the first step
    /// of an episode (the actuator's position is unknown) nor to the
    /// emergency action (an interlock overrides rate limits).
    pub rate_limits: Vec<f64>,
    /// Project toward the environment's expert controller before falling
    /// back to the safe action.
    pub use_expert: bool,
    /// The backup law of the look-ahead (and of the emergency stop under a
    /// supervisor): see [`BackupLaw`]. `None` = choose automatically at
    /// construction ([`Shield::backup_scores`]).
    pub backup: Option<BackupLaw>,
}

/// The longest look-ahead a shield accepts, in steps.
pub const MAX_HORIZON: usize = 1_000;
/// The most steps one candidate action may cost: `horizon × (1 +
/// scenarios)` (a decision checks several candidates, every step of every
/// episode). The default costs 20 × 9 = 180.
pub const MAX_LOOKAHEAD_STEPS: usize = 10_000;

impl ShieldConfig {
    /// The look-ahead is at least one step and bounded: [`MAX_HORIZON`]
    /// steps, and [`MAX_LOOKAHEAD_STEPS`] simulated steps per candidate
    /// (beyond that a single decision takes seconds to hours, and a
    /// rollout never ends).
    pub fn check_work(&self) -> Result<()> {
        if !(1..=MAX_HORIZON).contains(&self.horizon) {
            return Err(Error::InvalidArgument(format!(
                "shield horizon must be between 1 and {MAX_HORIZON} steps (1 = one-step look-ahead; default 20), got {}",
                self.horizon
            )));
        }
        let per_candidate = self.horizon.checked_mul(self.scenarios.saturating_add(1));
        if per_candidate.is_none_or(|n| n > MAX_LOOKAHEAD_STEPS) {
            return Err(Error::InvalidArgument(format!(
                "a shield with horizon {} and {} disturbance scenarios simulates horizon × (1 + scenarios) = {} steps per candidate action, more than the limit of {MAX_LOOKAHEAD_STEPS} (every step of every episode checks several candidates); lower the scenarios (default 8) or the horizon (default 20)",
                self.horizon,
                self.scenarios,
                per_candidate.map_or_else(|| "more than 2^64".to_string(), |n| n.to_string()),
            )));
        }
        Ok(())
    }
}

impl Default for ShieldConfig {
    fn default() -> Self {
        ShieldConfig {
            horizon: 20,
            bisection_steps: 8,
            tighten: vec![],
            backoff: 0.2,
            scenarios: 8,
            rate_limits: vec![],
            use_expert: true,
            backup: None,
        }
    }
}

/// What the shield did to a proposed action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InterventionKind {
    /// Only the rate limit changed the action; it was verified safe.
    RateLimited,
    /// The proposal was unsafe; the nearest verified blend of it and a backup
    /// action (expert or safe action) was applied.
    Projected,
    /// The expert controller's action was applied.
    Expert,
    /// The previous applied action was held; it was verified safe.
    Hold,
    /// The model's safe (shutdown) action was applied; it was verified safe.
    SafeAction,
    /// No action was verified safe: the emergency stop trips (under a
    /// [`super::Supervisor`]), which fires the plant's emergency shutdown
    /// where it has one ([`Model::shutdown`]); the safe action is the
    /// applied action otherwise.
    Emergency,
}

impl InterventionKind {
    pub const ALL: [InterventionKind; 6] = [
        InterventionKind::RateLimited,
        InterventionKind::Projected,
        InterventionKind::Expert,
        InterventionKind::Hold,
        InterventionKind::SafeAction,
        InterventionKind::Emergency,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            InterventionKind::RateLimited => "rate_limited",
            InterventionKind::Projected => "projected",
            InterventionKind::Expert => "expert",
            InterventionKind::Hold => "hold",
            InterventionKind::SafeAction => "safe_action",
            InterventionKind::Emergency => "emergency",
        }
    }
}

/// The outcome of one [`Shield::decide`]. The actions themselves are in
/// the caller's buffers and in [`Shield::proposed`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Decision {
    /// `None` when the proposal (after bounds) was applied unchanged.
    pub intervention: Option<InterventionKind>,
    /// The proposal's binding hard constraint (index into
    /// `spec.constraints`): the one it was predicted to cross, or, when it
    /// passed, the one with the smallest margin. `None` for a non-finite
    /// proposal, which is not simulated.
    pub constraint: Option<usize>,
    /// The applied action's binding hard constraint: the one with the
    /// smallest predicted margin (`applied_margin`). After an `Emergency` it
    /// is the constraint the safe action itself could not keep, which is
    /// what the emergency stop reports; it can differ from `constraint`
    /// (closing an inlet against an overflow can run a tank dry).
    pub applied_constraint: Option<usize>,
    /// Predicted smallest normalised hard margin of the proposal
    /// (`−∞` if it was not finite).
    pub proposed_margin: f64,
    /// Predicted smallest normalised hard margin of the applied action.
    pub applied_margin: f64,
    /// Blend factor toward the backup action: 0 = the proposal, 1 = the backup.
    pub blend: f64,
    /// Look-ahead simulations this decision ran.
    pub lookaheads: u32,
    /// Size of the correction: the Euclidean distance between the proposal
    /// (within bounds) and the applied action, each dimension weighted by
    /// the preference `action_weights` (default: 1 / actuator range, so 1.0
    /// is one full range).
    pub correction: f64,
}

/// Counters over every decision of a shield.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct ShieldStats {
    pub decisions: u64,
    pub interventions: u64,
    /// Interventions per [`InterventionKind`], in the order of `InterventionKind::ALL`.
    pub by_kind: [u64; 6],
    pub lookaheads: u64,
}

/// The model-predictive action shield of one environment.
#[derive(Debug)]
pub struct Shield {
    nominal: Arc<dyn Model>,
    hierarchy: ConstraintHierarchy,
    config: ShieldConfig,
    expert: Option<Box<dyn Policy>>,
    low: Vec<f64>,
    high: Vec<f64>,
    tighten: Vec<f64>,
    untightened: Vec<f64>,
    rng: EnvRng,
    sim: Vec<f64>,
    values: Vec<f64>,
    proposal: Vec<f64>,
    target: Vec<f64>,
    step_action: Vec<f64>,
    candidate: Vec<f64>,
    expert_action: Vec<f32>,
    prev: Vec<f64>,
    original: Vec<f64>,
    has_prev: bool,
    stats: ShieldStats,
    law: BackupLaw,
    scores: Option<BackupScores>,
    stochastic: Option<Arc<dyn Model>>,
    scenario_rng: EnvRng,
    decision_seed: u64,
}

impl Shield {
    /// A shield for the registered environment `spec_id` of `model`: the
    /// nominal model is the registry's model with deterministic options if
    /// the id is registered, else `model` itself (then pass a deterministic
    /// model with [`Shield::with_model`] for a meaningful prediction). The
    /// expert is the registry's expert controller when `config.use_expert`
    /// and one exists.
    pub fn for_model(model: &Arc<dyn Model>, config: ShieldConfig) -> Result<Self> {
        let spec = model.spec();
        let nominal = crate::env::model(&spec.id, EnvOptions::deterministic())
            .unwrap_or_else(|_| model.clone());
        let expert = if config.use_expert {
            make_policy(spec, PolicyKind::Expert).ok()
        } else {
            None
        };
        let mut s = Self::with_model(nominal, config)?;
        s.expert = expert;
        if s.config.scenarios > 0 {
            let stochastic = EnvOptions {
                sensor_noise: false,
                disturbances: true,
            };
            s.stochastic = crate::env::model(&spec.id, stochastic).ok();
        }
        Ok(s)
    }

    /// A shield for `env`: as [`Shield::for_model`], and the disturbance
    /// scenarios are only checked when the env's disturbances are on (with
    /// them off, the nominal model is the plant and scenarios add nothing).
    pub fn for_env(env: &crate::env::Env, config: ShieldConfig) -> Result<Self> {
        let mut s = Self::for_model(env.model(), config)?;
        if !env.options().disturbances {
            s.stochastic = None;
        }
        Ok(s)
    }

    /// A shield with an explicit nominal model and no expert (add one with
    /// [`Shield::set_expert`]).
    pub fn with_model(nominal: Arc<dyn Model>, config: ShieldConfig) -> Result<Self> {
        let spec = nominal.spec();
        let (ad, nc) = (spec.act_dim(), spec.n_constraints());
        config.check_work()?;
        if !config.tighten.is_empty() && config.tighten.len() != nc {
            return Err(Error::Shape {
                what: format!("{}: shield tighten (one per constraint)", spec.id),
                expected: nc,
                got: config.tighten.len(),
            });
        }
        if !config.rate_limits.is_empty() && config.rate_limits.len() != ad {
            return Err(Error::Shape {
                what: format!("{}: shield rate_limits (one per action dimension)", spec.id),
                expected: ad,
                got: config.rate_limits.len(),
            });
        }
        if config
            .tighten
            .iter()
            .chain(&config.rate_limits)
            .any(|v| !(v.is_finite() && *v >= 0.0))
        {
            return Err(Error::InvalidArgument(format!(
                "{}: shield tighten and rate_limits must be finite and >= 0, got {:?} and {:?}",
                spec.id, config.tighten, config.rate_limits
            )));
        }
        if !(config.backoff.is_finite() && config.backoff >= 0.0) {
            return Err(Error::InvalidArgument(format!(
                "{}: shield backoff must be a finite fraction >= 0 of each hard constraint's nominal clearance, got {}",
                spec.id, config.backoff
            )));
        }
        let hierarchy = ConstraintHierarchy::from_model(nominal.as_ref());
        // Effective back-off per constraint, in its unit: the absolute
        // tightening plus the relative back-off of the nominal clearance.
        let tighten = (0..nc)
            .map(|i| {
                let abs = config.tighten.get(i).copied().unwrap_or(0.0);
                match spec.constraints[i].kind {
                    crate::env::ConstraintKind::Hard => {
                        abs + config.backoff * hierarchy.scales()[i]
                    }
                    crate::env::ConstraintKind::Soft => abs,
                }
            })
            .collect();
        let mut shield = Shield {
            low: spec.action_low(),
            high: spec.action_high(),
            tighten,
            untightened: vec![0.0; nc],
            rng: EnvRng::seed_from_u64(0),
            sim: vec![0.0; nominal.state_dim()],
            values: vec![0.0; nc],
            proposal: vec![0.0; ad],
            target: vec![0.0; ad],
            step_action: vec![0.0; ad],
            candidate: vec![0.0; ad],
            expert_action: vec![0.0; ad],
            prev: vec![0.0; ad],
            original: vec![0.0; ad],
            has_prev: false,
            stats: ShieldStats::default(),
            law: config.backup.unwrap_or(BackupLaw::Recompute),
            scores: None,
            stochastic: None,
            scenario_rng: EnvRng::seed_from_u64(0),
            decision_seed: 0,
            expert: None,
            hierarchy,
            config,
            nominal,
        };
        if shield.config.backup.is_none() {
            shield.calibrate();
        }
        Ok(shield)
    }

    /// Choose the backup law: sample states the nominal plant visits under
    /// random actions (8 episodes, every 5th of the first 60 steps, only
    /// states inside the hard limits), run each law from them for three
    /// horizons, and keep the law that stays safe from more of them
    /// (`Recompute` on a tie).
    fn calibrate(&mut self) {
        let model = self.nominal.clone();
        let spec = model.spec();
        let mut rng = EnvRng::seed_from_u64(0xBAC0);
        let mut state = vec![0.0; model.state_dim()];
        let mut action = vec![0.0; spec.act_dim()];
        let mut samples = vec![];
        for _ in 0..8 {
            model.reset(&mut state, &mut rng);
            for t in 0..60 {
                model.shield_constraints(&state, &mut self.values);
                if crossed(self.hierarchy.min_hard_margin(&self.values, &[]).0) {
                    break;
                }
                if t % 5 == 0 {
                    samples.push(state.clone());
                }
                for ((a, &lo), &hi) in action.iter_mut().zip(&self.low).zip(&self.high) {
                    *a = crate::env::math::uniform_in(&mut rng, lo, hi);
                }
                as_applied(&self.low, &self.high, &mut action);
                if model.step(&mut state, &action, &mut rng).terminal {
                    break;
                }
            }
        }
        let mut score = [0usize; 2];
        for (i, law) in [BackupLaw::Recompute, BackupLaw::Latch]
            .into_iter()
            .enumerate()
        {
            self.law = law;
            for s in &samples {
                model.safe_action(s, &mut self.candidate);
                as_applied(&self.low, &self.high, &mut self.candidate);
                let hold = law == BackupLaw::Latch;
                if self.simulate(s, 3 * self.config.horizon, hold, None).0 >= 0.0 {
                    score[i] += 1;
                }
            }
        }
        let n = samples.len().max(1) as f64;
        self.law = if score[1] > score[0] {
            BackupLaw::Latch
        } else {
            BackupLaw::Recompute
        };
        self.scores = Some(BackupScores {
            recompute: score[0] as f64 / n,
            latch: score[1] as f64 / n,
            samples: samples.len(),
            chosen: self.law,
        });
        self.stats = ShieldStats::default();
    }

    /// The backup law in use.
    pub fn backup_law(&self) -> BackupLaw {
        self.law
    }

    /// The calibration that chose the backup law (`None` if it was configured).
    pub fn backup_scores(&self) -> Option<BackupScores> {
        self.scores
    }

    /// Check every candidate also against `config.scenarios` disturbance
    /// sequences drawn from `model` (the plant's model with disturbances on).
    pub fn set_scenario_model(&mut self, model: Arc<dyn Model>) {
        self.stochastic = Some(model);
    }

    /// Use `expert` as the first backup target (it is fed every observation).
    pub fn set_expert(&mut self, expert: Box<dyn Policy>) {
        self.expert = Some(expert);
    }

    pub fn config(&self) -> &ShieldConfig {
        &self.config
    }
    pub fn hierarchy(&self) -> &ConstraintHierarchy {
        &self.hierarchy
    }
    pub fn nominal(&self) -> &Arc<dyn Model> {
        &self.nominal
    }
    pub fn stats(&self) -> ShieldStats {
        self.stats
    }
    /// Whether an expert controller is used as backup target.
    pub fn has_expert(&self) -> bool {
        self.expert.is_some()
    }
    /// The latest proposal after bounds and rate limits (what the shield checked).
    pub fn proposed(&self) -> &[f64] {
        &self.proposal
    }

    /// Start of an episode: forget the previous action (rate limits) and
    /// reset the expert.
    pub fn reset(&mut self, seed: u64) {
        self.has_prev = false;
        self.decision_seed = seed.wrapping_mul(0xD1B5_4A32_D192_ED03);
        if let Some(e) = self.expert.as_mut() {
            e.reset(seed);
        }
    }

    /// Tell the shield which action was really applied (e.g. by an emergency
    /// stop that bypassed it), so rate limits start from there.
    pub fn note_applied(&mut self, applied: &[f32]) {
        for (p, &a) in self.prev.iter_mut().zip(applied) {
            *p = a as f64;
        }
        self.has_prev = true;
    }

    /// Simulate `self.candidate` (already rounded) for one step, then the
    /// backup law for the rest of the horizon, from `state`; returns the
    /// smallest tightened normalised hard margin and its constraint. Stops
    /// early once a limit is crossed or the task ends.
    fn lookahead(&mut self, state: &[f64]) -> (f64, Option<usize>) {
        self.verify(state, false)
    }

    /// [`Shield::lookahead`] over `steps` steps.
    /// With `hold`, the candidate itself is held after the first step (the
    /// continuation of a latched safe action). `scenario` = `None` runs the
    /// nominal model; `Some(j)` runs the stochastic model with disturbance
    /// sequence `j` of this decision.
    fn simulate(
        &mut self,
        state: &[f64],
        steps: usize,
        hold: bool,
        scenario: Option<u64>,
    ) -> (f64, Option<usize>) {
        self.stats.lookaheads += 1;
        self.sim.copy_from_slice(state);
        let (model, rng) = scenario_model(
            scenario,
            &self.nominal,
            &self.stochastic,
            &mut self.rng,
            &mut self.scenario_rng,
            self.decision_seed,
        );
        let mut worst = (f64::INFINITY, None);
        for k in 0..steps {
            let tr = if k == 0 || hold {
                model.step(&mut self.sim, &self.candidate, rng)
            } else {
                if k == 1 || self.law == BackupLaw::Recompute {
                    model.safe_action(&self.sim, &mut self.step_action);
                    as_applied(&self.low, &self.high, &mut self.step_action);
                }
                model.step(&mut self.sim, &self.step_action, rng)
            };
            model.shield_constraints(&self.sim, &mut self.values);
            let (m, c) = self.hierarchy.min_hard_margin(&self.values, &self.tighten);
            if m < worst.0 || worst.1.is_none() {
                worst = (m, c);
            }
            if crossed(m) || tr.terminal {
                break;
            }
        }
        worst
    }

    /// Verify the candidate: the nominal prediction, then (if configured)
    /// every disturbance scenario, then (for a plant with one) the
    /// shutdown after it; the worst margin of them all.
    fn verify(&mut self, state: &[f64], hold: bool) -> (f64, Option<usize>) {
        let mut worst = self.simulate(state, self.config.horizon, hold, None);
        if self.stochastic.is_some() {
            for j in 0..self.config.scenarios as u64 {
                if crossed(worst.0) {
                    break;
                }
                let r = self.simulate(state, self.config.horizon, hold, Some(j));
                if r.0 < worst.0 {
                    worst = r;
                }
            }
        }
        if !crossed(worst.0) {
            worst = self.with_shutdown(state, worst);
        }
        worst
    }

    /// The shutdown's reach, for a plant with an emergency shutdown
    /// ([`Model::shutdown`]): the candidate for one step — nominal, and
    /// under every disturbance scenario — then the shutdown's transient,
    /// against the real limits (no back-off: the transient is
    /// deterministic given the state). The smaller of `so_far` and the
    /// worst margin of these; `so_far` for a plant without a shutdown.
    ///
    /// A candidate is verified only if the plant could still be shut down
    /// safely after it, so the state on every step keeps that property,
    /// and when nothing verifies the trip from there is safe.
    fn with_shutdown(
        &mut self,
        state: &[f64],
        so_far: (f64, Option<usize>),
    ) -> (f64, Option<usize>) {
        let Some(steps) = self.nominal.shutdown().map(|s| s.steps) else {
            return so_far;
        };
        let mut worst = so_far;
        let scenarios = if self.stochastic.is_some() {
            self.config.scenarios as u64
        } else {
            0
        };
        for scenario in std::iter::once(None).chain((0..scenarios).map(Some)) {
            self.stats.lookaheads += 1;
            self.sim.copy_from_slice(state);
            let (model, rng) = scenario_model(
                scenario,
                &self.nominal,
                &self.stochastic,
                &mut self.rng,
                &mut self.scenario_rng,
                self.decision_seed,
            );
            model.step(&mut self.sim, &self.candidate, rng);
            for k in 0..=steps {
                if k > 0 {
                    self.nominal
                        .shutdown_step(&mut self.sim, k - 1, &mut self.rng);
                }
                self.nominal.shield_constraints(&self.sim, &mut self.values);
                let (m, c) = self
                    .hierarchy
                    .min_hard_margin(&self.values, &self.untightened);
                if m < worst.0 {
                    worst = (m, c);
                }
                if crossed(m) {
                    return worst;
                }
            }
        }
        worst
    }

    /// Filter one action. `state` is the plant's internal state
    /// ([`crate::env::Env::state`]), `obs` its latest observation (for the
    /// expert), `proposed` the policy's action; the action to apply is
    /// written into `applied`. Allocation-free.
    pub fn decide(
        &mut self,
        state: &[f64],
        obs: &[f32],
        proposed: &[f32],
        applied: &mut [f32],
    ) -> Result<Decision> {
        let ad = self.low.len();
        for (what, got, expected) in [
            ("shield: proposed action", proposed.len(), ad),
            ("shield: applied action buffer", applied.len(), ad),
            ("shield: plant state", state.len(), self.sim.len()),
        ] {
            if got != expected {
                return Err(Error::Shape {
                    what: format!("{}: {what}", self.hierarchy.env()),
                    expected,
                    got,
                });
            }
        }
        self.stats.decisions += 1;
        self.decision_seed = self.decision_seed.wrapping_add(1);
        let expert_ok = match self.expert.as_mut() {
            Some(e) => {
                e.act(obs, &mut self.expert_action).is_ok()
                    && self.expert_action.iter().all(|a| a.is_finite())
            }
            None => false,
        };
        // 1. Bounds and rate limits.
        let finite = proposed.iter().all(|a| a.is_finite());
        for (p, &a) in self.proposal.iter_mut().zip(proposed) {
            *p = if a.is_finite() { a as f64 } else { 0.0 };
        }
        as_applied(&self.low, &self.high, &mut self.proposal);
        self.original.copy_from_slice(&self.proposal);
        let rate_limited = self.rate_limit(Buf::Proposal);
        let mut lookaheads = 0u32;
        // 2. Look-ahead of the proposal.
        let (pm, pc) = if finite {
            self.candidate.copy_from_slice(&self.proposal);
            lookaheads += 1;
            self.lookahead(state)
        } else {
            (f64::NEG_INFINITY, None)
        };
        let mut decision = Decision {
            intervention: None,
            constraint: pc,
            applied_constraint: pc,
            proposed_margin: pm,
            applied_margin: pm,
            blend: 0.0,
            lookaheads,
            correction: 0.0,
        };
        if pm >= 0.0 {
            if rate_limited {
                decision.intervention = Some(InterventionKind::RateLimited);
            }
            return Ok(self.finish(decision, applied));
        }
        // 3. Projection toward the expert, then toward the safe action.
        for backup in [Backup::Expert, Backup::Hold, Backup::Safe] {
            match backup {
                Backup::Expert if !expert_ok => continue,
                Backup::Hold if !self.has_prev => continue,
                Backup::Hold => self.target.copy_from_slice(&self.prev),
                Backup::Expert => {
                    for (t, &a) in self.target.iter_mut().zip(&self.expert_action) {
                        *t = a as f64;
                    }
                    as_applied(&self.low, &self.high, &mut self.target);
                    self.rate_limit(Buf::Target);
                }
                Backup::Safe => {
                    self.nominal.safe_action(state, &mut self.target);
                    as_applied(&self.low, &self.high, &mut self.target);
                }
            }
            self.candidate.copy_from_slice(&self.target);
            decision.lookaheads += 1;
            // Under a latched backup, the safe action and the held previous
            // action are checked as held settings: that is the plan an
            // earlier look-ahead verified, so it stays available.
            let hold = self.law == BackupLaw::Latch && backup != Backup::Expert;
            let (tm, tc) = self.verify(state, hold);
            if crossed(tm) {
                if backup == Backup::Safe {
                    // 4. Nothing verified with the back-off. Without it?
                    std::mem::swap(&mut self.tighten, &mut self.untightened);
                    let mut u = self.simulate(state, self.config.horizon, hold, None);
                    std::mem::swap(&mut self.tighten, &mut self.untightened);
                    if !crossed(u.0) {
                        u = self.with_shutdown(state, u);
                    }
                    let um = u.0;
                    decision.lookaheads += 1;
                    if um >= 0.0 {
                        // Inside the back-off band but recoverable.
                        decision.intervention = Some(InterventionKind::SafeAction);
                        decision.applied_margin = tm;
                        decision.applied_constraint = tc;
                        decision.blend = 1.0;
                        return Ok(self.finish(decision, applied));
                    }
                    // Nothing verified at all: apply the safe action anyway.
                    decision.intervention = Some(InterventionKind::Emergency);
                    decision.applied_margin = tm;
                    decision.applied_constraint = tc;
                    decision.blend = 1.0;
                    return Ok(self.finish(decision, applied));
                }
                continue;
            }
            let (mut lo, mut hi, mut best, mut binding) = (0.0f64, 1.0f64, tm, tc);
            if finite {
                for _ in 0..self.config.bisection_steps {
                    let mid = 0.5 * (lo + hi);
                    self.blend_into_candidate(mid);
                    decision.lookaheads += 1;
                    let (mm, mc) = self.lookahead(state);
                    if mm >= 0.0 {
                        hi = mid;
                        best = mm;
                        binding = mc;
                    } else {
                        lo = mid;
                    }
                }
            }
            if hi < 1.0 {
                self.blend_into_candidate(hi);
                decision.intervention = Some(InterventionKind::Projected);
            } else {
                self.candidate.copy_from_slice(&self.target);
                decision.intervention = Some(match backup {
                    Backup::Expert => InterventionKind::Expert,
                    Backup::Hold => InterventionKind::Hold,
                    Backup::Safe => InterventionKind::SafeAction,
                });
            }
            decision.applied_margin = best;
            decision.applied_constraint = binding;
            decision.blend = hi;
            return Ok(self.finish(decision, applied));
        }
        // Not reached (the safe-action target always returns above); kept
        // as the conservative answer rather than a panic.
        self.nominal.safe_action(state, &mut self.candidate);
        as_applied(&self.low, &self.high, &mut self.candidate);
        decision.intervention = Some(InterventionKind::Emergency);
        decision.applied_constraint = None;
        decision.blend = 1.0;
        Ok(self.finish(decision, applied))
    }

    /// `candidate = proposal + λ (target − proposal)`, rounded as applied.
    fn blend_into_candidate(&mut self, lambda: f64) {
        for ((c, &p), &t) in self
            .candidate
            .iter_mut()
            .zip(&self.proposal)
            .zip(&self.target)
        {
            *c = p + lambda * (t - p);
        }
        as_applied(&self.low, &self.high, &mut self.candidate);
    }

    /// Clamp a buffer to `previous ± rate_limit`; whether it changed.
    fn rate_limit(&mut self, which: Buf) -> bool {
        if !self.has_prev || self.config.rate_limits.is_empty() {
            return false;
        }
        let buf = match which {
            Buf::Proposal => &mut self.proposal,
            Buf::Target => &mut self.target,
        };
        let mut changed = false;
        for ((x, &p), &r) in buf.iter_mut().zip(&self.prev).zip(&self.config.rate_limits) {
            let c = x.clamp(p - r, p + r);
            changed |= c != *x;
            *x = c;
        }
        as_applied(&self.low, &self.high, buf);
        changed
    }

    /// Write the chosen action (the candidate, or the proposal when no
    /// intervention happened) and update counters.
    fn finish(&mut self, mut d: Decision, applied: &mut [f32]) -> Decision {
        let src = match d.intervention {
            None | Some(InterventionKind::RateLimited) => &self.proposal,
            Some(_) => &self.candidate,
        };
        let w = &self.hierarchy.preferences.action_weights;
        let mut sq = 0.0;
        for (i, ((a, &c), p)) in applied
            .iter_mut()
            .zip(src)
            .zip(self.prev.iter_mut())
            .enumerate()
        {
            *a = c as f32;
            *p = c;
            let e = w[i] * (c - self.original[i]);
            sq += e * e;
        }
        d.correction = sq.sqrt();
        self.has_prev = true;
        if let Some(k) = d.intervention {
            self.stats.interventions += 1;
            self.stats.by_kind[k as usize] += 1;
        }
        d
    }
}

/// The model and RNG of one look-ahead: `None` the nominal model; `Some(j)`
/// the stochastic model with disturbance sequence `j` of this decision
/// (common random numbers: every candidate of one decision meets the same
/// sequences).
fn scenario_model<'a>(
    scenario: Option<u64>,
    nominal: &'a Arc<dyn Model>,
    stochastic: &'a Option<Arc<dyn Model>>,
    rng: &'a mut EnvRng,
    scenario_rng: &'a mut EnvRng,
    decision_seed: u64,
) -> (&'a dyn Model, &'a mut EnvRng) {
    match (scenario, stochastic) {
        (Some(j), Some(m)) => {
            *scenario_rng = EnvRng::seed_from_u64(
                decision_seed
                    .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                    .wrapping_add(j),
            );
            (m.as_ref(), scenario_rng)
        }
        _ => (nominal.as_ref(), rng),
    }
}

/// Round to what the env will apply: `f32`, then clipped to the bounds
/// (exactly as [`crate::env::core::clip_action`] does).
#[inline]
pub(super) fn as_applied(low: &[f64], high: &[f64], a: &mut [f64]) {
    for ((x, &lo), &hi) in a.iter_mut().zip(low).zip(high) {
        *x = ((*x as f32) as f64).clamp(lo, hi);
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Backup {
    Expert,
    Hold,
    Safe,
}

/// What the look-ahead applies after the candidate's first step (and what
/// a tripped emergency stop applies under a [`super::Supervisor`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupLaw {
    /// The model's safe action, recomputed from the state on every step (a
    /// state feedback: the meaning of [`Model::safe_action`]).
    Recompute,
    /// The model's safe action computed once, at the first backup step, and
    /// then held. For plants whose safe action is a one-shot correction that
    /// is not safe to repeat (e.g. a set-point jump by the current error).
    Latch,
}

/// How well each backup law keeps the nominal plant safe from sampled
/// states (fraction of samples with no hard breach over three horizons).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BackupScores {
    pub recompute: f64,
    pub latch: f64,
    pub samples: usize,
    pub chosen: BackupLaw,
}

#[derive(Clone, Copy)]
enum Buf {
    Proposal,
    Target,
}
