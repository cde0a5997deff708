//! CQL — Kumar, Zhou, Tucker & Levine, "Conservative Q-Learning for Offline
//! Reinforcement Learning", NeurIPS 2020 (arXiv:2006.04779), the CQL(H)
//! variant for continuous actions on top of SAC (Haarnoja et al. 2018).
//!
//! The critics minimise the usual TD error plus a conservative term that
//! pushes Q down on actions from a broad distribution (uniform, and the
//! current policy at s and s', importance-weighted) and up on dataset
//! actions:
//!
//! ```text
//! α' · ( E_s[ T · log Σ_a exp(Q(s, a) / T) ] − E_(s,a)~D[ Q(s, a) ] )
//! ```
//!
//! With `lagrange = true`, α' is tuned by dual gradient ascent so that the
//! gap stays at `target_action_gap` (the paper's Lagrangian variant). The
//! actor is SAC's tanh-Gaussian with automatic entropy tuning, trained by
//! behaviour cloning (max log-likelihood) for the first `bc_steps`. Defaults
//! follow the paper's MuJoCo set-up (α' = 5, 10 sampled actions, policy
//! lr 1e-4, critic lr 3e-4, three hidden layers of 256, deterministic
//! backup).

use super::agent::{Agent, AgentPolicy, TrainState};
use super::checkpoint::Checkpoint;
use super::device::{B, Device};
use super::nets::{Adam, DeviceBatch, Mlp, T3, gaussian, read_scalars, tensor3};
use super::td3bc::identity_norm;
use crate::data::Batch;
use crate::env::EnvSpec;
use crate::error::Result;
use burn::tensor::Tensor;
use rand::RngExt;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// CQL hyper-parameters; `Default` is the paper's MuJoCo set-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CqlConfig {
    pub seed: u64,
    pub batch_size: usize,
    pub hidden: Vec<usize>,
    pub actor_lr: f64,
    pub critic_lr: f64,
    /// Learning rate of the entropy temperature (and of α' with `lagrange`).
    pub alpha_lr: f64,
    pub discount: f64,
    pub tau: f64,
    /// Weight α' of the conservative term (its initial scale with `lagrange`).
    pub cql_alpha: f64,
    /// Actions sampled per state for the log-sum-exp.
    pub n_actions: usize,
    /// Temperature T of the log-sum-exp.
    pub temperature: f64,
    /// Tune α' by dual gradient ascent towards `target_action_gap`.
    pub lagrange: bool,
    pub target_action_gap: f64,
    /// Steps of behaviour cloning for the actor at the start.
    pub bc_steps: u64,
}

impl Default for CqlConfig {
    fn default() -> Self {
        CqlConfig {
            seed: 0,
            batch_size: 256,
            hidden: vec![256, 256, 256],
            actor_lr: 1e-4,
            critic_lr: 3e-4,
            alpha_lr: 1e-4,
            discount: 0.99,
            tau: 0.005,
            cql_alpha: 5.0,
            n_actions: 10,
            temperature: 1.0,
            lagrange: false,
            target_action_gap: 5.0,
            bc_steps: 10_000,
        }
    }
}

pub const ALGO: &str = "cql";
const LOG_STD_MIN: f64 = -20.0;
const LOG_STD_MAX: f64 = 2.0;

/// A CQL agent.
#[derive(Debug)]
pub struct Cql {
    pub config: CqlConfig,
    device: Device,
    state: TrainState,
    /// Outputs `[mean, log_std]` per action dimension.
    actor: Mlp,
    critic: Mlp,
    critic_target: Mlp,
    /// `[log α, log α']`, each `[1, 1, 1]`.
    log_alpha: Vec<T3>,
    actor_opt: Adam,
    critic_opt: Adam,
    alpha_opt: Adam,
}

fn sizes(input: usize, hidden: &[usize], out: usize) -> Vec<usize> {
    std::iter::once(input)
        .chain(hidden.iter().copied())
        .chain(std::iter::once(out))
        .collect()
}

/// `T · log Σ exp(x / T)` along `dim` (kept), stable.
pub fn logsumexp(x: T3, dim: usize, temperature: f64) -> T3 {
    let x = x / temperature;
    let m = x.clone().detach().max_dim(dim);
    ((x - m.clone()).exp().sum_dim(dim).log() + m) * temperature
}

