//! Offline RL agents on burn: BC, TD3+BC, IQL, CQL, COMBO — one file each, with the
//! papers' default hyper-parameters — plus the shared pieces: device
//! selection, networks and Adam, the [`Agent`] trait and training loop,
//! checkpoints and the deployable [`AgentPolicy`].
//!
//! ```no_run
//! use neorl::agents::*;
//! let data = Buffer::from_recipe("PowerGrid-v0:medium:20000", 0)?;
//! let spec = neorl::make("PowerGrid-v0")?.spec().clone();
//! let mut agent = Td3Bc::new(&spec, Td3BcConfig::default(), &Device::default())?;
//! agent.train(&data, 1_000)?;           // call again to continue
//! agent.save("runs/td3bc".as_ref())?;
//! # Ok::<(), neorl::Error>(())
//! ```

pub mod agent;
pub mod bc;
pub mod buffer;
pub mod checkpoint;
pub mod combo;
pub mod cql;
pub mod device;
pub mod iql;
pub mod nets;
pub mod td3bc;

#[cfg(test)]
mod tests;

pub use agent::{
    Agent, AgentPolicy, History, Normalizer, TrainState, TrainSummary, train_loop,
    train_loop_observed,
};
pub use bc::{Bc, BcConfig};
pub use buffer::{BatchSource, Buffer, TransitionBatch};
pub use checkpoint::Checkpoint;
pub use combo::{Combo, ComboConfig};
pub use cql::{Cql, CqlConfig};
pub use device::Device;
pub use iql::{Iql, IqlConfig};
pub use td3bc::{Td3Bc, Td3BcConfig};

use crate::env::EnvSpec;
use crate::error::{Error, Result};
use std::path::Path;

/// Names accepted by [`build`] and `neorl train --algo`.
pub const ALGOS: &[&str] = &["bc", "td3bc", "iql", "cql", "combo"];

/// A fresh agent of algorithm `algo` with its default config and `seed`.
pub fn build(algo: &str, spec: &EnvSpec, seed: u64, device: &Device) -> Result<Box<dyn Agent>> {
    build_with(algo, spec, seed, None, device)
}

/// As [`build`], with other hidden-layer widths than the paper's.
pub fn build_with(
    algo: &str,
    spec: &EnvSpec,
    seed: u64,
    hidden: Option<Vec<usize>>,
    device: &Device,
) -> Result<Box<dyn Agent>> {
    macro_rules! cfg {
        ($t:ty) => {{
            let mut c = <$t>::default();
            c.seed = seed;
            if let Some(h) = &hidden {
                c.hidden = h.clone();
            }
            c
        }};
    }
    Ok(match algo.to_ascii_lowercase().as_str() {
        "bc" => Box::new(Bc::new(spec, cfg!(BcConfig), device)?),
        "td3bc" | "td3+bc" => Box::new(Td3Bc::new(spec, cfg!(Td3BcConfig), device)?),
        "iql" => Box::new(Iql::new(spec, cfg!(IqlConfig), device)?),
        "cql" => Box::new(Cql::new(spec, cfg!(CqlConfig), device)?),
        "combo" => Box::new(Combo::new(spec, cfg!(ComboConfig), device)?),
        _ => return Err(unknown_algo(algo)),
    })
}

/// Load any agent from a checkpoint folder.
pub fn load(dir: impl AsRef<Path>, device: &Device) -> Result<Box<dyn Agent>> {
    let dir = dir.as_ref();
    let ck = Checkpoint::read(dir)?;
    Ok(match ck.algo() {
        bc::ALGO => Box::new(Bc::load(dir, device)?),
        td3bc::ALGO => Box::new(Td3Bc::load(dir, device)?),
        iql::ALGO => Box::new(Iql::load(dir, device)?),
        cql::ALGO => Box::new(Cql::load(dir, device)?),
        combo::ALGO => Box::new(Combo::load(dir, device)?),
        other => return Err(unknown_algo(other)),
    })
}

fn unknown_algo(algo: &str) -> Error {
    Error::InvalidArgument(format!(
        "unknown algorithm '{algo}'; choose one of: {}",
        ALGOS.join(", ")
    ))
}
