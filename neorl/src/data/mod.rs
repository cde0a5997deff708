//! Offline datasets: generated reproducibly from a seed, checksummed, stored
//! as D4RL-layout HDF5 that any HDF5 user can read, explored with polars.
//!
//! ```no_run
//! let data = neorl::datasets::load("SupplyChain-medium-v0")?; // generated on first use, cached, checksummed
//! println!("{}", data.summary());
//! let df = data.to_polars()?;          // one row per transition
//! let episodes = data.episodes()?;     // one row per episode
//! let (train, val) = data.split(0.1, 0)?;
//! # Ok::<(), neorl::Error>(())
//! ```
//!
//! ## File layout (`format = "neorl-d4rl/1"`)
//!
//! All arrays are HDF5 datasets, chunked along the transition axis (8192
//! rows) and compressed with shuffle + deflate level 4; `n` transitions:
//!
//! | key | shape | dtype | meaning |
//! |---|---|---|---|
//! | `observations` | `(n, obs_dim)` | float32 | observation before the step |
//! | `actions` | `(n, act_dim)` | float32 | action applied (clipped to the actuator bounds) |
//! | `rewards` | `(n,)` | float32 | reward of the step |
//! | `next_observations` | `(n, obs_dim)` | float32 | observation after the step (the true final one at an episode's end) |
//! | `terminals` | `(n,)` | bool | `terminated`: hard-constraint breach or true terminal state |
//! | `timeouts` | `(n,)` | bool | `truncated`: time limit, or the last step of the file's last episode when it was cut to size |
//! | `costs` | `(n,)` | float32 | number of constraints violated after the step |
//! | `infos/<constraint>` | `(n,)` | float32 | the constraint's signal after the step (unit in the env spec) |
//! | `infos/violations/<constraint>` | `(n,)` | bool | whether that constraint was violated after the step |
//!
//! Root attributes: `format`, `dataset_id`, `env_id`, `quality`, `seed`
//! (uint64), `generator`, `neorl_version`, `behavior_policy`,
//! `ref_min_score` and `ref_max_score` (float64: the environment's random
//! and expert reference returns, D4RL's names), `sensor_noise`,
//! `disturbances` (bool), `observation_names`, `action_names`,
//! `constraint_names` (string arrays), `transitions`, `episodes` (uint64),
//! `sha256` (the content checksum of [`checksum`]) and `metadata_sha256`
//! (the checksum of the attributes training and evaluation use, also in
//! [`checksum`]; [`read`] and `neorl datasets validate` check both). Booleans are
//! HDF5's enum-of-int8 booleans, which h5py reads as `numpy.bool_`.
//!
//! An episode ends at a row with `terminals` or `timeouts` set. D4RL and
//! Minari files written by others read into the same [`Dataset`] (see
//! [`formats`]).
//!
//! ## Registry and cache
//!
//! `datasets/registry.toml` ([`registry`]) lists 7 environments × 4
//! qualities at `-v0`, each with its recipe and content SHA-256, and
//! protocol v1's 7 × 5 (`<Env>-<quality>-v1`: the ε-degraded expert of
//! [`behavior`], calibrated to target scores). [`load`] generates a
//! dataset on first use ([`generate`]), checks it against the registry, and
//! caches it in [`data_dir`]; later calls read the cached file and check it
//! again. An entry not pinned yet (empty `sha256`) loads with a note on
//! stderr that its content is not checked.

pub mod batch;
pub mod behavior;
pub mod checksum;
pub mod dataset;
pub mod episodes;
pub mod formats;
pub mod frame;
pub mod generate;
pub mod h5;
pub mod info;
pub mod registry;
pub mod validate;

