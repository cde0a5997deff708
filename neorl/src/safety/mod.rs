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
//!   [`crate::eval::shielded`] (`neorl rollout --shield`, and the
//!   evaluation of agents).
//! - [`adversary`]: a privileged worst-case policy for stress tests.
//!
//! The shield reads the plant's internal state ([`crate::env::Env::state`]);
//! a real plant would feed it from a state estimator.
//!
//! ```
//! use neorl::safety::{SafetyConfig, Supervisor};
//! # fn main() -> neorl::Result<()> {
//! # let ids = neorl::env::ids();
//! # let Some(id) = ids.first() else { return Ok(()) };
//! let mut env = neorl::make(id)?;
//! let mut policy = neorl::control::make_policy(env.spec(), neorl::control::PolicyKind::Random)?;
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
pub use audit::{AuditLog, VerifyReport, verify};
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
