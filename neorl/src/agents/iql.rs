//! IQL — Kostrikov, Nair & Levine, "Offline Reinforcement Learning with
//! Implicit Q-Learning", ICLR 2022 (arXiv:2110.06169).
//!
//! Never queries Q on actions outside the dataset:
//!
//! ```text
//! V:  min E[ L₂^τ( min_i Q̄_i(s, a) − V(s) ) ],   L₂^τ(u) = |τ − 1(u < 0)| u²   (expectile)
//! Q:  min E[ (r + γ (1 − d) V(s') − Q_i(s, a))² ]   (mean over the twin critics)
//! π:  max E[ exp(β (Q̄(s, a) − V(s))) log π(a | s) ]   (advantage-weighted regression, weights ≤ 100)
//! ```
//!
//! The policy is a Gaussian with tanh-squashed mean and a state-independent
//! log-std; deployment uses the mean. Defaults are the paper's MuJoCo
//! settings (τ = 0.7, β = 3, rewards scaled by 1000 / (max − min return)),
//! as in CORL's `iql.py`. The paper's cosine decay of the actor learning
//! rate needs the total number of steps up front, which cell-by-cell
//! training does not have: the rate is constant here.

use super::agent::{Agent, AgentPolicy, TrainState};
use super::checkpoint::Checkpoint;
use super::device::{B, Device};
use super::nets::{Adam, DeviceBatch, Mlp, T3, read_scalars, tensor3};
use super::td3bc::identity_norm;
use crate::data::Batch;
use crate::env::EnvSpec;
use crate::error::Result;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// IQL hyper-parameters; `Default` is the paper's (MuJoCo locomotion).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IqlConfig {
    pub seed: u64,
    pub batch_size: usize,
    pub hidden: Vec<usize>,
    pub actor_lr: f64,
    pub critic_lr: f64,
    pub value_lr: f64,
    pub discount: f64,
    pub tau: f64,
    /// Expectile τ of the value loss.
    pub expectile: f64,
    /// Inverse temperature β of the advantage weights.
    pub beta: f64,
    /// Cap on exp(β·advantage).
    pub max_weight: f64,
    /// Scale rewards by 1000 / (max − min episode return).
    pub normalize_reward: bool,
}

impl Default for IqlConfig {
    fn default() -> Self {
        IqlConfig {
            seed: 0,
            batch_size: 256,
            hidden: vec![256, 256],
            actor_lr: 3e-4,
            critic_lr: 3e-4,
            value_lr: 3e-4,
            discount: 0.99,
            tau: 0.005,
            expectile: 0.7,
            beta: 3.0,
            max_weight: 100.0,
            normalize_reward: true,
        }
    }
}

pub const ALGO: &str = "iql";
const LOG_STD_MIN: f64 = -20.0;
const LOG_STD_MAX: f64 = 2.0;

/// An IQL agent.
#[derive(Debug)]
pub struct Iql {
    pub config: IqlConfig,
    device: Device,
    state: TrainState,
    actor: Mlp,
    /// `[1, 1, act_dim]`, state-independent.
    log_std: T3,
    critic: Mlp,
    critic_target: Mlp,
    value: Mlp,
    actor_opt: Adam,
    critic_opt: Adam,
    value_opt: Adam,
}

fn sizes(input: usize, hidden: &[usize], out: usize) -> Vec<usize> {
    std::iter::once(input)
        .chain(hidden.iter().copied())
        .chain(std::iter::once(out))
        .collect()
}

/// The expectile loss `mean |τ − 1(u < 0)| u²`.
pub fn expectile_loss(u: T3, tau: f64) -> Tensor<B, 1> {
    // 1(u < 0) as (1 − sign u)/2 (0.5 at u = 0, where u² = 0 anyway); a
    // float expression keeps it on the same (autodiff or plain) backend.
    let below = (u.clone().detach().sign().neg() + 1.0) * 0.5;
    let weight = (below.neg() + tau).abs();
    (weight * u.clone() * u).mean()
}

/// Log-density of `a` under N(mean, exp(log_std)²), summed over action
/// dimensions: `[1, n, act] → [1, n, 1]`.
pub fn gaussian_log_prob(mean: T3, log_std: T3, a: T3) -> T3 {
    let z = (a - mean) / log_std.clone().exp();
    let ln_2pi_half = 0.5 * (2.0 * std::f64::consts::PI).ln();
    ((z.clone() * z) * (-0.5) - log_std - ln_2pi_half).sum_dim(2)
}

impl Iql {
    pub fn new(spec: &EnvSpec, config: IqlConfig, device: &Device) -> Result<Self> {
        let state = TrainState::new(
            spec,
            config.batch_size,
            config.seed,
            config.normalize_reward,
        );
        Ok(Self::build(state, config, device))
    }

