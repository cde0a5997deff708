//! The dataset registry: `datasets/registry.toml`, under version control and
//! compiled into the library (so it works from any directory), overridable
//! with `$NEORL_DATASET_REGISTRY=path/to/registry.toml`.
//!
//! Every entry pins how a dataset is made (environment, quality, size,
//! seed, generator version) and what it must hash to (the content SHA-256
//! of [`super::checksum`]), plus the behaviour policy and the environment's
//! reference returns for normalized scores. `neorl datasets pin` regenerates
//! every dataset of the registered environments and rewrites the file.
//!
//! Protocol v1's entries (`<Env>-<quality>-v1`, generator `neorl-datagen/2`)
//! add the recipe's per-lane ε (`epsilons`) and, for the qualities defined
//! by a target score, the calibration that chose it (`target_score`,
//! `calibrated_score`, `calibrated_on`; see [`super::behavior`]). An entry
//! with an empty `sha256` is not pinned yet: it loads, with a note that its
//! content is not checked, until `neorl datasets pin` fills it in.

// A reader of untrusted files: no panic on any input (issue 17). Unwraps,
// panics and unchecked indexing are errors here.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::generate::{GENERATOR, GENERATOR_V1, Quality, check_epsilons};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The registry as shipped with this version of neorl.
pub const EMBEDDED: &str = include_str!("../../../datasets/registry.toml");

/// [`Registry::source`] of the embedded registry.
const EMBEDDED_SOURCE: &str = "embedded datasets/registry.toml";

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

/// Protocol v1's environments, in order: the same processes at `-v1`.
pub const ENVIRONMENTS_V1: [&str; 7] = [
    "ChemicalReactor-v1",
    "HVACControl-v1",
    "PowerGrid-v1",
    "RobotAssembly-v1",
    "SteelAnnealing-v1",
    "SupplyChain-v1",
    "WaterTreatment-v1",
];

/// Seed of every dataset of a quality (the environments differ anyway).
pub fn default_seed(q: Quality) -> u64 {
    match q {
        Quality::Random => 1,
        Quality::Medium => 2,
        Quality::Expert => 3,
        Quality::Mixed => 4,
        Quality::Low => 5,
    }
}

