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
pub mod protocol;
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
pub use protocol::{Version, process_of};
pub use registry::{all_ids, ids, ids_of, make, make_with, model, registered_id};
pub use spec::{BreachPenalty, ConstraintKind, ConstraintSpec, Dim, EnvSpec, Sense};
pub use vec_env::VecEnv;
pub use wrapper::{Env, Step, StepInfo};

#[cfg(test)]
mod tests;
