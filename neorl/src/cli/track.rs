//! `neorl track runs|sync`, and what `neorl train`, `neorl eval` and
//! `neorl quickstart` record in MLflow (through `neorl::track`): kept here
//! so those commands stay a few lines each.

use super::print_json;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use neorl::agents::{Agent, BatchSource, TrainSummary};
use neorl::eval::{EvalReport, RolloutReport};
use neorl::report::LearningCurve;
use neorl::track::{Run, Tracker, TrackingOptions};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::Path;

/// Tracking flags shared by the tracked commands.
#[derive(Args, Debug, Clone, Default)]
pub struct TrackArgs {
    /// MLflow tracking URI: http(s)://host:port for a tracking server, or a
    /// folder / file:// URI for a local file store (default: $MLFLOW_TRACKING_URI,
    /// else ./mlruns).
    #[arg(long, value_name = "URI")]
    pub tracking_uri: Option<String>,
    /// MLflow experiment (default: $MLFLOW_EXPERIMENT_NAME, else neorl).
    #[arg(long, value_name = "NAME")]
    pub experiment: Option<String>,
    /// Record nothing (also NEORL_TRACKING=off).
    #[arg(long)]
    pub no_track: bool,
}

impl TrackArgs {
    pub fn tracker(&self) -> Result<Tracker> {
        Ok(Tracker::new(&TrackingOptions {
            uri: self.tracking_uri.clone(),
            experiment: self.experiment.clone(),
            disabled: self.no_track,
        })?)
    }
}

