//! Experiment tracking with MLflow: every `neorl train`, `neorl eval` and
//! `neorl quickstart` is recorded as an MLflow run, and notebooks use the
//! same [`Run`] API.
//!
//! Where runs go ([`Tracker::from_env`], the CLI's `--tracking-uri`,
//! `--experiment`, `--no-track`):
//!
//! - **nothing configured**: a local MLflow file store `./mlruns`
//!   (`NEORL_TRACKING_DIR` moves it). Browse it with
//!   `MLFLOW_ALLOW_FILE_STORE=true mlflow ui --backend-store-uri ./mlruns`
//!   (MLflow ≥ 3.13 opens a file store only with that variable set);
//!   MLflow's Python client reads it as `file:///abs/path/mlruns`.
//! - **`MLFLOW_TRACKING_URI=http(s)://host:port`** (or `--tracking-uri`): an
//!   MLflow tracking server, over its REST API. Records are journaled on
//!   disk first (`NEORL_SPOOL_DIR`, default `.neorl/spool`) and sent in the
//!   background, in `log-batch` requests, with retries and back-off: a
//!   server that is down or restarted loses nothing, and each metric point
//!   arrives once (see [`spool`]).
//! - **`NEORL_TRACKING=off`** (or `--no-track`): nothing is recorded.
//!
//! The experiment is `--experiment`, else `MLFLOW_EXPERIMENT_NAME`, else
//! `neorl`. A run dropped without [`Run::end`] (an error, a panic) ends
//! `FAILED`; a process killed outright (SIGKILL, Ctrl-C) cannot mark its run,
//! so the next tracked neorl process finds it through its released file lock
//! and marks it `KILLED`.
//!
//! ```no_run
//! use neorl::track::{Tracker, Status};
//! let tracker = Tracker::from_env()?;
//! let mut run = tracker.start_run("my-experiment-1")?;
//! run.log_param("lr", "3e-4")?;
//! for step in 0..100 {
//!     run.log_metric("loss", 1.0 / (step + 1) as f64, step)?;
//! }
//! run.end(Status::Finished)?;
//! let df = tracker.runs(None)?; // a Frame (a polars DataFrame shown as a table), one row per run
//! # Ok::<(), neorl::Error>(())
//! ```

pub mod filestore;
pub mod meta;
mod notebook;
pub mod record;
pub mod rest;
pub mod spool;
mod yaml;

pub use filestore::FileStore;
pub use record::{Metric, Record, Status};
pub use rest::RestClient;

use crate::error::{Error, Result};
use crate::viz::Figure;
use filestore::LocalRun;
use serde::Serialize;
use spool::Journal;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Default experiment name.
pub const DEFAULT_EXPERIMENT: &str = "neorl";
/// Default local store, relative to the working directory.
pub const DEFAULT_DIR: &str = "mlruns";
/// Default spool folder for a server, relative to the working directory.
pub const DEFAULT_SPOOL_DIR: &str = ".neorl/spool";

/// Metric points are sent (or written) in batches of at most this many…
const FLUSH_POINTS: usize = record::MAX_METRICS_PER_BATCH;
/// …or after this long, whichever comes first.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// Where runs are recorded.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Not at all.
    Off,
    /// A local MLflow file store in this folder.
    Local(PathBuf),
    /// An MLflow tracking server at this base URL.
    Server(String),
}

