//! `neorl bench datasets`: generation rate, HDF5 write and read of a
//! 1M-transition dataset, and minibatch sampling at batch 256.

use crate::data::{Columns, Dataset, GenerateConfig, Quality, generate, read, read_with, write};
use crate::env::{EnvRng, ids};
use crate::error::{Error, Result};
use rand::SeedableRng;
use serde::Serialize;
use std::path::Path;
use std::time::{Duration, Instant};

/// Transitions in the write/read benchmark.
pub const ONE_MILLION: usize = 1_000_000;
/// Minibatch size of the sampling benchmark.
pub const BATCH: usize = 256;

/// The measurements.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetsBench {
    pub env: String,
    /// Transitions generated per second (`mixed` quality, all cores).
    pub generate_transitions_per_s: f64,
    pub generated_transitions: usize,
    /// Writing 1M transitions to HDF5 (chunked, shuffle + deflate 4), seconds.
    pub write_1m_s: f64,
    /// Reading them back whole, checksum verified (what `read` does), seconds.
    pub read_1m_s: f64,
    /// The same without the checksum verification.
    pub read_1m_unverified_s: f64,
    pub file_mib: f64,
    /// Uniform minibatches of 256 sampled per second from the 1M dataset.
    pub sample_batches_per_s: f64,
    pub batch: usize,
    /// Transitions written and read (1M unless asked otherwise; the `_1m_`
    /// fields are these timings).
    pub io_transitions: usize,
}

/// Run the benchmark on `env` (default: the first registered environment),
/// generating `transitions` and tiling them to `io_transitions` (normally
/// [`ONE_MILLION`]) for the I/O measurements; the temporary file goes to `dir`.
pub fn run(
    env: Option<&str>,
    transitions: usize,
    io_transitions: usize,
    dir: &Path,
) -> Result<DatasetsBench> {
    let env = match env {
        Some(e) => e.to_string(),
        None => ids()
            .first()
            .ok_or_else(|| Error::InvalidArgument("no environment is registered".into()))?
            .to_string(),
    };
    let cfg = GenerateConfig::new(&env, Quality::Mixed, transitions, 0);
    let t = Instant::now();
    let small = generate(&cfg)?;
    let gen_rate = transitions as f64 / t.elapsed().as_secs_f64();

    let big = tile(&small, io_transitions)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let path = dir.join(format!("neorl-bench-{}.h5", std::process::id()));
    let t = Instant::now();
    write(&big, &path)?;
    let write_s = t.elapsed().as_secs_f64();
    let file_mib = std::fs::metadata(&path)
        .map_err(|e| Error::io(&path, e))?
        .len() as f64
        / (1024.0 * 1024.0);
    let t = Instant::now();
    let back = read(&path)?;
    let read_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let _ = read_with(&path, false)?;
    let read_unverified_s = t.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&path);
    if back.len() != io_transitions {
        return Err(Error::InvalidArgument(format!(
            "read back {} transitions, wrote {io_transitions}",
            back.len()
        )));
    }

    let mut rng = EnvRng::seed_from_u64(0);
    let mut batch = back.batch(BATCH);
    back.sample_into(&mut rng, &mut batch)?; // warm-up
    let t = Instant::now();
    let mut n = 0u64;
    while t.elapsed() < Duration::from_secs(1) {
        for _ in 0..100 {
            back.sample_into(&mut rng, &mut batch)?;
        }
        n += 100;
    }
    let sample_rate = n as f64 / t.elapsed().as_secs_f64();
    Ok(DatasetsBench {
        env,
        generate_transitions_per_s: gen_rate,
        generated_transitions: transitions,
        write_1m_s: write_s,
        read_1m_s: read_s,
        read_1m_unverified_s: read_unverified_s,
        file_mib,
        sample_batches_per_s: sample_rate,
        batch: BATCH,
        io_transitions,
    })
}

/// `d` repeated until it has `n` rows (the last copy cut, its last row a time-out).
fn tile(d: &Dataset, n: usize) -> Result<Dataset> {
    let names: Vec<String> = d.constraints().iter().map(|c| c.name.clone()).collect();
    let mut cols = Columns::with_capacity(d.obs_dim(), d.act_dim(), &names, n);
    while cols.len() < n {
        let take = (n - cols.len()).min(d.len());
        cols.extend_from(d.columns(), 0..take);
    }
    if let Some(t) = cols.timeouts.last_mut() {
        *t = !cols.terminals.last().copied().unwrap_or(false);
    }
    let mut meta = d.metadata().clone();
    meta.sha256 = None;
    Dataset::new(meta, cols)
}
