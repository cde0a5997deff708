//! Classical controllers: the plants' own expert and behaviour policies.
//!
//! Each environment has an **expert** (the controller a plant would run:
//! PID, cascade, gain-scheduled PI, computed torque, AGC, base-stock), a
//! **medium** one (detuned gains plus actuator noise, documented in its
//! file) and the uniform **random** policy. These generate the offline
//! datasets and define the reference returns for normalized scores.
//!
//! Controllers read only the observation, as a real controller reads only
//! its measurements. (This module depends on `env` for the observation
//! layout each controller reads; `env` does not depend on it.)

pub mod chemical_reactor;
pub mod hvac;
pub mod noise;
pub mod pid;
pub mod power_grid;
pub mod random;
pub mod robot_assembly;
pub mod steel_annealing;
pub mod supply_chain;
pub mod water_treatment;

use crate::env::{EnvSpec, process_of};
use crate::error::{Error, Result};
use crate::policy::Policy;
pub use noise::WithActionNoise;
pub use pid::Pid;
pub use random::RandomPolicy;

/// Mixed into episode seeds before seeding a policy's own RNG, so a policy
/// and the environment never draw from the same stream.
pub const POLICY_SEED_SALT: u64 = 0x9E37_79B9_7F4A_7C15;

/// Which built-in behaviour policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyKind {
    Expert,
    Medium,
    Random,
}

impl PolicyKind {
    pub const ALL: [PolicyKind; 3] = [PolicyKind::Expert, PolicyKind::Medium, PolicyKind::Random];

    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::Expert => "expert",
            PolicyKind::Medium => "medium",
            PolicyKind::Random => "random",
        }
    }
}

impl std::fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for PolicyKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "expert" => Ok(PolicyKind::Expert),
            "medium" => Ok(PolicyKind::Medium),
            "random" => Ok(PolicyKind::Random),
            _ => Err(Error::UnknownPolicy {
                name: s.to_string(),
                known: "expert, medium, random".into(),
            }),
        }
    }
}

/// Constructors of one process's controllers (by its v0 id; every
/// protocol version of the process uses them: v1 changes no observation).
struct Controllers {
    id: &'static str,
    expert: fn(&EnvSpec) -> Box<dyn Policy>,
    medium: fn(&EnvSpec) -> Box<dyn Policy>,
}

/// One row per environment, in registry order.
const CONTROLLERS: &[Controllers] = &[
    Controllers {
        id: "ChemicalReactor-v0",
        expert: chemical_reactor::expert,
        medium: chemical_reactor::medium,
    },
    Controllers {
        id: "RobotAssembly-v0",
        expert: robot_assembly::expert,
        medium: robot_assembly::medium,
    },
    Controllers {
        id: "HVACControl-v0",
        expert: hvac::expert,
        medium: hvac::medium,
    },
    Controllers {
        id: "WaterTreatment-v0",
        expert: water_treatment::expert,
        medium: water_treatment::medium,
    },
    Controllers {
        id: "SteelAnnealing-v0",
        expert: steel_annealing::expert,
        medium: steel_annealing::medium,
    },
    Controllers {
        id: "PowerGrid-v0",
        expert: power_grid::expert,
        medium: power_grid::medium,
    },
    Controllers {
        id: "SupplyChain-v0",
        expert: supply_chain::expert,
        medium: supply_chain::medium,
    },
];

/// Build the `kind` policy of the environment described by `spec`.
pub fn make_policy(spec: &EnvSpec, kind: PolicyKind) -> Result<Box<dyn Policy>> {
    if kind == PolicyKind::Random {
        return Ok(Box::new(RandomPolicy::new(spec)));
    }
    let c = CONTROLLERS
        .iter()
        .find(|c| process_of(c.id) == process_of(&spec.id))
        .ok_or_else(|| Error::UnknownPolicy {
            name: format!("{kind} for {}", spec.id),
            known: format!(
                "random; expert and medium exist for {}",
                CONTROLLERS
                    .iter()
                    .map(|c| c.id)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })?;
    Ok(match kind {
        PolicyKind::Expert => (c.expert)(spec),
        PolicyKind::Medium => (c.medium)(spec),
        PolicyKind::Random => unreachable!("handled above"),
    })
}