impl Target {
    /// Parse a tracking URI: `http(s)://…` (server), `file:…` or a plain
    /// path (local store).
    pub fn parse(uri: &str) -> Result<Target> {
        let uri = uri.trim();
        let lower = uri.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            if lower.starts_with("https://") && !cfg!(feature = "https") {
                return Err(Error::Tracking(format!(
                    "{uri}: this neorl was built without the `https` feature; rebuild with it (it is on by default) or use an http:// server"
                )));
            }
            return Ok(Target::Server(uri.trim_end_matches('/').to_string()));
        }
        if let Some(p) = uri.strip_prefix("file://") {
            // file:///abs/path or file://localhost/abs/path
            let p = p.strip_prefix("localhost").unwrap_or(p);
            return Ok(Target::Local(PathBuf::from(percent_decode(p))));
        }
        if let Some(p) = uri.strip_prefix("file:") {
            return Ok(Target::Local(PathBuf::from(percent_decode(p))));
        }
        let scheme = uri.split_once("://").map(|x| x.0).or_else(|| {
            uri.split_once(':')
                .map(|x| x.0)
                .filter(|s| s.len() > 1 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '+'))
        });
        if let Some(s) = scheme {
            return Err(Error::Tracking(format!(
                "tracking URI '{uri}': neorl records to an MLflow tracking server (http:// or https://) or to a local MLflow file store (a folder or file:// URI), not to '{s}' directly; for a database, run `mlflow server --backend-store-uri {uri}` and set MLFLOW_TRACKING_URI=http://127.0.0.1:5000"
            )));
        }
        if uri.is_empty() {
            return Err(Error::Tracking(
                "empty tracking URI; pass a folder, file:// or http(s):// URI".into(),
            ));
        }
        Ok(Target::Local(PathBuf::from(uri)))
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Tracking settings from the command line; unset fields fall back to the
/// environment (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct TrackingOptions {
    /// `--tracking-uri`
    pub uri: Option<String>,
    /// `--experiment`
    pub experiment: Option<String>,
    /// `--no-track`
    pub disabled: bool,
}

/// Where runs are recorded and under which experiment.
#[derive(Debug, Clone)]
pub struct Tracker {
    target: Target,
    experiment: String,
    spool_dir: PathBuf,
    store: Option<FileStore>,
    /// How long [`Run::end`] waits for a server to confirm everything.
    end_timeout: Duration,
    /// Spools of dead processes this tracker took over (server only).
    adopted: Vec<(String, spool::Shared)>,
}

impl Tracker {
    /// From the environment: `NEORL_TRACKING=off`, `MLFLOW_TRACKING_URI`,
    /// `NEORL_TRACKING_DIR`, `MLFLOW_EXPERIMENT_NAME`, `NEORL_SPOOL_DIR`.
    pub fn from_env() -> Result<Tracker> {
        Tracker::new(&TrackingOptions::default())
    }

