//! Real components the integration tests start and stop: an MLflow
//! tracking server, a single-node SLURM cluster and Prometheus.

pub mod mlflow;
#[allow(dead_code)]
pub mod prometheus;
#[allow(dead_code)]
pub mod slurm;

use std::time::{Duration, Instant};

/// Poll `f` every `poll` until it holds; fail the test, naming `what`, after
/// `secs` seconds.
#[allow(dead_code)]
pub fn wait_until(what: &str, secs: u64, poll: Duration, f: impl Fn() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "timed out: {what}"
        );
        std::thread::sleep(poll);
    }
}
