//! One task of a sweep, start to finish: `neorl sweep run DIR --index I`
//! (or the index from `SLURM_ARRAY_TASK_ID` / `JOB_COMPLETION_INDEX`), and
//! each task of `run-local`.
//!
//! The task trains its agent in pieces that end at every evaluation and
//! every checkpoint; after each such boundary it writes its evaluations so
//! far (`evals.json`) and then the agent's checkpoint, so a task killed by
//! the scheduler continues from its last checkpoint when it runs again, and
//! ends with the same bits as an uninterrupted run (training continues from
//! the checkpoint's full state; evaluations depend only on the agent). On
//! SIGTERM (SLURM's `--signal`, `scancel`) it checkpoints after the update
//! under way and stops. A task whose `done.json` exists is skipped. With
//! the spec's `keep_last` or `keep_best`, its checkpoint folder is run by
//! the checkpoint manager ([`crate::agents::manager`]): the last N kept in
//! `checkpoint/checkpoints/`, the best evaluation's in `checkpoint/best/`.
//!
//! Its MLflow child run carries `mlflow.parentRunId`, `neorl.sweep_id` and
//! `neorl.task_index`, the evaluations as metrics, and the result as exact
//! tags (see [`super::result`]). Before `done.json` is written the run must
//! be on the tracking server: a task that cannot deliver its records fails,
//! so the scheduler shows it, and running it again sends them.

use super::files::write_json;
use super::manifest::{Manifest, Task};
use super::result::{self, COMPLETE, PARENT, SWEEP_ID, TASK_INDEX, TaskResult};
use super::tasks::{State, TaskDir};
use crate::agents::{
    self, Agent, BatchSource, CheckpointManager, CheckpointPlan, Device, NewAgent, resume_or_build,
};
use crate::data::{Dataset, DatasetEntry, Store};
use crate::env::EnvSpec;
use crate::error::{Error, Result};
use crate::eval::EvalOptions;
use crate::experiments::scores::{DatasetScore, EvalPoint, Run, eval_point, selection_options};
use crate::track::{Status, Target, Tracker};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static STOP: AtomicBool = AtomicBool::new(false);

/// Ask running tasks to checkpoint and stop at their next piece boundary.
pub fn request_stop() {
    STOP.store(true, Ordering::SeqCst);
}

/// Whether a stop was asked for (a signal, or [`request_stop`]).
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Make SIGTERM (what SLURM sends before a time limit or on `scancel`) and
/// SIGINT a [`request_stop`] for this process.
pub fn stop_on_signals() {
    #[cfg(unix)]
    {
        extern "C" fn on_signal(_: libc::c_int) {
            STOP.store(true, Ordering::SeqCst);
        }
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe; the disposition is a valid function pointer.
        unsafe {
            let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::signal(libc::SIGTERM, handler);
            libc::signal(libc::SIGINT, handler);
        }
    }
}

/// The task index from the scheduler's environment: SLURM's
/// `SLURM_ARRAY_TASK_ID`, else Kubernetes' `JOB_COMPLETION_INDEX`.
pub fn index_from_env() -> Result<usize> {
    for var in ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"] {
        if let Ok(v) = std::env::var(var) {
            return v.trim().parse().map_err(|_| {
                Error::InvalidArgument(format!("{var}='{v}' is not a task index (0, 1, …)"))
            });
        }
    }
    Err(Error::InvalidArgument(
        "no task index: pass --index I, or run inside a SLURM job array (SLURM_ARRAY_TASK_ID) or an indexed Kubernetes Job (JOB_COMPLETION_INDEX)".into(),
    ))
}

/// How a task ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Trained, evaluated and recorded now.
    Done(Box<TaskResult>),
    /// `done.json` was already there.
    AlreadyDone,
    /// Stopped by a signal at this step, checkpoint written.
    Stopped(u64),
}