    fn build(mut state: TrainState, config: IqlConfig, device: &Device) -> Self {
        let (od, ad) = (state.obs_dim, state.act_dim);
        let dev = device.autodiff();
        let actor = Mlp::new(1, &sizes(od, &config.hidden, ad), &mut state.rng, dev).require_grad();
        let log_std = tensor3(vec![0.0; ad], [1, 1, ad], dev).require_grad();
        let critic =
            Mlp::new(2, &sizes(od + ad, &config.hidden, 1), &mut state.rng, dev).require_grad();
        let value = Mlp::new(1, &sizes(od, &config.hidden, 1), &mut state.rng, dev).require_grad();
        let mut actor_params = actor.params.clone();
        actor_params.push(log_std.clone());
        Iql {
            actor_opt: Adam::new(config.actor_lr, &actor_params),
            critic_opt: Adam::new(config.critic_lr, &critic.params),
            value_opt: Adam::new(config.value_lr, &value.params),
            critic_target: critic.inner(),
            actor,
            log_std,
            critic,
            value,
            config,
            device: device.clone(),
            state,
        }
    }

    pub fn load(dir: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let ck = Checkpoint::read(dir.as_ref())?;
        let config: IqlConfig = ck.config(ALGO)?;
        let state = ck.train_state()?;
        let mut a = Self::build(state.clone(), config, device);
        a.state = state;
        ck.load_mlp("actor", &mut a.actor, device, true)?;
        a.log_std = ck
            .tensor("log_std", a.log_std.dims(), device.autodiff())?
            .require_grad();
        ck.load_mlp("critic", &mut a.critic, device, true)?;
        ck.load_mlp("critic_target", &mut a.critic_target, device, false)?;
        ck.load_mlp("value", &mut a.value, device, true)?;
        ck.load_adam("actor_opt", &mut a.actor_opt, device)?;
        ck.load_adam("critic_opt", &mut a.critic_opt, device)?;
        ck.load_adam("value_opt", &mut a.value_opt, device)?;
        Ok(a)
    }

    pub fn parameters(&self) -> Vec<Vec<f32>> {
        let mut v: Vec<Vec<f32>> = [&self.actor, &self.critic, &self.critic_target, &self.value]
            .iter()
            .flat_map(|n| n.params.iter().map(super::nets::to_vec))
            .collect();
        v.push(super::nets::to_vec(&self.log_std));
        v
    }
}

impl Agent for Iql {
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
        let c = &self.config;
        let b = DeviceBatch::upload(batch, self.device.autodiff());
        let sa = Tensor::cat(vec![b.obs.clone(), b.actions.clone()], 2);

        // V(s') for the Q target, before V moves.
        let next_v = self.value.inner().forward(b.next_obs.clone().inner());

        // Value: expectile regression on the target critics' minimum.
        let q_target = self.critic_target.forward(sa.clone().inner()).min_dim(0);
        let v = self.value.forward(b.obs.clone());
        let adv = Tensor::from_inner(q_target) - v;
        let value_loss = expectile_loss(adv.clone(), c.expectile);
        let grads = value_loss.backward();
        self.value_opt.step(&mut self.value.params, &grads);

        // Critics: one-step TD on V(s').
        let not_done = b.terminals.clone().inner().neg() + 1.0;
        let y = Tensor::from_inner(b.rewards.clone().inner() + not_done * next_v * c.discount);
        let q = self.critic.forward(sa);
        let err = q.clone() - y;
        let critic_loss = (err.clone() * err).mean();
        let grads = critic_loss.backward();
        self.critic_opt.step(&mut self.critic.params, &grads);
        self.critic_target.polyak_from(&self.critic, c.tau);

        // Actor: advantage-weighted regression.
        let adv = Tensor::from_inner(adv.inner());
        let weight = (adv.clone() * c.beta).exp().clamp_max(c.max_weight);
        let mean = self.actor.forward(b.obs.clone()).tanh();
        let log_std = self.log_std.clone().clamp(LOG_STD_MIN, LOG_STD_MAX);
        let logp = gaussian_log_prob(mean, log_std, b.actions.clone());
        let actor_loss = (weight.clone() * logp.clone().neg()).mean();
        let grads = actor_loss.backward();
        let mut ps = self.actor.params.clone();
        ps.push(self.log_std.clone());
        self.actor_opt.step(&mut ps, &grads);
        self.log_std = ps.pop().expect("log_std");
        self.actor.params = ps;

        let v = read_scalars(vec![
            value_loss.inner(),
            critic_loss.inner(),
            actor_loss.inner(),
            q.inner().mean(),
            adv.inner().mean(),
            weight.inner().mean(),
        ]);
        Ok(vec![
            ("value_loss", v[0]),
            ("critic_loss", v[1]),
            ("actor_loss", v[2]),
            ("q_mean", v[3]),
            ("advantage_mean", v[4]),
            ("weight_mean", v[5]),
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
        ck.put_tensor("log_std", &self.log_std);
        ck.put_mlp("critic", &self.critic);
        ck.put_mlp("critic_target", &self.critic_target);
        ck.put_mlp("value", &self.value);
        ck.put_adam("actor_opt", &self.actor_opt);
        ck.put_adam("critic_opt", &self.critic_opt);
        ck.put_adam("value_opt", &self.value_opt);
        ck.write(dir)?;
        Ok(())
    }
}
