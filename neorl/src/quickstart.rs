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
}

impl Default for QuickstartConfig {
    fn default() -> Self {
        QuickstartConfig {
            out: PathBuf::from("neorl-out/quickstart"),
            episodes: 20,
            seed: 0,
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
    let summary_markdown = cfg.out.join("summary.md");
    let summary_json = cfg.out.join("summary.json");
    let report = QuickstartReport {
        out: cfg.out.clone(),
        episodes: cfg.episodes,
        seed: cfg.seed,
        envs,
        summary_markdown: summary_markdown.clone(),
        summary_json: summary_json.clone(),
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
    s
}
