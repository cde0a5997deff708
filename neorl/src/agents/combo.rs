//! COMBO — Yu, Kumar, Rafailov, Rajeswaran, Levine & Finn, "COMBO:
//! Conservative Offline Model-Based Policy Optimization", NeurIPS 2021
//! (arXiv:2102.08363).
//!
//! 1. A probabilistic dynamics **ensemble** (`model_members` Gaussian MLPs
//!    predicting the change of the normalised state and the reward) is
//!    fitted on the dataset as MBPO (Janner et al. 2019, `mbpo/models/bnn.py`)
//!    and OfflineRL-Kit (`dynamics/ensemble_dynamics.py`, which COMBO's
//!    public re-implementations use) fit it, once, on the first call to
//!    `train`, before any agent update:
//!    - a random **held-out split**: a fraction `model_holdout` (0.2) of the
//!      transitions, at most `model_holdout_max` (1 000), never trained on;
//!    - each member trains on its own **bootstrap** of the training part,
//!      walked in minibatches of `batch_size` and reshuffled every epoch;
//!    - the loss is the Gaussian negative log-likelihood summed over members
//!      (each a mean over rows and outputs), plus **weight decay** per layer
//!      (½·λ_l·‖W_l‖², MBPO's 2.5e-5, 5e-5, 7.5e-5, 7.5e-5, 1e-4), plus the
//!      penalty 0.01·(Σ max_logvar − Σ min_logvar) on **learned
//!      log-variance bounds**, between which every predicted log-variance is
//!      soft-clamped with softplus (MBPO's appendix; `bnn.py`);
//!    - **early stopping**: after every epoch each member's held-out MSE is
//!      compared with its best; a member that improved by more than
//!      `model_improvement` (1 %) relative keeps a snapshot of its weights;
//!      fitting stops once no member improved for `model_patience` (5)
//!      epochs, or at `model_steps` updates (a cap for small machines;
//!      OfflineRL-Kit has none). Each member is then restored to its best
//!      snapshot, and the `model_elites` (5 of 7) of lowest held-out MSE
//!      are the **elites**.
//!
//!    Fitting runs in one go inside `prepare`, before the first agent
//!    update, and checkpoints are written only between agent updates, so a
//!    checkpoint never holds a half-fitted model: it holds the fitted
//!    ensemble, its log-variance bounds, the epochs and updates it took, the
//!    elites and the RNG after fitting; a run killed during fitting starts
//!    the fit again from the same seed, identically.
//! 2. **Termination.** Model rollouts stop for a state when a learned
//!    termination head says so: a small classifier `p(terminal | s, a, Δs)`
//!    fitted alongside the ensemble (same epochs, member 0's minibatches)
//!    with binary cross-entropy on the dataset's `terminal` flags, firing at
//!    p > ½. Chosen over the environment spec's hard limits because the
//!    ensemble predicts *observations*, and the processes' hard constraints
//!    are on signals that are not all observed (the robot's contact force,
//!    the finished insertion) and are named apart from the observations;
//!    the dataset's terminal flags are exactly where the plant's interlocks
//!    tripped or the task finished, for every environment, and the head
//!    travels with the checkpoint (a loaded agent needs no spec). MBPO and
//!    OfflineRL-Kit use hand-written per-task termination functions instead;
//!    a dataset without terminals teaches the head to never fire. A
//!    predicted transition that terminates is stored as terminal (its
//!    bootstrap is cut) and its rollout ends there.
//! 3. Every `rollout_freq` steps, `rollout_batch` dataset states are rolled
//!    out `rollout_length` steps with the current policy through a random
//!    elite per step, into a model buffer.
//! 4. SAC learns from minibatches that are a fraction `real_ratio` dataset
//!    and the rest model data, with CQL's conservative term: Q is pushed
//!    down (log-sum-exp over uniform and policy actions) on *all* states of
//!    the mixed batch — so on model-generated states — and pushed up on the
//!    dataset's state-action pairs, weighted by `beta`.
//!
//! Defaults: the paper's and OfflineRL-Kit's `run_combo.py` (7 models, 5
//! elites, 4 × 200 dynamics layers, h = 5, f = 0.5, β = 5 — OfflineRL-Kit's
//! default; the paper tunes β ∈ {0.5, 1, 5} per task —, 3 × 256 actor and
//! critics, actor lr 1e-4, critic lr 3e-4, model lr 1e-3) except the
//! rollout batch (paper: 50 000 states every 1 000 steps), scaled down to
//! 5 000 for 2-core machines, with the model buffer (5 rollouts' worth, as
//! OfflineRL-Kit keeps) scaled with it.

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
use rand::RngExt;
use serde::{Deserialize, Serialize};

