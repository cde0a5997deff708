//! The checkpoint manager: save every K steps, keep the last N, keep the
//! best by an evaluation metric, resume from the latest.
//!
//! The practice is Orbax's `CheckpointManager` (save interval, `max_to_keep`,
//! `best_fn`) and Keras' `ModelCheckpoint(save_best_only=…)`, written here
//! for neorl's one-file checkpoints ([`super::checkpoint`]). A folder `DIR`
//! it manages holds:
//!
//! ```text
//! DIR/agent.ckpt                            the latest (what `neorl train --out DIR`,
//!                                           `agents::load(DIR)` and a sweep continue from)
//! DIR/checkpoints/step-000020000/agent.ckpt a kept checkpoint (the last N, and the best)
//! DIR/best/agent.ckpt                       a copy of the best one (`neorl eval --agent DIR/best`)
//! DIR/checkpoints.json                      the index: every kept step, its file's SHA-256,
//!                                           its metric, which one is best, every evaluation
//! ```
//!
//! **The metric** is a number computed from the agent (by default the
//! normalized score of evaluation episodes: `experiments::scores::normalized_score_metric`);
//! higher is better, and a new value replaces the best only when it is
//! strictly greater (so of equal scores the earliest is kept; NaN is never
//! best). This module does not evaluate: the metric is a closure handed in
//! from above, as `agents` sits below `eval` (ARCHITECTURE.md).
//!
//! **Order of the writes** at a boundary (every write is a temporary file
//! and a rename, so each file is whole or absent):
//!
//! 1. `checkpoints/step-S/agent.ckpt`;
//! 2. `agent.ckpt`, a copy of it;
//! 3. `checkpoints.json`, naming the new entry (and it as best);
//! 4. `best/agent.ckpt`, a copy of the best entry, when that changed;
//! 5. the files of entries the index no longer names are deleted.
//!
//! So the index never names a file that is not whole. A crash between 1
//! and 3 leaves a step folder the index does not name; [`CheckpointManager::open`]
//! adopts it (its metric unknown). A crash between 3 and 4 leaves
//! `best/agent.ckpt` older than the index says; `open` sees the SHA-256
//! differ and copies the best entry again. Pruning deletes only
//! `checkpoints/step-…/agent.ckpt` files (and then their folder, if empty):
//! nothing a user put into `DIR` is touched.
//!
//! **Resume** ([`load_latest`], used by [`super::resume_or_build`]) reads
//! `DIR/agent.ckpt`; if that file is corrupt it warns, naming the file, and
//! continues from the newest kept checkpoint that loads. A run killed at any
//! moment therefore loses at most K steps: the latest checkpoint is never
//! more than K updates behind the agent.

use super::agent::{Agent, StepObserver, TrainSummary, train_loop_observed};
use super::checkpoint::FILE_NAME;
use super::device::Device;
use super::load;
use crate::data::BatchSource;
use crate::error::{Error, Result};
use crate::progress::Progress;
use neorl_plant::display::{Cell, Html, Table, num};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The index's file name inside a managed folder.
pub const INDEX_FILE: &str = "checkpoints.json";
/// The folder of kept checkpoints.
pub const KEPT_DIR: &str = "checkpoints";
/// The folder of the best checkpoint's copy.
pub const BEST_DIR: &str = "best";
/// Format of the index.
const INDEX_FORMAT: u32 = 1;

/// When to save and what to keep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointPlan {
    /// Save every this many steps (`None`: at the end of each `train` call
    /// only). A run killed at any moment loses at most this many steps.
    pub save_every: Option<u64>,
    /// Kept checkpoints besides the best: the newest this many (at least 1).
    pub keep_last: usize,
    /// Compute the metric every this many steps (and at none without it).
    pub eval_every: Option<u64>,
    /// Keep the checkpoint of the highest metric (needs `eval_every`).
    pub keep_best: bool,
}

impl Default for CheckpointPlan {
    fn default() -> Self {
        CheckpointPlan {
            save_every: None,
            keep_last: 1,
            eval_every: None,
            keep_best: false,
        }
    }
}

