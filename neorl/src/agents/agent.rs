//! The [`Agent`] trait every algorithm implements, the shared training loop,
//! per-step metrics and the deployable [`AgentPolicy`].
//!
//! An agent sees *normalised* batches: observations standardised with the
//! dataset's mean and standard deviation, actions mapped from the
//! environment's bounds to [-1, 1], rewards multiplied by a scale. The
//! normalisation is fitted on the first call to `train` and saved with the
//! agent, and [`AgentPolicy`] undoes it, so deployment code only ever sees
//! raw observations and actions in the plant's units.

use super::device::Device;
use super::divergence::diverged;
use crate::data::validate::check_trainable;
use crate::data::{Batch, BatchSource};
use crate::env::EnvSpec;
use crate::error::{Error, Result};
use crate::progress::Progress;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The former path of [`crate::data::DataSource`].
#[doc(hidden)]
pub use crate::data::DataSource;

/// Standardisation of observations, scaling of actions and rewards: the
/// plant crate's (deployment reads it from checkpoints); fitting it on
/// training data and applying it to batches is [`NormalizerFit`]'s.
pub use crate::inference::Normalizer;

/// What training does with a [`Normalizer`]: fit it on the data, apply it
/// to a minibatch.
pub trait NormalizerFit {
    /// Fit on `data`. With `normalize_reward`, rewards are scaled by
    /// 1000 / (max − min episode return) as in IQL's and CORL's D4RL set-up.
    fn fit(
        data: &dyn BatchSource,
        act_low: &[f32],
        act_high: &[f32],
        normalize_reward: bool,
    ) -> Self;
    /// Normalise a raw batch in place.
    fn batch(&self, b: &mut Batch);
}

impl NormalizerFit for Normalizer {
    fn fit(
        data: &dyn BatchSource,
        act_low: &[f32],
        act_high: &[f32],
        normalize_reward: bool,
    ) -> Self {
        let (obs_mean, obs_std) = data.observation_stats();
        let mut reward_scale = 1.0;
        if normalize_reward {
            let r = data.episode_returns();
            let (lo, hi) = r
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
                    (a.min(x), b.max(x))
                });
            if r.len() >= 2 && hi - lo > 1e-6 {
                reward_scale = (1000.0 / (hi - lo)) as f32;
            }
        }
        Normalizer {
            obs_mean,
            obs_std,
            act_low: act_low.to_vec(),
            act_high: act_high.to_vec(),
            reward_scale,
        }
    }

    fn batch(&self, b: &mut Batch) {
        let (od, ad) = (b.obs_dim, b.act_dim);
        let mut tmp = vec![0f32; od.max(ad)];
        for row in b
            .observations
            .chunks_exact_mut(od)
            .chain(b.next_observations.chunks_exact_mut(od))
        {
            self.obs(row, &mut tmp[..od]);
            row.copy_from_slice(&tmp[..od]);
        }
        for row in b.actions.chunks_exact_mut(ad) {
            self.action_to_unit(row, &mut tmp[..ad]);
            row.copy_from_slice(&tmp[..ad]);
        }
        for r in &mut b.rewards {
            *r *= self.reward_scale;
        }
    }
}

/// Metrics recorded at every training step, column by column.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Metric names, in first-seen order.
    pub names: Vec<String>,
    /// The agent step each row was recorded at (1-based: after that many updates).
    pub steps: Vec<u64>,
    /// One column per name, aligned with `steps`.
    pub values: Vec<Vec<f32>>,
}

impl History {
    pub fn push(&mut self, step: u64, metrics: &[(&str, f32)]) {
        for (name, _) in metrics {
            if !self.names.iter().any(|n| n == name) {
                self.names.push(name.to_string());
                self.values.push(vec![f32::NAN; self.steps.len()]);
            }
        }
        self.steps.push(step);
        for (col, name) in self.values.iter_mut().zip(&self.names) {
            col.push(
                metrics
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or(f32::NAN, |m| m.1),
            );
        }
    }

    pub fn len(&self) -> usize {
        self.steps.len()
    }
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Values of one metric.
    pub fn series(&self, name: &str) -> Option<&[f32]> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| &self.values[i][..])
    }

    /// Mean of each metric over the last `k` steps (NaN-skipping).
    pub fn recent_means(&self, k: usize) -> BTreeMap<String, f64> {
        let start = self.steps.len().saturating_sub(k);
        self.names
            .iter()
            .zip(&self.values)
            .filter_map(|(n, col)| {
                let v: Vec<f64> = col[start..]
                    .iter()
                    .filter(|x| x.is_finite())
                    .map(|&x| x as f64)
                    .collect();
                (!v.is_empty()).then(|| (n.clone(), v.iter().sum::<f64>() / v.len() as f64))
            })
            .collect()
    }
}

