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

use super::agent::{Agent, TrainState};
use super::device::Device;
use super::losses::{tanh_gaussian_log_prob, twin_mse};
use super::nets::{DeviceBatch, read_metrics, tensor3};
use super::parts::{self, agent_basics, agent_constructors, declare_parts};
use super::ranges::Ranges;
use super::sac::{Sac, SacRates};
use crate::data::Batch;
use crate::error::Result;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// Former paths of the log-sum-exp and the tanh-Gaussian (now in [`super::losses`]).
#[doc(hidden)]
pub use super::losses::{logsumexp, tanh_gaussian};

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

impl CqlConfig {
    /// Check every setting against its allowed range (done by `new`; call
    /// it to check a config before building): an error names the setting,
    /// its value and the range.
    pub fn validate(&self) -> Result<()> {
        let r = Ranges::new(ALGO, "CqlConfig");
        r.batch("batch_size", self.batch_size)?;
        r.widths("hidden", &self.hidden)?;
        r.positive("actor_lr", self.actor_lr)?;
        r.positive("critic_lr", self.critic_lr)?;
        r.positive("alpha_lr", self.alpha_lr)?;
        r.rate("discount", self.discount)?;
        r.rate("tau", self.tau)?;
        r.non_negative("cql_alpha", self.cql_alpha)?;
        r.count("n_actions", self.n_actions as u64, 1, 1024)?;
        r.positive("temperature", self.temperature)?;
        r.finite("target_action_gap", self.target_action_gap)
    }
}

pub const ALGO: &str = "cql";

/// A CQL agent.
#[derive(Debug)]
pub struct Cql {
    pub config: CqlConfig,
    device: Device,
    state: TrainState,
    /// Actor, twin critics and `[log α, log α']`.
    sac: Sac,
}

declare_parts!(Cql { sac: Nested });

impl Cql {
    agent_constructors!(CqlConfig);

    /// SAC with the configured hidden layers, α = 1 and α' = `cql_alpha`.
    fn build(mut state: TrainState, config: CqlConfig, device: &Device) -> Self {
        let rates = SacRates {
            actor: config.actor_lr,
            critic: config.critic_lr,
            alpha: config.alpha_lr,
        };
        let log_alpha = [0.0, (config.cql_alpha as f32).ln()];
        Cql {
            sac: Sac::new(&mut state, &config.hidden, &log_alpha, rates, device),
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

impl Agent for Cql {
    agent_basics!(sac.actor);

    fn update(&mut self, batch: &Batch) -> Result<Vec<(&'static str, f32)>> {
        let c = &self.config;
        let (n, ad, k) = (batch.len, batch.act_dim, c.n_actions.max(1));
        let (sac, rng, dev) = (&mut self.sac, &mut self.state.rng, &self.device);
        let b = DeviceBatch::upload(batch, dev.autodiff());

        // Actor and entropy temperature (SAC); the actor clones the dataset's
        // actions (maximum likelihood) for the first `bc_steps`.
        let pi = sac.sample(b.obs.clone(), rng, dev);
        let (alpha, alpha_loss) = sac.temperature(&pi.logp, -(ad as f64));
        let actor_loss = if self.state.step < c.bc_steps {
            let lp = tanh_gaussian_log_prob(pi.out.clone(), b.actions.clone());
            (alpha.clone() * pi.logp.clone() - lp).mean()
        } else {
            sac.actor_loss(b.obs.clone(), &pi, alpha.clone())
        };

        // Critics: TD error on the deterministic backup.
        let y = sac.backup(&b, c.discount, rng, dev);
        let q = sac
            .critic
            .forward(Tensor::cat(vec![b.obs.clone(), b.actions.clone()], 2));
        let td_loss = twin_mse(q.clone(), y);

        // Conservative term: the gap between the log-sum-exp of Q over
        // sampled actions and Q on the dataset's actions.
        let lse = sac.soft_max_q(&b, k, c.temperature, rng, dev); // [2, 1, n]
        let gap = (lse - q.clone().reshape([2, 1, n])).mean_dim(2); // [2, 1, 1]
        let (cql_loss, alpha_prime_loss, alpha_prime) = if c.lagrange {
            let ap = Tensor::from_inner(sac.log_alpha[1].clone().inner().exp().clamp(0.0, 1e6));
            let term = (gap.clone() - c.target_action_gap) * ap.clone();
            // Dual ascent on α': maximise α'·(gap − target) with the gap held fixed.
            let ap_var = sac.log_alpha[1].clone().exp().clamp(0.0, 1e6);
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
                tensor3(vec![c.cql_alpha as f32], [1, 1, 1], dev.base()).mean(),
            )
        };
        let critic_loss = td_loss.clone() + cql_loss.clone();

        let dual_loss = match &alpha_prime_loss {
            Some(d) => alpha_loss + d.clone(),
            None => alpha_loss,
        };
        sac.step(&dual_loss, &actor_loss, &critic_loss, c.tau);

        Ok(read_metrics(vec![
            ("td_loss", td_loss.inner()),
            ("cql_loss", cql_loss.inner()),
            ("actor_loss", actor_loss.inner()),
            ("q_mean", q.inner().mean()),
            ("cql_gap", gap.inner().mean()),
            ("alpha", alpha.inner().mean()),
            ("alpha_prime", alpha_prime),
            ("entropy", pi.logp.inner().mean().neg()),
        ]))
    }
}
