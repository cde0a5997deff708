//! [`VecEnv`]: N environments of one kind stepped together over columnar
//! arrays, on a fixed number of threads.
//!
//! Every environment owns its RNG (environment `i` is seeded with `seed + i`),
//! so results do not depend on how the work is split between threads: env
//! `i` of a `VecEnv` follows exactly the trajectory of a single [`super::Env`]
//! reset with `seed + i` and given the same actions. Finished environments
//! reset automatically in the same call ("same-step" autoreset); their last
//! observation is kept in [`VecEnv::final_observations`].

use super::core::{self, StepOutcome};
use super::model::{EnvRng, Model};
use super::spec::EnvSpec;
use crate::error::{Error, Result};
use crate::limits::{bytes_for, check_memory};
use rand::SeedableRng;
use rayon::prelude::*;
use std::sync::Arc;

/// Per-environment bookkeeping that is not an array column.
#[derive(Debug, Clone)]
struct Lane {
    rng: EnvRng,
    t: usize,
    scratch: Vec<f64>,
}

/// A batch of environments of one kind.
#[derive(Debug)]
pub struct VecEnv {
    model: Arc<dyn Model>,
    n: usize,
    pool: rayon::ThreadPool,
    threads: usize,
    lanes: Vec<Lane>,
    /// n × state_dim
    states: Vec<f64>,
    /// n × obs_dim
    obs: Vec<f32>,
    /// n × obs_dim: the observation before an autoreset (valid where done).
    final_obs: Vec<f32>,
    /// n × n_constraints, values after the last step (before autoreset).
    constraint_values: Vec<f64>,
    outcomes: Vec<StepOutcome>,
}

