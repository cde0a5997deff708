//! The local store: MLflow's file-store layout (`mlruns/`), written
//! directly, read by MLflow's own UI and Python client.
//!
//! Layout (as `mlflow.store.tracking.file_store.FileStore` writes it):
//!
//! ```text
//! mlruns/
//!   0/meta.yaml                          the "Default" experiment
//!   <experiment id>/meta.yaml            name, artifact_location, times, lifecycle_stage
//!   <experiment id>/<run id>/meta.yaml   run_id, run_name, status (1 running … 5 killed), times
//!   <experiment id>/<run id>/params/<key>    the value
//!   <experiment id>/<run id>/metrics/<key>   one line per point: "<timestamp ms> <value> <step>"
//!   <experiment id>/<run id>/tags/<key>      the value
//!   <experiment id>/<run id>/artifacts/…     the files
//!   .trash/                              deleted experiments
//!   .neorl-run-<run id>.lock             neorl: held while a run of a live process is open
//! ```
//!
//! Keys with `/` become sub-folders, as in MLflow. MLflow ≥ 3.13 reads a
//! file store only with `MLFLOW_ALLOW_FILE_STORE=true` (the store is in
//! "maintenance mode": its format no longer changes); `mlflow
//! migrate-filestore` moves it into a database when a team wants one.
//!
//! Liveness: the process that owns a running run holds an exclusive lock on
//! its `.neorl-run-<id>.lock` file; the OS drops the lock when the process
//! dies, however it dies (SIGKILL included), so [`FileStore::reap_stale`]
//! finds runs left `RUNNING` by a dead process and marks them `KILLED`.

use super::record::{Metric, Pair, Record, Status, check_key, now_ms};
use super::yaml::{self, Scalar, quote};
use super::{RunData, random_hex};
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// An MLflow file store rooted at a folder.
#[derive(Debug, Clone)]
pub struct FileStore {
    root: PathBuf,
}

/// An open run of this process in a [`FileStore`].
#[derive(Debug)]
pub struct LocalRun {
    pub experiment_id: String,
    pub run_id: String,
    dir: PathBuf,
    lock_path: PathBuf,
    /// Held for the life of the run (see the module docs).
    _lock: File,
}

/// An experiment's id and name.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ExperimentInfo {
    pub experiment_id: String,
    pub name: String,
}

const LOCK_PREFIX: &str = ".neorl-run-";

impl FileStore {
    /// Open (and create when missing, with its Default experiment) the
    /// store at `root`.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        fs::create_dir_all(root).map_err(|e| store_err(root, "cannot create it", e))?;
        let root = fs::canonicalize(root).map_err(|e| Error::io(root, e))?;
        let store = FileStore { root };
        mkdir(&store.root.join(".trash"))?;
        if !store.root.join("0").join("meta.yaml").exists() {
            store.write_experiment_meta("0", "Default", now_ms())?;
        }
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `file:///…/mlruns`, the tracking URI MLflow's tools take.
    pub fn uri(&self) -> String {
        file_uri(&self.root)
    }

    /// Every active experiment (folders with a readable `meta.yaml`).
    pub fn experiments(&self) -> Result<Vec<ExperimentInfo>> {
        let mut out = vec![];
        for entry in fs::read_dir(&self.root).map_err(|e| Error::io(&self.root, e))? {
            let entry = entry.map_err(|e| Error::io(&self.root, e))?;
            let name = entry.file_name().to_string_lossy().to_string();
            if !entry.path().is_dir() || name.starts_with('.') {
                continue;
            }
            let Ok(text) = fs::read_to_string(entry.path().join("meta.yaml")) else {
                continue;
            };
            let m = yaml::parse(&text);
            if m.get("lifecycle_stage").and_then(Scalar::as_str) == Some("deleted") {
                continue;
            }
            if let Some(n) = m.get("name").and_then(Scalar::text) {
                out.push(ExperimentInfo {
                    experiment_id: name,
                    name: n,
                });
            }
        }
        out.sort_by(|a, b| a.experiment_id.cmp(&b.experiment_id));
        Ok(out)
    }

