//! `neorl quickstart`: the main job, end to end, in a few minutes.
//!
//! 1. **Baselines**: the expert, medium and random controllers on every
//!    environment (a summary table and one trajectory figure each: expert
//!    vs random, with the constraint limits drawn).
//! 2. **Dataset**: the registry's `ChemicalReactor-medium-v0` at a small
//!    size (generated on first use, checksummed, cached; see
//!    [`crate::data::load_sized`]).
//! 3. **Training**: TD3+BC for `train_steps` steps, evaluated `eval_points`
//!    times on the way (the normalized-score learning curve).
//! 4. **Evaluation**: the trained policy without and with the safety shield,
//!    beside the behaviour (medium) controller, all on the same episodes.
//! 5. **Tracking**: the place for an MLflow run of steps 2–4 (see
//!    [`agent_pipeline`]).
//! 6. **Figures and summary**: `learning_curve.html` (every training
//!    metric), `evaluation.html` (score curve, score and cost with and
//!    without the shield), `summary.md` and `summary.json`, all in one
//!    output folder that works offline.

use crate::agents::{Agent, Device, Td3Bc, Td3BcConfig};
use crate::control::{PolicyKind, make_policy};
use crate::env::{ids, make};
use crate::error::{Error, Result};
use crate::eval::rollout::check_episodes;
use crate::eval::{EvalOptions, EvalReport, RolloutReport, evaluate, record_episode, rollout};
use crate::experiments::scores::{EvalPoint, behaviour_score, train_with_evals};
use crate::progress::Progress;
use crate::report::{LearningCurve, trajectory_figure};
use crate::safety::ShieldConfig;
use crate::viz::{Figure, JsMode};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Settings of a quickstart run.
#[derive(Debug, Clone)]
pub struct QuickstartConfig {
    pub out: PathBuf,
    /// Episodes per policy and environment, and per evaluation of the agent.
    pub episodes: usize,
    pub seed: u64,
    /// TD3+BC gradient steps on the medium dataset (0: skip steps 2–5).
    pub train_steps: u64,
    /// Transitions in that dataset (a size variant of the registry's).
    pub dataset_size: usize,
    /// Evaluations during training (the learning curve's points).
    pub eval_points: u64,
}

impl Default for QuickstartConfig {
    fn default() -> Self {
        QuickstartConfig {
            out: PathBuf::from("neorl-out/quickstart"),
            episodes: 10,
            seed: 0,
            train_steps: 2_000,
            dataset_size: 20_000,
            eval_points: 4,
        }
    }
}

/// One environment's line of the summary.
#[derive(Debug, Clone, Serialize)]
pub struct EnvSummary {
    pub id: String,
    pub expert: RolloutReport,
    pub medium: RolloutReport,
    pub random: RolloutReport,
    /// Path of the figure, relative to the output folder.
    pub figure: String,
}

/// What a quickstart run produced.
#[derive(Debug, Clone, Serialize)]
pub struct QuickstartReport {
    #[serde(serialize_with = "crate::paths::serialize")]
    pub out: PathBuf,
    pub episodes: usize,
    pub seed: u64,
    pub envs: Vec<EnvSummary>,
    #[serde(serialize_with = "crate::paths::serialize")]
    pub summary_markdown: PathBuf,
    #[serde(serialize_with = "crate::paths::serialize")]
    pub summary_json: PathBuf,
    /// The TD3+BC run, when `train_steps > 0`.
    pub agent: Option<AgentSummary>,
}

/// TD3+BC trained briefly on a registry medium dataset, then evaluated with
/// and without the shield.
#[derive(Debug, Clone, Serialize)]
pub struct AgentSummary {
    pub env: String,
    pub algo: String,
    /// Registry id, size and content SHA-256 of the training data.
    pub dataset: String,
    pub transitions: usize,
    pub dataset_sha256: String,
    /// Normalized mean return of the dataset's complete episodes.
    pub dataset_score: f64,
    pub steps: u64,
    pub device: String,
    pub train_seconds: f64,
    /// Mean of each training metric over the last 100 steps.
    pub final_metrics: BTreeMap<String, f64>,
    /// Normalized score during training (no shield).
    pub curve: Vec<EvalPoint>,
    /// The trained policy, no shield.
    pub eval: EvalReport,
    /// The trained policy through the safety shield (default settings).
    pub shielded: EvalReport,
    /// The behaviour (medium) controller on the same episodes, no shield.
    pub behaviour: EvalReport,
    /// Figures, relative to the output folder.
    pub learning_curve: String,
    pub evaluation_figure: String,
    pub checkpoint: String,
}