impl CheckpointPlan {
    /// Save every `k` steps, keeping the last one.
    pub fn every(k: u64) -> Self {
        CheckpointPlan {
            save_every: Some(k),
            ..Default::default()
        }
    }

    /// Keep the newest `n` checkpoints.
    pub fn keep_last(mut self, n: usize) -> Self {
        self.keep_last = n;
        self
    }

    /// Compute the metric every `m` steps and keep the best checkpoint.
    pub fn keep_best(mut self, m: u64) -> Self {
        self.eval_every = Some(m);
        self.keep_best = true;
        self
    }

    /// Every field in its range, or an error naming it (with the CLI flag).
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::InvalidArgument(m.into()));
        if self.save_every == Some(0) {
            return bad("save_every (--save-every) is 0; save every 1 or more steps");
        }
        if self.keep_last == 0 {
            return bad(
                "keep_last (--keep-last) is 0; keep at least 1 checkpoint (the latest is what a run resumes from)",
            );
        }
        if self.eval_every == Some(0) {
            return bad("eval_every (--eval-every) is 0; evaluate every 1 or more steps");
        }
        if self.keep_best && self.eval_every.is_none() {
            return bad(
                "keep_best (--keep-best) needs eval_every (--eval-every M): the best is chosen among evaluations",
            );
        }
        Ok(())
    }
}

/// One kept checkpoint, as the index records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub step: u64,
    /// Relative to the managed folder.
    pub path: PathBuf,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// The metric at this step, when it was computed here.
    pub metric: Option<f64>,
}

/// `DIR/checkpoints.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Index {
    format: u32,
    /// The metric's name (`normalized_score`); higher is better.
    metric: Option<String>,
    /// Oldest first.
    entries: Vec<Entry>,
    /// The step of the best entry.
    best: Option<u64>,
    /// Every evaluation: (step, metric).
    evaluations: Vec<(u64, Option<f64>)>,
}

/// What a [`Metric`] computes: a number from the agent.
type MetricFn = dyn FnMut(&dyn Agent) -> Result<f64> + Send;

/// A number computed from the agent, higher is better (see the module docs).
pub struct Metric {
    pub name: String,
    f: Box<MetricFn>,
}

impl Metric {
    pub fn new(
        name: impl Into<String>,
        f: impl FnMut(&dyn Agent) -> Result<f64> + Send + 'static,
    ) -> Self {
        Metric {
            name: name.into(),
            f: Box::new(f),
        }
    }
}

impl std::fmt::Debug for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Metric({:?})", self.name)
    }
}

/// Saves, keeps and prunes the checkpoints of one folder (see the module docs).
///
/// ```no_run
/// use neorl::agents::*;
/// use neorl::experiments::scores::normalized_score_metric;
/// let data = neorl::data::open("ChemicalReactor-medium-v0", Some(20_000))?;
/// let spec = neorl::make("ChemicalReactor-v0")?.spec().clone();
/// let mut agent = Td3Bc::new(&spec, Td3BcConfig::default(), &Device::default())?;
/// let plan = CheckpointPlan::every(1_000).keep_last(3).keep_best(5_000);
/// let mut ckpts = CheckpointManager::open("runs/td3bc", plan)?
///     .with_metric(normalized_score_metric("ChemicalReactor-v0", 10, 10_000)?);
/// ckpts.train(&mut agent, &data, 20_000)?;
/// ckpts // a table of the kept checkpoints in a notebook
/// # ; Ok::<(), neorl::Error>(())
/// ```
#[derive(Debug)]
pub struct CheckpointManager {
    dir: PathBuf,
    plan: CheckpointPlan,
    index: Index,
    metric: Option<Metric>,
}