    /// The id of experiment `name`, created when missing if `create`.
    pub fn experiment_id(&self, name: &str, create: bool) -> Result<Option<String>> {
        if name.trim().is_empty() {
            return Err(Error::InvalidArgument(
                "the experiment name is empty; pass --experiment NAME".into(),
            ));
        }
        // Serialise get-or-create between processes sharing the store.
        let lock_path = self.root.join(".neorl-experiments.lock");
        let lock = File::create(&lock_path).map_err(|e| Error::io(&lock_path, e))?;
        lock.lock().map_err(|e| Error::io(&lock_path, e))?;
        if let Some(e) = self.experiments()?.into_iter().find(|e| e.name == name) {
            return Ok(Some(e.experiment_id));
        }
        if !create {
            return Ok(None);
        }
        // MLflow's file store uses random 18-digit ids.
        let id = loop {
            let hex = random_hex(8);
            let n = u64::from_str_radix(&hex, 16).unwrap_or(1) % 900_000_000_000_000_000
                + 100_000_000_000_000_000;
            if !self.root.join(n.to_string()).exists() {
                break n.to_string();
            }
        };
        self.write_experiment_meta(&id, name, now_ms())?;
        Ok(Some(id))
    }

    fn write_experiment_meta(&self, id: &str, name: &str, time: i64) -> Result<()> {
        let dir = self.root.join(id);
        mkdir(&dir)?;
        let meta = format!(
            "artifact_location: {}\ncreation_time: {time}\nexperiment_id: {}\nlast_update_time: {time}\nlifecycle_stage: active\nname: {}\n",
            quote(&file_uri(&dir)),
            quote(id),
            quote(name)
        );
        write_atomic(&dir.join("meta.yaml"), meta.as_bytes())
    }

    /// Start a run from its [`Record::Create`].
    pub fn create_run(&self, create: &Record) -> Result<LocalRun> {
        let Record::Create {
            experiment,
            run_name,
            start_time,
            user,
            tags,
        } = create
        else {
            return Err(Error::InvalidArgument(
                "a run starts with a Create record".into(),
            ));
        };
        let experiment_id = self
            .experiment_id(experiment, true)?
            .unwrap_or_else(|| "0".into());
        let run_id = random_hex(16);
        let dir = self.root.join(&experiment_id).join(&run_id);
        for sub in ["params", "metrics", "tags", "artifacts"] {
            mkdir(&dir.join(sub))?;
        }
        let lock_path = self.root.join(format!("{LOCK_PREFIX}{run_id}.lock"));
        let lock = create_locked(&lock_path, &format!("{experiment_id}\n"))?;
        let run = LocalRun {
            experiment_id,
            run_id,
            dir,
            lock_path,
            _lock: lock,
        };
        self.write_run_meta(&run, run_name, *start_time, None, Status::Running, user)?;
        let mut all_tags = vec![("mlflow.runName".to_string(), run_name.clone())];
        all_tags.extend(tags.iter().cloned());
        self.apply(
            &run,
            &Record::Batch {
                metrics: vec![],
                params: vec![],
                tags: all_tags,
            },
        )?;
        Ok(run)
    }

    #[allow(clippy::too_many_arguments)]
    fn write_run_meta(
        &self,
        run: &LocalRun,
        run_name: &str,
        start_time: i64,
        end_time: Option<i64>,
        status: Status,
        user: &str,
    ) -> Result<()> {
        let meta = format!(
            "artifact_uri: {}\nend_time: {}\nentry_point_name: ''\nexperiment_id: {}\nlifecycle_stage: active\nrun_id: {}\nrun_name: {}\nrun_uuid: {}\nsource_name: ''\nsource_type: 4\nsource_version: ''\nstart_time: {start_time}\nstatus: {}\ntags: []\nuser_id: {}\n",
            quote(&file_uri(&run.dir.join("artifacts"))),
            end_time.map_or("null".to_string(), |t| t.to_string()),
            quote(&run.experiment_id),
            run.run_id,
            quote(run_name),
            run.run_id,
            status.code(),
            quote(user),
        );
        write_atomic(&run.dir.join("meta.yaml"), meta.as_bytes())
    }