    /// Command-line options over the environment.
    pub fn new(opts: &TrackingOptions) -> Result<Tracker> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let off = opts.disabled
            || env("NEORL_TRACKING").is_some_and(|v| {
                matches!(
                    v.trim().to_ascii_lowercase().as_str(),
                    "off" | "0" | "false" | "no" | "none"
                )
            });
        let target = if off {
            Target::Off
        } else if let Some(u) = opts.uri.clone().or_else(|| env("MLFLOW_TRACKING_URI")) {
            Target::parse(&u)?
        } else {
            Target::Local(PathBuf::from(
                env("NEORL_TRACKING_DIR").unwrap_or_else(|| DEFAULT_DIR.into()),
            ))
        };
        let experiment = opts
            .experiment
            .clone()
            .or_else(|| env("MLFLOW_EXPERIMENT_NAME"))
            .unwrap_or_else(|| DEFAULT_EXPERIMENT.into());
        let spool_dir =
            PathBuf::from(env("NEORL_SPOOL_DIR").unwrap_or_else(|| DEFAULT_SPOOL_DIR.into()));
        Tracker::with_target(target, &experiment, spool_dir)
    }

    /// A tracker for an explicit target.
    pub fn with_target(target: Target, experiment: &str, spool_dir: PathBuf) -> Result<Tracker> {
        if experiment.trim().is_empty() {
            return Err(Error::InvalidArgument(
                "the experiment name is empty; pass --experiment NAME".into(),
            ));
        }
        let mut adopted = vec![];
        let store = match &target {
            Target::Local(dir) => {
                let store = FileStore::open(dir)?;
                store.reap_stale()?;
                Some(store)
            }
            Target::Server(uri) => {
                adopted = spool::adopt_stale(&spool_dir, uri);
                None
            }
            Target::Off => None,
        };
        let end_timeout = std::env::var("NEORL_TRACKING_TIMEOUT")
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .unwrap_or(Duration::from_secs(10));
        Ok(Tracker {
            target,
            experiment: experiment.to_string(),
            spool_dir,
            store,
            end_timeout,
            adopted,
        })
    }

    /// A tracker that records nothing.
    pub fn off() -> Tracker {
        Tracker {
            target: Target::Off,
            experiment: DEFAULT_EXPERIMENT.into(),
            spool_dir: PathBuf::from(DEFAULT_SPOOL_DIR),
            store: None,
            end_timeout: Duration::ZERO,
            adopted: vec![],
        }
    }

    /// Wait (at most `timeout`) until the spools this tracker took over
    /// from dead processes are on the server; where each stands.
    pub fn sync(&self, timeout: Duration) -> Vec<spool::SyncReport> {
        spool::wait_all(&self.adopted, timeout)
    }

    /// The same tracker with another wait for the server at the end of a
    /// run (default `NEORL_TRACKING_TIMEOUT` seconds, else 10).
    pub fn with_end_timeout(mut self, timeout: Duration) -> Tracker {
        self.end_timeout = timeout;
        self
    }

    pub fn target(&self) -> &Target {
        &self.target
    }
    pub fn is_off(&self) -> bool {
        self.target == Target::Off
    }
    pub fn experiment(&self) -> &str {
        &self.experiment
    }
    pub fn spool_dir(&self) -> &Path {
        &self.spool_dir
    }

    /// The tracking URI MLflow's tools take (`file:///…/mlruns`, `http://…`).
    pub fn uri(&self) -> String {
        match (&self.target, &self.store) {
            (Target::Local(_), Some(s)) => s.uri(),
            (Target::Server(u), _) => u.clone(),
            _ => String::new(),
        }
    }

    /// The same tracker with another experiment.
    pub fn with_experiment(&self, experiment: &str) -> Tracker {
        Tracker {
            experiment: experiment.to_string(),
            ..self.clone()
        }
    }

    /// Start a run named `run_name` in this tracker's experiment, tagged
    /// with who, where and what started it (see [`meta`]).
    pub fn start_run(&self, run_name: &str) -> Result<Run> {
        let create = Record::Create {
            experiment: self.experiment.clone(),
            run_name: run_name.to_string(),
            start_time: record::now_ms(),
            user: meta::user(),
            tags: meta::run_tags(),
        };
        let mut info = RunInfo {
            run_id: None,
            experiment_id: None,
            experiment: self.experiment.clone(),
            run_name: run_name.to_string(),
            tracking_uri: self.uri(),
            client_run_id: random_hex(16),
            pending_records: 0,
        };
        let sink = match &self.target {
            Target::Off => Sink::Off,
            Target::Local(_) => {
                let store = self
                    .store
                    .clone()
                    .ok_or_else(|| Error::Tracking("local store not opened".into()))?;
                let run = store.create_run(&create)?;
                info.run_id = Some(run.run_id.clone());
                info.experiment_id = Some(run.experiment_id.clone());
                Sink::Local {
                    store,
                    run: Some(run),
                }
            }
            Target::Server(uri) => {
                let mut journal =
                    Journal::create(&self.spool_dir, &info.client_run_id, RestClient::new(uri))?;
                journal.append(&[create])?;
                let (run_id, exp) =
                    spool::wait_for_run_id(&journal.shared, Duration::from_secs(10));
                info.run_id = run_id;
                info.experiment_id = exp;
                Sink::Server { journal }
            }
        };
        let mut run = Run {
            sink,
            info,
            buffer: vec![],
            last_flush: Instant::now(),
            ended: None,
            artifacts: 0,
            end_timeout: self.end_timeout,
        };
        if self.is_off() {
            run.ended = Some(Status::Finished);
            return Ok(run);
        }
        run.log_params(&meta::run_params())?;
        Ok(run)
    }

    fn experiment_id_of(&self, experiment: &str) -> Result<Option<String>> {
        match (&self.target, &self.store) {
            (Target::Local(_), Some(s)) => s.experiment_id(experiment, false),
            (Target::Server(u), _) => RestClient::new(u)
                .experiment_id(experiment)
                .map_err(|e| server_err(u, e)),
            _ => Err(off_err()),
        }
    }

    /// Every run of `experiment` (default: this tracker's), newest first.
    pub fn run_list(&self, experiment: Option<&str>) -> Result<Vec<RunData>> {
        let name = experiment.unwrap_or(&self.experiment);
        let Some(id) = self.experiment_id_of(name)? else {
            return Err(Error::Tracking(format!(
                "no experiment '{name}' at {}; start a run in it first, or list experiments with `neorl track runs --experiment NAME`",
                self.uri()
            )));
        };
        match (&self.target, &self.store) {
            (Target::Local(_), Some(s)) => s.runs(&id),
            (Target::Server(u), _) => RestClient::new(u).runs(&id).map_err(|e| server_err(u, e)),
            _ => Err(off_err()),
        }
    }

    /// Every point of metric `key` of a run.
    pub fn metric_history(&self, run: &RunData, key: &str) -> Result<Vec<Metric>> {
        match (&self.target, &self.store) {
            (Target::Local(_), Some(s)) => s.metric_history(&run.experiment_id, &run.run_id, key),
            (Target::Server(u), _) => RestClient::new(u)
                .metric_history(&run.run_id, key)
                .map_err(|e| server_err(u, e)),
            _ => Err(off_err()),
        }
    }

    /// One line per run of `experiment`: metric `key` against the step.
    pub fn plot_metric(&self, experiment: Option<&str>, key: &str) -> Result<Figure> {
        notebook::plot_metric(self, experiment, key)
    }

    /// The runs of `experiment` as a polars DataFrame: `run_id`,
    /// `run_name`, `status`, `start_time`, `end_time` (ms since the epoch),
    /// `duration_s`, then `metrics.<key>` (latest value), `params.<key>`,
    /// `tags.<key>` — the columns of MLflow's `search_runs` — as a
    /// [`Frame`](crate::viz::Frame): an HTML table in a notebook, the
    /// `DataFrame` through `Deref`.
    #[cfg(feature = "frames")]
    pub fn runs(&self, experiment: Option<&str>) -> Result<crate::viz::Frame> {
        notebook::runs_frame(&self.run_list(experiment)?).map(crate::viz::Frame)
    }
}

