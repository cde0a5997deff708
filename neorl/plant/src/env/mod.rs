//! Environments: the seven industrial processes, the [`Env`] wrapper, the
//! batched [`VecEnv`] and the registry.
//!
//! Each process is a pure [`Model`] in its own file, with its physics,
//! units and sources in the file's doc comment.

pub mod chemical_reactor;
pub mod core;
pub mod hvac;
pub mod math;
pub mod model;
pub mod power_grid;
pub mod registry;
pub mod robot_assembly;
pub mod spec;
pub mod steel_annealing;
pub mod supply_chain;
pub mod vec_env;
pub mod water_treatment;
pub mod wrapper;

#[cfg(test)]
pub(crate) mod testing;

pub use self::core::StepOutcome;
pub use model::{EnvOptions, EnvRng, Model, Shutdown, Transition};
pub use registry::{ids, make, make_with, model};
pub use spec::{ConstraintKind, ConstraintSpec, Dim, EnvSpec, Sense};
pub use vec_env::VecEnv;
pub use wrapper::{Env, Step, StepInfo};

#[cfg(test)]
mod tests;
