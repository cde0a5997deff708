//! The manifest: a planned sweep as one JSON file, `DIR/manifest.json` —
//! task index → one fully resolved run configuration — with its own
//! SHA-256 inside it. Workers read nothing else, so what runs is exactly
//! what was planned; a manifest edited after planning no longer matches its
//! hash and every worker refuses it.
//!
//! The hash is taken over the file's own bytes with the hash's 64 digits
//! replaced by zeros, so it checks the text as written (not a re-encoding
//! of it, which could differ in the last digit of a float).

use super::spec::SweepSpec;
use crate::agents::Settings;
use crate::data::Quality;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The manifest's file name inside a sweep folder.
pub const FILE_NAME: &str = "manifest.json";
/// Format of the manifest.
pub const FORMAT: u32 = 1;
const PLACEHOLDER: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One task: one agent trained and evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub index: usize,
    pub env: String,
    pub algo: String,
    pub seed: u64,
    pub quality: Quality,
    /// Transitions (`None`: the registry's size).
    pub dataset_size: Option<usize>,
    pub steps: u64,
    pub eval_every: u64,
    pub episodes: usize,
    pub eval_seed: u64,
    /// Selection episodes per evaluation (the best evaluation is chosen on
    /// them; 0: no best). Left out when unset — a manifest planned before
    /// them, which keeps its hash, and selects on the reported episodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection_episodes: Option<usize>,
    pub checkpoint_every: u64,
    /// Checkpoints kept besides the latest (`None`: the latest only). Left
    /// out of the manifest when unset, so manifests planned before it keep
    /// their hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_last: Option<usize>,
    /// Keep the checkpoint of the best evaluation.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_best: bool,
    pub hidden: Option<Vec<usize>>,
    /// Hyper-parameters over the defaults (see [`crate::agents::Settings`]).
    pub settings: Settings,
    pub device: String,
    /// CPU threads for this task.
    pub threads: usize,
}

impl Task {
    /// `algo-env-quality[-size]-sSEED`: the MLflow child run's name.
    pub fn run_name(&self) -> String {
        let size = self
            .dataset_size
            .map(|n| format!("-{n}"))
            .unwrap_or_default();
        format!(
            "{}-{}-{}{size}-s{}",
            self.algo,
            self.env,
            quality_name(self.quality),
            self.seed
        )
    }
}

/// `medium`, … (the spec's spelling).
pub fn quality_name(q: Quality) -> String {
    serde_json::to_value(q)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Where the runs are recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tracking {
    /// A tracking server's URL or a local store's absolute path; empty:
    /// tracking off (results are then read from the task folders).
    pub uri: String,
    pub experiment: String,
    /// The sweep's MLflow parent run.
    pub parent_run_id: Option<String>,
}

/// The SLURM job array's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slurm {
    pub time: String,
    pub parallel: usize,
    pub signal_seconds: u64,
    pub sbatch_args: Vec<String>,
}

/// A planned sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// SHA-256 of this file (see the module docs).
    pub hash: String,
    pub format: u32,
    /// Random id of the sweep (tag `neorl.sweep_id` of its runs).
    pub sweep_id: String,
    pub name: String,
    pub neorl_version: String,
    /// Dataset cache, absolute.
    #[serde(serialize_with = "crate::paths::serialize")]
    pub data_dir: PathBuf,
    pub tracking: Tracking,
    pub slurm: Slurm,
    /// The spec it was planned from, as read.
    pub spec: SweepSpec,
    pub tasks: Vec<Task>,
}

/// The tasks of `spec`, in the order of a score table: environment,
/// quality, size, algorithm, seed.
pub fn tasks(spec: &SweepSpec) -> Result<Vec<Task>> {
    let algos = spec.algos()?;
    let settings = spec.settings()?;
    let mut out = vec![];
    for env in &spec.environments {
        let env = crate::make(env)?.spec().id.clone();
        for &quality in &spec.qualities {
            for size in spec.dataset_sizes() {
                for algo in &algos {
                    for seed in 0..spec.seeds {
                        out.push(Task {
                            index: out.len(),
                            env: env.clone(),
                            algo: algo.clone(),
                            seed,
                            quality,
                            dataset_size: size,
                            steps: spec.steps,
                            eval_every: spec.eval_every(),
                            episodes: spec.evaluation.episodes,
                            eval_seed: spec.evaluation.seed,
                            selection_episodes: Some(spec.selection_episodes()),
                            checkpoint_every: spec.checkpoint_every(),
                            keep_last: spec.keep_last,
                            keep_best: spec.keep_best,
                            hidden: spec.hidden.clone(),
                            settings: settings.clone(),
                            device: spec.device.clone(),
                            threads: spec.threads,
                        });
                    }
                }
            }
        }
    }
    Ok(out)
}

fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

impl Manifest {
    /// Write the manifest into `dir` with its hash (which is set in `self`).
    pub fn write(&mut self, dir: &Path) -> Result<PathBuf> {
        self.hash = PLACEHOLDER.into();
        let text = serde_json::to_string_pretty(self).map_err(|source| Error::Json {
            context: "the sweep manifest".into(),
            source,
        })? + "\n";
        self.hash = sha256_hex(text.as_bytes());
        let text = text.replacen(PLACEHOLDER, &self.hash, 1);
        let path = dir.join(FILE_NAME);
        super::files::write_atomic(&path, text.as_bytes())?;
        Ok(path)
    }

    /// Read `dir`'s manifest and check it against its hash.
    pub fn read(dir: &Path) -> Result<Manifest> {
        let path = dir.join(FILE_NAME);
        if !path.exists() {
            return Err(Error::InvalidArgument(format!(
                "{} has no {FILE_NAME}; plan a sweep into it first with `neorl sweep plan SPEC --out {}`",
                dir.display(),
                dir.display()
            )));
        }
        let text = crate::limits::read_text_at_most(&path, 1 << 30, "a sweep manifest")?;
        let m: Manifest = serde_json::from_str(&text).map_err(|e| {
            Error::InvalidArgument(format!(
                "{} is not a sweep manifest ({e}); plan the sweep again into a new folder",
                path.display()
            ))
        })?;
        if m.format != FORMAT {
            return Err(Error::InvalidArgument(format!(
                "{} has manifest format {}, this neorl reads {FORMAT}; run it with the neorl that planned it ({})",
                path.display(),
                m.format,
                m.neorl_version
            )));
        }
        let actual = sha256_hex(text.replacen(&m.hash, PLACEHOLDER, 1).as_bytes());
        if m.hash.len() != 64 || actual != m.hash {
            return Err(Error::InvalidArgument(format!(
                "{} was changed after it was planned (its SHA-256 is {actual}, it says {}); a sweep's tasks must not change under it: plan the changed spec into a new folder (`neorl sweep plan SPEC --out NEW_DIR`)",
                path.display(),
                m.hash
            )));
        }
        for (i, t) in m.tasks.iter().enumerate() {
            if t.index != i {
                return Err(Error::InvalidArgument(format!(
                    "{}: task {i} says it is task {}; plan the sweep again",
                    path.display(),
                    t.index
                )));
            }
        }
        Ok(m)
    }

    /// Task `index`, or an error that gives the range.
    pub fn task(&self, index: usize) -> Result<&Task> {
        self.tasks.get(index).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "task index {index} is out of range: sweep '{}' has {} tasks, 0 to {}",
                self.name,
                self.tasks.len(),
                self.tasks.len().saturating_sub(1)
            ))
        })
    }
}
