//! Sweeps beyond one machine: a TOML spec of algorithms × environments ×
//! datasets × seeds becomes a manifest of tasks, run as a SLURM job array
//! (or locally), each task an MLflow child run of the sweep's parent run,
//! resumable from its checkpoints; `collect` gives the score table.
//!
//! ```text
//! neorl sweep init [--small] > spec.toml
//! neorl sweep plan spec.toml --out DIR      # manifest.json, parent run, sweep.sbatch
//! neorl sweep submit DIR                    # sbatch --parsable; or: neorl sweep run-local DIR --jobs J
//! neorl sweep status DIR                    # done / running / failed / missing, and a resubmit line
//! neorl sweep collect DIR                   # scores.md, scores.json, scores.html
//! ```
//!
//! - [`files`]: files written whole (temporary file + rename);
//! - [`spec`]: the spec file and its checks;
//! - [`manifest`]: the planned tasks, with their hash;
//! - [`plan`]: manifest, parent run and SLURM script;
//! - [`slurm`]: the job array script and `sbatch`;
//! - [`tasks`]: a task's folder and its status;
//! - [`result`]: a task's result as exact MLflow tags;
//! - [`worker`]: one task, resumable;
//! - [`local`]: the tasks on this machine;
//! - [`collect`]: the score tables.

pub mod collect;
pub mod files;
pub mod local;
pub mod manifest;
pub mod plan;
pub mod result;
pub mod slurm;
pub mod spec;
pub mod tasks;
pub mod worker;

pub use collect::collect;
pub use local::{LocalReport, run_local};
pub use manifest::{Manifest, Task};
pub use plan::{PlanOptions, Planned, plan};
pub use spec::SweepSpec;
pub use worker::{Outcome, run_task};

#[cfg(test)]
mod tests;