    /// Apply one record to a run of this process.
    pub fn apply(&self, run: &LocalRun, rec: &Record) -> Result<()> {
        match rec {
            Record::Create { .. } => Err(Error::InvalidArgument(
                "the run exists already; a Create record comes first only".into(),
            )),
            Record::Batch {
                metrics,
                params,
                tags,
            } => {
                for (k, v) in params {
                    write_param(&run.dir, k, v)?;
                }
                for (k, v) in tags {
                    check_key("tag", k)?;
                    let p = key_path(&run.dir.join("tags"), k);
                    write_atomic(&p, v.as_bytes())?;
                }
                append_metrics(&run.dir, metrics)
            }
            Record::Artifact { file, dest } => {
                let to = key_path(&run.dir.join("artifacts"), dest);
                if let Some(parent) = to.parent() {
                    mkdir(parent)?;
                }
                fs::copy(file, &to).map_err(|e| Error::io(Path::new(file), e))?;
                Ok(())
            }
            Record::End { status, end_time } => {
                let m = self.run_meta(&run.dir)?;
                let name = m.get("run_name").and_then(Scalar::text).unwrap_or_default();
                let start = m.get("start_time").and_then(Scalar::as_i64).unwrap_or(0);
                let user = m.get("user_id").and_then(Scalar::text).unwrap_or_default();
                self.write_run_meta(run, &name, start, Some(*end_time), *status, &user)
            }
        }
    }

    /// Release the run's lock file (after its End record).
    pub fn close(&self, run: LocalRun) {
        let _ = fs::remove_file(&run.lock_path);
    }

    fn run_meta(&self, dir: &Path) -> Result<BTreeMap<String, Scalar>> {
        let p = dir.join("meta.yaml");
        Ok(yaml::parse(
            &fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?,
        ))
    }