/// COMBO hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ComboConfig {
    pub seed: u64,
    /// Minibatch size of the agent and of the dynamics model (both 256 in
    /// OfflineRL-Kit).
    pub batch_size: usize,
    pub hidden: Vec<usize>,
    pub actor_lr: f64,
    pub critic_lr: f64,
    pub alpha_lr: f64,
    pub discount: f64,
    pub tau: f64,
    /// Conservative weight β: 5, OfflineRL-Kit's `run_combo.py` default
    /// (`--cql-weight`); the paper tunes it over {0.5, 1, 5} per task.
    pub beta: f64,
    pub n_actions: usize,
    pub temperature: f64,
    /// Fraction f of each minibatch drawn from the dataset: 0.5 (paper,
    /// appendix; OfflineRL-Kit `--real-ratio`).
    pub real_ratio: f64,
    pub model_members: usize,
    pub model_elites: usize,
    pub model_hidden: Vec<usize>,
    pub model_lr: f64,
    /// Cap on dynamics-model updates (early stopping usually ends the fit
    /// sooner).
    pub model_steps: u64,
    /// Fraction of the transitions held out to judge the model: 0.2 (MBPO,
    /// OfflineRL-Kit).
    pub model_holdout: f64,
    /// At most this many held out: 1 000 (MBPO, OfflineRL-Kit).
    pub model_holdout_max: usize,
    /// Epochs without improvement before fitting stops: 5 (MBPO,
    /// OfflineRL-Kit).
    pub model_patience: u64,
    /// Relative drop of a member's held-out MSE that counts as an
    /// improvement: 0.01 (MBPO, OfflineRL-Kit).
    pub model_improvement: f64,
    /// L2 weight decay λ_l of each layer of the ensemble (input first), one
    /// per layer, so `model_hidden.len() + 1` values: MBPO's 2.5e-5, 5e-5,
    /// 7.5e-5, 7.5e-5, 1e-4 for 4 hidden layers.
    pub model_weight_decay: Vec<f64>,
    /// Weight of the log-variance bounds' penalty Σ max − Σ min: 0.01 (MBPO).
    pub model_logvar_penalty: f64,
    /// Hidden layers of the learned termination head.
    pub termination_hidden: Vec<usize>,
    pub rollout_freq: u64,
    pub rollout_batch: usize,
    /// Rollout length h: 5 (paper, appendix; OfflineRL-Kit
    /// `--rollout-length`).
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
            beta: 5.0,
            n_actions: 10,
            temperature: 1.0,
            real_ratio: 0.5,
            model_members: 7,
            model_elites: 5,
            model_hidden: vec![200, 200, 200, 200],
            model_lr: 1e-3,
            model_steps: 20_000,
            model_holdout: 0.2,
            model_holdout_max: 1_000,
            model_patience: 5,
            model_improvement: 0.01,
            model_weight_decay: vec![2.5e-5, 5e-5, 7.5e-5, 7.5e-5, 1e-4],
            model_logvar_penalty: 0.01,
            termination_hidden: vec![200, 200],
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
        r.count("model_steps", self.model_steps, 1, u64::MAX)?;
        r.open_unit("model_holdout", self.model_holdout)?;
        r.count(
            "model_holdout_max",
            self.model_holdout_max as u64,
            1,
            1 << 24,
        )?;
        r.count("model_patience", self.model_patience, 1, 1_000_000)?;
        r.non_negative("model_improvement", self.model_improvement)?;
        for &l in &self.model_weight_decay {
            r.non_negative("model_weight_decay", l)?;
        }
        if self.model_weight_decay.len() != self.model_hidden.len() + 1 {
            return Err(Error::InvalidArgument(format!(
                "{ALGO}: setting model_weight_decay = {:?} is out of range: it must hold one decay per layer of the ensemble, {} values (model_hidden = {:?} plus the output layer); change it with e.g. `--set 'model_weight_decay=[{}]'`",
                self.model_weight_decay,
                self.model_hidden.len() + 1,
                self.model_hidden,
                mbpo_decays(self.model_hidden.len() + 1)
                    .iter()
                    .map(|v| format!("{v:e}"))
                    .collect::<Vec<_>>()
                    .join(","),
            )));
        }
        r.non_negative("model_logvar_penalty", self.model_logvar_penalty)?;
        r.widths("termination_hidden", &self.termination_hidden)?;
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

