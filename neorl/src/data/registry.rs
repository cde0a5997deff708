//! The dataset registry: `datasets/registry.toml`, under version control and
//! compiled into the library (so it works from any directory), overridable
//! with `$NEORL_DATASET_REGISTRY=path/to/registry.toml`.
//!
//! Every entry pins how a dataset is made (environment, quality, size,
//! seed, generator version) and what it must hash to (the content SHA-256
//! of [`super::checksum`]), plus the behaviour policy and the environment's
//! reference returns for normalized scores. `neorl datasets pin` regenerates
//! every dataset of the registered environments and rewrites the file.

// A reader of untrusted files: no panic on any input (issue 17). Unwraps,
// panics and unchecked indexing are errors here.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::generate::{GENERATOR, Quality};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The registry as shipped with this version of neorl.
pub const EMBEDDED: &str = include_str!("../../../datasets/registry.toml");

/// Environment variable naming a registry file to use instead.
pub const OVERRIDE_VAR: &str = "NEORL_DATASET_REGISTRY";

/// Transitions in a registry dataset unless the entry says otherwise.
pub const DEFAULT_TRANSITIONS: usize = 100_000;

/// Environments the registry covers, in order.
pub const ENVIRONMENTS: [&str; 7] = [
    "ChemicalReactor-v0",
    "HVACControl-v0",
    "PowerGrid-v0",
    "RobotAssembly-v0",
    "SteelAnnealing-v0",
    "SupplyChain-v0",
    "WaterTreatment-v0",
];

/// Seed of every dataset of a quality (the environments differ anyway).
pub fn default_seed(q: Quality) -> u64 {
    match q {
        Quality::Random => 1,
        Quality::Medium => 2,
        Quality::Expert => 3,
        Quality::Mixed => 4,
    }
}

/// One dataset of the registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetEntry {
    /// `<Env>-<quality>-v0`, e.g. `SupplyChain-medium-v0`.
    pub id: String,
    /// Environment id, e.g. `SupplyChain-v0`.
    pub env: String,
    pub quality: Quality,
    /// Transitions in the default-size dataset.
    pub transitions: usize,
    pub seed: u64,
    /// Generator name and version (`neorl-datagen/1`).
    pub generator: String,
    /// The behaviour policy, as the generator describes it.
    pub behavior_policy: String,
    /// Content SHA-256 of the default-size dataset (empty: not pinned yet).
    pub sha256: String,
    /// Mean return of the random policy (D4RL `ref_min_score`).
    pub ref_random_return: f64,
    /// Mean return of the expert controller (D4RL `ref_max_score`).
    pub ref_expert_return: f64,
}

impl DatasetEntry {
    /// The id of a dataset: `<Env without -v0>-<quality>-v0`.
    pub fn make_id(env: &str, q: Quality) -> String {
        let base = env.strip_suffix("-v0").unwrap_or(env);
        format!("{base}-{q}-v0")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    #[serde(default)]
    datasets: Vec<DatasetEntry>,
}

/// The parsed registry.
#[derive(Debug, Clone, PartialEq)]
pub struct Registry {
    /// Where it came from (`"embedded"` or a path).
    pub source: String,
    pub datasets: Vec<DatasetEntry>,
}

impl Registry {
    /// Parse registry TOML; `source` names it in error messages.
    pub fn parse(text: &str, source: &str) -> Result<Self> {
        let f: RegistryFile = toml::from_str(text).map_err(|e| Error::Registry {
            path: source.to_string(),
            problem: e.to_string(),
        })?;
        let mut seen = std::collections::HashSet::new();
        for d in &f.datasets {
            if !seen.insert(d.id.to_ascii_lowercase()) {
                return Err(Error::Registry {
                    path: source.to_string(),
                    problem: format!("dataset id '{}' appears twice", d.id),
                });
            }
            if d.transitions == 0 {
                return Err(Error::Registry {
                    path: source.to_string(),
                    problem: format!("{}: transitions must be at least 1", d.id),
                });
            }
            if !(d.sha256.is_empty()
                || (d.sha256.len() == 64 && d.sha256.bytes().all(|b| b.is_ascii_hexdigit())))
            {
                return Err(Error::Registry {
                    path: source.to_string(),
                    problem: format!(
                        "{}: sha256 must be 64 hex digits (or empty when not pinned yet)",
                        d.id
                    ),
                });
            }
        }
        Ok(Registry {
            source: source.to_string(),
            datasets: f.datasets,
        })
    }

    /// The registry in use: `$NEORL_DATASET_REGISTRY` if set, else the
    /// embedded one.
    pub fn load() -> Result<Self> {
        match std::env::var_os(OVERRIDE_VAR) {
            Some(p) if !p.is_empty() => Self::from_path(Path::new(&p)),
            _ => Self::parse(EMBEDDED, "embedded datasets/registry.toml"),
        }
    }