    /// Mark runs left `RUNNING` by processes that died `KILLED` (end time:
    /// their last write). Returns their ids.
    pub fn reap_stale(&self) -> Result<Vec<String>> {
        let mut reaped = vec![];
        let entries = fs::read_dir(&self.root).map_err(|e| Error::io(&self.root, e))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            let Some(run_id) = name
                .strip_prefix(LOCK_PREFIX)
                .and_then(|s| s.strip_suffix(".lock"))
            else {
                continue;
            };
            let path = entry.path();
            let Ok(lock) = OpenOptions::new().read(true).write(true).open(&path) else {
                continue;
            };
            if lock.try_lock().is_err() {
                continue; // its process is alive
            }
            let exp = fs::read_to_string(&path).unwrap_or_default();
            let dir = self.root.join(exp.trim()).join(run_id);
            if let Ok(m) = self.run_meta(&dir)
                && m.get("status").and_then(Scalar::as_i64) == Some(Status::Running.code() as i64)
            {
                let run = LocalRun {
                    experiment_id: exp.trim().to_string(),
                    run_id: run_id.to_string(),
                    dir: dir.clone(),
                    lock_path: path.clone(),
                    _lock: lock,
                };
                let end_time = last_write_ms(&dir).unwrap_or_else(now_ms);
                self.apply(
                    &run,
                    &Record::End {
                        status: Status::Killed,
                        end_time,
                    },
                )?;
                reaped.push(run_id.to_string());
            }
            let _ = fs::remove_file(&path);
        }
        Ok(reaped)
    }

    /// One run, read back (params, tags, each metric's latest value).
    pub fn read_run(&self, experiment_id: &str, run_id: &str) -> Result<RunData> {
        let dir = self.root.join(experiment_id).join(run_id);
        let m = self.run_meta(&dir)?;
        let text = |k: &str| m.get(k).and_then(Scalar::text);
        let mut metrics = BTreeMap::new();
        for (key, path) in key_files(&dir.join("metrics"))? {
            if let Some(last) = read_metric_file(Path::new(&path), &key)?
                .into_iter()
                .max_by(|a, b| {
                    (a.step, a.timestamp)
                        .cmp(&(b.step, b.timestamp))
                        .then(a.value.total_cmp(&b.value))
                })
            {
                metrics.insert(key, last.value);
            }
        }
        let read_map = |sub: &str| -> Result<BTreeMap<String, String>> {
            key_files(&dir.join(sub))?
                .into_iter()
                .map(|(k, p)| Ok((k, fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?)))
                .collect()
        };
        Ok(RunData {
            run_id: run_id.to_string(),
            run_name: text("run_name").unwrap_or_default(),
            experiment_id: experiment_id.to_string(),
            status: m
                .get("status")
                .and_then(Scalar::as_i64)
                .and_then(Status::from_code)
                .map_or_else(|| "UNKNOWN".into(), |s| s.as_str().to_string()),
            start_time: m.get("start_time").and_then(Scalar::as_i64),
            end_time: m.get("end_time").and_then(Scalar::as_i64),
            artifact_uri: text("artifact_uri").unwrap_or_default(),
            params: read_map("params")?,
            tags: read_map("tags")?,
            metrics,
        })
    }

    /// Every run of an experiment, newest first.
    pub fn runs(&self, experiment_id: &str) -> Result<Vec<RunData>> {
        let dir = self.root.join(experiment_id);
        let mut out = vec![];
        for entry in fs::read_dir(&dir)
            .map_err(|e| Error::io(&dir, e))?
            .flatten()
        {
            if entry.path().join("meta.yaml").exists() {
                let id = entry.file_name().to_string_lossy().to_string();
                out.push(self.read_run(experiment_id, &id)?);
            }
        }
        out.sort_by_key(|r| std::cmp::Reverse(r.start_time));
        Ok(out)
    }

    /// Every point of one metric of a run, in logging order.
    pub fn metric_history(
        &self,
        experiment_id: &str,
        run_id: &str,
        key: &str,
    ) -> Result<Vec<Metric>> {
        let dir = self.root.join(experiment_id).join(run_id).join("metrics");
        let p = key_path(&dir, key);
        if !p.exists() {
            return Ok(vec![]);
        }
        read_metric_file(&p, key)
    }
}

fn write_param(run_dir: &Path, k: &str, v: &str) -> Result<()> {
    check_key("param", k)?;
    let p = key_path(&run_dir.join("params"), k);
    if let Ok(old) = fs::read_to_string(&p) {
        if old == v {
            return Ok(());
        }
        return Err(Error::InvalidArgument(format!(
            "param '{k}' was logged as '{old}' and cannot change to '{v}' (MLflow params are immutable); log it under another key or start a new run"
        )));
    }
    write_atomic(&p, v.as_bytes())
}

fn append_metrics(run_dir: &Path, metrics: &[Metric]) -> Result<()> {
    let mut by_key: BTreeMap<&str, String> = BTreeMap::new();
    for m in metrics {
        check_key("metric", &m.key)?;
        let line = by_key.entry(&m.key).or_default();
        // `{:?}` keeps every digit and uses exponents for extreme
        // magnitudes; Python's float() reads it, NaN and inf included.
        line.push_str(&format!("{} {:?} {}\n", m.timestamp, m.value, m.step));
    }
    for (key, lines) in by_key {
        let p = key_path(&run_dir.join("metrics"), key);
        if let Some(parent) = p.parent() {
            mkdir(parent)?;
        }
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&p)
            .map_err(|e| Error::io(&p, e))?;
        f.write_all(lines.as_bytes())
            .map_err(|e| Error::io(&p, e))?;
    }
    Ok(())
}

