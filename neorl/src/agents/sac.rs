//! Soft actor-critic (Haarnoja et al. 2018, with automatic entropy tuning)
//! as CQL and COMBO build on it: a tanh-Gaussian actor, twin critics with a
//! Polyak-averaged target, the entropy temperature, and the log-sum-exp of
//! Q over sampled actions that their conservative terms push down
//! (Kumar et al. 2020, CQL(H), eq. 4 and appendix F).

use super::agent::TrainState;
use super::device::{B, Device};
use super::losses::{logsumexp, tanh_gaussian, td_target};
use super::nets::{Adam, DeviceBatch, LayerInit, Mlp, T3, gaussian, layer_sizes, tensor3};
use super::optim::OptimConfig;
use super::parts::declare_parts;
use burn::tensor::Tensor;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// SAC's networks, temperatures and optimisers.
#[derive(Debug)]
pub struct Sac {
    /// Outputs `[mean, log_std]` per action dimension.
    pub actor: Mlp,
    /// Twin critics, one member each.
    pub critic: Mlp,
    pub critic_target: Mlp,
    /// `[log α, …]`, each `[1, 1, 1]`: the entropy temperature first, then
    /// any the algorithm adds (CQL's log α').
    pub log_alpha: Vec<T3>,
    pub actor_opt: Adam,
    pub critic_opt: Adam,
    /// Over every temperature in `log_alpha`.
    pub alpha_opt: Adam,
}

declare_parts!(Sac {
    actor: Net,
    critic: Net,
    critic_target: Target,
    log_alpha: Tensors,
    actor_opt: Adam,
    critic_opt: Adam,
    alpha_opt: Adam,
});

/// Learning rates of SAC's three optimisers.
#[derive(Debug, Clone, Copy)]
pub struct SacRates {
    pub actor: f64,
    pub critic: f64,
    pub alpha: f64,
}

/// The optimiser recipes of SAC's three optimisers and their planned
/// number of steps (each steps once per update).
#[derive(Debug, Clone, Copy)]
pub struct SacRecipes<'a> {
    pub actor: &'a OptimConfig,
    pub critic: &'a OptimConfig,
    pub alpha: &'a OptimConfig,
    pub planned_steps: Option<u64>,
}

/// How SAC's networks are initialised. `Default` is PyTorch's `nn.Linear`
/// default everywhere (what COMBO uses).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SacInit {
    /// The actor's last layer (biases 0, and `log_std_offset` on the
    /// log-std outputs); `None`: PyTorch's default.
    pub actor_last: Option<LayerInit>,
    /// Added to the bias of the actor's log-std outputs at initialisation.
    pub log_std_offset: f32,
    /// The critics' hidden layers (biases 0); `None`: PyTorch's default.
    pub critic_hidden: Option<LayerInit>,
    /// The critics' last layer (bias 0); `None`: PyTorch's default.
    pub critic_last: Option<LayerInit>,
}

/// A reparameterised sample of the policy at a batch of states.
#[derive(Debug, Clone)]
pub struct PolicySample {
    /// The actor's output `[1, n, 2·act]`.
    pub out: T3,
    /// Squashed actions `[1, n, act]`.
    pub action: T3,
    /// Their log-probabilities `[1, n, 1]`.
    pub logp: T3,
}

impl Sac {
    /// Actor and twin critics with `hidden` layers (drawn in that order from
    /// `state.rng`), temperatures starting at `log_alpha`, PyTorch's default
    /// initialisation.
    pub fn new(
        state: &mut TrainState,
        hidden: &[usize],
        log_alpha: &[f32],
        lr: SacRates,
        device: &Device,
    ) -> Self {
        Self::with_init(state, hidden, log_alpha, lr, SacInit::default(), device)
    }