/// A tanh-Gaussian sample from the actor's output `[1, n, 2·act]` with
/// standard-normal noise `eps` `[1, n, act]`: (action, log-probability `[1, n, 1]`).
pub fn tanh_gaussian(out: T3, eps: T3) -> (T3, T3) {
    let [_, n, two_ad] = out.dims();
    let ad = two_ad / 2;
    let mean = out.clone().narrow(2, 0, ad);
    let log_std = out.narrow(2, ad, ad).clamp(LOG_STD_MIN, LOG_STD_MAX);
    let u = mean + log_std.clone().exp() * eps.clone();
    let a = u.tanh();
    let ln_2pi_half = 0.5 * (2.0 * std::f64::consts::PI).ln();
    let logp_u = (eps.clone() * eps) * (-0.5) - log_std - ln_2pi_half;
    // Change of variables through tanh.
    let corr = ((a.clone() * a.clone()).neg() + (1.0 + 1e-6)).log();
    let logp = (logp_u - corr).sum_dim(2);
    debug_assert_eq!(logp.dims(), [1, n, 1]);
    (a, logp)
}

/// Log-density of dataset actions `a` (in (−1, 1)) under the tanh-Gaussian.
fn tanh_gaussian_log_prob(out: T3, a: T3) -> T3 {
    let ad = a.dims()[2];
    let mean = out.clone().narrow(2, 0, ad);
    let log_std = out.narrow(2, ad, ad).clamp(LOG_STD_MIN, LOG_STD_MAX);
    let a = a.clamp(-0.999_999, 0.999_999);
    let u = ((a.clone() + 1.0).log() - (a.clone().neg() + 1.0).log()) * 0.5; // atanh
    let z = (u - mean) / log_std.clone().exp();
    let ln_2pi_half = 0.5 * (2.0 * std::f64::consts::PI).ln();
    let corr = ((a.clone() * a).neg() + (1.0 + 1e-6)).log();
    ((z.clone() * z) * (-0.5) - log_std - ln_2pi_half - corr).sum_dim(2)
}

impl Cql {
    pub fn new(spec: &EnvSpec, config: CqlConfig, device: &Device) -> Result<Self> {
        let state = TrainState::new(spec, config.batch_size, config.seed, false);
        Ok(Self::build(state, config, device))
    }

    fn build(mut state: TrainState, config: CqlConfig, device: &Device) -> Self {
        let (od, ad) = (state.obs_dim, state.act_dim);
        let dev = device.autodiff();
        let actor =
            Mlp::new(1, &sizes(od, &config.hidden, 2 * ad), &mut state.rng, dev).require_grad();
        let critic =
            Mlp::new(2, &sizes(od + ad, &config.hidden, 1), &mut state.rng, dev).require_grad();
        let log_alpha = vec![
            tensor3(vec![0.0], [1, 1, 1], dev).require_grad(),
            tensor3(vec![(config.cql_alpha as f32).ln()], [1, 1, 1], dev).require_grad(),
        ];
        Cql {
            actor_opt: Adam::new(config.actor_lr, &actor.params),
            critic_opt: Adam::new(config.critic_lr, &critic.params),
            alpha_opt: Adam::new(config.alpha_lr, &log_alpha),
            critic_target: critic.inner(),
            actor,
            critic,
            log_alpha,
            config,
            device: device.clone(),
            state,
        }
    }

    pub fn load(dir: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let ck = Checkpoint::read(dir.as_ref())?;
        let config: CqlConfig = ck.config(ALGO)?;
        let state = ck.train_state()?;
        let mut a = Self::build(state.clone(), config, device);
        a.state = state;
        ck.load_mlp("actor", &mut a.actor, device, true)?;
        ck.load_mlp("critic", &mut a.critic, device, true)?;
        ck.load_mlp("critic_target", &mut a.critic_target, device, false)?;
        for i in 0..2 {
            a.log_alpha[i] = ck
                .tensor(&format!("log_alpha/{i}"), [1, 1, 1], device.autodiff())?
                .require_grad();
        }
        ck.load_adam("actor_opt", &mut a.actor_opt, device)?;
        ck.load_adam("critic_opt", &mut a.critic_opt, device)?;
        ck.load_adam("alpha_opt", &mut a.alpha_opt, device)?;
        Ok(a)
    }

