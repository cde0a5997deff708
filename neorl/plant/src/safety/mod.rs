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
//! a real plant would feed it from a state estimator.
//!
//! ## Measured per environment
//!
//! Default shield (horizon 20, back-off 0.2 of the nominal clearance, 8
//! disturbance scenarios, expert → hold → safe-action targets). "Random" is
//! the uniform policy, "adversarial" the privileged [`Adversary`] (every
//! step, the corner of the action box that drives the plant nearest to a
//! hard limit over three steps). Entries are "random / adversarial";
//! breaches count episodes that ended in a hard breach, out of 30 (seed 21,
//! `cargo test -p neorl --lib residual_table -- --ignored --nocapture` with
//! `RESIDUAL_STEPS=1000000 RESIDUAL_MAX_EPISODES=30 RESIDUAL_BACKOFFS=none,0.2`,
//! plus `RESIDUAL_DETERMINISTIC=1` for the "off" columns: disturbances and
//! sensor noise off). The adversary pushes at full authority every step, so
//! the shield changes nearly all of its actions. (RobotAssembly's row was
//! re-measured after its safe action became a controlled stop that reaches
//! rest within the look-ahead; with the former viscous brake a random run
//! found a breach with disturbances off, see `shield.rs`.)
//!
//! | environment        | backup law | off: unshielded | off: shielded | on: unshielded | on: shielded | on: interventions (% of steps) | on: emergency stops |
//! |---|---|---|---|---|---|---|---|
//! | ChemicalReactor-v0 | recompute | 8 / 30 | 0 / 0 | 12 / 30 | **1 / 9** | 1 / 76 | 4 / 14 |
//! | RobotAssembly-v0 | recompute | 30 / 30 | 0 / 0 | 30 / 30 | **0 / 0** | 39 / 97 | 0 / 0 |
//! | HVACControl-v0 | recompute | 30 / 30 | 0 / 0 | 24 / 30 | **0 / 0** | 28 / 100 | 0 / 0 |
//! | WaterTreatment-v0 | recompute | 28 / 30 | 0 / 0 | 28 / 30 | **0 / 0** | 30 / 98 | 0 / 0 |
//! | SteelAnnealing-v0 | recompute | 12 / 30 | 0 / 0 | 18 / 30 | **0 / 0** | 21 / 98 | 0 / 0 |
//! | PowerGrid-v0 | latch | 30 / 30 | 0 / 0 | 29 / 30 | **0 / 0** | 20 / 99 | 0 / 0 |
//! | SupplyChain-v0 | recompute | 30 / 30 | 0 / 0 | 30 / 30 | **0 / 0** | 23 / 24 | 0 / 0 |
//!
//! With disturbances off the guarantee holds in every environment: the
//! property test `shielded_registered_envs_never_breach` asserts zero
//! breaches and zero emergencies over random seeds. With disturbances on:
//!
//! - **ChemicalReactor-v0 has no guarantee.** The CSTR runs at its
//!   open-loop-unstable steady state. Near the ignition boundary the peak
//!   temperature under full cooling is extremely sensitive to the state:
//!   in `reactor_prediction_near_ignition` the nominal prediction of that
//!   peak swings between 361 K and 381 K from one 3-s step to the next
//!   while the real plant peaks at 370 K. So the unmeasured drift of feed
//!   temperature and concentration (Ornstein–Uhlenbeck, 2 K and
//!   0.03 mol/L) decides whether a state the nominal model calls
//!   recoverable is, and no temperature back-off measures a distance to a
//!   bifurcation. Scenarios help (adversary, back-off 0.2: 5 of 10 episodes
//!   breached without scenarios, 1 of 10 with 16), and the residual with
//!   the default 8 is in the table. A real reactor this close to runaway
//!   would also dump the feed (the interlock's other half, outside this
//!   model's action space).
//! - **PowerGrid-v0**'s safe action (set-points moved by the area control
//!   error) oscillates when repeated every second, so its backup law is
//!   latched (calibration: recompute keeps 4 % of sampled states safe,
//!   latch 81 %), and so is its emergency stop.
//! - Everywhere else the residual measured is zero; back-off 0 without
//!   scenarios leaves breaches in WaterTreatment, PowerGrid, SupplyChain, RobotAssembly and
//!   SteelAnnealing (the level, frequency, stock and joint limits ride the
//!   boundary and the next disturbance tips them over), which is why the
//!   default back-off is 0.2.
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
pub use supervisor::{ActionSource, SafetyConfig, SafetyTotals, SupervisedStep, Supervisor};

#[cfg(test)]
mod tests;
