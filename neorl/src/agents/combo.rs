//! COMBO — Yu, Kumar, Rafailov, Rajeswaran, Levine & Finn, "COMBO:
//! Conservative Offline Model-Based Policy Optimization", NeurIPS 2021
//! (arXiv:2102.08363).
//!
//! 1. A probabilistic dynamics **ensemble** (MBPO-style: `members` Gaussian
//!    MLPs predicting the change of the normalised state and the reward,
//!    each trained on its own bootstrap minibatches, `elites` of them kept
//!    by validation error) is fitted on the dataset before the agent
//!    learns (`model_steps` updates on the first call to `train`).
//! 2. Every `rollout_freq` steps, `rollout_batch` dataset states are rolled
//!    out `rollout_length` steps with the current policy through a random
//!    elite per step, into a model buffer.
//! 3. SAC learns from minibatches that are a fraction `real_ratio` dataset
//!    and the rest model data, with CQL's conservative term: Q is pushed
//!    down (log-sum-exp over uniform and policy actions) on *all* states of
//!    the mixed batch — so on model-generated states — and pushed up on the
//!    dataset's state-action pairs, weighted by `beta`.
//!
//! Defaults are the paper's MuJoCo ones (7 models, 5 elites, 4 × 200
//! dynamics layers, h = 5, f = 0.5, β = 1, 3 × 256 actor and critics,
//! actor lr 1e-4, critic lr 3e-4) except the rollout batch (paper: 50 000
//! states every 1 000 steps), scaled down to 5 000 for 2-core machines.
//! Terminations are not predicted (the processes run to their time limit
//! unless an interlock trips; model rollouts are short).

use super::agent::{Agent, NormalizerFit, TrainState};
use super::checkpoint::Checkpoint;
use super::device::{B, Device};
use super::divergence::diverged;
use super::losses::twin_mse;
use super::nets::{
    Adam, DeviceBatch, Mlp, T3, gaussian, layer_sizes, read_metrics, tensor3, to_vec,
};
use super::optim::{OptimConfig, check_planned};
use super::parts::{self, agent_basics, agent_constructors, declare_parts};
use super::ranges::Ranges;
use super::sac::{Sac, SacRates, SacRecipes};
use crate::data::{Batch, BatchSource};
use crate::error::{Error, Result};
use burn::tensor::Tensor;
use burn::tensor::activation::softplus;
use rand::RngExt;
use serde::{Deserialize, Serialize};

/// COMBO hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ComboConfig {
    pub seed: u64,
    pub batch_size: usize,
    pub hidden: Vec<usize>,
    pub actor_lr: f64,
    pub critic_lr: f64,
    pub alpha_lr: f64,
    pub discount: f64,
    pub tau: f64,
    /// Conservative weight β.
    pub beta: f64,
    pub n_actions: usize,
    pub temperature: f64,
    /// Fraction f of each minibatch drawn from the dataset.
    pub real_ratio: f64,
    pub model_members: usize,
    pub model_elites: usize,
    pub model_hidden: Vec<usize>,
    pub model_lr: f64,
    /// Dynamics-model updates done before the first agent update.
    pub model_steps: u64,
    pub rollout_freq: u64,
    pub rollout_batch: usize,
    pub rollout_length: usize,
    /// Model-buffer capacity in transitions.
    pub model_buffer: usize,
    /// Optimiser recipes of actor, critics and entropy temperature
    /// (plain Adam, as the paper's).
    pub actor_optim: OptimConfig,
    pub critic_optim: OptimConfig,
    pub alpha_optim: OptimConfig,
    /// Agent updates training is planned to take: where schedules end.
    pub planned_steps: Option<u64>,
}

