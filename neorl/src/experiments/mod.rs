//! Experiments: training and evaluation put together and aggregated over
//! environments, algorithms and seeds. It sits above [`crate::agents`] and
//! [`crate::eval`] (which only evaluates a given policy); its tables are
//! drawn by [`crate::report`].
//!
//! - [`scores`]: reproducible score tables (`neorl scores`);
//! - [`records`]: run records, the compact export of a sweep (`neorl sweep
//!   export`, read by `neorl paper`).

pub mod records;
pub mod scores;