pub use batch::{Batch, BatchSource, DataSource};
pub use behavior::{Calibration, CalibrationConfig, DegradedExpert, calibrate, family_score};
pub use checksum::{content_sha256, metadata_sha256};
pub use dataset::{Columns, ConstraintColumn, Dataset, Metadata, Normalization};
pub use episodes::{EpisodeRow, EpisodesTable};
pub use formats::{read, read_with};
#[cfg(feature = "parquet")]
pub use frame::write_parquet;
pub use frame::{ColumnSummary, Summary};
#[cfg(feature = "frames")]
pub use frame::{Frame, FrameExt};
pub use generate::{GENERATOR, GENERATOR_V1, GenerateConfig, Quality, check_fits, generate};
pub use h5::{Reader, WriteOptions, write, write_with};
pub use info::{FileInfo, info};
pub use registry::{DatasetEntry, Registry};
pub use validate::{Check, ValidationReport, validate_file};

use crate::error::{Error, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Environment variable naming the dataset cache directory.
pub const DATA_DIR_VAR: &str = "NEORL_DATA_DIR";

/// Where generated datasets are cached: `$NEORL_DATA_DIR`, else
/// `$XDG_CACHE_HOME/neorl/datasets`, else the platform's cache directory
/// (`~/.cache`, `~/Library/Caches`, `%LOCALAPPDATA%`) + `neorl/datasets`,
/// else `./neorl-data`.
pub fn data_dir() -> PathBuf {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = var(DATA_DIR_VAR) {
        return d;
    }
    let cache = var("XDG_CACHE_HOME").or_else(|| {
        if cfg!(windows) {
            var("LOCALAPPDATA")
        } else if cfg!(target_os = "macos") {
            var("HOME").map(|h| h.join("Library/Caches"))
        } else {
            var("HOME").map(|h| h.join(".cache"))
        }
    });
    match cache {
        Some(c) => c.join("neorl").join("datasets"),
        None => PathBuf::from("neorl-data"),
    }
}

/// File name of a dataset in the cache: `<id>.h5` at the registry's size,
/// `<id>-n<size>.h5` otherwise.
pub fn cache_file_name(entry: &DatasetEntry, size: usize) -> String {
    if size == entry.transitions {
        format!("{}.h5", entry.id)
    } else {
        format!("{}-n{size}.h5", entry.id)
    }
}

/// Generate the registry dataset `entry` at `size` transitions (no cache,
/// no checksum check).
pub fn generate_entry(entry: &DatasetEntry, size: usize) -> Result<Dataset> {
    if let Err(e) = crate::env::model(&entry.env, crate::env::EnvOptions::default()) {
        return Err(Error::InvalidArgument(format!(
            "dataset {} is made on environment {}, which this build of neorl does not have ({e}); use a neorl that has it (protocol-v1 datasets need the -v1 environments)",
            entry.id, entry.env
        )));
    }
    let mut cfg = GenerateConfig::new(&entry.env, entry.quality, size, entry.seed);
    cfg.dataset_id = entry.id.clone();
    cfg.epsilons = entry.epsilons.clone();
    let d = generate(&cfg)?;
    if d.metadata().generator != entry.generator {
        return Err(Error::Registry {
            path: entry.id.clone(),
            problem: format!(
                "pins generator {} but this neorl has {}; use a matching neorl version",
                entry.generator,
                d.metadata().generator
            ),
        });
    }
    Ok(d)
}

/// The note an entry that is not pinned yet gets when it is loaded or
/// generated at the registry's size.
pub fn unpinned_note(entry: &DatasetEntry) -> String {
    format!(
        "neorl: note: {} is not pinned yet (its sha256 in the registry is empty), so its content is not checked against a reference; once its environment is final, `neorl datasets pin` records its checksum",
        entry.id
    )
}

/// Print [`unpinned_note`] on stderr, once per id and process.
fn note_unpinned(entry: &DatasetEntry, size: usize) {
    static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    if entry.is_pinned() || size != entry.transitions {
        return;
    }
    if let Ok(mut seen) = SEEN.lock()
        && !seen.contains(&entry.id)
    {
        seen.push(entry.id.clone());
        eprintln!("{}", unpinned_note(entry));
    }
}

/// Compare a dataset's content with the registry's pinned SHA-256 (only at
/// the registry's size, and only when pinned).
fn check_pinned(entry: &DatasetEntry, d: &Dataset, what: &str, fix: &str) -> Result<String> {
    let actual = content_sha256(d);
    if d.len() == entry.transitions && !entry.sha256.is_empty() && actual != entry.sha256 {
        return Err(Error::Checksum {
            what: what.to_string(),
            expected: entry.sha256.clone(),
            actual,
            source_of_expected: format!("the registry's pin for {}", entry.id),
            fix: fix.to_string(),
        });
    }
    Ok(actual)
}

/// A dataset store: a registry and a cache directory.
#[derive(Debug, Clone)]
pub struct Store {
    pub registry: Registry,
    pub dir: PathBuf,
}

/// What [`Store::generate`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Generated {
    pub id: String,
    #[serde(serialize_with = "crate::paths::serialize")]
    pub path: PathBuf,
    pub transitions: usize,
    pub episodes: usize,
    pub sha256: String,
    /// Whether the registry pins this content (false: not pinned yet, or a
    /// size other than the registry's, which its own file attributes check).
    pub pinned: bool,
}