/// MBPO's decays for `layers` layers: its five values when there are five,
/// otherwise its first value, its last value and evenly spaced ones between
/// (a suggestion for the error message only).
fn mbpo_decays(layers: usize) -> Vec<f64> {
    const MBPO: [f64; 5] = [2.5e-5, 5e-5, 7.5e-5, 7.5e-5, 1e-4];
    match layers {
        5 => MBPO.to_vec(),
        1 => vec![1e-4],
        n => (0..n)
            .map(|l| 2.5e-5 + 7.5e-5 * l as f64 / (n - 1) as f64)
            .collect(),
    }
}

pub const ALGO: &str = "combo";
/// Initial log-variance bounds (MBPO: max 0.5, min −10).
const MAX_LOGVAR_INIT: f32 = 0.5;
const MIN_LOGVAR_INIT: f32 = -10.0;

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
    /// Learned log-variance bounds `[1, 1, d]`, shared by the members.
    max_logvar: T3,
    min_logvar: T3,
    logvar_opt: Adam,
    /// The termination head: a logit of `p(terminal | s, a, Δs)`.
    termination: Mlp,
    termination_opt: Adam,
    /// Dynamics-model updates done.
    model_step: u64,
    /// Epochs the fit took (0: not fitted yet).
    model_epochs: u64,
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
        max_logvar: Tensor,
        min_logvar: Tensor,
        logvar_opt: Adam,
        termination: Net,
        termination_opt: Adam,
    },
    extra: (put_model_data, get_model_data)
);

/// Gaussian negative log-likelihood (up to constants) of `target` under the
/// ensemble's `[members, n, 2·d]` output, with the log-variance soft-clamped
/// between `max_logvar` and `min_logvar` (`[1, 1, d]`): per member the mean
/// over rows and outputs, summed over members (MBPO, OfflineRL-Kit).
pub fn ensemble_nll(out: T3, target: T3, max_logvar: T3, min_logvar: T3) -> Tensor<B, 1> {
    let d = target.dims()[2];
    let mean = out.clone().narrow(2, 0, d);
    let logvar = bounded_logvar(out.narrow(2, d, d), max_logvar, min_logvar);
    let err = mean - target;
    (err.clone() * err * logvar.clone().neg().exp() + logvar)
        .mean_dim(2)
        .mean_dim(1)
        .sum()
}

/// `softplus(x) = ln(1 + eˣ)`, written `max(x, 0) + ln(1 + e^−|x|)` so that
/// it stays finite, and so does its gradient, for any finite `x`. burn's
/// `activation::softplus` computes `ln(eˣ + 1)`, which is ∞ in f32 above
/// x ≈ 88 and makes the gradient ∞/∞ = NaN: a raw log-variance far below
/// the bound, or a termination logit past 88 (its inputs are raw
/// observations), turned a COMBO model fit into NaN (5 of 21 runs of the
/// protocol-v1 CQL/COMBO pilot on medium data).
fn softplus<const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    x.clone().clamp_min(0.0) + x.abs().neg().exp().log1p()
}

/// MBPO's soft clamp: `max − softplus(max − lv)`, then `min + softplus(lv − min)`.
fn bounded_logvar(raw: T3, max_logvar: T3, min_logvar: T3) -> T3 {
    let lv = max_logvar.clone() - softplus(max_logvar - raw);
    min_logvar.clone() + softplus(lv - min_logvar)
}

/// Weight decay Σ_l ½·λ_l·‖W_l‖² over the ensemble's weight matrices (all
/// members; biases are not decayed), as MBPO and OfflineRL-Kit add it.
pub fn weight_decay(model: &Mlp, decays: &[f64]) -> Tensor<B, 1> {
    let mut total = model.params[0].clone().sum().zeros_like();
    for (l, &lambda) in decays.iter().enumerate() {
        let w = model.params[2 * l].clone();
        total = total + (w.clone() * w).sum() * (0.5 * lambda);
    }
    total
}

