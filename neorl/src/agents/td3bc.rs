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

use super::agent::{Agent, TrainState};
use super::device::{B, Device};
use super::losses::{regress_members, td_backup};
use super::nets::{Adam, DeviceBatch, Mlp, T3, gaussian, layer_sizes, read_metrics, tensor3};
use super::optim::{OptimConfig, check_planned};
use super::parts::{self, agent_basics, agent_constructors, declare_parts};
use super::ranges::Ranges;
use crate::data::Batch;
use crate::error::Result;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// Former path of the twin critics' loss (now in [`super::losses`]).
#[doc(hidden)]
pub use super::losses::twin_mse;

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
    /// Optimiser recipes (the paper's: plain Adam). The actor's plan is
    /// `planned_steps / policy_freq` of its own (delayed) steps.
    pub actor_optim: OptimConfig,
    pub critic_optim: OptimConfig,
    /// Updates training is planned to take: where schedules end.
    pub planned_steps: Option<u64>,
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
            actor_optim: OptimConfig::default(),
            critic_optim: OptimConfig::default(),
            planned_steps: None,
        }
    }
}

impl Td3BcConfig {
    /// Check every setting against its allowed range (done by `new`; call
    /// it to check a config before building): an error names the setting,
    /// its value and the range.
    pub fn validate(&self) -> Result<()> {
        let r = Ranges::new(ALGO, "Td3BcConfig");
        r.batch("batch_size", self.batch_size)?;
        r.widths("hidden", &self.hidden)?;
        r.positive("actor_lr", self.actor_lr)?;
        r.positive("critic_lr", self.critic_lr)?;
        r.rate("discount", self.discount)?;
        r.rate("tau", self.tau)?;
        r.non_negative("policy_noise", self.policy_noise)?;
        r.non_negative("noise_clip", self.noise_clip)?;
        r.count("policy_freq", self.policy_freq, 1, u64::MAX)?;
        r.non_negative("alpha", self.alpha)?;
        check_planned(&r, self.planned_steps)?;
        let (h, freq) = (self.planned_steps, self.policy_freq.max(1));
        self.actor_optim
            .validate(&r, "actor_optim", h.map(|h| h / freq))?;
        self.critic_optim.validate(&r, "critic_optim", h)
    }
}

pub const ALGO: &str = "td3bc";

/// A TD3+BC agent.
#[derive(Debug)]
pub struct Td3Bc {
    pub config: Td3BcConfig,
    device: Device,
    state: TrainState,
    actor: Mlp,
    actor_target: Mlp,
    /// Twin critics, one member each.
    critic: Mlp,
    critic_target: Mlp,
    actor_opt: Adam,
    critic_opt: Adam,
}

declare_parts!(Td3Bc {
    actor: Net,
    critic: Net,
    actor_target: Target,
    critic_target: Target,
    actor_opt: Adam,
    critic_opt: Adam,
});

impl Td3Bc {
    agent_constructors!(Td3BcConfig);

    /// A deterministic actor and twin critics, both with the configured
    /// hidden layers, and their targets.
    fn build(mut state: TrainState, config: Td3BcConfig, device: &Device) -> Self {
        let (od, ad) = (state.obs_dim, state.act_dim);
        let dev = device.autodiff();
        let h = &config.hidden;
        let actor = Mlp::new(1, &layer_sizes(od, h, ad), &mut state.rng, dev).require_grad();
        let critic = Mlp::new(2, &layer_sizes(od + ad, h, 1), &mut state.rng, dev).require_grad();
        Td3Bc {
            actor_target: actor.inner(),
            critic_target: critic.inner(),
            actor_opt: Adam::new(config.actor_lr, &actor.params).with_recipe(
                &config.actor_optim,
                config.planned_steps.map(|h| h / config.policy_freq.max(1)),
            ),
            critic_opt: Adam::new(config.critic_lr, &critic.params)
                .with_recipe(&config.critic_optim, config.planned_steps),
            actor,
            critic,
            config,
            device: device.clone(),
            state,
        }
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Every parameter, in a fixed order: actor, critics, their targets
    /// (for tests and inspection).
    pub fn parameters(&self) -> Vec<Vec<f32>> {
        parts::parameters(self)
    }
}

impl Agent for Td3Bc {
    agent_basics!(actor);

