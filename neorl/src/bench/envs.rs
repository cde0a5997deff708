//! `neorl bench envs`: environment steps per second, single and batched.

use super::rate;
use crate::env::math::uniform_in;
use crate::env::{EnvOptions, EnvRng, VecEnv, make, model};
use crate::error::Result;
use rand::SeedableRng;
use serde::Serialize;
use std::time::Duration;

/// Rates for one environment.
#[derive(Debug, Clone, Serialize)]
pub struct EnvBench {
    pub id: String,
    /// One `Env` stepped in a loop (with resets), steps per second.
    pub single_steps_per_s: f64,
    /// A `VecEnv` of `batch` environments on one thread, env-steps per second.
    pub batched_1t_steps_per_s: f64,
    /// The same on two threads.
    pub batched_2t_steps_per_s: f64,
    pub batch: usize,
    /// `batched_2t / batched_1t`: how well stepping scales to the second core.
    pub thread_scaling: f64,
    /// Nanoseconds per single-env step.
    pub single_ns_per_step: f64,
}

/// A fixed set of random actions, cycled through while timing.
fn random_actions(id: &str, rows: usize) -> Result<Vec<f32>> {
    let env = make(id)?;
    let spec = env.spec();
    let mut rng = EnvRng::seed_from_u64(42);
    Ok((0..rows * spec.act_dim())
        .map(|i| {
            let d = &spec.actions[i % spec.act_dim()];
            uniform_in(&mut rng, d.low, d.high) as f32
        })
        .collect())
}

/// Benchmark every environment in `ids`.
pub fn run(ids: &[&str], batch: usize, min_time: Duration) -> Result<Vec<EnvBench>> {
    for id in ids {
        VecEnv::check_fits(model(id, EnvOptions::default())?.as_ref(), batch)?;
    }
    ids.iter()
        .map(|id| bench_one(id, batch, min_time))
        .collect()
}

fn bench_one(id: &str, batch: usize, min_time: Duration) -> Result<EnvBench> {
    const ROWS: usize = 256;
    let actions = random_actions(id, ROWS)?;
    let mut env = make(id)?;
    let ad = env.spec().act_dim();
    env.reset(0);
    let mut k = 0;
    let single = rate(min_time, || {
        for _ in 0..1000 {
            let a = &actions[(k % ROWS) * ad..(k % ROWS + 1) * ad];
            k += 1;
            let out = env.step_in_place(a)?;
            if out.terminated || out.truncated {
                env.reset_continue();
            }
        }
        Ok(1000)
    })?;
    let batch_actions: Vec<f32> = (0..batch)
        .flat_map(|i| actions[(i % ROWS) * ad..(i % ROWS + 1) * ad].to_vec())
        .collect();
    let batched = |threads| -> Result<f64> {
        let m = model(id, EnvOptions::default())?;
        let mut venv = VecEnv::new(m, batch, 0, threads)?;
        rate(min_time, || {
            venv.step(&batch_actions)?;
            Ok(batch)
        })
    };
    let b1 = batched(1)?;
    let b2 = batched(2)?;
    Ok(EnvBench {
        id: id.to_string(),
        single_steps_per_s: single,
        batched_1t_steps_per_s: b1,
        batched_2t_steps_per_s: b2,
        batch,
        thread_scaling: b2 / b1,
        single_ns_per_step: 1e9 / single,
    })
}