/// The full model loss of one minibatch: NLL + weight decay + the bounds'
/// penalty `penalty·(Σ max_logvar − Σ min_logvar)`.
pub fn model_loss(
    model: &Mlp,
    out: T3,
    target: T3,
    (max_logvar, min_logvar): (T3, T3),
    decays: &[f64],
    penalty: f64,
) -> Tensor<B, 1> {
    let bounds = (max_logvar.clone().sum() - min_logvar.clone().sum()) * penalty;
    ensemble_nll(out, target, max_logvar, min_logvar) + weight_decay(model, decays) + bounds
}

/// Binary cross-entropy of the termination logits `z` against 0/1 targets:
/// `mean(softplus(z) − t·z)`.
fn termination_bce(z: T3, t: T3) -> Tensor<B, 1> {
    (softplus(z.clone()) - t * z).mean()
}

/// Rows `idx` of `data` into `out` (as `BatchSource::sample_into` draws
/// them, but at given indices).
fn gather(data: &dyn BatchSource, idx: &[u32], out: &mut Batch) {
    let (od, ad) = (data.obs_dim(), data.act_dim());
    *out = Batch::new(idx.len(), od, ad);
    let (o, a, r, no) = (
        data.observations(),
        data.actions(),
        data.rewards(),
        data.next_observations(),
    );
    for (k, &i) in idx.iter().enumerate() {
        let i = i as usize;
        out.indices[k] = i;
        out.observations[k * od..(k + 1) * od].copy_from_slice(&o[i * od..(i + 1) * od]);
        out.actions[k * ad..(k + 1) * ad].copy_from_slice(&a[i * ad..(i + 1) * ad]);
        out.rewards[k] = r[i];
        out.next_observations[k * od..(k + 1) * od].copy_from_slice(&no[i * od..(i + 1) * od]);
        out.terminals[k] = if data.terminal(i) { 1.0 } else { 0.0 };
        out.costs[k] = 0.0;
    }
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

/// The termination head's inputs `[s, a, Δs]` from the ensemble's `x`
/// (`[s, a]` rows) and `y` (`[Δs, r]` rows).
fn termination_rows(x: &[f32], y: &[f32], od: usize, ad: usize) -> Vec<f32> {
    let (nx, ny) = (od + ad, od + 1);
    let n = x.len() / nx;
    let mut z = Vec::with_capacity(n * (nx + od));
    for i in 0..n {
        z.extend_from_slice(&x[i * nx..(i + 1) * nx]);
        z.extend_from_slice(&y[i * ny..i * ny + od]);
    }
    z
}

/// In-place Fisher–Yates shuffle drawing from the agent's RNG.
fn shuffle(v: &mut [u32], rng: &mut rand_chacha::ChaCha8Rng) {
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
}

/// How the fit went: per member the best held-out MSE, and the split.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelFit {
    /// Dataset indices held out (never trained on).
    pub holdout: Vec<u32>,
    /// Dataset indices of the training part.
    pub train: Vec<u32>,
    /// Each member's best held-out MSE (the snapshot it was restored to).
    pub holdout_mse: Vec<f64>,
    /// Epochs run.
    pub epochs: u64,
    /// Updates run.
    pub updates: u64,
}

impl Combo {
    agent_constructors!(ComboConfig);