/// Runs of an experiment as a [`Frame`](crate::viz::Frame) (a DataFrame
/// that shows as a table), with the tracker from the environment.
#[cfg(feature = "frames")]
pub fn runs(experiment: &str) -> Result<crate::viz::Frame> {
    Tracker::from_env()?.runs(Some(experiment))
}

/// A metric across the runs of an experiment, with the tracker from the environment.
pub fn plot_metric(experiment: &str, key: &str) -> Result<Figure> {
    Tracker::from_env()?.plot_metric(Some(experiment), key)
}

/// Start a run with the tracker from the environment.
pub fn start_run(run_name: &str) -> Result<Run> {
    Tracker::from_env()?.start_run(run_name)
}

fn off_err() -> Error {
    Error::Tracking("tracking is off (NEORL_TRACKING=off or --no-track)".into())
}

fn server_err(uri: &str, e: rest::RestError) -> Error {
    Error::Tracking(format!(
        "MLflow server {uri}: {e}{}",
        if e.transient {
            "; check that the server is running and reachable (MLFLOW_TRACKING_URI)"
        } else {
            ""
        }
    ))
}

/// One run as read back from a store or server.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunData {
    pub run_id: String,
    pub run_name: String,
    pub experiment_id: String,
    /// `RUNNING`, `FINISHED`, `FAILED`, `KILLED`, …
    pub status: String,
    /// Milliseconds since the Unix epoch.
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub artifact_uri: String,
    pub params: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    /// Latest value of each metric.
    pub metrics: BTreeMap<String, f64>,
}

/// Identity of a run, for reports (`"mlflow": {…}` in the CLI's JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunInfo {
    /// MLflow's run id; `None` while a server has not confirmed the run yet.
    pub run_id: Option<String>,
    pub experiment_id: Option<String>,
    pub experiment: String,
    pub run_name: String,
    pub tracking_uri: String,
    /// neorl's own id of the run (its spool files, tag `neorl.client_run_id`).
    pub client_run_id: String,
    /// Records not yet confirmed by the server when the run ended (they stay
    /// in the spool and are sent by the next tracked neorl process or
    /// `neorl track sync`).
    pub pending_records: u64,
}

enum Sink {
    Off,
    /// `run` is `None` once the run ended (its lock released).
    Local {
        store: FileStore,
        run: Option<LocalRun>,
    },
    Server {
        journal: Journal,
    },
}

/// An open MLflow run. Metric points are batched (1000 points or 1 s);
/// params and tags go out at once. Ends `FAILED` when dropped without
/// [`Run::end`].
pub struct Run {
    sink: Sink,
    info: RunInfo,
    buffer: Vec<Metric>,
    last_flush: Instant,
    ended: Option<Status>,
    artifacts: u64,
    end_timeout: Duration,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("info", &self.info)
            .field("ended", &self.ended)
            .finish()
    }
}

