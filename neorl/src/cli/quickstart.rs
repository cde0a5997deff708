//! `neorl quickstart`: the main job end to end (`neorl::quickstart`),
//! recorded in MLflow.

use super::track::{TrackArgs, finish_quickstart, start_quickstart};
use super::{print_json, sizes};
use anyhow::Result;
use clap::Args;
use neorl::quickstart::{QuickstartConfig, markdown_table};
use std::path::PathBuf;

#[derive(Args)]
pub struct QuickstartArgs {
    /// Output folder.
    #[arg(long, default_value = "neorl-out/quickstart")]
    out: PathBuf,
    /// Episodes per policy and environment, and per evaluation of the agent.
    #[arg(long, default_value_t = 10)]
    episodes: usize,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// TD3+BC gradient steps on ChemicalReactor-medium-v0 (0 skips the dataset, training and evaluation).
    #[arg(long, default_value_t = 2_000)]
    train_steps: u64,
    /// Transitions in that dataset (a size variant of the registry's).
    #[arg(long, default_value_t = 20_000)]
    dataset_size: usize,
    /// Evaluations during training (points of the learning curve).
    #[arg(long, default_value_t = 4)]
    eval_points: u64,
    #[command(flatten)]
    track: TrackArgs,
    #[arg(long)]
    json: bool,
}

pub fn run(a: QuickstartArgs) -> Result<()> {
    let cfg = QuickstartConfig {
        out: a.out,
        episodes: a.episodes,
        seed: a.seed,
        train_steps: a.train_steps,
        dataset_size: a.dataset_size,
        eval_points: a.eval_points,
    };
    sizes::steps("--train-steps", cfg.train_steps)?;
    if cfg.train_steps > 0 {
        let env = neorl::bench::agents::resolve_env(None)?;
        sizes::dataset("--dataset-size", &env, cfg.dataset_size)?;
    }
    let run = start_quickstart(&a.track, &cfg)?;
    let report = neorl::quickstart::run(&cfg)?;
    let mlflow = finish_quickstart(run, &report)?;
    if a.json {
        let mut v = serde_json::to_value(&report)?;
        v["mlflow"] = mlflow;
        return print_json(&v);
    }
    println!("{}", markdown_table(&report));
    println!("figures and summary written to {}", report.out.display());
    Ok(())
}