    fn update(&mut self, batch: &Batch) -> Result<Vec<(&'static str, f32)>> {
        let c = &self.config;
        let (n, ad) = (batch.len, batch.act_dim);
        let dev = &self.device;
        let b = DeviceBatch::upload(batch, dev.autodiff());

        // Critic target: r + γ (1 − d) min_i Q'_i(s', clip(π'(s') + clip(ε))),
        // on plain tensors.
        let noise: Vec<f32> = gaussian(&mut self.state.rng, n * ad)
            .into_iter()
            .map(|e| (e * c.policy_noise as f32).clamp(-c.noise_clip as f32, c.noise_clip as f32))
            .collect();
        let noise = tensor3(noise, [1, n, ad], self.device.base());
        let next_obs = b.next_obs.clone().inner();
        let next_a = (self.actor_target.forward(next_obs.clone()).tanh() + noise).clamp(-1.0, 1.0);
        let next_sa = Tensor::cat(vec![next_obs, next_a], 2);
        let sa = Tensor::cat(vec![b.obs.clone(), b.actions.clone()], 2);

        let (target, next_sa) = (&self.critic_target, &next_sa);
        let (q_next0, q_next1) = dev.join(
            || target.member(0).forward(next_sa.clone()),
            || target.member(1).forward(next_sa.clone()),
        );
        let y = Tensor::from_inner(td_backup(&b, q_next0.min_pair(q_next1), c.discount));

        // Critic: both heads regress on y (sum of the two MSEs), each on a
        // thread of its own.
        let (critic_loss, q, critic_grads) = regress_members(dev, &self.critic, sa, y, 1.0);
        // Delayed actor and target updates (below): the critics' Adam step
        // (plain tensors) runs beside the actor's forward pass.
        let actor_step = (self.state.step + 1).is_multiple_of(c.policy_freq.max(1));
        let (critic_opt, critic_params, actor) =
            (&mut self.critic_opt, &self.critic.params, &self.actor);
        let (stepped, pi) = dev.join(
            move || critic_opt.compute_with(Some(dev), critic_params, critic_grads),
            || actor_step.then(|| actor.forward(b.obs.clone()).tanh()),
        );
        stepped.install(&mut self.critic.params);
        let mut metrics = vec![
            ("critic_loss", critic_loss.inner()),
            ("q_mean", q.inner().mean()),
        ];

        // λ·Q₁(s, π(s)) with behaviour cloning, on the updated critics.
        if let Some(pi) = pi {
            // The target critics move (plain tensors) beside the actor's step.
            let (actor, actor_opt, critic) = (&mut self.actor, &mut self.actor_opt, &self.critic);
            let (critic_target, tau) = (&mut self.critic_target, c.tau);
            let ((), (actor_loss, bc, lambda)) = dev.join(
                || critic_target.polyak_from(critic, tau),
                || {
                    let q1 = critic
                        .frozen()
                        .member(0)
                        .forward(Tensor::cat(vec![b.obs.clone(), pi.clone()], 2));
                    let (loss, bc, lambda) = actor_objective(q1, pi, b.actions.clone(), c.alpha);
                    actor_opt.minimise_on(dev, &mut actor.params, &loss);
                    (loss, bc, lambda)
                },
            );
            self.actor_target.polyak_from(&self.actor, c.tau);
            // Actor metrics exist on actor steps only (NaN gaps in the history).
            metrics.extend([
                ("actor_loss", actor_loss.inner()),
                ("bc_mse", bc.inner()),
                ("lambda", lambda.inner()),
            ]);
        }
        let mut metrics = read_metrics(metrics);
        metrics.extend([
            ("lr_actor", self.actor_opt.current_lr() as f32),
            ("lr_critic", self.critic_opt.current_lr() as f32),
        ]);
        Ok(metrics)
    }
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