    /// As [`Sac::new`], the layers that `init` names drawn again by it
    /// (after the default draws, in the order actor, critics).
    pub fn with_init(
        state: &mut TrainState,
        hidden: &[usize],
        log_alpha: &[f32],
        lr: SacRates,
        init: SacInit,
        device: &Device,
    ) -> Self {
        let (od, ad) = (state.obs_dim, state.act_dim);
        let dev = device.autodiff();
        let mut actor = Mlp::new(1, &layer_sizes(od, hidden, 2 * ad), &mut state.rng, dev);
        let mut critic = Mlp::new(2, &layer_sizes(od + ad, hidden, 1), &mut state.rng, dev);
        let last = hidden.len();
        if let Some(how) = init.actor_last {
            let mut bias = vec![0.0; 2 * ad];
            bias[ad..].fill(init.log_std_offset);
            actor.init_layer(last, how, &bias, &mut state.rng);
        }
        if let Some(how) = init.critic_hidden {
            for (l, &width) in hidden.iter().enumerate() {
                critic.init_layer(l, how, &vec![0.0; width], &mut state.rng);
            }
        }
        if let Some(how) = init.critic_last {
            critic.init_layer(last, how, &[0.0], &mut state.rng);
        }
        let (actor, critic) = (actor.require_grad(), critic.require_grad());
        let log_alpha: Vec<T3> = log_alpha
            .iter()
            .map(|&a| tensor3(vec![a], [1, 1, 1], dev).require_grad())
            .collect();
        Sac {
            actor_opt: Adam::new(lr.actor, &actor.params),
            critic_opt: Adam::new(lr.critic, &critic.params),
            alpha_opt: Adam::new(lr.alpha, &log_alpha),
            critic_target: critic.inner(),
            actor,
            critic,
            log_alpha,
        }
    }

    /// The same learner with the optimisers following `r`.
    pub fn with_recipes(mut self, r: SacRecipes) -> Self {
        let h = r.planned_steps;
        self.actor_opt = self.actor_opt.with_recipe(r.actor, h);
        self.critic_opt = self.critic_opt.with_recipe(r.critic, h);
        self.alpha_opt = self.alpha_opt.with_recipe(r.alpha, h);
        self
    }

