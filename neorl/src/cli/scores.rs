//! `neorl scores`: the score table (algorithms × environments × seeds).

use super::track::TrackArgs;
use super::{parse_settings, print_json, sizes};
use anyhow::Result;
use clap::Args;
use neorl::env::ids;
use neorl::experiments::scores::{ScoreConfig, score_table};
use serde_json::json;
use std::path::PathBuf;

#[derive(Args)]
pub struct ScoresArgs {
    /// Environment ids, comma-separated (default: all seven).
    #[arg(long, value_delimiter = ',')]
    envs: Option<Vec<String>>,
    /// Algorithms, comma-separated (default: bc,td3bc,iql,cql,combo).
    #[arg(long, value_delimiter = ',')]
    algos: Option<Vec<String>>,
    /// Agent seeds 0..N.
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// Gradient steps per run.
    #[arg(long, default_value_t = 10_000)]
    steps: u64,
    /// Evaluate every this many steps (default: steps / 5).
    #[arg(long)]
    eval_every: Option<u64>,
    /// Episodes per evaluation.
    #[arg(long, default_value_t = 10)]
    episodes: usize,
    /// Dataset quality: random, medium, expert or mixed.
    #[arg(long, default_value = "medium")]
    quality: String,
    /// Transitions per dataset (default: the registry's size).
    #[arg(long)]
    size: Option<usize>,
    /// Hidden-layer widths for every network, e.g. 64,64 (default: each paper's).
    #[arg(long, value_delimiter = ',')]
    hidden: Option<Vec<usize>>,
    /// cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Runs trained at the same time.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// CPU threads of each run: a count or `all` (default: NEORL_THREADS, else the cores shared out over the jobs).
    #[arg(long, value_name = "N")]
    threads: Option<String>,
    /// Allow jobs × threads to exceed the machine's cores.
    #[arg(long)]
    oversubscribe: bool,
    /// A hyper-parameter over the papers' defaults, e.g. --set combo.model_steps=1000 (ALGO.KEY for one algorithm, KEY for all; value in JSON; repeatable).
    #[arg(long = "set", value_name = "[ALGO.]KEY=VALUE")]
    settings: Vec<String>,
    /// Where scores.md, scores.json and scores.html go.
    #[arg(long, default_value = "neorl-out/scores")]
    out: PathBuf,
    #[command(flatten)]
    track: TrackArgs,
    #[arg(long)]
    json: bool,
}

pub fn run(a: ScoresArgs) -> Result<()> {
    let quality: neorl::data::Quality = a.quality.parse()?;
    let defaults = ScoreConfig::default();
    let cfg = ScoreConfig {
        envs: a
            .envs
            .unwrap_or_else(|| ids().iter().map(|s| s.to_string()).collect()),
        algos: a.algos.unwrap_or(defaults.algos),
        seeds: a.seeds,
        steps: a.steps,
        eval_every: a.eval_every.unwrap_or((a.steps / 5).max(1)),
        episodes: a.episodes,
        quality,
        dataset_size: a.size,
        hidden: a.hidden,
        device: a.device,
        jobs: a.jobs.max(1),
        threads: match (&a.threads, std::env::var_os(neorl::agents::Threads::ENV)) {
            (None, None) => None,
            (t, _) => Some(sizes::threads("--threads", t.as_deref())?),
        },
        oversubscribe: a.oversubscribe,
        settings: parse_settings(&a.settings)?,
        ..defaults
    };
    sizes::steps("--steps", cfg.steps)?;
    if let Some(n) = cfg.dataset_size {
        for env in &cfg.envs {
            sizes::dataset("--size", env, n)?;
        }
    }
    let table = score_table(&cfg)?;
    let files = table.write(&a.out)?;
    if a.json {
        let mut v = serde_json::to_value(&table)?;
        v["files"] = json!(
            files
                .iter()
                .map(|f| f.to_string_lossy())
                .collect::<Vec<_>>()
        );
        return print_json(&v);
    }
    print!("{table}");
    println!(
        "\nwritten: {}",
        files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}
