//! Behaviour cloning: regress the dataset's actions on its states,
//! `min E[(π(s) − a)²]` with a tanh-squashed deterministic actor. The
//! baseline every offline RL paper reports (e.g. Fujimoto & Gu 2021, §5;
//! CORL's `any_percent_bc.py`, whose defaults these are).

use super::agent::{Agent, TrainState};
use super::device::Device;
use super::nets::{Adam, DeviceBatch, Mlp, layer_sizes, read_metrics};
use super::optim::{OptimConfig, check_planned};
use super::parts::{self, agent_basics, agent_constructors, declare_parts};
use super::ranges::Ranges;
use crate::data::Batch;
use crate::error::Result;
use serde::{Deserialize, Serialize};

/// BC hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BcConfig {
    pub seed: u64,
    pub batch_size: usize,
    pub hidden: Vec<usize>,
    pub lr: f64,
    /// The actor's optimiser recipe (CORL's BC: plain Adam).
    pub optim: OptimConfig,
    /// Updates training is planned to take: where a schedule ends.
    pub planned_steps: Option<u64>,
}

impl Default for BcConfig {
    fn default() -> Self {
        BcConfig {
            seed: 0,
            batch_size: 256,
            hidden: vec![256, 256],
            lr: 3e-4,
            optim: OptimConfig::default(),
            planned_steps: None,
        }
    }
}

impl BcConfig {
    /// Check every setting against its allowed range (done by `new`; call
    /// it to check a config before building): an error names the setting,
    /// its value and the range.
    pub fn validate(&self) -> Result<()> {
        let r = Ranges::new(ALGO, "BcConfig");
        r.batch("batch_size", self.batch_size)?;
        r.widths("hidden", &self.hidden)?;
        r.positive("lr", self.lr)?;
        check_planned(&r, self.planned_steps)?;
        self.optim.validate(&r, "optim", self.planned_steps)
    }
}

pub const ALGO: &str = "bc";

/// A behaviour-cloning agent.
#[derive(Debug)]
pub struct Bc {
    pub config: BcConfig,
    device: Device,
    state: TrainState,
    actor: Mlp,
    actor_opt: Adam,
}

declare_parts!(Bc {
    actor: Net,
    actor_opt: Adam,
});

impl Bc {
    agent_constructors!(BcConfig);

    fn build(mut state: TrainState, config: BcConfig, device: &Device) -> Self {
        let sizes = layer_sizes(state.obs_dim, &config.hidden, state.act_dim);
        let actor = Mlp::new(1, &sizes, &mut state.rng, device.autodiff()).require_grad();
        Bc {
            actor_opt: Adam::new(config.lr, &actor.params)
                .with_recipe(&config.optim, config.planned_steps),
            actor,
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

impl Agent for Bc {
    agent_basics!(actor);

    fn update(&mut self, batch: &Batch) -> Result<Vec<(&'static str, f32)>> {
        let b = DeviceBatch::upload(batch, self.device.autodiff());
        let d = self.actor.forward(b.obs).tanh() - b.actions;
        let loss = (d.clone() * d).mean();
        self.actor_opt
            .minimise_on(&self.device, &mut self.actor.params, &loss);
        let mut metrics = read_metrics(vec![("bc_mse", loss.inner())]);
        metrics.push(("lr_actor", self.actor_opt.current_lr() as f32));
        Ok(metrics)
    }
}
