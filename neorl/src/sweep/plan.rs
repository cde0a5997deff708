//! `neorl sweep plan SPEC --out DIR`: the spec's tasks resolved into the
//! manifest, the sweep's MLflow parent run, and the SLURM script.

use super::files::write_atomic;
use super::manifest::{self, Manifest, Slurm, Tracking};
use super::result::SWEEP_ID;
use super::slurm;
use super::spec::SweepSpec;
use crate::error::{Error, Result};
use crate::track::{Target, Tracker};
use std::path::{Path, PathBuf};

/// What the command line adds to a spec.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// `--tracking-uri` (over the spec's `[tracking] uri`, then `MLFLOW_TRACKING_URI`).
    pub tracking_uri: Option<String>,
    /// `--experiment` (over the spec's, then `MLFLOW_EXPERIMENT_NAME`).
    pub experiment: Option<String>,
    /// `--no-track` (also `NEORL_TRACKING=off`): results stay in the task folders.
    pub no_track: bool,
    /// `--sbatch-arg`: more `#SBATCH` options (site policy).
    pub sbatch_args: Vec<String>,
    /// The `neorl` binary the script runs (default: `neorl` on the nodes' PATH).
    pub neorl: Option<PathBuf>,
}

/// How a plan went.
#[derive(Debug, Clone)]
pub struct Planned {
    pub dir: PathBuf,
    pub manifest: Manifest,
    /// The folder already held this very plan; nothing was changed.
    pub existing: bool,
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).map_err(|e| Error::io(p, e))
}

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.trim().is_empty())
}

/// Where the sweep's runs go: the option, the spec, the environment, else
/// a local store `DIR/mlruns`; `""` when tracking is off.
fn tracking_uri(spec: &SweepSpec, dir: &Path, opts: &PlanOptions) -> Result<String> {
    let off = opts.no_track
        || env("NEORL_TRACKING").is_some_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "off" | "0" | "false" | "no" | "none"
            )
        });
    if off {
        return Ok(String::new());
    }
    let uri = opts
        .tracking_uri
        .clone()
        .or_else(|| spec.tracking.uri.clone())
        .or_else(|| env("MLFLOW_TRACKING_URI"));
    Ok(match uri.map(|u| Target::parse(&u)).transpose()? {
        Some(Target::Server(u)) => u,
        Some(Target::Local(p)) => absolute(&p)?.to_string_lossy().into_owned(),
        Some(Target::Off) => String::new(),
        None => dir.join("mlruns").to_string_lossy().into_owned(),
    })
}

/// Plan `spec` into `dir` (see the module docs). A folder that already
/// holds the same plan is left as it is (so finished tasks stay finished);
/// one that holds another is refused.
pub fn plan(spec: &SweepSpec, dir: &Path, opts: &PlanOptions) -> Result<Planned> {
    spec.check()?;
    let dir = absolute(dir)?;
    let tasks = manifest::tasks(spec)?;
    let uri = tracking_uri(spec, &dir, opts)?;
    let experiment = opts
        .experiment
        .clone()
        .or_else(|| spec.tracking.experiment.clone())
        .or_else(|| env("MLFLOW_EXPERIMENT_NAME"))
        .unwrap_or_else(|| crate::track::DEFAULT_EXPERIMENT.into());
    let data_dir = absolute(&spec.data_dir.clone().unwrap_or_else(crate::data::data_dir))?;
    // Both are written into the manifest and the SLURM script, as text.
    for (what, p) in [("the sweep folder", &dir), ("the dataset cache", &data_dir)] {
        if p.to_str().is_none() {
            return Err(Error::InvalidArgument(format!(
                "{what} {} is not UTF-8; the manifest and the SLURM script name it as text, so pick a UTF-8 path",
                p.display()
            )));
        }
    }
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    if dir.join(manifest::FILE_NAME).exists() {
        let m = Manifest::read(&dir)?;
        if m.spec == *spec && m.tasks == tasks && m.tracking.uri == uri && m.data_dir == data_dir {
            return Ok(Planned {
                dir,
                manifest: m,
                existing: true,
            });
        }
        return Err(Error::InvalidArgument(format!(
            "{} already holds sweep '{}' planned from another spec (or other tracking or data folder); plan this one into a new folder, or delete that one",
            dir.display(),
            m.name
        )));
    }
    let sweep_id = crate::track::random_hex(8);
    let mut m = Manifest {
        hash: String::new(),
        format: manifest::FORMAT,
        sweep_id: sweep_id.clone(),
        name: spec.name.clone(),
        neorl_version: env!("CARGO_PKG_VERSION").into(),
        data_dir,
        tracking: Tracking {
            uri: uri.clone(),
            experiment: experiment.clone(),
            parent_run_id: None,
        },
        slurm: Slurm {
            time: spec.slurm.time.clone(),
            parallel: spec.slurm.parallel,
            signal_seconds: spec.slurm.signal_seconds,
            sbatch_args: spec.slurm.sbatch_args.clone(),
        },
        spec: spec.clone(),
        tasks,
    };
    // The parent run: the sweep as a whole, its children link to it.
    if !uri.is_empty() {
        let tracker = Tracker::with_target(Target::parse(&uri)?, &experiment, dir.join("spool"))?;
        let mut parent = tracker.start_run(&spec.name)?;
        parent.set_tag(SWEEP_ID, &sweep_id)?;
        parent.set_tag("neorl.sweep_dir", &dir.to_string_lossy())?;
        parent.set_tag("neorl.tasks", &m.tasks.len().to_string())?;
        parent.log_params_json(
            "sweep",
            &serde_json::to_value(spec).map_err(|source| Error::Json {
                context: "the sweep spec".into(),
                source,
            })?,
        )?;
        let info = parent.finish()?;
        let Some(id) = info.run_id else {
            return Err(Error::Tracking(format!(
                "the tracking server {uri} did not confirm the sweep's parent run; check that it is running, then plan again"
            )));
        };
        m.tracking.parent_run_id = Some(id);
    }
    m.write(&dir)?;
    std::fs::create_dir_all(dir.join("logs")).map_err(|e| Error::io(&dir, e))?;
    let neorl = opts.neorl.clone().unwrap_or_else(|| PathBuf::from("neorl"));
    let script = slurm::script(&dir, &m, &neorl, &opts.sbatch_args);
    write_atomic(&dir.join(slurm::SCRIPT), script.as_bytes())?;
    Ok(Planned {
        dir,
        manifest: m,
        existing: false,
    })
}