impl Store {
    /// The registry in use ([`Registry::load`]) and [`data_dir`].
    pub fn open() -> Result<Self> {
        Ok(Store {
            registry: Registry::load()?,
            dir: data_dir(),
        })
    }

    /// The registry in use with an explicit cache directory.
    pub fn with_dir(dir: impl Into<PathBuf>) -> Result<Self> {
        Ok(Store {
            registry: Registry::load()?,
            dir: dir.into(),
        })
    }

    /// Path of a dataset in the cache.
    pub fn path(&self, id: &str, size: Option<usize>) -> Result<PathBuf> {
        let e = self.registry.get(id)?;
        Ok(self
            .dir
            .join(cache_file_name(e, size.unwrap_or(e.transitions))))
    }

    /// The dataset `id` at the registry's size.
    pub fn load(&self, id: &str) -> Result<Dataset> {
        self.load_sized(id, None)
    }

    /// The dataset `id` with `size` transitions (`None`: the registry's
    /// size): read from the cache if there, else generated and cached. At
    /// the registry's size the content must match the pinned SHA-256; every
    /// file must match the SHA-256 in its own attributes.
    pub fn load_sized(&self, id: &str, size: Option<usize>) -> Result<Dataset> {
        let e = self.entry(id)?;
        let size = size.unwrap_or(e.transitions);
        let path = self.dir.join(cache_file_name(&e, size));
        if path.exists() {
            let fix = format!(
                "delete {} and load it again to regenerate it (or run `neorl datasets generate {}`)",
                path.display(),
                e.id
            );
            let d = read(&path).map_err(|err| match err {
                Error::Checksum {
                    what,
                    expected,
                    actual,
                    source_of_expected,
                    ..
                } => Error::Checksum {
                    what,
                    expected,
                    actual,
                    source_of_expected,
                    fix: fix.clone(),
                },
                e @ Error::MetadataChecksum { .. } => e,
                other => Error::data_file(&path, format!("{other}; {fix}")),
            })?;
            if d.len() != size || !d.metadata().dataset_id.eq_ignore_ascii_case(&e.id) {
                return Err(Error::data_file(
                    &path,
                    format!(
                        "holds '{}' with {} transitions, not '{}' with {size}; {fix}",
                        d.metadata().dataset_id,
                        d.len(),
                        e.id
                    ),
                ));
            }
            check_pinned(&e, &d, &path.display().to_string(), &fix)?;
            note_unpinned(&e, size);
            return Ok(d);
        }
        Ok(self.generate_entry_to(e, size, None)?.0)
    }

    /// Generate `id` (at `size`, default the registry's) and write it to
    /// `out` (default: the cache). At the registry's size the content must
    /// hash to the pinned SHA-256 or nothing is written.
    pub fn generate(&self, id: &str, size: Option<usize>, out: Option<&Path>) -> Result<Generated> {
        Ok(self.generate_dataset(id, size, out)?.1)
    }