impl CheckpointManager {
    /// Manage `dir` with `plan`: read its index if it has one, adopt kept
    /// checkpoints the index does not name (a crash before the index was
    /// written), forget entries whose file is gone, and copy the best entry
    /// to `best/` again if that copy is not the one the index names.
    pub fn open(dir: impl AsRef<Path>, plan: CheckpointPlan) -> Result<Self> {
        plan.validate()?;
        let dir = dir.as_ref().to_path_buf();
        let path = dir.join(INDEX_FILE);
        let mut index = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice::<Index>(&bytes).map_err(|e| {
                Error::InvalidArgument(format!(
                    "{} is damaged ({e}); delete it and it is rebuilt from {}",
                    path.display(),
                    dir.join(KEPT_DIR).display()
                ))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Index::default(),
            Err(e) => return Err(Error::io(&path, e)),
        };
        index.format = INDEX_FORMAT;
        // Only `checkpoints/step-N/agent.ckpt` entries whose file is there:
        // an edited index cannot point pruning at another file.
        index
            .entries
            .retain(|e| is_kept_path(&e.path) && dir.join(&e.path).is_file());
        for (step, rel) in kept_on_disk(&dir)? {
            if !index.entries.iter().any(|e| e.step == step) {
                let sha256 = sha256_file(&dir.join(&rel))?;
                index.entries.push(Entry {
                    step,
                    path: rel,
                    sha256,
                    metric: None,
                });
            }
        }
        index.entries.sort_by_key(|e| e.step);
        if index
            .best
            .is_some_and(|b| !index.entries.iter().any(|e| e.step == b))
        {
            index.best = None;
        }
        let m = CheckpointManager {
            dir,
            plan,
            index,
            metric: None,
        };
        if let Some(best) = m.best() {
            let copy = m.dir.join(BEST_DIR).join(FILE_NAME);
            if !copy.is_file() || sha256_file(&copy)? != best.sha256 {
                copy_atomic(&m.dir.join(&best.path), &copy)?;
            }
        }
        Ok(m)
    }

    /// The metric to compute every `eval_every` steps.
    pub fn with_metric(mut self, metric: Metric) -> Self {
        self.index.metric = Some(metric.name.clone());
        self.metric = Some(metric);
        self
    }

    /// The name of the metric a caller computes itself and hands to
    /// [`CheckpointManager::save`] (as the sweep worker does).
    pub fn with_metric_name(mut self, name: &str) -> Self {
        self.index.metric = Some(name.to_string());
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn plan(&self) -> &CheckpointPlan {
        &self.plan
    }

    /// The kept checkpoints, oldest first.
    pub fn entries(&self) -> &[Entry] {
        &self.index.entries
    }

    /// The kept checkpoint of the highest metric.
    pub fn best(&self) -> Option<&Entry> {
        let b = self.index.best?;
        self.index.entries.iter().find(|e| e.step == b)
    }

    /// Every evaluation so far: (step, metric; `None` where it was not finite).
    pub fn evaluations(&self) -> &[(u64, Option<f64>)] {
        &self.index.evaluations
    }

    /// Train `agent` `steps` more updates on `data`, saving and evaluating
    /// as the plan says; progress on stderr.
    pub fn train(
        &mut self,
        agent: &mut dyn Agent,
        data: &dyn BatchSource,
        steps: u64,
    ) -> Result<TrainSummary> {
        self.train_observed(agent, data, steps, true, &mut |_, _| Ok(()))
    }

    /// As [`CheckpointManager::train`], calling `observer(step, metrics)`
    /// after every update (as [`train_loop_observed`] does). Training runs
    /// in pieces that end at every save and evaluation boundary; the pieces
    /// give the same bits as one call (the loop continues from the agent's
    /// whole state).
    pub fn train_observed(
        &mut self,
        agent: &mut dyn Agent,
        data: &dyn BatchSource,
        steps: u64,
        progress: bool,
        observer: &mut StepObserver<'_>,
    ) -> Result<TrainSummary> {
        if self.plan.eval_every.is_some() && self.metric.is_none() {
            return Err(Error::InvalidArgument(
                "the checkpoint plan evaluates (eval_every) but the manager has no metric; add one with `.with_metric(…)`".into(),
            ));
        }
        let started = std::time::Instant::now();
        let label = format!("{} training", agent.algo());
        let mut bar = match progress {
            true => Progress::new(label, steps),
            false => Progress::off(label, steps),
        };
        let end = agent.steps_done().saturating_add(steps);
        let next = |done: u64, every: Option<u64>| every.map_or(end, |k| (done / k + 1) * k);
        while agent.steps_done() < end {
            let done = agent.steps_done();
            let to = next(done, self.plan.save_every)
                .min(next(done, self.plan.eval_every))
                .min(end);
            train_loop_observed(agent, data, to - done, false, &mut |s, m| {
                bar.inc(1);
                observer(s, m)
            })?;
            let step = agent.steps_done();
            let value = match (&mut self.metric, self.plan.eval_every) {
                (Some(metric), Some(m)) if step.is_multiple_of(m) => Some((metric.f)(agent)?),
                _ => None,
            };
            let save = step == end || self.plan.save_every.is_some_and(|k| step.is_multiple_of(k));
            self.boundary(agent, save, value)?;
        }
        bar.finish();
        Ok(TrainSummary {
            steps,
            total_steps: agent.steps_done(),
            seconds: started.elapsed().as_secs_f64(),
            final_metrics: agent.history().recent_means(100),
        })
    }

    /// Save `agent` now, with its `metric` if it was just computed (what a
    /// caller that trains and evaluates by itself, such as the sweep
    /// worker, calls at its boundaries).
    pub fn save(&mut self, agent: &dyn Agent, metric: Option<f64>) -> Result<()> {
        self.boundary(agent, true, metric)
    }

    /// One boundary: record the evaluation, write what is due in the order
    /// of the module docs, prune.
    fn boundary(&mut self, agent: &dyn Agent, save: bool, value: Option<f64>) -> Result<()> {
        let step = agent.steps_done();
        // An evaluation that was not finite is recorded as `None`.
        let evaluated = value.is_some();
        let value = value.filter(|v| v.is_finite());
        let mut new_best = false;
        if evaluated {
            self.index.evaluations.retain(|(s, _)| *s != step);
            self.index.evaluations.push((step, value));
        }
        if let Some(v) = value
            && self.plan.keep_best
        {
            new_best = self.best().and_then(|b| b.metric).is_none_or(|b| v > b);
        }
        if !save && !new_best {
            return self.write_index();
        }
        // 1. The kept checkpoint; 2. the latest, a copy of it.
        let rel = Path::new(KEPT_DIR).join(format!("step-{step:09}"));
        agent.save_checkpoint(&self.dir.join(&rel))?;
        let rel = rel.join(FILE_NAME);
        let file = self.dir.join(&rel);
        copy_atomic(&file, &self.dir.join(FILE_NAME))?;
        let entry = Entry {
            step,
            path: rel,
            sha256: sha256_file(&file)?,
            metric: value,
        };
        self.index.entries.retain(|e| e.step != step);
        self.index.entries.push(entry);
        self.index.entries.sort_by_key(|e| e.step);
        if new_best {
            self.index.best = Some(step);
        }
        // 3. The index, without the entries pruned.
        let n = self.index.entries.len();
        let (mut keep, mut drop) = (vec![], vec![]);
        for (i, e) in std::mem::take(&mut self.index.entries)
            .into_iter()
            .enumerate()
        {
            match i + self.plan.keep_last >= n || Some(e.step) == self.index.best {
                true => keep.push(e),
                false => drop.push(e),
            }
        }
        self.index.entries = keep;
        self.write_index()?;
        // 4. The best's copy.
        if new_best {
            copy_atomic(&file, &self.dir.join(BEST_DIR).join(FILE_NAME))?;
        }
        // 5. Only the files the dropped entries name, then their folders if empty.
        for e in drop.iter().filter(|e| is_kept_path(&e.path)) {
            let f = self.dir.join(&e.path);
            std::fs::remove_file(&f).map_err(|err| Error::io(&f, err))?;
            if let Some(parent) = f.parent() {
                let _ = std::fs::remove_dir(parent);
            }
        }
        Ok(())
    }

    fn write_index(&self) -> Result<()> {
        let text = serde_json::to_vec_pretty(&self.index).map_err(|source| Error::Json {
            context: "the checkpoint index".into(),
            source,
        })?;
        write_atomic(&self.dir.join(INDEX_FILE), &text)
    }

    /// The kept checkpoints as a table: step, metric, which is latest and best, file.
    pub fn table(&self) -> Table {
        let metric = self.index.metric.as_deref().unwrap_or("metric");
        let mut t = Table::new(&["step", metric, "kept as", "file", "sha256"]);
        let latest = self.index.entries.last().map(|e| e.step);
        for e in self.index.entries.iter().rev() {
            let mut role = vec![];
            if Some(e.step) == latest {
                role.push("latest");
            }
            if Some(e.step) == self.index.best {
                role.push("best");
            }
            t.push(vec![
                Cell::from(e.step.to_string()),
                e.metric.map_or_else(|| "—".to_string(), num).into(),
                role.join(", ").into(),
                e.path.display().to_string().into(),
                e.sha256.get(..12).unwrap_or_default().into(),
            ]);
        }
        t
    }

    pub(crate) fn rich(&self) -> Html {
        let mut h = Html::titled(&format!("Checkpoints in {}", self.dir.display()));
        let p = &self.plan;
        let every = |e: Option<u64>| e.map_or("at the end".into(), |k| format!("every {k} steps"));
        let best = match p.keep_best {
            true => format!(
                ", the best by {} (higher is better)",
                self.index.metric.as_deref().unwrap_or("the metric")
            ),
            false => String::new(),
        };
        h.para(&format!(
            "saved {}; keeps the last {}{best}",
            every(p.save_every),
            p.keep_last
        ));
        h.table(&self.table());
        h.finish()
    }
}

neorl_plant::rich_display!(CheckpointManager);

/// Load the agent to continue from in `dir`: `dir/agent.ckpt`, or, when
/// that file is corrupt, the newest kept checkpoint that loads, with a
/// warning on stderr naming the file that failed. Without a kept one, the
/// error of `dir/agent.ckpt`.
pub fn load_latest(dir: &Path, device: &Device) -> Result<Box<dyn Agent>> {
    let failed = match load(dir, device) {
        Ok(agent) => return Ok(agent),
        Err(e @ (Error::Checkpoint { .. } | Error::Io { .. })) => e,
        Err(e) => return Err(e),
    };
    let mut kept = kept_on_disk(dir)?;
    kept.sort_by_key(|(step, _)| std::cmp::Reverse(*step));
    for (step, rel) in kept {
        let file = dir.join(&rel);
        if let Ok(agent) = load(&file, device) {
            eprintln!(
                "warning: {} cannot be loaded ({failed}); continuing from the kept checkpoint {} (step {step})",
                dir.join(FILE_NAME).display(),
                file.display()
            );
            return Ok(agent);
        }
    }
    Err(failed)
}

/// `checkpoints/step-N/agent.ckpt` files in `dir`: (N, path relative to `dir`).
fn kept_on_disk(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let kept = dir.join(KEPT_DIR);
    let rd = match std::fs::read_dir(&kept) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(Error::io(&kept, e)),
    };
    let mut out = vec![];
    for item in rd {
        let item = item.map_err(|e| Error::io(&kept, e))?;
        let name = item.file_name();
        let Some(step) = name
            .to_str()
            .and_then(|n| n.strip_prefix("step-"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        let rel = Path::new(KEPT_DIR).join(&name).join(FILE_NAME);
        if dir.join(&rel).is_file() {
            out.push((step, rel));
        }
    }
    Ok(out)
}

/// Whether `rel` is a kept checkpoint's path: `checkpoints/step-N/agent.ckpt`.
fn is_kept_path(rel: &Path) -> bool {
    use std::path::Component::Normal;
    let parts: Vec<_> = rel.components().collect();
    match parts.as_slice() {
        [Normal(a), Normal(b), Normal(c)] => {
            *a == KEPT_DIR
                && *c == FILE_NAME
                && b.to_str()
                    .and_then(|b| b.strip_prefix("step-"))
                    .is_some_and(|n| n.parse::<u64>().is_ok())
        }
        _ => false,
    }
}

/// SHA-256 of a file, hex.
fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match f.read(&mut buf).map_err(|e| Error::io(path, e))? {
            0 => break,
            n => h.update(&buf[..n]),
        }
    }
    Ok(format!("{:x}", h.finalize()))
}

/// Write `bytes` to `path` through a synced temporary file and a rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!("{name}.tmp-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

/// Copy `from` to `to` atomically.
fn copy_atomic(from: &Path, to: &Path) -> Result<()> {
    let bytes = std::fs::read(from).map_err(|e| Error::io(from, e))?;
    write_atomic(to, &bytes)
}