impl Default for ComboConfig {
    fn default() -> Self {
        ComboConfig {
            seed: 0,
            batch_size: 256,
            hidden: vec![256, 256, 256],
            actor_lr: 1e-4,
            critic_lr: 3e-4,
            alpha_lr: 1e-4,
            discount: 0.99,
            tau: 0.005,
            beta: 1.0,
            n_actions: 10,
            temperature: 1.0,
            real_ratio: 0.5,
            model_members: 7,
            model_elites: 5,
            model_hidden: vec![200, 200, 200, 200],
            model_lr: 1e-3,
            model_steps: 5_000,
            rollout_freq: 1_000,
            rollout_batch: 5_000,
            rollout_length: 5,
            model_buffer: 125_000,
            actor_optim: OptimConfig::default(),
            critic_optim: OptimConfig::default(),
            alpha_optim: OptimConfig::default(),
            planned_steps: None,
        }
    }
}

impl ComboConfig {
    /// Check every setting against its allowed range (done by `new`; call
    /// it to check a config before building): an error names the setting,
    /// its value and the range.
    pub fn validate(&self) -> Result<()> {
        let r = Ranges::new(ALGO, "ComboConfig");
        r.batch("batch_size", self.batch_size)?;
        r.widths("hidden", &self.hidden)?;
        r.positive("actor_lr", self.actor_lr)?;
        r.positive("critic_lr", self.critic_lr)?;
        r.positive("alpha_lr", self.alpha_lr)?;
        r.rate("discount", self.discount)?;
        r.rate("tau", self.tau)?;
        r.non_negative("beta", self.beta)?;
        r.count("n_actions", self.n_actions as u64, 1, 1024)?;
        r.positive("temperature", self.temperature)?;
        r.fraction("real_ratio", self.real_ratio)?;
        r.count("model_members", self.model_members as u64, 1, 64)?;
        r.count(
            "model_elites",
            self.model_elites as u64,
            1,
            self.model_members as u64,
        )?;
        r.widths("model_hidden", &self.model_hidden)?;
        r.positive("model_lr", self.model_lr)?;
        r.count("rollout_freq", self.rollout_freq, 1, u64::MAX)?;
        r.batch("rollout_batch", self.rollout_batch)?;
        r.count("rollout_length", self.rollout_length as u64, 1, 1000)?;
        r.count("model_buffer", self.model_buffer as u64, 1, u64::MAX)?;
        check_planned(&r, self.planned_steps)?;
        let h = self.planned_steps;
        self.actor_optim.validate(&r, "actor_optim", h)?;
        self.critic_optim.validate(&r, "critic_optim", h)?;
        self.alpha_optim.validate(&r, "alpha_optim", h)
    }
}

pub const ALGO: &str = "combo";
const MAX_LOGVAR: f64 = 0.5;
const MIN_LOGVAR: f64 = -10.0;

/// A COMBO agent.
#[derive(Debug)]
pub struct Combo {
    pub config: ComboConfig,
    device: Device,
    state: TrainState,
    /// Actor, twin critics and `[log α]`.
    sac: Sac,
    /// The dynamics ensemble: `[Δs, r]` means and log-variances of `(s, a)`.
    model: Mlp,
    model_opt: Adam,
    /// Dynamics-model updates done.
    model_step: u64,
    elites: Vec<usize>,
    buffer: ModelBuffer,
    /// Normalised dataset states that roll-outs start from.
    starts: Vec<f32>,
}

declare_parts!(
    Combo {
        sac: Nested,
        model: Net,
        model_opt: Adam,
    },
    extra: (put_model_data, get_model_data)
);

/// Gaussian negative log-likelihood (up to constants) of `target` under the
/// ensemble's `[members, n, 2·d]` output, with MBPO's soft log-variance bounds.
pub fn ensemble_nll(out: T3, target: T3) -> Tensor<B, 1> {
    let d = target.dims()[2];
    let mean = out.clone().narrow(2, 0, d);
    let logvar = bounded_logvar(out.narrow(2, d, d));
    let err = mean - target;
    (err.clone() * err * logvar.clone().neg().exp() + logvar).mean()
}