    /// SAC with the configured hidden layers and α = 1, then the dynamics
    /// ensemble, its log-variance bounds and the termination head.
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
        let dev = device.autodiff();
        let model = Mlp::new(config.model_members, &sizes, &mut state.rng, dev).require_grad();
        let bound = |v: f32| tensor3(vec![v; od + 1], [1, 1, od + 1], dev).require_grad();
        let (max_logvar, min_logvar) = (bound(MAX_LOGVAR_INIT), bound(MIN_LOGVAR_INIT));
        let term_sizes = layer_sizes(2 * od + ad, &config.termination_hidden, 1);
        let termination = Mlp::new(1, &term_sizes, &mut state.rng, dev).require_grad();
        Combo {
            sac,
            model_opt: Adam::new(config.model_lr, &model.params),
            model,
            logvar_opt: Adam::new(config.model_lr, &[max_logvar.clone(), min_logvar.clone()]),
            max_logvar,
            min_logvar,
            termination_opt: Adam::new(config.model_lr, &termination.params),
            termination,
            model_step: 0,
            model_epochs: 0,
            elites: (0..config.model_elites.min(config.model_members)).collect(),
            buffer: ModelBuffer::default(),
            starts: vec![],
            config,
            device: device.clone(),
            state,
        }
    }

    /// Every parameter, in a fixed order, then the model buffer's rewards
    /// and terminal flags (for tests and inspection).
    pub fn parameters(&self) -> Vec<Vec<f32>> {
        let mut v = parts::parameters(self);
        v.push(self.buffer.rewards.clone());
        v.push(self.buffer.terminals.clone());
        v
    }

    /// The elites' member indices, ascending.
    pub fn elites(&self) -> &[usize] {
        &self.elites
    }

    /// The learned log-variance bounds `(max, min)`, one per output.
    pub fn logvar_bounds(&self) -> (Vec<f32>, Vec<f32>) {
        (to_vec(&self.max_logvar), to_vec(&self.min_logvar))
    }

    /// Dynamics-model updates and epochs the fit took.
    pub fn model_progress(&self) -> (u64, u64) {
        (self.model_step, self.model_epochs)
    }

    /// First call: keep normalised start states, fit the model.
    fn prepare_model(&mut self, data: &dyn BatchSource) -> Result<()> {
        if self.model_epochs == 0 {
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

    /// The normalised `[s, a]` inputs and `[Δs, r]` targets of rows `idx`.
    fn rows(&self, data: &dyn BatchSource, idx: &[u32], batch: &mut Batch) -> (Vec<f32>, Vec<f32>) {
        gather(data, idx, batch);
        self.state.normalizer().batch(batch);
        let (od, ad) = (self.state.obs_dim, self.state.act_dim);
        let (mut x, mut y) = (
            Vec::with_capacity(idx.len() * (od + ad)),
            Vec::with_capacity(idx.len() * (od + 1)),
        );
        model_rows(batch, &mut x, &mut y);
        (x, y)
    }

    /// 1. Fit the dynamics ensemble and the termination head (see the
    ///    module doc): held-out split, bootstrap per member, epochs until the
    ///    held-out MSE stops improving, best snapshots, elites by held-out
    ///    MSE.
    pub fn fit_model(&mut self, data: &dyn BatchSource) -> Result<ModelFit> {
        let c = self.config.clone();
        let (m, bs) = (c.model_members, c.batch_size);
        let (od, ad) = (self.state.obs_dim, self.state.act_dim);
        let n = data.len();
        let n_hold = ((n as f64 * c.model_holdout) as usize).min(c.model_holdout_max);
        if n_hold == 0 || n_hold >= n || n > u32::MAX as usize {
            return Err(Error::Training(format!(
                "COMBO holds out {:.0} % of the data (model_holdout) to judge its dynamics model, but {n} transitions leave {n_hold} held out: give it at least {} transitions, or raise model_holdout",
                c.model_holdout * 100.0,
                (1.0 / c.model_holdout).ceil() as usize + 1
            )));
        }
        // The split: a random permutation, its first n_hold held out.
        let rng = &mut self.state.rng;
        let mut perm: Vec<u32> = (0..n as u32).collect();
        shuffle(&mut perm, rng);
        let (holdout, train) = (perm[..n_hold].to_vec(), perm[n_hold..].to_vec());
        // One bootstrap of the training part per member, drawn once.
        let nt = train.len();
        let mut boot: Vec<Vec<u32>> = (0..m)
            .map(|_| (0..nt).map(|_| train[rng.random_range(0..nt)]).collect())
            .collect();
        let mut batch = Batch::default();
        let (hx, hy) = self.rows(data, &holdout, &mut batch);
        let mut best = vec![f64::INFINITY; m];
        let mut snapshot: Vec<Vec<f32>> = self.model.params.iter().map(to_vec).collect();
        let mut since_improved = 0;
        let mut progress = crate::progress::Progress::new("combo dynamics model", c.model_steps);
        let d = od + 1;
        loop {
            for b in boot.iter_mut() {
                shuffle(b, &mut self.state.rng);
            }
            let mut start = 0;
            while start < nt && self.model_step < c.model_steps {
                let end = (start + bs).min(nt);
                let (mut x, mut y) = (vec![], vec![]);
                let mut term = vec![];
                for b in &boot {
                    let (bx, by) = self.rows(data, &b[start..end], &mut batch);
                    if term.is_empty() {
                        term = batch.terminals.clone();
                    }
                    x.extend(bx);
                    y.extend(by);
                }
                let k = end - start;
                let dev = self.device.autodiff();
                // The termination head learns from member 0's rows.
                let z = termination_rows(&x[..k * (od + ad)], &y[..k * d], od, ad);
                let logits = self
                    .termination
                    .forward(tensor3(z, [1, k, 2 * od + ad], dev));
                let t_loss = termination_bce(logits, tensor3(term, [1, k, 1], dev));
                // The termination head's Adam step (plain tensors) beside the
                // ensemble's forward pass.
                let t_grads = t_loss.backward();
                let (t_opt, t_params, model) = (
                    &mut self.termination_opt,
                    &self.termination.params,
                    &self.model,
                );
                let (stepped, out) = self.device.join(
                    move || t_opt.compute(t_params, &t_grads),
                    || model.forward(tensor3(x, [m, k, od + ad], dev)),
                );
                stepped.install(&mut self.termination.params);
                let loss = model_loss(
                    &self.model,
                    out,
                    tensor3(y, [m, k, d], dev),
                    (self.max_logvar.clone(), self.min_logvar.clone()),
                    &c.model_weight_decay,
                    c.model_logvar_penalty,
                );
                let grads = loss.backward();
                self.model_opt
                    .step_on(&self.device, &mut self.model.params, &grads);
                let mut bounds = [self.max_logvar.clone(), self.min_logvar.clone()];
                self.logvar_opt.step(&mut bounds, &grads);
                [self.max_logvar, self.min_logvar] = bounds;
                self.model_step += 1;
                progress.inc(1);
                start = end;
            }
            self.model_epochs += 1;
            // Held-out MSE per member; a diverged model shows here, before
            // its rollouts put NaN into the model buffer.
            // The bounds are checked too: non-finite bounds with finite means
            // would put NaN into the rollouts' noise.
            let mse = self.holdout_mse(&hx, &hy);
            let (max_lv, min_lv) = self.logvar_bounds();
            let bad = (mse
                .iter()
                .find(|v| !v.is_finite())
                .map(|&v| ("model_holdout_mse", v as f32)))
            .or_else(|| {
                max_lv
                    .iter()
                    .chain(&min_lv)
                    .find(|v| !v.is_finite())
                    .map(|&v| ("model_logvar_bounds", v))
            });
            if let Some((metric, value)) = bad {
                return Err(diverged(
                    ALGO,
                    self.model_step,
                    metric,
                    value,
                    &serde_json::to_value(&self.config).unwrap_or_default(),
                ));
            }
            let better: Vec<usize> = (0..m)
                .filter(|&e| {
                    best[e].is_infinite() || (best[e] - mse[e]) / best[e] > c.model_improvement
                })
                .collect();
            if !better.is_empty() {
                let params: Vec<Vec<f32>> = self.model.params.iter().map(to_vec).collect();
                for &e in &better {
                    best[e] = mse[e];
                    for (s, w) in snapshot.iter_mut().zip(&params) {
                        let per = w.len() / m;
                        s[e * per..(e + 1) * per].copy_from_slice(&w[e * per..(e + 1) * per]);
                    }
                }
            }
            let improved = !better.is_empty();
            since_improved = if improved { 0 } else { since_improved + 1 };
            if since_improved >= c.model_patience || self.model_step >= c.model_steps {
                break;
            }
        }
        progress.finish();
        // Each member back to its best snapshot; elites by its held-out MSE.
        let dev = self.device.autodiff();
        for (p, s) in self.model.params.iter_mut().zip(snapshot) {
            *p = tensor3(s, p.dims(), dev).require_grad();
        }
        let mut rank: Vec<(f64, usize)> = best.iter().copied().zip(0..m).collect();
        rank.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        self.elites = rank.iter().take(c.model_elites).map(|x| x.1).collect();
        self.elites.sort_unstable();
        Ok(ModelFit {
            holdout,
            train,
            holdout_mse: best,
            epochs: self.model_epochs,
            updates: self.model_step,
        })
    }

    /// Each member's mean-squared error of its predicted mean on rows
    /// `rows` of `data` (normalised as the agent normalises).
    pub fn model_mse(&self, data: &dyn BatchSource, rows: &[u32]) -> Vec<f64> {
        let (x, y) = self.rows(data, rows, &mut Batch::default());
        self.holdout_mse(&x, &y)
    }

    /// The termination head's probability that each transition of `data`'s
    /// rows `rows` ended its episode.
    pub fn termination_probability(&self, data: &dyn BatchSource, rows: &[u32]) -> Vec<f32> {
        let (od, ad) = (self.state.obs_dim, self.state.act_dim);
        let (x, y) = self.rows(data, rows, &mut Batch::default());
        let z = termination_rows(&x, &y, od, ad);
        let t = tensor3(z, [1, rows.len(), 2 * od + ad], self.device.base());
        let logit = self.termination.inner().forward(t);
        to_vec(&burn::tensor::activation::sigmoid(logit))
    }

    /// Test hook: make the termination head constant (its last bias `logit`,
    /// every other weight of the last layer 0), so that it always (`logit > 0`)
    /// or never fires.
    #[cfg(test)]
    pub(crate) fn set_termination_logit(&mut self, logit: f32) {
        let l = self.termination.params.len();
        let dev = self.device.autodiff();
        let w = &self.termination.params[l - 2];
        self.termination.params[l - 2] = w.zeros_like().detach().require_grad();
        self.termination.params[l - 1] = tensor3(vec![logit], [1, 1, 1], dev).require_grad();
    }

    /// Test hook: one rollout now.
    #[cfg(test)]
    pub(crate) fn rollout_now(&mut self) {
        self.rollout();
    }

    /// Each member's mean-squared error of its predicted mean on the
    /// held-out rows `x` (inputs) and `y` (targets).
    fn holdout_mse(&self, x: &[f32], y: &[f32]) -> Vec<f64> {
        let (od, ad) = (self.state.obs_dim, self.state.act_dim);
        let (d, k) = (od + 1, y.len() / (od + 1));
        let out = to_vec(&self.model.inner().forward(tensor3(
            x.to_vec(),
            [1, k, od + ad],
            self.device.base(),
        )));
        (0..self.config.model_members)
            .map(|e| {
                let s: f64 = (0..k * d)
                    .map(|r| {
                        let (i, j) = (r / d, r % d);
                        let v = (out[(e * k + i) * 2 * d + j] - y[r]) as f64;
                        v * v
                    })
                    .sum();
                s / (k * d) as f64
            })
            .collect()
    }

    /// 2–3. Roll the current policy through the model (a random elite per
    ///    step) from dataset states, into the model buffer; a transition the
    ///    termination head flags is stored as terminal and ends its rollout.
    fn rollout(&mut self) {
        let (od, ad) = (self.state.obs_dim, self.state.act_dim);
        let c = &self.config;
        let n_starts = self.starts.len() / od;
        if n_starts == 0 {
            return;
        }
        let rng = &mut self.state.rng;
        let mut r = c.rollout_batch;
        let mut obs: Vec<f32> = Vec::with_capacity(r * od);
        for _ in 0..r {
            let i = rng.random_range(0..n_starts);
            obs.extend_from_slice(&self.starts[i * od..(i + 1) * od]);
        }
        let base = self.device.base();
        let model = self.model.inner();
        let termination = self.termination.inner();
        let (max_lv, min_lv) = (
            self.max_logvar.clone().inner(),
            self.min_logvar.clone().inner(),
        );
        let d = od + 1;
        for _ in 0..c.rollout_length {
            if r == 0 {
                break;
            }
            let s = tensor3(obs.clone(), [1, r, od], base);
            let a = to_vec(&self.sac.sample_no_grad(s, rng, &self.device).action);
            let mut x = Vec::with_capacity(r * (od + ad));
            for i in 0..r {
                x.extend_from_slice(&obs[i * od..(i + 1) * od]);
                x.extend_from_slice(&a[i * ad..(i + 1) * ad]);
            }
            let out = model.forward(tensor3(x.clone(), [1, r, od + ad], base));
            let mean = to_vec(&out.clone().narrow(2, 0, d));
            let lv = bounded_logvar(out.narrow(2, d, d), max_lv.clone(), min_lv.clone());
            let std = to_vec(&(lv * 0.5).exp());
            let noise = gaussian(rng, r * d);
            let mut y = Vec::with_capacity(r * d);
            for i in 0..r {
                let e = self.elites[rng.random_range(0..self.elites.len())];
                let at = |j: usize| (e * r + i) * d + j;
                y.extend((0..d).map(|j| mean[at(j)] + std[at(j)] * noise[i * d + j]));
            }
            let z = termination_rows(&x, &y, od, ad);
            let logit = to_vec(&termination.forward(tensor3(z, [1, r, 2 * od + ad], base)));
            let mut next = Vec::with_capacity(r * od);
            for i in 0..r {
                let o = &obs[i * od..(i + 1) * od];
                let no: Vec<f32> = (0..od).map(|j| o[j] + y[i * d + j]).collect();
                let done = logit[i] > 0.0;
                self.buffer.push(
                    c.model_buffer,
                    o,
                    &a[i * ad..(i + 1) * ad],
                    y[i * d + od],
                    &no,
                    done,
                );
                if !done {
                    next.extend(no);
                }
            }
            obs = next;
            r = obs.len() / od;
        }
    }
}

impl Agent for Combo {
    agent_basics!(sac.actor);

    fn prepare(&mut self, data: &dyn BatchSource) -> Result<()> {
        self.prepare_model(data)
    }

    /// 4. One SAC step on a minibatch of dataset and model transitions, with
    ///    the conservative term.
    fn update(&mut self, real: &Batch) -> Result<Vec<(&'static str, f32)>> {
        if self.model_epochs == 0 || self.starts.is_empty() {
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

        sac.step(&alpha_loss, &actor_loss, &critic_loss, c.tau, dev);

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
    /// The model-side state of a checkpoint: the fit's update and epoch
    /// counts, the elites, the model buffer and the start states (the
    /// networks, log-variance bounds and optimisers are parts).
    fn put_model_data(&self, ck: &mut Checkpoint) {
        let (od, ad) = (self.state.obs_dim, self.state.act_dim);
        ck.put_counter("model_step", self.model_step);
        ck.put_counter("model_epochs", self.model_epochs);
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
            ck.put_vec("buffer/terminals", vec![1, len, 1], b.terminals.clone());
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
        self.model_epochs = ck.counter("model_epochs")?;
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
                terminals: ck.get_vec("buffer/terminals", &[1, len, 1])?,
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
    /// 1 where the termination head ended the rollout, else 0.
    terminals: Vec<f32>,
    /// Next slot to write once full.
    head: usize,
}

impl ModelBuffer {
    fn len(&self) -> usize {
        self.rewards.len()
    }

    fn push(&mut self, cap: usize, o: &[f32], a: &[f32], r: f32, no: &[f32], done: bool) {
        let (od, ad) = (o.len(), a.len());
        let done = if done { 1.0 } else { 0.0 };
        if self.len() < cap {
            self.obs.extend_from_slice(o);
            self.actions.extend_from_slice(a);
            self.rewards.push(r);
            self.next_obs.extend_from_slice(no);
            self.terminals.push(done);
        } else {
            let i = self.head;
            self.obs[i * od..(i + 1) * od].copy_from_slice(o);
            self.actions[i * ad..(i + 1) * ad].copy_from_slice(a);
            self.rewards[i] = r;
            self.next_obs[i * od..(i + 1) * od].copy_from_slice(no);
            self.terminals[i] = done;
            self.head = (self.head + 1) % cap;
        }
    }

    /// Write transition `j` over row `i` of `b` (no cost).
    fn copy_row(&self, j: usize, b: &mut Batch, i: usize) {
        let (od, ad) = (b.obs_dim, b.act_dim);
        b.observations[i * od..(i + 1) * od].copy_from_slice(&self.obs[j * od..(j + 1) * od]);
        b.actions[i * ad..(i + 1) * ad].copy_from_slice(&self.actions[j * ad..(j + 1) * ad]);
        b.rewards[i] = self.rewards[j];
        b.next_observations[i * od..(i + 1) * od]
            .copy_from_slice(&self.next_obs[j * od..(j + 1) * od]);
        b.terminals[i] = self.terminals[j];
        b.costs[i] = 0.0;
        b.indices[i] = j;
    }
}
