//! The environment registry: ids → model constructors.

use super::model::{EnvOptions, Model};
use super::wrapper::Env;
use crate::error::{Error, Result};
use std::sync::Arc;

/// One registered environment.
pub struct Entry {
    pub id: &'static str,
    pub build: fn(EnvOptions) -> Arc<dyn Model>,
}

/// Every registered environment, in a fixed order.
pub const ENTRIES: &[Entry] = &[Entry {
    id: "ChemicalReactor-v0",
    build: super::chemical_reactor::build,
}];

/// Ids of every registered environment.
pub fn ids() -> Vec<&'static str> {
    ENTRIES.iter().map(|e| e.id).collect()
}

/// The pure model of `id` with `options`.
pub fn model(id: &str, options: EnvOptions) -> Result<Arc<dyn Model>> {
    ENTRIES
        .iter()
        .find(|e| e.id.eq_ignore_ascii_case(id))
        .map(|e| (e.build)(options))
        .ok_or_else(|| Error::UnknownEnv {
            id: id.to_string(),
            known: ids().join(", "),
        })
}

/// A Gymnasium-style environment by id, with default options (sensor noise
/// and disturbances on). Call `reset(seed)` before `step`.
pub fn make(id: &str) -> Result<Env> {
    make_with(id, EnvOptions::default())
}

/// As [`make`], with explicit options.
pub fn make_with(id: &str, options: EnvOptions) -> Result<Env> {
    Ok(Env::new(model(id, options)?, options))
}
