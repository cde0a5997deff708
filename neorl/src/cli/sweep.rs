//! `neorl sweep init|plan|submit|run|run-local|status|collect|export`: sweeps on a
//! SLURM cluster or on this machine (`neorl::sweep`).

use super::print_json;
use super::track::TrackArgs;
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use neorl::sweep::tasks::{Phase, array_ranges, status};
use neorl::sweep::{self, Manifest, Outcome, PlanOptions, SweepSpec, slurm, worker};
use serde_json::json;
use std::path::{Path, PathBuf};

/// `neorl sweep …`
#[derive(Subcommand)]
pub enum SweepCmd {
    /// Print a commented example spec (TOML).
    Init {
        /// A sweep of a few minutes on a laptop.
        #[arg(long)]
        small: bool,
    },
    /// Resolve a spec into DIR: manifest.json (one run configuration per task index,
    /// with its hash), the MLflow parent run, and sweep.sbatch (a SLURM job array).
    Plan(PlanArgs),
    /// Submit DIR/sweep.sbatch with `sbatch --parsable` and record the job id.
    Submit {
        dir: PathBuf,
        /// More sbatch options for this submission (e.g. --array=3,7 to resubmit some tasks, --wait).
        #[arg(long = "sbatch-arg", value_name = "OPTION", allow_hyphen_values = true)]
        sbatch_args: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Run one task (the index from --index, SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX).
    Run {
        dir: PathBuf,
        #[arg(long)]
        index: Option<usize>,
        #[arg(long)]
        json: bool,
    },
    /// Run every task that is not done on this machine, J at a time.
    RunLocal {
        dir: PathBuf,
        #[arg(long, default_value_t = 1)]
        jobs: usize,
        #[arg(long)]
        json: bool,
    },
    /// Each task: done, running, queued, failed or missing, and the line that resubmits the failed and missing ones.
    Status {
        dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// The score table (scores.md, scores.json, scores.html) from the sweep's runs.
    Collect {
        dir: PathBuf,
        /// Where the tables go (default: DIR).
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// The run records (JSON Lines: protocol, datasets, every run's curve and final metrics) for `neorl paper`.
    Export {
        dir: PathBuf,
        /// The records file to write.
        #[arg(long, value_name = "FILE.jsonl")]
        out: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
pub struct PlanArgs {
    /// The spec (TOML; `neorl sweep init` prints an example).
    spec: PathBuf,
    /// The sweep's folder.
    #[arg(long)]
    out: PathBuf,
    /// An sbatch option for the site (account, partition, QoS), e.g. --sbatch-arg=--partition=cpu (repeatable).
    #[arg(long = "sbatch-arg", value_name = "OPTION", allow_hyphen_values = true)]
    sbatch_args: Vec<String>,
    #[command(flatten)]
    track: TrackArgs,
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: SweepCmd) -> Result<()> {
    match cmd {
        SweepCmd::Init { small } => {
            print!("{}", sweep::spec::example(small));
            Ok(())
        }
        SweepCmd::Plan(a) => plan(a),
        SweepCmd::Submit {
            dir,
            sbatch_args,
            json,
        } => {
            Manifest::read(&dir)?;
            let sub = slurm::submit(&dir, &sbatch_args)?;
            if json {
                return print_json(&json!(sub));
            }
            println!(
                "submitted job {} ({}); `neorl sweep status {}` follows it",
                sub.job_id,
                dir.join(slurm::SCRIPT).display(),
                dir.display()
            );
            Ok(())
        }
        SweepCmd::Run { dir, index, json } => run_one(&dir, index, json),
        SweepCmd::RunLocal { dir, jobs, json } => {
            if jobs == 0 {
                bail!("--jobs 0: run at least 1 task at a time");
            }
            worker::stop_on_signals();
            let rep = sweep::run_local(&dir, jobs)?;
            let v = json!({
                "done": rep.done, "already_done": rep.already_done, "stopped": rep.stopped,
            });
            if json {
                return print_json(&v);
            }
            if worker::stop_requested() {
                bail!(
                    "stopped by a signal: {} tasks done now, {} stopped with a checkpoint; `neorl sweep run-local {}` again continues",
                    rep.done.len(),
                    rep.stopped.len(),
                    dir.display()
                );
            }
            println!(
                "{} tasks run, {} already done{}; `neorl sweep collect {}` makes the table",
                rep.done.len(),
                rep.already_done.len(),
                if rep.stopped.is_empty() {
                    String::new()
                } else {
                    format!(", {} stopped", rep.stopped.len())
                },
                dir.display()
            );
            Ok(())
        }
        SweepCmd::Status { dir, json } => show_status(&dir, json),
        SweepCmd::Export { dir, out, json } => export(&dir, &out, json),
        SweepCmd::Collect { dir, out, json } => {
            let m = Manifest::read(&dir)?;
            let tables = sweep::collect(&dir, &m)?;
            let files = sweep::collect::write(out.as_deref().unwrap_or(&dir), &tables)?;
            if json {
                return print_json(&json!({
                    "tables": tables.iter().map(|(l, t)| json!({"label": l, "table": t})).collect::<Vec<_>>(),
                    "files": files.iter().map(|f| f.to_string_lossy()).collect::<Vec<_>>(),
                }));
            }
            for (label, t) in &tables {
                if tables.len() > 1 {
                    println!("## {label}\n");
                }
                print!("{t}");
            }
            println!("\nwritten: {}", join(&files));
            Ok(())
        }
    }
}

/// `neorl sweep export DIR --out FILE.jsonl`.
fn export(dir: &Path, out: &Path, json: bool) -> Result<()> {
    let m = Manifest::read(dir)?;
    let records = sweep::collect::records(dir, &m)?;
    records.write(out)?;
    if json {
        return print_json(&json!({
            "records": out.to_string_lossy(),
            "runs": records.runs.len(),
            "datasets": records.header.datasets.len(),
        }));
    }
    println!(
        "{} runs on {} datasets written to {}",
        records.runs.len(),
        records.header.datasets.len(),
        out.display()
    );
    Ok(())
}

fn join(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn plan(a: PlanArgs) -> Result<()> {
    let spec = SweepSpec::read(&a.spec)?;
    let opts = PlanOptions {
        tracking_uri: a.track.tracking_uri.clone(),
        experiment: a.track.experiment.clone(),
        no_track: a.track.no_track,
        sbatch_args: a.sbatch_args.clone(),
        neorl: std::env::current_exe().ok(),
    };
    for (i, s) in a.sbatch_args.iter().enumerate() {
        if !s.starts_with('-') || s.contains('\n') {
            bail!(
                "--sbatch-arg #{}: '{s}' is not one sbatch option (e.g. --partition=cpu)",
                i + 1
            );
        }
    }
    let p = sweep::plan(&spec, &a.out, &opts)?;
    let m = &p.manifest;
    let v = json!({
        "dir": p.dir.to_string_lossy(),
        "sweep_id": m.sweep_id,
        "tasks": m.tasks.len(),
        "manifest_hash": m.hash,
        "tracking_uri": m.tracking.uri,
        "experiment": m.tracking.experiment,
        "parent_run_id": m.tracking.parent_run_id,
        "sbatch": p.dir.join(slurm::SCRIPT).to_string_lossy(),
        "existing": p.existing,
    });
    if a.json {
        return print_json(&v);
    }
    if p.existing {
        println!(
            "{} already holds this plan; nothing changed",
            p.dir.display()
        );
    }
    println!(
        "sweep '{}': {} tasks, manifest {}\nparent run: {}\nnext: neorl sweep submit {d}   (SLURM)  or  neorl sweep run-local {d} --jobs 2",
        m.name,
        m.tasks.len(),
        m.hash,
        m.tracking
            .parent_run_id
            .as_deref()
            .unwrap_or("(tracking off)"),
        d = p.dir.display()
    );
    Ok(())
}

fn run_one(dir: &Path, index: Option<usize>, json: bool) -> Result<()> {
    let m = Manifest::read(dir)?;
    let index = match index {
        Some(i) => i,
        None => worker::index_from_env()?,
    };
    let task = m.task(index)?;
    // The task's threads size rayon's global pool (batched evaluation);
    // training runs on the device's own pool of as many threads (worker).
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(task.threads)
        .build_global();
    worker::stop_on_signals();
    let outcome = sweep::run_task(dir, &m, index).with_context(|| format!("task {index}"))?;
    let v = match &outcome {
        Outcome::Done(r) => {
            json!({"index": index, "outcome": "done", "last": r.run.last, "best": r.run.best, "error": r.run.error})
        }
        Outcome::AlreadyDone => json!({"index": index, "outcome": "already done"}),
        Outcome::Stopped(step) => json!({"index": index, "outcome": "stopped", "step": step}),
    };
    if json {
        print_json(&v)?;
    } else {
        println!("{v}");
    }
    if let Outcome::Stopped(step) = outcome {
        bail!(
            "task {index} stopped by a signal at step {step}; its checkpoint is written: submit it again to continue"
        );
    }
    Ok(())
}

fn show_status(dir: &Path, json: bool) -> Result<()> {
    let m = Manifest::read(dir)?;
    let queue = slurm::in_queue(&m);
    let st = status(dir, &m, &queue.clone().unwrap_or_default());
    let of = |p: Phase| {
        st.iter()
            .filter(|s| s.phase == p)
            .map(|s| s.index)
            .collect::<Vec<_>>()
    };
    let (done, running, queued, failed, missing) = (
        of(Phase::Done),
        of(Phase::Running),
        of(Phase::Queued),
        of(Phase::Failed),
        of(Phase::Missing),
    );
    let mut rest: Vec<usize> = failed.iter().chain(&missing).copied().collect();
    rest.sort();
    let resubmit = (!rest.is_empty()).then(|| {
        format!(
            "neorl sweep submit {} --sbatch-arg=--array={}",
            dir.display(),
            array_ranges(&rest)
        )
    });
    if json {
        return print_json(&json!({
            "tasks": st, "done": done, "running": running, "queued": queued, "failed": failed,
            "missing": missing, "resubmit": resubmit, "scheduler": queue.is_some(),
        }));
    }
    println!(
        "sweep '{}' ({} tasks): {} done, {} running, {} queued, {} failed, {} missing{}",
        m.name,
        m.tasks.len(),
        done.len(),
        running.len(),
        queued.len(),
        failed.len(),
        missing.len(),
        if queue.is_none() {
            " (no squeue here: running means running on this machine's file locks)"
        } else {
            ""
        }
    );
    for s in &st {
        if s.phase != Phase::Done {
            println!(
                "  {:>5}  {:<8} {:<40} step {}{}",
                s.index,
                format!("{:?}", s.phase).to_lowercase(),
                s.run_name,
                s.step,
                s.error
                    .as_deref()
                    .map(|e| format!("  ({e})"))
                    .unwrap_or_default()
            );
        }
    }
    if let Some(r) = resubmit {
        println!("resubmit the failed and missing tasks:\n  {r}");
    }
    Ok(())
}