    /// As [`Store::generate`], also returning the dataset.
    pub fn generate_dataset(
        &self,
        id: &str,
        size: Option<usize>,
        out: Option<&Path>,
    ) -> Result<(Dataset, Generated)> {
        let e = self.entry(id)?;
        let size = size.unwrap_or(e.transitions);
        self.generate_entry_to(e, size, out)
    }

    /// The registry's entry `id`, refused when it is stale
    /// ([`Registry::check_current`]): the one lookup of a load or a
    /// generation.
    fn entry(&self, id: &str) -> Result<DatasetEntry> {
        let e = self.registry.get(id)?.clone();
        self.registry.check_current(&e)?;
        Ok(e)
    }

    /// Generate `e` at `size`, check it against its pin and write it to
    /// `out` (default: the cache).
    fn generate_entry_to(
        &self,
        e: DatasetEntry,
        size: usize,
        out: Option<&Path>,
    ) -> Result<(Dataset, Generated)> {
        let d = generate_entry(&e, size)?;
        check_pinned(
            &e,
            &d,
            &format!("freshly generated {}", e.id),
            "the environment or its controllers changed since the registry was pinned; if that change is deliberate, run `neorl datasets pin` and commit datasets/registry.toml, otherwise report a determinism bug",
        )?;
        let path = match out {
            Some(p) => p.to_path_buf(),
            None => self.dir.join(cache_file_name(&e, size)),
        };
        note_unpinned(&e, size);
        let sha256 = write(&d, &path)?;
        let g = Generated {
            id: e.id.clone(),
            path,
            transitions: d.len(),
            episodes: d.num_episodes(),
            sha256,
            pinned: e.is_pinned() && size == e.transitions,
        };
        Ok((d, g))
    }
}

/// The registry dataset `id` (e.g. `"SupplyChain-medium-v0"`): generated on
/// first use, verified against the registry's SHA-256 and cached in
/// [`data_dir`].
pub fn load(id: &str) -> Result<Dataset> {
    Store::open()?.load(id)
}

/// As [`load`], with `size` transitions instead of the registry's default
/// (a small or large variant, cached separately and checked against the
/// checksum in its own file).
pub fn load_sized(id: &str, size: usize) -> Result<Dataset> {
    Store::open()?.load_sized(id, Some(size))
}

/// A dataset by registry id or file path, as `neorl train --dataset` takes
/// it: an existing file is read whatever its layout (neorl, D4RL, Minari;
/// a neorl file's checksum is verified) and, when it carries no dataset id,
/// the path becomes its id; anything else must be a registry id, loaded with
/// [`load_sized`] (`size`: the registry's size when `None`).
pub fn open(source: &str, size: Option<usize>) -> Result<Dataset> {
    let path = Path::new(source);
    if path.is_file() {
        if let Some(n) = size {
            return Err(Error::InvalidArgument(format!(
                "a size ({n}) applies to registry datasets only; {source} is a file (use `neorl datasets generate ID --size N --out FILE` to make a file of another size)"
            )));
        }
        let mut d = read(path)?;
        if d.metadata().dataset_id.is_empty() {
            d.metadata_mut().dataset_id = source.to_string();
        }
        return Ok(d);
    }
    let lower = source.to_ascii_lowercase();
    if source.contains(['/', '\\']) || [".h5", ".hdf5", ".he5"].iter().any(|e| lower.ends_with(e)) {
        return Err(Error::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such dataset file (pass an existing HDF5 file or a registry id; `neorl datasets list` lists the ids)",
            ),
        ));
    }
    if let [env, kind, ..] = source.split(':').collect::<Vec<_>>()[..] {
        let base = env.strip_suffix("-v0").unwrap_or(env);
        return Err(Error::InvalidArgument(format!(
            "'{source}' is the old ENV:KIND[:N] recipe; datasets are now registry ids or files: use {base}-{kind}-v0 (with a size of N transitions if you need one; see `neorl datasets list`)"
        )));
    }
    let store = Store::open()?;
    store.load_sized(source, size)
}