fn bounded_logvar(raw: T3) -> T3 {
    let lv = softplus(raw.neg() + MAX_LOGVAR, 1.0).neg() + MAX_LOGVAR;
    softplus(lv - MIN_LOGVAR, 1.0) + MIN_LOGVAR
}

/// The ensemble's inputs `[s, a]` and targets `[s' − s, r]` for every row
/// of `b`, appended to `x` and `y`.
fn model_rows(b: &Batch, x: &mut Vec<f32>, y: &mut Vec<f32>) {
    let (od, ad) = (b.obs_dim, b.act_dim);
    for i in 0..b.len {
        let o = &b.observations[i * od..(i + 1) * od];
        x.extend_from_slice(o);
        x.extend_from_slice(&b.actions[i * ad..(i + 1) * ad]);
        let no = &b.next_observations[i * od..(i + 1) * od];
        y.extend(no.iter().zip(o).map(|(a, b)| a - b));
        y.push(b.rewards[i]);
    }
}

impl Combo {
    agent_constructors!(ComboConfig);

    /// SAC with the configured hidden layers and α = 1, then the dynamics
    /// ensemble.
    fn build(mut state: TrainState, config: ComboConfig, device: &Device) -> Self {
        let (od, ad) = (state.obs_dim, state.act_dim);
        let rates = SacRates {
            actor: config.actor_lr,
            critic: config.critic_lr,
            alpha: config.alpha_lr,
        };
        let sac =
            Sac::new(&mut state, &config.hidden, &[0.0], rates, device).with_recipes(SacRecipes {
                actor: &config.actor_optim,
                critic: &config.critic_optim,
                alpha: &config.alpha_optim,
                planned_steps: config.planned_steps,
            });
        let sizes = layer_sizes(od + ad, &config.model_hidden, 2 * (od + 1));
        let model = Mlp::new(
            config.model_members,
            &sizes,
            &mut state.rng,
            device.autodiff(),
        )
        .require_grad();
        Combo {
            sac,
            model_opt: Adam::new(config.model_lr, &model.params),
            model,
            model_step: 0,
            elites: (0..config.model_elites.min(config.model_members)).collect(),
            buffer: ModelBuffer::default(),
            starts: vec![],
            config,
            device: device.clone(),
            state,
        }
    }

    /// Every parameter, in a fixed order, then the model buffer's rewards
    /// (for tests and inspection).
    pub fn parameters(&self) -> Vec<Vec<f32>> {
        let mut v = parts::parameters(self);
        v.push(self.buffer.rewards.clone());
        v
    }

    /// First call: keep normalised start states, fit the model.
    fn prepare_model(&mut self, data: &dyn BatchSource) -> Result<()> {
        if self.starts.is_empty() {
            let norm = self.state.normalizer();
            let od = self.state.obs_dim;
            self.starts = vec![0.0; data.len() * od];
            for (o, s) in data
                .observations()
                .chunks_exact(od)
                .zip(self.starts.chunks_exact_mut(od))
            {
                norm.obs(o, s);
            }
            self.fit_model(data)?;
        }
        Ok(())
    }