/// Protocol v1's target normalized score of a quality defined by one
/// (`low`, `medium`, `expert`); `random` and `mixed` have none (`random` is
/// ε = 1, `mixed` the thirds `[1, ε_low, ε_medium]`). Why these values:
/// `datasets/PROTOCOL.md`, "Qualities".
pub fn target_score(q: Quality) -> Option<f64> {
    match q {
        Quality::Low => Some(25.0),
        Quality::Medium => Some(50.0),
        Quality::Expert => Some(90.0),
        Quality::Random | Quality::Mixed => None,
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
    /// Protocol v1 (`neorl-datagen/2`): the ε of each lane's degraded
    /// expert (1 value, or 3 for `mixed`); absent in `-v0` entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epsilons: Option<Vec<f64>>,
    /// Protocol v1: the normalized score the behaviour was calibrated to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_score: Option<f64>,
    /// Protocol v1: the score the chosen behaviour reached in the
    /// calibration (for `random` and `mixed`: its mean over the lanes' ε on
    /// the same episodes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibrated_score: Option<f64>,
    /// Protocol v1: the environment the calibration ran on. When it is not
    /// `env`, `neorl datasets pin` calibrates again before generating.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibrated_on: Option<String>,
}

impl DatasetEntry {
    /// The id of a dataset of environment `env` (`<Name>-v<N>`):
    /// `<Name>-<quality>-v<N>`, so `ChemicalReactor-v1` and `medium` give
    /// `ChemicalReactor-medium-v1`. An id without a version counts as `-v0`.
    pub fn make_id(env: &str, q: Quality) -> String {
        let (base, version) = split_version(env);
        format!("{base}-{q}-{version}")
    }

    /// The id of the same dataset family's quality `q`: `X-mixed-v1` →
    /// `X-low-v1` (by the id, not the environment, so a test registry may
    /// put v1 recipes on other environments).
    pub fn sibling_id(&self, q: Quality) -> String {
        let (stem, version) = split_version(&self.id);
        let base = stem
            .strip_suffix(&format!("-{}", self.quality))
            .unwrap_or(stem);
        format!("{base}-{q}-{version}")
    }

    /// Whether this is a protocol-v1 entry (its recipe is the ε family).
    pub fn is_v1(&self) -> bool {
        self.epsilons.is_some()
    }

    /// Whether the registry pins this entry's content.
    pub fn is_pinned(&self) -> bool {
        !self.sha256.is_empty()
    }

    /// Whether the recorded ε was calibrated on an environment other than
    /// the entry's (or not at all): `neorl datasets pin` calibrates it first.
    pub fn needs_calibration(&self) -> bool {
        self.is_v1() && self.calibrated_on.as_deref() != Some(self.env.as_str())
    }

    /// A protocol-v1 entry for `env` and `q`, not calibrated and not pinned
    /// (`neorl datasets pin` fills in ε, the scores and the checksum).
    pub fn v1(env: &str, q: Quality) -> DatasetEntry {
        DatasetEntry {
            id: DatasetEntry::make_id(env, q),
            env: env.to_string(),
            quality: q,
            transitions: DEFAULT_TRANSITIONS,
            seed: default_seed(q),
            generator: GENERATOR_V1.to_string(),
            behavior_policy: String::new(),
            sha256: String::new(),
            ref_random_return: 0.0,
            ref_expert_return: 0.0,
            epsilons: Some(match q {
                Quality::Random => vec![1.0],
                Quality::Mixed => vec![1.0, 0.0, 0.0],
                _ => vec![0.0],
            }),
            target_score: target_score(q),
            calibrated_score: None,
            calibrated_on: None,
        }
    }
}

/// `ChemicalReactor-v1` → (`ChemicalReactor`, `v1`); no `-v<digits>`
/// suffix → (the id, `v0`).
pub fn split_version(env: &str) -> (&str, &str) {
    match env.rsplit_once("-v") {
        Some((base, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            (base, env.get(base.len() + 1..).unwrap_or("v0"))
        }
        _ => (env, "v0"),
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
            let bad = |problem: String| Error::Registry {
                path: source.to_string(),
                problem: format!("{}: {problem}", d.id),
            };
            match (&d.epsilons, d.generator.as_str()) {
                (None, GENERATOR_V1) => {
                    return Err(bad(format!(
                        "generator {GENERATOR_V1} needs the recipe's epsilons (e.g. epsilons = [0.3])"
                    )));
                }
                (Some(_), g) if g != GENERATOR_V1 => {
                    return Err(bad(format!(
                        "epsilons belong to the {GENERATOR_V1} recipe, but the entry names generator {g}"
                    )));
                }
                (Some(eps), _) => {
                    check_epsilons(eps, &d.id).map_err(|e| bad(e.to_string()))?;
                    if eps.len() == 3 && d.quality != Quality::Mixed {
                        return Err(bad(
                            "three epsilons (thirds of the lanes) are for a mixed dataset; give one".into(),
                        ));
                    }
                    if eps.len() != 3 && d.quality == Quality::Mixed {
                        return Err(bad(
                            "a v1 mixed dataset runs three behaviours on thirds of the lanes: give epsilons = [1.0, ε_low, ε_medium]".into(),
                        ));
                    }
                }
                (None, _) if d.quality == Quality::Low => {
                    return Err(bad(format!(
                        "quality 'low' exists only in the {GENERATOR_V1} recipe (give its epsilons)"
                    )));
                }
                (None, _) => {}
            }
            if let Some(t) = d.target_score.filter(|t| !t.is_finite()) {
                return Err(bad(format!("target_score must be finite, got {t}")));
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
            _ => Self::parse(EMBEDDED, EMBEDDED_SOURCE),
        }
    }

    /// Refuses to make `entry` from a stale registry: when this is the
    /// embedded registry and the checkout neorl was built from is still on
    /// this machine ([`source_path`]), its `datasets/registry.toml` must
    /// hold the same entry. `neorl datasets pin` rewrites the file but not
    /// the compiled-in copy; without this check, an entry pinned or
    /// re-calibrated after the build would be generated from its old recipe,
    /// and an unpinned one with no checksum to catch it. An installed neorl
    /// (no checkout beside it), an unreadable or unparsable file (someone
    /// editing it) and an entry only one side has are not checked.
    pub fn check_current(&self, entry: &DatasetEntry) -> Result<()> {
        if self.source != EMBEDDED_SOURCE {
            return Ok(());
        }
        let path = source_path();
        let Ok(on_disk) = Self::from_path(&path) else {
            return Ok(());
        };
        match on_disk.datasets.iter().find(|d| d.id == entry.id) {
            Some(d) if d != entry => Err(Error::InvalidArgument(format!(
                "{}: this neorl was built with an older datasets/registry.toml than {} (the entry differs there{}); rebuild neorl (`cargo build`) so that it embeds the current file, or set {OVERRIDE_VAR}={} to use that file",
                entry.id,
                path.display(),
                if d.sha256 != entry.sha256 {
                    ": its sha256 was pinned or changed since the build"
                } else {
                    ""
                },
                path.display()
            ))),
            _ => Ok(()),
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
            if let Some(eps) = &d.epsilons {
                let list: Vec<String> = eps.iter().map(|e| format!("{e:?}")).collect();
                s.push_str(&format!("epsilons = [{}]\n", list.join(", ")));
            }
            if let Some(t) = d.target_score {
                s.push_str(&format!("target_score = {t:?}\n"));
            }
            if let Some(c) = d.calibrated_score {
                s.push_str(&format!("calibrated_score = {c:?}\n"));
            }
            if let Some(on) = &d.calibrated_on {
                s.push_str(&format!("calibrated_on = {}\n", toml_str(on)));
            }
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
                    epsilons: None,
                    target_score: None,
                    calibrated_score: None,
                    calibrated_on: None,
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
# id                 <Env>-<quality>-v0, or -v1 for protocol v1 (datasets/PROTOCOL.md)
# quality            random | medium | expert | mixed; v1 adds low (datasets/README.md)
# transitions        size of the default dataset (`--size N` makes other sizes;
#                    those carry their own checksum in the file's attributes)
# seed, generator    the recipe (neorl::data::generate)
# sha256             content SHA-256 of the default-size dataset
#                    (neorl::data::checksum; empty = not pinned yet)
# ref_*_return       the environment's reference returns (normalized scores)
#
# Protocol v1 entries (generator neorl-datagen/2) also carry:
# epsilons           the behaviour family's ε per lane: the expert with that
#                    fraction of its steps replaced by uniform random actions
#                    (one value; mixed: [1, ε_low, ε_medium] over thirds of
#                    the lanes); neorl::data::behavior
# target_score       the normalized score ε was calibrated to (low 25,
#                    medium 50, expert 90; none for random and mixed)
# calibrated_score   the score reached on the calibration episodes (100
#                    episodes from seed 2000000; random and mixed: measured
#                    on the same episodes, not targeted)
# calibrated_on      the environment the calibration ran on (absent: not
#                    calibrated yet); `datasets pin` calibrates an entry
#                    whose env differs, then generates and pins it
# An unpinned entry's behavior_policy and ref_*_return are filled in by pin.
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
    fn an_entry_that_changed_on_disk_since_the_build_is_refused() {
        // The tests run in the checkout the library embeds, so the file on
        // disk holds the embedded entries; a changed entry stands for one
        // pinned or re-calibrated after the build.
        let r = Registry::parse(EMBEDDED, EMBEDDED_SOURCE).unwrap();
        let mut e = r.get("SupplyChain-low-v1").unwrap().clone();
        assert!(r.check_current(&e).is_ok());
        e.sha256 = "0".repeat(64);
        let err = r.check_current(&e).unwrap_err().to_string();
        for needle in [
            "SupplyChain-low-v1",
            "older datasets/registry.toml",
            "rebuild",
            OVERRIDE_VAR,
        ] {
            assert!(err.contains(needle), "{needle} in {err}");
        }
        // A registry read from a file is the file: nothing to compare.
        let from_file = Registry::from_path(source_path()).unwrap();
        assert!(from_file.check_current(&e).is_ok());
    }

    #[test]
    fn embedded_registry_parses_and_covers_every_environment_and_quality() {
        let r = Registry::parse(EMBEDDED, "embedded").unwrap();
        assert_eq!(r.datasets.len(), 28 + 35);
        // Protocol v1: 7 processes × 5 qualities on the -v1 environments,
        // with the family's recipe and the calibration's targets.
        for env in ENVIRONMENTS_V1 {
            for q in Quality::V1 {
                let id = DatasetEntry::make_id(env, q);
                let e = r.get(&id).unwrap();
                assert_eq!(e.env, env, "{id}");
                assert_eq!(e.quality, q, "{id}");
                assert_eq!(e.generator, GENERATOR_V1, "{id}");
                assert_eq!(e.target_score, target_score(q), "{id}");
                assert_eq!(e.seed, default_seed(q), "{id}");
                let eps = e.epsilons.as_deref().unwrap();
                match q {
                    Quality::Random => assert_eq!(eps, [1.0], "{id}"),
                    Quality::Mixed => {
                        assert_eq!(eps.len(), 3, "{id}");
                        assert_eq!(eps[0], 1.0, "{id}");
                        // Built from the same family's low and medium ε.
                        for (k, sib) in [(1, Quality::Low), (2, Quality::Medium)] {
                            let s = r.get(&e.sibling_id(sib)).unwrap();
                            assert_eq!(s.epsilons.as_deref(), Some(&eps[k..=k]), "{id}");
                        }
                    }
                    _ => assert_eq!(eps.len(), 1, "{id}"),
                }
                if let (Some(t), Some(c)) = (e.target_score, e.calibrated_score) {
                    assert!((c - t).abs() <= 2.0, "{id}: calibrated {c} for {t}");
                }
            }
        }
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
        // Protocol-v1 recipes must be whole and consistent.
        let v1 = one
            .replace("xyz", "")
            .replace("\"g\"", &format!("\"{GENERATOR_V1}\""));
        let e = Registry::parse(&v1, "x").unwrap_err().to_string();
        assert!(e.contains("needs the recipe's epsilons"), "{e}");
        for (eps, says) in [
            ("[1.5]", "[0, 1]"),
            ("[0.1, 0.2]", "1 value"),
            ("[1.0, 0.3, 0.2]", "mixed dataset"),
        ] {
            let bad = format!("{v1}epsilons = {eps}\n");
            let e = Registry::parse(&bad, "x").unwrap_err().to_string();
            assert!(e.contains(says), "{eps}: {e}");
        }
        let wrong_gen = format!("{}epsilons = [0.5]\n", one.replace("xyz", ""));
        let e = Registry::parse(&wrong_gen, "x").unwrap_err().to_string();
        assert!(e.contains("belong to the"), "{e}");
        let low = one.replace("xyz", "").replace("\"random\"", "\"low\"");
        let e = Registry::parse(&low, "x").unwrap_err().to_string();
        assert!(e.contains("only in the"), "{e}");
        let ok = format!("{v1}epsilons = [0.5]\ntarget_score = 50.0\n");
        let r = Registry::parse(&ok, "x").unwrap();
        assert!(r.datasets[0].is_v1() && !r.datasets[0].is_pinned());
        assert!(r.datasets[0].needs_calibration());
    }

    #[test]
    fn ids_follow_the_environment_version() {
        assert_eq!(
            DatasetEntry::make_id("ChemicalReactor-v0", Quality::Medium),
            "ChemicalReactor-medium-v0"
        );
        assert_eq!(
            DatasetEntry::make_id("ChemicalReactor-v1", Quality::Low),
            "ChemicalReactor-low-v1"
        );
        assert_eq!(
            DatasetEntry::make_id("Custom", Quality::Expert),
            "Custom-expert-v0"
        );
        assert_eq!(split_version("A-B-v12"), ("A-B", "v12"));
        assert_eq!(split_version("A-vx"), ("A-vx", "v0"));
        assert_eq!(split_version("A-v"), ("A-v", "v0"));
        let e = DatasetEntry::v1("PowerGrid-v1", Quality::Mixed);
        assert_eq!(e.id, "PowerGrid-mixed-v1");
        assert_eq!(e.sibling_id(Quality::Low), "PowerGrid-low-v1");
        assert!(e.needs_calibration() && !e.is_pinned());
        // A test registry may put a v1 recipe on a -v0 environment: the
        // siblings follow the id.
        let mut t = DatasetEntry::v1("PowerGrid-v0", Quality::Mixed);
        t.id = "PowerGrid-mixed-v1".into();
        assert_eq!(t.sibling_id(Quality::Medium), "PowerGrid-medium-v1");
        // Rendering keeps the v1 fields and omits them for v0 entries.
        let r = Registry {
            source: "x".into(),
            datasets: vec![e],
        };
        let text = r.to_toml();
        assert!(text.contains("epsilons = [1.0, 0.0, 0.0]"), "{text}");
        assert_eq!(Registry::parse(&text, "x").unwrap().datasets, r.datasets);
        let v0 = Registry::parse(EMBEDDED, "e").unwrap();
        let first = v0.to_toml();
        let block = first.split("[[datasets]]").nth(1).unwrap();
        assert!(!block.contains("epsilons"), "{block}");
    }
}
