//! Benchmarks behind `neorl bench …`. Each reports rates measured in the
//! same run, so ratios between them (batched vs single, 2 threads vs 1) are
//! meaningful even on a noisy shared machine.

pub mod agents;
pub mod datasets;
pub mod envs;
pub mod safety;
