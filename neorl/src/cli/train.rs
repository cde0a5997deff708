//! `neorl train`: an agent on a dataset, into a checkpoint folder (which it
//! continues from when it holds one: `neorl::agents::resume_or_build`).
//! With `--save-every`, `--keep-last`, `--keep-best` or `--eval-every` the
//! folder is run by the checkpoint manager (`neorl::agents::manager`):
//! saved every K steps, the last N and the best kept, indexed in
//! `OUT/checkpoints.json`.

use super::track::{TrackArgs, finish_train, start_train};
use super::{parse_settings, print_json, sizes};
use anyhow::{Context, Result, bail};
use clap::Args;
use neorl::agents::{
    self, Agent, BatchSource, CheckpointManager, CheckpointPlan, Device, NewAgent, resume_or_build,
};
use neorl::data::{Dataset, Registry};
use neorl::experiments::scores::normalized_score_metric;
use serde_json::json;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct TrainArgs {
    /// bc, td3bc, iql, cql or combo.
    #[arg(long)]
    algo: String,
    /// A registry dataset id (e.g. ChemicalReactor-medium-v0; generated on
    /// first use, checked against its SHA-256 and cached) or an HDF5 file
    /// (neorl, D4RL or Minari layout).
    #[arg(long, value_name = "ID|FILE")]
    dataset: OsString,
    /// Transitions of a registry dataset (default: the registry's size).
    #[arg(long)]
    size: Option<usize>,
    /// Environment of the data, for files that do not name it (overrides the file's).
    #[arg(long)]
    env: Option<String>,
    /// Gradient steps; for a new agent also its planned total, where
    /// learning-rate schedules end (unless --set planned_steps=N says
    /// otherwise). Continuing from a checkpoint keeps its plan.
    #[arg(long, default_value_t = 10_000)]
    steps: u64,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    device: String,
    /// CPU threads: a count or `all` (default: NEORL_THREADS, else every core). Results do not depend on it.
    #[arg(long, value_name = "N")]
    threads: Option<String>,
    /// Hidden-layer widths, e.g. 64,64 (default: the paper's).
    #[arg(long, value_delimiter = ',')]
    hidden: Option<Vec<usize>>,
    /// A hyper-parameter over the paper's default, e.g. --set batch_size=512 (value in JSON; repeatable; new agents only).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    settings: Vec<String>,
    /// Checkpoint folder (default neorl-out/runs/ALGO-ENV-sSEED). If it holds a
    /// checkpoint of the same algorithm, training continues from it.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Save a checkpoint every K steps (kept in OUT/checkpoints/step-…/, the
    /// latest in OUT/agent.ckpt): a killed run loses at most K steps.
    #[arg(long, value_name = "K")]
    save_every: Option<u64>,
    /// Keep the newest N saved checkpoints (default 1), besides the best.
    #[arg(long, value_name = "N")]
    keep_last: Option<usize>,
    /// Also keep the checkpoint of the highest normalized score (mean over
    /// --eval-episodes episodes, every --eval-every steps) in OUT/best/.
    #[arg(long)]
    keep_best: bool,
    /// Evaluate the normalized score every M steps (recorded in OUT/checkpoints.json).
    #[arg(long, value_name = "M")]
    eval_every: Option<u64>,
    /// Episodes per evaluation of --eval-every.
    #[arg(long, default_value_t = 10, value_name = "E")]
    eval_episodes: usize,
    /// Seed of the first evaluation episode (the same episodes at every evaluation).
    #[arg(long, default_value_t = 10_000)]
    eval_seed: u64,
    #[command(flatten)]
    track: TrackArgs,
    #[arg(long)]
    json: bool,
}

impl TrainArgs {
    /// The checkpoint manager's plan, when a flag asks for one (checked).
    fn plan(&self) -> Result<Option<CheckpointPlan>> {
        if self.save_every.is_none()
            && self.keep_last.is_none()
            && !self.keep_best
            && self.eval_every.is_none()
        {
            return Ok(None);
        }
        let plan = CheckpointPlan {
            save_every: self.save_every,
            keep_last: self.keep_last.unwrap_or(1),
            eval_every: self.eval_every,
            keep_best: self.keep_best,
        };
        plan.validate()?;
        Ok(Some(plan))
    }
}

