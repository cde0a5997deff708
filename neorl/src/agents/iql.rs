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
//! as in CORL's `iql.py`, whose actor learning rate follows a cosine decay
//! to zero over the planned number of steps (`CosineAnnealingLR(T_max =
//! max_timesteps)`): the default `actor_optim` here, over `planned_steps`
//! (set by `neorl train --steps`, sweeps and score tables; in a notebook,
//! set it in the config — without it the rate stays constant, see
//! [`super::optim`]). Critics and value keep constant rates.

use super::agent::{Agent, TrainState};
use super::device::{B, Device};
use super::losses::{LOG_STD_MAX, LOG_STD_MIN, regress_members, td_target};
use super::nets::{Adam, DeviceBatch, Mlp, T3, layer_sizes, read_metrics, tensor3};
use super::optim::{OptimConfig, check_planned};
use super::parts::{self, agent_basics, agent_constructors, declare_parts};
use super::ranges::Ranges;
use crate::data::Batch;
use crate::error::Result;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// Former path of the Gaussian log-density (now in [`super::losses`]).
#[doc(hidden)]
pub use super::losses::gaussian_log_prob;

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
    /// The actor's optimiser recipe: CORL's cosine decay to 0.
    pub actor_optim: OptimConfig,
    pub critic_optim: OptimConfig,
    pub value_optim: OptimConfig,
    /// Updates training is planned to take: where schedules end (`None`:
    /// no end, constant rates).
    pub planned_steps: Option<u64>,
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
            actor_optim: OptimConfig::cosine(),
            critic_optim: OptimConfig::default(),
            value_optim: OptimConfig::default(),
            planned_steps: None,
        }
    }
}

impl IqlConfig {
    /// Check every setting against its allowed range (done by `new`; call
    /// it to check a config before building): an error names the setting,
    /// its value and the range.
    pub fn validate(&self) -> Result<()> {
        let r = Ranges::new(ALGO, "IqlConfig");
        r.batch("batch_size", self.batch_size)?;
        r.widths("hidden", &self.hidden)?;
        r.positive("actor_lr", self.actor_lr)?;
        r.positive("critic_lr", self.critic_lr)?;
        r.positive("value_lr", self.value_lr)?;
        r.rate("discount", self.discount)?;
        r.rate("tau", self.tau)?;
        r.open_unit("expectile", self.expectile)?;
        r.non_negative("beta", self.beta)?;
        r.positive("max_weight", self.max_weight)?;
        check_planned(&r, self.planned_steps)?;
        let h = self.planned_steps;
        self.actor_optim.validate(&r, "actor_optim", h)?;
        self.critic_optim.validate(&r, "critic_optim", h)?;
        self.value_optim.validate(&r, "value_optim", h)
    }
}

pub const ALGO: &str = "iql";

/// An IQL agent.
#[derive(Debug)]
pub struct Iql {
    pub config: IqlConfig,
    device: Device,
    state: TrainState,
    /// The policy's mean (before tanh).
    actor: Mlp,
    /// `[1, 1, act_dim]`, state-independent.
    log_std: T3,
    /// Twin critics, one member each.
    critic: Mlp,
    critic_target: Mlp,
    value: Mlp,
    /// Over the actor's parameters and `log_std`.
    actor_opt: Adam,
    critic_opt: Adam,
    value_opt: Adam,
}

declare_parts!(Iql {
    actor: Net,
    critic: Net,
    critic_target: Target,
    value: Net,
    log_std: Tensor,
    actor_opt: Adam,
    critic_opt: Adam,
    value_opt: Adam,
});

/// The expectile loss `mean |τ − 1(u < 0)| u²`.
pub fn expectile_loss(u: T3, tau: f64) -> Tensor<B, 1> {
    // 1(u < 0) as (1 − sign u)/2 (0.5 at u = 0, where u² = 0 anyway); a
    // float expression keeps it on the same (autodiff or plain) backend.
    let below = (u.clone().detach().sign().neg() + 1.0) * 0.5;
    let weight = (below.neg() + tau).abs();
    (weight * u.clone() * u).mean()
}

impl Iql {
    agent_constructors!(IqlConfig, normalize_reward);