impl VecEnv {
    /// `n` environments of `model`, env `i` seeded with `seed + i`, stepped on
    /// `threads` threads (1 or more).
    pub fn new(model: Arc<dyn Model>, n: usize, seed: u64, threads: usize) -> Result<Self> {
        if n == 0 {
            return Err(Error::InvalidArgument(
                "a VecEnv needs at least one environment".into(),
            ));
        }
        Self::check_fits(model.as_ref(), n)?;
        let threads = threads.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| {
                Error::InvalidArgument(format!("could not start {threads} threads: {e}"))
            })?;
        let (sd, od, nc, ad) = lane_dims(model.as_ref());
        let mut v = VecEnv {
            n,
            pool,
            threads,
            lanes: (0..n)
                .map(|i| Lane {
                    rng: EnvRng::seed_from_u64(seed.wrapping_add(i as u64)),
                    t: 0,
                    scratch: vec![0.0; ad],
                })
                .collect(),
            states: vec![0.0; n * sd],
            obs: vec![0.0; n * od],
            final_obs: vec![0.0; n * od],
            constraint_values: vec![0.0; n * nc],
            outcomes: vec![StepOutcome::default(); n],
            model,
        };
        v.reset_all();
        Ok(v)
    }

    /// A batch of `n` environments of `model` fits in memory (checked by
    /// [`VecEnv::new`]; call it first to refuse a size before other work).
    pub fn check_fits(model: &dyn Model, n: usize) -> Result<()> {
        let (sd, od, nc, ad) = lane_dims(model);
        // States and action scratch in f64, observations (now and final) in
        // f32, constraint values in f64, plus the lane and its outcome.
        let per_lane = 8 * (sd + ad + nc)
            + 4 * 2 * od
            + std::mem::size_of::<Lane>()
            + std::mem::size_of::<StepOutcome>();
        check_memory(
            &format!("a batch of {n} {} environments", model.spec().id),
            bytes_for(n as u128, per_lane as u128),
            "use a smaller batch",
        )
    }

    /// As [`VecEnv::new`] on as many threads as the machine has cores.
    pub fn on_all_cores(model: Arc<dyn Model>, n: usize, seed: u64) -> Result<Self> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::new(model, n, seed, threads)
    }

    fn reset_all(&mut self) {
        let model = self.model.as_ref();
        let (sd, od) = (model.state_dim(), model.spec().obs_dim());
        for ((lane, s), o) in self
            .lanes
            .iter_mut()
            .zip(self.states.chunks_mut(sd))
            .zip(self.obs.chunks_mut(od))
        {
            model.reset(s, &mut lane.rng);
            lane.t = 0;
            model.observe(s, o, &mut lane.rng);
        }
    }

    pub fn spec(&self) -> &EnvSpec {
        self.model.spec()
    }
    pub fn len(&self) -> usize {
        self.n
    }
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Step every environment. `actions` is `n × act_dim`, row-major. All
    /// actions are validated before any environment moves: on error nothing
    /// changes.
    pub fn step(&mut self, actions: &[f32]) -> Result<&[StepOutcome]> {
        let spec = self.model.spec();
        let ad = spec.act_dim();
        if actions.len() != self.n * ad {
            return Err(Error::Shape {
                what: format!(
                    "{}: VecEnv actions (n_envs × act_dim = {} × {ad})",
                    spec.id, self.n
                ),
                expected: self.n * ad,
                got: actions.len(),
            });
        }
        for row in actions.chunks(ad) {
            core::validate_action(spec, row)?;
        }
        let model = self.model.as_ref();
        let (sd, od, nc) = (model.state_dim(), spec.obs_dim(), spec.n_constraints());
        // Chunks of whole environments; several per thread for load balance.
        let per = self.n.div_ceil(self.threads * 4).max(1);
        let states = &mut self.states;
        let lanes = &mut self.lanes;
        let obs = &mut self.obs;
        let final_obs = &mut self.final_obs;
        let cons = &mut self.constraint_values;
        let outs = &mut self.outcomes;
        self.pool.install(|| {
            (
                lanes.par_chunks_mut(per),
                states.par_chunks_mut(per * sd),
                obs.par_chunks_mut(per * od),
                final_obs.par_chunks_mut(per * od),
                cons.par_chunks_mut((per * nc).max(1)),
                outs.par_chunks_mut(per),
                actions.par_chunks(per * ad),
            )
                .into_par_iter()
                .for_each(|(lanes, states, obs, final_obs, cons, outs, actions)| {
                    for (i, lane) in lanes.iter_mut().enumerate() {
                        let s = &mut states[i * sd..(i + 1) * sd];
                        let o = &mut obs[i * od..(i + 1) * od];
                        let c = if nc > 0 {
                            &mut cons[i * nc..(i + 1) * nc]
                        } else {
                            &mut [][..]
                        };
                        let a = &actions[i * ad..(i + 1) * ad];
                        let clipped = core::clip_action(spec, a, &mut lane.scratch);
                        let mut out = core::advance(
                            model,
                            spec,
                            s,
                            &mut lane.t,
                            &lane.scratch,
                            &mut lane.rng,
                            c,
                            o,
                        );
                        out.clipped = clipped;
                        if out.terminated || out.truncated {
                            final_obs[i * od..(i + 1) * od].copy_from_slice(o);
                            model.reset(s, &mut lane.rng);
                            lane.t = 0;
                            model.observe(s, o, &mut lane.rng);
                        }
                        outs[i] = out;
                    }
                });
        });
        Ok(&self.outcomes)
    }

    /// Current observations, `n × obs_dim` (after any autoreset).
    pub fn observations(&self) -> &[f32] {
        &self.obs
    }
    /// Observation before the autoreset, for envs whose last step was done.
    pub fn final_observations(&self) -> &[f32] {
        &self.final_obs
    }
    /// Constraint values after the last step, `n × n_constraints`.
    pub fn constraint_values(&self) -> &[f64] {
        &self.constraint_values
    }
    /// Outcomes of the last step.
    pub fn outcomes(&self) -> &[StepOutcome] {
        &self.outcomes
    }
    /// Internal states, `n × state_dim`.
    pub fn states(&self) -> &[f64] {
        &self.states
    }
    /// Steps taken in the current episode of each env.
    pub fn episode_steps(&self) -> Vec<usize> {
        self.lanes.iter().map(|l| l.t).collect()
    }
}

/// State, observation, constraint and action sizes of one lane of `model`.
fn lane_dims(model: &dyn Model) -> (usize, usize, usize, usize) {
    let spec = model.spec();
    (
        model.state_dim(),
        spec.obs_dim(),
        spec.n_constraints(),
        spec.act_dim(),
    )
}