pub fn run(a: TrainArgs) -> Result<()> {
    let device =
        Device::parse(&a.device)?.with_threads(sizes::threads("--threads", a.threads.as_deref())?);
    let algo = agents::algo_name(&a.algo)?;
    sizes::steps("--steps", a.steps)?;
    let plan = a.plan()?;
    let settings = parse_settings(&a.settings)?;
    let mut data = open_dataset(&a.dataset, a.size)?;
    let recorded_env = data.metadata().env_id.clone();
    let spec = neorl::data::resolve_env(&mut data, a.env.as_deref())?;
    if !recorded_env.is_empty() && !recorded_env.eq_ignore_ascii_case(&spec.id) {
        eprintln!(
            "note: the dataset says {recorded_env}; training for {} as --env asks",
            spec.id
        );
    }
    // Refused before anything is built or tracked (the training loop checks too).
    neorl::data::validate::check_trainable(&data).context("--dataset")?;
    let source = data.source().context("the dataset names itself")?;
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("neorl-out/runs/{algo}-{}-s{}", spec.id, a.seed)));
    // A new agent's schedules end where these steps end; a checkpoint
    // keeps its own config, plan included.
    let settings = match out.join(agents::checkpoint::FILE_NAME).exists() {
        true => settings,
        false => agents::with_planned_steps(&settings, a.steps),
    };
    let new = NewAgent {
        algo,
        seed: a.seed,
        hidden: a.hidden.clone(),
        settings,
    };
    let resumed = resume_or_build(&out, &spec, Some(&source), &new, &device)?;
    let mut agent = resumed.agent;
    if resumed.continued {
        eprintln!(
            "continuing from step {} in {}",
            agent.steps_done(),
            out.display()
        );
    }
    let mut run = start_train(
        &a.track,
        &new.algo,
        &a.dataset.to_string_lossy(),
        a.seed,
        &device.name(),
        a.steps,
        agent.as_ref(),
        &data,
    )?;
    let mut manager = match plan {
        Some(plan) => {
            let m = CheckpointManager::open(&out, plan)?;
            Some(match a.eval_every {
                Some(_) => m.with_metric(normalized_score_metric(
                    &spec.id,
                    a.eval_episodes,
                    a.eval_seed,
                )?),
                None => m,
            })
        }
        None => None,
    };
    let before = manager.as_ref().map_or(0, |m| m.evaluations().len());
    let summary = match &mut manager {
        Some(m) => m.train_observed(agent.as_mut(), &data, a.steps, true, &mut |s, m| {
            run.log_metrics(s, m)
        })?,
        None => {
            let summary =
                agents::train_loop_observed(agent.as_mut(), &data, a.steps, true, &mut |s, m| {
                    run.log_metrics(s, m)
                })?;
            agent.save(&out)?;
            summary
        }
    };
    let mut checkpoints = serde_json::Value::Null;
    if let Some(m) = &manager {
        for &(step, v) in &m.evaluations()[before.min(m.evaluations().len())..] {
            if let Some(v) = v {
                run.log_metric("eval/normalized_score", v, step as i64)?;
            }
        }
        checkpoints = json!({
            "kept": m.entries().iter().map(|e| e.step).collect::<Vec<_>>(),
            "best": m.best().map(|b| json!({"step": b.step, "normalized_score": b.metric})),
            "evaluations": m.evaluations(),
        });
    }
    let mlflow = finish_train(run, agent.as_ref(), &out, &summary)?;
    let v = json!({
        "algo": agent.algo(),
        "dataset": source.id,
        "dataset_sha256": source.sha256,
        "transitions": source.transitions,
        "env": spec.id,
        "steps": agent.steps_done(),
        "seed": a.seed,
        "device": device.name(),
        "threads": device.threads().get(),
        "checkpoint": out.to_string_lossy(),
        "seconds": summary.seconds,
        "final_metrics": summary.final_metrics,
        "mlflow": mlflow,
        "checkpoints": checkpoints,
    });
    if a.json {
        return print_json(&v);
    }
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}

/// `--dataset`: a registry id, its `--size` checked against memory first,
/// or a file. A path that is not UTF-8 cannot be a registry id, so it is
/// read as a file here (`neorl::data::open` takes text).
fn open_dataset(source: &OsStr, size: Option<usize>) -> Result<Dataset> {
    let Some(text) = source.to_str() else {
        let path = Path::new(source);
        if size.is_some() {
            bail!(
                "--size applies to registry datasets only; {} is a file",
                path.display()
            );
        }
        let mut d = neorl::data::read(path).context("--dataset")?;
        if d.metadata().dataset_id.is_empty() {
            d.metadata_mut().dataset_id = source.to_string_lossy().into_owned();
        }
        return Ok(d);
    };
    if let Some(n) = size
        && let Ok(entry) = Registry::load()?.get(text)
    {
        sizes::dataset("--size", &entry.env, n)?;
    }
    neorl::data::open(text, size).context("--dataset")
}
