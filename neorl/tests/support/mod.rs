//! Real components the integration tests start and stop: an MLflow
//! tracking server, a single-node SLURM cluster and Prometheus; and the
//! Python packages some tests compare against.

pub mod mlflow;
#[allow(dead_code)]
pub mod prometheus;
#[allow(dead_code)]
pub mod python;
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

/// An empty scratch folder `neorl-<suite>-<name>-<pid>` in the system's
/// temporary directory (what a previous run left there is removed).
#[allow(dead_code)]
pub fn scratch(suite: &str, name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("neorl-{suite}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A TCP port on loopback that nothing listens on now.
#[allow(dead_code)]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The standard output of a finished command; fails the test with its
/// standard error when it did not succeed.
#[allow(dead_code)]
pub fn stdout_of(out: std::process::Output) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