    /// The learning rate of each optimiser's latest step, as metrics.
    pub fn lr_metrics(&self) -> [(&'static str, f32); 3] {
        [
            ("lr_actor", self.actor_opt.current_lr() as f32),
            ("lr_critic", self.critic_opt.current_lr() as f32),
            ("lr_alpha", self.alpha_opt.current_lr() as f32),
        ]
    }

    /// `a ~ π(·|s)` at the states `obs` (autodiff), with noise from `rng`.
    pub fn sample(&self, obs: T3, rng: &mut ChaCha8Rng, device: &Device) -> PolicySample {
        let [_, n, _] = obs.dims();
        let ad = self.act_dim();
        let eps = tensor3(gaussian(rng, n * ad), [1, n, ad], device.autodiff());
        let out = self.actor.forward(obs);
        let (action, logp) = tanh_gaussian(out.clone(), eps);
        PolicySample { out, action, logp }
    }

    /// Automatic entropy tuning: α (a constant for the other losses) and the
    /// temperature's loss `−log α · (log π + target_entropy)`.
    pub fn temperature(&self, logp: &T3, target_entropy: f64) -> (T3, Tensor<B, 1>) {
        let log_alpha = self.log_alpha[0].clone();
        let loss = (log_alpha.clone()
            * Tensor::from_inner((logp.clone().inner() + target_entropy).detach()))
        .neg()
        .mean();
        (Tensor::from_inner(log_alpha.inner().exp()), loss)
    }

    /// The policy's loss `E[α log π(a|s) − min_i Q_i(s, a)]` for `pi` sampled
    /// at `obs` (the critics held fixed).
    pub fn actor_loss(&self, obs: T3, pi: &PolicySample, alpha: T3) -> Tensor<B, 1> {
        let q_pi = self
            .critic
            .frozen()
            .forward(Tensor::cat(vec![obs, pi.action.clone()], 2))
            .min_dim(0);
        (alpha * pi.logp.clone() - q_pi).mean()
    }

    /// The critics' target `r + γ (1 − d) min_i Q'_i(s', a')`, `a' ~ π(·|s')`:
    /// the deterministic backup (no entropy bonus) of CQL's and COMBO's
    /// MuJoCo settings.
    pub fn backup(
        &self,
        b: &DeviceBatch,
        discount: f64,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> T3 {
        let next_obs = b.next_obs.clone().inner();
        let pi = self.sample_no_grad(next_obs.clone(), rng, device);
        let q_next = self
            .critic_target
            .forward(Tensor::cat(vec![next_obs, pi.action], 2))
            .min_dim(0);
        td_target(b, q_next, discount)
    }

    /// `T · log Σ_a exp(Q_i(s, a) / T)` per critic and state of `b`
    /// (`[2, 1, n]`, differentiable in the critics), over `k` actions per
    /// state from each of: uniform on [-1, 1]^act, π(·|s) and π(·|s'), each
    /// importance-weighted by its density.
    pub fn soft_max_q(
        &self,
        b: &DeviceBatch,
        k: usize,
        temperature: f64,
        rng: &mut ChaCha8Rng,
        device: &Device,
    ) -> T3 {
        let [_, n, ad] = b.actions.dims();
        let obs_k = b.obs.clone().inner().repeat_dim(1, k); // [1, k·n, od], sample-major
        let next_k = b.next_obs.clone().inner().repeat_dim(1, k);
        let uniform: Vec<f32> = (0..k * n * ad)
            .map(|_| rng.random_range(-1.0f32..1.0))
            .collect();
        let a_rand = tensor3(uniform, [1, k * n, ad], device.base());
        let log_density_uniform = -(ad as f64) * 2f64.ln();
        let at_s = self.sample_no_grad(obs_k.clone(), rng, device);
        let at_next = self.sample_no_grad(next_k, rng, device);
        let obs_k = Tensor::from_inner(obs_k);
        let members = self.critic.members;
        let q_at = |a: T3| -> T3 {
            self.critic
                .forward(Tensor::cat(vec![obs_k.clone(), Tensor::from_inner(a)], 2))
                .reshape([members, k, n])
        };
        let as_k = |lp: T3| Tensor::from_inner(lp.reshape([1, k, n]));
        let weighted = Tensor::cat(
            vec![
                q_at(a_rand) - log_density_uniform,
                q_at(at_s.action) - as_k(at_s.logp),
                q_at(at_next.action) - as_k(at_next.logp),
            ],
            1,
        ); // [2, 3k, n]
        logsumexp(weighted, 1, temperature)
    }

    /// Action dimensions (the actor outputs a mean and a log-std for each).
    fn act_dim(&self) -> usize {
        self.actor.sizes.last().copied().unwrap_or(0) / 2
    }

    /// One step of each optimiser, in this order: temperatures, actor,
    /// critics; then the target critics move towards the critics by `tau`.
    /// The temperatures' and the actor's Adam steps (plain tensors) run
    /// beside the critics' backward pass ([`Device::join`]).
    pub fn step(
        &mut self,
        temperature_loss: &Tensor<B, 1>,
        actor_loss: &Tensor<B, 1>,
        critic_loss: &Tensor<B, 1>,
        tau: f64,
        device: &Device,
    ) {
        let alpha_grads = temperature_loss.backward();
        let actor_grads = actor_loss.backward();
        let (alpha_opt, log_alpha) = (&mut self.alpha_opt, &self.log_alpha);
        let (actor_opt, actor) = (&mut self.actor_opt, &self.actor);
        let ((alpha_step, actor_step), critic_grads) = device.join(
            move || {
                (
                    alpha_opt.compute(log_alpha, &alpha_grads),
                    actor_opt.compute(&actor.params, &actor_grads),
                )
            },
            || critic_loss.backward(),
        );
        alpha_step.install(&mut self.log_alpha);
        actor_step.install(&mut self.actor.params);
        self.critic_opt
            .step_on(device, &mut self.critic.params, &critic_grads);
        self.critic_target.polyak_from(&self.critic, tau);
    }

    /// As [`Sac::sample`] without autodiff (for targets and roll-outs).
    pub fn sample_no_grad(&self, obs: T3, rng: &mut ChaCha8Rng, device: &Device) -> PolicySample {
        let [_, n, _] = obs.dims();
        let ad = self.act_dim();
        let eps = tensor3(gaussian(rng, n * ad), [1, n, ad], device.base());
        let out = self.actor.inner().forward(obs);
        let (action, logp) = tanh_gaussian(out.clone(), eps);
        PolicySample { out, action, logp }
    }
}