/// Run the quickstart.
pub fn run(cfg: &QuickstartConfig) -> Result<QuickstartReport> {
    check_episodes(cfg.episodes)?;
    std::fs::create_dir_all(&cfg.out).map_err(|e| Error::io(&cfg.out, e))?;
    let ids = ids();
    let mut progress = Progress::new("quickstart rollouts", ids.len() as u64);
    let mut envs = vec![];
    for id in &ids {
        envs.push(summarise_env(id, cfg)?);
        progress.inc(1);
    }
    progress.finish();
    let agent = if cfg.train_steps > 0 {
        Some(agent_pipeline(cfg)?)
    } else {
        None
    };
    let summary_markdown = cfg.out.join("summary.md");
    let summary_json = cfg.out.join("summary.json");
    let report = QuickstartReport {
        out: cfg.out.clone(),
        episodes: cfg.episodes,
        seed: cfg.seed,
        envs,
        summary_markdown: summary_markdown.clone(),
        summary_json: summary_json.clone(),
        agent,
    };
    write(&summary_markdown, &markdown_table(&report))?;
    let json = serde_json::to_string_pretty(&report).map_err(|source| Error::Json {
        context: "quickstart summary".into(),
        source,
    })?;
    write(&summary_json, &json)?;
    Ok(report)
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

fn summarise_env(id: &str, cfg: &QuickstartConfig) -> Result<EnvSummary> {
    let mut env = make(id)?;
    let spec = env.spec().clone();
    let mut run = |kind| -> Result<RolloutReport> {
        let mut p = make_policy(&spec, kind)?;
        rollout(&mut env, p.as_mut(), cfg.episodes, cfg.seed)
    };
    let (expert, medium, random) = (
        run(PolicyKind::Expert)?,
        run(PolicyKind::Medium)?,
        run(PolicyKind::Random)?,
    );
    let mut expert_p = make_policy(&spec, PolicyKind::Expert)?;
    let mut random_p = make_policy(&spec, PolicyKind::Random)?;
    let te = record_episode(&mut env, expert_p.as_mut(), cfg.seed)?;
    let tr = record_episode(&mut env, random_p.as_mut(), cfg.seed)?;
    let fig = trajectory_figure(&spec, &[&te, &tr])?;
    let figure = format!("{id}.html");
    fig.write_html(
        cfg.out.join(&figure),
        &format!("{id}: expert vs random"),
        JsMode::Sibling,
    )?;
    Ok(EnvSummary {
        id: id.to_string(),
        expert,
        medium,
        random,
        figure,
    })
}

/// Steps 2–6 of the module docs: dataset → training → evaluation with and
/// without the shield → (tracking) → figures.
pub fn agent_pipeline(cfg: &QuickstartConfig) -> Result<AgentSummary> {
    // 2. Dataset.
    let id = crate::bench::agents::resolve_env(None)?;
    let dataset_id = crate::data::DatasetEntry::make_id(&id, crate::data::Quality::Medium);
    let data = crate::data::load_sized(&dataset_id, cfg.dataset_size)?;
    let mut env = make(&id)?;
    let spec = env.spec().clone();

    // 3. Training, with the normalized-score curve.
    let device = Device::default();
    let tcfg = Td3BcConfig {
        seed: cfg.seed,
        ..Default::default()
    };
    let mut agent = Td3Bc::new(&spec, tcfg, &device)?;
    let eval_seed = cfg.seed.wrapping_add(10_000);
    let opts = EvalOptions::new(cfg.episodes).with_seed(eval_seed);
    let every = cfg.train_steps.div_ceil(cfg.eval_points.max(1));
    let started = std::time::Instant::now();
    let mut progress = Progress::new("td3bc training", cfg.train_steps);
    let curve = train_with_evals(
        &mut agent,
        &data,
        &mut env,
        cfg.train_steps,
        every,
        &opts,
        None,
        &mut |k| progress.inc(k),
    )?;
    progress.finish();
    let train_seconds = started.elapsed().as_secs_f64();
    agent.save(cfg.out.join("td3bc"))?;

    // 4. Evaluation: without and with the shield, and the behaviour
    //    controller, on the same episodes.
    let eval = evaluate(&mut agent.policy(), &mut env, opts.clone())?;
    let shielded = evaluate(
        &mut agent.policy(),
        &mut env,
        opts.clone().with_shield(ShieldConfig::default()),
    )?;
    let mut medium = make_policy(&spec, PolicyKind::Medium)?;
    let behaviour = evaluate(medium.as_mut(), &mut env, opts)?;

    // 5. Tracking: an MLflow run of this pipeline goes here — parameters
    //    (cfg, agent.config, the dataset id and SHA-256), metrics
    //    (agent.history(), `curve`, the three reports) — with the figures
    //    and the checkpoint written below and above as its artifacts.

    // 6. Figures.
    let learning_curve = "learning_curve.html".to_string();
    agent.learning_curve().write_html(
        cfg.out.join(&learning_curve),
        &format!("TD3+BC on {dataset_id}"),
        JsMode::Sibling,
    )?;
    let source = agent.state().dataset.clone();
    let summary = AgentSummary {
        env: id.clone(),
        algo: "td3bc".into(),
        dataset: dataset_id,
        transitions: data.len(),
        dataset_sha256: source.map(|s| s.sha256).unwrap_or_default(),
        dataset_score: behaviour_score(&data, &spec),
        steps: agent.steps_done(),
        device: device.name(),
        train_seconds,
        final_metrics: agent.history().recent_means(100),
        curve,
        eval,
        shielded,
        behaviour,
        learning_curve,
        evaluation_figure: "evaluation.html".into(),
        checkpoint: "td3bc".into(),
    };
    evaluation_figure(&summary).write_html(
        cfg.out.join(&summary.evaluation_figure),
        &format!("TD3+BC on {}: evaluation", summary.dataset),
        JsMode::Sibling,
    )?;
    Ok(summary)
}

/// Three panels: the normalized score during training (with the behaviour
/// controller's and the dataset's as lines), then the score and the cost
/// per episode of the behaviour controller, the agent and the shielded agent
/// (hard violations written on the cost bars).
pub fn evaluation_figure(a: &AgentSummary) -> Figure {
    let steps: Vec<u64> = a.curve.iter().map(|p| p.step).collect();
    let scores: Vec<f64> = a.curve.iter().map(|p| p.normalized_score).collect();
    let x0 = steps.first().copied().unwrap_or(0);
    let x1 = steps.last().copied().unwrap_or(0);
    let names = ["medium controller", "TD3+BC", "TD3+BC + shield"];
    let reports = [&a.behaviour, &a.eval, &a.shielded];
    let score: Vec<f64> = reports.iter().map(|r| r.normalized_score).collect();
    let score_err: Vec<f64> = reports.iter().map(|r| r.std_normalized_score).collect();
    let cost: Vec<f64> = reports.iter().map(|r| r.mean_cost).collect();
    let hard: Vec<String> = reports
        .iter()
        .map(|r| format!("hard {}/{}", r.hard_violations, r.episodes))
        .collect();
    let line = |name: &str, y: f64, dash: &str| {
        serde_json::json!({"type": "scatter", "mode": "lines", "name": name, "x": [x0, x1], "y": [y, y],
            "line": {"dash": dash, "color": "gray"}, "xaxis": "x", "yaxis": "y"})
    };
    let data = serde_json::json!([
        {"type": "scatter", "mode": "lines+markers", "name": "TD3+BC (no shield)", "x": steps, "y": scores,
         "xaxis": "x", "yaxis": "y"},
        line("medium controller", a.behaviour.normalized_score, "dash"),
        line("dataset episodes", a.dataset_score, "dot"),
        {"type": "bar", "name": "normalized score", "x": names, "y": score,
         "error_y": {"type": "data", "array": score_err, "visible": true}, "xaxis": "x2", "yaxis": "y2",
         "showlegend": false},
        {"type": "bar", "name": "cost per episode", "x": names, "y": cost, "text": hard,
         "textposition": "outside", "xaxis": "x3", "yaxis": "y3", "showlegend": false},
    ]);
    Figure {
        json: serde_json::json!({"data": data, "layout": {
            "title": {"text": format!("TD3+BC on {} ({} episodes from seed {})", a.dataset, a.eval.episodes, a.eval.seed)},
            "grid": {"rows": 1, "columns": 3, "pattern": "independent"},
            "xaxis": {"title": {"text": "training step"}},
            "yaxis": {"title": {"text": "normalized score"}},
            "yaxis2": {"title": {"text": "normalized score"}},
            "yaxis3": {"title": {"text": "cost per episode"}},
            "margin": {"l": 60, "r": 20, "t": 50, "b": 80},
            "legend": {"orientation": "h", "y": -0.25},
        }}),
        height: 460,
    }
}

/// The summary as a Markdown table.
pub fn markdown_table(r: &QuickstartReport) -> String {
    let mut s = format!(
        "# neorl quickstart\n\n{} episodes per policy, seeds {}..{}. Return: mean ± std; score: D4RL normalized (random = 0, expert reference = 100); cost: constraint-violation steps per episode; hard: episodes ended by a hard-constraint breach.\n\n",
        r.episodes,
        r.seed,
        r.seed.wrapping_add(r.episodes as u64)
    );
    s.push_str("| environment | policy | return | score | cost | hard | length | figure |\n");
    s.push_str("|---|---|---:|---:|---:|---:|---:|---|\n");
    for e in &r.envs {
        for (name, rep) in [
            ("expert", &e.expert),
            ("medium", &e.medium),
            ("random", &e.random),
        ] {
            let _ = writeln!(
                s,
                "| {} | {name} | {:.2} ± {:.2} | {:.1} | {:.1} | {}/{} | {:.0} | [{}]({}) |",
                e.id,
                rep.mean_return,
                rep.std_return,
                rep.normalized_score,
                rep.mean_cost,
                rep.hard_violations,
                rep.episodes,
                rep.mean_length,
                e.figure,
                e.figure
            );
        }
    }
    if let Some(a) = &r.agent {
        let _ = writeln!(
            s,
            "\n## TD3+BC on {} ({} transitions, SHA-256 `{}`)\n\n{} gradient steps in {:.1} s on {}; dataset episodes score {:.1}. Evaluation: {} episodes from seed {}, the same for every row.\n\n| policy | score | return | cost | hard | interventions | emergency stops |\n|---|---:|---:|---:|---:|---:|---:|",
            a.dataset,
            a.transitions,
            a.dataset_sha256,
            a.steps,
            a.train_seconds,
            a.device,
            a.dataset_score,
            a.eval.episodes,
            a.eval.seed
        );
        for (name, e) in [
            ("medium controller (behaviour)", &a.behaviour),
            ("td3bc", &a.eval),
            ("td3bc + shield", &a.shielded),
        ] {
            let _ = writeln!(
                s,
                "| {name} | {:.1} ± {:.1} | {:.2} ± {:.2} | {:.1} | {}/{} | {} | {} |",
                e.normalized_score,
                e.std_normalized_score,
                e.mean_return,
                e.std_return,
                e.mean_cost,
                e.hard_violations,
                e.episodes,
                e.interventions,
                e.emergency_stops
            );
        }
        s.push_str("\nLearning curve (normalized score, no shield):\n\n| step | score | cost | hard |\n|---:|---:|---:|---:|\n");
        for p in &a.curve {
            let _ = writeln!(
                s,
                "| {} | {:.1} | {:.1} | {}/{} |",
                p.step, p.normalized_score, p.mean_cost, p.hard_violations, a.eval.episodes
            );
        }
        let _ = writeln!(
            s,
            "\nFigures: [{}]({}) (training metrics), [{}]({}) (evaluation). Checkpoint: `{}/`.",
            a.learning_curve,
            a.learning_curve,
            a.evaluation_figure,
            a.evaluation_figure,
            a.checkpoint
        );
    }
    s
}
