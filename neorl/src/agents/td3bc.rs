//! TD3+BC — Fujimoto & Gu, "A Minimalist Approach to Offline Reinforcement
//! Learning", NeurIPS 2021 (arXiv:2106.06860).
//!
//! TD3 (Fujimoto et al. 2018: twin critics, target policy smoothing, delayed
//! actor updates) whose actor loss adds a behaviour-cloning term:
//!
//! ```text
//! π = argmax  E[ λ Q(s, π(s)) − (π(s) − a)² ],   λ = α / mean|Q(s, π(s))|   (λ not differentiated)
//! ```
//!
//! with states standardised by the dataset's statistics. Defaults are the
//! paper's (Table 4), also CORL's `td3_bc.py`.

use super::agent::{Agent, AgentPolicy, TrainState};
use super::checkpoint::Checkpoint;
use super::device::B;
use super::device::Device;
use super::nets::{Adam, DeviceBatch, Mlp, T3, gaussian, read_scalars, tensor3};
use crate::data::Batch;
use crate::env::EnvSpec;
use crate::error::Result;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// TD3+BC hyper-parameters; `Default` is the paper's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Td3BcConfig {
    pub seed: u64,
    pub batch_size: usize,
    /// Hidden widths of actor and critics.
    pub hidden: Vec<usize>,
    pub actor_lr: f64,
    pub critic_lr: f64,
    pub discount: f64,
    /// Polyak rate of the target networks.
    pub tau: f64,
    /// Std of the target policy smoothing noise (in [-1, 1] action units).
    pub policy_noise: f64,
    pub noise_clip: f64,
    /// Actor and targets are updated every `policy_freq` critic updates.
    pub policy_freq: u64,
    /// α of λ = α / mean|Q|.
    pub alpha: f64,
}

impl Default for Td3BcConfig {
    fn default() -> Self {
        Td3BcConfig {
            seed: 0,
            batch_size: 256,
            hidden: vec![256, 256],
            actor_lr: 3e-4,
            critic_lr: 3e-4,
            discount: 0.99,
            tau: 0.005,
            policy_noise: 0.2,
            noise_clip: 0.5,
            policy_freq: 2,
            alpha: 2.5,
        }
    }
}

/// A TD3+BC agent.
#[derive(Debug)]
pub struct Td3Bc {
    pub config: Td3BcConfig,
    device: Device,
    state: TrainState,
    actor: Mlp,
    actor_target: Mlp,
    critic: Mlp,
    critic_target: Mlp,
    actor_opt: Adam,
    critic_opt: Adam,
}

pub const ALGO: &str = "td3bc";

fn sizes(input: usize, hidden: &[usize], out: usize) -> Vec<usize> {
    std::iter::once(input)
        .chain(hidden.iter().copied())
        .chain(std::iter::once(out))
        .collect()
}

impl Td3Bc {
    pub fn new(spec: &EnvSpec, config: Td3BcConfig, device: &Device) -> Result<Self> {
        let state = TrainState::new(spec, config.batch_size, config.seed, false);
        Ok(Self::build(state, config, device))
    }

    fn build(mut state: TrainState, config: Td3BcConfig, device: &Device) -> Self {
        let (od, ad) = (state.obs_dim, state.act_dim);
        let dev = device.autodiff();
        let actor = Mlp::new(1, &sizes(od, &config.hidden, ad), &mut state.rng, dev).require_grad();
        let critic =
            Mlp::new(2, &sizes(od + ad, &config.hidden, 1), &mut state.rng, dev).require_grad();
        Td3Bc {
            actor_target: actor.inner(),
            critic_target: critic.inner(),
            actor_opt: Adam::new(config.actor_lr, &actor.params),
            critic_opt: Adam::new(config.critic_lr, &critic.params),
            actor,
            critic,
            config,
            device: device.clone(),
            state,
        }
    }

    /// Load a checkpoint written by [`Agent::save`] to continue training or deploy.
    pub fn load(dir: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let ck = Checkpoint::read(dir.as_ref())?;
        let config: Td3BcConfig = ck.config(ALGO)?;
        let state = ck.train_state()?;
        let mut a = Self::build(state.clone(), config, device);
        a.state = state;
        ck.load_mlp("actor", &mut a.actor, device, true)?;
        ck.load_mlp("critic", &mut a.critic, device, true)?;
        ck.load_mlp("actor_target", &mut a.actor_target, device, false)?;
        ck.load_mlp("critic_target", &mut a.critic_target, device, false)?;
        ck.load_adam("actor_opt", &mut a.actor_opt, device)?;
        ck.load_adam("critic_opt", &mut a.critic_opt, device)?;
        Ok(a)
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Every trainable parameter, in a fixed order (for tests and inspection).
    pub fn parameters(&self) -> Vec<Vec<f32>> {
        [
            &self.actor,
            &self.critic,
            &self.actor_target,
            &self.critic_target,
        ]
        .iter()
        .flat_map(|n| n.params.iter().map(super::nets::to_vec))
        .collect()
    }
}

impl Agent for Td3Bc {
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
        let (n, ad) = (batch.len, batch.act_dim);
        let base = self.device.base();
        let b = DeviceBatch::upload(batch, self.device.autodiff());

