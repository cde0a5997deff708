//! Behaviour cloning: regress the dataset's actions on its states,
//! `min E[(π(s) − a)²]` with a tanh-squashed deterministic actor. The
//! baseline every offline RL paper reports (e.g. Fujimoto & Gu 2021, §5;
//! CORL's `any_percent_bc.py`, whose defaults these are).

use super::agent::{Agent, AgentPolicy, TrainState};
use super::checkpoint::Checkpoint;
use super::device::Device;
use super::nets::{Adam, DeviceBatch, Mlp, read_scalars};
use super::td3bc::identity_norm;
use crate::data::Batch;
use crate::env::EnvSpec;
use crate::error::Result;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// BC hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BcConfig {
    pub seed: u64,
    pub batch_size: usize,
    pub hidden: Vec<usize>,
    pub lr: f64,
}

impl Default for BcConfig {
    fn default() -> Self {
        BcConfig {
            seed: 0,
            batch_size: 256,
            hidden: vec![256, 256],
            lr: 3e-4,
        }
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
    opt: Adam,
}

impl Bc {
    pub fn new(spec: &EnvSpec, config: BcConfig, device: &Device) -> Result<Self> {
        let state = TrainState::new(spec, config.batch_size, config.seed, false);
        Ok(Self::build(state, config, device))
    }

    fn build(mut state: TrainState, config: BcConfig, device: &Device) -> Self {
        let mut sizes = vec![state.obs_dim];
        sizes.extend(&config.hidden);
        sizes.push(state.act_dim);
        let actor = Mlp::new(1, &sizes, &mut state.rng, device.autodiff()).require_grad();
        Bc {
            opt: Adam::new(config.lr, &actor.params),
            actor,
            config,
            device: device.clone(),
            state,
        }
    }

    pub fn load(dir: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let ck = Checkpoint::read(dir.as_ref())?;
        let config: BcConfig = ck.config(ALGO)?;
        let state = ck.train_state()?;
        let mut a = Self::build(state.clone(), config, device);
        a.state = state;
        ck.load_mlp("actor", &mut a.actor, device, true)?;
        ck.load_adam("actor_opt", &mut a.opt, device)?;
        Ok(a)
    }

    pub fn parameters(&self) -> Vec<Vec<f32>> {
        self.actor.params.iter().map(super::nets::to_vec).collect()
    }
}

impl Agent for Bc {
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
        let b = DeviceBatch::upload(batch, self.device.autodiff());
        let d = self.actor.forward(b.obs).tanh() - b.actions;
        let loss = (d.clone() * d).mean();
        let grads = loss.backward();
        self.opt.step(&mut self.actor.params, &grads);
        let v = read_scalars(vec![loss.inner()]);
        Ok(vec![("bc_mse", v[0])])
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
        ck.put_adam("actor_opt", &self.opt);
        ck.write(dir)?;
        Ok(())
    }
}