/// The training state every agent carries: what the shared loop needs to
/// continue exactly where it stopped.
#[derive(Debug, Clone)]
pub struct TrainState {
    pub env_id: String,
    pub obs_dim: usize,
    pub act_dim: usize,
    pub act_low: Vec<f32>,
    pub act_high: Vec<f32>,
    pub batch_size: usize,
    /// Updates done so far.
    pub step: u64,
    /// The one RNG of the agent: initialisation, minibatch sampling, noise.
    pub rng: ChaCha8Rng,
    /// Fitted on the first call to `train`.
    pub norm: Option<Normalizer>,
    /// Whether the normaliser scales rewards (see [`Normalizer::fit`]).
    pub normalize_reward: bool,
    pub history: History,
    /// The data of the latest `train` call, when its source names itself.
    pub dataset: Option<DataSource>,
}

impl TrainState {
    pub fn new(spec: &EnvSpec, batch_size: usize, seed: u64, normalize_reward: bool) -> Self {
        TrainState {
            env_id: spec.id.clone(),
            obs_dim: spec.obs_dim(),
            act_dim: spec.act_dim(),
            act_low: spec.actions.iter().map(|d| d.low as f32).collect(),
            act_high: spec.actions.iter().map(|d| d.high as f32).collect(),
            batch_size,
            step: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
            norm: None,
            normalize_reward,
            history: History::default(),
            dataset: None,
        }
    }

    /// The fitted normaliser, or [`Normalizer::identity`] before the first
    /// call to `train`.
    pub fn normalizer(&self) -> Normalizer {
        self.norm
            .clone()
            .unwrap_or_else(|| Normalizer::identity(self.obs_dim, &self.act_low, &self.act_high))
    }
}

/// What `train` returns.
#[derive(Debug, Clone, Serialize)]
pub struct TrainSummary {
    /// Updates done in this call.
    pub steps: u64,
    /// Updates done in total.
    pub total_steps: u64,
    pub seconds: f64,
    /// Mean of each metric over the last 100 steps (or fewer).
    pub final_metrics: BTreeMap<String, f64>,
}

/// An offline RL agent: trained on minibatches, acting deterministically,
/// saved and loaded as a whole.
///
/// Implement [`Agent::update`], [`Agent::policy`], [`Agent::save_checkpoint`] and the two
/// state accessors, and the shared loop, evaluation and checkpoints work for
/// a notebook-written agent as for the built-in ones.
pub trait Agent: Send {
    /// Short algorithm name (`"td3bc"`).
    fn algo(&self) -> &str;
    fn state(&self) -> &TrainState;
    fn state_mut(&mut self) -> &mut TrainState;
    /// One gradient step on a *normalised* batch; returns named metrics.
    fn update(&mut self, batch: &Batch) -> Result<Vec<(&'static str, f32)>>;
    /// The deterministic deployment policy (raw observations → raw actions).
    fn policy(&self) -> AgentPolicy;
    /// Write a full checkpoint to `dir` (atomically). Implement this one;
    /// callers use [`Agent::save`], which takes any path-like argument.
    fn save_checkpoint(&self, dir: &Path) -> Result<()>;

    /// Write a full checkpoint to `dir` (atomically): `agent.save("runs/iql")?`,
    /// a `PathBuf` or a `&Path` alike (a `Box<dyn Agent>` is an agent too;
    /// behind a `&dyn Agent`, call [`Agent::save_checkpoint`]).
    fn save(&self, dir: impl AsRef<Path>) -> Result<()>
    where
        Self: Sized,
    {
        self.save_checkpoint(dir.as_ref())
    }

    /// The device the agent computes on; the training loop runs its updates
    /// on that device's threads ([`Device::run`]). `None` (the default, for
    /// an agent written elsewhere) runs them on the caller's thread.
    fn compute_device(&self) -> Option<&Device> {
        None
    }

    /// The hyper-parameters as JSON (logged as a tracked run's params).
    fn config_json(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    /// Called by the training loop before the updates of every `train`
    /// call, after the normaliser is fitted (model-based agents fit their
    /// dynamics model here). Does nothing by default.
    fn prepare(&mut self, data: &dyn BatchSource) -> Result<()> {
        let _ = data;
        Ok(())
    }

    /// Train `steps` more updates on `data`, continuing where the last call
    /// stopped. Progress goes to stderr (a bar on a terminal, lines elsewhere).
    fn train(&mut self, data: &dyn BatchSource, steps: u64) -> Result<TrainSummary>
    where
        Self: Sized,
    {
        train_loop(self, data, steps)
    }

    /// The metrics of every step so far.
    fn history(&self) -> &History {
        &self.state().history
    }

    /// Updates done so far.
    fn steps_done(&self) -> u64 {
        self.state().step
    }
}

/// A boxed agent (what [`crate::agents::load`] returns) is an agent too, so
/// `load(dir, &device)?.save("runs/x")` and `.train(&data, n)` work on it
/// as on a concrete one.
impl Agent for Box<dyn Agent> {
    fn algo(&self) -> &str {
        (**self).algo()
    }
    fn state(&self) -> &TrainState {
        (**self).state()
    }
    fn state_mut(&mut self) -> &mut TrainState {
        (**self).state_mut()
    }
    fn update(&mut self, batch: &Batch) -> Result<Vec<(&'static str, f32)>> {
        (**self).update(batch)
    }
    fn policy(&self) -> AgentPolicy {
        (**self).policy()
    }
    fn save_checkpoint(&self, dir: &Path) -> Result<()> {
        (**self).save_checkpoint(dir)
    }
    fn config_json(&self) -> serde_json::Value {
        (**self).config_json()
    }
    fn prepare(&mut self, data: &dyn BatchSource) -> Result<()> {
        (**self).prepare(data)
    }
    fn history(&self) -> &History {
        (**self).history()
    }
    fn steps_done(&self) -> u64 {
        (**self).steps_done()
    }
}

/// The shared training loop (also usable on `&mut dyn Agent`).
pub fn train_loop(
    agent: &mut dyn Agent,
    data: &dyn BatchSource,
    steps: u64,
) -> Result<TrainSummary> {
    train_loop_with(agent, data, steps, true)
}

/// As [`train_loop`]; `progress: false` reports nothing (for callers that
/// train in many short pieces and report progress themselves).
pub fn train_loop_with(
    agent: &mut dyn Agent,
    data: &dyn BatchSource,
    steps: u64,
    progress: bool,
) -> Result<TrainSummary> {
    train_loop_observed(agent, data, steps, progress, &mut |_, _| Ok(()))
}

/// Called with `(step, metrics)` after every update by [`train_loop_observed`].
pub type StepObserver<'a> = dyn FnMut(u64, &[(&'static str, f32)]) -> Result<()> + 'a;