/// `neorl track …`
#[derive(Subcommand)]
pub enum TrackCmd {
    /// List the runs of an experiment (run id, name, status, latest metrics).
    Runs {
        #[command(flatten)]
        track: TrackArgs,
        #[arg(long)]
        json: bool,
    },
    /// Send what earlier processes left in the spool (server down, process
    /// killed) to the tracking server, and wait for it.
    Sync {
        #[command(flatten)]
        track: TrackArgs,
        /// Seconds to wait for the server.
        #[arg(long, default_value_t = 60.0)]
        timeout: f64,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(cmd: TrackCmd) -> Result<()> {
    match cmd {
        TrackCmd::Runs { track, json } => {
            let t = track.tracker()?;
            let runs = t.run_list(None)?;
            if json {
                return print_json(&json!({
                    "tracking_uri": t.uri(), "experiment": t.experiment(), "runs": runs,
                }));
            }
            println!("{} — experiment '{}'", t.uri(), t.experiment());
            for r in runs {
                let metrics: Vec<String> = r
                    .metrics
                    .iter()
                    .take(6)
                    .map(|(k, v)| format!("{k}={v:.4}"))
                    .collect();
                println!(
                    "{}  {:<9} {:<32} {}",
                    r.run_id,
                    r.status,
                    r.run_name,
                    metrics.join(" ")
                );
            }
            Ok(())
        }
        TrackCmd::Sync {
            track,
            timeout,
            json,
        } => {
            let t = track.tracker()?;
            let neorl::track::Target::Server(uri) = t.target().clone() else {
                anyhow::bail!(
                    "`neorl track sync` sends spooled runs to a tracking server; set MLFLOW_TRACKING_URI or --tracking-uri to its http(s):// URL"
                );
            };
            // Zero or less: one attempt, no waiting (NaN is refused).
            let wait = if timeout <= 0.0 {
                std::time::Duration::ZERO
            } else {
                super::sizes::seconds("--timeout", timeout)?
            };
            let left = t.sync(wait);
            let v = json!({"tracking_uri": uri, "spool": t.spool_dir().to_string_lossy(), "runs": left});
            if json {
                return print_json(&v);
            }
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(())
        }
    }
}

/// SHA-256 of a training set's columns (observations, actions, rewards,
/// next observations, terminal flags; little-endian f32, one byte per flag).
pub fn source_sha256(data: &dyn BatchSource) -> String {
    let mut h = Sha256::new();
    h.update(b"neorl-batchsource-sha256/1\n");
    for col in [
        data.observations(),
        data.actions(),
        data.rewards(),
        data.next_observations(),
    ] {
        h.update((col.len() as u64).to_le_bytes());
        for x in col {
            h.update(x.to_le_bytes());
        }
    }
    let flags: Vec<u8> = (0..data.len()).map(|i| data.terminal(i) as u8).collect();
    h.update(&flags);
    format!("{:x}", h.finalize())
}

/// Start the run of `neorl train`: params (the agent's full config, the
/// dataset id and checksum, seed, device, steps) and the dataset card.
#[allow(clippy::too_many_arguments)]
pub fn start_train(
    t: &TrackArgs,
    algo: &str,
    dataset: &str,
    seed: u64,
    device: &str,
    steps: u64,
    agent: &dyn Agent,
    data: &dyn BatchSource,
) -> Result<Run> {
    let tracker = t.tracker()?;
    let env = agent.state().env_id.clone();
    let mut run = tracker.start_run(&format!("{algo}-{env}-s{seed}"))?;
    if !run.is_enabled() {
        return Ok(run);
    }
    // The dataset's own content SHA-256 (as in the registry and the file's
    // attributes) when it has one; otherwise a digest of the arrays.
    let sha = data
        .source()
        .map_or_else(|| source_sha256(data), |s| s.sha256);
    let returns = data.episode_returns();
    run.log_params(&[
        ("algo".into(), algo.into()),
        ("env".into(), env.clone()),
        ("dataset".into(), dataset.into()),
        ("dataset_sha256".into(), sha.clone()),
        ("dataset_transitions".into(), data.len().to_string()),
        ("seed".into(), seed.to_string()),
        ("device".into(), device.into()),
        ("steps".into(), steps.to_string()),
        ("start_step".into(), agent.steps_done().to_string()),
    ])?;
    run.log_params_json("agent", &agent.config_json())?;
    run.set_tag("neorl.command", "train")?;
    let card = json!({
        "dataset": dataset,
        "env": env,
        "transitions": data.len(),
        "obs_dim": data.obs_dim(),
        "act_dim": data.act_dim(),
        "complete_episodes": returns.len(),
        "episode_return_mean": mean(&returns),
        "episode_return_min": returns.iter().copied().reduce(f64::min),
        "episode_return_max": returns.iter().copied().reduce(f64::max),
        "sha256": sha,
        "sha256_of": "observations, actions, rewards, next_observations (f32 LE) and terminal flags (neorl-batchsource-sha256/1)",
        "seed": seed,
        "card": "datasets/README.md of neorl: episode semantics, generation recipe, file layout",
    });
    run.log_json(&card, "dataset_card.json")?;
    Ok(run)
}

/// The rest of `neorl train`'s run: checkpoint, learning curve, summary;
/// then the run ends. Returns the `"mlflow"` object of the JSON output.
pub fn finish_train(
    mut run: Run,
    agent: &dyn Agent,
    checkpoint: &Path,
    summary: &TrainSummary,
) -> Result<Value> {
    if !run.is_enabled() {
        return Ok(Value::Null);
    }
    // The checkpoint remembers its run (eval links to it).
    let link = run.info_json();
    let link_path = checkpoint.join("mlflow-run.json");
    std::fs::write(&link_path, serde_json::to_string_pretty(&link)?)
        .with_context(|| format!("writing {}", link_path.display()))?;
    run.log_artifact(checkpoint, "")?;
    run.log_figure(&agent.learning_curve(), "learning_curve.html")?;
    run.log_json(summary, "train_summary.json")?;
    for (k, v) in &summary.final_metrics {
        run.log_metric(&format!("final/{k}"), *v, agent.steps_done() as i64)?;
    }
    run.log_metric("train_seconds", summary.seconds, agent.steps_done() as i64)?;
    run.finish()?;
    Ok(run.info_json())
}

/// The run of `neorl eval`: metrics of the report, per-episode returns, the
/// report as an artifact, linked to the training run when the checkpoint
/// names one.
pub fn eval_run(
    t: &TrackArgs,
    checkpoint: &Path,
    agent: &dyn Agent,
    seed: u64,
    report: &EvalReport,
    output: &Value,
) -> Result<Value> {
    let tracker = t.tracker()?;
    let env = agent.state().env_id.clone();
    let mut run = tracker.start_run(&format!("eval-{}-{env}", agent.algo()))?;
    if !run.is_enabled() {
        return Ok(Value::Null);
    }
    run.log_params(&[
        ("algo".into(), agent.algo().into()),
        ("env".into(), env),
        ("checkpoint".into(), checkpoint.display().to_string()),
        ("agent_steps".into(), agent.steps_done().to_string()),
        ("episodes".into(), report.episodes.to_string()),
        ("seed".into(), seed.to_string()),
    ])?;
    run.log_params_json("agent", &agent.config_json())?;
    run.set_tag("neorl.command", "eval")?;
    if let Ok(text) = std::fs::read_to_string(checkpoint.join("mlflow-run.json"))
        && let Ok(train) = serde_json::from_str::<Value>(&text)
        && let Some(id) = train["run_id"].as_str()
    {
        run.set_tag("neorl.train_run_id", id)?;
        let mine = run.info_json();
        // MLflow nests a run under its parent within one experiment.
        if train["tracking_uri"] == mine["tracking_uri"]
            && train["experiment_id"] == mine["experiment_id"]
            && !mine["experiment_id"].is_null()
        {
            run.set_tag("mlflow.parentRunId", id)?;
        }
    }
    log_eval(&mut run, "", report)?;
    if let Some(audit) = &report.audit {
        run.log_artifact(&audit.path, "audit")?;
        // An anchor outside the log (see neorl::safety::audit).
        run.set_tag("neorl.audit_head", &audit.head)?;
    }
    for (i, e) in report.per_episode.iter().enumerate() {
        run.log_metric("episode_return", e.ret, i as i64)?;
        run.log_metric("episode_cost", e.cost, i as i64)?;
    }
    let mut full = output.clone();
    full["per_episode"] = json!(report.per_episode.iter().map(|e| json!({
        "seed": e.seed, "return": e.ret, "cost": e.cost, "length": e.length,
        "hard_violation": e.hard_violation, "terminated": e.terminated, "truncated": e.truncated,
    })).collect::<Vec<_>>());
    run.log_json(&full, "evaluation_report.json")?;
    run.finish()?;
    Ok(run.info_json())
}

/// Metrics of a rollout report, keys prefixed with `prefix`.
fn log_report(run: &mut Run, prefix: &str, r: &RolloutReport) -> Result<()> {
    log_values(
        run,
        prefix,
        &[
            ("normalized_score", r.normalized_score),
            ("mean_return", r.mean_return),
            ("std_return", r.std_return),
            ("mean_cost", r.mean_cost),
            ("hard_violations", r.hard_violations as f64),
            ("mean_length", r.mean_length),
            ("episodes", r.episodes as f64),
        ],
    )
}

/// Metrics of an evaluation report (with the shield's counts), keys
/// prefixed with `prefix`.
fn log_eval(run: &mut Run, prefix: &str, r: &EvalReport) -> Result<()> {
    log_values(
        run,
        prefix,
        &[
            ("normalized_score", r.normalized_score),
            ("std_normalized_score", r.std_normalized_score),
            ("mean_return", r.mean_return),
            ("std_return", r.std_return),
            ("mean_cost", r.mean_cost),
            ("hard_violations", r.hard_violations as f64),
            ("mean_length", r.mean_length),
            ("episodes", r.episodes as f64),
            ("interventions", r.interventions as f64),
            ("intervention_rate", r.intervention_rate),
            ("emergency_stops", r.emergency_stops as f64),
            ("shutdowns", r.shutdowns as f64),
        ],
    )
}

fn log_values(run: &mut Run, prefix: &str, values: &[(&str, f64)]) -> Result<()> {
    for (k, v) in values {
        run.log_metric(&format!("{prefix}{k}"), *v, 0)?;
    }
    Ok(())
}

/// Start the run of `neorl quickstart`.
pub fn start_quickstart(t: &TrackArgs, cfg: &neorl::quickstart::QuickstartConfig) -> Result<Run> {
    let mut run = t.tracker()?.start_run("quickstart")?;
    run.log_params(&[
        ("episodes".into(), cfg.episodes.to_string()),
        ("seed".into(), cfg.seed.to_string()),
        ("train_steps".into(), cfg.train_steps.to_string()),
        ("dataset_size".into(), cfg.dataset_size.to_string()),
    ])?;
    run.set_tag("neorl.command", "quickstart")?;
    Ok(run)
}

/// The quickstart's results: every environment's scores, the TD3+BC run
/// (its learning curve as metrics), the output folder as artifacts.
pub fn finish_quickstart(
    mut run: Run,
    report: &neorl::quickstart::QuickstartReport,
) -> Result<Value> {
    if !run.is_enabled() {
        return Ok(Value::Null);
    }
    for e in &report.envs {
        for (kind, r) in [
            ("expert", &e.expert),
            ("medium", &e.medium),
            ("random", &e.random),
        ] {
            log_report(&mut run, &format!("{}/{kind}/", e.id), r)?;
        }
    }
    if let Some(a) = &report.agent {
        log_eval(&mut run, &format!("{}/{}/", a.env, a.algo), &a.eval)?;
        log_eval(
            &mut run,
            &format!("{}/{}/shielded/", a.env, a.algo),
            &a.shielded,
        )?;
        log_eval(&mut run, &format!("{}/behaviour/", a.env), &a.behaviour)?;
        let dir = report.out.join(&a.checkpoint);
        let agent = neorl::agents::load(&dir, &neorl::agents::Device::cpu())
            .with_context(|| format!("reading back {}", dir.display()))?;
        let h = agent.history();
        let mut row: Vec<(&str, f32)> = Vec::with_capacity(h.names.len());
        for (i, &step) in h.steps.iter().enumerate() {
            row.clear();
            for (name, col) in h.names.iter().zip(&h.values) {
                if col[i].is_finite() {
                    row.push((name.as_str(), col[i]));
                }
            }
            run.log_metrics(step, &row)?;
        }
        run.log_params_json(&format!("{}.agent", a.algo), &agent.config_json())?;
    }
    run.log_artifact(&report.out, "")?;
    run.finish()?;
    Ok(run.info_json())
}

fn mean(x: &[f64]) -> Option<f64> {
    (!x.is_empty()).then(|| x.iter().sum::<f64>() / x.len() as f64)
}