/// The environment of `data`: `env` when given (written into the dataset's
/// metadata, for files that do not name theirs or name another), else the
/// dataset's own `env_id`. A clear error when neither is known or the id is
/// not a neorl environment.
pub fn resolve_env(data: &mut Dataset, env: Option<&str>) -> Result<crate::env::EnvSpec> {
    let id = match env {
        Some(e) => e.to_string(),
        None if !data.metadata().env_id.is_empty() => data.metadata().env_id.clone(),
        None => {
            return Err(Error::InvalidArgument(format!(
                "dataset '{}' does not say which environment it comes from (no env_id attribute); name it (`--env ID` on the command line, one of: {})",
                data.metadata().dataset_id,
                crate::env::ids().join(", ")
            )));
        }
    };
    let spec = match crate::env::model(&id, crate::env::EnvOptions::default()) {
        Ok(m) => m.spec().clone(),
        Err(e) if env.is_none() => {
            return Err(Error::InvalidArgument(format!(
                "dataset '{}' comes from environment '{id}', which neorl does not have ({e}); name a neorl environment with the same observation and action sizes (`--env ID`)",
                data.metadata().dataset_id
            )));
        }
        Err(e) => return Err(e),
    };
    if spec.obs_dim() != data.obs_dim() || spec.act_dim() != data.act_dim() {
        return Err(Error::InvalidArgument(format!(
            "dataset '{}' has {} observation and {} action dimensions but {} has {} and {}; choose the environment the data was recorded on",
            data.metadata().dataset_id,
            data.obs_dim(),
            data.act_dim(),
            spec.id,
            spec.obs_dim(),
            spec.act_dim()
        )));
    }
    data.metadata_mut().env_id = spec.id.clone();
    Ok(spec)
}

/// What `neorl datasets pin` did to one entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pinned {
    pub id: String,
    /// Whether the environment is registered in this build (others are kept as they were).
    pub generated: bool,
    pub changed: bool,
    pub sha256: String,
    /// Protocol v1: the behaviour family's ε per lane, after calibration.
    pub epsilons: Option<Vec<f64>>,
    /// Protocol v1: the calibrated score (see [`DatasetEntry::calibrated_score`]).
    pub calibrated_score: Option<f64>,
}

/// What [`calibrate_registry`] did to one protocol-v1 entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Calibrated {
    pub id: String,
    pub env: String,
    pub target_score: Option<f64>,
    pub epsilons: Vec<f64>,
    pub calibrated_score: f64,
    /// Whether the targeted score was reached within the tolerance (always
    /// true for random and mixed, which have no target).
    pub within_tolerance: bool,
}