fn read_metric_file(path: &Path, key: &str) -> Result<Vec<Metric>> {
    let text = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut out = vec![];
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut it = line.split_whitespace();
        let (Some(ts), Some(v)) = (it.next(), it.next()) else {
            continue;
        };
        let value = match v {
            "nan" | "NaN" => f64::NAN,
            "inf" | "Infinity" => f64::INFINITY,
            "-inf" | "-Infinity" => f64::NEG_INFINITY,
            other => other.parse().unwrap_or(f64::NAN),
        };
        out.push(Metric {
            key: key.to_string(),
            value,
            timestamp: ts.parse().unwrap_or(0),
            step: it.next().and_then(|s| s.parse().ok()).unwrap_or(0),
        });
    }
    Ok(out)
}

/// `(key, path)` of every file under `dir`, keys `/`-joined.
fn key_files(dir: &Path) -> Result<Vec<Pair>> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, String)>) -> Result<()> {
        let Ok(entries) = fs::read_dir(dir) else {
            return Ok(());
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out)?;
            } else if let Ok(rel) = p.strip_prefix(base) {
                let key = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                if !key.ends_with(".tmp") {
                    out.push((key, p.to_string_lossy().to_string()));
                }
            }
        }
        Ok(())
    }
    let mut out = vec![];
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

fn key_path(base: &Path, key: &str) -> PathBuf {
    key.split('/')
        .fold(base.to_path_buf(), |p, part| p.join(part))
}

fn last_write_ms(dir: &Path) -> Option<i64> {
    fn newest(p: &Path, best: &mut Option<std::time::SystemTime>) {
        if let Ok(m) = fs::metadata(p) {
            if let Ok(t) = m.modified() {
                *best = Some(best.map_or(t, |b| b.max(t)));
            }
            if m.is_dir()
                && let Ok(entries) = fs::read_dir(p)
            {
                for e in entries.flatten() {
                    newest(&e.path(), best);
                }
            }
        }
    }
    let mut best = None;
    newest(dir, &mut best);
    best.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64)
}

/// Create `path` already locked (exclusive) and holding `content`: the file
/// is made and locked under a temporary name, then renamed, so no other
/// process ever sees it unlocked (and takes its owner for dead).
pub(crate) fn create_locked(path: &Path, content: &str) -> Result<File> {
    let tmp = path.with_extension(format!("{}.tmp", random_hex(4)));
    let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.lock().map_err(|e| Error::io(&tmp, e))?;
    f.write_all(content.as_bytes())
        .map_err(|e| Error::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    Ok(f)
}

/// `file://` URI of an absolute path.
pub fn file_uri(p: &Path) -> String {
    let s = p.to_string_lossy().replace('\\', "/");
    let s = s
        .replace('%', "%25")
        .replace(' ', "%20")
        .replace('#', "%23")
        .replace('?', "%3F");
    if s.starts_with('/') {
        format!("file://{s}")
    } else {
        format!("file:///{s}")
    }
}

pub(crate) fn mkdir(p: &Path) -> Result<()> {
    fs::create_dir_all(p).map_err(|e| Error::io(p, e))
}

/// Write through a temporary file and a rename, so readers never see half a file.
pub(crate) fn write_atomic(p: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = p.parent() {
        mkdir(parent)?;
    }
    let tmp = p.with_extension(format!("{}.tmp", random_hex(4)));
    fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    fs::rename(&tmp, p).map_err(|e| Error::io(p, e))
}

fn store_err(root: &Path, what: &str, e: std::io::Error) -> Error {
    Error::Tracking(format!(
        "local tracking store {}: {what} ({e}); set NEORL_TRACKING_DIR or --tracking-uri to a writable folder, or turn tracking off with --no-track / NEORL_TRACKING=off",
        root.display()
    ))
}