impl Run {
    /// A run that records nothing (tracking off).
    pub fn disabled() -> Run {
        Run {
            sink: Sink::Off,
            info: RunInfo {
                run_id: None,
                experiment_id: None,
                experiment: String::new(),
                run_name: String::new(),
                tracking_uri: String::new(),
                client_run_id: String::new(),
                pending_records: 0,
            },
            buffer: vec![],
            last_flush: Instant::now(),
            ended: Some(Status::Finished),
            artifacts: 0,
            end_timeout: Duration::ZERO,
        }
    }

    /// Whether this run records anything.
    pub fn is_enabled(&self) -> bool {
        !matches!(self.sink, Sink::Off)
    }

    /// Run id, experiment, tracking URI (`None` when tracking is off).
    pub fn info(&self) -> Option<RunInfo> {
        if !self.is_enabled() {
            return None;
        }
        let mut info = self.info.clone();
        if let Sink::Server { journal } = &self.sink {
            let p = journal.shared.0.lock().unwrap_or_else(|e| e.into_inner());
            if info.run_id.is_none() {
                info.run_id = p.run_id.clone();
                info.experiment_id = p.experiment_id.clone();
            }
            if self.ended.is_some() {
                info.pending_records = p.written.saturating_sub(p.acked);
            }
        }
        Some(info)
    }

    /// Records a server has not confirmed yet (0 for a local store, which
    /// is written at once).
    pub fn unsent(&self) -> u64 {
        match &self.sink {
            Sink::Server { journal } => {
                let p = journal.shared.0.lock().unwrap_or_else(|e| e.into_inner());
                p.written.saturating_sub(p.acked)
            }
            _ => 0,
        }
    }

    /// `{"run_id", "experiment_id", "tracking_uri", …}` or `null` when off.
    pub fn info_json(&self) -> serde_json::Value {
        self.info()
            .and_then(|i| serde_json::to_value(i).ok())
            .unwrap_or(serde_json::Value::Null)
    }

    fn check_open(&self) -> Result<()> {
        match self.ended {
            Some(s) if self.is_enabled() => Err(Error::Tracking(format!(
                "run '{}' has ended ({s}); start a new run to log more",
                self.info.run_name
            ))),
            _ => Ok(()),
        }
    }

    fn write(&mut self, recs: Vec<Record>) -> Result<()> {
        if recs.is_empty() {
            return Ok(());
        }
        self.check_open()?;
        match &mut self.sink {
            Sink::Off => Ok(()),
            Sink::Local { store, run } => match run {
                Some(run) => recs.iter().try_for_each(|r| store.apply(run, r)),
                None => Err(Error::Tracking("the run has ended".into())),
            },
            Sink::Server { journal } => journal.append(&recs),
        }
    }

    /// Log a param (immutable in MLflow: the same key with another value is an error).
    pub fn log_param(&mut self, key: &str, value: &str) -> Result<()> {
        self.log_params(&[(key.to_string(), value.to_string())])
    }

    /// Log several params.
    pub fn log_params(&mut self, params: &[(String, String)]) -> Result<()> {
        if !self.is_enabled() {
            return Ok(());
        }
        let mut ps = vec![];
        for (k, v) in params {
            record::check_key("param", k)?;
            ps.push((k.clone(), record::param_value(v)));
        }
        self.write(record::batches(ps, vec![]))
    }

    /// Log a JSON value (an agent config, …) flattened into params
    /// `prefix.key.subkey` (see [`record::flatten_params`]).
    pub fn log_params_json(&mut self, prefix: &str, value: &serde_json::Value) -> Result<()> {
        let mut ps = vec![];
        record::flatten_params(prefix, value, &mut ps);
        self.log_params(&ps)
    }

    /// Set a tag (tags can change).
    pub fn set_tag(&mut self, key: &str, value: &str) -> Result<()> {
        if !self.is_enabled() {
            return Ok(());
        }
        record::check_key("tag", key)?;
        self.write(record::batches(
            vec![],
            vec![(key.to_string(), record::tag_value(value))],
        ))
    }

    /// Log one metric point at `step`.
    pub fn log_metric(&mut self, key: &str, value: f64, step: i64) -> Result<()> {
        if !self.is_enabled() {
            return Ok(());
        }
        self.check_open()?;
        record::check_key("metric", key)?;
        self.buffer.push(Metric {
            key: key.to_string(),
            value,
            timestamp: record::now_ms(),
            step,
        });
        self.maybe_flush()
    }