/// The evaluations so far, written before each checkpoint (floats as exact text).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Progress {
    evals: Vec<String>,
    /// Seconds spent by earlier attempts.
    seconds: String,
}

/// What `done.json` holds.
#[derive(Debug, Serialize, Deserialize)]
pub struct Done {
    pub manifest_hash: String,
    pub run_id: Option<String>,
    pub tags: std::collections::BTreeMap<String, String>,
}

fn host() -> String {
    crate::track::meta::host()
}

fn job() -> String {
    match (
        std::env::var("SLURM_ARRAY_JOB_ID"),
        std::env::var("SLURM_ARRAY_TASK_ID"),
    ) {
        (Ok(j), Ok(t)) => format!("{j}_{t}"),
        _ => std::env::var("SLURM_JOB_ID").unwrap_or_default(),
    }
}

/// The tracker of a task: the manifest's target, with the task's own spool.
fn tracker(m: &Manifest, td: &TaskDir) -> Result<Tracker> {
    if m.tracking.uri.is_empty() {
        return Ok(Tracker::off());
    }
    Tracker::with_target(
        Target::parse(&m.tracking.uri)?,
        &m.tracking.experiment,
        td.spool(),
    )
}

/// The dataset of a task, with what the table records about it.
pub fn load_data(m: &Manifest, task: &Task) -> Result<(Dataset, EnvSpec, DatasetScore)> {
    let spec = crate::make(&task.env)?.spec().clone();
    let id = DatasetEntry::make_id(&spec.id, task.quality);
    let store = Store::with_dir(&m.data_dir)?;
    let data = store.load_sized(&id, task.dataset_size)?;
    let score = DatasetScore::of(&data, &spec, &id);
    Ok((data, spec, score))
}

/// Run task `index` of the sweep in `dir` (see the module docs).
pub fn run_task(dir: &Path, m: &Manifest, index: usize) -> Result<Outcome> {
    let task = m.task(index)?;
    let td = TaskDir::new(dir, index);
    if let Some(done) = read_done(&td)? {
        if done.manifest_hash != m.hash {
            return Err(changed_manifest(index, &done.manifest_hash, &m.hash));
        }
        return Ok(Outcome::AlreadyDone);
    }
    let _lock = td.take_lock(index)?;
    // Another worker may have finished it while this one waited to start.
    if read_done(&td)?.is_some() {
        return Ok(Outcome::AlreadyDone);
    }
    if let Some(st) = td.read_state()
        && st.manifest_hash != m.hash
    {
        return Err(changed_manifest(index, &st.manifest_hash, &m.hash));
    }
    let state = |state: &str, step: u64, error: Option<String>| State {
        state: state.into(),
        manifest_hash: m.hash.clone(),
        step,
        error,
        host: host(),
        job: job(),
    };
    let prev_step = td.read_state().map_or(0, |s| s.step);
    td.write_state(&state("running", prev_step, None))?;
    match attempt(m, task, &td) {
        // (Its state was written before the run was ended: see `attempt`.)
        Ok(Attempt::Stopped(step)) => Ok(Outcome::Stopped(step)),
        Ok(Attempt::Finished(result, run_id)) => {
            let mut tags: std::collections::BTreeMap<String, String> =
                result.to_tags().into_iter().collect();
            tags.insert(COMPLETE.into(), "true".into());
            let done = Done {
                manifest_hash: m.hash.clone(),
                run_id,
                tags,
            };
            write_json(&td.done(), &done)?;
            td.write_state(&state("done", task.steps, None))?;
            Ok(Outcome::Done(result))
        }
        Err(e) => {
            let step = td.read_state().map_or(0, |s| s.step);
            td.write_state(&state("failed", step, Some(e.to_string())))?;
            Err(e)
        }
    }
}

/// The state of a task that runs now.
fn running_state(m: &Manifest, step: u64) -> State {
    State {
        state: "running".into(),
        manifest_hash: m.hash.clone(),
        step,
        error: None,
        host: host(),
        job: job(),
    }
}