    /// A Gaussian actor, twin critics and a state-value network, each with
    /// the configured hidden layers.
    fn build(mut state: TrainState, config: IqlConfig, device: &Device) -> Self {
        let (od, ad) = (state.obs_dim, state.act_dim);
        let dev = device.autodiff();
        let h = &config.hidden;
        let actor = Mlp::new(1, &layer_sizes(od, h, ad), &mut state.rng, dev).require_grad();
        let log_std = tensor3(vec![0.0; ad], [1, 1, ad], dev).require_grad();
        let critic = Mlp::new(2, &layer_sizes(od + ad, h, 1), &mut state.rng, dev).require_grad();
        let value = Mlp::new(1, &layer_sizes(od, h, 1), &mut state.rng, dev).require_grad();
        let mut actor_params = actor.params.clone();
        actor_params.push(log_std.clone());
        let plan = config.planned_steps;
        Iql {
            actor_opt: Adam::new(config.actor_lr, &actor_params)
                .with_recipe(&config.actor_optim, plan),
            critic_opt: Adam::new(config.critic_lr, &critic.params)
                .with_recipe(&config.critic_optim, plan),
            value_opt: Adam::new(config.value_lr, &value.params)
                .with_recipe(&config.value_optim, plan),
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

    /// Every parameter, in a fixed order (for tests and inspection).
    pub fn parameters(&self) -> Vec<Vec<f32>> {
        parts::parameters(self)
    }
}

impl Agent for Iql {
    agent_basics!(actor);

    fn update(&mut self, batch: &Batch) -> Result<Vec<(&'static str, f32)>> {
        let c = &self.config;
        let dev = &self.device;
        let b = DeviceBatch::upload(batch, dev.autodiff());
        let sa = Tensor::cat(vec![b.obs.clone(), b.actions.clone()], 2);

        // V(s') for the Q target, before V moves, and the target critics'
        // minimum: plain tensors, beside the value network's forward pass.
        let (value, critic_target) = (&self.value, &self.critic_target);
        let ((next_v, q_target), v) = dev.join(
            || {
                let next_v = value.inner().forward(b.next_obs.clone().inner());
                (next_v, critic_target.forward(sa.clone().inner()).min_dim(0))
            },
            || value.forward(b.obs.clone()),
        );

        // Value: expectile regression on the target critics' minimum.
        let adv = Tensor::from_inner(q_target) - v;
        let value_loss = expectile_loss(adv.clone(), c.expectile);
        let value_grads = value_loss.backward();

        // Critics: one-step TD on V(s') (the mean of the two members'
        // errors), each member on a thread of its own; then both Adam steps
        // (plain tensors) side by side.
        let y = td_target(&b, next_v, c.discount);
        let (critic_loss, q, critic_grads) = regress_members(dev, &self.critic, sa, y, 0.5);
        let (value_opt, value_params) = (&mut self.value_opt, &self.value.params);
        let (critic_opt, critic_params) = (&mut self.critic_opt, &self.critic.params);
        let (value_step, critic_step) = dev.join(
            move || value_opt.compute_on(Some(dev), value_params, &value_grads),
            move || critic_opt.compute_with(Some(dev), critic_params, critic_grads),
        );
        value_step.install(&mut self.value.params);
        critic_step.install(&mut self.critic.params);

        // Actor: advantage-weighted regression (its rate on the cosine schedule).
        let adv = Tensor::from_inner(adv.inner());
        let weight = (adv.clone() * c.beta).exp().clamp_max(c.max_weight);
        let mut params = self.actor.params.clone();
        params.push(self.log_std.clone());
        let (actor, log_std, actor_opt) = (&self.actor, &self.log_std, &mut self.actor_opt);
        let (critic_target, critic, tau) = (&mut self.critic_target, &self.critic, c.tau);
        let ((), actor_loss) = dev.join(
            || critic_target.polyak_from(critic, tau),
            || {
                let mean = actor.forward(b.obs.clone()).tanh();
                let log_std = log_std.clone().clamp(LOG_STD_MIN, LOG_STD_MAX);
                let logp = gaussian_log_prob(mean, log_std, b.actions.clone());
                let actor_loss = (weight.clone() * logp.neg()).mean();
                actor_opt.minimise_on(dev, &mut params, &actor_loss);
                actor_loss
            },
        );
        if let Some(log_std) = params.pop() {
            self.log_std = log_std;
        }
        self.actor.params = params;

        let mut metrics = read_metrics(vec![
            ("value_loss", value_loss.inner()),
            ("critic_loss", critic_loss.inner()),
            ("actor_loss", actor_loss.inner()),
            ("q_mean", q.inner().mean()),
            ("advantage_mean", adv.inner().mean()),
            ("weight_mean", weight.inner().mean()),
        ]);
        metrics.extend([
            ("lr_actor", self.actor_opt.current_lr() as f32),
            ("lr_critic", self.critic_opt.current_lr() as f32),
            ("lr_value", self.value_opt.current_lr() as f32),
        ]);
        Ok(metrics)
    }
}
