//! Offline RL agents on burn: BC, TD3+BC, IQL, CQL, COMBO — one file each, with the
//! papers' default hyper-parameters — plus the shared pieces: device
//! selection, networks and Adam ([`nets`]) with each network's optimiser
//! recipe ([`optim`]: learning-rate schedule, gradient clipping, weight
//! decay), the losses several algorithms
//! share ([`losses`]), the SAC learner under CQL and COMBO ([`sac`]), the
//! [`Agent`] trait and training loop, each agent's list of parts that
//! checkpoints walk ([`parts`]), checkpoints, the memory check of a
//! config's sizes ([`memory`]) and the deployable [`AgentPolicy`].
//!
//! The modules import each other in one direction only, without a cycle:
//! `device` ← `optim` ← `nets` ← `agent` ← `checkpoint` ← `parts` ← `sac` ← the
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
pub mod optim;
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
    Agent, AgentPolicy, History, Normalizer, NormalizerFit, StepObserver, TrainState, TrainSummary,
    on_device, train_loop, train_loop_observed, train_loop_with,
};
pub use bc::{Bc, BcConfig};
pub use checkpoint::Checkpoint;
pub use combo::{Combo, ComboConfig};
pub use cql::{Cql, CqlConfig};
pub use device::{Device, Threads};
pub use iql::{Iql, IqlConfig};
pub use manager::{CheckpointManager, CheckpointPlan, Metric, load_latest};
pub use optim::{OptimConfig, Schedule};
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
/// COMBO only (entries for other algorithms are skipped; they win over the
/// same setting without the prefix). A dotted path reaches into a nested
/// setting: `"actor_optim.schedule"` (or `"iql.actor_optim.schedule"`).
/// Values are JSON (`1000`, `[64, 64]`, `true`, `"cosine"`); an object
/// value merges into a nested setting (`{"clip_norm": 1.0}` keeps the
/// recipe's other fields).
pub type Settings = std::collections::BTreeMap<String, serde_json::Value>;

/// `settings` with `planned_steps` set to `steps` unless it names one
/// already (for any algorithm): what `neorl train --steps`, sweeps and
/// score tables do, so that learning-rate schedules end where training
/// ends (see [`optim`]).
pub fn with_planned_steps(settings: &Settings, steps: u64) -> Settings {
    let mut out = settings.clone();
    let named = settings
        .keys()
        .any(|k| k == "planned_steps" || k.ends_with(".planned_steps"));
    if !named {
        out.insert("planned_steps".into(), steps.into());
    }
    out
}

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

/// Apply the `settings` addressed to `algo` to its config `c`: first those
/// without an algorithm prefix, then those with `algo`'s.
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
    let mut general = vec![];
    let mut specific = vec![];
    for (key, value) in settings {
        match key.split_once('.') {
            Some((a, path)) if algo_name(a).is_ok() => {
                if algo_name(a)? == algo {
                    specific.push((path, value));
                }
            }
            _ => general.push((key.as_str(), value)),
        }
    }
    for (path, value) in general.into_iter().chain(specific) {
        set_path(algo, &mut v, path, value)?;
    }
    serde_json::from_value(v).map_err(|e| bad(format!("{algo} settings {settings:?}: {e}")))
}

/// Set the (dotted) `path` of config `v` to `value`; an object value over
/// a nested setting sets its parts one by one (each must exist).
fn set_path(
    algo: &str,
    v: &mut serde_json::Value,
    path: &str,
    value: &serde_json::Value,
) -> Result<()> {
    let mut at = &mut *v;
    let mut walked = String::new();
    for field in path.split('.') {
        let Some(fields) = at.as_object_mut() else {
            return Err(Error::InvalidArgument(format!(
                "{algo}: setting '{walked}' has no parts; set it whole (--set {walked}=…)"
            )));
        };
        if !fields.contains_key(field) {
            let known: Vec<&str> = fields.keys().map(|k| k.as_str()).collect();
            let whose = match walked.is_empty() {
                true => format!("{algo} has no setting '{field}'; its settings"),
                false => format!("{algo} setting '{walked}' has no part '{field}'; its parts"),
            };
            return Err(Error::InvalidArgument(format!(
                "{whose}: {}",
                known.join(", ")
            )));
        }
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(field);
        let Some(next) = fields.get_mut(field) else {
            return Ok(());
        };
        at = next;
    }
    match (at.is_object(), value.as_object()) {
        (true, Some(parts)) => {
            for (k, part) in parts {
                set_path(algo, v, &format!("{path}.{k}"), part)?;
            }
        }
        _ => *at = value.clone(),
    }
    Ok(())
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