    /// Log named values at `step` (the shape of the agents' per-step
    /// metrics; use as the training loop's observer).
    pub fn log_metrics(&mut self, step: u64, metrics: &[(&str, f32)]) -> Result<()> {
        if !self.is_enabled() {
            return Ok(());
        }
        self.check_open()?;
        let ts = record::now_ms();
        for (k, v) in metrics {
            record::check_key("metric", k)?;
            self.buffer.push(Metric {
                key: (*k).to_string(),
                value: *v as f64,
                timestamp: ts,
                step: step as i64,
            });
        }
        self.maybe_flush()
    }

    fn maybe_flush(&mut self) -> Result<()> {
        if self.buffer.len() >= FLUSH_POINTS || self.last_flush.elapsed() >= FLUSH_EVERY {
            self.flush()?;
        }
        Ok(())
    }

    /// Write out the buffered metric points now.
    pub fn flush(&mut self) -> Result<()> {
        self.last_flush = Instant::now();
        if self.buffer.is_empty() {
            return Ok(());
        }
        let points = std::mem::take(&mut self.buffer);
        let recs = points
            .chunks(FLUSH_POINTS)
            .map(|c| Record::Batch {
                metrics: c.to_vec(),
                params: vec![],
                tags: vec![],
            })
            .collect();
        self.write(recs)
    }

    /// Store a file, or a folder with everything in it, as artifacts under
    /// `artifact_dir` (`""`: the root) with its own name.
    pub fn log_artifact(&mut self, path: impl AsRef<Path>, artifact_dir: &str) -> Result<()> {
        if !self.is_enabled() {
            return Ok(());
        }
        let path = path.as_ref();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .ok_or_else(|| {
                Error::InvalidArgument(format!("{}: not a file or folder name", path.display()))
            })?;
        let dest = join_dest(artifact_dir, &name);
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if meta.is_dir() {
            let mut files = vec![];
            collect_files(path, path, &mut files)?;
            files.sort();
            for (rel, full) in files {
                self.log_artifact_as(&full, &join_dest(&dest, &rel))?;
            }
            Ok(())
        } else {
            self.log_artifact_as(path, &dest)
        }
    }

    /// Store one file as the artifact `dest` (a `/`-separated relative path).
    pub fn log_artifact_as(&mut self, file: impl AsRef<Path>, dest: &str) -> Result<()> {
        let file = file.as_ref();
        if !self.is_enabled() {
            return Ok(());
        }
        if dest.is_empty() || dest.starts_with('/') || dest.split('/').any(|p| p == "..") {
            return Err(Error::InvalidArgument(format!(
                "artifact path '{dest}' must be relative, without '..'"
            )));
        }
        let rec = match &self.sink {
            Sink::Server { journal } => {
                // Keep a copy: the original may change before the upload.
                self.artifacts += 1;
                let base = dest.rsplit('/').next().unwrap_or("file");
                let copy = journal
                    .files
                    .files
                    .join(format!("{:05}-{base}", self.artifacts));
                filestore::mkdir(&journal.files.files)?;
                std::fs::copy(file, &copy).map_err(|e| Error::io(file, e))?;
                Record::Artifact {
                    file: copy.to_string_lossy().to_string(),
                    dest: dest.to_string(),
                }
            }
            _ => match file.to_str() {
                Some(f) => Record::Artifact {
                    file: f.to_string(),
                    dest: dest.to_string(),
                },
                // Records name their file as text; a path that is not UTF-8
                // is copied to one that is, which the store then copies.
                None => {
                    return self.log_through_temp(dest, |tmp| {
                        std::fs::copy(file, tmp)
                            .map(|_| ())
                            .map_err(|e| Error::io(file, e))
                    });
                }
            },
        };
        self.write(vec![rec])
    }

    /// Store `text` as the artifact `dest`.
    pub fn log_text(&mut self, text: &str, dest: &str) -> Result<()> {
        if !self.is_enabled() {
            return Ok(());
        }
        self.log_through_temp(dest, |tmp| {
            std::fs::write(tmp, text).map_err(|e| Error::io(tmp, e))
        })
    }

