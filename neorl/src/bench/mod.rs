//! Benchmarks behind `neorl bench …`. Each reports rates measured in the
//! same run, so ratios between them (batched vs single, 2 threads vs 1) are
//! meaningful even on a noisy shared machine.

pub mod agents;
pub mod datasets;
pub mod envs;
pub mod safety;
#[cfg(feature = "serve")]
pub mod serve;

use crate::error::Result;
use std::time::{Duration, Instant};

/// Call `f` (which returns how many operations it did) once to warm up,
/// then repeatedly until `min_time` has passed; operations per second.
pub(crate) fn rate(min_time: Duration, mut f: impl FnMut() -> Result<usize>) -> Result<f64> {
    f()?;
    let start = Instant::now();
    let mut ops = 0usize;
    while start.elapsed() < min_time {
        ops += f()?;
    }
    Ok(ops as f64 / start.elapsed().as_secs_f64())
}
