//! Human override: an operator takes the plant over from the policy and
//! hands it back.
//!
//! ```text
//!          take_over(operator, source, reason)
//!   Auto ─────────────────────────────────────▶ Manual { operator }
//!    ▲                                                │
//!    └──────────── hand_back(operator, reason) ───────┘
//! ```
//!
//! While in `Manual`, the operator's action replaces the policy's: either a
//! fixed setting ([`OverrideSource::Fixed`]) or the operator's own
//! controller ([`OverrideSource::Controller`], any [`Policy`]). The operator's
//! action still goes through the shield by default (the hard limits bind
//! operators too) and the emergency stop always has the last word. Only the
//! operator who took over may hand back, and taking over while already in
//! manual is refused (hand back first), so every change of hands is explicit.
//! The [`super::Supervisor`] writes each hand-over to the audit log.

use crate::env::EnvSpec;
use crate::error::{Error, Result};
use crate::policy::Policy;

/// What drives the plant while the operator has it.
#[derive(Debug)]
pub enum OverrideSource {
    /// A fixed action (one value per action dimension).
    Fixed(Vec<f32>),
    /// The operator's own controller.
    Controller(Box<dyn Policy>),
}

impl OverrideSource {
    /// A short description for the audit log.
    pub fn describe(&self) -> String {
        match self {
            OverrideSource::Fixed(a) => format!("fixed action {a:?}"),
            OverrideSource::Controller(p) => format!("controller '{}'", p.name()),
        }
    }
}

/// Who is in control.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum ControlMode {
    Auto,
    Manual { operator: String },
}

/// The override state machine of one plant.
#[derive(Debug)]
pub struct HumanOverride {
    env: String,
    act_dim: usize,
    mode: ControlMode,
    source: Option<OverrideSource>,
    handovers: u64,
}

impl HumanOverride {
    pub fn new(spec: &EnvSpec) -> Self {
        HumanOverride {
            env: spec.id.clone(),
            act_dim: spec.act_dim(),
            mode: ControlMode::Auto,
            source: None,
            handovers: 0,
        }
    }

    pub fn mode(&self) -> &ControlMode {
        &self.mode
    }
    pub fn is_manual(&self) -> bool {
        matches!(self.mode, ControlMode::Manual { .. })
    }
    /// Hand-overs (either direction) so far.
    pub fn handovers(&self) -> u64 {
        self.handovers
    }
    /// The current source, while in manual.
    pub fn source(&self) -> Option<&OverrideSource> {
        self.source.as_ref()
    }

    /// The operator takes over. Errors (already manual, anonymous operator,
    /// a fixed action of the wrong length or not finite) change nothing.
    pub fn take_over(
        &mut self,
        operator: &str,
        mut source: OverrideSource,
        seed: u64,
    ) -> Result<()> {
        if operator.trim().is_empty() {
            return Err(Error::SafetyState(
                "a take-over needs the name of the operator taking over".into(),
            ));
        }
        if let ControlMode::Manual { operator: who } = &self.mode {
            return Err(Error::SafetyState(format!(
                "{}: the plant is already under manual control by '{who}'; they must hand back first",
                self.env
            )));
        }
        if let OverrideSource::Fixed(a) = &source {
            if a.len() != self.act_dim {
                return Err(Error::Shape {
                    what: format!("{}: operator's fixed action", self.env),
                    expected: self.act_dim,
                    got: a.len(),
                });
            }
            if a.iter().any(|x| !x.is_finite()) {
                return Err(Error::InvalidArgument(format!(
                    "{}: the operator's fixed action {a:?} must be finite",
                    self.env
                )));
            }
        }
        if let OverrideSource::Controller(p) = &mut source {
            p.reset(seed);
        }
        self.mode = ControlMode::Manual {
            operator: operator.to_string(),
        };
        self.source = Some(source);
        self.handovers += 1;
        Ok(())
    }

    /// The operator hands back to the policy; returns the source they used.
    pub fn hand_back(&mut self, operator: &str) -> Result<OverrideSource> {
        match &self.mode {
            ControlMode::Auto => Err(Error::SafetyState(format!(
                "{}: the plant is not under manual control; there is nothing to hand back",
                self.env
            ))),
            ControlMode::Manual { operator: who } if who != operator => {
                Err(Error::SafetyState(format!(
                    "{}: '{operator}' cannot hand back: '{who}' has the plant",
                    self.env
                )))
            }
            ControlMode::Manual { .. } => {
                self.mode = ControlMode::Auto;
                self.handovers += 1;
                self.source.take().ok_or_else(|| {
                    Error::SafetyState(format!("{}: manual mode without a source", self.env))
                })
            }
        }
    }

    /// In manual, write the operator's action into `action` and return
    /// `true`; in auto, leave it and return `false`.
    pub fn act(&mut self, obs: &[f32], action: &mut [f32]) -> Result<bool> {
        if action.len() != self.act_dim {
            return Err(Error::Shape {
                what: format!("{}: action buffer for the operator", self.env),
                expected: self.act_dim,
                got: action.len(),
            });
        }
        match self.source.as_mut() {
            None => Ok(false),
            Some(OverrideSource::Fixed(a)) => {
                action.copy_from_slice(a);
                Ok(true)
            }
            Some(OverrideSource::Controller(p)) => {
                p.act(obs, action)?;
                Ok(true)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::EnvOptions;
    use crate::env::Model;
    use crate::env::testing::Tank;
    use crate::policy::FnPolicy;

    #[test]
    fn take_over_and_hand_back_follow_the_state_machine() {
        let tank = Tank::new(EnvOptions::deterministic());
        let mut h = HumanOverride::new(tank.spec());
        let mut a = [0.3f32];
        assert!(!h.act(&[1.0], &mut a).unwrap());
        assert_eq!(a, [0.3]);
        assert!(h.hand_back("ana").is_err(), "nothing to hand back");
        assert!(
            h.take_over("", OverrideSource::Fixed(vec![1.0]), 0)
                .is_err()
        );
        assert!(
            h.take_over("ana", OverrideSource::Fixed(vec![1.0, 2.0]), 0)
                .is_err()
        );
        assert!(
            h.take_over("ana", OverrideSource::Fixed(vec![f32::NAN]), 0)
                .is_err()
        );
        assert!(!h.is_manual(), "failed take-overs change nothing");
        h.take_over("ana", OverrideSource::Fixed(vec![1.0]), 0)
            .unwrap();
        assert!(h.act(&[1.0], &mut a).unwrap());
        assert_eq!(a, [1.0]);
        assert!(
            h.take_over("bo", OverrideSource::Fixed(vec![0.0]), 0)
                .is_err()
        );
        assert!(
            h.hand_back("bo").is_err(),
            "only the operator in charge hands back"
        );
        h.hand_back("ana").unwrap();
        assert_eq!(h.mode(), &ControlMode::Auto);
        h.take_over(
            "bo",
            OverrideSource::Controller(Box::new(FnPolicy::new(
                "half",
                |o: &[f32], a: &mut [f32]| a[0] = o[0] * 0.5,
            ))),
            1,
        )
        .unwrap();
        assert!(h.act(&[1.0], &mut a).unwrap());
        assert_eq!(a, [0.5]);
        assert!(h.source().unwrap().describe().contains("half"));
        h.hand_back("bo").unwrap();
        assert_eq!(h.handovers(), 4);
    }
}