    pub fn parameters(&self) -> Vec<Vec<f32>> {
        let mut v: Vec<Vec<f32>> = [&self.actor, &self.critic, &self.critic_target]
            .iter()
            .flat_map(|n| n.params.iter().map(super::nets::to_vec))
            .collect();
        v.extend(self.log_alpha.iter().map(super::nets::to_vec));
        v
    }

    fn noise(&mut self, rows: usize, ad: usize, on: &burn::DispatchDevice) -> T3 {
        tensor3(gaussian(&mut self.state.rng, rows * ad), [1, rows, ad], on)
    }
}

impl Agent for Cql {
    fn algo(&self) -> &str {
        ALGO
    }
    fn state(&self) -> &TrainState {
        &self.state
    }
    fn state_mut(&mut self) -> &mut TrainState {
        &mut self.state
    }

    fn update(&mut self, batch: &Batch) -> Result<Vec<(&'static str, f32)>> {
        let c = self.config.clone();
        let (n, ad, k) = (batch.len, batch.act_dim, c.n_actions.max(1));
        let dev = self.device.autodiff().clone();
        let base = self.device.base().clone();
        let b = DeviceBatch::upload(batch, &dev);

        // --- actor and entropy temperature ---
        let eps = self.noise(n, ad, &dev);
        let out = self.actor.forward(b.obs.clone());
        let (pi, logp) = tanh_gaussian(out.clone(), eps);
        let log_alpha = self.log_alpha[0].clone();
        let target_entropy = -(ad as f64);
        let alpha_loss = (log_alpha.clone()
            * Tensor::from_inner((logp.clone().inner() + target_entropy).detach()))
        .neg()
        .mean();
        let alpha = Tensor::from_inner(log_alpha.clone().inner().exp());
        let actor_loss = if self.state.step < c.bc_steps {
            let lp = tanh_gaussian_log_prob(out, b.actions.clone());
            (alpha.clone() * logp.clone() - lp).mean()
        } else {
            let q_pi = self
                .critic
                .frozen()
                .forward(Tensor::cat(vec![b.obs.clone(), pi], 2))
                .min_dim(0);
            (alpha.clone() * logp.clone() - q_pi).mean()
        };

        // --- critic target (deterministic backup: no entropy bonus) ---
        let next_obs = b.next_obs.clone().inner();
        let eps = self.noise(n, ad, &base);
        let (next_a, _) = tanh_gaussian(self.actor.inner().forward(next_obs.clone()), eps);
        let q_next = self
            .critic_target
            .forward(Tensor::cat(vec![next_obs.clone(), next_a], 2))
            .min_dim(0);
        let not_done = b.terminals.clone().inner().neg() + 1.0;
        let y = Tensor::from_inner(b.rewards.clone().inner() + not_done * q_next * c.discount);
        let q = self
            .critic
            .forward(Tensor::cat(vec![b.obs.clone(), b.actions.clone()], 2));
        let err = q.clone() - y;
        let td_loss = (err.clone() * err).mean() * 2.0;

        // --- conservative term ---
        // k actions per state from: uniform on [-1, 1]^ad, π(·|s), π(·|s'), importance-weighted.
        let obs_k = b.obs.clone().inner().repeat_dim(1, k); // [1, k·n, od], sample-major
        let next_k = next_obs.repeat_dim(1, k);
        let uniform: Vec<f32> = (0..k * n * ad)
            .map(|_| self.state.rng.random_range(-1.0f32..1.0))
            .collect();
        let a_rand = tensor3(uniform, [1, k * n, ad], &base);
        let actor_inner = self.actor.inner();
        let eps = self.noise(k * n, ad, &base);
        let (a_cur, logp_cur) = tanh_gaussian(actor_inner.forward(obs_k.clone()), eps);
        let eps = self.noise(k * n, ad, &base);
        let (a_next, logp_next) = tanh_gaussian(actor_inner.forward(next_k), eps);
        let obs_k = Tensor::from_inner(obs_k);
        let q_at = |a: T3| -> T3 {
            let q = self
                .critic
                .forward(Tensor::cat(vec![obs_k.clone(), Tensor::from_inner(a)], 2));
            q.reshape([2, k, n])
        };
        let log_density_uniform = -(ad as f64) * 2f64.ln();
        let as_k = |lp: T3| Tensor::from_inner(lp.reshape([1, k, n]));
        let cat = Tensor::cat(
            vec![
                q_at(a_rand) - log_density_uniform,
                q_at(a_cur) - as_k(logp_cur),
                q_at(a_next) - as_k(logp_next),
            ],
            1,
        ); // [2, 3k, n]
        let lse = logsumexp(cat, 1, c.temperature); // [2, 1, n]
        let gap = (lse - q.clone().reshape([2, 1, n])).mean_dim(2); // [2, 1, 1]
        let (cql_loss, alpha_prime_loss, alpha_prime) = if c.lagrange {
            let ap = Tensor::from_inner(self.log_alpha[1].clone().inner().exp().clamp(0.0, 1e6));
            let term = (gap.clone() - c.target_action_gap) * ap.clone();
            // Dual ascent on α': maximise α'·(gap − target) with the gap held fixed.
            let ap_var = self.log_alpha[1].clone().exp().clamp(0.0, 1e6);
            let dual = (ap_var
                * Tensor::from_inner((gap.clone().inner() - c.target_action_gap).detach()))
            .neg()
            .sum()
                * 0.5;
            (term.sum(), Some(dual), ap.inner().mean())
        } else {
            (
                gap.clone().sum() * c.cql_alpha,
                None,
                tensor3(vec![c.cql_alpha as f32], [1, 1, 1], &base).mean(),
            )
        };
        let critic_loss = td_loss.clone() + cql_loss.clone();

        // --- steps: temperatures, actor, critics, targets ---
        let dual_loss = match &alpha_prime_loss {
            Some(d) => alpha_loss.clone() + d.clone(),
            None => alpha_loss.clone(),
        };
        let g = dual_loss.backward();
        self.alpha_opt.step(&mut self.log_alpha, &g);
        let g = actor_loss.backward();
        self.actor_opt.step(&mut self.actor.params, &g);
        let g = critic_loss.backward();
        self.critic_opt.step(&mut self.critic.params, &g);
        self.critic_target.polyak_from(&self.critic, c.tau);

        let v = read_scalars(vec![
            td_loss.inner(),
            cql_loss.inner(),
            actor_loss.inner(),
            q.inner().mean(),
            gap.inner().mean(),
            alpha.inner().mean(),
            alpha_prime,
            logp.inner().mean().neg(),
        ]);
        Ok(vec![
            ("td_loss", v[0]),
            ("cql_loss", v[1]),
            ("actor_loss", v[2]),
            ("q_mean", v[3]),
            ("cql_gap", v[4]),
            ("alpha", v[5]),
            ("alpha_prime", v[6]),
            ("entropy", v[7]),
        ])
    }

    fn policy(&self) -> AgentPolicy {
        AgentPolicy::new(
            ALGO,
            self.actor.host(0),
            self.state
                .norm
                .clone()
                .unwrap_or_else(|| identity_norm(&self.state)),
        )
    }

    fn config_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.config).unwrap_or_default()
    }

    fn save(&self, dir: &Path) -> Result<()> {
        let mut ck = Checkpoint::new(ALGO, &self.config, &self.state)?;
        ck.put_mlp("actor", &self.actor);
        ck.put_mlp("critic", &self.critic);
        ck.put_mlp("critic_target", &self.critic_target);
        for (i, t) in self.log_alpha.iter().enumerate() {
            ck.put_tensor(&format!("log_alpha/{i}"), t);
        }
        ck.put_adam("actor_opt", &self.actor_opt);
        ck.put_adam("critic_opt", &self.critic_opt);
        ck.put_adam("alpha_opt", &self.alpha_opt);
        ck.write(dir)?;
        Ok(())
    }
}

#[allow(dead_code)]
fn _assert_backend(_: Tensor<B, 1>) {}