    /// 1. Fit the dynamics ensemble, each member on its own bootstrap
    ///    minibatches; keep as elites the members of lowest validation error.
    fn fit_model(&mut self, data: &dyn BatchSource) -> Result<()> {
        let norm = self.state.normalizer();
        let (m, n) = (self.config.model_members, self.config.batch_size);
        let (od, ad) = (self.state.obs_dim, self.state.act_dim);
        let mut batch = Batch::default();
        let mut progress =
            crate::progress::Progress::new("combo dynamics model", self.config.model_steps);
        while self.model_step < self.config.model_steps {
            let (mut x, mut y) = (
                Vec::with_capacity(m * n * (od + ad)),
                Vec::with_capacity(m * n * (od + 1)),
            );
            for _ in 0..m {
                data.sample_into(&mut self.state.rng, n, &mut batch);
                norm.batch(&mut batch);
                model_rows(&batch, &mut x, &mut y);
            }
            let dev = self.device.autodiff();
            let out = self.model.forward(tensor3(x, [m, n, od + ad], dev));
            let loss = ensemble_nll(out, tensor3(y, [m, n, od + 1], dev));
            self.model_opt.minimise(&mut self.model.params, &loss);
            self.model_step += 1;
            progress.inc(1);
        }
        progress.finish();
        // Elites: lowest mean-squared error on a fresh validation sample.
        data.sample_into(
            &mut self.state.rng,
            2_000.min(data.len().max(1)),
            &mut batch,
        );
        norm.batch(&mut batch);
        let k = batch.len;
        let (mut x, mut y) = (
            Vec::with_capacity(k * (od + ad)),
            Vec::with_capacity(k * (od + 1)),
        );
        model_rows(&batch, &mut x, &mut y);
        let out = to_vec(&self.model.inner().forward(tensor3(
            x,
            [1, k, od + ad],
            self.device.base(),
        )));
        let d = od + 1;
        let mut mse: Vec<(f64, usize)> = (0..m)
            .map(|e| {
                let s: f64 = (0..k)
                    .map(|i| {
                        (0..d)
                            .map(|j| (out[(e * k + i) * 2 * d + j] - y[i * d + j]) as f64)
                            .map(|v| v * v)
                            .sum::<f64>()
                    })
                    .sum();
                (s / (k * d) as f64, e)
            })
            .collect();
        mse.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        // The model's losses are not read back per step; a diverged model
        // shows here, before its rollouts put NaN into the model buffer.
        if let Some(&(bad, _)) = mse.iter().find(|x| !x.0.is_finite()) {
            let config = serde_json::to_value(&self.config).unwrap_or_default();
            return Err(diverged(
                ALGO,
                self.model_step,
                "model_validation_mse",
                bad as f32,
                &config,
            ));
        }
        self.elites = mse
            .iter()
            .take(self.config.model_elites.max(1))
            .map(|x| x.1)
            .collect();
        self.elites.sort_unstable();
        Ok(())
    }

    /// 2. Roll the current policy through the model (a random elite per
    ///    step) from dataset states, into the model buffer.
    fn rollout(&mut self) {
        let (od, ad) = (self.state.obs_dim, self.state.act_dim);
        let c = &self.config;
        let n_starts = self.starts.len() / od;
        if n_starts == 0 {
            return;
        }
        let rng = &mut self.state.rng;
        let r = c.rollout_batch;
        let mut obs: Vec<f32> = Vec::with_capacity(r * od);
        for _ in 0..r {
            let i = rng.random_range(0..n_starts);
            obs.extend_from_slice(&self.starts[i * od..(i + 1) * od]);
        }
        let base = self.device.base();
        let model = self.model.inner();
        let d = od + 1;
        for _ in 0..c.rollout_length {
            let s = tensor3(obs.clone(), [1, r, od], base);
            let a = to_vec(&self.sac.sample_no_grad(s, rng, &self.device).action);
            let mut x = Vec::with_capacity(r * (od + ad));
            for i in 0..r {
                x.extend_from_slice(&obs[i * od..(i + 1) * od]);
                x.extend_from_slice(&a[i * ad..(i + 1) * ad]);
            }
            let out = model.forward(tensor3(x, [1, r, od + ad], base));
            let mean = to_vec(&out.clone().narrow(2, 0, d));
            let std = to_vec(&(bounded_logvar(out.narrow(2, d, d)) * 0.5).exp());
            let noise = gaussian(rng, r * d);
            let mut next = vec![0f32; r * od];
            for i in 0..r {
                let e = self.elites[rng.random_range(0..self.elites.len())];
                let at = |j: usize| (e * r + i) * d + j;
                let y: Vec<f32> = (0..d)
                    .map(|j| mean[at(j)] + std[at(j)] * noise[i * d + j])
                    .collect();
                for j in 0..od {
                    next[i * od + j] = obs[i * od + j] + y[j];
                }
                self.buffer.push(
                    c.model_buffer,
                    &obs[i * od..(i + 1) * od],
                    &a[i * ad..(i + 1) * ad],
                    y[od],
                    &next[i * od..(i + 1) * od],
                );
            }
            obs = next;
        }
    }
}