    /// Store as the artifact `dest` a file that `fill` writes at the given
    /// path in a fresh temporary folder, removed afterwards (a local store
    /// copied the file; a server run copied it into its spool). The folder
    /// must be UTF-8: records name their files as text.
    fn log_through_temp(
        &mut self,
        dest: &str,
        fill: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<()> {
        let dir = std::env::temp_dir().join(format!("neorl-artifact-{}", random_hex(8)));
        if dir.to_str().is_none() {
            return Err(Error::Tracking(format!(
                "cannot store the artifact {dest}: the temporary folder {} is not UTF-8, and artifact records name their files as text; set TMPDIR to a UTF-8 path",
                dir.display()
            )));
        }
        filestore::mkdir(&dir)?;
        let tmp = dir.join(dest.rsplit('/').next().unwrap_or("artifact"));
        let r = fill(&tmp).and_then(|()| self.log_artifact_as(&tmp, dest));
        let _ = std::fs::remove_dir_all(&dir);
        r
    }

    /// Store a value as pretty JSON in the artifact `dest`.
    pub fn log_json(&mut self, value: &impl Serialize, dest: &str) -> Result<()> {
        let text = serde_json::to_string_pretty(value).map_err(|source| Error::Json {
            context: format!("artifact {dest}"),
            source,
        })?;
        self.log_text(&text, dest)
    }

    /// Store a figure as self-contained HTML (plotly.js inlined, so the
    /// MLflow UI and a downloaded copy both show it offline).
    pub fn log_figure(&mut self, fig: &Figure, dest: &str) -> Result<()> {
        if !self.is_enabled() {
            return Ok(());
        }
        let title = dest.rsplit('/').next().unwrap_or(dest);
        self.log_text(&fig.to_html(title, crate::viz::JsMode::Embed), dest)
    }

    /// End the run with `status`. With a server, waits (at most
    /// `NEORL_TRACKING_TIMEOUT` seconds, default 10; see
    /// [`Tracker::with_end_timeout`]) for the records to be confirmed; what
    /// is left stays in the spool and is sent later.
    pub fn end(&mut self, status: Status) -> Result<RunInfo> {
        if self.ended.is_some() {
            return Ok(self.info().unwrap_or_else(|| self.info.clone()));
        }
        let flushed = self.flush();
        let end = Record::End {
            status,
            end_time: record::now_ms(),
        };
        let written = self.write(vec![end]);
        self.ended = Some(status);
        match &mut self.sink {
            Sink::Local { store, run } => {
                if let Some(run) = run.take() {
                    store.close(run);
                }
            }
            Sink::Server { journal } => {
                let p = journal.close(self.end_timeout);
                if p.run_id.is_some() {
                    self.info.run_id = p.run_id.clone();
                    self.info.experiment_id = p.experiment_id.clone();
                }
                self.info.pending_records = p.written.saturating_sub(p.acked);
                if self.info.pending_records > 0 {
                    eprintln!(
                        "neorl tracking: {} record(s) of run '{}' are not on {} yet ({}); they are kept in {} and sent by the next tracked neorl command or `neorl track sync`",
                        self.info.pending_records,
                        self.info.run_name,
                        self.info.tracking_uri,
                        p.last_error.as_deref().unwrap_or("still sending"),
                        journal.files.journal.display()
                    );
                }
                if p.rejected > 0 {
                    eprintln!(
                        "neorl tracking: the server refused {} record(s) of run '{}'; see {}",
                        p.rejected,
                        self.info.run_name,
                        journal.files.rejected.display()
                    );
                }
            }
            Sink::Off => {}
        }
        flushed?;
        written?;
        Ok(self.info().unwrap_or_else(|| self.info.clone()))
    }

    /// End the run `FINISHED`.
    pub fn finish(&mut self) -> Result<RunInfo> {
        self.end(Status::Finished)
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if self.ended.is_none() && self.is_enabled() {
            let _ = self.end(Status::Failed);
        }
    }
}

fn join_dest(dir: &str, name: &str) -> String {
    let dir = dir.trim_matches('/');
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

fn collect_files(base: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let p = e.map_err(|e| Error::io(dir, e))?.path();
        if p.is_dir() {
            collect_files(base, &p, out)?;
        } else if let Ok(rel) = p.strip_prefix(base) {
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push((rel, p));
        }
    }
    Ok(())
}

/// `2 * bytes` random hex digits (run ids are 32, as MLflow's uuid4 hex).
pub fn random_hex(bytes: usize) -> String {
    let mut s = String::new();
    while s.len() < 2 * bytes {
        s.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    s.truncate(2 * bytes);
    s
}

#[cfg(test)]
mod tests;