        // Critic target: r + γ (1 − d) min_i Q'_i(s', clip(π'(s') + clip(ε)))
        let noise: Vec<f32> = gaussian(&mut self.state.rng, n * ad)
            .into_iter()
            .map(|e| (e * c.policy_noise as f32).clamp(-c.noise_clip as f32, c.noise_clip as f32))
            .collect();
        let next_obs = b.next_obs.clone().inner();
        let next_a = (self.actor_target.forward(next_obs.clone()).tanh()
            + tensor3(noise, [1, n, ad], base))
        .clamp(-1.0, 1.0);
        let q_next = self
            .critic_target
            .forward(Tensor::cat(vec![next_obs, next_a], 2))
            .min_dim(0);
        let not_done = b.terminals.clone().inner().neg() + 1.0;
        let y = b.rewards.clone().inner() + not_done * q_next * c.discount;
        let y = Tensor::from_inner(y);

        // Critic: both heads regress on y (sum of the two MSEs).
        let q = self
            .critic
            .forward(Tensor::cat(vec![b.obs.clone(), b.actions.clone()], 2));
        let critic_loss = twin_mse(q.clone(), y);
        let grads = critic_loss.backward();
        self.critic_opt.step(&mut self.critic.params, &grads);
        let mut metrics = vec![critic_loss.inner(), q.inner().mean()];

        // Delayed actor and target updates.
        if (self.state.step + 1).is_multiple_of(c.policy_freq.max(1)) {
            let pi = self.actor.forward(b.obs.clone()).tanh();
            let q1 = self
                .critic
                .frozen()
                .member(0)
                .forward(Tensor::cat(vec![b.obs.clone(), pi.clone()], 2));
            let (actor_loss, bc, lambda) = actor_objective(q1, pi, b.actions.clone(), c.alpha);
            let grads = actor_loss.clone().backward();
            self.actor_opt.step(&mut self.actor.params, &grads);
            self.critic_target.polyak_from(&self.critic, c.tau);
            self.actor_target.polyak_from(&self.actor, c.tau);
            metrics.extend([actor_loss.inner(), bc.inner(), lambda.inner()]);
        }
        // Actor metrics exist on actor steps only (NaN gaps in the history).
        let v = read_scalars(metrics);
        let names = ["critic_loss", "q_mean", "actor_loss", "bc_mse", "lambda"];
        Ok(names.into_iter().zip(v).collect())
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
        ck.put_mlp("actor_target", &self.actor_target);
        ck.put_mlp("critic_target", &self.critic_target);
        ck.put_adam("actor_opt", &self.actor_opt);
        ck.put_adam("critic_opt", &self.critic_opt);
        ck.write(dir)?;
        Ok(())
    }
}

/// Sum over critic members of the mean squared error to the target `y`
/// (`q: [members, n, 1]`, `y: [1, n, 1]`).
pub fn twin_mse(q: T3, y: T3) -> Tensor<B, 1> {
    let members = q.dims()[0] as f64;
    let err = q - y;
    (err.clone() * err).mean() * members
}

/// TD3+BC's actor loss `−λ·mean Q₁(s, π(s)) + mean (π(s) − a)²` with
/// `λ = α / mean|Q₁|` treated as a constant. Returns (loss, BC term, λ).
pub fn actor_objective(
    q1: T3,
    pi: T3,
    actions: T3,
    alpha: f64,
) -> (Tensor<B, 1>, Tensor<B, 1>, Tensor<B, 1>) {
    let lambda = q1.clone().detach().abs().mean().recip() * alpha;
    let d = pi - actions;
    let bc = (d.clone() * d).mean();
    let loss = -(q1.mean() * lambda.clone()) + bc.clone();
    (loss, bc, lambda)
}

/// The normaliser of an agent that has not been trained yet (identity on
/// observations, the action bounds from the spec).
pub(crate) fn identity_norm(st: &TrainState) -> super::agent::Normalizer {
    super::agent::Normalizer {
        obs_mean: vec![0.0; st.obs_dim],
        obs_std: vec![1.0; st.obs_dim],
        act_low: st.act_low.clone(),
        act_high: st.act_high.clone(),
        reward_scale: 1.0,
    }
}