impl Agent for Combo {
    agent_basics!(sac.actor);

    fn prepare(&mut self, data: &dyn BatchSource) -> Result<()> {
        self.prepare_model(data)
    }

    /// 3. One SAC step on a minibatch of dataset and model transitions, with
    ///    the conservative term.
    fn update(&mut self, real: &Batch) -> Result<Vec<(&'static str, f32)>> {
        if self.model_step < self.config.model_steps || self.starts.is_empty() {
            return Err(Error::Training(
                "COMBO needs its dynamics model: train through `train` / `train_loop`, which fit it first".into(),
            ));
        }
        if self
            .state
            .step
            .is_multiple_of(self.config.rollout_freq.max(1))
        {
            self.rollout();
        }
        let c = &self.config;
        let (sac, rng, dev) = (&mut self.sac, &mut self.state.rng, &self.device);

        // Mixed batch: the first n_real rows from the dataset, the rest from
        // the model buffer (from the dataset while the buffer is empty).
        let (n, ad, k) = (real.len, real.act_dim, c.n_actions.max(1));
        let n_real = ((n as f64 * c.real_ratio).round() as usize).clamp(1, n);
        let mut mixed = real.clone();
        if self.buffer.len() > 0 {
            for i in n_real..n {
                let j = rng.random_range(0..self.buffer.len());
                self.buffer.copy_row(j, &mut mixed, i);
            }
        }
        let b = DeviceBatch::upload(&mixed, dev.autodiff());

        // Actor and entropy temperature (SAC).
        let pi = sac.sample(b.obs.clone(), rng, dev);
        let (alpha, alpha_loss) = sac.temperature(&pi.logp, -(ad as f64));
        let actor_loss = sac.actor_loss(b.obs.clone(), &pi, alpha.clone());

        // Critics: TD error on the mixed batch.
        let y = sac.backup(&b, c.discount, rng, dev);
        let q = sac
            .critic
            .forward(Tensor::cat(vec![b.obs.clone(), b.actions.clone()], 2));
        let td_loss = twin_mse(q.clone(), y);

        // Conservative term: Q pushed down on all (model and real) states,
        // up on the dataset's state-action pairs.
        let push_down = sac.soft_max_q(&b, k, c.temperature, rng, dev).mean_dim(2); // [2, 1, 1]
        let push_up = q.clone().narrow(1, 0, n_real).mean_dim(1); // [2, 1, 1]
        let gap = push_down - push_up;
        let conservative = gap.clone().sum() * c.beta;
        let critic_loss = td_loss.clone() + conservative.clone();

        sac.step(&alpha_loss, &actor_loss, &critic_loss, c.tau);

        let mut metrics = read_metrics(vec![
            ("td_loss", td_loss.inner()),
            ("conservative_loss", conservative.inner()),
            ("actor_loss", actor_loss.inner()),
            ("q_mean", q.inner().mean()),
            ("conservative_gap", gap.inner().mean()),
            ("alpha", alpha.inner().mean()),
        ]);
        metrics.push(("model_buffer", self.buffer.len() as f32));
        metrics.extend(self.sac.lr_metrics());
        Ok(metrics)
    }
}