/// Calibrate the protocol-v1 entries of `reg` whose environment is
/// registered in this build: every one when `force`, else those calibrated
/// on another environment ([`DatasetEntry::needs_calibration`]). Entries
/// with a target score get ε from [`calibrate`] (default
/// [`CalibrationConfig`]); then `random` entries are scored at ε = 1 and
/// `mixed` ones take `[1, ε_low, ε_medium]` from the low and medium
/// entries of the same name and version ([`DatasetEntry::sibling_id`]) and are scored as the mean of the three (the lanes
/// are equal thirds) on the same episodes. Nothing is generated.
pub fn calibrate_registry(reg: &mut Registry, force: bool) -> Result<Vec<Calibrated>> {
    let cfg = CalibrationConfig::default();
    let registered = |env: &str| crate::env::model(env, crate::env::EnvOptions::default()).is_ok();
    let wanted: Vec<usize> = (0..reg.datasets.len())
        .filter(|&i| {
            let e = &reg.datasets[i];
            e.is_v1() && registered(&e.env) && (force || e.needs_calibration())
        })
        .collect();
    let mut out = vec![];
    // Targeted qualities first: mixed is built from low and medium.
    let mut order = wanted.clone();
    order.sort_by_key(|&i| reg.datasets[i].target_score.is_none());
    for i in order {
        let e = reg.datasets[i].clone();
        let context = |err: Error| Error::Registry {
            path: reg.source.clone(),
            problem: format!("calibrating {} on {}: {err}", e.id, e.env),
        };
        let (eps, score, within) = match (e.target_score, e.quality) {
            (Some(t), _) => {
                let c = calibrate(&e.env, t, &cfg).map_err(context)?;
                (vec![c.epsilon], c.score, c.within_tolerance)
            }
            (None, Quality::Mixed) => {
                let level = |q: Quality| -> Result<f64> {
                    let id = e.sibling_id(q);
                    let l = reg.get(&id).map_err(|_| Error::Registry {
                        path: reg.source.clone(),
                        problem: format!(
                            "{}: a v1 mixed dataset takes its ε from {id}, which the registry lacks; add it",
                            e.id
                        ),
                    })?;
                    match l.epsilons.as_deref() {
                        Some([x]) => Ok(*x),
                        _ => Err(Error::Registry {
                            path: reg.source.clone(),
                            problem: format!("{}: {id} must carry exactly one ε", e.id),
                        }),
                    }
                };
                let eps = vec![1.0, level(Quality::Low)?, level(Quality::Medium)?];
                let mut sum = 0.0;
                for &x in &eps {
                    sum += family_score(&e.env, x, cfg.episodes, cfg.seed).map_err(context)?;
                }
                (eps, sum / 3.0, true)
            }
            (None, _) => {
                let eps = e.epsilons.clone().unwrap_or_else(|| vec![1.0]);
                let mut sum = 0.0;
                for &x in &eps {
                    sum += family_score(&e.env, x, cfg.episodes, cfg.seed).map_err(context)?;
                }
                (eps.clone(), sum / eps.len() as f64, true)
            }
        };
        let d = &mut reg.datasets[i];
        d.epsilons = Some(eps.clone());
        d.calibrated_score = Some(score);
        d.calibrated_on = Some(d.env.clone());
        out.push(Calibrated {
            id: d.id.clone(),
            env: d.env.clone(),
            target_score: d.target_score,
            epsilons: eps,
            calibrated_score: score,
            within_tolerance: within,
        });
    }
    // Report in registry order.
    out.sort_by_key(|c| reg.datasets.iter().position(|d| d.id == c.id));
    Ok(out)
}

/// Regenerate every registry dataset whose environment is registered in
/// this build, at its registry size, and rewrite the registry file at
/// `path` with the new checksums, behaviour policies and reference returns
/// (entries of other environments are kept; missing `-v0` ones are added
/// unpinned). Protocol-v1 entries calibrated on another environment (or
/// never) are calibrated first ([`calibrate_registry`]).
pub fn pin(path: impl AsRef<Path>) -> Result<Vec<Pinned>> {
    let path = path.as_ref();
    let mut reg = Registry::from_path(path)?.complete();
    calibrate_registry(&mut reg, false)?;
    let mut out = vec![];
    for e in &mut reg.datasets {
        let Ok(m) = crate::env::model(&e.env, crate::env::EnvOptions::default()) else {
            out.push(Pinned {
                id: e.id.clone(),
                generated: false,
                changed: false,
                sha256: e.sha256.clone(),
                epsilons: e.epsilons.clone(),
                calibrated_score: e.calibrated_score,
            });
            continue;
        };
        let before = e.clone();
        e.generator = if e.is_v1() { GENERATOR_V1 } else { GENERATOR }.to_string();
        let d = generate_entry(e, e.transitions)?;
        e.sha256 = content_sha256(&d);
        e.behavior_policy = d.metadata().behavior_policy.clone();
        e.ref_random_return = m.spec().ref_random_return;
        e.ref_expert_return = m.spec().ref_expert_return;
        out.push(Pinned {
            id: e.id.clone(),
            generated: true,
            changed: *e != before,
            sha256: e.sha256.clone(),
            epsilons: e.epsilons.clone(),
            calibrated_score: e.calibrated_score,
        });
    }
    std::fs::write(path, reg.to_toml()).map_err(|e| Error::io(path, e))?;
    Ok(out)
}