/// As [`train_loop_with`], calling `observer(step, metrics)` after every
/// update (e.g. an MLflow run's [`crate::track::Run::log_metrics`]); an error
/// from the observer stops training.
pub fn train_loop_observed(
    agent: &mut dyn Agent,
    data: &dyn BatchSource,
    steps: u64,
    progress: bool,
    observer: &mut StepObserver<'_>,
) -> Result<TrainSummary> {
    {
        let st = agent.state();
        if data.obs_dim() != st.obs_dim || data.act_dim() != st.act_dim {
            return Err(Error::InvalidArgument(format!(
                "the dataset ({}: obs {}, act {}) does not fit the agent ({}: obs {}, act {}); train on data from the agent's environment",
                data.env_id(),
                data.obs_dim(),
                data.act_dim(),
                st.env_id,
                st.obs_dim,
                st.act_dim
            )));
        }
        if data.is_empty() {
            return Err(Error::InvalidArgument(
                "the dataset has no transitions".into(),
            ));
        }
    }
    // The fast checks of `neorl datasets validate`: NaN or Inf in the data
    // would make every loss NaN and the normalisation unsaveable.
    check_trainable(data)?;
    // The normalisation is fitted on the data of the first call and kept
    // (and checkpointed) from then on.
    if agent.state().norm.is_none() {
        let st = agent.state();
        let norm = Normalizer::fit(data, &st.act_low, &st.act_high, st.normalize_reward);
        agent.state_mut().norm = Some(norm);
    }
    if let Some(source) = data.source() {
        agent.state_mut().dataset = Some(source);
    }
    let device = agent.compute_device().cloned();
    on_device(device.as_ref(), || agent.prepare(data))?;
    let started = std::time::Instant::now();
    let label = format!("{} training", agent.algo());
    let mut progress = if progress {
        Progress::new(label, steps)
    } else {
        Progress::off(label, steps)
    };
    let (od, ad, bs) = {
        let st = agent.state();
        (st.obs_dim, st.act_dim, st.batch_size)
    };
    let mut batch = Batch::with_capacity(bs, od, ad);
    for _ in 0..steps {
        {
            let st = agent.state_mut();
            data.sample_into(&mut st.rng, bs, &mut batch);
            if let Some(n) = &st.norm {
                n.batch(&mut batch);
            }
        }
        let metrics = on_device(device.as_ref(), || agent.update(&batch))?;
        if let Some((name, v)) = metrics.iter().find(|(_, v)| !v.is_finite()) {
            let step = agent.state().step + 1;
            return Err(diverged(agent.algo(), step, name, *v, &agent.config_json()));
        }
        let st = agent.state_mut();
        st.step += 1;
        let step = st.step;
        st.history.push(step, &metrics);
        observer(step, &metrics)?;
        progress.inc(1);
    }
    progress.finish();
    Ok(TrainSummary {
        steps,
        total_steps: agent.state().step,
        seconds: started.elapsed().as_secs_f64(),
        final_metrics: agent.state().history.recent_means(100),
    })
}

/// `f` on `device`'s threads ([`Device::run`]), or on this thread without one.
pub fn on_device<R: Send>(device: Option<&Device>, f: impl FnOnce() -> R + Send) -> R {
    match device {
        Some(d) => d.run(f),
        None => f(),
    }
}

/// A trained agent's deterministic policy on the CPU (the plant crate's:
/// a plant-side program reads it from a checkpoint without burn).
pub use crate::inference::AgentPolicy;