/// Checkpoint bookkeeping of what is not a part (see `declare_parts!` above).
impl Combo {
    /// The model-side state of a checkpoint: the ensemble's update count,
    /// the elites, the model buffer and the start states.
    fn put_model_data(&self, ck: &mut Checkpoint) {
        let (od, ad) = (self.state.obs_dim, self.state.act_dim);
        ck.put_counter("model_step", self.model_step);
        ck.put_counter("elites", self.elites.len() as u64);
        for (i, e) in self.elites.iter().enumerate() {
            ck.put_counter(&format!("elite/{i}"), *e as u64);
        }
        let b = &self.buffer;
        let len = b.len();
        ck.put_counter("buffer/head", b.head as u64);
        ck.put_counter("buffer/len", len as u64);
        if len > 0 {
            ck.put_vec("buffer/obs", vec![1, len, od], b.obs.clone());
            ck.put_vec("buffer/actions", vec![1, len, ad], b.actions.clone());
            ck.put_vec("buffer/rewards", vec![1, len, 1], b.rewards.clone());
            ck.put_vec("buffer/next_obs", vec![1, len, od], b.next_obs.clone());
        }
        let n_starts = self.starts.len() / od.max(1);
        ck.put_counter("starts", n_starts as u64);
        if n_starts > 0 {
            ck.put_vec("starts", vec![1, n_starts, od], self.starts.clone());
        }
    }

    /// Read back what [`Combo::put_model_data`] wrote.
    fn get_model_data(&mut self, ck: &Checkpoint, _device: &Device) -> Result<()> {
        let (od, ad) = (self.state.obs_dim, self.state.act_dim);
        self.model_step = ck.counter("model_step")?;
        let n_el = ck.counter("elites")? as usize;
        self.elites = (0..n_el)
            .map(|i| ck.counter(&format!("elite/{i}")).map(|e| e as usize))
            .collect::<Result<_>>()?;
        let len = ck.counter("buffer/len")? as usize;
        if len > 0 {
            self.buffer = ModelBuffer {
                obs: ck.get_vec("buffer/obs", &[1, len, od])?,
                actions: ck.get_vec("buffer/actions", &[1, len, ad])?,
                rewards: ck.get_vec("buffer/rewards", &[1, len, 1])?,
                next_obs: ck.get_vec("buffer/next_obs", &[1, len, od])?,
                head: ck.counter("buffer/head")? as usize,
            };
        }
        let n_starts = ck.counter("starts")? as usize;
        if n_starts > 0 {
            self.starts = ck.get_vec("starts", &[1, n_starts, od])?;
        }
        Ok(())
    }
}

/// Transitions generated by the model, in normalised units (ring buffer).
#[derive(Debug, Clone, Default)]
struct ModelBuffer {
    obs: Vec<f32>,
    actions: Vec<f32>,
    rewards: Vec<f32>,
    next_obs: Vec<f32>,
    /// Next slot to write once full.
    head: usize,
}

impl ModelBuffer {
    fn len(&self) -> usize {
        self.rewards.len()
    }

    fn push(&mut self, cap: usize, o: &[f32], a: &[f32], r: f32, no: &[f32]) {
        let (od, ad) = (o.len(), a.len());
        if self.len() < cap {
            self.obs.extend_from_slice(o);
            self.actions.extend_from_slice(a);
            self.rewards.push(r);
            self.next_obs.extend_from_slice(no);
        } else {
            let i = self.head;
            self.obs[i * od..(i + 1) * od].copy_from_slice(o);
            self.actions[i * ad..(i + 1) * ad].copy_from_slice(a);
            self.rewards[i] = r;
            self.next_obs[i * od..(i + 1) * od].copy_from_slice(no);
            self.head = (self.head + 1) % cap;
        }
    }

    /// Write transition `j` over row `i` of `b` (never terminal, no cost).
    fn copy_row(&self, j: usize, b: &mut Batch, i: usize) {
        let (od, ad) = (b.obs_dim, b.act_dim);
        b.observations[i * od..(i + 1) * od].copy_from_slice(&self.obs[j * od..(j + 1) * od]);
        b.actions[i * ad..(i + 1) * ad].copy_from_slice(&self.actions[j * ad..(j + 1) * ad]);
        b.rewards[i] = self.rewards[j];
        b.next_observations[i * od..(i + 1) * od]
            .copy_from_slice(&self.next_obs[j * od..(j + 1) * od]);
        b.terminals[i] = 0.0;
        b.costs[i] = 0.0;
        b.indices[i] = j;
    }
}
