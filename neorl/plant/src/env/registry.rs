//! The environment registry: ids → model constructors.

use super::model::{EnvOptions, Model};
use super::protocol::{Version, Versioned, v1_of};
use super::wrapper::Env;
use crate::error::{Error, Result};
use std::sync::Arc;

/// One registered environment.
pub struct Entry {
    pub id: &'static str,
    pub build: fn(EnvOptions) -> Arc<dyn Model>,
}

/// The protocol-v1 builders: the v0 model behind [`Versioned`] (PowerGrid:
/// with the set-point rate limit in the plant).
fn chemical_reactor_v1(o: EnvOptions) -> Arc<dyn Model> {
    v1_of(super::chemical_reactor::build, o)
}
fn robot_assembly_v1(o: EnvOptions) -> Arc<dyn Model> {
    v1_of(super::robot_assembly::build, o)
}
fn hvac_v1(o: EnvOptions) -> Arc<dyn Model> {
    v1_of(super::hvac::build, o)
}
fn water_treatment_v1(o: EnvOptions) -> Arc<dyn Model> {
    v1_of(super::water_treatment::build, o)
}
fn steel_annealing_v1(o: EnvOptions) -> Arc<dyn Model> {
    v1_of(super::steel_annealing::build, o)
}
fn power_grid_v1(o: EnvOptions) -> Arc<dyn Model> {
    Arc::new(Versioned::v1(super::power_grid::build_v1_plant(o)))
}
fn supply_chain_v1(o: EnvOptions) -> Arc<dyn Model> {
    v1_of(super::supply_chain::build, o)
}

/// Every registered environment, in a fixed order: the seven protocol-v0
/// ids, then the seven protocol-v1 ids (see [`super::protocol`]).
pub const ENTRIES: &[Entry] = &[
    Entry {
        id: "ChemicalReactor-v0",
        build: super::chemical_reactor::build,
    },
    Entry {
        id: "RobotAssembly-v0",
        build: super::robot_assembly::build,
    },
    Entry {
        id: "HVACControl-v0",
        build: super::hvac::build,
    },
    Entry {
        id: "WaterTreatment-v0",
        build: super::water_treatment::build,
    },
    Entry {
        id: "SteelAnnealing-v0",
        build: super::steel_annealing::build,
    },
    Entry {
        id: "PowerGrid-v0",
        build: super::power_grid::build,
    },
    Entry {
        id: "SupplyChain-v0",
        build: super::supply_chain::build,
    },
    Entry {
        id: "ChemicalReactor-v1",
        build: chemical_reactor_v1,
    },
    Entry {
        id: "RobotAssembly-v1",
        build: robot_assembly_v1,
    },
    Entry {
        id: "HVACControl-v1",
        build: hvac_v1,
    },
    Entry {
        id: "WaterTreatment-v1",
        build: water_treatment_v1,
    },
    Entry {
        id: "SteelAnnealing-v1",
        build: steel_annealing_v1,
    },
    Entry {
        id: "PowerGrid-v1",
        build: power_grid_v1,
    },
    Entry {
        id: "SupplyChain-v1",
        build: supply_chain_v1,
    },
];

/// Ids of the protocol-v0 suite, in registry order: what the datasets,
/// benches, quickstart and the plant's property tests iterate. Every id,
/// v1 included, is in [`all_ids`].
pub fn ids() -> Vec<&'static str> {
    ids_of(Version::V0)
}

/// Ids of one protocol version, in registry order.
pub fn ids_of(version: Version) -> Vec<&'static str> {
    ENTRIES
        .iter()
        .map(|e| e.id)
        .filter(|id| Version::of(id) == Some(version))
        .collect()
}

/// Ids of every registered environment, v0 and v1.
pub fn all_ids() -> Vec<&'static str> {
    ENTRIES.iter().map(|e| e.id).collect()
}

/// The registered (static) spelling of `id` (matched ignoring ASCII case).
pub fn registered_id(id: &str) -> Result<&'static str> {
    ENTRIES
        .iter()
        .find(|e| e.id.eq_ignore_ascii_case(id))
        .map(|e| e.id)
        .ok_or_else(|| Error::UnknownEnv {
            id: id.to_string(),
            known: all_ids().join(", "),
        })
}

/// The pure model of `id` with `options`.
pub fn model(id: &str, options: EnvOptions) -> Result<Arc<dyn Model>> {
    ENTRIES
        .iter()
        .find(|e| e.id.eq_ignore_ascii_case(id))
        .map(|e| (e.build)(options))
        .ok_or_else(|| Error::UnknownEnv {
            id: id.to_string(),
            known: all_ids().join(", "),
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

/// One constraint as listed by `neorl envs --json`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CatalogConstraint {
    pub name: String,
    pub kind: super::ConstraintKind,
    pub sense: super::Sense,
    pub limit: f64,
    pub unit: String,
}

/// One environment as listed by `neorl envs --json`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CatalogEntry {
    pub id: String,
    pub obs_dim: usize,
    pub act_dim: usize,
    pub horizon: usize,
    pub dt: f64,
    pub constraints: Vec<CatalogConstraint>,
    pub ref_random_return: f64,
    pub ref_expert_return: f64,
    pub description: String,
}

/// The registry as data, for listings.
pub fn catalog() -> Vec<CatalogEntry> {
    ENTRIES
        .iter()
        .map(|e| {
            let m = (e.build)(EnvOptions::default());
            let s = m.spec();
            CatalogEntry {
                id: s.id.clone(),
                obs_dim: s.obs_dim(),
                act_dim: s.act_dim(),
                horizon: s.horizon,
                dt: s.dt,
                constraints: s
                    .constraints
                    .iter()
                    .map(|c| CatalogConstraint {
                        name: c.name.clone(),
                        kind: c.kind,
                        sense: c.sense,
                        limit: c.limit,
                        unit: c.unit.clone(),
                    })
                    .collect(),
                ref_random_return: s.ref_random_return,
                ref_expert_return: s.ref_expert_return,
                description: s.description.clone(),
            }
        })
        .collect()
}
