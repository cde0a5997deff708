//! Offline RL agents on burn: BC, TD3+BC, IQL, CQL, COMBO — one file each, with the
//! papers' default hyper-parameters — plus the shared pieces: device
//! selection, networks and Adam ([`nets`]), the losses several algorithms
//! share ([`losses`]), the SAC learner under CQL and COMBO ([`sac`]), the
//! [`Agent`] trait and training loop, each agent's list of parts that
//! checkpoints walk ([`parts`]), checkpoints, the memory check of a
//! config's sizes ([`memory`]) and the deployable [`AgentPolicy`].
//!
//! The modules import each other in one direction only, without a cycle:
//! `device` ← `nets` ← `agent` ← `checkpoint` ← `parts` ← `sac` ← the
//! algorithms, with `losses` on `nets` and `device` only and `memory` (the
//! check that a config's sizes fit, before anything is built) on `agent`;
//! [`ranges`] (the allowed value of every hyper-parameter, which each
//! `…Config::validate` checks) and [`divergence`] (what training says when
//! a loss stops being finite) depend on nothing else in `agents`;
//! the transition types come from [`crate::data`].
//!
//! ```no_run
//! use neorl::agents::*;
//! let data = neorl::datasets::load_sized("PowerGrid-medium-v0", 20_000)?;
//! let spec = neorl::make("PowerGrid-v0")?.spec().clone();
//! let mut agent = Td3Bc::new(&spec, Td3BcConfig::default(), &Device::default())?;
//! agent.train(&data, 1_000)?;           // call again to continue
//! agent.save("runs/td3bc")?;            // any path: &str, PathBuf, &Path
//! # Ok::<(), neorl::Error>(())
//! ```

pub mod agent;
pub mod bc;
#[doc(hidden)]
pub mod buffer;
pub mod checkpoint;
pub mod combo;
pub mod cql;
pub mod device;
pub mod divergence;
pub mod iql;
pub mod losses;
pub mod manager;
pub mod memory;
pub mod nets;
pub mod parts;
pub mod ranges;
mod resume;
pub mod sac;
pub mod td3bc;

#[cfg(test)]
mod tests;

/// The transition contract lives in [`crate::data`]; these are its names
/// here (`Buffer` is [`crate::data::Dataset`], `TransitionBatch` is
/// [`crate::data::Batch`]).
pub use crate::data::{Batch as TransitionBatch, BatchSource, DataSource, Dataset as Buffer};
pub use agent::{
    Agent, AgentPolicy, History, Normalizer, StepObserver, TrainState, TrainSummary, on_device,
    train_loop, train_loop_observed, train_loop_with,
};
pub use bc::{Bc, BcConfig};
pub use checkpoint::Checkpoint;
pub use combo::{Combo, ComboConfig};
pub use cql::{Cql, CqlConfig};
pub use device::{Device, Threads};
pub use iql::{Iql, IqlConfig};
pub use manager::{CheckpointManager, CheckpointPlan, Metric, load_latest};
pub use parts::{Part, PartMut, Parts};
pub use resume::{NewAgent, Resumed, resume_or_build};
pub use td3bc::{Td3Bc, Td3BcConfig};

use crate::env::EnvSpec;
use crate::error::{Error, Result};
use std::path::Path;

/// Names accepted by [`build`] and `neorl train --algo`.
pub const ALGOS: &[&str] = &["bc", "td3bc", "iql", "cql", "combo"];

/// The canonical name of algorithm `algo` (`"TD3+BC"` → `"td3bc"`), or a
/// clear error listing the known ones.
pub fn algo_name(algo: &str) -> Result<String> {
    let a = algo.to_ascii_lowercase().replace('+', "");
    if ALGOS.contains(&a.as_str()) {
        Ok(a)
    } else {
        Err(unknown_algo(algo))
    }
}

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
    build_configured(algo, spec, seed, hidden, &Settings::new(), device)
}

/// Hyper-parameter settings by name, applied over an algorithm's defaults:
/// `"model_steps"` for the algorithm being built, `"combo.model_steps"` for
/// COMBO only (entries for other algorithms are skipped). Values are JSON
/// (`1000`, `[64, 64]`, `true`).
pub type Settings = std::collections::BTreeMap<String, serde_json::Value>;

/// As [`build_with`], with `settings` over the defaults. A setting the
/// algorithm's config does not have, or a value of the wrong type, is an
/// error that lists its settings.
pub fn build_configured(
    algo: &str,
    spec: &EnvSpec,
    seed: u64,
    hidden: Option<Vec<usize>>,
    settings: &Settings,
    device: &Device,
) -> Result<Box<dyn Agent>> {
    let name = algo_name(algo)?;
    macro_rules! cfg {
        ($t:ty) => {{
            let mut c = <$t>::default();
            c.seed = seed;
            if let Some(h) = &hidden {
                c.hidden = h.clone();
            }
            configure(&name, c, settings)?
        }};
    }
    Ok(match name.as_str() {
        "bc" => Box::new(Bc::new(spec, cfg!(BcConfig), device)?),
        "td3bc" => Box::new(Td3Bc::new(spec, cfg!(Td3BcConfig), device)?),
        "iql" => Box::new(Iql::new(spec, cfg!(IqlConfig), device)?),
        "cql" => Box::new(Cql::new(spec, cfg!(CqlConfig), device)?),
        "combo" => Box::new(Combo::new(spec, cfg!(ComboConfig), device)?),
        _ => return Err(unknown_algo(algo)),
    })
}

/// Apply the `settings` addressed to `algo` to its config `c`.
fn configure<C: serde::Serialize + serde::de::DeserializeOwned>(
    algo: &str,
    c: C,
    settings: &Settings,
) -> Result<C> {
    if settings.is_empty() {
        return Ok(c);
    }
    let bad = |m: String| Error::InvalidArgument(m);
    let mut v = serde_json::to_value(&c).map_err(|e| bad(format!("{algo} config: {e}")))?;
    let fields = v
        .as_object_mut()
        .ok_or_else(|| bad(format!("{algo} config is not a JSON object")))?;
    for (key, value) in settings {
        let field = match key.split_once('.') {
            Some((a, f)) if algo_name(a)? == algo => f,
            Some(_) => continue,
            None => key.as_str(),
        };
        if !fields.contains_key(field) {
            let known: Vec<&str> = fields.keys().map(|k| k.as_str()).collect();
            return Err(bad(format!(
                "{algo} has no setting '{field}'; its settings: {}",
                known.join(", ")
            )));
        }
        fields.insert(field.to_string(), value.clone());
    }
    serde_json::from_value(v).map_err(|e| bad(format!("{algo} settings {settings:?}: {e}")))
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