fn changed_manifest(index: usize, was: &str, now: &str) -> Error {
    Error::InvalidArgument(format!(
        "task {index} ran under manifest {was}, but the manifest is now {now}: it was changed after runs started; plan the changed spec into a new folder (`neorl sweep plan SPEC --out NEW_DIR`)"
    ))
}

/// The task's `done.json`, if it is there.
pub fn read_done(td: &TaskDir) -> Result<Option<Done>> {
    let path = td.done();
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    serde_json::from_str(&text).map(Some).map_err(|e| {
        Error::InvalidArgument(format!(
            "{} is damaged ({e}); delete it to run the task again",
            path.display()
        ))
    })
}

enum Attempt {
    Finished(Box<TaskResult>, Option<String>),
    Stopped(u64),
}

fn read_progress(td: &TaskDir, upto: u64) -> Result<(Vec<EvalPoint>, f64)> {
    let path = td.evals();
    if !path.exists() {
        return Ok((vec![], 0.0));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let p: Progress = serde_json::from_str(&text).map_err(|e| {
        Error::InvalidArgument(format!(
            "{} is damaged ({e}); delete the task's folder to run it from the start",
            path.display()
        ))
    })?;
    let mut evals = vec![];
    for line in &p.evals {
        let e = result::parse_eval_line(line)?;
        // Evaluations after the checkpoint are redone.
        if e.step <= upto {
            evals.push(e);
        }
    }
    Ok((evals, p.seconds.parse().unwrap_or(0.0)))
}

fn write_progress(td: &TaskDir, evals: &[EvalPoint], seconds: f64) -> Result<()> {
    let p = Progress {
        evals: evals.iter().map(result::eval_line).collect(),
        seconds: result::exact(seconds),
    };
    write_json(&td.evals(), &p)
}

/// Log an evaluation as metrics of the child run.
fn log_eval(run: &mut crate::track::Run, p: &EvalPoint) -> Result<()> {
    let step = p.step as i64;
    run.log_metric("eval/normalized_score", p.normalized_score, step)?;
    run.log_metric("eval/mean_return", p.mean_return, step)?;
    run.log_metric("eval/mean_cost", p.mean_cost, step)?;
    if let Some(s) = p.selection_score {
        run.log_metric("eval/selection_score", s, step)?;
    }
    run.log_metric("eval/hard_violations", p.hard_violations as f64, step)
}

fn attempt(m: &Manifest, task: &Task, td: &TaskDir) -> Result<Attempt> {
    let t0 = Instant::now();
    let (data, spec, dataset) = load_data(m, task)?;
    // The task's threads (its `--cpus-per-task` on a cluster); results are
    // the same bits at any count.
    let device = Device::parse(&task.device)?.with_threads(agents::Threads::new(task.threads)?);
    let ck = td.checkpoint();
    let has_checkpoint = ck.join(agents::checkpoint::FILE_NAME).exists();
    // A checkpoint keeps its own config (the manifest's, checked by hash).
    let new = NewAgent {
        algo: task.algo.clone(),
        seed: task.seed,
        hidden: task.hidden.clone(),
        settings: if has_checkpoint {
            Default::default()
        } else {
            // Schedules end where the task ends (unless its settings plan otherwise).
            agents::with_planned_steps(&task.settings, task.steps)
        },
    };
    let tracker = tracker(m, td)?;
    let mut run = tracker.start_run(&task.run_name())?;
    run.set_tag(SWEEP_ID, &m.sweep_id)?;
    run.set_tag(TASK_INDEX, &task.index.to_string())?;
    if let Some(parent) = &m.tracking.parent_run_id {
        run.set_tag(PARENT, parent)?;
    }
    run.log_params_json(
        "task",
        &serde_json::to_value(task).map_err(|source| Error::Json {
            context: "the task".into(),
            source,
        })?,
    )?;
    // Building, training or evaluating the agent can fail (divergence, a
    // setting that does not fit): that is the run's result, recorded as in
    // a score table. Anything else (files, tracking) fails the task.
    let mut evals = vec![];
    let mut seconds_before = 0.0;
    let mut run_error = None;
    match resume_or_build(&ck, &spec, data.source().as_ref(), &new, &device) {
        // A checkpoint that cannot be read is the task's folder's problem,
        // not the run's result.
        Err(e) if has_checkpoint => {
            return Err(Error::InvalidArgument(format!(
                "task {}: its checkpoint {} cannot be continued ({e}); delete that folder and {} to run the task from the start",
                task.index,
                ck.display(),
                td.evals().display()
            )));
        }
        Err(e) => run_error = Some(e.to_string()),
        Ok(r) => {
            let mut agent = r.agent;
            (evals, seconds_before) = read_progress(td, agent.steps_done())?;
            if r.continued {
                eprintln!(
                    "task {}: continuing from step {} ({})",
                    task.index,
                    agent.steps_done(),
                    ck.display()
                );
            }
            for p in &evals {
                log_eval(&mut run, p)?;
            }
            match train(
                m,
                task,
                agent.as_mut(),
                &data,
                &mut evals,
                &mut run,
                td,
                t0,
                seconds_before,
            )? {
                Trained::Stopped(step) => {
                    // The state first: the scheduler may SIGKILL this
                    // process while the run's end goes to the server.
                    let mut st = td.read_state().unwrap_or_else(|| running_state(m, step));
                    st.state = "stopped".into();
                    st.step = step;
                    st.error = Some(format!(
                        "stopped by a signal at step {step} (checkpoint written); run it again to continue"
                    ));
                    td.write_state(&st)?;
                    run.end(Status::Killed)?;
                    return Ok(Attempt::Stopped(step));
                }
                Trained::Failed(e) => run_error = Some(e),
                Trained::Done => {}
            }
        }
    }
    let result = TaskResult {
        run: Run::of(
            &task.env,
            &task.algo,
            task.seed,
            evals,
            seconds_before + t0.elapsed().as_secs_f64(),
            run_error,
        ),
        dataset,
    };
    let result = match task.selection_episodes {
        Some(0) => TaskResult {
            run: result.run.without_best(),
            ..result
        },
        _ => result,
    };
    match &result.run.error {
        None => eprintln!(
            "task {} {}: last {:.1}, best {:.1} ({:.0} s)",
            task.index,
            task.run_name(),
            result.run.last,
            result.run.best,
            result.run.seconds
        ),
        Some(e) => eprintln!("task {} {}: FAILED: {e}", task.index, task.run_name()),
    }
    for (k, v) in result.to_tags() {
        run.set_tag(&k, &v)?;
    }
    run.set_tag(COMPLETE, "true")?;
    let status = if result.run.error.is_none() {
        Status::Finished
    } else {
        Status::Failed
    };
    let info = run.end(status)?;
    // Records an earlier, killed attempt left in this task's spool.
    let left: u64 = tracker
        .sync(Duration::from_secs(30))
        .iter()
        .map(|r| r.pending)
        .sum();
    if info.pending_records > 0 || left > 0 {
        return Err(Error::Tracking(format!(
            "task {}: {} record(s) could not be delivered to {} ({}); they are kept in {}; the task is not marked done — run it again (or `neorl track sync`) once the server is reachable",
            task.index,
            info.pending_records + left,
            info.tracking_uri,
            m.tracking.experiment,
            td.spool().display()
        )));
    }
    Ok(Attempt::Finished(Box::new(result), info.run_id))
}

enum Trained {
    Done,
    Stopped(u64),
    Failed(String),
}

/// Train `agent` to the task's steps in pieces ending at every evaluation
/// and checkpoint boundary (see the module docs).
#[allow(clippy::too_many_arguments)]
fn train(
    m: &Manifest,
    task: &Task,
    agent: &mut dyn Agent,
    data: &dyn BatchSource,
    evals: &mut Vec<EvalPoint>,
    run: &mut crate::track::Run,
    td: &TaskDir,
    t0: Instant,
    seconds_before: f64,
) -> Result<Trained> {
    let mut env = crate::make(&task.env)?;
    let opts = EvalOptions::new(task.episodes).with_seed(task.eval_seed);
    // A manifest planned before selection episodes has none.
    let selection = selection_options(
        task.episodes,
        task.eval_seed,
        Some(task.selection_episodes.unwrap_or(0)),
    );
    // At most ~500 points of each training metric per run.
    let log_every = (task.steps / 500).max(1);
    let boundary = |done: u64, every: u64| (done / every + 1) * every;
    // With `keep_last` or `keep_best`, the checkpoint manager keeps the
    // history in `checkpoint/checkpoints/` and the best in `checkpoint/best/`;
    // `checkpoint/agent.ckpt` is the latest either way.
    let mut manager = match task.keep_last.is_some() || task.keep_best {
        true => Some(
            CheckpointManager::open(
                td.checkpoint(),
                CheckpointPlan {
                    save_every: Some(task.checkpoint_every),
                    keep_last: task.keep_last.unwrap_or(1),
                    eval_every: task.keep_best.then_some(task.eval_every),
                    keep_best: task.keep_best,
                },
            )?
            .with_metric_name("normalized_score"),
        ),
        false => None,
    };
    // `score`: the normalized score when the agent was evaluated at this step.
    let mut checkpoint =
        |agent: &dyn Agent, evals: &[EvalPoint], score: Option<f64>| -> Result<()> {
            write_progress(td, evals, seconds_before + t0.elapsed().as_secs_f64())?;
            match &mut manager {
                Some(m) => m.save(agent, score)?,
                None => agent.save_checkpoint(&td.checkpoint())?,
            }
            let mut st = td.read_state().unwrap_or_else(|| running_state(m, 0));
            st.step = agent.steps_done();
            td.write_state(&st)
        };
    loop {
        let done = agent.steps_done();
        if done >= task.steps {
            return Ok(Trained::Done);
        }
        if stop_requested() {
            checkpoint(agent, evals, None)?;
            return Ok(Trained::Stopped(done));
        }
        let next_eval = boundary(done, task.eval_every).min(task.steps);
        let next_ck = boundary(done, task.checkpoint_every).min(task.steps);
        let k = next_eval.min(next_ck) - done;
        let mut log_error = None;
        let mut interrupted = false;
        let trained = agents::train_loop_observed(agent, data, k, false, &mut |step, metrics| {
            if step % log_every == 0
                && log_error.is_none()
                && let Err(e) = run.log_metrics(step, metrics)
            {
                log_error = Some(e);
            }
            // A stop request ends the piece after this update: the agent's
            // state is whole here, so the checkpoint continues exactly.
            if stop_requested() {
                interrupted = true;
                return Err(Error::InvalidArgument("stop requested".into()));
            }
            Ok(())
        });
        if let Some(e) = log_error {
            return Err(e);
        }
        if interrupted {
            checkpoint(agent, evals, None)?;
            return Ok(Trained::Stopped(agent.steps_done()));
        }
        if let Err(e) = trained {
            return Ok(Trained::Failed(e.to_string()));
        }
        let done = agent.steps_done();
        let mut score = None;
        if done == next_eval {
            match eval_point(agent, &mut env, &opts, selection.as_ref()) {
                Ok(p) => {
                    log_eval(run, &p)?;
                    // The best checkpoint is chosen as "best" is: on the
                    // selection episodes when there are some.
                    score = Some(p.selection_score.unwrap_or(p.normalized_score));
                    evals.push(p);
                }
                Err(e) => return Ok(Trained::Failed(e.to_string())),
            }
        }
        // Also after the last piece: a task that could not deliver its
        // records is run again without training again.
        checkpoint(agent, evals, score)?;
    }
}
