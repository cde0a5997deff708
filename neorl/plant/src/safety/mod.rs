//! The safety layer: in a plant, a learned policy never touches the
//! actuators directly.
//!
//! ```text
//!             ┌──────────────────────── Supervisor ───────────────────────────┐
//!  Policy ──▶ │ operator override ─▶ Shield (bounds, rate limits, look-ahead, │ ──▶ Env
//!  (agent,    │   (HumanOverride)     projection, backup) ─▶ EmergencyStop    │
//!  controller,│                                                               │
//!  closure)   │ Monitor (margins, alarms) ◀── constraint values after the step│
//!             │ AuditLog (hash-chained JSON Lines) ◀── every safety event     │
//!             └───────────────────────────────────────────────────────────────┘
//! ```
//!
//! - [`constraints`]: the hierarchy — hard (never crossed: interlock and
//!   emergency stop), soft (penalised: cost), preferences (objective
//!   weights) — with allocation-free checks and normalised margins.
//! - [`monitor`]: per-step margins, rolling statistics, alarm levels
//!   normal → warning → alarm → emergency stop with hysteresis.
//! - [`shield`]: model-predictive safety filter with a backup horizon; the
//!   guarantee and its limits are documented there.
//! - [`estop`]: the latching emergency-stop state machine.
//! - [`human_override`]: operator take-over and hand-back.
//! - [`audit`]: the append-only, hash-chained, sealed audit log and its verifier.
//! - [`supervisor`]: all of the above assembled around one plant; used by
//!   [`crate::rollout::shielded`] (`neorl rollout --shield`, and the
//!   evaluation of agents).
//! - [`adversary`]: a privileged worst-case policy for stress tests.
//!
//! The shield reads the plant's internal state ([`crate::env::Env::state`]);
//! at a real plant it is fed the state estimated from the observations
//! ([`crate::estimate`], with the guarantee measured under it there), as the
//! policy server does ([`Supervisor::serve`]).
//!
//! ## Emergency shutdowns
//!
//! Two plants have an emergency shutdown beyond the policy's actuators
//! ([`crate::env::Model::shutdown`]), as their real counterparts do:
//! ChemicalReactor-v0's feed cut-off and quench (a runaway near ignition
//! cannot always be stopped with the brine valve, because the unmeasured
//! feed drift decides it), and SupplyChain-v0's overflow diversion (loads
//! already on the road cannot be recalled). The emergency stop fires it,
//! and the shield takes that path only when no action verifies; before it
//! lets any action through it checks that the shutdown would still be safe
//! after it ([`shield`]). Tripping ends the episode at a cost.
//!
//! ## Measured per environment
//!
//! Default shield (horizon 20, back-off 0.2 of the nominal clearance, 8
//! disturbance scenarios, expert → hold → safe-action targets), with the
//! documented disturbances and sensor noise **on**. "Random" is the uniform
//! policy, "adversarial" the privileged [`Adversary`] (every step, the
//! corner of the action box that drives the plant nearest to a hard limit
//! over three steps); whole episodes until at least 10^5 shielded steps per
//! row (`cargo test -p neorl-plant --release --lib residual_table --
//! --ignored --nocapture` with `RESIDUAL_STEPS=100000
//! RESIDUAL_MAX_EPISODES=100000 RESIDUAL_BACKOFFS=0.2`, seed 21; the
//! unshielded column is 30 episodes, `RESIDUAL_MAX_EPISODES=30
//! RESIDUAL_BACKOFFS=none`). Entries are "random / adversarial".
//! The adversary pushes at full authority every step, so the shield changes
//! nearly all of its actions; "emergencies" are decisions where nothing
//! verified (the shutdown fired where the plant has one, else the safe
//! action was applied anyway).
//!
//! | environment | backup law | unshielded: episodes breached (of 30) | **shielded: episodes breached** | shielded steps | interventions (% of steps) | emergencies | shutdowns (episodes) |
//! |---|---|---|---|---|---|---|---|
//! | ChemicalReactor-v0 | recompute | 12 / 30 | **0 / 0** | 100204 / 100536 | 0.9 / 99.6 | 16 / 63 | 16 of 141 / 63 of 188 |
//! | RobotAssembly-v0 | recompute | 30 / 30 | **0 / 0** | 100263 / 100354 | 37.3 / 97.4 | 23 / 0 | 0 of 175 / 0 of 168 |
//! | HVACControl-v0 | recompute | 24 / 30 | **0 / 0** | 100224 / 100224 | 30.6 / 99.4 | 0 / 0 | 0 of 261 / 0 of 261 |
//! | WaterTreatment-v0 | recompute | 28 / 30 | **0 / 0** | 100080 / 100080 | 33.1 / 97.6 | 0 / 0 | 0 of 139 / 0 of 139 |
//! | SteelAnnealing-v0 | recompute | 18 / 30 | **0 / 0** | 100440 / 100440 | 16.0 / 98.4 | 0 / 0 | 0 of 186 / 0 of 186 |
//! | PowerGrid-v0 | latch | 29 / 30 | **0 / 0** | 100200 / 100200 | 19.6 / 99.0 | 0 / 0 | 0 of 167 / 0 of 167 |
//! | SupplyChain-v0 | recompute | 30 / 30 | **0 / 0** | 100234 / 100011 | 24.5 / 23.8 | 3 / 5 | 3 of 276 / 5 of 277 |
//!
//! The expert controller through the shield against the expert alone, same
//! 50 episodes with disturbances and noise on (`RESIDUAL_EPISODES=50 cargo
//! test -p neorl-plant --release --lib expert_through_the_shield --
//! --ignored --nocapture`; normalized score ± standard error):
//!
//! | environment | expert | expert through the shield | breaches | interventions | shutdowns |
//! |---|---|---|---|---|---|
//! | ChemicalReactor-v0 | 100.7 ± 0.6 | 100.7 ± 0.6 | 0 / 0 | 0.0 % | 0 |
//! | RobotAssembly-v0 | 100.3 ± 0.3 | 100.3 ± 0.3 | 0 / 0 | 0.0 % | 0 |
//! | HVACControl-v0 | 100.0 ± 0.0 | 98.7 ± 0.5 | 0 / 0 | 4.2 % | 0 |
//! | WaterTreatment-v0 | 99.8 ± 0.4 | 99.8 ± 0.4 | 0 / 0 | 0.0 % | 0 |
//! | SteelAnnealing-v0 | 101.5 ± 0.8 | 101.5 ± 0.8 | 0 / 0 | 0.0 % | 0 |
//! | PowerGrid-v0 | 100.1 ± 0.2 | 100.1 ± 0.2 | 0 / 0 | 0.0 % | 0 |
//! | SupplyChain-v0 | 100.1 ± 0.2 | 100.1 ± 0.2 | 0 / 0 | 0.0 % | 0 |
//!
//! Normal operation is untouched in six processes; in HVACControl-v0 the
//! back-off makes the shield correct 4 % of the expert's steps and costs
//! it 1.3 points.
//!
//! What each process needed:
//!
//! - **ChemicalReactor-v0**: the emergency shutdown. Near the ignition
//!   boundary the peak temperature under full cooling is extremely
//!   sensitive to the state (in `reactor_prediction_near_ignition` the
//!   nominal prediction of that peak swings between 361 K and 381 K from one
//!   3-s step to the next while the real plant peaks at 370 K), so the
//!   unmeasured drift of feed temperature and concentration decides whether
//!   a state the nominal model calls recoverable is, and no temperature
//!   back-off measures a distance to a bifurcation. Before the shutdown
//!   existed, 11 of 125 random and 27 of 125 adversarial shielded episodes
//!   ran away (10^5 steps each, same settings). The shutdown's reach does
//!   not depend on the feed (it is cut off), so the shield's check of it
//!   is exact; the disturbance bound it needs is none.
//! - **SupplyChain-v0**: the overflow diversion. Before it, 3 of 273
//!   random and 5 of 273 adversarial episodes breached a store's capacity:
//!   a run of low demand after goods were already under way, where not
//!   even stopping every order verified.
//! - **RobotAssembly-v0**: the contact force's bound
//!   ([`crate::env::Model::shield_constraints`]). Before it, 2 of 166
//!   random episodes breached the 80 N limit at a peg grazing the hole's
//!   wall (the nominal prediction 56 N, the real step 93 N: the
//!   Kelvin–Voigt force jumps at first touch, and the torque disturbance
//!   decides on which side of the jump the step ends; 32 instead of 8
//!   scenarios still left one breach). Its emergencies apply the
//!   controlled stop; none breached.
//! - **PowerGrid-v0**'s safe action (set-points moved by the area control
//!   error) oscillates when repeated every second, so its backup law is
//!   latched (calibration: recompute keeps 4 % of sampled states safe,
//!   latch 81 %), and so is its emergency stop.
//! - HVAC, water treatment and steel annealing needed nothing new. Back-off
//!   0 without scenarios leaves breaches in WaterTreatment, PowerGrid,
//!   SupplyChain, RobotAssembly and SteelAnnealing (the level, frequency,
//!   stock and joint limits ride the boundary and the next disturbance tips
//!   them over), which is why the default back-off is 0.2.
//!
//! The property tests check it in CI: zero breaches and zero emergencies
//! with disturbances off (`shielded_registered_envs_never_breach`), zero
//! breaches with them on (`…_with_disturbances`), random and adversarial,
//! in all seven processes.
//!
//! ```
//! use neorl_plant::safety::{SafetyConfig, Supervisor};
//! # fn main() -> neorl_plant::Result<()> {
//! # let ids = neorl_plant::env::ids();
//! # let Some(id) = ids.first() else { return Ok(()) };
//! let mut env = neorl_plant::make(id)?;
//! let mut policy = neorl_plant::control::make_policy(env.spec(), neorl_plant::control::PolicyKind::Random)?;
//! let mut safety = Supervisor::new(&env, SafetyConfig::default())?;
//! env.reset(0);
//! safety.begin_episode(&env, 0)?;
//! let step = safety.step(&mut env, policy.as_mut())?;
//! println!("{:?} {:?}", step.decision, safety.totals());
//! # Ok(()) }
//! ```

pub mod adversary;
pub mod audit;
pub mod constraints;
pub mod estop;
pub mod human_override;
pub mod monitor;
pub mod shield;
pub mod supervisor;

pub use adversary::Adversary;
pub use audit::{Anchor, AnchorCheck, AuditLog, VerifyReport, verify, verify_file};
pub use constraints::{CheckSummary, ConstraintHierarchy, Level, Preferences};
pub use estop::{EStopState, EmergencyStop, TripCause};
pub use human_override::{ControlMode, HumanOverride, OverrideSource};
pub use monitor::{AlarmLevel, Monitor, MonitorConfig, MonitorReport};
pub use shield::{
    BackupLaw, BackupScores, Decision, InterventionKind, Shield, ShieldConfig, ShieldStats,
};
pub use supervisor::{
    ActionSource, SafetyConfig, SafetyTotals, ServedStep, SupervisedStep, Supervisor,
};

#[cfg(test)]
mod tests;
