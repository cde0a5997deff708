//! `neorl quickstart`: the main job, end to end, on every environment.
//!
//! Today it rolls out the expert, medium and random policies on every
//! environment, writes a summary table (Markdown and JSON) and one
//! interactive figure per environment (expert vs random trajectories, with
//! the constraint limits drawn) to an output folder that works offline.

use crate::control::{PolicyKind, make_policy};
use crate::env::{ids, make};
use crate::error::{Error, Result};
use crate::eval::{RolloutReport, record_episode, rollout};
use crate::progress::Progress;
use crate::viz::{JsMode, trajectory_figure};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Settings of a quickstart run.
#[derive(Debug, Clone)]
pub struct QuickstartConfig {
    pub out: PathBuf,
    /// Episodes per policy and environment.
    pub episodes: usize,
    pub seed: u64,
    /// TD3+BC gradient steps on a generated medium dataset (0: skip training).
    pub train_steps: u64,
    /// Transitions in that dataset.
    pub dataset_size: usize,
}

impl Default for QuickstartConfig {
    fn default() -> Self {
        QuickstartConfig {
            out: PathBuf::from("neorl-out/quickstart"),
            episodes: 20,
            seed: 0,
            train_steps: 2_000,
            dataset_size: 50_000,
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
    pub out: PathBuf,
    pub episodes: usize,
    pub seed: u64,
    pub envs: Vec<EnvSummary>,
    pub summary_markdown: PathBuf,
    pub summary_json: PathBuf,
    /// The TD3+BC run, when `train_steps > 0`.
    pub agent: Option<AgentSummary>,
}

/// TD3+BC trained briefly on a generated medium dataset, then evaluated.
#[derive(Debug, Clone, Serialize)]
pub struct AgentSummary {
    pub env: String,
    pub algo: String,
    pub dataset: String,
    pub steps: u64,
    pub device: String,
    pub train_seconds: f64,
    pub eval: RolloutReport,
    /// Behaviour (medium) policy on the same episodes, for comparison.
    pub behaviour: RolloutReport,
    /// Path of the learning-curve figure, relative to the output folder.
    pub learning_curve: String,
    pub checkpoint: String,
}

/// Run the quickstart.
pub fn run(cfg: &QuickstartConfig) -> Result<QuickstartReport> {
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
        Some(train_agent(&ids, cfg)?)
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

fn train_agent(ids: &[&str], cfg: &QuickstartConfig) -> Result<AgentSummary> {
    use crate::agents::{Agent, Buffer, Device, Td3Bc, Td3BcConfig};
    let id = crate::bench::agents::resolve_env(None)?;
    debug_assert!(ids.contains(&id.as_str()));
    let data = Buffer::generate(&id, PolicyKind::Medium, cfg.dataset_size, cfg.seed)?;
    let mut env = make(&id)?;
    let spec = env.spec().clone();
    let device = Device::default();
    let tcfg = Td3BcConfig {
        seed: cfg.seed,
        ..Default::default()
    };
    let mut agent = Td3Bc::new(&spec, tcfg, &device)?;
    let summary = agent.train(&data, cfg.train_steps)?;
    let mut policy = agent.policy();
    let eval = rollout(&mut env, &mut policy, cfg.episodes, cfg.seed + 10_000)?;
    let mut medium = make_policy(&spec, PolicyKind::Medium)?;
    let behaviour = rollout(&mut env, medium.as_mut(), cfg.episodes, cfg.seed + 10_000)?;
    let learning_curve = "learning_curve.html".to_string();
    agent.learning_curve().write_html(
        cfg.out.join(&learning_curve),
        &format!("TD3+BC on {id}-medium"),
        JsMode::Sibling,
    )?;
    agent.save(&cfg.out.join("td3bc"))?;
    Ok(AgentSummary {
        env: id.clone(),
        algo: "td3bc".into(),
        dataset: format!("{id}:medium:{}", cfg.dataset_size),
        steps: summary.total_steps,
        device: device.name(),
        train_seconds: summary.seconds,
        eval,
        behaviour,
        learning_curve,
        checkpoint: "td3bc".into(),
    })
}

/// The summary as a Markdown table.
pub fn markdown_table(r: &QuickstartReport) -> String {
    let mut s = format!(
        "# neorl quickstart\n\n{} episodes per policy, seeds {}..{}. Return: mean ± std; score: D4RL normalized (random = 0, expert reference = 100); cost: constraint-violation steps per episode; hard: episodes ended by a hard-constraint breach.\n\n",
        r.episodes,
        r.seed,
        r.seed + r.episodes as u64
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
            "\n## TD3+BC on {} ({} gradient steps on {}, {:.1} s on {})\n\n| policy | return | score | cost | hard |\n|---|---:|---:|---:|---:|\n| td3bc | {:.2} ± {:.2} | {:.1} | {:.1} | {}/{} |\n| medium (behaviour) | {:.2} ± {:.2} | {:.1} | {:.1} | {}/{} |\n\nLearning curve: [{}]({})",
            a.env,
            a.steps,
            a.dataset,
            a.train_seconds,
            a.device,
            a.eval.mean_return,
            a.eval.std_return,
            a.eval.normalized_score,
            a.eval.mean_cost,
            a.eval.hard_violations,
            a.eval.episodes,
            a.behaviour.mean_return,
            a.behaviour.std_return,
            a.behaviour.normalized_score,
            a.behaviour.mean_cost,
            a.behaviour.hard_violations,
            a.behaviour.episodes,
            a.learning_curve,
            a.learning_curve
        );
    }
    s
}
