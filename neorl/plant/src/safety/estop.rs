//! The emergency stop: a latching state machine.
//!
//! ```text
//!            trip(cause)                    reset(operator) [plant safe]
//!   Armed ───────────────▶ Tripped ──────────────────────────────────▶ Armed
//!                           │  ▲
//!                           └──┘ trip(cause): counted, stays Tripped
//! ```
//!
//! - **Armed**: the plant runs on the policy (through the shield).
//! - **Tripped**: every step applies the model's safe action (coolant full
//!   open, burners off, arm braked…), whatever the policy, the operator or
//!   the shield propose. It stays tripped until an explicit
//!   [`EmergencyStop::reset`] by a named operator, which is refused while
//!   any hard constraint is crossed. A new episode is a new plant run: the
//!   [`super::Supervisor`] resets the stop at episode start and logs it.
//!
//! The state machine itself does no I/O; the supervisor writes every trip
//! and reset to the audit log.

use crate::env::Model;
use crate::error::{Error, Result};
use serde::Serialize;

/// Why the emergency stop tripped.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "cause", rename_all = "snake_case")]
pub enum TripCause {
    /// A hard constraint was crossed (the plant's interlock).
    HardViolation { constraint: String },
    /// The shield found no action it could verify safe; `constraint` is the
    /// hard limit that even the safe action was predicted to cross.
    NoSafeAction { constraint: Option<String> },
    /// The monitor's alarm level reached `emergency_stop`.
    Monitor {
        constraint: Option<String>,
        margin: f64,
    },
    /// An operator pressed the button.
    Operator { operator: String, reason: String },
}

/// The two states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EStopState {
    Armed,
    Tripped,
}

/// The emergency stop of one plant.
#[derive(Debug, Clone)]
pub struct EmergencyStop {
    state: EStopState,
    cause: Option<TripCause>,
    trips: u64,
    resets: u64,
}

impl Default for EmergencyStop {
    fn default() -> Self {
        Self::new()
    }
}

impl EmergencyStop {
    pub fn new() -> Self {
        EmergencyStop {
            state: EStopState::Armed,
            cause: None,
            trips: 0,
            resets: 0,
        }
    }

    pub fn state(&self) -> EStopState {
        self.state
    }
    pub fn is_tripped(&self) -> bool {
        self.state == EStopState::Tripped
    }
    /// The cause of the current trip (`None` while armed).
    pub fn cause(&self) -> Option<&TripCause> {
        self.cause.as_ref()
    }
    /// Transitions Armed → Tripped so far.
    pub fn trips(&self) -> u64 {
        self.trips
    }
    pub fn resets(&self) -> u64 {
        self.resets
    }

    /// Trip. Returns `true` if this call tripped an armed stop, `false` if
    /// it was already tripped (the first cause is kept).
    pub fn trip(&mut self, cause: TripCause) -> bool {
        match self.state {
            EStopState::Armed => {
                self.state = EStopState::Tripped;
                self.cause = Some(cause);
                self.trips += 1;
                true
            }
            EStopState::Tripped => false,
        }
    }

    /// Re-arm after a trip. `operator` must be named; `plant_safe` says
    /// whether every hard constraint is satisfied now (the supervisor checks
    /// the plant's constraint values). Errors leave the state unchanged.
    pub fn reset(&mut self, operator: &str, plant_safe: bool) -> Result<TripCause> {
        if operator.trim().is_empty() {
            return Err(Error::SafetyState(
                "an emergency-stop reset needs the name of the operator who resets it".into(),
            ));
        }
        match self.state {
            EStopState::Armed => Err(Error::SafetyState(
                "the emergency stop is not tripped; there is nothing to reset".into(),
            )),
            EStopState::Tripped if !plant_safe => Err(Error::SafetyState(
                "a hard constraint is still crossed; bring the plant back inside its limits (the safe action is being applied) before resetting the emergency stop".into(),
            )),
            EStopState::Tripped => {
                self.state = EStopState::Armed;
                self.resets += 1;
                Ok(self.cause.take().unwrap_or(TripCause::Operator {
                    operator: operator.to_string(),
                    reason: "unknown".into(),
                }))
            }
        }
    }

    /// While tripped, overwrite `action` with the model's safe action for
    /// `state`; returns whether it did.
    pub fn apply(&self, model: &dyn Model, state: &[f64], action: &mut [f64]) -> bool {
        if self.is_tripped() {
            model.safe_action(state, action);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::EnvOptions;
    use crate::env::testing::Tank;

    #[test]
    fn trips_latch_and_need_an_explicit_safe_reset() {
        let mut e = EmergencyStop::new();
        let tank = Tank::new(EnvOptions::deterministic());
        let mut a = [1.5];
        assert!(!e.apply(&tank, &[1.0], &mut a));
        assert_eq!(a, [1.5]);
        assert!(
            e.reset("ana", true).is_err(),
            "nothing to reset while armed"
        );
        assert!(e.trip(TripCause::HardViolation {
            constraint: "level_max".into()
        }));
        assert!(!e.trip(TripCause::Operator {
            operator: "bo".into(),
            reason: "test".into()
        }));
        assert_eq!(e.trips(), 1);
        assert!(matches!(e.cause(), Some(TripCause::HardViolation { .. })));
        // Stays tripped, applying the safe action, however long.
        for _ in 0..100 {
            let mut a = [2.0];
            assert!(e.apply(&tank, &[1.0], &mut a));
            assert_eq!(a, [0.0]);
        }
        assert!(e.reset("", true).is_err(), "anonymous reset refused");
        assert!(e.reset("ana", false).is_err(), "reset refused while unsafe");
        assert!(e.is_tripped());
        let cause = e.reset("ana", true).unwrap();
        assert!(matches!(cause, TripCause::HardViolation { .. }));
        assert_eq!(e.state(), EStopState::Armed);
        assert_eq!(e.resets(), 1);
        assert!(e.cause().is_none());
    }
}