    /// Read a registry file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = crate::limits::read_text_at_most(path, 16 << 20, "a dataset registry")?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Entry by id (case-insensitive).
    pub fn get(&self, id: &str) -> Result<&DatasetEntry> {
        self.datasets
            .iter()
            .find(|d| d.id.eq_ignore_ascii_case(id))
            .ok_or_else(|| Error::UnknownDataset {
                id: id.to_string(),
                known: self
                    .datasets
                    .iter()
                    .map(|d| d.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The registry as TOML, in the layout of `datasets/registry.toml`.
    pub fn to_toml(&self) -> String {
        let mut s = String::from(HEADER);
        for d in &self.datasets {
            s.push_str("\n[[datasets]]\n");
            s.push_str(&format!("id = {}\n", toml_str(&d.id)));
            s.push_str(&format!("env = {}\n", toml_str(&d.env)));
            s.push_str(&format!("quality = {}\n", toml_str(d.quality.as_str())));
            s.push_str(&format!("transitions = {}\n", d.transitions));
            s.push_str(&format!("seed = {}\n", d.seed));
            s.push_str(&format!("generator = {}\n", toml_str(&d.generator)));
            s.push_str(&format!(
                "behavior_policy = {}\n",
                toml_str(&d.behavior_policy)
            ));
            s.push_str(&format!("sha256 = {}\n", toml_str(&d.sha256)));
            s.push_str(&format!("ref_random_return = {:?}\n", d.ref_random_return));
            s.push_str(&format!("ref_expert_return = {:?}\n", d.ref_expert_return));
        }
        s
    }

    /// Entries for every environment × quality, in canonical order: existing
    /// ones as they are, and for each missing one a new entry with the
    /// default size and seed but no SHA-256 or reference returns yet, which
    /// [`crate::data::pin`] then generates and fills in.
    pub fn complete(&self) -> Registry {
        let mut datasets = vec![];
        for env in ENVIRONMENTS {
            for q in Quality::ALL {
                let id = DatasetEntry::make_id(env, q);
                let e = self.get(&id).cloned().unwrap_or_else(|_| DatasetEntry {
                    id,
                    env: env.to_string(),
                    quality: q,
                    transitions: DEFAULT_TRANSITIONS,
                    seed: default_seed(q),
                    generator: GENERATOR.to_string(),
                    behavior_policy: String::new(),
                    sha256: String::new(),
                    ref_random_return: 0.0,
                    ref_expert_return: 0.0,
                });
                datasets.push(e);
            }
        }
        // Entries someone added by hand for other environments stay, at the end.
        for d in &self.datasets {
            if !datasets.iter().any(|e| e.id == d.id) {
                datasets.push(d.clone());
            }
        }
        Registry {
            source: self.source.clone(),
            datasets,
        }
    }
}

fn toml_str(s: &str) -> String {
    // A TOML basic string is a JSON string for everything we write.
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

const HEADER: &str = "\
# neorl dataset registry: every dataset neorl can generate, how, and what it
# must hash to. Generated files go to the cache directory ($NEORL_DATA_DIR, or
# $XDG_CACHE_HOME/neorl/datasets, or ~/.cache/neorl/datasets), never to git.
#
# id                 <Env>-<quality>-v0
# quality            random | medium | expert | mixed (see datasets/README.md)
# transitions        size of the default dataset (`--size N` makes other sizes;
#                    those carry their own checksum in the file's attributes)
# seed, generator    the recipe (neorl::data::generate)
# sha256             content SHA-256 of the default-size dataset
#                    (neorl::data::checksum; empty = not pinned yet)
# ref_*_return       the environment's reference returns (normalized scores)
#
# Regenerate the checksums after a deliberate change to an environment or a
# controller with `cargo run --release -p neorl -- datasets pin`.
";

/// Where `neorl datasets pin` writes by default.
pub fn source_path() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .unwrap_or(manifest)
        .join("datasets")
        .join("registry.toml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_registry_parses_and_covers_every_environment_and_quality() {
        let r = Registry::parse(EMBEDDED, "embedded").unwrap();
        assert_eq!(r.datasets.len(), 28);
        for env in ENVIRONMENTS {
            for q in Quality::ALL {
                let id = DatasetEntry::make_id(env, q);
                let e = r.get(&id).unwrap();
                assert_eq!(e.env, env);
                assert_eq!(e.quality, q);
                assert_eq!(e.generator, GENERATOR, "{id}");
            }
        }
        // Case-insensitive lookup, and a clear error for unknown ids.
        assert!(r.get("supplychain-MEDIUM-v0").is_ok());
        let e = r.get("Nope-v0").unwrap_err().to_string();
        assert!(
            e.contains("Nope-v0") && e.contains("neorl datasets list"),
            "{e}"
        );
        // Rendering round-trips.
        assert_eq!(
            Registry::parse(&r.to_toml(), "x").unwrap().datasets,
            r.datasets
        );
    }

    #[test]
    fn malformed_registries_are_rejected() {
        assert!(Registry::parse("datasets = 3", "x").is_err());
        let one = r#"[[datasets]]
id = "A-random-v0"
env = "A-v0"
quality = "random"
transitions = 10
seed = 1
generator = "g"
behavior_policy = ""
sha256 = "xyz"
ref_random_return = 0.0
ref_expert_return = 1.0
"#;
        let e = Registry::parse(one, "x").unwrap_err().to_string();
        assert!(e.contains("64 hex"), "{e}");
        let two = format!("{}\n{}", one.replace("xyz", ""), one.replace("xyz", ""));
        let e = Registry::parse(&two, "x").unwrap_err().to_string();
        assert!(e.contains("twice"), "{e}");
    }
}
